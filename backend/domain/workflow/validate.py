"""Validate a graph, reporting every problem at once, and order it for running.

Order: ``graphlib`` topological order taken one generation at a time (every node whose inputs
are all done), ids sorted within a generation, so equal graphs always run in the same order.
"""

from __future__ import annotations

import graphlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from backend.domain.workflow import problems as P  # noqa: N812 - P.REASON reads as the reason code
from backend.domain.workflow.graph import Edge, Graph, Node, count_items, parse_graph
from backend.domain.workflow.nodes import NodeType
from backend.domain.workflow.problems import GraphInvalid, Problem
from backend.domain.workflow.registry import REGISTRY, node_type

MAX_CYCLES_REPORTED = 20
# Conditions under which an edge is live: (logic node, handle) or (trigger, "fired") pairs.
Conds = frozenset[tuple[str, str | None]]


@dataclass(frozen=True)
class Limits:
    """Size limits checked before any other work (a huge graph is rejected in microseconds)."""

    max_nodes: int = 500
    max_edges: int = 2000


@dataclass(frozen=True)
class Plan:
    """A valid graph ready to run: nodes by id, incoming edges per node, order and join rules."""

    graph: Graph
    order: tuple[str, ...]
    nodes: dict[str, Node]
    incoming: dict[str, list[Edge]]
    joins: dict[str, str]

    def handler(self, node_id: str) -> NodeType:
        """Return the node type handler of ``node_id``."""
        return REGISTRY[self.nodes[node_id].type]  # a plan holds known types only


@dataclass(frozen=True)
class Validation:
    """Outcome of ``validate``: every problem found and the run order (empty when cyclic)."""

    problems: tuple[Problem, ...]
    order: tuple[str, ...]
    plan: Plan | None = None

    @property
    def valid(self) -> bool:
        """Return True when no problem was found."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Return the wire shape ``{valid, errors, order}``."""
        return {
            "valid": self.valid,
            "errors": [p.to_dict() for p in self.problems],
            "order": list(self.order),
        }


@dataclass
class _State:
    """Working state of one validation pass."""

    graph: Graph
    found: list[Problem] = field(default_factory=list)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    incoming: dict[str, list[Edge]] = field(default_factory=dict)
    outgoing: dict[str, list[Edge]] = field(default_factory=dict)

    def add(
        self,
        reason: str,
        message: str,
        node_id: str | None = None,
        edge_id: str | None = None,
        cycle: tuple[str, ...] | None = None,
    ) -> None:
        """Record one problem."""
        self.found.append(Problem(reason, message, node_id, edge_id, cycle))


def _size_problems(n_nodes: int, n_edges: int, limits: Limits) -> list[Problem]:
    """Return problems for a graph over the node or edge limit."""
    found = []
    if n_nodes > limits.max_nodes:
        found.append(Problem(P.TOO_MANY_NODES, f"graph has {n_nodes} nodes; the limit is {limits.max_nodes}"))
    if n_edges > limits.max_edges:
        found.append(Problem(P.TOO_MANY_EDGES, f"graph has {n_edges} edges; the limit is {limits.max_edges}"))
    return found


def _index(st: _State) -> None:
    """Index nodes and edges; report duplicate ids and edges to unknown nodes."""
    for node in st.graph.nodes:
        if node.id in st.nodes:
            st.add(P.DUPLICATE_NODE_ID, f"node id {node.id!r} is used more than once", node.id)
            continue
        st.nodes[node.id] = node
        st.incoming[node.id], st.outgoing[node.id] = [], []
    seen: set[str] = set()
    for edge in st.graph.edges:
        if edge.id in seen:
            st.add(P.DUPLICATE_EDGE_ID, f"edge id {edge.id!r} is used more than once", edge_id=edge.id)
            continue
        seen.add(edge.id)
        missing = [end for end in (edge.source, edge.target) if end not in st.nodes]
        if missing:
            st.add(
                P.UNKNOWN_EDGE_ENDPOINT,
                f"edge {edge.id} refers to unknown node(s) {', '.join(missing)}",
                edge_id=edge.id,
            )
            continue
        st.edges.append(edge)
        st.incoming[edge.target].append(edge)
        st.outgoing[edge.source].append(edge)


def _check_nodes(st: _State) -> None:
    """Report unknown types, parameter problems and missing/surplus inputs per node."""
    for node in st.nodes.values():
        handler = REGISTRY.get(node.type)
        if handler is None:
            st.add(P.UNKNOWN_NODE_TYPE, f"node {node.id} has unknown type {node.type!r}", node.id)
            continue
        for reason, message in handler.check(node.data):
            st.add(reason, f"node {node.id}: {message}", node.id)
        for reason, message, edge_id in handler.check_inputs(node, st.incoming[node.id]):
            st.add(reason, message, node.id, edge_id)
    if not any(n.type == "trigger" for n in st.nodes.values()):
        st.add(P.NO_TRIGGER, "graph has no trigger node")


def _check_edge(st: _State, edge: Edge) -> None:
    """Report an edge whose handles do not exist or whose value kind the target cannot take."""
    src, dst = st.nodes[edge.source], st.nodes[edge.target]
    s_type, d_type = node_type(src.type), node_type(dst.type)
    if s_type is None or d_type is None:
        return
    if edge.source_handle not in s_type.source_handles:
        allowed = " or ".join(sorted(h for h in s_type.source_handles if h)) or "none"
        st.add(
            P.INVALID_HANDLE,
            f"edge {edge.id}: {src.type} node {src.id} has no output "
            f"{edge.source_handle!r} (outputs: {allowed})",
            src.id,
            edge.id,
        )
    if edge.target_handle not in d_type.target_handles(dst.data):
        st.add(
            P.INVALID_HANDLE,
            f"edge {edge.id}: node {dst.id} has no input {edge.target_handle!r}",
            dst.id,
            edge.id,
        )
    accepted = d_type.accepts(dst.data)
    if s_type.output not in accepted:
        need = " or ".join(sorted(accepted)) or "no input"
        st.add(
            P.INCOMPATIBLE_CONNECTION,
            f"edge {edge.id}: node {dst.id} needs {need} but {src.id} gives a {s_type.output}",
            dst.id,
            edge.id,
        )


