"""HTTP contract of bots: Bot, create/status bodies, orders, performance and ledger."""

from __future__ import annotations

from decimal import Decimal

import marshmallow as ma
from marshmallow import EXCLUDE, validate

from backend.core.schemas import BaseSchema, CamelSchema, Id, Money, Symbol, TimestampMs
from backend.domain.marketdata.intervals import INTERVALS

MAX_CAPITAL = 1_000_000_000_000
TAG = ma.fields.String(validate=validate.Length(min=1, max=32))
# The ledger keeps 8 decimal places, so the smallest capital that is not zero is 1e-8.
POSITIVE_CAPITAL = validate.Range(
    min=Decimal("0.00000001"), max=MAX_CAPITAL, error="Must be at least 0.00000001 and at most 1e12."
)
BPS = validate.Range(min=0, max=999, error="Must be between 0 and 999 basis points.")


class BotSchema(CamelSchema):
    """Bot (contract fields: id, name, strategy, status, profit, runtime, capital, tags)."""

    id = ma.fields.String()
    name = ma.fields.String()
    strategy = ma.fields.String(metadata={"description": "The strategy's name."})
    status = ma.fields.String(metadata={"description": "active | paused | error | offline"})
    profit = Money(metadata={"description": "Realised + unrealised PnL (net of fees)."})
    runtime = ma.fields.String(metadata={"example": "15d 8h"})
    capital = Money()
    tags = ma.fields.List(ma.fields.String())
    strategy_id = ma.fields.String()
    strategy_version_id = ma.fields.String()
    symbol = ma.fields.String()
    interval = ma.fields.String()
    paper = ma.fields.Boolean()
    public = ma.fields.Boolean()
    equity = Money()
    cash = Money()
    position = Money()
    fee_bps = Money()
    slippage_bps = Money()
    allow_short = ma.fields.Boolean()
    error_reason = ma.fields.String(allow_none=True)
    error_message = ma.fields.String(allow_none=True)
    last_bar_time = TimestampMs(allow_none=True)
    created_at = TimestampMs()
    updated_at = TimestampMs()


class BotCreateSchema(BaseSchema):
    """Body of POST /api/bots (only paper trading for now)."""

    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    strategy_id = Id(required=True)
    symbol = Symbol(load_default=None)
    interval = ma.fields.String(load_default=None, validate=validate.OneOf(INTERVALS))
    capital = Money(required=True, validate=POSITIVE_CAPITAL)
    tags = ma.fields.List(TAG, load_default=list, validate=validate.Length(max=10))
    paper = ma.fields.Boolean(
        load_default=True,
        validate=validate.Equal(True, error="Live trading is not supported yet; paper must be true."),
    )
    public = ma.fields.Boolean(load_default=False)
    fee_bps = Money(load_default=None, validate=BPS)
    slippage_bps = Money(load_default=None, validate=BPS)
    allow_short = ma.fields.Boolean(load_default=False)


class BotStatusSchema(BaseSchema):
    """Body of PATCH /api/bots/{id}/status (``active`` is accepted as ``running``)."""

    status = ma.fields.String(required=True, validate=validate.OneOf(["running", "active", "paused"]))


class OrderSchema(CamelSchema):
    """Order {id, botId, symbol, side, price, quantity, fee, status, pnl?, timestamp, idempotencyKey}."""

    id = ma.fields.String()
    bot_id = ma.fields.String()
    symbol = ma.fields.String()
    side = ma.fields.String()
    price = Money()
    quantity = Money()
    fee = Money()
    status = ma.fields.String()
    pnl = Money(metadata={"description": "Realised PnL of this fill, net of its fee."})
    timestamp = TimestampMs()
    idempotency_key = ma.fields.String()
    source = ma.fields.String(metadata={"description": "tick | manual | workflow"})


class OrderCreateSchema(BaseSchema):
    """Body of POST /api/bots/{id}/orders: a market order at the latest close."""

    side = ma.fields.String(required=True, validate=validate.OneOf(["buy", "sell"]))
    quantity = Money(
        load_default=None,
        validate=validate.Range(min=0, min_inclusive=False, max=MAX_CAPITAL, error="Must be greater than 0."),
        metadata={"description": "Units; omitted = all-in buy, or sell the whole position."},
    )


class OrderHeadersSchema(ma.Schema):
    """The optional Idempotency-Key header of POST /api/bots/{id}/orders."""

    class Meta:
        unknown = EXCLUDE

    idempotency_key = ma.fields.String(
        data_key="Idempotency-Key", load_default=None, validate=validate.Length(min=1, max=200)
    )


class BotEquityPointSchema(CamelSchema):
    """Equity at a bar's close, stamped with the bar's open time."""

    time = TimestampMs()
    value = Money()


class BotPerformanceSchema(CamelSchema):
    """Equity curve and orders of a bot."""

    equity = ma.fields.List(ma.fields.Nested(BotEquityPointSchema))
    orders = ma.fields.List(ma.fields.Nested(OrderSchema))


class LedgerEntrySchema(OrderSchema):
    """An order as a ledger entry: its cash effect and the balances right after it."""

    notional = Money()
    reference_price = Money()
    cash_after = Money()
    position_after = Money()


class LedgerCheckSchema(CamelSchema):
    """equity = cash + position * mark = capital + realised + unrealised, and replay agreement."""

    mark = Money()
    cash = Money()
    position = Money()
    position_value = Money()
    equity = Money()
    initial_capital = Money()
    realised_pnl = Money()
    unrealised_pnl = Money()
    fees = Money(attribute="fees_paid")
    expected_equity = Money()
    difference = Money()
    replay_matches = ma.fields.Boolean()
    ok = ma.fields.Boolean()


class BotLedgerSchema(CamelSchema):
    """GET /api/bots/{id}/ledger."""

    bot_id = ma.fields.String()
    avg_price = Money()
    entries = ma.fields.List(ma.fields.Nested(LedgerEntrySchema))
    check = ma.fields.Nested(LedgerCheckSchema)
