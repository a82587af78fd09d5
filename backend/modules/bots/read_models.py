"""Read models of bots: the contract's Bot, orders, performance and the ledger with its check.

Snake_case dataclasses; the wire names come from ``schemas.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from backend.domain.ledger import InvariantCheck, check_invariant, format_runtime
from backend.modules.bots.accounting import fill_of, mark_of, state_of
from backend.modules.bots.models import RUNNING, BotEquity, BotInstance, Order

# Stored status -> the contract's Bot.status.
STATUS_OUT = {"running": "active", "paused": "paused", "error": "error", "stopped": "offline"}


@dataclass(frozen=True)
class BotView:
    """A bot as the API shows it (contract fields first, then details)."""

    id: str
    name: str
    strategy: str
    status: str
    profit: Decimal
    runtime: str
    capital: Decimal
    tags: list[str]
    strategy_id: str
    strategy_version_id: str
    symbol: str
    interval: str
    paper: bool
    public: bool
    equity: Decimal
    cash: Decimal
    position: Decimal
    fee_bps: Decimal
    slippage_bps: Decimal
    allow_short: bool
    error_reason: str | None
    error_message: str | None
    last_bar_time: int | None
    created_at: int
    updated_at: int


def runtime_ms(bot: BotInstance, now: int) -> int:
    """Return how long the bot has been running, summed over its running periods (ms)."""
    live = max(now - bot.running_since, 0) if bot.status == RUNNING and bot.running_since else 0
    return int(bot.run_ms) + live


def bot_view(bot: BotInstance, now: int) -> BotView:
    """Build the API view of a bot at wall-clock time ``now`` (Unix ms)."""
    state = state_of(bot)
    equity = state.equity(mark_of(bot))
    processed = bot.last_bar_ms if bot.last_bar_ms >= bot.origin_ms else None
    return BotView(
        id=bot.id,
        name=bot.name,
        strategy=bot.strategy_name,
        status=STATUS_OUT[bot.status],
        profit=equity - state.initial_capital,
        runtime=format_runtime(runtime_ms(bot, now)),
        capital=bot.capital,
        tags=list(bot.tags or []),
        strategy_id=bot.strategy_id,
        strategy_version_id=bot.strategy_version_id,
        symbol=bot.symbol,
        interval=bot.interval,
        paper=bot.paper,
        public=bot.is_public,
        equity=equity,
        cash=bot.cash,
        position=bot.position,
        fee_bps=bot.fee_bps,
        slippage_bps=bot.slippage_bps,
        allow_short=bot.allow_short,
        error_reason=bot.error_reason,
        error_message=bot.error_message,
        last_bar_time=processed,
        created_at=bot.created_at,
        updated_at=bot.updated_at,
    )


@dataclass(frozen=True)
class OrderView:
    """A filled paper order and its ledger effect (the balances right after it)."""

    id: str
    bot_id: str
    symbol: str
    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    status: str
    pnl: Decimal  # realised PnL of this fill, net of its fee
    timestamp: int
    idempotency_key: str
    source: str  # tick | manual | workflow
    notional: Decimal
    reference_price: Decimal
    cash_after: Decimal
    position_after: Decimal


def order_view(order: Order) -> OrderView:
    """Return the view of an order row."""
    return OrderView(
        id=order.id,
        bot_id=order.bot_id,
        symbol=order.symbol,
        side=order.side,
        price=order.price,
        quantity=order.quantity,
        fee=order.fee,
        status=order.status,
        pnl=order.realised_pnl,
        timestamp=order.time,
        idempotency_key=order.idempotency_key,
        source=order.source,
        notional=order.notional,
        reference_price=order.reference_price,
        cash_after=order.cash_after,
        position_after=order.position_after,
    )


@dataclass(frozen=True)
class EquityPoint:
    """Equity at a bar's close, stamped with the bar's open time."""

    time: int
    value: Decimal


@dataclass(frozen=True)
class PerformanceView:
    """Equity points and the bot's orders, oldest first."""

    equity: list[EquityPoint]
    orders: list[OrderView]


def performance_view(equity: Sequence[BotEquity], orders: Sequence[Order]) -> PerformanceView:
    """Return the performance of a bot from its equity and order rows."""
    return PerformanceView(
        equity=[EquityPoint(p.time, p.value) for p in equity], orders=[order_view(o) for o in orders]
    )


@dataclass(frozen=True)
class LedgerView:
    """The ledger entries (orders with their cash effect), the account state and the check."""

    bot_id: str
    entries: list[OrderView]
    avg_price: Decimal
    check: InvariantCheck


def ledger_view(bot: BotInstance, orders: Sequence[Order]) -> LedgerView:
    """Replay ``orders`` and check the equity identity at the bot's mark price."""
    state = state_of(bot)
    check = check_invariant(state, mark_of(bot), [fill_of(o) for o in orders])
    return LedgerView(
        bot_id=bot.id,
        entries=[order_view(o) for o in orders],
        avg_price=state.avg_price,
        check=check,
    )
