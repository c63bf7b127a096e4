"""The in-process rate-limit storage: same decisions as the library's, far fewer timers."""

from __future__ import annotations

import threading
import time

from limits import parse
from limits.storage import MemoryStorage as LibraryMemoryStorage
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from participation.security import limit_storage
from tests.watchers import wait_for


def test_memory_uri_gets_the_project_storage_which_overrides_a_real_library_method():
    assert isinstance(storage_from_string("memory://"), limit_storage.MemoryStorage)
    # The override only helps while the library still calls this private method on every hit.
    assert callable(getattr(LibraryMemoryStorage, "_MemoryStorage__schedule_expiry", None))
    assert callable(getattr(LibraryMemoryStorage, "_MemoryStorage__expire_events", None))


def test_a_burst_of_hits_starts_one_cleanup_timer_not_one_per_few_hits(monkeypatch):
    started = []

    class CountingTimer(threading.Timer):
        def start(self) -> None:
            started.append(self.interval)
            super().start()

    monkeypatch.setattr(threading, "Timer", CountingTimer)

    def burst(storage) -> int:
        started.clear()
        limiter = MovingWindowRateLimiter(storage)
        item = parse("30 per minute")
        deadline = time.monotonic() + 0.3
        hits = 0
        while time.monotonic() < deadline:
            assert limiter.hit(item, "socket", f"user:{hits}")
            hits += 1
            if hits % 10 == 0:
                time.sleep(0.001)  # as between real requests: the timer threads get to run
        return hits

    assert burst(storage_from_string("memory://")) > 100
    # The first timer is the library's, started on creation (10 ms); then one per second. The
    # library's own class would have started one every 10 ms of the burst.
    assert len(started) <= 2
    assert all(interval == limit_storage.CLEANUP_INTERVAL for interval in started[1:])


def test_limits_hold_and_expired_entries_are_swept(monkeypatch):
    monkeypatch.setattr(limit_storage, "CLEANUP_INTERVAL", 0.05)
    storage = storage_from_string("memory://")
    limiter = MovingWindowRateLimiter(storage)
    item = parse("2 per second")
    assert limiter.hit(item, "socket", "user:1")
    assert limiter.hit(item, "socket", "user:1")
    assert not limiter.hit(item, "socket", "user:1")
    assert limiter.hit(item, "socket", "user:2")
    wait_for(lambda: limiter.test(item, "socket", "user:1"), timeout=5,
             what="user:1's window of a second to pass")
    assert limiter.hit(item, "socket", "user:1")
    wait_for(lambda: storage.events.get(item.key_for("socket", "user:2")) in (None, []),
             timeout=5, what="the clean-up to drop user:2's expired hits")
    assert storage.events.get(item.key_for("socket", "user:2")) in (None, [])
