"""Cron due times in a timezone, as Unix ms, correct across daylight-saving changes.

The expression is walked in local wall-clock time (naive datetimes, so croniter never sees a
DST jump) and each wall time is then placed on the UTC timeline with ``zoneinfo``:
- a wall time that does not exist (spring forward, e.g. 02:30 in Europe/Berlin on the last
  Sunday of March) fires once, shifted forward by the gap (03:30 local);
- a wall time that occurs twice (fall back) fires once, at its first occurrence.
Instants are strictly increasing; a wall time mapping onto an instant already passed is skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import croniter

_MAX_STEPS = 1000  # bound on wall times walked per call (skips near DST changes are few)


def _to_ms(wall: datetime, tz: ZoneInfo) -> int:
    """Return the Unix ms of naive local ``wall`` (first occurrence; gaps shift forward)."""
    aware = wall.replace(tzinfo=tz, fold=0)
    # For a non-existent wall time, fold=0 uses the offset before the change: shifted forward.
    return int(aware.timestamp() * 1000)


def _wall(ms: int, tz: ZoneInfo) -> datetime:
    """Return the naive local wall time of Unix ``ms``."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(tz).replace(tzinfo=None)


def next_due(expr: str, tz_name: str, after_ms: int) -> int:
    """Return the first scheduled instant strictly after ``after_ms`` (Unix ms)."""
    tz = ZoneInfo(tz_name)
    it = croniter(expr, _wall(after_ms, tz))
    for _ in range(_MAX_STEPS):
        ms = _to_ms(it.get_next(datetime), tz)
        if ms > after_ms:
            return ms
    raise ValueError(f"cron {expr!r} has no time after {after_ms}")


def last_due(expr: str, tz_name: str, now_ms: int) -> int:
    """Return the latest scheduled instant at or before ``now_ms`` (Unix ms)."""
    tz = ZoneInfo(tz_name)
    start = _wall(now_ms, tz).replace(second=0, microsecond=0)  # cron fires on whole minutes
    it = croniter(expr, start)
    candidate = _to_ms(start, tz) if croniter.match(expr, start) else None
    if candidate is not None and candidate <= now_ms:
        return candidate
    for _ in range(_MAX_STEPS):
        ms = _to_ms(it.get_prev(datetime), tz)
        if ms <= now_ms:
            return ms
    raise ValueError(f"cron {expr!r} has no time before {now_ms}")


def due_between(expr: str, tz_name: str, after_ms: int, until_ms: int, limit: int = 100) -> list[int]:
    """Return scheduled instants in ``(after_ms, until_ms]``, at most ``limit`` of them."""
    out: list[int] = []
    t = after_ms
    while len(out) < limit:
        t = next_due(expr, tz_name, t)
        if t > until_ms:
            break
        out.append(t)
    return out
