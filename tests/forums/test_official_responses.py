"""Answers from the city: official responses in threads, the awaiting filter and queue, and the
response-time figures."""

from __future__ import annotations

import re
import statistics
from datetime import timedelta

import pytest
from flask_babel import format_timedelta
from sqlalchemy import func, select

from participation.db import utcnow
from participation.errors import Closed, Conflict, Forbidden, InvalidInput
from participation.extensions import db
from participation.forums import services
from participation.forums.models import Post, PostRevision, Thread
from participation.moderation import services as moderation
from participation.security.permissions import Role
from tests.conftest import csrf_token

DEPARTMENT = "Transport and Parks"


def _post(client, path, data, form_path="/account"):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, form_path)})


def _started_ago(thread: Thread, delta: timedelta) -> Thread:
    """Move a thread's start (and its opening post) back in time."""
    moment = utcnow() - delta
    thread.created_at = moment
    thread.opening_post.created_at = moment
    db.session.commit()
    return thread


def _respond(official, thread, *, department=DEPARTMENT, body="The city will look at it.",
             at=None) -> Post:
    post = services.respond_officially(db.session, official, thread, body=body,
                                       department=department)
    if at is not None:
        post.created_at = at
    db.session.commit()
    return post


def _post_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Post))


def test_official_response_marks_the_thread_with_its_department_and_time(app, client_as,
                                                                        make_thread):
    thread = _started_ago(make_thread(), timedelta(hours=3, minutes=20))
    official = client_as(Role.OFFICIAL)
    response = _post(official, f"/threads/{thread.id}/official-responses",
                     {"official-department": DEPARTMENT,
                      "official-body": "We are planting **shade trees** this autumn."})
    assert response.status_code == 302
    answer = db.session.scalar(select(Post).where(Post.official_department.is_not(None)))
    assert answer.thread_id == thread.id and answer.author_id == official.user.id
    with app.test_request_context():
        took = format_timedelta(answer.created_at - thread.created_at)
    html = app.test_client().get(f"/threads/{thread.id}").get_data(as_text=True)
    assert f"Answered by {DEPARTMENT} in {took}" in html
    assert "Awaiting an official response" not in html
    article = re.search(rf'<article class="([^"]*)" id="post-{answer.id}"', html)
    assert article and "post--official" in article.group(1)
    assert f"Official response · {DEPARTMENT}" in html


def test_the_thread_shows_the_time_in_the_readers_language(app, make_thread, official):
    thread = _started_ago(make_thread(), timedelta(days=2, hours=1))
    answer = _respond(official, thread)
    with app.test_request_context(headers={"Accept-Language": "es"}):
        took = format_timedelta(answer.created_at - thread.created_at)
    html = app.test_client().get(f"/threads/{thread.id}", headers={"Accept-Language": "es"}
                                 ).get_data(as_text=True)
    assert f"Respondido por {DEPARTMENT} en {took}" in html


def test_only_the_first_official_response_counts_for_the_time(app, make_thread, official,
                                                              make_user):
    thread = _started_ago(make_thread(), timedelta(days=3))
    first = _respond(official, thread, at=utcnow() - timedelta(days=2))
    _respond(make_user(Role.ADMIN), thread, department="Mayor's office")
    assert services.first_responses(db.session, [thread.id])[thread.id].id == first.id
    with app.test_request_context():
        took = format_timedelta(first.created_at - thread.created_at)
    html = app.test_client().get(f"/threads/{thread.id}").get_data(as_text=True)
    assert f"Answered by {DEPARTMENT} in {took}" in html


def test_an_unanswered_thread_says_it_is_awaiting(client, make_thread):
    thread = make_thread()
    assert "Awaiting an official response" in client.get(f"/threads/{thread.id}").get_data(
        as_text=True)


