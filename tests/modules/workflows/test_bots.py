"""A paper bot on a workflow strategy trades exactly like a bot on the built-in SMA crossover."""

from __future__ import annotations

from decimal import Decimal as D

from sqlalchemy import select

from backend.extensions import db
from tests.domain.workflow.builders import sma_cross_graph
from tests.fixtures.bots import T0


def _orders(bot_id: str) -> list[tuple]:
    from backend.modules.bots.models import Order

    rows = db.session.scalars(select(Order).where(Order.bot_id == bot_id).order_by(Order.time)).all()
    return [(o.time, o.side, o.price, o.quantity) for o in rows]


def test_workflow_bot_matches_builtin_bot(ctx, user, make_workflow, bot_strategy, wave_market):
    from backend.modules.bots import service as bots_service
    from backend.modules.strategies import service as strategies_service

    wf = make_workflow(user, sma_cross_graph(3, 8), name="SMA 3/8")
    flow_strategy = strategies_service.create_strategy(
        actor_id=user.id,
        name="flow 3/8",
        symbol="BTCUSDT",
        kind="workflow",
        params={"workflow_version_id": wf["versionId"]},
        interval="1m",
    ).id
    bots = [
        bots_service.create_bot(
            actor_id=user.id,
            name=name,
            strategy_id=sid,
            capital=D(10000),
            fee_bps=D(0),
            slippage_bps=D(0),
            start_ms=T0,
            now=wave_market.now,
        )
        for name, sid in (("flow", flow_strategy), ("builtin", bot_strategy(user.id)))
    ]
    for index in range(12, 200):  # one tick per new bar, as the beat would
        now = wave_market.at_bar(index)
        for bot in bots:
            bots_service.tick_bot(bot_id=bot.id, now=now)
    flow, builtin = _orders(bots[0].id), _orders(bots[1].id)
    assert len(builtin) >= 6 and flow == builtin
