"""Account rules: registration, sign-in, sessions, self-service and administration.

Plain functions `verb_noun(session, actor, ...)`: they flush, never commit, and raise domain errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from participation.accounts.models import FORMER_PARTICIPANT, AuditEntry, User, new_session_token
from participation.db import utcnow
from participation.errors import Conflict, Forbidden, InvalidInput, NotFound
from participation.realtime.revocation import end_live_sessions
from participation.security.permissions import Role, require
from participation.security.sanitize import clean_text

PASSWORD_MIN = 12
PASSWORD_MAX = 1024
DISPLAY_NAME_MAX = 80
EMAIL_MAX = 254

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a miss costs the same time as a wrong password.
# Made on the first miss, with the hasher in use then: hashing at import would cost every process
# (each worker, each command) a full Argon2 run before it starts.
_dummy_hash: str | None = None

PersonalDataExporter = Callable[[Session, User], Any]
PERSONAL_DATA: dict[str, PersonalDataExporter] = {}


def personal_data(section: str) -> Callable[[PersonalDataExporter], PersonalDataExporter]:
    """Register a domain's contribution to "download my data" under `section`."""

    def decorate(exporter: PersonalDataExporter) -> PersonalDataExporter:
        PERSONAL_DATA[section] = exporter
        return exporter

    return decorate


def normalize_email(email: str) -> str:
    """The address in the one form we store and compare: checked, trimmed and lower-cased."""
    email = (email or "").strip()
    if not email or len(email) > EMAIL_MAX:
        raise InvalidInput(_("Enter a valid email address."), field="email")
    try:
        # test_environment admits the reserved .test domain used by the demo and the tests.
        checked = validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        raise InvalidInput(_("Enter a valid email address."), field="email") from None
    return checked.normalized.lower()


