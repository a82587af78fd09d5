"""Demo marketplace for `flask seed`: demo authors publish verified strategies; copies, follows, a report.

Three demo users (no one logs in as them: their passwords are random) each create a strategy,
backtest it in this process on the 180 days before today (as the backtests seed does) and publish
it, one of them a sealed python strategy (skipped when this machine cannot sandbox code). The
admin's demo strategies (published by the strategies seed, backtested by the backtests seed) are
published too. Then the authors copy and follow each other's strategies and one reports another,
so a new user sees a living marketplace. Idempotent: every step checks what exists first.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from sqlalchemy import select

from backend.core.db import now_ms
from backend.core.errors import AppError
from backend.domain.marketdata.intervals import DAY_MS, floor_time
from backend.extensions import db
from backend.modules.backtests import service as backtests_service
from backend.modules.marketplace import service
from backend.modules.marketplace.models import Copy, Listing, Report
from backend.modules.strategies import service as strategies_service
from backend.modules.strategies.seed import demo_strategy_ids
from backend.modules.users import service as users_service
from backend.sandbox.templates import BOLLINGER

logger = logging.getLogger(__name__)

DEMO_DAYS = 180
DEMO_AUTHORS = ("alice_quant", "bob_swing", "carol_algo")
# (author, name, symbol, interval, kind, params, code, sealed, tags, description)
DEMO_LISTINGS: tuple[
    tuple[str, str, str, str, str, dict[str, Any], str | None, bool, list[str], str], ...
] = (
    (
        "alice_quant",
        "BTC momentum: SMA 8/21",
        "BTCUSDT",
        "1h",
        "sma_cross",
        {"fast": 8, "slow": 21},
        None,
        False,
        ["btc", "trend"],
        "A fast moving-average crossover that rides hourly BTC trends.",
    ),
    (
        "alice_quant",
        "BTC Bollinger breakout (sealed)",
        "BTCUSDT",
        "1h",
        "python",
        {},
        BOLLINGER,
        True,
        ["btc", "breakout"],
        "Python breakout strategy; sealed: try it, copy it, run it as a bot, but the code stays private.",
    ),
    (
        "bob_swing",
        "ETH swing: RSI 14",
        "ETHUSDT",
        "4h",
        "rsi",
        {"period": 14, "lower": 30, "upper": 70},
        None,
        False,
        ["eth", "mean-reversion"],
        "Buys oversold and sells overbought 4h ETH swings.",
    ),
    (
        "carol_algo",
        "Gold slow trend: SMA 30/90",
        "XAUUSD",
        "4h",
        "sma_cross",
        {"fast": 30, "slow": 90},
        None,
        False,
        ["gold", "trend"],
        "A patient trend follower on gold.",
    ),
)
# (who, whose listing name) pairs
DEMO_COPIES = (
    ("bob_swing", "BTC momentum: SMA 8/21"),
    ("carol_algo", "BTC momentum: SMA 8/21"),
    ("carol_algo", "BTC Bollinger breakout (sealed)"),
)
DEMO_FOLLOWS = (
    ("bob_swing", "BTC momentum: SMA 8/21"),
    ("carol_algo", "BTC momentum: SMA 8/21"),
    ("alice_quant", "ETH swing: RSI 14"),
    ("bob_swing", "Gold slow trend: SMA 30/90"),
)
DEMO_REPORT = ("carol_algo", "ETH swing: RSI 14", "misleading", "Only backtested on one bull run.")


def _strategy_id(owner_id: str, name: str) -> str | None:
    views = strategies_service.list_strategies(actor_id=owner_id, page=1, page_size=100).items
    return next((v.id for v in views if v.name == name), None)


def _create(owner_id: str, item: tuple[Any, ...], end: int) -> str | None:
    """Create, backtest and return one demo strategy (None when the sandbox is unavailable)."""
    _, name, symbol, interval, kind, params, code, _, tags, description = item
    try:
        view = strategies_service.create_strategy(
            actor_id=owner_id,
            name=name,
            symbol=symbol,
            interval=interval,
            kind=kind,
            params=params,
            code=code,
            tags=tags,
            description=description,
        )
        backtests_service.run_backtest_sync(
            actor_id=owner_id,
            strategy_id=view.id,
            interval=interval,
            start=end - DEMO_DAYS * DAY_MS,
            end=end,
            fee_bps=10,
            slippage_bps=2,
        )
        db.session.commit()
    except AppError as exc:  # a machine without a sandbox seeds the other strategies
        db.session.rollback()
        logger.warning("demo strategy %r skipped: %s", name, exc.message)
        return None
    return view.id


def _listed(strategy_id: str) -> bool:
    return db.session.scalar(select(Listing.listed).where(Listing.strategy_id == strategy_id)) is True


def seed_demo(*, admin_id: str, now: int | None = None) -> None:
    """Publish the demo strategies and add copies, follows and a report that do not exist yet."""
    end = floor_time(now if now is not None else now_ms(), "1d")
    users = {
        name: users_service.ensure_user(username=name, password=secrets.token_urlsafe(24)).id
        for name in DEMO_AUTHORS
    }
    db.session.commit()
    ids: dict[str, str] = {}
    for item in DEMO_LISTINGS:
        owner_id = users[item[0]]
        sid = _strategy_id(owner_id, item[1]) or _create(owner_id, item, end)
        if sid is None:
            continue
        ids[item[1]] = sid
        if not _listed(sid):
            service.publish_strategy(actor_id=owner_id, strategy_id=sid, sealed=item[7])
    for sid in demo_strategy_ids(admin_id=admin_id):
        if (
            not _listed(sid)
            and strategies_service.get_strategy(actor_id=admin_id, strategy_id=sid).latest_backtest_id
        ):
            service.publish_strategy(actor_id=admin_id, strategy_id=sid)
    _social(users, ids)


def _social(users: dict[str, str], ids: dict[str, str]) -> None:
    for who, name in DEMO_COPIES:
        sid = ids.get(name)
        if sid and not db.session.scalar(
            select(Copy.id).where(Copy.strategy_id == sid, Copy.user_id == users[who])
        ):
            service.copy_strategy(actor_id=users[who], strategy_id=sid)
    for who, name in DEMO_FOLLOWS:
        if name in ids:
            service.follow_strategy(actor_id=users[who], strategy_id=ids[name])
    who, name, reason, details = DEMO_REPORT
    sid = ids.get(name)
    if sid and not db.session.scalar(
        select(Report.id).where(Report.strategy_id == sid, Report.reporter_id == users[who])
    ):
        service.report_strategy(actor_id=users[who], strategy_id=sid, reason=reason, details=details)
