"""Notices for one person. Other domains call `notify`; the header shows the unread count.

Each notice is also mailed as its person chose for its kind (kinds.py): at once, after the commit;
in the daily or weekly digest (`send_digests`, run by the periodic jobs in jobs.py); or not at
all. A digest holds only notices still unread and still visible to that person: the domain a
notice is about answers that through `register_visibility`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import LazyString, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from participation.accounts.models import User
from participation.accounts.services import personal_data
from participation.db import utcnow
from participation.errors import Forbidden, InvalidInput, NotFound
from participation.mail.services import Attachment, absolute_url, queue_mail
from participation.notifications.kinds import (
    DIGESTS,
    KINDS,
    Cadence,
    Kind,
)
from participation.notifications.models import Notification, NotificationPreference
from participation.security.permissions import require
from participation.security.sanitize import clean_text

logger = logging.getLogger(__name__)

MESSAGE_MAX = 500
SUBJECT_REF_MAX = 60
# A digest lists at most this many notices of one kind, then says how many more wait online.
DIGEST_ITEMS_PER_KIND = 20
UNSUBSCRIBE_SALT = "participation.notifications.unsubscribe"

# check(session, person, id) -> whether the thing a notice is about is still visible to them.
VisibilityCheck = Callable[[Session, User, str], bool]
_VISIBILITY: dict[str, VisibilityCheck] = {}


def register_visibility(prefix: str, check: VisibilityCheck) -> None:
    """Let the domain owning `prefix` ("post" in "post:12") say who may still see a subject."""
    if not prefix or ":" in prefix:
        raise ValueError(f"a subject prefix is a word, not {prefix!r}")
    _VISIBILITY[prefix] = check


def still_visible(session: Session, user: User, subject_ref: str | None) -> bool:
    """Whether a notice about `subject_ref` may still be shown to `user` in a digest."""
    if not subject_ref:
        return True
    prefix, _sep, ident = subject_ref.partition(":")
    check = _VISIBILITY.get(prefix)
    if check is None:
        # The owning domain registered no rule: it makes no claim, the notice stays.
        logger.warning("no visibility check registered for %r notices", prefix)
        return True
    return bool(check(session, user, ident))


# Notices


def notify(session: Session, user_id: int, *, kind: str, message: str, link: str = "",
           subject_ref: str | None = None,
           attachments: Sequence[Attachment] = ()) -> Notification:
    """Leave a notice for `user_id` and mail it as they chose for `kind`.

    `link` is a path on this site; `subject_ref` ("post:12") is what the notice is about, asked
    again before a digest carries it. Attachments go only with a mail sent at once.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    text = clean_text(message).strip()
    if len(text) > MESSAGE_MAX:
        text = text[: MESSAGE_MAX - 1] + "…"
    cadence = cadence_for(session, user_id, kind)
    notification = Notification(
        user_id=user_id, kind=kind, message=text, link=link[:300], created_at=utcnow(),
        subject_ref=subject_ref[:SUBJECT_REF_MAX] if subject_ref else None,
        digest_cadence=cadence.value if cadence in DIGESTS else None,
    )
    session.add(notification)
    if cadence is Cadence.IMMEDIATE:
        user = session.get(User, user_id)
        if user is not None and mail_reaches(user):
            session.flush()
            if _mail_notice(session, user, notification, attachments):
                notification.mailed_at = notification.created_at
    return notification


def unread_count(session: Session, user: User) -> int:
    return session.scalar(
        select(func.count()).select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ) or 0


