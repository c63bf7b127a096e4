"""Poll factories: they return Poll objects, committed, ready to vote in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from participation.accounts.models import User
from participation.db import utcnow
from participation.extensions import db
from participation.polls import services
from participation.polls.models import Poll
from participation.security.permissions import Role


@pytest.fixture
def official(make_user: Callable[..., User]) -> User:
    return make_user(Role.OFFICIAL)


@pytest.fixture
def make_poll(official: User) -> Callable[..., Poll]:
    def factory(kind: str = "single", *, options: list[str] | None = None,
                results_mode: str = "live", is_open: bool = True, max_choices: int | None = None,
                townhall_id: int | None = 1, topic_id: int | None = None,
                question: str = "Where should the new playground go?", **extra: Any) -> Poll:
        if topic_id is not None:
            townhall_id = None
        poll = services.create_poll(
            db.session, official, question=question,
            options=options or ["Riverside park", "Market square", "Old school yard"],
            kind=kind, results_mode=results_mode, max_choices=max_choices,
            opens_at=utcnow() - timedelta(minutes=1) if is_open else None,
            townhall_id=townhall_id, topic_id=topic_id, **extra,
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
