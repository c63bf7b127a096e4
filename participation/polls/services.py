"""Poll rules: creating, opening and closing polls, casting ballots, results and exports.

Plain functions `verb_noun(session, actor, ...)`: they flush, never commit, and raise domain
errors. The server clock decides whether a poll is open, checked inside the write transaction.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import and_, bindparam, case, func, literal, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload, selectinload

from participation import jobs
from participation.accounts.models import User
from participation.accounts.services import personal_data
from participation.db import MAX_ROW_ID, row_id, utcnow
from participation.errors import (
    Closed,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
)
from participation.forums.models import Topic, TopicStatus
from participation.forums.services import topic_followers
from participation.i18n import N_
from participation.notices import notify_each
from participation.notifications.services import register_visibility
from participation.polls import counting, turnout
from participation.polls.eligibility import meets_roll_restriction
from participation.polls.models import (
    Ballot,
    BallotSecrecy,
    Eligibility,
    Poll,
    PollKind,
    PollOption,
    ResultsMode,
)
from participation.realtime.services import record_event
from participation.roll.models import RollEntry
from participation.roll.services import standing_of
from participation.security.permissions import can, require
from participation.security.sanitize import clean_text, render_markdown
from participation.townhall.models import Status as TownHallStatus
from participation.townhall.models import TownHall
from participation.townhall.services import register_townhall_part

QUESTION_MAX = 300
DESCRIPTION_MAX = 5000
OPTION_MAX = 200
OPTIONS_MIN = 2
OPTIONS_MAX = 20
CLIENT_ID_MAX = 64
DISTRICTS_MAX = 50
MIN_AGE_MAX = 120
# Version 3 adds how the ballots reached the count: `channels` (how many by each) and, in a
# verifiable export, each ballot's `channel`; and, for a poll for verified residents, its
# `electorate` and `turnout_percent`. Version 2 says how the poll publishes its ballots
# (`ballot_secrecy`); a secret poll's export lists the fingerprints and the contents apart.
# Versions 1 (every ballot with its fingerprint) and 2 are still read by the recount.
EXPORT_FORMAT = "participation-poll-ballots/3"
EXPORT_FORMAT_V2 = "participation-poll-ballots/2"
EXPORT_FORMAT_V1 = "participation-poll-ballots/1"
# Receipt codes: 20 characters from an alphabet without look-alikes (100 bits), shown in groups.
RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
RECEIPT_LENGTH = 20

RESULTS_MODE_LABELS = {
    ResultsMode.LIVE: N_("Live: results are shown while voting is open"),
    ResultsMode.AFTER_CLOSE: N_("After close: results are shown once the poll closes"),
    ResultsMode.HIDDEN: N_("Hidden: results are shown once an official releases them after the "
                           "close"),
}
SECRECY_LABELS = {
    BallotSecrecy.VERIFIABLE: N_(
        "Verifiable: the published ballots list each receipt's fingerprint with that ballot's "
        "choices. Every voter can check how their ballot was counted, and so can anyone they "
        "show their receipt to."),
    BallotSecrecy.SECRET: N_(
        "Secret: the published ballots list the receipts' fingerprints and, separately and "
        "sorted by content, the ballots' choices. Every voter can check their ballot is "
        "counted and anyone can recount, but no receipt shows how its ballot was cast."),
}
SECRECY_DEFAULT_LABEL = N_(
    "As suits who may vote: secret for a poll of verified residents, verifiable for any other.")
SECRECY_NAMES = {
    BallotSecrecy.VERIFIABLE: N_("Verifiable ballots"),
    BallotSecrecy.SECRET: N_("Secret ballots"),
}
# What a receipt proves and what it reveals, under each setting: the poll page, the receipt page
# and the town hall's live page say it in these words.
RECEIPT_MEANINGS = {
    BallotSecrecy.VERIFIABLE: N_(
        "A receipt proves its ballot is in the count and, through the published ballots, shows "
        "how it was cast: anyone who holds the code can see that vote. Keep it to yourself."),
    BallotSecrecy.SECRET: N_(
        "A receipt proves its ballot is in the count and reveals nothing of how it was cast, "
        "here or in the published ballots. Only the voter, signed in, sees their choices on "
        "the poll's page."),
}
KIND_LABELS = {
    PollKind.SINGLE: N_("Single choice"),
    PollKind.MULTIPLE: N_("Multiple choice (approval)"),
    PollKind.RANKED: N_("Ranked choice (instant runoff)"),
}


ELIGIBILITY_LABELS = {
    Eligibility.SIGNED_IN: N_("Anyone signed in"),
    Eligibility.CONFIRMED: N_("Residents with a confirmed email address"),
    Eligibility.VERIFIED: N_("Verified residents (checked against the electoral roll)"),
}


class NotEligible(Forbidden):
    """The actor may not vote in this poll. `remedy` says what they can do about it: "confirm"
    (their address), "verify" (against the roll, on the account page), or None (nothing: the
    poll is for other districts or ages)."""

    default_message = N_("This poll is not open to you.")

    def __init__(self, message: Any = None, *, remedy: str | None = None) -> None:
        super().__init__(message, field="choices")
        self.remedy = remedy


class AlreadyVoted(Conflict):
    """The roll entry behind this ballot has voted already: through another account, or on a
    ballot a poll officer entered."""

    default_message = N_(
        "Someone with your entry on the electoral roll has already voted in this poll, with "
        "another account or on a ballot taken on paper, by phone or in person. If it was not "
        "you, ask at a town hall service desk for help.")


@dataclass
class CastResult:
    ballot: Ballot
    # True when this cast replaced the resident's earlier ballot.
    replaced: bool
    # True when it was a retry of a cast already applied (same client_id): nothing changed.
    repeated: bool


def default_secrecy(poll_settings: Mapping[str, Any]) -> BallotSecrecy:
    """How a new poll publishes its ballots when its creator does not say: the one place that
    decides it. A poll restricted to the electoral roll (`electoral_roll_only`, once the roll
    exists) is a binding consultation, where a receipt must not prove a vote: secret. Any
    other poll: verifiable, as polls always were."""
    if poll_settings.get("electoral_roll_only"):
        return BallotSecrecy.SECRET
    return BallotSecrecy.VERIFIABLE


def new_receipt() -> str:
    """A receipt code: RECEIPT_LENGTH characters of 5 random bits each (the alphabet has 32).

    One read of the system's random source per code, instead of one per character.
    """
    bits = int.from_bytes(secrets.token_bytes((5 * RECEIPT_LENGTH + 7) // 8), "big")
    return "".join(RECEIPT_ALPHABET[(bits >> (5 * i)) & 31] for i in range(RECEIPT_LENGTH))


def format_receipt(receipt: str) -> str:
    return "-".join(receipt[i:i + 5] for i in range(0, len(receipt), 5))


def normalize_receipt(text: str) -> str:
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def poll_places(session: Session, actor: User | None) -> list[tuple[str, str]]:
    """Town halls and forum topics a poll can be held in, as (value, label) form choices."""
    places = [(f"townhall:{townhall.id}", _("Town hall: %(title)s", title=townhall.title))
              for townhall in session.scalars(
                  select(TownHall).where(TownHall.status != TownHallStatus.ENDED)
                  .order_by(TownHall.starts_at))
              if can(actor, "townhall.view", townhall)]
    places += [(f"topic:{topic.id}", _("Forum topic: %(title)s", title=topic.title))
               for topic in session.scalars(select(Topic).where(Topic.status == TopicStatus.OPEN)
                                            .order_by(Topic.title))]
    return places


def _check_parent(session: Session, actor: User, townhall_id: int | None,
                  topic_id: int | None) -> None:
    if (townhall_id is None) == (topic_id is None):
        raise InvalidInput(_("A poll belongs to exactly one town hall or forum topic."),
                           field="parent")
    for value in (townhall_id, topic_id):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise InvalidInput(_("Choose a town hall or forum topic."), field="parent")
    if townhall_id is not None:
        townhall = session.get(TownHall, townhall_id)
        if townhall is None or not can(actor, "townhall.view", townhall):
            raise InvalidInput(_("There is no such town hall."), field="parent")
    elif session.get(Topic, topic_id) is None:
        raise InvalidInput(_("There is no such forum topic."), field="parent")


def _clean_options(options: list[str]) -> list[str]:
    cleaned = [clean_text(str(label or "")).strip() for label in options]
    cleaned = [label for label in cleaned if label]
    if len(cleaned) < OPTIONS_MIN:
        raise InvalidInput(_(
            'Give at least %(OPTIONS_MIN)s options.',
            OPTIONS_MIN=OPTIONS_MIN), field="options")
    if len(cleaned) > OPTIONS_MAX:
        raise InvalidInput(_(
            'Give at most %(OPTIONS_MAX)s options.',
            OPTIONS_MAX=OPTIONS_MAX), field="options")
    if any(len(label) > OPTION_MAX for label in cleaned):
        raise InvalidInput(_(
            'Keep each option under %(OPTION_MAX)s characters.',
            OPTION_MAX=OPTION_MAX), field="options")
    if len({label.casefold() for label in cleaned}) != len(cleaned):
        raise InvalidInput(_("Each option must be different."), field="options")
    return cleaned


def create_poll(
    session: Session,
    actor: User,
    *,
    question: str,
    options: list[str],
    kind: str,
    results_mode: str,
    description: str = "",
    max_choices: int | None = None,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
    townhall_id: int | None = None,
    topic_id: int | None = None,
    ballot_secrecy: str | None = None,
    eligibility: str = Eligibility.SIGNED_IN.value,
    eligible_districts: list[str] | None = None,
    min_age: int | None = None,
) -> Poll:
    """Create a poll in a town hall or a forum topic (officials). `ballot_secrecy` None takes
    `default_secrecy` of the poll's settings. `eligibility` says who may vote; a poll for
    verified residents may be limited to some of the roll's districts and a minimum age."""
    require(actor, "poll.create")
    question = clean_text(question or "").strip()
    if not question:
        raise InvalidInput(_("Write the question."), field="question")
    if len(question) > QUESTION_MAX:
        raise InvalidInput(_(
            'Keep the question under %(QUESTION_MAX)s characters.',
            QUESTION_MAX=QUESTION_MAX),
                           field="question")
    description = clean_text(description or "", multiline=True).strip()
    if len(description) > DESCRIPTION_MAX:
        raise InvalidInput(_(
            'Keep the description under %(DESCRIPTION_MAX)s characters.',
            DESCRIPTION_MAX=DESCRIPTION_MAX),
                           field="description")
    try:
        poll_kind = PollKind(kind)
    except ValueError:
        raise InvalidInput(_("Choose a kind of poll."), field="kind") from None
    try:
        mode = ResultsMode(results_mode)
    except ValueError:
        raise InvalidInput(_("Choose when results are shown."), field="results_mode") from None
    who, districts, min_age = _check_who_may_vote(session, eligibility, eligible_districts,
                                                  min_age)
    if ballot_secrecy is None:
        secrecy = default_secrecy({"kind": poll_kind, "results_mode": mode,
                                   "townhall_id": townhall_id, "topic_id": topic_id,
                                   "electoral_roll_only": who is Eligibility.VERIFIED})
    else:
        try:
            secrecy = BallotSecrecy(ballot_secrecy)
        except ValueError:
            raise InvalidInput(_("Choose how the ballots are published: verifiable or secret."),
                               field="ballot_secrecy") from None
    labels = _clean_options(options)
    if poll_kind is PollKind.SINGLE:
        max_choices = None
    elif max_choices is not None:
        if isinstance(max_choices, bool) or not isinstance(max_choices, int) or not (
                1 <= max_choices <= len(labels)):
            raise InvalidInput(_(
                'The most choices must be between 1 and %(value)s.',
                value=len(labels)),
                               field="max_choices")
    for value, name in ((opens_at, "opens_at"), (closes_at, "closes_at")):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(_("Give times with their time zone."), field=name)
    now = utcnow()
    if closes_at is not None:
        if closes_at <= now:
            raise InvalidInput(_("The closing time must be in the future."), field="closes_at")
        if opens_at is not None and closes_at <= opens_at:
            raise InvalidInput(_("The poll must close after it opens."), field="closes_at")
    _check_parent(session, actor, townhall_id, topic_id)
    poll = Poll(
        townhall_id=townhall_id, topic_id=topic_id, question=question,
        description=description,
        description_html=render_markdown(description, field="description"),
        kind=poll_kind, max_choices=max_choices, results_mode=mode, ballot_secrecy=secrecy,
        eligibility=who, eligible_districts=districts, min_age=min_age,
        opens_at=opens_at, closes_at=closes_at, draw_seed=secrets.token_hex(8),
        created_by_id=actor.id,
    )
    poll.options = [PollOption(position=i, label=label) for i, label in enumerate(labels)]
    session.add(poll)
    session.flush()
    if poll.is_open(now):
        announce_opened_polls(session, now=now, poll_ids=[poll.id], opened_by=actor)
        _mark_announced(poll, now)
        record_poll_event(session, poll, now)
    schedule_poll_times(session, poll, now)
    return poll


