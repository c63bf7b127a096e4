"""Polls inside a town hall: `poll_control`, the room's `poll` event, the join snapshot's
`polls`, and the console's and live page's plain forms."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from participation.db import utcnow
from participation.extensions import db
from participation.polls import services
from participation.polls.models import Poll
from participation.realtime.models import Event
from participation.realtime.outbox import take_events
from participation.realtime.rooms import NAMESPACE
from participation.security.permissions import Role
from participation.townhall import services as townhalls
from participation.townhall.models import Status
from tests.polls.conftest import close

NS = NAMESPACE


def emit(sio, event, payload):
    return sio.emit(event, payload, namespace=NS, callback=True)


def received(sio, name):
    return [m["args"][0] for m in sio.get_received(NS) if m["name"] == name]


def join(socket_client, client_as, townhall, role=Role.RESIDENT, user=None, **extra):
    http = client_as(role, user=user) if (role or user) else None
    sio = socket_client(http)
    ack = emit(sio, "join", {"townhall_id": townhall.id, **extra})
    assert ack["ok"], ack
    sio.join_ack = ack
    sio.get_received(NS)
    return sio


def poll_state(poll_id):
    db.session.rollback()
    poll = db.session.get(Poll, poll_id, populate_existing=True)
    return (poll.opens_at, poll.closes_at, poll.results_released_at)


def poll_events(townhall_id):
    db.session.rollback()
    return list(db.session.scalars(select(Event).where(
        Event.townhall_id == townhall_id, Event.kind == "poll").order_by(Event.seq)))


@pytest.fixture
def prepared(make_poll, live_townhall):
    """A poll prepared for the live town hall, not yet open."""
    poll = make_poll("single", is_open=False, townhall=live_townhall, results_mode="after_close")
    take_events(db.session)
    return poll


def test_a_moderator_opens_and_closes_a_poll_and_the_room_hears_each(
        socket_client, client_as, live_townhall, prepared, moderator):
    watcher = join(socket_client, client_as, live_townhall, None)
    console = join(socket_client, client_as, live_townhall, user=moderator)
    ack = emit(console, "poll_control", {"poll_id": prepared.id, "action": "open",
                                         "townhall_id": live_townhall.id})
    assert ack["ok"], ack
    assert ack["poll"]["status"] == "open"
    (opened,) = received(watcher, "poll")
    assert opened["townhall_id"] == live_townhall.id and isinstance(opened["seq"], int)
    public = opened["poll"]
    assert public["id"] == prepared.id and public["question"] == prepared.question
    assert public["kind"] == "single" and public["status"] == "open"
    assert [o["id"] for o in public["options"]] == [o.id for o in prepared.options]
    assert {o["label"] for o in public["options"]} == {o.label for o in prepared.options}
    assert "max_choices" in public
    # After-close results are not in the payload while the poll is open.
    assert public["results"] is None
    assert public["results_notice"] == "Results are shown once the poll closes."
    assert "receipt" not in public

    voter = join(socket_client, client_as, live_townhall)
    assert emit(voter, "vote", {"poll_id": prepared.id,
                                "choices": [prepared.options[1].id]})["ok"]
    ack = emit(console, "poll_control", {"poll_id": prepared.id, "action": "close"})
    assert ack["ok"], ack
    (closed,) = received(watcher, "poll")
    assert closed["seq"] > opened["seq"]
    assert closed["poll"]["status"] == "closed"
    assert closed["poll"]["results"]["ballots"] == 1
    assert closed["poll"]["results_notice"] is None


def test_an_official_releases_hidden_results_and_only_then_are_they_broadcast(
        socket_client, client_as, live_townhall, make_poll, official, moderator):
    poll = make_poll("single", townhall=live_townhall, results_mode="hidden")
    voter = join(socket_client, client_as, live_townhall)
    assert emit(voter, "vote", {"poll_id": poll.id, "choices": [poll.options[0].id]})["ok"]
    watcher = join(socket_client, client_as, live_townhall, None)
    chair = join(socket_client, client_as, live_townhall, user=official)
    assert emit(chair, "poll_control", {"poll_id": poll.id, "action": "close"})["ok"]
    (closed,) = received(watcher, "poll")
    assert closed["poll"]["status"] == "closed" and closed["poll"]["results"] is None
    assert "official releases" in closed["poll"]["results_notice"]
    mod = join(socket_client, client_as, live_townhall, user=moderator)
    refused = emit(mod, "poll_control", {"poll_id": poll.id, "action": "release"})
    assert refused["ok"] is False and refused["error"] == "forbidden"
    assert poll_state(poll.id)[2] is None
    assert emit(chair, "poll_control", {"poll_id": poll.id, "action": "release"})["ok"]
    (released,) = received(watcher, "poll")
    assert released["poll"]["results"]["ballots"] == 1


@pytest.mark.parametrize("case", [
    "visitor", "resident", "topic poll", "another town hall", "ended town hall",
    "unknown action", "already open", "already closed", "release by moderator", "no action",
    "poll id text", "no such poll", "townhall id text",
])
def test_poll_control_refuses_bad_input_and_changes_nothing(
        case, socket_client, client_as, make_poll, make_townhall, live_townhall, topic,
        moderator):
    expected = {"visitor": "unauthorized", "resident": "forbidden", "topic poll": "invalid",
                "another town hall": "invalid", "ended town hall": "closed",
                "unknown action": "invalid", "already open": "conflict",
                "already closed": "conflict", "release by moderator": "forbidden",
                "no action": "invalid", "poll id text": "invalid", "no such poll": "not_found",
                "townhall id text": "invalid"}[case]
    target = live_townhall
    if case == "topic poll":
        poll = make_poll("single", topic=topic, is_open=False)
    elif case == "ended town hall":
        target = make_townhall()
        poll = make_poll("single", townhall=target, is_open=False)
        townhalls.set_status(db.session, moderator, target, Status.ENDED)
        db.session.commit()
    elif case in ("already open", "release by moderator"):
        poll = make_poll("single", townhall=live_townhall, is_open=True,
                         results_mode="hidden")
        if case == "release by moderator":
            close(poll)
    elif case == "already closed":
        poll = make_poll("single", townhall=live_townhall, is_open=True)
        close(poll)
    else:
        poll = make_poll("single", townhall=live_townhall, is_open=False)
    take_events(db.session)
    payload = {"poll_id": poll.id, "action": "open"}
    if case == "another town hall":
        payload["townhall_id"] = make_townhall(title="Another").id
    if case == "unknown action":
        payload["action"] = "explode"
    if case == "already closed":
        payload["action"] = "close"
    if case == "release by moderator":
        payload["action"] = "release"
    if case == "no action":
        del payload["action"]
    if case == "poll id text":
        payload["poll_id"] = str(poll.id)
    if case == "no such poll":
        payload["poll_id"] = poll.id + 1000
    if case == "townhall id text":
        payload["townhall_id"] = str(live_townhall.id)
    role = {"visitor": None, "resident": Role.RESIDENT}.get(case, Role.MODERATOR)
    before_state = poll_state(poll.id)
    before_events = len(poll_events(target.id))
    http = client_as(role) if role else None
    sio = socket_client(http)
    ack = emit(sio, "poll_control", payload)
    assert ack["ok"] is False, ack
    assert ack["error"] == expected
    assert ack["message"] and "Traceback" not in ack["message"]
    assert poll_state(poll.id) == before_state
    assert len(poll_events(target.id)) == before_events
    assert sio.is_connected(NS)


def test_since_replays_the_poll_events_a_page_missed(
        socket_client, client_as, live_townhall, prepared, official):
    first = join(socket_client, client_as, live_townhall, None)
    seen = first.join_ack["seq"]
    chair = join(socket_client, client_as, live_townhall, user=official)
    assert emit(chair, "poll_control", {"poll_id": prepared.id, "action": "open"})["ok"]
    assert emit(chair, "poll_control", {"poll_id": prepared.id, "action": "close"})["ok"]
    again = socket_client()
    ack = emit(again, "join", {"townhall_id": live_townhall.id, "since": seen})
    assert ack["ok"] and "snapshot" not in ack
    replayed = [e["data"] for e in ack["events"] if e["event"] == "poll"]
    assert [e["poll"]["status"] for e in replayed] == ["open", "closed"]
    assert replayed[0]["seq"] < replayed[1]["seq"] <= ack["seq"]
    assert all(e["poll"]["id"] == prepared.id for e in replayed)


def test_the_snapshot_carries_open_polls_with_the_readers_own_receipt(
        socket_client, client_as, live_townhall, make_poll, resident):
    shown = make_poll("single", townhall=live_townhall, results_mode="hidden",
                      question="Which bus route first?")
    make_poll("single", townhall=live_townhall, is_open=False, question="Not open yet?")
    voter = join(socket_client, client_as, live_townhall, user=resident)
    vote = emit(voter, "vote", {"poll_id": shown.id, "choices": [shown.options[2].id]})
    assert vote["ok"]

    mine = join(socket_client, client_as, live_townhall, user=resident).join_ack["snapshot"]
    (entry,) = mine["polls"]
    assert entry["id"] == shown.id and entry["status"] == "open"
    assert entry["receipt"] == vote["receipt"]
    assert entry["results"] is None  # hidden results are not in the snapshot

    other = join(socket_client, client_as, live_townhall).join_ack["snapshot"]
    assert other["polls"][0]["receipt"] is None
    visitor = join(socket_client, client_as, live_townhall, None).join_ack["snapshot"]
    assert visitor["polls"][0]["receipt"] is None
    # The shared part is the same for every reader.
    strip = [{k: v for k, v in p.items() if k != "receipt"} for p in mine["polls"]]
    assert strip == [{k: v for k, v in p.items() if k != "receipt"} for p in visitor["polls"]]
    assert strip == services.meeting_polls_data(db.session, live_townhall)


def test_the_snapshot_keeps_polls_closed_during_the_meeting_with_their_result(
        socket_client, client_as, make_townhall, make_poll, official):
    townhall = make_townhall()
    live = make_poll("single", townhall=townhall, results_mode="live", question="Live one?")
    services.close_poll(db.session, official, live)
    hidden = make_poll("single", townhall=townhall, results_mode="hidden", question="Hidden?")
    services.close_poll(db.session, official, hidden)
    db.session.commit()
    polls = join(socket_client, client_as, townhall, None).join_ack["snapshot"]["polls"]
    by_id = {p["id"]: p for p in polls}
    assert by_id[live.id]["status"] == "closed" and by_id[live.id]["results"]["ballots"] == 0
    assert by_id[hidden.id]["results"] is None


def test_opening_from_the_poll_page_form_also_tells_the_room(
        client_as, socket_client, live_townhall, prepared, official):
    watcher = join(socket_client, client_as, live_townhall, None)
    chair = client_as(user=official)
    page = chair.get(f"/polls/{prepared.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = chair.post(f"/polls/{prepared.id}/open", data={"csrf_token": token})
    assert response.status_code == 302
    (opened,) = received(watcher, "poll")
    assert opened["poll"]["status"] == "open"


def csrf(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_console_forms_and_the_live_page_work_without_javascript(
        client_as, live_townhall, official, moderator, resident):
    chair = client_as(user=official)
    console_url = f"/townhalls/{live_townhall.id}/moderate"
    # Officials do not moderate: the live page gives them the polls panel instead.
    own_page = chair.get(f"/townhalls/{live_townhall.id}").get_data(as_text=True)
    assert re.search(rf'href="/polls/new\?parent=townhall(:|%3A){live_townhall.id}"', own_page)
    form = chair.get(f"/polls/new?parent=townhall:{live_townhall.id}").get_data(as_text=True)
    assert any(f'value="townhall:{live_townhall.id}"' in chosen
               for chosen in re.findall(r"<option[^>]*selected[^>]*>", form))
    made = chair.post("/polls/new", data={
        "csrf_token": csrf(form), "parent": f"townhall:{live_townhall.id}",
        "question": "Which library hours?", "kind": "single",
        "options": "Evenings\nSundays", "results_mode": "live"})
    assert made.status_code == 302
    poll = db.session.scalar(select(Poll).where(Poll.question == "Which library hours?"))

    mod = client_as(user=moderator)
    console = mod.get(console_url).get_data(as_text=True)
    assert f'id="poll-open-{poll.id}"' in console
    assert mod.get(f"/townhalls/{live_townhall.id}").get_data(as_text=True).count(
        "Which library hours?") == 0
    opened = mod.post(f"/polls/{poll.id}/control", data={
        "csrf_token": csrf(console), "action": "open", "next": console_url})
    assert opened.status_code == 302 and opened.headers["Location"].endswith(console_url)
    assert poll_state(poll.id)[0] is not None

    person = client_as(user=resident)
    live_url = f"/townhalls/{live_townhall.id}"
    page = person.get(live_url).get_data(as_text=True)
    assert 'id="townhall-polls"' in page and "Which library hours?" in page
    assert page.index('id="townhall-polls"') < page.index('id="questions-heading"')
    voted = person.post(f"/polls/{poll.id}", data={
        "csrf_token": csrf(page), "choice": str(poll.options[1].id), "next": live_url})
    assert voted.status_code == 302
    assert voted.headers["Location"].endswith(f"{live_url}#poll-{poll.id}")
    page = person.get(live_url).get_data(as_text=True)
    receipt = services.format_receipt(services.ballot_of(db.session, resident, poll).receipt)
    assert receipt in page
    # An outside `next` is not followed.
    again = person.post(f"/polls/{poll.id}", data={
        "csrf_token": csrf(page), "choice": str(poll.options[0].id),
        "next": "https://evil.example/"})
    assert again.headers["Location"].endswith(f"/polls/{poll.id}#your-ballot")

    projector = person.get(f"/townhalls/{live_townhall.id}/projector").get_data(as_text=True)
    assert "Which library hours?" in projector and "ballot cast" in projector

    console = mod.get(console_url).get_data(as_text=True)
    closed = mod.post(f"/polls/{poll.id}/control", data={
        "csrf_token": csrf(console), "action": "close", "next": console_url})
    assert closed.status_code == 302
    page = person.get(live_url).get_data(as_text=True)
    assert "Final result" in page and "Voting has closed." in page
    projector = person.get(f"/townhalls/{live_townhall.id}/projector").get_data(as_text=True)
    assert "Poll result" in projector


def test_console_form_refusals_change_nothing(client_as, live_townhall, make_poll, moderator):
    poll = make_poll("single", townhall=live_townhall, is_open=False)
    mod = client_as(user=moderator)
    console_url = f"/townhalls/{live_townhall.id}/moderate"
    token = csrf(mod.get(console_url).get_data(as_text=True))
    unknown = mod.post(f"/polls/{poll.id}/control", data={"csrf_token": token,
                                                          "action": "explode"})
    assert unknown.status_code == 302 and unknown.headers["Location"].endswith(console_url)
    assert poll_state(poll.id) == (None, None, None)
    resident = client_as(Role.RESIDENT)
    token = csrf(resident.get(f"/townhalls/{live_townhall.id}").get_data(as_text=True))
    refused = resident.post(f"/polls/{poll.id}/control", data={"csrf_token": token,
                                                               "action": "open"})
    assert refused.status_code == 403
    assert poll_state(poll.id) == (None, None, None)
    assert utcnow()  # the clock still runs: nothing above was scheduled
