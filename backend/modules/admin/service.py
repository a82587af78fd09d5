"""The admin console: users and moderation, each action audited in its own transaction.

Every public function takes the acting admin (``actor_id``) and checks the role first
(`ensure_admin`: 403 for anyone else). Every write adds one `AuditLogEntry` in the same
transaction as the change it records, so the log never misses a committed action and never
shows one that rolled back. The lower modules' write helpers used here (users.set_disabled,
forum.set_post_hidden, ...) are part of the caller's transaction; this module commits.

Operations (queues and jobs) are in `operations.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from backend.core.db import now_ms, transactional
from backend.core.pagination import Page, paginate
from backend.extensions import db
from backend.modules.admin.errors import NotAdmin, SelfLockout
from backend.modules.admin.models import AuditLogEntry
from backend.modules.forum import service as forum_service
from backend.modules.marketplace import service as marketplace_service
from backend.modules.users import service as users_service

ADMIN, USER = "admin", "user"
ROLES = (ADMIN, USER)


@dataclass(frozen=True)
class AdminUserView:
    """A user as the admin console lists it."""

    id: str
    username: str
    email: str | None
    name: str
    avatar: str
    role: str
    disabled: bool
    disabled_at: int | None
    created_at: int


def ensure_admin(*, actor_id: str) -> users_service.User:
    """Return the acting user if they have the admin role, else raise NotAdmin (403)."""
    user = users_service.get_users(ids=[actor_id]).get(actor_id)
    if user is None or not user.is_admin or user.disabled_at is not None:
        raise NotAdmin()
    return user


def audit(
    actor: users_service.User,
    *,
    action: str,
    target_type: str,
    target_id: str | None,
    details: dict[str, Any] | None = None,
) -> AuditLogEntry:
    """Add the audit row of one admin action to the caller's transaction."""
    entry = AuditLogEntry(
        actor_id=actor.id,
        actor_name=actor.username,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details or {},
        created_at=now_ms(),
    )
    db.session.add(entry)
    return entry


def _user_view(user: users_service.User) -> AdminUserView:
    return AdminUserView(
        id=user.id,
        username=user.username,
        email=user.email,
        name=user.name,
        avatar=users_service.avatar_url(user),
        role=ADMIN if user.is_admin else USER,
        disabled=user.disabled_at is not None,
        disabled_at=user.disabled_at,
        created_at=user.created_at,
    )


# --- Users --------------------------------------------------------------------------------------


def list_users(
    *,
    actor_id: str,
    query: str | None = None,
    role: str | None = None,
    disabled: bool | None = None,
    page: int,
    page_size: int,
) -> Page[AdminUserView]:
    """Search users by username or email (newest first), with role and disabled filters."""
    ensure_admin(actor_id=actor_id)
    result = users_service.search_users(
        query=query, role=role, disabled=disabled, page=page, page_size=page_size
    )
    return Page(items=[_user_view(u) for u in result.items], total=result.total)


@transactional
def set_user_disabled(
    *, actor_id: str, user_id: str, disabled: bool, reason: str | None = None
) -> AdminUserView:
    """Disable a user (every session ends at once) or re-enable one; never oneself (422)."""
    actor = ensure_admin(actor_id=actor_id)
    if disabled and user_id == actor.id:
        raise SelfLockout(fields={"user_id": ["You cannot disable your own account."]})
    user = users_service.set_disabled(user_id=user_id, disabled=disabled)
    details: dict[str, Any] = {"reason": reason} if reason else {}
    audit(
        actor,
        action="user.disable" if disabled else "user.enable",
        target_type="user",
        target_id=user.id,
        details=details,
    )
    return _user_view(user)


@transactional
def set_user_role(*, actor_id: str, user_id: str, role: str) -> AdminUserView:
    """Give a user the ``admin`` or ``user`` role; an admin cannot demote themselves (422)."""
    actor = ensure_admin(actor_id=actor_id)
    if user_id == actor.id and role != ADMIN:
        raise SelfLockout(fields={"role": ["You cannot take the admin role from yourself."]})
    previous = ADMIN if users_service.get_user(user_id=user_id).is_admin else USER  # 404 when unknown
    user = users_service.set_admin(user_id=user_id, is_admin=role == ADMIN)
    audit(
        actor,
        action="user.role",
        target_type="user",
        target_id=user.id,
        details={"from": previous, "to": role},
    )
    return _user_view(user)


# --- Moderation ---------------------------------------------------------------------------------


def list_forum_posts(
    *, actor_id: str, hidden: bool | None, page: int, page_size: int
) -> Page[forum_service.ModerationItem]:
    """List posts for moderation (hidden ones included), newest first."""
    ensure_admin(actor_id=actor_id)
    return forum_service.list_posts_for_moderation(hidden=hidden, page=page, page_size=page_size)


