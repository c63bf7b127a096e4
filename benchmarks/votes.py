"""How fast residents can vote through the real server, against a bare insert loop.

N residents each open a Socket.IO connection to a real `participation serve` process (eventlet),
all vote at once with the `vote` event, and wait for their acks. In the same run a raw SQLAlchemy
loop inserts the same number of ballot rows, one transaction each, into the same kind of
database. Prints votes per second, the ack latency (p50, p99) and, as the last line, the ratio
of acked votes per second to raw inserts per second. Afterwards the poll's tally must equal the
number of ballots.

    .venv/bin/python benchmarks/votes.py --voters 500
    .venv/bin/python benchmarks/votes.py --voters 500 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/pt_polls_bench

The PostgreSQL database given is emptied (schema `public` is dropped and recreated). Residents
are created directly in the database with one shared password hash, and their session cookies
are signed with the server's key: the benchmark measures voting, not signing in. The load
generator is one thread speaking the Engine.IO/Socket.IO wire protocol over plain websockets, so
that it costs the shared CPU as little as possible.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NAMESPACE = "/townhall"
TIME_LIMIT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reset_postgresql(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def participation(*args: str, env: dict[str, str], cwd: Path) -> None:
    exe = Path(sys.executable).with_name("participation")
    subprocess.run([str(exe), *args], env=env, cwd=cwd, check=True, capture_output=True,
                   timeout=300)


def seed(env: dict[str, str], voters: int) -> dict[str, Any]:
    """Create the residents, a live town hall and two live-results polls (server and raw)."""
    from sqlalchemy import insert

    from participation import create_app
    from participation.accounts.models import User
    from participation.accounts.services import hash_password, register_user
    from participation.db import utcnow
    from participation.extensions import db
    from participation.polls import services as polls
    from participation.security.permissions import Role
    from participation.townhall import services as townhalls

    app = create_app({"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
                      "SECRET_KEY": env["SECRET_KEY"], "INSTANCE_PATH": env["INSTANCE_PATH"],
                      "SOCKETIO_ASYNC_MODE": "threading"})
    with app.app_context():
        session = db.session
        official = register_user(session, email="official@bench.example",
                                 display_name="Bench Official",
                                 password="benchmark password",  # noqa: S106
                                 role=Role.OFFICIAL)
        assert official is not None
        now = utcnow()
        townhall = townhalls.create_townhall(
            session, official, title="Benchmark town hall", starts_at=now,
            ends_at=now + timedelta(hours=2))
        townhalls.set_status(session, official, townhall, "live")
        shared_hash = hash_password("benchmark password")
        session.execute(insert(User), [
            {"email": f"voter{i}@bench.example", "display_name": f"Voter {i}",
             "password_hash": shared_hash, "role": Role.RESIDENT,
             "session_token": uuid.uuid4().hex, "created_at": now,
             # Voting asks for a confirmed address (CONFIRMED_EMAIL_REQUIRED_FOR).
             "email_confirmed_at": now}
            for i in range(voters)])
        served, raw = (polls.create_poll(
            session, official, question=f"Benchmark poll ({name})",
            options=["Yes", "No", "Later"], kind="single", results_mode="live",
            opens_at=now - timedelta(minutes=1), townhall_id=townhall.id)
            for name in ("server", "raw loop"))
        session.commit()
        users = session.query(User).filter(User.role == Role.RESIDENT).order_by(User.id).all()
        serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        cookies = [serializer.dumps({"_user_id": f"{u.id}:{u.session_token}", "_fresh": False})
                   for u in users]
        plan = {
            "townhall_id": townhall.id,
            "poll_id": served.id,
            "raw_poll_id": raw.id,
            "options": [o.id for o in served.options],
            "raw_options": [o.id for o in raw.options],
            "user_ids": [u.id for u in users],
            "cookies": cookies,
            "cookie_name": app.config.get("SESSION_COOKIE_NAME", "session"),
        }
        db.engine.dispose()
    return plan


def raw_insert_loop(url: str, plan: dict[str, Any]) -> float:
    """The baseline: the same ballot rows inserted by a bare loop, one transaction each."""
    import secrets

    from sqlalchemy import create_engine, insert

    import participation.db  # noqa: F401 - SQLite settings (WAL, BEGIN IMMEDIATE) as the server
    from participation.db import utcnow
    from participation.polls.models import Ballot

    engine = create_engine(url)
    options = plan["raw_options"]
    started = time.perf_counter()
    for n, user_id in enumerate(plan["user_ids"]):
        with engine.begin() as conn:
            conn.execute(insert(Ballot).values(
                poll_id=plan["raw_poll_id"], voter_id=user_id, choices=[options[n % 3]],
                receipt=secrets.token_hex(10).upper(), cast_at=utcnow()))
    elapsed = time.perf_counter() - started
    engine.dispose()
    return len(plan["user_ids"]) / elapsed


class Voter:
    """One resident's websocket, spoken in the Engine.IO 4 / Socket.IO 5 text protocol."""

    def __init__(self, url: str, cookie: str) -> None:
        import websocket

        self.ws = websocket.create_connection(url, cookie=cookie, timeout=30,
                                              origin=url.replace("ws://", "http://")
                                              .split("/socket.io")[0])
        opened = self.ws.recv()
        assert opened.startswith("0"), opened
        self.ws.send(f"40{NAMESPACE},")
        while True:
            reply = self.ws.recv()
            if reply.startswith(f"40{NAMESPACE},"):
                break
            if reply.startswith(f"44{NAMESPACE},"):
                raise RuntimeError(f"namespace refused: {reply}")
            if reply == "2":
                self.ws.send("3")
        self.ws.sock.setblocking(False)
        self.sent_at = 0.0
        self.acked_at = 0.0
        self.ack: dict[str, Any] | None = None

    def vote(self, poll_id: int, option_id: int) -> None:
        payload = json.dumps(["vote", {"poll_id": poll_id, "choices": [option_id],
                                       "client_id": uuid.uuid4().hex}])
        self.sent_at = time.perf_counter()
        self.ws.sock.setblocking(True)
        self.ws.send(f"42{NAMESPACE},1{payload}")
        self.ws.sock.setblocking(False)

    def read(self) -> bool:
        """Handle what arrived; True once the vote's ack is in."""
        import websocket

        while True:
            try:
                message = self.ws.recv()
            except (BlockingIOError, websocket.WebSocketTimeoutException, OSError):
                return self.ack is not None
            except Exception:  # noqa: BLE001 - the ssl-less socket reports "want read" variously
                return self.ack is not None
            if message == "2":
                self.ws.sock.setblocking(True)
                self.ws.send("3")
                self.ws.sock.setblocking(False)
            elif message.startswith(f"43{NAMESPACE},1"):
                self.acked_at = time.perf_counter()
                self.ack = json.loads(message[len(f"43{NAMESPACE},1"):])[0]

    def close(self) -> None:
        try:
            self.ws.sock.setblocking(True)
            self.ws.close()
        except Exception:  # noqa: BLE001, S110 - closing after the measurement
            pass


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_server_votes(base: str, plan: dict[str, Any], server_pid: int) -> dict[str, Any]:
    url = base.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    cookie_name = plan["cookie_name"]
    voters = [Voter(url, f"{cookie_name}={cookie}") for cookie in plan["cookies"]]
    time.sleep(0.5)  # the connections settle before the votes are timed
    cpu_before = cpu_seconds(server_pid)
    selector = selectors.DefaultSelector()
    for voter in voters:
        selector.register(voter.ws.sock, selectors.EVENT_READ, voter)
    options = plan["options"]
    started = time.perf_counter()
    for n, voter in enumerate(voters):
        voter.vote(plan["poll_id"], options[n % 3])
    pending = set(range(len(voters)))
    index = {id(v): i for i, v in enumerate(voters)}
    deadline = time.monotonic() + TIME_LIMIT
    while pending and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1.0):
            voter = key.data
            if voter.read():
                pending.discard(index[id(voter)])
    elapsed = time.perf_counter() - started
    server_cpu = cpu_seconds(server_pid) - cpu_before
    acks = [v.ack for v in voters]
    latencies = sorted(v.acked_at - v.sent_at for v in voters if v.ack is not None)
    for voter in voters:
        selector.unregister(voter.ws.sock)
        voter.close()
    ok = sum(1 for ack in acks if ack and ack.get("ok"))
    errors = sorted({ack.get("error") for ack in acks if ack and not ack.get("ok")})
    return {
        "acked": ok,
        "missing": len(pending),
        "errors": errors,
        "votes_per_second": ok / elapsed if elapsed else 0.0,
        "server_cpu_ms_per_vote": 1000 * server_cpu / ok if ok else float("nan"),
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        if latencies else float("nan"),
    }


