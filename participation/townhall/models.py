"""Town halls, their questions, upvotes and the moderation log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from participation.accounts.models import User
from participation.db import Base, utcnow
from participation.i18n import N_


def _enum(kind: type[StrEnum]) -> Enum:
    return Enum(kind, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e],
                validate_strings=True)


class Status(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


class QuestionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    ANSWERED = "answered"
    REJECTED = "rejected"
    MERGED = "merged"


class Channel(StrEnum):
    ONLINE = "online"
    PHONE = "phone"
    IN_PERSON = "in_person"
    EMAIL = "email"
    PAPER = "paper"


CHANNEL_LABELS = {
    Channel.ONLINE: N_("online"),
    Channel.PHONE: N_("by phone"),
    Channel.IN_PERSON: N_("in person"),
    Channel.EMAIL: N_("by email"),
    Channel.PAPER: N_("on paper"),
}

# Reasons a moderator may give for rejecting; the ledger counts each one publicly.
REJECT_REASONS = {
    "off_topic": N_("Off topic for this town hall"),
    "already_answered": N_("Already answered"),
    "offensive": N_("Offensive or abusive"),
    "personal_information": N_("Contains personal information"),
    "not_a_question": N_("Not a question"),
    "other": N_("Other"),
}

# Join codes: no 0/O, 1/I/L, so what the room reads off the screen is what it types.
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 6

# The question statuses everyone may see.
PUBLIC_STATUSES = (QuestionStatus.APPROVED, QuestionStatus.ANSWERED, QuestionStatus.MERGED)


class TownHall(Base):
    __tablename__ = "townhalls"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    livestream_url: Mapped[str | None] = mapped_column(String(500))
    allow_anonymous: Mapped[bool] = mapped_column(default=True)
    question_max_length: Mapped[int] = mapped_column(default=300)
    # Private town halls are for signed-in accounts only; visitors may watch public ones.
    is_public: Mapped[bool] = mapped_column(default=True)
    # The short code of its join link (`/j/<code>`), shown on the room's screen; see
    # `services.new_join_code`.
    join_code: Mapped[str] = mapped_column(String(JOIN_CODE_LENGTH), unique=True, index=True)
    status: Mapped[Status] = mapped_column(_enum(Status), default=Status.SCHEDULED)
    # The question being answered now; no foreign key, so questions and town halls do not depend
    # on each other when created or deleted.
    highlighted_question_id: Mapped[int | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    # The head count a moderator last entered for the room, when, and the highest entered.
    in_room_count: Mapped[int | None]
    in_room_peak: Mapped[int | None]
    in_room_counted_at: Mapped[datetime | None]
    # The most people watching online at once (written only when a join sets a new peak).
    peak_online: Mapped[int] = mapped_column(default=0, server_default="0")
    # Bumped by every edit and status change: the calendar's SEQUENCE.
    revision: Mapped[int] = mapped_column(default=0, server_default="0")

    created_by: Mapped[User | None] = relationship()

    @property
    def called_off(self) -> bool:
        """Ended without ever starting ("Cancel (end now)" on a scheduled town hall)."""
        return self.status is Status.ENDED and self.started_at is None

    def __repr__(self) -> str:
        return f"<TownHall {self.id} {self.status}>"


class Question(Base):
    __tablename__ = "townhall_questions"
    __table_args__ = (UniqueConstraint("townhall_id", "author_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    townhall_id: Mapped[int] = mapped_column(
        ForeignKey("townhalls.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # Questions taken by phone, in person, by email or on paper are entered by a moderator.
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel), default=Channel.ONLINE)
    submitter_name: Mapped[str | None] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(default=False)
    # Chosen by the asking client, so that a retried ask is stored once.
    client_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[QuestionStatus] = mapped_column(
        _enum(QuestionStatus), default=QuestionStatus.PENDING
    )
    reject_reason: Mapped[str | None] = mapped_column(String(40))
    # The moderator's own words when the reason is "other"; only the asker and moderators see it.
    reject_explanation: Mapped[str | None] = mapped_column(Text)
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("townhall_questions.id", ondelete="SET NULL")
    )
    # "live" (answered on stage) or "written" (answer_text holds the written answer).
    answer_mode: Mapped[str | None] = mapped_column(String(10))
    answer_text: Mapped[str | None] = mapped_column(Text)
    answer_html: Mapped[str | None] = mapped_column(Text)
    upvote_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]

    townhall: Mapped[TownHall] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    entered_by: Mapped[User | None] = relationship(foreign_keys=[entered_by_id])
    merged_into: Mapped[Question | None] = relationship(remote_side=[id],
                                                        foreign_keys=[merged_into_id])

    @property
    def is_public(self) -> bool:
        return self.status in PUBLIC_STATUSES

    def __repr__(self) -> str:
        return f"<Question {self.id} {self.status}>"


class Upvote(Base):
    """One resident's upvote of one question: at most one each, by the unique constraint."""

    __tablename__ = "townhall_upvotes"
    __table_args__ = (UniqueConstraint("question_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("townhall_questions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModerationEntry(Base):
    """Every moderation action, kept for the public ledger and for accountability."""

    __tablename__ = "townhall_moderation_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    townhall_id: Mapped[int] = mapped_column(
        ForeignKey("townhalls.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("townhall_questions.id", ondelete="CASCADE")
    )
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reminder(Base):
    """A resident who asked to be reminded an hour before a town hall starts.

    `sent_for` is the start time the reminder went out for: a town hall moved after that is
    reminded of again at its new time, and a sent one is never sent twice for the same time.
    """

    __tablename__ = "townhall_reminders"
    __table_args__ = (UniqueConstraint("townhall_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    townhall_id: Mapped[int] = mapped_column(ForeignKey("townhalls.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_for: Mapped[datetime | None]
