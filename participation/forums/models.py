"""Topics, threads, posts (with their earlier versions), flags and follows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint, and_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from participation.accounts.models import User
from participation.db import UNMANAGED_SCHEMA_OBJECTS, Base, utcnow
from participation.i18n import N_

if TYPE_CHECKING:
    from participation.townhall.models import TownHall

# Full-text search objects that only the migration can describe (FTS5 on SQLite, GIN expression
# indexes on PostgreSQL); the schema comparison leaves them alone.
UNMANAGED_SCHEMA_OBJECTS.update({
    "forum_search", "forum_search_data", "forum_search_idx", "forum_search_content",
    "forum_search_docsize", "forum_search_config",
    "ix_forum_posts_body_search", "ix_forum_threads_title_search",
})


def _enum(enum: type[StrEnum], length: int = 20) -> Enum:
    return Enum(enum, native_enum=False, length=length,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


class TopicStatus(StrEnum):
    OPEN = "open"
    ARCHIVED = "archived"


class FlagReason(StrEnum):
    OFF_TOPIC = "off_topic"
    ABUSIVE = "abusive"
    SPAM = "spam"
    PERSONAL_INFORMATION = "personal_information"
    OTHER = "other"


FLAG_REASON_LABELS = {
    FlagReason.OFF_TOPIC: N_("Off-topic"),
    FlagReason.ABUSIVE: N_("Abusive"),
    FlagReason.SPAM: N_("Spam"),
    FlagReason.PERSONAL_INFORMATION: N_("Personal information"),
    FlagReason.OTHER: N_("Other"),
}


class Topic(Base):
    """A matter the city is deciding, opened by an official for discussion."""

    __tablename__ = "forum_topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[TopicStatus] = mapped_column(_enum(TopicStatus), default=TopicStatus.OPEN)
    # The town hall this topic belongs to, if any (its key is added by 0003_townhall).
    townhall_id: Mapped[int | None] = mapped_column(
        ForeignKey("townhalls.id", ondelete="SET NULL"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    created_by: Mapped[User | None] = relationship()
    townhall: Mapped[TownHall | None] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status == TopicStatus.OPEN


class Thread(Base):
    __tablename__ = "forum_threads"
    __table_args__ = (
        Index("ix_forum_threads_topic_activity", "topic_id", "pinned", "last_activity_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("forum_topics.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Replies that are neither deleted nor hidden, kept current by the services.
    reply_count: Mapped[int] = mapped_column(default=0)
    locked: Mapped[bool] = mapped_column(default=False)
    pinned: Mapped[bool] = mapped_column(default=False)

    topic: Mapped[Topic] = relationship()
    author: Mapped[User | None] = relationship()
    opening_post: Mapped[Post] = relationship(
        primaryjoin=lambda: and_(Post.thread_id == Thread.id, Post.is_opening.is_(True)),
        viewonly=True, uselist=False,
    )

    @property
    def hidden(self) -> bool:
        """A thread whose opening post is hidden is hidden with it."""
        return self.opening_post is not None and self.opening_post.hidden


class Post(Base):
    """The opening post of a thread, or a reply. Body kept as markdown source and rendered HTML."""

    __tablename__ = "forum_posts"
    __table_args__ = (Index("ix_forum_posts_thread_created", "thread_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("forum_threads.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                  index=True)
    is_opening: Mapped[bool] = mapped_column(default=False)
    quote_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("forum_posts.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    hidden_at: Mapped[datetime | None]
    # None while hidden means "pending review" (hidden by flags); otherwise the moderator's reason.
    hidden_reason: Mapped[str | None] = mapped_column(String(500))
    # Flags not yet reviewed by a moderator.
    open_flag_count: Mapped[int] = mapped_column(default=0, index=True)
    # Set on an official response (a reply an official posts as the city's answer): the
    # department it speaks for. An official response is edited, never deleted.
    official_department: Mapped[str | None] = mapped_column(String(120), index=True)

    thread: Mapped[Thread] = relationship()
    author: Mapped[User | None] = relationship()
    quote_of: Mapped[Post | None] = relationship(remote_side=[id])

    @property
    def hidden(self) -> bool:
        return self.hidden_at is not None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def public(self) -> bool:
        return not self.hidden and not self.deleted

    @property
    def is_official_response(self) -> bool:
        return self.official_department is not None


class PostRevision(Base):
    """An earlier version of a post, kept when it was edited. Seen by moderators and the author."""

    __tablename__ = "forum_post_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("forum_posts.id", ondelete="CASCADE"),
                                         index=True)
    title: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # When this version was written (the post's creation or an earlier edit).
    written_at: Mapped[datetime]
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)


class Flag(Base):
    """A resident's report that a post breaks the rules. One per resident and post."""

    __tablename__ = "forum_flags"
    __table_args__ = (UniqueConstraint("post_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("forum_posts.id", ondelete="CASCADE"),
                                         index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[FlagReason] = mapped_column(_enum(FlagReason, 30))
    detail: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]

    user: Mapped[User | None] = relationship()

    @property
    def reason_label(self) -> str:
        return FLAG_REASON_LABELS[self.reason]


class ThreadFollow(Base):
    __tablename__ = "forum_follows"
    __table_args__ = (UniqueConstraint("user_id", "thread_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    thread_id: Mapped[int] = mapped_column(ForeignKey("forum_threads.id", ondelete="CASCADE"),
                                           index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TopicFollow(Base):
    """Someone who wants to hear when a poll opens in a topic."""

    __tablename__ = "forum_topic_follows"
    __table_args__ = (UniqueConstraint("user_id", "topic_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("forum_topics.id", ondelete="CASCADE"),
                                          index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The forum moderation log: who did what to which post or thread, and why. Append-only.


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
