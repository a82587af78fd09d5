"""Live stream endpoints: a ticket (JWT), the SSE stream and the /ws/market WebSocket (tickets)."""

from __future__ import annotations

import json
import logging
import time

import redis
from flask import Blueprint, Response, current_app, request
from flask_jwt_extended import jwt_required
from flask_sock import Sock

from backend.core.auth import current_user_id, token_claims
from backend.core.db import new_id
from backend.core.envelope import EnvelopeBlueprint
from backend.modules.stream import service
from backend.modules.stream.schemas import EVENT_STREAM_RESPONSE, StreamQueryArgsSchema, TicketSchema

logger = logging.getLogger(__name__)

blp = EnvelopeBlueprint(
    "stream",
    __name__,
    url_prefix="/api/stream",
    description="Live events: Server-Sent Events of the caller's jobs, bots, notifications and markets "
    "(docs/streams.md). Browsers cannot send headers with EventSource, so a stream is opened with "
    "a single-use ticket.",
)

# The ticket opens GET /api/stream (an OpenAPI link: clients and Schemathesis' stateful phase follow it).
TICKET_LINK = {
    "operationRef": "#/paths/~1api~1stream/get",
    "parameters": {"ticket": "$response.body#/data/ticket"},
    "description": "Open the stream with this ticket (`?ticket=`), once, within `expiresAt`.",
}

# /ws/market is a plain Flask route (flask-sock), outside the OpenAPI document.
ws_bp = Blueprint("stream_ws", __name__)
sock = Sock()


@blp.route("/ticket", methods=["POST"])
@jwt_required()
@blp.response(201, TicketSchema)
@blp.doc(
    responses={
        201: {"links": {"OpenStream": TICKET_LINK}},
        "401": {"description": "No valid access token."},
    }
)
def ticket():
    """Get a single-use stream ticket (valid STREAM_TICKET_TTL_S seconds), bound to this session."""
    claims = token_claims()
    return service.issue_ticket(
        user_id=current_user_id(), family_id=str(claims["fam"]), jti=str(claims["jti"])
    )


@blp.route("")
@blp.arguments(StreamQueryArgsSchema, location="query")
@blp.doc(
    security=[],
    responses={
        "200": EVENT_STREAM_RESPONSE,
        "401": {"description": "The ticket is missing, expired, already used, or its session ended."},
        "422": {"description": "An unknown topic, symbol or interval (checked before the stream opens)."},
        "429": {"description": "STREAM_MAX_PER_USER streams are open already."},
    },
)
def stream(args):
    """Open a Server-Sent Events stream of the chosen topics (text/event-stream, not enveloped)."""
    topics = service.parse_topics(args["topics"])
    holder = service.redeem_ticket(args["ticket"])
    conn_id = new_id()
    service.acquire_slot(holder.user_id, conn_id)
    last = request.headers.get("Last-Event-ID") or args["last_event_id"]
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    connection = service.SSEConnection(app, holder, topics, conn_id, last)
    response = Response(connection.body(), status=200, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache, no-transform"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


def _send_error(ws, status: int, reason: str, message: str, fields: dict | None = None) -> None:
    ws.send(
        json.dumps(
            {"type": "error", "status": status, "reason": reason, "message": message, "fields": fields}
        )
    )


@sock.route("/ws/market", bp=ws_bp)
def ws_market(ws) -> None:
    """Market events over a WebSocket: ``?ticket=``, then ``{"subscribe": ["BTCUSDT:1m"]}`` messages.

    Each subscribe (or ``{"unsubscribe": [...]}``) is answered ``{"type": "subscribed", "topics": [...]}``
    or an ``error`` message (the connection stays open); events are the SSE ``data`` bodies plus ``id``.
    """
    from backend.core.errors import AppError

    try:
        holder = service.redeem_ticket(request.args.get("ticket"))
    except AppError as exc:
        _send_error(ws, exc.http_status, exc.reason, exc.message)
        ws.close(4401, exc.reason)
        return
    conn_id = new_id()
    try:
        service.acquire_slot(holder.user_id, conn_id)
    except AppError as exc:
        _send_error(ws, exc.http_status, exc.reason, exc.message)
        ws.close(4429, exc.reason)
        return
    try:
        _ws_loop(ws, holder, conn_id)
    finally:
        service.release_slot(holder.user_id, conn_id)


def _ws_loop(ws, holder: service.Holder, conn_id: str) -> None:
    from backend.core.errors import AppError

    heartbeat = float(current_app.config["STREAM_HEARTBEAT_S"])
    poll_ms = int(current_app.config["STREAM_WS_POLL_MS"])
    markets: list[tuple[str, str]] = []
    reader = service.Reader.open(holder, service.Topics(frozenset(), ()), None)
    beat_at = time.monotonic()
    while True:
        message = ws.receive(timeout=0)
        if message is not None:
            try:
                markets = _apply(message, markets)
                reader = _reopen(reader, holder, markets)
                service.renew(holder.user_id, conn_id, tuple(markets))
                ws.send(json.dumps({"type": "subscribed", "topics": [f"market:{s}:{i}" for s, i in markets]}))
            except AppError as exc:
                _send_error(ws, exc.http_status, exc.reason, exc.message, exc.details.get("fields"))
        try:
            for event_id, body in reader.read(poll_ms):
                ws.send(json.dumps({**body, "id": event_id}, default=str))
        except redis.RedisError:
            ws.close(1011, "redis unavailable")
            return
        if time.monotonic() - beat_at >= heartbeat:
            beat_at = time.monotonic()
            if not service.session_active(holder, when_unknown=True):
                ws.send(json.dumps({"type": "stream.closed", "data": {"reason": "session_revoked"}}))
                ws.close(4401, "session_revoked")
                return
            service.renew(holder.user_id, conn_id, tuple(markets))


def _apply(message: str | bytes, markets: list[tuple[str, str]]) -> list[tuple[str, str]]:
    from backend.modules.stream.errors import InvalidTopics

    try:
        body = json.loads(message)
    except ValueError:
        body = None
    if not isinstance(body, dict) or not (set(body) & {"subscribe", "unsubscribe"}):
        raise InvalidTopics('Send {"subscribe": ["BTCUSDT:1m"]} or {"unsubscribe": [...]}.')
    result = list(markets)
    for verb in ("subscribe", "unsubscribe"):
        items = body.get(verb) or []
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise InvalidTopics(fields={verb: ["A list of SYMBOL:interval strings."]})
        if not items:
            continue
        parsed = service.parse_topics(",".join(i.removeprefix("market:") for i in items), allow_user=False)
        for market in parsed.markets:
            if verb == "subscribe" and market not in result:
                result.append(market)
            if verb == "unsubscribe" and market in result:
                result.remove(market)
    limit = int(current_app.config["STREAM_MAX_TOPICS"])
    if len(result) > limit:
        raise InvalidTopics(fields={"subscribe": [f"At most {limit} markets."]})
    return result


def _reopen(reader: service.Reader, holder: service.Holder, markets: list[tuple[str, str]]) -> service.Reader:
    """A reader over the new markets that keeps the cursors of those it already followed."""
    new = service.Reader.open(holder, service.Topics(frozenset(), tuple(markets)), reader.event_id())
    return new


blueprints = [blp]
flask_blueprints = [ws_bp]
