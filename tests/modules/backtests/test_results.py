"""Result shaping helpers of the backtest runner (pure: arrays in, rows out)."""

from __future__ import annotations

import numpy as np

from backend.domain.backtest.types import TRADE_DTYPE
from backend.domain.bars import Bars
from backend.modules.backtests import results
from tests.modules.backtests.former_rows import kline_rows


def _bars(n: int) -> Bars:
    t = np.arange(n, dtype=np.int64) * 60_000
    o = np.arange(n, dtype=float) + 10  # 10, 11, 12, ...
    return Bars.from_arrays(t, o, o + 5, o - 5, o + 1, np.ones(n))


def _trades(*rows) -> np.ndarray:
    trades = np.zeros(len(rows), dtype=TRADE_DTYPE)
    for i, (entry, exit_, side) in enumerate(rows):
        trades[i]["entry_index"], trades[i]["exit_index"], trades[i]["side"] = entry, exit_, side
    return trades


def test_kline_keeps_every_bar_under_the_limit_and_marks_fills():
    rows = kline_rows(_bars(4), _trades((1, 3, 1)), limit=10)
    assert [r[6] for r in rows] == [None, "buy", None, "sell"]
    assert rows[1][:6] == [60_000, 11.0, 16.0, 6.0, 12.0, 1.0]


def test_kline_aggregates_long_runs_into_wider_candles():
    # 6 bars, limit 3 -> groups (0,1), (2,3), (4,5): first open, max high, min low, last close,
    # summed volume; a short opened on bar 3 (sell) and closed on bar 4 (buy).
    rows = kline_rows(_bars(6), _trades((3, 4, -1)), limit=3)
    assert rows == [
        [0, 10.0, 16.0, 5.0, 12.0, 2.0, None],
        [120_000, 12.0, 18.0, 7.0, 14.0, 2.0, "sell"],
        [240_000, 14.0, 20.0, 9.0, 16.0, 2.0, "buy"],
    ]


def test_reversal_bar_shows_the_opening_fill():
    # Long closed and short opened on bar 2: both fills are sells.
    marks = results.fill_marks(4, _trades((1, 2, 1), (2, 3, -1)))
    assert marks.tolist() == [0, 1, -1, 1]


def test_fill_points_are_the_marked_bars_of_fill_marks():
    # Ties of every kind: a reversal (exit and entry on one bar), a same-bar round trip, and
    # trades out of order with repeated bars: the marks are fill_marks' (the opening fill wins).
    rng = np.random.default_rng(3)
    cases = [
        _trades((1, 2, 1), (2, 3, -1)),
        _trades((2, 2, 1)),
        _trades(),
        _trades((5, 1, -1), (1, 5, 1), (3, 3, -1)),
    ]
    for _ in range(300):
        k, n = int(rng.integers(0, 12)), int(rng.integers(1, 30))
        entries, exits = rng.integers(0, n, k).tolist(), rng.integers(0, n, k).tolist()
        rows = zip(entries, exits, rng.choice([-1, 1], k).tolist(), strict=True)
        cases.append(_trades(*rows))
    for trades in cases:
        n = int(max(trades["entry_index"].max(initial=0), trades["exit_index"].max(initial=0))) + 1
        marks = results.fill_marks(n, trades)
        bars, values = results.fill_points(trades)
        assert bars.tolist() == np.flatnonzero(marks).tolist() and values.tolist() == marks[bars].tolist()


def test_equity_curve_is_sampled_with_the_last_point():
    time = np.arange(10, dtype=np.int64)
    equity = np.arange(10, dtype=float) * 2
    assert results.equity_rows(time, equity, limit=4) == [[0, 0.0], [3, 6.0], [6, 12.0], [9, 18.0]]
    assert len(results.equity_rows(time, equity, limit=100)) == 10


def test_periods_per_year_counts_calendar_bars():
    assert results.periods_per_year("1d") == 365.25
    assert results.periods_per_year("1h") == 365.25 * 24
