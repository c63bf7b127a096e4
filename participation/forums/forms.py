"""Forum forms. Each carries Flask-WTF's CSRF token; limits match the services'."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from participation.forums.models import FLAG_REASON_LABELS, TopicStatus
from participation.forums.services import (
    BODY_MAX,
    DEPARTMENT_MAX,
    DESCRIPTION_MAX,
    FLAG_DETAIL_MAX,
    TITLE_MAX,
)

BODY_TOO_LONG = f"Keep it to {BODY_MAX:,} characters or fewer."
EMPTY_BODY = "Write something first."


def _body(label: str) -> TextAreaField:
    return TextAreaField(label, validators=[DataRequired(EMPTY_BODY),
                                            Length(max=BODY_MAX, message=BODY_TOO_LONG)])


def _title() -> StringField:
    return StringField(_l("Title"), validators=[
        DataRequired(_l("Give it a title.")),
        Length(max=TITLE_MAX, message=_l(
            'Keep the title to %(TITLE_MAX)s characters or fewer.',
            TITLE_MAX=TITLE_MAX))])


class TopicForm(FlaskForm):
    title = _title()
    description = TextAreaField(_l("Description (markdown)"), validators=[
        Length(max=DESCRIPTION_MAX, message=_l(
            'Keep it to %(DESCRIPTION_MAX)s characters or fewer.',
            DESCRIPTION_MAX=format(DESCRIPTION_MAX, ',')))
    ])
    status = SelectField(_l("Status"), choices=[
        SelectChoice(TopicStatus.OPEN.value, "Open for discussion"),
        SelectChoice(TopicStatus.ARCHIVED.value, "Archived (read only)")])
    townhall_id = IntegerField(_l("Town hall number (optional)"),
                               validators=[Optional(), NumberRange(min=1)])


class ThreadForm(FlaskForm):
    title = _title()
    body = _body("What would you like to discuss? (markdown)")


class ReplyForm(FlaskForm):
    body = _body("Your reply (markdown)")
    quote_id = HiddenField()


class OfficialResponseForm(FlaskForm):
    """An official's answer for a department; the department is filled with their last one."""

    department = StringField(_l("Department"), validators=[
        DataRequired(_l("Enter the department that answers.")),
        Length(max=DEPARTMENT_MAX, message=_l(
            "Keep the department to %(limit)s characters or fewer.", limit=DEPARTMENT_MAX))])
    body = _body("Official response (markdown)")


class EditPostForm(FlaskForm):
    title = StringField(_l("Title"), validators=[
        Optional(), Length(max=TITLE_MAX, message=_l(
            'Keep the title to %(TITLE_MAX)s characters.',
            TITLE_MAX=TITLE_MAX))])
    body = _body("Post (markdown)")


class FlagForm(FlaskForm):
    reason = RadioField(_l("Why should a moderator look at this post?"),
                        choices=[SelectChoice(r.value, _l(label))
                                 for r, label in FLAG_REASON_LABELS.items()],
                        validators=[DataRequired(_l("Choose a reason."))])
    detail = TextAreaField(_l("Details (needed for “Other”)"), validators=[
        Length(max=FLAG_DETAIL_MAX, message=_l(
            'Keep it to %(FLAG_DETAIL_MAX)s characters or fewer.',
            FLAG_DETAIL_MAX=FLAG_DETAIL_MAX))
    ])
