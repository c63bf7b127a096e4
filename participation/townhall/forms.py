"""Town-hall forms. Each carries Flask-WTF's CSRF token; the live page's scripts send the same
fields over the socket, and without scripts the forms post as usual."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from participation.forms import SiteDateTimeField, in_site_zone
from participation.i18n import N_

try:  # WTForms 3.3 deprecates (value, label) tuples
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - WTForms before 3.3
    def SelectChoice(value: str, label: str) -> tuple[str, str]:  # type: ignore[misc]  # noqa: N802
        return (value, label)

from participation.townhall.models import CHANNEL_LABELS, REJECT_REASONS, Channel, Status
from participation.townhall.services import (
    ANSWER_MAX,
    DESCRIPTION_MAX,
    EXPLANATION_MAX,
    QUESTION_LENGTH_RANGE,
    TITLE_MAX,
)


class TownHallForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=TITLE_MAX)])
    description = TextAreaField(_l("Description (markdown)"),
                                validators=[Optional(), Length(max=DESCRIPTION_MAX)])
    # InputRequired, not DataRequired: a time or number that does not parse keeps its own
    # message ("Not a valid integer value.") instead of "This field is required."
    starts_at = SiteDateTimeField(in_site_zone(N_("Starts (%(zone)s)")),
                                  validators=[InputRequired()])
    ends_at = SiteDateTimeField(in_site_zone(N_("Ends (%(zone)s)")), validators=[InputRequired()])
    livestream_url = URLField(_l("Livestream embed link"), validators=[Optional(), Length(max=500)])
    question_max_length = IntegerField(
        _l("Longest question, in characters"), default=300,
        validators=[InputRequired(), NumberRange(*QUESTION_LENGTH_RANGE)])
    allow_anonymous = BooleanField(_l("Allow anonymous questions"), default=True)
    is_public = BooleanField(_l("Public: visitors without an account may watch"), default=True)


class EditTownHallForm(TownHallForm):
    """The scheduling form without the choice of audience: people may already be watching."""

    is_public = None


class AskForm(FlaskForm):
    text = TextAreaField(_l("Your question"), validators=[DataRequired()])
    anonymous = BooleanField(_l("Ask anonymously (moderators still see who asked)"))
    client_id = HiddenField()
    # Sent by "Ask anyway", after the form showed similar questions already asked.
    ask_anyway = HiddenField()


class UpvoteForm(FlaskForm):
    value = HiddenField(validators=[DataRequired()])


class ModerateForm(FlaskForm):
    action = HiddenField(validators=[DataRequired()])
    reason = SelectField(_l("Reason"), choices=[SelectChoice(value, _l(label)) for value, label in
                                  [("", N_("Choose a reason")), *REJECT_REASONS.items()]],
                         validators=[Optional()])
    explanation = TextAreaField(_l("Explanation for the author (required for “Other”)"),
                                validators=[Optional(), Length(max=EXPLANATION_MAX)])
    into_id = IntegerField(_l("Merge into question number"), validators=[Optional()])
    answer = TextAreaField(_l("Written answer (leave empty if answered live)"),
                           validators=[Optional(), Length(max=ANSWER_MAX)])
    # Rejecting asks for this box to be ticked (a required checkbox: no script needed).
    confirm = BooleanField(_l("Yes, reject this question"))


class EnterQuestionForm(FlaskForm):
    text = TextAreaField(_l("Question"), validators=[DataRequired()])
    channel = SelectField(_l("Taken"), choices=[SelectChoice(c.value, _l(CHANNEL_LABELS[c]))
                                                for c in Channel if c is not Channel.ONLINE])
    name = StringField(_l("Name of the person asking (optional, shown publicly)"),
                       validators=[Optional(), Length(max=80)])


class HeadCountForm(FlaskForm):
    # The range is checked by the service, which says the same to the socket.
    count = IntegerField(_l("People in the room now"), validators=[InputRequired()])
    correction = BooleanField(_l("This corrects the last count (it was mistyped)"))


class StatusForm(FlaskForm):
    status = HiddenField(validators=[DataRequired()])
    # Ending or cancelling is carried out only from its confirmation page, which sends "yes".
    confirmed = HiddenField()


STATUS_ACTIONS = {
    Status.SCHEDULED: ((Status.LIVE, N_("Start the town hall")),
                       (Status.ENDED, N_("Cancel (end now)"))),
    Status.LIVE: ((Status.ENDED, N_("End the town hall")),),
    Status.ENDED: ((Status.LIVE, N_("Reopen")),),
}
