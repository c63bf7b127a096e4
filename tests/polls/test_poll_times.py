"""A town hall poll that opens or closes by its scheduled time tells the room (`poll`), once:
a one-off job at that moment, and the job every minute as the safety net."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from participation import jobs
from participation.db import utcnow
from participation.extensions import db
from participation.forums import services as forums
from participation.polls import services, tasks
from participation.polls.models import Poll
from participation.realtime.models import Event
from participation.realtime.outbox import take_events
from tests.concurrency import at_once
from tests.polls.test_townhall_polls import emit, join, poll_events, received


def _schedule(official, *, opens_at=None, closes_at=None, townhall=None, topic=None,
              results_mode="after_close"):
    poll = services.create_poll(
        db.session, official, question="Which crossing first?",
        options=["School street", "Market road"], kind="single", results_mode=results_mode,
        opens_at=opens_at, closes_at=closes_at,
        townhall_id=townhall.id if townhall else None, topic_id=topic.id if topic else None)
    db.session.commit()
    take_events(db.session)
    return poll


def _move(poll_id, **times):
    """Move a poll's scheduled times, as if the clock had reached them."""
    db.session.rollback()
    poll = db.session.get(Poll, poll_id, populate_existing=True)
    for name, value in times.items():
        setattr(poll, name, value)
    db.session.commit()


def _announce(now, **kwargs):
    told = services.announce_poll_times(db.session, now=now, **kwargs)
    db.session.commit()
    take_events(db.session)
    return told


def _time_jobs():
    return sorted((task.args, task.eta) for task in jobs.queue.scheduled()
                  if task.name.endswith("announce_poll_time"))


def test_a_poll_opening_by_its_time_is_told_once_and_its_moments_are_scheduled(
        live_townhall, official):
    opens = utcnow() + timedelta(hours=1)
    closes = opens + timedelta(minutes=30)
    poll = _schedule(official, opens_at=opens, closes_at=closes, townhall=live_townhall)
    assert poll_events(live_townhall.id) == []
    # One job at each moment, for the consumer to run then.
    assert _time_jobs() == [((poll.id,), opens.replace(tzinfo=None)),
                            ((poll.id,), closes.replace(tzinfo=None))]

    assert _announce(opens - timedelta(seconds=1)) == 0
    assert _announce(opens + timedelta(seconds=1)) == 1
    assert _announce(opens + timedelta(seconds=2)) == 0
    (opened,) = poll_events(live_townhall.id)
    public = opened.payload["poll"]
    assert public["id"] == poll.id and public["status"] == "open"
    assert public["results"] is None  # after the close, not before
    assert opened.subject == f"poll:{poll.id}"


def test_the_job_run_twice_sends_one_poll_event_to_the_watchers(
        socket_client, client_as, live_townhall, official):
    poll = _schedule(official, opens_at=utcnow() + timedelta(hours=1), townhall=live_townhall,
                     results_mode="live")
    watcher = join(socket_client, client_as, live_townhall, None)
    _move(poll.id, opens_at=utcnow() - timedelta(seconds=5))
    db.session.rollback()  # the test's transaction would hold SQLite's write lock
    assert tasks.sweep_poll_times.call_local() == 1
    assert tasks.sweep_poll_times.call_local() == 0
    (opened,) = received(watcher, "poll")
    assert opened["poll"]["id"] == poll.id and opened["poll"]["status"] == "open"
    assert opened["poll"]["results"]["ballots"] == 0  # live results are shown while open
    assert [e.seq for e in poll_events(live_townhall.id)] == [opened["seq"]]


