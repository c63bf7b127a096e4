"""A meeting: one live town hall under a realistic load, each delivery checked with the database.

Starts the real app server (`participation serve`, eventlet) on a fresh database, SQLite or
PostgreSQL, and runs one live town hall for `--duration` seconds:
  * `--watchers` signed-in residents follow the room (they only listen, until the poll);
  * `--residents` others ask (`--questions-per-second` in all) and upvote approved questions
    (`--upvotes-per-second` in all), each waiting for the ack of what it sent;
  * a moderator approves the oldest pending question `--approvals-per-minute` times a minute,
    highlighting the first approved and every fifth after it; after `--poll-at` seconds they
    open a poll, which `--voters` of the watchers vote in, at random moments within
    `--vote-window` seconds, and close it once every vote is acknowledged.

Every socket counts the sequence numbers of the events it receives. At the end the town hall's
event log in the database says what each socket should have received (the public events after
its join, and those for its own account or, for the moderator, the moderators): a number missing
is lost, one received twice duplicated. The questions, upvotes and ballots stored must equal the
acknowledged asks, upvotes and votes; a refused or unanswered call, a dropped socket or a
mismatch is an error.

Prints, per kind of call, the p50, p99 and max of the time from sending it to its ack; the p50,
p99 and max of the time from the moderator sending each approval to each socket receiving the
question (the server broadcasts before it acknowledges, so the ack is no starting point); the
server's CPU and memory and the load generator's CPU; and, as the last line, errors, lost and
duplicated events and the ack p99 of `ask`, `upvote` and `vote`
(goal at 2,000 watchers: 0, 0, 0 and each p99 under 250 ms).

    .venv/bin/python benchmarks/meeting.py [--watchers 2000] [--duration 300] [--no-pin]
    .venv/bin/python benchmarks/meeting.py --database postgresql --database-url URL

The PostgreSQL database is emptied and migrated (and created when missing): give it a scratch
one (`--database-url`, or PARTICIPATION_BENCH_DATABASE_URL). Accounts are written straight into
the database with one shared password hash and their session cookies signed with the server's
key: the benchmark measures the meeting, not signing in. As in benchmarks/fanout.py, the server
and the load generator are pinned to CPUs of their own where there are two; the load generator's
sockets read whole buffers and parse frames themselves, so that thousands of watchers cost it
little. Everything runs on 127.0.0.1 and is bounded by count and time.
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

from fanout import (  # noqa: E402
    ACK_PREFIX,
    BIN,
    NS,
    ROOT,
    Socket,
    choose_pinning,
    connect_watchers,
    free_port,
    pin,
    progress,
    raise_open_file_limit,
    rss_kib,
    wait_for_port,
)
from scaled_fanout import reset_database  # noqa: E402
from votes import cpu_seconds  # noqa: E402

EVENT_PREFIX = f"42{NS},["
QUESTION_ID_PREFIX = f'42{NS},["question",{{"question":{{"id":'
SEQ_KEY = ',"seq":'
# Pre-approved questions, asked before the meeting by someone outside the load, so that
# residents have something to upvote from the first second.
EARLY_QUESTIONS = 20
KINDS = ("join", "ask", "upvote", "vote", "approve", "highlight", "poll_open", "poll_close")


class Member(Socket):
    """A socket in the meeting's room that reads whole buffers and parses the frames itself.

    It answers pings, stamps acknowledgements with their arrival, notes every sequence number
    it receives (and each one received again), and when each question first reached it.
    """

    def __init__(self, port: int, cookie: str | None, user_id: int | None) -> None:
        self.user_id = user_id
        self.seen = bytearray(4096)
        self.duplicated = 0
        self.first: dict[int, tuple[float, int]] = {}
        self.join_seq = 0
        super().__init__(port, cookie)

    def _read(self) -> None:
        sock = self.ws.sock
        buffer = b""
        try:
            while True:
                chunk = sock.recv(262144)
                if not chunk:
                    break
                arrived = time.perf_counter()
                buffer = buffer + chunk if buffer else chunk
                start, end = 0, len(buffer)
                while end - start >= 2:
                    opcode, length = buffer[start] & 0x0F, buffer[start + 1] & 0x7F
                    head = 2
                    if length == 126:
                        if end - start < 4:
                            break
                        length, head = int.from_bytes(buffer[start + 2:start + 4], "big"), 4
                    elif length == 127:
                        if end - start < 10:
                            break
                        length, head = int.from_bytes(buffer[start + 2:start + 10], "big"), 10
                    if end - start < head + length:
                        break
                    if opcode == 8:
                        raise EOFError("closed by the server")
                    if opcode == 1:
                        self._message(buffer[start + head:start + head + length].decode(),
                                      arrived)
                    start += head + length
                buffer = buffer[start:]
        except Exception:  # noqa: BLE001, S110 - the socket closed (at the end, or lost)
            pass
        self.closed = True

    def _message(self, message: str, arrived: float) -> None:
        if message.startswith(EVENT_PREFIX):
            at = message.rfind(SEQ_KEY)
            if at < 0 or not message.endswith("}]"):
                return  # not from the event log (presence counts)
            seq = int(message[at + len(SEQ_KEY):-2])
            if seq >= len(self.seen):
                self.seen.extend(bytes(seq + 4096 - len(self.seen)))
            if self.seen[seq]:
                self.duplicated += 1
            self.seen[seq] = 1
            if message.startswith(QUESTION_ID_PREFIX):
                rest = message[len(QUESTION_ID_PREFIX):]
                qid = int(rest[:len(rest) - len(rest.lstrip("0123456789"))])
                # The room's copy, not the author's own (which says why it might be refused).
                if qid not in self.first and '"reject_reason"' not in message:
                    self.first[qid] = (arrived, seq)
        elif message == "2":
            self.ws.send("3")
        elif message.startswith(ACK_PREFIX):
            body = message[len(ACK_PREFIX):]
            digits = len(body) - len(body.lstrip("0123456789"))
            waiter = self.pending.pop(int(body[:digits]), None)
            if waiter is not None:
                waiter.send((arrived, json.loads(body[digits:])[0]))

    def call(self, name: str, data: dict, timeout: float = 120) -> dict:
        answer = self.timed_call(name, data, timeout)[2]
        if name == "join" and answer.get("ok"):
            self.join_seq = answer["seq"]
        return answer

    def timed_call(self, name: str, data: dict,
                   timeout: float = 60) -> tuple[float, float, dict]:
        """Send one event; (sent at, acknowledged at, ack). Raises eventlet.Timeout."""
        sent = time.perf_counter()
        acked, answer = super().call(name, data, timeout)  # type: ignore[misc]
        return sent, acked, answer

    def received(self) -> set[int]:
        return {seq for seq, mark in enumerate(self.seen) if mark}

    def close(self) -> None:
        """Drop the connection without the closing handshake, which the reader would eat."""
        self.reader.kill()
        try:
            self.ws.shutdown()
        except Exception:  # noqa: BLE001, S110 - closing after the run
            pass


@dataclass
class Plan:
    townhall_id: int
    poll_id: int
    options: list[int]
    moderator: tuple[int, str]
    residents: list[tuple[int, str]]
    watchers: list[tuple[int, str]]
    early_ids: list[int]
    cookie_name: str


@dataclass
class Tally:
    """What the load generator sent and what came back."""

    acks: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    refused: dict[str, int] = field(default_factory=lambda: {k: 0 for k in KINDS})
    unanswered: dict[str, int] = field(default_factory=lambda: {k: 0 for k in KINDS})
    refusals: dict[str, int] = field(default_factory=dict)
    asked: list[int] = field(default_factory=list)
    approved: dict[int, float] = field(default_factory=dict)
    upvotes: int = 0
    ballots: int = 0

    def call(self, kind: str, member: Member, name: str, data: dict) -> dict | None:
        try:
            sent, acked, answer = member.timed_call(name, data)
        except eventlet.Timeout:
            self.unanswered[kind] += 1
            return None
        self.acks[kind].append(acked - sent)
        if not answer.get("ok"):
            self.refused[kind] += 1
            reason = f"{kind}: {answer.get('error')}: {answer.get('message')}"[:160]
            self.refusals[reason] = self.refusals.get(reason, 0) + 1
            return None
        return answer


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def prepare(db_url: str, env: dict[str, str], workdir: Path, args: argparse.Namespace) -> Plan:
    """Migrate; create the accounts, the live town hall, its early questions and its poll."""
    progress("migrating the database")
    result = subprocess.run([str(BIN / "participation"), "db", "upgrade"], env=env, cwd=workdir,
                            capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    from sqlalchemy import insert, select

    from participation import create_app
    from participation.accounts.models import User
    from participation.accounts.services import hash_password
    from participation.db import utcnow
    from participation.extensions import db
    from participation.polls import services as polls
    from participation.realtime.outbox import take_events
    from participation.security.permissions import Role
    from participation.townhall import services as townhalls

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": env["SECRET_KEY"],
                      "SOCKETIO_ASYNC_MODE": "threading", "INSTANCE_PATH": str(workdir)})
    password = secrets.token_urlsafe(16)
    progress(f"creating {args.watchers + args.residents + 3} accounts and the town hall")
    with app.app_context():
        session = db.session
        now = utcnow()
        shared_hash = hash_password(password)
        people = [("official", Role.OFFICIAL), ("moderator", Role.MODERATOR),
                  ("early", Role.RESIDENT)]
        people += [(f"resident{n}", Role.RESIDENT) for n in range(args.residents)]
        people += [(f"watcher{n}", Role.RESIDENT) for n in range(args.watchers)]
        session.execute(insert(User), [
            {"email": f"{key}@bench.example.org", "display_name": key.capitalize(),
             "password_hash": shared_hash, "role": role, "session_token": uuid.uuid4().hex,
             "created_at": now, "email_confirmed_at": now} for key, role in people])
        by_email = {u.email: u for u in session.scalars(
            select(User).where(User.email.like("%@bench.example.org")))}
        official, moderator, early = (by_email[f"{key}@bench.example.org"]
                                      for key in ("official", "moderator", "early"))
        townhall = townhalls.create_townhall(session, official, title="Meeting benchmark",
                                             starts_at=now, ends_at=now + timedelta(hours=2))
        townhalls.set_status(session, official, townhall, "live")
        early_ids = []
        for n in range(EARLY_QUESTIONS):
            question = townhalls.ask_question(
                session, early, townhall,
                text=f"Early question {n}: when will the library open on Sundays?")
            townhalls.approve_question(session, moderator, question)
            early_ids.append(question.id)
        poll = polls.create_poll(session, official, question="Which project first?",
                                 options=["The park", "The library", "The bus lanes"],
                                 kind="single", results_mode="live", townhall_id=townhall.id)
        session.commit()
        take_events(session)
        serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]

        logins = {email: (user_id, token) for email, user_id, token in session.execute(
            select(User.email, User.id, User.session_token)
            .where(User.email.like("%@bench.example.org")))}

        def signed(key: str) -> tuple[int, str]:
            user_id, token = logins[f"{key}@bench.example.org"]
            return user_id, serializer.dumps({"_user_id": f"{user_id}:{token}", "_fresh": False})

        plan = Plan(
            townhall_id=townhall.id, poll_id=poll.id, options=[o.id for o in poll.options],
            moderator=signed("moderator"),
            residents=[signed(f"resident{n}") for n in range(args.residents)],
            watchers=[signed(f"watcher{n}") for n in range(args.watchers)],
            early_ids=early_ids, cookie_name=app.config.get("SESSION_COOKIE_NAME", "session"))
        db.session.remove()
        db.engine.dispose()
    return plan


class Meeting:
    """The load: residents asking and upvoting, the moderator, the poll and its voters."""

    def __init__(self, args: argparse.Namespace, plan: Plan, moderator: Member,
                 residents: list[Member], watchers: list[Member]) -> None:
        self.args = args
        self.plan = plan
        self.moderator = moderator
        self.residents = residents
        self.watchers = watchers
        self.tally = Tally()
        self.rng = random.Random(20261204)  # noqa: S311 - a reproducible load, not secrets
        self.pending: list[int] = []
        self.open: list[int] = list(plan.early_ids)
        self.upvoted: set[tuple[int, int]] = set()
        self.authors: dict[int, int] = {}
        self.poll_opened = eventlet.event.Event()

    def run(self) -> None:
        started = time.monotonic()
        until = started + self.args.duration
        loops = [eventlet.spawn(self.asking, started, until),
                 eventlet.spawn(self.upvoting, started, until),
                 eventlet.spawn(self.moderating, started, until),
                 eventlet.spawn(self.polling, started, until)]
        for loop in loops:
            loop.wait()

    @staticmethod
    def paced(started: float, until: float, per_second: float) -> Iterator[int]:
        """Yield the number of each tick at `per_second`, on schedule, until `until`."""
        if per_second <= 0:
            return
        n = 0
        while True:
            due = started + n / per_second
            if due >= until:
                return
            eventlet.sleep(max(0.0, due - time.monotonic()))
            yield n
            n += 1

    def asking(self, started: float, until: float) -> None:
        pool = eventlet.GreenPool(1000)
        for n in self.paced(started, until, self.args.questions_per_second):
            pool.spawn_n(self.ask, n)
        pool.waitall()

    def ask(self, n: int) -> None:
        member = self.residents[n % len(self.residents)]
        answer = self.tally.call("ask", member, "ask", {
            "townhall_id": self.plan.townhall_id, "client_id": uuid.uuid4().hex,
            "text": f"Question {n} from resident {member.user_id}: what happens to the "
                    f"crossing on street {n % 97}?"})
        if answer is not None:
            qid = answer["question"]["id"]
            self.tally.asked.append(qid)
            self.authors[qid] = member.user_id or 0
            self.pending.append(qid)

    def upvoting(self, started: float, until: float) -> None:
        pool = eventlet.GreenPool(1000)
        turn = 0
        for _ in self.paced(started, until, self.args.upvotes_per_second):
            for _attempt in range(len(self.residents)):
                member = self.residents[turn % len(self.residents)]
                turn += 1
                choices = [q for q in self.open if (member.user_id, q) not in self.upvoted
                           and self.authors.get(q) != member.user_id]
                if choices:
                    qid = self.rng.choice(choices)
                    self.upvoted.add((member.user_id or 0, qid))
                    pool.spawn_n(self.upvote, member, qid)
                    break
        pool.waitall()

    def upvote(self, member: Member, qid: int) -> None:
        if self.tally.call("upvote", member, "upvote", {"question_id": qid, "value": True}):
            self.tally.upvotes += 1

    def moderating(self, started: float, until: float) -> None:
        for _ in self.paced(started, until, self.args.approvals_per_minute / 60):
            if not self.pending:
                continue
            qid = self.pending.pop(0)
            sent = time.perf_counter()
            if self.tally.call("approve", self.moderator, "moderate",
                               {"question_id": qid, "action": "approve"}) is None:
                continue
            self.tally.approved[qid] = sent
            self.open.append(qid)
            if len(self.tally.approved) % 5 == 1:
                self.tally.call("highlight", self.moderator, "moderate",
                                {"question_id": qid, "action": "highlight"})

    def polling(self, started: float, until: float) -> None:
        eventlet.sleep(max(0.0, started + self.args.poll_at - time.monotonic()))
        if time.monotonic() >= until:
            return
        if self.tally.call("poll_open", self.moderator, "poll_control",
                           {"poll_id": self.plan.poll_id, "action": "open"}) is None:
            return
        opened = time.monotonic()
        voters = self.watchers[:self.args.voters]
        pool = eventlet.GreenPool(len(voters) or 1)
        for member in voters:
            pool.spawn_n(self.vote, member, opened + self.rng.uniform(0, self.args.vote_window),
                         self.rng.choice(self.plan.options))
        pool.waitall()
        self.tally.call("poll_close", self.moderator, "poll_control",
                        {"poll_id": self.plan.poll_id, "action": "close"})

    def vote(self, member: Member, at: float, option: int) -> None:
        eventlet.sleep(max(0.0, at - time.monotonic()))
        if self.tally.call("vote", member, "vote", {"poll_id": self.plan.poll_id,
                                                    "choices": [option],
                                                    "client_id": uuid.uuid4().hex}):
            self.tally.ballots += 1


@dataclass
class Stored:
    """What the database holds at the end."""

    events: list[tuple[int, str, str | None]]
    questions: int
    approved: int
    upvotes: int
    ballots: int


def read_database(db_url: str, plan: Plan) -> Stored:
    from sqlalchemy import create_engine, func, select

    import participation.db  # noqa: F401 - the same SQLite settings as the server
    from participation.polls.models import Ballot
    from participation.realtime.models import Event
    from participation.townhall.models import Question, QuestionStatus, Upvote

    engine = create_engine(db_url)
    early = plan.early_ids
    with engine.connect() as conn:
        events = [(seq, audience, subject) for seq, audience, subject in conn.execute(
            select(Event.seq, Event.audience, Event.subject)
            .where(Event.townhall_id == plan.townhall_id).order_by(Event.seq))]
        asked = select(func.count()).select_from(Question).where(
            Question.townhall_id == plan.townhall_id, Question.id.not_in(early))
        stored = Stored(
            events=events,
            questions=conn.scalar(asked) or 0,
            approved=conn.scalar(asked.where(Question.status.in_(
                [QuestionStatus.APPROVED, QuestionStatus.ANSWERED])))
            or 0,
            upvotes=conn.scalar(select(func.count()).select_from(Upvote).join(
                Question, Question.id == Upvote.question_id).where(
                Question.townhall_id == plan.townhall_id)) or 0,
            ballots=conn.scalar(select(func.count()).select_from(Ballot).where(
                Ballot.poll_id == plan.poll_id)) or 0)
    engine.dispose()
    return stored


@dataclass
class Deliveries:
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    expected: int = 0
    received: int = 0
    approval_latencies: list[float] = field(default_factory=list)
    approvals_expected: int = 0


def check_deliveries(stored: Stored, tally: Tally, moderator: Member,
                     members: list[Member]) -> Deliveries:
    """Compare what each socket received with what the event log says it should have."""
    public = [(seq, audience) for seq, audience, _ in stored.events]
    first_public: dict[int, int] = {}
    for seq, audience, subject in stored.events:
        if audience == "public" and subject and subject.startswith("question:"):
            first_public.setdefault(int(subject.split(":")[1]), seq)
    found = Deliveries()
    for member in [moderator, *members]:
        mine = {"public", f"user:{member.user_id}"}
        if member is moderator:
            mine.add("moderators")
        expected = {seq for seq, audience in public
                    if seq > member.join_seq and audience in mine}
        received = member.received()
        found.expected += len(expected)
        found.received += len(received)
        found.lost += len(expected - received)
        found.unexpected += len(received - expected)
        found.duplicated += member.duplicated
        if member is moderator:
            continue
        for qid, sent in tally.approved.items():
            found.approvals_expected += 1
            arrived, seq = member.first.get(qid, (None, None))
            if arrived is not None and seq == first_public.get(qid):
                found.approval_latencies.append(arrived - sent)
    return found


def connect(port: int, plan: Plan, people: list[tuple[int, str]], args: argparse.Namespace,
            deadline: float) -> list[Member]:
    def make(n: int) -> Member:
        user_id, cookie = people[n]
        return Member(port, f"{plan.cookie_name}={cookie}", user_id)

    members = connect_watchers(port, plan.townhall_id, len(people), args.concurrency, deadline,
                               make)
    return members  # type: ignore[return-value]


def run(args: argparse.Namespace) -> int:
    raise_open_file_limit()
    pinning = choose_pinning(args.pin)
    pin(os.getpid(), pinning.load)
    processes: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="meeting-") as tmp:
        workdir = Path(tmp)
        if args.database == "postgresql":
            db_url = args.database_url
            reset_database(db_url)
        else:
            db_url = f"sqlite:///{workdir / 'bench.db'}"
        # The server runs the code of the checkout this benchmark is in.
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path, "DATABASE_URL": db_url,
               "SECRET_KEY": secrets.token_hex(32),
               "PARTICIPATION_ENV": "development", "INSTANCE_PATH": str(workdir),
               "SOCKETIO_ASYNC_MODE": "eventlet"}
        plan = prepare(db_url, env, workdir, args)
        port = free_port()
        log = (workdir / "server.log").open("wb")
        server = subprocess.Popen([str(BIN / "participation"), "serve", "--port", str(port)],
                                  env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        processes.append(server)
        try:
            wait_for_port(port, server)
            pin(server.pid, pinning.servers)
            deadline = time.monotonic() + args.timeout
            progress(f"connecting {args.watchers} watchers and {args.residents} residents")
            watchers = connect(port, plan, plan.watchers, args, deadline)
            residents = connect(port, plan, plan.residents, args, deadline)
            user_id, cookie = plan.moderator
            moderator = Member(port, f"{plan.cookie_name}={cookie}", user_id)
            join = moderator.call("join", {"townhall_id": plan.townhall_id, "moderator": True})
            assert join["ok"], join
            members = [*watchers, *residents]
            eventlet.sleep(2)  # let batched presence announcements go out
            rss_before = rss_kib(server.pid)
            cpu_before = cpu_seconds(server.pid)
            own_before = time.process_time()
            load_before = os.getloadavg()[0]
            gc.collect()
            gc.freeze()
            gc.disable()
            progress(f"meeting for {args.duration:g} s")
            meeting = Meeting(args, plan, moderator, residents, watchers)
            tally = meeting.tally
            began = time.monotonic()
            meeting.run()
            eventlet.sleep(args.settle)  # the last broadcasts and tallies arrive
            elapsed = time.monotonic() - began
            server_cpu = cpu_seconds(server.pid) - cpu_before
            own_cpu = time.process_time() - own_before
            rss_after = rss_kib(server.pid)
            gc.enable()
            dropped = sum(m.closed for m in [moderator, *members])
            stored = read_database(db_url, plan)
            found = check_deliveries(stored, tally, moderator, members)
            for member in [moderator, *members]:
                member.close()
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=20)
            server_log = (workdir / "server.log").read_text(errors="replace")
    code = report(args, pinning.line(), tally, stored, found, dropped, {
        "elapsed": elapsed, "server_cpu": server_cpu, "own_cpu": own_cpu,
        "rss_before": rss_before, "rss_after": rss_after,
        "load_before": load_before})
    if code:
        progress("the end of the server's log:\n" + "\n".join(server_log.splitlines()[-40:]))
    return code


def report(args: argparse.Namespace, pinning: str, tally: Tally, stored: Stored,
           found: Deliveries, dropped: int, usage: dict[str, float]) -> int:
    ms = 1000
    backend = "PostgreSQL" if args.database == "postgresql" else "SQLite"
    print(f"meeting on {backend}: watchers={args.watchers} residents={args.residents} "
          f"voters={args.voters} duration={args.duration:g}s", flush=True)
    print(f"{'ack':<11} {'count':>7} {'p50':>9} {'p99':>9} {'max':>9} {'refused':>8} "
          f"{'unanswered':>10}")
    for kind in KINDS[1:]:
        values = tally.acks[kind]
        print(f"{kind:<11} {len(values):>7} {percentile(values, 0.5) * ms:>7.1f}ms "
              f"{percentile(values, 0.99) * ms:>7.1f}ms {max(values or [0]) * ms:>7.1f}ms "
              f"{tally.refused[kind]:>8} {tally.unanswered[kind]:>10}")
    latencies = found.approval_latencies
    print(f"approval to delivery: deliveries={len(latencies)}/{found.approvals_expected} "
          f"p50={percentile(latencies, 0.5) * ms:.1f}ms "
          f"p99={percentile(latencies, 0.99) * ms:.1f}ms max={max(latencies or [0]) * ms:.1f}ms")
    print(f"events: stored={len(stored.events)} expected={found.expected} "
          f"received={found.received} lost={found.lost} duplicated={found.duplicated} "
          f"unexpected={found.unexpected} sockets dropped={dropped}")
    checks = {"questions": (stored.questions, len(tally.asked)),
              "approved": (stored.approved, len(tally.approved)),
              "upvotes": (stored.upvotes, tally.upvotes),
              "ballots": (stored.ballots, tally.ballots)}
    mismatches = sum(a != b for a, b in checks.values())
    print("database: " + " ".join(f"{name}={a} (acked {b})" for name, (a, b) in checks.items())
          + ("; equal" if not mismatches else "; NOT EQUAL"))
    for reason, count in sorted(tally.refusals.items()):
        print(f"refused {count}x: {reason}")
    print(f"server: cpu={100 * usage['server_cpu'] / usage['elapsed']:.0f}% of one CPU "
          f"rss={usage['rss_after'] / 1024:.1f}MiB "
          f"(+{(usage['rss_after'] - usage['rss_before']) / 1024:.1f}MiB during the meeting); "
          f"load generator: cpu={100 * usage['own_cpu'] / usage['elapsed']:.0f}% of one CPU")
    print(f"{pinning}; load average of the machine {usage['load_before']:.1f} before the "
          f"meeting, {os.getloadavg()[0]:.1f} after")
    errors = (sum(tally.refused.values()) + sum(tally.unanswered.values()) + dropped
              + mismatches + found.unexpected)
    p99 = " ".join(f"{kind}={percentile(tally.acks[kind], 0.99) * ms:.1f}ms"
                   for kind in ("ask", "upvote", "vote"))
    print(f"summary: errors={errors} lost={found.lost} duplicated={found.duplicated} "
          f"ack p99 {p99} (goal: 0 errors, 0 lost, 0 duplicated, p99 < 250ms)", flush=True)
    return 0 if errors == found.lost == found.duplicated == 0 else 1


def argument_error(args: argparse.Namespace) -> str | None:
    """What is wrong with the command line, in words, or None."""
    if not 1 <= args.watchers <= 10_000 or not 1 <= args.residents <= 5_000:
        return "--watchers must be 1..10000 and --residents 1..5000"
    if not 0 <= args.voters <= args.watchers:
        return "--voters must be 0..--watchers (the voters are watchers)"
    if not 1 <= args.duration <= 3600 or args.vote_window < 0 or args.poll_at < 0:
        return "--duration must be 1..3600 s, --vote-window and --poll-at at least 0"
    if min(args.questions_per_second, args.upvotes_per_second, args.approvals_per_minute) < 0:
        return "the rates must be at least 0"
    # Each resident asks and upvotes in turn: keep every account well inside the server's
    # limits (LIMIT_ASK 5 a minute and 30 an hour, LIMIT_UPVOTE 60 a minute).
    if args.questions_per_second * 60 / args.residents > 3 or (
            args.questions_per_second * args.duration / args.residents > 25):
        return ("too many questions per resident: at most 3 a minute and 25 in the run "
                "(the server limits asking); add --residents or lower --questions-per-second")
    if args.upvotes_per_second * 60 / args.residents > 40:
        return ("too many upvotes per resident: at most 40 a minute (the server limits "
                "upvoting); add --residents or lower --upvotes-per-second")
    if args.database == "postgresql":
        url = args.database_url or ""
        if not url.startswith("postgresql"):
            return ("--database postgresql needs --database-url (or "
                    "PARTICIPATION_BENCH_DATABASE_URL): a scratch PostgreSQL database, "
                    "which is emptied")
        if not re.fullmatch(r"[A-Za-z0-9_]+", url.rpartition("/")[2]):
            return "--database-url must end in a plain database name"
    elif args.database_url:
        return "--database-url applies only with --database postgresql"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watchers", type=int, default=2000,
                        help="signed-in residents following the room (5000 for the big one)")
    parser.add_argument("--residents", type=int, default=300,
                        help="residents asking and upvoting")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of meeting")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url",
                        default=os.environ.get("PARTICIPATION_BENCH_DATABASE_URL"),
                        help="with --database postgresql: a scratch database (emptied, then "
                             "migrated; created when missing)")
    parser.add_argument("--questions-per-second", type=float, default=1.0)
    parser.add_argument("--upvotes-per-second", type=float, default=20.0)
    parser.add_argument("--approvals-per-minute", type=float, default=20.0)
    parser.add_argument("--voters", type=int, default=1500, help="watchers who vote in the poll")
    parser.add_argument("--vote-window", type=float, default=30.0,
                        help="seconds after the poll opens within which every voter votes")
    parser.add_argument("--poll-at", type=float,
                        help="seconds into the meeting the poll opens (default: a fifth of "
                             "the duration)")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds to wait at the end for the last deliveries")
    parser.add_argument("--concurrency", type=int, default=40, help="sockets connecting at once")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="give up connecting sockets after this many seconds")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not pin the server and the load generator to CPUs of their own")
    args = parser.parse_args()
    if args.poll_at is None:
        args.poll_at = args.duration / 5
    error = argument_error(args)
    if error:
        parser.error(error)
    sys.exit(run(args))


if __name__ == "__main__":
    main()
