"""Telling several people about one thing, each in their own language, in one pass.

Domains (town halls, polls, forums, decisions) call `notify_each` instead of looping over
`notifications.services.notify`: the accounts are read in one query, accounts that are
suspended or deleted are left out, and each message is written under its reader's language
(the notice is stored as text, so it must be written in the language it will be read in).

Until mail delivery lands, `notify` may not take `subject_ref` and `attachments` yet: they are
passed only when it does (`_notify`), and `Attachment` and `absolute_url` fall back to local
stand-ins with the same shape. Those stand-ins go once participation.mail is merged.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import force_locale
from sqlalchemy.orm import Session

from participation.accounts.services import users_by_id
from participation.i18n import DEFAULT_LOCALE, supported
from participation.notifications import services as notifications

try:
    from participation.mail.services import Attachment  # type: ignore[import-not-found]
except ImportError:  # mail-core not merged yet

    @dataclass(frozen=True)
    class Attachment:  # type: ignore[no-redef]
        """The shape of participation.mail.services.Attachment."""

        filename: str
        mimetype: str
        content: bytes


def absolute_url(endpoint: str, **values: Any) -> str:
    """An address on this site that works from a mail, with or without a request."""
    try:
        from participation.mail.services import absolute_url as mail_url  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        return str(mail_url(endpoint, **values))
    from flask import current_app, has_request_context, url_for

    base = current_app.config.get("PUBLIC_URL")
    if not base and has_request_context():
        return url_for(endpoint, _external=True, **values)
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return f"{(base or 'http://localhost').rstrip('/')}{path}"


Message = Callable[[], str]


def notify_each(session: Session, user_ids: Iterable[int | None], *, kind: str,
                message: Message, link: str = "", subject_ref: str | None = None,
                attachments: Callable[[], Sequence[Any]] | Sequence[Any] = ()) -> list[int]:
    """Leave the notice `message()` (called under each reader's language) for every active
    account among `user_ids`, once each; returns whom it was left for, in id order.

    `attachments` may be a function, called under the reader's language too (an .ics whose
    description is translated)."""
    wanted = {user_id for user_id in user_ids if user_id is not None}
    accounts = users_by_id(session, wanted)
    told = []
    for user_id in sorted(accounts):
        account = accounts[user_id]
        if not account.is_active:
            continue
        with force_locale(supported(account.locale) or DEFAULT_LOCALE):
            files = attachments() if callable(attachments) else attachments
            _notify(session, user_id, kind=kind, message=message(), link=link,
                    subject_ref=subject_ref, attachments=files)
        told.append(user_id)
    return told


def _notify(session: Session, user_id: int, *, kind: str, message: str, link: str,
            subject_ref: str | None, attachments: Sequence[Any]) -> None:
    """`notifications.services.notify`, passing what this version of it takes."""
    accepted = inspect.signature(notifications.notify).parameters
    extra: dict[str, Any] = {}
    if "subject_ref" in accepted:
        extra["subject_ref"] = subject_ref
    if "attachments" in accepted:
        extra["attachments"] = tuple(attachments)
    notifications.notify(session, user_id, kind=kind, message=message, link=link, **extra)
