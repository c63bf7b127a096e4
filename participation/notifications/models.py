"""A notice for one person, and how that person wants each kind of notice mailed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from participation.db import Base, utcnow


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_unread", "user_id", "read_at"),
        Index("ix_notifications_digest_cadence_user_id", "digest_cadence", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    # Plain text, escaped when shown.
    message: Mapped[str] = mapped_column(String(500))
    # A path on this site.
    link: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    read_at: Mapped[datetime | None]
    # What the notice is about ("post:12"): a digest asks its domain whether it is still visible.
    subject_ref: Mapped[str | None] = mapped_column(String(60))
    # The digest ("daily", "weekly") the notice waits for; None once nothing waits.
    digest_cadence: Mapped[str | None] = mapped_column(String(10))
    # When a mail carried it: at once, or in a digest.
    mailed_at: Mapped[datetime | None]


class NotificationPreference(Base):
    """A person's choice for one kind; a kind with no row is mailed at its default cadence."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    # A notifications.kinds.Cadence value.
    cadence: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