def get_poll(session: Session, actor: User | None, poll_id: Any) -> Poll:
    """The poll, if it exists and `actor` may see where it is held."""
    if isinstance(poll_id, bool) or not isinstance(poll_id, int) or poll_id < 1:
        raise NotFound(_("No such poll."))
    poll = session.get(Poll, poll_id)
    if poll is None or not can(actor, "poll.view", poll):
        raise NotFound(_("No such poll."))
    return poll


def who_may_vote(poll: Poll) -> str:
    """Who may vote in the poll, in words, in the reader's language (the poll page, the API)."""
    if poll.eligibility is not Eligibility.VERIFIED:
        return _(ELIGIBILITY_LABELS[poll.eligibility])
    districts = ", ".join(poll.eligible_districts or [])
    if districts and poll.min_age:
        return _("Verified residents of %(districts)s, aged %(age)s or over in the year the "
                 "poll closes", districts=districts, age=poll.min_age)
    if districts:
        return _("Verified residents of %(districts)s", districts=districts)
    if poll.min_age:
        return _("Verified residents aged %(age)s or over in the year the poll closes",
                 age=poll.min_age)
    return _(ELIGIBILITY_LABELS[Eligibility.VERIFIED])


def _eligibility(session: Session, actor: User, poll: Poll,
                 now: datetime) -> tuple[NotEligible | None, int | None]:
    """Whether a signed-in actor may vote in the poll: (why not, None) or (None, the roll entry
    that votes, for a poll of verified residents)."""
    if poll.eligibility is Eligibility.SIGNED_IN:
        return None, None
    if poll.eligibility is Eligibility.CONFIRMED:
        if getattr(actor, "email_confirmed_at", None) is None:
            return NotEligible(_l(
                "This poll is for residents with a confirmed email address: follow the link "
                "we mailed you, or send it again from your account page."),
                remedy="confirm"), None
        return None, None
    standing = standing_of(session, actor)
    if standing is None:
        return NotEligible(_l(
            "This poll is for residents verified against the electoral roll: verify your "
            "account on your account page, or at a service desk, first."),
            remedy="verify"), None
    if not meets_roll_restriction(poll, standing.district, standing.birth_year, now):
        # Written out with the message, in the language of whoever receives the answer.
        who = LazyString(who_may_vote, poll)
        return NotEligible(_l("This poll is open only to: %(who)s.", who=who),
                           remedy=None), None
    return None, standing.entry_id


