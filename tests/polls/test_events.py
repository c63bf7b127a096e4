"""The `vote` socket event and live `tally` pushes in a town hall's room."""

from __future__ import annotations

import time

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from participation.extensions import db
from participation.polls import events, services
from participation.polls.models import Ballot
from participation.realtime.rooms import NAMESPACE
from participation.security.permissions import Role
from tests.polls.conftest import close


def ballots_in(poll_id):
    return db.session.scalar(select(func.count()).select_from(Ballot)
                             .where(Ballot.poll_id == poll_id))


def tallies(sio, poll_id):
    return [message["args"][0] for message in sio.get_received(NAMESPACE)
            if message["name"] == "tally" and message["args"][0]["poll_id"] == poll_id]


def wait_for_tally(sio, poll_id, ballots, timeout=5.0):
    db.session.rollback()  # the test's own transaction would hold SQLite's write lock
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        seen += tallies(sio, poll_id)
        if seen and seen[-1]["results"]["ballots"] == ballots:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"no tally with {ballots} ballots; saw {seen}")


@pytest.fixture
def watcher(socket_client, live_townhall):
    sio = socket_client()
    ack = sio.emit("join", {"townhall_id": live_townhall.id}, namespace=NAMESPACE, callback=True)
    assert ack["ok"], ack
    sio.get_received(NAMESPACE)
    return sio


def test_a_socket_vote_is_acked_with_a_receipt_and_the_room_gets_the_tally(
        client_as, socket_client, make_poll, watcher):
    poll = make_poll("single")
    voter = socket_client(client_as(Role.RESIDENT))
    ack = voter.emit("vote", {"poll_id": poll.id, "choices": [poll.options[0].id],
                              "client_id": "tab-1-vote-1"}, namespace=NAMESPACE, callback=True)
    assert ack["ok"] and not ack["replaced"] and not ack["repeated"]
    assert len(ack["receipt"].replace("-", "")) == services.RECEIPT_LENGTH
    seen = wait_for_tally(watcher, poll.id, 1)
    assert isinstance(seen[-1]["seq"], int) and seen[-1]["seq"] > 0
    assert seen[-1]["results"]["options"][0]["votes"] == 1
    retry = voter.emit("vote", {"poll_id": poll.id, "choices": [poll.options[1].id],
                                "client_id": "tab-1-vote-1"}, namespace=NAMESPACE, callback=True)
    assert retry["ok"] and retry["repeated"] and retry["receipt"] == ack["receipt"]
    assert ballots_in(poll.id) == 1
    assert services.poll_results(db.session, None, poll)["options"][0]["votes"] == 1


def test_tallies_are_coalesced_however_fast_votes_arrive(app, client_as, socket_client,
                                                         make_poll, watcher, voters):
    app.config["LIMIT_SIGN_IN"] = "100 per minute"
    poll = make_poll("single")
    poll_id, options = poll.id, [o.id for o in poll.options]
    sockets = [socket_client(client_as(Role.RESIDENT, user=user)) for user in voters(12)]
    db.session.rollback()
    started = time.monotonic()
    for n, sio in enumerate(sockets):
        ack = sio.emit("vote", {"poll_id": poll_id, "choices": [options[n % 3]]},
                       namespace=NAMESPACE, callback=True)
        assert ack["ok"], ack
    seen = wait_for_tally(watcher, poll_id, 12)
    elapsed = time.monotonic() - started
    # At most one push per interval, plus the first one at once.
    assert len(seen) <= elapsed / events.TALLY_INTERVAL + 2
    assert len(seen) < 12
    seqs = [message["seq"] for message in seen]
    assert seqs == sorted(seqs)


