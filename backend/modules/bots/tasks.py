"""Celery tasks of bots (queue ``bots``): the beat's scheduler and one tick per bot and bar."""

from __future__ import annotations

from celery import shared_task

from backend.modules.bots import service


@shared_task(name="bots.schedule_ticks", ignore_result=True)
def schedule_ticks() -> int:
    """Enqueue one tick per running bot whose next bar is due."""
    return service.enqueue_due_ticks()


# A tick takes milliseconds; the limits keep a hung market read from holding a worker slot.
@shared_task(name="bots.tick", ignore_result=True, acks_late=True, soft_time_limit=60, time_limit=90)
def tick_bot(bot_id: str) -> str:
    """Run one tick of a bot (idempotent: a duplicate finds the cursor advanced or the row locked)."""
    return service.tick_bot(bot_id=bot_id).status
