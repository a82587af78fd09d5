"""The vectorised fill path and the per-fill loop agree on random data."""

import numpy as np
import pytest

from backend.domain.backtest import engine
from backend.domain.backtest import strategies as st
from backend.domain.backtest.types import BacktestConfig, Signals
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


def test_cash_given_as_a_function_is_built_on_first_read_and_kept():
    calls = []
    built = np.arange(3.0)

    def build():
        calls.append(1)
        return built

    result = engine.BacktestResult(
        equity=np.ones(3),
        cash=build,
        position=np.zeros(3),
        target=np.zeros(3, np.int8),
        trades=np.zeros(0, engine.TRADE_DTYPE),
    )
    assert calls == [] and result.config == BacktestConfig()
    assert result.cash is built and result.cash is built
    assert calls == [1]
    given = engine.BacktestResult(np.ones(2), np.zeros(2), np.zeros(2), np.zeros(2, np.int8), result.trades)
    assert given.cash.tolist() == [0.0, 0.0]  # an array is kept as it is (positional order unchanged)


@pytest.mark.parametrize("jit", [False, True])
def test_the_cash_of_a_run_that_ends_open_is_its_closing_cash(jit):
    # Both engine paths: the compiled one builds the cash only when read.
    bars = random_bars(400, seed=4)
    entries = np.zeros(400, bool)
    entries[[10, 200]] = True
    exits = np.zeros(400, bool)
    exits[100] = True  # the second position is still open after the last bar
    previous = engine.kernels.use_jit(jit)
    try:
        r = engine.run(bars, Signals(entries=entries, exits=exits), BacktestConfig(fee_bps=5))
    finally:
        engine.kernels.use_jit(previous)
    assert r.trades["closed_at_end"].tolist() == [False, True]
    assert r.cash[-1] == r.equity[-1] == pytest.approx(r.config.initial_capital + r.trades["pnl"].sum())
    assert r.cash[0] == r.config.initial_capital and r.cash[150] == r.equity[150]  # flat between trades
    assert r.cash[250] == pytest.approx(0.0, abs=1e-6)  # all in: the entry used the whole cash
