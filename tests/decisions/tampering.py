"""The ways a decision-chain export can be tampered with, shared by the command's tests
(tests/decisions/test_verify.py) and the in-browser verifier's (test_browser_verify.py).

Each function takes an export (a dict of the five-record chain in test_verify's `export`, or any
intact export with at least five records) and returns what to verify: the tampered export as a
dict or raw bytes, and the head to expect (None: no --expect-head).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from participation.decisions.chain import canonical_json, record_hash

Tampered = tuple[dict[str, Any] | bytes, str | None]


def resign(entry: dict) -> None:
    entry["hash"] = record_hash(entry["prev_hash"], canonical_json(entry["record"]))


def as_bytes(data: dict[str, Any] | bytes) -> bytes:
    """The file as test_verify writes it."""
    if isinstance(data, bytes):
        return data
    return json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")


def change_one_byte(export: dict) -> Tampered:
    raw = json.dumps(export, ensure_ascii=False).encode()
    tampered = raw.replace(b'"turnout": 41', b'"turnout": 47', 1)
    assert tampered != raw and len(tampered) == len(raw)
    return tampered, None


def delete_middle(export: dict) -> Tampered:
    del export["records"][2]
    return export, None


def swap_two(export: dict) -> Tampered:
    records = export["records"]
    records[1], records[2] = records[2], records[1]
    return export, None


def swap_and_renumber(export: dict) -> Tampered:
    records = export["records"]
    records[1], records[2] = records[2], records[1]
    for position, entry in enumerate(records, start=1):
        entry["seq"] = entry["record"]["seq"] = position
    return export, None


def alter_and_rehash(export: dict) -> Tampered:
    entry = export["records"][1]
    entry["record"]["decision"]["outcome"] = "adopted"
    resign(entry)
    return export, None


def rewrite_tail(export: dict) -> Tampered:
    """Self-consistent: only the published head exposes it (the second value)."""
    published_head = export["head"]
    records = export["records"]
    records[3]["record"]["title"] = "Nothing to see"
    for index in range(3, len(records)):
        records[index]["prev_hash"] = records[index - 1]["hash"]
        resign(records[index])
    export["head"] = records[-1]["hash"]
    return export, published_head


def rewrite_tail_unpinned(export: dict) -> Tampered:
    return rewrite_tail(export)[0], None


def drop_last(export: dict) -> Tampered:
    export["records"].pop()
    return export, None


def amend_later(export: dict) -> Tampered:
    entry = export["records"][1]
    entry["record"]["amends"] = 4
    resign(entry)
    for index in range(2, len(export["records"])):
        export["records"][index]["prev_hash"] = export["records"][index - 1]["hash"]
        resign(export["records"][index])
    export["head"] = export["records"][-1]["hash"]
    return export, None


def nonsense_count(export: dict) -> Tampered:
    export["count"] = "five"
    return export, None


def missing_hash(export: dict) -> Tampered:
    del export["records"][0]["hash"]
    return export, None


def alter_title(export: dict) -> Tampered:
    export["records"][2]["record"]["title"] = "x"
    return export, None


def _rechain_from(export: dict, index: int) -> None:
    """Re-hash the entry at `index` and every later one, and the head: a careful forger."""
    records = export["records"]
    for position in range(index, len(records)):
        if position:
            records[position]["prev_hash"] = records[position - 1]["hash"]
        resign(records[position])
    export["head"] = records[-1]["hash"]


def closes_a_number(export: dict) -> Tampered:
    export["records"][1]["record"]["closes"] = 5
    _rechain_from(export, 1)
    return export, None


def closes_a_list_named_commitment(export: dict) -> Tampered:
    export["records"][1]["record"]["closes"] = [{"record": [1], "commitment": 1}]
    _rechain_from(export, 1)
    return export, None


def commitments_a_number(export: dict) -> Tampered:
    export["records"][1]["record"]["commitments"] = 7
    _rechain_from(export, 1)
    return export, None


TAMPERS: dict[str, Callable[[dict], Tampered]] = {
    function.__name__: function
    for function in (change_one_byte, delete_middle, swap_two, swap_and_renumber,
                     alter_and_rehash, rewrite_tail, rewrite_tail_unpinned, drop_last,
                     amend_later, nonsense_count, missing_hash, alter_title,
                     closes_a_number, closes_a_list_named_commitment, commitments_a_number)
}

# Files that are not readable exports at all, with what the command's error says.
MALFORMED: list[tuple[bytes, str]] = [
    (b"", "not valid JSON"),
    (b"{\"records\": [", "not valid JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[1, 2, 3]", "not a decision-chain export"),
    (b"{\"records\": {}}", "not a decision-chain export"),
    (b"{\"format\": \"other\", \"records\": []}", "has format"),
    (b"{\"records\": [{\"seq\": 1.5}]}", "not a whole number"),
    (b"{\"records\": [NaN]}", "not JSON"),
    (b"{\"records\": " + b"[" * 100_000 + b"]" * 100_000 + b"}", "too deeply"),
    (b"{\"records\": [" + b"7" * 5000 + b"]}", "4300 digits"),
    (b"{\"version\": 3, \"records\": []}", "has version 3"),
    (b"{\"records\": [], \"updates\": {}}", "\"updates\" is not a list"),
]


# The updates chain (export version 2). Each function takes an intact export whose updates are
# on_track, delayed, done (in that order, on one commitment) and returns what to verify.


def _resign_update(entry: dict) -> None:
    entry["hash"] = record_hash(entry["prev_hash"], canonical_json(entry["update"]))


def _rechain_updates_from(export: dict, index: int) -> None:
    updates = export["updates"]
    for position in range(index, len(updates)):
        if position:
            updates[position]["prev_hash"] = updates[position - 1]["hash"]
        _resign_update(updates[position])
    export["updates_head"] = updates[-1]["hash"]


def update_status(export: dict) -> Tampered:
    export["updates"][1]["update"]["status"] = "on_track"
    return export, None


def update_note(export: dict) -> Tampered:
    export["updates"][0]["update"]["note"] = "All done already"
    return export, None


def update_percent(export: dict) -> Tampered:
    export["updates"][2]["update"]["percent"] = 90
    return export, None


def update_dropped(export: dict) -> Tampered:
    del export["updates"][1]
    export["updates_count"] = len(export["updates"])
    return export, None


def update_dropped_last(export: dict) -> Tampered:
    del export["updates"][-1]
    return export, None


def updates_reordered(export: dict) -> Tampered:
    updates = export["updates"]
    updates[0], updates[1] = updates[1], updates[0]
    return export, None


def updates_reordered_and_renumbered(export: dict) -> Tampered:
    updates = export["updates"]
    updates[0], updates[1] = updates[1], updates[0]
    for position, entry in enumerate(updates, start=1):
        entry["n"] = entry["update"]["n"] = position
    return export, None


def update_status_resigned(export: dict) -> Tampered:
    """Its own hash recomputed: the link to the next update still breaks."""
    export["updates"][1]["update"]["status"] = "on_track"
    _resign_update(export["updates"][1])
    return export, None


def update_after_done(export: dict) -> Tampered:
    last = export["updates"][-1]
    entry = {"n": last["n"] + 1, "prev_hash": last["hash"],
             "update": dict(export["updates"][0]["update"], n=last["n"] + 1)}
    _resign_update(entry)
    export["updates"].append(entry)
    export["updates_count"], export["updates_head"] = entry["n"], entry["hash"]
    return export, None


def update_of_no_commitment(export: dict) -> Tampered:
    export["updates"][0]["update"]["commitment"] = {"record": 2, "number": 9}
    _rechain_updates_from(export, 0)
    return export, None


def update_unknown_status(export: dict) -> Tampered:
    export["updates"][1]["update"]["status"] = "finished"
    _rechain_updates_from(export, 1)
    return export, None


def update_percent_too_high(export: dict) -> Tampered:
    export["updates"][0]["update"]["percent"] = 101
    _rechain_updates_from(export, 0)
    return export, None


def update_percent_true(export: dict) -> Tampered:
    export["updates"][0]["update"]["percent"] = True
    _rechain_updates_from(export, 0)
    return export, None


def updates_head_wrong(export: dict) -> Tampered:
    export["updates_head"] = export["updates"][0]["hash"]
    return export, None


def update_without_hash(export: dict) -> Tampered:
    del export["updates"][1]["hash"]
    return export, None


UPDATE_TAMPERS: dict[str, Callable[[dict], Tampered]] = {
    function.__name__: function
    for function in (update_status, update_note, update_percent, update_dropped,
                     update_dropped_last, updates_reordered, updates_reordered_and_renumbered,
                     update_status_resigned, update_after_done, update_of_no_commitment,
                     update_unknown_status, update_percent_too_high, update_percent_true,
                     updates_head_wrong, update_without_hash)
}
