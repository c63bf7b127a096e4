"""Redis restarts under running workers: they subscribe again by themselves and tell their
clients to resync, and broadcasts flow between workers again."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import socketio

from tests.ops.conftest import start_patiently

pytestmark = pytest.mark.server


class Listener:
    """A client on one worker that records `probe` and `resync` events."""

    def __init__(self, url: str) -> None:
        self.probes: list[dict] = []
        self.resyncs = threading.Event()
        self.got_probe = threading.Event()
        self.client = socketio.Client(reconnection=False)
        self.client.on("probe", self._probe)
        self.client.on("resync", lambda data: self.resyncs.set())
        self.client.connect(url, transports=["websocket"], wait_timeout=10)

    def _probe(self, data: dict) -> None:
        self.probes.append(data)
        self.got_probe.set()


def _emit_until_everyone_hears(emitter, listeners, n: int, timeout: float = 30.0) -> None:
    """Emit `probe` (again every second: a queue that just came back may not carry the first)
    until every listener has it."""
    for listener in listeners:
        listener.got_probe.clear()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        emitter.emit("probe", {"n": n}, namespace="/")
        if all(listener.got_probe.wait(1.0) for listener in listeners):
            return
    raise AssertionError(f"probe {n} did not reach every worker's clients")


def test_workers_resubscribe_and_clients_resync_after_redis_restarts(live_server, own_redis):
    channel = f"participation-test-{uuid.uuid4().hex[:12]}"
    env = {"SOCKETIO_MESSAGE_QUEUE": own_redis.url, "SOCKETIO_CHANNEL": channel}
    workers = [live_server(env, migrate=(i == 0)) for i in range(2)]
    for worker in workers:
        start_patiently(worker)
    listeners = [Listener(worker.url) for worker in workers]
    emitter = socketio.RedisManager(own_redis.url, channel=channel, write_only=True)
    try:
        _emit_until_everyone_hears(emitter, listeners, 1)
        assert not any(listener.resyncs.is_set() for listener in listeners)

        own_redis.kill()
        time.sleep(1.5)
        own_redis.start()

        for listener in listeners:
            assert listener.resyncs.wait(20), "a worker did not ask its clients to resync"
        _emit_until_everyone_hears(emitter, listeners, 2)
        assert all(listener.client.connected for listener in listeners)
        for worker in workers:
            assert worker.process.poll() is None
    finally:
        for listener in listeners:
            listener.client.disconnect()
