"""The task queue: Huey, on a SQLite file by default and on Redis past one machine.

Tasks are plain functions decorated with `task()` or `periodic_task(crontab(...))`; each run gets
its own application context, and with it its own database session (the task commits what it
does). A task is enqueued only once the transaction that wanted it commits: services call
`after_commit(session, some_task, *args)`, and a rollback enqueues nothing.

Where the consumer runs:
- `participation serve` starts it inside the web process when `QUEUE_IN_PROCESS` is on (the
  default with the SQLite queue, so `make run` needs no other process). Its workers are threads,
  which eventlet's monkey patching turns into green threads.
- `participation worker` runs it alone (past one machine, with `QUEUE_URL=redis://...`).
- Tests run Huey's immediate mode (`QUEUE_IMMEDIATE`, on when TESTING): a task runs at once,
  synchronously, right after the commit that enqueued it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huey import Huey, crontab
from huey.consumer import Consumer
from huey.storage import RedisStorage, SqliteStorage
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["after_commit", "crontab", "init_app", "periodic_task", "queue", "start_consumer",
           "task"]

log = logging.getLogger(__name__)

_PENDING = "jobs_after_commit"


class Queue(Huey):  # type: ignore[misc]
    """A Huey whose storage is chosen when an application is configured, not at import time:
    the tasks are declared (and registered) by modules long before any settings exist."""

    def configure(self, *, url: str, name: str, immediate: bool) -> None:
        if url.startswith("sqlite:///"):
            storage_class: type = SqliteStorage
            filename = url.removeprefix("sqlite:///")
            Path(filename).parent.mkdir(parents=True, exist_ok=True)
            kwargs: dict[str, Any] = {"filename": filename}
        else:
            storage_class = RedisStorage
            kwargs = {"url": url}
        wanted = (storage_class, tuple(sorted(kwargs.items())), name, immediate)
        if getattr(self, "_configured", None) == wanted and not immediate:
            return
        self.name = name
        self.storage_class = storage_class
        self.storage_kwargs = kwargs
        self._immediate = immediate
        old = self.storage
        self.storage = self.create_storage()
        self._configured = wanted
        if old is not self.storage:
            close = getattr(old, "close", None)
            if close is not None:
                close()


# Memory storage in immediate mode until `init_app` chooses the real one.
queue = Queue("participation", results=False, immediate=True)

# The application tasks run in when no application context is active (a consumer's threads).
_app: Flask | None = None


def init_app(app: Flask) -> None:
    """Point the queue at the storage the settings name; remember the app for the consumer."""
    global _app
    url = app.config.get("QUEUE_URL") or "sqlite:///" + str(Path(app.instance_path) / "queue.db")
    immediate = app.config.get("QUEUE_IMMEDIATE")
    if immediate is None:
        immediate = bool(app.testing)
    if app.config.get("QUEUE_IN_PROCESS") is None:
        app.config["QUEUE_IN_PROCESS"] = url.startswith("sqlite:///")
    app.config["QUEUE_URL"] = url
    queue.configure(url=url, name=app.config.get("QUEUE_NAME") or "participation",
                    immediate=bool(immediate))
    app.extensions["jobs"] = queue
    _app = app


@contextmanager
def _app_context() -> Iterator[None]:
    from flask import current_app, has_app_context

    app = current_app._get_current_object() if has_app_context() else _app  # type: ignore[attr-defined]
    if app is None:
        raise RuntimeError("the task queue runs tasks only once an application is configured")
    # A fresh context, so the task has its own session even when it runs (in immediate mode)
    # inside the after-commit hook of the caller's.
    with app.app_context():
        yield


def _in_app(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        with _app_context():
            return func(*args, **kwargs)

    return run


def task(**settings: Any) -> Callable[[Callable[..., Any]], Any]:
    """Declare a queued task; calling it enqueues it (`.schedule(args, eta=...)` for later)."""

    def decorator(func: Callable[..., Any]) -> Any:
        return queue.task(**settings)(_in_app(func))

    return decorator


def periodic_task(validate_datetime: Callable[[Any], bool],
                  **settings: Any) -> Callable[[Callable[..., Any]], Any]:
    """Declare a task the consumer's scheduler runs on a schedule, e.g. `crontab(minute="*/5")`.

    Every running consumer enqueues it, so it must do no harm when it runs twice.
    """

    def decorator(func: Callable[..., Any]) -> Any:
        return queue.periodic_task(validate_datetime, **settings)(_in_app(func))

    return decorator


def after_commit(session: Session, queued_task: Any, *args: Any, **kwargs: Any) -> None:
    """Enqueue `queued_task(*args, **kwargs)` once the session's transaction commits; never if it
    rolls back."""
    session.info.setdefault(_PENDING, []).append((queued_task, args, kwargs))


@sa_event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    for queued_task, args, kwargs in pending:
        try:
            queued_task(*args, **kwargs)
        except Exception:  # noqa: BLE001 - committed work stands; the periodic sweeps catch up
            log.exception("could not enqueue %s", getattr(queued_task, "name", queued_task))


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous: SessionTransaction) -> None:
    if not previous.nested:
        session.info.pop(_PENDING, None)


class _EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """The consumer inside another program: the program, not Huey, owns the signals."""

    def _set_signal_handlers(self) -> None:
        return None


def start_consumer(app: Flask, workers: int | None = None) -> Consumer:
    """Start the queue's workers and scheduler as threads of this process (green threads under
    eventlet's monkey patching), for `participation serve` with QUEUE_IN_PROCESS."""
    if queue.immediate:
        raise RuntimeError("the queue is in immediate mode; there is nothing to consume")
    consumer = _EmbeddedConsumer(queue, workers=workers or int(app.config["QUEUE_WORKERS"]),
                                 worker_type="thread", periodic=True, check_worker_health=False)
    consumer.start()
    return consumer


def run_consumer(app: Flask, workers: int | None = None) -> None:
    """Run the consumer in the foreground until SIGINT or SIGTERM (`participation worker`)."""
    if queue.immediate:
        raise RuntimeError("the queue is in immediate mode; there is nothing to consume")
    consumer = Consumer(queue, workers=workers or int(app.config["QUEUE_WORKERS"]),
                        worker_type="thread", periodic=True)
    consumer.run()
