"""Vectorised mode: evaluate a graph over a whole bar history and return entry/exit signals.

Every bar is a tick: triggers fire on every bar, data nodes are computed over all ``bars``
(whatever symbol they name), logic nodes decide per bar and an action node is active on bar t
when the branch reaching it is live there. ``buy`` actions become ``entries``, ``sell`` and
``close`` become ``exits``; ``notify`` has no signal. As for a bot's workflow order, ``sell`` also
opens a short and ``close`` also covers one (``short_entries``/``short_exits``), which the engine
and bots use only when shorts are allowed. A True at t is decided on bar t's close and
the backtest engine acts on it at bar t+1's open, as for the built-in strategies. There are no
failures in this mode, so ``none_failed`` joins are always satisfied.
"""

from __future__ import annotations

import numpy as np

from backend.domain.backtest.types import Signals
from backend.domain.bars import Bars
from backend.domain.workflow.graph import Edge
from backend.domain.workflow.validate import Plan
from backend.domain.workflow.wiring import gather_inputs, handle_value

ENTRY_ACTIONS = ("buy",)
EXIT_ACTIONS = ("sell", "close")
SHORT_ENTRY_ACTIONS = ("sell",)
SHORT_EXIT_ACTIONS = ("close",)


def _join(rule: str, lives: list[np.ndarray], n: int) -> np.ndarray:
    """Return where a node runs under join ``rule`` given its incoming edges' live arrays."""
    if rule == "none_failed":
        return np.ones(n, dtype=bool)
    if rule == "one_success":
        any_live: np.ndarray = np.logical_or.reduce(lives)
        return any_live
    all_live: np.ndarray = np.logical_and.reduce(lives)
    return all_live


def evaluate(plan: Plan, bars: Bars) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Return (values, active) per node: value arrays of data/logic nodes and where each runs."""
    n = len(bars)
    values: dict[str, np.ndarray] = {}
    active: dict[str, np.ndarray] = {}
    labels = {nid: plan.handler(nid).label(node.data) for nid, node in plan.nodes.items()}

    def live(edge: Edge) -> np.ndarray:
        """Return where ``edge`` is live (its source active and, for logic, on its handle)."""
        src = active[edge.source]
        if plan.nodes[edge.source].type == "logic":
            on_handle: np.ndarray = src & handle_value(edge, values[edge.source])
            return on_handle
        return src

    for node_id in plan.order:
        node, handler = plan.nodes[node_id], plan.handler(node_id)
        if node.type == "trigger":
            active[node_id] = np.ones(n, dtype=bool)
            continue
        active[node_id] = _join(plan.joins[node_id], [live(e) for e in plan.incoming[node_id]], n)
        inputs = gather_inputs(plan, node_id, values, live, labels)
        value = handler.compute(node, inputs, lambda _node: bars)
        if value is not None:
            values[node_id] = value
    return values, active


def workflow_signals(plan: Plan, bars: Bars) -> Signals:
    """Return the graph's long and short entries/exits per bar (bool arrays of len(bars))."""
    _, active = evaluate(plan, bars)
    n = len(bars)
    groups = (ENTRY_ACTIONS, EXIT_ACTIONS, SHORT_ENTRY_ACTIONS, SHORT_EXIT_ACTIONS)
    arrays = [np.zeros(n, dtype=bool) for _ in groups]
    for node_id, node in plan.nodes.items():
        if node.type != "action":
            continue
        kind = node.data.get("action")
        for actions, out in zip(groups, arrays, strict=True):
            if kind in actions:
                out |= active[node_id]
    entries, exits, short_entries, short_exits = arrays
    return Signals(entries=entries, exits=exits, short_entries=short_entries, short_exits=short_exits)
