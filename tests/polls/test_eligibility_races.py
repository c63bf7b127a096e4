"""One roll entry, one ballot, under concurrent casts: the (poll, roll entry) unique constraint
holds however the attempts race, and each refused attempt gets a clear `conflict`, never a
database error."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from participation.accounts.models import User
from participation.errors import DomainError
from participation.extensions import db
from participation.polls import services
from participation.polls.models import Ballot, Channel
from participation.security.permissions import Role
from tests.concurrency import at_once
from tests.polls.test_eligibility import enrol, verify

ATTEMPTS = 50


@pytest.fixture
def one_account_rule_lifted(app, backend) -> Iterator[None]:
    """Lift, for this test only, the database's rule that one roll entry verifies one account,
    so that two accounts can stand on one entry at once (as a hand edit or a bug could leave
    them): the ballots' own constraint must still keep that entry to one ballot."""
    db.session.commit()
    if backend == "sqlite":
        with db.engine.begin() as conn:
            sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' "
                "AND name = 'roll_verifications'").scalar()
            lifted = re.sub(r",\s*CONSTRAINT uq_roll_verifications_entry_id UNIQUE \(entry_id\)",
                            "", sql)
            assert lifted != sql, sql
            conn.exec_driver_sql("ALTER TABLE roll_verifications RENAME TO rv_with_rule")
            conn.exec_driver_sql(lifted)
            conn.exec_driver_sql("INSERT INTO roll_verifications SELECT * FROM rv_with_rule")
            conn.exec_driver_sql("DROP TABLE rv_with_rule")
        yield  # the test's database file is its own: nothing to put back
        return
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE roll_verifications "
                             "DROP CONSTRAINT uq_roll_verifications_entry_id")
    yield
    db.session.rollback()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM roll_verifications")
        conn.exec_driver_sql("ALTER TABLE roll_verifications ADD CONSTRAINT "
                             "uq_roll_verifications_entry_id UNIQUE (entry_id)")


def _ballots(poll_id: int) -> list[Ballot]:
    db.session.expire_all()
    return list(db.session.scalars(select(Ballot).where(Ballot.poll_id == poll_id)))


def test_fifty_casts_through_two_accounts_on_one_roll_entry_leave_one_ballot(
        app, make_user, make_poll, one_account_rule_lifted):
    entry = enrol("Centro")
    first, second = make_user(Role.RESIDENT), make_user(Role.RESIDENT)
    verify(first, entry)
    verify(second, entry)
    poll = make_poll("single", eligibility="verified")
    accounts, poll_id = [first.id, second.id], poll.id
    options = [option.id for option in poll.options]
    entry_id = entry.id
    turn = itertools.count()
    db.session.commit()  # SQLite: the test's own open transaction would hold the write lock

    def cast() -> tuple[int, str]:
        n = next(turn)
        account = accounts[n % 2]
        try:
            services.cast_ballot(db.session, db.session.get(User, account), poll_id,
                                 [options[n % 3]])
            db.session.commit()
            return account, "ok"
        except DomainError as error:
            db.session.rollback()
            return account, error.code

    outcomes = at_once(app, cast, workers=ATTEMPTS)
    (ballot,) = _ballots(poll_id)
    assert ballot.roll_entry_id == entry_id
    by_account = {account: Counter(code for who, code in outcomes if who == account)
                  for account in accounts}
    # The account that cast first keeps changing its one ballot; the other is refused each time.
    loser = next(account for account in accounts if account != ballot.voter_id)
    assert by_account[ballot.voter_id] == Counter(ok=ATTEMPTS // 2)
    assert by_account[loser] == Counter(conflict=ATTEMPTS // 2)


def test_fifty_attempts_online_and_on_paper_for_one_person_leave_one_ballot(
        app, make_user, make_poll):
    entry = enrol("Centro")
    voter = make_user(Role.RESIDENT)
    verify(voter, entry)
    poll = make_poll("single", eligibility="verified")
    voter_id, poll_id, entry_id = voter.id, poll.id, entry.id
    options = [option.id for option in poll.options]
    turn = itertools.count()
    db.session.commit()

    def attempt() -> tuple[str, str]:
        n = next(turn)
        try:
            if n % 2:
                # A poll officer's entry as it reaches the database: no account, the roll entry.
                db.session.add(Ballot(poll_id=poll_id, voter_id=None, channel=Channel.PAPER,
                                      roll_entry_id=entry_id, receipt=services.new_receipt(),
                                      choices=[options[n % 3]]))
                db.session.commit()
                return "paper", "ok"
            services.cast_ballot(db.session, db.session.get(User, voter_id), poll_id,
                                 [options[n % 3]])
            db.session.commit()
            return "online", "ok"
        except IntegrityError:
            db.session.rollback()
            return "paper", "conflict"
        except DomainError as error:
            db.session.rollback()
            return "online", error.code

    outcomes = Counter(at_once(app, attempt, workers=ATTEMPTS))
    (ballot,) = _ballots(poll_id)
    assert ballot.roll_entry_id == entry_id
    half = ATTEMPTS // 2
    if ballot.channel is Channel.PAPER:
        assert ballot.voter_id is None
        assert outcomes == Counter({("paper", "ok"): 1, ("paper", "conflict"): half - 1,
                                    ("online", "conflict"): half})
    else:
        assert ballot.voter_id == voter_id
        assert outcomes == Counter({("online", "ok"): half, ("paper", "conflict"): half})
