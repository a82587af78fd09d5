"""Notification errors: each class says when to raise it."""

from __future__ import annotations

from backend.core.errors import Invalid


class UnknownNotificationType(Invalid):
    """Raise when preferences name a type that is not in the catalogue."""

    code = "notifications.unknown_type"
    default_message = "Unknown notification type."
