"""Who is on the other end of a socket.

The connect handler records the account from the Flask-Login session. A socket keeps its own copy
of the session, which never sees a later sign-out or demotion, so every event looks the account up
again in the database and checks that its session token still matches. How an account is looked
up is the accounts domain's rule: `create_app` registers it as the app's
`socket_account_loader(user_id, token)`, so this core module knows no domain.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, current_app, g, has_request_context, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from participation.i18n import SOCKET_LOCALE_KEY, select_locale
from participation.realtime.handlers import SOCKET_SESSION
from participation.security.login_ids import parse_login_id

_USER_KEY = "_socket_user"


def authenticate_socket() -> Any:
    """Resolve the account behind a new connection from its sign-in cookie; None for visitors."""
    parsed = parse_login_id(session.get("_user_id"))
    session[_USER_KEY] = None
    # Messages written away from this socket's events (votes are written in groups) use it.
    session[SOCKET_LOCALE_KEY] = select_locale()
    if parsed is None:
        return None
    user = current_actor(parsed)
    if user is not None:
        session[_USER_KEY] = [parsed[0], parsed[1]]
    return user


def current_actor(login: tuple[int, str] | None = None) -> Any:
    """The account behind this socket as the database has it now, or None for visitors.

    An account that signed out (token rotated), was suspended or deleted counts as a visitor.
    """
    if login is None:
        login = socket_login()
        if login is None:
            return None
    user_id, token = login
    return current_app.extensions["socket_account_loader"](user_id, token)


def session_has_ended() -> bool:
    """Whether this socket signed in as an account whose session has ended since."""
    login = socket_login()
    return login is not None and current_actor(login) is None


def close_ended_session() -> None:
    """Tell this socket's page that its session ended, then close the socket.

    For a socket that missed the `session_ended` broadcast (the message queue was down when the
    account signed out): it is noticed on its next join.
    """
    from flask_socketio import disconnect, emit

    from participation.realtime.revocation import SESSION_ENDED

    emit(SESSION_ENDED, {"reason": "signed_out"})
    disconnect()


def _socket_session() -> Any:
    """The socket's session: Flask's in an event's request context, else a light handler's."""
    if has_request_context():
        return session
    return g.get("socket_session") or {}


def socket_login() -> tuple[int, str] | None:
    """The (account id, session token) this socket signed in with; None for visitors."""
    stored = _socket_session().get(_USER_KEY)
    return (int(stored[0]), str(stored[1])) if stored else None


def socket_locale() -> str | None:
    """The language this socket's page was in when it connected."""
    value = _socket_session().get(SOCKET_LOCALE_KEY)
    return value if isinstance(value, str) else None


class SessionInterface(SecureCookieSessionInterface):
    """The signed-cookie session, not read again for every Socket.IO event.

    Flask-SocketIO runs each event in a request context built from the connection's first HTTP
    request, which makes Flask verify and decode the sign-in cookie again, only for Flask-SocketIO
    to swap in the connection's own copy of the session straight away. Once that copy exists,
    an empty session stands in for the cookie's: nothing reads it.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if SOCKET_SESSION in request.environ:
            return self.session_class()
        return super().open_session(app, request)
