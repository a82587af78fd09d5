"""Benchmark the forum and files on a scratch database; write the `forum` section of docs/performance.md.

Measures: GET /api/forum/hot over 2,000 posts (500 ranked), 200 likes by distinct users on one post
from 16 threads (throughput, and that the count is exactly 200), and a 1 MiB CSV upload + download.
Usage: .venv/bin/python -m scripts.bench_forum
"""

from __future__ import annotations

import io
import os
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2

from scripts import services as svc_mod
from scripts.perfdoc import update_section

H = 3_600_000
CONCURRENCY = 16  # client threads; the app's DB pool holds 15 connections


def _app(url: str, redis_url: str):
    from flask_migrate import upgrade

    from backend.app import MIGRATIONS_DIR, create_app
    from backend.config import load_config

    env = {
        "APP_ENV": "test",
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
        "REDIS_KEY_PREFIX": f"qyqbench:{os.getpid()}:",
        "PASSWORD_HASH_PROFILE": "fast",
        "JWT_SECRET_KEY": "bench-secret-bench-secret-bench-secret-0123",
        "STORAGE_ROOT": tempfile.mkdtemp(prefix="qyq-bench-"),
    }
    app = create_app(load_config(env))
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR, revision="heads")
    return app


def _seed(app, n_posts: int, n_users: int) -> tuple[list[str], str]:
    from backend.core.db import now_ms
    from backend.extensions import db
    from backend.modules.forum.models import Post
    from backend.modules.users import service as users_service

    rng, now = random.Random(0), now_ms()
    with app.app_context():
        users = [
            users_service.create_user(username=f"bench{i}", password="bench-password").id
            for i in range(n_users)
        ]
        db.session.add_all(
            Post(
                author_id=users[0],
                title=f"post {i}",
                content="",
                tags=["bench"],
                likes_count=rng.randint(0, 50),
                comments_count=rng.randint(0, 10),
                created_at=now - rng.randint(0, 200 * H),
                updated_at=now,
            )
            for i in range(n_posts)
        )
        db.session.commit()
        target = Post(author_id=users[0], title="target", content="", tags=[])
        db.session.add(target)
        db.session.commit()
        return users, target.id


def _best(fn, runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _likes(app, users: list[str], post_id: str) -> tuple[float, int]:
    from backend.extensions import db
    from backend.modules.auth import service as auth_service
    from backend.modules.forum.models import Post

    with app.app_context():
        tokens = [auth_service.start_session_for(user_id=u).access_token for u in users]

    def one(token: str) -> int:
        client = app.test_client()
        return client.post(
            f"/api/forum/posts/{post_id}/like", headers={"Authorization": f"Bearer {token}"}
        ).status_code

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        statuses = list(pool.map(one, tokens))
    assert set(statuses) == {200}, sorted(set(statuses))
    seconds = time.perf_counter() - start
    with app.app_context():
        return seconds, db.session.get(Post, post_id).likes_count


def _files(app, user_id: str) -> float:
    from backend.modules.auth import service as auth_service

    with app.app_context():
        headers = {"Authorization": f"Bearer {auth_service.start_session_for(user_id=user_id).access_token}"}
    data = b"time,close\n" + b"".join(b"%d,%d.5\n" % (k, k % 97) for k in range(80_000))
    data = data[: data.rfind(b"\n", 0, 1 << 20) + 1]
    client = app.test_client()

    def round_trip() -> None:
        up = client.post(
            "/api/files",
            data={"file": (io.BytesIO(data), "bars.csv")},
            headers=headers,
            content_type="multipart/form-data",
        )
        file_id = up.get_json()["data"]["id"]
        assert client.get(f"/api/files/{file_id}", headers=headers).data == data

    return _best(round_trip, runs=3)


def main() -> None:
    """Run the benchmarks on a scratch database and update docs/performance.md."""
    services = svc_mod.resolve(mode="test")
    url = svc_mod.with_database(services.database_url, f"qyq_bench_forum_{os.getpid()}")
    svc_mod.ensure_database(url)
    try:
        app = _app(url, services.redis_url)
        users, target = _seed(app, n_posts=2000, n_users=201)
        client = app.test_client()
        hot_s = _best(lambda: client.get("/api/forum/hot?limit=10"))
        like_s, count = _likes(app, users[1:], target)
        file_s = _files(app, users[0])
        with app.app_context():
            from backend.extensions import db

            db.session.remove()
            db.engine.dispose()
    finally:
        _drop(url)
    table = [
        "| case | result |",
        "|---|---|",
        f"| GET /api/forum/hot?limit=10, 2,000 posts (newest 500 ranked), best of 5 "
        f"| {hot_s * 1000:.1f} ms |",
        f"| 200 likes by distinct users on one post, {CONCURRENCY} threads at once | {like_s:.2f} s "
        f"({200 / like_s:,.0f} likes/s); count = {count} |",
        f"| 1 MiB CSV upload + download round trip (sniffed, sha256), best of 3 | {file_s * 1000:.0f} ms |",
    ]
    update_section(
        "forum",
        "## Forum and files (scripts/bench_forum.py)\n\n"
        "In-process test client against the loopback Postgres on the shared dev machine "
        "(2 cores); includes JWT checks and the envelope.\n\n" + "\n".join(table),
    )
    print("\n".join(table))


def _drop(url: str) -> None:
    from sqlalchemy.engine import make_url

    admin = psycopg2.connect(svc_mod.with_database(url, "postgres").replace("+psycopg2", ""))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    admin.close()


if __name__ == "__main__":
    main()
