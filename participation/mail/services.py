"""Queueing, cancelling and delivering outgoing mail.

A message is rendered when it is queued (its text, HTML and subject in the recipient's language)
and stored in the caller's transaction; its delivery is enqueued only after that transaction
commits. Delivery claims the row with one conditional UPDATE, so two consumers given the same
message cannot both send it, and a row already sent is never sent again.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from participation.db import utcnow
from participation.mail.models import OutgoingMail

log = logging.getLogger(__name__)

MAX_KEY = 200
MAX_SUBJECT = 200
MAX_HEADER_VALUE = 2000
MAX_ADDRESS = 320
# Headers a caller may add; everything that identifies sender, recipient or message is ours.
ALLOWED_HEADERS = frozenset({"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id",
                             "Auto-Submitted", "X-Auto-Response-Suppress", "Precedence",
                             "Reply-To"})
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,60}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
_ADDRESS = re.compile(r"[^@\s<>(),;:\"\[\]\\]{1,64}@[A-Za-z0-9.-]{1,253}")


@dataclass(frozen=True)
class Attachment:
    filename: str
    mimetype: str
    content: bytes


def one_line(value: object, limit: int) -> str:
    """Text fit for a header: control characters (CR, LF, ...) become spaces, runs of space one
    space, and it is cut at `limit` characters."""
    text = _CONTROL.sub(" ", str(value))
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def valid_address(value: str) -> str | None:
    """The address, trimmed, when it is one plain address; else None."""
    if not isinstance(value, str):
        return None
    address = value.strip()
    if len(address) > MAX_ADDRESS or not _ADDRESS.fullmatch(address):
        return None
    return address


def absolute_url(endpoint: str, **values: Any) -> str:
    """The URL of `endpoint` as someone reading the mail must follow it.

    From PUBLIC_URL when it is set; else from the current request's host; else (a worker, the
    command line, with nothing set) http://localhost:5000, where `make run` serves.
    """
    from flask import current_app, has_request_context, url_for

    public = current_app.config.get("PUBLIC_URL")
    if has_request_context() and not public:
        return url_for(endpoint, _external=True, **values)
    base = (public or "http://localhost:5000").rstrip("/")
    with current_app.test_request_context("/", base_url=base):
        return url_for(endpoint, _external=True, **values)


def render_mail(template: str, *, subject: Any, locale: str | None,
                **context: Any) -> tuple[str, str, str]:
    """(subject, text, html) of `templates/mail/<template>.txt/.html` in `locale`."""
    from flask import current_app, render_template
    from flask_babel import force_locale

    from participation.i18n import DEFAULT_LOCALE, supported

    language = supported(locale) or DEFAULT_LOCALE
    context.setdefault("site_name", current_app.config.get("SITE_NAME", "Participation"))
    context.setdefault("unsubscribe_url", None)
    context.setdefault("preferences_url", None)
    with force_locale(language):
        subject_text = one_line(str(subject), MAX_SUBJECT)
        text = render_template(f"mail/{template}.txt", subject=subject_text, locale=language,
                               **context)
        html = render_template(f"mail/{template}.html", subject=subject_text, locale=language,
                               **context)
    return subject_text, text, html


def _clean_headers(headers: dict[str, str] | None) -> dict[str, str]:
    clean: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not _HEADER_NAME.fullmatch(str(name)) or name not in ALLOWED_HEADERS:
            raise ValueError(f"a mail may not set the header {str(name)[:60]!r}")
        clean[name] = one_line(value, MAX_HEADER_VALUE)
    return clean


def _sender_domain() -> str:
    from flask import current_app

    address = parseaddr(str(current_app.config.get("MAIL_FROM") or ""))[1]
    return address.rpartition("@")[2] or "localhost"


def queue_mail(session: Session, *, to: str, template: str, key: str, subject: Any,
               locale: str | None, recipient_id: int | None = None,
               headers: dict[str, str] | None = None,
               attachments: Sequence[Attachment] = (), **context: Any) -> bool:
    """Render and store a message; its delivery is enqueued once the transaction commits.

    Returns False, storing nothing, when a message with this `key` was queued before: that is
    how a caller makes a mail happen once. Raises ValueError for an address that is not one, a
    key that is empty or too long, or a header callers may not set.
    """
    from participation import jobs

    address = valid_address(to)
    if address is None:
        raise ValueError("not a mail address")
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise ValueError(f"a mail key is 1 to {MAX_KEY} characters")
    clean_headers = _clean_headers(headers)
    if session.scalar(select(OutgoingMail.id).where(OutgoingMail.key == key)) is not None:
        return False
    subject_text, text, html = render_mail(template, subject=subject, locale=locale, **context)
    mail = OutgoingMail(
        key=key, recipient_id=recipient_id, to_address=address, subject=subject_text,
        text_body=text, html_body=html, headers=clean_headers,
        attachments=[{"filename": one_line(a.filename, 200), "mimetype": a.mimetype,
                      "content": base64.b64encode(a.content).decode("ascii")}
                     for a in attachments],
        message_id=make_msgid(domain=_sender_domain()), created_at=utcnow(),
        next_attempt_at=utcnow(), attempts=0)
    # A savepoint: a key another transaction took meanwhile fails here, not the caller's commit.
    try:
        with session.begin_nested():
            session.add(mail)
    except IntegrityError:
        return False
    from participation.mail.tasks import deliver_mail

    jobs.after_commit(session, deliver_mail, mail.id)
    return True


def cancel_mail_for(session: Session, recipient_id: int) -> int:
    """Cancel every unsent message to this account and wipe its address from them."""
    result = session.execute(
        update(OutgoingMail)
        .where(OutgoingMail.recipient_id == recipient_id, OutgoingMail.sent_at.is_(None),
               OutgoingMail.failed_at.is_(None), OutgoingMail.cancelled_at.is_(None))
        .values(cancelled_at=utcnow(), to_address="", text_body="", html_body="",
                attachments=[], headers={})
        .execution_options(synchronize_session=False))
    session.expire_all()
    return int(result.rowcount or 0)


# Delivery -----------------------------------------------------------------------------------


def claim_mail(session: Session, mail_id: int, *, lease: float) -> OutgoingMail | None:
    """Take the message for sending, or None when it is done, not due, or another consumer has
    it. The claim is one conditional UPDATE, committed at once: of two consumers, one wins.

    The row comes back detached, with everything needed to send it, and no transaction is left
    open: the SMTP conversation that follows must hold no database lock.
    """
    now = utcnow()
    result = session.execute(
        update(OutgoingMail)
        .where(OutgoingMail.id == mail_id, OutgoingMail.sent_at.is_(None),
               OutgoingMail.failed_at.is_(None), OutgoingMail.cancelled_at.is_(None),
               OutgoingMail.next_attempt_at <= now)
        .values(attempts=OutgoingMail.attempts + 1,
                next_attempt_at=now + timedelta(seconds=lease))
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        session.rollback()
        return None
    mail = session.get(OutgoingMail, mail_id, populate_existing=True)
    if mail is None:  # pragma: no cover - the UPDATE above just matched it
        session.rollback()
        return None
    session.expunge(mail)
    session.commit()
    return mail


def build_message(mail: OutgoingMail, *, sender: str) -> EmailMessage:
    """The MIME message of a stored row: From from the settings only, To the stored address."""
    message = EmailMessage()
    name, address = parseaddr(sender)
    username, _, domain = address.rpartition("@")
    message["From"] = Address(display_name=one_line(name, 100), username=username, domain=domain)
    to_user, _, to_domain = mail.to_address.rpartition("@")
    message["To"] = Address(username=to_user, domain=to_domain)
    message["Subject"] = one_line(mail.subject, MAX_SUBJECT)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = mail.message_id
    message["Auto-Submitted"] = "auto-generated"
    for header, value in (mail.headers or {}).items():
        if header in ALLOWED_HEADERS and header != "Auto-Submitted":
            message[header] = one_line(value, MAX_HEADER_VALUE)
    message.set_content(mail.text_body)
    message.add_alternative(mail.html_body, subtype="html")
    for attachment in mail.attachments or []:
        maintype, _, subtype = str(attachment["mimetype"]).partition("/")
        message.add_attachment(base64.b64decode(attachment["content"]),
                               maintype=maintype or "application",
                               subtype=subtype or "octet-stream",
                               filename=attachment["filename"])
    return message


def retry_delay(attempts: int, *, first: float, largest: float) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: doubling from `first`."""
    return min(largest, first * 2 ** max(attempts - 1, 0))


