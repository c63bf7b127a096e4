"""Page loads stay cheap: the number of SQL statements does not grow with the number of rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from participation.extensions import db
from participation.forums import services
from participation.moderation import services as moderation
from participation.security.permissions import Role


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _statements_for(client, path: str) -> int:
    with counted_statements() as statements:
        response = client.get(path)
        assert response.status_code == 200
    return len(statements)


@pytest.fixture
def authors(make_user):
    return [make_user() for _ in range(5)]


def _fill_topic(topic, authors, count: int, moderator) -> None:
    for n in range(count):
        thread = services.start_thread(db.session, authors[n % len(authors)], topic,
                                       title=f"Thread {n}", body=f"Body {n}")
        if n % 7 == 3:
            moderation.pin_thread(db.session, moderator, thread, pinned=True)
        if n % 11 == 5:
            moderation.hide_post(db.session, moderator, thread.opening_post, reason="Spam")
    db.session.commit()


def _fill_thread(thread, authors, count: int, moderator) -> None:
    previous = None
    for n in range(count):
        author = authors[n % len(authors)]
        post = services.reply_to_thread(
            db.session, author, thread, body=f"Reply {n}",
            quote_of_id=previous.id if previous is not None and n % 3 == 0 else None)
        if n % 5 == 1:
            services.edit_post(db.session, author, post, body=f"Reply {n}, edited")
        if n % 13 == 4:
            moderation.hide_post(db.session, moderator, post, reason="Off topic")
        elif n % 17 == 6:
            services.delete_post(db.session, author, post)
        else:
            previous = post
    db.session.commit()


@pytest.mark.parametrize("viewer", ["visitor", Role.RESIDENT, Role.MODERATOR])
def test_topic_page_queries_do_not_grow_with_threads(app, make_topic, authors, moderator,
                                                     client_as, viewer):
    small, large = make_topic("Small"), make_topic("Large")
    _fill_topic(small, authors, 5, moderator)
    _fill_topic(large, authors, 50, moderator)
    client = app.test_client() if viewer == "visitor" else client_as(viewer)
    for topic in (small, large):  # warm up: sign-in, first-request work
        client.get(f"/topics/{topic.id}")
    few = _statements_for(client, f"/topics/{small.id}")
    many = _statements_for(client, f"/topics/{large.id}")
    assert many == few, f"{few} statements for 5 threads, {many} for 50"
    assert many <= 12


@pytest.mark.parametrize("viewer", ["visitor", Role.RESIDENT, Role.MODERATOR])
def test_thread_page_queries_do_not_grow_with_replies(app, make_thread, authors, moderator,
                                                      client_as, viewer):
    short, long = make_thread(authors[0], title="Short"), make_thread(authors[1], title="Long")
    _fill_thread(short, authors, 10, moderator)
    _fill_thread(long, authors, 100, moderator)
    client = app.test_client() if viewer == "visitor" else client_as(viewer)
    for thread in (short, long):
        client.get(f"/threads/{thread.id}")
    few = _statements_for(client, f"/threads/{short.id}")
    many = _statements_for(client, f"/threads/{long.id}")
    html = client.get(f"/threads/{long.id}").get_data(as_text=True)
    assert html.count('class="post') >= 100
    assert many == few, f"{few} statements for 10 replies, {many} for 100"
    assert many <= 14
