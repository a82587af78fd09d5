"""Walk-forward: windows, grids, and a synthetic series whose in-sample choice is known."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from backend.domain.backtest import engine, strategies
from backend.domain.backtest import walkforward as wf
from backend.domain.backtest.guardrails import in_out_gap
from backend.domain.backtest.metrics import bar_returns, sharpe_ratio
from backend.domain.backtest.types import BacktestConfig, Signals
from backend.domain.bars import Bars

PPY = 365.0


def test_fold_windows_tile_the_end_of_the_series():
    # n = 100, 2 folds, half training: T = floor(100 / (2 + 1)) = 33, L = 100 - 2 * 33 = 34
    assert wf.fold_windows(100, 2, 0.5) == [
        wf.FoldWindow(0, 0, 34, 34, 67),
        wf.FoldWindow(1, 33, 67, 67, 100),
    ]
    # n = 200, 4 folds, 70 % training: T = floor(200 / (4 + 7/3)) = 31, L = 200 - 124 = 76
    windows = wf.fold_windows(200, 4, 0.7)
    assert [(w.train_start, w.train_stop, w.test_stop) for w in windows] == [
        (0, 76, 107),
        (31, 107, 138),
        (62, 138, 169),
        (93, 169, 200),
    ]


@pytest.mark.parametrize(
    ("n", "folds", "fraction"), [(100, 1, 0.5), (100, 2, 0.0), (100, 2, 1.0), (29, 2, 0.5)]
)
def test_fold_windows_refuse_bad_requests(n, folds, fraction):
    with pytest.raises(ValueError):
        wf.fold_windows(n, folds, fraction)


@pytest.mark.parametrize(("folds", "fraction"), [(2, 0.5), (5, 0.7), (3, 0.9), (10, 0.25), (4, 0.8)])
def test_min_bars_is_the_fewest_bars_accepted(folds, fraction):
    n = wf.min_bars(folds, fraction)
    assert len(wf.fold_windows(n, folds, fraction)) == folds
    with pytest.raises(ValueError):
        wf.fold_windows(n - 1, folds, fraction)


def test_grids():
    base = {"fast": 10, "slow": 30}
    assert wf.param_grid(base, {"fast": [5, 10]}) == [{"fast": 5, "slow": 30}, {"fast": 10, "slow": 30}]
    # 75 / 100 / 125 %, whole numbers rounded half to even: 7.5 -> 8, 12.5 -> 12, 22.5 -> 22, 37.5 -> 38
    specs = strategies.get_strategy("sma_cross").params
    assert wf.default_grid(base, specs) == {"fast": [8, 10, 12], "slow": [22, 30, 38]}
    rsi = strategies.get_strategy("rsi").params
    grid = wf.default_grid({"period": 14, "lower": 30.0, "upper": 90.0}, rsi)
    assert grid == {
        "period": [10, 14, 18],
        "lower": [22.5, 30.0, 37.5],
        "upper": [67.5, 90.0, 100.0],
    }  # max 100
    assert len(wf.param_grid(base, wf.default_grid(base, specs))) == 9


def _up_then_down(n: int = 200, turn: int = 120) -> Bars:
    """Closes rise 0.5 % a bar until ``turn``, then fall 0.5 % a bar, with a +-0.2 % zigzag."""
    drift = np.where(np.arange(n) < turn, 0.005, -0.005)
    base = 100.0 * np.exp(np.cumsum(drift))
    close = base * (1 + 0.002 * (-1.0) ** np.arange(n))
    opens = np.concatenate(([100.0], close[:-1]))
    return Bars.from_arrays(np.arange(n) * 86_400_000, opens, close * 1.001, close * 0.999, close, np.ones(n))


def _hold(bars: Bars, params: Mapping[str, Any]) -> Signals:
    """Hold a long (side 1) or a short (side -1) for the whole window."""
    on, off = np.ones(len(bars), dtype=bool), np.zeros(len(bars), dtype=bool)
    long = params["side"] == 1
    return Signals(entries=on if long else off, exits=off, short_entries=off if long else on, short_exits=off)


def test_walk_forward_chooses_the_side_of_the_training_trend():
    # 200 bars, 4 folds, half training: T = 40, L = 40. The trend turns down at bar 120, so the
    # training windows [0,40), [40,80), [80,120) rose (long chosen) and [120,160) fell (short chosen).
    bars, config = _up_then_down(), BacktestConfig(allow_short=True, fee_bps=10)
    candidates = [{"side": 1}, {"side": -1}]
    out = wf.walk_forward(bars, candidates, _hold, config, folds=4, train_fraction=0.5, periods_per_year=PPY)
    assert [f.params["side"] for f in out.folds] == [1, 1, 1, -1]
    assert [(f.window.test_start, f.window.test_stop) for f in out.folds] == [
        (40, 80),
        (80, 120),
        (120, 160),
        (160, 200),
    ]
    assert [f.test_sharpe > 0 for f in out.folds] == [True, True, False, True]  # fold 2 rode the turn
    assert all(f.train_score == f.train_sharpe and f.train_sharpe > 0 for f in out.folds)
    assert out.candidates == 2 and out.objective == "sharpeRatio" and out.start == 40
    assert len(out.equity) == 160


def test_walk_forward_stitches_with_the_capital_carried_over():
    bars, config = _up_then_down(), BacktestConfig(allow_short=True, fee_bps=10)
    out = wf.walk_forward(
        bars, [{"side": 1}, {"side": -1}], _hold, config, folds=4, train_fraction=0.5, periods_per_year=PPY
    )
    # fold 1's test window, run alone with the capital fold 0 ended with, is the stitched curve's piece
    capital = float(out.equity[39])
    window = bars.slice(80, 120)
    alone = engine.run(window, _hold(window, {"side": 1}), replace(config, initial_capital=capital))
    np.testing.assert_allclose(out.equity[40:80], alone.equity, rtol=1e-12)
    # trades carry indexes into the whole series, one per test window (held to its end)
    assert list(out.trades["entry_index"]) == [41, 81, 121, 161]
    assert list(out.trades["exit_index"]) == [79, 119, 159, 199]
    # degradation: the mean in-sample Sharpe of the choices against the stitched curve's Sharpe
    oos = sharpe_ratio(bar_returns(out.equity, 10_000.0), PPY)
    in_sample = float(np.mean([f.train_sharpe for f in out.folds]))
    assert out.degradation == in_out_gap(in_sample, oos)
    assert out.out_of_sample_return == pytest.approx((out.equity[-1] / 10_000.0 - 1) * 100)
    # the in-sample choice is deflated among the 2 candidates of its fold
    assert all(f.deflated is not None and f.deflated.trials == 2 for f in out.folds)


def test_walk_forward_ties_go_to_the_first_candidate_and_undefined_ranks_last():
    bars = _up_then_down()
    flat = {"side": 0}  # neither long nor short: no trade, Sharpe undefined

    def signals(b: Bars, p: Mapping[str, Any]) -> Signals:
        off = np.zeros(len(b), dtype=bool)
        return Signals(off, off) if p["side"] == 0 else _hold(b, p)

    out = wf.walk_forward(
        bars, [flat, {"side": 1}, {"side": 1}], signals, BacktestConfig(), folds=2, train_fraction=0.5,
        periods_per_year=PPY,
    )  # fmt: skip
    assert [f.params for f in out.folds] == [{"side": 1}, {"side": 1}]
    only_flat = wf.walk_forward(
        bars, [flat], signals, BacktestConfig(), folds=2, train_fraction=0.5, periods_per_year=PPY
    )
    assert only_flat.degradation.in_sample_sharpe is None and only_flat.out_of_sample_return == 0.0


def test_walk_forward_on_a_builtin_strategy_reports_progress():
    bars = _up_then_down(600, 300)
    spec = strategies.get_strategy("sma_cross")
    base = {"fast": 10, "slow": 30}
    seen: list[float] = []
    out = wf.walk_forward(
        bars,
        wf.param_grid(base, wf.default_grid(base, spec.params)),
        spec.signals,
        BacktestConfig(),
        folds=3,
        train_fraction=0.6,
        periods_per_year=PPY,
        objective="totalReturn",
        progress=seen.append,
    )
    assert len(out.folds) == 3 and seen[-1] == 1.0 and seen == sorted(seen)
    assert all(f.train_score is None or f.train_score > -100 for f in out.folds)


def test_walk_forward_refuses_unknown_objectives_and_empty_grids():
    bars = _up_then_down()
    with pytest.raises(ValueError, match="objective"):
        wf.walk_forward(bars, [{"side": 1}], _hold, BacktestConfig(), folds=2, train_fraction=0.5,
                        periods_per_year=PPY, objective="maxDrawdown")  # fmt: skip
    with pytest.raises(ValueError, match="candidates"):
        wf.walk_forward(bars, [], _hold, BacktestConfig(), folds=2, train_fraction=0.5, periods_per_year=PPY)
