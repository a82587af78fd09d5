"""Bot ticks: walk a running bot over its new bars with the backtest engine's decisions.

One tick, under the bot row's lock (``FOR UPDATE SKIP LOCKED``: a duplicate tick that arrives
while another runs finds the row locked and does nothing; one that arrives later finds the
cursor advanced and does nothing):

1. load the bars of ``[max(origin, flat - lookback), now)`` where ``flat`` is the last processed
   bar after which the strategy's state was flat;
2. compute the pinned strategy version's signals, drop those at or before ``flat``
   (``domain.ledger.walk.anchored``) and take the engine's ``target_position``;
3. ``domain.ledger.walk`` from the first unprocessed bar: a target change at bar t fills at bar
   t+1's open (so a bar is processed once its successor exists, as in the backtest);
4. insert the orders (unique per bot and idempotency key) and equity points, store the ledger
   state and advance the cursor, all in one transaction.

Steps 1-3 write nothing, so a tick that fails (no data, provider error, NaN price, strategy
error) raises ``TickFailed`` before its first write and books nothing; the service then puts the
bot in ``error`` with a reason, still holding its row lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from flask import current_app
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from backend.core import changes
from backend.core.db import new_id, now_ms
from backend.domain.backtest.engine import target_position
from backend.domain.bars import Bars
from backend.domain.ledger import (
    BadNumber,
    WalkResult,
    anchored,
    apply_executed,
    first_unprocessed,
    last_flat,
    positive_price,
    walk,
)
from backend.domain.marketdata.intervals import interval_ms
from backend.extensions import db
from backend.modules.bots import bot_events, links
from backend.modules.bots.accounting import order_values, state_of, store_state
from backend.modules.bots.models import ERROR, RUNNING, BotEquity, BotInstance, Order

logger = logging.getLogger(__name__)


class TickFailed(Exception):
    """Raised inside a tick when it cannot be completed; ``reason`` is a stable machine word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class TickOutcome:
    """What a tick did: ``status`` is ran | idle | skipped | failed."""

    status: str
    orders: int = 0
    bars: int = 0
    reason: str | None = None


# Built once: every tick runs it, and constructing the statement costs more than looking it up.
_LOCK_RUNNING = (
    select(BotInstance)
    .where(
        BotInstance.id == bindparam("bot_id"),
        BotInstance.status == RUNNING,
        BotInstance.deleted_at.is_(None),
    )
    .with_for_update(skip_locked=True)
)


def lock_running_bot(bot_id: str) -> BotInstance | None:
    """Lock a running bot's row, or return None when it is locked by another tick or not running."""
    return db.session.scalar(_LOCK_RUNNING, {"bot_id": bot_id})


def _load(bot: BotInstance, now: int) -> Bars:
    step = interval_ms(bot.interval)
    lookback = int(current_app.config["BOT_LOOKBACK_BARS"])
    start = max(bot.origin_ms, bot.flat_bar_ms + 1 - lookback * step)
    try:
        bars = links.load_bars(symbol=bot.symbol, interval=bot.interval, start_ms=start, end_ms=now)
    except Exception as exc:  # any provider failure becomes the bot's error reason
        raise TickFailed("provider_error", f"Market data could not be loaded: {exc}") from exc
    if len(bars) == 0:
        raise TickFailed("no_data", f"No {bot.interval} bars for {bot.symbol} since {start}.")
    return bars


def _targets(bot: BotInstance, bars: Bars) -> np.ndarray:
    try:
        signals = links.strategy_signals(
            owner_id=bot.owner_id, strategy_id=bot.strategy_id, version_id=bot.strategy_version_id, bars=bars
        )
    except Exception as exc:  # a strategy that cannot run is the bot's error, not the worker's
        raise TickFailed(links.strategy_failure_reason(exc), f"The strategy could not run: {exc}") from exc
    flat_through = int(np.searchsorted(bars.time, bot.flat_bar_ms, side="right")) - 1
    return target_position(anchored(signals, flat_through), allow_short=bot.allow_short)


def _walk(bot: BotInstance, bars: Bars, target: np.ndarray, begin: int) -> WalkResult:
    try:
        return walk(
            state_of(bot),
            bot_id=bot.id,
            bars=bars,
            target=target,
            start=begin,
            fee_bps=bot.fee_bps,
            slippage_bps=bot.slippage_bps,
        )
    except BadNumber as exc:
        raise TickFailed("bad_price", f"A bar has an invalid price: {exc}") from exc


