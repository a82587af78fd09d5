"""Errors of the admin module."""

from backend.core.errors import Conflict, Forbidden, Invalid, NotFound


class NotAdmin(Forbidden):
    """Raise when an authenticated caller without the admin role calls an admin route."""

    reason = "forbidden"
    code = "admin.not_admin"
    default_message = "This needs the admin role."


class SelfLockout(Invalid):
    """Raise when an admin tries to disable or demote their own account (they would lock themselves out)."""

    code = "admin.self_lockout"
    default_message = "You cannot disable or demote your own account."


class AdminJobNotFound(NotFound):
    """Raise when a job id is unknown."""

    code = "admin.job_not_found"
    default_message = "Job not found."


class JobNotRetryable(Conflict):
    """Raise when retrying a job that has not failed (or whose kind no longer exists)."""

    reason = "job_not_retryable"
    code = "admin.job_not_retryable"
    default_message = "Only a failed job of a known kind can be retried."


class JobNotActive(Conflict):
    """Raise when cancelling a job that is not pending or running."""

    reason = "job_not_active"
    code = "admin.job_not_active"
    default_message = "Only a pending or running job can be cancelled."
