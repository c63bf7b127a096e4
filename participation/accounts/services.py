"""Account rules: registration, sign-in, sessions, self-service and administration.

Plain functions `verb_noun(session, actor, ...)`: they flush, never commit, and raise domain errors.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from participation.accounts import two_factor
from participation.accounts.models import (
    FORMER_PARTICIPANT,
    AccountToken,
    AuditEntry,
    RecoveryCode,
    TokenPurpose,
    TwoFactor,
    User,
    new_session_token,
)
from participation.db import row_id, utcnow
from participation.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from participation.i18n import DEFAULT_LOCALE, N_, supported
from participation.mail.services import absolute_url, cancel_mail_for, queue_mail
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


AccountDeletedHook = Callable[[Session, User], None]
ON_ACCOUNT_DELETED: list[AccountDeletedHook] = []


def on_account_deleted(hook: AccountDeletedHook) -> AccountDeletedHook:
    """Register what a domain releases when an account is deleted (in the same transaction)."""
    ON_ACCOUNT_DELETED.append(hook)
    return hook


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


def signed_in_user(session: Session, user_id: int, token: str, *,
                   two_factor_roles: Collection[str] = ()) -> User | None:
    """The account a cookie or socket signed in as, if it still may act as it.

    An account whose role is in `two_factor_roles` and has no second factor counts as signed out
    (a session from before the requirement, or a resident made official since): its next sign-in
    takes it to the set-up step.
    """
    user = signed_in_as(session.get(User, user_id), token)
    if user is not None and needs_two_factor_setup(user, two_factor_roles):
        return None
    return user


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
    confirmed: bool = False,
) -> User | None:
    """Create an account. Returns None, without saying so to the caller's audience, when the email
    is taken: the page shown is the same either way so registration cannot reveal who has an
    account. `confirmed` is for accounts made on the server itself (command line, demo), whose
    address nobody needs to prove."""
    email = normalize_email(email)
    display_name = check_display_name(display_name)
    check_password_rules(password)
    password_hash = hash_password(password)
    if find_user_by_email(session, email) is not None:
        return None
    user = User(email=email, display_name=display_name, password_hash=password_hash, role=role,
                email_confirmed_at=utcnow() if confirmed else None)
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


def sign_up(session: Session, *, email: str, display_name: str, password: str,
            locale: str | None = None, next_path: str | None = None) -> User | None:
    """Registration from the site: the account, and a link mailed to confirm its address, in
    `locale` (the language the page was read in, kept as the account's). `next_path` (a path
    on this site, checked by the caller) is where the confirmed account goes on: the town hall
    it registered to join, say.

    None (and no mail) when the address is taken, as `register_user` says."""
    user = register_user(session, email=email, display_name=display_name, password=password)
    if user is not None:
        user.locale = supported(locale)
        _send_link(session, user, TokenPurpose.CONFIRM_EMAIL, user.email, next_path=next_path)
    return user


# Links mailed to an account: how long each lasts, and how many of a kind one account is sent
# an hour (counted in the database, so the limit holds across workers).
LINK_LIFETIME = {
    TokenPurpose.CONFIRM_EMAIL: timedelta(hours=48),
    TokenPurpose.CHANGE_EMAIL: timedelta(hours=48),
    TokenPurpose.RESET_PASSWORD: timedelta(hours=1),
}
LINK_MAILS_PER_HOUR = 3
_LINK_SALT = {
    TokenPurpose.CONFIRM_EMAIL: "participation.accounts.email",
    TokenPurpose.CHANGE_EMAIL: "participation.accounts.email",
    TokenPurpose.RESET_PASSWORD: "participation.accounts.password",
}
_LINK_MAIL = {
    TokenPurpose.CONFIRM_EMAIL: ("confirm_email", N_("Confirm your email address")),
    TokenPurpose.CHANGE_EMAIL: ("confirm_email", N_("Confirm your new email address")),
    TokenPurpose.RESET_PASSWORD: ("reset_password", N_("Set a new password")),
}


class LinkRefused(InvalidInput):
    """A mailed link that cannot be used: forged, expired, used, or another account's. Nothing
    was changed."""


LINK_NOT_VALID = N_("This link is not valid. Check that you copied all of it from the mail.")
LINK_EXPIRED = N_("This link has expired. Ask for a new one.")
LINK_USED = N_("This link was already used; each link works once. Ask for a new one if you "
               "need it.")
LINK_OTHER_ACCOUNT = N_("This link was sent to another account than the one signed in here. "
                        "Sign out, then follow the link again.")
LINK_STALE = N_("This link no longer works: the account changed since it was sent. Ask for a "
                "new one.")


def _serializer(purpose: TokenPurpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_LINK_SALT[purpose])


def _fingerprint(user: User) -> str:
    """What a reset link is bound to: the password hash, the session token and the address.
    A new password, a sign-out everywhere or a new address leaves every earlier link dead."""
    material = "\0".join((user.password_hash or "", user.session_token, user.email))
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, material.encode(), hashlib.sha256).hexdigest()[:32]


def _lock_account(session: Session, user: User) -> None:
    """Serialize the link mails of one account (PostgreSQL; SQLite has one writer anyway)."""
    session.execute(select(User.id).where(User.id == user.id).with_for_update())


def _links_sent_lately(session: Session, user: User, purposes: tuple[TokenPurpose, ...]) -> int:
    since = utcnow() - timedelta(hours=1)
    return session.scalar(select(func.count()).select_from(AccountToken).where(
        AccountToken.user_id == user.id, AccountToken.purpose.in_(purposes),
        AccountToken.created_at > since)) or 0


def _send_link(session: Session, user: User, purpose: TokenPurpose, to: str, *,
               next_path: str | None = None) -> AccountToken:
    """Store a link's row and queue its mail (sent after the commit; once per link)."""
    now = utcnow()
    row = AccountToken(user_id=user.id, purpose=purpose, email=to, created_at=now,
                       expires_at=now + LINK_LIFETIME[purpose])
    session.add(row)
    session.flush()
    payload = [row.id, user.id, _fingerprint(user) if purpose is TokenPurpose.RESET_PASSWORD
               else ""]
    token = _serializer(purpose).dumps(payload)
    endpoint = ("accounts.reset_password" if purpose is TokenPurpose.RESET_PASSWORD
                else "accounts.confirm_email")
    template, subject = _LINK_MAIL[purpose]
    queue_mail(session, to=to, template=template, key=f"account-link:{row.id}",
               subject=_l(subject), locale=user.locale or DEFAULT_LOCALE, recipient_id=user.id,
               link=absolute_url(endpoint, token=token, next=next_path or None),
               name=user.display_name,
               purpose=purpose.value,
               hours=int(LINK_LIFETIME[purpose].total_seconds() // 3600))
    return row


def _open_link(session: Session, actor: User | None, token: str,
               purposes: tuple[TokenPurpose, ...]) -> AccountToken:
    """The row a mailed link stands for, if it may still be used by whoever holds it."""
    salt_purpose = purposes[0]
    try:
        payload = _serializer(salt_purpose).loads(
            token or "", max_age=int(max(LINK_LIFETIME[p] for p in purposes).total_seconds()))
    except SignatureExpired:
        raise LinkRefused(_l(LINK_EXPIRED)) from None
    except BadSignature:
        raise LinkRefused(_l(LINK_NOT_VALID)) from None
    if not (isinstance(payload, list) and len(payload) == 3
            and row_id(payload[0]) is not None and row_id(payload[1]) is not None
            and isinstance(payload[2], str)):
        raise LinkRefused(_l(LINK_NOT_VALID))
    row = session.get(AccountToken, row_id(payload[0]))
    if row is None or row.user_id != payload[1] or row.purpose not in purposes:
        raise LinkRefused(_l(LINK_NOT_VALID))
    if actor is not None and actor.id != row.user_id:
        raise LinkRefused(_l(LINK_OTHER_ACCOUNT))
    if row.used_at is not None:
        raise LinkRefused(_l(LINK_USED))
    if row.expires_at <= utcnow():
        raise LinkRefused(_l(LINK_EXPIRED))
    user = row.user
    if not user.is_active:
        raise LinkRefused(_l(LINK_NOT_VALID))
    if row.purpose is TokenPurpose.RESET_PASSWORD and not hmac.compare_digest(
            payload[2], _fingerprint(user)):
        raise LinkRefused(_l(LINK_STALE))
    if row.purpose is not TokenPurpose.CHANGE_EMAIL and row.email != user.email:
        raise LinkRefused(_l(LINK_STALE))
    return row


def _use_link(session: Session, row: AccountToken) -> None:
    """Mark the link used, once: of two requests racing with one link, one wins."""
    claimed = session.execute(
        update(AccountToken).where(AccountToken.id == row.id, AccountToken.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkRefused(_l(LINK_USED))
    session.expire(row, ["used_at"])


def resend_email_confirmation(session: Session, user: User) -> None:
    """"Send the link again", from the account page: a new link, limited per hour."""
    require(user, "account.view")
    if user.email_confirmed_at is not None:
        raise Conflict(_("Your email address is already confirmed."))
    _lock_account(session, user)
    if _links_sent_lately(session, user, (TokenPurpose.CONFIRM_EMAIL,)) >= LINK_MAILS_PER_HOUR:
        raise RateLimited(_("We have sent you several links in the last hour. Look for them in "
                            "your mail (and its spam folder), or try again later."))
    _send_link(session, user, TokenPurpose.CONFIRM_EMAIL, user.email)


def email_link(session: Session, actor: User | None, token: str) -> AccountToken:
    """The confirmation (or change-of-address) link, checked and not used: for the page that
    asks to confirm it."""
    return _open_link(session, actor, token,
                      (TokenPurpose.CONFIRM_EMAIL, TokenPurpose.CHANGE_EMAIL))


def confirm_email(session: Session, actor: User | None, token: str) -> AccountToken:
    """Follow a confirmation link: the account's address is confirmed, or, for a change of
    address, the new address becomes the account's and the old one is told."""
    row = email_link(session, actor, token)
    user = row.user
    _use_link(session, row)
    now = utcnow()
    if row.purpose is TokenPurpose.CONFIRM_EMAIL:
        user.email_confirmed_at = user.email_confirmed_at or now
        session.flush()
        return row
    old_address = user.email
    taken = find_user_by_email(session, row.email)
    if taken is not None and taken.id != user.id:
        raise Conflict(_("That address now belongs to another account; your address is "
                         "unchanged."))
    user.email = row.email
    user.email_confirmed_at = now
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(_("That address now belongs to another account; your address is "
                         "unchanged.")) from None
    # The links still open were for the old address (or another new one): none may be used now.
    session.execute(
        update(AccountToken).where(AccountToken.user_id == user.id,
                                   AccountToken.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False))
    queue_mail(session, to=old_address, template="email_changed",
               key=f"account-link:{row.id}:old-address",
               subject=_l("The email address of your account was changed"),
               locale=user.locale or DEFAULT_LOCALE, recipient_id=user.id,
               name=user.display_name, new_address=masked_address(user.email))
    return row


def masked_address(email: str) -> str:
    """An address shown to someone who may no longer own it: `n…@example.org`."""
    local, _sep, domain = email.partition("@")
    return f"{local[:1]}…@{domain}"


def request_email_change(session: Session, user: User, *, new_email: str, password: str) -> None:
    """Mail a confirmation link to a new address; it becomes the account's once followed.

    The answer is the same when another account has the address (no mail is sent then), so
    the form cannot tell who has an account."""
    require(user, "account.view")
    if not password_matches(user, password):
        raise InvalidInput(_("Your password is not right."), field="password")
    new_email = normalize_email(new_email)
    if new_email == user.email:
        raise InvalidInput(_("That is already your address."), field="email")
    _lock_account(session, user)
    if _links_sent_lately(session, user, (TokenPurpose.CHANGE_EMAIL,)) >= LINK_MAILS_PER_HOUR:
        raise RateLimited(_("You have asked for several changes of address in the last hour; "
                            "try again later."))
    if find_user_by_email(session, new_email) is not None:
        return
    # Only the latest asked-for address may become the account's.
    session.execute(
        update(AccountToken).where(AccountToken.user_id == user.id,
                                   AccountToken.purpose == TokenPurpose.CHANGE_EMAIL,
                                   AccountToken.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session=False))
    _send_link(session, user, TokenPurpose.CHANGE_EMAIL, new_email)


def pending_email(session: Session, user: User) -> str | None:
    """The new address this account asked for and has not confirmed yet (its own page only)."""
    return session.scalar(
        select(AccountToken.email).where(
            AccountToken.user_id == user.id, AccountToken.purpose == TokenPurpose.CHANGE_EMAIL,
            AccountToken.used_at.is_(None), AccountToken.expires_at > utcnow())
        .order_by(AccountToken.id.desc()).limit(1))


def request_password_reset(session: Session, *, email: str) -> None:
    """"Forgot the password": a reset link to the account with this address, if there is one
    that may sign in; nothing at all otherwise. The caller answers the same either way."""
    email = normalize_email(email)
    user = find_user_by_email(session, email)
    if user is None or not user.is_active or not user.password_hash:
        return
    _lock_account(session, user)
    if _links_sent_lately(session, user, (TokenPurpose.RESET_PASSWORD,)) >= LINK_MAILS_PER_HOUR:
        return
    _send_link(session, user, TokenPurpose.RESET_PASSWORD, user.email)


def password_link(session: Session, actor: User | None, token: str) -> AccountToken:
    """The reset link, checked and not used: for the page that asks for the new password."""
    return _open_link(session, actor, token, (TokenPurpose.RESET_PASSWORD,))


def reset_password(session: Session, actor: User | None, token: str, *, new: str) -> User:
    """Set a new password from a reset link. Every session of the account ends, and the link
    (and every other reset link) dies with the old password."""
    row = password_link(session, actor, token)
    check_password_rules(new)
    user = row.user
    _use_link(session, row)
    user.password_hash = hash_password(new)
    # The link reached the account's current address: that proves the address too.
    user.email_confirmed_at = user.email_confirmed_at or utcnow()
    end_all_sessions(session, user, reason="password_changed")
    return user


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
    _remove_two_factor(session, user)
    user.email_confirmed_at = None
    # Links mailed to it name its addresses; unsent mail to it is dropped.
    session.execute(delete(AccountToken).where(AccountToken.user_id == user.id))
    session.flush()
    for hook in ON_ACCOUNT_DELETED:
        hook(session, user)
    cancel_mail_for(session, user.id)
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
            "email_confirmed_at": (user.email_confirmed_at.isoformat()
                                   if user.email_confirmed_at else None),
            "created_at": user.created_at.isoformat(),
            "last_sign_in_at": user.last_sign_in_at.isoformat() if user.last_sign_in_at else None,
            # Whether it is on, and since when: never the secret or the recovery codes.
            "two_factor": {
                "enabled": user.two_factor is not None,
                "enabled_at": user.two_factor.enabled_at.isoformat() if user.two_factor else None,
            },
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
    # A suspended account is sent nothing more (its links stop working while it is suspended).
    session.flush()
    cancel_mail_for(session, subject.id)
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


# Two-factor sign-in ---------------------------------------------------------------------------

# Wrong codes in a row before the second step locks, and for how long.
TWO_FACTOR_MAX_MISSES = 10
TWO_FACTOR_LOCK = timedelta(minutes=15)


@dataclass(frozen=True)
class SecondStep:
    """What a code sent at the second step did: `passed`, or the error to show."""

    passed: bool
    error: InvalidInput | RateLimited | None = None
    used_recovery_code: bool = False


def needs_two_factor_setup(user: User, required_roles: Collection[str]) -> bool:
    """Whether this account must set up a second factor before it may sign in."""
    return str(user.role) in required_roles and user.two_factor is None


def has_two_factor(user: User) -> bool:
    return user.two_factor is not None


def recovery_codes_left(session: Session, user: User) -> int:
    return session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


def _check_setup_code(secret: str, code: str) -> int:
    step = two_factor.matching_step(secret, two_factor.normalize_code(code), after=0)
    if step is None:
        raise InvalidInput(_("That code does not match. Check the time on your phone and enter "
                             "the code your app shows now."), field="code")
    return step


def _store_recovery_codes(session: Session, user: User) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = two_factor.new_recovery_codes()
    session.add_all(RecoveryCode(user_id=user.id, code_hash=two_factor.recovery_hash(code))
                    for code in codes)
    return codes


def enable_two_factor(session: Session, user: User, *, secret: str, code: str) -> list[str]:
    """Turn the second factor on with `secret`, once `code` shows the app has it.

    Returns the ten recovery codes, the only time they exist outside their hashes. Every other
    session of the account ends (the caller signs its own browser in again).
    """
    if user.two_factor is not None:
        raise Conflict(_("Two-factor sign-in is already on."))
    step = _check_setup_code(secret, code)
    user.two_factor = TwoFactor(secret=two_factor.seal_secret(secret), last_step=step)
    session.flush()
    codes = _store_recovery_codes(session, user)
    end_all_sessions(session, user, reason="signed_out")
    return codes


def _reserve_attempt(session: Session, user: User, now: datetime) -> int | None:
    """Count one attempt before it is checked (so parallel guesses cannot slip past the limit);
    the count so far, or None while the step is locked."""
    counted = session.execute(
        update(TwoFactor)
        .where(TwoFactor.user_id == user.id,
               or_(TwoFactor.locked_until.is_(None), TwoFactor.locked_until <= now))
        .values(failed_attempts=TwoFactor.failed_attempts + 1)
        .execution_options(synchronize_session=False))
    if counted.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.scalar(select(TwoFactor.failed_attempts).where(TwoFactor.user_id == user.id))


def _lock_second_step(session: Session, user: User, now: datetime) -> None:
    session.execute(update(TwoFactor).where(TwoFactor.user_id == user.id).values(
        locked_until=now + TWO_FACTOR_LOCK, failed_attempts=0)
        .execution_options(synchronize_session=False))


def _accept_step(session: Session, user: User, step: int) -> bool:
    """Record `step` as the last accepted one, unless it (or a later one) was accepted already."""
    moved = session.execute(
        update(TwoFactor).where(TwoFactor.user_id == user.id, TwoFactor.last_step < step)
        .values(last_step=step, failed_attempts=0)
        .execution_options(synchronize_session=False))
    return moved.rowcount == 1  # type: ignore[attr-defined]


def _use_recovery_code(session: Session, user: User, code: str, now: datetime) -> bool:
    used = session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id,
               RecoveryCode.code_hash.in_(list(two_factor.recovery_hashes(code))),
               RecoveryCode.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False))
    if used.rowcount < 1:  # type: ignore[attr-defined]
        return False
    session.execute(update(TwoFactor).where(TwoFactor.user_id == user.id)
                    .values(failed_attempts=0).execution_options(synchronize_session=False))
    return True


def _locked_error(session: Session, user: User) -> RateLimited:
    return RateLimited(_("Too many wrong codes. The second step is locked for %(minutes)s "
                         "minutes; then try again, or use a recovery code.",
                         minutes=int(TWO_FACTOR_LOCK.total_seconds() // 60)))


def pass_second_step(session: Session, user: User, code: str, *,
                     now: datetime | None = None) -> SecondStep:
    """Check a code from the authenticator app, or a recovery code, for the second step.

    A code counts once: only a time-step later than the last accepted one passes (the drift of
    one step either way is allowed), and a recovery code is used up. Misses are counted in the
    database; after TWO_FACTOR_MAX_MISSES in a row the step is locked for TWO_FACTOR_LOCK, right
    codes included. The caller commits whatever the outcome, so the count survives a refusal.
    """
    now = now or utcnow()
    factor = user.two_factor
    if factor is None:
        raise Conflict(_("Two-factor sign-in is not on for this account."))
    attempts = _reserve_attempt(session, user, now)
    if attempts is None or attempts > TWO_FACTOR_MAX_MISSES:
        if attempts is not None:
            _lock_second_step(session, user, now)
        return SecondStep(False, _locked_error(session, user))
    normalized = two_factor.normalize_code(code)
    if two_factor.is_totp_code(normalized):
        try:
            secret = two_factor.open_secret(factor.secret)
        except two_factor.SecretUnreadable:
            raise Conflict(_("This account's second factor cannot be read (the site's secret key "
                             "changed). Use a recovery code, or ask an administrator to reset "
                             "it.")) from None
        step = two_factor.matching_step(secret, normalized, after=-1, now=now.timestamp())
        if step is not None and _accept_step(session, user, step):
            return SecondStep(True)
    elif two_factor.looks_like_recovery_code(normalized) and _use_recovery_code(
            session, user, normalized, now):
        return SecondStep(True, used_recovery_code=True)
    if attempts >= TWO_FACTOR_MAX_MISSES:
        _lock_second_step(session, user, now)
        return SecondStep(False, _locked_error(session, user))
    return SecondStep(False, InvalidInput(
        _("That code is not right, or was used already. Enter the code your app shows now, or "
          "one of your recovery codes."), field="code"))


def _remove_two_factor(session: Session, user: User) -> None:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    if user.two_factor is not None:
        session.delete(user.two_factor)
        user.two_factor = None
    session.flush()


def disable_two_factor(session: Session, user: User, *, password: str, code: str,
                       required_roles: Collection[str] = ()) -> None:
    """Turn the second factor off: it takes the password and a current (or recovery) code.
    Every other session of the account ends."""
    if user.two_factor is None:
        raise Conflict(_("Two-factor sign-in is not on."))
    if str(user.role) in required_roles:
        raise Forbidden(_("Your role requires two-factor sign-in, so it stays on. An "
                          "administrator can reset it if you lost your phone."))
    if not password_matches(user, password):
        raise InvalidInput(_("Your password is not right."), field="password")
    outcome = pass_second_step(session, user, code)
    if not outcome.passed:
        assert outcome.error is not None  # noqa: S101 - a refusal always carries its reason
        raise outcome.error
    _remove_two_factor(session, user)
    end_all_sessions(session, user, reason="signed_out")


def renew_recovery_codes(session: Session, user: User, *, password: str, code: str) -> list[str]:
    """Ten new recovery codes in place of the old ones, for the password and a current code."""
    if user.two_factor is None:
        raise Conflict(_("Two-factor sign-in is not on."))
    if not password_matches(user, password):
        raise InvalidInput(_("Your password is not right."), field="password")
    outcome = pass_second_step(session, user, code)
    if not outcome.passed:
        assert outcome.error is not None  # noqa: S101 - a refusal always carries its reason
        raise outcome.error
    return _store_recovery_codes(session, user)


def reset_two_factor(session: Session, actor: User | None, subject: User) -> None:
    """An administrator removes someone's second factor (a lost phone); `actor` None means the
    command line on the server. Written to the audit log; every session of the account ends."""
    if actor is not None:
        require(actor, "admin.reset_two_factor", subject)
    if subject.two_factor is None:
        raise Conflict(_("That account has no second factor to reset."))
    _remove_two_factor(session, subject)
    end_all_sessions(session, subject, reason="signed_out")
    _audit(session, actor, subject, "two_factor_reset")
    session.flush()
