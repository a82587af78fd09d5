"""Metrics on hand-made equity curves and trade lists (expected values worked out in comments)."""

import json
import math
import statistics

import numpy as np
import pytest

from backend.domain.backtest import metrics as m
from backend.domain.backtest.types import TRADE_DTYPE, BacktestConfig, BacktestResult
from backend.domain.bars import Bars

DAY = 86_400_000
EQUITY = np.array([110.0, 99.0, 121.0])  # from 100: +10 %, -10 %, +22.2 %


def trades_with(pnl, pct=None, holding_days=None, fees=None):
    t = np.zeros(len(pnl), dtype=TRADE_DTYPE)
    t["pnl"] = pnl
    t["return_pct"] = pct if pct is not None else pnl
    t["holding_ms"] = np.asarray(holding_days if holding_days is not None else [1] * len(pnl)) * DAY
    t["fees"] = fees if fees is not None else 0
    return t


def test_total_return_and_cagr():
    assert m.total_return(EQUITY, 100) == pytest.approx(21)
    assert m.cagr(EQUITY, 100, periods_per_year=3) == pytest.approx(21)  # exactly one year
    assert m.cagr(EQUITY, 100, periods_per_year=1.5) == pytest.approx(10)  # two years: 1.1^2 = 1.21
    assert m.cagr(np.array([50.0, 0.0]), 100, 2) == -100
    # 30 % in six one-minute bars, annualised, does not fit a float: undefined, not an OverflowError.
    assert m.cagr(np.full(6, 130.0), 100, periods_per_year=525_600) is None


def test_bar_returns_are_those_of_the_start_prepended_curve_bit_for_bit():
    rng = np.random.default_rng(4)
    equity = 100 + np.cumsum(rng.normal(0, 1, 1001))
    equity[[10, 11, 20]] = [0.0, 5.0, np.nan]  # through zero (inf) and a NaN
    for initial in (100.0, 0.0, -3.0):
        curve = m.with_start(equity, initial)
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = curve[1:] / curve[:-1] - 1.0
        assert m.bar_returns(equity, initial).tobytes() == expected.tobytes()
    assert m.bar_returns(np.zeros(0), 100.0).shape == (0,)
    assert m.bar_returns([110, 99], 100).tolist() == pytest.approx([0.1, -0.1])


def test_drawdown_and_duration():
    # curve 100, 110, 99, 121 -> peaks 100, 110, 110, 121 -> worst 99 / 110 - 1 = -10 %
    dd = m.drawdown(EQUITY, 100)
    np.testing.assert_allclose(dd, [0, 0, -0.1, 0])
    assert m.max_drawdown(dd) == pytest.approx(-10)
    # one point under water (bar 1); peak at bar 0, recovery at bar 2 -> 2 days
    assert m.max_drawdown_duration(dd, np.arange(3) * DAY) == (1, 2 * DAY)
    # never recovered: under water from the peak (bar 0) to the last bar (bar 2)
    assert m.max_drawdown_duration(m.drawdown(np.array([110.0, 100, 105]), 100), np.arange(3) * DAY) == (
        2,
        2 * DAY,
    )
    assert m.ulcer_index(dd) == pytest.approx(math.sqrt(100 / 4))  # sqrt(mean(0,0,10^2,0))


def test_return_ratios_match_statistics_module():
    r = [0.1, -0.1, 121 / 99 - 1]
    mean, sd = statistics.mean(r), statistics.stdev(r)
    returns = m.bar_returns(EQUITY, 100)
    np.testing.assert_allclose(returns, r)
    assert m.sharpe_ratio(returns, 4) == pytest.approx(mean / sd * 2)
    assert m.volatility(returns, 4) == pytest.approx(sd * 2 * 100)
    downside = math.sqrt(0.01 / 3)  # only -0.1 is below zero
    assert m.sortino_ratio(returns, 4) == pytest.approx(mean / downside * 2)
    assert m.sharpe_ratio(np.zeros(5), 252) is None  # zero volatility is undefined, not inf


