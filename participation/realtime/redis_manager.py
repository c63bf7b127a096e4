"""The Redis message queue between workers, and what a worker does after losing it.

While Redis is away, a worker still delivers its own broadcasts to its own sockets, but the other
workers' sockets miss them, and it misses theirs. Once the worker has subscribed again it sends a
`resync` event to its own sockets only; each page then joins again with the last sequence number
it saw (`since`) and receives what it missed from the database, where every event was committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from socketio import RedisManager

from participation.realtime.revocation import disconnect_local

log = logging.getLogger(__name__)

RESYNC_EVENT = "resync"
MAX_RETRY_SECONDS = 8


class ResyncingRedisManager(RedisManager):  # type: ignore[misc]
    """python-socketio's Redis manager, plus a `resync` to local sockets after a lost queue.

    It also retries sooner than the stock manager (at most every 8 s instead of 60 s): a queue
    that came back should carry live events again within seconds; and it closes this worker's
    sockets of an account whose session ended on any worker (realtime/revocation.py).
    """

    def _handle_emit(self, message: dict[str, Any]) -> None:
        super()._handle_emit(message)
        disconnect_local(self, message.get("event"), message.get("namespace"),
                         message.get("room"))

    def _redis_listen_with_retries(self) -> Iterator[Any]:
        retry_sleep = 1.0
        subscribed = False
        lost = False
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    self.pubsub.subscribe(self.channel)
                    subscribed = True
                    retry_sleep = 1.0
                    if lost:
                        lost = False
                        log.warning("message queue is back; asking this worker's clients to "
                                    "resync")
                        self.announce_resync()
                yield from self.pubsub.listen()
            except Exception as exc:  # noqa: BLE001 - any failure means: reconnect
                log.error("message queue unreachable (%s); retrying in %.0f s",
                          type(exc).__name__, retry_sleep)
                subscribed = False
                lost = True
                time.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, MAX_RETRY_SECONDS)

    def announce_resync(self) -> None:
        """Tell every socket on this worker, in every namespace, to fetch what it missed."""
        for namespace in list(self.get_namespaces()):
            try:
                self.emit(RESYNC_EVENT, {"reason": "queue"}, namespace=namespace,
                          ignore_queue=True)
            except Exception:  # noqa: BLE001 - a failed notice must not stop the listener
                log.exception("could not announce resync on %s", namespace)
