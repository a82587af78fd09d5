"""Demo workflows for the admin user (idempotent: matched by name)."""

from __future__ import annotations

from sqlalchemy import select

from backend.extensions import db
from backend.modules.workflows import service
from backend.modules.workflows.models import Workflow


def _node(node_id: str, node_type: str, x: int, y: int, **data) -> dict:
    return {"id": node_id, "type": node_type, "position": {"x": x, "y": y}, "data": data}


def _edge(source: str, target: str, handle: str | None = None, target_handle: str | None = None) -> dict:
    return {
        "id": f"{source}-{target}",
        "source": source,
        "target": target,
        "sourceHandle": handle,
        "targetHandle": target_handle,
    }


def rsi_dip_graph() -> dict:
    """Return: every hour (UTC) -> RSI(14) of BTCUSDT 1h -> below 30? -> notify."""
    return {
        "nodes": [
            _node("trigger", "trigger", 0, 0, mode="cron", cron="0 * * * *", timezone="UTC"),
            _node("rsi", "data", 0, 120, indicator="rsi", period=14, interval="1h"),
            _node("oversold", "logic", 0, 240, op="<", value=30),
            _node("alert", "action", 0, 360, action="notify", message="BTCUSDT RSI(14) below 30"),
        ],
        "edges": [_edge("trigger", "rsi"), _edge("rsi", "oversold"), _edge("oversold", "alert", "true")],
        "viewport": {"x": 0, "y": 0, "zoom": 1},
    }


def sma_cross_graph() -> dict:
    """Return: SMA(10) crosses above SMA(30) -> buy; crosses below -> sell (equals sma_cross)."""
    return {
        "nodes": [
            _node("trigger", "trigger", 200, 0, mode="manual"),
            _node("fast", "data", 100, 120, indicator="sma", period=10, interval="1h"),
            _node("slow", "data", 300, 120, indicator="sma", period=30, interval="1h"),
            _node("up", "logic", 100, 240, op="crosses_above"),
            _node("down", "logic", 300, 240, op="crosses_below"),
            _node("buy", "action", 100, 360, action="buy"),
            _node("sell", "action", 300, 360, action="sell"),
        ],
        "edges": [
            _edge("trigger", "fast"),
            _edge("trigger", "slow"),
            _edge("fast", "up", target_handle="a"),
            _edge("slow", "up", target_handle="b"),
            _edge("fast", "down", target_handle="a"),
            _edge("slow", "down", target_handle="b"),
            _edge("up", "buy", "true"),
            _edge("down", "sell", "true"),
        ],
        "viewport": {"x": 0, "y": 0, "zoom": 1},
    }


def seed_demo(*, admin_id: str) -> None:
    """Create the demo workflows for ``admin_id`` unless they exist."""
    for name, graph in (("BTC RSI dip alert", rsi_dip_graph()), ("SMA 10/30 crossover", sma_cross_graph())):
        exists = db.session.scalar(
            select(Workflow.id).where(Workflow.owner_id == admin_id, Workflow.name == name)
        )
        if exists is None:
            service.create_workflow(actor_id=admin_id, name=name, graph=graph, symbol="BTCUSDT")
