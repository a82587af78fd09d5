"""Copy and follow counts stay exact under real concurrency (threads, separate sessions, commits)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.integration

START, END = 1_704_067_200_000, 1_704_067_200_000 + 200 * 3_600_000


def _hammer(app, tokens: list[str], path: str) -> list[int]:
    barrier = threading.Barrier(len(tokens))

    def one(token: str) -> int:
        client = app.test_client()
        barrier.wait()
        return client.post(path, headers={"Authorization": f"Bearer {token}"}).status_code

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        return list(pool.map(one, tokens))


def _setup(app, n: int) -> tuple[str, list[str]]:
    """A listing by a fresh author and ``n`` other users' tokens."""
    from backend.modules.auth import service as auth_service
    from backend.modules.backtests import service as backtests_service
    from backend.modules.marketplace import service
    from backend.modules.strategies import service as strategies_service
    from backend.modules.users import service as users_service

    with app.app_context():
        ids = [users_service.create_user(username=f"mk{i}", password="pw-123456789").id for i in range(n + 1)]
        sid = strategies_service.create_strategy(
            actor_id=ids[0], name="race", symbol="BTCUSDT", kind="sma_cross", params={}
        ).id
        backtests_service.run_backtest_sync(
            actor_id=ids[0], strategy_id=sid, interval="1h", start=START, end=END
        )
        from backend.extensions import db

        db.session.commit()
        service.publish_strategy(actor_id=ids[0], strategy_id=sid)
        tokens = [auth_service.start_session_for(user_id=uid).access_token for uid in ids[1:]]
        return sid, tokens


def _counts(app, sid: str) -> tuple[int, int, int, int]:
    from sqlalchemy import func, select

    from backend.extensions import db
    from backend.modules.marketplace.models import Copy, Follow, Listing

    with app.app_context():
        row = db.session.get_one(Listing, sid)
        copies = db.session.scalar(select(func.count()).select_from(Copy).where(Copy.strategy_id == sid))
        follows = db.session.scalar(select(func.count()).select_from(Follow).where(Follow.strategy_id == sid))
        result = (row.copies_count, int(copies or 0), row.followers_count, int(follows or 0))
        db.session.remove()
        return result


def test_concurrent_copies_and_follows_are_counted_exactly(app, committed):
    sid, tokens = _setup(app, 20)
    assert _hammer(app, tokens, f"/api/marketplace/strategies/{sid}/copy") == [201] * 20
    assert _hammer(app, tokens, f"/api/marketplace/strategies/{sid}/follow") == [200] * 20
    assert _hammer(app, tokens[:10], f"/api/marketplace/strategies/{sid}/copy") == [201] * 10
    assert _counts(app, sid) == (30, 30, 20, 20)
