"""Errors of the stream module."""

from __future__ import annotations

from backend.core.errors import Invalid, RateLimited, Unauthorized


class TicketInvalid(Unauthorized):
    """Raise when a stream ticket is missing, expired, already used or its session was revoked."""

    reason = "ticket_invalid"
    code = "stream.ticket_invalid"
    default_message = "A valid stream ticket is required (POST /api/stream/ticket; each works once)."


class InvalidTopics(Invalid):
    """Raise when a requested topic is unknown or names a symbol or interval that does not exist."""

    code = "stream.invalid_topics"
    default_message = "The topics are invalid."


class TooManyStreams(RateLimited):
    """Raise when the user already holds STREAM_MAX_PER_USER open streams."""

    code = "stream.too_many_streams"
    default_message = "Too many open streams; close one first."
