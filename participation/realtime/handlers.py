"""Socket.IO handler registration that works for every app the factory builds.

Flask-SocketIO's `@socketio.on` registers on the server that exists when the module is imported,
so a second `create_app` in the same process (every test builds its own app) would get a server
without handlers. Domains decorate with `@on(...)` instead; `create_app` calls
`register_handlers` for each new server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, g, has_app_context
from flask_socketio import SocketIO

from participation.realtime.rooms import NAMESPACE

Handler = Callable[..., Any]
HANDLERS: list[tuple[str, Handler, str, bool]] = []
# Where Flask-SocketIO keeps a connection's own copy of the session, in the connection's environ.
SOCKET_SESSION = "saved_session"


def on(event: str, namespace: str = NAMESPACE, *,
       light: bool = False) -> Callable[[Handler], Handler]:
    """Declare `handler` as the handler of `event` on `namespace`.

    A `light` handler runs in an application context only, without the request context that
    Flask-SocketIO builds for every event (a request object, URL matching, request teardown). It
    may read the socket's session only through `realtime.connection` (socket_login,
    socket_locale), never `flask.request` or `flask.session`. For events that arrive in bursts,
    such as votes.
    """

    def decorate(handler: Handler) -> Handler:
        HANDLERS.append((event, handler, namespace, light))
        return handler

    return decorate


def register_handlers(socketio: SocketIO) -> None:
    """Attach every declared handler to the server `socketio` was just initialised with."""
    for event, handler, namespace, light in HANDLERS:
        if light:
            socketio.server.on(event, _in_app_context(socketio, handler, namespace),
                               namespace=namespace)
        else:
            socketio.on_event(event, handler, namespace=namespace)


def _in_app_context(socketio: SocketIO, handler: Handler, namespace: str) -> Handler:
    def run(sid: str, *args: Any) -> Any:
        environ = socketio.server.get_environ(sid, namespace=namespace)
        if not environ:
            return None  # a connection the server no longer knows; nothing to answer
        # The connect event, handled by Flask-SocketIO, made this copy of the session.
        socket_session = environ.get(SOCKET_SESSION) or {}
        app = environ["flask.app"]
        if has_app_context() and current_app._get_current_object() is app:  # type: ignore[attr-defined]
            # The test client runs events inside the test's own application context, as Flask
            # does for a request: use it, with this socket's session and language in it.
            return _in_current_context(socket_session, handler, args)
        with app.app_context():
            g.socket_session = socket_session
            return handler(*args)

    run.__name__ = handler.__name__
    return run


_PER_EVENT = ("socket_session", "_flask_babel")


def _in_current_context(socket_session: Any, handler: Handler, args: tuple[Any, ...]) -> Any:
    saved = {name: g.pop(name) for name in _PER_EVENT if name in g}
    g.socket_session = socket_session
    try:
        return handler(*args)
    finally:
        for name in _PER_EVENT:
            g.pop(name, None)
        for name, value in saved.items():
            setattr(g, name, value)
