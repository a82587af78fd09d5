"""Celery task of the stream module (queue ``default``): market bars for watched markets."""

from __future__ import annotations

from celery import shared_task

from backend.modules.stream import service


@shared_task(name="stream.publish_market_bars", ignore_result=True)
def publish_market_bars() -> int:
    """Publish a snapshot for each market an open stream follows whose latest bar is new."""
    return service.publish_new_bars()
