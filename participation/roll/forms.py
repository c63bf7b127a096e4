"""Forms of the roll: verifying an account (by its owner, or at a desk) and uploading a roll.
Each carries Flask-WTF's CSRF token."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

# Room for the spaces and dashes a document number is often typed with.
TYPED_DOCUMENT_MAX = 60
TYPED_POSTCODE_MAX = 24


class IdentityForm(FlaskForm):
    """What the roll knows of a person. The values typed are never shown back (see `blank`)."""

    document_id = StringField(_l("Identity document number"),
                              validators=[DataRequired(), Length(max=TYPED_DOCUMENT_MAX)],
                              render_kw={"autocomplete": "off", "spellcheck": "false"})
    birth_date = StringField(_l("Date of birth"), validators=[DataRequired(), Length(max=10)],
                             render_kw={"type": "date", "autocomplete": "bday",
                                        "placeholder": "YYYY-MM-DD"})
    postcode = StringField(_l("Postcode"),
                           validators=[DataRequired(), Length(max=TYPED_POSTCODE_MAX)],
                           render_kw={"autocomplete": "postal-code"})

    def blank(self) -> IdentityForm:
        """Forget what was typed (keeping the errors), so no page repeats an identity."""
        for field in (self.document_id, self.birth_date, self.postcode):
            field.data = ""
            field.raw_data = []
        return self


class VerifyForm(IdentityForm):
    pass


class DeskVerifyForm(IdentityForm):
    move = BooleanField(_l("Move the verification to this account, if these details verify "
                           "another one (the person says that account is no longer theirs)"))


class RollUploadForm(FlaskForm):
    file = FileField(_l("Roll file (CSV)"), validators=[FileRequired()])
    dry_run = BooleanField(_l("Only check the file: report what would change, change nothing"))
    accept_rejections = BooleanField(_l(
        "Import even if some rows are rejected (the people on those rows leave the roll)"))
