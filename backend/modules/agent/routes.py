"""Agent endpoints: audits (async, cited) and the caller's long-term memories."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import jwt_required

from backend.core.auth import current_user_id
from backend.core.envelope import EnvelopeBlueprint
from backend.core.pagination import PageArgs, paginated
from backend.modules.agent import service
from backend.modules.agent.schemas import (
    AuditCreateSchema,
    AuditSchema,
    AuditSubmittedSchema,
    DeletedSchema,
    MemoryCreateSchema,
    MemorySchema,
)

blp = EnvelopeBlueprint(
    "agent",
    __name__,
    url_prefix="/api/agent",
    description="AI auditor: deterministic findings, cited narrative, per-user memory.",
)


@blp.route("/audit")
class AuditSubmit(MethodView):
    """Ask for an audit."""

    @jwt_required()
    @blp.arguments(AuditCreateSchema)
    @blp.response(202, AuditSubmittedSchema)
    def post(self, body):
        """Audit a backtest, a strategy's latest backtest, a bot, or financial statements."""
        return service.submit_audit(actor_id=current_user_id(), body=body)


@blp.route("/audits")
class Audits(MethodView):
    """My audits."""

    @jwt_required()
    @blp.response(200, AuditSchema(many=True))
    @paginated(blp)
    def get(self, paging: PageArgs):
        """List my audits.

        Order: `createdAt` descending (newest first), then `id`.
        """
        return service.list_audits(actor_id=current_user_id(), **paging)


@blp.route("/audits/<id:audit_id>")
class AuditById(MethodView):
    """One of my audits."""

    @jwt_required()
    @blp.response(200, AuditSchema)
    def get(self, audit_id: str):
        """Read an audit: status, and when completed its score, findings and narrative."""
        return service.get_audit(actor_id=current_user_id(), audit_id=audit_id)


@blp.route("/memories")
class Memories(MethodView):
    """What the auditor remembers about me."""

    @jwt_required()
    @blp.response(200, MemorySchema(many=True))
    def get(self):
        """List my memories.

        Order: `createdAt` descending (newest first; undated last), then `id`.
        """
        return service.list_memories(actor_id=current_user_id())

    @jwt_required()
    @blp.arguments(MemoryCreateSchema)
    @blp.response(201, MemorySchema(many=True))
    def post(self, body):
        """Tell the auditor something to remember (e.g. a risk preference).

        Order: the facts stored, in the order the extractor returned them.
        """
        return service.add_memory(actor_id=current_user_id(), text=body["text"])

    @jwt_required()
    @blp.response(200, DeletedSchema)
    def delete(self):
        """Erase everything the auditor remembers about me."""
        return service.delete_memories(actor_id=current_user_id())


@blp.route("/memories/<id:memory_id>")
class MemoryById(MethodView):
    """One of my memories."""

    @jwt_required()
    @blp.response(200, DeletedSchema)
    def delete(self, memory_id: str):
        """Erase one memory."""
        return service.delete_memory(actor_id=current_user_id(), memory_id=memory_id)