def list_forum_comments(
    *, actor_id: str, hidden: bool | None, post_id: str | None, page: int, page_size: int
) -> Page[forum_service.ModerationItem]:
    """List comments for moderation (hidden ones included), newest first."""
    ensure_admin(actor_id=actor_id)
    return forum_service.list_comments_for_moderation(
        hidden=hidden, post_id=post_id, page=page, page_size=page_size
    )


@transactional
def set_post_hidden(
    *, actor_id: str, post_id: str, hidden: bool, reason: str | None = None
) -> forum_service.ModerationItem:
    """Hide or restore a forum post."""
    actor = ensure_admin(actor_id=actor_id)
    item = forum_service.set_post_hidden(post_id=post_id, hidden=hidden)
    action = "forum.post.hide" if hidden else "forum.post.restore"
    audit(actor, action=action, target_type="post", target_id=item.id, details=_reason(reason))
    return item


@transactional
def set_comment_hidden(
    *, actor_id: str, comment_id: str, hidden: bool, reason: str | None = None
) -> forum_service.ModerationItem:
    """Hide or restore a forum comment."""
    actor = ensure_admin(actor_id=actor_id)
    item = forum_service.set_comment_hidden(comment_id=comment_id, hidden=hidden)
    action = "forum.comment.hide" if hidden else "forum.comment.restore"
    details = {**_reason(reason), "postId": item.post_id}
    audit(actor, action=action, target_type="comment", target_id=item.id, details=details)
    return item


def _reason(reason: str | None) -> dict[str, Any]:
    return {"reason": reason} if reason else {}


# The marketplace's moderation functions commit themselves (``@transactional``): the audit row is
# added first, so their commit carries it, and their rollback (404, 409) takes it away.


def list_reports(
    *, actor_id: str, status: str | None, page: int, page_size: int
) -> Page[marketplace_service.ReportView]:
    """List abuse reports of published strategies (all statuses unless filtered), oldest first."""
    ensure_admin(actor_id=actor_id)
    return marketplace_service.list_reports(status=status, page=page, page_size=page_size)


@transactional
def resolve_report(*, actor_id: str, report_id: str, resolution: str) -> marketplace_service.ReportView:
    """Close an open abuse report as acted upon, saying what was done (409 once closed)."""
    actor = ensure_admin(actor_id=actor_id)
    details = {"resolution": resolution}
    audit(
        actor, action="marketplace.report.resolve", target_type="report", target_id=report_id, details=details
    )
    return marketplace_service.resolve_report(report_id=report_id, actor_id=actor.id, resolution=resolution)


@transactional
def dismiss_report(
    *, actor_id: str, report_id: str, resolution: str | None = None
) -> marketplace_service.ReportView:
    """Close an open abuse report as unfounded (409 once closed)."""
    actor = ensure_admin(actor_id=actor_id)
    details = {"resolution": resolution} if resolution else {}
    audit(
        actor, action="marketplace.report.dismiss", target_type="report", target_id=report_id, details=details
    )
    return marketplace_service.dismiss_report(report_id=report_id, actor_id=actor.id, resolution=resolution)


@transactional
def set_strategy_hidden(
    *, actor_id: str, strategy_id: str, hidden: bool, reason: str | None = None
) -> marketplace_service.ListingView:
    """Hide a published strategy's listing from everyone but its owner, or restore it."""
    actor = ensure_admin(actor_id=actor_id)
    action = "marketplace.strategy.hide" if hidden else "marketplace.strategy.restore"
    audit(actor, action=action, target_type="strategy", target_id=strategy_id, details=_reason(reason))
    return marketplace_service.set_listing_hidden(strategy_id=strategy_id, hidden=hidden, actor_id=actor.id)


# --- The audit log ------------------------------------------------------------------------------


def list_audit_log(
    *,
    actor_id: str,
    page: int,
    page_size: int,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: int | None = None,
    until: int | None = None,
) -> Page[AuditLogEntry]:
    """Return one page of the audit log, newest first; filters combine (``until`` is exclusive)."""
    ensure_admin(actor_id=actor_id)
    stmt = select(AuditLogEntry).order_by(AuditLogEntry.created_at.desc(), AuditLogEntry.id.desc())
    if actor is not None:
        stmt = stmt.where(AuditLogEntry.actor_id == actor)
    if action is not None:
        stmt = stmt.where(AuditLogEntry.action == action)
    if target_type is not None:
        stmt = stmt.where(AuditLogEntry.target_type == target_type)
    if target_id is not None:
        stmt = stmt.where(AuditLogEntry.target_id == target_id)
    if since is not None:
        stmt = stmt.where(AuditLogEntry.created_at >= since)
    if until is not None:
        stmt = stmt.where(AuditLogEntry.created_at < until)
    return paginate(stmt, page=page, page_size=page_size)
