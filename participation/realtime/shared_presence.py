"""Presence counts summed over every worker, kept in the Redis that carries the message queue.

Each worker counts its own sockets (realtime/presence.py) and writes that number, stamped with the
time, into one Redis hash per town hall under its own worker id. The count announced to a room
is the sum of the fresh entries, so residents on every worker see the same number. A worker that
died without cleaning up (kill -9) stops refreshing its entries, and they are dropped once older
than STALE_AFTER seconds. Without a Redis queue (one process) there is nothing to share.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

log = logging.getLogger(__name__)

STALE_AFTER = 60.0
REFRESH_EVERY = 20.0


class SharedPresence:
    def __init__(self, url: str, channel: str) -> None:
        import redis

        self.redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self.worker = uuid.uuid4().hex
        self.prefix = f"participation:presence:{channel}"
        self._local: dict[int, int] = {}
        self._lock = threading.Lock()

    def key(self, townhall_id: int) -> str:
        return f"{self.prefix}:{int(townhall_id)}"

    def publish(self, townhall_id: int, local_count: int) -> None:
        """Record this worker's count for a town hall."""
        with self._lock:
            if local_count:
                self._local[int(townhall_id)] = local_count
            else:
                self._local.pop(int(townhall_id), None)
        key = self.key(townhall_id)
        if local_count:
            pipe = self.redis.pipeline()
            pipe.hset(key, self.worker, f"{local_count}:{time.time():.3f}")
            pipe.expire(key, int(STALE_AFTER * 2))
            pipe.execute()
        else:
            self.redis.hdel(key, self.worker)

    def total(self, townhall_id: int) -> int:
        """Sockets watching a town hall on every worker still alive."""
        now = time.time()
        total = 0
        stale = []
        for worker, value in self.redis.hgetall(self.key(townhall_id)).items():
            count, _, stamp = value.decode().partition(":")
            try:
                fresh = now - float(stamp) <= STALE_AFTER
                number = int(count)
            except ValueError:
                fresh, number = False, 0
            if fresh:
                total += number
            else:
                stale.append(worker)
        if stale:
            self.redis.hdel(self.key(townhall_id), *stale)
        return total

    def refresh(self) -> None:
        """Re-stamp this worker's entries, so that the others keep counting them."""
        with self._lock:
            counts = dict(self._local)
        for townhall_id, count in counts.items():
            self.publish(townhall_id, count)


def shared_presence(app: Any) -> SharedPresence | None:
    """The app's shared counter when its message queue is Redis; started once per app."""
    if "participation.presence" in app.extensions:
        return app.extensions["participation.presence"]
    url = app.config.get("SOCKETIO_MESSAGE_QUEUE")
    shared = None
    if url and str(url).startswith(("redis://", "rediss://")):
        shared = SharedPresence(url, app.config.get("SOCKETIO_CHANNEL") or "flask-socketio")
        from participation.extensions import socketio

        socketio.start_background_task(_keep_fresh, shared)
    app.extensions["participation.presence"] = shared
    return shared


def _keep_fresh(shared: SharedPresence) -> None:
    from participation.extensions import socketio

    while True:
        socketio.sleep(REFRESH_EVERY)
        try:
            shared.refresh()
        except Exception as error:  # noqa: BLE001 - Redis may be away for a while
            log.warning("could not refresh presence counts: %s", type(error).__name__)
