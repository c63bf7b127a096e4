"""Every figure of the numbers page equals a count made here from the rows, in plain Python, on
the demo and on generated data (on SQLite and on PostgreSQL); and the ledger, the records and
the commitments page agree with it for the same items."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from participation.accounts.models import User
from participation.decisions import services as decisions
from participation.decisions.models import Commitment, DecisionLink, DecisionRecord
from participation.demo import seed_demo
from participation.extensions import db
from participation.forums.models import Post, Thread
from participation.numbers import services
from participation.polls.models import Ballot, Poll
from participation.townhall import services as townhalls
from participation.townhall.models import Question, QuestionStatus, TownHall, Upvote

NOW = datetime.now(UTC)


def month(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def expected_figures(session: Any, period: services.Period) -> dict[str, dict[str, Any]]:
    """The figures of each month and of the period ("all"), counted row by row."""
    keys = [*period.months, "all"]
    inside = {m: (lambda t, m=m: month(t) == m) for m in period.months}
    inside["all"] = lambda t: period.since <= t < period.until
    public_townhalls = {t.id for t in session.scalars(select(TownHall)) if t.is_public}
    questions = [q for q in session.scalars(select(Question)) if q.townhall_id in public_townhalls]
    question_of = {q.id: q for q in questions}
    threads = list(session.scalars(select(Thread)))
    posts = list(session.scalars(select(Post)))
    hidden_threads = {p.thread_id for p in posts if p.is_opening and p.hidden_at is not None}
    shown = [t for t in threads if t.id not in hidden_threads]
    first_response: dict[int, datetime] = {}
    for post in posts:
        if post.official_department and post.deleted_at is None and post.hidden_at is None:
            known = first_response.get(post.thread_id)
            first_response[post.thread_id] = (min(known, post.created_at) if known
                                              else post.created_at)
    polls = [p for p in session.scalars(select(Poll))
             if p.opens_at is not None and p.opens_at <= NOW
             and (p.townhall_id in public_townhalls or (p.townhall_id is None and p.topic_id))]
    public_polls = {p.id for p in polls}
    ballots = list(session.scalars(select(Ballot)))
    ballots_per_poll: dict[int, int] = defaultdict(int)
    for ballot in ballots:
        ballots_per_poll[ballot.poll_id] += 1
    result = {}
    for key in keys:
        within = inside[key]
        people: dict[str, set[int]] = {"forums": set(), "townhalls": set(), "polls": set()}
        for post in posts:
            if (post.author_id and post.deleted_at is None and post.hidden_at is None
                    and post.thread_id not in hidden_threads and within(post.created_at)):
                people["forums"].add(post.author_id)
        for q in questions:
            if q.author_id and within(q.created_at):
                people["townhalls"].add(q.author_id)
        for upvote in session.scalars(select(Upvote)):
            if upvote.question_id in question_of and within(upvote.created_at):
                people["townhalls"].add(upvote.user_id)
        for ballot in ballots:
            if ballot.voter_id and ballot.poll_id in public_polls and within(ballot.cast_at):
                people["polls"].add(ballot.voter_id)
        asked = [q for q in questions if within(q.created_at)]
        answered = [q for q in asked if q.status is QuestionStatus.ANSWERED]
        waits = [(q.answered_at - q.created_at).total_seconds() for q in answered if q.answered_at]
        started = [t for t in shown if within(t.created_at)]
        responded = [t for t in started if t.id in first_response]
        response_waits = [(first_response[t.id] - t.created_at).total_seconds() for t in responded]
        opened = [p for p in polls if within(p.opens_at)]
        on_roll = [p for p in opened if p.electorate is not None]
        result[key] = {
            "participants": {"all": len(set().union(*people.values())),
                             **{name: len(found) for name, found in people.items()}},
            "new_accounts": sum(1 for u in session.scalars(select(User)) if within(u.created_at)),
            "asked": len(asked),
            "answered_live": sum(1 for q in answered if q.answer_mode == "live"),
            "answered_in_writing": sum(1 for q in answered if q.answer_mode != "live"),
            "median_answer": statistics.median(waits) if waits else None,
            "threads": len(started), "threads_answered": len(responded),
            "median_response": statistics.median(response_waits) if response_waits else None,
            "polls": len(opened),
            "ballots": sum(1 for b in ballots if b.poll_id in public_polls and within(b.cast_at)),
            "roll_ballots": sum(ballots_per_poll[p.id] for p in on_roll),
            "electorate": sum(p.electorate or 0 for p in on_roll),
            "decisions": sum(1 for r in session.scalars(select(DecisionRecord))
                             if within(r.published_at)),
            "commitments": expected_commitments(session, within),
        }
    return result


def expected_commitments(session: Any, within: Any) -> dict[str, int]:
    """Each commitment's state by `commitment_state`, the commitments page's own definition."""
    counts = dict.fromkeys(services.COMMITMENT_FIELDS, 0)
    for commitment in session.scalars(select(Commitment)):
        if within(commitment.record.published_at):
            counts["made"] += 1
            state = decisions.commitment_state(commitment, NOW.date())
            if state in counts:
                counts[state] += 1
    return counts


def actual(figures: services.Figures) -> dict[str, Any]:
    return {
        "participants": {"all": figures.participants, "forums": figures.forum_participants,
                         "townhalls": figures.townhall_participants,
                         "polls": figures.poll_participants},
        "new_accounts": figures.new_accounts, "asked": figures.questions.asked,
        "answered_live": figures.questions.answered_live,
        "answered_in_writing": figures.questions.answered_in_writing,
        "median_answer": figures.questions.median_seconds_to_answer,
        "threads": figures.threads, "threads_answered": figures.threads_answered,
        "median_response": figures.median_seconds_to_response, "polls": figures.polls,
        "ballots": figures.ballots, "roll_ballots": figures.roll_ballots,
        "electorate": figures.electorate, "decisions": figures.decisions,
        "commitments": figures.commitments,
    }


def assert_figures_match_the_rows(session: Any, period: services.Period) -> services.Numbers:
    found = services.numbers(session, period, now=NOW)
    expected = expected_figures(session, period)
    for key, figures in [*found.months.items(), ("all", found.total)]:
        got, want = actual(figures), expected[key]
        for name in ("median_answer", "median_response"):
            # SQLite's julianday keeps milliseconds; PostgreSQL's epoch, microseconds.
            if want[name] is None:
                assert got[name] is None, (key, name)
            else:
                assert got[name] == pytest.approx(want[name], abs=0.01), (key, name)
            del got[name], want[name]
        assert got == want, key
    return found


def whole_history(session: Any) -> services.Period:
    first = min(u.created_at for u in session.scalars(select(User)))
    return services.parse_period(session, month(first - timedelta(days=40)), month(NOW))


def generate(session: Any, seed: int) -> None:
    """Residents, questions, upvotes, replies, official responses and ballots scattered over
    the last fourteen months, on top of the demo's town halls, threads and polls."""
    rng = random.Random(seed)

    def moment() -> datetime:
        return NOW - timedelta(days=rng.uniform(0, 420), seconds=rng.uniform(0, 86_400))

    people = []
    for n in range(30):
        person = User(email=f"generated{n}@example.test", display_name=f"Generated {n}",
                      password_hash=None, created_at=moment())
        session.add(person)
        people.append(person)
    session.flush()
    townhall_ids = list(session.scalars(select(TownHall.id)))
    for n in range(120):
        asked = moment()
        status = rng.choice(list(QuestionStatus))
        question = Question(townhall_id=rng.choice(townhall_ids), text=f"Question {n}",
                            author_id=rng.choice([None, *(p.id for p in people)]),
                            status=status, created_at=asked)
        if status is QuestionStatus.ANSWERED:
            question.answer_mode = rng.choice(["live", "written", None])
            question.answered_at = rng.choice(
                [None, asked + timedelta(minutes=rng.uniform(1, 5000))])
        session.add(question)
    session.flush()
    question_ids = list(session.scalars(select(Question.id)))
    upvoted = {tuple(row) for row in session.execute(select(Upvote.question_id, Upvote.user_id))}
    for n in range(200):
        pair = (rng.choice(question_ids), people[n % 30].id)
        if pair not in upvoted:
            upvoted.add(pair)
            session.add(Upvote(question_id=pair[0], user_id=pair[1], created_at=moment()))
    threads = list(session.scalars(select(Thread)))
    for _n in range(80):
        thread = rng.choice(threads)
        kind = rng.random()
        session.add(Post(thread_id=thread.id, author_id=rng.choice(people).id, body="Reply",
                         body_html="<p>Reply</p>", created_at=thread.created_at + timedelta(
                             hours=rng.uniform(1, 3000)),
                         deleted_at=NOW if kind < 0.1 else None,
                         hidden_at=NOW if 0.1 <= kind < 0.2 else None,
                         official_department=rng.choice([None, None, "Transport", "Parks"])))
    polls = list(session.scalars(select(Poll)))
    voted: set[tuple[int, int]] = set()
    for n in range(150):
        poll, person = rng.choice(polls), rng.choice(people)
        if (poll.id, person.id) in voted:
            continue
        voted.add((poll.id, person.id))
        session.add(Ballot(poll_id=poll.id, voter_id=person.id, choices=[], receipt=f"gen{n:028d}",
                           cast_at=moment()))
    for poll in polls[:2]:
        poll.electorate = rng.randint(50, 500)
    session.commit()