def test_the_form_offers_the_officials_last_department(client_as, make_thread):
    official = client_as(Role.OFFICIAL)
    _respond(official.user, make_thread(title="Earlier one"), department="Public Works")
    html = official.get(f"/threads/{make_thread().id}").get_data(as_text=True)
    assert re.search(r'name="official-department"[^>]*value="Public Works"', html)
    resident_html = client_as(Role.RESIDENT).get(f"/threads/{make_thread().id}").get_data(
        as_text=True)
    assert "official-department" not in resident_html


def test_topic_list_can_show_only_threads_awaiting_a_response(client, topic, make_thread,
                                                              official):
    answered = make_thread(title="Answered already")
    waiting = make_thread(title="Still waiting")
    _respond(official, answered)
    html = client.get(f"/topics/{topic.id}").get_data(as_text=True)
    assert f'href="/topics/{topic.id}?awaiting=1"' in html
    assert "Answered already" in html and "Still waiting" in html
    assert f"Answered by {DEPARTMENT}" in html
    filtered = client.get(f"/topics/{topic.id}?awaiting=1").get_data(as_text=True)
    assert "Still waiting" in filtered and "Answered already" not in filtered
    assert f'href="/topics/{topic.id}"' in filtered
    threads, total = services.list_threads(db.session, topic, awaiting=True)
    assert [t.id for t in threads] == [waiting.id] and total == 1
    assert client.get(f"/topics/{topic.id}?awaiting=yes").status_code == 400


def test_queue_lists_waiting_threads_oldest_first_without_answered_locked_or_hidden(
        client_as, make_thread, make_topic, official, moderator):
    newer = _started_ago(make_thread(title="Newer wait"), timedelta(hours=2))
    older = _started_ago(make_thread(title="Older wait"), timedelta(days=4))
    answered = _started_ago(make_thread(title="Answered one"), timedelta(days=9))
    _respond(official, answered)
    locked = _started_ago(make_thread(title="Locked one"), timedelta(days=8))
    moderation.lock_thread(db.session, moderator, locked, locked=True)
    hidden = _started_ago(make_thread(title="Hidden one"), timedelta(days=7))
    moderation.hide_post(db.session, moderator, hidden.opening_post, reason="Personal data")
    archived_topic = make_topic(title="Old matter")
    in_archive = _started_ago(make_thread(title="In the archive", in_topic=archived_topic),
                              timedelta(days=6))
    services.update_topic(db.session, official, archived_topic, title="Old matter",
                          description="", status="archived")
    db.session.commit()

    threads, total = services.awaiting_threads(db.session)
    assert [t.id for t in threads] == [older.id, newer.id] and total == 2
    assert in_archive.id not in {t.id for t in threads}

    page = client_as(Role.OFFICIAL).get("/forums/awaiting")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.index("Older wait") < html.index("Newer wait")
    for absent in ("Answered one", "Locked one", "Hidden one", "In the archive"):
        assert absent not in html
    assert "waiting for 4 days" in html and "waiting for 2 hours" in html

    second, total = services.awaiting_threads(db.session, page=2, per_page=1)
    assert [t.id for t in second] == [newer.id] and total == 2


def test_queue_is_for_officials_and_admins(app, client_as):
    assert client_as(Role.OFFICIAL).get("/forums/awaiting").status_code == 200
    assert client_as(Role.ADMIN).get("/forums/awaiting").status_code == 200
    assert client_as(Role.RESIDENT).get("/forums/awaiting").status_code == 403
    assert client_as(Role.MODERATOR).get("/forums/awaiting").status_code == 403
    visitor = app.test_client().get("/forums/awaiting")
    assert visitor.status_code == 302 and "/login?next=" in visitor.headers["Location"]


def test_editing_an_official_response_keeps_its_earlier_versions(client_as, make_thread,
                                                                 official):
    thread = make_thread()
    answer = _respond(official, thread, body="We will reply by Friday.")
    assert services.edit_post(db.session, official, answer, body="We replied: see the plan.")
    db.session.commit()
    revisions = db.session.scalars(select(PostRevision).where(PostRevision.post_id == answer.id))
    assert [r.body for r in revisions] == ["We will reply by Friday."]
    db.session.refresh(answer)
    assert answer.official_department == DEPARTMENT and answer.edited_at is not None
    edit_page = client_as(Role.OFFICIAL, user=official).get(f"/posts/{answer.id}/edit")
    assert "everyone signed in can still read its earlier versions" in edit_page.get_data(
        as_text=True)
    # Anyone signed in may read what the city first said.
    history = client_as(Role.RESIDENT).get(f"/posts/{answer.id}/history")
    assert history.status_code == 200
    assert "We will reply by Friday." in history.get_data(as_text=True)


