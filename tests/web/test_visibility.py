"""Every page that names a town hall, poll or thread asks the rule the item's own page asks.

Written as an attacker would try it: make private things, then open every page a visitor (or a
resident) can reach, including searches and filters aimed at them, and look for their names.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.conftest import sign_in
from tests.web.conftest import (
    HIDDEN_FROM_RESIDENTS,
    HIDDEN_THREAD,
    PRIVATE_HALL,
    PRIVATE_POLL,
    SECRETS,
    every_get_url,
)


def _aimed_at(site: Any) -> list[str]:
    """Pages with query strings that go looking for the private items."""
    hall = site.objects["private_hall"]
    return [
        "/search?q=Zq7", "/search?q=private", "/search?q=hidden+thread",
        f"/decisions?townhall={hall.id}", f"/decisions?topic={site.objects['private_topic'].id}",
        "/api/v1/townhalls?per_page=100", "/api/v1/polls?per_page=100",
        "/api/v1/topics?per_page=100", "/townhalls?order=new",
        f"/townhalls/{hall.id}?order=new", f"/townhalls/{hall.id}/projector?part=live",
        f"/threads/{site.objects['linked_thread'].id}"
        f"?quote={site.objects['hidden_thread'].opening_post.id}",
        f"/polls/new?parent=townhall:{hall.id}", f"/moderation/log?topic={hall.id}",
    ]


def _leaks(client: Any, paths: list[str], secrets: tuple[str, ...]) -> list[tuple[str, str]]:
    found = []
    for path in paths:
        response = client.get(path)
        assert response.status_code < 500, path
        body = response.get_data(as_text=True)
        found += [(path, secret) for secret in secrets if secret in body]
    return found


def _pages(app: Flask, site: Any) -> list[str]:
    return [path for _, path in every_get_url(app, site)] + _aimed_at(site)


def _signed_in(app: Flask, user: Any) -> Any:
    client = app.test_client()
    assert sign_in(client, user.email).status_code == 302
    return client


def test_a_visitor_finds_no_private_item_on_any_page_or_in_any_answer(app, site, client):
    assert _leaks(client, _pages(app, site), SECRETS) == []


@pytest.mark.parametrize("who", ["follower", "official"])
def test_residents_and_officials_find_no_hidden_thread_on_any_page(app, site, who):
    """The follower replied in the thread before a moderator hid it, so their own reply's edit
    page is among the pages that name the thread."""
    viewer = _signed_in(app, site.people[who])
    assert _leaks(viewer, _pages(app, site), HIDDEN_FROM_RESIDENTS) == []


def test_the_reply_in_a_hidden_thread_can_still_be_edited_by_its_author(app, site):
    follower = _signed_in(app, site.people["follower"])
    page = follower.get(f"/posts/{site.objects['hidden_reply'].id}/edit")
    assert page.status_code == 200 and "Hidden thread" in page.get_data(as_text=True)


def test_the_rule_lets_residents_see_private_town_halls_and_moderators_hidden_threads(app,
                                                                                      site):
    topic = site.objects["private_topic"]
    resident = _signed_in(app, site.people["follower"])
    assert PRIVATE_HALL in resident.get(f"/topics/{topic.id}").get_data(as_text=True)
    assert PRIVATE_POLL in resident.get("/polls").get_data(as_text=True)
    moderator = _signed_in(app, site.people["moderator"])
    hidden = site.objects["hidden_thread"]
    assert HIDDEN_THREAD in moderator.get(f"/topics/{hidden.topic_id}").get_data(as_text=True)


def test_a_topic_of_a_private_town_hall_says_so_without_naming_or_linking_it(site, client):
    topic = site.objects["private_topic"]
    hall = site.objects["private_hall"]
    page = client.get(f"/topics/{topic.id}").get_data(as_text=True)
    assert "a private town hall" in page
    assert f"/townhalls/{hall.id}" not in page


def test_the_api_does_not_point_visitors_at_a_private_town_hall(app, site, client):
    topic = site.objects["private_topic"]
    hall = site.objects["private_hall"]
    listed = {t["id"]: t for t in client.get("/api/v1/topics").get_json()["items"]}
    assert listed[topic.id]["townhall_id"] is None
    threads = client.get(f"/api/v1/topics/{topic.id}/threads").get_json()
    assert threads["topic"]["townhall_id"] is None
    resident = _signed_in(app, site.people["follower"])
    listed = {t["id"]: t for t in resident.get("/api/v1/topics").get_json()["items"]}
    assert listed[topic.id]["townhall_id"] == hall.id


@pytest.mark.parametrize("path", ["/api/v1/townhalls", "/townhalls", "/"])
def test_town_hall_lists_follow_the_same_rule_for_visitors_and_residents(app, site, client,
                                                                          path):
    assert PRIVATE_HALL not in client.get(path).get_data(as_text=True)
    resident = _signed_in(app, site.people["follower"])
    assert PRIVATE_HALL in resident.get(path).get_data(as_text=True)


def test_a_private_town_hall_is_not_found_in_the_api_by_visitors(app, site, client):
    hall = site.objects["private_hall"]
    assert client.get(f"/api/v1/townhalls/{hall.id}").status_code == 404
    resident = _signed_in(app, site.people["follower"])
    assert resident.get(f"/api/v1/townhalls/{hall.id}").get_json()["title"] == PRIVATE_HALL


def test_the_decision_filter_offers_a_private_town_hall_only_to_those_who_may_see_it(app, site,
                                                                                      client):
    hall = site.objects["private_hall"]
    record = site.objects["record"]
    assert PRIVATE_HALL not in client.get("/decisions").get_data(as_text=True)
    assert client.get(f"/decisions?townhall={hall.id}").status_code == 400
    resident = _signed_in(app, site.people["follower"])
    assert PRIVATE_HALL in resident.get("/decisions").get_data(as_text=True)
    filtered = resident.get(f"/decisions?townhall={hall.id}")
    assert filtered.status_code == 200 and record.title in filtered.get_data(as_text=True)


def test_the_publish_form_suggests_only_what_a_record_may_rest_on(app, site):
    official = _signed_in(app, site.people["official"])
    page = official.get("/decisions/new").get_data(as_text=True)
    assert site.objects["topic_poll"].question in page
    assert site.objects["linked_thread"].title in page
    assert PRIVATE_POLL not in page and HIDDEN_THREAD not in page