def test_on_the_demo_every_figure_equals_a_count_of_the_rows(app):
    seed_demo(db.session, password="demo password 123")
    db.session.commit()
    found = assert_figures_match_the_rows(db.session, whole_history(db.session))
    assert found.total.questions.asked and found.total.threads and found.total.ballots


@pytest.mark.parametrize("seed", [1, 2])
def test_on_generated_data_every_figure_equals_a_count_of_the_rows(app, seed):
    seed_demo(db.session, password="demo password 123")
    db.session.commit()
    generate(db.session, seed)
    found = assert_figures_match_the_rows(db.session, whole_history(db.session))
    busy = [m for m, figures in found.months.items() if figures.questions.asked]
    assert len(busy) >= 10, "the generated questions spread over the months"
    for department in services.departments(db.session):
        period = whole_history(db.session)
        by_department = services.numbers(db.session, services.parse_period(
            db.session, period.since_month, period.until_month, department), now=NOW)
        # A department's figures are a part of everyone's.
        assert by_department.total.questions.asked <= found.total.questions.asked
        assert by_department.total.threads <= found.total.threads
        assert by_department.total.new_accounts is None


def test_the_ledger_and_the_numbers_count_the_same_questions(app):
    seed_demo(db.session, password="demo password 123")
    db.session.commit()
    generate(db.session, 3)
    total = services.numbers(db.session, whole_history(db.session), now=NOW).total.questions
    ledgers = [townhalls.ledger(db.session, townhall) for townhall
               in db.session.scalars(select(TownHall)) if townhall.is_public]
    for name in ("asked", "answered_live", "answered_in_writing"):
        assert getattr(total, name) == sum(ledger[name] for ledger in ledgers), name
    # One town hall's median, both ways.
    for townhall in db.session.scalars(select(TownHall)):
        figures = townhalls.townhall_question_figures(db.session, townhall.id)
        waits = townhalls.answer_waits(db.session, townhall)
        if waits:
            assert figures.median_seconds_to_answer == pytest.approx(statistics.median(waits),
                                                                     abs=0.01)
            assert townhalls.ledger(db.session, townhall)["median_seconds_to_answer"] == round(
                figures.median_seconds_to_answer)