@pytest.mark.parametrize("mode", ["live", "after_close", "hidden"])
def test_closing_by_the_clock_tells_the_result_only_where_the_mode_allows(
        mode, live_townhall, official, resident):
    closes = utcnow() + timedelta(hours=1)
    poll = _schedule(official, opens_at=utcnow() - timedelta(minutes=1), closes_at=closes,
                     townhall=live_townhall, results_mode=mode)
    services.cast_ballot(db.session, resident, poll.id, [poll.options[1].id])
    db.session.commit()
    (opened,) = poll_events(live_townhall.id)  # created open: told at once, by hand
    assert _announce(closes - timedelta(seconds=1)) == 0

    assert _announce(closes + timedelta(seconds=1)) == 1
    assert _announce(closes + timedelta(minutes=1)) == 0
    (_, closed) = poll_events(live_townhall.id)
    public = closed.payload["poll"]
    assert public["status"] == "closed" and closed.seq > opened.seq
    if mode == "hidden":
        assert public["results"] is None
        assert "official releases" in public["results_notice"]
        # Nothing in the room's log carries the hidden count.
        logged = db.session.scalars(select(Event).where(Event.townhall_id == live_townhall.id))
        assert all(e.kind != "tally" and (e.kind != "poll" or e.payload["poll"]["results"] is None)
                   for e in logged)
    else:
        assert public["results"]["ballots"] == 1
        assert public["results_notice"] is None


def test_a_poll_that_opened_and_closed_between_two_runs_is_told_of_once_as_closed(
        live_townhall, official):
    opens = utcnow() + timedelta(hours=1)
    closes = opens + timedelta(minutes=2)
    poll = _schedule(official, opens_at=opens, closes_at=closes, townhall=live_townhall)
    assert _announce(closes + timedelta(seconds=30)) == 1
    assert _announce(closes + timedelta(minutes=1)) == 0
    (event,) = poll_events(live_townhall.id)
    assert event.payload["poll"]["id"] == poll.id
    assert event.payload["poll"]["status"] == "closed"


def test_opening_and_closing_by_hand_are_not_told_again_by_the_clock(
        live_townhall, official, make_poll):
    opens = utcnow() + timedelta(hours=1)
    closes = opens + timedelta(hours=1)
    poll = _schedule(official, opens_at=opens, closes_at=closes, townhall=live_townhall)
    created_open = make_poll("single", townhall=live_townhall)
    take_events(db.session)
    services.open_poll(db.session, official, poll)
    db.session.commit()
    assert _announce(opens + timedelta(seconds=1)) == 0
    services.close_poll(db.session, official, poll)
    db.session.commit()
    assert _announce(closes + timedelta(seconds=1)) == 0
    # The one-off jobs scheduled for the old times find the room told.
    poll_id = poll.id
    db.session.rollback()  # the test's transaction would hold SQLite's write lock
    assert tasks.announce_poll_time.call_local(poll_id) == 0
    statuses = [(e.payload["poll"]["id"], e.payload["poll"]["status"])
                for e in poll_events(live_townhall.id)]
    assert statuses == [(created_open.id, "open"), (poll.id, "open"), (poll.id, "closed")]


def test_the_one_off_job_tells_its_own_poll_at_its_moment(
        socket_client, client_as, live_townhall, official):
    closes = utcnow() + timedelta(hours=1)
    poll = _schedule(official, opens_at=utcnow() - timedelta(minutes=1), closes_at=closes,
                     townhall=live_townhall)
    other = _schedule(official, opens_at=utcnow() + timedelta(hours=1), townhall=live_townhall)
    poll_id, other_id = poll.id, other.id
    watcher = join(socket_client, client_as, live_townhall, None)
    _move(poll_id, closes_at=utcnow() - timedelta(seconds=1))
    _move(other_id, opens_at=utcnow() - timedelta(seconds=1))
    db.session.rollback()  # the test's transaction would hold SQLite's write lock
    assert tasks.announce_poll_time.call_local(poll_id) == 1
    assert tasks.announce_poll_time.call_local(poll_id) == 0
    (closed,) = received(watcher, "poll")
    assert closed["poll"]["id"] == poll_id and closed["poll"]["status"] == "closed"
    assert closed["poll"]["results"]["ballots"] == 0
    # The other poll is left to its own job (or the sweep).
    assert tasks.sweep_poll_times.call_local() == 1
    assert [m["poll"]["id"] for m in received(watcher, "poll")] == [other_id]


