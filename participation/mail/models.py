"""One outgoing message, from the moment it is queued until it is sent, fails or is cancelled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from participation.db import Base, utcnow


class OutgoingMail(Base):
    __tablename__ = "outgoing_mail"
    # The sweep looks for rows still to send whose time has come.
    __table_args__ = (Index("ix_outgoing_mail_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The idempotency key: a second message with the same key is never stored.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    # The account it is for, when it is for one (no foreign key: the row outlives the account
    # only as a record with its address wiped).
    recipient_id: Mapped[int | None] = mapped_column(index=True)
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    # Extra headers (List-Unsubscribe, ...), already checked: name -> value.
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # [{"filename", "mimetype", "content" (base64)}]
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    message_id: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Delivery attempts begun (claims), successful or not.
    attempts: Mapped[int] = mapped_column(default=0)
    # When a consumer may next try it; a claim moves it ahead by the send lease.
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Why the last attempt failed, in words that hold no address.
    last_error: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    @property
    def done(self) -> bool:
        return bool(self.sent_at or self.failed_at or self.cancelled_at)
