"""Doubled-cost re-run through the real engine on a hand-made fee-sensitive strategy."""

import numpy as np
import pytest

from backend.domain.audit.backtest import audit_backtest
from backend.domain.audit.rerun import evidence_from_run, stressed_config
from backend.domain.backtest.types import BacktestConfig, Signals
from backend.domain.bars import Bars

K = 20  # round trips


def _scalper():
    # Every 3 bars: signal at bar 3i (filled at 3i+1's open), exit signal at 3i+1 (filled at
    # 3i+2's open). The price steps up 0.3 % exactly at bar 3i+2, so each trade grosses 0.3 %.
    n = 3 * K + 1
    opens = [100.0]
    for j in range(1, n):
        opens.append(opens[-1] * (1.003 if j % 3 == 2 else 1.0))
    t = np.arange(n, dtype=np.int64) * 86_400_000
    bars = Bars.from_arrays(t, opens, opens, opens, opens, np.ones(n))
    idx = np.arange(n)
    return bars, Signals(entries=idx % 3 == 0, exits=idx % 3 == 1)


def test_stressed_config_doubles_or_floors():
    assert stressed_config(BacktestConfig(fee_bps=5, slippage_bps=2)).fee_bps == 10
    assert stressed_config(BacktestConfig(fee_bps=5, slippage_bps=2)).slippage_bps == 4
    zero = stressed_config(BacktestConfig())
    assert (zero.fee_bps, zero.slippage_bps) == (5.0, 5.0)


def test_fee_sensitive_strategy_through_the_engine():
    bars, signals = _scalper()
    # 5 bps fee + 5 bps slippage per fill = ~20 bps per round trip < 30 bps gross: profitable;
    # doubled to ~40 bps per round trip > 30 bps: every trade loses.
    ev = evidence_from_run(bars, signals, BacktestConfig(fee_bps=5, slippage_bps=5), 252)
    assert len(ev.trade_pnls) == K
    assert (ev.trade_pnls > 0).all()
    assert ev.summary["totalReturn"] > 0
    assert ev.stressed_total_return < 0
    assert ev.stressed_cost_bps == 20
    f = {x["id"]: x for x in audit_backtest(ev).findings_dicts()}["bt.cost_sensitivity"]
    assert f["severity"] == "high"
    assert f["evidence"]["value"] == pytest.approx(round(ev.stressed_total_return, 4))
    # all-in long: exposure is ~1 while holding, 0 while flat, never above 1
    assert ev.exposure.max() == pytest.approx(1.0, abs=0.01)
    assert ev.exposure.min() == 0.0
