"""`flask seed` part of bots: public running demo bots with history, idempotent."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.extensions import db
from backend.modules.bots.models import BotEquity, BotInstance, Order
from backend.modules.bots.seed import DEMO_BOTS, seed_demo


def test_seed_creates_public_running_bots_with_history(ctx, user, client):
    seed_demo(admin_id=user.id)
    seed_demo(admin_id=user.id)  # idempotent
    bots = db.session.scalars(select(BotInstance).where(BotInstance.owner_id == user.id)).all()
    assert len(bots) == len(DEMO_BOTS)
    for bot in bots:
        assert bot.status == "running" and bot.is_public
        points = db.session.scalar(
            select(func.count()).select_from(BotEquity).where(BotEquity.bot_id == bot.id)
        )
        assert points >= 24 * 13  # about two weeks or more of 1h bars
    assert db.session.scalar(select(func.count()).select_from(Order)) > 0
    anon = client.get("/api/bots/recent").get_json()["data"]
    names = {b["name"] for b in anon}
    assert {b[0] for b in DEMO_BOTS} <= names
    assert all(b["status"] == "active" and b["runtime"].endswith("h") for b in anon)
