"""Who is on the other end of a socket.

The connect handler records the account from the Flask-Login session. A socket keeps its own copy
of the session, which never sees a later sign-out or demotion, so every event looks the account up
again in the database and checks that its session token still matches.
"""

from __future__ import annotations

from flask import session

from participation.accounts.models import User
from participation.extensions import db

_USER_KEY = "_socket_user"


def _parse_login_id(value: object) -> tuple[int, str] | None:
    if not isinstance(value, str) or ":" not in value:
        return None
    raw_id, _, token = value.partition(":")
    if not raw_id.isdigit() or not token:
        return None
    return int(raw_id), token


def authenticate_socket() -> User | None:
    """Resolve the account behind a new connection from its sign-in cookie; None for visitors."""
    parsed = _parse_login_id(session.get("_user_id"))
    session[_USER_KEY] = None
    if parsed is None:
        return None
    user = current_actor(parsed)
    if user is not None:
        session[_USER_KEY] = [parsed[0], parsed[1]]
    return user


def current_actor(login: tuple[int, str] | None = None) -> User | None:
    """The account behind this socket as the database has it now, or None for visitors.

    An account that signed out (token rotated), was suspended or deleted counts as a visitor.
    """
    if login is None:
        stored = session.get(_USER_KEY)
        if not stored:
            return None
        login = (int(stored[0]), str(stored[1]))
    user_id, token = login
    user = db.session.get(User, user_id)
    if user is None or user.session_token != token or not user.is_active:
        return None
    return user


def socket_user_id() -> int | None:
    """The account id this socket signed in with, read without the database.

    Only for keys such as rate limits that must be counted before any database work; whether
    the account may act is still decided by `current_actor`.
    """
    stored = session.get(_USER_KEY)
    return int(stored[0]) if stored else None
