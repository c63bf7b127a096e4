"""Publishing: who may, what is frozen, how the chain grows, and what the database refuses."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from participation.db import utcnow
from participation.decisions import services
from participation.decisions.chain import GENESIS_HASH, canonical_json, record_hash
from participation.decisions.models import APPEND_ONLY_TABLES, DecisionRecord
from participation.decisions.verify import verify_export
from participation.errors import (
    Closed,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TextTooComplex,
    Unauthorized,
)
from participation.extensions import db
from participation.security.permissions import Role
from tests.decisions.conftest import draft
from tests.forums.xss_corpus import XSS_PAYLOADS, unsafe_parts
from tests.security.pathological import wide_table


def record_count() -> int:
    return db.session.scalar(select(func.count()).select_from(DecisionRecord)) or 0


def test_records_chain_from_sixty_four_zeros_with_gapless_numbers(publish):
    first, second, third = publish(), publish(title="Second"), publish(title="Third")
    assert [r.seq for r in (first, second, third)] == [1, 2, 3]
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    for record in (first, second, third):
        assert record.hash == record_hash(record.prev_hash, record.canonical)
        assert canonical_json(record.content) == record.canonical
        assert record.content["seq"] == record.seq


def test_the_record_carries_what_was_decided_and_by_whom(publish, official):
    record = publish(decision_text="Open until 21:00 on weekdays", outcome="adopted")
    content = record.content
    assert content["title"] == "Extend the Riverside library hours"
    assert content["decision"] == {"outcome": "adopted", "text": "Open until 21:00 on weekdays"}
    assert content["department"] == "Libraries"
    assert content["published_by"] == {"id": official.id, "name": "Olivia Official"}
    assert content["published_at"].endswith("Z") and content["amends"] is None
    assert "<strong>Evening hours</strong>" in record.summary_html


@pytest.mark.parametrize("role", [Role.RESIDENT, Role.MODERATOR])
def test_residents_and_moderators_cannot_publish(make_user, role):
    with pytest.raises(Forbidden):
        services.publish_decision(db.session, make_user(role), draft())
    db.session.rollback()
    assert record_count() == 0


def test_visitors_cannot_publish(app):
    from flask_login import AnonymousUserMixin

    with pytest.raises(Unauthorized):
        services.publish_decision(db.session, AnonymousUserMixin(), draft())
    assert record_count() == 0


def test_admins_may_publish(make_user, publish):
    assert publish(actor=make_user(Role.ADMIN)).seq == 1


def test_amending_a_record_that_does_not_exist_is_refused(official):
    with pytest.raises(NotFound) as caught:
        services.publish_decision(db.session, official, draft(amends=7))
    assert caught.value.field == "amends"
    db.session.rollback()
    assert record_count() == 0


def test_an_amendment_is_a_new_record_and_the_original_lists_it(publish):
    original = publish()
    correction = publish(title="Correction: hours start in April", amends=original.seq)
    assert correction.seq == 2 and correction.amends_seq == 1
    assert correction.content["amends"] == 1
    assert [r.seq for r in services.amendments_of(db.session, original)] == [2]
    assert original.content["title"] == "Extend the Riverside library hours"


@pytest.mark.parametrize(("fields", "field"), [
    ({"title": "  "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"summary": ""}, "summary"),
    ({"outcome": "maybe"}, "outcome"),
    ({"outcome": "other", "decision_text": ""}, "decision_text"),
    ({"department": ""}, "department"),
])
def test_incomplete_drafts_are_refused_naming_the_field(official, fields, field):
    with pytest.raises(InvalidInput) as caught:
        services.publish_decision(db.session, official, draft(**fields))
    assert caught.value.field == field
    db.session.rollback()
    assert record_count() == 0


def test_links_to_unknown_private_or_open_items_are_refused(official, fake_evidence):
    fake_evidence.add("thread", 1)
    fake_evidence.refuse("thread", 2, NotFound())  # a hidden thread looks exactly like none
    fake_evidence.refuse("poll", 3, Closed("the poll is still open"))
    cases = [([("thread", 9)], NotFound, "Forum thread 9 does not exist or is not public"),
             ([("thread", 1), ("thread", 2)], NotFound, "Forum thread 2"),
             ([("poll", 3)], Closed, "still open"),
             ([("thread", 0)], InvalidInput, "not a valid id"),
             ([("petition", 1)], InvalidInput, "cannot link")]
    for links, error, message in cases:
        with pytest.raises(error, match=message) as caught:
            services.publish_decision(db.session, official, draft(links=links))
        assert caught.value.field == "links"
        db.session.rollback()
    assert record_count() == 0


def test_links_are_frozen_into_the_record_with_participation_figures(publish, fake_evidence):
    fake_evidence.add("poll", 4, title="Which evenings?", snapshot={"turnout": 3},
                      participants=frozenset({1, 2, 3}), ballots=3, townhall_id=8)
    fake_evidence.add("townhall", 8, title="Library town hall", snapshot={"questions": []},
                      participants=frozenset({2, 3, 4, 5}), questions_asked=5,
                      questions_answered=3, answer_seconds=(600, 60, 120),
                      online_watchers_peak=40, in_room_attendance=25)
    fake_evidence.add("townhall", 9, title="Second town hall", snapshot={"questions": []},
                      online_watchers_peak=12)
    fake_evidence.add("thread", 2, title="Library hours", snapshot={"post_count": 7},
                      participants=frozenset({5, 6}), topic_id=3)
    record = publish(links=[("thread", 2), ("poll", 4), ("townhall", 8), ("poll", 4),
                            ("townhall", 9)])
    content = record.content
    assert [(link["kind"], link["id"]) for link in content["links"]] == [
        ("poll", 4), ("thread", 2), ("townhall", 8), ("townhall", 9)]
    assert content["links"][0]["snapshot"] == {"turnout": 3}
    # Attendance adds up over the linked town halls; the second one's room was not counted.
    assert content["figures"] == {"distinct_participants": 6, "questions_asked": 5,
                                  "questions_answered": 3, "median_seconds_to_answer": 120,
                                  "poll_turnout": 3, "online_watchers_peak": 52,
                                  "in_room_attendance": 25}
    assert [(link.kind, link.target_id) for link in record.links] == [
        ("poll", 4), ("thread", 2), ("townhall", 8), ("townhall", 9)]


def test_list_filters_by_topic_town_hall_outcome_and_date(publish, fake_evidence):
    fake_evidence.add("thread", 1, topic_id=10)
    fake_evidence.add("townhall", 2, townhall_id=2)
    a = publish(links=[("thread", 1)], outcome="adopted")
    b = publish(links=[("townhall", 2)], outcome="rejected")
    c = publish(outcome="deferred")

    def seqs(**kw):
        return [r.seq for r in services.list_records(db.session, services.RecordFilter(**kw))[0]]

    assert seqs() == [c.seq, b.seq, a.seq]
    assert seqs(topic_id=10) == [a.seq]
    assert seqs(townhall_id=2) == [b.seq]
    assert seqs(outcome="deferred") == [c.seq]
    today = utcnow().date()
    assert seqs(since=today, until=today) == [3, 2, 1]
    assert seqs(since=today + timedelta(days=1)) == []
    assert seqs(until=today - timedelta(days=1)) == []


def test_preview_digest_must_match_what_is_published(official, fake_evidence):
    fake_evidence.add("thread", 1, snapshot={"post_count": 3})
    prepared = services.prepare_decision(db.session, official, draft(links=[("thread", 1)]))
    fake_evidence.add("thread", 1, snapshot={"post_count": 4})  # someone posted meanwhile
    with pytest.raises(Conflict):
        services.publish_decision(db.session, official, draft(links=[("thread", 1)]),
                                  expected_digest=prepared.digest)
    db.session.rollback()
    assert record_count() == 0
    again = services.prepare_decision(db.session, official, draft(links=[("thread", 1)]))
    record = services.publish_decision(db.session, official, draft(links=[("thread", 1)]),
                                       expected_digest=again.digest)
    assert record.content["links"][0]["snapshot"] == {"post_count": 4}


def test_commitments_are_open_then_overdue_then_closed_by_a_new_record(publish, official):
    today = utcnow().date()
    promising = publish(commitments=[(today + timedelta(days=14), "Answer the parking question"),
                                     (today, "Publish the budget table")])
    assert promising.content["commitments"] == [
        {"number": 1, "due": (today + timedelta(days=14)).isoformat(),
         "promise": "Answer the parking question"},
        {"number": 2, "due": today.isoformat(), "promise": "Publish the budget table"}]
    later = services.list_commitments(db.session, today=today + timedelta(days=1))
    assert [(v.commitment.number, v.overdue, v.closed_by) for v in later] == [
        (2, True, None), (1, False, None)]
    budget = later[0].commitment
    answer = publish(title="Budget table", closes=[budget.id])
    assert answer.content["closes"] == [{"record": promising.seq, "commitment": 2}]
    after = services.list_commitments(db.session, today=today + timedelta(days=1))
    assert [(v.commitment.number, v.overdue, v.closed_by) for v in after] == [
        (2, False, answer.seq), (1, False, None)]
    with pytest.raises(Conflict):
        services.publish_decision(db.session, official, draft(closes=[budget.id]))
    db.session.rollback()
    with pytest.raises(NotFound):
        services.publish_decision(db.session, official, draft(closes=[999]))
    db.session.rollback()
    assert record_count() == 2


def test_commitments_due_in_the_past_or_empty_are_refused(official):
    yesterday = utcnow().date() - timedelta(days=1)
    for commitments in ([(yesterday, "Too late")], [(utcnow().date(), "  ")]):
        with pytest.raises(InvalidInput) as caught:
            services.publish_decision(db.session, official, draft(commitments=commitments))
        assert caught.value.field == "commitments"
        db.session.rollback()
    assert record_count() == 0


def test_a_record_published_at_an_earlier_moment_takes_due_dates_from_its_own_day(official):
    """The demo publishes records weeks back; their commitments are checked against that day."""
    earlier = utcnow() - timedelta(days=30)
    record = services.publish_decision(
        db.session, official, draft(commitments=[(earlier.date(), "Due the day it was made")]),
        now=earlier)
    db.session.commit()
    assert record.commitments[0].due_on == earlier.date() < utcnow().date()
    with pytest.raises(InvalidInput) as caught:
        services.publish_decision(
            db.session, official,
            draft(commitments=[(earlier.date() - timedelta(days=1), "Before its record")]),
            now=earlier)
    assert caught.value.field == "commitments"
    db.session.rollback()
    assert record_count() == 1

def test_hostile_summaries_from_the_xss_corpus_are_stored_inert(publish):
    for payload in XSS_PAYLOADS:
        record = publish(summary=f"Intro\n\n{payload}\n\nEnd", title=f"Title {payload}")
        assert unsafe_parts(record.summary_html) == [], (payload, record.summary_html)
        assert record.content["summary"].endswith("End")
    assert record_count() == len(XSS_PAYLOADS)


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_the_database_refuses_updates_and_deletes_of_published_records(publish, fake_evidence,
                                                                       official, table):
    fake_evidence.add("thread", 1)
    record = publish(links=[("thread", 1)],
                     commitments=[(utcnow().date(), "Reply in writing"),
                                  (utcnow().date(), "Report on progress")])
    publish(title="Answer", closes=[record.commitments[0].id])
    services.post_commitment_update(db.session, official, record.commitments[1].id,
                                    status="on_track", note="Begun", percent=10,
                                    department="Libraries")
    db.session.commit()
    column = {"decision_records": "title", "decision_links": "label",
              "decision_commitments": "promise", "decision_closures": "record_id",
              "decision_commitment_updates": "note"}[table]
    value = "1" if column == "record_id" else "'changed'"
    for statement in (f"UPDATE {table} SET {column} = {value}",  # noqa: S608 - fixed names
                      f"DELETE FROM {table}"):  # noqa: S608
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    assert db.session.scalar(text(f"SELECT count(*) FROM {table}")) >= 1  # noqa: S608


def test_editing_a_record_through_the_orm_is_refused_too(publish):
    record = publish()
    record.title = "Quietly changed"
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    assert services.get_record(db.session, 1).title == "Extend the Riverside library hours"


def test_concurrent_publishes_never_fork_or_skip(app, official):
    """Officials publishing at the same moment get consecutive numbers on one chain."""
    errors: list[BaseException] = []
    official_id = official.id
    db.session.rollback()  # SQLite: let go of the write lock BEGIN IMMEDIATE took for that read
    barrier = threading.Barrier(4)

    def publish_one(n: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                actor = db.session.get(type(official), official_id)
                services.publish_decision(db.session, actor, draft(title=f"Parallel {n}"))
                db.session.commit()
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=publish_one, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    db.session.expire_all()
    export = services.export_chain(db.session)
    assert [entry["seq"] for entry in export["records"]] == [1, 2, 3, 4]
    assert verify_export(export).ok


def test_a_too_complex_summary_is_refused_at_the_preview(official):
    with pytest.raises(TextTooComplex) as refused:
        services.prepare_decision(db.session, official, draft(summary=wide_table(9_910)))
    assert refused.value.field == "summary"
    assert db.session.scalar(select(func.count()).select_from(DecisionRecord)) == 0
