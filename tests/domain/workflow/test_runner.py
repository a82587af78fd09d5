"""Tick runs: pruning on both handles, join rules, failures and the per-node trace."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from backend.domain.workflow import compile_graph, run_tick
from backend.domain.workflow.runner import join_status
from tests.domain.workflow.builders import edge, flat_bars, graph, node, threshold_graph


def source_of(closes_by_symbol: dict):
    """Return a bars source serving fixed closes per symbol (a KeyError for others)."""
    return lambda symbol, interval, lookback: flat_bars(closes_by_symbol[symbol])


def statuses(result) -> dict[str, str]:
    """Return nodeId -> status of a run."""
    return {t.node_id: t.status for t in result.trace}


def test_false_decision_prunes_the_true_branch():
    plan = compile_graph(threshold_graph("<", 30))
    result = run_tick(plan, source_of({"X": [40.0, 35.0]}), symbol="X")
    assert statuses(result) == {"t": "ran", "d": "ran", "l": "ran", "buy": "pruned", "sell": "ran"}
    assert [a.action for a in result.actions] == ["sell"]


def test_true_decision_prunes_the_false_branch():
    plan = compile_graph(threshold_graph("<", 30))
    result = run_tick(plan, source_of({"X": [40.0, 27.4]}), symbol="X")
    assert statuses(result) == {"t": "ran", "d": "ran", "l": "ran", "buy": "ran", "sell": "pruned"}
    assert [(a.node_id, a.action, a.symbol) for a in result.actions] == [("buy", "buy", "X")]


def chained_graph() -> dict:
    """t -> price -> gate(close > 100) -true-> rsi data -> (rsi < 30) -true-> buy."""
    return graph(
        [
            node("t", "trigger"),
            node("p", "data"),
            node("gate", "logic", op=">", value=100),
            node("r", "data", indicator="rsi", period=2),
            node("low", "logic", op="<", value=30),
            node("buy", "action", action="buy"),
        ],
        [
            edge("t", "p"),
            edge("p", "gate"),
            edge("gate", "r", "true"),
            edge("r", "low"),
            edge("low", "buy", "true"),
        ],
    )


def test_pruning_reaches_everything_only_behind_the_handle():
    result = run_tick(compile_graph(chained_graph()), source_of({"X": [99.0, 98.0, 97.0]}), symbol="X")
    assert statuses(result) == {
        "t": "ran",
        "p": "ran",
        "gate": "ran",
        "r": "pruned",
        "low": "pruned",
        "buy": "pruned",
    }


def test_node_also_fed_from_a_live_branch_runs_with_one_success():
    g = threshold_graph("<", 30)
    g["nodes"].append(node("both", "action", action="notify", join="one_success"))
    g["edges"] += [edge("l", "both", "true"), edge("t", "both")]
    result = run_tick(compile_graph(g), source_of({"X": [50.0]}), symbol="X")
    assert statuses(result)["buy"] == "pruned" and statuses(result)["both"] == "ran"


def two_branch_graph(join: str) -> dict:
    """Two logic nodes on one price (> 10, > 20) joined at one buy with ``join``."""
    return graph(
        [
            node("t", "trigger"),
            node("d", "data"),
            node("gt10", "logic", op=">", value=10),
            node("gt20", "logic", op=">", value=20),
            node("buy", "action", action="buy", join=join),
        ],
        [
            edge("t", "d"),
            edge("d", "gt10"),
            edge("d", "gt20"),
            edge("gt10", "buy", "true"),
            edge("gt20", "buy", "true"),
        ],
    )


@pytest.mark.parametrize(
    "join, close, expected",
    [
        ("all_success", 25.0, "ran"),  # both true
        ("all_success", 15.0, "pruned"),  # only > 10
        ("one_success", 15.0, "ran"),
        ("one_success", 5.0, "pruned"),  # neither
        ("none_failed", 5.0, "ran"),  # nothing failed: runs even with both branches dead
    ],
)
def test_join_rules(join, close, expected):
    result = run_tick(compile_graph(two_branch_graph(join)), source_of({"X": [close]}), symbol="X")
    assert statuses(result)["buy"] == expected


def failing_graph(join: str) -> dict:
    """Branch A reads symbol BAD (its bars source raises); branch B reads X (close 50 > 10)."""
    return graph(
        [
            node("t", "trigger"),
            node("bad", "data", symbol="BAD"),
            node("good", "data", symbol="X"),
            node("a", "logic", op=">", value=10),
            node("b", "logic", op=">", value=10),
            node("buy", "action", action="buy", join=join),
        ],
        [
            edge("t", "bad"),
            edge("t", "good"),
            edge("bad", "a"),
            edge("good", "b"),
            edge("a", "buy", "true"),
            edge("b", "buy", "true"),
        ],
    )


@pytest.mark.parametrize(
    "join, expected", [("all_success", "skipped"), ("none_failed", "skipped"), ("one_success", "ran")]
)
def test_failed_input_skips_downstream_per_join_rule(join, expected):
    result = run_tick(compile_graph(failing_graph(join)), source_of({"X": [50.0]}))
    got = statuses(result)
    assert (got["bad"], got["a"], got["good"], got["b"], got["buy"]) == (
        "failed",
        "skipped",
        "ran",
        "ran",
        expected,
    )
    assert result.status == "failed"
    bad = next(t for t in result.trace if t.node_id == "bad")
    assert bad.error == "KeyError: 'BAD'"


@pytest.mark.parametrize(
    "rule, states, expected",
    [
        ("all_success", ["live", "live"], "ran"),
        ("all_success", ["live", "dead"], "pruned"),
        ("all_success", ["live", "failed"], "skipped"),
        ("one_success", ["dead", "live"], "ran"),
        ("one_success", ["dead", "dead"], "pruned"),
        ("one_success", ["failed", "dead"], "skipped"),
        ("none_failed", ["dead", "dead"], "ran"),
        ("none_failed", ["live", "failed"], "skipped"),
    ],
)
def test_join_status_table(rule, states, expected):
    assert join_status(rule, states) == expected


def test_combinators_read_edges_as_booleans():
    g = graph(
        [
            node("t", "trigger"),
            node("d", "data"),
            node("gt10", "logic", op=">", value=10),
            node("gt20", "logic", op=">", value=20),
            node("any", "logic", op="or"),
            node("neither", "logic", op="not"),
            node("buy", "action", action="buy"),
            node("sell", "action", action="sell"),
        ],
        [
            edge("t", "d"),
            edge("d", "gt10"),
            edge("d", "gt20"),
            edge("gt10", "any", "true"),
            edge("gt20", "any", "true"),
            edge("any", "neither", "true"),
            edge("any", "buy", "true"),
            edge("neither", "sell", "true"),
        ],
    )
    result = run_tick(compile_graph(g), source_of({"X": [15.0]}), symbol="X")
    trace = {t.node_id: t for t in result.trace}
    assert trace["any"].decision == "or(true, false) -> true"
    assert trace["any"].inputs == {"gt10.true": True, "gt20.true": False}
    assert trace["neither"].decision == "not(true) -> false"
    assert (trace["buy"].status, trace["sell"].status) == ("ran", "pruned")
    result = run_tick(compile_graph(g), source_of({"X": [5.0]}), symbol="X")
    assert statuses(result)["buy"] == "pruned" and statuses(result)["sell"] == "ran"


def test_trace_contents_with_concrete_values():
    # 15 strictly falling closes: every change is a loss, so Wilder's RSI(14) is exactly 0.
    closes = list(np.arange(115.0, 100.0, -1.0))
    plan = compile_graph(threshold_graph("<", 30, indicator="rsi", period=14))
    ticks = itertools.count()
    result = run_tick(plan, source_of({"BTC": closes}), symbol="BTC", clock=lambda: next(ticks) * 0.002)
    trace = [t.to_dict() for t in result.trace]
    assert [t["nodeId"] for t in trace] == ["t", "d", "l", "buy", "sell"]
    assert trace[0] == {
        "nodeId": "t",
        "status": "ran",
        "inputs": {},
        "outputs": {"fired": True, "mode": "manual"},
        "durationMs": 2.0,
    }
    assert trace[1]["inputs"] == {"symbol": "BTC", "interval": "1d", "bars": 15}
    assert trace[1]["outputs"] == {"label": "RSI(14)", "value": 0.0}
    assert trace[2]["inputs"] == {"a": {"label": "RSI(14)", "value": 0.0}, "value": 30}
    assert trace[2]["outputs"] == {"result": True, "handle": "true"}
    assert trace[2]["decision"] == "RSI(14)=0 < 30 -> true"
    assert trace[3]["inputs"] == {"via": ["l.true"]}
    assert trace[3]["outputs"] == {"intent": {"action": "buy", "symbol": "BTC", "botId": None}}
    assert trace[4] == {"nodeId": "sell", "status": "pruned", "inputs": {}, "outputs": {}, "durationMs": 2.0}


def test_decision_shows_fractional_values_and_crossings():
    plan = compile_graph(threshold_graph("<", 30))
    result = run_tick(plan, source_of({"X": [27.4]}), symbol="X")
    assert result.trace[2].decision == "close=27.4 < 30 -> true"
    g = graph(
        [
            node("t", "trigger"),
            node("f", "data", indicator="sma", period=2),
            node("s", "data", indicator="sma", period=3),
            node("up", "logic", op="crosses_above"),
            node("buy", "action", action="buy"),
        ],
        [
            edge("t", "f"),
            edge("t", "s"),
            edge("f", "up", target_handle="a"),
            edge("s", "up", target_handle="b"),
            edge("up", "buy", "true"),
        ],
    )
    # closes 10, 8, 6, 12: SMA2 = nan, 9, 7, 9; SMA3 = nan, nan, 8, 8.6667 -> 7 <= 8 then 9 > 8.6667
    result = run_tick(compile_graph(g), source_of({"X": [10.0, 8.0, 6.0, 12.0]}), symbol="X")
    assert result.trace[3].decision == "SMA(2)=9 crosses above SMA(3)=8.6667 (previous 7 vs 8) -> true"
    assert statuses(result)["buy"] == "ran"


def test_only_fired_triggers_run():
    g = threshold_graph()
    g["nodes"].append(node("cron", "trigger", mode="cron", cron="0 9 * * *", timezone="UTC"))
    g["nodes"].append(node("note", "action", action="notify", message="9am"))
    g["edges"].append(edge("cron", "note"))
    result = run_tick(compile_graph(g), source_of({"X": [1.0]}), symbol="X", fired={"cron"})
    assert statuses(result) == {
        "cron": "ran",
        "note": "ran",
        "t": "pruned",
        "d": "pruned",
        "l": "pruned",
        "buy": "pruned",
        "sell": "pruned",
    }


def test_one_success_data_node_runs_when_only_the_cron_trigger_fires():
    g = threshold_graph()
    g["nodes"].append(node("cron", "trigger", mode="cron", cron="0 9 * * *", timezone="UTC"))
    g["edges"].append(edge("cron", "d"))
    g["nodes"][1]["data"]["join"] = "one_success"
    result = run_tick(compile_graph(g), source_of({"X": [27.4]}), symbol="X", fired={"cron"})
    assert statuses(result) == {
        "cron": "ran",
        "t": "pruned",
        "d": "ran",
        "l": "ran",
        "buy": "ran",
        "sell": "pruned",
    }


def test_each_series_is_loaded_once_per_run():
    from tests.domain.workflow.builders import sma_cross_graph

    calls = []

    def source(symbol, interval, lookback):
        calls.append((symbol, interval, lookback))
        return flat_bars([1.0, 2.0, 3.0])

    run_tick(compile_graph(sma_cross_graph(1, 2)), source, symbol="X")
    assert calls == [("X", "1d", 300)]  # two SMA nodes, one load


def test_missing_symbol_fails_the_data_node():
    result = run_tick(compile_graph(threshold_graph()), source_of({}))
    assert statuses(result)["d"] == "failed"
    assert "no symbol" in result.trace[1].error
