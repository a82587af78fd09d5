"""Paper bots of `python` strategies: a tick runs the code in the sandbox on the bot's window.

The strategy is created through the API; ticks are the worker's entry point (``tick_bot``), as
the beat schedule calls it; the bot is read back through the API.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.modules.bots import service as bots_service
from backend.modules.bots.models import BotEquity, Order
from backend.modules.strategies import python_kind
from backend.sandbox import runtime
from backend.sandbox.templates import SMA_CROSS
from tests.fixtures.bots import T0
from tests.helpers.api import ok


@pytest.fixture
def python_bot(client, ctx, user, wave_market):
    """Return a factory: a bot from bar 0 of the wave market running python ``code`` (API-created)."""

    def _make(code: str, params: dict | None = None, kind: str = "python") -> str:
        body = {"name": "py", "symbol": "BTCUSDT", "interval": "1m", "kind": kind, "params": params or {}}
        if kind == "python":
            body["code"] = code
        strategy = ok(client.post("/api/strategies", json=body, headers=user.headers), 201)
        bot = bots_service.create_bot(
            actor_id=user.id,
            name=kind,
            strategy_id=strategy["id"],
            capital=D(10000),
            fee_bps=D(5),
            slippage_bps=D(0),
            start_ms=T0,
            now=wave_market.now,
        )
        return bot.id

    return _make


def _orders(bot_id: str) -> list[tuple[int, str, D, D]]:
    rows = db.session.scalars(select(Order).where(Order.bot_id == bot_id).order_by(Order.time))
    return [(o.time, o.side, o.price, o.quantity) for o in rows]


def _equity_points(bot_id: str) -> int:
    return (
        db.session.scalar(select(func.count()).select_from(BotEquity).where(BotEquity.bot_id == bot_id)) or 0
    )


def test_a_python_sma_bot_trades_like_the_builtin_bot(python_bot, wave_market):
    params = {"fast": 3, "slow": 8}
    ours, builtin = python_bot(SMA_CROSS, params), python_bot("", params, kind="sma_cross")
    for index in range(12, 200, 7):
        for bot_id in (ours, builtin):
            assert bots_service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(index)).status == "ran"
    assert len(_orders(ours)) > 4 and _orders(ours) == _orders(builtin)


FAILURES = [
    (
        "raises",
        "    raise ValueError('no edge')",
        "strategy_error",
        "line 5, in signals: raise ValueError('no edge')",
    ),
    ("infinite_loop", "    while True:\n        pass", "strategy_timeout", "CPU"),
    (
        "wrong_length",
        "    return {'entries': [True], 'exits': [False]}",
        "strategy_output_invalid",
        "1-D array",
    ),
]


@pytest.mark.parametrize(("name", "signals_body", "reason", "says"), FAILURES, ids=[f[0] for f in FAILURES])
def test_a_failing_python_strategy_puts_its_bot_in_error_and_books_nothing(
    client, user, python_bot, wave_market, monkeypatch, name, signals_body, reason, says
):
    monkeypatch.setattr(python_kind, "RUN_LIMITS", runtime.Limits(wall_seconds=4.0, cpu_seconds=1))
    code = f"PARAMS = {{}}\n\n\ndef signals(bars, params):\n{signals_body}\n"
    bot_id = python_bot(code)
    outcome = bots_service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(60))
    assert (outcome.status, outcome.reason) == ("failed", reason)
    bot = ok(client.get(f"/api/bots/{bot_id}", headers=user.headers))
    assert (bot["status"], bot["errorReason"]) == ("error", reason)
    assert says in bot["errorMessage"]
    assert _orders(bot_id) == [] and _equity_points(bot_id) == 0
    assert bots_service.tick_bot(bot_id=bot_id, now=wave_market.at_bar(80)).status == "skipped"