def test_since_replays_a_poll_told_by_the_clock(socket_client, client_as, live_townhall,
                                                official):
    opens = utcnow() + timedelta(hours=1)
    poll = _schedule(official, opens_at=opens, closes_at=opens + timedelta(hours=1),
                     townhall=live_townhall)
    seen = join(socket_client, client_as, live_townhall, None).join_ack["seq"]
    assert _announce(opens + timedelta(seconds=1)) == 1
    again = socket_client()
    ack = emit(again, "join", {"townhall_id": live_townhall.id, "since": seen})
    assert ack["ok"] and "snapshot" not in ack
    replayed = [e["data"] for e in ack["events"] if e["event"] == "poll"]
    assert [(e["poll"]["id"], e["poll"]["status"]) for e in replayed] == [(poll.id, "open")]


def test_a_forum_topics_poll_is_left_to_its_followers_notice(official, topic, make_user):
    follower = make_user()
    forums.follow_topic(db.session, follower, topic)
    db.session.commit()
    opens = utcnow() + timedelta(hours=1)
    closes = opens + timedelta(hours=1)
    poll = _schedule(official, opens_at=opens, closes_at=closes, topic=topic)
    assert _time_jobs() == []
    assert _announce(opens + timedelta(seconds=1)) == 0
    assert _announce(closes + timedelta(seconds=1)) == 0
    assert db.session.scalars(select(Event)).all() == []
    db.session.rollback()
    stored = db.session.get(Poll, poll.id, populate_existing=True)
    assert stored.announced_at is None and stored.close_announced_at is None
    # Its followers are still told by their own job.
    assert services.announce_opened_polls(db.session, now=opens + timedelta(minutes=3)) == 1


def test_two_workers_tell_the_room_once(app, live_townhall, official):
    opens = utcnow() + timedelta(hours=1)
    _schedule(official, opens_at=opens, townhall=live_townhall)
    db.session.rollback()  # the test's own transaction would hold SQLite's write lock

    def announce() -> int:
        told = services.announce_poll_times(db.session, now=opens + timedelta(seconds=1))
        take_events(db.session)  # held for emitting; this test reads the stored log
        return told

    counts = at_once(app, announce)
    assert sorted(counts) == [0, 1]
    assert len(poll_events(live_townhall.id)) == 1


