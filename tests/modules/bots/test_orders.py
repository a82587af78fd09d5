"""Manual orders with Idempotency-Key, workflow orders and trade marks."""

from __future__ import annotations

from decimal import Decimal as D

from sqlalchemy import func, select

from backend.extensions import db
from backend.modules.bots import service
from backend.modules.bots.models import Order


def _count(bot_id):
    return db.session.scalar(select(func.count()).select_from(Order).where(Order.bot_id == bot_id))


def test_manual_order_fills_at_latest_close_with_costs(client, user, make_bot, wave_market):
    bot = make_bot(user, fee_bps=10, slippage_bps=20, capital=1000)
    close = D(repr(float(wave_market.bars.close[-1]))).quantize(
        D("1e-8")
    )  # latest complete at the wall clock
    resp = client.post(
        f"/api/bots/{bot['id']}/orders",
        headers={**user.headers, "Idempotency-Key": "k-1"},
        json={"side": "buy", "quantity": 2},
    )
    assert resp.status_code == 201
    order = resp.get_json()["data"]
    price = (close * D("1.002")).quantize(D("1e-8"))
    assert order["side"] == "buy" and order["quantity"] == 2 and order["idempotencyKey"] == "k-1"
    assert D(str(order["price"])) == price
    assert D(str(order["fee"])) == (2 * price * D("0.001")).quantize(D("1e-8"))
    detail = client.get(f"/api/bots/{bot['id']}", headers=user.headers).get_json()["data"]
    assert D(str(detail["cash"])) == D(1000) - 2 * price - D(str(order["fee"]))
    assert detail["position"] == 2


def test_same_key_same_body_replays_and_different_body_is_409(client, user, make_bot):
    bot = make_bot(user)
    headers = {**user.headers, "Idempotency-Key": "retry-me"}
    first = client.post(f"/api/bots/{bot['id']}/orders", headers=headers, json={"side": "buy", "quantity": 1})
    again = client.post(f"/api/bots/{bot['id']}/orders", headers=headers, json={"side": "buy", "quantity": 1})
    assert first.status_code == again.status_code == 201
    assert again.get_json()["data"]["id"] == first.get_json()["data"]["id"]
    assert _count(bot["id"]) == 1
    same_number = client.post(
        f"/api/bots/{bot['id']}/orders", headers=headers, json={"side": "buy", "quantity": "1.00"}
    )
    assert same_number.get_json()["data"]["id"] == first.get_json()["data"]["id"]
    other = client.post(f"/api/bots/{bot['id']}/orders", headers=headers, json={"side": "buy", "quantity": 2})
    assert other.status_code == 409
    body = other.get_json()
    assert body["code"] == 40900 and body["details"]["reason"] == "idempotency_conflict"
    assert _count(bot["id"]) == 1


def test_without_key_every_request_is_a_new_order(client, user, make_bot):
    bot = make_bot(user)
    for _ in range(2):
        assert (
            client.post(
                f"/api/bots/{bot['id']}/orders", headers=user.headers, json={"side": "buy", "quantity": 1}
            ).status_code
            == 201
        )
    assert _count(bot["id"]) == 2


def test_invalid_orders_are_422(client, user, make_bot):
    bot = make_bot(user, capital=100)
    path = f"/api/bots/{bot['id']}/orders"
    cases = [
        ({"side": "hold"}, "side"),
        ({"side": "buy", "quantity": 0}, "quantity"),
        ({"side": "buy", "quantity": "NaN"}, "quantity"),
        ({"side": "sell", "quantity": 1}, "quantity"),
        ({"side": "buy", "quantity": 1000}, "quantity"),
    ]
    for body, field in cases:
        resp = client.post(path, headers=user.headers, json=body)
        assert resp.status_code == 422, body
        assert field in resp.get_json()["details"]["fields"], body
    assert _count(bot["id"]) == 0


def test_all_in_buy_then_sell_without_quantity(client, user, make_bot):
    bot = make_bot(user, capital=1000)
    path = f"/api/bots/{bot['id']}/orders"
    buy = client.post(path, headers=user.headers, json={"side": "buy"}).get_json()["data"]
    assert buy["quantity"] > 0
    again = client.post(path, headers=user.headers, json={"side": "buy"})
    assert again.status_code == 422  # already long
    sell = client.post(path, headers=user.headers, json={"side": "sell"}).get_json()["data"]
    assert sell["quantity"] == buy["quantity"]
    ledger = client.get(f"/api/bots/{bot['id']}/ledger", headers=user.headers).get_json()["data"]
    assert ledger["check"]["ok"] and ledger["check"]["position"] == 0


def test_place_paper_order_for_workflows(ctx, user, make_bot):
    bot = make_bot(user, capital=1000)
    first = service.place_paper_order(actor_id=user.id, bot_id=bot["id"], side="buy", idempotency_key="wf-1")
    assert first.side == "buy" and first.source == "workflow"
    replay = service.place_paper_order(actor_id=user.id, bot_id=bot["id"], side="buy", idempotency_key="wf-1")
    assert replay.id == first.id
    assert (
        service.place_paper_order(actor_id=user.id, bot_id=bot["id"], side="buy", idempotency_key="wf-2")
        is None
    )  # already long
    close = service.place_paper_order(
        actor_id=user.id, bot_id=bot["id"], side="close", idempotency_key="wf-3"
    )
    assert close.side == "sell" and close.quantity == first.quantity
    marks = service.trade_marks(actor_id=user.id, symbol="BTCUSDT", start_ms=0, end_ms=2**62)
    assert [m.id for m in marks] == [first.id, close.id]
    assert service.trade_marks(actor_id=user.id, symbol="ETHUSDT", start_ms=0, end_ms=2**62) == []