def eligibility_refusal(session: Session, actor: User | None, poll: Poll,
                        now: datetime | None = None) -> NotEligible | None:
    """Why this signed-in account may not vote in the poll, or None when it may (visitors:
    None; signing in comes first). The poll page asks it to say what to do."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    refusal, _entry = _eligibility(session, actor, poll, now or utcnow())
    return refusal


def roll_districts(session: Session) -> list[str]:
    """The districts the electoral roll has now (those of its active entries), sorted."""
    return list(session.scalars(
        select(RollEntry.district).where(RollEntry.active.is_(True),
                                         RollEntry.district.is_not(None))
        .distinct().order_by(RollEntry.district)))


def _roll_is_empty(session: Session) -> bool:
    return session.scalar(select(RollEntry.id).where(RollEntry.active.is_(True)).limit(1)) is None


def _check_who_may_vote(session: Session, eligibility: Any, districts: Any,
                        min_age: Any) -> tuple[Eligibility, list[str], int | None]:
    """The poll's "who may vote" settings, checked: districts the roll has, a sensible age."""
    try:
        who = Eligibility(eligibility)
    except ValueError:
        raise InvalidInput(_("Choose who may vote."), field="eligibility") from None
    districts = districts or []
    if not isinstance(districts, list) or not all(isinstance(d, str) for d in districts):
        raise InvalidInput(_("Choose the districts from the list."), field="eligible_districts")
    wanted = list(dict.fromkeys(d.strip() for d in districts if d.strip()))
    if min_age is not None and (isinstance(min_age, bool) or not isinstance(min_age, int)
                                or not 1 <= min_age <= MIN_AGE_MAX):
        raise InvalidInput(_("The minimum age must be a whole number from 1 to %(max)s.",
                             max=MIN_AGE_MAX), field="min_age")
    if who is not Eligibility.VERIFIED:
        if wanted:
            raise InvalidInput(_("Districts apply only to a poll for verified residents."),
                               field="eligible_districts")
        if min_age is not None:
            raise InvalidInput(_("A minimum age applies only to a poll for verified "
                                 "residents."), field="min_age")
        return who, [], None
    if _roll_is_empty(session):
        raise InvalidInput(_("The electoral roll is empty: import it before making a poll for "
                             "verified residents."), field="eligibility")
    if len(wanted) > DISTRICTS_MAX:
        raise InvalidInput(_("Choose at most %(max)s districts.", max=DISTRICTS_MAX),
                           field="eligible_districts")
    known = set(roll_districts(session))
    unknown = [d for d in wanted if d not in known]
    if unknown:
        raise InvalidInput(_("The electoral roll has no district called “%(district)s”; choose "
                             "from the districts it has.", district=unknown[0][:80]),
                           field="eligible_districts")
    return who, wanted, min_age


def list_polls(session: Session, actor: User | None, *, page: int = 1, per_page: int = 20,
               townhall_id: int | None = None) -> tuple[list[Poll], int]:
    """Polls newest first (optionally one town hall's), leaving out those the actor cannot see."""
    stmt = select(Poll)
    if townhall_id is not None:
        stmt = stmt.where(Poll.townhall_id == townhall_id)
    polls = [poll for poll in session.scalars(stmt.order_by(Poll.created_at.desc(),
                                                            Poll.id.desc()))
             if can(actor, "poll.view", poll)]
    start = (max(page, 1) - 1) * per_page
    return polls[start:start + per_page], len(polls)


def _lock_poll(session: Session, poll_id: int, *, exclusive: bool = False) -> Poll | None:
    """Read the poll inside the write transaction, fresh from the database.

    On PostgreSQL, votes take a shared row lock and a close an exclusive one: a close waits for
    the votes in flight, and votes after it see the new closing time. SQLite's BEGIN IMMEDIATE
    already serializes writers.
    """
    stmt = (select(Poll).where(Poll.id == poll_id)
            .options(joinedload(Poll.townhall), selectinload(Poll.options))
            .execution_options(populate_existing=True))
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update(read=not exclusive, of=Poll)
    return session.scalar(stmt)


def open_poll(session: Session, actor: User, poll: Poll) -> None:
    """Open a poll now (officials; moderators for a poll in a live town hall)."""
    require(actor, "poll.control", poll)
    locked = _lock_poll(session, poll.id, exclusive=True)
    assert locked is poll  # noqa: S101 - the identity map returns the same object
    now = utcnow()
    if poll.is_closed(now):
        raise Closed(_("This poll has closed; a closed poll stays closed."))
    if poll.is_open(now):
        raise Conflict(_("This poll is already open."))
    poll.opens_at = now
    _mark_announced(poll, now)
    session.flush()
    announce_opened_polls(session, now=now, poll_ids=[poll.id], opened_by=actor)
    record_poll_event(session, poll, now)


def announce_opened_polls(session: Session, *, now: datetime,
                          poll_ids: Iterable[int] | None = None,
                          opened_by: User | None = None) -> int:
    """Tell the followers of a forum topic that a poll opened in it ("poll_opened"), once per
    poll; returns how many were told. Polls opened by hand are announced at once (not to whoever
    opened it); scheduled ones by the periodic job, which calls this without `poll_ids`. A town
    hall's polls are told of in its room instead (`announce_poll_times`).

    The polls are claimed by one UPDATE that stamps `announced_at`: a second worker at the same
    moment waits for its row locks and then finds them stamped. A poll that opened and closed
    between two runs is not announced: it is too late to vote in it.
    """
    claim = (update(Poll)
             .where(Poll.topic_id.is_not(None), Poll.announced_at.is_(None),
                    Poll.opens_at.is_not(None), Poll.opens_at <= now,
                    or_(Poll.closes_at.is_(None), Poll.closes_at > now))
             .values(announced_at=now)
             .returning(Poll.id)
             .execution_options(synchronize_session=False))
    if poll_ids is not None:
        wanted = sorted(set(poll_ids))
        if not wanted:
            return 0
        claim = claim.where(Poll.id.in_(wanted))
    claimed = sorted(session.scalars(claim))
    if not claimed:
        return 0
    polls = list(session.scalars(select(Poll).where(Poll.id.in_(claimed))
                                 .options(joinedload(Poll.topic)).order_by(Poll.id)))
    followers = topic_followers(session, [poll.topic_id for poll in polls if poll.topic_id])
    told = 0
    for poll in polls:
        poll.announced_at = now
        topic = poll.topic
        assert topic is not None  # noqa: S101 - claimed only with a topic
        people = [user_id for user_id in followers.get(topic.id, [])
                  if opened_by is None or user_id != opened_by.id]
        told += len(notify_each(
            session, people, kind="poll_opened",
            message=lambda poll=poll, topic=topic: _(
                "A poll opened in “%(topic)s”: %(question)s", topic=topic.title,
                question=poll.question),
            link=f"/polls/{poll.id}", subject_ref=f"poll:{poll.id}"))
    return told


def _mark_announced(poll: Poll, now: datetime) -> None:
    """A town hall poll's room is told of its opening or closing now, by the person who made
    it (or created the poll open): stamp it, so the clock's job does not tell it again."""
    if poll.townhall_id is None:
        return
    if poll.announced_at is None and poll.opens_at is not None and poll.opens_at <= now:
        poll.announced_at = now
    if poll.close_announced_at is None and poll.is_closed(now):
        poll.close_announced_at = now


def schedule_poll_times(session: Session, poll: Poll, now: datetime) -> None:
    """Have a town hall poll's room told at the very moment it opens or closes by its scheduled
    time: a one-off job (`tasks.announce_poll_time`) at each such time still ahead, enqueued
    once this transaction commits. The job every minute is the safety net for a queue that lost
    them; a job for a poll opened or closed by hand in between finds it told and does nothing.

    Scheduled whatever the town hall's status: one prepared in the afternoon for an evening
    meeting has its times fall inside the meeting.
    """
    if poll.townhall_id is None:
        return
    from participation.polls.tasks import announce_poll_time

    for when in sorted({t for t in (poll.opens_at, poll.closes_at) if t is not None and t > now}):
        jobs.after_commit(session, announce_poll_time.schedule, (poll.id,), eta=when)


