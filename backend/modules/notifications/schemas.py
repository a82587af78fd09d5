"""Notification schemas (the HTTP contract)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from backend.core.schemas import BaseSchema, CamelSchema, Id, TimestampMs
from backend.modules.notifications.sources import TYPES

READ_MAX_IDS = 200  # ids one POST /api/notifications/read may name


class NotificationSchema(CamelSchema):
    """A notification: what happened, where to look (`link`, a frontend path), read or not."""

    id = ma.fields.String()
    type = ma.fields.String()
    title = ma.fields.String()
    body = ma.fields.String(allow_none=True)
    link = ma.fields.String()
    object_id = ma.fields.String(allow_none=True)
    read = ma.fields.Boolean()
    created_at = TimestampMs()


class NotificationQueryArgsSchema(BaseSchema):
    """`?unread=true` lists only unread notifications."""

    unread = ma.fields.Boolean(load_default=False)


class UnreadCountSchema(CamelSchema):
    """How many of my notifications are unread."""

    count = ma.fields.Integer()


class MarkReadSchema(BaseSchema):
    """Either `ids` (at most 200 of my notifications) or `all: true`."""

    class Meta:
        openapi = {"oneOf": [{"required": ["ids"]}, {"required": ["all"]}]}  # as `one_of`

    ids = ma.fields.List(Id(), validate=validate.Length(min=1, max=READ_MAX_IDS))
    all = ma.fields.Boolean(
        validate=validate.Equal(True, error="Only true is allowed."), metadata={"enum": [True]}
    )

    @ma.validates_schema
    def one_of(self, data: dict, **_kwargs: object) -> None:
        """Require exactly one of `ids` and `all`."""
        if ("ids" in data) == ("all" in data):
            raise ma.ValidationError("Give either ids or all: true.", field_name="ids")


class MarkReadResultSchema(CamelSchema):
    """How many notifications this call marked read, and the unread count after it."""

    updated = ma.fields.Integer()
    unread = ma.fields.Integer()


class NotificationTypeSchema(CamelSchema):
    """A notification type of the catalogue."""

    type = ma.fields.String()
    description = ma.fields.String()


class PreferencesSchema(CamelSchema):
    """My muted types, and every type there is."""

    muted = ma.fields.List(ma.fields.String())
    types = ma.fields.List(ma.fields.Nested(NotificationTypeSchema))


class PreferencesUpdateSchema(BaseSchema):
    """The complete list of types I mute (replaces the previous list)."""

    muted = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(list(TYPES))),
        required=True,
        validate=validate.Length(max=100),
    )
