"""A decision record that links a town hall freezes who was there (the peak of online watchers
and the in-room head count), and a chain holding records from before these figures verifies."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from participation.db import utcnow
from participation.decisions import services
from participation.decisions.verify import main as verify_main
from participation.decisions.verify import verify_export
from participation.extensions import db
from participation.realtime.outbox import take_events
from participation.security.permissions import Role
from participation.townhall import services as townhalls
from participation.townhall.models import Status
from tests.decisions.conftest import draft


@pytest.fixture
def moderator(make_user):
    return make_user(Role.MODERATOR)


def held_townhall(official, moderator, *, in_room=(), online=0, title="Library hours"):
    now = utcnow()
    townhall = townhalls.create_townhall(db.session, official, title=title,
                                         starts_at=now - timedelta(hours=2),
                                         ends_at=now - timedelta(hours=1))
    townhalls.set_status(db.session, official, townhall, Status.LIVE)
    for count in in_room:
        townhalls.set_head_count(db.session, moderator, townhall, count)
    if online:
        townhalls.record_online_peak(db.session, townhall.id, online)
    townhalls.set_status(db.session, official, townhall, Status.ENDED)
    db.session.commit()
    take_events(db.session)
    db.session.refresh(townhall)
    return townhall


def test_a_record_freezes_online_and_in_room_attendance(client, official, moderator):
    first = held_townhall(official, moderator, in_room=(40, 72, 65), online=130)
    second = held_townhall(official, moderator, online=20, title="Second evening")
    record = services.publish_decision(db.session, official, draft(
        links=[("townhall", first.id), ("townhall", second.id)]))
    db.session.commit()
    snapshots = {link["id"]: link["snapshot"] for link in record.content["links"]}
    assert snapshots[first.id]["ledger"]["online_watchers_peak"] == 130
    assert snapshots[first.id]["ledger"]["in_room_attendance"] == 72
    assert snapshots[second.id]["ledger"]["in_room_attendance"] is None
    shown = client.get(f"/api/v1/townhalls/{first.id}").get_json()["ledger"]
    assert snapshots[first.id]["ledger"] == shown
    figures = record.content["figures"]
    assert (figures["online_watchers_peak"], figures["in_room_attendance"]) == (150, 72)
    page = client.get(f"/decisions/{record.seq}").get_data(as_text=True)
    assert "Watching online (most at once)" in page and "150" in page
    assert "In the room (highest head count)" in page and "72" in page
    assert "Second evening" in page and "not counted" in page  # its room was not counted
    assert verify_export(services.export_chain(db.session)).ok


def test_a_record_without_a_town_hall_has_no_attendance(official, fake_evidence):
    fake_evidence.add("thread", 2, participants=frozenset({1}))
    record = services.publish_decision(db.session, official, draft(links=[("thread", 2)]))
    figures = record.content["figures"]
    assert figures["online_watchers_peak"] is None and figures["in_room_attendance"] is None


def test_records_from_before_the_attendance_figures_still_verify(
        client, official, moderator, monkeypatch, tmp_path):
    townhall = held_townhall(official, moderator, in_room=(30,), online=44)
    figures_then, ledger_then = services.participation_figures, townhalls.ledger

    def without_attendance(found):
        found = dict(found)
        del found["online_watchers_peak"], found["in_room_attendance"]
        return found

    # What publishing froze before the head count existed: neither the ledger nor the figures
    # held attendance.
    with monkeypatch.context() as patch:
        patch.setattr(services, "participation_figures",
                      lambda evidence: without_attendance(figures_then(evidence)))
        patch.setattr(townhalls, "ledger",
                      lambda session, townhall: without_attendance(ledger_then(session,
                                                                               townhall)))
        older = services.publish_decision(db.session, official, draft(
            links=[("townhall", townhall.id)], title="Before the head count"))
        db.session.commit()
    newer = services.publish_decision(db.session, official, draft(
        links=[("townhall", townhall.id)], title="After the head count"))
    db.session.commit()
    assert "in_room_attendance" not in older.content["figures"]
    assert "in_room_attendance" not in older.content["links"][0]["snapshot"]["ledger"]
    assert newer.content["figures"]["in_room_attendance"] == 30
    export = client.get("/api/v1/decisions/export").get_json()
    assert verify_export(export).ok and export["count"] == 2
    path = tmp_path / "chain.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    assert verify_main([str(path)]) == 0
    old_page = client.get(f"/decisions/{older.seq}")
    assert old_page.status_code == 200
    assert "In the room (highest head count)" not in old_page.get_data(as_text=True)
    assert "In the room (highest head count)" in client.get(
        f"/decisions/{newer.seq}").get_data(as_text=True)
