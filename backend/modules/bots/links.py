"""The bots module's only contact points with other modules (through their services).

Keeping every cross-module call here means a change in the strategies or market API touches one
file. Errors of those services are translated to the bots module's own meaning by the callers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from backend.domain.backtest.types import Signals
from backend.domain.bars import Bars
from backend.modules.market import service as market_service
from backend.modules.strategies import service as strategies_service


@dataclass(frozen=True)
class PinnedStrategy:
    """What a bot pins at creation: the strategy and one immutable version of it."""

    strategy_id: str
    version_id: str
    name: str
    symbol: str | None
    interval: str | None


def pin_strategy(*, actor_id: str, strategy_id: str) -> PinnedStrategy:
    """Resolve a strategy the caller owns (or a published one) and its current version.

    Raises the strategies module's NotFound when it is unknown or invisible to the caller.
    """
    run = strategies_service.get_strategy_for_run(actor_id=actor_id, strategy_id=strategy_id)
    return PinnedStrategy(
        strategy_id=run.strategy_id,
        version_id=run.version_id,
        name=run.name,
        symbol=run.symbol,
        interval=run.interval,
    )


# Versions are immutable, so a tick need not re-read one every minute. The cache is per process,
# bounded, and re-checks visibility after VERSION_TTL_S (a strategy deleted or unpublished by its
# owner stops bots pinned to it within that time).
VERSION_TTL_S = 60.0
_VERSION_CACHE_MAX = 4096
_version_cache: dict[tuple[str, str, str], tuple[float, strategies_service.StrategyRun]] = {}


def _pinned_version(owner_id: str, strategy_id: str, version_id: str) -> strategies_service.StrategyRun:
    key = (owner_id, strategy_id, version_id)
    hit = _version_cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    version = strategies_service.get_version_for_run(
        actor_id=owner_id, strategy_id=strategy_id, version_id=version_id
    )
    if len(_version_cache) >= _VERSION_CACHE_MAX:
        _version_cache.clear()
    _version_cache[key] = (time.monotonic() + VERSION_TTL_S, version)
    return version


def strategy_signals(*, owner_id: str, strategy_id: str, version_id: str, bars: Bars) -> Signals:
    """Return the signals of a pinned strategy version on ``bars`` (the backtests' code path)."""
    version = _pinned_version(owner_id, strategy_id, version_id)
    return strategies_service.compute_signals(
        kind=version.kind, params=version.params, bars=bars, version_id=version.version_id, actor_id=owner_id
    )


def strategy_failure_reason(exc: BaseException) -> str:
    """Return the bot's error reason for a failed ``strategy_signals`` (a python strategy's own reason)."""
    return strategies_service.run_failure_reason(exc)


def load_bars(*, symbol: str, interval: str, start_ms: int, end_ms: int) -> Bars:
    """Return the bars of ``symbol`` with open time in [start_ms, end_ms) that are complete at ``end_ms``."""
    return market_service.load_bars(
        symbol=symbol, interval=interval, start_ms=start_ms, end_ms=end_ms, now_ms=end_ms
    )


def latest_close(*, symbol: str, interval: str, now_ms: int) -> tuple[int, float] | None:
    """Return (bar open time, close) of the latest complete bar, or None when there is none."""
    bar = market_service.latest_bar(symbol=symbol, interval=interval, now_ms=now_ms)
    return None if bar is None else (bar.time, float(bar.close))
