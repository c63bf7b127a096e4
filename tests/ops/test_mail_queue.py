"""Mail through real processes: a restart with mail waiting loses none and sends none twice, and
past one machine several consumers on one Redis queue send each message once."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import PG_URL, REDIS_URL, base_config, links_in
from tests.ops.conftest import start_patiently, truncate_postgresql
from tests.watchers import create_accounts, form_token

pytestmark = pytest.mark.server

# One-second back-off and a short claim, so that the test waits seconds, not minutes.
QUICK_RETRIES = {"MAIL_RETRY_DELAY": "1", "MAIL_RETRY_MAX_DELAY": "1", "MAIL_SEND_LEASE": "3",
                 "MAIL_SMTP_TIMEOUT": "2"}


def _wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _rows(engine: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(text(
            "SELECT key, to_address, attempts, last_error, sent_at, failed_at "
            "FROM outgoing_mail ORDER BY id")))


def test_mail_queued_while_the_smtp_server_is_down_survives_a_restart_and_arrives_once(
        live_server, smtp_server):
    """The issue's story: a resident asks for a reset link while the SMTP server is away; every
    process is killed and started again meanwhile; the link arrives once, and works."""
    smtp_server.stop()
    server = live_server({"MAIL_URL": smtp_server.url, **QUICK_RETRIES}).start()
    create_accounts(server.env["DATABASE_URL"], resident="resident@example.test")
    browser = requests.Session()
    asked = browser.post(server.url + "/password/forgot", timeout=10, data={
        "email": "resident@example.test",
        "csrf_token": form_token(browser, server.url + "/password/forgot")})
    assert asked.status_code == 200, asked.text  # the action succeeds with the server away
    engine = create_engine(server.env["DATABASE_URL"])
    try:
        [row] = _wait_until(lambda: [r for r in _rows(engine) if r.attempts >= 1 and r.last_error],
                            30, "a first failed attempt")
        assert row.last_error == "server unavailable (ConnectionRefusedError)"
        assert "resident@example.test" not in row.last_error

        # Every process goes, at once and without warning, while the mail waits.
        server.stop(kill=True)
        restarted_at = len(server.log.read_text())
        server.start()
        # The restarted server tries again (and fails: the SMTP server is still away).
        _wait_until(lambda: "mail 1 not sent" in server.log.read_text()[restarted_at:], 60,
                    "an attempt by the restarted server")
        assert smtp_server.messages == []

        smtp_server.start()
        smtp_server.wait_for(1, timeout=60)
        [sent] = _wait_until(lambda: [r for r in _rows(engine) if r.sent_at], 30, "sent_at")
        assert sent.failed_at is None and sent.last_error is None
        assert smtp_server.envelopes == [["resident@example.test"]]
    finally:
        engine.dispose()
    [reset_link] = [link for link in links_in(smtp_server.messages[0])
                    if "/password/reset/" in link]
    page = browser.get(reset_link.replace("http://127.0.0.1:5000", server.url), timeout=10)
    assert page.status_code == 200 and 'name="new_password"' in page.text
    log = server.log.read_text()
    assert "resident@example.test" not in log


def test_participation_worker_sends_what_another_process_queued(live_server, smtp_server):
    site = live_server({"MAIL_URL": smtp_server.url, "QUEUE_IN_PROCESS": "0", **QUICK_RETRIES})
    worker = QueueWorker(site.env, site.cwd)
    try:
        _wait_until(worker.started, 60, "the queue worker")
        queued = site.command("send-test-mail", "resident@example.test")
        assert queued.returncode == 0, queued.stderr
        [message] = smtp_server.wait_for(1, timeout=30)
        assert message["To"] == "resident@example.test"
    finally:
        worker.stop()
    assert worker.process.returncode == 0, worker.log.read_text()


class QueueWorker:
    """A real `participation worker` process."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.log = cwd / f"worker-{uuid.uuid4().hex[:6]}.log"
        exe = Path(sys.executable).with_name("participation")
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen([str(exe), "worker"], env=env, cwd=cwd,
                                            stdout=handle, stderr=subprocess.STDOUT)

    def started(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        return "Huey consumer started" in self.log.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.mark.skipif(not PG_URL or not REDIS_URL,
                    reason="needs PARTICIPATION_TEST_DATABASE_URL and PARTICIPATION_TEST_REDIS_URL")
def test_two_web_workers_and_a_queue_worker_on_postgresql_and_redis_send_each_mail_once(
        request, live_server, smtp_server, tmp_path):
    import redis

    from participation import create_app, jobs
    from participation.extensions import db
    from participation.mail.services import queue_mail
    from participation.mail.tasks import deliver_mail

    url = request.getfixturevalue("migrated_postgresql")
    queue_name = f"mailtest{uuid.uuid4().hex[:10]}"
    env = {"DATABASE_URL": url, "QUEUE_URL": REDIS_URL, "QUEUE_NAME": queue_name,
           # Both web workers consume too: three consumers race for every message.
           "QUEUE_IN_PROCESS": "1", "SOCKETIO_MESSAGE_QUEUE": REDIS_URL,
           "SOCKETIO_CHANNEL": f"participation-mail-test-{uuid.uuid4().hex[:12]}",
           "RATELIMIT_STORAGE_URI": REDIS_URL, "MAIL_URL": smtp_server.url, **QUICK_RETRIES}
    web = [live_server(env, migrate=False) for _ in range(2)]
    worker: QueueWorker | None = None
    try:
        for server in web:
            start_patiently(server)
        worker = QueueWorker(web[0].env, tmp_path)
        _wait_until(worker.started, 120, "the queue worker")

        # Queue the mail as a web worker would: rows in PostgreSQL, tasks in Redis after commit.
        app = create_app(base_config(SQLALCHEMY_DATABASE_URI=url, INSTANCE_PATH=str(tmp_path),
                                     QUEUE_IMMEDIATE=False, QUEUE_URL=REDIS_URL,
                                     QUEUE_NAME=queue_name))
        count = 12
        with app.app_context():
            for n in range(count):
                assert queue_mail(db.session, to=f"resident{n}@example.test", template="test",
                                  key=f"scaled:{n}", subject="Hello", locale="en",
                                  name=f"Resident {n}", site_url="https://town.example/")
            db.session.commit()
            ids = [row[0] for row in db.session.execute(text("SELECT id FROM outgoing_mail"))]
            db.session.rollback()
            # The same deliveries again, twice, as a lost-and-found sweep on each consumer would.
            for _ in range(2):
                for mail_id in ids:
                    deliver_mail(mail_id)
            db.session.remove()
            db.engine.dispose()
        smtp_server.wait_for(count, timeout=90)
        engine = create_engine(url)
        try:
            _wait_until(lambda: all(r.sent_at for r in _rows(engine)), 30, "every row sent")
            _wait_until(lambda: jobs.queue.pending_count() == 0, 30, "the queue to drain")
            rows = _rows(engine)
        finally:
            engine.dispose()
        received = Counter(address for envelope in smtp_server.envelopes for address in envelope)
        assert received == Counter({f"resident{n}@example.test": 1 for n in range(count)})
        assert len({m["Message-ID"] for m in smtp_server.messages}) == count
        assert all(r.attempts == 1 for r in rows)
        for server in web:
            assert "consumer runs in this process" in server.log.read_text()
    finally:
        if worker is not None:
            worker.stop()
        for server in web:
            server.stop()
        with redis.Redis.from_url(REDIS_URL) as connection:
            for key in connection.scan_iter(f"huey.*{queue_name}*"):
                connection.delete(key)
        truncate_postgresql(url)
