"""The forum moderation log: who did what to which post or thread, and why. Append-only."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from participation.accounts.models import User
from participation.db import Base, utcnow
from participation.i18n import N_


class ModerationAction(StrEnum):
    AUTO_HIDE = "auto_hide"
    HIDE = "hide"
    RESTORE = "restore"
    DISMISS_FLAGS = "dismiss_flags"
    LOCK = "lock"
    UNLOCK = "unlock"
    PIN = "pin"
    UNPIN = "unpin"
    MOVE = "move"


ACTION_LABELS = {
    ModerationAction.AUTO_HIDE: N_("Hidden by flags, pending review"),
    ModerationAction.HIDE: N_("Hidden by a moderator"),
    ModerationAction.RESTORE: N_("Restored"),
    ModerationAction.DISMISS_FLAGS: N_("Flags dismissed"),
    ModerationAction.LOCK: N_("Thread locked"),
    ModerationAction.UNLOCK: N_("Thread unlocked"),
    ModerationAction.PIN: N_("Thread pinned"),
    ModerationAction.UNPIN: N_("Thread unpinned"),
    ModerationAction.MOVE: N_("Thread moved"),
}


class ForumModerationEntry(Base):
    __tablename__ = "forum_moderation_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None when the system acted (a post reaching the flag threshold).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[ModerationAction] = mapped_column(
        Enum(ModerationAction, native_enum=False, length=20,
             values_callable=lambda e: [m.value for m in e], validate_strings=True))
    topic_id: Mapped[int | None] = mapped_column(
        ForeignKey("forum_topics.id", ondelete="SET NULL"), index=True)
    thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("forum_threads.id", ondelete="SET NULL"))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("forum_posts.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    actor: Mapped[User | None] = relationship()

    @property
    def label(self) -> str:
        return ACTION_LABELS[self.action]
