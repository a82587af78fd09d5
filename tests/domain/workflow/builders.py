"""Small builders for React Flow graph JSON used by the workflow tests."""

from __future__ import annotations

import numpy as np

from backend.domain.bars import Bars


def node(node_id: str, node_type: str, **data) -> dict:
    """Return a React Flow node dict."""
    return {"id": node_id, "type": node_type, "position": {"x": 0, "y": 0}, "data": data}


def edge(
    source: str,
    target: str,
    source_handle: str | None = None,
    target_handle: str | None = None,
    edge_id: str | None = None,
) -> dict:
    """Return a React Flow edge dict (id defaults to ``source->target:handle``)."""
    out = {"id": edge_id or f"{source}->{target}:{source_handle or ''}", "source": source, "target": target}
    if source_handle is not None:
        out["sourceHandle"] = source_handle
    if target_handle is not None:
        out["targetHandle"] = target_handle
    return out


def graph(nodes: list[dict], edges: list[dict]) -> dict:
    """Return graph JSON with a viewport (kept and ignored by the engine)."""
    return {"nodes": nodes, "edges": edges, "viewport": {"x": 0, "y": 0, "zoom": 1}}


def threshold_graph(op: str = "<", value: float = 30, **data_params) -> dict:
    """Return trigger -> data -> logic(op value) -> true: buy / false: sell."""
    params = data_params or {"indicator": "price", "field": "close"}
    return graph(
        [
            node("t", "trigger", mode="manual"),
            node("d", "data", **params),
            node("l", "logic", op=op, value=value),
            node("buy", "action", action="buy"),
            node("sell", "action", action="sell"),
        ],
        [edge("t", "d"), edge("d", "l"), edge("l", "buy", "true"), edge("l", "sell", "false")],
    )


def sma_cross_graph(fast: int = 10, slow: int = 30) -> dict:
    """Return SMA(fast) crosses above SMA(slow) -> buy; crosses below -> sell."""
    return graph(
        [
            node("t", "trigger", mode="manual"),
            node("fast", "data", indicator="sma", period=fast),
            node("slow", "data", indicator="sma", period=slow),
            node("up", "logic", op="crosses_above"),
            node("down", "logic", op="crosses_below"),
            node("buy", "action", action="buy"),
            node("sell", "action", action="sell"),
        ],
        [
            edge("t", "fast"),
            edge("t", "slow"),
            edge("fast", "up", target_handle="a"),
            edge("slow", "up", target_handle="b"),
            edge("fast", "down", target_handle="a"),
            edge("slow", "down", target_handle="b"),
            edge("up", "buy", "true"),
            edge("down", "sell", "true"),
        ],
    )


def flat_bars(closes) -> Bars:
    """Return daily bars whose open/high/low/close all equal ``closes``."""
    c = np.asarray(closes, dtype=float)
    return Bars.from_arrays(np.arange(len(c), dtype=np.int64) * 86_400_000, c, c, c, c, np.ones(len(c)))


def random_walk_bars(n: int, seed: int = 7) -> Bars:
    """Return ``n`` hourly bars of a seeded random walk (positive prices)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    high, low = np.maximum(open_, close) * 1.002, np.minimum(open_, close) * 0.998
    return Bars.from_arrays(np.arange(n, dtype=np.int64) * 3_600_000, open_, high, low, close, np.ones(n))
