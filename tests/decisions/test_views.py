"""The public pages, the feed, the API and the officials' publish form, through the test client."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET  # noqa: S405 - parsing our own feed in a test
from datetime import timedelta

import pytest
from click.testing import CliRunner

from participation.cli import cli
from participation.db import utcnow
from participation.decisions.models import DecisionRecord
from participation.extensions import db
from participation.security.permissions import Role
from tests.conftest import csrf_token
from tests.forums.xss_corpus import XSS_PAYLOADS, unsafe_parts

ATOM = "{http://www.w3.org/2005/Atom}"


def form_data(client, **fields):
    data = {"csrf_token": csrf_token(client, "/decisions/new"), "title": "Close Elm Street to cars",
            "outcome": "adopted", "decision_text": "", "department": "Transport",
            "summary": "Residents asked for a *car-free* street.", "amends": "", "closes": ""}
    # The form's three commitment rows, sent empty as a browser sends them.
    data.update({f"commitments-{row}-{part}": "" for row in range(3)
                 for part in ("due", "promise")})
    data.update(fields)
    return data


def evidence(**ids):
    """The picker's ticked boxes: evidence(poll=[1, 2], thread=[3])."""
    return {"evidence": [f"{kind}:{item_id}" for kind, items in ids.items() for item_id in items]}


def preview_and_publish(client, **fields):
    """Submit for preview, then publish with the digest the preview carried."""
    preview = client.post("/decisions/new", data=form_data(client, action="preview", **fields))
    assert preview.status_code == 200, preview.get_data(as_text=True)
    digest = re.search(r'name="preview_digest" type="hidden" value="([0-9a-f]{64})"',
                       preview.get_data(as_text=True))
    assert digest, "the preview carries its digest"
    return client.post("/decisions/new", data=form_data(
        client, action="publish", preview_digest=digest.group(1), **fields))


def count() -> int:
    return db.session.query(DecisionRecord).count()


def test_visitors_read_the_list_and_a_record_with_its_evidence_and_hashes(client, publish,
                                                                          fake_evidence):
    fake_evidence.add("poll", 3, title="Which evenings?", snapshot={
        "question": "Which evenings should the library open late?", "kind": "single_choice",
        "turnout": 40, "ballot_digest": "ab" * 32,
        "tally": [{"label": "Tuesday", "votes": 30}, {"label": "Friday", "votes": 10}]})
    fake_evidence.add("townhall", 5, title="Library town hall", snapshot={
        "ended_at": "2026-11-01T19:00:00Z", "ledger": {"approved": 2, "rejected": 1},
        "questions": [{"text": "Will staff be paid overtime?", "outcome": "answered",
                       "answer": "Yes, at the agreed rate.", "upvotes": 4, "channel": "phone"},
                      {"text": "Off-topic rant", "outcome": "rejected", "reason": "Off topic"}]})
    fake_evidence.add("thread", 8, title="Library hours", snapshot={
        "post_count": 12, "content_sha256": "cd" * 32})
    record = publish(links=[("poll", 3), ("townhall", 5), ("thread", 8)])
    listing = client.get("/decisions").get_data(as_text=True)
    assert "#1 Extend the Riverside library hours" in listing and "Adopted" in listing
    page = client.get("/decisions/1")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert record.hash in html and record.prev_hash in html
    assert '<meter class="bar-meter" min="0" max="40" value="30"' in html
    assert "30 (75.0%)" in html and "Tuesday" in html
    assert "Will staff be paid overtime?" in html and "Yes, at the agreed rate." in html
    assert "Reason: Off topic" in html and "(by phone)" in html
    assert "Visible posts</dt><dd>12" in html and "cd" * 32 in html
    assert "<strong>Evening hours</strong>" in html


def test_an_amended_record_says_so_and_links_the_amendment(client, publish):
    publish()
    publish(title="Correction", amends=1)
    html = client.get("/decisions/1").get_data(as_text=True)
    assert "Amended by" in html and 'href="/decisions/2"' in html
    listing = client.get("/decisions").get_data(as_text=True)
    assert "Amended by" in listing
    assert 'Amends <a href="/decisions/1">record 1</a>' in listing


def test_unknown_records_are_404(client):
    assert client.get("/decisions/99").status_code == 404
    assert client.get("/api/v1/decisions/99").get_json()["error"] == "not_found"


def test_the_list_filters_and_refuses_nonsense_filters(client, publish):
    publish(outcome="adopted")
    publish(title="Turned down", outcome="rejected")
    html = client.get("/decisions?outcome=rejected").get_data(as_text=True)
    assert "Turned down" in html and "Riverside" not in html
    tomorrow = (utcnow().date() + timedelta(days=1)).isoformat()
    assert "No records match" in client.get(f"/decisions?since={tomorrow}").get_data(as_text=True)
    bad = client.get("/decisions?since=yesterday&topic=x")
    assert bad.status_code == 400
    assert "Not a valid date value" in bad.get_data(as_text=True)


