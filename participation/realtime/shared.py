"""Views of a town hall that every joiner of one audience may share, built once per sequence number.

A join storm (a meeting of thousands opening the page at the start) would otherwise read and
build the same public view once per join. A view is kept under (town hall, audience, ...) with
the town hall's event sequence number it was built at: any event advances the number, so a
change is never served from an older copy. Only the latest copy per key is kept, the keys are
bounded (least recently used go first), and each database (engine) has its own store, so a
process serving several applications, or a test suite making a database per test, never mixes
them. Who may receive a view is for the caller to decide at each join: the store only keeps
views apart by audience, and holds nothing for one actor.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(eq=False)
class _Entry:
    seq: int
    built_at: float = 0.0
    value: Any = None
    failed: bool = False
    ready: threading.Event = field(default_factory=threading.Event)


class SharedViews:
    """A small process-local store of shared views, safe under threads and green threads.

    `max_age` bounds how long a copy is handed out while the sequence number stands still (what
    changes without an event, such as an author's new display name, reaches new joiners within
    it); joiners that arrive while a copy is being built wait for it (up to `wait`) instead of
    building their own.
    """

    def __init__(self, *, max_age: float, max_keys: int = 256, wait: float = 10.0) -> None:
        self.max_age = max_age
        self.max_keys = max_keys
        self.wait = wait
        self.builds = 0
        self._lock = threading.Lock()
        self._stores: weakref.WeakKeyDictionary[Any, OrderedDict[Hashable, _Entry]] = (
            weakref.WeakKeyDictionary())

    def get(self, store: Any, key: Hashable, seq: int, build: Callable[[], T]) -> T:
        """The view under `key` built at `seq` or later (one built later holds at least as much,
        and events the joiner then receives again are ignored by it), or `build()`'s, kept."""
        with self._lock:
            entries = self._stores.get(store)
            if entries is None:
                entries = self._stores[store] = OrderedDict()
            entry = entries.get(key)
            if entry is not None and entry.seq >= seq and not self._stale(entry):
                entries.move_to_end(key)
                builder = False
            else:
                entry = entries[key] = _Entry(seq)
                entries.move_to_end(key)
                while len(entries) > self.max_keys:
                    entries.popitem(last=False)
                builder = True
                self.builds += 1
        if not builder:
            if entry.ready.wait(self.wait) and not entry.failed:
                return entry.value  # type: ignore[no-any-return]
            # The first builder failed or is stuck: this joiner builds its own, keeping nothing.
            return build()
        try:
            value = build()
        except BaseException:
            entry.failed = True
            with self._lock:
                if entries.get(key) is entry:
                    del entries[key]
            entry.ready.set()
            raise
        entry.value = value
        entry.built_at = time.monotonic()
        entry.ready.set()
        return value

    def _stale(self, entry: _Entry) -> bool:
        return entry.ready.is_set() and time.monotonic() - entry.built_at > self.max_age

    def clear(self) -> None:
        with self._lock:
            self._stores.clear()
