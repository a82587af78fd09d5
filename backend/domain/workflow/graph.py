"""React Flow graph JSON -> immutable ``Graph`` (nodes, edges; the viewport is kept, not used).

Nodes and edges are NamedTuples rather than dataclasses: a 500-node graph is parsed on every
validation and tuple construction is several times cheaper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from backend.domain.workflow.problems import MALFORMED_GRAPH, Problem


class Node(NamedTuple):
    """One React Flow node: ``type`` selects the handler, ``data`` holds its parameters."""

    id: str
    type: str
    data: dict[str, Any]
    position: dict[str, Any]


class Edge(NamedTuple):
    """One React Flow edge; handles name the output/input port (``true``/``false``, ``a``/``b``)."""

    id: str
    source: str
    target: str
    source_handle: str | None = None
    target_handle: str | None = None


MAX_ID_LENGTH = 200  # node ids are stored with each run's trace


@dataclass(frozen=True)
class Graph:
    """A parsed graph; ``problems`` lists shape errors found while parsing."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    viewport: dict[str, Any] | None = None
    problems: tuple[Problem, ...] = ()


def _parse_node(i: int, raw: Any, problems: list[Problem]) -> Node | None:
    """Parse node ``i``; record a problem and return None when its shape is wrong."""
    node_id = raw.get("id") if isinstance(raw, dict) else None
    if not isinstance(node_id, (str, int)) or node_id == "" or len(str(node_id)) > MAX_ID_LENGTH:
        message = f"nodes[{i}] needs a string 'id' of 1 to {MAX_ID_LENGTH} characters"
        problems.append(Problem(MALFORMED_GRAPH, message))
        return None
    node_id, data = str(node_id), raw.get("data")
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        problems.append(Problem(MALFORMED_GRAPH, f"node {node_id}: 'data' must be an object", node_id))
        data = {}
    node_type, position = raw.get("type"), raw.get("position")
    return Node(
        node_id,
        node_type if isinstance(node_type, str) else "",
        data,
        position if isinstance(position, dict) else {},
    )


def _parse_edge(i: int, raw: Any, problems: list[Problem]) -> Edge | None:
    """Parse edge ``i``; a missing id becomes ``e<i>`` (React Flow always sets one)."""
    if not isinstance(raw, dict) or not raw.get("source") or not raw.get("target"):
        problems.append(Problem(MALFORMED_GRAPH, f"edges[{i}] needs 'source' and 'target'"))
        return None
    sh, th = raw.get("sourceHandle"), raw.get("targetHandle")
    return Edge(
        str(raw.get("id") or f"e{i}"),
        str(raw["source"]),
        str(raw["target"]),
        str(sh) if sh else None,
        str(th) if th else None,
    )


def parse_graph(raw: Any) -> Graph:
    """Parse React Flow JSON ``{nodes, edges, viewport?}``; never raises on bad input."""
    problems: list[Problem] = []
    if not isinstance(raw, dict):
        return Graph((), (), None, (Problem(MALFORMED_GRAPH, "graph must be an object"),))
    raw_nodes, raw_edges = raw.get("nodes", []), raw.get("edges", [])
    if not isinstance(raw_nodes, list) or not isinstance(raw_edges, list):
        return Graph((), (), None, (Problem(MALFORMED_GRAPH, "'nodes' and 'edges' must be arrays"),))
    nodes = [n for i, r in enumerate(raw_nodes) if (n := _parse_node(i, r, problems))]
    edges = [e for i, r in enumerate(raw_edges) if (e := _parse_edge(i, r, problems))]
    viewport = raw.get("viewport") if isinstance(raw.get("viewport"), dict) else None
    return Graph(tuple(nodes), tuple(edges), viewport, tuple(problems))


def count_items(raw: Any) -> tuple[int, int]:
    """Return (nodes, edges) counts of raw JSON without parsing it (for early size limits)."""
    if not isinstance(raw, dict):
        return 0, 0
    nodes, edges = raw.get("nodes"), raw.get("edges")
    return (len(nodes) if isinstance(nodes, list) else 0, len(edges) if isinstance(edges, list) else 0)