def test_the_atom_feed_lists_records_newest_first(client, publish):
    publish()
    publish(title="Second <b>record</b>")
    response = client.get("/decisions/feed.atom")
    assert response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.data)  # noqa: S314 - our own output
    titles = [entry.find(f"{ATOM}title").text for entry in feed.findall(f"{ATOM}entry")]
    assert titles == ["#2 Second <b>record</b> (Adopted)", "#1 Extend the Riverside library hours "
                                                           "(Adopted)"]
    first = feed.findall(f"{ATOM}entry")[0]
    assert first.find(f"{ATOM}link").get("href").endswith("/decisions/2")
    assert "<strong>" in first.find(f"{ATOM}content").text


def test_commitments_page_lists_open_overdue_and_answered(client, publish, official):
    today = utcnow().date()
    record = publish(commitments=[(today, "Answer the parking question"),
                                  (today + timedelta(days=30), "Publish the costs")])
    publish(title="Parking answer", closes=[record.commitments[0].id])
    html = client.get("/decisions/commitments").get_data(as_text=True)
    assert "Answered (1)" in html and "Open (1)" in html and "Overdue (0)" in html
    assert "Publish the costs" in html
    assert "Publish the response" not in html  # only officials see the action
    answer = client.get("/decisions/2").get_data(as_text=True)
    assert "Commitments this record answers" in answer
    assert ('Commitment 1 of <a href="/decisions/1">record 1</a>: Answer the parking question'
            in answer)
    promise = client.get("/decisions/1").get_data(as_text=True)
    assert 'Answered in <a href="/decisions/2">record 2</a>' in promise and "Open</span>" in promise


def test_an_open_commitment_is_open_in_the_masculine_in_spanish(client, publish):
    """"Open" is translated by what it describes: a poll (votación) is abierta, a commitment
    (compromiso) abierto."""
    publish(commitments=[(utcnow().date() + timedelta(days=30), "Publish the costs")])
    spanish = {"Accept-Language": "es"}
    record = client.get("/decisions/1", headers=spanish).get_data(as_text=True)
    assert "Abierto</span>" in record and "Abierta</span>" not in record
    listing = client.get("/decisions/commitments", headers=spanish).get_data(as_text=True)
    assert "Abierto</span>" in listing and "Abierta</span>" not in listing


def test_visitors_are_sent_to_sign_in_and_residents_may_not_publish(client, client_as):
    response = client.get("/decisions/new")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    for role in (Role.RESIDENT, Role.MODERATOR):
        resident = client_as(role)
        assert resident.get("/decisions/new").status_code == 403
        token = csrf_token(resident, "/account")
        posted = resident.post("/decisions/new", data={"csrf_token": token, "title": "x",
                                                       "action": "publish"})
        assert posted.status_code == 403
    assert count() == 0


def test_an_official_previews_then_publishes(client_as):
    official = client_as(Role.OFFICIAL)
    preview = official.post("/decisions/new", data=form_data(official, action="preview"))
    html = preview.get_data(as_text=True)
    assert "Preview: what will be frozen" in html and "Publish record" in html
    assert "&#34;department&#34;: &#34;Transport&#34;" in html  # the canonical data, escaped
    assert count() == 0
    published = preview_and_publish(official)
    assert published.status_code == 302 and published.headers["Location"].endswith("/decisions/1")
    assert count() == 1
    page = official.get("/decisions/1").get_data(as_text=True)
    assert "Record 1 is published" in page and "<em>car-free</em>" in page


def test_publishing_without_a_preview_only_shows_the_preview(client_as):
    official = client_as(Role.OFFICIAL)
    response = official.post("/decisions/new", data=form_data(official, action="publish"))
    assert response.status_code == 200 and "Preview: what will be frozen" in response.get_data(
        as_text=True)
    assert count() == 0


