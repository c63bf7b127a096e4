"""Polls, their options and the residents' ballots (one per resident per poll)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from participation.db import Base, utcnow
from participation.forums.models import Topic
from participation.townhall.models import Status as TownHallStatus
from participation.townhall.models import TownHall


class PollKind(enum.StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    RANKED = "ranked"


class ResultsMode(enum.StrEnum):
    LIVE = "live"
    AFTER_CLOSE = "after_close"
    HIDDEN = "hidden"


class BallotSecrecy(enum.StrEnum):
    """What a receipt can reveal. Verifiable: the export ties each receipt's fingerprint to its
    ballot's content. Secret: the export lists the fingerprints and, apart and sorted by content,
    the contents, so no receipt can be tied to a content."""

    VERIFIABLE = "verifiable"
    SECRET = "secret"  # noqa: S105 - a setting's name, not a password


class Eligibility(enum.StrEnum):
    """Who may vote in a poll (with, for VERIFIED, optional districts and a minimum age)."""

    SIGNED_IN = "signed_in"
    CONFIRMED = "confirmed"  # a confirmed e-mail address
    VERIFIED = "verified"  # an account verified against the electoral roll


class Channel(enum.StrEnum):
    """How a ballot reached the count: online, or entered by a poll officer."""

    ONLINE = "online"
    PAPER = "paper"
    PHONE = "phone"
    IN_PERSON = "in_person"


def _enum(kind: type[enum.StrEnum], name: str) -> Enum:
    return Enum(kind, name=name, native_enum=False, length=20,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


class Poll(Base):
    __tablename__ = "polls"
    __table_args__ = (
        # A poll belongs to exactly one place: a town hall or a forum topic.
        CheckConstraint(
            "(townhall_id IS NULL) <> (topic_id IS NULL)", name="one_parent"
        ),
        CheckConstraint("max_choices IS NULL OR max_choices >= 1", name="max_choices_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    townhall_id: Mapped[int | None] = mapped_column(ForeignKey("townhalls.id"), index=True)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("forum_topics.id"), index=True)
    question: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[PollKind] = mapped_column(_enum(PollKind, "poll_kind"))
    # Multiple choice: how many options a ballot may approve; ranked: how many it may rank.
    max_choices: Mapped[int | None]
    results_mode: Mapped[ResultsMode] = mapped_column(_enum(ResultsMode, "results_mode"))
    ballot_secrecy: Mapped[BallotSecrecy] = mapped_column(
        _enum(BallotSecrecy, "ballot_secrecy"), default=BallotSecrecy.VERIFIABLE,
        server_default=BallotSecrecy.VERIFIABLE.value)
    eligibility: Mapped[Eligibility] = mapped_column(
        _enum(Eligibility, "poll_eligibility"), default=Eligibility.SIGNED_IN,
        server_default=Eligibility.SIGNED_IN.value)
    # Verified polls only: the roll districts whose residents may vote (empty: all), and the age
    # a voter reaches in the year of the close (from the roll's birth year; None: no minimum).
    eligible_districts: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    min_age: Mapped[int | None]
    # A verified poll's electorate when it closed: the active roll entries meeting its restriction.
    electorate: Mapped[int | None]
    # None: not scheduled, opened by hand. closes_at None: open until closed by hand.
    opens_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    results_released_at: Mapped[datetime | None]
    # When its opening was announced, once: to the followers of its topic, or (`poll`) to its
    # town hall's room.
    announced_at: Mapped[datetime | None]
    # When its town hall's room was told it closed (`poll`), once; None for a forum topic's poll.
    close_announced_at: Mapped[datetime | None]
    # Published before voting starts; orders the draw that breaks the last kind of tie.
    draw_seed: Mapped[str] = mapped_column(String(32))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    townhall: Mapped[TownHall | None] = relationship()
    topic: Mapped[Topic | None] = relationship()
    options: Mapped[list[PollOption]] = relationship(
        back_populates="poll", order_by="PollOption.position", cascade="all, delete-orphan"
    )

    @property
    def in_live_townhall(self) -> bool:
        """Held in a town hall that is live now: its moderators may open and close the poll."""
        return self.townhall is not None and self.townhall.status is TownHallStatus.LIVE

    def is_open(self, now: datetime) -> bool:
        return (self.opens_at is not None and self.opens_at <= now
                and (self.closes_at is None or now < self.closes_at))

    def is_closed(self, now: datetime) -> bool:
        return self.closes_at is not None and self.closes_at <= now

    def status(self, now: datetime) -> str:
        if self.is_closed(now):
            return "closed"
        if self.is_open(now):
            return "open"
        return "upcoming"

    def __repr__(self) -> str:
        return f"<Poll {self.id} {self.kind}>"


class PollOption(Base):
    __tablename__ = "poll_options"
    __table_args__ = (UniqueConstraint("poll_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    position: Mapped[int]
    label: Mapped[str] = mapped_column(String(200))

    poll: Mapped[Poll] = relationship(back_populates="options")


class Ballot(Base):
    """A resident's current ballot in a poll. Changing it before the close replaces it."""

    __tablename__ = "poll_ballots"
    __table_args__ = (
        # The one-ballot rule lives in the database, so concurrent casts cannot both insert.
        UniqueConstraint("poll_id", "voter_id"),
        # One ballot per roll entry too, whatever the account or channel: its "has voted" mark.
        UniqueConstraint("poll_id", "roll_entry_id"),
        UniqueConstraint("receipt"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    # None for a ballot a poll officer entered (paper, phone, in person).
    voter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The roll entry that voted, in polls for verified residents (online or entered).
    roll_entry_id: Mapped[int | None] = mapped_column(ForeignKey("roll_entries.id"))
    channel: Mapped[Channel] = mapped_column(
        _enum(Channel, "ballot_channel"), default=Channel.ONLINE,
        server_default=Channel.ONLINE.value)
    # Option ids; for ranked choice in order of preference.
    choices: Mapped[list[Any]] = mapped_column(JSON)
    receipt: Mapped[str] = mapped_column(String(32))
    # The id the client sent with its latest cast, so a retried cast is applied once.
    client_id: Mapped[str | None] = mapped_column(String(64))
    cast_at: Mapped[datetime] = mapped_column(default=utcnow)

    poll: Mapped[Poll] = relationship()
