"""The one error handler: every failure leaves as the error envelope with a stable reason."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from backend.core.envelope import error_response
from backend.core.errors import AppError

logger = logging.getLogger(__name__)

# HTTP status -> (details.reason, human sentence) for errors raised by Flask/werkzeug itself.
_HTTP_REASONS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthorized", "Authentication is required."),
    403: ("forbidden", "You are not allowed to do this."),
    404: ("not_found", "The requested resource was not found."),
    405: ("method_not_allowed", "This method is not allowed for this resource."),
    409: ("conflict", "The request conflicts with the current state."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "This media type is not supported."),
    422: ("validation_error", "The request is invalid."),
    429: ("rate_limited", "Too many requests; slow down."),
    503: ("service_unavailable", "A required service is unavailable; try again shortly."),
}


def _flatten_locations(messages: Any) -> dict[str, Any]:
    """Turn webargs' ``{"json": {"name": [...]}}`` into ``{"name": [...]}``."""
    if not isinstance(messages, dict):
        return {"_schema": messages}
    fields: dict[str, Any] = {}
    for location, errors in messages.items():
        if isinstance(errors, dict):
            fields.update(errors)
        else:
            fields[location] = errors
    return fields


def handle_app_error(error: AppError) -> Response:
    """Render an AppError."""
    if error.http_status >= 500:
        # An expected outage (broker down, no LLM key): worth a warning, not a stack trace.
        logger.warning("%s: %s", error.code, error.message)
    return error_response(error.http_status, error.message, error.to_details(), error.headers)


def handle_http_exception(error: HTTPException) -> Response:
    """Render werkzeug/Flask HTTP errors (404, 405, 413, webargs 422, limiter 429...)."""
    status = error.code or 500
    if status >= 500:
        return handle_unexpected(error)
    reason, message = _HTTP_REASONS.get(status, ("http_error", error.name))
    details: dict[str, Any] = {"reason": reason}
    headers: dict[str, str] = {}
    data = getattr(error, "data", None) or {}
    if status == 422 and ("messages" in data or "errors" in data):
        details["fields"] = _flatten_locations(data.get("errors") or data.get("messages"))
    if isinstance(data.get("headers"), dict):
        headers.update(data["headers"])
    if status == 429:
        details["limit"] = str(getattr(error, "description", ""))
        retry_after = _retry_after_s()
        if retry_after is not None:
            details["retryAfter"] = retry_after
            headers["Retry-After"] = str(retry_after)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return error_response(status, data.get("message", message), details, headers)


def _retry_after_s() -> int | None:
    """Seconds until the limit that was hit resets (flask-limiter's current limit)."""
    import time

    from backend.extensions import limiter

    current = limiter.current_limit
    return max(int(current.reset_at - time.time()), 1) if current is not None else None


def handle_integrity_error(error: IntegrityError) -> Response:
    """Render a constraint violation that a service did not anticipate as 409."""
    logger.warning("integrity error: %s", error.orig)
    _rollback()
    return error_response(409, "The request conflicts with existing data.", {"reason": "conflict"})


def handle_operational_error(error: OperationalError) -> Response:
    """Render a lost database connection as 503."""
    logger.error("database unavailable: %s", error.orig)
    _rollback()
    return error_response(
        503,
        "The database is unavailable; try again shortly.",
        {"reason": "service_unavailable", "service": "database"},
    )


def handle_unexpected(error: Exception) -> Response:
    """Render anything else as a generic 500; the traceback goes to the log, never the client."""
    logger.exception("unhandled error", exc_info=error)
    _rollback()
    return error_response(500, "Internal server error.", {"reason": "internal_error"})


def _rollback() -> None:
    from backend.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be the thing that failed
        logger.debug("rollback after error failed", exc_info=True)


def _end_session(_exc: BaseException | None) -> None:
    """End the context's session even when the database closed its connection under it.

    Runs before Flask-SQLAlchemy's own teardown (registered earlier, so called later). Without it
    the rollback on a connection the server closed raises from teardown, past every handler above,
    and gunicorn answers a bare 500 instead of the response already made.
    """
    from backend.extensions import db

    try:
        db.session.remove()
    except Exception:  # noqa: BLE001 - the failed rollback already invalidated the dead connection
        logger.warning("closing the session after a lost database connection failed", exc_info=True)
        db.session.registry.clear()


def register_error_handlers(app: Flask) -> None:
    """Register the handlers, most specific first, and the teardown that survives a lost database."""
    app.teardown_appcontext(_end_session)
    app.register_error_handler(AppError, handle_app_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(OperationalError, handle_operational_error)
    app.register_error_handler(Exception, handle_unexpected)
