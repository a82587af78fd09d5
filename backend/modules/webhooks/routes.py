"""Webhook endpoints (/api/webhooks): my endpoints, their secrets, delivery log, replay and ping."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import jwt_required

from backend.core.auth import current_user_id
from backend.core.envelope import EnvelopeBlueprint
from backend.core.pagination import PageArgs, paginated
from backend.modules.webhooks import service
from backend.modules.webhooks.schemas import (
    DeliverySchema,
    WebhookCreateSchema,
    WebhookEventTypeSchema,
    WebhookSchema,
    WebhookSecretSchema,
    WebhookUpdateSchema,
)

blp = EnvelopeBlueprint(
    "webhooks",
    __name__,
    url_prefix="/api/webhooks",
    description="Signed webhooks: endpoints, events, delivery log, replay (docs/webhooks.md).",
)


@blp.route("")
class Webhooks(MethodView):
    """My webhook endpoints."""

    @jwt_required()
    @blp.response(200, WebhookSchema(many=True))
    @paginated(blp)
    def get(self, paging: PageArgs):
        """List my webhook endpoints.

        Order: `createdAt` descending (newest first), then `id`.
        """
        return service.list_webhooks(actor_id=current_user_id(), **paging)

    @jwt_required()
    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, WebhookSecretSchema)
    def post(self, body):
        """Register an endpoint; the answer carries its secret, shown this once.

        422 `webhooks.invalid_url` names the broken rule: not http(s), longer than 2048 characters,
        or a host on a private, loopback, link-local, multicast or reserved address.
        409 `webhooks.limit_reached` past `WEBHOOKS_MAX_PER_USER`.
        """
        return service.create_webhook(actor_id=current_user_id(), **body)


@blp.route("/events")
@jwt_required()
@blp.response(200, WebhookEventTypeSchema(many=True))
def event_types():
    """List the event types an endpoint may subscribe to.

    Order: fixed: the catalogue's order.
    """
    return [{"type": t, "description": d} for t, d in service.CATALOGUE.items()]


@blp.route("/<id:webhook_id>")
class WebhookById(MethodView):
    """One of my endpoints."""

    @jwt_required()
    @blp.response(200, WebhookSchema)
    def get(self, webhook_id: str):
        """Return my endpoint (never its secret)."""
        return service.get_webhook(actor_id=current_user_id(), webhook_id=webhook_id)

    @jwt_required()
    @blp.arguments(WebhookUpdateSchema)
    @blp.response(200, WebhookSchema)
    def patch(self, changes, webhook_id: str):
        """Change my endpoint's URL, events, active flag or description."""
        return service.update_webhook(actor_id=current_user_id(), webhook_id=webhook_id, changes=changes)

    @jwt_required()
    @blp.response(200)
    def delete(self, webhook_id: str):
        """Delete my endpoint and its delivery log."""
        service.delete_webhook(actor_id=current_user_id(), webhook_id=webhook_id)


@blp.route("/<id:webhook_id>/rotate-secret", methods=["POST"])
@jwt_required()
@blp.response(200, WebhookSecretSchema)
def rotate_secret(webhook_id: str):
    """Replace my endpoint's secret; the answer carries the new one, shown this once."""
    return service.rotate_secret(actor_id=current_user_id(), webhook_id=webhook_id)


@blp.route("/<id:webhook_id>/ping", methods=["POST"])
@jwt_required()
@blp.response(202, DeliverySchema)
def ping(webhook_id: str):
    """Send a signed `ping` event to my endpoint (409 `webhooks.inactive` if it is not active)."""
    return service.ping(actor_id=current_user_id(), webhook_id=webhook_id)


@blp.route("/<id:webhook_id>/deliveries")
@jwt_required()
@blp.response(200, DeliverySchema(many=True))
@paginated(blp)
def deliveries(webhook_id: str, paging: PageArgs):
    """List my endpoint's deliveries: status, attempts, response code, duration, error, next retry.

    Order: `createdAt` descending (newest first), then `id`.
    """
    return service.list_deliveries(actor_id=current_user_id(), webhook_id=webhook_id, **paging)


@blp.route("/<id:webhook_id>/deliveries/<id:delivery_id>/replay", methods=["POST"])
@jwt_required()
@blp.response(202, DeliverySchema)
def replay(webhook_id: str, delivery_id: str):
    """Send a past delivery's body again, as a new delivery with the same event id."""
    return service.replay_delivery(actor_id=current_user_id(), webhook_id=webhook_id, delivery_id=delivery_id)