def _order_rows(bot: BotInstance, result: WalkResult) -> list[dict[str, object]]:
    """Return the ``orders`` rows of a walk's fills (each with the account right after it)."""
    state, rows, created = state_of(bot), [], now_ms()
    for planned in result.orders:
        fill = planned.fill
        state, _ = apply_executed(
            state, side=fill.side, quantity=fill.quantity, price=fill.price, fee=fill.fee
        )
        rows.append(
            order_values(
                bot,
                fill,
                state,
                time=planned.time,
                reference_price=planned.reference_price,
                key=planned.key,
                source="tick",
            )
            | {"id": new_id(), "status": "filled", "created_at": created}
        )
    return rows


def _book(bot: BotInstance, result: WalkResult) -> None:
    """Insert a walk's orders and equity points, on the session's connection.

    Core ``executemany`` statements compile once per process (a multi-row ``.values([...])`` is a
    new statement for every row count) and skip the ORM's flush and bulk machinery; the bot row's
    own changes are flushed once, at the commit. A duplicate order key still raises (unique index).
    """
    connection = db.session.connection()
    if result.orders:
        rows = _order_rows(bot, result)
        connection.execute(insert(Order), rows)
        for row in rows:
            bot_events.order_booked(row)
    if result.equity:
        connection.execute(
            insert(BotEquity).on_conflict_do_nothing(),
            [{"bot_id": bot.id, "time": p.time, "value": p.value} for p in result.equity],
        )


def run_tick(bot: BotInstance, now: int) -> TickOutcome:
    """Process every new bar of a locked running bot; raise TickFailed without booking anything.

    Everything that can fail (bars, signals, the walk, the latest close) is computed before the
    first write, so a TickFailed leaves the session untouched and needs no savepoint.
    """
    bars = _load(bot, now)
    next_tick = int(bars.time[-1]) + 2 * interval_ms(bot.interval)
    begin = first_unprocessed(bars, bot.last_bar_ms)
    if begin >= len(bars) - 1:
        bot.last_tick_ms, bot.next_tick_ms = now, next_tick
        return TickOutcome("idle")
    target = _targets(bot, bars)
    result = _walk(bot, bars, target, begin)
    try:
        mark = positive_price(float(bars.close[-1]))
    except BadNumber as exc:
        raise TickFailed("bad_price", f"The latest close is invalid: {exc}") from exc
    assert result.last_time is not None  # begin < len(bars) - 1, so at least one bar was walked
    _book(bot, result)
    flat = last_flat(target, begin, len(bars) - 1)
    if flat is not None:
        bot.flat_bar_ms = int(bars.time[flat])
    store_state(bot, result.state)
    bot.last_bar_ms, bot.mark_price = result.last_time, mark
    bot.last_tick_ms, bot.next_tick_ms = now, next_tick
    return TickOutcome("ran", orders=len(result.orders), bars=len(result.equity))


def mark_error(bot_id: str, reason: str, message: str, now: int) -> None:
    """Put a running bot in ``error`` with a reason, stopping its runtime clock."""
    bot = db.session.scalar(select(BotInstance).where(BotInstance.id == bot_id).with_for_update())
    if bot is None or bot.status != RUNNING:
        return
    if bot.running_since is not None:
        bot.run_ms = int(bot.run_ms) + max(now - bot.running_since, 0)
    bot.status, bot.running_since = ERROR, None
    bot.error_reason, bot.error_message = reason, message[:2000]
    bot_events.errored(bot)
    logger.warning("bot %s tick failed (%s): %s", bot_id, reason, message)


def claim_due_ticks(now: int, limit: int) -> list[str]:
    """Mark up to ``limit`` running bots whose next bar is due as enqueued; return their ids."""
    retry_ms = int(current_app.config["BOT_TICK_RETRY_S"]) * 1000
    due = (
        select(BotInstance.id)
        .where(
            BotInstance.status == RUNNING,
            BotInstance.deleted_at.is_(None),
            BotInstance.next_tick_ms <= now,
            or_(
                BotInstance.tick_enqueued_ms.is_(None),
                BotInstance.tick_enqueued_ms < BotInstance.next_tick_ms,
                BotInstance.tick_enqueued_ms < now - retry_ms,
            ),
        )
        .order_by(BotInstance.next_tick_ms)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(BotInstance)
        .where(BotInstance.id.in_(due.scalar_subquery()))
        .values(tick_enqueued_ms=now)
        .returning(BotInstance.id, BotInstance.owner_id)
    )
    rows = db.session.execute(stmt, execution_options={changes.OWNER_OPTION: changes.NOTED}).all()
    changes.note(db.session, "bot_instances", {row.owner_id for row in rows})
    return [row.id for row in rows]
