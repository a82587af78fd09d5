"""Workflow endpoints (/api/workflows): CRUD, validate, execute, runs with traces, schedule."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import jwt_required

from backend.core.auth import current_user_id
from backend.core.envelope import EnvelopeBlueprint
from backend.core.pagination import PageArgs, paginated
from backend.modules.workflows import service
from backend.modules.workflows.schemas import (
    WorkflowCreateSchema,
    WorkflowExecuteResultSchema,
    WorkflowNodeTypeSchema,
    WorkflowNotificationSchema,
    WorkflowRunDetailSchema,
    WorkflowRunSchema,
    WorkflowSchema,
    WorkflowUpdateSchema,
    WorkflowValidateBodySchema,
    WorkflowValidationSchema,
)

blp = EnvelopeBlueprint(
    "workflows",
    __name__,
    url_prefix="/api/workflows",
    description="Visual workflows: graphs, validation, runs with per-node traces, cron.",
)


@blp.route("")
class Workflows(MethodView):
    """My workflows."""

    @jwt_required()
    @blp.response(200, WorkflowSchema(many=True))
    @paginated(blp)
    def get(self, paging: PageArgs):
        """List my workflows.

        Order: `updatedAt` descending (most recently updated first), then `id`.
        """
        return service.list_workflows(actor_id=current_user_id(), **paging)

    @jwt_required()
    @blp.arguments(WorkflowCreateSchema)
    @blp.response(201, WorkflowSchema)
    def post(self, body):
        """Save a new workflow (422 workflows.invalid_graph lists every problem)."""
        return service.create_workflow(actor_id=current_user_id(), **body)


@blp.route("/validate", methods=["POST"])
@jwt_required()
@blp.arguments(WorkflowValidateBodySchema)
@blp.response(200, WorkflowValidationSchema)
def validate_graph(body):
    """Validate a graph: every problem at once, and the run order."""
    return service.validate_graph(graph=body["graph"])


@blp.route("/node-types", methods=["GET"])
@jwt_required()
@blp.response(200, WorkflowNodeTypeSchema(many=True))
def node_types():
    """List the node types and their parameter schemas.

    Order: fixed: the engine's registry order (trigger, data, logic, action).
    """
    return service.list_node_types()


@blp.route("/notifications", methods=["GET"])
@jwt_required()
@blp.response(200, WorkflowNotificationSchema(many=True))
@paginated(blp)
@blp.doc(deprecated=True)
def notifications(paging: PageArgs):
    """List my workflow notifications (deprecated: use GET /api/notifications).

    Order: `createdAt` descending (newest first), then `id`. Deprecated: every notify action also
    creates a `workflow.notify` notification in the notification centre (`GET /api/notifications`),
    which has read marks and mutes; this list stays until clients have moved.
    """
    return service.list_notifications(actor_id=current_user_id(), **paging)


@blp.route("/<id:workflow_id>")
class WorkflowById(MethodView):
    """One of my workflows."""

    @jwt_required()
    @blp.response(200, WorkflowSchema)
    def get(self, workflow_id: str):
        """Return my workflow with its current graph."""
        return service.get_workflow(actor_id=current_user_id(), workflow_id=workflow_id)

    @jwt_required()
    @blp.arguments(WorkflowUpdateSchema)
    @blp.response(200, WorkflowSchema)
    def put(self, changes, workflow_id: str):
        """Rename or save a new graph (a changed graph becomes a new immutable version)."""
        return service.update_workflow(actor_id=current_user_id(), workflow_id=workflow_id, changes=changes)

    @jwt_required()
    @blp.response(200)
    def delete(self, workflow_id: str):
        """Delete my workflow with its versions and runs."""
        service.delete_workflow(actor_id=current_user_id(), workflow_id=workflow_id)


@blp.route("/<id:workflow_id>/execute", methods=["POST"])
@jwt_required()
@blp.response(202, WorkflowExecuteResultSchema)
def execute(workflow_id: str):
    """Queue a manual run of the current version on the workflows queue."""
    return service.submit_run(actor_id=current_user_id(), workflow_id=workflow_id)


@blp.route("/<id:workflow_id>/runs", methods=["GET"])
@jwt_required()
@blp.response(200, WorkflowRunSchema(many=True))
@paginated(blp)
def runs(workflow_id: str, paging: PageArgs):
    """List a workflow's runs.

    Order: `createdAt` descending (newest first), then `id`.
    """
    return service.list_runs(actor_id=current_user_id(), workflow_id=workflow_id, **paging)


@blp.route("/runs/<id:run_id>", methods=["GET"])
@jwt_required()
@blp.response(200, WorkflowRunDetailSchema)
def run_detail(run_id: str):
    """Return a run with its per-node trace."""
    return service.get_run(actor_id=current_user_id(), run_id=run_id)


@blp.route("/<id:workflow_id>/enable", methods=["POST"])
@jwt_required()
@blp.response(200, WorkflowSchema)
def enable(workflow_id: str):
    """Enable the workflow's cron triggers."""
    return service.set_enabled(actor_id=current_user_id(), workflow_id=workflow_id, enabled=True)


@blp.route("/<id:workflow_id>/disable", methods=["POST"])
@jwt_required()
@blp.response(200, WorkflowSchema)
def disable(workflow_id: str):
    """Disable the workflow's cron triggers."""
    return service.set_enabled(actor_id=current_user_id(), workflow_id=workflow_id, enabled=False)
