"""Sockets that outlive their rights, tried as an attacker would: against real `participation
serve` processes (one, and two on a Redis queue) with python-socketio clients over websocket.

A moderator keeps a console open while being demoted, suspended or signed out; a resident keeps
a private town hall open after signing out; a question is approved, then rejected for naming a
neighbour, and a visitor asks for the whole replay.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from participation.realtime.rooms import NAMESPACE
from tests.conftest import REDIS_URL, LiveServer
from tests.watchers import (
    Watcher,
    cookies,
    create_accounts,
    open_live_townhall,
    post_form,
    signed_in_session,
    user_id_on,
    wait_for,
)

pytestmark = pytest.mark.server

ROLES = ("admin", "official", "moderator", "resident")
NEIGHBOUR = "Ana Ruiz at 12 Elm Street, phone 555-0199"
# The servers of this module are shared by its tests, each with accounts of its own; the many
# sign-ins from one address in a minute are this harness's, so the servers do not limit them.
SHARED = {"RATELIMIT_ENABLED": "false"}


def _servers(folder: Any, schema: Any, count: int, env: dict[str, str]) -> list[LiveServer]:
    """`count` servers on one copy of the migrated `schema`."""
    servers = [LiveServer(folder, {**SHARED, **env}) for _ in range(count)]
    shutil.copy(schema, servers[0].env["DATABASE_URL"].removeprefix("sqlite:///"))
    for server in servers:
        server.start()
    return servers


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Any) -> Iterator[LiveServer]:
    (one,) = _servers(tmp_path_factory.mktemp("rights"), migrated_sqlite, 1, {})
    yield one
    one.stop()


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory,
            migrated_sqlite: Any) -> Iterator[list[LiveServer]]:
    """Two workers on one database and a Redis queue."""
    if not REDIS_URL:
        pytest.skip("needs PARTICIPATION_TEST_REDIS_URL")
    # Redis channels are not per database: a channel of its own keeps other tests' sites out.
    env = {"SOCKETIO_MESSAGE_QUEUE": REDIS_URL, "SOCKETIO_CHANNEL": f"rights-{uuid.uuid4().hex}",
           "SECRET_KEY": "rights-" + "k" * 32}
    pair = _servers(tmp_path_factory.mktemp("rights-pair"), migrated_sqlite, 2, env)
    yield pair
    for worker in pair:
        worker.stop()


def _site(servers: list[Any], public: bool = True) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Accounts of this test's own and a live town hall on the first server; HTTP sessions and
    addresses by role (with `second_moderator`, not signed in)."""
    tag = uuid.uuid4().hex[:8]
    emails = {role: f"{role}-{tag}@example.test" for role in ROLES}
    url = servers[0].env["DATABASE_URL"]
    create_accounts(url, **emails)
    emails["second_moderator"] = f"second-moderator-{tag}@example.test"
    create_accounts(url, moderator=emails["second_moderator"])
    base = servers[0].url
    http = {role: signed_in_session(base, emails[role]) for role in ROLES}
    townhall_id = open_live_townhall(base, http["official"], "Rights on the way out",
                                     public=public)
    return townhall_id, http, emails


def _ask(resident: Watcher, townhall_id: int, text: str, anonymous: bool = True) -> int:
    ack = resident.client.call("ask", {"townhall_id": townhall_id, "text": text,
                                       "anonymous": anonymous}, namespace=NAMESPACE, timeout=15)
    assert ack["ok"], ack
    return ack["question"]["id"]


def _queued_ids(watcher: Watcher) -> set[int]:
    return {event["question"]["id"] for event in watcher.queued}


def _end_rights(change: str, server: Any, http: dict[str, Any], emails: dict[str, str]) -> str:
    """Demote, suspend or sign out the moderator through the site's own pages (or demote on
    the server's command line)."""
    if change == "demote_on_command_line":
        result = server.command("set-role", emails["moderator"], "resident")
        assert result.returncode == 0, result.stderr
        return "role_changed"
    base_url = server.url
    moderator_id = user_id_on(server.env["DATABASE_URL"], emails["moderator"])
    page = f"/admin/users/{moderator_id}"
    if change == "demote":
        post_form(http["admin"], base_url, f"{page}/role", page, role="resident")
        return "role_changed"
    if change == "suspend":
        post_form(http["admin"], base_url, f"{page}/suspend", page, reason="Leaked names")
        return "suspended"
    post_form(http["moderator"], base_url, "/logout", "/account")
    return "signed_out"


