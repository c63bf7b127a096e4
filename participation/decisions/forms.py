"""The publish form and the public list's filters."""

from __future__ import annotations

import re
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from participation.decisions.services import (
    DECISION_TEXT_MAX,
    DEPARTMENT_MAX,
    OUTCOMES,
    SUMMARY_MAX,
    TITLE_MAX,
    Draft,
)
from participation.errors import InvalidInput
from participation.i18n import N_


def choices(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    """WTForms 3.3 wants SelectChoice objects rather than (value, label) tuples."""
    return [SelectChoice(value, label) for value, label in pairs]


NUMBER_LIST = re.compile(r"^\s*(\d{1,9}\s*(?:[,\s]\s*\d{1,9}\s*)*)?$")
COMMITMENT_LINE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*[:\-\u2013]?\s*(.*)$")

# Publish-form field per linkable kind: (kind, field name, label, hint); translated where shown.
LINK_FIELDS = (
    ("poll", "poll_ids", N_("Polls"), N_("Numbers of closed polls, separated by commas.")),
    ("townhall", "townhall_ids", N_("Town halls"), N_("Numbers of ended town halls.")),
    ("thread", "thread_ids", N_("Forum threads"), N_("Numbers of public forum threads.")),
)


def outcome_choices(first: str) -> list[SelectChoice]:
    """The outcomes as select options, after a first empty option labelled `first`."""
    return choices([("", first), *((value, _l(label)) for value, label in OUTCOMES.items())])


class PublishForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=TITLE_MAX)])
    outcome = SelectField(_l("What was decided"), choices=outcome_choices(_l("Choose…")),
                          validators=[DataRequired()])
    decision_text = StringField(_l("The decision in words (required for “Other”)"),
                                validators=[Length(max=DECISION_TEXT_MAX)])
    department = StringField(_l("Responsible department"),
                             validators=[DataRequired(), Length(max=DEPARTMENT_MAX)])
    summary = TextAreaField(_l("Summary: what was decided and why (Markdown)"),
                            validators=[DataRequired(), Length(max=SUMMARY_MAX)])
    poll_ids = StringField(_l("Polls"), validators=[Length(max=300)])
    townhall_ids = StringField(_l("Town halls"), validators=[Length(max=300)])
    thread_ids = StringField(_l("Forum threads"), validators=[Length(max=300)])
    amends = IntegerField(_l("Amends record number"), validators=[Optional(), NumberRange(min=1)])
    commitments = TextAreaField(_l("Follow-up commitments: one per line, “YYYY-MM-DD: what will "
                                   "be answered in writing”"), validators=[Length(max=25_000)])
    closes = StringField(_l("Closes commitments (numbers, as “Publish the response” fills them "
                            "in)"), validators=[Length(max=300)])
    preview_digest = HiddenField()

    def to_draft(self, kinds: list[str]) -> Draft:
        """The typed values as a draft; InvalidInput (with its field) when a list is garbled."""
        links: list[tuple[str, int]] = []
        for kind, name, label, _hint in LINK_FIELDS:
            ids = numbers(getattr(self, name).data, name, label)
            if ids and kind not in kinds:
                raise InvalidInput(_("Records cannot link to %(items)s on this site yet.",
                                     items=_(label).lower()), field=name)
            links.extend((kind, item_id) for item_id in ids)
        return Draft(
            title=self.title.data or "", summary=self.summary.data or "",
            outcome=self.outcome.data or "", decision_text=self.decision_text.data or "",
            department=self.department.data or "", links=links, amends=self.amends.data,
            commitments=parse_commitments(self.commitments.data or ""),
            closes=numbers(self.closes.data, "closes", N_("Closed commitments")),
        )

    def fill_from(self, draft: Draft) -> None:
        self.title.data = draft.title
        self.summary.data = draft.summary
        self.outcome.data = draft.outcome
        self.decision_text.data = draft.decision_text
        self.department.data = draft.department
        for kind, name, _label, _hint in LINK_FIELDS:
            getattr(self, name).data = ", ".join(str(i) for k, i in draft.links if k == kind)
        self.amends.data = draft.amends
        self.closes.data = ", ".join(str(i) for i in draft.closes)


def numbers(value: str | None, field: str, label: str) -> list[int]:
    """The numbers typed into a list field; `label` is the field's untranslated name."""
    value = value or ""
    if not NUMBER_LIST.match(value):
        raise InvalidInput(_("%(field)s: use whole numbers separated by commas.",
                             field=_(label)), field=field)
    return [int(token) for token in re.split(r"[,\s]+", value.strip()) if token]


def parse_commitments(text: str) -> list[tuple[date, str]]:
    commitments = []
    for number, line in enumerate((ln for ln in text.splitlines() if ln.strip()), start=1):
        match = COMMITMENT_LINE.match(line)
        if not match:
            raise InvalidInput(_("Commitment %(number)s: start the line with its due date, "
                                 "like 2027-01-31: …", number=number), field="commitments")
        try:
            due = date.fromisoformat(match.group(1))
        except ValueError:
            raise InvalidInput(_("Commitment %(number)s: %(date)s is not a real date.",
                                 number=number, date=match.group(1)),
                               field="commitments") from None
        commitments.append((due, match.group(2)))
    return commitments


def _optional_id(value: object) -> int | None:
    if value in (None, ""):
        return None
    return int(value)  # type: ignore[call-overload]


class FilterForm(FlaskForm):
    class Meta:
        csrf = False

    topic = SelectField(_l("Forum topic"), coerce=_optional_id, validators=[Optional()])
    townhall = SelectField(_l("Town hall"), coerce=_optional_id, validators=[Optional()])

    def offer(self, topics: list[tuple[int, str]], townhalls: list[tuple[int, str]]) -> None:
        """Only places some record rests on are worth filtering by."""
        self.topic.choices = choices([("", _("Any")), *((str(i), t) for i, t in topics)])
        self.townhall.choices = choices([("", _("Any")), *((str(i), t) for i, t in townhalls)])
    outcome = SelectField(_l("Decision"), choices=outcome_choices(_l("Any")),
                          validators=[Optional()])
    since = DateField(_l("Published from"), validators=[Optional()])
    until = DateField(_l("Published until"), validators=[Optional()])
