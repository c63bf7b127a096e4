"""Remembering a reader's language."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.orm import Session

from participation.errors import InvalidInput
from participation.i18n import supported


class Reader(Protocol):
    """Whoever keeps a language: an account (accounts.models.User) has one."""

    locale: str | None


def choose_language(session: Session, user: Reader | None, code: Any) -> str:
    """Check the language code and store it on the account, when there is one."""
    from flask_babel import lazy_gettext as _l

    language = supported(code)
    if language is None:
        raise InvalidInput(str(_l("That language is not available.")), field="locale")
    if user is not None:
        user.locale = language
        session.flush()
    return language
