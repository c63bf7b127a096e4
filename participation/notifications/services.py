"""Notices for one person. Other domains call `notify`; the header shows the unread count."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from participation.accounts.models import User
from participation.accounts.services import personal_data
from participation.db import utcnow
from participation.errors import NotFound
from participation.notifications.models import Notification
from participation.security.permissions import require
from participation.security.sanitize import clean_text

MESSAGE_MAX = 500


def notify(session: Session, user_id: int, *, kind: str, message: str, link: str = "") -> None:
    """Leave a notice for `user_id`; `link` is a path on this site."""
    text = clean_text(message).strip()
    if len(text) > MESSAGE_MAX:
        text = text[: MESSAGE_MAX - 1] + "…"
    session.add(Notification(user_id=user_id, kind=kind, message=text, link=link[:300]))


def unread_count(session: Session, user: User) -> int:
    return session.scalar(
        select(func.count()).select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ) or 0


def list_notifications(session: Session, actor: User, *, page: int = 1,
                       per_page: int = 30) -> tuple[list[Notification], int]:
    require(actor, "notifications.view")
    base = select(Notification).where(Notification.user_id == actor.id)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    items = session.scalars(
        base.order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    return list(items), total


def open_notification(session: Session, actor: User, notification_id: int) -> Notification:
    """Mark one of `actor`'s notices read, to follow its link."""
    require(actor, "notifications.view")
    notification = session.get(Notification, notification_id)
    if notification is None or notification.user_id != actor.id:
        raise NotFound(_("There is no such notification."))
    if notification.read_at is None:
        notification.read_at = utcnow()
        session.flush()
    return notification


def mark_all_read(session: Session, actor: User) -> int:
    """Mark every unread notice of `actor` read; returns how many there were."""
    require(actor, "notifications.view")
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@personal_data("notifications")
def export_notifications(session: Session, user: User) -> list[dict[str, Any]]:
    rows = session.scalars(select(Notification).where(Notification.user_id == user.id)
                           .order_by(Notification.id))
    return [{"kind": n.kind, "message": n.message, "link": n.link,
             "created_at": n.created_at.isoformat(),
             "read_at": n.read_at.isoformat() if n.read_at else None} for n in rows]
