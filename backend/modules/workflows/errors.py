"""Workflow errors, each with a stable dotted code."""

from __future__ import annotations

from backend.core.errors import Invalid, NotFound


class WorkflowNotFound(NotFound):
    """Raise when a workflow does not exist or belongs to someone else."""

    code = "workflows.not_found"
    default_message = "Workflow not found."


class WorkflowRunNotFound(NotFound):
    """Raise when a run does not exist or its workflow belongs to someone else."""

    code = "workflows.run_not_found"
    default_message = "Workflow run not found."


class WorkflowVersionNotFound(NotFound):
    """Raise when a workflow version id is unknown (or not visible to the caller)."""

    code = "workflows.version_not_found"
    default_message = "Workflow version not found."


class InvalidGraph(Invalid):
    """Raise when a graph to save or run fails validation; ``details.errors`` lists every problem."""

    code = "workflows.invalid_graph"
    default_message = "The workflow graph is invalid."

    def __init__(self, errors: list[dict], message: str | None = None) -> None:
        super().__init__(
            message or f"The workflow graph has {len(errors)} problem(s).", details={"errors": errors}
        )


class NoCronTrigger(Invalid):
    """Raise when enabling the schedule of a workflow that has no cron trigger."""

    code = "workflows.no_cron_trigger"
    default_message = "This workflow has no cron trigger to enable."

    def __init__(self) -> None:
        super().__init__(fields={"graph": ["Add a trigger node with mode 'cron' to schedule this workflow."]})
