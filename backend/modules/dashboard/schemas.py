"""HTTP contract of the dashboard's stats card."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from backend.core.schemas import BaseSchema, CamelSchema, Money, Rounded, TimestampMs
from backend.modules.dashboard.service import PERIODS_MS


class StatsQuerySchema(BaseSchema):
    """`?period=` of GET /api/dashboard/stats: the window of `profitChange`."""

    period = ma.fields.String(load_default="24h", validate=validate.OneOf(list(PERIODS_MS)))


class DashboardStatsSchema(CamelSchema):
    """The stats card (docs/dashboard.md says how each figure is computed)."""

    scope = ma.fields.String(metadata={"description": "mine | showcase (anonymous callers)"})
    as_of = TimestampMs(metadata={"description": "When the figures were computed."})
    month_start = TimestampMs(metadata={"description": "Start of the current UTC month."})
    backtests_this_month = ma.fields.Integer()
    backtest_quota = ma.fields.Integer(metadata={"description": "BACKTEST_MONTHLY_QUOTA."})
    backtest_quota_remaining = ma.fields.Integer()
    bots = ma.fields.Integer(metadata={"description": "Live bots counted."})
    bot_runtime_hours = Rounded(2)
    total_profit = Money(metadata={"description": "Paper profit of the bots now (equity - capital)."})
    period = ma.fields.String(metadata={"description": "24h | 7d | 30d"})
    period_start = TimestampMs()
    profit_change = Money(metadata={"description": "totalProfit minus the total profit at periodStart."})
    strategies = ma.fields.Integer(metadata={"description": "Strategies with a completed backtest."})
    avg_win_rate = Rounded(2, allow_none=True, metadata={"description": "Percent."})
    avg_holding_days = Rounded(2, allow_none=True)
    avg_sharpe = Rounded(2, allow_none=True)