def test_a_records_frozen_figures_equal_the_ledger_and_the_numbers_of_its_town_hall(app):
    seed_demo(db.session, password="demo password 123")
    db.session.commit()
    record = db.session.scalars(select(DecisionRecord).order_by(DecisionRecord.seq)).first()
    link = next(link for link in record.content["links"] if link["kind"] == "townhall")
    townhall = db.session.get(TownHall, db.session.scalar(
        select(DecisionLink.townhall_id).where(DecisionLink.record_id == record.id,
                                               DecisionLink.kind == "townhall")))
    frozen = link["snapshot"]["ledger"]
    today = townhalls.ledger(db.session, townhall)
    for name in ("asked", "answered_live", "answered_in_writing", "median_seconds_to_answer"):
        assert frozen[name] == today[name], name
    # The numbers of the department's records count that town hall's questions.
    period = whole_history(db.session)
    numbers = services.numbers(db.session, services.parse_period(
        db.session, period.since_month, period.until_month, record.department), now=NOW)
    cited = {townhall_id for townhall_id in db.session.scalars(
        select(DecisionLink.townhall_id).join(DecisionRecord)
        .where(DecisionRecord.department == record.department,
               DecisionLink.townhall_id.is_not(None)))}
    public = [db.session.get(TownHall, i) for i in cited if db.session.get(TownHall, i).is_public]
    assert numbers.total.questions.asked == sum(
        townhalls.ledger(db.session, t)["asked"] for t in public)


