"""Paper-trading bots: create, read, pause/resume, delete, orders, ticks and trade marks.

Ownership: a private bot of another user is ``404``; a public bot of another user can be read
(detail, performance, ledger) but every change to it is ``403``. Deleted bots are ``404`` to
everyone; their orders and equity are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError

from backend.core.db import get_readable_or_404, new_id, now_ms, on_commit, transactional
from backend.core.errors import AppError
from backend.core.pagination import Page, paginate
from backend.domain.ledger import LedgerState
from backend.domain.marketdata.intervals import floor_time, interval_ms
from backend.extensions import db
from backend.modules.bots import bot_events, links, orders, ticks
from backend.modules.bots.errors import BotForbidden, BotInvalid, BotNotFound, OrderRejected
from backend.modules.bots.models import (
    PAUSED,
    RUNNING,
    STOPPED,
    BotEquity,
    BotInstance,
    Order,
)
from backend.modules.bots.read_models import (
    BotView,
    LedgerView,
    OrderView,
    PerformanceView,
    bot_view,
    ledger_view,
    order_view,
    performance_view,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TradeMark:
    """One paper fill for chart marks (time in Unix ms)."""

    id: str
    bot_id: str
    symbol: str
    side: str
    price: Decimal
    quantity: Decimal
    time: int


def _pin(actor_id: str, strategy_id: str) -> links.PinnedStrategy:
    try:
        return links.pin_strategy(actor_id=actor_id, strategy_id=strategy_id)
    except AppError as exc:
        if exc.http_status in (403, 404):
            raise BotInvalid(
                "The strategy does not exist or is not yours.", fields={"strategy_id": ["Unknown strategy."]}
            ) from exc
        raise


def _check_symbol(symbol: str, interval: str, now: int) -> None:
    try:
        latest = links.latest_close(symbol=symbol, interval=interval, now_ms=now)
    except AppError as exc:
        if exc.http_status >= 500:
            raise
        latest = None
    except (LookupError, ValueError):
        latest = None
    if latest is None:
        raise BotInvalid(
            f"No market data for {symbol} at {interval}.", fields={"symbol": ["Unknown symbol or no data."]}
        )


def _start_cursor(bot: BotInstance, now: int) -> None:
    """Skip every bar complete at ``now``: the first signal bar is the one in progress, so every
    fill happens after ``now``. A flat bot's strategy state starts fresh there."""
    step = interval_ms(bot.interval)
    bot.last_bar_ms = max(bot.last_bar_ms or 0, floor_time(now, bot.interval) - step)
    if bot.position == 0:
        bot.flat_bar_ms = bot.last_bar_ms
    bot.next_tick_ms, bot.tick_enqueued_ms = 0, None


def _place_cursor(bot: BotInstance, start_ms: int | None, now: int) -> None:
    if start_ms is None:
        warmup = int(current_app.config["BOT_WARMUP_BARS"])
        bot.origin_ms = floor_time(now, bot.interval) - warmup * interval_ms(bot.interval)
        bot.running_since = now
        _start_cursor(bot, now)
    else:
        bot.origin_ms = int(start_ms)
        bot.last_bar_ms = bot.flat_bar_ms = int(start_ms) - 1
        bot.running_since = min(int(start_ms), now)


