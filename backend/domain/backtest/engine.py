"""Run signals through a simple broker and return equity, cash, position and trades.

Fill timing (the one rule): a signal at bar t is decided on bar t's close; the order it causes
fills at bar t+1's **open**. A signal on the last bar therefore never fills. A position still open
after the last bar is closed at the last bar's **close** (its trade has ``closed_at_end=True``).

Costs: every fill price is moved against the trader by ``slippage_bps`` (buys at
``open * (1 + s)``, sells at ``open * (1 - s)``), and a fee of ``fee_bps`` of the filled notional
is charged on entry and on exit. Sizing: on entry the committed amount is
``equity * commit_fraction`` and ``quantity = committed / (fill_price * (1 + fee))``, so price plus
entry fee use exactly the committed amount; with ``lot_size`` > 0 it is rounded down to whole lots.
A reversal (long to short or back) closes first and sizes the new position with the cash after
closing. No leverage, margin calls or partial fills.

Speed: positions come from vectorised signal state; the Python loop runs once per fill (trades are
few), never once per bar. No module-level mutable state: every run builds its own ledger.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from backend.domain.backtest import kernels
from backend.domain.backtest.types import TRADE_DTYPE, BacktestConfig, BacktestResult, Signals
from backend.domain.bars import Bars

ProgressFn = Callable[[float], None]


def _or_false(values: np.ndarray | None, n: int) -> np.ndarray:
    """Return ``values`` or an all-False array of length n."""
    return np.zeros(n, dtype=bool) if values is None else values


def target_position(signals: Signals, allow_short: bool = False) -> np.ndarray:
    """Return the int8 signal state after each bar's close: +1 long, 0 flat, -1 short.

    An entry sets the state (a long and a short entry on the same bar cancel each other);
    ``exits`` flatten a long and ``short_exits`` a short that was set earlier; an entry wins over
    an exit on the same bar. Short arrays are ignored unless ``allow_short``. Paper bots call this
    too, so live and backtest decisions are identical.
    """
    n = len(signals)
    long_in, long_out = signals.entries, signals.exits
    short_in = _or_false(signals.short_entries if allow_short else None, n)
    short_out = _or_false(signals.short_exits if allow_short else None, n)
    if kernels.active():
        out = np.empty(n, dtype=np.int8)
        kernels.target_state(long_in, long_out, short_in, short_out, out)
        return out
    # Work on the (usually few) bars with any signal, then expand back to every bar.
    events = np.flatnonzero(long_in | long_out | short_in | short_out)
    command = long_in[events].astype(np.int8) - short_in[events].astype(np.int8)
    state = _event_states(command, long_out[events], short_out[events])
    gaps = np.diff(np.concatenate(([0], events, [n])))
    return np.repeat(np.concatenate(([0], state)).astype(np.int8), gaps)


def _event_states(command: np.ndarray, long_out: np.ndarray, short_out: np.ndarray) -> np.ndarray:
    """Resolve the state after each event from entry commands (+1/-1/0) and exit flags."""
    m = len(command)
    if m == 0:
        return np.zeros(0, dtype=np.int8)
    # Index of the latest entry command at or before each event (-1 before the first one).
    last = np.maximum.accumulate(np.where(command != 0, np.arange(m), -1))
    anchor = np.maximum(last, 0)
    state = np.where(last >= 0, command[anchor], 0).astype(np.int8)
    # An exit after (not on) the latest entry flattens the position it belongs to.
    longs = np.cumsum(long_out, dtype=np.int64)
    shorts = np.cumsum(short_out, dtype=np.int64)
    closed = ((state == 1) & (longs > longs[anchor])) | ((state == -1) & (shorts > shorts[anchor]))
    state[closed] = 0
    return state


class _Ledger:
    """Per-run broker state: cash, signed quantity, the open trade and the trade list."""

    def __init__(self, config: BacktestConfig, bars: Bars) -> None:
        self.config = config
        self.bars = bars
        self.fee = config.fee_bps / 10_000.0
        self.slip = config.slippage_bps / 10_000.0
        self.cash = float(config.initial_capital)
        self.qty = 0.0
        self.entry: tuple[int, float, float] | None = None  # (index, price, fee)
        self.trades: list[tuple[Any, ...]] = []

    def _price(self, raw: float, buying: bool) -> float:
        """Return ``raw`` moved against the trader by the slippage."""
        return raw * (1.0 + self.slip) if buying else raw * (1.0 - self.slip)

    def open(self, index: int, side: int) -> None:
        """Open a ``side`` (+1/-1) position at bar ``index``'s open, sized from current cash."""
        price = self._price(float(self.bars.open[index]), buying=side > 0)
        committed = self.cash * self.config.commit_fraction
        if committed <= 0 or price <= 0:
            return
        qty = committed / (price * (1.0 + self.fee))
        lot = self.config.lot_size
        if lot > 0:
            qty = math.floor(qty / lot) * lot
        if qty <= 0:
            return
        fee = qty * price * self.fee
        self.cash += -side * qty * price - fee
        self.qty = side * qty
        self.entry = (index, price, fee)

    def close(self, index: int, raw_price: float, at_end: bool = False, exit_time: int | None = None) -> None:
        """Close the open position at ``raw_price`` (before slippage) on bar ``index``."""
        if self.entry is None:
            return
        side = 1 if self.qty > 0 else -1
        qty = abs(self.qty)
        price = self._price(raw_price, buying=side < 0)
        fee = qty * price * self.fee
        self.cash += side * qty * price - fee
        entry_index, entry_price, entry_fee = self.entry
        pnl = side * qty * (price - entry_price) - entry_fee - fee
        times = self.bars.time
        t_exit = int(times[index]) if exit_time is None else exit_time
        self.trades.append(
            (
                entry_index,
                index,
                int(times[entry_index]),
                t_exit,
                side,
                entry_price,
                price,
                qty,
                pnl,
                entry_fee + fee,
                pnl / (qty * entry_price) * 100.0,
                t_exit - int(times[entry_index]),
                at_end,
            )
        )
        self.qty, self.entry = 0.0, None


