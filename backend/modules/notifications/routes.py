"""Notification endpoints (/api/notifications): the centre, the unread count, read marks, preferences."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import jwt_required

from backend.core.auth import current_user_id
from backend.core.envelope import EnvelopeBlueprint
from backend.core.pagination import PageArgs, paginated
from backend.modules.notifications import service
from backend.modules.notifications.schemas import (
    MarkReadResultSchema,
    MarkReadSchema,
    NotificationQueryArgsSchema,
    NotificationSchema,
    PreferencesSchema,
    PreferencesUpdateSchema,
    UnreadCountSchema,
)

blp = EnvelopeBlueprint(
    "notifications",
    __name__,
    url_prefix="/api/notifications",
    description="The notification centre: jobs, bots, workflows and forum activity (docs/notifications.md).",
)


@blp.route("")
@jwt_required()
@blp.arguments(NotificationQueryArgsSchema, location="query")
@blp.response(200, NotificationSchema(many=True))
@paginated(blp)
def list_notifications(args, paging: PageArgs):
    """List my notifications.

    Order: `createdAt` descending (newest first), then `id`. `?unread=true` lists unread ones only.
    """
    return service.list_notifications(actor_id=current_user_id(), unread=args["unread"], **paging)


@blp.route("/unread-count")
@jwt_required()
@blp.response(200, UnreadCountSchema)
def unread_count():
    """Count my unread notifications."""
    return service.unread_count(actor_id=current_user_id())


@blp.route("/read", methods=["POST"])
@jwt_required()
@blp.arguments(MarkReadSchema)
@blp.response(200, MarkReadResultSchema)
def mark_read(body):
    """Mark notifications read: `ids` (at most 200; ids that are not mine are ignored) or `all: true`."""
    return service.mark_read(actor_id=current_user_id(), ids=body.get("ids"), all_=body.get("all", False))


@blp.route("/preferences")
class Preferences(MethodView):
    """My notification preferences."""

    @jwt_required()
    @blp.response(200, PreferencesSchema)
    def get(self):
        """Return the types I muted and the catalogue of types."""
        return service.get_preferences(actor_id=current_user_id())

    @jwt_required()
    @blp.arguments(PreferencesUpdateSchema)
    @blp.response(200, PreferencesSchema)
    def put(self, body):
        """Replace the list of types I mute (a muted type creates no notification)."""
        return service.set_preferences(actor_id=current_user_id(), muted=body["muted"])
