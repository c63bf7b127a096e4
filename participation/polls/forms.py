"""Poll forms. Each carries Flask-WTF's CSRF token, except the receipt lookup (a GET search)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from participation.forms import SiteDateTimeField, in_site_zone
from participation.i18n import N_
from participation.polls.models import Eligibility, PollKind, ResultsMode
from participation.polls.services import (
    DESCRIPTION_MAX,
    ELIGIBILITY_LABELS,
    KIND_LABELS,
    MIN_AGE_MAX,
    OPTIONS_MAX,
    QUESTION_MAX,
    RESULTS_MODE_LABELS,
    SECRECY_DEFAULT_LABEL,
    SECRECY_LABELS,
)

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


class PollForm(FlaskForm):
    parent = SelectField(_l("Where it is held"), validators=[DataRequired()], validate_choice=False)
    question = StringField(_l("Question"), validators=[DataRequired(), Length(max=QUESTION_MAX)])
    description = TextAreaField(_l("Description (optional, markdown)"),
                                validators=[Optional(), Length(max=DESCRIPTION_MAX)])
    kind = RadioField(_l("Kind of poll"),
                      choices=[SelectChoice(k.value, _l(label))
                               for k, label in KIND_LABELS.items()],
                      default=PollKind.SINGLE.value, validators=[DataRequired()])
    options = TextAreaField(_l(
        'Options, one per line (2 to %(OPTIONS_MAX)s)',
        OPTIONS_MAX=OPTIONS_MAX),
                            validators=[DataRequired()])
    max_choices = IntegerField(_l("Most options a ballot may choose or rank (optional)"),
                               validators=[Optional(), NumberRange(min=1, max=OPTIONS_MAX)])
    results_mode = RadioField(
        _l("When results are shown"),
        choices=[SelectChoice(m.value, _l(label)) for m, label in RESULTS_MODE_LABELS.items()],
        default=ResultsMode.AFTER_CLOSE.value, validators=[DataRequired()],
    )
    # Who may vote. Districts are offered from the roll (set by the view); one the roll lacks
    # (a crafted post, or a new roll since the page was drawn) reaches create_poll, which says so.
    eligibility = RadioField(
        _l("Who may vote"),
        choices=[SelectChoice(e.value, _l(label)) for e, label in ELIGIBILITY_LABELS.items()],
        default=Eligibility.SIGNED_IN.value, validate_choice=False,
    )
    eligible_districts = SelectMultipleField(_l("Districts (verified residents only; none "
                                                "ticked: every district)"),
                                             choices=[], validate_choice=False)
    min_age = IntegerField(_l("Minimum age (verified residents only, optional)"),
                           validators=[Optional(), NumberRange(min=1, max=MIN_AGE_MAX)])
    # An unknown value reaches create_poll, which names the field in a clear error. The first
    # choice (empty) leaves it to default_secrecy: secret for a poll of verified residents.
    ballot_secrecy = RadioField(
        _l("What a receipt reveals"),
        choices=[SelectChoice("", _l(SECRECY_DEFAULT_LABEL))]
        + [SelectChoice(s.value, _l(label)) for s, label in SECRECY_LABELS.items()],
        default="", validate_choice=False,
    )
    open_now = BooleanField(_l("Open it for voting now"))
    opens_at = SiteDateTimeField(in_site_zone(N_("Opens at (%(zone)s, optional)")),
                                 format=DATETIME_FORMATS, validators=[Optional()])
    closes_at = SiteDateTimeField(in_site_zone(N_("Closes at (%(zone)s, optional)")),
                                  format=DATETIME_FORMATS, validators=[Optional()])


class ReceiptForm(FlaskForm):
    class Meta:
        csrf = False

    code = StringField(_l("Receipt code"), validators=[DataRequired(), Length(max=40)])
