"""Errors of the strategies module."""

from __future__ import annotations

from backend.core.errors import Forbidden, Invalid, NotFound


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
