"""Manual and workflow paper orders: market orders at the latest close, exactly once per key.

Idempotency (Stripe's semantics, documented in docs/bots.md): the bot row is locked first, so
requests with the same key are serialised; the first one books the order and stores a hash of
its request; a later one with the same key and the same hash gets that order back, with a
different hash it is a 409 ``idempotency_conflict``. The unique (bot, key) constraint backs it.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from sqlalchemy import select

from backend.domain.ledger import (
    BadNumber,
    LedgerState,
    apply_fill,
    order_for_target,
    positive_price,
)
from backend.extensions import db
from backend.modules.bots import bot_events, links
from backend.modules.bots.accounting import order_row, state_of, store_state
from backend.modules.bots.errors import IdempotencyConflict, OrderRejected
from backend.modules.bots.models import BotInstance, Order

# What an order side means without an explicit quantity: the target position it moves to.
TARGETS = {"buy": 1, "close": 0}


def _canonical(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):  # 1, 1.0 and 1.00 are the same quantity
        return format(value.normalize(), "f")
    return str(value)


def request_hash(**body: object) -> str:
    """Return a stable hash of an order request's parameters."""
    canonical = json.dumps({k: _canonical(v) for k, v in body.items()}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def existing_order(bot: BotInstance, key: str, digest: str) -> Order | None:
    """Return the order already booked under ``key``; raise IdempotencyConflict on a new body."""
    order = db.session.scalar(select(Order).where(Order.bot_id == bot.id, Order.idempotency_key == key))
    if order is not None and order.request_hash != digest:
        raise IdempotencyConflict(details={"idempotency_key": key})
    return order


def _reference_price(bot: BotInstance, now: int) -> Decimal:
    try:
        latest = links.latest_close(symbol=bot.symbol, interval=bot.interval, now_ms=now)
        if latest is None:
            raise OrderRejected(f"No price is available for {bot.symbol} yet.")
        return positive_price(latest[1])
    except BadNumber as exc:
        raise OrderRejected(f"The latest price of {bot.symbol} is invalid.") from exc


def _sized(
    bot: BotInstance, state: LedgerState, side: str, quantity: Decimal | None, price: Decimal
) -> tuple[str, Decimal] | None:
    """Return (buy|sell, quantity) for a side and optional quantity, or None if nothing to do."""
    if quantity is not None:
        if side == "sell" and not bot.allow_short and quantity > state.position:
            raise OrderRejected(
                "Cannot sell more than the bot holds (short selling is off).",
                fields={"quantity": [f"At most {max(state.position, 0)}."]},
            )
        return side, quantity
    target = TARGETS.get(side, -1 if bot.allow_short else 0)
    return order_for_target(
        state, target=target, reference_price=price, fee_bps=bot.fee_bps, slippage_bps=bot.slippage_bps
    )


def order_values_of(order: Order) -> dict[str, object]:
    """Return an order row's columns as the mapping ``bot_events.order_booked`` takes."""
    return {c.key: getattr(order, c.key) for c in Order.__table__.columns}


def book_order(
    bot: BotInstance, *, side: str, quantity: Decimal | None, key: str, digest: str, source: str, now: int
) -> Order | None:
    """Fill a market order on a locked bot at the latest close; None when no order is needed."""
    price = _reference_price(bot, now)
    state = state_of(bot)
    sized = _sized(bot, state, side, quantity, price)
    if sized is None:
        return None
    state, fill = apply_fill(
        state,
        side=sized[0],
        quantity=sized[1],
        reference_price=price,
        fee_bps=bot.fee_bps,
        slippage_bps=bot.slippage_bps,
    )
    if fill.side == "buy" and state.cash < 0:
        raise OrderRejected(
            "Not enough cash for this order.",
            fields={"quantity": ["The order costs more than the bot's cash."]},
        )
    order = order_row(
        bot, fill, state, time=now, reference_price=price, key=key, source=source, request_hash=digest
    )
    store_state(bot, state)
    bot.mark_price = price
    db.session.add(order)
    db.session.flush()
    bot_events.order_booked({**order_values_of(order)})
    return order