def _moderator_loses_the_queue(change: str, act_on: Any, watch_on: Any, http: dict[str, Any],
                               emails: dict[str, str], townhall_id: int) -> None:
    moderator_cookie = cookies(http["moderator"])
    console = Watcher(watch_on.url, townhall_id, moderator_cookie, moderator=True)
    colleague = Watcher(watch_on.url, townhall_id,
                        cookies(signed_in_session(watch_on.url, emails["second_moderator"])),
                        moderator=True)
    resident = Watcher(watch_on.url, townhall_id, cookies(http["resident"]))
    try:
        wait_for(lambda: console.joins == colleague.joins == resident.joins == 1, what="joins")
        before = _ask(resident, townhall_id, "Before: who decides the bus routes?")
        wait_for(lambda: before in _queued_ids(console), what="the console to hear the queue")

        reason = _end_rights(change, act_on, http, emails)
        wait_for(lambda: console.ended == [{"reason": reason}],
                 what="the console to be told its session ended")
        wait_for(lambda: not console.client.connected, what="the console's socket to close")

        after = _ask(resident, townhall_id, f"After: my neighbour is {NEIGHBOUR}")
        wait_for(lambda: after in _queued_ids(colleague),
                 what="the moderator still in office to hear the next question")
        assert _queued_ids(console) == {before}
        assert all(NEIGHBOUR not in str(event) for event in console.queued)

        # A new socket of the same browser is no moderator any more.
        again = Watcher(watch_on.url, townhall_id, moderator_cookie, moderator=True)
        try:
            wait_for(lambda: again.join_errors, what="the new console's join to be refused")
            demoted = change.startswith("demote")
            assert again.join_errors == ["forbidden" if demoted else "unauthorized"]
        finally:
            again.client.disconnect()
    finally:
        for watcher in (console, colleague, resident):
            watcher.client.disconnect()


@pytest.mark.parametrize("change", ["demote", "suspend", "sign_out"])
def test_a_demoted_suspended_or_signed_out_moderator_hears_no_more_of_the_queue(
        server, change):
    townhall_id, http, emails = _site([server])
    _moderator_loses_the_queue(change, server, server, http, emails, townhall_id)


@pytest.mark.parametrize("change", ["demote", "sign_out", "demote_on_command_line"])
def test_a_change_on_worker_a_closes_the_moderators_socket_on_worker_b(workers, change):
    worker_a, worker_b = workers
    townhall_id, http, emails = _site(workers)
    # The moderator's browser talks to worker B; the admin (or the sign-out) goes to worker A.
    _moderator_loses_the_queue(change, worker_a, worker_b, http, emails, townhall_id)


def test_a_resident_who_signs_out_hears_nothing_more_of_a_private_town_hall(server):
    townhall_id, http, emails = _site([server], public=False)
    leaving = Watcher(server.url, townhall_id, cookies(http["resident"]))
    staying_http = signed_in_session(server.url, emails["second_moderator"])
    staying = Watcher(server.url, townhall_id, cookies(staying_http))
    moderator = Watcher(server.url, townhall_id, cookies(http["moderator"]), moderator=True)
    try:
        wait_for(lambda: leaving.joins == staying.joins == moderator.joins == 1, what="joins")
        mine = _ask(leaving, townhall_id, "Will the pool reopen?", anonymous=False)
        post_form(http["resident"], server.url, "/logout", "/account")
        wait_for(lambda: leaving.ended == [{"reason": "signed_out"}] and
                 not leaving.client.connected, what="the signed-out socket to close")

        rejected = moderator.client.call("moderate", {"question_id": mine, "action": "reject",
                                                      "reason": "off_topic"},
                                         namespace=NAMESPACE, timeout=15)
        assert rejected["ok"], rejected
        other = _ask(staying, townhall_id, "Private: what about the library hours?")
        approved = moderator.client.call("moderate", {"question_id": other,
                                                      "action": "approve"},
                                         namespace=NAMESPACE, timeout=15)
        assert approved["ok"], approved
        wait_for(lambda: other in staying.approved(), what="the member to see the approval")
        assert other not in leaving.public and mine not in leaving.public
        # As a visitor now, the same browser cannot watch the private town hall at all.
        visitor = Watcher(server.url, townhall_id, cookies(http["resident"]))
        try:
            wait_for(lambda: visitor.join_errors == ["unauthorized"],
                     what="the visitor's join to be refused")
        finally:
            visitor.client.disconnect()
    finally:
        for watcher in (leaving, staying, moderator):
            watcher.client.disconnect()


def test_a_question_approved_then_rejected_leaves_no_trace_for_a_visitor(server):
    townhall_id, http, _emails = _site([server])
    resident = Watcher(server.url, townhall_id, cookies(http["resident"]))
    moderator = Watcher(server.url, townhall_id, cookies(http["moderator"]), moderator=True)
    visitor = Watcher(server.url, townhall_id)
    try:
        wait_for(lambda: resident.joins == moderator.joins == visitor.joins == 1, what="joins")
        question_id = _ask(resident, townhall_id, f"Why does my neighbour {NEIGHBOUR} "
                                                  "park on the pavement?", anonymous=False)
        for action in ({"action": "approve"},
                       {"action": "reject", "reason": "personal_information"}):
            ack = moderator.client.call("moderate", {"question_id": question_id, **action},
                                        namespace=NAMESPACE, timeout=15)
            assert ack["ok"], ack
        wait_for(lambda: len(visitor.arrivals) == 2, what="the visitor to see both changes")
        assert question_id not in visitor.public

        fresh = Watcher(server.url, townhall_id)
        try:
            replay = fresh.client.call("join", {"townhall_id": townhall_id, "since": 0},
                                       namespace=NAMESPACE, timeout=15)
        finally:
            fresh.client.disconnect()
        assert replay["ok"] and replay["events"], replay
        assert NEIGHBOUR not in str(replay) and "Resident" not in str(replay)
        assert [e["data"]["question"] for e in replay["events"] if e["event"] == "question"] \
            == [{"id": question_id, "townhall_id": townhall_id, "status": "rejected"}] * 2
    finally:
        for watcher in (resident, moderator, visitor):
            watcher.client.disconnect()
