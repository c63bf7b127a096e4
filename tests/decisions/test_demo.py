"""The demo seeds a chain that verifies: a decision, its amendment, progress updates on its
commitments and a closed commitment; the commitments stand done on time, done late, overdue and
open."""

from __future__ import annotations

from participation.db import utcnow
from participation.decisions import services
from participation.decisions.verify import verify_export
from participation.demo import seed_demo
from participation.extensions import db


def test_demo_publishes_chained_records_one_amending_another(app):
    seed_demo(db.session, password="demo password 123")
    db.session.commit()
    export = services.export_chain(db.session)
    assert verify_export(export).ok
    records = [entry["record"] for entry in export["records"]]
    assert len(records) >= 2
    assert records[1]["amends"] == records[0]["seq"]
    assert records[2]["closes"] == [{"record": 1, "commitment": 1}]
    linked = {link["kind"]: link for link in records[0]["links"]}
    assert linked["townhall"]["title"] == "Cycle lanes on Main Street"
    assert linked["townhall"]["snapshot"]["ledger"]["answered_live"] >= 1
    assert linked["thread"]["snapshot"]["post_count"] >= 1
    assert linked["poll"]["title"] == "Name the new river ferry (ranked choice)"
    assert len(linked["poll"]["snapshot"]["rounds"]) > 1
    assert records[1]["links"] == records[0]["links"]
    views = services.list_commitments(db.session)
    # Soonest due first: the survey, the construction answer, the sails, the counts.
    assert [view.closed_by for view in views] == [None, 3, None, None]
    assert [view.state for view in views] == ["done_late", "done_on_time", "overdue", "open"]
    survey, construction, sails, counts = (view.commitment for view in views)
    assert [u.status for u in survey.updates] == ["delayed", "done"]
    assert survey.updates[-1].percent == 100 and survey.updates[-1].posted_at.date() \
        > survey.due_on
    assert [u.status for u in construction.updates] == ["on_track"]
    assert construction.closure.record.published_at.date() <= construction.due_on
    # Overdue: past its due date and not done, the last word a "delayed" before the due date.
    assert [u.status for u in sails.updates] == ["on_track", "delayed"]
    assert [u.percent for u in sails.updates] == [20, 70]
    assert sails.updates[-1].posted_at.date() <= sails.due_on < utcnow().date()
    assert all(u.note for u in (*survey.updates, *construction.updates, *sails.updates))
    assert counts.updates == [] and counts.due_on > utcnow().date()
    for state in ("overdue", "done_late", "done_on_time"):
        assert [v.commitment.id for v in services.list_commitments(db.session, state=state)] \
            == [v.commitment.id for v in views if v.state == state]
    assert [entry["update"]["status"] for entry in export["updates"]] \
        == ["on_track", "on_track", "delayed", "done", "delayed"]
