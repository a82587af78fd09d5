"""Which events become notifications, and how each reads: type, title, body, link, dedupe key.

Pure mapping from an ``core.events.Event`` to a ``Draft`` (no database): the service decides
whether the user muted the type and stores it. Events that map to nothing (job progress, a bot's
order or status change, a cancelled job: the user's own action) return None.

Links are object paths for the frontend. A job event names the object it produced when its data
carries the id (``backtestId``, ``sweepId``, ``auditId``, ``runId``); otherwise the link falls back
to the subject (a backtest's or sweep's strategy, a run's workflow) or to ``/jobs/<jobId>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backend.core.events import Event

# The catalogue of notification types (GET /api/notifications/preferences lists it; docs/notifications.md).
TYPES: dict[str, str] = {
    "backtest.completed": "A backtest (or a reproduction) finished",
    "backtest.failed": "A backtest (or a reproduction) failed",
    "sweep.completed": "A parameter sweep finished",
    "sweep.failed": "A parameter sweep failed",
    "workflow_run.failed": "A workflow run failed",
    "audit.completed": "An AI audit is ready",
    "audit.failed": "An AI audit failed",
    "bot.fill": "A paper bot's order was filled",
    "bot.error": "A paper bot stopped on an error",
    "workflow.notify": "A workflow reached a notify action",
    "forum.reply": "Someone commented on your post",
    "forum.like": "Someone liked your post",
    "forum.follow": "Someone followed you",
    "marketplace.copy": "Someone copied your strategy from the marketplace",
    "marketplace.follow": "Someone followed your strategy in the marketplace",
}

# job kind -> (type prefix, noun, link templates tried in order: the first whose keys are present)
_KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "backtests.run": ("backtest", "Backtest", ("/backtests/{backtestId}", "/strategies/{subjectId}")),
    "backtests.reproduce": (
        "backtest",
        "Reproduction",
        ("/backtests/{backtestId}", "/strategies/{subjectId}"),
    ),
    "backtests.sweep": ("sweep", "Sweep", ("/backtests/sweeps/{sweepId}", "/strategies/{subjectId}")),
    "workflows.run": (
        "workflow_run",
        "Workflow run",
        ("/workflows/runs/{runId}", "/workflows/{subjectId}"),
    ),
    "agent.audit": ("audit", "Audit", ("/agent/audits/{auditId}", "/agent/audits/{subjectId}")),
}
# Successful workflow runs are not notified: a cron workflow may run every minute, and what a
# run means to its owner is said by its notify actions (workflow.notify).
_QUIET_SUCCESSES = frozenset({"workflows.run"})


@dataclass(frozen=True)
class Draft:
    """A notification about to be stored for ``user_id``."""

    user_id: str
    type: str
    title: str
    body: str | None
    link: str
    object_id: str | None
    dedupe_key: str | None


def _text(value: Any, limit: int) -> str:
    text = str(value or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(templates: tuple[str, ...], data: Mapping[str, Any], fallback: str) -> str:
    for template in templates:
        try:
            return template.format_map({k: v for k, v in data.items() if v})
        except KeyError:
            continue
    return fallback


def _job(event: Event, user_id: str) -> Draft | None:
    data = event.data
    kind = str(data.get("kind", ""))
    if event.type not in ("job.succeeded", "job.failed") or kind not in _KINDS:
        return None
    succeeded = event.type == "job.succeeded"
    if succeeded and kind in _QUIET_SUCCESSES:
        return None
    prefix, noun, templates = _KINDS[kind]
    job_id = str(data.get("jobId") or event.object_id or "")
    failure = _text(data.get("message") or data.get("reason"), 1000) or None
    return Draft(
        user_id=user_id,
        type=f"{prefix}.{'completed' if succeeded else 'failed'}",
        title=f"{noun} {'finished' if succeeded else 'failed'}",
        body=None if succeeded else failure,
        link=_link(templates, data, f"/jobs/{job_id}"),
        object_id=job_id or None,
        dedupe_key=f"{event.type}:{job_id}" if job_id else None,
    )


def _bot(event: Event, user_id: str) -> Draft | None:
    data = event.data
    bot_id = str(data.get("botId") or event.object_id or "")
    name = _text(data.get("botName") or data.get("name") or "Your bot", 120)
    if event.type == "bot.fill":
        side, symbol = str(data.get("side", "")).lower(), data.get("symbol", "")
        qty, price = data.get("quantity"), data.get("price")
        body = " ".join(str(p) for p in (side, qty, symbol) if p) + (
            f" at {price}" if price is not None else ""
        )
        fill_id = data.get("orderId") or data.get("fillId")
        return Draft(
            user_id=user_id,
            type="bot.fill",
            title=f"{name}: order filled",
            body=_text(body, 500) or None,
            link=f"/bots/{bot_id}",
            object_id=bot_id or None,
            dedupe_key=f"bot.fill:{fill_id}" if fill_id else None,
        )
    if event.type == "bot.error":
        return Draft(
            user_id=user_id,
            type="bot.error",
            title=f"{name} stopped on an error",
            body=_text(data.get("message") or data.get("error") or data.get("reason"), 1000) or None,
            link=f"/bots/{bot_id}",
            object_id=bot_id or None,
            dedupe_key=None,
        )
    return None  # bot.order, bot.status: visible on the stream, not worth a notification


def _workflow(event: Event, user_id: str) -> Draft:
    data = event.data
    run_id, node_id = data.get("runId"), data.get("nodeId")
    return Draft(
        user_id=user_id,
        type="workflow.notify",
        title=_text(f"Workflow {data.get('workflowName') or ''}".strip(), 300),
        body=_text(data.get("message"), 2000) or None,
        link=f"/workflows/runs/{run_id}" if run_id else f"/workflows/{data.get('workflowId', '')}",
        object_id=str(run_id) if run_id else None,
        dedupe_key=f"workflow.notify:{run_id}:{node_id}" if run_id and node_id else None,
    )


def _forum(event: Event, user_id: str) -> Draft | None:
    data = event.data
    actor_id, actor = data.get("actorId"), _text(data.get("actorName") or "Someone", 80)
    if not actor_id or actor_id == user_id:
        return None  # never about one's own action
    post_id, title = data.get("postId"), _text(data.get("postTitle"), 120)
    if event.type == "forum.reply":
        comment_id = data.get("commentId")
        return Draft(
            user_id,
            "forum.reply",
            f"{actor} commented on “{title}”",
            _text(data.get("excerpt"), 280) or None,
            f"/forum/posts/{post_id}",
            str(post_id),
            f"forum.reply:{comment_id}" if comment_id else None,
        )
    if event.type == "forum.like":
        return Draft(
            user_id,
            "forum.like",
            f"{actor} liked “{title}”",
            None,
            f"/forum/posts/{post_id}",
            str(post_id),
            f"forum.like:{post_id}:{actor_id}",
        )
    if event.type == "forum.follow":
        return Draft(
            user_id,
            "forum.follow",
            f"{actor} followed you",
            None,
            f"/users/{actor_id}",
            str(actor_id),
            f"forum.follow:{actor_id}",
        )
    return None


# marketplace event -> (verb, the data key that makes each notification one of its own)
_MARKETPLACE = {"marketplace.copy": ("copied", "copyId"), "marketplace.follow": ("followed", "strategyId")}


def _marketplace(event: Event, user_id: str) -> Draft | None:
    data = event.data
    actor_id, actor = data.get("actorId"), _text(data.get("actorName") or "Someone", 80)
    strategy_id, name = data.get("strategyId"), _text(data.get("strategyName"), 120)
    if event.type not in _MARKETPLACE or not actor_id or actor_id == user_id or not strategy_id:
        return None  # never about one's own action
    verb, unique = _MARKETPLACE[event.type]
    if not data.get(unique):
        return None
    return Draft(  # one per copy; one per follower of a strategy (following again tells nobody)
        user_id,
        event.type,
        f"{actor} {verb} “{name}”",
        None,
        f"/marketplace/strategies/{strategy_id}",
        str(strategy_id),
        f"{event.type}:{data[unique]}:{actor_id}",
    )


def draft_for(event: Event) -> Draft | None:
    """Return the notification ``event`` should create, or None if it creates none."""
    if not event.user_id:
        return None
    if event.type.startswith("job."):
        return _job(event, event.user_id)
    if event.type.startswith("bot."):
        return _bot(event, event.user_id)
    if event.type == "workflow.notify":
        return _workflow(event, event.user_id)
    if event.type.startswith("forum."):
        return _forum(event, event.user_id)
    if event.type.startswith("marketplace."):
        return _marketplace(event, event.user_id)
    return None
