"""Socket.IO handler registration that works for every app the factory builds.

Flask-SocketIO's `@socketio.on` registers on the server that exists when the module is imported,
so a second `create_app` in the same process (every test builds its own app) would get a server
without handlers. Domains decorate with `@on(...)` instead; `create_app` calls
`register_handlers` for each new server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_socketio import SocketIO

from participation.realtime.rooms import NAMESPACE

Handler = Callable[..., Any]
HANDLERS: list[tuple[str, Handler, str]] = []


def on(event: str, namespace: str = NAMESPACE) -> Callable[[Handler], Handler]:
    """Declare `handler` as the handler of `event` on `namespace`."""

    def decorate(handler: Handler) -> Handler:
        HANDLERS.append((event, handler, namespace))
        return handler

    return decorate


def register_handlers(socketio: SocketIO) -> None:
    """Attach every declared handler to the server `socketio` was just initialised with."""
    for event, handler, namespace in HANDLERS:
        socketio.on_event(event, handler, namespace=namespace)
