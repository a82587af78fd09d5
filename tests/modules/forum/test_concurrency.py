"""Counts stay true under real concurrency (threads, separate sessions, real commits)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.integration


def _hammer(app, tokens: list[str], path: str, method: str = "post") -> list[int]:
    """Send one request per token from its own thread, all released at once."""
    barrier = threading.Barrier(len(tokens))

    def one(token: str) -> int:
        client = app.test_client()  # each request gets its own app context, session and connection
        barrier.wait()
        return getattr(client, method)(path, headers={"Authorization": f"Bearer {token}"}).status_code

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        return list(pool.map(one, tokens))


def _tokens(app, user_ids: list[str]) -> list[str]:
    from backend.modules.auth import service as auth_service  # every token needs a recorded session

    with app.app_context():
        return [auth_service.start_session_for(user_id=uid).access_token for uid in user_ids]


def _users(app, n: int) -> list[str]:
    from backend.modules.users import service as users_service

    with app.app_context():
        return [users_service.create_user(username=f"liker{i}", password="pw-123456789").id for i in range(n)]


def _likes(app, post_id: str) -> tuple[int, int]:
    from sqlalchemy import func, select

    from backend.extensions import db
    from backend.modules.forum.models import Like, Post

    with app.app_context():
        counter = db.session.scalar(select(Post.likes_count).where(Post.id == post_id))
        rows = db.session.scalar(select(func.count()).select_from(Like).where(Like.post_id == post_id))
        db.session.remove()
        return counter, rows


def _post(app, author_id: str) -> str:
    from backend.modules.forum import service

    with app.app_context():
        return service.create_post(actor_id=author_id, title="race", content="", tags=[]).id


def test_100_concurrent_likes_by_distinct_users_count_exactly_100(app, committed):
    ids = _users(app, 101)
    post_id = _post(app, ids[0])
    statuses = _hammer(app, _tokens(app, ids[1:]), f"/api/forum/posts/{post_id}/like")
    assert statuses == [200] * 100
    assert _likes(app, post_id) == (100, 100)

    statuses = _hammer(app, _tokens(app, ids[1:41]), f"/api/forum/posts/{post_id}/like", "delete")
    assert statuses == [200] * 40
    assert _likes(app, post_id) == (60, 60)


def test_30_concurrent_likes_by_one_user_count_once(app, committed):
    ids = _users(app, 2)
    post_id = _post(app, ids[0])
    statuses = _hammer(app, _tokens(app, [ids[1]] * 30), f"/api/forum/posts/{post_id}/like")
    assert statuses == [200] * 30
    assert _likes(app, post_id) == (1, 1)
