"""The beat path end to end: enqueue_due_ticks -> the bots queue -> a real Celery worker."""

from __future__ import annotations

import time
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from backend.core.db import now_ms
from backend.extensions import db
from backend.modules.bots import service
from backend.modules.bots.models import BotEquity, BotInstance

pytestmark = pytest.mark.integration


def _wait_for(app, bot_id, predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            bot = db.session.get(BotInstance, bot_id)
            points = db.session.scalar(
                select(func.count()).select_from(BotEquity).where(BotEquity.bot_id == bot_id)
            )
            db.session.remove()
        if predicate(bot, points):
            return bot, points
        time.sleep(0.3)
    raise AssertionError(f"bot {bot_id} did not get there in {timeout}s")


def test_scheduled_ticks_run_on_a_real_worker(app, committed, celery_worker, user):
    from backend.modules.strategies import service as strategies_service

    now = now_ms()
    with app.app_context():
        strategy = strategies_service.create_strategy(
            actor_id=user.id,
            name="SMA 3/8",
            symbol="BTCUSDT",
            kind="sma_cross",
            params={"fast": 3, "slow": 8},
            interval="1m",
        )
        ok = service.create_bot(
            actor_id=user.id,
            name="ok",
            strategy_id=strategy.id,
            capital=D(1000),
            start_ms=now - 3 * 3_600_000,
            now=now,
        )
        assert service.enqueue_due_ticks(now=now) == 1
    bot, points = _wait_for(app, ok.id, lambda b, n: b.last_tick_ms is not None)
    assert bot.status == "running" and points >= 170  # about 3 hours of 1m bars
    assert bot.next_tick_ms > now
    with app.app_context():
        assert service.get_ledger(actor_id=user.id, bot_id=ok.id).check.ok
