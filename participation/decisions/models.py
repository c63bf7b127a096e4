"""Decision records and what hangs off them. Every table here is append-only: database triggers
(created in the migration) refuse UPDATE and DELETE, so a published record can only be amended by
a newer one.

`canonical` holds the exact text that was hashed; the other columns repeat parts of it so that
pages can filter and sort without parsing JSON.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from participation.accounts.models import User
from participation.db import Base

APPEND_ONLY_TABLES = ("decision_records", "decision_links", "decision_commitments",
                      "decision_closures", "decision_commitment_updates")


class DecisionRecord(Base):
    __tablename__ = "decision_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Allocated inside the publishing transaction; unique seq and unique prev_hash mean two
    # concurrent publishes can never both attach to the same head (no fork, no gap).
    seq: Mapped[int] = mapped_column(unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    canonical: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(20), index=True)
    decision_text: Mapped[str] = mapped_column(String(500))
    department: Mapped[str] = mapped_column(String(120))
    summary_html: Mapped[str] = mapped_column(Text)
    amends_seq: Mapped[int | None] = mapped_column(ForeignKey("decision_records.seq"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(index=True)

    author: Mapped[User | None] = relationship()
    links: Mapped[list[DecisionLink]] = relationship(
        back_populates="record", order_by="(DecisionLink.kind, DecisionLink.target_id)",
        lazy="selectin")
    commitments: Mapped[list[Commitment]] = relationship(
        back_populates="record", order_by="Commitment.number", lazy="selectin",
        foreign_keys="Commitment.record_id")

    @property
    def content(self) -> dict[str, Any]:
        """The hashed record, parsed."""
        return json.loads(self.canonical)

    def __repr__(self) -> str:
        return f"<DecisionRecord {self.seq} {self.hash[:12]}>"


class DecisionLink(Base):
    """One poll, town hall or thread a record rests on; its frozen snapshot is in the record."""

    __tablename__ = "decision_links"
    __table_args__ = (UniqueConstraint("record_id", "kind", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("decision_records.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int]
    label: Mapped[str] = mapped_column(String(300))
    # Where the linked item lives, for the list's filters.
    topic_id: Mapped[int | None] = mapped_column(index=True)
    townhall_id: Mapped[int | None] = mapped_column(index=True)

    record: Mapped[DecisionRecord] = relationship(back_populates="links")


class Commitment(Base):
    """A promise a record makes: a written response by a date."""

    __tablename__ = "decision_commitments"
    __table_args__ = (UniqueConstraint("record_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("decision_records.id"), index=True)
    number: Mapped[int]
    promise: Mapped[str] = mapped_column(String(1000))
    due_on: Mapped[date] = mapped_column(index=True)

    record: Mapped[DecisionRecord] = relationship(back_populates="commitments",
                                                  foreign_keys=[record_id])
    closure: Mapped[Closure | None] = relationship(back_populates="commitment", lazy="selectin")
    updates: Mapped[list[CommitmentUpdate]] = relationship(
        back_populates="commitment", order_by="(CommitmentUpdate.posted_at, CommitmentUpdate.id)",
        lazy="selectin")


class CommitmentUpdate(Base):
    """Progress an official posts on a commitment: a status, a note and maybe a percentage.
    Append-only like the records; a later update supersedes an earlier one."""

    __tablename__ = "decision_commitment_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Updates form their own hash chain in the export ("updates"), like the records' chain.
    n: Mapped[int] = mapped_column(unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    canonical: Mapped[str] = mapped_column(Text)
    commitment_id: Mapped[int] = mapped_column(ForeignKey("decision_commitments.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(500))
    percent: Mapped[int | None]
    department: Mapped[str] = mapped_column(String(120))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    posted_at: Mapped[datetime] = mapped_column(index=True)

    commitment: Mapped[Commitment] = relationship(back_populates="updates")


class Closure(Base):
    """A later record that closes a commitment: the written response itself."""

    __tablename__ = "decision_closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(ForeignKey("decision_commitments.id"), unique=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("decision_records.id"), index=True)

    commitment: Mapped[Commitment] = relationship(back_populates="closure")
    record: Mapped[DecisionRecord] = relationship()


class CommitmentNotice(Base):
    """A reminder sent to the official behind a commitment: "due" a week before its date,
    "overdue" once it is late. The unique pair is how a reminder is sent once, even by two
    workers at the same moment. Not part of the chain, and not append-only."""

    __tablename__ = "decision_commitment_notices"
    __table_args__ = (UniqueConstraint("commitment_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(ForeignKey("decision_commitments.id"))
    kind: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[datetime]
