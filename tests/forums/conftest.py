"""Forum factories: each returns the object it made, committed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, g

from participation.accounts.models import User
from participation.extensions import db
from participation.forums import services
from participation.forums.models import Post, Thread, Topic
from participation.security.permissions import Role


@pytest.fixture(autouse=True)
def one_user_per_request(app: Flask) -> None:
    """The `app` fixture keeps one application context open for the whole test, so Flask-Login's
    user and Flask-WTF's CSRF token cached on `g` would leak from one test client's request into
    another's. Forget them at the start of each request, as a fresh context in production does."""

    @app.before_request
    def forget_cached_user() -> None:
        g.pop("_login_user", None)
        g.pop(app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


@pytest.fixture
def official(make_user: Callable[..., User]) -> User:
    return make_user(Role.OFFICIAL)


@pytest.fixture
def moderator(make_user: Callable[..., User]) -> User:
    return make_user(Role.MODERATOR)


@pytest.fixture
def make_topic(official: User) -> Callable[..., Topic]:
    def factory(title: str = "Riverside Park redesign", **fields: object) -> Topic:
        topic = services.create_topic(db.session, official, title=title,
                                      description=str(fields.pop("description", "About it.")),
                                      **fields)  # type: ignore[arg-type]
        db.session.commit()
        return topic

    return factory


@pytest.fixture
def topic(make_topic: Callable[..., Topic]) -> Topic:
    return make_topic()


@pytest.fixture
def make_thread(topic: Topic, make_user: Callable[..., User]) -> Callable[..., Thread]:
    def factory(author: User | None = None, *, title: str = "Shade by the playground",
                body: str = "Please keep the old oaks.", in_topic: Topic | None = None) -> Thread:
        thread = services.start_thread(db.session, author or make_user(), in_topic or topic,
                                       title=title, body=body)
        db.session.commit()
        return thread

    return factory


@pytest.fixture
def make_reply(make_user: Callable[..., User]) -> Callable[..., Post]:
    def factory(thread: Thread, author: User | None = None, *, body: str = "Agreed.",
                quote_of_id: int | None = None) -> Post:
        post = services.reply_to_thread(db.session, author or make_user(), thread, body=body,
                                        quote_of_id=quote_of_id)
        db.session.commit()
        return post

    return factory
