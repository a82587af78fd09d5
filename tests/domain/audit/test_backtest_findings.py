"""Backtest findings on three hand-made backtests: healthy, fee-sensitive and over-fitted."""

import math

import numpy as np
import pytest

from backend.domain.audit.backtest import (
    BacktestEvidence,
    audit_backtest,
    check_trade_count,
    longest_run,
    max_drawdown_pct,
    sharpe,
)

PPY = 252


def _equity(returns):
    return 100_000.0 * np.concatenate([[1.0], np.cumprod(1.0 + np.asarray(returns))])


def _steady_equity():
    # the same four-bar return pattern in both halves: in- and out-of-sample Sharpe are equal
    return _equity([0.002, -0.001, 0.0015, 0.0005] * 50)


def _blocks_exposure(n):
    # 5 bars invested, 5 flat, repeated: the longest flat run is 5 bars
    return np.array([1.0 if (i // 5) % 2 == 0 else 0.0 for i in range(n)])


def by_id(report):
    return {f["id"]: f for f in report.findings_dicts()}


def test_healthy_backtest_has_only_information():
    eq = _steady_equity()
    ev = BacktestEvidence(
        equity=eq,
        exposure=_blocks_exposure(len(eq)),
        trade_pnls=np.array([30.0, -10.0] * 20),
        periods_per_year=PPY,
        summary={"totalReturn": 20.0, "sharpeRatio": 1.2, "maxDrawdown": -5.0, "totalTrades": 40},
        stressed_total_return=15.0,
    )
    report = audit_backtest(ev)
    f = by_id(report)
    assert all(x["severity"] == "info" for x in f.values())
    assert report.score == 100
    # 20 % return / 5 % drawdown = 4; top two trades 60 of 400 net = 15 %; 15 / 20 = 75 % retained
    assert f["bt.drawdown_vs_return"]["evidence"] == {
        "metric": "returnToDrawdown",
        "value": 4.0,
        "threshold": 1.0,
    }
    assert f["bt.outlier_trades"]["evidence"]["value"] == 15.0
    assert f["bt.cost_sensitivity"]["related"][1] == {
        "metric": "returnRetainedPct",
        "value": 75.0,
        "threshold": 50.0,
    }
    assert f["bt.flat_period"]["evidence"]["value"] == pytest.approx(round(5 / 201 * 100, 4))
    assert f["bt.trade_count"]["evidence"] == {"metric": "totalTrades", "value": 40, "threshold": 30}


def test_fee_sensitive_backtest_is_flagged_only_for_costs():
    eq = _steady_equity()
    ev = BacktestEvidence(
        equity=eq,
        exposure=_blocks_exposure(len(eq)),
        trade_pnls=np.array([12.0, -8.0] * 30),
        periods_per_year=PPY,
        summary={"totalReturn": 10.0, "sharpeRatio": 0.9, "maxDrawdown": -4.0, "totalTrades": 60},
        stressed_total_return=-3.0,
    )
    report = audit_backtest(ev)
    flagged = [x for x in report.findings_dicts() if x["severity"] != "info"]
    assert [x["id"] for x in flagged] == ["bt.cost_sensitivity"]
    assert flagged[0]["severity"] == "high"
    assert flagged[0]["evidence"] == {"metric": "totalReturnDoubledCostsPct", "value": -3.0, "threshold": 0.0}
    # -3 / 10 = -30 % of the return survives doubled costs
    assert flagged[0]["related"][1]["value"] == -30.0
    assert report.score == 75


def _overfit():
    eq = _equity([0.004, -0.001] * 50 + [-0.002, 0.001] * 50)  # 201 points, split at bar 100
    exposure = np.zeros(len(eq))
    exposure[:60] = 2.0  # leveraged at the start, then 141 flat bars
    return BacktestEvidence(
        equity=eq,
        exposure=exposure,
        trade_pnls=np.array([500.0, 400.0, -50.0, -60.0, -40.0, -30.0, -20.0, -100.0]),
        periods_per_year=PPY,
        summary={"totalReturn": 12.0, "sharpeRatio": 2.5, "maxDrawdown": -30.0, "totalTrades": 8},
        stressed_total_return=2.0,
    )


def test_overfit_backtest_raises_every_flag():
    report = audit_backtest(_overfit())
    f = by_id(report)
    assert f["bt.trade_count"]["severity"] == "high"  # 8 trades < 30 with a claimed Sharpe 2.5
    assert f["bt.drawdown_vs_return"]["severity"] == "high"  # 12 / 30 = 0.4 < 0.5
    assert f["bt.drawdown_vs_return"]["evidence"]["value"] == 0.4
    # net 600, best two 900: 150 % of the profit, the rest loses 300
    assert f["bt.outlier_trades"]["severity"] == "high"
    assert f["bt.outlier_trades"]["evidence"]["value"] == 150.0
    assert f["bt.outlier_trades"]["related"][1] == {
        "metric": "netProfitWithoutTop2",
        "value": -300.0,
        "threshold": None,
    }
    # 2 / 12 = 16.67 % retained -> medium
    assert f["bt.cost_sensitivity"]["severity"] == "medium"
    assert f["bt.cost_sensitivity"]["related"][1]["value"] == pytest.approx(16.6667)
    assert f["bt.over_exposure"]["severity"] == "high"
    assert f["bt.over_exposure"]["evidence"]["value"] == 2.0
    assert f["bt.flat_period"]["severity"] == "low"
    assert f["bt.flat_period"]["evidence"]["value"] == pytest.approx(round(141 / 201 * 100, 4))
    assert report.findings[0].severity == "high"
    assert report.score == 0  # 5 x 25 + 10 + 4 > 100


def test_out_of_sample_sharpe_by_hand():
    # alternating returns a, b over n=100 bars: mean (a+b)/2, sd |a-b|/2 * sqrt(n/(n-1))
    f = by_id(audit_backtest(_overfit()))["bt.out_of_sample"]
    s_in = 0.0015 / (0.0025 * math.sqrt(100 / 99)) * math.sqrt(252)
    s_out = -0.0005 / (0.0015 * math.sqrt(100 / 99)) * math.sqrt(252)
    assert s_in == pytest.approx(9.47696, abs=1e-4)
    assert f["severity"] == "high"
    assert f["evidence"]["value"] == pytest.approx(s_out, abs=1e-4)
    assert f["evidence"]["threshold"] == pytest.approx(s_in / 2, abs=1e-4)
    assert f["related"][0]["value"] == pytest.approx(s_in, abs=1e-4)


def test_few_trades_with_modest_sharpe_is_medium():
    assert check_trade_count(12, 0.4).severity == "medium"
    assert check_trade_count(30, 3.0).severity == "info"


def test_helpers_on_tiny_arrays():
    assert max_drawdown_pct(np.array([100.0, 120.0, 90.0, 130.0])) == pytest.approx(-25.0)
    assert longest_run(np.array([True, False, True, True, True, False])) == 3
    assert sharpe(np.array([100.0, 100.0, 100.0]), PPY) == 0.0


def test_summary_missing_is_computed_from_arrays():
    eq = np.array([100.0, 110.0, 99.0, 121.0])
    report = audit_backtest(BacktestEvidence(eq, np.ones(4), np.array([10.0, 11.0]), PPY))
    assert report.metrics["totalReturn"] == pytest.approx(21.0)
    assert report.metrics["maxDrawdown"] == pytest.approx(-10.0)
    assert report.metrics["totalTrades"] == 2
    assert "bt.cost_sensitivity" not in by_id(report)  # no re-run, no claim


def test_unknown_exposure_skips_exposure_checks():
    eq = _steady_equity()
    report = audit_backtest(BacktestEvidence(eq, None, np.array([5.0] * 40), PPY))
    assert "bt.flat_period" not in by_id(report) and "bt.over_exposure" not in by_id(report)
