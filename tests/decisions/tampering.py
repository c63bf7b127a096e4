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
]
