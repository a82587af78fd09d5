"""Admin console endpoints under /api/admin: users, moderation, operations and the audit log.

Every route is `admin_only`: no token is 401, a token without the admin role is 403, both before
the body or query is parsed. docs/admin.md describes each family.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask_jwt_extended import jwt_required

from backend.core.auth import current_user_id
from backend.core.envelope import EnvelopeBlueprint
from backend.core.pagination import PageArgs, paginated
from backend.modules.admin import operations, service
from backend.modules.admin.schemas import (
    AdminListingSchema,
    AdminUserSchema,
    AuditEntrySchema,
    AuditQueryArgsSchema,
    CommentModerationQueryArgsSchema,
    DismissSchema,
    JobQueryArgsSchema,
    JobSchema,
    LiveHealthSchema,
    ModerationItemSchema,
    ModerationQueryArgsSchema,
    QueuesSchema,
    ReasonSchema,
    ReportQueryArgsSchema,
    ResolveSchema,
    RoleSchema,
    UserQueryArgsSchema,
)
from backend.modules.marketplace.schemas import ReportSchema

blp = EnvelopeBlueprint(
    "admin",
    __name__,
    url_prefix="/api/admin",
    description="The admin console (role `admin`): users, moderation, operations, the audit log.",
)

NOT_FOUND = "Unknown id."
CONFLICT = "The job is not in a state that allows this (`details.status` says which it is in)."


def admin_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Require a token (401) of a user with the admin role (403), before anything is parsed."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        service.ensure_admin(actor_id=current_user_id())
        return view(*args, **kwargs)

    documented = blp.alt_response(403, description="The caller does not have the admin role.")(wrapper)
    return jwt_required()(documented)


# --- Users --------------------------------------------------------------------------------------


@blp.route("/users", methods=["GET"])
@admin_only
@blp.arguments(UserQueryArgsSchema, location="query")
@blp.response(200, AdminUserSchema(many=True))
@paginated(blp)
def list_users(args, paging: PageArgs):
    """Search users by username or email, with role and disabled filters.

    Order: `createdAt` descending (newest first), then `id`.
    """
    return service.list_users(
        actor_id=current_user_id(),
        query=args.get("q"),
        role=args.get("role"),
        disabled=args.get("disabled"),
        **paging,
    )


@blp.route("/users/<id:user_id>/disable", methods=["POST"])
@admin_only
@blp.arguments(ReasonSchema, required=False)
@blp.response(200, AdminUserSchema)
@blp.alt_response(404, description=NOT_FOUND)
@blp.alt_response(422, description="Disabling your own account.")
def disable_user(body, user_id: str):
    """Disable a user: every session of theirs ends at once; they cannot log in or refresh."""
    return service.set_user_disabled(actor_id=current_user_id(), user_id=user_id, disabled=True, **body)


@blp.route("/users/<id:user_id>/enable", methods=["POST"])
@admin_only
@blp.response(200, AdminUserSchema)
@blp.alt_response(404, description=NOT_FOUND)
def enable_user(user_id: str):
    """Re-enable a disabled user (they log in again; their old sessions stay ended)."""
    return service.set_user_disabled(actor_id=current_user_id(), user_id=user_id, disabled=False)


@blp.route("/users/<id:user_id>/role", methods=["PUT"])
@admin_only
@blp.arguments(RoleSchema)
@blp.response(200, AdminUserSchema)
@blp.alt_response(404, description=NOT_FOUND)
@blp.alt_response(422, description="Taking the admin role from yourself.")
def set_role(body, user_id: str):
    """Give a user the `admin` or `user` role."""
    return service.set_user_role(actor_id=current_user_id(), user_id=user_id, role=body["role"])


# --- Moderation ---------------------------------------------------------------------------------


@blp.route("/forum/posts", methods=["GET"])
@admin_only
@blp.arguments(ModerationQueryArgsSchema, location="query")
@blp.response(200, ModerationItemSchema(many=True))
@paginated(blp)
def list_posts(args, paging: PageArgs):
    """List forum posts, hidden ones included (filter with `hidden`).

    Order: `createdAt` descending (newest first), then `id`.
    """
    return service.list_forum_posts(actor_id=current_user_id(), hidden=args.get("hidden"), **paging)


@blp.route("/forum/comments", methods=["GET"])
@admin_only
@blp.arguments(CommentModerationQueryArgsSchema, location="query")
@blp.response(200, ModerationItemSchema(many=True))
@paginated(blp)
def list_comments(args, paging: PageArgs):
    """List forum comments, hidden ones included (filter with `hidden` and `post`).

    Order: `createdAt` descending (newest first), then `id`.
    """
    return service.list_forum_comments(
        actor_id=current_user_id(), hidden=args.get("hidden"), post_id=args.get("post"), **paging
    )


@blp.route("/forum/posts/<id:post_id>/hide", methods=["POST"])
@admin_only
@blp.arguments(ReasonSchema, required=False)
@blp.response(200, ModerationItemSchema)
@blp.alt_response(404, description=NOT_FOUND)
def hide_post(body, post_id: str):
    """Hide a post: it vanishes for everyone, its author included, until restored."""
    return service.set_post_hidden(actor_id=current_user_id(), post_id=post_id, hidden=True, **body)


@blp.route("/forum/posts/<id:post_id>/restore", methods=["POST"])
@admin_only
@blp.response(200, ModerationItemSchema)
@blp.alt_response(404, description=NOT_FOUND)
def restore_post(post_id: str):
    """Restore a hidden post."""
    return service.set_post_hidden(actor_id=current_user_id(), post_id=post_id, hidden=False)


@blp.route("/forum/comments/<id:comment_id>/hide", methods=["POST"])
@admin_only
@blp.arguments(ReasonSchema, required=False)
@blp.response(200, ModerationItemSchema)
@blp.alt_response(404, description=NOT_FOUND)
def hide_comment(body, comment_id: str):
    """Hide a comment: it vanishes for everyone and leaves its post's comment count."""
    return service.set_comment_hidden(actor_id=current_user_id(), comment_id=comment_id, hidden=True, **body)


