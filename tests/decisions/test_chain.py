"""Canonical JSON and the hash rule, exactly as the README states them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from participation.decisions.chain import (
    GENESIS_HASH,
    NotCanonical,
    canonical_json,
    record_hash,
    timestamp,
)


def test_keys_are_sorted_by_code_point_and_no_white_space_is_written():
    value = {"b": [1, {"z": None, "a": True}], "a": "x", "B": False, "é": 1, "\U0001f600": 2}
    assert canonical_json(value) == '{"B":false,"a":"x","b":[1,{"a":true,"z":null}],"é":1,"😀":2}'


def test_strings_are_utf8_with_only_quote_backslash_and_controls_escaped():
    text = canonical_json({"s": 'say "hi"\\ \n\t\x01 / é \u2028 <script>'})
    assert text == '{"s":"say \\"hi\\"\\\\ \\n\\t\\u0001 / é \u2028 <script>"}'
    assert text.encode("utf-8").count("é".encode()) == 1


@pytest.mark.parametrize("value", [1.5, 0.0, float("nan"), 2**53, -(2**53),
                                   datetime.now(UTC), {1: "x"}, {"a": (1, 2)}, "\ud800"])
def test_values_json_cannot_carry_exactly_are_refused(value):
    with pytest.raises(NotCanonical):
        canonical_json({"v": value})


def test_integers_are_plain_decimal_within_the_safe_range():
    assert canonical_json([0, -1, 2**53 - 1]) == "[0,-1,9007199254740991]"


def test_hash_is_sha256_of_prev_hash_hex_then_canonical_json_utf8():
    canonical = canonical_json({"seq": 1, "title": "Café"})
    expected = hashlib.sha256((GENESIS_HASH + '{"seq":1,"title":"Café"}').encode()).hexdigest()
    assert record_hash(GENESIS_HASH, canonical) == expected
    assert GENESIS_HASH == "0" * 64


def test_timestamps_are_utc_whole_seconds_with_z():
    moment = datetime(2026, 11, 30, 18, 5, 9, 999, tzinfo=timezone(timedelta(hours=2)))
    assert timestamp(moment) == "2026-11-30T16:05:09Z"
    with pytest.raises(NotCanonical):
        timestamp(datetime(2026, 1, 1))  # noqa: DTZ001 - the naive value is the point
