"""Under `participation serve` (eventlet), a query waiting for PostgreSQL lets the other green
threads run: psycopg's own wait, in C, would stop the whole server while it waits, and for good
when it waits on a row lock that another green thread of the same server holds."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import PG_BASE_URL, ROOT

# The `serve` command's start, then a 0.3 s query beside a green thread that counts meanwhile.
SCRIPT = """
import sys
url = sys.argv[1] if len(sys.argv) > 1 else None
sys.argv = ["participation", "serve", "--help"]
from participation.cli import main
try:
    main()
except SystemExit:
    pass
import eventlet
import psycopg
import psycopg.waiting
print("wait:", psycopg.waiting.wait.__name__)
if url:
    ticks = []
    def count():
        while True:
            ticks.append(1)
            eventlet.sleep(0.01)
    counter = eventlet.spawn(count)
    eventlet.sleep(0)
    with psycopg.connect(url) as conn:
        conn.execute("SELECT pg_sleep(0.3)")
    counter.kill()
    print("ticks while waiting:", len(ticks))
"""


def run_served(*args: str) -> list[str]:
    env = {**os.environ, "SOCKETIO_ASYNC_MODE": "eventlet"}
    env.pop("PSYCOPG_WAIT_FUNC", None)
    result = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True,
                            text=True, timeout=60, check=False, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()


def test_the_server_waits_for_postgresql_through_the_green_select() -> None:
    lines = run_served()
    assert lines[-1] == "wait: wait_select"


@pytest.mark.skipif(not PG_BASE_URL, reason="needs PARTICIPATION_TEST_DATABASE_URL")
def test_other_green_threads_run_while_a_query_waits_on_postgresql() -> None:
    assert PG_BASE_URL
    url = PG_BASE_URL.replace("postgresql+psycopg://", "postgresql://")
    lines = run_served(url)
    ticks = int(lines[-1].removeprefix("ticks while waiting: "))
    assert ticks >= 10