def announce_poll_times(session: Session, *, now: datetime,
                        poll_ids: Iterable[int] | None = None) -> int:
    """Tell town halls' rooms of the polls that opened or closed by their scheduled time and
    were not yet told (`poll`, as when a person opens or closes one), once each; returns how
    many polls were told of. Run by a one-off job at each scheduled time (with `poll_ids`) and
    by the job every minute (without). Polls held in a forum topic are left alone.

    The polls are claimed as in `announce_opened_polls`, by conditional UPDATEs that stamp
    `close_announced_at` or `announced_at`: a second worker at the same moment waits for the row
    locks and then finds them stamped. Closings are claimed first and stamp the opening too, so
    a poll that opened and closed between two runs is told of once, as closed. The event is
    built as of `now`: its results are in only when the results mode shows them then.
    """
    scope = [Poll.townhall_id.is_not(None)]
    if poll_ids is not None:
        wanted = sorted(set(poll_ids))
        if not wanted:
            return 0
        scope.append(Poll.id.in_(wanted))
    stamp = literal(now, Poll.__table__.c.announced_at.type)
    closed = list(session.scalars(
        update(Poll)
        .where(*scope, Poll.close_announced_at.is_(None), Poll.closes_at.is_not(None),
               Poll.closes_at <= now)
        .values(close_announced_at=now, announced_at=func.coalesce(Poll.announced_at, stamp))
        .returning(Poll.id)
        .execution_options(synchronize_session=False)))
    opened = list(session.scalars(
        update(Poll)
        .where(*scope, Poll.announced_at.is_(None), Poll.opens_at.is_not(None),
               Poll.opens_at <= now, or_(Poll.closes_at.is_(None), Poll.closes_at > now))
        .values(announced_at=now)
        .returning(Poll.id)
        .execution_options(synchronize_session=False)))
    claimed = sorted(set(closed) | set(opened))
    if not claimed:
        return 0
    for poll in session.scalars(select(Poll).where(Poll.id.in_(claimed))
                                .options(selectinload(Poll.options)).order_by(Poll.id)
                                .execution_options(populate_existing=True)):
        record_poll_event(session, poll, now)
    return len(claimed)


def visible_poll_ids(session: Session, user: User | None, ids: Iterable[int]) -> set[int]:
    """Which of these polls `user` may see ("poll:<id>")."""
    wanted = sorted({i for i in ids if isinstance(i, int)})
    if not wanted:
        return set()
    return {poll.id for poll in session.scalars(select(Poll).where(Poll.id.in_(wanted)))
            if can(user, "poll.view", poll)}


def close_poll(session: Session, actor: User, poll: Poll) -> None:
    """Close a poll now; no ballot cast after this moment is counted."""
    require(actor, "poll.control", poll)
    _lock_poll(session, poll.id, exclusive=True)
    now = utcnow()
    if not poll.is_open(now):
        raise Conflict(_("Only an open poll can be closed.") if not poll.is_closed(now)
                       else _("This poll is already closed."))
    poll.closes_at = now
    _mark_announced(poll, now)
    session.flush()
    turnout.freeze_electorate(session, poll, now)
    record_poll_event(session, poll, now)


def release_results(session: Session, actor: User, poll: Poll) -> None:
    """Make a hidden poll's results public, after it has closed (officials)."""
    require(actor, "poll.release_results", poll)
    now = utcnow()
    if poll.results_mode is not ResultsMode.HIDDEN:
        raise Conflict(_("This poll's results are not hidden."))
    if not poll.is_closed(now):
        raise Conflict(_("Results can be released once the poll has closed."))
    if poll.results_released_at is not None:
        raise Conflict(_("The results are already released."))
    poll.results_released_at = now
    session.flush()
    record_poll_event(session, poll, now)


register_visibility("poll", lambda session, user, ident: bool(
    visible_poll_ids(session, user, [found] if (found := row_id(ident)) is not None else [])))


def _parse_choices(choices: Any) -> list[int]:
    if not isinstance(choices, list):
        raise InvalidInput(_l("'choices' must be a list of option ids."), field="choices")
    if len(choices) > OPTIONS_MAX:
        raise InvalidInput(_l("That is not one of this poll's options."), field="choices")
    parsed = []
    for choice in choices:
        if isinstance(choice, bool):
            raise InvalidInput(_l("That is not one of this poll's options."), field="choices")
        if isinstance(choice, str) and choice.strip().isdigit():
            choice = int(choice.strip())
        if not isinstance(choice, int):
            raise InvalidInput(_l("That is not one of this poll's options."), field="choices")
        parsed.append(choice)
    return parsed


def cast_ballot(session: Session, actor: User | None, poll_id: Any, choices: Any, *,
                client_id: Any = None) -> CastResult:
    """Cast or replace the actor's ballot. A retry carrying the same `client_id` changes nothing.

    The one-ballot rule is the unique constraint on (poll, voter): when the resident already
    has a ballot, or a concurrent cast for them inserts first, this cast replaces that ballot.
    """
    (outcome,) = cast_ballots(session, [VoteRequest(actor, poll_id, choices, client_id)])
    if isinstance(outcome, DomainError):
        raise outcome
    ballot = session.get(Ballot, outcome.ballot_id, populate_existing=True)
    assert ballot is not None  # noqa: S101 - written in this transaction
    return CastResult(ballot, replaced=outcome.replaced, repeated=outcome.repeated)


@dataclass
class VoteRequest:
    """One cast, as `cast_ballots` takes it: the actor as the database has them now."""

    actor: User | None
    poll_id: Any
    choices: Any
    client_id: Any = None
    # Refuse a poll held in a forum topic (socket votes belong to a town hall's room).
    townhall_only: bool = False


@dataclass
class CastOutcome:
    poll_id: int
    ballot_id: int
    receipt: str
    replaced: bool
    repeated: bool
    # Whether the poll's room should be sent a new tally (results live, held in a town hall).
    push_tally: bool


def cast_ballots(session: Session, requests: list[VoteRequest]) -> list[CastOutcome | DomainError]:
    """Cast several ballots in the caller's transaction; one outcome or refusal per request.

    Each request is checked on its own: a refused one leaves the others alone. The polls are read
    (on PostgreSQL with a shared row lock, so a close waits for the votes in flight) once per
    poll, and the ballots are written with one INSERT … ON CONFLICT DO NOTHING for all of them:
    the unique constraint on (poll, voter), not a read before the insert, decides who already
    has a ballot, and those ballots are then replaced. At most one request per (poll, voter).
    A refusal's message is lazy: it is written out where the answer is sent, in the language of
    the socket or page that receives it.
    """
    outcomes: list[CastOutcome | DomainError | None] = [None] * len(requests)
    parsed: dict[int, list[int]] = {}
    for index, request in enumerate(requests):
        try:
            parsed[index] = _check_request(request)
        except DomainError as error:
            outcomes[index] = error
    polls = _lock_polls(session, {requests[i].poll_id for i in parsed})
    now = utcnow()
    rows: dict[tuple[int, int], dict[str, Any]] = {}
    for index, choices in parsed.items():
        request = requests[index]
        try:
            entry_id = _check_against_poll(session, request, polls.get(request.poll_id),
                                           choices, now)
        except DomainError as error:
            outcomes[index] = error
            continue
        key = (request.poll_id, request.actor.id)  # type: ignore[union-attr]
        if key in rows:
            raise ValueError("cast_ballots takes at most one request per poll and voter")
        rows[key] = {"index": index, "poll_id": key[0], "voter_id": key[1], "choices": choices,
                     "receipt": new_receipt(), "client_id": request.client_id, "cast_at": now,
                     "roll_entry_id": entry_id}
    if rows:
        for key, written in _write_ballots(
                session, [rows[key] for key in sorted(rows)]).items():
            if isinstance(written, DomainError):
                outcomes[rows[key]["index"]] = written
                continue
            ballot_id, receipt, replaced, repeated = written
            poll = polls[key[0]]
            outcomes[rows[key]["index"]] = CastOutcome(
                poll_id=poll.id, ballot_id=ballot_id, receipt=receipt, replaced=replaced,
                repeated=repeated, push_tally=not repeated and poll.townhall_id is not None
                and results_visible(poll, now))
    assert all(outcome is not None for outcome in outcomes)  # noqa: S101
    return outcomes  # type: ignore[return-value]


