"""A poll opening in a forum topic is told to that topic's followers, once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from participation.db import utcnow
from participation.extensions import db
from participation.forums import services as forums
from participation.notifications.services import still_visible
from participation.polls import services
from participation.polls.models import Poll
from tests.concurrency import at_once
from tests.notices import recipients, spy_on_notify, stored


@pytest.fixture
def told(monkeypatch):
    return spy_on_notify(monkeypatch)


@pytest.fixture
def followers(session, topic, make_user):
    people = [make_user(), make_user()]
    for person in people:
        forums.follow_topic(session, person, topic)
    session.commit()
    return people


def _scheduled(session, official, topic, opens_at, **fields):
    poll = services.create_poll(session, official, question="Which park first?",
                                options=["North", "South"], kind="single",
                                results_mode="live", opens_at=opens_at, topic_id=topic.id,
                                **fields)
    session.commit()
    return poll


def test_followers_hear_when_a_poll_opens_by_hand_but_not_who_opened_it(
        session, official, topic, followers, make_user, told):
    bystander = make_user()
    forums.follow_topic(session, official, topic)
    poll = _scheduled(session, official, topic, None)
    assert told == []
    services.open_poll(session, official, poll)
    session.commit()
    assert recipients(told, "poll_opened") == sorted(p.id for p in followers)
    assert bystander.id not in {t.user_id for t in told}
    notice = told[0]
    assert notice.link == f"/polls/{poll.id}" and notice.subject_ref == f"poll:{poll.id}"
    assert "Which park first?" in notice.message and topic.title in notice.message
    assert poll.announced_at is not None
    assert services.announce_opened_polls(session, now=utcnow()) == 0
    assert len(stored("poll_opened")) == 2


def test_a_poll_created_open_is_announced_at_once(session, official, topic, followers, told):
    _scheduled(session, official, topic, utcnow() - timedelta(minutes=1))
    assert recipients(told, "poll_opened") == sorted(p.id for p in followers)


def test_a_scheduled_poll_is_announced_by_the_job_once_it_opens(session, official, topic,
                                                                  followers, told):
    opens = utcnow() + timedelta(hours=2)
    poll = _scheduled(session, official, topic, opens)
    assert services.announce_opened_polls(session, now=opens - timedelta(minutes=1)) == 0
    assert services.announce_opened_polls(session, now=opens + timedelta(minutes=3)) == 2
    session.commit()
    assert services.announce_opened_polls(session, now=opens + timedelta(minutes=8)) == 0
    assert [t.subject_ref for t in told] == [f"poll:{poll.id}"] * 2


def test_town_hall_polls_and_polls_closed_before_the_job_ran_are_not_announced(
        session, official, topic, followers, live_townhall, told):
    opens = utcnow() + timedelta(hours=1)
    _scheduled(session, official, topic, opens, closes_at=opens + timedelta(minutes=2))
    services.create_poll(session, official, question="In the hall?", options=["A", "B"],
                         kind="single", results_mode="live", opens_at=utcnow(),
                         townhall_id=live_townhall.id)
    session.commit()
    assert services.announce_opened_polls(session, now=opens + timedelta(minutes=5)) == 0
    assert told == []


def test_two_workers_announce_a_poll_once(app, session, official, topic, followers):
    opens = utcnow() + timedelta(hours=1)
    _scheduled(session, official, topic, opens)
    session.rollback()  # the test's own transaction would hold SQLite's write lock
    counts = at_once(app, lambda: services.announce_opened_polls(
        db.session, now=opens + timedelta(minutes=1)))
    assert sorted(counts) == [0, 2]
    assert len(stored("poll_opened")) == 2
    assert db.session.query(Poll).one().announced_at is not None


def test_visible_poll_ids_follow_the_town_halls_rule(session, official, topic, make_townhall):
    private = make_townhall(is_public=False)
    public = _scheduled(session, official, topic, None)
    hidden = services.create_poll(session, official, question="Members only?",
                                  options=["A", "B"], kind="single", results_mode="live",
                                  townhall_id=private.id)
    session.commit()
    assert services.visible_poll_ids(session, None, [public.id, hidden.id, 99]) == {public.id}
    assert services.visible_poll_ids(session, official, [public.id, hidden.id]) == {
        public.id, hidden.id}
    assert still_visible(session, official, f"poll:{hidden.id}")
    assert not still_visible(session, official, "poll:99999")


def test_the_five_minute_job_announces_polls_that_opened(session, official, topic, followers,
                                                          told):
    from participation.polls import tasks

    poll = _scheduled(session, official, topic, utcnow() + timedelta(hours=1))
    poll.opens_at = utcnow() - timedelta(minutes=2)  # as if its time had come
    session.commit()
    session.rollback()
    assert tasks.announce_polls.call_local() == 2
    assert tasks.announce_polls.call_local() == 0
