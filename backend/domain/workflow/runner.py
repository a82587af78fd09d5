"""Tick mode: run a graph once on the latest bars and explain every node in a trace.

Statuses: ``ran``; ``pruned`` (not on the branch taken, or its join rule was not met);
``skipped`` (an input failed, so it could not run); ``failed`` (it raised). Data nodes read the
last ``lookback`` bars of their symbol/interval through ``bars_source`` and use the value of the
last (closed) bar. Actions are not performed here: they come back as ``ActionIntent``s for the
caller to carry out (and record) in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, SupportsFloat, cast

import numpy as np

from backend.domain.bars import Bars
from backend.domain.workflow.graph import Edge, Node
from backend.domain.workflow.logic import LogicNode
from backend.domain.workflow.nodes import Inputs
from backend.domain.workflow.validate import Plan
from backend.domain.workflow.wiring import gather_inputs

BarsSource = Callable[[str, str, int], Bars]  # (symbol, interval, lookback) -> bars


@dataclass
class NodeTrace:
    """What happened at one node in one run."""

    node_id: str
    status: str
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    decision: str | None = None
    duration_ms: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the wire shape ``{nodeId, status, inputs, outputs, decision?, durationMs, error?}``."""
        out = {
            "nodeId": self.node_id,
            "status": self.status,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "durationMs": self.duration_ms,
        }
        if self.decision is not None:
            out["decision"] = self.decision
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class ActionIntent:
    """An action a run reached: the caller places the order or records the notification."""

    node_id: str
    action: str
    symbol: str | None
    bot_id: str | None
    message: str | None


@dataclass(frozen=True)
class TickResult:
    """Trace (in run order) and the actions to perform; ``failed`` when any node failed."""

    trace: tuple[NodeTrace, ...]
    actions: tuple[ActionIntent, ...]

    @property
    def status(self) -> str:
        """Return ``failed`` when a node failed, else ``succeeded``."""
        return "failed" if any(t.status == "failed" for t in self.trace) else "succeeded"


def join_status(rule: str, states: list[str]) -> str:
    """Return ran/pruned/skipped for a node whose incoming edges are live/dead/failed."""
    if "failed" in states and (rule != "one_success" or "live" not in states):
        return "skipped"
    if rule == "none_failed" or (rule == "one_success" and "live" in states):
        return "ran"
    return "ran" if all(s == "live" for s in states) else "pruned"


def _num(x: SupportsFloat) -> float | None:
    """Return a JSON-safe float (None for NaN)."""
    x = float(x)
    return None if x != x else x


