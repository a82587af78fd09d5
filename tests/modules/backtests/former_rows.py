"""The former row path of a result's chart and fills (before ADR 0012), kept as the tests' oracle.

The served path sends the stored wire text (`results.kline_wire`, `results.equity_wire`,
`read_models.fills_wire`) as `RawJSON`; these functions are what the API sent before, row by row
(rows -> `KlineBar` / `EquityPoint` / `Fill` -> one dict each), so the tests can hold the two
equal. Nothing in the product uses them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from backend.domain.bars import Bars
from backend.modules.backtests.read_models import EquityPoint, Fill
from backend.modules.backtests.results import _kline_arrays

_SIGNAL_NAMES = {1: "buy", -1: "sell", 0: None}


def kline_rows(bars: Bars, trades: np.ndarray, limit: int) -> list[list[Any]]:
    """Return up to ``limit`` candles ``[t, o, h, l, c, v, signal]``; longer runs are aggregated.

    An aggregated candle spans consecutive bars (first open, max high, min low, last close, summed
    volume) and carries the first fill mark inside it.
    """
    *columns, signal = _kline_arrays(bars, trades, limit)
    lists = [c.tolist() for c in columns]  # one conversion per column
    signals = [_SIGNAL_NAMES[s] for s in signal.tolist()]
    return [list(row) for row in zip(*lists, signals, strict=True)]


@dataclass(frozen=True)
class KlineBar:
    """A candle of the result's chart; ``signal`` (buy|sell) marks a fill on that bar."""

    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    signal: str | None


def kline_of(text: str | None) -> list[KlineBar]:
    """Return a stored kline (``[{"time", "open", ..., "signal"?}, ...]``) as candles."""
    return [
        KlineBar(b["time"], b["open"], b["high"], b["low"], b["close"], b["volume"], b.get("signal"))
        for b in json.loads(text or "[]")
    ]


def kline_json(bar: KlineBar) -> dict[str, Any]:
    """Return what KlineBarSchema dumps for ``bar`` (tests hold the two equal)."""
    out: dict[str, Any] = {
        "time": int(bar.time),
        "open": float(bar.open),
        "high": float(bar.high),
        "low": float(bar.low),
        "close": float(bar.close),
        "volume": float(bar.volume),
    }
    if bar.signal is not None:
        out["signal"] = bar.signal
    return out


def fill_json(fill: Fill) -> dict[str, Any]:
    """Return what TradeSchema dumps for ``fill`` (tests hold the two equal; money stays Decimal)."""
    return {
        "id": str(fill.id),
        "symbol": str(fill.symbol),
        "side": str(fill.side),
        "price": fill.price,
        "quantity": fill.quantity,
        "pnl": fill.pnl,
        "timestamp": int(fill.timestamp),
    }


def equity_json(point: EquityPoint) -> dict[str, Any]:
    """Return what BacktestEquityPointSchema dumps for ``point`` (tests hold the two equal)."""
    return {"time": int(point.time), "value": float(point.value)}
