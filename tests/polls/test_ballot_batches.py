"""Socket votes written in groups (participation.polls.ballot_batches): one transaction per
group, each vote answered on its own, refusals in the voter's language, and nothing lost when a
group fails."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from participation.accounts.services import new_session_token
from participation.errors import Closed, InvalidInput, NotFound, ServiceUnavailable
from participation.extensions import db
from participation.polls import services
from participation.polls.ballot_batches import BallotWriter, PendingVote
from participation.polls.models import Ballot
from participation.realtime.rooms import NAMESPACE
from participation.security.permissions import Role
from tests.polls.conftest import close


def ballots_of(poll_id: int) -> dict[int, list[int]]:
    db.session.rollback()
    found = {voter: choices for voter, choices in db.session.execute(
        select(Ballot.voter_id, Ballot.choices).where(Ballot.poll_id == poll_id))}
    db.session.rollback()
    return found


def pending(user, poll_id, choices, *, client_id=None, token=None):
    return PendingVote(user_id=user.id, token=token or user.session_token, poll_id=poll_id,
                       choices=choices, client_id=client_id)


def write_waiting(writer: BallotWriter) -> list[PendingVote]:
    """Write one group in this thread, as the writer's own loop would."""
    group = writer._take()
    writer._write(group)
    return group


def test_a_group_is_written_together_and_refuses_only_its_bad_votes(app, make_poll, voters):
    poll = make_poll("single")
    poll_id, options = poll.id, [o.id for o in poll.options]
    ana, ben, cy, dee = voters(4)
    signed_out = dee.session_token
    dee.session_token = new_session_token()
    db.session.commit()
    writer = BallotWriter(app)
    votes = [
        pending(ana, poll_id, [options[0]], client_id="ana-1"),
        pending(ben, poll_id, [options[1]]),
        pending(ana, poll_id, [options[2]], client_id="ana-2"),  # waits for the next group
        pending(cy, poll_id, [987654]),                           # not an option
        pending(dee, poll_id, [options[0]], token=signed_out),    # signed out since
        pending(cy, 987654, [options[0]]),                        # no such poll
    ]
    writer._pending.extend(votes)
    ana_id, ben_id = ana.id, ben.id
    db.session.rollback()

    first = write_waiting(writer)
    assert first == [votes[0], votes[1], votes[3], votes[4], votes[5]]
    assert list(writer._pending) == [votes[2]]
    assert isinstance(votes[0].outcome, services.CastOutcome)
    assert not votes[0].outcome.replaced and votes[0].outcome.push_tally
    assert isinstance(votes[1].outcome, services.CastOutcome)
    assert votes[0].outcome.receipt != votes[1].outcome.receipt
    assert isinstance(votes[3].outcome, InvalidInput)
    assert votes[4].outcome.code == "unauthorized"
    assert isinstance(votes[5].outcome, NotFound)
    assert all(vote.done.is_set() for vote in first)
    assert ballots_of(poll_id) == {ana_id: [options[0]], ben_id: [options[1]]}

    write_waiting(writer)
    assert votes[2].outcome.replaced and votes[2].outcome.receipt == votes[0].outcome.receipt
    assert ballots_of(poll_id) == {ana_id: [options[2]], ben_id: [options[1]]}
    assert writer.groups_written == 2


def test_a_retried_vote_in_a_later_group_is_applied_once(app, make_poll, voters):
    poll = make_poll("single")
    poll_id, options = poll.id, [o.id for o in poll.options]
    (ana,) = voters(1)
    writer = BallotWriter(app)
    writer._pending.extend([pending(ana, poll_id, [options[0]], client_id="tab-1"),
                            pending(ana, poll_id, [options[1]], client_id="tab-1")])
    ana_id = ana.id
    db.session.rollback()
    first, = write_waiting(writer)
    retry, = write_waiting(writer)
    assert retry.outcome.repeated and not retry.outcome.push_tally
    assert retry.outcome.receipt == first.outcome.receipt
    assert ballots_of(poll_id) == {ana_id: [options[0]]}