def check_password_rules(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise InvalidInput(
            _(
                'Use at least %(PASSWORD_MIN)s characters for your password.',
                PASSWORD_MIN=PASSWORD_MIN), field="password"
        )
    if len(password) > PASSWORD_MAX:
        raise InvalidInput(_("That password is too long."), field="password")


def check_display_name(name: str) -> str:
    name = clean_text(name or "").strip()
    if not name:
        raise InvalidInput(_("Enter the name others will see."), field="display_name")
    if len(name) > DISPLAY_NAME_MAX:
        raise InvalidInput(
            _(
                'Use at most %(DISPLAY_NAME_MAX)s characters for your name.',
                DISPLAY_NAME_MAX=DISPLAY_NAME_MAX), field="display_name"
        )
    if name.casefold() == FORMER_PARTICIPANT.casefold():
        raise InvalidInput(_("Please choose another name."), field="display_name")
    return name


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _dummy_hash_for_misses() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not a real password, only for constant-time misses")
    return _dummy_hash


def password_matches(user: User | None, password: str) -> bool:
    if user is None or not user.password_hash:
        try:
            _hasher.verify(_dummy_hash_for_misses(), password)
        except VerificationError:
            pass
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such account."))
    return user


def signed_in_as(user: User | None, token: str) -> User | None:
    """`user` if `token` is still their session token and the account is active.

    The one rule for pages and sockets alike: once the token rotates (sign-out, password change,
    suspension, deletion) every old cookie and socket stops counting as the account.
    """
    if user is None or user.session_token != token or not user.is_active:
        return None
    return user


def signed_in_user(session: Session, user_id: int, token: str) -> User | None:
    """The account a cookie or socket signed in as, if it still may act as it."""
    return signed_in_as(session.get(User, user_id), token)


def users_by_id(session: Session, user_ids: set[int]) -> dict[int, User]:
    """The accounts with these ids, in one query (a group of votes' voters)."""
    if not user_ids:
        return {}
    return {user.id: user for user in session.scalars(
        select(User).where(User.id.in_(sorted(user_ids))))}


def register_user(
    session: Session,
    *,
    email: str,
    display_name: str,
    password: str,
    role: Role = Role.RESIDENT,
) -> User | None:
    """Create an account. Returns None, without saying so to the caller's audience, when the email
    is taken: the page shown is the same either way so registration cannot reveal who has an
    account."""
    email = normalize_email(email)
    display_name = check_display_name(display_name)
    check_password_rules(password)
    password_hash = hash_password(password)
    if find_user_by_email(session, email) is not None:
        return None
    user = User(email=email, display_name=display_name, password_hash=password_hash, role=role)
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        return None
    return user


def authenticate(session: Session, *, email: str, password: str) -> User | None:
    """The account these credentials open, or None; a suspended or deleted account opens nothing."""
    try:
        email = normalize_email(email)
    except InvalidInput:
        password_matches(None, password)
        return None
    user = find_user_by_email(session, email)
    if not password_matches(user, password) or user is None or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    user.last_sign_in_at = utcnow()
    session.flush()
    return user


def end_all_sessions(session: Session, user: User, *, reason: str = "signed_out") -> None:
    """Invalidate every cookie of this account, on every device, and close its live sockets
    once the transaction commits (`reason` tells the page why)."""
    user.session_token = new_session_token()
    end_live_sessions(session, user.id, reason)
    session.flush()


def change_password(session: Session, user: User, *, current: str, new: str) -> None:
    if not password_matches(user, current):
        raise InvalidInput(_("Your current password is not right."), field="current_password")
    check_password_rules(new)
    user.password_hash = hash_password(new)
    end_all_sessions(session, user, reason="password_changed")


def change_display_name(session: Session, user: User, *, display_name: str) -> None:
    user.display_name = check_display_name(display_name)
    session.flush()


def delete_account(session: Session, user: User, *, password: str) -> None:
    """Remove what identifies the person; what they posted stays, shown as a former participant."""
    if not password_matches(user, password):
        raise InvalidInput(_("Your password is not right."), field="password")
    user.email = f"deleted-{user.id}@accounts.invalid"
    user.display_name = FORMER_PARTICIPANT
    user.password_hash = None
    user.deleted_at = utcnow()
    user.locale = None
    end_all_sessions(session, user, reason="deleted")


def export_personal_data(session: Session, user: User) -> dict[str, Any]:
    """Everything the platform holds about this person, for "download my data"."""
    data: dict[str, Any] = {
        "account": {
            "id": user.id,
            "email": user.email,
            "display_name": user.display_name,
            "role": str(user.role),
            "locale": user.locale,
            "created_at": user.created_at.isoformat(),
            "last_sign_in_at": user.last_sign_in_at.isoformat() if user.last_sign_in_at else None,
        }
    }
    for section, exporter in sorted(PERSONAL_DATA.items()):
        data[section] = exporter(session, user)
    return data


def search_users(session: Session, actor: User, *, query: str = "", role: str | None = None,
                 page: int = 1, per_page: int = 50) -> tuple[list[User], int]:
    require(actor, "admin.users")
    stmt = select(User).where(User.deleted_at.is_(None))
    query = (query or "").strip().lower()
    if query:
        like = f"%{query.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(func.lower(User.email).like(like),
                              func.lower(User.display_name).like(like)))
    if role:
        try:
            stmt = stmt.where(User.role == Role(role))
        except ValueError:
            raise InvalidInput(_("Unknown role."), field="role") from None
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    users = session.scalars(
        stmt.order_by(User.created_at.desc(), User.id.desc())
        .limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    return list(users), total


def _audit(session: Session, actor: User | None, subject: User, action: str, **detail: Any) -> None:
    session.add(AuditEntry(actor_id=actor.id if actor else None, subject_id=subject.id,
                           action=action, detail=detail))


def set_role(session: Session, actor: User | None, subject: User, role: str) -> None:
    """Change a role; `actor` None means the command line on the server itself."""
    if actor is not None:
        require(actor, "admin.change_role", subject)
    try:
        new_role = Role(role)
    except ValueError:
        raise InvalidInput(
            _(
                'Unknown role %(role)s; choose one of %(value)s.',
                role=repr(role), value=', '.join(r.value for r in Role)),
            field="role",
        ) from None
    if subject.deleted_at is not None:
        raise Conflict(_("That account was deleted."))
    old = subject.role
    if old == new_role:
        return
    if actor is not None and subject.id == actor.id and new_role != Role.ADMIN:
        raise Forbidden(_("You cannot remove your own admin role; ask another admin."))
    subject.role = new_role
    # Its sockets joined rooms under the old role (a moderator's queue): they start again.
    end_live_sessions(session, subject.id, "role_changed")
    _audit(session, actor, subject, "role_changed", old=str(old), new=str(new_role))
    session.flush()


def suspend_user(session: Session, actor: User, subject: User, *, reason: str) -> None:
    require(actor, "admin.suspend", subject)
    reason = clean_text(reason or "").strip()
    if not reason:
        raise InvalidInput(_("Give a reason for the suspension."), field="reason")
    if len(reason) > 500:
        raise InvalidInput(_("Keep the reason under 500 characters."), field="reason")
    if subject.suspended_at is not None:
        raise Conflict(_("That account is already suspended."))
    subject.suspended_at = utcnow()
    subject.suspension_reason = reason
    end_all_sessions(session, subject, reason="suspended")
    _audit(session, actor, subject, "suspended", reason=reason)
    session.flush()


def restore_user(session: Session, actor: User, subject: User) -> None:
    require(actor, "admin.suspend", subject)
    if subject.suspended_at is None:
        raise Conflict(_("That account is not suspended."))
    subject.suspended_at = None
    subject.suspension_reason = None
    _audit(session, actor, subject, "restored")
    session.flush()


def audit_entries(session: Session, actor: User, *, limit: int = 100) -> list[AuditEntry]:
    require(actor, "admin.users")
    return list(session.scalars(
        select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(limit)
    ))
