"""The numbers page on three years of a mid-sized city, against the same page on a small town.

Fills a fresh database with the history the issue names (at --scale 1: 50,000 accounts, 2,000
town halls with 200,000 questions and 400,000 upvotes, 400 polls with 1,000,000 ballots, 20,000
threads with 300,000 posts, 2,000 decision records with 4,000 commitments), spread over the last
three years, then times, uncached, the figures service and the page itself (`GET /numbers`,
`GET /api/v1/numbers`) for the last twelve months, the whole three years and one department,
and counts their SQL statements. The same is measured first on a database a hundredth the size
(--baseline-scale), in the same run: the statement counts must be equal (the number of
statements depends on the period, not on the data) and the last line gives the time ratio.

    .venv/bin/python benchmarks/history.py                      # SQLite
    .venv/bin/python benchmarks/history.py --database postgresql
    .venv/bin/python benchmarks/history.py --scale 0.05         # a quick look

PostgreSQL runs in a scratch database (`participation_bench_history`, created and dropped on the
server of --postgresql-url). Rows are written with plain multi-row INSERTs, not the services:
the benchmark measures reading the history, not making it.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCRATCH = "participation_bench_history"
GOAL_MS = 500
# At scale 1, as the issue puts a mid-sized city's three years.
SIZES = {"accounts": 50_000, "townhalls": 2_000, "questions": 200_000, "upvotes": 400_000,
         "polls": 400, "ballots": 1_000_000, "threads": 20_000, "posts": 300_000,
         "records": 2_000}
DEPARTMENTS = ["Transport", "Parks", "Housing", "Finance", "Libraries", "Water"]
CHUNK = 5_000


def scaled(scale: float) -> dict[str, int]:
    sizes = {name: max(2, int(count * scale)) for name, count in SIZES.items()}
    # One ballot per account and poll, one upvote per account and question: at most half the
    # pairs, so that drawing distinct pairs ends quickly.
    sizes["ballots"] = min(sizes["ballots"], sizes["polls"] * sizes["accounts"] // 2)
    sizes["upvotes"] = min(sizes["upvotes"], sizes["questions"] * sizes["accounts"] // 2)
    return sizes


def migrate(url: str, folder: Path) -> None:
    env = {**os.environ, "DATABASE_URL": url, "INSTANCE_PATH": str(folder),
           "ENV_NAME": "development"}
    exe = Path(sys.executable).with_name("participation")
    subprocess.run([str(exe), "db", "upgrade"], env=env, cwd=ROOT, check=True,
                   capture_output=True, timeout=600)


def scratch_postgresql(server_url: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(server_url).set(database="postgres"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {SCRATCH}"))
    admin.dispose()
    return make_url(server_url).set(database=SCRATCH).render_as_string(hide_password=False)


def drop_postgresql(server_url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(server_url).set(database="postgres"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)"))
    admin.dispose()


def fill(url: str, sizes: dict[str, int], now: datetime, seed: int = 7) -> float:
    """Write the history; returns the seconds it took."""
    from sqlalchemy import create_engine, insert

    from participation.accounts.models import User
    from participation.decisions.models import Commitment, DecisionLink, DecisionRecord
    from participation.forums.models import Post, Thread, Topic
    from participation.polls.models import Ballot, Poll, PollKind, ResultsMode
    from participation.townhall.models import Question, QuestionStatus, Status, TownHall, Upvote

    rng = random.Random(seed)
    started = time.perf_counter()
    span = 3 * 365 * 86_400

    def moment() -> datetime:
        return now - timedelta(seconds=rng.uniform(0, span))

    engine = create_engine(url)

    def put(table: Any, rows: list[dict[str, Any]]) -> None:
        keys = {key for row in rows[:1000] for key in row}
        for row in rows:  # one INSERT for many rows needs the same columns in each
            for key in keys - row.keys():
                row[key] = None
        with engine.begin() as conn:
            for start in range(0, len(rows), CHUNK):
                conn.execute(insert(table), rows[start:start + CHUNK])

    accounts = sizes["accounts"]
    put(User.__table__, [{"id": n, "email": f"r{n}@history.test", "display_name": f"R {n}",
                          "password_hash": None, "role": "resident",
                          "session_token": f"{n:064d}", "created_at": moment()}
                         for n in range(1, accounts + 1)])
    put(TownHall.__table__, [
        {"id": n, "title": f"Town hall {n}", "description": "", "description_html": "",
         "starts_at": (start := moment()), "ends_at": start + timedelta(hours=2),
         "allow_anonymous": True, "question_max_length": 300, "is_public": n % 10 != 0,
         "join_code": f"{n:06d}", "status": Status.ENDED, "created_at": start,
         "peak_online": 0, "revision": 0}
        for n in range(1, sizes["townhalls"] + 1)])
    statuses = [QuestionStatus.ANSWERED, QuestionStatus.ANSWERED, QuestionStatus.APPROVED,
                QuestionStatus.REJECTED, QuestionStatus.PENDING]
    questions = []
    for n in range(1, sizes["questions"] + 1):
        asked = moment()
        status = rng.choice(statuses)
        answered = status is QuestionStatus.ANSWERED
        questions.append({
            "id": n, "townhall_id": rng.randint(1, sizes["townhalls"]),
            "author_id": rng.randint(1, accounts), "text": "A question", "status": status,
            "answer_mode": rng.choice(["live", "written"]) if answered else None,
            "answered_at": asked + timedelta(minutes=rng.uniform(1, 3000)) if answered else None,
            "created_at": asked, "upvote_count": 0, "anonymous": False})
    put(Question.__table__, questions)
    upvotes, seen = [], set()
    while len(upvotes) < sizes["upvotes"]:
        pair = (rng.randint(1, sizes["questions"]), rng.randint(1, accounts))
        if pair not in seen:
            seen.add(pair)
            upvotes.append({"question_id": pair[0], "user_id": pair[1], "created_at": moment()})
    put(Upvote.__table__, upvotes)
    del seen
    topics = max(2, sizes["threads"] // 200)
    put(Topic.__table__, [{"id": n, "title": f"Topic {n}", "description": "",
                           "description_html": "", "status": "open", "created_at": now,
                           "updated_at": now} for n in range(1, topics + 1)])
    threads, posts = [], []
    post_id = 0
    for n in range(1, sizes["threads"] + 1):
        opened = moment()
        threads.append({"id": n, "topic_id": rng.randint(1, topics), "title": f"Thread {n}",
                        "author_id": rng.randint(1, accounts), "created_at": opened,
                        "last_activity_at": opened, "reply_count": 0, "locked": False,
                        "pinned": False})
        post_id += 1
        posts.append({"id": post_id, "thread_id": n, "author_id": threads[-1]["author_id"],
                      "is_opening": True, "body": "Opening", "body_html": "<p>Opening</p>",
                      "created_at": opened, "open_flag_count": 0})
    per_thread = max(0, sizes["posts"] - sizes["threads"]) / sizes["threads"]
    for thread in threads:
        for _reply in range(int(per_thread) + (rng.random() < per_thread % 1)):
            post_id += 1
            official = rng.random() < 0.05
            posts.append({"id": post_id, "thread_id": thread["id"],
                          "author_id": rng.randint(1, accounts), "is_opening": False,
                          "body": "Reply", "body_html": "<p>Reply</p>",
                          "created_at": thread["created_at"] + timedelta(
                              hours=rng.uniform(0.1, 400)), "open_flag_count": 0,
                          "official_department": rng.choice(DEPARTMENTS) if official else None})
    put(Thread.__table__, threads)
    put(Post.__table__, posts)
    del threads, posts
    put(Poll.__table__, [
        {"id": n, "townhall_id": rng.randint(1, sizes["townhalls"]) if n % 2 else None,
         "topic_id": None if n % 2 else rng.randint(1, topics), "question": f"Poll {n}",
         "description": "", "description_html": "", "kind": PollKind.SINGLE,
         "results_mode": ResultsMode.LIVE, "opens_at": (opens := moment()),
         "closes_at": opens + timedelta(days=7), "draw_seed": f"{n:032d}",
         "electorate": 40_000 if n % 5 == 0 else None, "created_at": opens,
         "eligible_districts": []}
        for n in range(1, sizes["polls"] + 1)])
    ballots, voted = [], set()
    while len(ballots) < sizes["ballots"]:
        pair = (rng.randint(1, sizes["polls"]), rng.randint(1, accounts))
        if pair not in voted:
            voted.add(pair)
            ballots.append({"poll_id": pair[0], "voter_id": pair[1], "choices": [],
                            "receipt": f"{len(ballots):032d}", "cast_at": moment()})
    put(Ballot.__table__, ballots)
    del ballots, voted
    records, links, commitments = [], [], []
    for n in range(1, sizes["records"] + 1):
        published = now - timedelta(seconds=span * (sizes["records"] - n) / sizes["records"])
        records.append({"id": n, "seq": n, "prev_hash": f"{n - 1:064x}", "hash": f"{n:064x}",
                        "canonical": "{}", "title": f"Record {n}", "outcome": "adopted",
                        "decision_text": "", "department": rng.choice(DEPARTMENTS),
                        "summary_html": "", "published_at": published})
        links.append({"record_id": n, "kind": "townhall", "label": "Town hall",
                      "target_id": (townhall := rng.randint(1, sizes["townhalls"])),
                      "townhall_id": townhall})
        links.append({"record_id": n, "kind": "thread", "label": "Thread",
                      "target_id": rng.randint(1, sizes["threads"])})
        for number in (1, 2):
            commitments.append({"record_id": n, "number": number, "promise": "A promise",
                                "due_on": (published + timedelta(days=rng.randint(10, 200))
                                           ).date()})
    put(DecisionRecord.__table__, records)
    put(DecisionLink.__table__, links)
    put(Commitment.__table__, commitments)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            from sqlalchemy import text

            for table in ("users", "townhalls", "townhall_questions", "forum_topics",
                          "forum_threads", "forum_posts", "polls", "decision_records"):
                # The table names are the constants above.
                sql = (f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                       f"(SELECT max(id) FROM {table}))")
                conn.execute(text(sql))
            conn.execute(text("ANALYZE"))
    else:
        with engine.begin() as conn:
            from sqlalchemy import text

            conn.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def measure(url: str, folder: Path, repeat: int) -> dict[str, tuple[float, int]]:
    """Median milliseconds and statement count of each measured read, uncached."""
    from sqlalchemy import event

    from participation import create_app
    from participation.config import from_environment
    from participation.extensions import db
    from participation.numbers import services

    os.environ["DATABASE_URL"] = url
    app = create_app({**from_environment(str(folder)), "NUMBERS_CACHE_SECONDS": 0,
                      "RATELIMIT_ENABLED": False})
    results: dict[str, tuple[float, int]] = {}
    with app.app_context():
        statements: list[str] = []

        def count(*args: Any) -> None:
            if not args[2].startswith("BEGIN"):
                statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        department = DEPARTMENTS[0]
        now = datetime.now(UTC)
        last = f"{now.year:04d}-{now.month:02d}"
        three_years_ago = now - timedelta(days=3 * 365 - 31)
        first = f"{three_years_ago.year:04d}-{three_years_ago.month:02d}"
        client = app.test_client()
        reads = {
            "service, last 12 months": lambda: services.numbers(
                db.session, services.parse_period(db.session, None, None)),
            "service, 3 years": lambda: services.numbers(
                db.session, services.parse_period(db.session, first, last)),
            "service, one department, 12 months": lambda: services.numbers(
                db.session, services.parse_period(db.session, None, None, department)),
            "GET /numbers": lambda: _ok(client.get("/numbers")),
            "GET /api/v1/numbers?since=3y": lambda: _ok(
                client.get(f"/api/v1/numbers?since={first}&until={last}")),
        }
        for name, read in reads.items():
            read()  # the first call warms the connection and the compiled statements
            db.session.remove()
            times = []
            for _ in range(repeat):
                statements.clear()
                started = time.perf_counter()
                read()
                times.append((time.perf_counter() - started) * 1000)
                db.session.remove()
            results[name] = (statistics.median(times), len(statements))
        event.remove(db.engine, "before_cursor_execute", count)
        db.engine.dispose()
    return results


def _ok(response: Any) -> None:
    assert response.status_code == 200, response.status_code


def run(database: str, scale: float, baseline_scale: float, repeat: int,
        postgresql_url: str) -> tuple[dict[str, tuple[float, int]], dict[str, tuple[float, int]]]:
    now = datetime.now(UTC)
    found = []
    for label, size in (("baseline", baseline_scale), ("city", scale)):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            if database == "sqlite":
                url = f"sqlite:///{folder / 'history.db'}"
            else:
                url = scratch_postgresql(postgresql_url)
            try:
                migrate(url, folder)
                sizes = scaled(size)
                seconds = fill(url, sizes, now)
                print(f"{database} {label}: {sizes['accounts']:,} accounts, "
                      f"{sizes['questions']:,} questions, {sizes['ballots']:,} ballots, "
                      f"{sizes['posts']:,} posts, {sizes['records']:,} records written in "
                      f"{seconds:.0f} s", flush=True)
                found.append(measure(url, folder, repeat))
            finally:
                if database == "postgresql":
                    drop_postgresql(postgresql_url)
    return found[0], found[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--baseline-scale", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgresql-url", default=os.environ.get(
        "PARTICIPATION_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    if not 0 < args.baseline_scale <= args.scale <= 5 or args.repeat < 1:
        parser.error("need 0 < --baseline-scale <= --scale <= 5 and --repeat >= 1")
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    summary = []
    for database in databases:
        small, city = run(database, args.scale, args.baseline_scale, args.repeat,
                          args.postgresql_url)
        print(f"\n{database}: median of {args.repeat}, uncached")
        print(f"  {'read':38} {'baseline ms':>11} {'city ms':>9} {'statements':>16}")
        same = True
        for name, (ms, count) in city.items():
            base_ms, base_count = small[name]
            same &= count == base_count
            print(f"  {name:38} {base_ms:11.0f} {ms:9.0f} {base_count:>7} -> {count:<7}")
        page_ms = city["GET /numbers"][0]
        ratio = page_ms / small["GET /numbers"][0]
        summary.append(f"{database}: /numbers {page_ms:.0f} ms on the city "
                       f"({'under' if page_ms < GOAL_MS else 'OVER'} {GOAL_MS} ms), "
                       f"{ratio:.1f}x the small town's; statement counts "
                       f"{'equal' if same else 'DIFFER'}")
    print()
    print("; ".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