def test_the_migration_counts_polls_already_past_as_told(backend, tmp_path):
    """0014 stamps the town hall polls that opened or closed before it ran, so the first sweep
    does not replay old news to the rooms; polls still ahead and forum polls are left alone."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect, text

    from participation import create_app
    from tests.conftest import base_config

    if backend != "sqlite":
        pytest.skip("the suite's PostgreSQL database is shared; run on a scratch one")
    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.db'}",
                                 INSTANCE_PATH=str(tmp_path)))
    past, ahead = "2026-01-01 10:00:00", "2999-01-01 10:00:00"
    with app.app_context():
        upgrade(revision="0013_room_counts")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO townhalls (id, title, description, description_html, starts_at, "
                "ends_at, allow_anonymous, question_max_length, is_public, status, created_at) "
                "VALUES (1, 'Old hall', '', '', :past, :past, 1, 300, 1, 'ended', :past)"),
                {"past": past})
            conn.execute(text(
                "INSERT INTO forum_topics (id, title, description, description_html, status, "
                "created_at, updated_at) VALUES (1, 'Parks', '', '', 'open', :past, :past)"),
                {"past": past})
            for poll_id, townhall_id, topic_id, opens, closes in (
                    (1, 1, None, past, past), (2, 1, None, past, ahead),
                    (3, 1, None, ahead, ahead), (4, None, 1, ahead, ahead)):
                conn.execute(text(
                    "INSERT INTO polls (id, townhall_id, topic_id, question, description, "
                    "description_html, kind, results_mode, opens_at, closes_at, draw_seed, "
                    "created_at) VALUES (:id, :townhall_id, :topic_id, 'Q?', '', '', 'single', "
                    "'live', :opens, :closes, 'seed', :past)"),
                    {"id": poll_id, "townhall_id": townhall_id, "topic_id": topic_id,
                     "opens": opens, "closes": closes, "past": past})
        upgrade()
        with db.engine.connect() as conn:
            stamps = {row[0]: (row[1], row[2]) for row in conn.execute(text(
                "SELECT id, announced_at, close_announced_at FROM polls"))}
        downgrade(revision="0013_room_counts")
        columns = {c["name"] for c in inspect(db.engine).get_columns("polls")}
        db.engine.dispose()
    assert stamps[1] == (past, past)
    assert stamps[2] == (past, None)
    assert stamps[3] == (None, None) and stamps[4] == (None, None)
    assert "close_announced_at" not in columns


@pytest.mark.server
def test_a_real_server_tells_an_open_page_within_seconds_of_the_closing_time(
        backend, live_server, tmp_path):
    """The whole way: `participation serve` with its in-process consumer runs the one-off job
    at the closing time, and a page that only listens hears `poll` closed, with no reload."""
    from participation import create_app
    from participation.accounts import services as accounts
    from participation.realtime.rooms import NAMESPACE
    from participation.security.permissions import Role
    from participation.townhall import services as townhalls
    from participation.townhall.models import Status
    from tests.conftest import PASSWORD, base_config
    from tests.watchers import Watcher, wait_for

    if backend != "sqlite":
        pytest.skip("a live server of its own, on SQLite")
    server = live_server().start()
    # Another process preparing the poll, as a web worker would: the job goes to the server's
    # queue file once the transaction commits.
    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=server.env["DATABASE_URL"],
                                 INSTANCE_PATH=str(tmp_path), QUEUE_IMMEDIATE=False,
                                 QUEUE_URL=server.env["QUEUE_URL"]))
    with app.app_context():
        official = accounts.register_user(db.session, email="chair@example.test",
                                          display_name="Chair", password=PASSWORD,
                                          role=Role.OFFICIAL, confirmed=True)
        now = utcnow()
        townhall = townhalls.create_townhall(db.session, official, title="Evening town hall",
                                             starts_at=now, ends_at=now + timedelta(hours=1))
        townhalls.set_status(db.session, official, townhall, Status.LIVE)
        db.session.commit()
        townhall_id = townhall.id
        db.session.remove()
    heard: list[dict] = []
    watcher = Watcher(server.url, townhall_id)
    watcher.client.on("poll", heard.append, namespace=NAMESPACE)
    try:
        wait_for(lambda: watcher.joins == 1, what="the page to join")
        with app.app_context():
            closes = utcnow() + timedelta(seconds=2)
            poll = services.create_poll(
                db.session, db.session.merge(official), question="Close at the bell?",
                options=["Yes", "No"], kind="single", results_mode="after_close",
                opens_at=utcnow() - timedelta(minutes=1), closes_at=closes,
                townhall_id=townhall_id)
            db.session.commit()
            poll_id = poll.id
            db.session.remove()
            db.engine.dispose()
        wait_for(lambda: [p for p in heard if p["poll"]["status"] == "closed"], timeout=15,
                 what="the poll's closing")
        arrived = utcnow()
    finally:
        watcher.client.disconnect()
    # (Its opening, recorded at the creation, stays in the log: this process has no message
    # queue to the server's sockets.)
    (closed,) = heard
    assert closed["poll"]["id"] == poll_id and closed["poll"]["status"] == "closed"
    assert closed["poll"]["results"]["ballots"] == 0
    # Seconds, not the minute of the sweep (the consumer's scheduler looks every second).
    assert (arrived - closes).total_seconds() < 10