def test_a_refusal_is_written_in_the_language_of_whoever_reads_it(app, make_poll, voters):
    """The writer runs away from the voters' sockets: each handler writes the refusal out in
    its own socket's language when it answers."""
    poll = make_poll("single")
    poll_id, option = poll.id, poll.options[0].id
    close(poll)
    ana, ben = voters(2)
    writer = BallotWriter(app)
    writer._pending.extend([pending(ana, poll_id, [option]), pending(ben, poll_id, [option])])
    db.session.rollback()
    spanish, english = write_waiting(writer)
    assert isinstance(spanish.outcome, Closed) and isinstance(english.outcome, Closed)
    with force_locale("en"):
        assert english.outcome.message == "This poll has closed; no more votes are counted."
    with force_locale("es"):
        assert spanish.outcome.message == _("This poll has closed; no more votes are counted.")
        assert spanish.outcome.message != "This poll has closed; no more votes are counted."
    assert ballots_of(poll_id) == {}


def test_when_a_group_fails_each_vote_is_written_on_its_own(app, make_poll, voters,
                                                            monkeypatch):
    poll = make_poll("single")
    poll_id, options = poll.id, [o.id for o in poll.options]
    people = voters(3)
    real = services.cast_ballots

    def failing_for_groups(session, requests):
        if len(requests) > 1:
            raise RuntimeError("a bug that only a group meets")
        return real(session, requests)

    monkeypatch.setattr(services, "cast_ballots", failing_for_groups)
    writer = BallotWriter(app)
    writer._pending.extend(pending(person, poll_id, [options[0]]) for person in people)
    ids = [person.id for person in people]
    db.session.rollback()
    group = write_waiting(writer)
    assert all(isinstance(vote.outcome, services.CastOutcome) for vote in group)
    assert ballots_of(poll_id) == {person_id: [options[0]] for person_id in ids}


def test_a_database_outage_answers_every_vote_in_the_group_unavailable(app, make_poll, voters,
                                                                       monkeypatch):
    poll = make_poll("single")
    poll_id, option = poll.id, poll.options[0].id
    people = voters(2)

    def unreachable(session, requests):
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(services, "cast_ballots", unreachable)
    writer = BallotWriter(app)
    writer._pending.extend(pending(person, poll_id, [option]) for person in people)
    db.session.rollback()
    group = write_waiting(writer)
    assert [vote.outcome for vote in group] == [ServiceUnavailable, ServiceUnavailable]
    assert ballots_of(poll_id) == {}


def test_cast_ballots_takes_one_request_per_voter_and_poll(session, make_poll, voters):
    poll = make_poll("single")
    (ana,) = voters(1)
    option = poll.options[0].id
    with pytest.raises(ValueError, match="at most one request"):
        services.cast_ballots(session, [services.VoteRequest(ana, poll.id, [option]),
                                        services.VoteRequest(ana, poll.id, [option])])


def test_socket_votes_go_through_the_writer_when_grouping_is_on(app, client_as, socket_client,
                                                                make_poll, voters):
    """The writer's own thread, as on the real server: acked once committed, retries once."""
    app.config["VOTE_GROUPING"] = True
    app.config["LIMIT_SIGN_IN"] = "100 per minute"
    poll = make_poll("single")
    poll_id, options = poll.id, [o.id for o in poll.options]
    people = voters(3)
    sockets = [socket_client(client_as(Role.RESIDENT, user=user)) for user in people]
    ids = [person.id for person in people]
    db.session.rollback()  # SQLite: the writer needs the write lock this session would hold
    acks = [sio.emit("vote", {"poll_id": poll_id, "choices": [options[n]], "client_id": f"c{n}"},
                     namespace=NAMESPACE, callback=True) for n, sio in enumerate(sockets)]
    assert all(ack["ok"] and not ack["repeated"] for ack in acks), acks
    retry = sockets[0].emit("vote", {"poll_id": poll_id, "choices": [options[2]],
                                     "client_id": "c0"}, namespace=NAMESPACE, callback=True)
    assert retry["ok"] and retry["repeated"] and retry["receipt"] == acks[0]["receipt"]
    refused = sockets[1].emit("vote", {"poll_id": poll_id, "choices": [options[0], options[1]]},
                              namespace=NAMESPACE, callback=True)
    assert refused["ok"] is False and refused["error"] == "invalid" and refused["message"]
    writer = app.extensions["ballot_writer"]
    assert writer.groups_written >= 1
    assert ballots_of(poll_id) == {person_id: [options[n]] for n, person_id in enumerate(ids)}
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 3
    db.session.rollback()  # the tally pushed after these votes needs the write lock too