@blp.route("/forum/comments/<id:comment_id>/restore", methods=["POST"])
@admin_only
@blp.response(200, ModerationItemSchema)
@blp.alt_response(404, description=NOT_FOUND)
def restore_comment(comment_id: str):
    """Restore a hidden comment."""
    return service.set_comment_hidden(actor_id=current_user_id(), comment_id=comment_id, hidden=False)


@blp.route("/marketplace/reports", methods=["GET"])
@admin_only
@blp.arguments(ReportQueryArgsSchema, location="query")
@blp.response(200, ReportSchema(many=True))
@paginated(blp)
def list_reports(args, paging: PageArgs):
    """List the abuse reports of published strategies (filter with `status`).

    Order: `createdAt` ascending (oldest first: the queue), then `id`.
    """
    return service.list_reports(actor_id=current_user_id(), status=args.get("status"), **paging)


@blp.route("/marketplace/reports/<id:report_id>/resolve", methods=["POST"])
@admin_only
@blp.arguments(ResolveSchema)
@blp.response(200, ReportSchema)
@blp.alt_response(404, description=NOT_FOUND)
@blp.alt_response(409, description="The report is already closed.")
def resolve_report(body, report_id: str):
    """Close an open report as acted upon, saying what was done."""
    return service.resolve_report(actor_id=current_user_id(), report_id=report_id, **body)


@blp.route("/marketplace/reports/<id:report_id>/dismiss", methods=["POST"])
@admin_only
@blp.arguments(DismissSchema, required=False)
@blp.response(200, ReportSchema)
@blp.alt_response(404, description=NOT_FOUND)
@blp.alt_response(409, description="The report is already closed.")
def dismiss_report(body, report_id: str):
    """Close an open report as unfounded."""
    return service.dismiss_report(actor_id=current_user_id(), report_id=report_id, **body)


@blp.route("/marketplace/strategies/<id:strategy_id>/hide", methods=["POST"])
@admin_only
@blp.arguments(ReasonSchema, required=False)
@blp.response(200, AdminListingSchema)
@blp.alt_response(404, description="Unknown id, or a strategy never published in the marketplace.")
def hide_strategy(body, strategy_id: str):
    """Hide a published strategy: it leaves the marketplace for everyone but its owner."""
    return service.set_strategy_hidden(
        actor_id=current_user_id(), strategy_id=strategy_id, hidden=True, **body
    )


@blp.route("/marketplace/strategies/<id:strategy_id>/restore", methods=["POST"])
@admin_only
@blp.response(200, AdminListingSchema)
@blp.alt_response(404, description="Unknown id, or a strategy never published in the marketplace.")
def restore_strategy(strategy_id: str):
    """Restore a hidden published strategy."""
    return service.set_strategy_hidden(actor_id=current_user_id(), strategy_id=strategy_id, hidden=False)


# --- Operations ---------------------------------------------------------------------------------


@blp.route("/queues", methods=["GET"])
@admin_only
@blp.response(200, QueuesSchema)
def queues():
    """Return how many messages wait in each Celery queue (null depths when the broker is down)."""
    return operations.queue_depths(actor_id=current_user_id())


@blp.route("/live", methods=["GET"])
@admin_only
@blp.response(200, LiveHealthSchema)
def live():
    """Return the health of the live parts: open event streams and webhook deliveries by status."""
    return operations.live_health(actor_id=current_user_id())


@blp.route("/jobs", methods=["GET"])
@admin_only
@blp.arguments(JobQueryArgsSchema, location="query")
@blp.response(200, JobSchema(many=True))
@paginated(blp)
def list_jobs(args, paging: PageArgs):
    """List every user's jobs by `status` and `kind` (failed ones carry their reason).

    Order: `createdAt` descending (newest first), then `id`.
    """
    return operations.list_jobs(
        actor_id=current_user_id(), status=args.get("status"), kind=args.get("kind"), **paging
    )


@blp.route("/jobs/<id:job_id>/retry", methods=["POST"])
@admin_only
@blp.response(200, JobSchema)
@blp.alt_response(404, description=NOT_FOUND)
@blp.alt_response(409, description=CONFLICT)
def retry_job(job_id: str):
    """Run a failed job again: the same job goes back to PENDING and is sent to its queue."""
    return operations.retry_job(actor_id=current_user_id(), job_id=job_id)


@blp.route("/jobs/<id:job_id>/cancel", methods=["POST"])
@admin_only
@blp.response(200, JobSchema)
@blp.alt_response(404, description=NOT_FOUND)
@blp.alt_response(409, description=CONFLICT)
def cancel_job(job_id: str):
    """Cancel a pending or running job (its work stops at its next progress check)."""
    return operations.cancel_job(actor_id=current_user_id(), job_id=job_id)


# --- The audit log ------------------------------------------------------------------------------


@blp.route("/audit-log", methods=["GET"])
@admin_only
@blp.arguments(AuditQueryArgsSchema, location="query")
@blp.response(200, AuditEntrySchema(many=True))
@paginated(blp)
def audit_log(args, paging: PageArgs):
    """List admin actions, filtered by actor, action, target and time (`until` exclusive).

    Order: `at` descending (newest first), then `id` descending.
    """
    return service.list_audit_log(actor_id=current_user_id(), **args, **paging)