def _check_request(request: VoteRequest) -> list[int]:
    """What can be checked without the database: who votes and the shape of the payload."""
    require(request.actor, "poll.vote")
    client_id = request.client_id
    if client_id is not None and (not isinstance(client_id, str) or not client_id
                                  or len(client_id) > CLIENT_ID_MAX):
        raise InvalidInput(_l(
            "'client_id' must be text of at most %(CLIENT_ID_MAX)s characters.",
            CLIENT_ID_MAX=CLIENT_ID_MAX))
    choices = _parse_choices(request.choices)
    poll_id = request.poll_id
    if isinstance(poll_id, bool) or not isinstance(poll_id, int) or not 1 <= poll_id <= MAX_ROW_ID:
        raise NotFound(_l("No such poll."))
    return choices


def _check_against_poll(session: Session, request: VoteRequest, poll: Poll | None,
                        choices: list[int], now: datetime) -> int | None:
    """Refuse what this poll does not take from this actor; the roll entry that votes (polls
    of verified residents) or None."""
    if poll is None or not can(request.actor, "poll.view", poll):
        raise NotFound(_l("No such poll."))
    if poll.is_closed(now):
        raise Closed(_l("This poll has closed; no more votes are counted."))
    if not poll.is_open(now):
        raise Closed(_l("This poll is not open yet."))
    refusal, entry_id = _eligibility(session, request.actor, poll, now)  # type: ignore[arg-type]
    if refusal is not None:
        raise refusal
    problem = counting.check_ballot_shape(
        poll.kind.value, [option.id for option in poll.options], poll.max_choices, choices)
    if problem:
        raise InvalidInput(_ballot_problem(problem, poll.max_choices), field="choices")
    if request.townhall_only and poll.townhall_id is None:
        raise InvalidInput(_l("This poll is not held in a town hall; vote on its page."))
    return entry_id


# counting.check_ballot_shape's answers (in English, as recounts print them), for the catalog.
BALLOT_PROBLEMS = (
    N_("Choose at least one option."),
    N_("That is not one of this poll's options."),
    N_("Rank each option at most once."),
    N_("Choose each option at most once."),
    N_("Choose exactly one option."),
)


def _ballot_problem(problem: str, max_choices: int | None) -> Any:
    """What is wrong with a ballot, in the language of whoever reads it."""
    if problem in BALLOT_PROBLEMS:
        return _l(problem)
    if max_choices is not None and problem == f"Choose at most {max_choices} options.":
        return _l("Choose at most %(count)s options.", count=max_choices)
    return problem


def _lock_polls(session: Session, poll_ids: set[int]) -> dict[int, Poll]:
    """The polls, read inside the write transaction (see `_lock_poll`), in id order."""
    if not poll_ids:
        return {}
    stmt = (select(Poll).where(Poll.id.in_(sorted(poll_ids))).order_by(Poll.id)
            .options(joinedload(Poll.townhall), selectinload(Poll.options))
            .execution_options(populate_existing=True))
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update(read=True, of=Poll)
    return {poll.id: poll for poll in session.scalars(stmt).unique()}


BallotWrite = tuple[int, str, bool, bool]  # ballot id, receipt, replaced, repeated


def _write_ballots(session: Session, rows: list[dict[str, Any]]) -> dict[
        tuple[int, int], BallotWrite | DomainError]:
    """Insert the ballots that are new and replace the others; rows sorted by (poll, voter).

    The sorted order makes concurrent writers (other workers, form votes) take their row locks in
    the same order, so they wait for each other instead of deadlocking. The insert gives way to
    either unique constraint: (poll, voter), then the voter's ballot is replaced; or (poll, roll
    entry), when that entry's ballot came through another account or a poll officer: that cast
    is refused (AlreadyVoted), so one roll entry never has two ballots, however they race.
    """
    table = Ballot.__table__
    columns = ("poll_id", "voter_id", "choices", "receipt", "client_id", "cast_at",
               "roll_entry_id")
    insert = (_dialect_insert(session)(table)
              .on_conflict_do_nothing()
              .returning(table.c.id, table.c.poll_id, table.c.voter_id, table.c.receipt))
    written: dict[tuple[int, int], BallotWrite | DomainError] = {}
    for ballot_id, poll_id, voter_id, receipt in session.execute(
            insert, [{name: row[name] for name in columns} for row in rows]):
        written[(poll_id, voter_id)] = (ballot_id, receipt, False, False)
    existing = [row for row in rows if (row["poll_id"], row["voter_id"]) not in written]
    if not existing:
        return written
    wanted = {(row["poll_id"], row["voter_id"]): row for row in existing}
    stmt = (select(table.c.id, table.c.poll_id, table.c.voter_id, table.c.receipt,
                   table.c.client_id)
            .where(tuple_(table.c.poll_id, table.c.voter_id).in_(sorted(wanted)))
            .order_by(table.c.poll_id, table.c.voter_id))
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    changes = []
    for ballot_id, poll_id, voter_id, receipt, client_id in session.execute(stmt):
        row = wanted.pop((poll_id, voter_id))
        if row["client_id"] is not None and client_id == row["client_id"]:
            written[(poll_id, voter_id)] = (ballot_id, receipt, False, True)
            continue
        written[(poll_id, voter_id)] = (ballot_id, receipt, True, False)
        changes.append({"ballot_id": ballot_id, "choices": row["choices"],
                        "client_id": row["client_id"], "cast_at": row["cast_at"]})
    for key, row in wanted.items():
        # Neither inserted nor found: the roll entry has voted another way, or the ballot went
        # away in between (its account was erased).
        written[key] = (AlreadyVoted() if row["roll_entry_id"] is not None
                        else Conflict())
    if changes:
        session.execute(update(table).where(table.c.id == bindparam("ballot_id"))
                        .values(choices=bindparam("choices"), client_id=bindparam("client_id"),
                                cast_at=bindparam("cast_at")), changes)
    return written


def _dialect_insert(session: Session) -> Any:
    if _dialect(session) == "postgresql":
        return postgresql.insert
    return sqlite.insert


def _ballot_of(session: Session, poll_id: int, voter_id: int, *,
               lock: bool = False) -> Ballot | None:
    stmt = (select(Ballot).where(Ballot.poll_id == poll_id, Ballot.voter_id == voter_id)
            .execution_options(populate_existing=True))
    if lock and _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def ballot_of(session: Session, actor: User | None, poll: Poll) -> Ballot | None:
    """The actor's own ballot in this poll, if any."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    return _ballot_of(session, poll.id, actor.id)


def results_visible(poll: Poll, now: datetime | None = None) -> bool:
    """Whether the poll's results may be shown to anyone, by any route."""
    now = now or utcnow()
    if poll.results_mode is ResultsMode.LIVE:
        return True
    if not poll.is_closed(now):
        return False
    if poll.results_mode is ResultsMode.AFTER_CLOSE:
        return True
    return poll.results_released_at is not None


# When the results will be shown, while they are not (broadcasts carry the English text, which
# the pages' script translates).
RESULTS_NOTICES = {
    ResultsMode.AFTER_CLOSE: N_("Results are shown once the poll closes."),
    ResultsMode.HIDDEN: N_("Results are shown once an official releases them after the poll "
                           "closes."),
}


def results_notice(poll: Poll, now: datetime | None = None) -> str:
    """When the results will be shown, in words, while they are not."""
    notice = RESULTS_NOTICES.get(poll.results_mode)
    return _(notice) if notice else ""


