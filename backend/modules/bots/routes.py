"""Bots endpoints: CRUD, status, performance, ledger and manual orders."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import jwt_required

from backend.core import personal, showcase
from backend.core.auth import current_user_id, optional_user_id
from backend.core.envelope import EnvelopeBlueprint
from backend.core.pagination import PageArgs, paginated
from backend.core.schemas import LimitQuerySchema
from backend.modules.bots import service
from backend.modules.bots.schemas import (
    BotCreateSchema,
    BotLedgerSchema,
    BotPerformanceSchema,
    BotSchema,
    BotStatusSchema,
    OrderCreateSchema,
    OrderHeadersSchema,
    OrderSchema,
)

blp = EnvelopeBlueprint(
    "bots",
    __name__,
    url_prefix="/api/bots",
    description="Paper-trading bots: Decimal ledger, idempotent orders.",
)


@blp.route("")
class Bots(MethodView):
    """The caller's bots."""

    @jwt_required()
    @blp.arguments(BotCreateSchema)
    @blp.response(201, BotSchema)
    def post(self, args):
        """Create a running paper bot pinned to a strategy's current version."""
        return service.create_bot(actor_id=current_user_id(), **args)

    @jwt_required()
    @personal.cached("bots", reads={"bot_instances": personal.OWNER})
    @blp.response(200, BotSchema(many=True))
    @paginated(blp)
    def get(self, paging: PageArgs):
        """List my bots.

        Order: `createdAt` descending (newest first), then `id`.
        """
        return service.list_bots(actor_id=current_user_id(), **paging)


@blp.route("/recent")
class RecentBots(MethodView):
    """Newest bots for the dashboard."""

    @jwt_required(optional=True)
    @showcase.early
    @blp.arguments(LimitQuerySchema, location="query")
    @blp.response(200, BotSchema(many=True))
    @blp.doc(security=[])
    @showcase.cached("bots.recent", BotSchema(many=True), reads=("bot_instances",))
    def get(self, args):
        """List my newest bots (anonymous callers, and callers without any, get the newest public bots).

        Order: `createdAt` descending (newest first), then `id`; the public fallback in the same order.
        """
        return service.list_recent_bots(actor_id=optional_user_id(), limit=args["limit"])


@blp.route("/<id:bot_id>")
class BotById(MethodView):
    """One bot."""

    @jwt_required()
    @blp.response(200, BotSchema)
    @blp.alt_response(404, description="Unknown, deleted, or someone else's private bot.")
    def get(self, bot_id):
        """Get a bot I own, or a public bot."""
        return service.get_bot(actor_id=current_user_id(), bot_id=bot_id)

    @jwt_required()
    @blp.response(200, BotSchema)
    @blp.alt_response(404, description="Unknown, deleted, or someone else's private bot.")
    @blp.alt_response(403, description="Someone else's public bot (read-only).")
    def delete(self, bot_id):
        """Stop and remove a bot (its orders and equity history are kept)."""
        return service.delete_bot(actor_id=current_user_id(), bot_id=bot_id)


@blp.route("/<id:bot_id>/status")
class BotStatus(MethodView):
    """Pause or resume a bot."""

    @jwt_required()
    @blp.arguments(BotStatusSchema)
    @blp.response(200, BotSchema)
    @blp.alt_response(404, description="Unknown, deleted, or someone else's private bot.")
    @blp.alt_response(403, description="Someone else's public bot (read-only).")
    def patch(self, args, bot_id):
        """Set a bot to running (or active) or paused; resuming clears an error."""
        return service.set_bot_status(actor_id=current_user_id(), bot_id=bot_id, **args)


@blp.route("/<id:bot_id>/performance")
class BotPerformance(MethodView):
    """Equity curve and orders."""

    @jwt_required()
    @blp.response(200, BotPerformanceSchema)
    @blp.alt_response(404, description="Unknown, deleted, or someone else's private bot.")
    def get(self, bot_id):
        """Get a bot's equity points and orders, oldest first."""
        return service.get_performance(actor_id=current_user_id(), bot_id=bot_id)


@blp.route("/<id:bot_id>/ledger")
class BotLedger(MethodView):
    """Ledger entries and the invariant check."""

    @jwt_required()
    @blp.response(200, BotLedgerSchema)
    @blp.alt_response(404, description="Unknown, deleted, or someone else's private bot.")
    def get(self, bot_id):
        """Get a bot's ledger entries and the check equity = cash + position * mark."""
        return service.get_ledger(actor_id=current_user_id(), bot_id=bot_id)


@blp.route("/<id:bot_id>/orders")
class BotOrders(MethodView):
    """Manual paper orders."""

    @jwt_required()
    @blp.arguments(OrderHeadersSchema, location="headers")
    @blp.arguments(OrderCreateSchema)
    @blp.response(201, OrderSchema)
    @blp.alt_response(404, description="Unknown, deleted, or someone else's private bot.")
    @blp.alt_response(403, description="Someone else's public bot (read-only).")
    @blp.alt_response(409, description="Idempotency-Key reused with a different body.")
    def post(self, headers, args, bot_id):
        """Place a market order at the latest close; the same Idempotency-Key replays it.
        ---
        Same key and same body: the first order is returned. Same key, different body: 409
        with ``details.reason = "idempotency_conflict"``.
        """
        return service.place_order(
            actor_id=current_user_id(), bot_id=bot_id, idempotency_key=headers["idempotency_key"], **args
        )
