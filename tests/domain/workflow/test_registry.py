"""Node registry: a new node type is one small class with a declared parameter schema."""

from __future__ import annotations

from backend.domain.workflow import (
    REGISTRY,
    NodeType,
    compile_graph,
    describe_types,
    register,
    run_tick,
    validate,
)
from backend.domain.workflow.params import Param
from tests.domain.workflow.builders import edge, flat_bars, graph, node


def test_a_new_node_type_is_one_class():
    @register
    class Doubled(NodeType):
        """Twice the close (a series)."""

        name = "doubled"
        output = "series"
        params = (Param("factor", "number", required=True, minimum=0),)

        def compute(self, node, inputs, bars_for):
            return bars_for(node).close * node.data["factor"]

        def label(self, data):
            return f"{data['factor']:g}x close"

    try:
        g = graph(
            [
                node("t", "trigger"),
                node("x", "doubled", factor=2),
                node("l", "logic", op=">", value=50),
                node("buy", "action", action="buy"),
            ],
            [edge("t", "x"), edge("x", "l"), edge("l", "buy", "true")],
        )
        result = run_tick(compile_graph(g), lambda *_a: flat_bars([30.0]), symbol="X")
        assert result.trace[2].decision == "2x close=60 > 50 -> true"
        g["nodes"][1]["data"] = {}
        assert [(p.reason, p.node_id) for p in validate(g).problems] == [("missing_parameter", "x")]
        assert {
            "type": "doubled",
            "output": "series",
            "params": [{"name": "factor", "kind": "number", "required": True, "minimum": 0}],
        } in describe_types()
    finally:
        REGISTRY.pop("doubled", None)
