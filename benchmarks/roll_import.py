"""How fast, and in how much memory, the electoral roll imports: 100,000 rows.

Writes a roll of invented people (document id, date of birth, postcode, district) to a CSV file,
then runs, each in a process of its own so that each peak memory is its own:

- the baseline: the same file read with the csv module, each row's identity normalized as
  simply as possible and hashed with HMAC-SHA256, nothing stored (the least any import does);
- the first import into an empty roll, on a fresh SQLite database migrated as in production,
  through `participation.roll.services.import_roll` (what the command and the upload call);
- a second import of a roll in which 1% of the people left and 1% are new (the monthly case:
  every row compared, entries removed, added and kept).

Prints seconds and peak memory (the process's maximum resident size) of each, and each import's
ratio to the baseline. The goal: an import of 100,000 rows in under 30 s and under 200 MB.

    .venv/bin/python benchmarks/roll_import.py
    .venv/bin/python benchmarks/roll_import.py --rows 100000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_SECONDS = 30.0
GOAL_MB = 200.0
DISTRICTS = ["Centro", "Norte", "Sur", "Este", "Oeste", "Puerto", "Río", "Casco Antiguo"]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_roll(path: Path, numbers: range | list[int]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("document_id,birth_date,postcode,district\n")
        for n in numbers:
            rng = random.Random(n)
            handle.write(f"{n:08d}-{'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23]},"
                         f"{rng.randint(1925, 2008)}-{rng.randint(1, 12):02d}-"
                         f"{rng.randint(1, 28):02d},{rng.randint(28001, 28055)},"
                         f"{rng.choice(DISTRICTS)}\n")


def run_baseline(file: str) -> dict[str, float]:
    import csv
    import hashlib
    import hmac

    key = b"k" * 32
    started = time.perf_counter()
    rows = 0
    with open(file, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for document, born, postcode, _district in reader:
            message = f"{document.replace('-', '').upper()}|{born}|{postcode.strip()}"
            hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
            rows += 1
    return {"seconds": time.perf_counter() - started, "peak_mb": peak_mb(), "rows": rows}


def run_imports(files: list[str], folder: str) -> list[dict[str, float]]:
    from flask_migrate import upgrade

    from participation import create_app
    from participation.extensions import db
    from participation.roll.services import import_roll, roll_key

    app = create_app({
        "ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db",
        "INSTANCE_PATH": folder, "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "SOCKETIO_ASYNC_MODE": "threading", "QUEUE_URL": f"sqlite:///{folder}/queue.db"})
    results = []
    with app.app_context():
        upgrade()
        ready_mb = peak_mb()
        for file in files:
            started = time.perf_counter()
            with open(file, "rb") as stream:
                report = import_roll(db.session, None, stream, key=roll_key(app.config))
            db.session.commit()
            seconds = time.perf_counter() - started
            results.append({"seconds": seconds, "peak_mb": peak_mb(), "ready_mb": ready_mb,
                            "added": report.added,
                            "removed": report.removed, "unchanged": report.unchanged,
                            "rejected": report.rejected})
    return results


def child(args: list[str]) -> dict:
    """Run one measurement in this process and answer on stdout."""
    if args[0] == "baseline":
        return run_baseline(args[1])
    return {"imports": run_imports(args[2:], args[1])}


def measure(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(child(options.child)))
        return
    rows = options.rows
    with tempfile.TemporaryDirectory() as folder:
        first, second = Path(folder) / "roll.csv", Path(folder) / "roll-next.csv"
        write_roll(first, range(rows))
        changed = rows // 100
        write_roll(second, [*range(changed, rows), *range(rows, rows + changed)])
        size_mb = first.stat().st_size / 1024 / 1024
        print(f"Roll of {rows:,} rows ({size_mb:.1f} MB of CSV); a second roll with "
              f"{changed:,} people gone and {changed:,} new.")
        baseline = measure("baseline", str(first))
        imports = measure("import", folder, str(first), str(second))["imports"]
    print(f"baseline (csv + HMAC only): {baseline['seconds']:.2f} s, "
          f"peak {baseline['peak_mb']:.0f} MB")
    ok = True
    for name, result in zip(("first import", "second import"), imports, strict=True):
        ratio = result["seconds"] / baseline["seconds"]
        within = result["seconds"] < GOAL_SECONDS and result["peak_mb"] < GOAL_MB
        ok = ok and within
        print(f"{name}: {result['seconds']:.2f} s ({ratio:.1f}x the baseline), "
              f"peak {result['peak_mb']:.0f} MB (the application alone: "
              f"{result['ready_mb']:.0f} MB); added {result['added']:,}, removed "
              f"{result['removed']:,}, unchanged {result['unchanged']:,}, rejected "
              f"{result['rejected']:,} - {'within' if within else 'OUTSIDE'} the goals "
              f"({GOAL_SECONDS:.0f} s, {GOAL_MB:.0f} MB)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
