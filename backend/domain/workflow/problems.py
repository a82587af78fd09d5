"""Validation problems: one stable machine word per kind of mistake in a graph."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MALFORMED_GRAPH = "malformed_graph"
TOO_MANY_NODES = "too_many_nodes"
TOO_MANY_EDGES = "too_many_edges"
DUPLICATE_NODE_ID = "duplicate_node_id"
DUPLICATE_EDGE_ID = "duplicate_edge_id"
UNKNOWN_EDGE_ENDPOINT = "unknown_edge_endpoint"
CYCLE = "cycle"
NO_TRIGGER = "no_trigger"
UNREACHABLE_NODE = "unreachable_node"
UNKNOWN_NODE_TYPE = "unknown_node_type"
MISSING_PARAMETER = "missing_parameter"
INVALID_PARAMETER = "invalid_parameter"
INVALID_HANDLE = "invalid_handle"
INCOMPATIBLE_CONNECTION = "incompatible_connection"
MISSING_INPUT = "missing_input"
AMBIGUOUS_JOIN = "ambiguous_join"

REASONS = (
    MALFORMED_GRAPH,
    TOO_MANY_NODES,
    TOO_MANY_EDGES,
    DUPLICATE_NODE_ID,
    DUPLICATE_EDGE_ID,
    UNKNOWN_EDGE_ENDPOINT,
    CYCLE,
    NO_TRIGGER,
    UNREACHABLE_NODE,
    UNKNOWN_NODE_TYPE,
    MISSING_PARAMETER,
    INVALID_PARAMETER,
    INVALID_HANDLE,
    INCOMPATIBLE_CONNECTION,
    MISSING_INPUT,
    AMBIGUOUS_JOIN,
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a graph, naming the node and/or edge it concerns."""

    reason: str
    message: str
    node_id: str | None = None
    edge_id: str | None = None
    cycle: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the wire shape ``{nodeId?, edgeId?, reason, message, cycle?}``."""
        out: dict[str, Any] = {"reason": self.reason, "message": self.message}
        if self.node_id is not None:
            out["nodeId"] = self.node_id
        if self.edge_id is not None:
            out["edgeId"] = self.edge_id
        if self.cycle is not None:
            out["cycle"] = list(self.cycle)
        return out


class GraphInvalid(ValueError):
    """Raised when a graph that must be valid (to run it) is not; carries every problem."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"workflow graph has {len(problems)} problem(s): {problems[0].message}")
        self.problems = problems
