"""Concurrent casts: the unique constraint and the write transaction hold under pressure."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select

from participation.accounts.models import User
from participation.db import utcnow
from participation.errors import Closed, DomainError
from participation.extensions import db
from participation.polls import services
from participation.polls.models import Ballot, Poll


def _cast_in_own_session(app, user_id, poll_id, choices, client_id=None):
    """One resident's cast as a request would make it: own app context, own session, one commit."""
    with app.app_context():
        try:
            user = db.session.get(User, user_id)
            services.cast_ballot(db.session, user, poll_id, choices, client_id=client_id)
            db.session.commit()
            return "ok"
        except DomainError as error:
            db.session.rollback()
            return error.code
        finally:
            db.session.remove()


def test_fifty_simultaneous_casts_for_one_resident_leave_exactly_one_ballot(
        app, make_poll, voters):
    poll = make_poll("single")
    resident_id, poll_id = voters(1)[0].id, poll.id
    option_ids = [o.id for o in poll.options]
    db.session.commit()  # SQLite: the test's own open transaction would hold the write lock
    start = threading.Barrier(50)

    def cast(n):
        start.wait()
        return _cast_in_own_session(app, resident_id, poll_id, [option_ids[n % 3]])

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(cast, range(50)))
    assert outcomes == ["ok"] * 50
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Ballot)
                             .where(Ballot.poll_id == poll.id)) == 1
    assert services.poll_results(db.session, None, poll)["ballots"] == 1
    assert sum(o["votes"] for o in services.poll_results(db.session, None, poll)["options"]) == 1


def test_two_hundred_residents_voting_at_once_are_all_counted(app, make_poll, voters):
    poll = make_poll("ranked")
    people = [user.id for user in voters(200)]
    option_ids = [o.id for o in poll.options]
    poll_id = poll.id
    db.session.commit()

    def cast(n):
        return _cast_in_own_session(app, people[n], poll_id,
                                    [option_ids[n % 3], option_ids[(n + 1) % 3]])

    with ThreadPoolExecutor(max_workers=40) as pool:
        outcomes = list(pool.map(cast, range(200)))
    assert outcomes == ["ok"] * 200
    db.session.expire_all()
    ballots = db.session.scalar(select(func.count()).select_from(Ballot)
                                .where(Ballot.poll_id == poll.id))
    results = services.poll_results(db.session, None, poll)
    assert ballots == results["ballots"] == 200
    assert sum(o["first_preferences"] for o in results["options"]) == 200


def test_votes_racing_the_close_are_counted_only_before_it(app, make_poll, voters, official):
    poll = make_poll("single")
    people = [user.id for user in voters(60)]
    option_id = poll.options[0].id
    official_id, poll_id = official.id, poll.id
    db.session.commit()
    start = threading.Barrier(61)

    def cast(n):
        start.wait()
        return _cast_in_own_session(app, people[n], poll_id, [option_id])

    def close_now():
        start.wait()
        with app.app_context():
            closing = db.session.get(Poll, poll_id)
            services.close_poll(db.session, db.session.get(User, official_id), closing)
            db.session.commit()
            db.session.remove()

    with ThreadPoolExecutor(max_workers=61) as pool:
        closer = pool.submit(close_now)
        outcomes = list(pool.map(cast, range(60)))
        closer.result()
    db.session.expire_all()
    closed_at = db.session.get(Poll, poll_id).closes_at
    stored = db.session.scalars(select(Ballot).where(Ballot.poll_id == poll_id)).all()
    assert set(outcomes) <= {"ok", Closed.code}
    assert len(stored) == outcomes.count("ok")
    assert all(ballot.cast_at < closed_at for ballot in stored)
    assert services.poll_results(db.session, None, poll)["ballots"] == len(stored)


def test_a_poll_that_closes_by_the_clock_refuses_the_next_vote(app, make_poll, voters):
    poll = make_poll("single")
    poll.closes_at = utcnow() + timedelta(milliseconds=300)
    db.session.commit()
    people = [user.id for user in voters(2)]
    poll_id, option_id = poll.id, poll.options[0].id
    db.session.commit()
    assert _cast_in_own_session(app, people[0], poll_id, [option_id]) == "ok"
    threading.Event().wait(0.35)
    assert _cast_in_own_session(app, people[1], poll_id, [option_id]) == "closed"
