"""Walk a bot's account forward over new bars: the pure core of one bot tick.

Bar timing (the same as the backtest engine): ``target[t]`` is the position state after bar
``t``'s close; when it changes at ``t`` the order fills at bar ``t + 1``'s open, moved by
slippage and charged the fee. A bar is therefore processed only once its successor exists, and
the equity point of bar ``t`` is the account marked at ``close[t]`` before that fill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from backend.domain.backtest.types import Signals
from backend.domain.bars import Bars
from backend.domain.ledger.book import Fill, LedgerState, apply_fill
from backend.domain.ledger.keys import order_key
from backend.domain.ledger.money import positive_price
from backend.domain.ledger.sizing import order_for_target


@dataclass(frozen=True)
class TickOrder:
    """An order a tick places: filled at ``time`` (the fill bar's open time, Unix ms)."""

    time: int
    signal_time: int  # open time of the bar whose close produced the signal
    reference_price: Decimal  # the fill bar's open, before slippage
    key: str
    fill: Fill


@dataclass(frozen=True)
class EquityPoint:
    """Account equity at a bar's close, stamped with the bar's open time (Unix ms)."""

    time: int
    value: Decimal


@dataclass(frozen=True)
class WalkResult:
    """What one tick produced; ``last_time`` is the last processed signal bar (None if none)."""

    state: LedgerState
    orders: list[TickOrder] = field(default_factory=list)
    equity: list[EquityPoint] = field(default_factory=list)
    last_time: int | None = None


def anchored(signals: Signals, flat_through: int) -> Signals:
    """Drop every signal at bars ``<= flat_through`` (the last bar the bot's state was flat).

    ``engine.target_position`` starts flat at bar 0; a bot's trailing window rarely starts where
    its state did. Anchoring the window at a bar after which the bot's state was flat makes the
    window's target identical to the target over the bot's whole history (given the same signals).
    """
    if flat_through < 0:
        return signals
    keep = np.arange(len(signals)) > flat_through

    def cut(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else values & keep

    return Signals(
        entries=signals.entries & keep,
        exits=signals.exits & keep,
        short_entries=cut(signals.short_entries),
        short_exits=cut(signals.short_exits),
    )


def last_flat(target: np.ndarray, start: int, stop: int) -> int | None:
    """Index of the last bar in ``[start, stop)`` whose target state is flat, or None."""
    flat = np.flatnonzero(target[max(start, 0) : stop] == 0)
    return int(flat[-1]) + max(start, 0) if len(flat) else None


def first_unprocessed(bars: Bars, last_time: int | None) -> int:
    """Index of the first bar after ``last_time`` (0 when nothing was processed yet)."""
    if last_time is None:
        return 0
    return int(np.searchsorted(bars.time, last_time, side="right"))


def walk(
    state: LedgerState,
    *,
    bot_id: str,
    bars: Bars,
    target: np.ndarray,
    start: int,
    fee_bps: Decimal,
    slippage_bps: Decimal,
) -> WalkResult:
    """Process signal bars ``start .. len(bars) - 2`` and return the new state, orders and equity.

    Raises ``money.BadNumber`` on a NaN/infinite/non-positive price, so a caller can reject the
    whole tick without booking part of it.
    """
    if len(target) != len(bars):
        raise ValueError(f"target has {len(target)} values, bars has {len(bars)}")
    orders: list[TickOrder] = []
    equity: list[EquityPoint] = []
    last_time = None
    for t in range(max(start, 0), len(bars) - 1):
        mark = positive_price(float(bars.close[t]))
        equity.append(EquityPoint(int(bars.time[t]), state.equity(mark)))
        wanted = int(target[t])
        previous = int(target[t - 1]) if t > 0 else 0
        if wanted != previous and wanted != state.direction:
            state, order = _move(state, bot_id, bars, t, wanted, fee_bps, slippage_bps)
            if order is not None:
                orders.append(order)
        last_time = int(bars.time[t])
    return WalkResult(state, orders, equity, last_time)


def _move(
    state: LedgerState, bot_id: str, bars: Bars, t: int, wanted: int, fee_bps: Decimal, slippage_bps: Decimal
) -> tuple[LedgerState, TickOrder | None]:
    """Fill the order taking the account to ``wanted`` at bar ``t + 1``'s open."""
    reference = positive_price(float(bars.open[t + 1]))
    sized = order_for_target(
        state, target=wanted, reference_price=reference, fee_bps=fee_bps, slippage_bps=slippage_bps
    )
    if sized is None:
        return state, None
    side, quantity = sized
    state, fill = apply_fill(
        state,
        side=side,
        quantity=quantity,
        reference_price=reference,
        fee_bps=fee_bps,
        slippage_bps=slippage_bps,
    )
    fill_time = int(bars.time[t + 1])
    order = TickOrder(fill_time, int(bars.time[t]), reference, order_key(bot_id, fill_time, side), fill)
    return state, order
