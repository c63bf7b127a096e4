"""The event log: sequence numbers kept in the database, replay by audience, emit after commit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from participation.db import utcnow
from participation.extensions import db
from participation.realtime import outbox
from participation.realtime import services as log
from participation.realtime.models import EventCounter
from participation.realtime.rooms import NAMESPACE
from participation.security.permissions import Role
from participation.townhall import services


@pytest.fixture
def two_townhalls(make_user):
    official = make_user(Role.OFFICIAL)
    now = utcnow()
    made = [services.create_townhall(db.session, official, title=f"Hall {n}", starts_at=now,
                                     ends_at=now + timedelta(hours=1)) for n in (1, 2)]
    db.session.commit()
    return made


def test_each_town_hall_has_its_own_gap_free_sequence(session, two_townhalls):
    first, second = two_townhalls
    seqs = [log.record_event(session, first.id, "tally", {"n": n}).seq for n in range(3)]
    other = log.record_event(session, second.id, "tally", {"n": 0}).seq
    session.commit()
    assert seqs == [1, 2, 3] and other == 1
    assert log.current_seq(session, first.id) == 3


def test_a_rolled_back_transaction_uses_no_number_and_emits_nothing(session, two_townhalls):
    first, _ = two_townhalls
    log.record_event(session, first.id, "tally", {"n": 1})
    session.rollback()
    assert outbox.take_events(session) == []
    assert log.record_event(session, first.id, "tally", {"n": 2}).seq == 1


def test_a_missing_counter_row_is_created_on_first_use(session, two_townhalls):
    first, _ = two_townhalls
    session.execute(EventCounter.__table__.delete())
    assert log.record_event(session, first.id, "tally", {}).seq == 1
    assert log.record_event(session, first.id, "tally", {}).seq == 2


def test_events_since_replays_only_the_audiences_asked_for(session, two_townhalls):
    first, _ = two_townhalls
    log.record_event(session, first.id, "question", {"q": "public"})
    log.record_event(session, first.id, "queue", {"q": "mods"}, outbox.MODERATORS)
    log.record_event(session, first.id, "question", {"q": "mine"}, outbox.user_audience(7))
    log.record_event(session, first.id, "question", {"q": "theirs"}, outbox.user_audience(8))
    session.commit()
    public = log.events_since(session, first.id, 0, [outbox.PUBLIC, outbox.user_audience(7)])
    assert [e.payload["q"] for e in public] == ["public", "mine"]
    assert log.events_since(session, first.id, 4, [outbox.PUBLIC]) == []
    assert log.events_since(session, first.id, 5, [outbox.PUBLIC]) is None
    assert [e.message() for e in log.events_since(session, first.id, 3, [outbox.user_audience(8)])
            ] == [{"q": "theirs", "townhall_id": first.id, "seq": 4}]


def test_rooms_for_each_audience(two_townhalls):
    assert outbox.room_for(5, outbox.PUBLIC) == "townhall:5"
    assert outbox.room_for(5, outbox.MODERATORS) == "townhall:5:mod"
    assert outbox.room_for(5, outbox.user_audience(9)) == "user:9"
    with pytest.raises(ValueError, match="audience"):
        outbox.room_for(5, "everyone")


def test_commit_and_emit_sends_recorded_events_to_the_room_after_the_commit(
        app, session, two_townhalls, socket_client):
    first, _ = two_townhalls
    watcher = socket_client()
    assert watcher.emit("join", {"townhall_id": first.id}, namespace=NAMESPACE,
                        callback=True)["ok"]
    watcher.get_received(NAMESPACE)
    log.record_event(session, first.id, "tally", {"poll_id": 3, "results": [1, 2]})
    # Presence counts are sent on their own schedule; only the recorded event is under test.
    assert [m for m in watcher.get_received(NAMESPACE) if m["name"] != "presence"] == []
    outbox.commit_and_emit(session)
    received = [(m["name"], m["args"][0]) for m in watcher.get_received(NAMESPACE)
                if m["name"] != "presence"]
    assert received == [("tally", {"poll_id": 3, "results": [1, 2], "townhall_id": first.id,
                                   "seq": 1})]
