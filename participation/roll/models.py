"""The electoral roll, its imports and the accounts verified against it.

No identity is stored in the clear: a roll entry is the keyed hash of a normalized identity
(document id, date of birth, postcode), plus the district and the birth year that poll
restrictions need.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from participation.accounts.models import User
from participation.db import Base, utcnow


class RollImport(Base):
    """One import of the roll: who imported it, when, and what it changed."""

    __tablename__ = "roll_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    imported_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Where it came from ("upload", "command line"): never the file's content.
    source: Mapped[str] = mapped_column(String(40), default="command line")
    added: Mapped[int] = mapped_column(default=0)
    removed: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    # The rest of its report, for the admin's page: people read, repeated, blank and Latin-1
    # lines, and the first rejected lines as [line, reason] (reasons never quote the file).
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")


class RollEntry(Base):
    """One person on the roll, as a keyed hash. An entry removed by a later import stays as a
    row (inactive), so the ballots that name it keep it as their "has voted" mark; if a later
    import brings the same identity back, the same entry becomes active again."""

    __tablename__ = "roll_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    # HMAC-SHA256 (hex) of the normalized identity under the roll key.
    identity_hash: Mapped[str] = mapped_column(String(64), unique=True)
    district: Mapped[str | None] = mapped_column(String(80), index=True)
    birth_year: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True, index=True)
    # The import that last found it (or brought it back, or removed it).
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("roll_imports.id", ondelete="SET NULL"))


class Verification(Base):
    """An account verified against one roll entry: one entry verifies one account."""

    __tablename__ = "roll_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("roll_entries.id"), unique=True)
    # "online" (the resident on their account page) or "in_person" (a moderator at a desk).
    method: Mapped[str] = mapped_column(String(20))
    verified_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    verified_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    entry: Mapped[RollEntry] = relationship()


class VerificationAttempt(Base):
    """A verification that failed: no match, or an identity that already verified another
    account. Counted for the admins and for the limit on attempts; it holds no identity."""

    __tablename__ = "roll_verification_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # "no_match" or "already_used".
    outcome: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
