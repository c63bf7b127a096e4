"""Poll factories: they return Poll objects, committed, ready to vote in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from participation.accounts.models import User
from participation.db import utcnow
from participation.extensions import db
from participation.forums import services as forums
from participation.forums.models import Topic
from participation.polls import events, services
from participation.polls.models import Poll
from participation.realtime.outbox import take_events
from participation.security.permissions import Role
from participation.townhall import services as townhalls
from participation.townhall.models import Status, TownHall


@pytest.fixture(autouse=True)
def tallies_sent_before_teardown(app: Flask) -> Iterator[None]:
    """A tally still being pushed when the test ends would race the database's cleanup."""
    yield
    # The test's own open transaction would hold SQLite's write lock, which the push needs.
    db.session.rollback()
    assert events.wait_for_tallies(timeout=10)


@pytest.fixture
def make_townhall(official: User) -> Callable[..., TownHall]:
    def factory(status: str = "live", **fields: Any) -> TownHall:
        now = utcnow()
        values: dict[str, Any] = {"title": "Transport town hall", "starts_at": now,
                                  "ends_at": now + timedelta(hours=1)}
        values.update(fields)
        townhall = townhalls.create_townhall(db.session, official, **values)
        if status != "scheduled":
            townhalls.set_status(db.session, official, townhall, Status.LIVE)
        if status == "ended":
            townhalls.set_status(db.session, official, townhall, Status.ENDED)
        db.session.commit()
        take_events(db.session)
        return townhall

    return factory


@pytest.fixture
def live_townhall(make_townhall: Callable[..., TownHall]) -> TownHall:
    return make_townhall()


@pytest.fixture
def topic(official: User) -> Topic:
    made = forums.create_topic(db.session, official, title="Parks and playgrounds")
    db.session.commit()
    return made


@pytest.fixture
def make_poll(official: User, request: pytest.FixtureRequest) -> Callable[..., Poll]:
    """A poll, by default open and held in a live town hall made for the test."""

    def factory(kind: str = "single", *, options: list[str] | None = None,
                results_mode: str = "live", is_open: bool = True, max_choices: int | None = None,
                townhall: TownHall | None = None, topic: Topic | None = None,
                question: str = "Where should the new playground go?", **extra: Any) -> Poll:
        if townhall is None and topic is None:
            townhall = request.getfixturevalue("live_townhall")
        poll = services.create_poll(
            db.session, official, question=question,
            options=options or ["Riverside park", "Market square", "Old school yard"],
            kind=kind, results_mode=results_mode, max_choices=max_choices,
            opens_at=utcnow() - timedelta(minutes=1) if is_open else None,
            townhall_id=townhall.id if townhall else None,
            topic_id=topic.id if topic else None, **extra,
        )
        db.session.commit()
        return poll

    return factory


@pytest.fixture
def voters(make_user: Callable[..., User]) -> Callable[[int], list[User]]:
    def factory(count: int) -> list[User]:
        return [make_user(Role.RESIDENT) for _ in range(count)]

    return factory


def close(poll: Poll) -> None:
    """End a poll as the clock would: its closing time is now in the past."""
    poll.closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
