"""Telling several people about one thing, each in their own language, in one pass.

Domains (town halls, polls, forums, decisions) call `notify_each` instead of looping over
`notifications.services.notify`: the accounts are read in one query, accounts that are
suspended or deleted are left out, and each message is written under its reader's language
(the notice is stored as text, so it must be written in the language it will be read in).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from flask_babel import force_locale
from sqlalchemy.orm import Session

from participation.accounts.services import users_by_id
from participation.i18n import DEFAULT_LOCALE, supported
from participation.notifications import services as notifications

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
            notifications.notify(session, user_id, kind=kind, message=message(), link=link,
                                 subject_ref=subject_ref, attachments=tuple(files))
        told.append(user_id)
    return told
