"""Fan-out benchmark: how quickly an approved question reaches every watcher of a town hall.

Starts the real app server (`participation serve`, eventlet) on a scratch SQLite database and, in
the same run, a bare Flask-SocketIO server (benchmarks/bare_server.py) that only broadcasts a
payload of the same size to the same room. For each server, N watchers join over websocket, a
moderator approves K questions one after another, and each watcher's time from the moderator's
`moderate` call to its `question` event is recorded.

Where this process may run on two or more CPUs, both servers are pinned to one of them and the
load generator (this process, with every watcher) to another, so that the watchers' own work does
not slow whichever server it lands beside (`--no-pin` leaves scheduling to the system); the output
says which. Prints p50, p99, max, delivered/expected and server RSS per connection for each
server, each approval's slowest delivery, the pinning, and as the last line the app/bare ratios
for p99 over all deliveries and memory (goal: p99 <= 1.25, memory <= 1.2).

    .venv/bin/python benchmarks/fanout.py [--clients 1000] [--approvals 20] [--no-pin]

With `--workers 2` it measures scaling out instead (benchmarks/scaled_fanout.py): on PostgreSQL
with the Redis message queue, one worker with N watchers and two workers with 2N watchers split
between them, in the same run; it prints p50, p99, max and delivered/expected for each, and as
the last line the p99 ratio (goal: <= 1.3, with 100% delivered). The database is emptied and
migrated, and created when missing: give it a scratch one.

    .venv/bin/python benchmarks/fanout.py --workers 2 --database-url URL --redis-url URL
        [--clients 500] [--approvals 20]

Watchers are plain Engine.IO/Socket.IO clients on green threads (eventlet + websocket-client), so
thousands fit in one process. Everything runs on 127.0.0.1 and is bounded by count and time.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import secrets  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402
import websocket  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NS = "/townhall"
PASSWORD = secrets.token_urlsafe(16)
QUESTION_PREFIX = f'42{NS},["question",'
ACK_PREFIX = f"43{NS},"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def raise_open_file_limit(wanted: int = 65536) -> None:
    """Allow this process (and the servers it starts) `wanted` open files where the system lets
    it: 10,000 watchers per server are 20,000 sockets here, which a hard limit of 20,000 (a
    common default) does not leave room for. Past the hard limit only root may go."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return
        except (ValueError, OSError):
            pass  # not root: the soft limit up to the hard one is what there is
    target = hard if hard != resource.RLIM_INFINITY else wanted
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@dataclass(frozen=True)
class Pinning:
    """Which CPU the servers run on and which the load generator does; None: not pinned."""

    servers: int | None
    load: int | None
    reason: str = ""

    def line(self) -> str:
        if self.servers is None:
            return f"pinning: none ({self.reason})"
        return f"pinning: servers on CPU {self.servers}, load generator on CPU {self.load}"


def choose_pinning(requested: bool) -> Pinning:
    """The first CPU this process may use for the servers and the second for the load
    generator, where it may use two or more."""
    if not requested:
        return Pinning(None, None, "--no-pin")
    if not hasattr(os, "sched_getaffinity"):
        return Pinning(None, None, "this system cannot pin processes")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return Pinning(None, None, f"only {len(cpus)} CPU available")
    return Pinning(cpus[0], cpus[1])


def pin(pid: int, cpu: int | None) -> None:
    """Run every thread of process `pid` on `cpu` (threads it starts later inherit it)."""
    if cpu is None:
        return
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(task), {cpu})
        except ProcessLookupError:
            pass  # a thread that has just ended


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


class Socket:
    """A minimal Socket.IO client on the /townhall namespace over one websocket.

    A green thread reads everything as it arrives: it answers the server's pings, stamps each
    `question` message with its arrival time, and hands acknowledgements to `call`.
    """

    def __init__(self, port: int, cookie: str | None = None) -> None:
        headers = [f"Cookie: {cookie}"] if cookie else []
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", header=headers,
            timeout=60, enable_multithread=True)
        opened = self.ws.recv()
        assert opened.startswith("0"), opened
        self.ws.send(f"40{NS},")
        while True:
            message = self.ws.recv()
            if message.startswith(f"40{NS},"):
                break
            if message.startswith(f"44{NS},"):
                raise RuntimeError(f"namespace refused: {message}")
        self.next_ack = 0
        self.pending: dict[int, eventlet.event.Event] = {}
        self.arrivals: list[tuple[float, str]] = []
        self.closed = False
        self.ws.settimeout(None)
        self.reader = eventlet.spawn(self._read)

    def _read(self) -> None:
        try:
            while True:
                message = self.ws.recv()
                if message.startswith(QUESTION_PREFIX):
                    self.arrivals.append((time.perf_counter(), message))
                elif message == "2":
                    self.ws.send("3")
                elif message.startswith(ACK_PREFIX):
                    body = message[len(ACK_PREFIX):]
                    digits = len(body) - len(body.lstrip("0123456789"))
                    waiter = self.pending.pop(int(body[:digits]), None)
                    if waiter is not None:
                        waiter.send(json.loads(body[digits:])[0])
        except Exception:  # noqa: BLE001 - the socket closed (at the end of the run, or lost)
            self.closed = True

    def call(self, name: str, data: dict, timeout: float = 120) -> dict:
        self.next_ack += 1
        waiter = eventlet.event.Event()
        self.pending[self.next_ack] = waiter
        self.ws.send(f"42{NS},{self.next_ack}" + json.dumps([name, data]))
        with eventlet.Timeout(timeout):
            return waiter.wait()

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001, S110 - closing after the run
            pass
        self.reader.kill()