def _end_time(time: np.ndarray) -> int:
    """Return the last bar's close time, estimating the interval from the last two bars."""
    step = int(time[-1] - time[-2]) if len(time) > 1 else 0
    return int(time[-1]) + step


# (per-segment cash, per-segment signed quantity, trade records, cash after a close at the end)
_Fills = tuple[np.ndarray, np.ndarray, np.ndarray, float | None]


def run(
    bars: Bars, signals: Signals, config: BacktestConfig | None = None, progress: ProgressFn | None = None
) -> BacktestResult:
    """Backtest ``signals`` on ``bars``; fills at the next bar's open (see the module docstring).

    ``progress``, when given, is called with the completed fraction in [0, 1].
    """
    config = config or BacktestConfig()
    n = len(bars)
    if len(signals) != n:
        raise ValueError(f"signals have {len(signals)} bars, bars have {n}")
    report = progress or (lambda _f: None)
    if n == 0:
        empty = np.zeros(0)
        return BacktestResult(
            equity=empty,
            cash=empty,
            position=empty,
            target=np.zeros(0, np.int8),
            trades=np.zeros(0, TRADE_DTYPE),
            config=config,
        )
    target = target_position(signals, config.allow_short)
    held = np.zeros(n, dtype=np.int8)  # position side held during each bar, filled at its open
    held[1:] = target[:-1]
    fills = np.flatnonzero(held[1:] != held[:-1]) + 1  # bars whose open changes the position (held[0] = 0)
    report(0.2)
    ledger = None if config.lot_size > 0 else _vector_fills(bars, held, fills, config)
    if ledger is None:  # whole lots, or cash exhausted: exact per-fill bookkeeping
        ledger = _loop_fills(bars, held, fills, config, report)
    result = _assemble(bars, fills, ledger, target, config)
    report(1.0)
    return result


def _vector_fills(bars: Bars, held: np.ndarray, fills: np.ndarray, config: BacktestConfig) -> _Fills | None:
    """Book every trade at once (fractional units): equity compounds by one factor per trade.

    Returns None when the cash would reach zero or below, which the loop handles (no new entries).
    """
    n, fee, slip, frac = len(bars), config.fee_bps / 1e4, config.slippage_bps / 1e4, config.commit_fraction
    starts = np.concatenate(([0], fills)).astype(np.int64)
    stops = np.append(fills, n).astype(np.int64)
    sides = held[starts].astype(np.float64)
    k = np.flatnonzero(sides != 0)
    side, entry, stop = sides[k], starts[k], stops[k]
    at_end = stop == n
    entry_price = bars.open[entry] * (1.0 + side * slip)
    raw_exit = np.where(at_end, bars.close[-1], bars.open[np.minimum(stop, n - 1)])
    exit_price = raw_exit * (1.0 - side * slip)
    gain = (side * (exit_price - entry_price) - fee * (entry_price + exit_price)) / (
        entry_price * (1.0 + fee)
    )
    growth = np.cumprod(1.0 + frac * gain)
    cash_before = config.initial_capital * np.concatenate(([1.0], growth[:-1]))
    if np.any(cash_before <= 0) or np.any(entry_price <= 0):
        return None
    qty = frac * cash_before / (entry_price * (1.0 + fee))
    entry_fee, exit_fee = qty * entry_price * fee, qty * exit_price * fee
    pnl = side * qty * (exit_price - entry_price) - entry_fee - exit_fee
    cash_after = cash_before + pnl
    started = np.cumsum(sides != 0)  # trades started up to each segment
    after_prev = np.concatenate(([config.initial_capital], cash_after))[started - (sides != 0)]
    seg_cash = after_prev.copy()
    seg_cash[k] = cash_before - side * qty * entry_price - entry_fee
    seg_qty = np.zeros(len(starts))
    seg_qty[k] = side * qty
    exit_index = np.minimum(stop, n - 1)
    exit_time = np.where(at_end, _end_time(bars.time), bars.time[exit_index])
    trades = _records(
        entry,
        exit_index,
        bars.time[entry],
        exit_time,
        side,
        entry_price,
        exit_price,
        qty,
        pnl,
        entry_fee + exit_fee,
        at_end,
    )
    end_cash = float(cash_after[-1]) if len(k) and at_end[-1] else None
    return seg_cash, seg_qty, trades, end_cash