def test_errors_keep_what_was_typed_and_publish_nothing(client_as, fake_evidence):
    official = client_as(Role.OFFICIAL)
    cases = [({"title": ""}, "This field is required"),
             ({"outcome": "other"}, "Say in words what was decided"),
             ({"amends": "42"}, "There is no decision record number 42"),
             (evidence(thread=[7]), "Forum thread 7 does not exist or is not public"),
             ({"evidence": "poll:two"}, "is not something a record can rest on"),
             ({"evidence": "ballot:3"}, "is not something a record can rest on"),
             ({"commitments-0-due": "next week", "commitments-0-promise": "reply"},
              "Commitment 1: next week is not a real date"),
             ({"commitments-1-due": "2027-02-30", "commitments-1-promise": "reply"},
              "Commitment 2: 2027-02-30 is not a real date"),
             ({"commitments-0-due": "2099-01-10"},
              "Commitment 1: say what will be answered in writing"),
             ({"commitments-2-promise": "reply"}, "Commitment 3: give the day it is due")]
    for fields, message in cases:
        response = official.post("/decisions/new", data=form_data(
            official, action="preview", summary="Keep this *text*", **fields))
        html = response.get_data(as_text=True)
        assert response.status_code in (400, 404), (fields, response.status_code)
        assert message in html, (fields, html[html.find("<main"):][:3000])
        assert "Keep this *text*" in html
    assert count() == 0


def test_a_changed_snapshot_between_preview_and_publish_is_shown_again(client_as,
                                                                       fake_evidence):
    official = client_as(Role.OFFICIAL)
    fake_evidence.add("thread", 4, snapshot={"post_count": 2})
    preview = official.post("/decisions/new", data=form_data(official, action="preview",
                                                             **evidence(thread=[4])))
    digest = re.search(r'value="([0-9a-f]{64})"', preview.get_data(as_text=True)).group(1)
    fake_evidence.add("thread", 4, snapshot={"post_count": 3})
    response = official.post("/decisions/new", data=form_data(
        official, action="publish", preview_digest=digest, **evidence(thread=[4])))
    assert response.status_code == 409
    assert "changed since your preview" in response.get_data(as_text=True)
    assert count() == 0


def test_hostile_titles_and_summaries_are_escaped_on_every_page(client, publish):
    for payload in XSS_PAYLOADS:
        publish(title=f"T {payload}"[:200], summary=payload, decision_text=payload[:500],
                department=payload[:100], outcome="other")
    pages = ["/decisions", "/decisions?page=2", "/decisions?page=3", "/decisions?page=4",
             "/decisions?page=5"] + [f"/decisions/{seq}" for seq in range(1, len(XSS_PAYLOADS) + 1)]
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        main = html[html.index("<main"):html.index("</main>")]
        assert unsafe_parts(main) == [], (path, main)
    feed = client.get("/decisions/feed.atom").get_data(as_text=True)
    assert "<script" not in feed  # entries carry the sanitized HTML, escaped inside the XML


def test_amend_and_close_links_prefill_the_form(client_as, publish):
    publish(commitments=[(utcnow().date(), "Reply about parking")])
    official = client_as(Role.OFFICIAL)
    amend = official.get("/decisions/new?amends=1").get_data(as_text=True)
    assert "Amend record 1" in amend and 'value="Extend the Riverside library hours"' in amend
    close = official.get("/decisions/new?closes=1").get_data(as_text=True)
    assert 'value="Response: Reply about parking"' in close
    assert official.get("/decisions/new?amends=9").status_code == 404


def test_api_lists_records_and_the_export_verifies(client, publish, tmp_path):
    publish()
    publish(title="Correction", amends=1)
    listing = client.get("/api/v1/decisions").get_json()
    assert [item["seq"] for item in listing["items"]] == [2, 1]
    assert listing["items"][1]["amended_by"] == [2]
    assert listing["head"] == listing["items"][0]["hash"]
    one = client.get("/api/v1/decisions/1").get_json()
    assert set(one) == {"seq", "prev_hash", "hash", "record", "amended_by"}
    assert client.get("/api/v1/decisions?per_page=0").status_code == 400
    response = client.get("/api/v1/decisions/export")
    path = tmp_path / "chain.json"
    path.write_bytes(response.data)
    result = CliRunner().invoke(cli, ["verify", str(path)])
    assert result.exit_code == 0 and listing["head"] in result.output
    spec = client.get("/api/v1/openapi.json").get_json()
    for api_path in ("/api/v1/decisions", "/api/v1/decisions/{seq}", "/api/v1/decisions/export"):
        assert api_path in spec["paths"]
    assert "DecisionChainExport" in spec["components"]["schemas"]


