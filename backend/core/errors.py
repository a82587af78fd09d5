"""The one error hierarchy. Services raise these; one handler turns them into the error envelope.

Each class carries its HTTP status, a stable machine `reason` (``details.reason`` on the wire)
and a dotted `code` (``details.error``). Module errors subclass these and set `code`, e.g.
``class BacktestNotFound(NotFound): code = "backtests.not_found"``.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base class: never raised directly."""

    http_status = 500
    reason = "internal_error"
    code = "app.internal_error"
    default_message = "Internal server error."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.details = dict(details or {})
        self.headers = dict(headers or {})

    def to_details(self) -> dict[str, Any]:
        """Return the envelope's `details` object: reason and code first, then extra fields."""
        return {"reason": self.reason, "error": self.code, **self.details}


class Invalid(AppError):
    """Raise when input is well-formed JSON but breaks a rule (put field messages in `fields`)."""

    http_status = 422
    reason = "validation_error"
    code = "app.validation_error"
    default_message = "The request is invalid."

    def __init__(
        self, message: str | None = None, *, fields: dict[str, list[str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        if fields:
            self.details["fields"] = fields


class Unauthorized(AppError):
    """Raise when the caller is not authenticated or the credentials are wrong."""

    http_status = 401
    reason = "unauthorized"
    code = "auth.unauthorized"
    default_message = "Authentication is required."


class Forbidden(AppError):
    """Raise when the caller is known but may not do this (and may know the object exists)."""

    http_status = 403
    reason = "forbidden"
    code = "app.forbidden"
    default_message = "You are not allowed to do this."


class NotFound(AppError):
    """Raise when the object does not exist *or* the caller may not know it exists."""

    http_status = 404
    reason = "not_found"
    code = "app.not_found"
    default_message = "Not found."


class Conflict(AppError):
    """Raise when the request conflicts with the current state (duplicates, wrong status)."""

    http_status = 409
    reason = "conflict"
    code = "app.conflict"
    default_message = "The request conflicts with the current state."


class TooLarge(AppError):
    """Raise when a body or upload exceeds a configured size."""

    http_status = 413
    reason = "payload_too_large"
    code = "app.payload_too_large"
    default_message = "The request body is too large."


class Unsupported(AppError):
    """Raise when an upload's content type is not on the allow-list."""

    http_status = 415
    reason = "unsupported_media_type"
    code = "app.unsupported_media_type"
    default_message = "This media type is not supported."


class RateLimited(AppError):
    """Raise when the caller has exceeded a rate limit (set a Retry-After header)."""

    http_status = 429
    reason = "rate_limited"
    code = "app.rate_limited"
    default_message = "Too many requests; slow down."


class Unavailable(AppError):
    """Raise when a dependency (database, Redis, broker, LLM) cannot be reached right now."""

    http_status = 503
    reason = "service_unavailable"
    code = "app.service_unavailable"
    default_message = "A required service is unavailable; try again shortly."
