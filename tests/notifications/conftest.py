"""Notification mail fixtures: a forum to talk in, and the mails as the SMTP server got them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from participation.accounts.models import User
from participation.db import utcnow
from participation.extensions import db
from participation.forums import services as forums
from participation.forums.models import Post, Thread
from participation.security.permissions import Role


@pytest.fixture
def thread(make_user: Callable[..., User]) -> Thread:
    official = make_user(Role.OFFICIAL)
    topic = forums.create_topic(db.session, official, title="Riverside Park", description="")
    author = make_user()
    thread = forums.start_thread(db.session, author, topic, title="Keep the oaks",
                                 body="They give the only shade.")
    # Only the followers a test adds hear of replies.
    forums.unfollow_thread(db.session, author, thread)
    db.session.commit()
    return thread


@pytest.fixture
def reply(make_user: Callable[..., User]) -> Callable[..., Post]:
    def factory(thread: Thread, author: User | None = None, body: str = "Agreed.") -> Post:
        post = forums.reply_to_thread(db.session, author or make_user(), thread, body=body)
        db.session.commit()
        return post

    return factory


@pytest.fixture
def follower(make_user: Callable[..., User], thread: Thread) -> User:
    """A resident following the thread: every reply leaves them a notice."""
    user = make_user(name="Follower")
    forums.follow_thread(db.session, user, thread)
    db.session.commit()
    return user


def tomorrow_morning(now: datetime | None = None) -> datetime:
    """07:00 UTC on the day after `now`: when the next daily digest goes."""
    day = (now or utcnow()) + timedelta(days=1)
    return day.replace(hour=7, minute=0, second=0, microsecond=0)


@pytest.fixture
def app(make_app, smtp_server):
    """Every app of these tests mails through the test SMTP server."""
    app = make_app(MAIL_URL=smtp_server.url, PUBLIC_URL="https://participation.example")
    with app.app_context():
        yield app
