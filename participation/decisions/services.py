"""Publishing decision records, and reading the chain back.

Plain functions `verb_noun(session, actor, ...)`: they flush, never commit, and raise domain
errors. Publishing allocates the next sequence number inside the caller's transaction, under a
lock, so the chain never forks or skips a number.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask_babel import format_date, format_number
from flask_babel import gettext as _
from sqlalchemy import Date, and_, case, cast, exists, func, literal, or_, select, text, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager, lazyload, selectinload

from participation.accounts.models import User
from participation.db import utcnow
from participation.decisions.chain import (
    GENESIS_HASH,
    canonical_json,
    day,
    record_hash,
    timestamp,
)
from participation.decisions.models import (
    Closure,
    Commitment,
    CommitmentNotice,
    CommitmentUpdate,
    DecisionLink,
    DecisionRecord,
)
from participation.decisions.providers import KIND_LABELS, PROVIDERS, Evidence
from participation.decisions.verify import CLOSING_STATUSES, EXPORT_FORMAT, EXPORT_VERSION
from participation.decisions.verify import UPDATE_STATUSES as VERIFIED_UPDATE_STATUSES
from participation.errors import Closed, Conflict, InvalidInput, NotFound
from participation.i18n import N_
from participation.notices import notify_each
from participation.notifications.services import register_visibility
from participation.security.permissions import can, require
from participation.security.sanitize import clean_text, render_markdown

RECORD_VERSION = 1
OUTCOMES = {
    "adopted": N_("Adopted"),
    "rejected": N_("Rejected"),
    "deferred": N_("Deferred"),
    "referred": N_("Referred"),
    "other": N_("Other (see decision)"),
}
TITLE_MAX = 200
SUMMARY_MAX = 20_000
DECISION_TEXT_MAX = 500
DEPARTMENT_MAX = 120
PROMISE_MAX = 1000
MAX_LINKS = 30
MAX_COMMITMENTS = 20
# The official behind a commitment is reminded this long before it is due.
COMMITMENT_DUE_NOTICE = timedelta(days=7)
PROMISE_QUOTE = 200


@dataclass
class Draft:
    """What an official typed into the publish form, before any checks."""

    title: str = ""
    summary: str = ""
    outcome: str = ""
    decision_text: str = ""
    department: str = ""
    links: list[tuple[str, int]] = field(default_factory=list)
    amends: int | None = None
    commitments: list[tuple[date, str]] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)


@dataclass
class Prepared:
    """A checked draft with its evidence frozen: everything but the chain position."""

    content: dict[str, Any]
    evidence: list[tuple[str, int, Evidence]]
    commitments: list[tuple[int, date, str]]
    closes: list[Commitment]
    summary_html: str = ""

    @property
    def digest(self) -> str:
        """Identifies exactly what the preview showed; publishing checks it has not changed."""
        return hashlib.sha256(canonical_json(self.content).encode("utf-8")).hexdigest()


def prepare_decision(session: Session, actor: User, draft: Draft, *,
                     today: date | None = None) -> Prepared:
    """Check a draft and freeze what its links show now; nothing is written."""
    require(actor, "decisions.publish")
    today = today or utcnow().date()
    title = _required_text(draft.title, "title", _("Enter a title."), TITLE_MAX)
    summary = clean_text(draft.summary or "", multiline=True).strip()
    if not summary:
        raise InvalidInput(_("Write a summary of what was decided and why."), field="summary")
    if len(summary) > SUMMARY_MAX:
        raise InvalidInput(_("Keep the summary under %(limit)s characters.",
                             limit=format_number(SUMMARY_MAX)), field="summary")
    summary_html = render_markdown(summary, field="summary")
    if draft.outcome not in OUTCOMES:
        raise InvalidInput(_("Choose what was decided."), field="outcome")
    decision_text = clean_text(draft.decision_text or "").strip()
    if len(decision_text) > DECISION_TEXT_MAX:
        raise InvalidInput(_("Keep the decision under %(limit)s characters.",
                             limit=DECISION_TEXT_MAX),
                           field="decision_text")
    if draft.outcome == "other" and not decision_text:
        raise InvalidInput(_("Say in words what was decided."), field="decision_text")
    department = _required_text(draft.department, "department",
                                _("Enter the responsible department."), DEPARTMENT_MAX)
    amends = None
    if draft.amends is not None:
        amends = get_record(session, draft.amends, field="amends").seq
    evidence = _freeze_links(session, draft.links)
    commitments = _check_commitments(draft.commitments, today)
    closes = _check_closures(session, draft.closes)
    content: dict[str, Any] = {
        "version": RECORD_VERSION,
        "title": title,
        "summary": summary,
        "decision": {"outcome": draft.outcome, "text": decision_text},
        "department": department,
        "amends": amends,
        "published_by": {"id": actor.id, "name": actor.public_name},
        "links": [{"kind": kind, "id": item_id, "title": found.title,
                   "snapshot": found.snapshot} for kind, item_id, found in evidence],
        "figures": participation_figures([found for _, _, found in evidence]),
        "commitments": [{"number": number, "due": day(due), "promise": promise}
                        for number, due, promise in commitments],
        "closes": [{"record": c.record.seq, "commitment": c.number} for c in closes],
    }
    canonical_json(content)  # refuses anything a provider put in that JSON cannot carry exactly
    return Prepared(content, evidence, commitments, closes, summary_html)


def publish_decision(session: Session, actor: User, draft: Draft, *,
                     expected_digest: str | None = None,
                     now: datetime | None = None) -> DecisionRecord:
    """Freeze the draft's evidence and append it to the chain as the next record.

    `expected_digest` is the preview's digest: when what the links show changed since the
    preview, nothing is published and Conflict says so.
    """
    moment = (now or utcnow()).replace(microsecond=0)
    # Commitments may not be due before the record's own day.
    prepared = prepare_decision(session, actor, draft, today=_day(moment))
    if expected_digest is not None and expected_digest != prepared.digest:
        raise Conflict(_("What the linked items show changed since your preview. Check the new "
                         "preview, then publish."))
    _lock_chain(session)
    seq, prev_hash = _next_link(session, DecisionRecord.seq, DecisionRecord.hash)
    content = {**prepared.content, "seq": seq, "published_at": timestamp(moment)}
    canonical = canonical_json(content)
    record = DecisionRecord(
        seq=seq, prev_hash=prev_hash, hash=record_hash(prev_hash, canonical),
        canonical=canonical, title=content["title"], outcome=content["decision"]["outcome"],
        decision_text=content["decision"]["text"], department=content["department"],
        summary_html=prepared.summary_html, amends_seq=content["amends"],
        author_id=actor.id, published_at=moment,
    )
    session.add(record)
    try:
        with session.begin_nested():
            session.flush()
            for kind, item_id, found in prepared.evidence:
                session.add(DecisionLink(record_id=record.id, kind=kind, target_id=item_id,
                                         label=found.title[:300], topic_id=found.topic_id,
                                         townhall_id=found.townhall_id))
            for number, due, promise in prepared.commitments:
                session.add(Commitment(record_id=record.id, number=number, promise=promise,
                                       due_on=due))
            for commitment in prepared.closes:
                session.add(Closure(commitment_id=commitment.id, record_id=record.id))
            session.flush()
    except IntegrityError:
        raise Conflict(_("Another record was published at the same moment; please try again.")) \
            from None
    session.refresh(record)
    _tell_participants(session, actor, record, prepared)
    return record


# Records and their commitments are public and never deleted: a notice about one stays.
register_visibility("decision", lambda session, user, ident: True)
register_visibility("commitment", lambda session, user, ident: True)


def participant_ids(session: Session, links: list[tuple[str, int]]) -> set[int]:
    """Everyone who took part in what these links point to, in one query: the voters of a poll,
    the askers of a town hall's questions (anonymous ones too: only they are told), the authors
    of a thread's posts that are not deleted."""
    from participation.forums.models import Post
    from participation.polls.models import Ballot
    from participation.townhall.models import Question

    ids: dict[str, list[int]] = {}
    for kind, item_id in links:
        ids.setdefault(kind, []).append(item_id)
    parts = []
    if ids.get("poll"):
        parts.append(select(Ballot.voter_id.label("user_id"))
                     .where(Ballot.poll_id.in_(sorted(ids["poll"])),
                            Ballot.voter_id.is_not(None)))
    if ids.get("townhall"):
        parts.append(select(Question.author_id.label("user_id"))
                     .where(Question.townhall_id.in_(sorted(ids["townhall"])),
                            Question.author_id.is_not(None)))
    if ids.get("thread"):
        parts.append(select(Post.author_id.label("user_id"))
                     .where(Post.thread_id.in_(sorted(ids["thread"])),
                            Post.author_id.is_not(None), Post.deleted_at.is_(None)))
    if not parts:
        return set()
    return set(session.scalars(parts[0] if len(parts) == 1 else union(*parts)))