def record_sent(session: Session, mail_id: int) -> None:
    session.execute(update(OutgoingMail).where(OutgoingMail.id == mail_id)
                    .values(sent_at=utcnow(), last_error=None)
                    .execution_options(synchronize_session=False))


def record_failure(session: Session, mail: OutgoingMail, reason: str, *, permanent: bool,
                   first_delay: float, largest_delay: float,
                   give_up_after: float) -> datetime | None:
    """Note why the attempt failed; return when to try again, or None when it has failed for good
    (refused for good, or trying for longer than `give_up_after` seconds).

    `mail` is the claimed row (`claim_mail`); its `attempts` counts this attempt.
    """
    now = utcnow()
    error = one_line(reason, 200)
    retry_at: datetime | None = now + timedelta(
        seconds=retry_delay(mail.attempts, first=first_delay, largest=largest_delay))
    values: dict[str, Any] = {"last_error": error}
    if permanent or retry_at > mail.created_at + timedelta(seconds=give_up_after):
        values["failed_at"] = now
        retry_at = None
    else:
        values["next_attempt_at"] = retry_at
    session.execute(update(OutgoingMail)
                    .where(OutgoingMail.id == mail.id, OutgoingMail.sent_at.is_(None))
                    .values(**values).execution_options(synchronize_session=False))
    mail.last_error = error
    return retry_at


def due_mail_ids(session: Session, *, limit: int = 500) -> list[int]:
    """Unsent messages whose time has come: none of them is waiting on a live claim."""
    return list(session.scalars(
        select(OutgoingMail.id)
        .where(OutgoingMail.sent_at.is_(None), OutgoingMail.failed_at.is_(None),
               OutgoingMail.cancelled_at.is_(None), OutgoingMail.next_attempt_at <= utcnow())
        .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id)
        .limit(limit)))


def find_mail(session: Session, mail_id: int) -> OutgoingMail | None:
    return session.get(OutgoingMail, mail_id)
