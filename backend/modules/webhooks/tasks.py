"""Celery tasks of webhooks (queue ``webhooks``): one attempt per task, and the beat's retry sweep."""

from __future__ import annotations

from celery import shared_task

from backend.modules.webhooks import service


# An attempt is bounded by WEBHOOKS_CONNECT_TIMEOUT_S + WEBHOOKS_READ_TIMEOUT_S; the limits are a backstop.
@shared_task(name="webhooks.deliver", ignore_result=True, acks_late=True, soft_time_limit=60, time_limit=90)
def deliver(delivery_id: str) -> str | None:
    """Make one attempt of a webhook delivery (a duplicate finds it claimed or done)."""
    return service.deliver(delivery_id=delivery_id)


@shared_task(name="webhooks.enqueue_due", ignore_result=True)
def enqueue_due() -> int:
    """Enqueue the deliveries whose retry is due."""
    return service.enqueue_due()
