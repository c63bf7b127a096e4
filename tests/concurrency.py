"""Running one piece of work in several threads at the same moment, each as its own request
would: an app context and database session of its own, committed, then removed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from flask import Flask

from participation.extensions import db

T = TypeVar("T")


def at_once(app: Flask, job: Callable[[], T], workers: int = 2, timeout: float = 30) -> list[T]:
    """Run `job` in `workers` threads released together; each commits its session. Returns
    what each returned (in the order they finished). A job that raises fails the test: its
    error is raised here. The caller lets go of its own transaction first (SQLite's write lock).
    """
    results: list[T] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def worker() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                results.append(job())
                db.session.commit()
            except BaseException as error:  # noqa: BLE001 - raised in the test below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    if errors:
        raise errors[0]
    assert len(results) == workers, "a worker did not finish in time"
    return results
