"""Helpers shared inside the workflows module: limits, compile, hashing, cron triggers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from flask import current_app

from backend.domain import workflow as engine
from backend.modules.workflows.errors import InvalidGraph


def limits() -> engine.Limits:
    """Return the configured graph size limits."""
    cfg = current_app.config
    return engine.Limits(max_nodes=int(cfg["WORKFLOW_MAX_NODES"]), max_edges=int(cfg["WORKFLOW_MAX_EDGES"]))


def compile_or_raise(graph: Any) -> engine.Plan:
    """Return the run plan of ``graph`` or raise InvalidGraph listing every problem."""
    result = engine.validate(graph, limits())
    if result.plan is None:
        raise InvalidGraph([p.to_dict() for p in result.problems])
    return result.plan


def graph_hash(graph: Mapping[str, Any]) -> str:
    """Return the SHA-256 of the canonical JSON of the graph's nodes and edges."""
    payload = json.dumps(
        {"nodes": graph.get("nodes", []), "edges": graph.get("edges", [])},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def cron_triggers(graph: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Return (node id, cron expression, timezone) of every cron trigger of a saved graph."""
    out: list[tuple[str, str, str]] = []
    for node in graph.get("nodes", []):
        data = node.get("data") or {}
        if node.get("type") == "trigger" and data.get("mode") == "cron":
            out.append((str(node["id"]), str(data["cron"]), str(data.get("timezone") or "UTC")))
    return out
