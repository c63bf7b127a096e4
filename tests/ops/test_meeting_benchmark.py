"""benchmarks/meeting.py: a short meeting (a few watchers and residents, seconds long) runs to its
summary with every event delivered once and the database equal to the acks, on SQLite and, when
PARTICIPATION_TEST_DATABASE_URL is set, on PostgreSQL; its command line refuses what it cannot
run. No timing is asserted: the machine the suite runs on is shared."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import PG_BASE_URL, ROOT, WORKER

MEETING = ROOT / "benchmarks" / "meeting.py"
SHORT = ("--watchers", "20", "--residents", "10", "--duration", "8", "--voters", "10",
         "--questions-per-second", "0.5", "--upvotes-per-second", "2",
         "--approvals-per-minute", "30", "--poll-at", "2", "--vote-window", "3",
         "--settle", "1")


def run_meeting(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PARTICIPATION_BENCH_DATABASE_URL"}
    return subprocess.run([sys.executable, str(MEETING), *args], capture_output=True, text=True,
                          timeout=timeout, check=False, env=env)


def test_more_voters_than_watchers_is_refused_by_the_command_line() -> None:
    result = run_meeting("--watchers", "10", "--voters", "11")
    assert result.returncode == 2
    assert "--voters must be 0..--watchers" in result.stderr


def test_more_questions_than_the_server_lets_a_resident_ask_is_refused() -> None:
    result = run_meeting("--residents", "10", "--questions-per-second", "1")
    assert result.returncode == 2
    assert "too many questions per resident" in result.stderr


def test_postgresql_without_a_database_url_is_refused_by_the_command_line() -> None:
    result = run_meeting("--database", "postgresql")
    assert result.returncode == 2
    assert "--database postgresql needs --database-url" in result.stderr


def assert_every_event_delivered_once(result: subprocess.CompletedProcess[str],
                                      backend: str) -> None:
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0] == f"meeting on {backend}: watchers=20 residents=10 voters=10 duration=8s"
    kinds = {line.split()[0]: line.split() for line in lines[2:9]}
    assert set(kinds) == {"ask", "upvote", "vote", "approve", "highlight", "poll_open",
                          "poll_close"}
    # 0.5 questions a second for 8 s; 2 upvotes a second; every voter; nothing refused.
    assert kinds["ask"][1] == "4" and kinds["upvote"][1] == "16" and kinds["vote"][1] == "10"
    assert all(row[-2:] == ["0", "0"] for row in kinds.values())
    events = next(line for line in lines if line.startswith("events: "))
    assert " lost=0 duplicated=0 unexpected=0 sockets dropped=0" in events
    database = next(line for line in lines if line.startswith("database: "))
    assert "upvotes=16 (acked 16) ballots=10 (acked 10); equal" in database
    delivered = next(line for line in lines if line.startswith("approval to delivery: "))
    count, expected = delivered.split()[3].removeprefix("deliveries=").split("/")
    assert count == expected and int(expected) > 0
    assert lines[-1].startswith("summary: errors=0 lost=0 duplicated=0 ack p99 ask=")
    assert " upvote=" in lines[-1] and " vote=" in lines[-1]


@pytest.mark.server
def test_a_short_meeting_on_sqlite_delivers_every_event_once() -> None:
    assert_every_event_delivered_once(run_meeting(*SHORT, "--no-pin", timeout=120), "SQLite")


@pytest.fixture
def scratch_database_url() -> Iterator[str]:
    """A database of the benchmark's own, beside the suite's: the benchmark empties it, and this
    fixture drops it afterwards."""
    if not PG_BASE_URL:
        pytest.skip("needs PARTICIPATION_TEST_DATABASE_URL")
    from sqlalchemy import create_engine, text

    base, _, name = PG_BASE_URL.rpartition("/")
    scratch = f"{name}_meeting_bench" + (f"_{WORKER}" if WORKER else "")
    yield f"{base}/{scratch}"
    admin = create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.server
def test_a_short_meeting_on_postgresql_delivers_every_event_once(
        scratch_database_url: str) -> None:
    result = run_meeting(*SHORT, "--no-pin", "--database", "postgresql", "--database-url",
                         scratch_database_url, timeout=180)
    assert_every_event_delivered_once(result, "PostgreSQL")
