"""The poll officer's form for a ballot taken off line. The choices are the poll's own vote
fields (read as the vote form reads them); the identity fields are shown for verified polls."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from participation.polls.paper import CHANNEL_LABELS, ENTERED_CHANNELS
from participation.roll.services import DOCUMENT_ID_MAX, POSTCODE_MAX


class PaperBallotForm(FlaskForm):
    # An unknown value reaches enter_ballot, which names the field in a clear error.
    channel = RadioField(_l("How the ballot was taken"),
                         choices=[SelectChoice(c.value, _l(CHANNEL_LABELS[c]))
                                  for c in ENTERED_CHANNELS],
                         default=ENTERED_CHANNELS[0].value, validate_choice=False)
    # Never shown again once sent, nor kept: see paper_views.forget_identity.
    document_id = StringField(_l("Document number"),
                              validators=[Optional(), Length(max=DOCUMENT_ID_MAX + 20)])
    birth_date = StringField(_l("Date of birth (YYYY-MM-DD)"),
                             validators=[Optional(), Length(max=10)])
    postcode = StringField(_l("Postcode"), validators=[Optional(), Length(max=POSTCODE_MAX + 10)])
    next = HiddenField()
