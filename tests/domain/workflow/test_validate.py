"""Validation: every problem at once, each naming its node/edge with a stable reason."""

from __future__ import annotations

import pytest

from backend.domain.workflow import GraphInvalid, Limits, compile_graph, parse_graph, validate
from tests.domain.workflow.builders import edge, graph, node, sma_cross_graph, threshold_graph


def reasons(result) -> list[tuple[str, str | None, str | None]]:
    """Return (reason, nodeId, edgeId) triples of a validation."""
    return [(p.reason, p.node_id, p.edge_id) for p in result.problems]


def test_valid_graph_has_order_and_no_errors():
    result = validate(threshold_graph())
    assert result.to_dict() == {"valid": True, "errors": [], "order": ["t", "d", "l", "buy", "sell"]}


def test_viewport_is_kept_and_ignored():
    g = parse_graph(threshold_graph())
    assert g.viewport == {"x": 0, "y": 0, "zoom": 1}


def test_order_breaks_ties_by_node_id_whatever_the_array_order():
    g = sma_cross_graph()
    g["nodes"].reverse()
    # Generations: [t], [fast, slow], [down, up], [buy, sell]; ids sorted inside each.
    assert validate(g).order == ("t", "fast", "slow", "down", "up", "buy", "sell")


def test_malformed_graph():
    assert reasons(validate([])) == [("malformed_graph", None, None)]
    assert reasons(validate({"nodes": {}, "edges": []})) == [("malformed_graph", None, None)]
    result = validate(graph([node("t", "trigger"), {"type": "data"}, node("x" * 201, "data")], [{"id": "x"}]))
    assert [r[0] for r in reasons(result)] == ["malformed_graph"] * 3
    assert "1 to 200 characters" in result.problems[1].message


def test_duplicate_node_and_edge_ids():
    g = threshold_graph()
    g["nodes"].append(node("d", "data"))
    g["edges"].append(dict(g["edges"][0]))
    found = reasons(validate(g))
    assert ("duplicate_node_id", "d", None) in found
    assert ("duplicate_edge_id", None, "t->d:") in found


def test_edge_to_unknown_node():
    g = threshold_graph()
    g["edges"].append(edge("l", "ghost", "true", edge_id="e-ghost"))
    assert reasons(validate(g)) == [("unknown_edge_endpoint", None, "e-ghost")]


def test_cycle_is_listed():
    g = graph(
        [node("t", "trigger"), node("a", "logic", op="not"), node("b", "logic", op="not")],
        [edge("t", "a"), edge("a", "b", "true"), edge("b", "a", "true", edge_id="back")],
    )
    result = validate(g)
    cycles = [p for p in result.problems if p.reason == "cycle"]
    assert len(cycles) == 1 and set(cycles[0].cycle) == {"a", "b"}
    assert cycles[0].cycle[0] == cycles[0].cycle[-1]  # closed path a -> b -> a
    assert result.order == ()
    assert "cycle" in result.to_dict()["errors"][-1]


def test_two_independent_cycles_are_both_reported():
    g = graph(
        [node("t", "trigger")] + [node(x, "logic", op="not") for x in "abcd"],
        [
            edge("t", "a"),
            edge("a", "b", "true"),
            edge("b", "a", "true"),
            edge("t", "c"),
            edge("c", "d", "true"),
            edge("d", "c", "true"),
        ],
    )
    cycles = [set(p.cycle) for p in validate(g).problems if p.reason == "cycle"]
    assert {"a", "b"} in cycles and {"c", "d"} in cycles


def test_no_trigger():
    g = graph([node("d", "data"), node("a", "action", action="buy")], [])
    found = reasons(validate(g))
    assert ("no_trigger", None, None) in found
    assert not any(r[0] == "unreachable_node" for r in found)  # not repeated per node


def test_unreachable_node():
    g = threshold_graph()
    g["nodes"].append(node("island", "data", indicator="price"))
    g["nodes"].append(node("t2", "trigger"))
    g["edges"].append(edge("island", "l", target_handle="b"))
    g["edges"][1]["targetHandle"] = "a"
    assert ("unreachable_node", "island", None) in reasons(validate(g))