def test_an_official_response_is_never_deleted(client_as, make_thread):
    official = client_as(Role.OFFICIAL)
    thread = make_thread()
    answer = _respond(official.user, thread)
    with pytest.raises(Conflict):
        services.delete_post(db.session, official.user, answer)
    db.session.rollback()
    html = official.get(f"/threads/{thread.id}").get_data(as_text=True)
    assert f'/posts/{answer.id}/delete' not in html
    assert official.get(f"/posts/{answer.id}/delete").status_code == 409
    response = _post(official, f"/posts/{answer.id}/delete", {})
    assert response.status_code == 409
    assert "cannot be deleted" in response.get_data(as_text=True)
    db.session.refresh(answer)
    assert answer.deleted_at is None
    assert services.first_responses(db.session, [thread.id])[thread.id].id == answer.id


def test_residents_and_moderators_cannot_post_an_official_response(client_as, make_thread,
                                                                   resident, moderator):
    thread = make_thread()
    before = _post_count()
    for actor in (resident, moderator):
        with pytest.raises(Forbidden):
            services.respond_officially(db.session, actor, thread, body="Official!",
                                        department=DEPARTMENT)
        db.session.rollback()
    client = client_as(Role.RESIDENT)
    response = _post(client, f"/threads/{thread.id}/official-responses",
                     {"official-department": DEPARTMENT, "official-body": "Official!"})
    assert response.status_code == 403
    assert _post_count() == before


def test_no_official_response_on_a_locked_or_hidden_thread(make_thread, official, moderator):
    locked, hidden = make_thread(title="Locked"), make_thread(title="Hidden")
    moderation.lock_thread(db.session, moderator, locked, locked=True)
    moderation.hide_post(db.session, moderator, hidden.opening_post, reason="Off topic")
    db.session.commit()
    before = _post_count()
    for thread in (locked, hidden):
        with pytest.raises(Closed):
            services.respond_officially(db.session, official, thread, body="An answer.",
                                        department=DEPARTMENT)
        db.session.rollback()
    assert _post_count() == before


def test_department_must_be_given_and_short(client_as, make_thread, official):
    thread = make_thread()
    before = _post_count()
    for department, message in (("", "Enter the department"), ("x" * 121, "120 characters")):
        with pytest.raises(InvalidInput) as refused:
            services.respond_officially(db.session, official, thread, body="An answer.",
                                        department=department)
        db.session.rollback()
        assert refused.value.field == "department" and message in refused.value.message
    client = client_as(Role.OFFICIAL)
    response = _post(client, f"/threads/{thread.id}/official-responses",
                     {"official-department": "x" * 121, "official-body": "An answer."})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Keep the department to 120 characters or fewer." in html
    assert 'id="official-department-error"' in html
    assert _post_count() == before