def _records(
    entry: np.ndarray,
    exit_index: np.ndarray,
    entry_time: np.ndarray,
    exit_time: np.ndarray,
    side: np.ndarray,
    entry_price: np.ndarray,
    exit_price: np.ndarray,
    qty: np.ndarray,
    pnl: np.ndarray,
    fees: np.ndarray,
    at_end: np.ndarray,
) -> np.ndarray:
    """Return a TRADE_DTYPE array from per-trade columns."""
    trades = np.zeros(len(entry), dtype=TRADE_DTYPE)
    trades["entry_index"], trades["exit_index"] = entry, exit_index
    trades["entry_time"], trades["exit_time"] = entry_time, exit_time
    trades["side"], trades["quantity"], trades["pnl"], trades["fees"] = side, qty, pnl, fees
    trades["entry_price"], trades["exit_price"] = entry_price, exit_price
    trades["return_pct"] = pnl / (qty * entry_price) * 100.0
    trades["holding_ms"] = trades["exit_time"] - trades["entry_time"]
    trades["closed_at_end"] = at_end
    return trades


def _loop_fills(
    bars: Bars, held: np.ndarray, fills: np.ndarray, config: BacktestConfig, report: ProgressFn
) -> _Fills:
    """Book fills one by one (whole lots, or after the cash ran out)."""
    ledger = _Ledger(config, bars)
    seg_cash, seg_qty = [ledger.cash], [0.0]
    step = max(1, len(fills) // 10)
    for count, i in enumerate(fills.tolist()):
        ledger.close(i, float(bars.open[i]))
        if held[i] != 0:
            ledger.open(i, int(held[i]))
        seg_cash.append(ledger.cash)
        seg_qty.append(ledger.qty)
        if count % step == 0:
            report(0.2 + 0.7 * count / len(fills))
    end_cash = None
    if ledger.entry is not None:
        ledger.close(len(bars) - 1, float(bars.close[-1]), at_end=True, exit_time=_end_time(bars.time))
        end_cash = ledger.cash
    trades = np.array(ledger.trades, dtype=TRADE_DTYPE) if ledger.trades else np.zeros(0, TRADE_DTYPE)
    return np.asarray(seg_cash), np.asarray(seg_qty), trades, end_cash


def _assemble(
    bars: Bars, fills: np.ndarray, ledger: _Fills, target: np.ndarray, config: BacktestConfig
) -> BacktestResult:
    """Expand per-segment cash/quantity to per-bar arrays; apply a close at the end."""
    seg_cash, seg_qty, trades, end_cash = ledger
    n = len(bars)
    cash: np.ndarray | Callable[[], np.ndarray]
    position: np.ndarray | Callable[[], np.ndarray]
    held: int | None = None
    if kernels.active():
        equity = np.empty(n)
        kernels.expand_segments(fills, seg_cash, seg_qty, bars.close, np.empty(0), equity)
        # Built only if read (a job never does): the per-bar copies of the segments' cash and
        # quantity; the bars holding a position are counted from the segments instead.
        cash = functools.partial(_expand_cash, fills, seg_cash, n, end_cash)
        lengths = np.diff(np.concatenate(([0], fills, [n])))
        position = functools.partial(np.repeat, seg_qty, lengths)
        held = int(lengths[seg_qty != 0].sum())
    else:
        cash = _expand_cash(fills, seg_cash, n, None)
        position = np.repeat(seg_qty, np.diff(np.concatenate(([0], fills, [n]))))
        equity = np.multiply(position, bars.close)
        equity += cash  # cash + position * close, without a second n-long temporary
        if end_cash is not None:
            cash[-1] = end_cash
    if end_cash is not None:
        # The position open on the last bar is closed at its close (trade marked closed_at_end);
        # equity[-1] (and cash[-1]) is the cash after that exit's costs.
        equity[-1] = end_cash
    return BacktestResult(
        equity=equity,
        cash=cash,
        position=position,
        target=target,
        trades=trades,
        config=config,
        held_bars=held,
    )


def _expand_cash(fills: np.ndarray, seg_cash: np.ndarray, n: int, end_cash: float | None) -> np.ndarray:
    """Return the cash after each bar from the per-segment cash (and a close at the end)."""
    cash = np.repeat(seg_cash, np.diff(np.concatenate(([0], fills, [n]))))
    if end_cash is not None:
        cash[-1] = end_cash
    return cash