def list_notifications(session: Session, actor: User, *, page: int = 1,
                       per_page: int = 30) -> tuple[list[Notification], int]:
    require(actor, "notifications.view")
    base = select(Notification).where(Notification.user_id == actor.id)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    items = session.scalars(
        base.order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    return list(items), total


def open_notification(session: Session, actor: User, notification_id: int) -> Notification:
    """Mark one of `actor`'s notices read, to follow its link: no digest carries it any more."""
    require(actor, "notifications.view")
    notification = session.get(Notification, notification_id)
    if notification is None or notification.user_id != actor.id:
        raise NotFound(_("There is no such notification."))
    if notification.read_at is None:
        notification.read_at = utcnow()
        notification.digest_cadence = None
        session.flush()
    return notification


def mark_all_read(session: Session, actor: User) -> int:
    """Mark every unread notice of `actor` read; returns how many there were."""
    require(actor, "notifications.view")
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=utcnow(), digest_cadence=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@personal_data("notifications")
def export_notifications(session: Session, user: User) -> list[dict[str, Any]]:
    rows = session.scalars(select(Notification).where(Notification.user_id == user.id)
                           .order_by(Notification.id))
    return [{"kind": n.kind, "message": n.message, "link": n.link,
             "created_at": n.created_at.isoformat(),
             "read_at": n.read_at.isoformat() if n.read_at else None,
             "mailed_at": n.mailed_at.isoformat() if n.mailed_at else None} for n in rows]


@personal_data("notification_preferences")
def export_notification_preferences(session: Session, user: User) -> dict[str, str]:
    chosen = notification_preferences(session, user)
    return {name: cadence.value for name, cadence in chosen.items()}


# Preferences


def _stored_choices(session: Session, user_id: int) -> dict[str, str]:
    return dict(session.execute(
        select(NotificationPreference.kind, NotificationPreference.cadence)
        .where(NotificationPreference.user_id == user_id)
    ).all())


def _as_cadence(value: str | None, default: Cadence) -> Cadence:
    try:
        return Cadence(value) if value else default
    except ValueError:
        return default


def cadence_for(session: Session, user_id: int, kind: str) -> Cadence:
    """How `user_id` wants notices of `kind` mailed: their choice, else the kind's default."""
    stored = session.scalar(
        select(NotificationPreference.cadence)
        .where(NotificationPreference.user_id == user_id, NotificationPreference.kind == kind))
    return _as_cadence(stored, KINDS[kind].default)


def notification_preferences(session: Session, user: User) -> dict[str, Cadence]:
    """Every kind, in the order of kinds.py, with how `user` has it mailed."""
    stored = _stored_choices(session, user.id)
    return {name: _as_cadence(stored.get(name), kind.default) for name, kind in KINDS.items()}


def preference_summary(session: Session, user: User) -> list[tuple[Cadence, list[Kind]]]:
    """The kinds grouped by cadence, for the account page; cadences with no kind left out."""
    chosen = notification_preferences(session, user)
    return [(cadence, [KINDS[name] for name, c in chosen.items() if c is cadence])
            for cadence in Cadence if cadence in chosen.values()]


def _set_cadence(session: Session, user_id: int, kind: str, cadence: Cadence) -> None:
    row = session.scalar(select(NotificationPreference).where(
        NotificationPreference.user_id == user_id, NotificationPreference.kind == kind))
    if row is None:
        session.add(NotificationPreference(user_id=user_id, kind=kind, cadence=cadence.value))
    else:
        row.cadence = cadence.value
    # What still waits for a digest goes by the new choice: off, or in the other digest.
    session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.kind == kind,
               Notification.mailed_at.is_(None), Notification.digest_cadence.is_not(None))
        .values(digest_cadence=cadence.value if cadence in DIGESTS else None)
        .execution_options(synchronize_session=False)
    )


def set_notification_preferences(session: Session, actor: User,
                                 choices: Mapping[str, str]) -> list[str]:
    """Store `actor`'s choice for the kinds named in `choices`; returns the kinds that changed.

    Every name must be a kind and every value a cadence, or nothing is changed."""
    require(actor, "notifications.view")
    wanted: dict[str, Cadence] = {}
    for name, value in choices.items():
        if name not in KINDS:
            raise InvalidInput(_("There is no such kind of notification."))
        try:
            wanted[name] = Cadence(value)
        except ValueError:
            raise InvalidInput(_("Choose how to receive these notifications."),
                               field=name) from None
    current = notification_preferences(session, actor)
    changed = [name for name, cadence in wanted.items() if current[name] is not cadence]
    for name in changed:
        _set_cadence(session, actor.id, name, wanted[name])
    session.flush()
    return changed


# One-click unsubscribe (RFC 8058): the token is the proof, no session is needed.


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)


def _digest_target(cadence: Cadence) -> str:
    return f"digest:{cadence.value}"


def unsubscribe_token(user_id: int, target: str) -> str:
    return str(_serializer().dumps([int(user_id), target]))


