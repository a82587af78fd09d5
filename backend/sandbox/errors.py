"""Typed failures of the sandbox. Each has a stable ``reason`` the API and job details use.

``SandboxUnavailable`` is the machine's fault (no bubblewrap, no user namespaces, no seccomp
binding): the API answers 503 ``sandbox_unavailable`` and nothing runs. Every other error is the
strategy's fault and ends its backtest or bot with ``details.reason`` set to the reason.
"""

from __future__ import annotations

from typing import Any


class SandboxError(Exception):
    """Base of every sandbox failure: a stable reason, a message for the user and details."""

    reason = "sandbox_error"

    def __init__(self, message: str, **details: Any):
        super().__init__(message)
        self.message = message
        self.details = details

    def to_details(self) -> dict[str, Any]:
        """Return ``{"reason": ..., "message": ..., **details}`` for an error envelope or a job."""
        return {"reason": self.reason, "message": self.message, **self.details}


class SandboxUnavailable(SandboxError):
    """The sandbox cannot start on this machine; user code is never run without it."""

    reason = "sandbox_unavailable"


class StrategyError(SandboxError):
    """The user's code raised (details: ``traceback``, the user's own frames only) or crashed."""

    reason = "strategy_error"


class StrategyTimeout(SandboxError):
    """The user's code exceeded its wall-clock or CPU time."""

    reason = "strategy_timeout"


class StrategyMemory(SandboxError):
    """The user's code exceeded its memory (address space) limit."""

    reason = "strategy_memory"


class StrategyOutputInvalid(SandboxError):
    """The answer was not valid signals or PARAMS (the message says what: length, dtype, key...)."""

    reason = "strategy_output_invalid"


class CodeSyntaxError(SandboxError):
    """The code does not compile (details: ``line``, ``column``); found without running it."""

    reason = "strategy_syntax"


class CodeTooLarge(SandboxError):
    """The code is larger than ``MAX_CODE_BYTES`` (details: ``limit``)."""

    reason = "strategy_too_large"


FAILURES: dict[str, type[SandboxError]] = {
    cls.reason: cls for cls in (StrategyError, StrategyTimeout, StrategyMemory, StrategyOutputInvalid)
}
