"""Exactly once under real concurrency: threads with their own sessions and real commits."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.modules.bots import service
from backend.modules.bots.models import Order
from tests.fixtures.bots import T0

pytestmark = pytest.mark.integration


def _in_threads(app, n, fn):
    """Run ``fn(i)`` in ``n`` threads started together, each in its own app context."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def target(i):
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                results[i] = fn(i)
            except Exception as exc:  # noqa: BLE001 - collected and asserted on below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results, errors


def _bot(app, user, bot_strategy, wave_market):
    with app.app_context():
        bot = service.create_bot(
            actor_id=user.id,
            name="c",
            strategy_id=bot_strategy(user.id),
            capital=D(10000),
            fee_bps=D(0),
            slippage_bps=D(0),
            start_ms=T0,
            now=wave_market.now,
        )
        return bot.id


def _orders(app, bot_id):
    with app.app_context():
        rows = db.session.scalars(select(Order).where(Order.bot_id == bot_id)).all()
        db.session.remove()
        return rows


def test_concurrent_duplicate_ticks_book_one_set_of_orders(app, committed, user, bot_strategy, wave_market):
    bot_id = _bot(app, user, bot_strategy, wave_market)
    now = wave_market.at_bar(120)
    results, errors = _in_threads(app, 8, lambda _i: service.tick_bot(bot_id=bot_id, now=now))
    assert errors == []
    statuses = sorted(r.status for r in results)
    assert statuses.count("ran") == 1 and set(statuses) <= {"ran", "idle", "skipped"}
    ran = next(r for r in results if r.status == "ran")
    orders = _orders(app, bot_id)
    assert len(orders) == ran.orders >= 4
    assert len({o.idempotency_key for o in orders}) == len(orders)
    with app.app_context():
        check = service.get_ledger(actor_id=user.id, bot_id=bot_id).check
        assert check.ok


def test_concurrent_orders_with_one_key_give_one_order(app, committed, user, bot_strategy, wave_market):
    bot_id = _bot(app, user, bot_strategy, wave_market)
    results, errors = _in_threads(
        app,
        10,
        lambda _i: service.place_order(
            actor_id=user.id, bot_id=bot_id, side="buy", quantity=D(1), idempotency_key="same-key"
        ),
    )
    assert errors == []
    assert len({r.id for r in results}) == 1
    assert len(_orders(app, bot_id)) == 1
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Order))
        assert count == 1


def test_parallel_http_posts_with_one_key_give_one_order(app, committed, user, bot_strategy, wave_market):
    bot_id = _bot(app, user, bot_strategy, wave_market)
    headers = {**user.headers, "Idempotency-Key": "http-same-key"}

    def post(_i):
        resp = app.test_client().post(
            f"/api/bots/{bot_id}/orders", headers=headers, json={"side": "buy", "quantity": 1}
        )
        return resp.status_code, resp.get_json()["data"]["id"]

    results, errors = _in_threads(app, 20, post)
    assert errors == []
    assert {status for status, _ in results} == {201}
    assert len({order_id for _, order_id in results}) == 1
    assert len(_orders(app, bot_id)) == 1