@dataclass
class _Run:
    """Per-run state of the tick runner."""

    plan: Plan
    bars_source: BarsSource
    symbol: str | None
    fired: set[str] | None
    clock: Callable[[], float]
    status: dict[str, str] = field(default_factory=dict)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    actions: list[ActionIntent] = field(default_factory=list)
    bars_cache: dict[tuple[str, str, int], Bars] = field(default_factory=dict)

    def edge_state(self, edge: Edge) -> str:
        """Return live/dead/failed for an edge given its source's outcome."""
        src = self.status[edge.source]
        if src in ("failed", "skipped"):
            return "failed"
        if src == "pruned":
            return "dead"
        if self.plan.nodes[edge.source].type == "logic":
            return "live" if bool(self.values[edge.source][-1]) == (edge.source_handle == "true") else "dead"
        return "live"

    def flag(self, edge: Edge) -> np.ndarray:
        """Return an edge's liveness as a one-element bool array (a combinator input)."""
        return np.array([self.edge_state(edge) == "live"])

    def bars_for(self, node: Node) -> Bars:
        """Load the bars a data node reads."""
        symbol = node.data.get("symbol") or self.symbol
        if not symbol:
            raise ValueError("no symbol: set the data node's 'symbol' or the workflow's symbol")
        key = (symbol, node.data.get("interval") or "1d", int(node.data.get("lookback") or 300))
        if key not in self.bars_cache:  # data nodes on the same series load it once per run
            self.bars_cache[key] = self.bars_source(*key)
        if len(self.bars_cache[key]) == 0:
            raise ValueError(f"no bars for {symbol}")
        return self.bars_cache[key]

    def step(self, node_id: str) -> NodeTrace:
        """Run one node (or decide it is pruned/skipped) and return its trace."""
        node, started = self.plan.nodes[node_id], self.clock()
        trace = NodeTrace(node_id, self._entry_status(node))
        if trace.status == "ran":
            try:
                self._execute(node, trace)
            except Exception as exc:  # noqa: BLE001 - any node error becomes a failed node, not a failed run loop
                trace.status, trace.error = "failed", f"{type(exc).__name__}: {exc}"
        self.status[node_id] = trace.status
        trace.duration_ms = round((self.clock() - started) * 1000.0, 3)
        return trace

    def _entry_status(self, node: Node) -> str:
        """Return whether a node runs, from its trigger firing or its join rule."""
        if node.type == "trigger":
            return "ran" if self.fired is None or node.id in self.fired else "pruned"
        states = [self.edge_state(e) for e in self.plan.incoming[node.id]]
        return join_status(self.plan.joins[node.id], states)

    def _execute(self, node: Node, trace: NodeTrace) -> None:
        """Compute a node's value and fill its inputs, outputs and decision."""
        handler = self.plan.handler(node.id)
        self.labels[node.id] = handler.label(node.data)
        inputs = gather_inputs(self.plan, node.id, self.values, self.flag, self.labels)
        value = handler.compute(node, inputs, self.bars_for)
        if node.type == "trigger":
            trace.outputs = {"fired": True, "mode": node.data.get("mode", "manual")}
        elif node.type == "logic":
            assert value is not None  # a logic node always decides
            self._logic(node, inputs, value, trace)
        elif node.type == "action":
            self._action(node, trace)
        elif value is not None:  # data nodes and any other series-producing type
            self.values[node.id] = value
            trace.inputs = {
                "symbol": node.data.get("symbol") or self.symbol,
                "interval": node.data.get("interval") or "1d",
                "bars": len(value),
            }
            trace.outputs = {"label": self.labels[node.id], "value": _num(value[-1])}

    def _logic(self, node: Node, inputs: Inputs, value: np.ndarray, trace: NodeTrace) -> None:
        """Record a logic node's inputs, result and decision text."""
        self.values[node.id] = value
        result = bool(value[-1])
        trace.inputs = {
            h: {"label": inputs.labels[h], "value": _num(s[-1])} for h, s in inputs.series.items()
        }
        if inputs.flags:
            edges = self.plan.incoming[node.id]
            flags = zip(edges, inputs.flags, strict=False)
            trace.inputs = {f"{e.source}.{e.source_handle}": bool(f[-1]) for e, f in flags}
        for key in ("value", "low", "high"):
            if node.data.get(key) is not None:
                trace.inputs[key] = node.data[key]
        trace.outputs = {"result": result, "handle": "true" if result else "false"}
        logic = cast(LogicNode, self.plan.handler(node.id))  # type "logic" is always LogicNode
        trace.decision = logic.decision(node, inputs, result)

    def _action(self, node: Node, trace: NodeTrace) -> None:
        """Record the action intent (performed by the caller)."""
        data = node.data
        intent = ActionIntent(
            node.id,
            data["action"],
            data.get("symbol") or self.symbol,
            data.get("bot_id"),
            data.get("message"),
        )
        self.actions.append(intent)
        live = [e for e in self.plan.incoming[node.id] if self.edge_state(e) == "live"]
        via = [f"{e.source}.{e.source_handle}" if e.source_handle else e.source for e in live]
        trace.inputs = {"via": via}
        trace.outputs = {"intent": {"action": intent.action, "symbol": intent.symbol, "botId": intent.bot_id}}
        trace.decision = f"{intent.action.upper()} {intent.symbol or ''}".strip()


def run_tick(
    plan: Plan,
    bars_source: BarsSource,
    *,
    symbol: str | None = None,
    fired: set[str] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> TickResult:
    """Run ``plan`` once; ``fired`` limits which triggers fire (None: all of them)."""
    run = _Run(plan, bars_source, symbol, fired, clock)
    trace = tuple(run.step(node_id) for node_id in plan.order)
    return TickResult(trace, tuple(run.actions))
