"""The vectorised fill path and the per-fill loop agree on random data."""

import numpy as np
import pytest

from backend.domain.backtest import engine
from backend.domain.backtest import strategies as st
from backend.domain.backtest.types import BacktestConfig
from tests.helpers.bars import random_bars


@pytest.mark.parametrize(
    "config",
    [
        BacktestConfig(),
        BacktestConfig(fee_bps=7, slippage_bps=3),
        BacktestConfig(fee_bps=5, allow_short=True),
        BacktestConfig(sizing="fixed_fraction", fraction=0.3, slippage_bps=10, allow_short=True),
    ],
)
def test_vector_and_loop_paths_agree(config):
    bars = random_bars(3000, seed=5)
    signals = st.get_strategy("sma_cross").signals(bars, {"fast": 5, "slow": 15})
    target = engine.target_position(signals, config.allow_short)
    held = np.concatenate(([0], target[:-1])).astype(np.int8)
    fills = np.flatnonzero(np.diff(held, prepend=np.int8(0)))
    vec = engine._vector_fills(bars, held, fills, config)
    loop = engine._loop_fills(bars, held, fills, config, lambda _f: None)
    assert len(vec[2]) == len(loop[2]) > 50
    for name in ("entry_index", "exit_index", "side", "closed_at_end", "holding_ms"):
        np.testing.assert_array_equal(vec[2][name], loop[2][name])
    for name in ("entry_price", "exit_price", "quantity", "pnl", "fees", "return_pct"):
        np.testing.assert_allclose(vec[2][name], loop[2][name], rtol=1e-9)
    np.testing.assert_allclose(vec[0], loop[0], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(vec[1], loop[1], rtol=1e-9)
    assert vec[3] == pytest.approx(loop[3], rel=1e-9)


def test_equity_is_cash_plus_marked_position():
    bars = random_bars(2000, seed=9)
    r = engine.run(
        bars,
        st.get_strategy("rsi").signals(bars, {"period": 14, "lower": 35, "upper": 65}),
        BacktestConfig(fee_bps=5, allow_short=True),
    )
    np.testing.assert_allclose(r.equity[:-1], (r.cash + r.position * bars.close)[:-1])
    assert r.equity[-1] == pytest.approx(r.config.initial_capital + r.trades["pnl"].sum())


def test_progress_is_reported_in_order():
    bars = random_bars(500, seed=2)
    seen = []
    engine.run(
        bars,
        st.get_strategy("sma_cross").signals(bars, {"fast": 3, "slow": 9}),
        BacktestConfig(lot_size=0.01),
        progress=seen.append,
    )
    assert seen == sorted(seen)
    assert seen[-1] == 1.0
    assert len(seen) > 3
