"""Cron due times across daylight-saving changes (hand-computed UTC instants)."""

from __future__ import annotations

from datetime import UTC, datetime

from backend.domain.workflow.cron import due_between, last_due, next_due


def ms(iso: str) -> int:
    """Return Unix ms of an ISO-8601 UTC time."""
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


def test_daily_time_keeps_local_wall_clock_across_spring_forward():
    # America/New_York: DST starts 2026-03-08; 09:00 is 14:00 UTC before and 13:00 UTC after.
    times = due_between("0 9 * * *", "America/New_York", ms("2026-03-06T00:00:00"), ms("2026-03-10T00:00:00"))
    assert times == [
        ms("2026-03-06T14:00:00"),
        ms("2026-03-07T14:00:00"),
        ms("2026-03-08T13:00:00"),
        ms("2026-03-09T13:00:00"),
    ]


def test_wall_time_in_the_spring_gap_fires_once_shifted_forward():
    # Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist -> 03:30 CEST = 01:30 UTC.
    times = due_between("30 2 * * *", "Europe/Berlin", ms("2026-03-28T00:00:00"), ms("2026-03-31T00:00:00"))
    assert times == [ms("2026-03-28T01:30:00"), ms("2026-03-29T01:30:00"), ms("2026-03-30T00:30:00")]


def test_repeated_wall_time_in_autumn_fires_once():
    # Berlin 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice; the first is 00:30 UTC.
    times = due_between("30 2 * * *", "Europe/Berlin", ms("2026-10-24T00:00:00"), ms("2026-10-27T00:00:00"))
    assert times == [ms("2026-10-24T00:30:00"), ms("2026-10-25T00:30:00"), ms("2026-10-26T01:30:00")]


def test_hourly_schedule_across_fall_back_is_strictly_increasing():
    times = due_between("0 * * * *", "Europe/Berlin", ms("2026-10-24T23:30:00"), ms("2026-10-25T02:30:00"))
    # local 02:00 CEST (00:00Z); 02:00 CET (01:00Z) repeats a wall time and is skipped; 03:00 CET (02:00Z)
    assert times == [ms("2026-10-25T00:00:00"), ms("2026-10-25T02:00:00")]


def test_next_and_last_due():
    now = ms("2026-01-05T08:59:59")  # a Monday, UTC
    assert next_due("0 9 * * 1-5", "UTC", now) == ms("2026-01-05T09:00:00")
    assert last_due("0 9 * * 1-5", "UTC", now) == ms("2026-01-02T09:00:00")  # previous Friday
    assert last_due("0 9 * * 1-5", "UTC", ms("2026-01-05T09:00:00")) == ms("2026-01-05T09:00:00")
    assert next_due("0 9 * * 1-5", "UTC", ms("2026-01-05T09:00:00")) == ms("2026-01-06T09:00:00")


def test_last_due_is_the_start_of_the_matching_minute():
    assert last_due("0 * * * *", "UTC", ms("2026-01-05T09:00:30")) == ms("2026-01-05T09:00:00")
    assert last_due("* * * * *", "UTC", ms("2026-01-05T09:07:59")) == ms("2026-01-05T09:07:00")


def test_last_due_in_tokyo_has_no_dst():
    assert last_due("0 0 * * *", "Asia/Tokyo", ms("2026-07-01T14:59:00")) == ms("2026-06-30T15:00:00")