@transactional
def create_bot(
    *,
    actor_id: str,
    name: str,
    strategy_id: str,
    capital: Decimal,
    symbol: str | None = None,
    interval: str | None = None,
    tags: Sequence[str] = (),
    paper: bool = True,
    public: bool = False,
    fee_bps: Decimal | None = None,
    slippage_bps: Decimal | None = None,
    allow_short: bool = False,
    start_ms: int | None = None,
    now: int | None = None,
) -> BotView:
    """Create a running paper bot pinned to the strategy's current version.

    ``allow_short`` (like a backtest's) lets the strategy's short signals and a manual ``sell``
    take the bot short; without it the bot is long or flat.
    ---
    ``start_ms`` (not exposed over HTTP; seeds and tests) replays history: the bot trades from
    the first bar at or after it and its strategy sees no earlier bar, exactly like a backtest
    starting there. Without it the bot trades from now on, with ``BOT_WARMUP_BARS`` of history.
    """
    if not paper:
        raise BotInvalid(
            "Live trading is not supported yet; create a paper bot.",
            fields={"paper": ["Only paper trading is supported (paper must be true)."]},
        )
    now = now_ms() if now is None else now
    pinned = _pin(actor_id, strategy_id)
    symbol = symbol or pinned.symbol
    if not symbol:
        raise BotInvalid(fields={"symbol": ["The strategy has no symbol; give one."]})
    interval = interval or pinned.interval or "1m"
    _check_symbol(symbol, interval, now)
    if fee_bps is None:
        fee_bps = Decimal(current_app.config["BOT_DEFAULT_FEE_BPS"])
    if slippage_bps is None:
        slippage_bps = Decimal(current_app.config["BOT_DEFAULT_SLIPPAGE_BPS"])
    state = LedgerState.start(capital)
    bot = BotInstance(
        owner_id=actor_id,
        name=name,
        strategy_id=pinned.strategy_id,
        strategy_version_id=pinned.version_id,
        strategy_name=pinned.name,
        symbol=symbol,
        interval=interval,
        tags=list(tags),
        paper=True,
        is_public=public,
        allow_short=allow_short,
        capital=state.initial_capital,
        cash=state.cash,
        fee_bps=fee_bps,
        slippage_bps=slippage_bps,
        status=RUNNING,
        origin_ms=0,
        last_bar_ms=0,
        flat_bar_ms=0,
        position=Decimal(0),
    )
    _place_cursor(bot, start_ms, now)
    db.session.add(bot)
    db.session.flush()
    bot_events.status_changed(bot)
    return bot_view(bot, now)


def list_recent_bots(*, actor_id: str | None, limit: int) -> list[BotView]:
    """Return the caller's newest bots; anonymous callers and callers without any get public ones."""
    live = select(BotInstance).where(BotInstance.deleted_at.is_(None))
    newest = (BotInstance.created_at.desc(), BotInstance.id)
    rows: Sequence[BotInstance] = []
    if actor_id is not None:
        rows = db.session.scalars(
            live.where(BotInstance.owner_id == actor_id).order_by(*newest).limit(limit)
        ).all()
    if not rows:
        rows = db.session.scalars(
            live.where(BotInstance.is_public.is_(True)).order_by(*newest).limit(limit)
        ).all()
    now = now_ms()
    return [bot_view(b, now) for b in rows]


def list_bots(*, actor_id: str, page: int, page_size: int) -> Page[BotView]:
    """Return one page of the caller's bots, newest first."""
    stmt = (
        select(BotInstance)
        .where(BotInstance.owner_id == actor_id, BotInstance.deleted_at.is_(None))
        .order_by(BotInstance.created_at.desc(), BotInstance.id)
    )
    result = paginate(stmt, page=page, page_size=page_size)
    now = now_ms()
    return Page(items=[bot_view(b, now) for b in result.items], total=result.total)


def get_bot(*, actor_id: str | None, bot_id: str) -> BotView:
    """Return a bot the caller owns, or a public one."""
    return bot_view(
        get_readable_or_404(
            BotInstance, bot_id, actor_id=actor_id, public_attr="is_public", error=BotNotFound
        ),
        now_ms(),
    )


def _pause(bot: BotInstance, now: int) -> None:
    if bot.status == RUNNING and bot.running_since is not None:
        bot.run_ms = int(bot.run_ms) + max(now - bot.running_since, 0)
    bot.status, bot.running_since = PAUSED, None
    bot.error_reason = bot.error_message = None


def _resume(bot: BotInstance, now: int) -> None:
    if bot.status == RUNNING:
        return
    bot.status, bot.running_since = RUNNING, now
    bot.error_reason = bot.error_message = None
    _start_cursor(bot, now)


@transactional
def set_bot_status(*, actor_id: str, bot_id: str, status: str, now: int | None = None) -> BotView:
    """Pause or resume (``running``/``active``) a bot; resuming clears an error."""
    now = now_ms() if now is None else now
    bot = get_readable_or_404(
        BotInstance, bot_id, actor_id=actor_id, public_attr="is_public", error=BotNotFound, lock=True
    )
    if bot.owner_id != actor_id:
        raise BotForbidden()  # public, so visible, but not theirs
    if status in ("running", "active"):
        _resume(bot, now)
    elif status == "paused":
        _pause(bot, now)
    else:
        raise BotInvalid(fields={"status": ["Must be one of: running, active, paused."]})
    bot_events.status_changed(bot)
    return bot_view(bot, now)


