"""Forum forms. Each carries Flask-WTF's CSRF token; limits match the services'."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from participation.forums.models import FLAG_REASON_LABELS, TopicStatus
from participation.forums.services import BODY_MAX, DESCRIPTION_MAX, FLAG_DETAIL_MAX, TITLE_MAX

BODY_TOO_LONG = f"Keep it to {BODY_MAX:,} characters or fewer."
EMPTY_BODY = "Write something first."


def _body(label: str) -> TextAreaField:
    return TextAreaField(label, validators=[DataRequired(EMPTY_BODY),
                                            Length(max=BODY_MAX, message=BODY_TOO_LONG)])


def _title() -> StringField:
    return StringField("Title", validators=[
        DataRequired("Give it a title."),
        Length(max=TITLE_MAX, message=f"Keep the title to {TITLE_MAX} characters or fewer.")])


class TopicForm(FlaskForm):
    title = _title()
    description = TextAreaField("Description (markdown)", validators=[
        Length(max=DESCRIPTION_MAX, message=f"Keep it to {DESCRIPTION_MAX:,} characters or fewer.")
    ])
    status = SelectField("Status", choices=[
        SelectChoice(TopicStatus.OPEN.value, "Open for discussion"),
        SelectChoice(TopicStatus.ARCHIVED.value, "Archived (read only)")])
    townhall_id = IntegerField("Town hall number (optional)",
                               validators=[Optional(), NumberRange(min=1)])


class ThreadForm(FlaskForm):
    title = _title()
    body = _body("What would you like to discuss? (markdown)")


class ReplyForm(FlaskForm):
    body = _body("Your reply (markdown)")
    quote_id = HiddenField()


class EditPostForm(FlaskForm):
    title = StringField("Title", validators=[
        Optional(), Length(max=TITLE_MAX, message=f"Keep the title to {TITLE_MAX} characters.")])
    body = _body("Post (markdown)")


class FlagForm(FlaskForm):
    reason = RadioField("Why should a moderator look at this post?",
                        choices=[SelectChoice(r.value, label)
                                 for r, label in FLAG_REASON_LABELS.items()],
                        validators=[DataRequired("Choose a reason.")])
    detail = TextAreaField("Details (needed for “Other”)", validators=[
        Length(max=FLAG_DETAIL_MAX, message=f"Keep it to {FLAG_DETAIL_MAX} characters or fewer.")
    ])
