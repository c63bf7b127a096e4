"""Administration forms. Each carries Flask-WTF's CSRF token (the roll's upload form is the
roll's own: participation/roll/forms.py)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from participation.security.permissions import Role


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"),
                       choices=[SelectChoice(r.value, r.value.capitalize()) for r in Role])


class SuspendForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason (shown to the account holder)"), validators=[DataRequired(), Length(max=500)]
    )
