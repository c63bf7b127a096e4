"""Town-hall factories: each returns the object it made, committed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from participation.accounts.models import User
from participation.db import utcnow
from participation.extensions import db
from participation.realtime.outbox import take_events
from participation.security.permissions import Role
from participation.townhall import services
from participation.townhall.models import Question, Status, TownHall


@pytest.fixture
def make_townhall(official: User) -> Callable[..., TownHall]:
    def factory(status: Status | str = Status.LIVE, **fields: Any) -> TownHall:
        now = utcnow()
        values: dict[str, Any] = {"title": "Budget town hall", "starts_at": now,
                                  "ends_at": now + timedelta(hours=1)}
        values.update(fields)
        townhall = services.create_townhall(db.session, official, **values)
        if Status(status) is not Status.SCHEDULED:
            services.set_status(db.session, official, townhall, Status.LIVE)
        if Status(status) is Status.ENDED:
            services.set_status(db.session, official, townhall, Status.ENDED)
        db.session.commit()
        take_events(db.session)
        return townhall

    return factory


@pytest.fixture
def townhall(make_townhall: Callable[..., TownHall]) -> TownHall:
    return make_townhall()


@pytest.fixture
def make_question(make_user: Callable[..., User], moderator: User) -> Callable[..., Question]:
    """A question asked by a new resident (or `author`), then moderated to `status`."""

    def factory(townhall: TownHall, text: str = "When will the bus come back?", *,
                author: User | None = None, status: str = "pending",
                **fields: Any) -> Question:
        author = author or make_user(Role.RESIDENT)
        question = services.ask_question(db.session, author, townhall, text=text, **fields)
        if status in ("approved", "answered"):
            services.approve_question(db.session, moderator, question)
        if status == "answered":
            services.answer_question(db.session, moderator, question)
        if status == "rejected":
            services.reject_question(db.session, moderator, question, reason="off_topic")
        db.session.commit()
        take_events(db.session)
        return question

    return factory


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    """Presence counts are announced at once in tests, rather than batched every 2 seconds."""
    app = make_app(PRESENCE_INTERVAL=0)
    with app.app_context():
        yield app


@pytest.fixture
def joined(client_as: Callable[..., Any], socket_client: Callable[..., Any],
           app: Any) -> Callable[..., Any]:
    """A Socket.IO client (signed in as a new user of `role`, or as `user`; a visitor with
    role None) that joined `townhall`; its join ack is in `.join_ack`."""

    def factory(townhall: TownHall, role: Role | str | None = Role.RESIDENT, *,
                user: User | None = None, moderator: bool = False, **join: Any) -> Any:
        http = (client_as(role, user=user) if (role or user) else app.test_client())
        sio = socket_client(http)
        sio.join_ack = sio.emit("join", {"townhall_id": townhall.id, "moderator": moderator,
                                         **join}, namespace="/townhall", callback=True)
        sio.user = getattr(http, "user", None)
        return sio

    return factory
