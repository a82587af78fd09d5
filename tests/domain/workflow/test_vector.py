"""Vectorised mode: per-bar signals, agreement with tick runs, and the sma_cross equivalence."""

from __future__ import annotations

import numpy as np
import pytest

from backend.domain.backtest import engine
from backend.domain.backtest.metrics import compute_metrics
from backend.domain.backtest.strategies import get_strategy
from backend.domain.backtest.types import BacktestConfig
from backend.domain.workflow import compile_graph, run_tick, workflow_signals
from tests.domain.workflow.builders import (
    edge,
    flat_bars,
    graph,
    node,
    random_walk_bars,
    sma_cross_graph,
    threshold_graph,
)


def test_threshold_graph_signals_per_bar():
    bars = flat_bars([35.0, 25.0, 30.0, 29.9, 40.0])
    signals = workflow_signals(compile_graph(threshold_graph("<", 30)), bars)
    assert signals.entries.tolist() == [False, True, False, True, False]
    assert signals.exits.tolist() == [True, False, True, False, True]
    # `sell` also opens a short (used only when shorts are allowed); nothing here covers one
    assert signals.short_entries.tolist() == signals.exits.tolist()
    assert not signals.short_exits.any()


def test_close_is_an_exit_and_notify_has_no_signal():
    g = threshold_graph(">", 1)
    g["nodes"][4]["data"]["action"] = "close"
    g["nodes"].append(node("n", "action", action="notify"))
    g["edges"].append(edge("l", "n", "true"))
    signals = workflow_signals(compile_graph(g), flat_bars([0.5, 2.0]))
    assert signals.entries.tolist() == [False, True] and signals.exits.tolist() == [True, False]
    assert signals.short_exits.tolist() == [True, False] and not signals.short_entries.any()


def test_sma_cross_signals_by_hand():
    # closes 10, 8, 6, 12, 5: SMA2 = nan, 9, 7, 9, 8.5; SMA3 = nan, nan, 8, 8.667, 7.667
    g = sma_cross_graph(fast=2, slow=3)
    signals = workflow_signals(compile_graph(g), flat_bars([10.0, 8.0, 6.0, 12.0, 5.0]))
    assert signals.entries.tolist() == [False, False, False, True, False]  # 7<=8 then 9>8.667
    assert signals.exits.tolist() == [False, False, False, False, False]  # 8.5 > 7.667 still above


def test_vector_mode_agrees_with_a_tick_run_on_every_bar():
    g = graph(
        [
            node("t", "trigger"),
            node("r", "data", indicator="rsi", period=3),
            node("f", "data", indicator="ema", period=3),
            node("s", "data", indicator="sma", period=5),
            node("low", "logic", op="between", low=20, high=60),
            node("up", "logic", op=">"),
            node("both", "logic", op="and"),
            node("buy", "action", action="buy"),
            node("sell", "action", action="sell"),
        ],
        [
            edge("t", "r"),
            edge("t", "f"),
            edge("t", "s"),
            edge("r", "low"),
            edge("f", "up", target_handle="a"),
            edge("s", "up", target_handle="b"),
            edge("low", "both", "true"),
            edge("up", "both", "true"),
            edge("both", "buy", "true"),
            edge("both", "sell", "false"),
        ],
    )
    plan, bars = compile_graph(g), random_walk_bars(60, seed=3)
    signals = workflow_signals(plan, bars)
    for t in range(len(bars)):
        window = bars.slice(0, t + 1)
        result = run_tick(plan, lambda *_a, window=window: window, symbol="X")
        got = {tr.node_id: tr.status for tr in result.trace}
        assert (got["buy"] == "ran", got["sell"] == "ran") == (signals.entries[t], signals.exits[t]), t
    assert signals.entries.any() and signals.exits.any()


@pytest.mark.parametrize("allow_short", [False, True])
def test_workflow_backtests_exactly_like_builtin_sma_cross(allow_short):
    bars = random_walk_bars(3000, seed=11)
    config = BacktestConfig(initial_capital=10_000.0, fee_bps=10.0, slippage_bps=5.0, allow_short=allow_short)
    builtin = engine.run(bars, get_strategy("sma_cross").signals(bars, {"fast": 10, "slow": 30}), config)
    flow = engine.run(bars, workflow_signals(compile_graph(sma_cross_graph(10, 30)), bars), config)
    assert len(builtin.trades) > 20
    assert (builtin.trades["side"] < 0).any() == allow_short
    np.testing.assert_array_equal(flow.trades, builtin.trades)
    np.testing.assert_array_equal(flow.equity, builtin.equity)
    assert compute_metrics(flow, bars, 24 * 365) == compute_metrics(builtin, bars, 24 * 365)