def _ballot_rows(session: Session, poll: Poll) -> list[tuple[str, list[int]]]:
    return [(receipt, list(choices)) for receipt, choices, _ in _ballot_rows_with_channels(
        session, poll)]


def _ballot_rows_with_channels(session: Session, poll: Poll) -> list[tuple[str, list[int], str]]:
    return [(receipt, list(choices), channel.value)
            for receipt, choices, channel in session.execute(
                select(Ballot.receipt, Ballot.choices, Ballot.channel)
                .where(Ballot.poll_id == poll.id))]


def count_poll(session: Session, poll: Poll) -> counting.Results:
    """Count the poll's ballots as they stand; callers check visibility first."""
    ballots = [choices for _, choices in _ballot_rows(session, poll)]
    return counting.count_ballots(poll.kind.value, [option.id for option in poll.options],
                                  ballots, poll.draw_seed)


def poll_results(session: Session, actor: User | None, poll: Poll) -> counting.Results:
    """The results, when the results mode allows them to be seen now."""
    if not results_visible(poll):
        raise Forbidden(results_notice(poll) or "The results are not public yet.")
    return count_poll(session, poll)


def ballot_count(session: Session, poll: Poll) -> int:
    return session.scalar(select(func.count()).select_from(Ballot)
                          .where(Ballot.poll_id == poll.id)) or 0


def poll_summary(poll: Poll) -> dict[str, Any]:
    """The public description of a poll, in the form exports and the API share."""
    return {
        "id": poll.id,
        "question": poll.question,
        "kind": poll.kind.value,
        "max_choices": poll.max_choices,
        "results_mode": poll.results_mode.value,
        "ballot_secrecy": poll.ballot_secrecy.value,
        "townhall_id": poll.townhall_id,
        "topic_id": poll.topic_id,
        "opens_at": poll.opens_at.isoformat() if poll.opens_at else None,
        "closes_at": poll.closes_at.isoformat() if poll.closes_at else None,
        "draw_seed": poll.draw_seed,
        "options": [{"id": option.id, "label": option.label} for option in poll.options],
    }


def published_digest(session: Session, poll: Poll) -> str:
    """The digest over the receipts of the ballots in the count."""
    return counting.receipts_digest([counting.receipt_fingerprint(receipt)
                                     for receipt, _ in _ballot_rows(session, poll)])


def export_poll(session: Session, actor: User | None, poll: Poll) -> dict[str, Any]:
    """The anonymised ballots of a closed poll with its published result and receipts digest.

    No voter ids and no voting order. Verifiable: `ballots`, each content with its receipt's
    fingerprint, sorted by fingerprint. Secret: `fingerprints` (sorted) and, apart, `contents`
    sorted by content (an approval ballot's choices sorted too, so the order a voter ticked them
    in cannot mark a ballot): nothing ties a fingerprint to a content.
    """
    now = utcnow()
    if not poll.is_closed(now):
        raise Forbidden(_("The ballots are published once the poll has closed."))
    if not results_visible(poll, now):
        raise Forbidden(results_notice(poll) or "The results are not public yet.")
    rows = sorted((counting.receipt_fingerprint(receipt), choices, channel)
                  for receipt, choices, channel in _ballot_rows_with_channels(session, poll))
    fingerprints = [fingerprint for fingerprint, _, _ in rows]
    option_ids = [option.id for option in poll.options]
    export: dict[str, Any] = {"format": EXPORT_FORMAT, "poll": poll_summary(poll)}
    if poll.ballot_secrecy is BallotSecrecy.SECRET:
        # Only the counts by channel: a content tied to its channel would show how the one
        # resident who phoned voted to anyone who knows they phoned.
        contents = secret_contents(poll.kind.value, [choices for _, choices, _ in rows])
        export["fingerprints"] = fingerprints
        export["contents"] = contents
    else:
        contents = [choices for _, choices, _ in rows]
        export["ballots"] = [{"fingerprint": fingerprint, "choices": choices, "channel": channel}
                             for fingerprint, choices, channel in rows]
    export["channels"] = counting.count_channels([channel for _, _, channel in rows])
    figures = turnout.poll_turnout(session, poll, now)
    export["electorate"] = figures.electorate
    export["turnout_percent"] = figures.percent
    export["receipts_digest"] = counting.receipts_digest(fingerprints)
    export["results"] = counting.count_ballots(poll.kind.value, option_ids, contents,
                                               poll.draw_seed)
    return export


def secret_contents(kind: str, ballots: Iterable[list[int]]) -> list[list[int]]:
    """A secret poll's ballot contents in the order that says nothing: sorted by content. Only a
    ranking's order means something; other ballots are written with their choices sorted."""
    return sorted(list(choices) if kind == "ranked" else sorted(choices) for choices in ballots)


def export_csv(export: dict[str, Any]) -> str:
    """The export's ballots as a spreadsheet: one row per ballot, one column per option.

    A cell holds the option's rank on that ballot (ranked choice) or 1 when it was chosen. A
    secret poll's rows are its contents in their published order, without fingerprints (those
    are in the JSON export, apart).
    """
    options = export["poll"]["options"]
    secret = "contents" in export
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    labels = [f"{option['id']}: {option['label']}" for option in options]
    writer.writerow(labels if secret else ["fingerprint"] + labels)
    ranked = export["poll"]["kind"] == "ranked"
    ballots = ([(None, choices) for choices in export["contents"]] if secret
               else [(ballot["fingerprint"], ballot["choices"]) for ballot in export["ballots"]])
    for fingerprint, choices in ballots:
        marks = {choice: (rank if ranked else 1) for rank, choice in enumerate(choices, start=1)}
        cells = [marks.get(option["id"], "") for option in options]
        writer.writerow(cells if secret else [fingerprint] + cells)
    return buffer.getvalue()


@dataclass
class ReceiptCheck:
    """What anyone holding a receipt is told: that its ballot is in the count, since when, and
    its fingerprint in the published ballots. Never the ballot's choices."""

    poll: Poll
    fingerprint: str
    counted: bool
    # When the ballot was cast, or last changed.
    cast_at: datetime


def check_receipt(session: Session, actor: User | None, code: str) -> ReceiptCheck:
    """Find the ballot a receipt belongs to, so its voter can see it is in the count."""
    receipt = normalize_receipt(code)
    if len(receipt) != RECEIPT_LENGTH:
        raise InvalidInput(_(
            'A receipt code has %(RECEIPT_LENGTH)s letters and digits.',
            RECEIPT_LENGTH=RECEIPT_LENGTH),
                           field="code")
    ballot = session.scalar(select(Ballot).where(Ballot.receipt == receipt))
    if ballot is None or not can(actor, "poll.view", ballot.poll):
        raise NotFound(_("No ballot has that receipt code. Check it and try again."), field="code")
    return ReceiptCheck(poll=ballot.poll, fingerprint=counting.receipt_fingerprint(receipt),
                        counted=True, cast_at=ballot.cast_at)


@dataclass
class RecountReport:
    matches: bool
    results: counting.Results
    problems: list[str]
    # How the export publishes its ballots: "verifiable" (also every first-format export) or
    # "secret".
    ballot_secrecy: str = BallotSecrecy.VERIFIABLE.value
    # How many ballots came by each channel (third format on; None for older exports).
    channels: dict[str, int] | None = None


class BadExport(ValueError):
    """The file is not a poll export this program can read."""


