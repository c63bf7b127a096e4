"""The read-only forum API: public content only, paginated, in the OpenAPI document."""

from __future__ import annotations

import pytest

from participation.extensions import db
from participation.forums import services
from participation.moderation import services as moderation


def test_topics_are_listed_with_thread_counts(client, make_topic, make_thread):
    first = make_topic("First")
    make_topic("Second", status="archived")
    make_thread(in_topic=first)
    body = client.get("/api/v1/topics?per_page=1").get_json()
    assert body["total"] == 3 and body["per_page"] == 1 and len(body["items"]) == 1
    assert body["items"][0] == {**body["items"][0], "title": "First", "status": "open",
                                "thread_count": 1}
    last_page = client.get("/api/v1/topics?per_page=1&page=3").get_json()
    assert last_page["items"][0]["status"] == "archived"


def test_topic_threads_leave_out_hidden_threads(client, topic, make_thread, moderator):
    visible = make_thread(title="Visible")
    hidden = make_thread(title="Hidden one")
    moderation.hide_post(db.session, moderator, hidden.opening_post, reason="Abusive")
    db.session.commit()
    body = client.get(f"/api/v1/topics/{topic.id}/threads").get_json()
    assert [t["id"] for t in body["items"]] == [visible.id] and body["total"] == 1
    assert body["topic"]["id"] == topic.id
    assert client.get(f"/api/v1/threads/{hidden.id}").status_code == 404


def test_thread_shows_hidden_and_deleted_posts_without_their_text(client, make_thread,
                                                                  make_reply, moderator):
    thread = make_thread(body="Opening words")
    kept = make_reply(thread, body="kept")
    gone = make_reply(thread, body="regret this")
    hidden = make_reply(thread, body="rude words")
    services.delete_post(db.session, gone.author, gone)
    moderation.hide_post(db.session, moderator, hidden, reason="Rude")
    db.session.commit()
    body = client.get(f"/api/v1/threads/{thread.id}").get_json()
    assert body["thread"]["title"] == thread.title and body["thread"]["reply_count"] == 1
    posts = {p["id"]: p for p in body["posts"]["items"]}
    assert posts[kept.id]["status"] == "visible" and "kept" in posts[kept.id]["body_html"]
    assert posts[gone.id] == {**posts[gone.id], "status": "deleted", "body_html": None,
                              "author": None}
    assert posts[hidden.id]["status"] == "hidden" and posts[hidden.id]["body_html"] is None
    raw = client.get(f"/api/v1/threads/{thread.id}").get_data(as_text=True)
    assert "regret this" not in raw and "rude words" not in raw


@pytest.mark.parametrize("query", ["page=0", "per_page=500", "page=x"])
def test_bad_paging_is_a_clear_400(client, query):
    response = client.get(f"/api/v1/topics?{query}")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid"


def test_missing_topic_or_thread_is_json_404(client):
    for path in ("/api/v1/topics/9/threads", "/api/v1/threads/9"):
        response = client.get(path)
        assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_forum_endpoints_are_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/topics", "/api/v1/topics/{topic_id}/threads",
                 "/api/v1/threads/{thread_id}"):
        assert "get" in doc["paths"][path]
    assert {"ForumTopic", "ForumThread", "ForumPost"} <= set(doc["components"]["schemas"])
