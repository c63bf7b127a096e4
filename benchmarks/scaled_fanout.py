"""Fan-out across workers: does a second worker carry twice the watchers at the same latency?

In one run, on PostgreSQL with the Redis message queue:
  * setup 1: one `participation serve` worker, N watchers;
  * setup 2: two workers, 2N watchers split evenly between them, the moderator on the first
    (so half of every broadcast crosses Redis to the other worker).
A moderator approves K questions in each setup, alternating between setups (ABBA) so that any
other load on the machine falls on both alike, and each watcher's time from the `moderate` call
to its `question` event is recorded.

Prints p50, p99, max and delivered/expected per setup, then the ratio of p99s
(goal: 2 workers at 2N no worse than 1.3 x 1 worker at N, with 100% delivered).

    .venv/bin/python benchmarks/fanout.py --workers 2 --database-url URL --redis-url URL
        [--clients 500] [--approvals 20]

runs it through `run()` here; this file also runs on its own, for up to 8 workers:

    .venv/bin/python benchmarks/scaled_fanout.py --database-url URL [--redis-url URL]
        [--clients 500] [--approvals 20] [--workers 2]

The database named in --database-url is emptied and migrated: give it a scratch database.
It is created when missing. Everything runs on 127.0.0.1, bounded by count and time.
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import websocket  # noqa: E402
from fanout import PASSWORD, free_port, raise_open_file_limit, sign_in  # noqa: E402

BIN = Path(sys.executable).parent
NS = "/townhall"
MODERATOR_EMAIL = "moderator@bench.example.org"
QUESTION_PREFIX = f'42{NS},["question",'


class Socket:
    """A minimal Socket.IO client on /townhall over one websocket (green-thread friendly)."""

    def __init__(self, port: int, cookie: str | None = None) -> None:
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket",
            header=[f"Cookie: {cookie}"] if cookie else [], timeout=60)
        opened = self.ws.recv()
        assert opened.startswith("0"), opened
        self.ws.send(f"40{NS},")
        self.next_ack = 0
        while True:
            message = self.ws.recv()
            if message.startswith(f"40{NS},"):
                return
            if message.startswith(f"44{NS},"):
                raise RuntimeError(f"namespace refused: {message}")

    def call(self, name: str, data: dict) -> dict:
        self.next_ack += 1
        prefix = f"43{NS},{self.next_ack}"
        self.ws.send(prefix.replace("43", "42", 1) + json.dumps([name, data]))
        while True:
            message = self.ws.recv()
            if message == "2":
                self.ws.send("3")
            elif message.startswith(prefix):
                return json.loads(message[len(prefix):])[0]

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001, S110 - closing after the run
            pass


@dataclass
class Watcher:
    sock: Socket
    arrivals: list[tuple[float, str]] = field(default_factory=list)

    def listen(self) -> None:
        self.sock.ws.settimeout(None)
        try:
            while True:
                message = self.sock.ws.recv()
                if message == "2":
                    self.sock.ws.send("3")
                elif message.startswith(QUESTION_PREFIX):
                    self.arrivals.append((time.perf_counter(), message))
        except Exception:  # noqa: BLE001 - the socket closed at the end of the run
            return


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Setup:
    """One or more workers sharing a town hall, its moderator and its watchers."""

    name: str
    ports: list[int]
    townhall_id: int
    question_ids: list[int]
    moderator: Socket | None = None
    watchers: list[Watcher] = field(default_factory=list)
    sent: dict[int, float] = field(default_factory=dict)

    def connect(self, per_worker: int, concurrency: int, deadline: float) -> None:
        pool = eventlet.GreenPool(concurrency)

        def one(n: int) -> Watcher:
            port = self.ports[n % len(self.ports)]
            for attempt in range(5):
                try:
                    sock = Socket(port)
                    ack = sock.call("join", {"townhall_id": self.townhall_id})
                    assert ack["ok"], ack
                    return Watcher(sock)
                except (OSError, websocket.WebSocketException):
                    if attempt == 4 or time.monotonic() > deadline:
                        raise
                    eventlet.sleep(0.2 * (attempt + 1))
            raise RuntimeError("unreachable")

        self.watchers = list(pool.imap(one, range(per_worker * len(self.ports))))
        for watcher in self.watchers:
            eventlet.spawn(watcher.listen)

    def approve(self, timed: bool = True) -> None:
        """Approve the next question; wait until every watcher has it (or 15 s passed)."""
        assert self.moderator is not None
        qid = self.question_ids.pop(0)
        before = sum(len(w.arrivals) for w in self.watchers)
        started = time.perf_counter()
        ack = self.moderator.call("moderate", {"question_id": qid, "action": "approve"})
        assert ack.get("ok"), ack
        if timed:
            self.sent[qid] = started
        wait_until = time.monotonic() + 15
        while (sum(len(w.arrivals) for w in self.watchers) < before + len(self.watchers)
               and time.monotonic() < wait_until):
            eventlet.sleep(0.01)
        eventlet.sleep(0.05)

    def measure(self) -> tuple[list[float], int, int]:
        latencies: list[float] = []
        delivered = 0
        for watcher in self.watchers:
            seen: set[int] = set()
            for arrived, message in watcher.arrivals:
                question = json.loads(message[len(f"42{NS},"):])[1]["question"]
                if (question["id"] in self.sent and question["id"] not in seen
                        and question["status"] == "approved"):
                    seen.add(question["id"])
                    delivered += 1
                    latencies.append(arrived - self.sent[question["id"]])
            watcher.sock.close()
        return latencies, delivered, len(self.watchers) * len(self.sent)


def reset_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    base, _, name = url.rpartition("/")
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise SystemExit("--database-url must end in a plain database name")
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": name}).scalar():
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def prepare(url: str, env: dict[str, str], approvals: int,
            workdir: Path) -> list[tuple[int, list[int]]]:
    """Migrate, then create the accounts and one live town hall (with questions) per setup."""
    result = subprocess.run([str(BIN / "participation"), "db", "upgrade"], env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    from participation import create_app
    from participation.accounts.services import register_user
    from participation.db import utcnow
    from participation.extensions import db
    from participation.realtime.outbox import take_events
    from participation.security.permissions import Role
    from participation.townhall import services

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": env["SECRET_KEY"],
                      "SOCKETIO_ASYNC_MODE": "threading", "INSTANCE_PATH": str(workdir)})
    townhalls = []
    with app.app_context():
        people = {key: register_user(db.session, email=f"{key}@bench.example.org",
                                     display_name=key.capitalize(), password=PASSWORD,
                                     role=role)
                  for key, role in (("official", Role.OFFICIAL), ("moderator", Role.MODERATOR),
                                    ("resident", Role.RESIDENT))}
        for setup in range(2):
            now = utcnow()
            townhall = services.create_townhall(db.session, people["official"],
                                                title=f"Scaled fan-out {setup + 1}",
                                                starts_at=now, ends_at=now + timedelta(hours=2))
            services.set_status(db.session, people["official"], townhall, "live")
            ids = [services.ask_question(
                db.session, people["resident"], townhall,
                text=f"Question {n}: how will the budget change bus services?").id
                for n in range(approvals)]
            townhalls.append((townhall.id, ids))
        db.session.commit()
        take_events(db.session)
        db.session.remove()
        db.engine.dispose()
    return townhalls


def start_workers(count: int, env: dict[str, str], workdir: Path,
                  processes: list[subprocess.Popen]) -> list[int]:
    ports = []
    for _ in range(count):
        port = free_port()
        with (workdir / f"worker-{port}.log").open("wb") as log:
            process = subprocess.Popen([str(BIN / "participation"), "serve", "--port", str(port)],
                                       env=env, cwd=workdir, stdout=log,
                                       stderr=subprocess.STDOUT)
        processes.append(process)
        ports.append(port)
    for port, process in zip(ports, processes[-count:], strict=True):
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"worker exited: {(workdir / f'worker-{port}.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("worker did not start") from None
                time.sleep(0.1)
    return ports


def run(database_url: str, redis_url: str, clients: int, approvals: int, workers: int = 2,
        concurrency: int = 40, timeout: float = 600.0) -> float:
    """Measure 1 worker at `clients` watchers and `workers` workers at workers x clients;
    print both and the p99 ratio, and return that ratio."""
    raise_open_file_limit()
    reset_database(database_url)
    processes: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="scaled-fanout-") as tmp:
        workdir = Path(tmp)
        base_env = {**os.environ, "DATABASE_URL": database_url,
                    "SECRET_KEY": secrets.token_hex(32), "PARTICIPATION_ENV": "development",
                    "INSTANCE_PATH": str(workdir), "SOCKETIO_ASYNC_MODE": "eventlet",
                    "SOCKETIO_MESSAGE_QUEUE": redis_url, "RATELIMIT_ENABLED": "false"}
        townhalls = prepare(database_url, base_env, approvals + 1, workdir)
        setups = []
        try:
            for name, count, (townhall_id, question_ids) in (
                    ("1 worker", 1, townhalls[0]), (f"{workers} workers", workers, townhalls[1])):
                # Each setup has its own channel: its broadcasts never reach the other's workers.
                env = {**base_env, "SOCKETIO_CHANNEL": f"bench-{uuid.uuid4().hex[:12]}"}
                ports = start_workers(count, env, workdir, processes)
                setups.append(Setup(name, ports, townhall_id, question_ids))
            for setup in setups:
                setup.connect(clients, concurrency, time.monotonic() + timeout)
            # The moderators connect last: an idle socket that nobody reads cannot answer the
            # server's pings while thousands of watchers connect, and would be dropped.
            for setup in setups:
                cookie = sign_in(setup.ports[0], MODERATOR_EMAIL)
                setup.moderator = Socket(setup.ports[0], cookie)
                ack = setup.moderator.call("join", {"townhall_id": setup.townhall_id,
                                                    "moderator": True})
                assert ack["ok"], ack
                setup.approve(timed=False)  # warm-up
            for n in range(approvals):
                for setup in (setups if n % 2 == 0 else setups[::-1]):
                    setup.approve()
            results = [setup.measure() for setup in setups]
            for setup in setups:
                if setup.moderator is not None:
                    setup.moderator.close()
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=20)
    ms = 1000
    for setup, (latencies, delivered, expected) in zip(setups, results, strict=True):
        print(f"{setup.name:<9} watchers={len(setup.watchers)} "
              f"p50={percentile(latencies, 0.5) * ms:.1f}ms "
              f"p99={percentile(latencies, 0.99) * ms:.1f}ms "
              f"max={max(latencies or [0]) * ms:.1f}ms delivered={delivered}/{expected} "
              f"({100 * delivered / max(expected, 1):.1f}%)", flush=True)
    ratio = percentile(results[1][0], 0.99) / percentile(results[0][0], 0.99)
    print(f"ratio {workers} workers at {workers * clients} / 1 worker at {clients}: "
          f"p99={ratio:.2f} (goal <= 1.3, with 100% delivered)", flush=True)
    return ratio


def argument_error(database_url: str | None, redis_url: str | None, clients: int,
                   approvals: int, workers: int) -> str | None:
    """What is wrong with these arguments to `run`, in words for the command line, or None."""
    if not database_url:
        return "--database-url is required: a scratch PostgreSQL database (emptied, then migrated)"
    if not database_url.startswith("postgresql"):
        return "--database-url must be a PostgreSQL URL (postgresql+psycopg://...)"
    if not re.fullmatch(r"[A-Za-z0-9_]+", database_url.rpartition("/")[2]):
        return "--database-url must end in a plain database name"
    if not redis_url:
        return "--redis-url is required: the Redis message queue the workers share"
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        return "--redis-url must be a Redis URL (redis://...)"
    if not 1 <= clients <= 5_000 or not 1 <= approvals <= 200:
        return "--clients must be 1..5000 and --approvals 1..200"
    if not 2 <= workers <= 8:
        return "--workers must be 2..8"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True,
                        help="PostgreSQL URL of a scratch database (emptied, then migrated)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--clients", type=int, default=500, help="watchers per worker (N)")
    parser.add_argument("--approvals", type=int, default=20, help="questions approved (K)")
    parser.add_argument("--workers", type=int, default=2, help="workers in the second setup")
    parser.add_argument("--concurrency", type=int, default=40, help="watchers connecting at once")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="give up connecting watchers after this many seconds")
    args = parser.parse_args()
    error = argument_error(args.database_url, args.redis_url, args.clients, args.approvals,
                           args.workers)
    if error:
        parser.error(error)
    run(args.database_url, args.redis_url, args.clients, args.approvals, args.workers,
        args.concurrency, args.timeout)


if __name__ == "__main__":
    main()
