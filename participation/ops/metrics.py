"""Prometheus metrics for one worker process.

Each `participation serve` process keeps its own registry and answers /metrics with its own
numbers; Prometheus scrapes every worker (one target per port) and sums them. The domain code
reports through the small functions below rather than touching prometheus_client directly.
"""

from __future__ import annotations

import threading

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

CONNECTED_SOCKETS = Gauge(
    "participation_townhall_connected_sockets",
    "Sockets in a town hall's room on this worker.",
    ["townhall_id"], registry=REGISTRY,
)
SOCKET_EVENTS = Counter(
    "participation_socket_events",
    "Client-to-server Socket.IO events handled, by event and outcome (ok or the error code).",
    ["event", "outcome"], registry=REGISTRY,
)
BROADCASTS = Counter(
    "participation_broadcasts",
    "Server-to-client broadcasts sent by this worker, by event name.",
    ["event"], registry=REGISTRY,
)
ACK_SECONDS = Histogram(
    "participation_socket_ack_seconds",
    "Time from receiving a Socket.IO event to returning its acknowledgement.",
    ["event"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DATABASE_ERRORS = Counter(
    "participation_database_errors",
    "Requests and socket events that failed because the database was unreachable.",
    ["source"], registry=REGISTRY,
)

_lock = threading.Lock()
_connected: dict[int, int] = {}

CONTENT_TYPE = CONTENT_TYPE_LATEST


def socket_joined(townhall_id: int) -> None:
    """A socket on this worker joined a town hall's room."""
    with _lock:
        count = _connected.get(int(townhall_id), 0) + 1
        _connected[int(townhall_id)] = count
        CONNECTED_SOCKETS.labels(townhall_id=str(int(townhall_id))).set(count)


def socket_left(townhall_id: int) -> None:
    """A socket on this worker left a town hall's room (or disconnected while in it)."""
    with _lock:
        count = max(_connected.get(int(townhall_id), 0) - 1, 0)
        label = str(int(townhall_id))
        if count:
            _connected[int(townhall_id)] = count
            CONNECTED_SOCKETS.labels(townhall_id=label).set(count)
        else:
            # A town hall nobody watches any more drops out instead of lingering at zero.
            _connected.pop(int(townhall_id), None)
            try:
                CONNECTED_SOCKETS.remove(label)
            except KeyError:
                pass


def connected_sockets(townhall_id: int) -> int:
    """Sockets this worker counts in a town hall's room."""
    with _lock:
        return _connected.get(int(townhall_id), 0)


def socket_event_handled(event: str, outcome: str, seconds: float) -> None:
    """One client event answered: `outcome` is "ok" or the ack's error code."""
    SOCKET_EVENTS.labels(event=event, outcome=outcome).inc()
    ACK_SECONDS.labels(event=event).observe(seconds)


def broadcast_sent(event: str) -> None:
    """One broadcast (question, queue, townhall, tally, presence) sent to a room."""
    BROADCASTS.labels(event=event).inc()


def database_error(source: str) -> None:
    """The database could not be reached while serving `source` ("http" or "socket")."""
    DATABASE_ERRORS.labels(source=source).inc()


def exposition() -> bytes:
    """This worker's metrics in the Prometheus text format."""
    return generate_latest(REGISTRY)
