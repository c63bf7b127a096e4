"""The publish form and the public list's filters."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from participation.decisions.services import (
    DECISION_TEXT_MAX,
    DEPARTMENT_MAX,
    OUTCOMES,
    SUMMARY_MAX,
    TITLE_MAX,
    UPDATE_NOTE_MAX,
    UPDATE_STATUSES,
    Draft,
)
from participation.errors import InvalidInput
from participation.i18n import N_


def choices(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    """WTForms 3.3 wants SelectChoice objects rather than (value, label) tuples."""
    return [SelectChoice(value, label) for value, label in pairs]


NUMBER_LIST = re.compile(r"^\s*(\d{1,9}\s*(?:[,\s]\s*\d{1,9}\s*)*)?$")
EVIDENCE_VALUE = re.compile(r"^([a-z]{1,20}):(\d{1,9})$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Empty commitment rows the form offers, and how many more "Add more rows" adds.
COMMITMENT_ROWS = 3
COMMITMENT_ROWS_MAX = 60

# The kinds of evidence the picker offers, in its order: (kind, group label, hint); translated
# where shown.
LINK_FIELDS = (
    ("poll", N_("Closed polls"), N_("Polls whose voting has closed.")),
    ("townhall", N_("Ended town halls"), N_("Town halls that have ended.")),
    ("thread", N_("Forum threads"), N_("Public forum threads.")),
)


class CommitmentRow(Form):
    """One follow-up commitment: the day it is due and what will be answered in writing."""

    due = StringField(_l("Due on"), render_kw={"type": "date"}, validators=[Length(max=10)])
    promise = StringField(_l("What will be answered in writing"),
                          validators=[Length(max=2_000)])


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
    evidence = SelectMultipleField(_l("Evidence"), choices=[], validate_choice=False)
    evidence_filter = StringField(_l("Find evidence by title"), validators=[Length(max=100)])
    amends = IntegerField(_l("Amends record number"), validators=[Optional(), NumberRange(min=1)])
    commitments = FieldList(FormField(CommitmentRow), max_entries=COMMITMENT_ROWS_MAX)
    closes = StringField(_l("Closes commitments (numbers, as “Publish the response” fills them "
                            "in)"), validators=[Length(max=300)])
    preview_digest = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Padded here rather than by `min_entries`, which would read the posted rows twice when
        # their numbers have gaps.
        while len(self.commitments.entries) < COMMITMENT_ROWS:
            self.commitments.append_entry()

    def to_draft(self, kinds: list[str]) -> Draft:
        """The typed values as a draft; InvalidInput (with its field) when a list is garbled."""
        return Draft(
            title=self.title.data or "", summary=self.summary.data or "",
            outcome=self.outcome.data or "", decision_text=self.decision_text.data or "",
            department=self.department.data or "", links=self.links(kinds),
            amends=self.amends.data, commitments=self.commitment_rows(),
            closes=numbers(self.closes.data, "closes", N_("Closed commitments")),
        )

    def fill_from(self, draft: Draft) -> None:
        self.title.data = draft.title
        self.summary.data = draft.summary
        self.outcome.data = draft.outcome
        self.decision_text.data = draft.decision_text
        self.department.data = draft.department
        self.evidence.data = [evidence_value(kind, item_id) for kind, item_id in draft.links]
        self.amends.data = draft.amends
        self.closes.data = ", ".join(str(i) for i in draft.closes)

    def links(self, kinds: list[str]) -> list[tuple[str, int]]:
        """The ticked evidence as (kind, id); InvalidInput for a value no picker offers."""
        links = []
        for value in self.evidence.data or []:
            link = parse_evidence_value(value)
            if link is None or link[0] not in kinds:
                raise InvalidInput(_("%(value)s is not something a record can rest on.",
                                     value=repr(value)[:40]), field="evidence")
            links.append(link)
        return links

    def commitment_rows(self) -> list[tuple[date, str]]:
        """The filled rows as (due, promise); each half-filled or misdated row is marked on the
        row and refused, naming its number."""
        commitments, problems = [], []
        for number, entry in enumerate(self.commitments.entries, start=1):
            row = entry.form
            due, promise = (row.due.data or "").strip(), (row.promise.data or "").strip()
            if not due and not promise:
                continue
            problem = None
            day = _real_date(due) if ISO_DATE.match(due) else None
            if not due:
                problem = row.due, _("Commitment %(number)s: give the day it is due.",
                                     number=number)
            elif day is None:
                problem = row.due, _("Commitment %(number)s: %(date)s is not a real date.",
                                     number=number, date=due[:10])
            elif not promise:
                problem = row.promise, _("Commitment %(number)s: say what will be answered in "
                                         "writing.", number=number)
            if problem:
                problem[0].errors = [problem[1]]
                problems.append(problem[1])
            else:
                assert day is not None  # noqa: S101 - a row without a real day is a problem
                commitments.append((day, promise))
        if problems:
            raise InvalidInput(" ".join(problems), field="commitments")
        return commitments

    def add_commitment_rows(self) -> None:
        """Offer more empty rows (the form's "Add more rows", which works without scripts)."""
        for _number in range(COMMITMENT_ROWS):
            if len(self.commitments.entries) < COMMITMENT_ROWS_MAX:
                self.commitments.append_entry()


def evidence_value(kind: str, item_id: int) -> str:
    """How the picker names one item a record may rest on: "poll:12"."""
    return f"{kind}:{item_id}"


def parse_evidence_value(value: str) -> tuple[str, int] | None:
    """(kind, id) of a picker value, or None when it names nothing."""
    match = EVIDENCE_VALUE.match(value)
    return (match.group(1), int(match.group(2))) if match else None


def _real_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def numbers(value: str | None, field: str, label: str) -> list[int]:
    """The numbers typed into a list field; `label` is the field's untranslated name."""
    value = value or ""
    if not NUMBER_LIST.match(value):
        raise InvalidInput(_("%(field)s: use whole numbers separated by commas.",
                             field=_(label)), field=field)
    return [int(token) for token in re.split(r"[,\s]+", value.strip()) if token]


def _optional_id(value: object) -> int | None:
    if value in (None, ""):
        return None
    return int(value)  # type: ignore[call-overload]


class CommitmentUpdateForm(FlaskForm):
    """An official's progress on one commitment. The percentage is text here: the service
    says what a valid one is, beside the field."""

    status = SelectField(_l("Status"), choices=choices(
        [(value, _l(label)) for value, label in UPDATE_STATUSES.items()]),
        validators=[DataRequired()])
    note = TextAreaField(_l("Short note on the progress"),
                         validators=[DataRequired(), Length(max=UPDATE_NOTE_MAX)])
    percent = StringField(_l("Percentage done (optional)"), render_kw={"inputmode": "numeric"},
                          validators=[Length(max=12)])
    department = StringField(_l("Responsible department"),
                             validators=[DataRequired(), Length(max=DEPARTMENT_MAX)])


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
