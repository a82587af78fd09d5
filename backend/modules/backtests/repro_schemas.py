"""HTTP contract of the pictures, the diff and the reproduction of backtests (charts.py, compare.py,
reproduce.py); the fingerprint and the reproduce job's status fields live in schemas.py."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from backend.core.schemas import BaseSchema, CamelSchema, Money
from backend.modules.backtests import charts, compare
from backend.modules.backtests.schemas import RUN_STATUS


class ChartArgsSchema(BaseSchema):
    """`?width=&height=` of GET /api/backtests/{id}/chart.svg|.png, in pixels (422 outside the bounds)."""

    width = ma.fields.Integer(
        load_default=charts.WIDTH_DEFAULT,
        validate=validate.Range(min=charts.WIDTH_MIN, max=charts.WIDTH_MAX),
    )
    height = ma.fields.Integer(
        load_default=charts.HEIGHT_DEFAULT,
        validate=validate.Range(min=charts.HEIGHT_MIN, max=charts.HEIGHT_MAX),
    )


class DiffSideSchema(CamelSchema):
    """One backtest's inputs in a diff (``fingerprint`` is the fingerprint's hash, null without one)."""

    id = ma.fields.String()
    name = ma.fields.String()
    status = ma.fields.Function(
        lambda side: RUN_STATUS[side.status],
        metadata={"type": "string", "enum": ["queued", "running", "completed", "failed"]},
    )
    strategy_id = ma.fields.String(allow_none=True)
    strategy_version_id = ma.fields.String(allow_none=True)
    strategy_hash = ma.fields.String()
    kind = ma.fields.String()
    params = ma.fields.Dict()
    symbol = ma.fields.String()
    interval = ma.fields.String()
    start = ma.fields.Integer()
    end = ma.fields.Integer()
    provider = ma.fields.String()
    bars_count = ma.fields.Integer(allow_none=True)
    bars_hash = ma.fields.String(allow_none=True)
    engine_version = ma.fields.String()
    broker = ma.fields.Dict(metadata={"description": "initialCapital, feeBps, slippageBps, allowShort."})
    fingerprint = ma.fields.String(allow_none=True)


class DiffSameSchema(CamelSchema):
    """Which inputs the two backtests share."""

    strategy_version = ma.fields.Boolean(metadata={"description": "Equal strategy content hashes."})
    params = ma.fields.Boolean()
    data = ma.fields.Boolean(metadata={"description": "Symbol, interval, range, provider (and bars hash)."})
    engine_version = ma.fields.Boolean()
    broker = ma.fields.Boolean(metadata={"description": "Capital, fees, slippage and shorting."})
    fingerprint = ma.fields.Boolean(allow_none=True, metadata={"description": "Null when either has none."})


class DiffChangeSchema(CamelSchema):
    """A parameter or KPI of both runs; ``delta`` = b - a when both are numbers."""

    name = ma.fields.String()
    a = ma.fields.Raw(allow_none=True)
    b = ma.fields.Raw(allow_none=True)
    delta = ma.fields.Float(allow_none=True)


class DiffTradeSchema(CamelSchema):
    """A round trip found in one run only (matched on side, entry time and exit time)."""

    side = ma.fields.String(metadata={"enum": ["long", "short"]})
    entry_time = ma.fields.Integer()
    exit_time = ma.fields.Integer()
    entry_price = Money()
    exit_price = Money()
    quantity = Money()
    pnl = Money()


LONE_TRADES_DOC = f"The first {compare.TRADES_SHOWN}, in order; the totals count them all."


class BacktestDiffSchema(CamelSchema):
    """GET /api/backtests/{a}/diff/{b}: inputs side by side, what is the same, KPI deltas, lone trades."""

    a = ma.fields.Nested(DiffSideSchema)
    b = ma.fields.Nested(DiffSideSchema)
    same = ma.fields.Nested(DiffSameSchema)
    params = ma.fields.List(
        ma.fields.Nested(DiffChangeSchema), metadata={"description": "Only those that differ."}
    )
    kpis = ma.fields.List(
        ma.fields.Nested(DiffChangeSchema), metadata={"description": "Every metric of either."}
    )
    only_in_a = ma.fields.List(ma.fields.Nested(DiffTradeSchema), metadata={"description": LONE_TRADES_DOC})
    only_in_b = ma.fields.List(ma.fields.Nested(DiffTradeSchema), metadata={"description": LONE_TRADES_DOC})
    only_in_a_total = ma.fields.Integer()
    only_in_b_total = ma.fields.Integer()
    common_trades = ma.fields.Integer()
