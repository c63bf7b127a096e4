"""Live participant counts, announced to a town hall's room as `presence` events.

A join storm (a thousand people opening the page at the start) must not cost a broadcast per
join, so announcements are batched: at most one per town hall every PRESENCE_INTERVAL seconds.
Counts are of the sockets connected to this server process, summed over every worker when several
share a Redis queue (realtime/shared_presence.py); they carry no sequence number and are not
replayed, as they describe the moment rather than the record.
"""

from __future__ import annotations

import logging
import threading

from flask import current_app

from participation.extensions import socketio
from participation.ops import metrics
from participation.realtime.rooms import NAMESPACE, townhall_room
from participation.realtime.shared_presence import SharedPresence, shared_presence

log = logging.getLogger(__name__)

_lock = threading.Lock()
_watching: dict[str, set[int]] = {}
_counts: dict[int, int] = {}
_scheduled: set[int] = set()


def count(townhall_id: int) -> int:
    return _counts.get(townhall_id, 0)


def joined(sid: str, townhall_id: int) -> int:
    """Count a socket as watching; returns the new count."""
    with _lock:
        rooms = _watching.setdefault(sid, set())
        if townhall_id not in rooms:
            rooms.add(townhall_id)
            _counts[townhall_id] = _counts.get(townhall_id, 0) + 1
            metrics.socket_joined(townhall_id)
    _announce(townhall_id)
    return _counted(townhall_id, _shared())


def left(sid: str, townhall_id: int | None = None) -> None:
    """Stop counting a socket for one town hall, or for all when it disconnected."""
    with _lock:
        rooms = _watching.get(sid, set())
        gone = set(rooms) if townhall_id is None else rooms & {townhall_id}
        for tid in gone:
            rooms.discard(tid)
            _counts[tid] = max(0, _counts.get(tid, 0) - 1)
            metrics.socket_left(tid)
        if not rooms:
            _watching.pop(sid, None)
    for tid in gone:
        _announce(tid)


def _shared() -> SharedPresence | None:
    return shared_presence(current_app._get_current_object())  # type: ignore[attr-defined]


def _counted(townhall_id: int, shared: SharedPresence | None) -> int:
    """This worker's count, or with several workers on one Redis queue, all of theirs."""
    local = count(townhall_id)
    if shared is None:
        return local
    try:
        shared.publish(townhall_id, local)
        return shared.total(townhall_id)
    except Exception as error:  # noqa: BLE001 - without Redis, this worker's count will do
        log.warning("shared presence unavailable: %s", type(error).__name__)
        return local


def _announce(townhall_id: int) -> None:
    interval = float(current_app.config.get("PRESENCE_INTERVAL", 2.0))
    shared = _shared()
    if interval <= 0:
        _send(townhall_id, shared)
        return
    with _lock:
        if townhall_id in _scheduled:
            return
        _scheduled.add(townhall_id)
    socketio.start_background_task(_send_later, townhall_id, interval, shared)


def _send_later(townhall_id: int, interval: float, shared: SharedPresence | None = None) -> None:
    socketio.sleep(interval)
    with _lock:
        _scheduled.discard(townhall_id)
    _send(townhall_id, shared)


def _send(townhall_id: int, shared: SharedPresence | None = None) -> None:
    try:
        socketio.emit("presence", {"townhall_id": townhall_id,
                                   "count": _counted(townhall_id, shared)},
                      to=townhall_room(townhall_id), namespace=NAMESPACE)
    except Exception:  # noqa: BLE001 - a count is not worth a failed join
        log.exception("could not announce presence for town hall %s", townhall_id)