def test_the_commitment_figures_are_the_commitments_pages_states(app):
    seed_demo(db.session, password="demo password 123")
    db.session.commit()
    period = whole_history(db.session)
    numbers = services.numbers(db.session, period, now=NOW)
    counts = decisions.commitment_counts(db.session, since=None, until=None, as_of=NOW.date())
    assert numbers.total.commitments == {name: getattr(counts, name)
                                         for name in services.COMMITMENT_FIELDS}
    assert numbers.total.commitments["made"] == len(decisions.list_commitments(db.session))


@pytest.mark.parametrize(("since", "until", "department", "field"), [
    ("2026-02", "2026-01", None, "until"),  # reversed
    ("2026", None, None, "since"),  # unparsable
    ("26-01", None, None, "since"),
    ("2026-13", None, None, "since"),
    (None, "2026-1", None, "until"),
    ("1800-01", "2026-01", None, "since"),  # centuries long
    ("1999-01", "9999-12", None, "until"),  # past any year the period could reach
    (None, None, "No such department", "department"),
])
def test_a_bad_period_is_refused_on_its_field(app, since, until, department, field):
    with pytest.raises(services.InvalidInput) as refused:
        services.parse_period(db.session, since, until, department)
    assert refused.value.field == field


def test_the_default_period_is_the_last_twelve_months_and_an_empty_month_is_zero(app):
    period = services.parse_period(db.session, None, None, now=datetime(2026, 3, 15, tzinfo=UTC))
    assert period.months[0] == "2025-04" and period.months[-1] == "2026-03"
    assert period.since == datetime(2025, 4, 1, tzinfo=UTC)
    assert period.until == datetime(2026, 4, 1, tzinfo=UTC)
    numbers = services.numbers(db.session, period, now=NOW)
    assert numbers.total.participants == 0
    assert numbers.total.questions.median_seconds_to_answer is None
    assert all(figures.commitments == dict.fromkeys(services.COMMITMENT_FIELDS, 0)
               for figures in numbers.months.values())


def test_the_number_of_statements_does_not_grow_with_the_data(app):
    from sqlalchemy import event

    statements: list[str] = []

    def count(*args: Any) -> None:
        if not args[2].startswith("BEGIN"):  # SQLite's own, when a transaction starts
            statements.append(args[2])

    engine = db.engine
    seed_demo(db.session, password="demo password 123")
    db.session.commit()
    period = whole_history(db.session)
    event.listen(engine, "before_cursor_execute", count)
    try:
        services.numbers(db.session, period, now=NOW)
        before = len(statements)
        generate(db.session, 4)
        statements.clear()
        services.numbers(db.session, period, now=NOW)
        assert len(statements) == before
    finally:
        event.remove(engine, "before_cursor_execute", count)
