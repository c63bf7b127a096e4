"""The in-process rate-limit storage (`memory://`), with its clean-up run once a second.

The `limits` library's MemoryStorage schedules its clean-up (dropping expired entries of every
key) on a timer of 10 ms, started again by the first hit after it fires. Under sustained traffic,
such as a town hall's residents all voting within a second, that is a new timer thread (a green
thread under eventlet) every few hits and a sweep over every key a hundred times a second: it
cost more than the rest of a vote's handling. Limits are decided by each entry's own timestamps,
so sweeping once a second changes no decision, only how soon memory of expired hits is freed.

Importing this module registers the class for the `memory` scheme in place of the library's.
"""

from __future__ import annotations

import threading

from limits.storage import MemoryStorage as _LibraryMemoryStorage

CLEANUP_INTERVAL = 1.0


class MemoryStorage(_LibraryMemoryStorage):
    STORAGE_SCHEME = ["memory"]

    # Replaces the library's private `__schedule_expiry` (name-mangled), which its counting
    # methods call on every hit; tests/security/test_limit_storage.py fails if that goes away.
    def _MemoryStorage__schedule_expiry(self) -> None:
        if not self.timer.is_alive():
            self.timer = threading.Timer(CLEANUP_INTERVAL, self._MemoryStorage__expire_events)
            self.timer.daemon = True
            self.timer.start()
