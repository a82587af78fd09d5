"""Bar intervals: names, lengths in ms, grid alignment and TradingView resolution mapping.

Every bar time is the bar's open time in Unix ms (UTC). Bars sit on a grid anchored at the
Unix epoch, so a 1d bar opens at 00:00 UTC and a 4h bar at 00:00, 04:00, ... UTC.
"""

from __future__ import annotations

MINUTE_MS = 60_000
DAY_MS = 86_400_000

INTERVAL_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "1d": DAY_MS,
}
INTERVALS: tuple[str, ...] = tuple(INTERVAL_MS)

_INTERVAL_TO_RESOLUTION = {
    "1m": "1",
    "5m": "5",
    "15m": "15",
    "30m": "30",
    "1h": "60",
    "4h": "240",
    "1d": "1D",
}
RESOLUTIONS: tuple[str, ...] = tuple(_INTERVAL_TO_RESOLUTION.values())
# TradingView also spells a day "D" (and "1440" in minutes); accept those spellings on input.
_RESOLUTION_TO_INTERVAL = {res: iv for iv, res in _INTERVAL_TO_RESOLUTION.items()} | {"D": "1d", "1440": "1d"}


def interval_ms(interval: str) -> int:
    """Return the length of ``interval`` in milliseconds; raise ValueError for an unknown one."""
    try:
        return INTERVAL_MS[interval]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown interval {interval!r}; supported intervals: {', '.join(INTERVALS)}"
        ) from None


def floor_time(t_ms: int, interval: str) -> int:
    """Return the open time (Unix ms) of the ``interval`` bar containing ``t_ms``."""
    step = interval_ms(interval)
    return (int(t_ms) // step) * step


def ceil_time(t_ms: int, interval: str) -> int:
    """Return the first ``interval`` bar open time (Unix ms) at or after ``t_ms``."""
    step = interval_ms(interval)
    return -((-int(t_ms)) // step) * step


def is_aligned(t_ms: int, interval: str) -> bool:
    """Return whether ``t_ms`` is an ``interval`` bar open time."""
    return int(t_ms) % interval_ms(interval) == 0


def resolution_to_interval(resolution: str) -> str:
    """Map a TradingView resolution (``1 5 15 30 60 240 1D``) to an interval; raise ValueError."""
    key = str(resolution).strip().upper()
    try:
        return _RESOLUTION_TO_INTERVAL[key]
    except KeyError:
        raise ValueError(
            f"unsupported resolution {resolution!r}; supported resolutions: {', '.join(RESOLUTIONS)}"
        ) from None


def interval_to_resolution(interval: str) -> str:
    """Map an interval (``1m ... 1d``) to its TradingView resolution; raise ValueError."""
    interval_ms(interval)
    return _INTERVAL_TO_RESOLUTION[interval]