def test_response_times_equal_what_the_rows_say(make_thread, official, moderator):
    now = utcnow()
    starts = [timedelta(days=d, hours=h) for d, h in
              ((30, 0), (20, 5), (12, 3), (9, 1), (6, 2), (4, 7), (2, 0), (1, 1))]
    threads = [_started_ago(make_thread(title=f"Thread {n}"), ago)
               for n, ago in enumerate(starts)]
    # Answer some after different waits; one twice; one only with a response later hidden.
    for thread, wait in zip(threads[:5], (timedelta(hours=2), timedelta(days=1),
                                          timedelta(hours=30), timedelta(minutes=45),
                                          timedelta(days=3)), strict=True):
        _respond(official, thread, at=thread.created_at + wait)
    _respond(official, threads[1], at=threads[1].created_at + timedelta(days=2))
    hidden_answer = _respond(official, threads[5], at=threads[5].created_at + timedelta(hours=1))
    moderation.hide_post(db.session, moderator, hidden_answer, reason="Wrong thread")
    # A thread hidden by moderation is not counted, answered or not.
    moderation.hide_post(db.session, moderator, threads[6].opening_post, reason="Spam")
    db.session.commit()

    def expected(since=None, until=None):
        started = answered = 0
        waits = []
        for thread in db.session.scalars(select(Thread)):
            if thread.opening_post.hidden:
                continue
            if since is not None and thread.created_at < since:
                continue
            if until is not None and thread.created_at >= until:
                continue
            started += 1
            answers = [p.created_at for p in db.session.scalars(
                select(Post).where(Post.thread_id == thread.id)) if p.is_official_response
                and p.public]
            if answers:
                answered += 1
                waits.append((min(answers) - thread.created_at).total_seconds())
        return started, answered, statistics.median(waits) if waits else None

    for since, until in ((None, None), (now - timedelta(days=15), None),
                         (None, now - timedelta(days=5)),
                         (now - timedelta(days=13), now - timedelta(days=5)),
                         (now - timedelta(hours=1), None)):
        figures = services.response_times(db.session, since, until)
        started, answered, median = expected(since, until)
        assert (figures.started, figures.answered) == (started, answered)
        if median is None:
            assert figures.median_seconds is None and figures.share_answered in (None, 0)
        else:
            assert figures.median_seconds == pytest.approx(median, abs=0.01)
            assert figures.share_answered == pytest.approx(answered / started)


def test_response_times_refuse_a_reversed_period(session):
    now = utcnow()
    with pytest.raises(InvalidInput):
        services.response_times(session, now, now - timedelta(days=1))


def test_followers_hear_of_the_official_response(make_thread, official, resident):
    from participation.notifications.models import Notification

    thread = make_thread(resident)
    _respond(official, thread)
    messages = db.session.scalars(select(Notification.message).where(
        Notification.user_id == resident.id)).all()
    assert any(DEPARTMENT in m and "officially" in m for m in messages)


def test_the_demo_has_answered_threads_and_one_still_waiting(session, client):
    from participation.demo import seed_demo

    seed_demo(session, password="demo password for tests")
    session.commit()
    answered = session.scalars(select(Post).where(Post.official_department.is_not(None))).all()
    assert len({p.thread_id for p in answered}) >= 2
    assert any(p.edited_at for p in answered)
    figures = services.response_times(session)
    assert figures.answered == len({p.thread_id for p in answered})
    assert figures.started > figures.answered and figures.median_seconds > 0
    thread = session.get(Thread, answered[0].thread_id)
    assert "Answered by" in client.get(f"/threads/{thread.id}").get_data(as_text=True)


def test_response_times_take_the_same_statements_whatever_the_number_of_threads(
        make_thread, official):
    from sqlalchemy import event

    def statements() -> int:
        seen = []

        def count(_conn, _cursor, statement, *_args):
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            services.response_times(db.session)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return seen

    for n in range(3):
        _respond(official, _started_ago(make_thread(title=f"Few {n}"), timedelta(hours=n + 1)))
    few = statements()
    for n in range(12):
        thread = _started_ago(make_thread(title=f"Many {n}"), timedelta(hours=n + 1))
        if n % 3:
            _respond(official, thread)
    db.session.commit()
    many = statements()
    assert len(many) == len(few) and len(few) <= 2, many


def test_the_api_names_the_department_of_an_official_response(client, make_thread, official):
    thread = make_thread()
    answer = _respond(official, thread)
    posts = client.get(f"/api/v1/threads/{thread.id}").get_json()["posts"]["items"]
    by_id = {p["id"]: p for p in posts}
    assert by_id[answer.id]["official_department"] == DEPARTMENT
    assert by_id[thread.opening_post.id]["official_department"] is None