def test_unknown_node_type():
    g = threshold_graph()
    g["nodes"][1]["type"] = "webhook"
    found = reasons(validate(g))
    assert found == [("unknown_node_type", "d", None)]


@pytest.mark.parametrize(
    "data, reason, word",
    [
        ({}, "missing_parameter", "'action' is required"),
        ({"action": "short"}, "invalid_parameter", "'action' must be one of"),
        ({"action": "buy", "join": "any"}, "invalid_parameter", "'join'"),
    ],
)
def test_action_parameters(data, reason, word):
    g = threshold_graph()
    g["nodes"][3]["data"] = data
    problems = validate(g).problems
    assert [(p.reason, p.node_id) for p in problems] == [(reason, "buy")]
    assert word in problems[0].message


@pytest.mark.parametrize(
    "data, reason",
    [
        ({"indicator": "sma"}, "missing_parameter"),  # an average needs a period
        ({"indicator": "sma", "period": 0}, "invalid_parameter"),  # below the minimum
        ({"indicator": "sma", "period": 2.5}, "invalid_parameter"),  # not an integer
        ({"indicator": "rsi", "period": "14"}, "invalid_parameter"),  # not a number
        ({"indicator": "vwap"}, "invalid_parameter"),  # unknown indicator
        ({"indicator": "macd", "fast": 30, "slow": 10}, "invalid_parameter"),  # fast >= slow
        ({"indicator": "sma", "period": 5, "output": "upper"}, "invalid_parameter"),
        ({"indicator": "sma", "period": 500}, "invalid_parameter"),  # default lookback 300 < 500
        ({"indicator": "rsi", "period": 14, "lookback": 14}, "invalid_parameter"),  # RSI(14) needs 15 bars
        ({"indicator": "price", "interval": "7x"}, "invalid_parameter"),  # unknown interval
    ],
)
def test_data_parameters(data, reason):
    g = threshold_graph()
    g["nodes"][1]["data"] = data
    assert [(p.reason, p.node_id) for p in validate(g).problems] == [(reason, "d")]


def test_lookback_message_names_the_warmup():
    g = threshold_graph()
    g["nodes"][1]["data"] = {"indicator": "macd", "lookback": 30}
    (problem,) = validate(g).problems
    assert problem.message == (
        "node d: parameter 'lookback' (30 bars) is shorter than the 34 bars "
        "MACD(12,26,9).line needs for a value"
    )
    g["nodes"][1]["data"]["lookback"] = 34
    assert validate(g).valid


def test_comparisons_need_every_input():
    g = threshold_graph()
    g["nodes"][2]["data"]["join"] = "one_success"
    (problem,) = validate(g).problems
    assert (problem.reason, problem.node_id) == ("invalid_parameter", "l")
    assert "comparison needs every input" in problem.message


def test_cron_trigger_parameters():
    g = threshold_graph()
    g["nodes"][0]["data"] = {"mode": "cron"}
    assert reasons(validate(g)) == [("missing_parameter", "t", None)]
    g["nodes"][0]["data"] = {"mode": "cron", "cron": "every day", "timezone": "Mars/Olympus"}
    assert reasons(validate(g)) == [("invalid_parameter", "t", None)] * 2
    g["nodes"][0]["data"] = {"mode": "cron", "cron": "30 9 * * 1-5", "timezone": "Europe/Berlin"}
    assert validate(g).valid


def test_logic_between_needs_bounds():
    g = threshold_graph()
    g["nodes"][2]["data"] = {"op": "between", "low": 70}
    assert reasons(validate(g)) == [("missing_parameter", "l", None)]
    g["nodes"][2]["data"] = {"op": "between", "low": 70, "high": 30}
    assert reasons(validate(g)) == [("invalid_parameter", "l", None)]


def test_logic_output_without_true_false_handle_is_invalid():
    g = threshold_graph()
    g["edges"][2].pop("sourceHandle")
    g["edges"][3]["sourceHandle"] = "maybe"
    found = reasons(validate(g))
    assert ("invalid_handle", "l", "l->buy:true") in found
    assert ("invalid_handle", "l", "l->sell:false") in found


def test_unknown_target_handle_is_invalid():
    g = sma_cross_graph()
    g["edges"][3]["targetHandle"] = "c"  # slow -> up
    found = reasons(validate(g))
    assert ("invalid_handle", "up", "slow->up:") in found


