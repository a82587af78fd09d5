"""Golden scenarios: hand-written candles, signals and the exact trades and PnL they must give.

Candles (one per day): opens and closes below; a signal at bar t fills at bar t+1's open.
    bar:    0     1     2     3     4     5
    open:   10    11    12    13    12    11
    close:  10.5  11.5  12.5  12.5  11.5  10.5
"""

import numpy as np
import pytest

from backend.domain.backtest.engine import run, target_position
from backend.domain.backtest.types import BacktestConfig, Signals
from backend.domain.bars import Bars

DAY = 86_400_000
OPEN = [10, 11, 12, 13, 12, 11]
CLOSE = [10.5, 11.5, 12.5, 12.5, 11.5, 10.5]
BARS = Bars.from_arrays(
    np.arange(6) * DAY, OPEN, np.maximum(OPEN, CLOSE), np.minimum(OPEN, CLOSE), CLOSE, np.ones(6)
)


def flags(*idx, n=6):
    out = np.zeros(n, dtype=bool)
    out[list(idx)] = True
    return out


def sig(entries=(), exits=(), short_entries=(), short_exits=()):
    return Signals(flags(*entries), flags(*exits), flags(*short_entries), flags(*short_exits))


def test_long_round_trip_no_costs():
    # Entry signal on bar 0 -> buy at bar 1 open 11: 1100 / 11 = 100 units.
    # Exit signal on bar 2 -> sell at bar 3 open 13: pnl = 100 * (13 - 11) = 200.
    r = run(BARS, sig(entries=[0], exits=[2]), BacktestConfig(initial_capital=1100))
    (t,) = r.trades
    assert (t["entry_index"], t["exit_index"], t["side"]) == (1, 3, 1)
    assert (t["entry_price"], t["exit_price"], t["quantity"]) == (11, 13, 100)
    assert t["pnl"] == pytest.approx(200) and t["return_pct"] == pytest.approx(200 / 1100 * 100)
    assert t["holding_ms"] == 2 * DAY and not t["closed_at_end"]
    # Equity marks 100 units at each close while held (bars 1-2), then cash 1300.
    np.testing.assert_allclose(r.equity, [1100, 1150, 1250, 1300, 1300, 1300])
    np.testing.assert_allclose(r.position, [0, 100, 100, 0, 0, 0])


def test_fee_charged_on_both_fills():
    # fee 10 bps: qty = 1100 / (11 * 1.001); fees = qty * 11 * 0.001 + qty * 13 * 0.001
    # pnl = qty * (13 - 11) - fees = qty * 1.976
    r = run(BARS, sig(entries=[0], exits=[2]), BacktestConfig(initial_capital=1100, fee_bps=10))
    qty = 1100 / (11 * 1.001)
    (t,) = r.trades
    assert t["quantity"] == pytest.approx(qty)
    assert t["fees"] == pytest.approx(qty * 0.024)
    assert t["pnl"] == pytest.approx(qty * 1.976)
    assert r.equity[-1] == pytest.approx(1100 + qty * 1.976)
    assert r.cash[1] == pytest.approx(0)  # price plus entry fee use exactly the committed cash


def test_slippage_moves_both_fills_against_the_trader():
    # 100 bps: buy at 11 * 1.01 = 11.11, sell at 13 * 0.99 = 12.87; qty = 1100 / 11.11
    r = run(BARS, sig(entries=[0], exits=[2]), BacktestConfig(initial_capital=1100, slippage_bps=100))
    (t,) = r.trades
    assert (t["entry_price"], t["exit_price"]) == (pytest.approx(11.11), pytest.approx(12.87))
    assert t["pnl"] == pytest.approx(1100 / 11.11 * 1.76)


