"""Check an exported decision chain offline: no database, no network, standard library only.

Run it as `participation verify FILE` or `python -m participation.decisions.verify FILE`. It
prints OK with the head hash, or names the first record that does not match and exits 1; a file
that cannot be read as an export exits 2. The rules are in `chain.py` and the README.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from participation.decisions.chain import (
    GENESIS_HASH,
    NotCanonical,
    canonical_json,
    is_hash,
    record_hash,
)

EXPORT_FORMAT = "participation-decision-chain"
# Version 2 adds the "updates" chain (progress on commitments); version 1 files, which have no
# "updates", are still read.
EXPORT_VERSION = 2
READABLE_VERSIONS = (1, 2)
UPDATE_STATUSES = ("on_track", "delayed", "done", "dropped")
# After one of these, a commitment takes no more updates.
CLOSING_STATUSES = ("done", "dropped")


class UnreadableExport(ValueError):
    """The file is not an export at all (missing, not JSON, wrong shape)."""


@dataclass(frozen=True)
class Outcome:
    ok: bool
    count: int
    head: str
    bad_seq: int | None = None
    problem: str = ""
    updates: int = 0
    bad_update: int | None = None

    def report(self) -> str:
        if self.ok:
            extra = f"; {self.updates} commitment updates" if self.updates else ""
            return f"OK: {self.count} records, head {self.head}{extra}"
        if self.bad_update is not None:
            return f"FAILED at update {self.bad_update}: {self.problem}"
        return f"FAILED at record {self.bad_seq}: {self.problem}"


def load_export(path: str | Path) -> dict[str, Any]:
    """Read and parse an export file, or raise UnreadableExport saying what is wrong."""
    try:
        raw = Path(path).read_bytes()
    except IsADirectoryError:
        raise UnreadableExport(f"{path} is a directory, not an export file") from None
    except OSError as error:
        raise UnreadableExport(f"cannot read {path}: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableExport(f"{path} is not UTF-8 text (byte {error.start})") from None
    try:
        data = json.loads(text, parse_float=_refuse_float, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise UnreadableExport(
            f"{path} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except NotCanonical as error:
        raise UnreadableExport(f"{path}: {error}") from None
    except RecursionError:
        raise UnreadableExport(f"{path} nests JSON too deeply to be an export") from None
    except ValueError as error:  # an integer of more than 4300 digits
        raise UnreadableExport(f"{path}: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise UnreadableExport(f"{path} is not a decision-chain export (no \"records\" list)")
    if data.get("format", EXPORT_FORMAT) != EXPORT_FORMAT:
        raise UnreadableExport(f"{path} has format {data.get('format')!r}, not {EXPORT_FORMAT!r}")
    if data.get("version", 1) not in READABLE_VERSIONS:
        raise UnreadableExport(f"{path} has version {data.get('version')!r}; this verifier reads "
                               f"versions {', '.join(map(str, READABLE_VERSIONS))}")
    if not isinstance(data.get("updates", []), list):
        raise UnreadableExport(f"{path}: \"updates\" is not a list")
    return data


def _refuse_float(text: str) -> Any:
    raise NotCanonical(f"the number {text} is not a whole number; records hold none")


def _refuse_constant(text: str) -> Any:
    raise NotCanonical(f"{text} is not JSON")


def verify_export(data: dict[str, Any], expect_head: str | None = None) -> Outcome:
    """Walk the chain from the genesis hash; stop at the first record that does not match."""
    entries = data["records"]
    prev_hash = GENESIS_HASH
    commitments: dict[tuple[int, int], bool] = {}
    for position, entry in enumerate(entries, start=1):
        problem = _check_entry(entry, position, prev_hash)
        if problem is None:
            problem = _check_links(entry["record"], position, commitments)
        if problem is not None:
            bad, message = problem
            return Outcome(False, position - 1, prev_hash, bad, message)
        prev_hash = entry["hash"]
    count = len(entries)
    stated = data.get("count", count)
    if stated != count:
        missing = isinstance(stated, int) and not isinstance(stated, bool) and stated > count
        return Outcome(False, count, prev_hash, count + 1 if missing else count,
                       f"the export says it holds {stated!r} records but has {count}"
                       + ("; records are missing at the end" if missing else ""))
    if "head" in data and data["head"] != prev_hash:
        return Outcome(False, count, prev_hash, count,
                       f"the export's head {data['head']!r} is not the last record's hash "
                       f"{prev_hash}")
    if expect_head is not None and expect_head.lower() != prev_hash:
        return Outcome(False, count, prev_hash, count,
                       f"the chain ends in {prev_hash}, not the expected head {expect_head}")
    return _verify_updates(data, count, prev_hash, commitments)


def _verify_updates(data: dict[str, Any], count: int, head: str,
                    commitments: dict[tuple[int, int], bool]) -> Outcome:
    """Walk the updates chain (version 2): each update is hashed and linked like a record, names
    a commitment an earlier record made, and none follows a "done" or "dropped" one."""
    updates = data.get("updates", [])
    prev_hash = GENESIS_HASH
    finished: set[tuple[Any, Any]] = set()
    for position, entry in enumerate(updates, start=1):
        problem = _check_update(entry, position, prev_hash, commitments, finished)
        if problem is not None:
            return Outcome(False, count, head, None, problem, position - 1, position)
        prev_hash = entry["hash"]
    stated = data.get("updates_count", len(updates))
    if stated != len(updates):
        return Outcome(False, count, head, None,
                       f"the export says it holds {stated!r} updates but has {len(updates)}",
                       len(updates), len(updates) + 1)
    if data.get("updates_head", prev_hash) != prev_hash:
        return Outcome(False, count, head, None,
                       f"the export's updates_head {data['updates_head']!r} is not the last "
                       f"update's hash {prev_hash}", len(updates), len(updates))
    return Outcome(True, count, head, updates=len(updates))


def _check_update(entry: Any, position: int, prev_hash: str,
                  commitments: dict[tuple[int, int], bool],
                  finished: set[tuple[Any, Any]]) -> str | None:
    if not isinstance(entry, dict) or any(key not in entry
                                          for key in ("n", "prev_hash", "hash", "update")):
        return "the entry is not an object with n, prev_hash, hash and update"
    update = entry["update"]
    if entry["n"] != position or isinstance(entry["n"], bool) or not isinstance(update, dict) \
            or update.get("n") != position:
        return (f"position {position} holds update {entry['n']!r}: an update is missing, added "
                "or out of order")
    if not is_hash(entry["hash"]) or not is_hash(entry["prev_hash"]):
        return "hash and prev_hash must be 64 lower-case hex characters"
    try:
        own = record_hash(entry["prev_hash"], canonical_json(update))
    except NotCanonical as error:
        return f"the update is not canonical JSON: {error}"
    if entry["prev_hash"] != prev_hash:
        return (f"prev_hash {entry['prev_hash']} does not match the previous update's hash "
                f"{prev_hash}: an update was removed, altered or moved")
    if own != entry["hash"]:
        return f"its content hashes to {own}, not to the stated hash: the update was altered"
    named = update.get("commitment")
    key = (named.get("record"), named.get("number")) if isinstance(named, dict) else None
    if key is None or not _hashable(key) or key not in commitments:
        return f"it updates commitment {named!r}, which no record made"
    if key in finished:
        return f"it updates commitment {key[1]} of record {key[0]} after it was done or dropped"
    status, percent = update.get("status"), update.get("percent")
    if status not in UPDATE_STATUSES:
        return f"its status {status!r} is not one of {', '.join(UPDATE_STATUSES)}"
    if percent is not None and (not isinstance(percent, int) or isinstance(percent, bool)
                                or not 0 <= percent <= 100):
        return f"its percent {percent!r} is not a whole number from 0 to 100"
    if status in CLOSING_STATUSES:
        finished.add(key)
    return None


def _check_entry(entry: Any, position: int, prev_hash: str) -> tuple[int, str] | None:
    if not isinstance(entry, dict):
        return position, "the entry is not a JSON object"
    missing = [key for key in ("seq", "prev_hash", "hash", "record") if key not in entry]
    if missing:
        return position, f"the entry lacks {', '.join(missing)}"
    seq, record = entry["seq"], entry["record"]
    if seq != position or isinstance(seq, bool):
        return position, (f"position {position} holds seq {seq!r}, expected {position}: "
                          "a record is missing, added or out of order")
    if not isinstance(record, dict) or record.get("seq") != seq:
        return position, "the record's own seq does not match the entry's seq"
    if not is_hash(entry["hash"]) or not is_hash(entry["prev_hash"]):
        return position, "hash and prev_hash must be 64 lower-case hex characters"
    try:
        own = record_hash(entry["prev_hash"], canonical_json(record))
    except NotCanonical as error:
        return position, f"the record is not canonical JSON: {error}"
    if entry["prev_hash"] != prev_hash:
        if own == entry["hash"] and position > 1:
            # This record is intact and chained to what the previous record used to be: the
            # previous one was changed and its own hash recomputed.
            return position - 1, (f"its hash {prev_hash} is not the one record {position} was "
                                  f"chained to ({entry['prev_hash']}); record {position - 1} "
                                  "was altered after it was published")
        return position, (f"prev_hash {entry['prev_hash']} does not match the previous record's "
                          f"hash {prev_hash}")
    if own != entry["hash"]:
        return position, (f"its content hashes to {own}, not to the stated hash "
                          f"{entry['hash']}: the record was altered")
    return None


def _check_links(record: dict[str, Any], seq: int,
                 commitments: dict[tuple[int, int], bool]) -> tuple[int, str] | None:
    """Amendments and closed commitments may only point back to earlier records."""
    amends = record.get("amends")
    if amends is not None and (not isinstance(amends, int) or isinstance(amends, bool)
                               or not 1 <= amends < seq):
        return seq, f"it amends record {amends!r}, which is not an earlier record"
    closes = record.get("closes") or []
    if not isinstance(closes, list | str | dict):
        return seq, "its closes cannot be read as a list"
    for closed in closes:
        key = (closed.get("record"), closed.get("commitment")) if isinstance(closed, dict) else None
        if key is None or not _hashable(key) or key not in commitments:
            return seq, f"it closes commitment {closed!r}, which no earlier record made"
        if commitments[key]:
            return seq, f"it closes commitment {key[1]} of record {key[0]}, already closed"
        commitments[key] = True
    promises = record.get("commitments") or []
    if not isinstance(promises, list | str | dict):
        return seq, "its commitments cannot be read as a list"
    for promise in promises:
        if isinstance(promise, dict) and isinstance(promise.get("number"), int):
            commitments[(seq, promise["number"])] = False
    return None


def _hashable(key: tuple[Any, Any]) -> bool:
    """A commitment is named by two plain values; a list or object names none."""
    return not any(isinstance(part, list | dict) for part in key)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: `python -m participation.decisions.verify FILE [EXPECTED_HEAD]`."""
    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2:
        print("usage: python -m participation.decisions.verify FILE [EXPECTED_HEAD]",
              file=sys.stderr)
        return 2
    try:
        data = load_export(args[0])
    except UnreadableExport as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    outcome = verify_export(data, args[1] if len(args) > 1 else None)
    print(outcome.report())
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
