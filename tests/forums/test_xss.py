"""The XSS corpus through every forum field that shows user text, stored and rendered."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from participation.extensions import db
from participation.forums.models import Post, Thread, Topic
from participation.security.permissions import Role
from participation.security.sanitize import clean_html, render_markdown
from tests.conftest import csrf_token
from tests.forums.xss_corpus import XSS_PAYLOADS, unsafe_parts, url_scheme


def test_corpus_is_large_enough_and_distinct():
    assert len(XSS_PAYLOADS) >= 60
    assert len(set(XSS_PAYLOADS)) == len(XSS_PAYLOADS)


@pytest.mark.parametrize(("html", "problem"), [
    ('<script>alert(1)</script>', "script"),
    ('<img src=x onerror="alert(1)">', "onerror"),
    ('<a href="&#106;avascript:alert(1)">x</a>', "href"),
    ('<a href=" java\tscript:alert(1)">x</a>', "href"),
    ('<a href="data:text/html,x">x</a>', "href"),
    ('<svg><a xlink:href="https://ok">x</a></svg>', "svg"),
    ('<p style="x">x</p>', "style"),
    ('<link rel="canonical" href="https://elsewhere.example/">', "link"),
    ('<link rel="stylesheet" href="/x.css">', "link"),
])
def test_the_checker_catches_what_it_should(html, problem):
    problems = unsafe_parts(html)
    assert problems and any(problem in p for p in problems)


def test_the_checker_accepts_safe_links():
    html = ('<a href="https://x.example" rel="nofollow">a</a><a href="/topics">b</a>'
            '<a href="mailto:a@b.example">c</a><script src="/static/js/x.js"></script>')
    assert unsafe_parts(html) == []
    assert url_scheme("/threads/1") is None and url_scheme(" HTTPS://x") == "https"


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_sanitized_html_is_safe_and_sanitizing_is_idempotent(payload):
    rendered = render_markdown(payload)
    assert unsafe_parts(rendered) == [], rendered
    assert clean_html(rendered) == rendered
    once = clean_html(payload)
    assert unsafe_parts(once) == [], once
    assert clean_html(once) == once
    assert render_markdown(payload) == rendered


def _post(client, path, data, form_path="/account"):
    # One token per signed-in session serves every form (no time limit is configured).
    if not hasattr(client, "csrf"):
        client.csrf = csrf_token(client, form_path)
    return client.post(path, data={**data, "csrf_token": client.csrf})


def _assert_safe_page(client, path):
    response = client.get(path)
    assert response.status_code == 200, path
    html = response.get_data(as_text=True)
    assert unsafe_parts(html) == [], path
    return html


def test_every_field_that_shows_user_text_is_safe_stored_and_rendered(app, client_as,
                                                                      make_topic):
    app.config["LIMIT_POST"] = "100000 per minute"
    app.config["LIMIT_FLAG"] = "100000 per minute"
    official = client_as(Role.OFFICIAL)
    author, replier, flagger = (client_as(Role.RESIDENT) for _ in range(3))
    moderator = client_as(Role.MODERATOR)

    for n, payload in enumerate(XSS_PAYLOADS):
        name = f"{n} {payload}"[:80]
        response = _post(author, "/account/name", {"display_name": name})
        assert response.status_code == 302, name
        if n % 10 == 0:
            response = _post(official, "/topics/new", {
                "title": payload[:200], "description": payload, "status": "open"})
            assert response.status_code == 302
        topic = db.session.scalar(select(Topic).order_by(Topic.id.desc()))
        response = _post(author, f"/topics/{topic.id}/threads",
                         {"title": f"{n} {payload}"[:200], "body": payload})
        assert response.status_code == 302, payload
        thread = db.session.scalar(select(Thread).order_by(Thread.id.desc()))
        response = _post(replier, f"/threads/{thread.id}/replies",
                         {"body": payload, "quote_id": str(thread.opening_post.id)})
        assert response.status_code == 302, payload
        reply = db.session.scalar(select(Post).order_by(Post.id.desc()))
        response = _post(flagger, f"/posts/{reply.id}/flag",
                         {"reason": "other", "detail": f"{n} {payload}"[:500]})
        assert response.status_code == 302, payload
        _assert_safe_page(moderator, f"/threads/{thread.id}")
        if n % 5 == 0:  # the author's own view shows the name in the header too
            _assert_safe_page(author, f"/threads/{thread.id}")

    db.session.expire_all()
    for post in db.session.scalars(select(Post)):
        assert unsafe_parts(post.body_html) == [], post.body
        assert clean_html(post.body_html) == post.body_html
    for topic in db.session.scalars(select(Topic)):
        assert unsafe_parts(topic.description_html) == []
        assert clean_html(topic.description_html) == topic.description_html

    pages = ["/topics", "/notifications", "/moderation", "/moderation/log",
             "/search?q=alert", "/search?q=script+alert"]
    pages += [f"/topics/{t.id}" for t in db.session.scalars(select(Topic))]
    pages += [f"/moderation/flags?page={p}" for p in range(1, len(XSS_PAYLOADS) // 30 + 2)]
    for path in pages:
        _assert_safe_page(moderator, path)
    for path in ("/topics", "/notifications"):
        _assert_safe_page(author, path)

    for thread_id in db.session.scalars(select(Thread.id)):
        body = author.get(f"/api/v1/threads/{thread_id}").get_json()
        for post in body["posts"]["items"]:
            assert unsafe_parts(post["body_html"] or "") == []