def test_short_left_open_is_closed_at_last_close():
    # Short signal on bar 3 -> sell at bar 4 open 12: 1000 / 12 units; never covered, so it is
    # closed at bar 5's close 10.5: pnl = (12 - 10.5) * 1000 / 12 = 125.
    r = run(BARS, sig(short_entries=[3]), BacktestConfig(initial_capital=1000, allow_short=True))
    (t,) = r.trades
    assert (t["side"], t["entry_index"], t["exit_index"]) == (-1, 4, 5)
    assert t["closed_at_end"] and t["pnl"] == pytest.approx(125)
    assert t["exit_time"] == 6 * DAY  # close time of the last bar
    assert r.equity[-1] == pytest.approx(1125)
    assert r.equity[4] == pytest.approx(1000 + (12 - 11.5) * 1000 / 12)  # short marked at close


def test_reversal_closes_then_sizes_from_new_cash():
    # Long at bar 1 open 11 (100 units), short signal on bar 2 -> at bar 3 open 13: close the
    # long (+200, cash 1300) and short 1300 / 13 = 100 units; closed at 10.5 -> +250. Final 1550.
    r = run(BARS, sig(entries=[0], short_entries=[2]), BacktestConfig(initial_capital=1100, allow_short=True))
    assert [(t["side"], t["entry_index"], t["exit_index"]) for t in r.trades] == [(1, 1, 3), (-1, 3, 5)]
    np.testing.assert_allclose(r.trades["pnl"], [200, 250])
    assert r.equity[-1] == pytest.approx(1550)


def test_signal_on_last_bar_never_fills():
    # Entry decided on bar 5's close would fill at bar 6's open, which does not exist.
    r = run(BARS, sig(entries=[5]), BacktestConfig(initial_capital=1100))
    assert len(r.trades) == 0 and (r.equity == 1100).all()


def test_long_only_ignores_short_signals():
    # The short entry on bar 2 is ignored: the long from bar 1 (open 11) runs to the last close
    # 10.5 -> pnl = 100 * (10.5 - 11) = -50.
    r = run(BARS, sig(entries=[0], short_entries=[2]), BacktestConfig(initial_capital=1100))
    (t,) = r.trades
    assert t["side"] == 1 and t["closed_at_end"] and t["pnl"] == pytest.approx(-50)


def test_fixed_fraction_commits_part_of_equity():
    # fraction 0.5: 550 buys 50 units at 11; +2 each at 13 -> pnl 100, final 1200.
    r = run(
        BARS,
        sig(entries=[0], exits=[2]),
        BacktestConfig(initial_capital=1100, sizing="fixed_fraction", fraction=0.5),
    )
    assert r.trades[0]["quantity"] == pytest.approx(50)
    np.testing.assert_allclose(r.equity, [1100, 550 + 50 * 11.5, 550 + 50 * 12.5, 1200, 1200, 1200])


def test_whole_lots_round_quantity_down():
    # lot 1: floor(1000 / 11) = 90 units, 10 cash left; +2 each -> pnl 180, final 1180.
    r = run(BARS, sig(entries=[0], exits=[2]), BacktestConfig(initial_capital=1000, lot_size=1))
    assert r.trades[0]["quantity"] == 90
    assert r.cash[1] == pytest.approx(10) and r.equity[-1] == pytest.approx(1180)


def test_target_position_rules():
    # entry wins over an exit on the same bar; an exit before any entry does nothing;
    # a long exit does not close a short; simultaneous long and short entries cancel.
    s = sig(entries=[1, 4], exits=[0, 1, 3], short_entries=[2, 4], short_exits=[5])
    assert target_position(s).tolist() == [0, 1, 1, 0, 1, 1]
    assert target_position(s, allow_short=True).tolist() == [0, 1, -1, -1, -1, 0]


def test_empty_bars():
    r = run(Bars.empty(), Signals([], []))
    assert len(r.equity) == 0 and len(r.trades) == 0 and r.final_equity == 10000


def test_length_mismatch_rejected():
    with pytest.raises(ValueError):
        run(BARS, Signals(flags(0, n=5), flags(n=5)))
