"""Demo bots for `flask seed`: two running public bots with weeks of paper history (idempotent)."""

from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import select

from backend.core.db import now_ms
from backend.extensions import db
from backend.modules.bots import service
from backend.modules.bots.models import BotInstance
from backend.modules.strategies import service as strategies_service

logger = logging.getLogger(__name__)

DAY_MS = 86_400_000
# (bot name, strategy name, symbol, kind, params, capital, days of history, tags)
DEMO_BOTS = (
    (
        "BTC trend follower",
        "Demo SMA 10/30 (BTC 1h)",
        "BTCUSDT",
        "sma_cross",
        {"fast": 10, "slow": 30},
        Decimal(10000),
        21,
        ["demo", "trend"],
    ),
    (
        "ETH RSI swing",
        "Demo RSI 14 30/70 (ETH 1h)",
        "ETHUSDT",
        "rsi",
        {"period": 14, "lower": 30, "upper": 70},
        Decimal(5000),
        14,
        ["demo", "mean-reversion"],
    ),
)


def _demo_strategy(admin_id: str, name: str, symbol: str, kind: str, params: dict) -> str:
    view = strategies_service.create_strategy(
        actor_id=admin_id,
        name=name,
        symbol=symbol,
        kind=kind,
        params=params,
        interval="1h",
        tags=["demo"],
        published=True,
    )
    return view.id


def seed_demo(*, admin_id: str) -> None:
    """Create the demo bots once and replay their history up to now."""
    now = now_ms()
    existing = set(
        db.session.scalars(
            select(BotInstance.name).where(BotInstance.owner_id == admin_id, BotInstance.deleted_at.is_(None))
        )
    )
    for name, strategy, symbol, kind, params, capital, days, tags in DEMO_BOTS:
        if name in existing:
            continue
        strategy_id = _demo_strategy(admin_id, strategy, symbol, kind, params)
        bot = service.create_bot(
            actor_id=admin_id,
            name=name,
            strategy_id=strategy_id,
            capital=capital,
            tags=tags,
            public=True,
            start_ms=now - days * DAY_MS,
            now=now,
        )
        outcome = service.tick_bot(bot_id=bot.id, now=now)
        logger.info("demo bot %s: %s bars, %s orders", name, outcome.bars, outcome.orders)
