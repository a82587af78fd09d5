"""Errors of the bots module (codes ``bots.<reason>``)."""

from __future__ import annotations

from backend.core.errors import Conflict, Forbidden, Invalid, NotFound


class BotNotFound(NotFound):
    """Raise when a bot id is unknown, deleted, or private to another user."""

    code = "bots.not_found"
    default_message = "Bot not found."


class BotForbidden(Forbidden):
    """Raise when a caller changes a public bot they can see but do not own."""

    code = "bots.forbidden"
    default_message = "Only the bot's owner can do this."


class BotInvalid(Invalid):
    """Raise when bot input breaks a rule a schema cannot check (unknown strategy, live trading)."""

    code = "bots.invalid"


class OrderRejected(Invalid):
    """Raise when a manual order cannot be filled (no price, insufficient cash or position)."""

    code = "bots.order_rejected"
    default_message = "The order cannot be filled."


class IdempotencyConflict(Conflict):
    """Raise when an Idempotency-Key is reused with a different request body."""

    reason = "idempotency_conflict"
    code = "bots.idempotency_conflict"
    default_message = "This Idempotency-Key was already used with a different request."
