"""What the domains asked `notifications.notify` to tell whom: a spy for the tests of the
notification kinds (who is told, with which subject and attachments)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from participation.extensions import db
from participation.notifications import services as notifications
from participation.notifications.models import Notification


@dataclass(frozen=True)
class Told:
    user_id: int
    kind: str
    message: str
    link: str
    subject_ref: str | None
    attachments: tuple[Any, ...]


def spy_on_notify(monkeypatch: pytest.MonkeyPatch) -> list[Told]:
    """Record every notice asked for (as the contract's `notify` takes it) and still store it."""
    told: list[Told] = []
    real = notifications.notify

    def notify(session: Any, user_id: int, *, kind: str, message: str, link: str = "",
               subject_ref: str | None = None, attachments: Sequence[Any] = ()) -> Any:
        told.append(Told(user_id, kind, message, link, subject_ref, tuple(attachments)))
        return real(session, user_id, kind=kind, message=message, link=link,
                    subject_ref=subject_ref, attachments=attachments)

    monkeypatch.setattr(notifications, "notify", notify)
    return told


def stored(kind: str) -> list[Notification]:
    """The notices of `kind` in the database, in the order they were left."""
    return list(db.session.scalars(select(Notification).where(Notification.kind == kind)
                                   .order_by(Notification.id)))


def recipients(told: list[Told], kind: str) -> list[int]:
    return sorted(t.user_id for t in told if t.kind == kind)