def _quote(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _tell_participants(session: Session, actor: User, record: DecisionRecord,
                       prepared: Prepared) -> None:
    """"decision_published" to those who took part in what the record rests on, and
    "commitment_closed" to those who took part in what each closed commitment's record rested
    on; once each, never to the official publishing it."""
    links = [(kind, item_id) for kind, item_id, _found in prepared.evidence]
    people = participant_ids(session, links) - {actor.id}
    notify_each(session, people, kind="decision_published",
                message=lambda: _("A decision was published on something you took part in: "
                                  "“%(title)s”.", title=record.title),
                link=f"/decisions/{record.seq}", subject_ref=f"decision:{record.seq}")
    for commitment in prepared.closes:
        promised = commitment.record
        people = participant_ids(
            session, [(link.kind, link.target_id) for link in promised.links]) - {actor.id}
        notify_each(session, people, kind="commitment_closed",
                    message=lambda commitment=commitment, promised=promised: _(
                        "A commitment of “%(title)s” was answered by record %(seq)s: "
                        "%(promise)s", title=promised.title, seq=record.seq,
                        promise=_quote(commitment.promise, PROMISE_QUOTE)),
                    link=f"/decisions/{record.seq}", subject_ref=f"commitment:{commitment.id}")


def _lock_chain(session: Session, table: str = "decision_records") -> None:
    """Serialise writers of a chain (the records', or the commitment updates'). SQLite already
    holds its write lock from BEGIN IMMEDIATE."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))


def _next_link(session: Session, number: Any, hash_column: Any) -> tuple[int, str]:
    """The next position on a chain and the hash it links to (the genesis hash when empty)."""
    head = session.execute(select(number, hash_column).order_by(number.desc()).limit(1)).first()
    return (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)


def _required_text(value: str, field_name: str, missing: str, limit: int) -> str:
    value = clean_text(value or "").strip()
    if not value:
        raise InvalidInput(missing, field=field_name)
    if len(value) > limit:
        raise InvalidInput(_("Keep it under %(limit)s characters.", limit=limit), field=field_name)
    return value


def _freeze_links(session: Session,
                  links: list[tuple[str, int]]) -> list[tuple[str, int, Evidence]]:
    unique = sorted(set(links))
    if len(unique) > MAX_LINKS:
        raise InvalidInput(_("Link at most %(limit)s items.", limit=MAX_LINKS), field="links")
    frozen = []
    for kind, item_id in unique:
        freeze = PROVIDERS.get(kind)
        if freeze is None:
            raise InvalidInput(_("Records cannot link to items of kind “%(kind)s” on this site.",
                                 kind=kind), field="links")
        label = _(KIND_LABELS.get(kind, kind))
        if not isinstance(item_id, int) or isinstance(item_id, bool) or item_id < 1:
            raise InvalidInput(_("%(kind)s %(id)s is not a valid id.", kind=label,
                                 id=repr(item_id)), field="links")
        try:
            found = freeze(session, item_id)
        except NotFound:
            raise NotFound(_("%(kind)s %(id)s does not exist or is not public.", kind=label,
                             id=item_id), field="links") from None
        except Closed as error:
            raise Closed(_("%(kind)s %(id)s cannot be linked yet: %(reason)s", kind=label,
                           id=item_id, reason=error.message), field="links") from None
        frozen.append((kind, item_id, found))
    return frozen


def _check_commitments(commitments: list[tuple[date, str]],
                       today: date) -> list[tuple[int, date, str]]:
    if len(commitments) > MAX_COMMITMENTS:
        raise InvalidInput(_("Make at most %(limit)s commitments in one record.",
                             limit=MAX_COMMITMENTS),
                           field="commitments")
    checked = []
    for number, (due, promise) in enumerate(commitments, start=1):
        promise = clean_text(promise or "").strip()
        if not promise:
            raise InvalidInput(_("Commitment %(number)s needs a description.", number=number),
                               field="commitments")
        if len(promise) > PROMISE_MAX:
            raise InvalidInput(_("Keep commitment %(number)s under %(limit)s characters.",
                                 number=number, limit=PROMISE_MAX),
                               field="commitments")
        if due < today:
            raise InvalidInput(_("Commitment %(number)s is due in the past (%(due)s).",
                                 number=number, due=day(due)),
                               field="commitments")
        checked.append((number, due, promise))
    return checked


def _check_closures(session: Session, commitment_ids: list[int]) -> list[Commitment]:
    closes = []
    for commitment_id in sorted(set(commitment_ids)):
        commitment = session.get(Commitment, commitment_id)
        if commitment is None:
            raise NotFound(_("Commitment %(id)s does not exist.", id=commitment_id), field="closes")
        if commitment.closure is not None:
            raise Conflict(_("That commitment was already closed by record %(seq)s.",
                             seq=commitment.closure.record.seq), field="closes")
        closes.append(commitment)
    return closes


def participation_figures(evidence: list[Evidence]) -> dict[str, Any]:
    """How many took part in what a record rests on; people are counted once across links.

    The median time to answer is taken over every linked town hall's answered questions and
    rounded to whole seconds the way the town-hall ledger rounds it (halves to even), so for one
    town hall the figures match its public ledger.
    """
    participants: set[int] = set()
    seconds: list[float] = []
    for found in evidence:
        participants |= found.participants
        seconds.extend(found.answer_seconds)
    online = [found.online_watchers_peak for found in evidence
              if found.online_watchers_peak is not None]
    in_room = [found.in_room_attendance for found in evidence
               if found.in_room_attendance is not None]
    return {
        "distinct_participants": len(participants),
        "questions_asked": sum(found.questions_asked for found in evidence),
        "questions_answered": sum(found.questions_answered for found in evidence),
        "median_seconds_to_answer": round(statistics.median(seconds)) if seconds else None,
        "poll_turnout": sum(found.ballots for found in evidence),
        # Summed over the linked town halls; None when no town hall is linked (or, in the
        # room, none was counted). Records published before these figures lack both keys.
        "online_watchers_peak": sum(online) if online else None,
        "in_room_attendance": sum(in_room) if in_room else None,
    }


def get_record(session: Session, seq: int, *, field: str | None = None) -> DecisionRecord:
    record = session.scalar(select(DecisionRecord).where(DecisionRecord.seq == seq))
    if record is None:
        raise NotFound(_("There is no decision record number %(seq)s.", seq=seq), field=field)
    return record


def amendments_of(session: Session, record: DecisionRecord) -> list[DecisionRecord]:
    """The later records that amend this one, oldest first."""
    return list(session.scalars(
        select(DecisionRecord).where(DecisionRecord.amends_seq == record.seq)
        .order_by(DecisionRecord.seq)
    ))


def closures_by(session: Session, record: DecisionRecord) -> list[Closure]:
    """The commitments `record` answers, for its "this answers ..." links."""
    return list(session.scalars(select(Closure).where(Closure.record_id == record.id)
                                .order_by(Closure.id)))


@dataclass(frozen=True)
class Citation:
    """A record that rests on a town hall, as the town hall's transcript links it."""

    seq: int
    title: str
    outcome: str
    published_at: datetime
    # True when the record links the town hall itself (not only a poll or thread held in it).
    direct: bool
    # The questions its frozen snapshot of the town hall lists.
    question_ids: frozenset[int]


def records_citing_townhall(session: Session, townhall_id: int) -> list[Citation]:
    """The records that cite a town hall (or a poll or thread held in it), oldest first.

    A record cites town halls, polls and threads, never single questions; what ties a record to
    a question is that its frozen snapshot of the town hall lists that question, with the
    outcome it had when the record was published."""
    records = session.scalars(
        select(DecisionRecord).where(DecisionRecord.id.in_(
            select(DecisionLink.record_id).where(DecisionLink.townhall_id == townhall_id)))
        .order_by(DecisionRecord.seq))
    citations = []
    for record in records:
        direct = False
        listed: set[int] = set()
        for link in record.content.get("links") or []:
            if link.get("kind") != "townhall" or link.get("id") != townhall_id:
                continue
            direct = True
            for question in (link.get("snapshot") or {}).get("questions") or []:
                listed.add(question.get("id"))
        citations.append(Citation(seq=record.seq, title=record.title, outcome=record.outcome,
                                  published_at=record.published_at, direct=direct,
                                  question_ids=frozenset(listed)))
    return citations


def amended_seqs(session: Session, seqs: list[int]) -> dict[int, list[int]]:
    """For each of `seqs`, the seqs of the records that amend it."""
    found: dict[int, list[int]] = {}
    if not seqs:
        return found
    rows = session.execute(
        select(DecisionRecord.amends_seq, DecisionRecord.seq)
        .where(DecisionRecord.amends_seq.in_(seqs)).order_by(DecisionRecord.seq)
    )
    for amended, seq in rows:
        found.setdefault(amended, []).append(seq)
    return found


@dataclass
class RecordFilter:
    topic_id: int | None = None
    townhall_id: int | None = None
    outcome: str | None = None
    since: date | None = None
    until: date | None = None


def list_records(session: Session, filters: RecordFilter | None = None, *, page: int = 1,
                 per_page: int = 20) -> tuple[list[DecisionRecord], int]:
    """Records newest first, narrowed by topic, town hall, outcome and publication date."""
    filters = filters or RecordFilter()
    stmt = select(DecisionRecord)
    if filters.outcome:
        if filters.outcome not in OUTCOMES:
            raise InvalidInput(_("Unknown decision outcome."), field="outcome")
        stmt = stmt.where(DecisionRecord.outcome == filters.outcome)
    for column, value in ((DecisionLink.topic_id, filters.topic_id),
                          (DecisionLink.townhall_id, filters.townhall_id)):
        if value is not None:
            stmt = stmt.where(DecisionRecord.id.in_(
                select(DecisionLink.record_id).where(column == value)))
    if filters.since:
        stmt = stmt.where(DecisionRecord.published_at >= _start_of(filters.since))
    if filters.until:
        stmt = stmt.where(DecisionRecord.published_at < _start_of(filters.until, 1))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    records = session.scalars(stmt.order_by(DecisionRecord.seq.desc())
                              .limit(per_page).offset((max(page, 1) - 1) * per_page))
    return list(records), total


def linked_places(session: Session, actor: User | None
                  ) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The forum topics, and the town halls `actor` may see, that some record rests on, with
    their titles. A thread's record links its topic's town hall, which may be private."""
    from participation.forums.models import Topic
    from participation.townhall.models import TownHall

    topics = session.execute(
        select(Topic.id, Topic.title).where(Topic.id.in_(select(DecisionLink.topic_id)))
        .order_by(Topic.title)).all()
    townhalls = session.scalars(
        select(TownHall).where(TownHall.id.in_(select(DecisionLink.townhall_id)))
        .order_by(TownHall.starts_at.desc()))
    return ([tuple(row) for row in topics],
            [(t.id, t.title) for t in townhalls if can(actor, "townhall.view", t)])


def _start_of(value: date, plus_days: int = 0) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC) + timedelta(days=plus_days)


def chain_entry(record: DecisionRecord) -> dict[str, Any]:
    """A record as the export carries it: its place in the chain and the hashed content."""
    return {"seq": record.seq, "prev_hash": record.prev_hash, "hash": record.hash,
            "record": record.content}


def export_chain(session: Session, *, now: datetime | None = None) -> dict[str, Any]:
    """The whole chain, oldest first, in the form `participation verify` checks."""
    records = list(session.scalars(select(DecisionRecord).order_by(DecisionRecord.seq)))
    updates = list(session.scalars(select(CommitmentUpdate).order_by(CommitmentUpdate.n)))
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": timestamp(now or utcnow()),
        "genesis": GENESIS_HASH,
        "count": len(records),
        "head": records[-1].hash if records else GENESIS_HASH,
        "records": [chain_entry(record) for record in records],
        "updates_count": len(updates),
        "updates_head": updates[-1].hash if updates else GENESIS_HASH,
        "updates": [{"n": u.n, "prev_hash": u.prev_hash, "hash": u.hash,
                     "update": json.loads(u.canonical)} for u in updates],
    }


def chain_head(session: Session) -> DecisionRecord | None:
    return session.scalar(select(DecisionRecord).order_by(DecisionRecord.seq.desc()).limit(1))


@dataclass
class CommitmentView:
    commitment: Commitment
    record_seq: int
    record_title: str
    closed_by: int | None
    overdue: bool
    state: str = "open"

    @property
    def closed(self) -> bool:
        """Closed by a record or by a "done" or "dropped" update: it takes no more updates."""
        return is_closed(self.commitment)


# The commitments page's filters: the four states a reader asks about, and "due soon" (not yet
# due, within the reminder's notice, neither done nor dropped).
COMMITMENT_FILTERS = {
    "overdue": N_("Overdue"),
    "due_soon": N_("Due soon"),
    "done_late": N_("Done late"),
    "done_on_time": N_("Done on time"),
}


def list_commitments(session: Session, *, today: date | None = None,
                     state: str | None = None) -> list[CommitmentView]:
    """Every commitment (or those of one of COMMITMENT_FILTERS) with where it stands today,
    soonest due first; each with its record, closure and updates, in four queries in all."""
    today = today or utcnow().date()
    query = (
        select(Commitment).join(Commitment.record)
        # The record's own links and commitments are not wanted here.
        .options(contains_eager(Commitment.record).options(
                     lazyload(DecisionRecord.links), lazyload(DecisionRecord.commitments)),
                 selectinload(Commitment.updates),
                 selectinload(Commitment.closure).joinedload(Closure.record))
        .order_by(Commitment.due_on, DecisionRecord.seq, Commitment.number))
    if state is not None:
        if state not in COMMITMENT_FILTERS:
            raise InvalidInput(_("“state” must be one of: %(states)s.",
                                 states=", ".join(COMMITMENT_FILTERS)), field="state")
        facts = _commitment_facts(session, today)
        current = _state_case(facts, today)
        chosen = select(facts.c.id)
        if state == "due_soon":
            chosen = chosen.where(current.in_(("open", "on_track", "delayed")),
                                  facts.c.due_on <= today + COMMITMENT_DUE_NOTICE)
        else:
            chosen = chosen.where(current == state)
        query = query.where(Commitment.id.in_(chosen))
    views = []
    for commitment in session.scalars(query):
        closed_by = commitment.closure.record.seq if commitment.closure else None
        current_state = commitment_state(commitment, today)
        views.append(CommitmentView(commitment, commitment.record.seq, commitment.record.title,
                                    closed_by, current_state == "overdue", current_state))
    return views


def get_commitment_by_number(session: Session, seq: int, number: int) -> Commitment:
    """Commitment `number` of record `seq`: how the chain and the addresses name one."""
    commitment = session.scalar(
        select(Commitment).join(Commitment.record)
        .where(DecisionRecord.seq == seq, Commitment.number == number))
    if commitment is None:
        raise NotFound(_("Record %(seq)s has no commitment %(number)s.", seq=seq,
                         number=number))
    return commitment


def is_closed(commitment: Commitment) -> bool:
    """Answered by a closing record, or done or dropped by an update."""
    return commitment.closure is not None or any(update.status in CLOSING_STATUSES
                                                 for update in commitment.updates)


def send_commitment_reminders(session: Session, *, now: datetime) -> int:
    """Remind the official who published each open commitment: "commitment_due" once from a
    week before its date, "commitment_overdue" once after the date passes unanswered. Returns
    how many were sent; run daily, by more than one worker if need be.

    Each reminder is claimed by inserting its (commitment, kind) row, which the unique pair
    lets only one worker do.
    """
    today = now.astimezone(UTC).date()
    candidates = list(session.scalars(
        select(Commitment).join(Commitment.record)
        .where(~exists().where(Closure.commitment_id == Commitment.id),
               # A "done" or "dropped" update closes it as a closing record does.
               ~exists().where(CommitmentUpdate.commitment_id == Commitment.id,
                               CommitmentUpdate.status.in_(CLOSING_STATUSES)),
               Commitment.due_on <= today + COMMITMENT_DUE_NOTICE,
               DecisionRecord.author_id.is_not(None))
        .order_by(Commitment.id)))
    if not candidates:
        return 0
    wanted = [{"commitment_id": c.id, "kind": "overdue" if c.due_on < today else "due",
               "sent_at": now} for c in candidates]
    table = CommitmentNotice.__table__
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" \
        else sqlite.insert
    claimed = {(commitment_id, kind) for commitment_id, kind in session.execute(
        insert(table).on_conflict_do_nothing(index_elements=["commitment_id", "kind"])
        .returning(table.c.commitment_id, table.c.kind), wanted)}
    sent = 0
    for commitment in candidates:
        for kind in ("due", "overdue"):
            if (commitment.id, kind) in claimed:
                sent += len(_remind_official(session, commitment, kind))
    return sent


def _remind_official(session: Session, commitment: Commitment, kind: str) -> list[int]:
    record = commitment.record

    def message() -> str:
        values = {"number": commitment.number, "title": record.title,
                  "due": format_date(commitment.due_on, "long"),
                  "promise": _quote(commitment.promise, PROMISE_QUOTE)}
        if kind == "due":
            return _("Commitment %(number)s of “%(title)s” is due on %(due)s: %(promise)s",
                     **values)
        return _("Commitment %(number)s of “%(title)s” was due on %(due)s and is not answered "
                 "yet: %(promise)s", **values)

    return notify_each(session, [record.author_id], kind=f"commitment_{kind}", message=message,
                       link=f"/decisions/{record.seq}", subject_ref=f"commitment:{commitment.id}")


def get_commitment(session: Session, commitment_id: int) -> Commitment:
    commitment = session.get(Commitment, commitment_id)
    if commitment is None:
        raise NotFound(_("There is no such commitment."))
    return commitment


def draft_from_record(record: DecisionRecord) -> Draft:
    """A draft that starts an amendment from what the record said."""
    content = record.content
    return Draft(title=content["title"], summary=content["summary"],
                 outcome=content["decision"]["outcome"],
                 decision_text=content["decision"]["text"], department=content["department"],
                 links=[(link["kind"], link["id"]) for link in content["links"]],
                 amends=record.seq)



# Progress on commitments ------------------------------------------------------------------

# The statuses, and which of them close a commitment, are the offline verifier's (it is
# standard library only); here they get their labels.
UPDATE_STATUSES = dict(zip(VERIFIED_UPDATE_STATUSES,
                           (N_("On track"), N_("Delayed"), N_("Done"), N_("Dropped")),
                           strict=True))
UPDATE_NOTE_MAX = 500
COMMITMENT_STATES = ("open", "on_track", "delayed", "overdue", "done_on_time", "done_late",
                     "dropped")
# Labels for the states but "open", which is translated with its context ("commitment").
COMMITMENT_STATE_LABELS = {"on_track": N_("On track"), "delayed": N_("Delayed"),
                           "overdue": N_("Overdue"), "done_on_time": N_("Done on time"),
                           "done_late": N_("Done late"), "dropped": N_("Dropped")}


def post_commitment_update(session: Session, actor: User, commitment_id: int, *, status: str,
                           note: str, percent: str | int | None, department: str,
                           now: datetime | None = None) -> CommitmentUpdate:
    """Append an official's progress on an open commitment. Nothing is written on bad input."""
    require(actor, "decisions.publish")
    commitment = session.get(Commitment, commitment_id)
    if commitment is None:
        raise NotFound(_("Commitment %(id)s does not exist.", id=commitment_id))
    if status not in UPDATE_STATUSES:
        raise InvalidInput(_("Choose on track, delayed, done or dropped."), field="status")
    note = _required_text(note, "note", _("Write a short note on the progress."),
                          UPDATE_NOTE_MAX)
    department = _required_text(department, "department",
                                _("Enter the responsible department."), DEPARTMENT_MAX)
    value: int | None = None
    if percent is not None and str(percent).strip() != "":
        text_value = str(percent).strip()
        if isinstance(percent, bool) or not text_value.isdigit() or int(text_value) > 100:
            raise InvalidInput(_("The percentage is a whole number from 0 to 100."),
                               field="percent")
        value = int(text_value)
    if is_closed(commitment):
        raise Closed(_("This commitment is closed; it takes no more updates."))
    moment = (now or utcnow()).replace(microsecond=0)
    _lock_chain(session, CommitmentUpdate.__tablename__)
    n, prev_hash = _next_link(session, CommitmentUpdate.n, CommitmentUpdate.hash)
    content = {"kind": "commitment_update", "n": n,
               "commitment": {"record": commitment.record.seq, "number": commitment.number},
               "status": status, "note": note, "percent": value, "department": department,
               "posted_at": timestamp(moment)}
    canonical = canonical_json(content)
    update = CommitmentUpdate(n=n, prev_hash=prev_hash, hash=record_hash(prev_hash, canonical),
                              canonical=canonical, commitment_id=commitment.id, status=status,
                              note=note, percent=value, department=department,
                              author_id=actor.id, posted_at=moment)
    session.add(update)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(_("Another update was posted at the same moment; please try again.")) \
            from None
    session.refresh(commitment)
    return update


def _day(value: datetime) -> date:
    return value.astimezone(UTC).date() if value.tzinfo else value.date()


def commitment_state(commitment: Commitment, as_of: date) -> str:
    """The one definition of where a commitment stands on `as_of`: done_on_time or done_late
    (a "done" update or a closing record, against the due date), dropped, overdue (past due
    with neither; a later on_track/delayed does not change that), else the last update's
    status, else open."""
    updates = [u for u in commitment.updates if _day(u.posted_at) <= as_of]
    done = [_day(u.posted_at) for u in updates if u.status == "done"]
    if commitment.closure is not None and _day(commitment.closure.record.published_at) <= as_of:
        done.append(_day(commitment.closure.record.published_at))
    dropped = [_day(u.posted_at) for u in updates if u.status == "dropped"]
    if done and (not dropped or min(done) <= min(dropped)):
        return "done_on_time" if min(done) <= commitment.due_on else "done_late"
    if dropped:
        return "dropped"
    if commitment.due_on < as_of:
        return "overdue"
    return updates[-1].status if updates else "open"


@dataclass(frozen=True)
class CommitmentCounts:
    made: int = 0
    done_on_time: int = 0
    done_late: int = 0
    overdue: int = 0
    dropped: int = 0
    on_track: int = 0
    delayed: int = 0
    open: int = 0


def _day_sql(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return cast(column, Date)
    return func.date(column)


def _commitment_facts(session: Session, as_of: date) -> Any:
    """Per commitment, what is known on `as_of`: the day it was first done (an update or a
    closing record), first dropped, its due date, its record, and its last update's status."""
    horizon = _start_of(as_of, 1)
    done_update = (
        select(func.min(CommitmentUpdate.posted_at))
        .where(CommitmentUpdate.commitment_id == Commitment.id,
               CommitmentUpdate.status == "done", CommitmentUpdate.posted_at < horizon)
        .scalar_subquery())
    closing = DecisionRecord.__table__.alias("closing")
    closed_at = (
        select(func.min(closing.c.published_at))
        .select_from(Closure.__table__.join(closing, closing.c.id == Closure.record_id))
        .where(Closure.commitment_id == Commitment.id, closing.c.published_at < horizon)
        .scalar_subquery())
    dropped_at = (
        select(func.min(CommitmentUpdate.posted_at))
        .where(CommitmentUpdate.commitment_id == Commitment.id,
               CommitmentUpdate.status == "dropped", CommitmentUpdate.posted_at < horizon)
        .scalar_subquery())
    last_status = (
        select(CommitmentUpdate.status)
        .where(CommitmentUpdate.commitment_id == Commitment.id,
               CommitmentUpdate.posted_at < horizon)
        .order_by(CommitmentUpdate.posted_at.desc(), CommitmentUpdate.id.desc())
        .limit(1).scalar_subquery())
    return (
        select(Commitment.id.label("id"), Commitment.due_on.label("due_on"),
               Commitment.record_id.label("record_id"),
               _day_sql(session, done_update).label("done_update"),
               _day_sql(session, closed_at).label("closed"),
               _day_sql(session, dropped_at).label("dropped"),
               last_status.label("last_status"))
        .subquery("facts"))


def _state_case(facts: Any, as_of: date) -> Any:
    done = case((facts.c.done_update.is_(None), facts.c.closed),
                (facts.c.closed.is_(None), facts.c.done_update),
                (facts.c.done_update <= facts.c.closed, facts.c.done_update),
                else_=facts.c.closed)
    return case(
        (and_(done.is_not(None), or_(facts.c.dropped.is_(None), done <= facts.c.dropped)),
         case((done <= facts.c.due_on, "done_on_time"), else_="done_late")),
        (facts.c.dropped.is_not(None), "dropped"),
        (facts.c.due_on < as_of, "overdue"),
        else_=func.coalesce(facts.c.last_status, "open"))


def commitment_counts(session: Session, *, since: date | None, until: date | None,
                      as_of: date, department: str | None = None) -> CommitmentCounts:
    """How the commitments made (their record published) from `since` to `until`, inclusive,
    stand on `as_of`; one GROUP BY, with the same definition as `commitment_state`."""
    found = commitment_counts_by(session, lambda published: literal("all"), since=since,
                                 until=until, as_of=as_of, department=department)
    return found.get("all", CommitmentCounts())


def commitment_counts_by(session: Session, group: Callable[[Any], Any], *, since: date | None,
                         until: date | None, as_of: date,
                         department: str | None = None) -> dict[Any, CommitmentCounts]:
    """`commitment_counts` for each value of `group(published_at)` of the records that made
    them (the numbers page groups by month), in one statement."""
    facts = _commitment_facts(session, as_of)
    state = _state_case(facts, as_of).label("state")
    key = group(DecisionRecord.published_at).label("g")
    query = select(key, state, func.count()).select_from(facts).join(
        DecisionRecord, DecisionRecord.id == facts.c.record_id)
    if since is not None:
        query = query.where(DecisionRecord.published_at >= _start_of(since))
    if until is not None:
        query = query.where(DecisionRecord.published_at < _start_of(until, 1))
    if department is not None:
        query = query.where(DecisionRecord.department == department)
    counts: dict[Any, dict[str, int]] = {}
    for g, name, count in session.execute(query.group_by(key, state)):
        counts.setdefault(g, {})[name] = int(count)
    return {g: CommitmentCounts(made=sum(found.values()),
                                **{name: found.get(name, 0) for name in COMMITMENT_STATES})
            for g, found in counts.items()}
