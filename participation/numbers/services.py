"""The numbers: one definition of each public figure, per month and for a period.

Every figure is an aggregate statement (GROUP BY month, COUNT DISTINCT); medians take the middle
row(s) of an ordered window per month, so the number of statements never depends on the data.
The town hall's ledger reads the same question figures (`townhall.services.question_figures`),
and the commitments the same states as the commitments page
(`decisions.services.commitment_counts`).

Departments: a decision record names its department, an official forum response names the
department it speaks for. A town hall (and the questions in it) belongs to a department when a
record of that department cites it or an item held in it; a poll, when a record of that department
cites it or its town hall; a thread, when a record of that department cites it or that department
gave an official response in it. New accounts belong to no department.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, case, distinct, exists, func, literal, or_, select, union, union_all
from sqlalchemy.orm import Session, aliased

from participation.accounts.models import User
from participation.db import month_of, seconds_between, utcnow
from participation.decisions.models import DecisionLink, DecisionRecord
from participation.decisions.services import commitment_counts_by
from participation.errors import InvalidInput
from participation.forums.models import Post, Thread
from participation.polls.models import Ballot, Poll
from participation.townhall.models import Question, TownHall, Upvote
from participation.townhall.services import QuestionFigures, medians, question_figures

MAX_MONTHS = 120  # ten years
DEFAULT_MONTHS = 12


@dataclass(frozen=True)
class Period:
    since: datetime  # first day of the first month, included
    until: datetime  # first day of the month after the last, excluded
    months: tuple[str, ...]  # "YYYY-MM", in order
    department: str | None = None

    @property
    def since_month(self) -> str:
        return self.months[0]

    @property
    def until_month(self) -> str:
        return self.months[-1]


def _month_start(text: str, field: str) -> date:
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2 or not (year + month).isdigit() \
                or not "1000" <= year <= "9998":
            raise ValueError
        return date(int(year), int(month), 1)
    except ValueError:
        raise InvalidInput(_("Give months as YYYY-MM, for example 2026-03."),
                           field=field) from None


def _next(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def parse_period(session: Session, since: str | None, until: str | None,
                 department: str | None = None, *, now: datetime | None = None) -> Period:
    """The period from the month `since` to the month `until` (both included, YYYY-MM), by
    default the last twelve months; an unknown department, a reversed, unparsable or overlong
    period is refused."""
    now = now or utcnow()
    last = (_month_start(until.strip(), "until") if until and until.strip()
            else date(now.year, now.month, 1))
    if since and since.strip():
        first = _month_start(since.strip(), "since")
    else:
        first = last
        for _i in range(DEFAULT_MONTHS - 1):
            first = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    if first > last:
        raise InvalidInput(_("The period must end after it starts."), field="until")
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    if count > MAX_MONTHS:
        raise InvalidInput(_("The period may cover at most %(years)d years.",
                             years=MAX_MONTHS // 12), field="since")
    months = []
    day = first
    while day <= last:
        months.append(f"{day.year:04d}-{day.month:02d}")
        day = _next(day)
    department = (department or "").strip() or None
    if department is not None and department not in departments(session):
        raise InvalidInput(_("There is no department called “%(name)s”.", name=department[:120]),
                           field="department")
    return Period(since=datetime(first.year, first.month, 1, tzinfo=UTC),
                  until=datetime(day.year, day.month, 1, tzinfo=UTC), months=tuple(months),
                  department=department)


def departments(session: Session) -> list[str]:
    """Every department named by a decision record or an official response, sorted."""
    names = union(select(DecisionRecord.department.label("name")),
                  select(Post.official_department.label("name"))
                  .where(Post.official_department.is_not(None))).subquery()
    return sorted(name for name in session.scalars(select(names.c.name)) if name)


def _in_period(column: Any, period: Period | None) -> list[Any]:
    if period is None:
        return []
    return [column >= period.since, column < period.until]


# Who belongs to a department


def _record_of(department: str) -> Any:
    return and_(DecisionRecord.id == DecisionLink.record_id,
                DecisionRecord.department == department)


def townhall_in(department: str, townhall_id: Any) -> Any:
    return exists().where(DecisionLink.townhall_id == townhall_id, _record_of(department))


def poll_in(department: str) -> Any:
    return or_(exists().where(DecisionLink.kind == "poll", DecisionLink.target_id == Poll.id,
                              _record_of(department)),
               and_(Poll.townhall_id.is_not(None), townhall_in(department, Poll.townhall_id)))


def thread_in(department: str) -> Any:
    answer = aliased(Post)
    return or_(exists().where(DecisionLink.kind == "thread", DecisionLink.target_id == Thread.id,
                              _record_of(department)),
               exists().where(answer.thread_id == Thread.id,
                              answer.official_department == department,
                              answer.deleted_at.is_(None), answer.hidden_at.is_(None)))


# What is public


def public_questions(period: Period | None = None) -> list[Any]:
    """Questions counted in public figures: those in public town halls."""
    where = [exists().where(TownHall.id == Question.townhall_id, TownHall.is_public.is_(True)),
             *_in_period(Question.created_at, period)]
    if period is not None and period.department:
        where.append(townhall_in(period.department, Question.townhall_id))
    return where


def shown_thread() -> Any:
    """A thread is counted unless its opening post is hidden by moderation."""
    opening = aliased(Post)
    return ~exists().where(opening.thread_id == Thread.id, opening.is_opening.is_(True),
                           opening.hidden_at.is_not(None))


def counted_response() -> list[Any]:
    return [Post.official_department.is_not(None), Post.deleted_at.is_(None),
            Post.hidden_at.is_(None)]


def public_threads(period: Period | None = None) -> list[Any]:
    where = [shown_thread(), *_in_period(Thread.created_at, period)]
    if period is not None and period.department:
        where.append(thread_in(period.department))
    return where


def public_polls(now: datetime, period: Period | None = None) -> list[Any]:
    """Polls that have opened, held in a public town hall or in a forum topic."""
    where = [Poll.opens_at.is_not(None), Poll.opens_at <= now,
             or_(exists().where(TownHall.id == Poll.townhall_id, TownHall.is_public.is_(True)),
                 and_(Poll.townhall_id.is_(None), Poll.topic_id.is_not(None)))]
    if period is not None and period.department:
        where.append(poll_in(period.department))
    return where


# Figures


@dataclass
class Figures:
    """One month's (or the whole period's) figures."""

    participants: int = 0
    forum_participants: int = 0
    townhall_participants: int = 0
    poll_participants: int = 0
    new_accounts: int | None = 0
    questions: QuestionFigures = field(default_factory=QuestionFigures)
    threads: int = 0
    threads_answered: int = 0
    median_seconds_to_response: float | None = None
    polls: int = 0
    ballots: int = 0
    roll_ballots: int = 0
    electorate: int = 0
    decisions: int = 0
    commitments: dict[str, int] = field(default_factory=dict)

    @property
    def share_answered_live(self) -> float | None:
        asked = self.questions.asked
        return self.questions.answered_live / asked if asked else None

    @property
    def share_threads_answered(self) -> float | None:
        return self.threads_answered / self.threads if self.threads else None

    @property
    def turnout(self) -> float | None:
        return self.roll_ballots / self.electorate if self.electorate else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "participants": {"all": self.participants, "forums": self.forum_participants,
                             "townhalls": self.townhall_participants,
                             "polls": self.poll_participants},
            "new_accounts": self.new_accounts,
            "questions": {"asked": self.questions.asked,
                          "answered_live": self.questions.answered_live,
                          "answered_in_writing": self.questions.answered_in_writing,
                          "share_answered_live": _share(self.share_answered_live),
                          "median_seconds_to_answer": _whole(
                              self.questions.median_seconds_to_answer)},
            "threads": {"started": self.threads, "with_official_response": self.threads_answered,
                        "share_with_official_response": _share(self.share_threads_answered),
                        "median_seconds_to_official_response": _whole(
                            self.median_seconds_to_response)},
            "polls": {"opened": self.polls, "ballots": self.ballots,
                      "roll_ballots": self.roll_ballots, "electorate": self.electorate,
                      "turnout": _share(self.turnout)},
            "decisions": {"published": self.decisions},
            "commitments": dict(self.commitments),
        }


def _share(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


def _whole(value: float | None) -> int | None:
    return round(value) if value is not None else None


@dataclass
class Numbers:
    period: Period
    months: dict[str, Figures]
    total: Figures

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.period.since_month, "until": self.period.until_month,
                "department": self.period.department, "total": self.total.as_dict(),
                "months": [{"month": month, **figures.as_dict()}
                           for month, figures in self.months.items()]}


ALL = "all"


def _participants(session: Session, period: Period, now: datetime) -> dict[str, dict[str, int]]:
    """Distinct people per pillar and overall, per month and for the whole period (as
    "all"): one statement."""
    month = month_of
    posts = (select(Post.author_id.label("user_id"), month(session, Post.created_at).label("m"),
                    literal("forums").label("pillar"))
             .join(Thread, Thread.id == Post.thread_id)
             .where(Post.author_id.is_not(None), Post.deleted_at.is_(None),
                    Post.hidden_at.is_(None), *_in_period(Post.created_at, period),
                    shown_thread(),
                    *([thread_in(period.department)] if period.department else [])))
    questions = (select(Question.author_id.label("user_id"),
                        month(session, Question.created_at).label("m"),
                        literal("townhalls").label("pillar"))
                 .where(Question.author_id.is_not(None), *public_questions(period)))
    upvotes = (select(Upvote.user_id.label("user_id"), month(session, Upvote.created_at).label("m"),
                      literal("townhalls").label("pillar"))
               .join(Question, Question.id == Upvote.question_id)
               .where(*public_questions(None), *_in_period(Upvote.created_at, period),
                      *([townhall_in(period.department, Question.townhall_id)]
                        if period.department else [])))
    ballots = (select(Ballot.voter_id.label("user_id"), month(session, Ballot.cast_at).label("m"),
                      literal("polls").label("pillar"))
               .join(Poll, Poll.id == Ballot.poll_id)
               .where(Ballot.voter_id.is_not(None), *_in_period(Ballot.cast_at, period),
                      *public_polls(now, period)))
    # Who did something in which month and pillar, worked out once (MATERIALIZED: SQLite and
    # PostgreSQL would otherwise run the union again for each count below), then the four
    # counts in one statement.
    acts = union(posts, questions, upvotes, ballots).cte("acts").prefix_with("MATERIALIZED")
    people = func.count(distinct(acts.c.user_id))
    counts = union_all(
        select(acts.c.m, acts.c.pillar, people).group_by(acts.c.m, acts.c.pillar),
        select(acts.c.m, literal(ALL), people).group_by(acts.c.m),
        select(literal(ALL), acts.c.pillar, people).group_by(acts.c.pillar),
        select(literal(ALL), literal(ALL), people))
    result: dict[str, dict[str, int]] = {}
    for m, pillar, count in session.execute(counts):
        result.setdefault(m, {})[pillar] = int(count)
    return result


def numbers(session: Session, period: Period, *, now: datetime | None = None) -> Numbers:
    """Every figure for each month of `period` and for the whole of it."""
    now = now or utcnow()
    months = {m: Figures() for m in period.months}
    total = Figures()

    def each(key: Any) -> Figures | None:
        return total if key == ALL else months.get(key)

    for key, counts in _participants(session, period, now).items():
        target = each(key)
        if target is not None:
            target.participants = counts.get(ALL, 0)
            target.forum_participants = counts.get("forums", 0)
            target.townhall_participants = counts.get("townhalls", 0)
            target.poll_participants = counts.get("polls", 0)

    # New accounts
    if period.department:
        for figures in (*months.values(), total):
            figures.new_accounts = None
    else:
        joined = month_of(session, User.created_at)
        for m, count in session.execute(select(joined, func.count(User.id))
                                        .where(*_in_period(User.created_at, period))
                                        .group_by(joined)):
            if m in months:
                months[m].new_accounts = int(count)
        total.new_accounts = sum(f.new_accounts or 0 for f in months.values())

    # Questions
    where = public_questions(period)
    for key, group in ((None, month_of(session, Question.created_at)), (ALL, literal(ALL))):
        for g, found in question_figures(session, where, group).items():
            target = each(ALL if key == ALL else g)
            if target is not None:
                target.questions = found

    # Threads and official responses
    first = (select(Post.thread_id, func.min(Post.created_at).label("answered_at"))
             .where(*counted_response()).group_by(Post.thread_id).subquery())
    where = public_threads(period)
    for key, group in ((None, month_of(session, Thread.created_at)), (ALL, literal(ALL))):
        for g, started, answered in session.execute(
                select(group, func.count(Thread.id), func.count(first.c.thread_id))
                .select_from(Thread).outerjoin(first, first.c.thread_id == Thread.id)
                .where(*where).group_by(group)):
            target = each(ALL if key == ALL else g)
            if target is not None:
                target.threads, target.threads_answered = int(started), int(answered)
        for g, median in medians(session, seconds_between(session, Thread.created_at,
                                                          first.c.answered_at), group, where,
                                 ((first, first.c.thread_id == Thread.id),)).items():
            target = each(ALL if key == ALL else g)
            if target is not None:
                target.median_seconds_to_response = median

    # Polls: opened in the month; ballots cast in it; turnout on the roll's polls
    where = [*public_polls(now, period), *_in_period(Poll.opens_at, period)]
    per_poll = (select(Ballot.poll_id, func.count(Ballot.id).label("n"))
                .group_by(Ballot.poll_id).subquery())
    for key, group in ((None, month_of(session, Poll.opens_at)), (ALL, literal(ALL))):
        for g, opened, roll_ballots, electorate in session.execute(
                select(group, func.count(Poll.id),
                       func.sum(case((Poll.electorate.is_not(None),
                                      func.coalesce(per_poll.c.n, 0)), else_=0)),
                       func.sum(func.coalesce(Poll.electorate, 0)))
                .select_from(Poll).outerjoin(per_poll, per_poll.c.poll_id == Poll.id)
                .where(*where).group_by(group)):
            target = each(ALL if key == ALL else g)
            if target is not None:
                target.polls = int(opened)
                target.roll_ballots = int(roll_ballots or 0)
                target.electorate = int(electorate or 0)
    cast = month_of(session, Ballot.cast_at)
    for m, count in session.execute(
            select(cast, func.count(Ballot.id)).join(Poll, Poll.id == Ballot.poll_id)
            .where(*public_polls(now, period), *_in_period(Ballot.cast_at, period))
            .group_by(cast)):
        if m in months:
            months[m].ballots = int(count)
    total.ballots = sum(f.ballots for f in months.values())

    # Decisions published
    published = month_of(session, DecisionRecord.published_at)
    where = _in_period(DecisionRecord.published_at, period)
    if period.department:
        where.append(DecisionRecord.department == period.department)
    for m, count in session.execute(select(published, func.count(DecisionRecord.id))
                                    .where(*where).group_by(published)):
        if m in months:
            months[m].decisions = int(count)
    total.decisions = sum(f.decisions for f in months.values())

    _commitments(session, period, now, months, total)
    return Numbers(period=period, months=months, total=total)


COMMITMENT_FIELDS = ("made", "done_on_time", "done_late", "overdue", "dropped")


def _commitments(session: Session, period: Period, now: datetime, months: dict[str, Figures],
                 total: Figures) -> None:
    """How the commitments of the records published in each month (and in the period) stand
    today: `commitment_counts`, the commitments page's definition; two statements."""
    last_day = period.until.date() - timedelta(days=1)

    def read(group: Any) -> dict[Any, dict[str, int]]:
        found = commitment_counts_by(session, group, since=period.since.date(), until=last_day,
                                     as_of=now.date(), department=period.department)
        return {g: {name: int(getattr(counts, name)) for name in COMMITMENT_FIELDS}
                for g, counts in found.items()}

    empty = dict.fromkeys(COMMITMENT_FIELDS, 0)
    by_month = read(lambda published: month_of(session, published))
    for m, figures in months.items():
        figures.commitments = by_month.get(m, dict(empty))
    total.commitments = read(lambda published: literal(ALL)).get(ALL, dict(empty))
