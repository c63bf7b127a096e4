"""Broadcasts wait on the session until the transaction commits, then go out to their rooms.

`realtime/services.py` records each event, with its sequence number, in the database and holds
it here; `commit_and_emit` commits and then sends what the transaction recorded. If the
transaction rolls back, its events are dropped and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from participation.ops import metrics
from participation.realtime.rooms import NAMESPACE, moderators_room, townhall_room, user_room

PUBLIC = "public"
MODERATORS = "moderators"

_OUTBOX = "realtime_outbox"


def user_audience(user_id: int) -> str:
    """The audience of events meant only for one account (its own question's fate)."""
    return f"user:{int(user_id)}"


def hold_for_emit(session: Session, entry: Any) -> None:
    """Hold a just-recorded event on the session until the caller commits."""
    # Kept outside the mapped attributes, so emitting after the commit needs no reload.
    entry.outgoing = (entry.kind, room_for(entry.townhall_id, entry.audience), entry.message())
    session.info.setdefault(_OUTBOX, []).append(entry)


def holds_events(session: Session) -> bool:
    """Whether this session recorded events it has not yet committed and sent."""
    return bool(session.info.get(_OUTBOX))


def take_events(session: Session) -> list[Any]:
    """The events recorded in this session since the last call, in sequence order."""
    return session.info.pop(_OUTBOX, [])


def emit_events(events: Iterable[Any]) -> None:
    """Broadcast recorded events to their rooms. Call only after the transaction committed."""
    from participation.extensions import socketio

    sent = False
    for entry in events:
        kind, room, data = entry.outgoing  # type: ignore[attr-defined]
        socketio.emit(kind, data, to=room, namespace=NAMESPACE)
        metrics.broadcast_sent(kind)
        sent = True
    if sent:
        # Let the sockets' writers run now, before the caller goes on with its own work.
        socketio.sleep(0)


def commit_and_emit(session: Session) -> None:
    """Commit, then broadcast what the transaction recorded: the one order allowed."""
    session.commit()
    emit_events(take_events(session))


def room_for(townhall_id: int, audience: str) -> str:
    if audience == PUBLIC:
        return townhall_room(townhall_id)
    if audience == MODERATORS:
        return moderators_room(townhall_id)
    kind, _, user_id = audience.partition(":")
    if kind == "user" and user_id.isdigit():
        return user_room(int(user_id))
    raise ValueError(f"unknown audience {audience!r}")


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back_events(session: Session, previous: SessionTransaction) -> None:
    """Events of a transaction that rolled back never happened: never emit them."""
    if not previous.nested:
        session.info.pop(_OUTBOX, None)