def test_an_official_publishes_with_evidence_and_a_visitor_verifies_the_download(
        client_as, client, fake_evidence, tmp_path):
    fake_evidence.add("poll", 1, title="Closed poll", snapshot={"turnout": 3})
    fake_evidence.add("townhall", 2, title="Ended town hall", snapshot={"questions": []})
    fake_evidence.add("thread", 3, title="Thread", snapshot={"post_count": 5})
    official = client_as(Role.OFFICIAL)
    assert preview_and_publish(official, **evidence(poll=[1], townhall=[2],
                                                          thread=[3])).status_code == 302
    page = client.get("/decisions").get_data(as_text=True)
    export_link = re.search(r'href="([^"]+)" download="decision-chain.json"', page).group(1)
    export = client.get(export_link)
    (tmp_path / "download.json").write_bytes(export.data)
    result = CliRunner().invoke(cli, ["verify", str(tmp_path / "download.json")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: 1 records, head ")
    kinds = [link["kind"] for link in json.loads(export.data)["records"][0]["record"]["links"]]
    assert kinds == ["poll", "thread", "townhall"]


ROLES = ["visitor", "resident", "moderator", "official", "admin"]
PUBLISHERS = {"official", "admin"}
EVERYONE = set(ROLES)
DECISION_ROUTES = [
    ("GET", "/decisions", EVERYONE), ("GET", "/decisions/1", EVERYONE),
    ("GET", "/decisions/feed.atom", EVERYONE), ("GET", "/decisions/commitments", EVERYONE),
    ("GET", "/api/v1/decisions", EVERYONE), ("GET", "/api/v1/decisions/1", EVERYONE),
    ("GET", "/api/v1/decisions/export", EVERYONE),
    ("GET", "/decisions/new", PUBLISHERS), ("POST", "/decisions/new", PUBLISHERS),
    ("GET", "/decisions/1/commitments/1", EVERYONE),
    ("POST", "/decisions/1/commitments/1/updates", PUBLISHERS),
    ("GET", "/api/v1/decisions/1/commitments/1/updates", EVERYONE),
    ("POST", "/api/v1/decisions/1/commitments/1/updates", PUBLISHERS),
]


def test_the_matrix_covers_every_decision_route(app):
    listed = {(method, path) for method, path, _ in DECISION_ROUTES}
    routes = {(method, rule.rule.replace("<int:seq>", "1").replace("<int:number>", "1"))
              for rule in app.url_map.iter_rules() if "decision" in rule.endpoint
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == listed


@pytest.mark.parametrize("role", ROLES)
def test_who_may_open_each_decision_page(app, client_as, publish, role):
    publish(commitments=[(utcnow().date() + timedelta(days=30), "Publish the costs")])
    client = app.test_client() if role == "visitor" else client_as(role)
    for method, path, allowed in DECISION_ROUTES:
        if method == "GET":
            response = client.get(path)
        else:
            token = csrf_token(client, "/register" if role == "visitor" else "/account")
            # The API takes its token from a header; the forms, from the form.
            response = client.post(path, data={"csrf_token": token, "action": "preview"},
                                   headers={"X-CSRFToken": token})
        status = response.status_code
        sent_to_sign_in = status == 302 and "/login?next=" in response.headers.get("Location", "")
        if role in allowed:
            assert status < 500 and status not in (401, 403) and not sent_to_sign_in, (path, status)
        elif role == "visitor":
            # The API answers a visitor 401 rather than sending it to the sign-in page.
            assert sent_to_sign_in or (path.startswith("/api/") and status == 401), (path, status)
        else:
            assert status == 403, (path, status)


def test_the_preview_shows_the_summary_and_the_page_goes_to_it(client_as):
    official = client_as(Role.OFFICIAL)
    form = official.get("/decisions/new").get_data(as_text=True)
    assert 'formaction="/decisions/new#preview"' in form
    response = official.post("/decisions/new", data=form_data(
        official, action="preview", summary="Deliveries keep **two loading bays**."))
    html = response.get_data(as_text=True)
    start = html.index('<section class="preview card"')
    preview = html[start:html.index("</section>", start)]
    assert "<strong>two loading bays</strong>" in preview
    # The button's #preview names the heading, which can take the focus.
    assert '<h2 id="preview" tabindex="-1">' in preview


def test_commitments_are_rows_and_more_rows_come_without_scripts(client_as):
    official = client_as(Role.OFFICIAL)
    form = official.get("/decisions/new").get_data(as_text=True)
    assert form.count('type="date"') == 3 and 'name="commitments-2-promise"' in form
    more = official.post("/decisions/new", data=form_data(
        official, action="more", **{"commitments-0-due": "2099-03-01",
                                    "commitments-0-promise": "Answer on parking"}))
    html = more.get_data(as_text=True)
    assert 'name="commitments-5-due"' in html and 'value="Answer on parking"' in html
    due = (utcnow().date() + timedelta(days=20)).isoformat()
    response = preview_and_publish(official, **{
        "commitments-0-due": due, "commitments-0-promise": "Answer on parking",
        "commitments-2-due": due, "commitments-2-promise": "Publish the costs"})
    assert response.status_code == 302
    record = db.session.query(DecisionRecord).one()
    assert [(c["due"], c["promise"]) for c in record.content["commitments"]] == [
        (due, "Answer on parking"), (due, "Publish the costs")]