def recount_export(data: Any) -> RecountReport:
    """Recount an export's ballots with the site's own counting code and compare.

    Reads both kinds of the current format (verifiable `ballots`; secret `fingerprints` and
    `contents`), whose channels it checks too, the second format (the same without channels)
    and the first, whose ballots were all listed with their fingerprints.
    """
    formats = (EXPORT_FORMAT, EXPORT_FORMAT_V2, EXPORT_FORMAT_V1)
    if not isinstance(data, dict) or data.get("format") not in formats:
        raise BadExport("not a poll ballot export (expected format "
                        + ", ".join(repr(name) for name in formats) + ")")
    poll = data.get("poll")
    if not isinstance(poll, dict):
        raise BadExport("the export has no 'poll' section")
    secrecy = (poll.get("ballot_secrecy") if data["format"] != EXPORT_FORMAT_V1
               else BallotSecrecy.VERIFIABLE.value)
    if secrecy not in {s.value for s in BallotSecrecy}:
        raise BadExport(f"unknown ballot secrecy {secrecy!r}")
    secret = secrecy == BallotSecrecy.SECRET.value
    if secret:
        fingerprint_list, contents = data.get("fingerprints"), data.get("contents")
        if not isinstance(fingerprint_list, list) or not isinstance(contents, list):
            raise BadExport("the export has no 'fingerprints' or no 'contents' section")
    elif not isinstance(data.get("ballots"), list):
        raise BadExport("the export has no 'poll' or no 'ballots' section")
    kind = poll.get("kind")
    if kind not in counting.KINDS:
        raise BadExport(f"unknown poll kind {kind!r}")
    try:
        option_ids = [option["id"] for option in poll["options"]]
        seed = str(poll["draw_seed"])
        max_choices = poll.get("max_choices")
        if secret:
            fingerprints = [str(fingerprint) for fingerprint in fingerprint_list]
            choice_lists = [list(choices) for choices in contents]
        else:
            fingerprints = [str(ballot["fingerprint"]) for ballot in data["ballots"]]
            choice_lists = [list(ballot["choices"]) for ballot in data["ballots"]]
    except (KeyError, TypeError) as error:
        raise BadExport(f"a poll or ballot entry is incomplete ({error})") from None
    if any(isinstance(i, bool) or not isinstance(i, int) for i in option_ids):
        raise BadExport("option ids must be whole numbers")
    problems = []
    for number, choices in enumerate(choice_lists, start=1):
        problem = counting.check_ballot_shape(kind, option_ids, max_choices, choices)
        if problem:
            raise BadExport(f"ballot {number} is not valid: {problem}")
    results = counting.count_ballots(kind, option_ids, choice_lists, seed)
    if results != data.get("results"):
        problems.append("the recounted result differs from the published result")
    if counting.receipts_digest(fingerprints) != data.get("receipts_digest"):
        problems.append("the receipts digest does not match the ballots' fingerprints")
    if len(set(fingerprints)) != len(fingerprints):
        problems.append("a ballot fingerprint appears more than once")
    if secret and len(fingerprints) != len(choice_lists):
        problems.append("there are not as many ballot contents as receipt fingerprints")
    if secret and choice_lists != secret_contents(kind, choice_lists):
        problems.append("the secret ballots' contents are not sorted by content, so their "
                        "order could tell who cast them")
    channels = None
    if data["format"] == EXPORT_FORMAT:
        problems += _channel_problems(data, len(choice_lists), secret)
        channels = dict(data["channels"])
    return RecountReport(matches=not problems, results=results, problems=problems,
                         ballot_secrecy=secrecy, channels=channels)


def _channel_problems(data: dict[str, Any], ballots: int, secret: bool) -> list[str]:
    """Whether an export's counts by channel add up to its ballots (and, verifiable, to each
    ballot's own channel)."""
    channels = data.get("channels")
    if (not isinstance(channels, dict) or set(channels) != set(counting.CHANNELS)
            or any(isinstance(n, bool) or not isinstance(n, int) or n < 0
                   for n in channels.values())):
        raise BadExport("the export's 'channels' must give a count for each of "
                        + ", ".join(counting.CHANNELS))
    problems = []
    if sum(channels.values()) != ballots:
        problems.append("the counts by channel do not add up to the ballots")
    if not secret:
        try:
            listed = counting.count_channels([ballot["channel"] for ballot in data["ballots"]])
        except (KeyError, TypeError, ValueError) as error:
            raise BadExport(f"a ballot's channel is missing or unknown ({error})") from None
        if listed != channels:
            problems.append("the counts by channel differ from the ballots' own channels")
    return problems


@personal_data("poll_ballots")
def export_personal_ballots(session: Session, user: User) -> list[dict[str, Any]]:
    """A voter's own ballots and receipts, for "download my data"."""
    ballots = session.scalars(select(Ballot).where(Ballot.voter_id == user.id)
                              .order_by(Ballot.cast_at))
    items = []
    for ballot in ballots:
        labels = {option.id: option.label for option in ballot.poll.options}
        items.append({
            "poll_id": ballot.poll_id,
            "question": ballot.poll.question,
            "choices": [labels.get(choice, str(choice)) for choice in ballot.choices],
            "receipt": format_receipt(ballot.receipt),
            "cast_at": ballot.cast_at.isoformat(),
        })
    return items


def record_tally(session: Session, poll_id: int) -> bool:
    """Record a `tally` of the poll for its town hall's room, when its results may be seen now.

    False (nothing recorded) for a poll that is gone, held in a forum topic, or hiding results.
    """
    poll = session.get(Poll, poll_id)
    if poll is None or poll.townhall_id is None or not results_visible(poll):
        return False
    results = count_poll(session, poll)
    record_event(session, poll.townhall_id, "tally",
                 {"poll_id": poll.id, "status": poll.status(utcnow()), "results": results})
    return True


def voter_ids(session: Session, poll: Poll) -> set[int]:
    """Accounts with a ballot in this poll (not the ballots poll officers entered)."""
    return set(session.scalars(select(Ballot.voter_id).where(Ballot.poll_id == poll.id,
                                                             Ballot.voter_id.is_not(None))))


def recently_closed(session: Session, limit: int) -> list[Poll]:
    """The polls closed most recently, latest first (visibility is the caller's to ask)."""
    return list(session.scalars(select(Poll).where(Poll.closes_at <= utcnow())
                                .order_by(Poll.closes_at.desc()).limit(limit)))


@dataclass(frozen=True)
class FeedPoll:
    """A poll as the public feed tells it: opened, or closed with its result when the results
    mode lets everyone see it (None otherwise, and while it is open)."""

    poll: Poll
    closed: bool
    changed_at: datetime
    results: counting.Results | None


def feed_polls(session: Session, *, now: datetime, limit: int) -> list[FeedPoll]:
    """Polls that have opened, that a visitor may see (never one held in a private town
    hall), the most recently opened or closed first. The query keeps what "poll.view" lets a
    visitor see, and the rule itself has the last word on each."""
    changed = func.coalesce(
        case((Poll.closes_at <= now, Poll.closes_at), else_=None), Poll.opens_at)
    polls = session.scalars(
        select(Poll).outerjoin(TownHall, TownHall.id == Poll.townhall_id)
        .where(Poll.opens_at.is_not(None), Poll.opens_at <= now,
               or_(TownHall.is_public.is_(True),
                   and_(Poll.townhall_id.is_(None), Poll.topic_id.is_not(None))))
        .options(joinedload(Poll.townhall), joinedload(Poll.topic), selectinload(Poll.options))
        .order_by(changed.desc(), Poll.id.desc()).limit(limit))
    items = []
    for poll in polls:
        if not can(None, "poll.view", poll):
            continue
        closed = poll.is_closed(now)
        results = count_poll(session, poll) if closed and results_visible(poll, now) else None
        items.append(FeedPoll(poll=poll, closed=closed, results=results,
                              changed_at=(poll.closes_at if closed else poll.opens_at) or now))
    return items


def result_leaders(poll: Poll, results: counting.Results) -> list[str]:
    """The labels of the winning option (ranked) or of the most marked ones (ties included)."""
    labels = {option.id: option.label for option in poll.options}
    if results.get("kind") == "ranked":
        winner = results.get("winner")
        return [labels[winner]] if winner in labels else []
    return [labels[option] for option in results.get("leaders", []) if option in labels]


