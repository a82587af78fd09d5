"""`flask seed` forum content: posts with comments and likes, idempotent."""

from __future__ import annotations

from sqlalchemy import func, select


def test_seed_demo_creates_posts_once(app):
    from backend.extensions import db
    from backend.modules.forum import seed, service
    from backend.modules.forum.models import Comment, Like, Post
    from backend.modules.users import service as users_service

    with app.app_context():
        admin = users_service.ensure_user(username="admin-seed", password="admin123", is_admin=True)
        seed.seed_demo(admin_id=admin.id)
        seed.seed_demo(admin_id=admin.id)
        count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
        assert count(Post) == len(seed.DEMO_POSTS)
        assert count(Comment) == sum(len(p[5]) for p in seed.DEMO_POSTS)
        assert count(Like) == sum(len(p[4]) for p in seed.DEMO_POSTS)
        hot = service.list_hot(limit=10)
        assert len(hot) == len(seed.DEMO_POSTS)
        assert all(p.author for p in hot)
        by_title = {p.title: p for p in hot}
        first = by_title[seed.DEMO_POSTS[0][0]]
        assert (first.likes_count, first.comments_count) == (3, 2)


def test_seed_attaches_the_admins_completed_backtest(app, user, make_strategy, run_backtest):
    from backend.modules.forum import seed, service

    strategy = make_strategy(user)
    backtest_id = run_backtest(user, strategy_id=strategy["id"]).get_json()["data"]["backtest_id"]
    with app.app_context():
        seed.seed_demo(admin_id=user.id)
        posts = {p.title: p for p in service.list_hot(limit=10)}
        first = posts[seed.DEMO_POSTS[0][0]]
        assert first.attachment["kind"] == "backtest" and first.attachment["id"] == backtest_id
        assert first.attachment["kpis"]["backtestId"] == backtest_id
        assert all(p.attachment is None for t, p in posts.items() if t != seed.DEMO_POSTS[0][0])
