"""Sockets that outlive their rights: what happens to them when an account's standing changes.

A socket joins rooms once and then receives whatever is broadcast to them, so a check made when
it joined says nothing about a moderator demoted, suspended or signed out since. When an
account's session token is rotated (sign-out, password change, "sign out everywhere"), it is
suspended or deleted, or its role changes, the service that did it calls `end_live_sessions`.
Once the transaction commits, a `session_ended` event goes to the account's own room on every
worker (through the message queue when there is one), and each worker, as it delivers the event
to its own sockets of that account, disconnects them from the namespace. The page reloads into
what the account may now see; a reconnecting socket is authenticated afresh.

The worker side lives in the Socket.IO managers (`LocalManager` here for one process, and
`realtime.redis_manager.ResyncingRedisManager` past one machine), which both call
`disconnect_local`: the event is delivered first, so the page knows why the connection closed.
"""

from __future__ import annotations

import logging
from typing import Any

import socketio
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from participation.realtime.rooms import NAMESPACE, user_room

log = logging.getLogger(__name__)

SESSION_ENDED = "session_ended"
# Why a page's live connection was closed, as the `reason` of the `session_ended` event.
REASONS = frozenset({"signed_out", "password_changed", "suspended", "deleted", "role_changed"})

_PENDING = "realtime_ended_sessions"


def end_live_sessions(session: Session, user_id: int, reason: str) -> None:
    """Close every live socket of this account once the caller's transaction commits.

    Nothing is sent if the transaction rolls back. Services call this beside the change itself,
    so no caller can forget it.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    pending = session.info.setdefault(_PENDING, {})
    # One notice per account and transaction; a later reason (deleted after signed out) wins.
    pending[int(user_id)] = reason


@sa_event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    # SQLAlchemy also announces a savepoint's release as a commit: the real one is still to come
    # (and may yet roll back), so the notice waits for it.
    if session.in_nested_transaction():
        return
    pending: dict[int, str] = session.info.pop(_PENDING, {})
    for user_id, reason in pending.items():
        announce_session_ended(user_id, reason)


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous: SessionTransaction) -> None:
    if not previous.nested:
        session.info.pop(_PENDING, None)


def announce_session_ended(user_id: int, reason: str) -> None:
    """Send `session_ended` to the account's room on every worker, which closes its sockets."""
    from participation.extensions import socketio as flask_socketio

    if flask_socketio.server is None:
        return  # no Socket.IO server in this process (a bare application context)
    try:
        flask_socketio.emit(SESSION_ENDED, {"reason": reason}, to=user_room(user_id),
                            namespace=NAMESPACE)
    except Exception:  # noqa: BLE001 - the change is committed; the page's next event re-checks
        log.exception("could not announce the end of an account's live sessions")


def disconnect_local(manager: Any, event: str, namespace: str | None, room: Any) -> None:
    """After `session_ended` was delivered to this worker's sockets in `room`, close them.

    Called by the managers for every event they deliver locally; does nothing for other events.
    """
    if event != SESSION_ENDED or not isinstance(room, str):
        return
    namespace = namespace or "/"
    for sid, _eio_sid in list(manager.get_participants(namespace, room)):
        try:
            manager.server.disconnect(sid, namespace=namespace, ignore_queue=True)
        except Exception:  # noqa: BLE001 - one socket already gone must not keep the others
            log.exception("could not close a socket whose session ended")


class LocalManager(socketio.Manager):  # type: ignore[misc]
    """python-socketio's in-process manager, closing the sockets of an ended session."""

    def emit(self, event: str, data: Any, namespace: str, room: Any = None,
             skip_sid: Any = None, callback: Any = None, to: Any = None,
             **kwargs: Any) -> Any:
        room = to or room
        result = super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                              callback=callback, **kwargs)
        disconnect_local(self, event, namespace, room)
        return result
