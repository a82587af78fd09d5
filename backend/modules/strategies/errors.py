"""Errors of the strategies module."""

from __future__ import annotations

from backend.core.errors import Forbidden, Invalid, NotFound, RateLimited, Unavailable


class StrategyNotFound(NotFound):
    """Raise when a strategy does not exist, is deleted, or the caller may not see it."""

    code = "strategies.not_found"
    default_message = "Strategy not found."


class StrategyVersionNotFound(NotFound):
    """Raise when a strategy version does not exist or belongs to a strategy the caller cannot see."""

    code = "strategies.version_not_found"
    default_message = "Strategy version not found."


class NotStrategyOwner(Forbidden):
    """Raise when the caller can see a (published) strategy but tries to change it."""

    code = "strategies.forbidden"
    default_message = "Only the owner can change this strategy."


class InvalidStrategy(Invalid):
    """Raise when the kind is unknown or the parameters break the kind's schema."""

    code = "strategies.invalid"
    default_message = "The strategy definition is invalid."


class StrategyCodeInvalid(Invalid):
    """Raise when a python strategy's code is too large or does not compile (``fields.code``)."""

    code = "strategies.code_invalid"
    default_message = "The strategy's code is invalid."


class StrategyFailed(Invalid):
    """Raise when a python strategy failed in the sandbox; ``reason`` is the sandbox's.

    One of ``strategy_error`` (details ``traceback``: the user's own frames only),
    ``strategy_timeout``, ``strategy_memory``, ``strategy_output_invalid``. A 422 where an endpoint
    runs the code (create, check); a job or a bot records ``reason`` and ``message`` (the message
    then ends with the traceback lines, one per line).
    """

    code = "strategies.strategy_failed"
    default_message = "The strategy failed."

    def __init__(self, reason: str, message: str, *, traceback: list[str] | None = None) -> None:
        lines = list(traceback or [])
        super().__init__("\n".join([message, *lines]), details={"traceback": lines} if lines else None)
        self.reason = reason


class SandboxUnavailable(Unavailable):
    """Raise when this machine cannot run the sandbox; python strategies never run without it."""

    reason = "sandbox_unavailable"
    code = "strategies.sandbox_unavailable"
    default_message = "Python strategies cannot run on this server right now: the sandbox is unavailable."


class SandboxBusy(RateLimited):
    """Raise when this API process already runs its share of sandboxed checks."""

    code = "strategies.sandbox_busy"
    default_message = "Too many strategy checks are running; retry in a few seconds."
