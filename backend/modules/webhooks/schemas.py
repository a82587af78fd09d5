"""Webhook schemas (the HTTP contract)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from backend.core.schemas import CamelSchema, TimestampMs
from backend.modules.webhooks.service import CATALOGUE

_EVENTS = ma.fields.List(
    ma.fields.String(validate=validate.OneOf(list(CATALOGUE))),
    validate=validate.Length(min=1, max=len(CATALOGUE)),
)


class WebhookSchema(CamelSchema):
    """An endpoint: where events are POSTed, which ones, and whether it is active."""

    id = ma.fields.String()
    url = ma.fields.String()
    events = ma.fields.List(ma.fields.String())
    active = ma.fields.Boolean()
    description = ma.fields.String()
    created_at = TimestampMs()
    updated_at = TimestampMs()


class WebhookSecretSchema(WebhookSchema):
    """An endpoint with its signing secret (shown only when created or rotated: store it now)."""

    secret = ma.fields.String()


class WebhookCreateSchema(CamelSchema):
    """A new endpoint: an http(s) URL on a public address and the events to send to it."""

    # The length and address rules are checked by the service, which names the broken one (422).
    url = ma.fields.String(required=True, validate=validate.Length(min=1, max=4096))
    events = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(list(CATALOGUE))),
        required=True,
        validate=validate.Length(min=1, max=len(CATALOGUE)),
    )
    active = ma.fields.Boolean(load_default=True)
    description = ma.fields.String(load_default="", validate=validate.Length(max=500))


class WebhookUpdateSchema(CamelSchema):
    """Changes to an endpoint (any subset)."""

    url = ma.fields.String(validate=validate.Length(min=1, max=4096))
    events = _EVENTS
    active = ma.fields.Boolean()
    description = ma.fields.String(validate=validate.Length(max=500))


class WebhookEventTypeSchema(CamelSchema):
    """An event type an endpoint may subscribe to."""

    type = ma.fields.String()
    description = ma.fields.String()


class DeliverySchema(CamelSchema):
    """One delivery of one event to one endpoint, with its latest attempt."""

    id = ma.fields.String()
    webhook_id = ma.fields.String()
    event_id = ma.fields.String()
    event_type = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["pending", "sending", "retrying", "succeeded", "failed"]})
    attempts = ma.fields.Integer()
    response_code = ma.fields.Integer(allow_none=True)
    duration_ms = ma.fields.Integer(allow_none=True)
    error = ma.fields.String(allow_none=True)
    next_retry_at = TimestampMs(allow_none=True)
    last_attempt_at = TimestampMs(allow_none=True)
    delivered_at = TimestampMs(allow_none=True)
    replay_of = ma.fields.String(allow_none=True)
    created_at = TimestampMs()
