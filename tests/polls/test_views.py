"""Poll pages and the JSON API through the HTTP client: voting without JavaScript, results
that never leak early, receipts, exports and the recount command."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from participation.cli import cli
from participation.extensions import db
from participation.polls import services
from participation.polls.models import Ballot, Poll
from participation.security.permissions import Role
from tests.conftest import csrf_token
from tests.polls.conftest import close


def ballots_in(poll_id):
    return db.session.scalar(select(func.count()).select_from(Ballot)
                             .where(Ballot.poll_id == poll_id))


def test_a_resident_votes_with_the_plain_form_and_sees_a_receipt(client_as, make_poll):
    poll = make_poll("single")
    resident = client_as(Role.RESIDENT)
    page = resident.get(f"/polls/{poll.id}").get_data(as_text=True)
    assert 'name="choice"' in page and "Cast my vote" in page
    option = poll.options[1]
    response = resident.post(f"/polls/{poll.id}", data={
        "choice": str(option.id), "csrf_token": csrf_token(resident, f"/polls/{poll.id}")})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/polls/{poll.id}#your-ballot")
    page = resident.get(f"/polls/{poll.id}").get_data(as_text=True)
    receipt = re.search(r'class="receipt">([A-Z0-9-]+)<', page).group(1)
    assert f"Your receipt code is {receipt}" in page
    assert "Change my vote" in page
    assert re.search(rf'value="{option.id}" checked', page)
    assert ballots_in(poll.id) == 1
    lookup = resident.get("/polls/receipt", query_string={"code": receipt})
    assert lookup.status_code == 200
    assert "This ballot is in the count" in lookup.get_data(as_text=True)
    # The receipt check never shows the choices; the voter's own poll page does.
    assert option.label not in lookup.get_data(as_text=True)
    assert re.search(rf'class="own-choices"><li>{option.label}</li>', page)


def test_a_ranked_ballot_by_form_and_its_mistakes(client_as, make_poll):
    poll = make_poll("ranked", options=["Library", "Pool", "Park"])
    a, b, c = (o.id for o in poll.options)
    resident = client_as(Role.RESIDENT)
    token = csrf_token(resident, f"/polls/{poll.id}")
    response = resident.post(f"/polls/{poll.id}", data={
        f"rank-{a}": "1", f"rank-{b}": "1", f"rank-{c}": "", "csrf_token": token})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Give each rank to one option only." in page
    # What was typed is still there.
    assert page.count('value="1" selected') == 2
    assert ballots_in(poll.id) == 0
    response = resident.post(f"/polls/{poll.id}", data={
        f"rank-{a}": "2", f"rank-{b}": "", f"rank-{c}": "1", "csrf_token": token})
    assert response.status_code == 302
    ballot = db.session.scalar(select(Ballot).where(Ballot.poll_id == poll.id))
    assert ballot.choices == [c, a]


@pytest.mark.parametrize("data", [
    {"choice": "999999"}, {}, {"choice": "abc"},
])
def test_bad_form_votes_get_a_clear_message_and_count_nothing(client_as, make_poll, data):
    poll = make_poll("single")
    resident = client_as(Role.RESIDENT)
    response = resident.post(f"/polls/{poll.id}", data={
        **data, "csrf_token": csrf_token(resident, f"/polls/{poll.id}")})
    assert response.status_code == 400
    assert 'role="alert"' in response.get_data(as_text=True)
    assert ballots_in(poll.id) == 0


def test_visitors_cannot_vote_and_closed_polls_refuse_votes(client, client_as, make_poll):
    poll = make_poll("single")
    page = client.get(f"/polls/{poll.id}").get_data(as_text=True)
    assert "Sign in</a> to vote" in page
    response = client.post(f"/polls/{poll.id}", data={
        "choice": str(poll.options[0].id), "csrf_token": csrf_token(client, "/login")})
    assert response.status_code == 401
    resident = client_as(Role.RESIDENT)
    token = csrf_token(resident, f"/polls/{poll.id}")
    close(poll)
    response = resident.post(f"/polls/{poll.id}", data={
        "choice": str(poll.options[0].id), "csrf_token": token})
    assert response.status_code == 409
    assert "closed" in response.get_data(as_text=True)
    assert ballots_in(poll.id) == 0


def test_a_vote_without_the_csrf_token_is_refused(client_as, make_poll):
    poll = make_poll("single")
    resident = client_as(Role.RESIDENT)
    response = resident.post(f"/polls/{poll.id}", data={"choice": str(poll.options[0].id)})
    assert response.status_code == 400
    assert ballots_in(poll.id) == 0


@pytest.mark.parametrize("mode", ["after_close", "hidden"])
def test_results_do_not_leak_through_any_route_before_the_mode_allows(
        client, client_as, make_poll, mode):
    poll = make_poll("single", results_mode=mode, options=["Zebra crossing", "Traffic light"])
    poll_id = poll.id
    resident = client_as(Role.RESIDENT)
    resident.post(f"/polls/{poll_id}", data={
        "choice": str(poll.options[0].id), "csrf_token": csrf_token(resident, f"/polls/{poll_id}")})
    assert ballots_in(poll_id) == 1
    page = client.get(f"/polls/{poll_id}").get_data(as_text=True)
    assert "1 vote" not in page and "ballot cast" not in page and "100.0%" not in page
    assert "Results are shown once" in page
    api = client.get(f"/api/v1/polls/{poll_id}").get_json()
    assert api["results"] is None and api["ballots"] is None and api["ballots_url"] is None
    listing = client.get("/api/v1/polls").get_json()
    assert listing["polls"][0]["results"] is None
    for path in (f"/api/v1/polls/{poll_id}/ballots", f"/polls/{poll_id}/ballots.json",
                 f"/polls/{poll_id}/ballots.csv"):
        assert client.get(path).status_code == 403
    close(db.session.get(Poll, poll_id))
    if mode == "hidden":
        assert client.get(f"/api/v1/polls/{poll_id}").get_json()["results"] is None
        assert client.get(f"/api/v1/polls/{poll_id}/ballots").status_code == 403
        official = client_as(Role.OFFICIAL)
        response = official.post(f"/polls/{poll_id}/release", data={
            "csrf_token": csrf_token(official, f"/polls/{poll_id}")})
        assert response.status_code == 302
    api = client.get(f"/api/v1/polls/{poll_id}").get_json()
    assert api["results"]["ballots"] == 1
    assert client.get(f"/api/v1/polls/{poll_id}/ballots").status_code == 200


def test_results_page_is_readable_without_colour_or_pictures(client_as, make_poll, voters):
    poll = make_poll("ranked", options=["Trams", "Buses", "Bikes"])
    t, b, k = (o.id for o in poll.options)
    for person, ranking in zip(voters(5), [[t], [t, b], [b, k], [k, b], [k]], strict=True):
        services.cast_ballot(db.session, person, poll.id, ranking)
        db.session.commit()
    close(poll)
    page = client_as(Role.RESIDENT).get(f"/polls/{poll.id}").get_data(as_text=True)
    assert 'aria-hidden="true"' in page  # the bars are decoration
    assert "2 votes (40.0%)" in page  # the figures are text beside them
    assert '<th scope="col">Round 2</th>' in page
    assert "How ties are broken" in page and poll.draw_seed in page
    assert "style=" not in page  # the CSP allows no inline styles
    assert "Winner after 2 rounds" in page


def test_closed_poll_exports_recount_with_the_command(client, make_poll, voters, tmp_path):
    poll = make_poll("ranked", options=["North", "South", "East", "West"])
    n, s, e, w = (o.id for o in poll.options)
    for person, ranking in zip(voters(7), [[n, s], [s, n], [e, s], [w], [n], [e, w, s], [s]],
                               strict=True):
        services.cast_ballot(db.session, person, poll.id, ranking)
        db.session.commit()
    close(poll)
    page = client.get(f"/polls/{poll.id}").get_data(as_text=True)
    digest = re.search(r'class="digest">([0-9a-f]{64})<', page).group(1)
    with client.get(f"/polls/{poll.id}/ballots.json") as response:
        assert response.status_code == 200
        assert "attachment" in response.headers["Content-Disposition"]
        export = response.get_json()
    assert export["receipts_digest"] == digest
    assert export == client.get(f"/api/v1/polls/{poll.id}/ballots").get_json()
    with client.get(f"/polls/{poll.id}/ballots.csv") as response:
        assert response.mimetype == "text/csv"
        assert len(response.get_data(as_text=True).splitlines()) == 8
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    result = CliRunner().invoke(cli, ["recount", str(path)])
    assert result.exit_code == 0, result.output
    assert "MATCH" in result.output and "Ballots recounted: 7" in result.output
    export["results"]["winner"] = w
    path.write_text(json.dumps(export))
    result = CliRunner().invoke(cli, ["recount", str(path)])
    assert result.exit_code == 1
    assert "MISMATCH: the recounted result differs" in result.output


@pytest.mark.parametrize(("content", "message"), [
    ("fingerprint,1: North\n", "not a JSON poll export"),
    ('{"format": "something else"}', "not a valid poll export"),
    (None, "cannot read"),
])
def test_recount_explains_a_bad_file_and_fails(tmp_path, content, message):
    path = tmp_path / "file.json"
    if content is not None:
        path.write_text(content)
    result = CliRunner().invoke(cli, ["recount", str(path)])
    assert result.exit_code == 2
    assert message in result.output


def test_official_creates_a_poll_with_the_form_and_a_resident_cannot(client_as, live_townhall,
                                                                      topic):
    resident = client_as(Role.RESIDENT)
    assert resident.get("/polls/new").status_code == 403
    official = client_as(Role.OFFICIAL)
    page = official.get(f"/polls/new?parent=topic:{topic.id}").get_data(as_text=True)
    assert f'<option selected value="topic:{topic.id}">' in page
    assert f"Town hall: {live_townhall.title}" in page
    token = csrf_token(official, "/polls/new")
    form = {"csrf_token": token, "parent": f"townhall:{live_townhall.id}",
            "question": "Which bus route first?",
            "kind": "ranked", "options": "Route 1\nRoute 2\n\nRoute 3", "results_mode": "live",
            "open_now": "y"}
    assert "There is no such town hall." in official.post(
        "/polls/new", data={**form, "parent": "townhall:987654"}).get_data(as_text=True)
    bad = official.post("/polls/new", data={**form, "options": "Only one"})
    assert bad.status_code == 400
    page = bad.get_data(as_text=True)
    assert "Give at least 2 options." in page and "Which bus route first?" in page
    response = official.post("/polls/new", data=form)
    assert response.status_code == 302
    poll = db.session.scalar(select(Poll).order_by(Poll.id.desc()))
    assert [o.label for o in poll.options] == ["Route 1", "Route 2", "Route 3"]
    assert poll.status(services.utcnow()) == "open"
    listing = official.get("/polls").get_data(as_text=True)
    assert "Which bus route first?" in listing


def test_official_opens_and_closes_a_poll_by_hand(client_as, make_poll):
    poll = make_poll("single", is_open=False)
    poll_id = poll.id
    official = client_as(Role.OFFICIAL)
    token = csrf_token(official, f"/polls/{poll_id}")
    assert official.post(f"/polls/{poll_id}/open", data={"csrf_token": token}).status_code == 302
    assert "Close now" in official.get(f"/polls/{poll_id}").get_data(as_text=True)
    assert official.post(f"/polls/{poll_id}/close", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Poll, poll_id).status(services.utcnow()) == "closed"
    resident = client_as(Role.RESIDENT)
    response = resident.post(f"/polls/{poll_id}/open", data={
        "csrf_token": csrf_token(resident, f"/polls/{poll_id}")})
    assert response.status_code == 403


def test_api_describes_polls_in_the_openapi_document(client, make_poll):
    poll = make_poll("multiple", max_choices=2)
    document = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/polls", "/api/v1/polls/{poll_id}", "/api/v1/polls/{poll_id}/ballots"):
        assert path in document["paths"]
    assert "Poll" in document["components"]["schemas"]
    data = client.get(f"/api/v1/polls/{poll.id}").get_json()
    assert data["kind"] == "multiple" and data["max_choices"] == 2 and data["status"] == "open"
    assert [o["label"] for o in data["options"]] == [o.label for o in poll.options]
    assert data["results"]["ballots"] == 0
    assert client.get("/api/v1/polls/999999").status_code == 404
    assert client.get("/api/v1/polls?per_page=0").status_code == 400


def test_unknown_receipts_and_polls_get_clear_answers(client):
    response = client.get("/polls/receipt", query_string={"code": "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ"})
    assert response.status_code == 404
    assert "No ballot has that receipt code" in response.get_data(as_text=True)
    assert client.get("/polls/receipt", query_string={"code": "abc"}).status_code == 400
    assert client.get("/polls/424242").status_code == 404
    assert client.get("/polls/receipt").status_code == 200
