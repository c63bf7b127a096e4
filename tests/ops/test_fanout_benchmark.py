"""benchmarks/fanout.py: its command line refuses what it cannot run, and `--workers 2` runs one
worker at N watchers against two at 2N on PostgreSQL and Redis, every broadcast delivered."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import PG_BASE_URL, REDIS_URL, ROOT, WORKER

FANOUT = ROOT / "benchmarks" / "fanout.py"


def run_fanout(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(FANOUT), *args], capture_output=True, text=True,
                          timeout=timeout, check=False, env=os.environ.copy())


def test_three_workers_is_refused_by_the_command_line() -> None:
    result = run_fanout("--workers", "3")
    assert result.returncode == 2
    assert "argument --workers: invalid choice: 3" in result.stderr


def test_two_workers_without_a_database_is_refused_by_the_command_line() -> None:
    result = run_fanout("--workers", "2", "--redis-url", "redis://127.0.0.1:6379/0")
    assert result.returncode == 2
    assert "--workers 2 needs --database-url" in result.stderr


def test_database_url_with_one_worker_is_refused_by_the_command_line() -> None:
    result = run_fanout("--database-url", "postgresql+psycopg://postgres@127.0.0.1:5432/x")
    assert result.returncode == 2
    assert "apply only with --workers 2" in result.stderr


@pytest.fixture
def scratch_database_url() -> Iterator[str]:
    """A database of the benchmark's own, beside the suite's (never one named <name>_gwN):
    the benchmark empties it, and this fixture drops it afterwards."""
    if not PG_BASE_URL or not REDIS_URL:
        pytest.skip("needs PARTICIPATION_TEST_DATABASE_URL and PARTICIPATION_TEST_REDIS_URL")
    from sqlalchemy import create_engine, text

    base, _, name = PG_BASE_URL.rpartition("/")
    scratch = f"{name}_fanout_bench" + (f"_{WORKER}" if WORKER else "")
    yield f"{base}/{scratch}"
    admin = create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.server
def test_two_workers_deliver_every_broadcast_and_end_with_the_ratio(
        scratch_database_url: str) -> None:
    assert REDIS_URL
    result = run_fanout("--workers", "2", "--clients", "5", "--approvals", "2",
                        "--database-url", scratch_database_url, "--redis-url", REDIS_URL,
                        timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("1 worker  watchers=5 ")
    assert "delivered=10/10 (100.0%)" in lines[0]
    assert lines[1].startswith("2 workers watchers=10 ")
    assert "delivered=20/20 (100.0%)" in lines[1]
    assert lines[-1].startswith("ratio 2 workers at 10 / 1 worker at 5: p99=")


@pytest.mark.server
def test_the_app_against_the_bare_server_delivers_everything_and_ends_with_the_ratios() -> None:
    result = run_fanout("--clients", "120", "--approvals", "3", "--settle", "0.5", "--verbose",
                        timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("app  watchers=120 ") and "delivered=360/360 (100.0%)" in lines[0]
    assert lines[1].startswith("bare watchers=120 ") and "delivered=360/360 (100.0%)" in lines[1]
    assert lines[2].startswith("app per approval max (ms): ") and len(lines[2].split()) == 8
    assert lines[3].startswith("bare per approval max (ms): ") and len(lines[3].split()) == 8
    two_cpus = len(os.sched_getaffinity(0)) >= 2
    assert lines[-2].startswith("pinning: servers on CPU " if two_cpus else "pinning: none")
    assert lines[-1].startswith("ratio app/bare: p50=") and "memory=" in lines[-1]
    assert "p99 over all 360 and 360 deliveries" in lines[-1]
