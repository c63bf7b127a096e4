"""Progress on commitments through the pages and the API: officials post it, everyone else is
refused with nothing changed, and the commitments page lists and filters by where each stands."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from participation.decisions import services, views
from participation.decisions.models import CommitmentUpdate
from participation.extensions import db
from participation.security.permissions import Role
from tests.conftest import csrf_token

TODAY = datetime.now(UTC).date()
SHOWN = re.compile(r'data-commitment="(\d+-\d+)"')
PERCENT_ERROR = "The percentage is a whole number from 0 to 100."
CLOSED_ERROR = "This commitment is closed; it takes no more updates."


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def updates_count() -> int:
    return db.session.scalar(select(func.count()).select_from(CommitmentUpdate))


def post(official, commitment, status="on_track", when=None, note="Under way"):
    services.post_commitment_update(db.session, official, commitment.id, status=status,
                                    note=note, percent=None, department="Libraries",
                                    now=at(when or TODAY))
    db.session.commit()


@pytest.fixture
def commitment(publish):
    record = publish(commitments=[(TODAY + timedelta(days=10), "Answer the parking question")])
    return record.commitments[0]


@pytest.fixture
def as_of(monkeypatch):
    """Let the pages (and the services they call) see another day as today."""

    def move(day: date) -> None:
        moment = at(day)
        monkeypatch.setattr(services, "utcnow", lambda: moment)
        monkeypatch.setattr(views, "utcnow", lambda: moment)

    return move


def form(client, commitment, **fields):
    data = {"csrf_token": csrf_token(client, page_of(commitment)), "status": "on_track",
            "note": "The survey is half done", "percent": "50", "department": "Transport"}
    data.update(fields)
    return client.post(f"{page_of(commitment)}/updates", data=data)


def page_of(commitment) -> str:
    return f"/decisions/{commitment.record.seq}/commitments/{commitment.number}"


def api_of(commitment) -> str:
    return f"/api/v1{page_of(commitment)}/updates"


def api_post(client, commitment, headers=None, **fields):
    body = {"status": "delayed", "note": "Waiting for the survey", "percent": 30,
            "department": "Transport"}
    body.update(fields)
    if headers is None:
        headers = {"X-CSRFToken": csrf_token(client, "/account")}
    return client.post(api_of(commitment), json=body, headers=headers)


def shown(client, query="") -> list[str]:
    response = client.get(f"/decisions/commitments{query}")
    assert response.status_code == 200
    return SHOWN.findall(response.get_data(as_text=True))


def test_an_official_posts_progress_through_the_form(client_as, client, commitment):
    official = client_as(Role.OFFICIAL)
    page = official.get(page_of(commitment)).get_data(as_text=True)
    assert 'id="post-progress"' in page and 'value="Libraries"' in page  # the record's
    listing = official.get("/decisions/commitments").get_data(as_text=True)
    assert f'href="{page_of(commitment)}#post-progress"' in listing
    response = form(official, commitment)
    assert response.status_code == 302 and response.headers["Location"] == page_of(commitment)
    assert updates_count() == 1
    html = client.get("/decisions/commitments").get_data(as_text=True)
    assert "The survey is half done" in html and "50% done" in html and "Transport" in html
    assert 'data-state="on_track"' in html
    assert "The survey is half done" in client.get(page_of(commitment)).get_data(as_text=True)
    export = client.get("/api/v1/decisions/export").get_json()
    assert [(u["update"]["status"], u["update"]["note"], u["update"]["percent"])
            for u in export["updates"]] == [("on_track", "The survey is half done", 50)]
    assert export["updates"][0]["update"]["commitment"] == {"record": commitment.record.seq,
                                                            "number": commitment.number}


def test_an_official_posts_progress_through_the_api(client_as, client, commitment):
    official = client_as(Role.OFFICIAL)
    response = api_post(official, commitment)
    assert response.status_code == 201
    answer = response.get_json()
    assert (answer["state"], answer["closed"]) == ("delayed", False)
    assert [(u["status"], u["percent"], u["department"]) for u in answer["updates"]] == [
        ("delayed", 30, "Transport")]
    listed = client.get(api_of(commitment)).get_json()
    assert listed["updates"] == answer["updates"]
    assert "Waiting for the survey" in client.get("/decisions/commitments").get_data(as_text=True)
    export = client.get("/api/v1/decisions/export").get_json()
    assert export["updates_head"] == answer["updates"][0]["hash"]


def test_residents_and_visitors_are_refused_and_nothing_changes(client_as, client, commitment):
    resident = client_as(Role.RESIDENT)
    assert 'id="post-progress"' not in resident.get(page_of(commitment)).get_data(as_text=True)
    assert "Post progress" not in resident.get("/decisions/commitments").get_data(as_text=True)
    assert form(resident, commitment).status_code == 403
    assert api_post(resident, commitment).status_code == 403
    visitor = form(client, commitment)
    assert visitor.status_code == 302 and "/login" in visitor.headers["Location"]
    assert api_post(client, commitment, headers={}).status_code == 401
    assert updates_count() == 0


def test_the_form_wants_its_csrf_token(client_as, commitment):
    official = client_as(Role.OFFICIAL)
    response = official.post(f"{page_of(commitment)}/updates", data={
        "status": "on_track", "note": "No token", "department": "Transport"})
    assert response.status_code == 400
    assert updates_count() == 0


def test_the_api_wants_the_csrf_header(client_as, commitment):
    official = client_as(Role.OFFICIAL)
    response = api_post(official, commitment, headers={})
    assert response.status_code == 403 and response.get_json()["error"] == "forbidden"
    assert updates_count() == 0


@pytest.mark.parametrize("status", ["done", "dropped"])
def test_a_closed_commitment_is_refused_with_nothing_changed(client_as, official, commitment,
                                                             status):
    post(official, commitment, status=status)
    client = client_as(Role.OFFICIAL)
    page = client.get(page_of(commitment)).get_data(as_text=True)
    assert CLOSED_ERROR in page and "<form method=\"post\" action=\"/decisions/1/comm" not in page
    response = form(client, commitment)
    assert response.status_code == 409 and CLOSED_ERROR in response.get_data(as_text=True)
    answer = api_post(client, commitment)
    assert answer.status_code == 409 and answer.get_json()["message"] == CLOSED_ERROR
    assert updates_count() == 1
    # The record's page says where its commitment stands, and links to its timeline.
    record_page = client.get(f"/decisions/{commitment.record.seq}").get_data(as_text=True)
    state = "done_on_time" if status == "done" else "dropped"
    assert f'data-state="{state}"' in record_page
    assert f'href="{page_of(commitment)}">Progress (1)</a>' in record_page


def test_a_commitment_answered_by_a_record_is_closed_too(client_as, publish, commitment):
    publish(title="The answer", closes=[commitment.id])
    client = client_as(Role.OFFICIAL)
    assert form(client, commitment).status_code == 409
    assert updates_count() == 0


@pytest.mark.parametrize("percent", ["101", "-1", "abc"])
def test_a_percentage_outside_0_to_100_is_refused_with_nothing_changed(client_as, commitment,
                                                                      percent):
    client = client_as(Role.OFFICIAL)
    response = form(client, commitment, percent=percent)
    assert response.status_code == 400 and PERCENT_ERROR in response.get_data(as_text=True)
    as_json = percent if percent == "abc" else int(percent)
    answer = api_post(client, commitment, percent=as_json)
    assert answer.status_code == 400 and answer.get_json()["message"] == PERCENT_ERROR
    assert updates_count() == 0
    assert "50% done" not in client.get("/decisions/commitments").get_data(as_text=True)


def test_other_bad_input_is_refused_too(client_as, commitment):
    client = client_as(Role.OFFICIAL)
    assert form(client, commitment, status="finished").status_code == 400
    assert form(client, commitment, note="  ").status_code == 400
    assert api_post(client, commitment, status="finished").status_code == 400
    assert api_post(client, commitment, note=None).status_code == 400
    assert client.post(api_of(commitment), data="[]", content_type="application/json",
                       headers={"X-CSRFToken": csrf_token(client, "/account")}
                       ).status_code == 400
    assert updates_count() == 0


def test_an_unknown_commitment_is_not_found(client_as, client, commitment):
    official = client_as(Role.OFFICIAL)
    assert client.get("/decisions/1/commitments/9").status_code == 404
    assert client.get("/api/v1/decisions/1/commitments/9/updates").status_code == 404
    token = csrf_token(official, "/account")
    assert official.post("/api/v1/decisions/7/commitments/1/updates", json={
        "status": "done", "note": "x", "department": "y"},
        headers={"X-CSRFToken": token}).status_code == 404


def test_overdue_once_its_date_passes_until_a_later_update_says_done(client, official, publish,
                                                                    as_of):
    record = publish(commitments=[(TODAY + timedelta(days=1), "Publish the costs")])
    due = record.commitments[0].due_on
    assert shown(client, "?state=overdue") == []
    as_of(due + timedelta(days=1))
    assert shown(client, "?state=overdue") == [f"{record.seq}-1"]
    post(official, record.commitments[0], status="on_track", when=due + timedelta(days=1))
    assert shown(client, "?state=overdue") == [f"{record.seq}-1"]
    post(official, record.commitments[0], status="done", when=due + timedelta(days=2))
    as_of(due + timedelta(days=2))
    assert shown(client, "?state=overdue") == []
    assert shown(client, "?state=done_late") == [f"{record.seq}-1"]


def test_each_filter_lists_exactly_its_commitments(client, official, publish, as_of):
    record = publish(commitments=[
        (TODAY + timedelta(days=3), "1: past due, only delayed"),
        (TODAY + timedelta(days=20), "2: open, not due for a while"),
        (TODAY + timedelta(days=1), "3: done on time"),
        (TODAY + timedelta(days=2), "4: done late"),
        (TODAY + timedelta(days=15), "5: due soon, on track"),
        (TODAY + timedelta(days=12), "6: due soon but dropped"),
        (TODAY + timedelta(days=10), "7: due on the day, still open"),
    ])
    c = record.commitments
    post(official, c[0], status="delayed", when=TODAY + timedelta(days=2))
    post(official, c[2], status="done", when=TODAY + timedelta(days=1))
    post(official, c[3], status="done", when=TODAY + timedelta(days=7))
    post(official, c[4], status="on_track", when=TODAY + timedelta(days=5))
    post(official, c[5], status="dropped", when=TODAY + timedelta(days=5))
    as_of(TODAY + timedelta(days=10))
    seq = record.seq
    assert shown(client, "?state=overdue") == [f"{seq}-1"]
    assert shown(client, "?state=done_late") == [f"{seq}-4"]
    assert shown(client, "?state=done_on_time") == [f"{seq}-3"]
    assert shown(client, "?state=due_soon") == [f"{seq}-7", f"{seq}-5"]
    # Unfiltered, every one is listed, soonest due first.
    assert sorted(shown(client)) == sorted(f"{seq}-{n}" for n in range(1, 8))
    html = client.get("/decisions/commitments").get_data(as_text=True)
    assert "Overdue (1)" in html and "Open (3)" in html and "Answered (3)" in html


def test_the_list_loads_every_updates_timeline_in_a_fixed_number_of_queries(
        app, official, publish):
    record = publish(commitments=[(TODAY + timedelta(days=n), f"Promise {n}")
                                  for n in range(1, 9)])
    for commitment in record.commitments:
        post(official, commitment)
    db.session.expire_all()
    statements = []

    def count(_connection, _cursor, statement, *_args):
        if not statement.startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        views_ = services.list_commitments(db.session, state="due_soon")
        assert all(len(view.commitment.updates) == 1 for view in views_)
        assert all(view.record_title for view in views_)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(views_) == 7
    # The commitments with their records, their updates, their closures with their records.
    assert len(statements) == 3, statements


@pytest.mark.parametrize("value", ["late", "OVERDUE", "open", "x" * 300])
def test_an_unknown_filter_is_a_clear_400(client, value):
    response = client.get("/decisions/commitments", query_string={"state": value})
    assert response.status_code == 400
    assert "“state” must be one of: overdue, due_soon, done_late, done_on_time." in \
        response.get_data(as_text=True)


def test_the_filters_are_in_spanish_too(client):
    html = client.get("/decisions/commitments?state=due_soon",
                      headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "Vence pronto (0)" in html
