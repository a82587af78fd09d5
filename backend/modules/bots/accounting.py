"""Conversions between bot rows and the pure ledger (backend.domain.ledger)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from backend.domain.ledger import Fill, LedgerState
from backend.modules.bots.models import BotInstance, Order


def state_of(bot: BotInstance) -> LedgerState:
    """Return the ledger state stored on a bot row."""
    return LedgerState(
        initial_capital=bot.capital,
        cash=bot.cash,
        position=bot.position,
        cost_basis=bot.cost_basis,
        realised_pnl=bot.realised_pnl,
        fees_paid=bot.fees_paid,
    )


def store_state(bot: BotInstance, state: LedgerState) -> None:
    """Write a ledger state onto a bot row (the caller holds the row lock)."""
    bot.cash = state.cash
    bot.position = state.position
    bot.cost_basis = state.cost_basis
    bot.realised_pnl = state.realised_pnl
    bot.fees_paid = state.fees_paid


def mark_of(bot: BotInstance) -> Decimal:
    """Return the price the bot is marked at: the last close seen, else its average price."""
    if bot.mark_price is not None:
        return bot.mark_price
    return state_of(bot).avg_price


def order_values(
    bot: BotInstance,
    fill: Fill,
    state: LedgerState,
    *,
    time: int,
    reference_price: Decimal,
    key: str,
    source: str,
    request_hash: str | None = None,
) -> dict[str, Any]:
    """Return the column values of the order row recording ``fill`` (``state``: the account after it)."""
    return {
        "bot_id": bot.id,
        "owner_id": bot.owner_id,
        "symbol": bot.symbol,
        "side": fill.side,
        "source": source,
        "quantity": fill.quantity,
        "price": fill.price,
        "reference_price": reference_price,
        "notional": fill.notional,
        "fee": fill.fee,
        "realised_pnl": fill.realised_pnl,
        "cash_after": state.cash,
        "position_after": state.position,
        "idempotency_key": key,
        "request_hash": request_hash,
        "time": time,
    }


def order_row(
    bot: BotInstance,
    fill: Fill,
    state: LedgerState,
    *,
    time: int,
    reference_price: Decimal,
    key: str,
    source: str,
    request_hash: str | None = None,
) -> Order:
    """Build the order row recording ``fill`` (``state`` is the account right after it)."""
    values = order_values(
        bot,
        fill,
        state,
        time=time,
        reference_price=reference_price,
        key=key,
        source=source,
        request_hash=request_hash,
    )
    return Order(status="filled", **values)


def fill_of(order: Order) -> Fill:
    """Return the ledger fill an order row recorded."""
    sign = 1 if order.side == "buy" else -1
    return Fill(
        side=order.side,
        quantity=order.quantity,
        price=order.price,
        fee=order.fee,
        notional=order.notional,
        realised_pnl=order.realised_pnl,
        cash_delta=-sign * order.notional - order.fee,
    )
