"""A real queue consumer, in this process, for the tests of retries and sweeps."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from participation import jobs
from participation.extensions import db
from participation.mail.models import OutgoingMail


def wait_until(check: Callable[[], Any], timeout: float = 15, what: str = "") -> Any:
    """Poll `check` (which reads in its own short transaction) until it returns something true."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        db.session.rollback()  # hold no SQLite lock while the consumer works
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)


def mail_row(key: str) -> OutgoingMail | None:
    """The row as it is now, detached; the read's transaction is over (no SQLite lock held)."""
    row = db.session.query(OutgoingMail).filter_by(key=key).one_or_none()
    if row is not None:
        db.session.expunge(row)
    db.session.rollback()
    return row


@pytest.fixture
def consuming_app(make_app: Callable[..., Flask], smtp_server: Any,
                  tmp_path: Any) -> Iterator[Flask]:
    """An app on a real SQLite queue whose consumer runs in this process, with one-second
    back-off, and whose mail goes to `smtp_server`."""
    app = make_app(MAIL_URL=smtp_server.url, QUEUE_IMMEDIATE=False,
                   QUEUE_URL=f"sqlite:///{tmp_path / 'queue.db'}", QUEUE_NAME="mail-tests",
                   MAIL_RETRY_DELAY=1, MAIL_RETRY_MAX_DELAY=1)
    consumer = jobs.start_consumer(app, workers=2)
    try:
        with app.app_context():
            yield app
    finally:
        consumer.stop(graceful=True)
