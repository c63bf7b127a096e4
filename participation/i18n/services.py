"""Remembering a reader's language."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from participation.accounts.models import User
from participation.errors import InvalidInput
from participation.i18n import supported


def choose_language(session: Session, user: User | None, code: Any) -> str:
    """Check the language code and store it on the account, when there is one."""
    from flask_babel import lazy_gettext as _l

    language = supported(code)
    if language is None:
        raise InvalidInput(str(_l("That language is not available.")), field="locale")
    if user is not None:
        user.locale = language
        session.flush()
    return language
