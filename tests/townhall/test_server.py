"""Against a real `participation serve` process with python-socketio clients over websocket:
broadcast to many, and nothing lost or doubled across a server crash."""

from __future__ import annotations

import uuid

import pytest
import requests

from participation import create_app
from participation.accounts.models import User
from participation.extensions import db
from participation.realtime.outbox import take_events
from participation.realtime.rooms import NAMESPACE
from participation.townhall import services
from participation.townhall.models import Question
from tests.conftest import REDIS_URL, base_config
from tests.watchers import (
    Watcher,
    cookies,
    create_accounts,
    database_approved,
    form_token,
    signed_in_session,
    wait_for,
)

pytestmark = pytest.mark.server

WATCHERS = 20


def approve_behind_the_servers_back(url: str, question_ids: list[int], email: str) -> None:
    """Commit approvals while no server runs, as if it crashed between commit and emit."""
    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=url))
    with app.app_context():
        moderator = db.session.scalar(db.select(User).where(User.email == email))
        for qid in question_ids:
            services.approve_question(db.session, moderator, db.session.get(Question, qid))
        db.session.commit()
        take_events(db.session)
        db.engine.dispose()


def test_twenty_watchers_receive_approvals_and_resync_exactly_after_a_crash(live_server):
    server = live_server().start()
    create_accounts(server.env["DATABASE_URL"], official="official@example.test",
                    moderator="moderator@example.test", resident="resident@example.test")
    official = signed_in_session(server.url, "official@example.test")
    new_url = server.url + "/townhalls/new"
    response = official.post(new_url, timeout=10, allow_redirects=False,
                             data={"csrf_token": form_token(official, new_url),
                                   "title": "Crash test", "starts_at": "2026-01-01T10:00",
                                   "ends_at": "2030-01-01T10:00", "question_max_length": "300",
                                   "is_public": "y", "allow_anonymous": "y"})
    assert response.status_code == 302
    townhall_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    official.post(f"{server.url}/townhalls/{townhall_id}/status", timeout=10, data={
        "csrf_token": form_token(official, f"{server.url}/townhalls/{townhall_id}"),
        "status": "live"})

    resident = Watcher(server.url, townhall_id,
                       cookies(signed_in_session(server.url, "resident@example.test")))
    moderator = Watcher(server.url, townhall_id,
                        cookies(signed_in_session(server.url, "moderator@example.test")))
    watchers = [Watcher(server.url, townhall_id) for _ in range(WATCHERS)]
    try:
        wait_for(lambda: all(w.joins == 1 for w in watchers), what="joins")
        asked = []
        for n in range(5):
            ack = resident.client.call("ask", {"townhall_id": townhall_id,
                                               "text": f"Question number {n}?"},
                                       namespace=NAMESPACE, timeout=10)
            assert ack["ok"], ack
            asked.append(ack["question"]["id"])
        for qid in asked[:2]:
            ack = moderator.client.call("moderate", {"question_id": qid, "action": "approve"},
                                        namespace=NAMESPACE, timeout=10)
            assert ack["ok"], ack
        wait_for(lambda: all(w.approved() == set(asked[:2]) for w in watchers),
                 what="every watcher to receive the approvals")

        server.stop(kill=True)
        db_url = server.env["DATABASE_URL"]
        approve_behind_the_servers_back(db_url, asked[2:4], "moderator@example.test")
        server.start()

        expected = database_approved(db_url, townhall_id)
        assert expected == set(asked[:4])
        wait_for(lambda: all(w.joins == 2 and w.approved() == expected for w in watchers),
                 what="every watcher to resync")
        for watcher in watchers:
            assert len(watcher.arrivals) == len(set(watcher.arrivals)), "an event arrived twice"
            since, replayed = watcher.replayed_since[-1]
            assert replayed and all(seq > since for seq in replayed)
    finally:
        for watcher in [resident, moderator, *watchers]:
            watcher.client.disconnect()


def test_sockets_from_another_origin_are_refused(live_server):
    server = live_server().start()
    handshake = server.url + "/socket.io/?EIO=4&transport=polling"
    other = requests.get(handshake, headers={"Origin": "http://evil.example"}, timeout=10)
    assert other.status_code == 400 and "Not an accepted origin" in other.text
    same = requests.get(handshake, headers={"Origin": server.url}, timeout=10)
    assert same.status_code == 200 and '"sid"' in same.text


@pytest.mark.skipif(not REDIS_URL, reason="needs PARTICIPATION_TEST_REDIS_URL")
def test_two_workers_share_one_sequence_through_the_database_and_redis(live_server):
    # One site: the same database, message queue and signing key behind two processes.
    # Redis channels are not per database: a channel of its own keeps other tests' sites out.
    env = {"SOCKETIO_MESSAGE_QUEUE": REDIS_URL, "SOCKETIO_CHANNEL": f"two-{uuid.uuid4().hex}",
           "SECRET_KEY": "two-workers-" + "k" * 32}
    first = live_server(env).start()
    second = live_server(env, migrate=False).start()
    assert first.env["DATABASE_URL"] == second.env["DATABASE_URL"]
    create_accounts(first.env["DATABASE_URL"], official="official@example.test",
                    moderator="moderator@example.test", resident="resident@example.test")
    official = signed_in_session(first.url, "official@example.test")
    new_url = first.url + "/townhalls/new"
    response = official.post(new_url, timeout=10, allow_redirects=False, data={
        "csrf_token": form_token(official, new_url), "title": "Two workers",
        "starts_at": "2026-01-01T10:00", "ends_at": "2030-01-01T10:00",
        "question_max_length": "300", "is_public": "y"})
    townhall_id = int(response.headers["Location"].rsplit("/", 1)[1])
    asker = Watcher(first.url, townhall_id,
                    cookies(signed_in_session(first.url, "resident@example.test")))
    moderator_cookie = cookies(signed_in_session(second.url, "moderator@example.test"))
    on_first = Watcher(first.url, townhall_id, moderator_cookie)
    on_second = Watcher(second.url, townhall_id)
    try:
        wait_for(lambda: on_second.joins == 1 and on_first.joins == 1, what="joins")
        asked = [asker.client.call("ask", {"townhall_id": townhall_id, "text": f"Q{n}?"},
                                   namespace=NAMESPACE, timeout=10)["question"]["id"]
                 for n in range(4)]
        for n, qid in enumerate(asked):
            # Alternate the worker that commits: the numbers still form one sequence.
            by = on_first if n % 2 == 0 else Watcher(second.url, townhall_id, moderator_cookie)
            ack = by.client.call("moderate", {"question_id": qid, "action": "approve"},
                                 namespace=NAMESPACE, timeout=10)
            assert ack["ok"], ack
            if by is not on_first:
                by.client.disconnect()
        wait_for(lambda: on_second.approved() == set(asked) == on_first.approved(),
                 what="both workers' watchers to receive every approval")
        for watcher in (on_first, on_second):
            assert watcher.arrivals == sorted(set(watcher.arrivals))
    finally:
        for watcher in (asker, on_first, on_second):
            watcher.client.disconnect()
