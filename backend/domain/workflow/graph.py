"""React Flow graph JSON -> immutable ``Graph`` (nodes, edges; the viewport is kept, not used)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backend.domain.workflow.problems import MALFORMED_GRAPH, Problem


@dataclass(frozen=True)
class Node:
    """One React Flow node: ``type`` selects the handler, ``data`` holds its parameters."""

    id: str
    type: str
    data: dict = field(default_factory=dict)
    position: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    """One React Flow edge; handles name the output/input port (``true``/``false``, ``a``/``b``)."""

    id: str
    source: str
    target: str
    source_handle: str | None = None
    target_handle: str | None = None


@dataclass(frozen=True)
class Graph:
    """A parsed graph; ``problems`` lists shape errors found while parsing."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    viewport: dict | None = None
    problems: tuple[Problem, ...] = ()


def _handle(value: Any) -> str | None:
    """Normalise a React Flow handle id (null/empty mean the default port)."""
    if value is None or value == "":
        return None
    return str(value)


def _parse_node(i: int, raw: Any, problems: list[Problem]) -> Node | None:
    """Parse node ``i``; record a problem and return None when its shape is wrong."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), (str, int)) or raw.get("id") == "":
        problems.append(Problem(MALFORMED_GRAPH, f"nodes[{i}] needs a non-empty string 'id'"))
        return None
    node_id = str(raw["id"])
    data = raw.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(Problem(MALFORMED_GRAPH, f"node {node_id}: 'data' must be an object", node_id))
        data = {}
    node_type = raw.get("type")
    if not isinstance(node_type, str):
        node_type = ""
    position = raw.get("position") if isinstance(raw.get("position"), dict) else {}
    return Node(node_id, node_type, dict(data), dict(position))


def _parse_edge(i: int, raw: Any, problems: list[Problem]) -> Edge | None:
    """Parse edge ``i``; a missing id becomes ``e<i>`` (React Flow always sets one)."""
    if not isinstance(raw, dict) or not raw.get("source") or not raw.get("target"):
        problems.append(Problem(MALFORMED_GRAPH, f"edges[{i}] needs 'source' and 'target'"))
        return None
    edge_id = str(raw.get("id") or f"e{i}")
    return Edge(edge_id, str(raw["source"]), str(raw["target"]),
                _handle(raw.get("sourceHandle")), _handle(raw.get("targetHandle")))


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
