"""Canonical JSON and the record hash: the whole of what makes a decision chain verifiable.

Standard library only, so the verifier can run anywhere and anyone can reimplement it from the
README. The rules, exactly:

- A record is a JSON value made of objects (string keys), arrays, strings, integers, true, false
  and null. Floating-point numbers are not allowed (figures are whole numbers; durations are whole
  seconds); integers must lie within +/-(2**53 - 1) so every JSON parser reads them exactly.
- Canonical JSON is that value written with object keys sorted by Unicode code point, no white
  space outside strings, `,` and `:` as separators, integers in plain decimal (`-` for negatives,
  no leading zeros, no exponent), `true`, `false`, `null`. In strings only `"` `\\` and the control
  characters U+0000..U+001F are escaped: `\\"`, `\\\\`, `\\b`, `\\f`, `\\n`, `\\r`, `\\t`, and
  `\\u00XX` (lower-case hex) for the others; everything else is written as itself. The text is
  encoded as UTF-8. (This is what Python's `json.dumps(value, sort_keys=True, separators=(",",
  ":"), ensure_ascii=False, allow_nan=False)` produces.)
- Timestamps are strings `YYYY-MM-DDTHH:MM:SSZ` in UTC; dates are `YYYY-MM-DD`.
- `hash = lowercase_hex(sha256(UTF8(prev_hash + canonical_json(record))))`, where `prev_hash` is
  the previous record's hash as 64 lower-case hex characters and the first record's `prev_hash`
  is 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

GENESIS_HASH = "0" * 64
MAX_SAFE_INTEGER = 2**53 - 1
HEX_DIGITS = frozenset("0123456789abcdef")


class NotCanonical(ValueError):
    """A value that canonical JSON cannot represent (a float, a non-string key, ...)."""


def check_canonical_value(value: Any, path: str = "$") -> None:
    """Raise NotCanonical, naming where, if `value` holds anything outside the allowed types."""
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise NotCanonical(f"{path}: integer {value} is outside +/-(2**53 - 1)")
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            check_canonical_value(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonical(f"{path}: object key {key!r} is not a string")
            check_canonical_value(item, f"{path}.{key}")
        return
    raise NotCanonical(f"{path}: {type(value).__name__} is not allowed in a record")


def canonical_json(value: Any) -> str:
    """The one text form of `value` that is hashed."""
    check_canonical_value(value)
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
        text.encode("utf-8")
    except (UnicodeEncodeError, ValueError) as error:
        raise NotCanonical(str(error)) from None
    return text


def record_hash(prev_hash: str, canonical: str) -> str:
    """sha256 over the previous hash (64 hex characters) followed by the record's canonical JSON."""
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def is_hash(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= HEX_DIGITS


def timestamp(moment: datetime) -> str:
    """A moment as it is written in a record: UTC, whole seconds, `Z`."""
    if moment.tzinfo is None:
        raise NotCanonical("naive datetimes are ambiguous; pass an aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day(value: date) -> str:
    return value.strftime("%Y-%m-%d")
