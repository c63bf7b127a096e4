"""The store of views that joiners share: one build per key and sequence number, kept apart by
database and key, bounded, and never keeping a build that failed."""

from __future__ import annotations

import threading

import pytest

from participation.realtime.shared import SharedViews


class Store:
    """Stands for an engine: any object the store may hold weakly."""


def counting(value: object) -> tuple[list[int], object]:
    calls: list[int] = []

    def build() -> object:
        calls.append(1)
        return value

    return calls, build


def test_one_build_serves_the_same_sequence_number_and_a_new_one_builds_again():
    views, store = SharedViews(max_age=60), Store()
    calls, build = counting("view")
    assert [views.get(store, ("th", 1), 5, build) for _ in range(3)] == ["view"] * 3
    assert len(calls) == 1
    assert views.get(store, ("th", 1), 6, lambda: "newer") == "newer"
    # A joiner that read an older number is given the newer view: it holds at least as much.
    assert views.get(store, ("th", 1), 5, lambda: "older") == "newer"


def test_keys_and_databases_are_kept_apart():
    views, one, other = SharedViews(max_age=60), Store(), Store()
    views.get(one, (1, "public"), 3, lambda: "one")
    assert views.get(other, (1, "public"), 3, lambda: "other") == "other"
    assert views.get(one, (1, "moderators"), 3, lambda: "mods") == "mods"
    assert views.get(one, (1, "public"), 3, lambda: "again") == "one"


def test_an_old_view_is_built_again():
    views, store = SharedViews(max_age=-1), Store()
    views.get(store, 1, 1, lambda: "first")
    assert views.get(store, 1, 1, lambda: "second") == "second"


def test_the_store_holds_at_most_max_keys_least_recently_used_first_out():
    views, store = SharedViews(max_age=60, max_keys=2), Store()
    for key in (1, 2, 3):
        views.get(store, key, 1, lambda key=key: key)
    assert views.get(store, 1, 1, lambda: "rebuilt") == "rebuilt"
    assert views.get(store, 3, 1, lambda: "rebuilt") == 3


def test_a_failed_build_is_not_kept():
    views, store = SharedViews(max_age=60), Store()

    def broken() -> str:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        views.get(store, 1, 1, broken)
    assert views.get(store, 1, 1, lambda: "built") == "built"


def test_joiners_arriving_during_a_build_wait_for_it():
    views, store = SharedViews(max_age=60), Store()
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        started.set()
        release.wait(5)
        return "view"

    got: list[str] = []
    first = threading.Thread(target=lambda: got.append(views.get(store, 1, 1, slow)))
    first.start()
    assert started.wait(5)
    others = [threading.Thread(target=lambda: got.append(views.get(store, 1, 1, slow)))
              for _ in range(3)]
    for thread in others:
        thread.start()
    release.set()
    for thread in (first, *others):
        thread.join(5)
    assert got == ["view"] * 4 and len(calls) == 1