@dataclass
class Result:
    name: str
    latencies: list[float]
    delivered: int
    expected: int
    rss_before: int
    rss_after: int
    clients: int
    payload_bytes: int

    @property
    def per_connection_kib(self) -> float:
        return (self.rss_after - self.rss_before) / self.clients

    def p(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        ms = 1000
        return (f"{self.name:<4} watchers={self.clients} p50={self.p(0.5) * ms:.1f}ms "
                f"p99={self.p(0.99) * ms:.1f}ms max={max(self.latencies or [0]) * ms:.1f}ms "
                f"delivered={self.delivered}/{self.expected} "
                f"({100 * self.delivered / max(self.expected, 1):.1f}%) "
                f"rss={self.rss_after / 1024:.1f}MiB "
                f"rss_per_connection={self.per_connection_kib:.1f}KiB "
                f"payload={self.payload_bytes}B")


def connect_watchers(port: int, townhall_id: int, count: int, concurrency: int,
                     deadline: float, make: Callable[[int], Socket] | None = None) -> list[Socket]:
    """`count` sockets joined to the town hall's room, `concurrency` connecting at once; socket
    `n` is made by `make(n)` (default: a visitor's `Socket(port)`)."""
    pool = eventlet.GreenPool(concurrency)

    def one(n: int) -> Socket:
        for attempt in range(5):
            try:
                sock = make(n) if make is not None else Socket(port)
                ack = sock.call("join", {"townhall_id": townhall_id})
                assert ack["ok"], ack
                return sock
            except (OSError, websocket.WebSocketException):
                if attempt == 4 or time.monotonic() > deadline:
                    raise
                eventlet.sleep(0.2 * (attempt + 1))
        raise RuntimeError("unreachable")

    return list(pool.imap(one, range(count)))


@dataclass
class Server:
    """One server under test, its moderator socket, its watchers and what they received."""

    name: str
    port: int
    pid: int
    townhall_id: int
    question_ids: list[int]
    moderator: Socket
    watchers: list[Socket] = field(default_factory=list)
    sent: dict[int, float] = field(default_factory=dict)
    rss_before: int = 0
    rss_after: int = 0
    per_approval_max: list[float] = field(default_factory=list)
    unanswered: int = 0
    ack_times: list[float] = field(default_factory=list)

    def connect(self, clients: int, concurrency: int, deadline: float) -> None:
        """Add `clients` watchers to this server."""
        self.watchers += connect_watchers(self.port, self.townhall_id, clients, concurrency,
                                          deadline)


    def approve(self, timed: bool = True) -> None:
        """Approve the next question; wait until every watcher has it (or 15 s passed)."""
        qid = self.question_ids.pop(0)
        before = sum(len(w.arrivals) for w in self.watchers)
        started = time.perf_counter()
        if timed:
            self.sent[qid] = started
        try:
            ack = self.moderator.call("moderate", {"question_id": qid, "action": "approve"},
                                      timeout=60)
        except eventlet.Timeout:
            progress(f"{self.name}: no answer to approving question {qid} within 60 s")
            self.unanswered += 1
            return
        assert ack.get("ok"), ack
        self.ack_times.append(time.perf_counter() - started)
        wait_until = time.monotonic() + 15
        while (sum(len(w.arrivals) for w in self.watchers) < before + len(self.watchers)
               and time.monotonic() < wait_until):
            eventlet.sleep(0.01)
        eventlet.sleep(0.05)

    def result(self, payload_bytes: int) -> Result:
        latencies: list[float] = []
        delivered = 0
        slowest: dict[int, float] = {}
        for watcher in self.watchers:
            seen: set[int] = set()
            for arrived, message in watcher.arrivals:
                data = json.loads(message[len(f"42{NS},"):])[1]
                qid = data["question"]["id"]
                if qid in self.sent and qid not in seen and data["question"]["status"] == (
                        "approved"):
                    seen.add(qid)
                    delivered += 1
                    latencies.append(arrived - self.sent[qid])
                    slowest[qid] = max(slowest.get(qid, 0.0), arrived - self.sent[qid])
            watcher.close()
        self.per_approval_max = [slowest.get(qid, float("nan")) for qid in self.sent]
        return Result(self.name, latencies, delivered, len(self.watchers) * len(self.sent),
                      self.rss_before, self.rss_after, len(self.watchers), payload_bytes)


def connect_all(servers: list[Server], clients: int, concurrency: int, settle: float,
                timeout: float, chunk: int = 50) -> None:
    """Connect `clients` watchers to each server, alternating in chunks.

    Engine.IO pings every socket `ping_interval` seconds after it connected. Joining one server's
    watchers before the other's would put one server's burst of pings inside the measured
    approvals and the other's after them; alternating keeps both servers' pings together.
    """
    for server in servers:
        server.rss_before = rss_kib(server.pid)
    progress(f"connecting {clients} watchers to each of {len(servers)} servers")
    deadline = time.monotonic() + timeout
    for start in range(0, clients, chunk):
        for server in servers:
            server.connect(min(chunk, clients - start), concurrency, deadline)
    eventlet.sleep(settle)  # let batched presence announcements go out
    for server in servers:
        server.rss_after = rss_kib(server.pid)
    progress(f"{clients} watchers joined each server")

def prepare_app_database(db_url: str, env: dict[str, str], approvals: int) -> tuple[int, list[int]]:
    result = subprocess.run([str(BIN / "participation"), "db", "upgrade"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    from participation import create_app
    from participation.accounts.services import register_user
    from participation.db import utcnow
    from participation.extensions import db
    from participation.realtime.outbox import take_events
    from participation.security.permissions import Role
    from participation.townhall import services

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": env["SECRET_KEY"],
                      "SOCKETIO_ASYNC_MODE": "threading",
                      "INSTANCE_PATH": str(Path(db_url.removeprefix("sqlite:///")).parent)})
    with app.app_context():
        people = {}
        for key, role in (("official", Role.OFFICIAL), ("moderator", Role.MODERATOR),
                          ("resident", Role.RESIDENT)):
            people[key] = register_user(db.session, email=f"{key}@bench.test",
                                        display_name=key.capitalize(), password=PASSWORD,
                                        role=role)
        now = utcnow()
        townhall = services.create_townhall(db.session, people["official"],
                                            title="Fan-out benchmark", starts_at=now,
                                            ends_at=now + timedelta(hours=2))
        services.set_status(db.session, people["official"], townhall, "live")
        ids = []
        for n in range(approvals):
            question = services.ask_question(
                db.session, people["resident"], townhall,
                text=f"Benchmark question {n}: how will the budget change bus services?")
            ids.append(question.id)
        db.session.commit()
        take_events(db.session)
        townhall_id = townhall.id
        db.engine.dispose()
    return townhall_id, ids


def sign_in(port: int, email: str = "moderator@bench.test") -> str:
    """The Cookie header of a browser signed in on the server at `port`."""
    import re

    http = requests.Session()
    base = f"http://127.0.0.1:{port}"
    page = http.get(base + "/login", timeout=30).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = http.post(base + "/login", timeout=30, allow_redirects=False, data={
        "email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.status_code
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def start_app(args: argparse.Namespace, workdir: Path, processes: list[subprocess.Popen],
              cpu: int | None = None) -> Server:
    db_url = f"sqlite:///{workdir / 'bench.db'}"
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": secrets.token_hex(32),
           "PARTICIPATION_ENV": "development", "INSTANCE_PATH": str(workdir),
           "SOCKETIO_ASYNC_MODE": "eventlet"}
    townhall_id, question_ids = prepare_app_database(db_url, env, args.approvals + 1)
    log = (workdir / "app.log").open("wb")
    process = subprocess.Popen([str(BIN / "participation"), "serve", "--port", str(port)],
                               env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    processes.append(process)
    wait_for_port(port, process)
    pin(process.pid, cpu)
    moderator = Socket(port, sign_in(port))
    assert moderator.call("join", {"townhall_id": townhall_id, "moderator": True})["ok"]
    return Server("app", port, process.pid, townhall_id, question_ids, moderator)


def start_bare(args: argparse.Namespace, workdir: Path, payload_bytes: int,
               processes: list[subprocess.Popen], cpu: int | None = None) -> Server:
    port = free_port()
    log = (workdir / "bare.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "bare_server.py"), "--port", str(port),
         "--payload-bytes", str(payload_bytes)],
        cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    processes.append(process)
    wait_for_port(port, process)
    pin(process.pid, cpu)
    moderator = Socket(port)
    assert moderator.call("join", {"townhall_id": 1})["ok"]
    return Server("bare", port, process.pid, 1, list(range(1, args.approvals + 2)), moderator)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, choices=(1, 2), default=1,
                        help="1: the app server against a bare Flask-SocketIO server (SQLite); "
                             "2: one worker at N watchers against two at 2N (PostgreSQL, Redis)")
    parser.add_argument("--database-url",
                        help="with --workers 2: PostgreSQL URL of a scratch database "
                             "(emptied, then migrated; created when missing)")
    parser.add_argument("--redis-url",
                        help="with --workers 2: Redis URL of the message queue")
    parser.add_argument("--clients", type=int,
                        help="watchers per server (default 1000); with --workers 2, per worker "
                             "(N, default 500)")
    parser.add_argument("--approvals", type=int, default=20, help="questions approved (K)")
    parser.add_argument("--concurrency", type=int, default=40,
                        help="watchers connecting at once")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds to wait before measuring memory (1 worker only)")
    parser.add_argument("--verbose", action="store_true",
                        help="also print when each approval was acknowledged (1 worker only)")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not pin the servers and the load generator to CPUs of their "
                             "own (1 worker only)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="give up connecting watchers after this many seconds")
    args = parser.parse_args()
    if args.workers == 2:
        compare_worker_counts(parser, args)
    else:
        compare_with_bare(parser, args)


def compare_worker_counts(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--workers 2: one worker at N watchers against two workers at 2N."""
    from scaled_fanout import argument_error, run

    if args.clients is None:
        args.clients = 500
    if args.database_url is None or args.redis_url is None:
        parser.error("--workers 2 needs --database-url (a scratch PostgreSQL database) "
                     "and --redis-url (the Redis message queue)")
    error = argument_error(args.database_url, args.redis_url, args.clients, args.approvals,
                           args.workers)
    if error:
        parser.error(error)
    run(args.database_url, args.redis_url, args.clients, args.approvals, args.workers,
        args.concurrency, args.timeout)


def compare_with_bare(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--workers 1: the app server against a bare Flask-SocketIO server, N watchers each."""
    if args.database_url is not None or args.redis_url is not None:
        parser.error("--database-url and --redis-url apply only with --workers 2 "
                     "(one worker runs on a scratch SQLite database)")
    if args.clients is None:
        args.clients = 1000
    if not 1 <= args.clients <= 10_000 or not 1 <= args.approvals <= 200:
        parser.error("--clients must be 1..10000 and --approvals 1..200")
    raise_open_file_limit()
    pinning = choose_pinning(args.pin)
    pin(os.getpid(), pinning.load)
    processes: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
        workdir = Path(tmp)
        try:
            app = start_app(args, workdir, processes, pinning.servers)
            app.approve(timed=False)  # warm-up; also tells the size of a `question` message
            payload_bytes = len(app.moderator.arrivals[-1][1])
            bare = start_bare(args, workdir, payload_bytes, processes, pinning.servers)
            bare.approve(timed=False)
            connect_all([app, bare], args.clients, args.concurrency, args.settle, args.timeout)
            # The watchers' own garbage collections would stall every reader in this process
            # at once and show as a slow delivery of whichever server's approval they hit.
            gc.collect()
            gc.freeze()
            gc.disable()
            # Approvals alternate between the servers (ABBA), so that load from anything else
            # on the machine falls on both alike.
            for n in range(args.approvals):
                for server in ((app, bare) if n % 2 == 0 else (bare, app)):
                    server.approve()
                progress(f"approval round {n + 1}/{args.approvals} done")
            gc.enable()
            for server in (app, bare):
                lost = sum(w.closed for w in server.watchers) + server.moderator.closed
                if lost or server.unanswered:
                    progress(f"{server.name}: {lost} sockets lost, "
                             f"{server.unanswered} approvals unanswered")
            results = [server.result(payload_bytes) for server in (app, bare)]
            for server in (app, bare):
                server.moderator.close()
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=20)
    app_result, bare_result = results
    for result in results:
        print(result.line(), flush=True)
    for server in (app, bare):
        print(server.name, "per approval max (ms):",
              " ".join(f"{m * 1000:.0f}" for m in server.per_approval_max))
    if args.verbose:
        for server in (app, bare):
            print(server.name, "moderate acknowledged after (ms):",
                  " ".join(f"{m * 1000:.0f}" for m in server.ack_times))
    print(pinning.line())
    p99_ratio = app_result.p(0.99) / bare_result.p(0.99)
    memory_ratio = app_result.per_connection_kib / bare_result.per_connection_kib
    print(f"ratio app/bare: p50={app_result.p(0.5) / bare_result.p(0.5):.2f} "
          f"p99={p99_ratio:.2f} memory={memory_ratio:.2f} "
          f"(p99 over all {app_result.delivered} and {bare_result.delivered} deliveries; "
          f"goal p99<=1.25 memory<=1.2)", flush=True)


if __name__ == "__main__":
    main()
