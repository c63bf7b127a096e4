"""The forum through the HTTP test client: plain form posts with CSRF, no JavaScript needed."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from participation.extensions import db
from participation.forums import services
from participation.forums.models import Post, Thread, Topic
from participation.security.permissions import Role
from tests.conftest import csrf_token


def _post(client, path, data, form_path=None):
    data = {**data, "csrf_token": csrf_token(client, form_path or "/account")}
    return client.post(path, data=data)


def _unread(html: str) -> int:
    match = re.search(r'data-unread="(\d+)"', html)
    return int(match.group(1)) if match else 0


def test_topic_list_is_the_forums_nav_entry(client, topic):
    html = client.get("/topics").get_data(as_text=True)
    assert 'href="/topics" aria-current="page">Forums</a>' in html
    assert topic.title in html


def test_official_opens_and_edits_a_topic_resident_cannot(client_as, app, linked_townhall):
    official = client_as(Role.OFFICIAL)
    response = _post(official, "/topics/new", {"title": "Library hours",
                                                "description": "Longer *hours*?",
                                                "status": "open",
                                                "townhall_id": str(linked_townhall.id)},
                     "/topics/new")
    assert response.status_code == 302
    topic = db.session.scalar(select(Topic))
    assert topic.townhall_id == linked_townhall.id and "<em>hours</em>" in topic.description_html
    response = _post(official, f"/topics/{topic.id}/edit",
                     {"title": "Library opening hours", "description": "", "status": "archived"},
                     "/topics/new")
    assert response.status_code == 302
    db.session.refresh(topic)
    assert topic.title == "Library opening hours" and not topic.is_open
    resident = client_as(Role.RESIDENT)
    assert resident.get("/topics/new").status_code == 403
    assert _post(resident, "/topics/new", {"title": "x", "status": "open"}).status_code == 403


def test_whole_story_thread_replies_flags_hide_restore_notifications(app, client_as, topic,
                                                                     make_user):
    """Done when: start, reply, flag three times, hidden, restored, the author is told."""
    author = client_as(Role.RESIDENT)
    response = _post(author, f"/topics/{topic.id}/threads",
                     {"title": "Keep the oaks", "body": "They give the only **shade**."})
    assert response.status_code == 302
    thread = db.session.scalar(select(Thread))
    post_id = thread.opening_post.id
    assert response.headers["Location"].endswith(f"/threads/{thread.id}")

    replier = client_as(Role.RESIDENT)
    response = _post(replier, f"/threads/{thread.id}/replies", {"body": "Seconded."})
    assert response.status_code == 302
    assert replier.get(response.headers["Location"]).status_code == 302  # /posts/<id> -> page
    page = replier.get(f"/threads/{thread.id}").get_data(as_text=True)
    assert "Seconded." in page and "<strong>shade</strong>" in page

    flaggers = [client_as(Role.RESIDENT) for _ in range(3)]
    for n, flagger in enumerate(flaggers, start=1):
        response = _post(flagger, f"/posts/{post_id}/flag", {"reason": "abusive"},
                         f"/posts/{post_id}/flag")
        assert response.status_code == 302
        html = client_as(Role.RESIDENT).get(f"/threads/{thread.id}").get_data(as_text=True)
        assert ("Hidden pending review" in html) is (n == 3)
    visitor_view = app.test_client().get(f"/threads/{thread.id}").get_data(as_text=True)
    assert "They give the only" not in visitor_view and "Keep the oaks" not in visitor_view
    assert "Keep the oaks" not in app.test_client().get(f"/topics/{topic.id}").get_data(
        as_text=True)

    moderator = client_as(Role.MODERATOR)
    queue = moderator.get("/moderation/flags").get_data(as_text=True)
    assert "Keep the oaks" in queue and "3 open flags" in queue
    response = _post(moderator, f"/moderation/posts/{post_id}/restore", {}, "/moderation/flags")
    assert response.status_code == 302
    assert "Nothing to review" in moderator.get("/moderation/flags").get_data(as_text=True)
    assert "They give the only" in app.test_client().get(f"/threads/{thread.id}").get_data(
        as_text=True)

    home = author.get("/topics").get_data(as_text=True)
    assert _unread(home) == 3
    notices = author.get("/notifications").get_data(as_text=True)
    assert "replied in “Keep the oaks”" in notices
    assert "hidden until a moderator reviews it" in notices
    assert "restored your post" in notices
    response = _post(author, "/notifications/read", {}, "/notifications")
    assert response.status_code == 302
    assert _unread(author.get("/topics").get_data(as_text=True)) == 0

    counts = app.test_client().get(f"/topics/{topic.id}").get_data(as_text=True)
    assert "hidden by flags" in counts and "restored" in counts
    ledger = app.test_client().get("/moderation").get_data(as_text=True)
    assert topic.title in ledger


def test_overlong_or_empty_reply_keeps_what_was_typed(client_as, make_thread):
    thread = make_thread()
    resident = client_as(Role.RESIDENT)
    typed = "Draft words " + "z" * 20_000
    response = _post(resident, f"/threads/{thread.id}/replies", {"body": typed})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Keep it to 20,000 characters or fewer." in html
    assert "Draft words zzz" in html
    response = _post(resident, f"/threads/{thread.id}/replies", {"body": "   "})
    assert response.status_code == 400 and "Write something first." in response.get_data(
        as_text=True)
    response = _post(resident, f"/topics/{thread.topic_id}/threads",
                     {"title": "My title stays", "body": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'value="My title stays"' in html
    assert db.session.query(Post).count() == 1


def test_editing_someone_elses_post_is_refused_and_changes_nothing(client_as, make_thread):
    thread = make_thread(body="original words")
    stranger = client_as(Role.RESIDENT)
    post_id = thread.opening_post.id
    assert stranger.get(f"/posts/{post_id}/edit").status_code == 403
    response = _post(stranger, f"/posts/{post_id}/edit", {"body": "defaced", "title": "x"})
    assert response.status_code == 403
    assert _post(stranger, f"/posts/{post_id}/delete", {}).status_code == 403
    assert stranger.get(f"/posts/{post_id}/history").status_code == 403
    db.session.expire_all()
    post = db.session.get(Post, post_id)
    assert post.body == "original words" and post.deleted_at is None


def test_author_edits_shows_edited_and_history_then_deletes(client_as, make_user, make_thread,
                                                            make_reply):
    author = make_user()
    client = client_as(user=author)
    thread = make_thread()
    reply = make_reply(thread, author, body="first version")
    response = _post(client, f"/posts/{reply.id}/edit", {"body": "second version"},
                     f"/posts/{reply.id}/edit")
    assert response.status_code == 302
    page = client.get(f"/threads/{thread.id}").get_data(as_text=True)
    assert "second version" in page and ">edited</span>" in page
    history = client.get(f"/posts/{reply.id}/history").get_data(as_text=True)
    assert "first version" in history and "second version" in history
    response = _post(client, f"/posts/{reply.id}/delete", {})
    assert response.status_code == 302
    page = client.get(f"/threads/{thread.id}").get_data(as_text=True)
    assert "Deleted by the author." in page and "second version" not in page


def test_locked_thread_refuses_replies_with_a_clear_message(client_as, make_thread):
    thread = make_thread()
    moderator = client_as(Role.MODERATOR)
    response = _post(moderator, f"/moderation/threads/{thread.id}/lock",
                     {"state": "1", "reason": "Heated"})
    assert response.status_code == 302
    resident = client_as(Role.RESIDENT)
    page = resident.get(f"/threads/{thread.id}").get_data(as_text=True)
    assert "This thread is locked" in page
    response = _post(resident, f"/threads/{thread.id}/replies", {"body": "Let me in"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "This thread is locked: it takes no new posts" in html
    assert db.session.query(Post).count() == 1


def test_moderator_hides_with_reason_the_form_keeps_text_on_error(client_as, make_thread,
                                                                  make_reply):
    thread = make_thread()
    reply = make_reply(thread, body="my phone is 555")
    moderator = client_as(Role.MODERATOR)
    response = _post(moderator, f"/moderation/posts/{reply.id}/hide", {"reason": ""})
    assert response.status_code == 400
    assert "Give a reason" in response.get_data(as_text=True)
    response = _post(moderator, f"/moderation/posts/{reply.id}/hide",
                     {"reason": "Phone number", "next": f"/threads/{thread.id}"})
    assert response.status_code == 302 and response.headers["Location"] == f"/threads/{thread.id}"
    log = moderator.get("/moderation/log").get_data(as_text=True)
    assert "Hidden by a moderator" in log and "Phone number" in log
    assert client_as(Role.RESIDENT).get("/moderation/log").status_code == 403


def test_move_and_pin_through_forms(client_as, make_topic, make_thread):
    first, second = make_topic("First"), make_topic("Second")
    thread = make_thread(in_topic=first)
    moderator = client_as(Role.MODERATOR)
    assert _post(moderator, f"/moderation/threads/{thread.id}/pin",
                 {"state": "1"}).status_code == 302
    assert _post(moderator, f"/moderation/threads/{thread.id}/move",
                 {"topic_id": str(second.id)}).status_code == 302
    assert _post(moderator, f"/moderation/threads/{thread.id}/move",
                 {"topic_id": "99999"}).status_code == 404
    db.session.expire_all()
    moved = db.session.get(Thread, thread.id)
    assert moved.topic_id == second.id and moved.pinned


def test_flag_form_keeps_detail_and_refuses_duplicates(client_as, make_thread):
    post_id = make_thread().opening_post.id
    resident = client_as(Role.RESIDENT)
    response = _post(resident, f"/posts/{post_id}/flag", {"reason": "other", "detail": ""})
    assert response.status_code == 400
    assert "Say what is wrong" in response.get_data(as_text=True)
    response = _post(resident, f"/posts/{post_id}/flag", {"reason": "nonsense",
                                                           "detail": "kept text"})
    assert response.status_code == 400 and "kept text" in response.get_data(as_text=True)
    assert _post(resident, f"/posts/{post_id}/flag", {"reason": "spam"}).status_code == 302
    response = _post(resident, f"/posts/{post_id}/flag", {"reason": "spam"})
    assert response.status_code == 400
    assert "already flagged" in response.get_data(as_text=True)


def test_follow_and_unfollow(client_as, make_thread):
    thread = make_thread()
    resident = client_as(Role.RESIDENT)
    _post(resident, f"/threads/{thread.id}/follow", {"follow": "1"})
    assert "Following: stop" in resident.get(f"/threads/{thread.id}").get_data(as_text=True)
    _post(resident, f"/threads/{thread.id}/follow", {"follow": "0"})
    assert "Follow this thread" in resident.get(f"/threads/{thread.id}").get_data(as_text=True)


def test_posting_needs_sign_in_and_csrf(app, client_as, make_thread):
    thread = make_thread()
    visitor = app.test_client()
    response = visitor.post(f"/threads/{thread.id}/replies",
                            data={"body": "hi", "csrf_token": csrf_token(visitor, "/login")})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    resident = client_as(Role.RESIDENT)
    response = resident.post(f"/threads/{thread.id}/replies", data={"body": "hi"})
    assert response.status_code == 400
    assert db.session.query(Post).count() == 1


@pytest.mark.parametrize("path", ["/topics/999", "/threads/999", "/posts/999",
                                  "/posts/999/flag"])
def test_missing_things_are_404(client_as, path):
    assert client_as(Role.RESIDENT).get(path).status_code == 404


def test_posting_is_rate_limited_per_account(app, client_as, make_thread):
    app.config["LIMIT_POST"] = "2 per minute"
    thread = make_thread()
    client = client_as(Role.RESIDENT)
    codes = [_post(client, f"/threads/{thread.id}/replies", {"body": f"r{n}"}).status_code
             for n in range(3)]
    assert codes == [302, 302, 429]
    other = client_as(Role.RESIDENT)
    assert _post(other, f"/threads/{thread.id}/replies", {"body": "mine"}).status_code == 302
    assert db.session.query(Post).count() == 4


def test_flagging_is_rate_limited(app, client_as, make_thread):
    app.config["LIMIT_FLAG"] = "1 per minute"
    posts = [make_thread().opening_post.id for _ in range(2)]
    client = client_as(Role.RESIDENT)
    assert _post(client, f"/posts/{posts[0]}/flag", {"reason": "spam"}).status_code == 302
    assert _post(client, f"/posts/{posts[1]}/flag", {"reason": "spam"}).status_code == 429


def test_archived_topic_says_so_and_refuses_threads(client_as, make_topic):
    topic = make_topic("Old", status="archived")
    resident = client_as(Role.RESIDENT)
    assert "archived: it takes no new threads" in resident.get(f"/topics/{topic.id}").get_data(
        as_text=True)
    response = _post(resident, f"/topics/{topic.id}/threads", {"title": "x", "body": "y"})
    assert response.status_code == 400
    assert "archived" in response.get_data(as_text=True)


def test_topic_page_links_its_town_hall(client, official, linked_townhall):
    topic = services.create_topic(db.session, official, title="Budget questions",
                                  description="", townhall_id=linked_townhall.id)
    db.session.commit()
    html = client.get(f"/topics/{topic.id}").get_data(as_text=True)
    assert f'href="/townhalls/{linked_townhall.id}">Budget town hall</a>' in html


def test_flag_threshold_is_a_setting(app, client_as, make_thread, monkeypatch, tmp_path):
    from participation.config import from_environment

    monkeypatch.setenv("FORUM_FLAG_THRESHOLD", "5")
    assert from_environment(str(tmp_path))["FORUM_FLAG_THRESHOLD"] == 5
    app.config["FORUM_FLAG_THRESHOLD"] = 1
    thread = make_thread()
    _post(client_as(Role.RESIDENT), f"/posts/{thread.opening_post.id}/flag", {"reason": "spam"})
    db.session.expire_all()
    assert db.session.get(Post, thread.opening_post.id).hidden


def test_opening_a_notification_marks_it_read_and_follows_its_link(client_as, make_user,
                                                                  make_thread, make_reply):
    author = make_user()
    client = client_as(user=author)
    thread = make_thread(author)
    reply = make_reply(thread)
    make_reply(thread)
    page = client.get("/notifications").get_data(as_text=True)
    ids = re.findall(r'href="/notifications/(\d+)"', page)
    assert len(ids) == 2 and _unread(page) == 2
    response = client.get(f"/notifications/{ids[-1]}")
    assert response.status_code == 302 and response.headers["Location"] == f"/posts/{reply.id}"
    assert _unread(client.get("/notifications").get_data(as_text=True)) == 1
    assert client_as(Role.RESIDENT).get(f"/notifications/{ids[0]}").status_code == 404


def test_deleting_a_post_asks_first_on_a_page_of_its_own(client_as, make_user, make_thread,
                                                         make_reply):
    author = make_user()
    client = client_as(user=author)
    thread = make_thread()
    reply = make_reply(thread, author, body="think twice")
    html = client.get(f"/threads/{thread.id}").get_data(as_text=True)
    assert f'href="/posts/{reply.id}/delete" class="danger-link">Delete<' in html
    asked = client.get(f"/posts/{reply.id}/delete")
    assert asked.status_code == 200
    text = asked.get_data(as_text=True)
    assert "think twice" in text and 'class="button button--danger">Yes, delete my post<' in text
    assert client_as(user=make_user()).get(f"/posts/{reply.id}/delete").status_code == 403
    db.session.refresh(reply)
    assert not reply.deleted
    assert _post(client, f"/posts/{reply.id}/delete", {}).status_code == 302
    db.session.refresh(reply)
    assert reply.deleted
