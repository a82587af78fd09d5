"""The unread count stays exact under real concurrency (threads, their own sessions, real commits)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.integration


def _run_all(n: int, work) -> list:
    barrier = threading.Barrier(n)

    def one(i: int):
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def test_concurrent_arrivals_and_overlapping_read_marks_keep_the_count_exact(app, committed):
    from backend.core import events
    from backend.core.db import transactional
    from backend.modules.auth import service as auth_service
    from backend.modules.notifications import service
    from backend.modules.users import service as users_service

    with app.app_context():
        user_id = users_service.create_user(username="busy", password="pw-123456789").id
        token = auth_service.start_session_for(user_id=user_id).access_token
    headers = {"Authorization": f"Bearer {token}"}

    @transactional
    def arrive(i: int) -> None:
        for k in range(5):
            events.emit(
                events.Event("bot.fill", "bots", user_id, "b", data={"botId": "b", "orderId": f"{i}-{k}"})
            )

    def arrive_in_context(i: int) -> None:
        with app.app_context():
            arrive(i)

    _run_all(20, arrive_in_context)
    client = app.test_client()
    assert client.get("/api/notifications/unread-count", headers=headers).get_json()["data"] == {"count": 100}

    with app.app_context():
        ids = [
            n.id
            for n in service.list_notifications(actor_id=user_id, unread=False, page=1, page_size=100).items
        ]
    # 10 threads mark disjoint fives; 10 more mark the first 25 again, racing them.
    batches = [ids[i * 5 : i * 5 + 5] for i in range(10)] + [
        ids[(i % 5) * 5 : (i % 5) * 5 + 5] for i in range(10)
    ]

    def mark(i: int) -> int:
        resp = app.test_client().post("/api/notifications/read", headers=headers, json={"ids": batches[i]})
        return resp.get_json()["data"]["updated"]

    updated = _run_all(20, mark)
    assert sum(updated) == 50  # each notification counted read exactly once
    assert client.get("/api/notifications/unread-count", headers=headers).get_json()["data"] == {"count": 50}