# Polls inside a town hall: the room's view of them, and running them from the console


POLL_ACTIONS = ("open", "close", "release")


def public_poll_data(session: Session, poll: Poll, now: datetime | None = None) -> dict[str, Any]:
    """A town hall poll as everyone in the room may see it now: the same for every reader (no
    ballot, no receipt), so one copy serves the whole room. The results are in only when the
    results mode shows them at this moment; `results_notice` (English, translated by the page)
    says when they will be, while they are not."""
    now = now or utcnow()
    visible = results_visible(poll, now)
    return {
        "id": poll.id,
        "question": poll.question,
        "kind": poll.kind.value,
        "options": [{"id": option.id, "label": option.label} for option in poll.options],
        "max_choices": poll.max_choices,
        "results_mode": poll.results_mode.value,
        "ballot_secrecy": poll.ballot_secrecy.value,
        "status": poll.status(now),
        "results": count_poll(session, poll) if visible else None,
        "results_notice": None if visible else RESULTS_NOTICES.get(poll.results_mode),
    }


def record_poll_event(session: Session, poll: Poll, now: datetime | None = None) -> None:
    """Tell a town hall's room that one of its polls opened, closed or had its results
    released (`poll`), through the event log so that `since` replays it. Nothing for a poll
    held in a forum topic."""
    if poll.townhall_id is None:
        return
    record_event(session, poll.townhall_id, "poll",
                 {"poll": public_poll_data(session, poll, now)}, subject=f"poll:{poll.id}")


def townhall_polls(session: Session, townhall: TownHall) -> list[Poll]:
    """Every poll of the town hall, in the order they were prepared."""
    return list(session.scalars(select(Poll).where(Poll.townhall_id == townhall.id)
                                .options(selectinload(Poll.options))
                                .order_by(Poll.created_at, Poll.id)))


def in_meeting(poll: Poll, townhall: TownHall, now: datetime) -> bool:
    """Whether the room is shown this poll: open now, or closed since the town hall first went
    live (its final result stays on the page). Prepared polls not yet open are not shown."""
    if poll.is_open(now):
        return True
    return (poll.is_closed(now) and townhall.started_at is not None
            and poll.closes_at is not None and poll.closes_at >= townhall.started_at)


def meeting_polls_data(session: Session, townhall: TownHall) -> list[dict[str, Any]]:
    """The public data of the polls the room is shown: the shared part of the join snapshot."""
    now = utcnow()
    return [public_poll_data(session, poll, now) for poll in townhall_polls(session, townhall)
            if in_meeting(poll, townhall, now)]


def own_receipts(session: Session, actor: User | None, poll_ids: Iterable[int]) -> dict[int, str]:
    """The actor's receipt codes in these polls, by poll id (the per-reader part)."""
    wanted = sorted(set(poll_ids))
    if actor is None or not getattr(actor, "is_authenticated", False) or not wanted:
        return {}
    return {poll_id: format_receipt(receipt) for poll_id, receipt in session.execute(
        select(Ballot.poll_id, Ballot.receipt)
        .where(Ballot.voter_id == actor.id, Ballot.poll_id.in_(wanted)))}


def meeting_polls_view(session: Session, townhall: TownHall) -> list[dict[str, Any]]:
    """The join snapshot's `polls` as a reader without a ballot sees them (`receipt` None):
    the same for every joiner, so one copy is shared by the room."""
    return [{**poll, "receipt": None} for poll in meeting_polls_data(session, townhall)]


def with_receipts(session: Session, actor: User | None,
                  polls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The shared polls with the reader's own receipts put in copies (none to look up for a
    visitor; the shared list itself when the reader has none)."""
    receipts = own_receipts(session, actor, [poll["id"] for poll in polls])
    if not receipts:
        return polls
    return [{**poll, "receipt": receipts.get(poll["id"])} for poll in polls]


def snapshot_polls(session: Session, actor: User | None,
                   townhall: TownHall) -> list[dict[str, Any]]:
    """The join snapshot's `polls`: each shown poll's public data and the reader's own
    `receipt` (None when they have not voted)."""
    return with_receipts(session, actor, meeting_polls_view(session, townhall))


@dataclass
class PollCard:
    """A town hall poll as its pages draw it, for one reader."""

    poll: Poll
    status: str
    in_meeting: bool
    results: counting.Results | None
    notice: str
    labels: dict[int, str]
    receipt: str | None
    # The reader's ballot as the vote form shows it: rank or "checked", by option id.
    typed: dict[str, str]
    ballot_count: int
    # What a receipt proves and reveals in this poll (English; the template translates it).
    secrecy_meaning: str
    # Why this reader may not vote in it (who may vote), or None.
    refusal: NotEligible | None = None


def poll_cards(session: Session, actor: User | None, townhall: TownHall) -> list[PollCard]:
    """Every poll of the town hall as the live page, the console and the projector draw it."""
    now = utcnow()
    polls = townhall_polls(session, townhall)
    ballots = ({ballot.poll_id: ballot for ballot in session.scalars(
        select(Ballot).where(Ballot.voter_id == actor.id,
                             Ballot.poll_id.in_([poll.id for poll in polls])))}
               if polls and actor is not None and getattr(actor, "is_authenticated", False)
               else {})
    counts = dict(session.execute(
        select(Ballot.poll_id, func.count()).where(Ballot.poll_id.in_([p.id for p in polls]))
        .group_by(Ballot.poll_id)).all()) if polls else {}
    cards = []
    for poll in polls:
        ballot = ballots.get(poll.id)
        typed: dict[str, str] = {}
        if ballot is not None:
            typed = ({str(choice): str(rank) for rank, choice in enumerate(ballot.choices, 1)}
                     if poll.kind is PollKind.RANKED
                     else {str(choice): "checked" for choice in ballot.choices})
        visible = results_visible(poll, now)
        cards.append(PollCard(
            poll=poll, status=poll.status(now), in_meeting=in_meeting(poll, townhall, now),
            results=count_poll(session, poll) if visible else None,
            notice="" if visible else results_notice(poll, now),
            labels={option.id: option.label for option in poll.options},
            receipt=format_receipt(ballot.receipt) if ballot else None, typed=typed,
            ballot_count=counts.get(poll.id, 0),
            secrecy_meaning=RECEIPT_MEANINGS[poll.ballot_secrecy],
            refusal=eligibility_refusal(session, actor, poll, now)
            if poll.is_open(now) else None))
    return cards


def control_townhall_poll(session: Session, actor: User | None, poll_id: Any, action: Any, *,
                          townhall_id: Any = None) -> Poll:
    """Open, close or release the results of a town hall's poll from its console (the socket's
    `poll_control` and the console's plain forms). Officials may do all three; moderators open
    and close while the town hall is live. `townhall_id`, when given, must be the poll's."""
    if actor is None:
        raise Unauthorized(_("Please sign in to run a poll."))
    poll = get_poll(session, actor, poll_id)
    if poll.townhall_id is None or poll.townhall is None:
        raise InvalidInput(_("This poll is not held in a town hall."), field="poll_id")
    if townhall_id is not None and townhall_id != poll.townhall_id:
        raise InvalidInput(_("This poll is held in another town hall."), field="poll_id")
    if action not in POLL_ACTIONS:
        raise InvalidInput(_("Unknown action: use open, close or release."), field="action")
    if poll.townhall.status is TownHallStatus.ENDED:
        raise Closed(_("This town hall has ended; its polls can no longer be run from it."))
    {"open": open_poll, "close": close_poll, "release": release_results}[action](
        session, actor, poll)
    return poll


def _reader_part(session: Session, actor: User | None, townhall: TownHall, shared: Any) -> Any:
    return with_receipts(session, actor, shared)


def _page_part(session: Session, actor: User | None, townhall: TownHall) -> Any:
    return poll_cards(session, actor, townhall)


register_townhall_part("polls", shared=meeting_polls_view, reader=_reader_part, page=_page_part)
