"""HTTP contract of the admin console: users, moderation items, jobs, queues and the audit log."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import EXCLUDE, validate

from backend.core import jobs
from backend.core.schemas import BaseSchema, CamelSchema, Id, TimestampMs
from backend.modules.admin.service import ROLES
from backend.modules.marketplace.schemas import ListingSchema

JOB_STATUSES = (jobs.PENDING, jobs.RUNNING, jobs.SUCCESS, jobs.FAILED, jobs.CANCELLED)


class _Filters(BaseSchema):
    class Meta:
        # The paginator parses page/page_size from the same query string (and documents them).
        unknown = EXCLUDE


class AdminUserSchema(CamelSchema):
    """A user as the admin console shows it."""

    id = ma.fields.String()
    username = ma.fields.String()
    email = ma.fields.String(allow_none=True)
    name = ma.fields.String()
    avatar = ma.fields.String()
    role = ma.fields.String(metadata={"description": "admin | user"})
    disabled = ma.fields.Boolean()
    disabled_at = TimestampMs(allow_none=True)
    created_at = TimestampMs()


class UserQueryArgsSchema(_Filters):
    """Filters of GET /api/admin/users."""

    q = ma.fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Part of the username or email (case-insensitive)."},
    )
    role = ma.fields.String(validate=validate.OneOf(ROLES))
    disabled = ma.fields.Boolean()


class ReasonSchema(BaseSchema):
    """Optional body of a disable or hide: why (kept in the audit log)."""

    reason = ma.fields.String(validate=validate.Length(min=1, max=500))


class RoleSchema(BaseSchema):
    """Body of PUT /api/admin/users/{id}/role."""

    role = ma.fields.String(required=True, validate=validate.OneOf(ROLES))


class ModerationItemSchema(CamelSchema):
    """A forum post or comment as moderators see it (hidden or not)."""

    id = ma.fields.String()
    kind = ma.fields.String(metadata={"description": "post | comment"})
    post_id = ma.fields.String()
    author_id = ma.fields.String()
    author = ma.fields.String()
    title = ma.fields.String(allow_none=True, metadata={"description": "Posts only."})
    content = ma.fields.String()
    created_at = TimestampMs()
    hidden = ma.fields.Function(lambda item: item.hidden_at is not None, metadata={"type": "boolean"})
    hidden_at = TimestampMs(allow_none=True)


class ModerationQueryArgsSchema(_Filters):
    """Filters of the moderation lists."""

    hidden = ma.fields.Boolean()


class CommentModerationQueryArgsSchema(ModerationQueryArgsSchema):
    """Filters of GET /api/admin/forum/comments."""

    post = Id(metadata={"description": "Only the comments of this post."})


class AdminListingSchema(ListingSchema):
    """A listed strategy as moderators see it (hidden or not)."""

    hidden = ma.fields.Boolean(metadata={"description": "Hidden from everyone but its owner."})


class ReportQueryArgsSchema(_Filters):
    """Filters of GET /api/admin/marketplace/reports."""

    status = ma.fields.String(validate=validate.OneOf(("open", "resolved", "dismissed")))


class ResolveSchema(BaseSchema):
    """Body of resolving a report: what was done."""

    resolution = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))


class DismissSchema(BaseSchema):
    """Optional body of dismissing a report."""

    resolution = ma.fields.String(validate=validate.Length(min=1, max=500))


class JobSchema(CamelSchema):
    """A background job with its outcome (failed ones carry `errorReason` and `error`)."""

    id = ma.fields.String()
    kind = ma.fields.String()
    status = ma.fields.String(metadata={"description": " | ".join(JOB_STATUSES)})
    progress = ma.fields.Integer()
    attempts = ma.fields.Integer()
    owner_id = ma.fields.String(allow_none=True)
    subject_id = ma.fields.String(allow_none=True)
    error_reason = ma.fields.String(allow_none=True)
    error = ma.fields.String(allow_none=True)
    created_at = TimestampMs()
    started_at = TimestampMs(allow_none=True)
    heartbeat_at = TimestampMs(allow_none=True)
    finished_at = TimestampMs(allow_none=True)


class JobQueryArgsSchema(_Filters):
    """Filters of GET /api/admin/jobs."""

    status = ma.fields.String(validate=validate.OneOf(JOB_STATUSES))
    kind = ma.fields.String(validate=validate.Length(min=1, max=40))


class QueueDepthSchema(CamelSchema):
    """One Celery queue."""

    name = ma.fields.String()
    depth = ma.fields.Integer(allow_none=True, metadata={"description": "Waiting messages; null if unknown."})


class QueuesSchema(CamelSchema):
    """Every Celery queue's depth."""

    available = ma.fields.Boolean(metadata={"description": "False when the broker did not answer."})
    queues = ma.fields.List(ma.fields.Nested(QueueDepthSchema))


class StreamHealthSchema(CamelSchema):
    """Open event streams over every API and stream process."""

    available = ma.fields.Boolean(metadata={"description": "False when Redis did not answer (counts null)."})
    open_streams = ma.fields.Integer(allow_none=True)
    users_streaming = ma.fields.Integer(allow_none=True)
    watched_markets = ma.fields.Integer(allow_none=True)


class WebhookHealthSchema(CamelSchema):
    """Webhook endpoints and their kept deliveries by status."""

    endpoints = ma.fields.Integer()
    active_endpoints = ma.fields.Integer()
    by_status = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "pending, sending, retrying, succeeded, failed"},
    )
    oldest_due_at = ma.fields.Integer(
        allow_none=True, metadata={"description": "Unix ms of the earliest next attempt waiting."}
    )
    overdue_ms = ma.fields.Integer(metadata={"description": "How late that attempt is (0: none late)."})


class LiveHealthSchema(CamelSchema):
    """The health of streams and webhooks."""

    streams = ma.fields.Nested(StreamHealthSchema)
    webhooks = ma.fields.Nested(WebhookHealthSchema)


class AuditEntrySchema(CamelSchema):
    """One admin action."""

    id = ma.fields.String()
    actor_id = ma.fields.String(
        allow_none=True, metadata={"description": "Null once the account is deleted."}
    )
    actor = ma.fields.String(attribute="actor_name", metadata={"description": "The admin's username then."})
    action = ma.fields.String(metadata={"example": "user.disable"})
    target_type = ma.fields.String(metadata={"example": "user"})
    target_id = ma.fields.String(allow_none=True)
    details = ma.fields.Dict()
    at = TimestampMs(attribute="created_at")


class AuditQueryArgsSchema(_Filters):
    """Filters of GET /api/admin/audit-log (they combine)."""

    actor = Id(metadata={"description": "The acting admin's user id."})
    action = ma.fields.String(validate=validate.Length(min=1, max=64))
    target_type = ma.fields.String(validate=validate.Length(min=1, max=32))
    target_id = ma.fields.String(validate=validate.Length(min=1, max=64))
    since = ma.fields.Integer(
        validate=validate.Range(min=0, max=2**53), metadata={"description": "Unix ms, inclusive."}
    )
    until = ma.fields.Integer(
        validate=validate.Range(min=0, max=2**53), metadata={"description": "Unix ms, exclusive."}
    )
