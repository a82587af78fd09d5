"""Tick walking: signal at bar t's close, fill at bar t+1's open, equity at each close."""

from decimal import Decimal as D

import numpy as np
import pytest

from backend.domain.bars import Bars
from backend.domain.ledger import (
    BadNumber,
    LedgerState,
    check_invariant,
    first_unprocessed,
    walk,
)

MIN = 60_000
T0 = 1_700_000_000_000


def _bars(opens, closes):
    n = len(opens)
    times = [T0 + i * MIN for i in range(n)]
    highs = [max(o, c) for o, c in zip(opens, closes, strict=True)]
    lows = [min(o, c) for o, c in zip(opens, closes, strict=True)]
    return Bars.from_arrays(times, opens, highs, lows, closes, [1.0] * n)


def test_buy_and_sell_fill_at_next_open():
    bars = _bars([10, 11, 12, 13, 14], [10.5, 11.5, 12.5, 13.5, 14.5])
    target = np.array([0, 1, 1, 0, 0], dtype=np.int8)
    result = walk(
        LedgerState.start(1200),
        bot_id="b",
        bars=bars,
        target=target,
        start=0,
        fee_bps=D(0),
        slippage_bps=D(0),
    )
    buy, sell = result.orders
    # signal at bar 1 -> buy 1200 / 12 = 100 units at bar 2's open
    assert (buy.time, buy.fill.side, buy.fill.price, buy.fill.quantity) == (
        T0 + 2 * MIN,
        "buy",
        D(12),
        D(100),
    )
    assert buy.key == f"tick:b:{T0 + 2 * MIN}:buy"
    # signal at bar 3 -> sell 100 at bar 4's open (14)
    assert (sell.time, sell.fill.side, sell.fill.price) == (T0 + 4 * MIN, "sell", D(14))
    assert [p.value for p in result.equity] == [D(1200), D(1200), D(1250), D(1350)]
    assert result.state.cash == D(1400) and result.state.realised_pnl == D(200)
    assert result.last_time == T0 + 3 * MIN  # the last bar waits for its successor


def test_resuming_from_cursor_processes_only_new_bars():
    bars = _bars([10, 11, 12, 13, 14, 15], [10.5, 11.5, 12.5, 13.5, 14.5, 15.5])
    target = np.array([0, 1, 1, 0, 0, 0], dtype=np.int8)
    start = first_unprocessed(bars, T0 + 3 * MIN)
    assert start == 4
    state = LedgerState.start(1400)
    result = walk(state, bot_id="b", bars=bars, target=target, start=start, fee_bps=D(0), slippage_bps=D(0))
    assert result.orders == [] and [p.time for p in result.equity] == [T0 + 4 * MIN]
    assert first_unprocessed(bars, None) == 0


def test_signal_before_window_does_not_trigger_a_late_entry():
    # target already long at the first processed bar (t=2) without a change there
    bars = _bars([10, 11, 12, 13], [10, 11, 12, 13])
    target = np.array([1, 1, 1, 1], dtype=np.int8)
    result = walk(
        LedgerState.start(100), bot_id="b", bars=bars, target=target, start=1, fee_bps=D(0), slippage_bps=D(0)
    )
    assert result.orders == []


def test_many_steps_keep_the_invariant():
    rng = np.random.default_rng(7)
    n = 400
    closes = 100 + np.cumsum(rng.normal(0, 1, n))
    opens = np.concatenate([[100.0], closes[:-1]]) + rng.normal(0, 0.2, n)
    target = rng.choice(np.array([-1, 0, 1], dtype=np.int8), size=n)
    result = walk(
        LedgerState.start(10000),
        bot_id="b",
        bars=_bars(opens, closes),
        target=target,
        start=0,
        fee_bps=D(7),
        slippage_bps=D(3),
    )
    assert len(result.orders) > 50
    fills = [o.fill for o in result.orders]
    check = check_invariant(result.state, D("101.23"), fills)
    assert check.ok and check.difference == 0
    assert result.state.fees_paid == sum((f.fee for f in fills), D(0))


def test_nan_price_raises_before_anything_is_returned():
    bars = _bars([10, 11, float("nan")], [10, 11, 12])
    target = np.array([0, 1, 1], dtype=np.int8)
    with pytest.raises(BadNumber):
        walk(
            LedgerState.start(100),
            bot_id="b",
            bars=bars,
            target=target,
            start=0,
            fee_bps=D(0),
            slippage_bps=D(0),
        )


def test_anchored_signals_make_a_truncated_window_agree_with_full_history():
    from backend.domain.backtest.engine import target_position
    from backend.domain.backtest.types import Signals
    from backend.domain.ledger import anchored, last_flat

    #          0  1  2  3  4  5  6  7  8  9
    entries = [0, 1, 0, 0, 0, 0, 1, 0, 0, 0]
    exits = [0, 0, 0, 1, 0, 0, 0, 0, 1, 0]
    full = target_position(Signals(entries=entries, exits=exits))
    assert full.tolist() == [0, 1, 1, 0, 0, 0, 1, 1, 0, 0]
    assert last_flat(full, 0, 6) == 5 and last_flat(full, 6, 8) is None
    # a window starting at bar 2 (mid-position) loses the entry and so the exit at 8 ...
    window = Signals(entries=entries[2:], exits=exits[2:])
    assert target_position(window).tolist() == [0, 0, 0, 0, 1, 1, 0, 0]
    # ... anchoring at bar 5 (flat in the full history) is exact from there on
    anchored_target = target_position(anchored(window, flat_through=3))
    assert anchored_target.tolist()[4:] == full.tolist()[6:]
    assert anchored(window, -1) is window
