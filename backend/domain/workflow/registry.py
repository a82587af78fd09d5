"""The node type registry: the built-in types by name, plus any added with ``register``.

Built from explicit imports, so importing the engine never depends on import order or on a
module registering itself as a side effect.
"""

from __future__ import annotations

from typing import Any, TypeVar

from backend.domain.workflow.logic import LogicNode
from backend.domain.workflow.node_types import ActionNode, DataNode, TriggerNode
from backend.domain.workflow.nodes import NodeType

T = TypeVar("T", bound=NodeType)

# The editor lists the types in this order (describe_types).
BUILT_IN: tuple[type[NodeType], ...] = (LogicNode, TriggerNode, DataNode, ActionNode)

REGISTRY: dict[str, NodeType] = {cls.name: cls() for cls in BUILT_IN}


def register(cls: type[T]) -> type[T]:
    """Class decorator: add a node type to the registry under ``cls.name``."""
    REGISTRY[cls.name] = cls()
    return cls


def node_type(name: str) -> NodeType | None:
    """Return the handler of node type ``name`` (None when unknown)."""
    return REGISTRY.get(name)


def describe_types() -> list[dict[str, Any]]:
    """Return every node type with its parameter schema (for the editor)."""
    return [
        {"type": t.name, "output": t.output, "params": [p.describe() for p in t.params]}
        for t in REGISTRY.values()
    ]