@transactional
def delete_bot(*, actor_id: str, bot_id: str) -> BotView:
    """Stop a bot for good; its orders and equity history are kept."""
    now = now_ms()
    bot = get_readable_or_404(
        BotInstance, bot_id, actor_id=actor_id, public_attr="is_public", error=BotNotFound, lock=True
    )
    if bot.owner_id != actor_id:
        raise BotForbidden()  # public, so visible, but not theirs
    _pause(bot, now)
    bot.status, bot.deleted_at = STOPPED, now
    bot_events.status_changed(bot)
    return bot_view(bot, now)


def get_performance(*, actor_id: str | None, bot_id: str) -> PerformanceView:
    """Return a readable bot's latest equity points and orders (bounded), oldest first."""
    bot = get_readable_or_404(
        BotInstance, bot_id, actor_id=actor_id, public_attr="is_public", error=BotNotFound
    )
    limit = int(current_app.config["BOT_CURVE_MAX"])
    equity = db.session.scalars(
        select(BotEquity).where(BotEquity.bot_id == bot.id).order_by(BotEquity.time.desc()).limit(limit)
    ).all()
    orders = db.session.scalars(
        select(Order)
        .where(Order.bot_id == bot.id)
        .order_by(Order.time.desc(), Order.created_at.desc())
        .limit(limit)
    ).all()
    return performance_view(equity[::-1], orders[::-1])


def _orders_of(bot_id: str) -> Sequence[Order]:
    return db.session.scalars(
        select(Order).where(Order.bot_id == bot_id).order_by(Order.time, Order.created_at, Order.id)
    ).all()


def get_ledger(*, actor_id: str | None, bot_id: str) -> LedgerView:
    """Return a readable bot's ledger entries and the invariant check at its mark price."""
    bot = get_readable_or_404(
        BotInstance, bot_id, actor_id=actor_id, public_attr="is_public", error=BotNotFound
    )
    return ledger_view(bot, _orders_of(bot.id))


@transactional
def place_order(
    *,
    actor_id: str,
    bot_id: str,
    side: str,
    quantity: Decimal | None = None,
    idempotency_key: str | None = None,
    now: int | None = None,
) -> OrderView:
    """Place a manual market order at the latest close; a replayed key returns the first order."""
    now = now_ms() if now is None else now
    bot = get_readable_or_404(
        BotInstance, bot_id, actor_id=actor_id, public_attr="is_public", error=BotNotFound, lock=True
    )
    if bot.owner_id != actor_id:
        raise BotForbidden()  # public, so visible, but not theirs
    key = idempotency_key or f"manual:{new_id()}"  # no key: no replay protection asked for
    digest = orders.request_hash(side=side, quantity=quantity)
    existing = orders.existing_order(bot, key, digest)
    if existing is not None:
        return order_view(existing)
    order = orders.book_order(
        bot, side=side, quantity=quantity, key=key, digest=digest, source="manual", now=now
    )
    if order is None:
        raise OrderRejected(
            "The bot already holds that position.", fields={"side": ["Nothing to do for this side."]}
        )
    return order_view(order)


@transactional
def place_paper_order(*, actor_id: str, bot_id: str, side: str, idempotency_key: str) -> OrderView | None:
    """Move a bot to long (buy), short-or-flat (sell) or flat (close); None when already there."""
    if side not in ("buy", "sell", "close"):
        raise OrderRejected(fields={"side": ["Must be one of: buy, sell, close."]})
    bot = get_readable_or_404(
        BotInstance, bot_id, actor_id=actor_id, public_attr="is_public", error=BotNotFound, lock=True
    )
    if bot.owner_id != actor_id:
        raise BotForbidden()  # public, so visible, but not theirs
    digest = orders.request_hash(side=side, source="workflow")
    existing = orders.existing_order(bot, idempotency_key, digest)
    if existing is not None:
        return order_view(existing)
    order = orders.book_order(
        bot, side=side, quantity=None, key=idempotency_key, digest=digest, source="workflow", now=now_ms()
    )
    return order_view(order) if order is not None else None