def unsubscribe_url(user_id: int, kind: str) -> str:
    """An absolute, signed address that turns `kind` off for `user_id`, with no session."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    return absolute_url("notifications.unsubscribe", token=unsubscribe_token(user_id, kind))


def digest_unsubscribe_url(user_id: int, cadence: Cadence) -> str:
    """An address that turns off every kind `user_id` gets in that digest."""
    return absolute_url("notifications.unsubscribe",
                        token=unsubscribe_token(user_id, _digest_target(cadence)))


@dataclass
class Unsubscription:
    """What an unsubscribe link is for: one kind, or every kind of one digest."""

    user: User
    kinds: list[Kind] = field(default_factory=list)
    digest: Cadence | None = None
    # Nothing of this is mailed now (already turned off).
    already_off: bool = False


def read_unsubscribe_link(session: Session, token: str, viewer: User | None) -> Unsubscription:
    """What `token` would turn off. A forged or altered token, an account that is gone, or a
    token of another account than the one signed in, is refused and changes nothing."""
    invalid = InvalidInput(_("This unsubscribe link is not valid. It may have been cut short: "
                             "open the preferences from your account page instead."))
    try:
        payload = _serializer().loads(token)
    except BadData:
        raise invalid from None
    if (not isinstance(payload, list) or len(payload) != 2 or type(payload[0]) is not int
            or not isinstance(payload[1], str)):
        raise invalid
    user_id, target = payload
    user = session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise NotFound(_("The account this link was sent to no longer exists."))
    if viewer is not None and getattr(viewer, "is_authenticated", False) and viewer.id != user.id:
        raise Forbidden(_("This unsubscribe link was sent to another account. Sign out to use "
                          "it, or change your own choices in your preferences."))
    if target in KINDS:
        return Unsubscription(user=user, kinds=[KINDS[target]], already_off=cadence_for(
            session, user.id, target) is Cadence.NEVER)
    for cadence in DIGESTS:
        if target == _digest_target(cadence):
            chosen = notification_preferences(session, user)
            kinds = [KINDS[n] for n, c in chosen.items() if c is cadence]
            return Unsubscription(user=user, digest=cadence, kinds=kinds, already_off=not kinds)
    raise invalid


def unsubscribe(session: Session, token: str, viewer: User | None) -> Unsubscription:
    """Turn off what `token` names: no more mail of that kind (or that digest) for its account."""
    found = read_unsubscribe_link(session, token, viewer)
    for kind in found.kinds:
        _set_cadence(session, found.user.id, kind.name, Cadence.NEVER)
    session.flush()
    return found


# Mail


def _list_headers(url: str) -> dict[str, str]:
    return {"List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            # RFC 3834: no vacation replies to a machine's mail.
            "Auto-Submitted": "auto-generated"}


def mail_reaches(user: User) -> bool:
    """Notification mail goes only to an active account whose owner confirmed its address, so
    that nobody can have a stranger's inbox filled by registering it."""
    return user.is_active and user.email_confirmed


def _queue(session: Session, user: User, **mail: Any) -> bool:
    """queue_mail, for an account: a mail it refuses (an address it cannot send to) is logged
    and skipped, so that the action that caused it, or everyone else's digest, still goes on."""
    try:
        return queue_mail(session, to=user.email, locale=user.locale, recipient_id=user.id,
                          display_name=user.display_name, **mail)
    except ValueError as error:
        # queue_mail's messages name no address.
        logger.warning("notification mail for account %s not queued: %s", user.id, error)
        return False


def _notice_url(notification: Notification) -> str | None:
    if not notification.link:
        return None
    return absolute_url("notifications.follow_link", notification_id=notification.id)


def _mail_notice(session: Session, user: User, notification: Notification,
                 attachments: Sequence[Attachment]) -> bool:
    """Queue one notice's own mail; it leaves after the commit, once (keyed by the notice)."""
    kind = KINDS[notification.kind]
    url = unsubscribe_url(user.id, kind.name)
    return _queue(
        session, user, template="notification", key=f"notification:{notification.id}",
        subject=_l("%(kind)s: %(message)s", kind=kind.label, message=notification.message),
        headers=_list_headers(url), attachments=attachments,
        kind=kind, message=notification.message,
        notice_url=_notice_url(notification), unsubscribe_url=url,
        preferences_url=absolute_url("notifications.preferences"),
    )


