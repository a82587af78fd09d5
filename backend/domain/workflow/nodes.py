"""Node types: the ``NodeType`` base every node class subclasses, and helpers they share.

One small class per node type, each declaring its parameter schema; ``registry`` lists them.

Value kinds flowing along edges: ``event`` (a trigger fired), ``series`` (float64 per bar, from a
data node) and ``boolean`` (a logic node's decision, leaving through its ``true``/``false``
handle). Every ``compute`` works on whole arrays (one value per bar, aligned to the bars' close);
a tick run uses the last element, the vectorised run uses all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from backend.domain.bars import Bars
from backend.domain.workflow.graph import Edge, Node
from backend.domain.workflow.params import Param, check_params, value_of
from backend.domain.workflow.problems import MISSING_INPUT

JOIN_RULES = ("all_success", "one_success", "none_failed")
JOIN_PARAM = Param("join", "choice", choices=JOIN_RULES)
Handles = frozenset[str | None]  # port ids; None is React Flow's default port
InputProblem = tuple[str, str, str | None]  # (reason, message, edge id)

DEFAULT_PORTS: Handles = frozenset({None, "out", "in"})
CONTROL_IN = frozenset({"event", "boolean"})

BarsFor = Callable[[Node], Bars]


@dataclass
class Inputs:
    """What reaches a node: series by target handle (with labels) and boolean flags per edge."""

    series: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    flags: list[np.ndarray] = field(default_factory=list)


class NodeType:
    """Base of every node type; subclasses set ``name``, ``params`` and ``output``."""

    name: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    output: ClassVar[str] = "none"
    source_handles: ClassVar[Handles] = DEFAULT_PORTS

    def accepts(self, data: dict[str, Any]) -> frozenset[str]:
        """Return the value kinds this node takes on its inputs."""
        return CONTROL_IN

    def target_handles(self, data: dict[str, Any]) -> Handles:
        """Return the input handle ids this node has."""
        return DEFAULT_PORTS

    def default_join(self, data: dict[str, Any]) -> str:
        """Return the join rule used when ``data.join`` is absent."""
        return "all_success"

    def check(self, data: dict[str, Any]) -> list[tuple[str, str]]:
        """Return (reason, message) for every parameter problem."""
        return check_params(self.params, data)

    def check_inputs(self, node: Node, edges: list[Edge]) -> list[InputProblem]:
        """Return (reason, message, edge_id) for missing or surplus inputs."""
        return []

    def label(self, data: dict[str, Any]) -> str:
        """Return a short human label used in decisions (``SMA(10)``)."""
        return self.name

    def compute(self, node: Node, inputs: Inputs, bars_for: BarsFor) -> np.ndarray | None:
        """Return this node's value per bar (None for nodes without a value)."""
        return None

    def p(self, data: dict[str, Any], name: str) -> Any:
        """Return parameter ``name`` from ``data`` or its default."""
        return value_of(self.params, data, name)


def tail_align(*arrays: np.ndarray) -> list[np.ndarray]:
    """Align arrays on their last element (series of different symbols may differ in length)."""
    n = min(len(a) for a in arrays)
    return [a[len(a) - n :] for a in arrays]


def no_inputs_check(node: Node, edges: list[Edge]) -> list[InputProblem]:
    """Report a node that nothing feeds (it could never run)."""
    if edges:
        return []
    return [(MISSING_INPUT, f"node {node.id} ({node.type}) has no incoming edge", None)]
