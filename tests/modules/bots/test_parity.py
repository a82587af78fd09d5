"""Parity: a bot ticked bar by bar over a window trades exactly like a backtest of that window."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import select

from backend.domain.backtest.engine import run
from backend.domain.backtest.types import BacktestConfig
from backend.extensions import db
from backend.modules.bots import service
from backend.modules.bots.models import BotEquity, Order
from backend.modules.strategies import service as strategies_service
from tests.fixtures.bots import T0


def _engine_fills(trades):
    """Flatten round trips into (time, side, price, quantity) fills, skipping end-of-data exits.

    A reversal (an exit and the opposite entry at the same bar) is one fill of the summed quantity,
    as the bot books it in one order.
    """
    fills: dict[tuple[int, str], list[float]] = {}
    for t in trades:
        side = int(t["side"])
        legs = [(int(t["entry_time"]), "buy" if side > 0 else "sell", float(t["entry_price"]))]
        if not t["closed_at_end"]:
            legs.append((int(t["exit_time"]), "sell" if side > 0 else "buy", float(t["exit_price"])))
        for time, fill_side, price in legs:
            fill = fills.setdefault((time, fill_side), [price, 0.0])
            fill[1] += float(t["quantity"])
    return sorted((time, fill_side, price, qty) for (time, fill_side), (price, qty) in fills.items())


@pytest.mark.parametrize("fee_bps, slippage_bps, allow_short", [(0, 0, False), (10, 5, False), (10, 5, True)])
def test_bot_replay_matches_backtest_trade_by_trade(
    ctx, user, bot_strategy, wave_market, fee_bps, slippage_bps, allow_short
):
    strategy_id = bot_strategy(user.id)
    bot = service.create_bot(
        actor_id=user.id,
        name="parity",
        strategy_id=strategy_id,
        capital=D(10000),
        fee_bps=D(fee_bps),
        slippage_bps=D(slippage_bps),
        allow_short=allow_short,
        start_ms=T0,
        now=wave_market.now,
    )
    for index in range(12, 400):  # one tick per new bar, as the beat schedule would
        service.tick_bot(bot_id=bot.id, now=wave_market.at_bar(index))

    bars = wave_market.bars  # 400 bars, all complete at the last tick
    version = strategies_service.get_version_for_run(
        actor_id=user.id, strategy_id=strategy_id, version_id=bot.strategy_version_id
    )
    signals = strategies_service.compute_signals(kind=version.kind, params=version.params, bars=bars)
    result = run(
        bars,
        signals,
        BacktestConfig(
            initial_capital=10000.0,
            fee_bps=float(fee_bps),
            slippage_bps=float(slippage_bps),
            allow_short=allow_short,
        ),
    )
    expected = _engine_fills(result.trades)
    assert any(int(t["side"]) < 0 for t in result.trades) == allow_short

    orders = db.session.scalars(select(Order).where(Order.bot_id == bot.id).order_by(Order.time)).all()
    got = [(o.time, o.side, float(o.price), float(o.quantity)) for o in orders]
    assert len(got) == len(expected) >= 10
    for (t1, s1, p1, q1), (t2, s2, p2, q2) in zip(got, expected, strict=True):
        assert (t1, s1) == (t2, s2)
        assert p1 == pytest.approx(p2, rel=1e-9)
        assert q1 == pytest.approx(q2, rel=1e-6)
    # the equity curves agree bar by bar (the bot's point t is the engine's equity[t])
    points = db.session.scalars(
        select(BotEquity).where(BotEquity.bot_id == bot.id).order_by(BotEquity.time)
    ).all()
    assert len(points) == 399
    for p in points[::20]:
        index = (p.time - T0) // 60_000
        assert float(p.value) == pytest.approx(float(result.equity[index]), rel=1e-6)
