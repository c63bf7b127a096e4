"""The demo seeds a chain that verifies: a decision, its amendment and a closed commitment."""

from __future__ import annotations

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
    assert [view.closed_by for view in views] == [3, None]
