"""Webhook errors: each class says when to raise it."""

from __future__ import annotations

from backend.core.errors import Conflict, Invalid, NotFound


class WebhookNotFound(NotFound):
    """Raise when a webhook id is unknown or someone else's."""

    code = "webhooks.not_found"
    default_message = "Webhook not found."


class DeliveryNotFound(NotFound):
    """Raise when a delivery id is unknown, someone else's, or not of this webhook."""

    code = "webhooks.delivery_not_found"
    default_message = "Delivery not found."


class InvalidWebhookUrl(Invalid):
    """Raise when a webhook URL is not http(s), too long, or resolves to a forbidden address."""

    code = "webhooks.invalid_url"
    default_message = "This webhook URL is not allowed."


class TooManyWebhooks(Conflict):
    """Raise when a user already has WEBHOOKS_MAX_PER_USER endpoints."""

    code = "webhooks.limit_reached"
    default_message = "You have reached the maximum number of webhooks."


class WebhookInactive(Conflict):
    """Raise when a ping or replay targets an endpoint that is not active."""

    code = "webhooks.inactive"
    default_message = "This webhook is not active."
