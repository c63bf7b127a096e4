"""Moderation forms: a reason the author is told, and where to move a thread."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from participation.moderation.services import REASON_MAX


class HideForm(FlaskForm):
    reason = TextAreaField("Reason (the author is told)", validators=[
        DataRequired("Give a reason; the author is told why."),
        Length(max=REASON_MAX, message=f"Keep the reason to {REASON_MAX} characters or fewer.")])


class ReasonForm(FlaskForm):
    reason = TextAreaField("Reason (optional)", validators=[
        Optional(), Length(max=REASON_MAX,
                           message=f"Keep the reason to {REASON_MAX} characters or fewer.")])
    state = HiddenField()


class MoveForm(FlaskForm):
    topic_id = SelectField("Move to topic", coerce=int, validate_choice=False)
    reason = TextAreaField("Reason (optional)", validators=[Optional(), Length(max=REASON_MAX)])
