"""Rendering of stored backtests into the contract's shapes (Backtest, summary, kline, Trade).

The contract's Trade is a *fill*: each stored round trip yields an entry fill (``buy`` for a long,
``sell`` for a short; no pnl) and an exit fill (the opposite side, carrying the round trip's pnl).
Kline ``signal`` marks the bars where fills happened (buy/sell), i.e. bar t+1 for a signal at t.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from backend.modules.backtests.models import Backtest, BacktestTrade

SUMMARY_KEYS = (
    "totalReturn",
    "annualizedReturn",
    "sharpeRatio",
    "maxDrawdown",
    "winRate",
    "profitFactor",
    "totalTrades",
    "avgHoldingDays",
)
_FILL_NS = uuid.UUID("6f1f4d2e-8a55-4c7e-9a34-6c0f1c2b7d10")


def summary_of(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return the contract's 8 KPIs (percent numbers; null where undefined) from stored metrics."""
    if metrics is None:
        return None
    return {key: metrics.get(key) for key in SUMMARY_KEYS}


def fills_of(trades: Iterable[BacktestTrade], symbol: str) -> list[dict[str, Any]]:
    """Return the contract's Trade list (two fills per round trip), oldest first."""
    out: list[dict[str, Any]] = []
    for t in trades:
        opening, closing = ("buy", "sell") if t.side == "long" else ("sell", "buy")
        out.append(
            {
                "id": str(uuid.uuid5(_FILL_NS, f"{t.id}:entry")),
                "symbol": symbol,
                "side": opening,
                "price": t.entry_price,
                "quantity": t.quantity,
                "pnl": None,
                "timestamp": t.entry_time,
            }
        )
        out.append(
            {
                "id": str(uuid.uuid5(_FILL_NS, f"{t.id}:exit")),
                "symbol": symbol,
                "side": closing,
                "price": t.exit_price,
                "quantity": t.quantity,
                "pnl": t.pnl,
                "timestamp": t.exit_time,
            }
        )
    return out


def kline_of(rows: list[list[Any]] | None) -> list[dict[str, Any]]:
    """Return stored ``[t, o, h, l, c, v, signal]`` rows as KlineBar dicts (signal only when set)."""
    bars = []
    for t, o, h, lo, c, v, signal in rows or []:
        bar = {"time": t, "open": o, "high": h, "low": lo, "close": c, "volume": v}
        if signal:
            bar["signal"] = signal
        bars.append(bar)
    return bars


def equity_of(rows: list[list[Any]] | None) -> list[dict[str, Any]]:
    """Return stored ``[t, value]`` rows as ``{time, value}`` points."""
    return [{"time": t, "value": v} for t, v in rows or []]


@dataclass(frozen=True)
class BacktestView:
    """A backtest as the API shows it; result fields are filled for the detail/latest views."""

    row: Backtest
    summary: dict[str, Any] | None
    kline: list[dict[str, Any]] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)
    equity: list[dict[str, Any]] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        # Schemas read row attributes (id, name, symbol, ...) straight through the view.
        return getattr(self.row, name)

    @property
    def metrics(self) -> dict[str, Any] | None:
        """Return every stored metric (the summary's superset)."""
        return self.row.metrics

    @property
    def status(self) -> str:
        """Return the run's status: its job's (PENDING, RUNNING, SUCCESS, FAILED, CANCELLED)."""
        return self.row.job.status

    @property
    def error(self) -> dict[str, Any] | None:
        """Return ``{reason, message}`` for a failed or cancelled run."""
        job = self.row.job
        return {"reason": job.error_reason, "message": job.error} if job.error_reason else None

    @property
    def started(self) -> int:
        """Return the start time, or the submit time while queued."""
        return int(self.row.job.started_at or self.row.created_at)

    @property
    def finished_at(self) -> int | None:
        """Return when the run ended (completed, failed or cancelled)."""
        return self.row.job.finished_at
