"""The per-town-hall event log behind every live broadcast.

Each change that is broadcast is first written here, in the same transaction as the change, with
the next number of the town hall's sequence. The counter lives in the database, not in a process,
so any number of workers sharing one database hand out one gap-free sequence per town hall; a
client that reconnects asks for what came after the last number it saw.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from participation.db import Base, utcnow


class EventCounter(Base):
    """The last sequence number handed out for one town hall."""

    __tablename__ = "realtime_counters"

    townhall_id: Mapped[int] = mapped_column(
        ForeignKey("townhalls.id", ondelete="CASCADE"), primary_key=True
    )
    last_seq: Mapped[int] = mapped_column(default=0)


class Event(Base):
    """One broadcast: what was sent (`kind`, `payload`) and to whom (`audience`)."""

    __tablename__ = "realtime_events"
    __table_args__ = (
        UniqueConstraint("townhall_id", "seq"),
        Index("ix_realtime_events_townhall_id_subject", "townhall_id", "subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    townhall_id: Mapped[int] = mapped_column(ForeignKey("townhalls.id", ondelete="CASCADE"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    # "public" (the town hall's room), "moderators", or "user:<id>" (one account's sockets).
    audience: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What the event is about ("question:<id>"), so its public copies can be withdrawn later.
    subject: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def message(self) -> dict[str, Any]:
        """The data sent with the event: the payload plus its town hall and sequence number."""
        return {**self.payload, "townhall_id": self.townhall_id, "seq": self.seq}
