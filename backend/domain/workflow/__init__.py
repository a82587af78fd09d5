"""Workflow engine: parse, validate, order and run React Flow graphs (pure: stdlib + numpy).

Public API: ``parse_graph``, ``validate``/``compile_graph`` (-> ``Plan``), ``run_tick`` (one run
with a per-node trace), ``workflow_signals`` (vectorised entries/exits over a bar history) and
the cron helpers in ``cron``.
"""

from backend.domain.workflow.graph import Edge, Graph, Node, parse_graph
from backend.domain.workflow.nodes import NodeType
from backend.domain.workflow.problems import REASONS, GraphInvalid, Problem
from backend.domain.workflow.registry import REGISTRY, describe_types, register
from backend.domain.workflow.runner import ActionIntent, NodeTrace, TickResult, run_tick
from backend.domain.workflow.validate import Limits, Plan, Validation, compile_graph, validate
from backend.domain.workflow.vector import workflow_signals

__all__ = [
    "ActionIntent",
    "Edge",
    "Graph",
    "GraphInvalid",
    "Limits",
    "Node",
    "NodeTrace",
    "NodeType",
    "Plan",
    "Problem",
    "REASONS",
    "REGISTRY",
    "TickResult",
    "Validation",
    "compile_graph",
    "describe_types",
    "parse_graph",
    "register",
    "run_tick",
    "validate",
    "workflow_signals",
]
