"""Demo strategies for `flask seed`: published SMA crossover and RSI strategies (idempotent).

The backtests seed (run next) computes a completed backtest for each, so the dashboard's
showcase has real numbers on a fresh stack.
"""

from __future__ import annotations

from sqlalchemy import select

from backend.extensions import db
from backend.modules.strategies import service
from backend.modules.strategies.models import Strategy

# (name, symbol, interval, kind, params, tags)
DEMO_STRATEGIES = (
    ("Gold trend: SMA 20/50", "XAUUSD", "1h", "sma_cross", {"fast": 20, "slow": 50}, ["gold", "trend"]),
    (
        "Gold mean reversion: RSI 14",
        "XAUUSD",
        "4h",
        "rsi",
        {"period": 14, "lower": 30, "upper": 70},
        ["gold", "mean-reversion"],
    ),
    ("BTC trend: SMA 10/30", "BTCUSDT", "1h", "sma_cross", {"fast": 10, "slow": 30}, ["btc", "trend"]),
    (
        "BTC mean reversion: RSI 14",
        "BTCUSDT",
        "1h",
        "rsi",
        {"period": 14, "lower": 25, "upper": 75},
        ["btc", "mean-reversion"],
    ),
)


def demo_strategy_ids(*, admin_id: str) -> list[str]:
    """Return the ids of the admin's demo strategies that exist, in DEMO_STRATEGIES order."""
    names = [item[0] for item in DEMO_STRATEGIES]
    rows = {
        r.name: r.id
        for r in db.session.scalars(
            select(Strategy).where(
                Strategy.owner_id == admin_id, Strategy.name.in_(names), Strategy.deleted_at.is_(None)
            )
        )
    }
    return [rows[n] for n in names if n in rows]


def seed_demo(*, admin_id: str) -> None:
    """Create and publish the demo strategies that do not exist yet."""
    existing = set(
        db.session.scalars(
            select(Strategy.name).where(Strategy.owner_id == admin_id, Strategy.deleted_at.is_(None))
        )
    )
    for name, symbol, interval, kind, params, tags in DEMO_STRATEGIES:
        if name not in existing:
            service.create_strategy(
                actor_id=admin_id,
                name=name,
                symbol=symbol,
                interval=interval,
                kind=kind,
                params=params,
                tags=tags,
                published=True,
                description="Demo strategy: a built-in kind with fixed parameters.",
            )
