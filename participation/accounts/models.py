"""Accounts, their roles and the audit log of what administrators did to them."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from participation.db import Base, utcnow
from participation.security.permissions import Role

FORMER_PARTICIPANT = "Former participant"


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased, so the unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, values_callable=lambda e: [r.value for r in e],
             validate_strings=True),
        default=Role.RESIDENT,
    )
    # Rotated on sign-out, password change, suspension and deletion: every cookie holding the old
    # value stops working, which is how "sign out everywhere" is enforced.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]
    suspended_at: Mapped[datetime | None]
    suspension_reason: Mapped[str | None] = mapped_column(String(500))
    deleted_at: Mapped[datetime | None]
    # When the account's current address was shown to reach its owner (a followed confirmation
    # link); None until then. What needs it is the setting CONFIRMED_EMAIL_REQUIRED_FOR.
    email_confirmed_at: Mapped[datetime | None]

    # Loaded when asked for: only accounts whose role requires a second factor ask on every load.
    two_factor: Mapped[TwoFactor | None] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True)

    # Flask-Login protocol
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.suspended_at is None and self.deleted_at is None

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def email_confirmed(self) -> bool:
        return self.email_confirmed_at is not None

    @property
    def public_name(self) -> str:
        return FORMER_PARTICIPANT if self.deleted_at else self.display_name

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class TwoFactor(Base):
    """An account's authenticator app (TOTP) and the state of its second sign-in step."""

    __tablename__ = "two_factor"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    # The base32 secret, encrypted with a key derived from SECRET_KEY (accounts/two_factor.py).
    secret: Mapped[str] = mapped_column(String(255))
    enabled_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The last accepted time-step: a code is accepted only for a later one, so never twice.
    last_step: Mapped[int] = mapped_column(default=0)
    # Wrong codes in a row; after too many the second step is locked until `locked_until`.
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="two_factor")


class RecoveryCode(Base):
    """One single-use recovery code, stored only as its keyed hash."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class AuditEntry(Base):
    """Who changed whose role or standing, and when. Append-only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    subject_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    subject: Mapped[User | None] = relationship(foreign_keys=[subject_id])


class TokenPurpose(StrEnum):
    CONFIRM_EMAIL = "confirm_email"
    CHANGE_EMAIL = "change_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose, not a password


class AccountToken(Base):
    """A link mailed to an account: confirm its address, confirm a new one, or reset the password.

    The link itself is this row's id signed with itsdangerous; the row makes it single use
    (`used_at`), lets it expire, and counts the mails sent to one account in the database, so the
    limit holds across workers. `email` is where the link was sent: for a change of address, the
    new address, which becomes the account's only when the link is followed.
    """

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[TokenPurpose] = mapped_column(
        Enum(TokenPurpose, native_enum=False, length=20,
             values_callable=lambda e: [p.value for p in e], validate_strings=True))
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    __table_args__ = (Index("ix_account_tokens_user_id_purpose_created_at",
                            "user_id", "purpose", "created_at"),)