def test_trade_metrics_hand_case():
    # pnl 10, 20, -5, -5, 30: wins 3/5 = 60 %, PF = 60 / 10 = 6, expectancy 10,
    # Kelly = 0.6 - 0.4 / (20 / 5) = 0.5, streaks: 2 wins then 2 losses.
    pnl = np.array([10.0, 20, -5, -5, 30])
    out = m.trade_metrics(trades_with(pnl, holding_days=[1, 2, 3, 4, 5], fees=[1] * 5))
    assert out["winRate"] == 60 and out["profitFactor"] == 6 and out["expectancy"] == 10
    assert out["kellyCriterion"] == pytest.approx(0.5)
    assert out["maxConsecutiveWins"] == 2 and out["maxConsecutiveLosses"] == 2
    assert out["sqn"] == pytest.approx(math.sqrt(5) * 10 / statistics.stdev(pnl.tolist()))
    assert (out["bestTrade"], out["worstTrade"], out["avgTrade"]) == (30, -5, 10)
    assert out["avgHoldingDays"] == 3 and out["totalFees"] == 5


def test_undefined_trade_metrics_are_none():
    out = m.trade_metrics(trades_with(np.array([5.0, 7.0])))
    assert out["profitFactor"] is None and out["kellyCriterion"] is None  # no losing trade
    empty = m.trade_metrics(np.zeros(0, dtype=TRADE_DTYPE))
    assert empty["totalTrades"] == 0 and empty["winRate"] is None and empty["avgHoldingDays"] is None


def test_exposure_and_buy_hold():
    assert m.exposure(np.array([0, 1.5, -2, 0])) == 50
    assert m.buy_hold_return(np.array([100.0, 120, 150])) == pytest.approx(50)


def test_compute_metrics_is_json_safe_with_no_trades_and_flat_equity():
    n = 5
    bars = Bars.from_arrays(np.arange(n) * DAY, *([np.full(n, 10.0)] * 4), np.ones(n))
    flat = np.full(n, 1000.0)
    result = BacktestResult(
        equity=flat,
        cash=flat,
        position=np.zeros(n),
        target=np.zeros(n, np.int8),
        trades=np.zeros(0, TRADE_DTYPE),
        config=BacktestConfig(initial_capital=1000),
    )
    out = m.compute_metrics(result, bars, periods_per_year=365)
    json.dumps(out, allow_nan=False)
    assert out["totalReturn"] == 0 and out["maxDrawdown"] == 0 and out["sharpeRatio"] is None
    for key in (
        "totalReturn",
        "annualizedReturn",
        "sharpeRatio",
        "maxDrawdown",
        "winRate",
        "profitFactor",
        "totalTrades",
        "avgHoldingDays",
        "cagr",
        "volatility",
        "sortinoRatio",
        "calmarRatio",
        "expectancy",
        "sqn",
        "exposure",
        "bestTrade",
        "worstTrade",
        "avgTrade",
        "maxDrawdownDuration",
        "buyHoldReturn",
        "totalFees",
        "maxConsecutiveWins",
        "maxConsecutiveLosses",
    ):
        assert key in out


def test_compute_metrics_hand_case():
    bars = Bars.from_arrays(np.arange(3) * DAY, [10, 11, 9], [11, 12, 12], [9, 9, 8], [11, 9, 12], [1, 1, 1])
    result = BacktestResult(
        equity=EQUITY,
        cash=EQUITY,
        position=np.array([0, 1.0, 0]),
        target=np.zeros(3, np.int8),
        trades=trades_with(np.array([21.0])),
        config=BacktestConfig(initial_capital=100),
    )
    out = m.compute_metrics(result, bars, periods_per_year=3)
    assert out["totalReturn"] == pytest.approx(21) and out["annualizedReturn"] == pytest.approx(21)
    assert out["maxDrawdown"] == pytest.approx(-10) and out["calmarRatio"] == pytest.approx(2.1)
    assert out["buyHoldReturn"] == pytest.approx(100 / 11 * 1)  # 11 -> 12
    assert out["exposure"] == pytest.approx(100 / 3) and out["maxDrawdownDuration"] == 2


def test_bar_returns_divide_the_start_prepended_curve():
    equity = np.random.default_rng(2).normal(10_000, 300, 1_001)
    equity[500] = 0.0  # a zero divides into inf / nan on the next bar, as on the curve
    curve = np.concatenate(([10_000.0], equity))
    with np.errstate(divide="ignore", invalid="ignore"):
        want = curve[1:] / curve[:-1] - 1.0
    assert m.bar_returns(equity, 10_000).tobytes() == want.tobytes()
    assert len(m.bar_returns(np.zeros(0), 10_000.0)) == 0
