"""What flows along edges, shared by the tick runner and the vectorised run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from backend.domain.workflow.graph import Edge
from backend.domain.workflow.logic import COMBINATORS, LogicNode
from backend.domain.workflow.nodes import Inputs
from backend.domain.workflow.validate import Plan


def handle_value(edge: Edge, value: np.ndarray) -> np.ndarray:
    """Return where a logic node's ``edge`` is followed: its value for ``true``, else the negation."""
    return value if edge.source_handle == "true" else ~value


def gather_inputs(
    plan: Plan,
    node_id: str,
    values: dict[str, Any],
    flag: Callable[[Edge], np.ndarray],
    labels: dict[str, str],
) -> Inputs:
    """Collect a node's inputs: series by handle for comparisons, edge flags for combinators."""
    node, edges = plan.nodes[node_id], plan.incoming[node_id]
    inputs = Inputs()
    if node.type != "logic":
        return inputs
    if node.data.get("op") in COMBINATORS:
        inputs.flags = [flag(e) for e in edges]
        return inputs
    handler: LogicNode = plan.handler(node_id)  # type: ignore[assignment]
    for handle, edge in handler.input_handles(node, edges).items():
        inputs.series[handle] = values[edge.source]
        inputs.labels[handle] = labels.get(edge.source, edge.source)
    return inputs