@pytest.mark.parametrize("mode", ["after_close", "hidden"])
def test_no_tally_leaves_before_the_results_mode_allows(client_as, socket_client, make_poll,
                                                        watcher, official, mode):
    poll = make_poll("single", results_mode=mode)
    voter = socket_client(client_as(Role.RESIDENT))
    ack = voter.emit("vote", {"poll_id": poll.id, "choices": [poll.options[0].id]},
                     namespace=NAMESPACE, callback=True)
    assert ack["ok"]
    db.session.rollback()
    assert events.wait_for_tallies(timeout=10)
    assert tallies(watcher, poll.id) == []
    services.close_poll(db.session, official, poll)
    db.session.commit()
    events.schedule_tally(watcher.app, poll.id)
    if mode == "hidden":
        db.session.rollback()
        assert events.wait_for_tallies(timeout=10)
        assert tallies(watcher, poll.id) == []
    else:
        assert wait_for_tally(watcher, poll.id, 1, timeout=10)


@pytest.mark.parametrize(("payload", "error"), [
    ({"choices": [1]}, "invalid"),
    ({"poll_id": "1", "choices": [1]}, "invalid"),
    ({"poll_id": 1, "choices": "1"}, "invalid"),
    ({"poll_id": 987654, "choices": [1]}, "not_found"),
    ({"poll_id": True, "choices": [1]}, "invalid"),
    ({"poll_id": 1, "choices": [1], "client_id": 5}, "invalid"),
])
def test_bad_vote_payloads_get_an_error_ack(client_as, socket_client, make_poll, payload, error):
    make_poll("single")
    voter = socket_client(client_as(Role.RESIDENT))
    ack = voter.emit("vote", payload, namespace=NAMESPACE, callback=True)
    assert ack["ok"] is False and ack["error"] == error, ack
    assert ack["message"]
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0


def test_visitors_closed_polls_and_forum_polls_are_refused_over_the_socket(
        client_as, socket_client, make_poll, topic):
    poll = make_poll("single")
    visitor = socket_client()
    ack = visitor.emit("vote", {"poll_id": poll.id, "choices": [poll.options[0].id]},
                       namespace=NAMESPACE, callback=True)
    assert ack == {"ok": False, "error": "unauthorized", "message": ack["message"]}
    voter = socket_client(client_as(Role.RESIDENT))
    forum_poll = make_poll("single", topic=topic)
    ack = voter.emit("vote", {"poll_id": forum_poll.id, "choices": [forum_poll.options[0].id]},
                     namespace=NAMESPACE, callback=True)
    assert ack["error"] == "invalid"
    close(poll)
    ack = voter.emit("vote", {"poll_id": poll.id, "choices": [poll.options[0].id]},
                     namespace=NAMESPACE, callback=True)
    assert ack["error"] == "closed"
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0


def test_socket_votes_are_rate_limited(app, client_as, make_poll, socket_client):
    app.config["LIMIT_VOTE"] = "2 per minute"
    poll = make_poll("single")
    poll_id, options = poll.id, [o.id for o in poll.options]
    voter = socket_client(client_as(Role.RESIDENT))
    answers = [voter.emit("vote", {"poll_id": poll_id, "choices": [options[n % 3]]},
                          namespace=NAMESPACE, callback=True) for n in range(3)]
    assert [answer["ok"] for answer in answers] == [True, True, False]
    assert answers[2]["error"] == "rate_limited"


def test_a_vote_refused_over_the_socket_is_explained_in_the_pages_language(
        client_as, socket_client, make_poll):
    """Votes run without a request context; the language comes from the socket's connection."""
    poll = make_poll("single")
    poll_id = poll.id
    http = client_as(Role.RESIDENT)
    spanish = socket_client(http, headers={"Accept-Language": "es"})
    english = socket_client(http, headers={"Accept-Language": "en"})
    payload = {"poll_id": poll_id, "choices": [987654]}
    refused_es = spanish.emit("vote", payload, namespace=NAMESPACE, callback=True)
    refused_en = english.emit("vote", payload, namespace=NAMESPACE, callback=True)
    assert refused_es["error"] == refused_en["error"] == "invalid"
    assert refused_en["message"] == "That is not one of this poll's options."
    with force_locale("es"):
        assert refused_es["message"] == _("That is not one of this poll's options.")
    assert refused_es["message"] != refused_en["message"]
