"""HTTP contract of /api/stream (the stream itself is text/event-stream, not enveloped)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from backend.core.schemas import BaseSchema, CamelSchema, TimestampMs
from backend.domain.marketdata.intervals import INTERVALS

# One topic: a user topic, or `market:<SYMBOL>:<interval>` (the symbol as `core.schemas.Symbol` takes
# it, a TradingView `EXCHANGE:` prefix included). Whether the symbol exists and has bars of that
# interval is stored data, and STREAM_MAX_TOPICS configuration: the service checks those (422).
_TOPIC = rf"(?:jobs|bots|notifications|market:[A-Za-z0-9._:/-]{{1,32}}:(?:{'|'.join(INTERVALS)}))"
# Comma-separated, spaces allowed around each topic (the service strips them); no empty topic.
TOPICS_PATTERN = rf"^ *{_TOPIC} *(?:, *{_TOPIC} *)*$"


class TicketSchema(CamelSchema):
    """A single-use stream ticket: pass it as `?ticket=` within `expiresAt`."""

    ticket = ma.fields.String(
        metadata={"description": "Opaque; valid once, for STREAM_TICKET_TTL_S seconds."}
    )
    expires_at = TimestampMs()


class StreamQueryArgsSchema(BaseSchema):
    """`?topics=jobs,bots,notifications,market:BTCUSDT:1m&ticket=...` (lastEventId: a resume point)."""

    topics = ma.fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=1000),
            validate.Regexp(
                TOPICS_PATTERN,
                error="Comma-separated topics: jobs, bots, notifications or market:<SYMBOL>:<interval>, "
                f"interval one of {', '.join(INTERVALS)}.",
            ),
        ],
        metadata={
            "description": "Comma-separated: `jobs`, `bots`, `notifications`, `market:<SYMBOL>:<interval>` "
            f"(interval one of {', '.join(INTERVALS)}). The symbol must exist and have bars of that "
            "interval, and a stream follows at most STREAM_MAX_TOPICS topics (422 otherwise).",
            "example": "jobs,bots,market:BTCUSDT:1m",
        },
    )
    ticket = ma.fields.String(
        load_default=None,
        validate=validate.Length(max=128),
        metadata={"description": "From POST /api/stream/ticket; missing, expired or used: 401."},
    )
    last_event_id = ma.fields.String(
        data_key="lastEventId",
        load_default=None,
        validate=validate.Length(max=2048),
        metadata={
            "description": "Resume after this SSE id (for a new EventSource, which cannot send the "
            "`Last-Event-ID` header; the header wins when both are given)."
        },
    )


EVENT_STREAM_RESPONSE = {
    "description": "Server-Sent Events (not enveloped): `id:` (resume cursor), `event:` (the type, e.g. "
    "`job.succeeded`), `data:` one JSON object `{type, topic, objectId, at, data}`; `: heartbeat` "
    "comment lines every STREAM_HEARTBEAT_S. See docs/streams.md.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}