@dataclass
class DigestGroup:
    kind: Kind
    items: list[dict[str, Any]]
    more: int
    unsubscribe_url: str


def digest_period(cadence: Cadence, now: datetime) -> str:
    """The period a digest sent at `now` belongs to: its day, or its ISO week."""
    if cadence is Cadence.DAILY:
        return now.date().isoformat()
    year, week, _day = now.isocalendar()
    return f"{year}-W{week:02d}"


def _pending(cadence: Cadence, now: datetime) -> Any:
    return select(Notification).where(
        Notification.digest_cadence == cadence.value, Notification.mailed_at.is_(None),
        Notification.read_at.is_(None), Notification.created_at <= now)


def send_digests(session: Session, cadence: Cadence | str, now: datetime) -> int:
    """Queue this period's digest for everyone with notices waiting for it; returns how many.

    One mail per person and period, whoever runs this and however often (the mail's key names
    the period). A digest holds the notices still unread and still visible to its person, and
    is not sent when that leaves none, nor to an account deleted or suspended meanwhile. What a
    digest carried is marked, so no later digest repeats it.
    """
    cadence = Cadence(cadence)
    if cadence not in DIGESTS:
        raise ValueError(f"{cadence} is not a digest")
    pending = _pending(cadence, now).subquery()
    user_ids = list(session.scalars(select(pending.c.user_id).distinct()
                                    .order_by(pending.c.user_id)))
    period = digest_period(cadence, now)
    sent = 0
    for user_id in user_ids:
        notices = list(session.scalars(
            _pending(cadence, now).where(Notification.user_id == user_id)
            .order_by(Notification.created_at, Notification.id)))
        user = session.get(User, user_id)
        if user is None or not user.is_active:
            # A deleted or suspended account gets nothing of what waited meanwhile.
            for notice in notices:
                notice.digest_cadence = None
            continue
        if not mail_reaches(user):
            continue  # an address not confirmed yet: the notices wait until it is
        shown = [n for n in notices if still_visible(session, user, n.subject_ref)]
        for notice in notices:
            if notice not in shown:
                notice.digest_cadence = None
        if shown and _mail_digest(session, user, cadence, period, shown):
            for notice in shown:
                notice.mailed_at = now
                notice.digest_cadence = None
            sent += 1
        session.flush()
    return sent


def _digest_groups(user: User, notices: list[Notification]) -> list[DigestGroup]:
    by_kind: dict[str, list[Notification]] = {}
    for notice in notices:
        by_kind.setdefault(notice.kind, []).append(notice)
    groups = []
    for name, kind in KINDS.items():
        items = by_kind.get(name)
        if not items:
            continue
        groups.append(DigestGroup(
            kind=kind,
            items=[{"message": n.message, "url": _notice_url(n), "created_at": n.created_at}
                   for n in items[:DIGEST_ITEMS_PER_KIND]],
            more=max(len(items) - DIGEST_ITEMS_PER_KIND, 0),
            unsubscribe_url=unsubscribe_url(user.id, name),
        ))
    return groups


def _digest_subject(cadence: Cadence, count: int) -> LazyString:
    """Written when the mail is rendered, in its reader's language."""
    if cadence is Cadence.DAILY:
        return LazyString(lambda: ngettext("Your daily digest: %(num)s notification",
                                           "Your daily digest: %(num)s notifications", count))
    return LazyString(lambda: ngettext("Your weekly digest: %(num)s notification",
                                       "Your weekly digest: %(num)s notifications", count))


def _mail_digest(session: Session, user: User, cadence: Cadence, period: str,
                 notices: list[Notification]) -> bool:
    url = digest_unsubscribe_url(user.id, cadence)
    return _queue(
        session, user, template="digest", key=f"digest:{cadence.value}:{user.id}:{period}",
        subject=_digest_subject(cadence, len(notices)), headers=_list_headers(url),
        cadence=cadence.value, count=len(notices),
        groups=_digest_groups(user, notices), unsubscribe_url=url,
        notifications_url=absolute_url("notifications.index"),
        preferences_url=absolute_url("notifications.preferences"),
    )
