"""Idempotency keys and the human runtime string shown on a bot card."""

from __future__ import annotations

_MINUTE_MS = 60_000
_HOUR_MS = 60 * _MINUTE_MS
_DAY_MS = 24 * _HOUR_MS


def order_key(bot_id: str, bar_time_ms: int, side: str) -> str:
    """Derive the idempotency key of a tick order from (bot, fill bar open time in Unix ms, side)."""
    if side not in ("buy", "sell"):
        raise ValueError(f"side {side!r} must be buy or sell")
    return f"tick:{bot_id}:{int(bar_time_ms)}:{side}"


def format_runtime(duration_ms: int) -> str:
    """Render a duration in ms as "15d 8h", "3h 12m" or "7m" (whole units, truncated)."""
    if duration_ms < 0:
        raise ValueError(f"duration {duration_ms} ms must not be negative")
    days, rest = divmod(int(duration_ms), _DAY_MS)
    hours, rest = divmod(rest, _HOUR_MS)
    minutes = rest // _MINUTE_MS
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"
