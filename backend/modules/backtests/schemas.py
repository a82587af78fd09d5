"""HTTP contract of the backtests module (Backtest, BacktestSummary, KlineBar, Trade: CONTRACT.md 2)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import EXCLUDE, validate

from backend.core.jsonprovider import RawJSON
from backend.core.schemas import BaseSchema, CamelSchema, Id, Money, Rounded, Symbol, TimestampMs
from backend.domain.backtest.walkforward import OBJECTIVES
from backend.domain.marketdata.intervals import INTERVALS
from backend.modules.market.sources import PROVIDERS
from backend.modules.strategies import service as strategies_service

MAX_TIME_MS = 4_102_444_800_000  # 2100-01-01 UTC: keeps times far inside BIGINT
MAX_FOLDS = 20
MAX_GRID_VALUES = 16
GUARDRAILS_DOC = (
    "Overfitting guardrails (docs/engine.md): probabilisticSharpe, deflatedSharpe (null for a single "
    "run), bootstrap (5-95 % band of totalReturn and maxDrawdown over resampled trades), inOutSample "
    "(the walk-forward degradation, null without one). Null until the run completes."
)
WALK_FORWARD_DOC = "The walk-forward analysis the run asked for (docs/backtests.md); null without one."
FINGERPRINT_DOC = (
    "The run fingerprint, written with the result; null before it completed (or for older results)."
)


class InlineStrategySchema(BaseSchema):
    """An unsaved strategy definition: a built-in kind and its parameters."""

    kind = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=32),
        metadata={"enum_from": strategies_service.kind_names},
    )
    params = ma.fields.Dict(keys=ma.fields.String(), load_default=dict)


class WalkForwardSchema(BaseSchema):
    """A walk-forward analysis of the run: rolling folds, parameters chosen in-sample (docs/backtests.md)."""

    folds = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=2, max=MAX_FOLDS))
    train_fraction = ma.fields.Float(load_default=0.7, validate=validate.Range(min=0.1, max=0.9))
    params = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Length(min=1, max=64)),
        values=ma.fields.List(ma.fields.Raw(), validate=validate.Length(min=1, max=MAX_GRID_VALUES)),
        validate=validate.Length(min=1),
        metadata={"description": "Values to try per parameter; default: each at 75/100/125 % of its value."},
    )
    objective = ma.fields.String(load_default="sharpeRatio", validate=validate.OneOf(OBJECTIVES))


class RunSettingsSchema(BaseSchema):
    """Where and how a run trades: symbol, interval, range in Unix ms and broker settings.

    Declared once for every request that runs a backtest: a backtest and a sweep (snake_case, the
    contract's names) and a marketplace trial (camelCase, as a ``CamelSchema`` subclass).
    """

    symbol = Symbol()
    interval = ma.fields.String(validate=validate.OneOf(INTERVALS))
    start = TimestampMs(validate=validate.Range(min=0, max=MAX_TIME_MS))
    end = TimestampMs(validate=validate.Range(min=1, max=MAX_TIME_MS))
    initial_capital = Money(
        load_default=Decimal(10000), validate=validate.Range(min=Decimal("0.01"), max=Decimal("1e12"))
    )
    fee_bps = Money(load_default=Decimal(0), validate=validate.Range(min=0, max=1000, max_inclusive=False))
    slippage_bps = Money(
        load_default=Decimal(0), validate=validate.Range(min=0, max=1000, max_inclusive=False)
    )
    provider = ma.fields.String(load_default="auto", validate=validate.OneOf(PROVIDERS))
    allow_short = ma.fields.Boolean(load_default=False)


class RunRequestSchema(RunSettingsSchema):
    """What every run request names: ``strategy_id`` or ``strategy`` (+ ``symbol``), range in Unix ms,
    broker settings. A backtest and a sweep extend it."""

    class Meta:
        openapi = {
            "oneOf": [{"required": ["strategy_id"]}, {"required": ["strategy", "symbol"]}],
            "not": {"required": ["strategy_id", "strategy"]},
        }

    strategy_id = Id()
    strategy = ma.fields.Nested(InlineStrategySchema)
    name = ma.fields.String(validate=validate.Length(min=1, max=200))

    @ma.validates_schema
    def _one_strategy(self, data, **kwargs):
        if ("strategy_id" in data) == ("strategy" in data):
            raise ma.ValidationError("Give exactly one of strategy_id or strategy.", "strategy_id")
        if "strategy" in data and "symbol" not in data:
            raise ma.ValidationError("Required with an inline strategy.", "symbol")


class BacktestRunSchema(RunRequestSchema):
    """POST /api/backtests/run: ``strategy_id`` or ``strategy`` (+ ``symbol``), range in Unix ms."""

    walk_forward = ma.fields.Nested(WalkForwardSchema)


class SubmittedSchema(BaseSchema):
    """The ids of a submitted backtest (HTTP 202)."""

    job_id = ma.fields.String()
    backtest_id = ma.fields.String()


class BacktestSummarySchema(CamelSchema):
    """The contract's BacktestSummary: percents as numbers, null where undefined."""

    total_return = ma.fields.Float(allow_none=True)
    annualized_return = ma.fields.Float(allow_none=True)
    sharpe_ratio = ma.fields.Float(allow_none=True)
    max_drawdown = ma.fields.Float(allow_none=True)
    win_rate = ma.fields.Float(allow_none=True)
    profit_factor = ma.fields.Float(allow_none=True)
    total_trades = ma.fields.Integer(allow_none=True)
    avg_holding_days = ma.fields.Float(allow_none=True)


class DisplaySummarySchema(BacktestSummarySchema):
    """The BacktestSummary as the dashboard and lists show it: every KPI rounded to 2 decimals.

    Full precision stays in the detailed results: `GET /api/backtests/{id}` (``summary`` and
    ``metrics``), the job's ``result`` and the ``metrics`` of `GET /api/backtests/latest`.
    """

    total_return = Rounded(2, allow_none=True)
    annualized_return = Rounded(2, allow_none=True)
    sharpe_ratio = Rounded(2, allow_none=True)
    max_drawdown = Rounded(2, allow_none=True)
    win_rate = Rounded(2, allow_none=True)
    profit_factor = Rounded(2, allow_none=True)
    avg_holding_days = Rounded(2, allow_none=True)


class KlineBarSchema(CamelSchema):
    """A candle; ``signal`` (buy|sell) marks a fill on that bar."""

    time = ma.fields.Integer()
    open = ma.fields.Float()
    high = ma.fields.Float()
    low = ma.fields.Float()
    close = ma.fields.Float()
    volume = ma.fields.Float()
    signal = ma.fields.String(metadata={"enum": ["buy", "sell"]})

    @ma.post_dump
    def _omit_no_signal(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        """Leave ``signal`` out on bars without a fill."""
        if data.get("signal") is None:
            data.pop("signal", None)
        return data


class TradeSchema(CamelSchema):
    """The contract's Trade: one fill (an exit fill carries the round trip's pnl)."""

    id = ma.fields.String()
    symbol = ma.fields.String()
    side = ma.fields.String(metadata={"enum": ["buy", "sell"]})
    price = Money()
    quantity = Money()
    pnl = Money(allow_none=True)
    timestamp = ma.fields.Integer()


class BacktestEquityPointSchema(CamelSchema):
    """One point of the equity curve (quote currency)."""

    time = ma.fields.Integer()
    value = ma.fields.Float()


class RowList(ma.fields.List):
    """``List(Nested(schema))`` on the wire and in the docs, sent as the view's `RawJSON` text.

    A result carries up to BACKTEST_KLINE_MAX candles and BACKTEST_CURVE_MAX points, stored as the
    API sends them (``results.kline_wire`` and ``results.equity_wire``; the first fills,
    ``read_models.fills_wire``): the text goes out as it is (the JSON provider writes it), never
    through marshmallow's per-object machinery. A plain list (no view carries one) is dumped by
    the nested schema like any ``List``.
    """

    def __init__(self, schema: type[ma.Schema], **kwargs: Any) -> None:
        super().__init__(ma.fields.Nested(schema), **kwargs)

    def _serialize(  # type: ignore[override]  # a RawJSON stands for the list, already encoded
        self, value: Any, attr: str | None, obj: Any, **kwargs: Any
    ) -> list[Any] | RawJSON | None:
        if isinstance(value, RawJSON):
            return value
        return super()._serialize(value, attr, obj, **kwargs)


# A backtest's status is its job's (backend.core.jobs). The contract's enums have no
# "cancelled": a cancelled run goes out as failed, and its `error.reason` says "cancelled".
RUN_STATUS = {
    "PENDING": "queued",
    "RUNNING": "running",
    "SUCCESS": "completed",
    "FAILED": "failed",
    "CANCELLED": "failed",
}
JOB_STATUS = {
    "PENDING": "PENDING",
    "RUNNING": "RUNNING",
    "SUCCESS": "SUCCESS",
    "FAILED": "FAILED",
    "CANCELLED": "FAILED",
}
# The list filter also accepts "cancelled", so cancelled runs can be told from failed ones.
STATUS_FILTER = {
    "queued": "PENDING",
    "running": "RUNNING",
    "completed": "SUCCESS",
    "failed": "FAILED",
    "cancelled": "CANCELLED",
}


class FingerprintSchema(CamelSchema):
    """What a stored result was computed from (fingerprint.py); ``hash`` combines the other fields."""

    strategy_hash = ma.fields.String()
    params = ma.fields.Dict()
    bars_hash = ma.fields.String()
    engine_version = ma.fields.String()
    broker = ma.fields.Dict(metadata={"description": "initialCapital, feeBps, slippageBps, allowShort."})
    hash = ma.fields.String()


def run_status_field(noun: str = "run") -> ma.fields.Function:
    """The contract's run status (its job's, mapped by RUN_STATUS) as a documented field."""
    return ma.fields.Function(
        lambda view: RUN_STATUS[view.status],
        metadata={
            "type": "string",
            "enum": ["queued", "running", "completed", "failed"],
            "description": f"A cancelled {noun} is `failed` with `error.reason` = `cancelled`.",
        },
    )


class BacktestSchema(CamelSchema):
    """The contract's Backtest plus the recorded inputs needed to reproduce it."""

    id = ma.fields.String()
    name = ma.fields.String()
    symbol = ma.fields.String()
    status = run_status_field()
    started_at = ma.fields.Integer()
    finished_at = ma.fields.Integer(allow_none=True)
    summary = ma.fields.Nested(DisplaySummarySchema, allow_none=True)
    job_id = ma.fields.String(allow_none=True)
    strategy_id = ma.fields.String(allow_none=True)
    strategy_version_id = ma.fields.String(allow_none=True)
    kind = ma.fields.String()
    params = ma.fields.Dict()
    interval = ma.fields.String()
    start = ma.fields.Integer()
    end = ma.fields.Integer()
    provider = ma.fields.String()
    initial_capital = Money()
    fee_bps = Money()
    slippage_bps = Money()
    allow_short = ma.fields.Boolean()
    engine_version = ma.fields.String()
    bars_count = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.Integer()
    error = ma.fields.Dict(allow_none=True)
    fingerprint = ma.fields.Nested(
        FingerprintSchema, allow_none=True, metadata={"description": FINGERPRINT_DOC}
    )


TRADES_DOC = (
    "The first fills of the result, oldest first (at most BACKTEST_POLL_TRADES_MAX); "
    "`tradesTotal` counts them all and GET /api/backtests/{id}/trades pages through every one."
)


class BacktestDetailSchema(BacktestSchema):
    """A Backtest with its full result (full precision): every metric, kline, the first fills, equity."""

    summary = ma.fields.Nested(BacktestSummarySchema, allow_none=True)
    metrics = ma.fields.Dict(allow_none=True)
    kline = RowList(KlineBarSchema)
    trades = RowList(TradeSchema, metadata={"description": TRADES_DOC})
    trades_total = ma.fields.Integer(metadata={"description": "Fills of the whole result."})
    equity = RowList(BacktestEquityPointSchema)
    guardrails = ma.fields.Dict(allow_none=True, metadata={"description": GUARDRAILS_DOC})
    walk_forward = ma.fields.Dict(allow_none=True, metadata={"description": WALK_FORWARD_DOC})


class BacktestLatestSchema(CamelSchema):
    """The contract's BacktestLatestResponse (plus the backtest's id, symbol and full metrics);
    the dashboard's summary is rounded (DisplaySummarySchema), ``metrics`` keeps full precision."""

    summary = ma.fields.Nested(DisplaySummarySchema)
    kline = RowList(KlineBarSchema)
    trades = RowList(TradeSchema, metadata={"description": TRADES_DOC})
    trades_total = ma.fields.Integer(metadata={"description": "Fills of the whole result."})
    backtest_id = ma.fields.String(attribute="id")
    name = ma.fields.String()
    symbol = ma.fields.String()
    fingerprint = ma.fields.Nested(
        FingerprintSchema, allow_none=True, metadata={"description": FINGERPRINT_DOC}
    )
    interval = ma.fields.String()
    finished_at = ma.fields.Integer(allow_none=True)
    metrics = ma.fields.Dict(allow_none=True)
    equity = RowList(BacktestEquityPointSchema)
    guardrails = ma.fields.Dict(allow_none=True, metadata={"description": GUARDRAILS_DOC})
    walk_forward = ma.fields.Dict(allow_none=True, metadata={"description": WALK_FORWARD_DOC})


class BacktestResultSchema(BacktestLatestSchema):
    """A finished job's result: the BacktestLatestResponse with its summary at full precision."""

    summary = ma.fields.Nested(BacktestSummarySchema)


class KpisSchema(CamelSchema):
    """The verified KPIs other modules attach (forum posts, the agent): inputs and the 8 KPIs, flat."""

    backtest_id = ma.fields.String()
    strategy_id = ma.fields.String(allow_none=True)
    strategy_version_id = ma.fields.String(allow_none=True)
    symbol = ma.fields.String()
    interval = ma.fields.String()
    kind = ma.fields.String()
    params = ma.fields.Dict()
    start = ma.fields.Integer()
    end = ma.fields.Integer()
    engine_version = ma.fields.String()
    finished_at = ma.fields.Integer(allow_none=True)
    summary = ma.fields.Nested(BacktestSummarySchema, allow_none=True)

    @ma.post_dump
    def _flatten_summary(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        """Put the summary's KPIs beside the inputs (none before the run completed)."""
        summary = data.pop("summary", None) or {}
        return {**data, **summary}


REPRODUCED_DOC = (
    "Only for a job of POST /api/backtests/{id}/reproduce, once it succeeded: `identical`, or "
    "`different` with the first `difference` (strategy_hash, bars_hash, engine_version, trade, "
    "trade_count, metric, final_equity). Such a job has no `result`."
)


class JobStatusSchema(BaseSchema):
    """GET /api/backtests/job/{job_id}: PENDING|RUNNING|SUCCESS|FAILED (or CANCELLED), progress 0..100."""

    job_id = ma.fields.String()
    backtest_id = ma.fields.String()
    status = ma.fields.Function(
        lambda out: JOB_STATUS[out.status],
        metadata={
            "type": "string",
            "enum": ["PENDING", "RUNNING", "SUCCESS", "FAILED"],
            "description": "A cancelled job is `FAILED` with `error.reason` = `cancelled`.",
        },
    )
    progress = ma.fields.Integer()
    result = ma.fields.Nested(BacktestResultSchema)
    error = ma.fields.Dict()
    reproduced = ma.fields.String(
        metadata={"enum": ["identical", "different"], "description": REPRODUCED_DOC}
    )
    difference = ma.fields.Dict(
        metadata={"description": "A reproduce job's first difference (docs/backtests.md)."}
    )

    @ma.post_dump
    def _omit_absent(self, data: dict, **_kwargs) -> dict:
        """Leave out ``result`` until a run succeeded, ``error`` unless it failed, and a reproduce
        job's ``reproduced`` / ``difference`` until it succeeded (and for runs)."""
        optional = ("result", "error", "reproduced", "difference")
        return {k: v for k, v in data.items() if not (k in optional and v is None)}


class LatestQuerySchema(BaseSchema):
    """`?symbol=` of GET /api/backtests/latest."""

    symbol = Symbol()


class BacktestQueryArgsSchema(BaseSchema):
    """Filters of GET /api/backtests (page and page_size are parsed by the paginator)."""

    class Meta:
        unknown = EXCLUDE

    symbol = Symbol()
    strategy_id = Id()
    status = ma.fields.String(validate=validate.OneOf(list(STATUS_FILTER)))

    @ma.post_load
    def _job_status(self, data: dict, **_kwargs) -> dict:
        if "status" in data:
            data["status"] = STATUS_FILTER[data["status"]]
        return data
