"""Progress updates on commitments: posting, refusals, the state of a commitment, and the
aggregate that must agree with it."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from participation.decisions import services
from participation.decisions.chain import canonical_json, record_hash
from participation.decisions.models import CommitmentUpdate
from participation.decisions.verify import EXPORT_VERSION, verify_export
from participation.errors import Closed, Forbidden, InvalidInput, NotFound
from participation.extensions import db
from participation.security.permissions import Role

TODAY = datetime.now(UTC).date()


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def post(official, commitment, status="on_track", note="Work has started", percent=None,
         when=None, department="Libraries"):
    update = services.post_commitment_update(
        db.session, official, commitment.id, status=status, note=note, percent=percent,
        department=department, now=at(when or TODAY))
    db.session.commit()
    return update


def updates_count() -> int:
    return db.session.scalar(select(func.count()).select_from(CommitmentUpdate))


@pytest.fixture
def commitment(publish):
    record = publish(commitments=[(TODAY + timedelta(days=10), "Answer the parking question")])
    return record.commitments[0]


def test_an_official_posts_progress(official, commitment):
    update = post(official, commitment, percent="40")
    assert (update.status, update.note, update.percent, update.department) == \
        ("on_track", "Work has started", 40, "Libraries")
    assert services.commitment_state(commitment, TODAY) == "on_track"


@pytest.mark.parametrize("fields, error", [
    ({"status": "finished"}, InvalidInput),
    ({"note": "   "}, InvalidInput),
    ({"note": "x" * 501}, InvalidInput),
    ({"percent": "101"}, InvalidInput),
    ({"percent": "-1"}, InvalidInput),
    ({"percent": "4.5"}, InvalidInput),
    ({"percent": "lots"}, InvalidInput),
])
def test_bad_input_changes_nothing(official, commitment, fields, error):
    with pytest.raises(error):
        post(official, commitment, **fields)
    db.session.rollback()
    assert updates_count() == 0


def test_a_resident_may_not_post(make_user, commitment):
    with pytest.raises(Forbidden):
        post(make_user(Role.RESIDENT), commitment)
    db.session.rollback()
    assert updates_count() == 0


def test_unknown_commitment(official):
    with pytest.raises(NotFound):
        services.post_commitment_update(db.session, official, 999, status="done", note="x",
                                        percent=None, department="Libraries")


@pytest.mark.parametrize("status", ["done", "dropped"])
def test_a_closed_commitment_takes_no_update(official, commitment, status):
    post(official, commitment, status=status)
    with pytest.raises(Closed):
        post(official, commitment)
    db.session.rollback()
    assert updates_count() == 1


def test_a_closure_record_closes_it(official, publish, commitment):
    publish(title="The answer", closes=[commitment.id])
    db.session.refresh(commitment)
    with pytest.raises(Closed):
        post(official, commitment)
    db.session.rollback()
    assert services.commitment_state(commitment, TODAY) == "done_on_time"


def test_states_over_time(official, commitment):
    due = commitment.due_on
    assert services.commitment_state(commitment, TODAY) == "open"
    assert services.commitment_state(commitment, due + timedelta(days=1)) == "overdue"
    post(official, commitment, status="delayed", when=due - timedelta(days=2))
    assert services.commitment_state(commitment, due) == "delayed"
    post(official, commitment, status="on_track", when=due + timedelta(days=3))
    # An on_track after the due date does not stop it being overdue.
    assert services.commitment_state(commitment, due + timedelta(days=4)) == "overdue"
    post(official, commitment, status="done", when=due + timedelta(days=5))
    assert services.commitment_state(commitment, due + timedelta(days=4)) == "overdue"
    assert services.commitment_state(commitment, due + timedelta(days=5)) == "done_late"


def test_done_on_the_due_date_is_on_time(official, commitment):
    post(official, commitment, status="done", when=commitment.due_on)
    assert services.commitment_state(commitment, commitment.due_on + timedelta(days=30)) \
        == "done_on_time"


def test_the_aggregate_equals_the_state_of_each(official, publish):
    rng = random.Random(19)
    commitments = []
    for index in range(6):
        record = publish(title=f"Record {index}", department=rng.choice(["Libraries", "Parks"]),
                         commitments=[(TODAY + timedelta(days=rng.randint(1, 30)), f"P{n}")
                                      for n in range(1, 4)])
        commitments.extend(record.commitments)
    closer = commitments.pop()
    publish(title="Closing", closes=[closer.id])
    for commitment in commitments:
        when = TODAY
        for _ in range(rng.randint(0, 3)):
            when += timedelta(days=rng.randint(0, 20))
            status = rng.choice(["on_track", "delayed", "done", "dropped"])
            post(official, commitment, status=status, when=when)
            if status in ("done", "dropped"):
                break
    everything = commitments + [closer]
    for commitment in everything:
        db.session.refresh(commitment)
    for as_of in (TODAY, TODAY + timedelta(days=15), TODAY + timedelta(days=90)):
        for department in (None, "Parks"):
            counts = services.commitment_counts(db.session, since=None, until=None,
                                                as_of=as_of, department=department)
            chosen = [c for c in everything
                      if department is None or c.record.department == department]
            expected = {name: 0 for name in services.COMMITMENT_STATES}
            for commitment in chosen:
                expected[services.commitment_state(commitment, as_of)] += 1
            assert counts == services.CommitmentCounts(made=len(chosen), **expected)
    assert services.commitment_counts(db.session, since=TODAY + timedelta(days=1),
                                      until=None, as_of=TODAY).made == 0
    assert services.commitment_counts(db.session, since=TODAY, until=TODAY,
                                      as_of=TODAY).made == len(everything)


@pytest.mark.parametrize("status", ["done", "dropped"])
def test_a_closing_update_stops_reminders(official, commitment, status):
    post(official, commitment, status=status)
    later = at(commitment.due_on + timedelta(days=2))
    assert services.send_commitment_reminders(db.session, now=later) == 0


def test_an_open_commitment_is_still_reminded(official, commitment):
    post(official, commitment, status="delayed")
    later = at(commitment.due_on + timedelta(days=2))
    assert services.send_commitment_reminders(db.session, now=later) >= 1


# The export and the offline verifier ------------------------------------------------------


@pytest.fixture
def exported(official, commitment):
    post(official, commitment, status="on_track", percent=10)
    post(official, commitment, status="delayed", note="The survey slipped")
    post(official, commitment, status="done", percent=100, note="Answered in writing")
    return services.export_chain(db.session)


def test_the_export_carries_the_updates(exported, commitment):
    assert exported["version"] == EXPORT_VERSION == 2
    assert exported["updates_count"] == 3
    first = exported["updates"][0]["update"]
    assert first == {"kind": "commitment_update", "n": 1,
                     "commitment": {"record": commitment.record.seq, "number": 1},
                     "status": "on_track", "note": "Work has started", "percent": 10,
                     "department": "Libraries", "posted_at": first["posted_at"]}
    assert exported["updates"][1]["update"]["percent"] is None
    outcome = verify_export(exported)
    assert outcome.ok and outcome.updates == 3, outcome.report()
    assert outcome.report().endswith("; 3 commitment updates")


def test_a_version_1_export_still_verifies(exported):
    for key in ("updates", "updates_count", "updates_head"):
        del exported[key]
    exported["version"] = 1
    assert verify_export(exported).ok


def tamper_status(export):
    export["updates"][1]["update"]["status"] = "on_track"


def tamper_note(export):
    export["updates"][0]["update"]["note"] = "All done already"


def tamper_percent(export):
    export["updates"][2]["update"]["percent"] = 90


def drop_one(export):
    del export["updates"][1]
    export["updates_count"] = 2


def drop_last(export):
    del export["updates"][-1]


def reorder(export):
    export["updates"][0], export["updates"][1] = export["updates"][1], export["updates"][0]


def resigned_status(export):
    # Recomputing the hash of the changed update still breaks the link to the next one.
    entry = export["updates"][1]
    entry["update"]["status"] = "on_track"
    entry["hash"] = record_hash(entry["prev_hash"], canonical_json(entry["update"]))


def update_after_done(export):
    entry = {"n": 4, "prev_hash": export["updates"][-1]["hash"]}
    entry["update"] = dict(export["updates"][0]["update"], n=4)
    entry["hash"] = record_hash(entry["prev_hash"], canonical_json(entry["update"]))
    export["updates"].append(entry)
    export["updates_count"], export["updates_head"] = 4, entry["hash"]


@pytest.mark.parametrize(("tamper", "position", "why"), [
    (tamper_status, 2, "the update was altered"),
    (tamper_note, 1, "the update was altered"),
    (tamper_percent, 3, "the update was altered"),
    (drop_one, 2, "an update is missing, added or out of order"),
    (drop_last, 3, "the export says it holds 3 updates but has 2"),
    (reorder, 1, "an update is missing, added or out of order"),
    (resigned_status, 3, "an update was removed, altered or moved"),
    (update_after_done, 4, "after it was done or dropped"),
])
def test_tampering_with_updates_is_caught_where_it_was_done(exported, tamper, position, why):
    tamper(exported)
    outcome = verify_export(exported)
    assert not outcome.ok
    assert outcome.bad_update == position
    assert outcome.report().startswith(f"FAILED at update {position}: ")
    assert why in outcome.report()
