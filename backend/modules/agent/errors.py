"""Agent errors: each class says when to raise it."""

from __future__ import annotations

from backend.core.errors import Invalid, NotFound, Unavailable


class AuditNotFound(NotFound):
    """Raise when an audit id does not exist or belongs to someone else."""

    code = "agent.audit_not_found"
    default_message = "Audit not found."


class TargetNotFound(NotFound):
    """Raise when the audit's target (backtest, strategy, bot, file) is unknown or not the caller's."""

    code = "agent.target_not_found"
    default_message = "The audit target was not found."


class InvalidTarget(Invalid):
    """Raise when the target cannot be audited (no completed backtest, unreadable statements...)."""

    code = "agent.invalid_target"
    default_message = "This target cannot be audited."


class MemoryNotFound(NotFound):
    """Raise when a memory id does not exist in the caller's memory space."""

    code = "agent.memory_not_found"
    default_message = "Memory not found."


class MemoryOff(Unavailable):
    """Raise when memory needs an OpenAI key (to embed text) and the caller has none."""

    code = "agent.memory_off"
    default_message = "Memory is off: no OpenAI API key is configured."


class MemoryUnavailable(Unavailable):
    """Raise when the memory store (Qdrant or the embedding endpoint) cannot be reached."""

    code = "agent.memory_unavailable"
    default_message = "The memory store is unavailable; try again shortly."
