"""Numbers in query strings are bounded in one place: a page or page size that is not a whole
number in range is a clear 400 on every page and API route, never a 500 from the database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, Request, request
from werkzeug.datastructures import ImmutableMultiDict

from participation.web import MAX_PAGE, MAX_PER_PAGE
from tests.conftest import csrf_token, sign_in
from tests.web.conftest import every_get_url

BAD_NUMBERS = ["99999999999999999999999", "-1", "abc", "0", "1.5", " 2", "+2", "٣"]

# Every route that reads ?page=. The walk below finds the routes that read it however they do;
# this list says which ones are meant to, so a listing cannot be added or lost unnoticed.
PAGINATED = {
    "admin.users", "decisions.index", "forums.awaiting", "forums.search", "forums.thread",
    "forums.topic",
    "forums.topics", "moderation.log", "moderation.queue", "notifications.index", "polls.index",
    "api.decisions", "api.polls", "api.thread", "api.topic_threads", "api.topics",
    "api.townhalls",
}
# Routes whose reader chooses the page size with ?per_page=.
SIZED = {"polls.index", "api.decisions", "api.polls", "api.thread", "api.topic_threads",
         "api.topics", "api.townhalls"}
# Other numbers read from query strings, and the routes that read them.
NUMBERS = {"topic": {"moderation.log"}, "amends": {"decisions.publish"},
           "closes": {"decisions.publish"}}


class ReadArguments(ImmutableMultiDict):
    """Query arguments that remember which names the view looked up."""

    read: list[tuple[str, str]] = []

    def __getitem__(self, key: Any) -> Any:
        ReadArguments.read.append((request.endpoint or "", key))
        return super().__getitem__(key)


class RecordingRequest(Request):
    parameter_storage_class = ReadArguments


@pytest.fixture
def recording(app: Flask) -> Iterator[list[tuple[str, str]]]:
    app.request_class = RecordingRequest  # type: ignore[assignment]
    ReadArguments.read = []
    yield ReadArguments.read
    ReadArguments.read = []


@pytest.fixture
def admin_client(app: Flask, site: Any) -> Any:
    client = app.test_client()
    assert sign_in(client, site.people["admin"].email).status_code == 302
    return client


def _walk(client: Any, app: Flask, site: Any, query: str) -> dict[str, list[Any]]:
    answers: dict[str, list[Any]] = {}
    for endpoint, path in every_get_url(app, site):
        response = client.get(f"{path}?{query}")
        assert response.status_code < 500, f"{path}?{query}: {response.status_code}"
        answers.setdefault(endpoint, []).append(response)
    return answers


def _readers(read: list[tuple[str, str]], name: str) -> set[str]:
    return {endpoint for endpoint, key in read if key == name}


def _refused(response: Any, name: str) -> bool:
    if response.status_code != 400:
        return False
    text = (response.get_json()["message"] if response.is_json
            else response.get_data(as_text=True))
    return f"“{name}” must be a whole number from 1 to" in text


@pytest.mark.parametrize(("name", "value"), [
    *[("page", value) for value in ("99999999999999999999999", "-1", "abc")],
    *[("per_page", value) for value in ("99999999999999999999999", "-1", "abc", "101")],
])
def test_every_route_that_reads_a_page_or_its_size_refuses_one_out_of_range(
        app, site, admin_client, recording, name, value):
    answers = _walk(admin_client, app, site, f"{name}={value}")
    readers = _readers(recording, name)
    assert readers == {"page": PAGINATED, "per_page": SIZED}[name]
    for endpoint in readers:
        assert all(_refused(response, name) for response in answers[endpoint]), endpoint


@pytest.mark.parametrize("name", sorted(NUMBERS))
def test_other_numbers_in_query_strings_are_bounded_too(app, site, admin_client, recording,
                                                        name):
    answers = _walk(admin_client, app, site, f"{name}=99999999999999999999999")
    assert _readers(recording, name) == NUMBERS[name]
    for endpoint in NUMBERS[name]:
        assert all(_refused(response, name) for response in answers[endpoint])


def test_a_quote_past_any_id_is_left_out_like_any_unknown_quote(app, site, admin_client):
    thread = site.objects["linked_thread"]
    quoted = admin_client.get(f"/threads/{thread.id}?quote={site.ids['post_id'][0]}")
    assert "Quoting" in quoted.get_data(as_text=True)
    for value in ("99999999999999999999999", "9" * 5000, "-1", "abc"):
        page = admin_client.get(f"/threads/{thread.id}?quote={value}")
        assert page.status_code == 200 and "Quoting" not in page.get_data(as_text=True)


def test_visitors_get_no_server_error_from_a_huge_page_either(app, site, client):
    _walk(client, app, site, "page=99999999999999999999999&per_page=99999999999999999999999")


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_a_page_is_digits_only_on_html_and_api_alike(site, client, value):
    for path in ("/topics", "/api/v1/topics"):
        assert _refused(client.get(path, query_string={"page": value}), "page"), (path, value)


def test_the_largest_page_is_an_empty_page_and_one_more_is_refused(site, client):
    for path in ("/topics", "/search?q=park", "/decisions", "/api/v1/topics",
                 f"/api/v1/topics?per_page={MAX_PER_PAGE}"):
        joiner = "&" if "?" in path else "?"
        assert client.get(f"{path}{joiner}page={MAX_PAGE}").status_code == 200, path
        assert _refused(client.get(f"{path}{joiner}page={MAX_PAGE + 1}"), "page"), path
    listing = client.get(f"/api/v1/topics?page={MAX_PAGE}&per_page={MAX_PER_PAGE}").get_json()
    assert listing["items"] == [] and listing["total"] == 3


def test_an_empty_page_argument_means_the_first_page(site, client):
    assert client.get("/topics?page=").status_code == 200
    assert client.get("/api/v1/topics?page=&per_page=").get_json()["page"] == 1


def test_a_reply_quoting_a_post_past_any_id_is_refused_not_a_crash(app, site):
    client = app.test_client()
    sign_in(client, site.people["follower"].email)
    thread = site.objects["linked_thread"]
    response = client.post(f"/threads/{thread.id}/replies", data={
        "body": "Quoting nothing", "quote_id": "99999999999999999999999",
        "csrf_token": csrf_token(client, f"/threads/{thread.id}")})
    assert response.status_code == 400
    assert "That quote is not valid." in response.get_data(as_text=True)