def _order(st: _State) -> tuple[str, ...]:
    """Return the topological order (by generation, then id); report cycles."""
    preds = {n: {e.source for e in st.incoming[n]} for n in st.nodes}
    for _ in range(MAX_CYCLES_REPORTED):
        try:
            order = _heap_order(preds)
            return () if any(p.reason == P.CYCLE for p in st.found) else order
        except graphlib.CycleError as err:
            cycle = list(err.args[1])
            st.add(P.CYCLE, f"cycle: {' -> '.join(cycle)}", cycle[0], cycle=tuple(cycle))
            preds[cycle[1]].discard(cycle[0])  # break this cycle to look for the next one
    return ()


def _heap_order(preds: dict[str, set[str]]) -> tuple[str, ...]:
    """Return graphlib's order generation by generation, ids sorted within one (raises CycleError)."""
    sorter = graphlib.TopologicalSorter(preds)
    sorter.prepare()
    out: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        out.extend(ready)
        sorter.done(*ready)
    return tuple(out)


def _reachability(st: _State) -> None:
    """Report nodes no trigger reaches."""
    queue = deque(n for n, node in st.nodes.items() if node.type == "trigger")
    seen = set(queue)
    while queue:
        for edge in st.outgoing[queue.popleft()]:
            if edge.target not in seen:
                seen.add(edge.target)
                queue.append(edge.target)
    if not any(node.type == "trigger" for node in st.nodes.values()):
        return  # already reported as no_trigger
    for node_id in st.nodes:
        if node_id not in seen:
            st.add(P.UNREACHABLE_NODE, f"node {node_id} is not reachable from any trigger", node_id)


def _join_of(node: Node) -> str:
    """Return the node's join rule (explicit or its type's default)."""
    handler = node_type(node.type)
    return node.data.get("join") or (handler.default_join(node.data) if handler else "all_success")


def _is_combinator(node: Node) -> bool:
    """Return True for and/or/not logic nodes (they read their inputs as values)."""
    return node.type == "logic" and node.data.get("op") in ("and", "or", "not")


def _joins(st: _State, order: tuple[str, ...]) -> None:
    """Report joins of different branches without an explicit rule, and impossible joins."""
    conds: dict[str, Conds] = {}
    for node_id in order:
        node, edges = st.nodes[node_id], st.incoming[node_id]
        combinator = _is_combinator(node)
        edge_conds = [_edge_cond(st, conds, e, combinator) for e in edges]
        if len(edges) < 2:
            conds[node_id] = edge_conds[0] if edges else frozenset()
            continue
        conds[node_id] = frozenset().union(*edge_conds)
        if combinator:
            continue
        if len(set(edge_conds)) > 1 and "join" not in node.data:
            st.add(
                P.AMBIGUOUS_JOIN,
                f"node {node_id} joins different branches; set its 'join' "
                "to all_success, one_success or none_failed",
                node_id,
            )
        elif _join_of(node) == "all_success" and _contradicts(conds[node_id]):
            st.add(
                P.AMBIGUOUS_JOIN,
                f"node {node_id} needs both the true and the false branch "
                "of the same logic node (all_success), so it can never run",
                node_id,
            )


def _edge_cond(st: _State, conds: dict[str, Conds], edge: Edge, into_combinator: bool) -> Conds:
    """Return the conditions ((logic node, handle) or (trigger, "fired")) under which ``edge`` is live."""
    base: Conds = conds.get(edge.source, frozenset())
    source_type = st.nodes[edge.source].type
    if source_type == "trigger":  # a trigger may not fire (a cron run fires only its cron triggers)
        return base | {(edge.source, "fired")}
    if into_combinator or source_type != "logic":
        return base
    return base | {(edge.source, edge.source_handle)}


def _contradicts(conds: Conds) -> bool:
    """Return True when a condition set requires both handles of one logic node."""
    return any((src, "false") in conds for src, handle in conds if handle == "true")


def validate(raw: Any, limits: Limits = Limits()) -> Validation:
    """Validate React Flow JSON (or a parsed Graph); report every problem and the run order."""
    if not isinstance(raw, Graph):
        too_big = _size_problems(*count_items(raw), limits)
        if too_big:
            return Validation(tuple(too_big), ())
        raw = parse_graph(raw)
    if raw.problems and not raw.nodes and not raw.edges:
        return Validation(raw.problems, ())
    too_big = _size_problems(len(raw.nodes), len(raw.edges), limits)
    if too_big:
        return Validation(tuple(too_big), ())
    st = _State(raw, list(raw.problems))
    _index(st)
    _check_nodes(st)
    for edge in st.edges:
        _check_edge(st, edge)
    order = _order(st)
    _reachability(st)
    if order:
        _joins(st, order)
    plan = None
    if not st.found:
        joins = {n: _join_of(node) for n, node in st.nodes.items()}
        plan = Plan(raw, order, st.nodes, st.incoming, joins)
    return Validation(tuple(st.found), order, plan)


def compile_graph(raw: Any, limits: Limits = Limits()) -> Plan:
    """Return the run plan of a valid graph; raise GraphInvalid listing every problem."""
    result = validate(raw, limits)
    if result.plan is None:
        raise GraphInvalid(list(result.problems))
    return result.plan