def check_tally(base: str, env: dict[str, str], plan: dict[str, Any]) -> tuple[int, int]:
    """The poll's published tally and its number of stored ballots."""
    import requests
    from sqlalchemy import create_engine, func, select

    from participation.polls.models import Ballot

    tally = requests.get(f"{base}/api/v1/polls/{plan['poll_id']}", timeout=30).json()
    engine = create_engine(env["DATABASE_URL"])
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(Ballot)
                             .where(Ballot.poll_id == plan["poll_id"]))
    engine.dispose()
    return tally["results"]["ballots"], int(stored or 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voters", type=int, default=500)
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL URL (emptied first); default: a new SQLite file")
    args = parser.parse_args()
    if not 1 <= args.voters <= 5000:
        parser.error("--voters must be between 1 and 5000")

    workdir = Path(tempfile.mkdtemp(prefix="votes-bench-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    if url.startswith("postgresql"):
        reset_postgresql(url)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-" + uuid.uuid4().hex,
           "INSTANCE_PATH": str(workdir), "PARTICIPATION_ENV": "development"}
    env.pop("SOCKETIO_ASYNC_MODE", None)
    participation("db", "upgrade", env=env, cwd=workdir)
    plan = seed(env, args.voters)
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"

    log = (workdir / "server.log").open("wb")
    exe = Path(sys.executable).with_name("participation")
    server = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)
        measured = run_server_votes(base, plan, server.pid)
        time.sleep(0.5)  # let the last coalesced tally go out
        tally, stored = check_tally(base, env, plan)
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()
    raw = raw_insert_loop(url, plan)

    print(f"backend: {backend}; voters: {args.voters}")
    print(f"acked votes: {measured['acked']} (missing acks: {measured['missing']}, "
          f"errors: {', '.join(measured['errors']) or 'none'})")
    print(f"tally: {tally}; ballots stored: {stored}; "
          f"{'equal' if tally == stored == measured['acked'] else 'NOT EQUAL'}")
    print(f"server votes/s: {measured['votes_per_second']:.0f}")
    print(f"ack latency p50: {measured['p50_ms']:.1f} ms; p99: {measured['p99_ms']:.1f} ms")
    print(f"server CPU per vote: {measured['server_cpu_ms_per_vote']:.2f} ms")
    print(f"raw insert loop rows/s: {raw:.0f}")
    ratio = measured["votes_per_second"] / raw if raw else 0.0
    print(f"ratio server/raw: {ratio:.2f}")
    return 0 if tally == stored == measured["acked"] == args.voters else 1


if __name__ == "__main__":
    sys.exit(main())
