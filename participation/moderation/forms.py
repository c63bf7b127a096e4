"""Moderation forms: a reason the author is told, and where to move a thread."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from participation.moderation.services import REASON_MAX


class HideForm(FlaskForm):
    reason = TextAreaField(_l("Reason (the author is told)"), validators=[
        DataRequired(_l("Give a reason; the author is told why.")),
        Length(max=REASON_MAX, message=_l(
            'Keep the reason to %(REASON_MAX)s characters or fewer.',
            REASON_MAX=REASON_MAX))])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason (optional)"), validators=[
        Optional(), Length(max=REASON_MAX,
                           message=_l(
                               'Keep the reason to %(REASON_MAX)s characters or fewer.',
                               REASON_MAX=REASON_MAX))])
    state = HiddenField()


class MoveForm(FlaskForm):
    topic_id = SelectField(_l("Move to topic"), coerce=int, validate_choice=False)
    reason = TextAreaField(_l("Reason (optional)"), validators=[Optional(), Length(max=REASON_MAX)])
