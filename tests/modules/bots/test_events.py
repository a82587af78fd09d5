"""Bots tell their owner's stream: bot.order + bot.fill per booked order, bot.error, bot.status."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from backend.core import events
from backend.core.redis import get_redis
from backend.modules.bots import service
from tests.fixtures.bots import T0


@pytest.fixture
def seen():
    got: list[events.Event] = []
    events.subscribe(got.append)
    yield got
    events._subscribers.remove(got.append)


def test_a_manual_order_emits_order_then_fill_with_money_as_strings(client, user, make_bot, seen, app):
    bot = make_bot(user)
    seen.clear()
    resp = client.post(
        f"/api/bots/{bot['id']}/orders", headers=user.headers, json={"side": "buy", "quantity": 2}
    )
    order = resp.get_json()["data"]
    assert [e.type for e in seen] == ["bot.order", "bot.fill"]
    fill = seen[1]
    assert (fill.topic, fill.user_id, fill.object_id) == ("bots", user.id, bot["id"])
    assert fill.data["botId"] == bot["id"] and fill.data["orderId"] == order["id"]
    assert fill.data["side"] == "buy" and D(fill.data["quantity"]) == 2
    assert isinstance(fill.data["price"], str) and D(fill.data["price"]) == D(str(order["price"]))
    assert {"fee", "notional", "realisedPnl", "cashAfter", "positionAfter"} <= set(fill.data)
    with app.app_context():  # published after the commit, on the owner's stream
        wire = [json.loads(f["e"]) for _i, f in get_redis().xrange(events.user_stream_key(user.id))]
    assert [e["type"] for e in wire][-2:] == ["bot.order", "bot.fill"]


def test_ticks_emit_fills_and_an_error_emits_error_and_status(ctx, user, bot_strategy, wave_market, seen):
    view = service.create_bot(
        actor_id=user.id,
        name="replay",
        strategy_id=bot_strategy(user.id),
        start_ms=T0,
        now=wave_market.now,
        fee_bps=D(0),
        slippage_bps=D(0),
        capital=D(10000),
    )
    assert [(e.type, e.data["status"]) for e in seen] == [("bot.status", "running")]
    outcome = service.tick_bot(bot_id=view.id, now=wave_market.at_bar(60))
    fills = [e for e in seen if e.type == "bot.fill"]
    assert len(fills) == outcome.orders >= 2 and all(e.object_id == view.id for e in fills)
    seen.clear()
    wave_market.fail_loads(RuntimeError("exchange timeout"))
    service.tick_bot(bot_id=view.id, now=wave_market.at_bar(90))
    assert [e.type for e in seen] == ["bot.error", "bot.status"]
    assert seen[0].data["reason"] == "provider_error" and seen[1].data["status"] == "error"
    seen.clear()
    service.set_bot_status(actor_id=user.id, bot_id=view.id, status="paused", now=wave_market.now)
    assert [(e.type, e.data["status"]) for e in seen] == [("bot.status", "paused")]
