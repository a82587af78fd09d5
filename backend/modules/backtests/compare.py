"""Compare two of a user's backtests: their inputs side by side, KPI deltas, trades found in one only.

A trade is the same trade in both runs when its side, entry time and exit time match (prices and
quantities may differ with fees, slippage or capital); the others are listed per side, the first
TRADES_SHOWN of each, with their totals.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from backend.core.db import get_owned_or_404
from backend.modules.backtests import fingerprint, trade_store
from backend.modules.backtests.errors import BacktestNotFound
from backend.modules.backtests.models import Backtest

TRADES_SHOWN = 100  # round trips listed per side; the totals count them all


@dataclass(frozen=True)
class Side:
    """One backtest's inputs as the diff shows them (``strategy_hash`` computed when not stored)."""

    id: str
    name: str
    status: str
    strategy_id: str | None
    strategy_version_id: str | None
    strategy_hash: str
    kind: str
    params: dict[str, Any]
    symbol: str
    interval: str
    start: int
    end: int
    provider: str
    bars_count: int | None
    bars_hash: str | None
    engine_version: str
    broker: dict[str, Any]
    fingerprint: str | None


@dataclass(frozen=True)
class Same:
    """Which inputs the two backtests share (``fingerprint`` None when either has none)."""

    strategy_version: bool
    params: bool
    data: bool
    engine_version: bool
    broker: bool
    fingerprint: bool | None


@dataclass(frozen=True)
class Change:
    """A parameter, or a KPI, of both runs; ``delta`` is b - a when both are numbers."""

    name: str
    a: Any
    b: Any
    delta: float | None = None


@dataclass(frozen=True)
class RoundTrip:
    """A trade (round trip) found in one run only."""

    side: str
    entry_time: int
    exit_time: int
    entry_price: Decimal
    exit_price: Decimal
    quantity: Decimal
    pnl: Decimal


@dataclass(frozen=True)
class BacktestDiff:
    """What differs between backtests ``a`` and ``b``."""

    a: Side
    b: Side
    same: Same
    params: list[Change]
    kpis: list[Change]
    only_in_a: list[RoundTrip]
    only_in_b: list[RoundTrip]
    only_in_a_total: int
    only_in_b_total: int
    common_trades: int


def _side(row: Backtest) -> Side:
    stamp = fingerprint.fingerprint_of(row)
    return Side(
        id=row.id,
        name=row.name,
        status=row.job.status,
        strategy_id=row.strategy_id,
        strategy_version_id=row.strategy_version_id,
        strategy_hash=row.strategy_hash or fingerprint.strategy_hash(row),
        kind=row.kind,
        params=dict(row.params),
        symbol=row.symbol,
        interval=row.interval,
        start=row.start_ms,
        end=row.end_ms,
        provider=row.provider,
        bars_count=row.bars_count,
        bars_hash=row.bars_hash,
        engine_version=row.engine_version,
        broker=fingerprint.broker_of(row),
        fingerprint=stamp.hash if stamp else None,
    )


def _same(a: Side, b: Side) -> Same:
    range_a = (a.symbol, a.interval, a.start, a.end, a.provider)
    bars_differ = a.bars_hash is not None and b.bars_hash is not None and a.bars_hash != b.bars_hash
    return Same(
        strategy_version=a.strategy_hash == b.strategy_hash,
        params=a.params == b.params,
        data=range_a == (b.symbol, b.interval, b.start, b.end, b.provider) and not bars_differ,
        engine_version=a.engine_version == b.engine_version,
        broker=a.broker == b.broker,
        fingerprint=a.fingerprint == b.fingerprint if a.fingerprint and b.fingerprint else None,
    )


def _delta(a: Any, b: Any) -> float | None:
    """Return b - a when both are numbers (not booleans), else None."""
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
    return float(b - a) if numbers else None


def changes(a: dict[str, Any], b: dict[str, Any], *, only_different: bool) -> list[Change]:
    """Return the keys of ``a`` then those only in ``b``, with both values and the numeric delta."""
    out = []
    for name in [*a, *(k for k in b if k not in a)]:
        va, vb = a.get(name), b.get(name)
        if only_different and va == vb and (name in a) == (name in b):
            continue
        out.append(Change(name=name, a=va, b=vb, delta=_delta(va, vb)))
    return out


def _round_trips(backtest_id: str) -> list[RoundTrip]:
    return [
        RoundTrip(t.side, t.entry_time, t.exit_time, t.entry_price, t.exit_price, t.quantity, t.pnl)
        for t in trade_store.round_trips(backtest_id)
    ]


def _only_in(these: list[RoundTrip], others: list[RoundTrip]) -> list[RoundTrip]:
    """Return the trades of ``these`` without a match (side, entry and exit time) in ``others``."""
    left = Counter((t.side, t.entry_time, t.exit_time) for t in others)
    out = []
    for t in these:
        key = (t.side, t.entry_time, t.exit_time)
        if left[key]:
            left[key] -= 1
        else:
            out.append(t)
    return out


def diff_backtests(*, actor_id: str, a_id: str, b_id: str) -> BacktestDiff:
    """Return what differs between two of the caller's backtests (404 when either is not theirs)."""
    row_a = get_owned_or_404(Backtest, a_id, actor_id=actor_id, error=BacktestNotFound)
    row_b = get_owned_or_404(Backtest, b_id, actor_id=actor_id, error=BacktestNotFound)
    a, b = _side(row_a), _side(row_b)
    trades_a, trades_b = _round_trips(row_a.id), _round_trips(row_b.id)
    only_a, only_b = _only_in(trades_a, trades_b), _only_in(trades_b, trades_a)
    return BacktestDiff(
        a=a,
        b=b,
        same=_same(a, b),
        params=changes(a.params, b.params, only_different=True),
        kpis=changes(row_a.metrics or {}, row_b.metrics or {}, only_different=False),
        only_in_a=only_a[:TRADES_SHOWN],
        only_in_b=only_b[:TRADES_SHOWN],
        only_in_a_total=len(only_a),
        only_in_b_total=len(only_b),
        common_trades=len(trades_a) - len(only_a),
    )
