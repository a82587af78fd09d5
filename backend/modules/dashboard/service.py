"""The dashboard's stats card, computed with one aggregate query per source module.

Scope: a caller with a token gets their own figures (zeros when they have nothing yet: the quota
is theirs); an anonymous caller gets the public showcase's, like the other dashboard GETs:
backtests of published strategies, public bots, published strategies' KPIs.

- ``backtestsThisMonth``: backtests submitted since the start of the current UTC month, shown
  against ``BACKTEST_MONTHLY_QUOTA`` (displayed, not enforced).
- ``botRuntimeHours``: running time of the live (not deleted) bots, summed over their running periods.
- ``totalProfit``: the bots' paper profit now (equity marked at the last close seen, minus capital).
- ``profitChange``: ``totalProfit`` minus the total profit at the start of the period
  (``?period=24h|7d|30d``, default 24h); a bot's profit then is read from its equity curve (its
  last point at or before the start; 0 before its first point or before it existed).
- ``avgWinRate`` / ``avgHoldingDays`` / ``avgSharpe``: averages over the strategies with a
  completed backtest of the KPIs the server computed for it (`latest_metrics`); a KPI that is
  undefined for a strategy (no trades) is left out; null when no strategy has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from flask import current_app

from backend.core.db import now_ms
from backend.modules.backtests import service as backtests_service
from backend.modules.bots import service as bots_service
from backend.modules.strategies import service as strategies_service

PERIODS_MS = {"24h": 24 * 3_600_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000}
MINE, SHOWCASE = "mine", "showcase"


@dataclass(frozen=True)
class DashboardStats:
    """The figures of the dashboard's stats card (see the module docstring)."""

    scope: str
    as_of: int
    month_start: int
    backtests_this_month: int
    backtest_quota: int
    backtest_quota_remaining: int
    bots: int
    bot_runtime_hours: float
    total_profit: Decimal
    period: str
    period_start: int
    profit_change: Decimal
    strategies: int
    avg_win_rate: float | None
    avg_holding_days: float | None
    avg_sharpe: float | None


def month_start_ms(now: int) -> int:
    """Return the start of the UTC calendar month containing ``now`` (Unix ms)."""
    day = datetime.fromtimestamp(now / 1000, tz=UTC)
    return int(day.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)


def get_stats(*, actor_id: str | None, period: str = "24h", now: int | None = None) -> DashboardStats:
    """Return the stats card of the caller (or of the public showcase when anonymous)."""
    now = now if now is not None else now_ms()
    month_start = month_start_ms(now)
    period_start = now - PERIODS_MS[period]
    quota = int(current_app.config["BACKTEST_MONTHLY_QUOTA"])
    used = backtests_service.count_backtests_since(since=month_start, owner_id=actor_id)
    paper = bots_service.paper_totals(owner_id=actor_id, since=period_start, now=now)
    kpis = strategies_service.average_metrics(owner_id=actor_id)
    return DashboardStats(
        scope=MINE if actor_id is not None else SHOWCASE,
        as_of=now,
        month_start=month_start,
        backtests_this_month=used,
        backtest_quota=quota,
        backtest_quota_remaining=max(quota - used, 0),
        bots=paper.bots,
        bot_runtime_hours=paper.runtime_ms / 3_600_000,
        total_profit=paper.profit,
        period=period,
        period_start=period_start,
        profit_change=paper.profit - paper.profit_at_since,
        strategies=kpis.strategies,
        avg_win_rate=kpis.win_rate,
        avg_holding_days=kpis.avg_holding_days,
        avg_sharpe=kpis.sharpe_ratio,
    )