def test_series_where_boolean_is_needed_is_incompatible():
    g = threshold_graph()
    g["edges"].append(edge("d", "buy", edge_id="d-buy"))  # a price series straight into an action
    g["nodes"][3]["data"]["join"] = "one_success"
    found = reasons(validate(g))
    assert found == [("incompatible_connection", "buy", "d-buy")]
    assert "needs boolean or event but d gives a series" in validate(g).problems[0].message


def test_boolean_where_series_is_needed_is_incompatible():
    g = threshold_graph()
    g["nodes"].append(node("l2", "logic", op=">", value=1))
    g["edges"].append(edge("l", "l2", "true", edge_id="l-l2"))
    assert ("incompatible_connection", "l2", "l-l2") in reasons(validate(g))


def test_comparison_missing_input():
    g = threshold_graph()
    del g["nodes"][2]["data"]["value"]
    assert reasons(validate(g)) == [("missing_input", "l", None)]


def test_two_inputs_need_named_handles():
    g = sma_cross_graph()
    g["edges"][2].pop("targetHandle")
    assert ("invalid_handle", "up", "slow->up:") in reasons(validate(g))


def test_join_of_different_branches_needs_an_explicit_rule():
    g = graph(
        [
            node("t", "trigger"),
            node("d", "data"),
            node("l1", "logic", op=">", value=1),
            node("l2", "logic", op="<", value=5),
            node("buy", "action", action="buy"),
        ],
        [
            edge("t", "d"),
            edge("d", "l1"),
            edge("d", "l2"),
            edge("l1", "buy", "true"),
            edge("l2", "buy", "true"),
        ],
    )
    assert reasons(validate(g)) == [("ambiguous_join", "buy", None)]
    g["nodes"][4]["data"]["join"] = "all_success"
    assert validate(g).valid


def test_node_fed_by_two_triggers_needs_an_explicit_join():
    g = threshold_graph()
    g["nodes"].append(node("cron", "trigger", mode="cron", cron="0 9 * * *", timezone="UTC"))
    g["edges"].append(edge("cron", "d"))
    assert reasons(validate(g)) == [("ambiguous_join", "d", None)]
    g["nodes"][1]["data"]["join"] = "one_success"
    assert validate(g).valid


def test_all_success_on_both_handles_of_one_logic_node_is_rejected():
    g = threshold_graph()
    g["edges"].append(edge("l", "buy", "false"))
    g["nodes"][3]["data"]["join"] = "all_success"
    problems = validate(g).problems
    assert [(p.reason, p.node_id) for p in problems] == [("ambiguous_join", "buy")]
    assert "can never run" in problems[0].message
    g["nodes"][3]["data"]["join"] = "one_success"
    assert validate(g).valid


def test_every_problem_is_reported_at_once():
    g = threshold_graph()
    g["nodes"][1]["data"] = {"indicator": "sma"}  # missing period
    g["nodes"][3]["type"] = "teleport"  # unknown type
    g["edges"].append(edge("l", "nowhere", "true", edge_id="dangling"))
    g["edges"][3]["sourceHandle"] = None  # l -> sell without handle
    found = {r[0] for r in reasons(validate(g))}
    assert found == {"missing_parameter", "unknown_node_type", "unknown_edge_endpoint", "invalid_handle"}


def test_size_limits_name_the_limit():
    nodes = [node(f"n{i}", "data") for i in range(10_000)]
    result = validate(graph(nodes, []))
    assert result.to_dict()["errors"] == [
        {"reason": "too_many_nodes", "message": "graph has 10000 nodes; the limit is 500"}
    ]
    edges = [edge("a", "b", edge_id=f"e{i}") for i in range(11)]
    small = validate(graph([node("a", "trigger")], edges), Limits(max_nodes=5, max_edges=10))
    assert [p.reason for p in small.problems] == ["too_many_edges"]


def test_compile_raises_with_every_problem():
    with pytest.raises(GraphInvalid) as err:
        compile_graph(graph([node("x", "nope")], []))
    assert {p.reason for p in err.value.problems} == {"unknown_node_type", "no_trigger"}