def trade_marks(*, actor_id: str, symbol: str, start_ms: int, end_ms: int) -> list[TradeMark]:
    """Return the caller's paper fills on ``symbol`` with time in [start_ms, end_ms)."""
    rows = db.session.scalars(
        select(Order)
        .where(
            Order.owner_id == actor_id, Order.symbol == symbol, Order.time >= start_ms, Order.time < end_ms
        )
        .order_by(Order.time)
        .limit(5000)
    )
    return [TradeMark(o.id, o.bot_id, o.symbol, o.side, o.price, o.quantity, o.time) for o in rows]


@transactional
def tick_bot(*, bot_id: str, now: int | None = None) -> ticks.TickOutcome:
    """Run one tick of a bot (see ticks.py); a failure puts the bot in error and books nothing."""
    now = now_ms() if now is None else now
    bot = ticks.lock_running_bot(bot_id)
    if bot is None:
        return ticks.TickOutcome("skipped")
    try:
        return ticks.run_tick(bot, now)  # raises TickFailed before its first write
    except ticks.TickFailed as exc:
        if isinstance(exc.__cause__, SQLAlchemyError):
            # A market read failed in Postgres and aborted the transaction (nothing was written):
            # start a new one; mark_error locks the row again and re-checks that it is running.
            db.session.rollback()
        ticks.mark_error(bot_id, exc.reason, exc.message, now)
        return ticks.TickOutcome("failed", reason=exc.reason)


@transactional
def enqueue_due_ticks(*, now: int | None = None, limit: int = 10_000) -> int:
    """Enqueue one ``bots.tick`` per running bot whose next bar is due (after the claim commits).

    Return how many were enqueued.
    """
    now = now_ms() if now is None else now
    ids = ticks.claim_due_ticks(now, limit)
    on_commit(lambda: _send_ticks(ids))
    return len(ids)


def _send_ticks(bot_ids: list[str]) -> None:
    celery = current_app.extensions["celery"]
    for bot_id in bot_ids:
        celery.send_task("bots.tick", kwargs={"bot_id": bot_id})


@dataclass(frozen=True)
class PaperTotals:
    """Aggregates over a set of live bots (the dashboard's stats card)."""

    bots: int
    runtime_ms: int  # summed over the bots' running periods, up to now
    profit: Decimal  # equity (marked like `profit` of a Bot) minus capital, summed
    profit_at_since: Decimal  # the same at `since`, from each bot's equity curve (0 before its first point)


def paper_totals(*, owner_id: str | None, since: int, now: int | None = None) -> PaperTotals:
    """Return runtime and profit totals of the owner's live bots (public ones when ``owner_id`` is
    None), and the total profit at ``since``: one aggregate query."""
    now = now if now is not None else now_ms()
    b = BotInstance
    live_ms = case(
        (b.status == "running", func.greatest(now - func.coalesce(b.running_since, now), 0)), else_=0
    )
    marked = case(
        (b.mark_price.is_(None), func.sign(b.position) * func.abs(b.cost_basis)),
        else_=b.position * b.mark_price,
    )
    then = (
        select(BotEquity.value)
        .where(BotEquity.bot_id == b.id, BotEquity.time <= since)
        .order_by(BotEquity.time.desc())
        .limit(1)
        .scalar_subquery()
    )
    stmt = select(
        func.count(),
        func.coalesce(func.sum(b.run_ms + live_ms), 0),
        func.coalesce(func.sum(b.cash + marked - b.capital), 0),
        func.coalesce(func.sum(func.coalesce(then - b.capital, 0)), 0),
    ).where(b.deleted_at.is_(None), b.owner_id == owner_id if owner_id is not None else b.is_public.is_(True))
    count, runtime, profit, profit_then = db.session.execute(stmt).one()
    return PaperTotals(
        bots=int(count), runtime_ms=int(runtime), profit=Decimal(profit), profit_at_since=Decimal(profit_then)
    )
