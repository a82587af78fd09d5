"""The ``logic`` node: comparisons, crossings, ranges and boolean combinators.

A logic node's value is a bool per bar; it leaves through the ``true`` handle (followed where the
value is True) or the ``false`` handle (followed where it is False). Combinators (and/or/not) read
each incoming edge as a boolean: True where the edge is live. They default to the
``none_failed`` join so a False input still lets them evaluate (and decide False/True).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from backend.domain.workflow.graph import Edge, Node
from backend.domain.workflow.nodes import (
    DEFAULT_PORTS,
    JOIN_PARAM,
    BarsFor,
    Handles,
    InputProblem,
    Inputs,
    NodeType,
    tail_align,
)
from backend.domain.workflow.params import Param
from backend.domain.workflow.problems import (
    INCOMPATIBLE_CONNECTION,
    INVALID_HANDLE,
    INVALID_PARAMETER,
    MISSING_INPUT,
    MISSING_PARAMETER,
)

COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}
CROSSES = ("crosses_above", "crosses_below")
COMBINATORS = ("and", "or", "not")
OPS = (*COMPARE, *CROSSES, "between", *COMBINATORS)
PAIR_OPS = frozenset((*COMPARE, *CROSSES))
PAIR_HANDLES = frozenset({None, "a", "b"})
SINGLE_HANDLES = DEFAULT_PORTS | {"a"}
BOOLEAN_IN, SERIES_IN = frozenset({"boolean"}), frozenset({"series"})


def fmt(x: float) -> str:
    """Format a number for a decision text (at most 4 decimals, no trailing zeros)."""
    x = float(x)
    if x != x:
        return "nan"
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _crosses(a: np.ndarray, b: np.ndarray, above: bool) -> np.ndarray:
    """True at t when a goes from <= b at t-1 to > b at t (or the mirror for below)."""
    now = a > b if above else a < b
    before = np.zeros(len(a), dtype=bool)
    before[1:] = (a[:-1] <= b[:-1]) if above else (a[:-1] >= b[:-1])
    return now & before


class LogicNode(NodeType):
    """Decide true/false per bar; downstream follows the matching handle."""

    name = "logic"
    output = "boolean"
    source_handles = frozenset({"true", "false"})
    params = (
        Param("op", "choice", required=True, choices=OPS),
        Param("value", "number"),
        Param("low", "number"),
        Param("high", "number"),
        JOIN_PARAM,
    )

    def accepts(self, data: dict[str, Any]) -> frozenset[str]:
        """Combinators take booleans; every other op takes series."""
        return BOOLEAN_IN if data.get("op") in COMBINATORS else SERIES_IN

    def target_handles(self, data: dict[str, Any]) -> Handles:
        """Comparisons and crossings have inputs ``a`` and ``b``."""
        return PAIR_HANDLES if data.get("op") in PAIR_OPS else SINGLE_HANDLES

    def default_join(self, data: dict[str, Any]) -> str:
        """Combinators evaluate unless an input failed; the rest need every input."""
        return "none_failed" if data.get("op") in COMBINATORS else "all_success"

    def check(self, data: dict[str, Any]) -> list[tuple[str, str]]:
        """Check the op and the constants it needs."""
        found = super().check(data)
        op = data.get("op")
        if op in OPS and op not in COMBINATORS and data.get("join", "all_success") != "all_success":
            message = "parameter 'join' must be all_success: a comparison needs every input"
            found.append((INVALID_PARAMETER, message))
        if data.get("op") == "between":
            low, high = data.get("low"), data.get("high")
            for name, v in (("low", low), ("high", high)):
                if v is None:
                    found.append((MISSING_PARAMETER, f"parameter '{name}' is required for between"))
            if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low > high:
                found.append((INVALID_PARAMETER, "parameter 'low' must not exceed 'high'"))
        return found

    def input_handles(self, node: Node, edges: list[Edge]) -> dict[str, Edge]:
        """Map ``a``/``b`` to the edges feeding a comparison (a lone unnamed edge is ``a``)."""
        if len(edges) == 1 and edges[0].target_handle in (None, "in"):
            return {"a": edges[0]}
        return {e.target_handle: e for e in edges if e.target_handle in ("a", "b")}

    def check_inputs(self, node: Node, edges: list[Edge]) -> list[InputProblem]:
        """Check arity: not takes one, and/or at least one, comparisons a and b (or value)."""
        op = node.data.get("op")
        if op in COMBINATORS:
            if not edges:
                return [(MISSING_INPUT, f"node {node.id} ({op}) needs at least one input", None)]
            if op == "not" and len(edges) > 1:
                message = f"node {node.id} (not) takes exactly one input"
                return [(INCOMPATIBLE_CONNECTION, message, edges[1].id)]
            return []
        if op not in OPS:
            return []
        return self._check_pair(node, edges, op)

    def _check_pair(self, node: Node, edges: list[Edge], op: str) -> list[InputProblem]:
        """Check the series inputs of a comparison, crossing or range."""
        found: list[InputProblem] = []
        if len(edges) > (1 if op == "between" else 2):
            message = f"node {node.id} ({op}) has too many inputs"
            found.append((INCOMPATIBLE_CONNECTION, message, edges[-1].id))
        if len(edges) == 2 and {e.target_handle for e in edges} != {"a", "b"}:
            message = f"node {node.id}: two inputs need targetHandle 'a' and 'b'"
            found.append((INVALID_HANDLE, message, edges[1].id))
        handles = self.input_handles(node, edges)
        if "a" not in handles:
            found.append((MISSING_INPUT, f"node {node.id} ({op}) has no input 'a'", None))
        if op != "between" and "b" not in handles and node.data.get("value") is None:
            found.append((MISSING_INPUT, f"node {node.id} ({op}) needs input 'b' or parameter 'value'", None))
        return found

    def label(self, data: dict[str, Any]) -> str:
        """Return the op (``<``, ``crosses_above``...)."""
        return str(data.get("op"))

    def compute(self, node: Node, inputs: Inputs, bars_for: BarsFor) -> np.ndarray:
        """Return the decision per bar as a bool array."""
        op, data = node.data["op"], node.data
        if op in COMBINATORS:
            flags = tail_align(*inputs.flags)
            if op == "not":
                return ~flags[0]
            combine = np.logical_and if op == "and" else np.logical_or
            combined: np.ndarray = combine.reduce(flags)
            return combined
        a = inputs.series["a"]
        if op == "between":
            return (a >= float(data["low"])) & (a <= float(data["high"]))
        b = inputs.series.get("b")
        if b is None:
            b = np.full(len(a), float(data["value"]))
        a, b = tail_align(a, b)
        if op in CROSSES:
            return _crosses(a, b, op == "crosses_above")
        compared: np.ndarray = COMPARE[op](a, b)
        return compared

    def decision(self, node: Node, inputs: Inputs, result: bool) -> str:
        """Explain the last bar's decision with concrete values (``RSI(14)=27.4 < 30 -> true``)."""
        op, data, verdict = node.data["op"], node.data, "true" if result else "false"
        if op in COMBINATORS:
            return f"{op}({', '.join('true' if f[-1] else 'false' for f in inputs.flags)}) -> {verdict}"
        a, la = inputs.series["a"], inputs.labels.get("a", "a")
        if op == "between":
            return f"{la}={fmt(a[-1])} between {fmt(data['low'])} and {fmt(data['high'])} -> {verdict}"
        b = inputs.series.get("b")
        rhs = fmt(data["value"]) if b is None else f"{inputs.labels.get('b', 'b')}={fmt(b[-1])}"
        if op not in CROSSES:
            return f"{la}={fmt(a[-1])} {op} {rhs} -> {verdict}"
        prev_a = fmt(a[-2]) if len(a) > 1 else "nan"
        prev_b = fmt(data["value"]) if b is None else (fmt(b[-2]) if len(b) > 1 else "nan")
        word = op.replace("_", " ")
        return f"{la}={fmt(a[-1])} {word} {rhs} (previous {prev_a} vs {prev_b}) -> {verdict}"
