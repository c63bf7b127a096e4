"""Who is in the room (the head count, the peak of online watchers) and edits that reach open
pages live: services, the `head_count` socket event, the console's plain form, the ledger and
the transcript."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from participation.errors import Closed, Forbidden, InvalidInput, Unauthorized
from participation.extensions import db
from participation.realtime.models import Event
from participation.realtime.outbox import PUBLIC, take_events
from participation.security.permissions import Role
from participation.townhall import events as townhall_events
from participation.townhall import services
from participation.townhall.models import ModerationEntry, Status, TownHall
from tests.conftest import csrf_token
from tests.townhall.test_events import emit, received


def fresh(townhall):
    db.session.expire_all()
    return db.session.get(TownHall, townhall.id)


def event_count():
    db.session.expire_all()
    return len(db.session.scalars(select(Event)).all())


# The head count: services


def test_moderators_enter_head_counts_and_the_highest_is_kept(session, townhall, moderator):
    services.set_head_count(session, moderator, townhall, 40)
    services.set_head_count(session, moderator, townhall, 65)
    services.set_head_count(session, moderator, townhall, 52)
    session.commit()
    assert (townhall.in_room_count, townhall.in_room_peak) == (52, 65)
    assert townhall.in_room_counted_at is not None
    logged = session.scalars(select(ModerationEntry.reason).where(
        ModerationEntry.action == "head_count").order_by(ModerationEntry.id)).all()
    assert logged == ["40", "65", "52"]
    last = take_events(session)[-1]
    assert (last.kind, last.audience) == ("townhall", PUBLIC)
    assert (last.payload["in_room"], last.payload["in_room_peak"]) == (52, 65)
    ledger = services.ledger(session, townhall)
    assert ledger["in_room_attendance"] == 65


@pytest.mark.parametrize("count", [-1, 100_001, 10**12, "40", 4.0, True, None, [3]])
def test_a_negative_absurd_or_non_numeric_head_count_is_refused(session, townhall, moderator,
                                                                count):
    services.set_head_count(session, moderator, townhall, 30)
    session.commit()
    take_events(session)
    with pytest.raises(InvalidInput) as refused:
        services.set_head_count(session, moderator, townhall, count)
    assert refused.value.field == "count" and refused.value.message
    session.rollback()
    assert (fresh(townhall).in_room_count, fresh(townhall).in_room_peak) == (30, 30)
    assert take_events(session) == []


def test_the_largest_head_count_taken_is_a_hundred_thousand(session, townhall, moderator):
    services.set_head_count(session, moderator, townhall, 0)
    assert townhall.in_room_count == 0
    services.set_head_count(session, moderator, townhall, services.HEAD_COUNT_MAX)
    assert townhall.in_room_peak == 100_000


def test_only_moderators_enter_head_counts(session, townhall, make_user):
    for role in (Role.RESIDENT, Role.OFFICIAL):
        with pytest.raises(Forbidden):
            services.set_head_count(session, make_user(role), townhall, 10)
    with pytest.raises(Unauthorized):
        services.set_head_count(session, None, townhall, 10)
    assert fresh(townhall).in_room_count is None


def test_an_ended_town_hall_keeps_its_head_count(session, make_townhall, moderator):
    ended = make_townhall(Status.ENDED)
    with pytest.raises(Closed):
        services.set_head_count(session, moderator, ended, 10)


# The head count over the socket


def test_a_correction_replaces_a_mistyped_count_and_the_peak_follows(session, townhall,
                                                                      moderator):
    services.set_head_count(session, moderator, townhall, 40)
    services.set_head_count(session, moderator, townhall, 460)  # meant 46
    assert townhall.in_room_peak == 460
    services.set_head_count(session, moderator, townhall, 46, correction=True)
    assert (townhall.in_room_count, townhall.in_room_peak) == (46, 46)
    services.set_head_count(session, moderator, townhall, 44)
    services.set_head_count(session, moderator, townhall, 43, correction=True)
    assert (townhall.in_room_count, townhall.in_room_peak) == (43, 46)
    assert services.head_counts(session, townhall) == [40, 46, 43]
    # The log keeps what was typed and what corrected it, with who did it.
    logged = session.scalars(select(ModerationEntry.action).where(
        ModerationEntry.townhall_id == townhall.id,
        ModerationEntry.action.like("head_count%")).order_by(ModerationEntry.id)).all()
    assert logged == ["head_count", "head_count", "head_count_fixed", "head_count",
                      "head_count_fixed"]
    assert services.ledger(session, townhall)["in_room_attendance"] == 46


def test_a_correction_needs_a_count_to_correct(session, townhall, moderator):
    from participation.errors import Conflict

    with pytest.raises(Conflict):
        services.set_head_count(session, moderator, townhall, 12, correction=True)
    with pytest.raises(InvalidInput):
        services.set_head_count(session, moderator, townhall, 12, correction="yes")
    assert townhall.in_room_count is None


def test_a_correction_over_the_socket_and_the_form(townhall, joined, client_as):
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    emit(moderator, "head_count", {"townhall_id": townhall.id, "count": 900})
    ack = emit(moderator, "head_count", {"townhall_id": townhall.id, "count": 90,
                                         "correction": True})
    assert (ack["in_room"], ack["in_room_peak"]) == (90, 90)
    bad = emit(moderator, "head_count", {"townhall_id": townhall.id, "count": 9,
                                         "correction": "true"})
    assert bad["error"] == "invalid" and fresh(townhall).in_room_count == 90
    http = client_as(Role.MODERATOR)
    path = f"/townhalls/{townhall.id}/moderate"
    assert 'name="correction"' in http.get(path).get_data(as_text=True)
    response = http.post(f"/townhalls/{townhall.id}/head-count",
                         data={"csrf_token": csrf_token(http, path), "count": "9",
                               "correction": "y"})
    assert response.status_code == 302
    assert (fresh(townhall).in_room_count, fresh(townhall).in_room_peak) == (9, 9)


def test_the_head_count_event_is_acked_and_the_room_hears_it(townhall, joined):
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    visitor = joined(townhall, None)
    received(visitor)
    ack = emit(moderator, "head_count", {"townhall_id": townhall.id, "count": 87})
    assert ack == {"ok": True, "townhall_id": townhall.id, "in_room": 87, "in_room_peak": 87}
    [(name, data)] = received(visitor, "townhall")
    assert (data["in_room"], data["in_room_peak"], data["status"]) == (87, 87, "live")
    assert data["seq"] == services.sequence_number(db.session, townhall)
    assert fresh(townhall).in_room_count == 87
    # A page that reconnects gets it replayed.
    late = joined(townhall, None, since=data["seq"] - 1)
    assert [e["data"]["in_room"] for e in late.join_ack["events"]
            if e["event"] == "townhall"] == [87]


@pytest.mark.parametrize("payload", [
    {"count": 5}, {"townhall_id": "1", "count": 5}, {"townhall_id": 1},
    {"townhall_id": 1, "count": -5}, {"townhall_id": 1, "count": 100_001},
    {"townhall_id": 1, "count": "12"}, {"townhall_id": 1, "count": 12.5},
    {"townhall_id": 1, "count": True}, {"townhall_id": 1, "count": None},
])
def test_bad_head_count_payloads_get_an_error_ack_and_change_nothing(townhall, joined, payload):
    assert townhall.id == 1
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    before = event_count()
    ack = emit(moderator, "head_count", payload)
    assert ack["ok"] is False and ack["error"] == "invalid", ack
    assert ack["message"] and "Traceback" not in ack["message"]
    assert fresh(townhall).in_room_count is None
    assert event_count() == before


def test_residents_and_visitors_cannot_enter_head_counts(townhall, joined, make_townhall):
    resident = joined(townhall, Role.RESIDENT)
    assert emit(resident, "head_count", {"townhall_id": townhall.id,
                                         "count": 5})["error"] == "forbidden"
    visitor = joined(townhall, None)
    assert emit(visitor, "head_count", {"townhall_id": townhall.id,
                                        "count": 5})["error"] == "unauthorized"
    moderator = joined(townhall, Role.MODERATOR, moderator=True)
    assert emit(moderator, "head_count", {"townhall_id": townhall.id + 50,
                                          "count": 5})["error"] == "not_found"
    ended = make_townhall(Status.ENDED)
    assert emit(moderator, "head_count", {"townhall_id": ended.id,
                                          "count": 5})["error"] == "closed"
    assert fresh(townhall).in_room_count is None


# The head count through the console's plain form


def test_the_console_form_enters_the_head_count(client_as, townhall):
    http = client_as(Role.MODERATOR)
    path = f"/townhalls/{townhall.id}/moderate"
    console = http.get(path).get_data(as_text=True)
    assert 'id="head-count-form"' in console and 'for="count"' in console
    response = http.post(f"/townhalls/{townhall.id}/head-count",
                         data={"csrf_token": csrf_token(http, path), "count": "120"})
    assert response.status_code == 302 and response.location.endswith(path)
    assert fresh(townhall).in_room_count == 120
    console = http.get(path).get_data(as_text=True)
    assert "Head count entered: 120 in the room." in console
    assert "In the room (highest head count)" in console


@pytest.mark.parametrize(("value", "message"), [
    ("abc", "Not a valid integer value."), ("-4", "The head count must be between 0 and"),
    ("100001", "The head count must be between 0 and"), ("", "This field is required."),
    ("2.5", "Not a valid integer value."),
])
def test_the_console_form_refuses_bad_head_counts(client_as, townhall, value, message):
    http = client_as(Role.MODERATOR)
    path = f"/townhalls/{townhall.id}/moderate"
    response = http.post(f"/townhalls/{townhall.id}/head-count",
                         data={"csrf_token": csrf_token(http, path), "count": value})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and 'aria-invalid="true"' in html
    assert fresh(townhall).in_room_count is None


def test_residents_and_visitors_cannot_post_head_counts(client_as, client, townhall):
    resident = client_as(Role.RESIDENT)
    token = csrf_token(resident, f"/townhalls/{townhall.id}")
    assert resident.post(f"/townhalls/{townhall.id}/head-count",
                         data={"csrf_token": token, "count": "5"}).status_code == 403
    refused = client.post(f"/townhalls/{townhall.id}/head-count",
                          data={"csrf_token": csrf_token(client, "/login"), "count": "5"})
    assert refused.status_code == 302 and "/login" in refused.location
    assert fresh(townhall).in_room_count is None


def test_the_demo_has_head_counts_and_an_online_peak(session):
    from participation.demo import seed_demo

    seed_demo(session, password="demo password 123")
    live = session.scalar(select(TownHall).where(TownHall.status == Status.LIVE))
    assert (live.in_room_count, live.in_room_peak) == (46, 46)
    ended = session.scalar(select(TownHall).where(TownHall.status == Status.ENDED))
    ledger = services.ledger(session, ended)
    assert (ledger["in_room_attendance"], ledger["online_watchers_peak"]) == (31, 64)


# The peak of online watchers


def test_joins_record_the_peak_of_online_watchers(townhall, joined):
    first, second, third = (joined(townhall, None) for _ in range(3))
    assert fresh(townhall).peak_online == 3
    third.disconnect("/townhall")
    joined(townhall, None)
    assert fresh(townhall).peak_online == 3
    joined(townhall, None)
    assert fresh(townhall).peak_online == 4
    assert services.ledger(db.session, fresh(townhall))["online_watchers_peak"] == 4


def test_a_join_below_the_peak_writes_nothing(townhall, joined):
    watchers = [joined(townhall, None) for _ in range(2)]
    watchers[0].disconnect("/townhall")
    writes = []

    def count_updates(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE TOWNHALLS"):
            writes.append(statement)

    event.listen(db.engine, "before_cursor_execute", count_updates)
    try:
        joined(townhall, None)
    finally:
        event.remove(db.engine, "before_cursor_execute", count_updates)
    assert writes == []
    assert fresh(townhall).peak_online == 2


def test_watchers_of_an_ended_town_hall_do_not_raise_its_peak(make_townhall, joined):
    ended = make_townhall(Status.ENDED)
    joined(ended, None)
    assert fresh(ended).peak_online == 0


def test_a_join_storm_writes_the_peak_once_per_interval(app, townhall):
    """With batching on (as in production), new peaks wait for one write of the highest."""
    app.config["PRESENCE_INTERVAL"] = 0.05
    writes = []

    def count_updates(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE TOWNHALLS"):
            writes.append(statement)

    event.listen(db.engine, "before_cursor_execute", count_updates)
    try:
        for watching in range(1, 30):
            townhall_events._note_online_peak(townhall.id, watching)
        deadline = time.monotonic() + 10
        while fresh(townhall).peak_online != 29 and time.monotonic() < deadline:
            db.session.rollback()  # a new read transaction sees the other thread's commit
            time.sleep(0.01)
    finally:
        event.remove(db.engine, "before_cursor_execute", count_updates)
    assert fresh(townhall).peak_online == 29
    assert len(writes) == 1


# The ledger and the transcript show both


def test_the_transcript_and_the_api_show_online_and_in_room_attendance(client, session,
                                                                       townhall, moderator,
                                                                       official):
    services.set_head_count(session, moderator, townhall, 1234)
    services.record_online_peak(session, townhall.id, 5678)
    session.commit()
    html = client.get(f"/townhalls/{townhall.id}/transcript").get_data(as_text=True)
    assert "Watching online (most at once)" in html and "5,678" in html
    assert "In the room (highest head count)" in html and "1,234" in html
    ledger = client.get(f"/api/v1/townhalls/{townhall.id}").get_json()["ledger"]
    assert (ledger["online_watchers_peak"], ledger["in_room_attendance"]) == (5678, 1234)
    live = client.get(f"/townhalls/{townhall.id}").get_data(as_text=True)
    assert 'id="in-room-count">1,234<' in live
    projector = client.get(f"/townhalls/{townhall.id}/projector").get_data(as_text=True)
    assert "In the room: 1,234" in projector


def test_a_town_hall_nobody_counted_says_so(client, make_townhall):
    ended = make_townhall(Status.ENDED)
    html = client.get(f"/townhalls/{ended.id}/transcript").get_data(as_text=True)
    assert "not counted" in html
    assert 'id="in-room" hidden' in client.get(f"/townhalls/{ended.id}").get_data(as_text=True)


def test_the_transcript_comes_in_spanish(client, session, townhall, moderator):
    services.set_head_count(session, moderator, townhall, 1500)
    session.commit()
    html = client.get(f"/townhalls/{townhall.id}/transcript",
                      headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "En la sala (el recuento más alto)" in html and "1500" in html.replace(".", "")


# Edits are live


def edit(townhall, **changes):
    values = {name: getattr(townhall, name) for name in services.EDITABLE_FIELDS}
    values.update(changes)
    return values


def test_an_edit_reaches_open_pages_and_is_replayed(session, townhall, official, joined):
    visitor = joined(townhall, None)
    seq_before = visitor.join_ack["seq"]
    received(visitor)
    new_start = townhall.starts_at + timedelta(minutes=15)
    services.update_townhall(session, official, townhall, **edit(
        townhall, title="Budget town hall (moved)", description="Now in **room 2**",
        starts_at=new_start))
    from participation.realtime.outbox import commit_and_emit
    commit_and_emit(session)
    [(name, data)] = received(visitor, "townhall")
    assert data["title"] == "Budget town hall (moved)"
    assert data["edited"] == ["title", "description", "starts_at"]
    assert "<strong>room 2</strong>" in data["description_html"]
    assert data["starts_at"] == new_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert data["status"] == "live" and "highlighted_id" in data
    late = joined(townhall, None, since=seq_before)
    [replayed] = [e["data"] for e in late.join_ack["events"] if e["event"] == "townhall"]
    assert replayed["title"] == "Budget town hall (moved)"
    assert replayed["description_html"] == data["description_html"]


def test_the_edit_form_pushes_the_change_to_the_room(client_as, townhall, joined):
    visitor = joined(townhall, None)
    received(visitor)
    http = client_as(Role.OFFICIAL)
    path = f"/townhalls/{townhall.id}/edit"
    form = {"csrf_token": csrf_token(http, path), "title": "Corrected title",
            "description": townhall.description,
            "starts_at": townhall.starts_at.strftime("%Y-%m-%dT%H:%M:%S"),
            "ends_at": townhall.ends_at.strftime("%Y-%m-%dT%H:%M:%S"),
            "question_max_length": str(townhall.question_max_length), "allow_anonymous": "y"}
    assert http.post(path, data=form).status_code == 302
    [(name, data)] = received(visitor, "townhall")
    assert data["title"] == "Corrected title" and data["edited"] == ["title"]
    # The live page's markup that the script updates.
    live = http.get(f"/townhalls/{townhall.id}").get_data(as_text=True)
    assert "data-townhall-title>Corrected title<" in live
    assert "data-when" in live and "data-starts" in live and 'id="townhall-description"' in live
