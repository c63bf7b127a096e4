"""Who hears of a decision: everyone who took part in what it rests on, once, never the official
who publishes it; and the official behind a commitment, before it is due and once it is late."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from participation.db import utcnow
from participation.decisions import services
from participation.decisions.models import CommitmentNotice
from participation.extensions import db
from participation.forums import services as forums
from participation.polls import services as polls
from participation.realtime.outbox import take_events
from participation.security.permissions import Role
from participation.townhall import services as townhalls
from participation.townhall.models import Status
from tests.concurrency import at_once
from tests.decisions.conftest import draft
from tests.notices import recipients, spy_on_notify, stored


@pytest.fixture
def told(monkeypatch):
    return spy_on_notify(monkeypatch)


@pytest.fixture
def evidence(session, official, make_user):
    """A closed poll, an ended town hall and a thread, with who took part in each."""
    moderator = make_user(Role.MODERATOR)
    people = {name: make_user(name=name.capitalize()) for name in
              ("voter", "asker", "anonymous", "poster", "deleted", "everywhere", "upvoter",
               "bystander")}
    topic = forums.create_topic(session, official, title="Main Street")
    poll = polls.create_poll(session, official, question="Cycle lanes?", options=["Yes", "No"],
                             kind="single", results_mode="live",
                             opens_at=utcnow() - timedelta(hours=1), topic_id=topic.id)
    session.flush()
    for voter in (people["voter"], people["everywhere"], official):
        polls.cast_ballot(session, voter, poll.id, [poll.options[0].id])
    poll.closes_at = utcnow() - timedelta(seconds=1)

    now = utcnow()
    townhall = townhalls.create_townhall(session, official, title="Main Street hall",
                                         starts_at=now - timedelta(hours=2),
                                         ends_at=now - timedelta(hours=1))
    townhalls.set_status(session, official, townhall, Status.LIVE)
    asked = townhalls.ask_question(session, people["asker"], townhall,
                                   text="Will deliveries still stop?")
    townhalls.ask_question(session, people["anonymous"], townhall, text="Who pays for it?",
                           anonymous=True)
    townhalls.ask_question(session, people["everywhere"], townhall, text="And the trees?")
    townhalls.approve_question(session, moderator, asked)
    townhalls.set_upvote(session, people["upvoter"], asked, True)
    townhalls.set_status(session, official, townhall, Status.ENDED)

    thread = forums.start_thread(session, people["poster"], topic, title="Lanes: yes or no?",
                                 body="I cycle to work.")
    forums.reply_to_thread(session, people["everywhere"], thread, body="Me too.")
    withdrawn = forums.reply_to_thread(session, people["deleted"], thread, body="Oops.")
    forums.delete_post(session, people["deleted"], withdrawn)
    session.commit()
    take_events(session)
    links = [("poll", poll.id), ("townhall", townhall.id), ("thread", thread.id)]
    return people, links


def test_participants_are_found_in_one_query_and_counted_once(session, evidence, official):
    people, links = evidence
    found = services.participant_ids(session, links)
    assert found == {people[name].id for name in ("voter", "asker", "anonymous", "poster",
                                                  "everywhere")} | {official.id}
    assert services.participant_ids(session, []) == set()
    assert services.participant_ids(session, links[:1]) == {
        people["voter"].id, people["everywhere"].id, official.id}


def test_a_published_decision_reaches_those_who_took_part_once_and_not_its_official(
        session, evidence, official, told):
    people, links = evidence
    told.clear()
    record = services.publish_decision(session, official, draft(links=links))
    session.commit()
    expected = sorted(people[name].id for name in ("voter", "asker", "anonymous", "poster",
                                                   "everywhere"))
    assert recipients(told, "decision_published") == expected
    assert official.id not in {t.user_id for t in told}
    notice = next(t for t in told if t.kind == "decision_published")
    assert notice.link == f"/decisions/{record.seq}"
    assert notice.subject_ref == f"decision:{record.seq}"
    assert record.title in notice.message
    assert len(stored("decision_published")) == len(expected)


def test_closing_a_commitment_tells_the_same_people(session, evidence, official, make_user,
                                                     told):
    people, links = evidence
    promising = services.publish_decision(
        session, official, draft(links=links, commitments=[
            (utcnow().date() + timedelta(days=30), "Publish the delivery plan")]))
    session.commit()
    told.clear()
    other_official = make_user(Role.OFFICIAL)
    commitment = promising.commitments[0]
    answer = services.publish_decision(session, other_official,
                                       draft(title="The delivery plan", closes=[commitment.id]))
    session.commit()
    # The answering record links nothing itself: only the commitment's people hear of it.
    assert recipients(told, "decision_published") == []
    assert recipients(told, "commitment_closed") == sorted(
        [people[name].id for name in ("voter", "asker", "anonymous", "poster", "everywhere")]
        + [official.id])
    notice = next(t for t in told if t.kind == "commitment_closed")
    assert notice.subject_ref == f"commitment:{commitment.id}"
    assert notice.link == f"/decisions/{answer.seq}"
    assert "Publish the delivery plan" in notice.message
    assert other_official.id not in {t.user_id for t in told}


def _at(day, hour=6):
    return datetime.combine(day, time(hour), tzinfo=UTC)


def test_the_official_is_reminded_a_week_before_and_once_overdue(session, publish, official,
                                                                  make_user, told):
    today = utcnow().date()
    due = today + timedelta(days=10)
    record = publish(commitments=[(due, "Answer the parking question"),
                                  (today + timedelta(days=40), "Later")])
    other = make_user(Role.OFFICIAL)
    answered = publish(actor=other, title="Answered at once",
                       commitments=[(due, "Closed before its date")])
    publish(actor=other, title="The answer", closes=[answered.commitments[0].id])
    told.clear()
    assert services.send_commitment_reminders(session, now=_at(due - timedelta(days=8))) == 0
    assert services.send_commitment_reminders(session, now=_at(due - timedelta(days=7))) == 1
    session.commit()
    assert services.send_commitment_reminders(session, now=_at(due - timedelta(days=3))) == 0
    assert services.send_commitment_reminders(session, now=_at(due)) == 0
    assert services.send_commitment_reminders(session, now=_at(due + timedelta(days=1))) == 1
    session.commit()
    assert services.send_commitment_reminders(session, now=_at(due + timedelta(days=2))) == 0
    assert [(t.user_id, t.kind) for t in told] == [(official.id, "commitment_due"),
                                                    (official.id, "commitment_overdue")]
    first = record.commitments[0]
    assert {t.subject_ref for t in told} == {f"commitment:{first.id}"}
    assert "Answer the parking question" in told[0].message
    assert other.id not in {t.user_id for t in told}


def test_a_commitment_answered_in_time_is_never_overdue(session, publish, official, told):
    due = utcnow().date() + timedelta(days=3)
    record = publish(commitments=[(due, "Quick answer")])
    publish(title="Answer", closes=[record.commitments[0].id])
    told.clear()
    assert services.send_commitment_reminders(session, now=_at(due + timedelta(days=1))) == 0
    assert told == []


def test_two_workers_send_each_commitment_reminder_once(app, session, publish):
    due = utcnow().date() + timedelta(days=2)
    publish(commitments=[(due, "One"), (due, "Two")])
    session.rollback()  # the test's own transaction would hold SQLite's write lock
    counts = at_once(app, lambda: services.send_commitment_reminders(db.session, now=_at(due)))
    assert sorted(counts) == [0, 2]
    assert db.session.query(CommitmentNotice).count() == 2
    assert len(stored("commitment_due")) == 2


def test_the_daily_job_sends_the_reminders_due_today_once(session, publish, official, told):
    from participation.decisions import tasks

    publish(commitments=[(utcnow().date() + timedelta(days=5), "Soon")])
    session.rollback()
    assert tasks.remind_commitments.call_local() == 1
    assert tasks.remind_commitments.call_local() == 0
    assert [n.user_id for n in stored("commitment_due")] == [official.id]
