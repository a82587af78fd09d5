"""HTTP contract of bots: Bot, create/status bodies, orders, performance and ledger."""
from __future__ import annotations

from decimal import Decimal

import marshmallow as ma
from marshmallow import EXCLUDE, validate

from backend.core.schemas import BaseSchema, Money, TimestampMs
from backend.domain.marketdata.intervals import INTERVALS

MAX_CAPITAL = 1_000_000_000_000
TAG = ma.fields.String(validate=validate.Length(min=1, max=32))
# The ledger keeps 8 decimal places, so the smallest capital that is not zero is 1e-8.
POSITIVE_CAPITAL = validate.Range(min=Decimal("0.00000001"), max=MAX_CAPITAL,
                                  error="Must be at least 0.00000001 and at most 1e12.")
BPS = validate.Range(min=0, max=999, error="Must be between 0 and 999 basis points.")


class BotSchema(BaseSchema):
    """Bot (contract fields: id, name, strategy, status, profit, runtime, capital, tags)."""

    id = ma.fields.String()
    name = ma.fields.String()
    strategy = ma.fields.String(metadata={"description": "The strategy's name."})
    status = ma.fields.String(metadata={"description": "active | paused | error | offline"})
    profit = Money(metadata={"description": "Realised + unrealised PnL (net of fees)."})
    runtime = ma.fields.String(metadata={"example": "15d 8h"})
    capital = Money()
    tags = ma.fields.List(ma.fields.String())
    strategyId = ma.fields.String(attribute="strategy_id")
    strategyVersionId = ma.fields.String(attribute="strategy_version_id")
    symbol = ma.fields.String()
    interval = ma.fields.String()
    paper = ma.fields.Boolean()
    public = ma.fields.Boolean()
    equity = Money()
    cash = Money()
    position = Money()
    feeBps = Money(attribute="fee_bps")
    slippageBps = Money(attribute="slippage_bps")
    allowShort = ma.fields.Boolean(attribute="allow_short")
    errorReason = ma.fields.String(attribute="error_reason", allow_none=True)
    errorMessage = ma.fields.String(attribute="error_message", allow_none=True)
    lastBarTime = TimestampMs(attribute="last_bar_time", allow_none=True)
    createdAt = TimestampMs(attribute="created_at")
    updatedAt = TimestampMs(attribute="updated_at")


class BotCreateSchema(BaseSchema):
    """Body of POST /api/bots (only paper trading for now)."""

    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    strategy_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=36))
    symbol = ma.fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    interval = ma.fields.String(load_default=None, validate=validate.OneOf(INTERVALS))
    capital = Money(required=True, validate=POSITIVE_CAPITAL)
    tags = ma.fields.List(TAG, load_default=list, validate=validate.Length(max=10))
    paper = ma.fields.Boolean(load_default=True, validate=validate.Equal(
        True, error="Live trading is not supported yet; paper must be true."))
    public = ma.fields.Boolean(load_default=False)
    fee_bps = Money(load_default=None, validate=BPS)
    slippage_bps = Money(load_default=None, validate=BPS)
    allow_short = ma.fields.Boolean(load_default=False)


class BotStatusSchema(BaseSchema):
    """Body of PATCH /api/bots/{id}/status (``active`` is accepted as ``running``)."""

    status = ma.fields.String(required=True,
                              validate=validate.OneOf(["running", "active", "paused"]))


class OrderSchema(BaseSchema):
    """Order {id, botId, symbol, side, price, quantity, fee, status, pnl?, timestamp, idempotencyKey}."""

    id = ma.fields.String()
    botId = ma.fields.String(attribute="bot_id")
    symbol = ma.fields.String()
    side = ma.fields.String()
    price = Money()
    quantity = Money()
    fee = Money()
    status = ma.fields.String()
    pnl = Money(attribute="realised_pnl", metadata={"description": "Realised PnL of this fill, net of its fee."})
    timestamp = TimestampMs(attribute="time")
    idempotencyKey = ma.fields.String(attribute="idempotency_key")
    source = ma.fields.String(metadata={"description": "tick | manual | workflow"})


class OrderCreateSchema(BaseSchema):
    """Body of POST /api/bots/{id}/orders: a market order at the latest close."""

    side = ma.fields.String(required=True, validate=validate.OneOf(["buy", "sell"]))
    quantity = Money(load_default=None, validate=validate.Range(
        min=0, min_inclusive=False, max=MAX_CAPITAL, error="Must be greater than 0."),
        metadata={"description": "Units; omitted = all-in buy, or sell the whole position."})


class OrderHeadersSchema(ma.Schema):
    """The optional Idempotency-Key header of POST /api/bots/{id}/orders."""

    class Meta:
        unknown = EXCLUDE

    idempotency_key = ma.fields.String(data_key="Idempotency-Key", load_default=None,
                                       validate=validate.Length(min=1, max=200))


class BotEquityPointSchema(BaseSchema):
    """Equity at a bar's close, stamped with the bar's open time."""

    time = TimestampMs()
    value = Money()


class BotPerformanceSchema(BaseSchema):
    """Equity curve and orders of a bot."""

    equity = ma.fields.List(ma.fields.Nested(BotEquityPointSchema))
    orders = ma.fields.List(ma.fields.Nested(OrderSchema))


class LedgerEntrySchema(OrderSchema):
    """An order as a ledger entry: its cash effect and the balances right after it."""

    notional = Money()
    referencePrice = Money(attribute="reference_price")
    cashAfter = Money(attribute="cash_after")
    positionAfter = Money(attribute="position_after")


class LedgerCheckSchema(BaseSchema):
    """equity = cash + position * mark = capital + realised + unrealised, and replay agreement."""

    mark = Money()
    cash = Money()
    position = Money()
    positionValue = Money(attribute="position_value")
    equity = Money()
    initialCapital = Money(attribute="initial_capital")
    realisedPnl = Money(attribute="realised_pnl")
    unrealisedPnl = Money(attribute="unrealised_pnl")
    fees = Money(attribute="fees_paid")
    expectedEquity = Money(attribute="expected_equity")
    difference = Money()
    replayMatches = ma.fields.Boolean(attribute="replay_matches")
    ok = ma.fields.Boolean()


class BotLedgerSchema(BaseSchema):
    """GET /api/bots/{id}/ledger."""

    botId = ma.fields.String(attribute="bot_id")
    avgPrice = Money(attribute="avg_price")
    entries = ma.fields.List(ma.fields.Nested(LedgerEntrySchema))
    check = ma.fields.Nested(LedgerCheckSchema)
