"""A live town hall on two workers behind nginx, sharing PostgreSQL and a Redis queue: what one
worker does reaches the other's clients, and clients survive losing Redis or a worker."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from participation.realtime.rooms import NAMESPACE
from tests.ops.conftest import ScaledSite
from tests.watchers import (
    Watcher,
    cookies,
    create_accounts,
    create_live_poll,
    database_approved,
    form_token,
    signed_in_session,
    wait_for,
)

pytestmark = pytest.mark.server

WATCHERS_PER_WORKER = 3


def _sign_in_through(site: ScaledSite, worker: int, email: str) -> requests.Session:
    """Sign in through nginx on a session that nginx routes to `worker`."""
    return signed_in_session(site.url, email, site.session_on(worker))


def live_townhall(site: ScaledSite) -> tuple[int, dict[str, Any]]:
    """Accounts, and a live public town hall created by an official on worker 0."""
    create_accounts(site.env["DATABASE_URL"], official="official@example.org",
                    moderator="moderator@example.org", resident="resident@example.org")
    official = _sign_in_through(site, 0, "official@example.org")
    response = official.post(site.url + "/townhalls/new", timeout=10, allow_redirects=False,
                             data={"csrf_token": form_token(official, site.url + "/townhalls/new"),
                                   "title": "Budget on two workers",
                                   "starts_at": "2026-01-01T10:00",
                                   "ends_at": "2030-01-01T10:00", "question_max_length": "300",
                                   "is_public": "y", "allow_anonymous": "y"})
    assert response.status_code == 302, response.text
    townhall_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    status = official.post(f"{site.url}/townhalls/{townhall_id}/status", timeout=10,
                           allow_redirects=False, data={
                               "csrf_token": form_token(official,
                                                        f"{site.url}/townhalls/{townhall_id}"),
                               "status": "live"})
    assert status.status_code == 302, status.text
    sessions = {"moderator": _sign_in_through(site, 0, "moderator@example.org"),
                "resident": _sign_in_through(site, 1, "resident@example.org")}
    return townhall_id, sessions


def watchers_on(site: ScaledSite, worker: int, townhall_id: int, n: int) -> list[Watcher]:
    cookie = site.route_cookie(worker)
    return [Watcher(site.url, townhall_id, {"Cookie": f"participation_route={cookie}"})
            for _ in range(n)]


def ask(resident: Watcher, townhall_id: int, text: str) -> int:
    ack = resident.client.call("ask", {"townhall_id": townhall_id, "text": text},
                               namespace=NAMESPACE, timeout=15)
    assert ack["ok"], ack
    return ack["question"]["id"]


def approve(moderator: Watcher, question_id: int) -> None:
    ack = moderator.client.call("moderate", {"question_id": question_id, "action": "approve"},
                                namespace=NAMESPACE, timeout=15)
    assert ack["ok"], ack


def disconnect_all(watchers: list[Watcher]) -> None:
    for watcher in watchers:
        try:
            watcher.client.disconnect()
        except Exception:  # noqa: BLE001, S110 - a socket already gone is fine at teardown
            pass


def test_an_approval_on_worker_a_and_a_vote_on_worker_b_reach_clients_of_both(scaled_site):
    site = scaled_site()
    townhall_id, sessions = live_townhall(site)
    moderator = Watcher(site.url, townhall_id, cookies(sessions["moderator"]))
    resident = Watcher(site.url, townhall_id, cookies(sessions["resident"]))
    on_a = watchers_on(site, 0, townhall_id, WATCHERS_PER_WORKER)
    on_b = watchers_on(site, 1, townhall_id, WATCHERS_PER_WORKER)
    everyone = [*on_a, *on_b]
    try:
        wait_for(lambda: all(w.joins == 1 for w in everyone), what="joins")
        # Presence is counted over both workers: everyone sees every socket, wherever it is.
        sockets = len(everyone) + 2
        wait_for(lambda: all(w.presence == sockets for w in everyone), timeout=15,
                 what=f"every watcher to count {sockets} people present")
        # The resident asks on worker B; the moderator approves on worker A.
        asked = [ask(resident, townhall_id, f"Question {n} from worker B?") for n in range(3)]
        for question_id in asked[:2]:
            approve(moderator, question_id)
        wait_for(lambda: all(w.approved() == set(asked[:2]) for w in everyone),
                 what="every watcher on both workers to see the approvals")
        # One sequence, handed out by the database: every watcher saw the same numbers.
        sequences = {tuple(w.seqs) for w in everyone}
        assert len(sequences) == 1, sequences
        assert list(next(iter(sequences))) == sorted(set(next(iter(sequences))))

        # A vote cast on worker B shows in the live tally on worker A (and B).
        poll_id, options = create_live_poll(site.env["DATABASE_URL"], townhall_id,
                                            "official@example.org")
        ack = resident.client.call("vote", {"poll_id": poll_id, "choices": [options[1]],
                                            "client_id": "scaled-vote-1"},
                                   namespace=NAMESPACE, timeout=15)
        assert ack["ok"], ack
        wait_for(lambda: all(w.votes(poll_id) == [0, 1] for w in everyone),
                 what="every watcher on both workers to see the vote in the tally")
    finally:
        disconnect_all([moderator, resident, *everyone])
    # nginx logs a WebSocket once it has closed.
    both = {site.worker_address(0), site.worker_address(1)}
    wait_for(lambda: set(site.nginx.upstreams_for("/socket.io/")) == both, timeout=10,
             what="nginx to log socket requests answered by both workers")
    routed = set(site.nginx.upstreams_for("/socket.io/"))
    assert routed == both


def test_clients_of_a_killed_worker_reconnect_through_nginx_and_resync(scaled_site):
    site = scaled_site()
    townhall_id, sessions = live_townhall(site)
    moderator = Watcher(site.url, townhall_id, cookies(sessions["moderator"]))
    on_a = watchers_on(site, 0, townhall_id, WATCHERS_PER_WORKER)
    on_b = watchers_on(site, 1, townhall_id, WATCHERS_PER_WORKER)
    resident = Watcher(site.url, townhall_id, cookies(sessions["resident"]))
    everyone = [*on_a, *on_b]
    try:
        wait_for(lambda: all(w.joins == 1 for w in everyone), what="joins")
        first = ask(resident, townhall_id, "Asked before the crash?")
        approve(moderator, first)
        wait_for(lambda: all(w.approved() == {first} for w in everyone), what="approval")

        site.workers[1].stop(kill=True)   # kill -9: no goodbye to its sockets
        wait_for(lambda: resident.client.connected and resident.joins >= 2, timeout=30,
                 what="the resident to reconnect through nginx")
        during = ask(resident, townhall_id, "Asked while worker B was dead?")
        approve(moderator, during)

        expected = database_approved(site.env["DATABASE_URL"], townhall_id)
        assert expected == {first, during}
        wait_for(lambda: all(w.joins >= 2 for w in on_b), timeout=30,
                 what="worker B's watchers to join again on worker A")
        wait_for(lambda: all(w.approved() == expected for w in everyone), timeout=30,
                 what="every watcher to resync")
        assert all(w.joins == 1 for w in on_a), "worker A's watchers never lost their socket"
    finally:
        disconnect_all([moderator, resident, *everyone])


def test_after_redis_restarts_workers_resubscribe_and_clients_catch_up(scaled_site, own_redis):
    site = scaled_site(queue_url=own_redis.url)
    townhall_id, sessions = live_townhall(site)
    moderator = Watcher(site.url, townhall_id, cookies(sessions["moderator"]))
    resident = Watcher(site.url, townhall_id, cookies(sessions["resident"]))
    on_a = watchers_on(site, 0, townhall_id, WATCHERS_PER_WORKER)
    on_b = watchers_on(site, 1, townhall_id, WATCHERS_PER_WORKER)
    everyone = [*on_a, *on_b]
    try:
        wait_for(lambda: all(w.joins == 1 for w in everyone), what="joins")
        asked = [ask(resident, townhall_id, f"Question {n}?") for n in range(3)]
        approve(moderator, asked[0])
        wait_for(lambda: all(w.approved() == {asked[0]} for w in everyone), what="approval")

        own_redis.kill()
        # Committed while the queue is down: worker A's own sockets hear it, B's cannot.
        approve(moderator, asked[1])
        wait_for(lambda: all("message queue unreachable" in worker.log.read_text()
                             for worker in site.workers),
                 what="both workers to notice that the queue is gone")
        own_redis.start()

        wait_for(lambda: all(w.resyncs >= 1 and w.joins >= 2 for w in everyone), timeout=30,
                 what="every worker to ask its clients to resync, and them to join again")
        approve(moderator, asked[2])
        expected = database_approved(site.env["DATABASE_URL"], townhall_id)
        assert expected == set(asked)
        wait_for(lambda: all(w.approved() == expected for w in everyone), timeout=30,
                 what="every watcher to catch up through `since`")
        assert all(watcher.client.connected for watcher in everyone)
    finally:
        disconnect_all([moderator, resident, *everyone])
