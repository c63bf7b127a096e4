"""`<time datetime>` values: HTML allows at most three digits of a second, so they carry none."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from participation.i18n import iso_datetime


def test_a_moment_is_written_in_utc_to_the_second_with_z():
    moment = datetime(2026, 3, 1, 9, 30, 15, 628913, tzinfo=UTC)
    assert iso_datetime(moment) == "2026-03-01T09:30:15Z"


def test_a_moment_in_another_zone_is_written_in_utc():
    moment = datetime(2026, 3, 1, 11, 30, 15, tzinfo=timezone(timedelta(hours=2)))
    assert iso_datetime(moment) == "2026-03-01T09:30:15Z"


def test_a_naive_moment_is_taken_as_utc_and_a_day_stays_a_day():
    assert iso_datetime(datetime(2026, 3, 1, 9, 30, 15, 1)) == "2026-03-01T09:30:15Z"
    assert iso_datetime(date(2026, 3, 1)) == "2026-03-01"
    assert iso_datetime(None) == ""
