"""Forum factories: each returns the object it made, committed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from participation.accounts.models import User
from participation.db import utcnow
from participation.extensions import db
from participation.forums import services
from participation.forums.models import Post, Thread, Topic
from participation.security.permissions import Role
from participation.townhall import services as townhall_services
from participation.townhall.models import TownHall


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


@pytest.fixture
def linked_townhall(official: User) -> TownHall:
    """A town hall a topic can belong to."""
    now = utcnow()
    townhall = townhall_services.create_townhall(
        db.session, official, title="Budget town hall", starts_at=now,
        ends_at=now + timedelta(hours=1))
    db.session.commit()
    return townhall
