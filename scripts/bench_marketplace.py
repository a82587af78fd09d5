"""Benchmark marketplace browsing on a scratch database; write the `marketplace` section of
docs/performance.md.

Measures GET /api/marketplace/strategies (a page of 20 with its total) over 20,000 listings by 200
authors, for each sort, a symbol filter, a tag filter and a text search, and shows the plan of the
default sort. Usage: .venv/bin/python -m scripts.bench_marketplace
"""

from __future__ import annotations

import os
import random

from scripts import services as svc_mod
from scripts.bench_forum import _app, _best, _drop
from scripts.perfdoc import update_section

LISTINGS, AUTHORS = 20_000, 200
SYMBOLS = ("BTCUSDT", "ETHUSDT", "XAUUSD", "AAPL", "EURUSD")
TAGS = ("trend", "mean-reversion", "breakout", "btc", "gold", "fx")


def _seed(app) -> str:
    """Insert the authors, their strategies and listings in bulk; return a viewer's token."""
    from sqlalchemy import insert

    from backend.core.db import new_id, now_ms
    from backend.extensions import db
    from backend.modules.auth import service as auth_service
    from backend.modules.marketplace.models import Listing
    from backend.modules.strategies.models import Strategy
    from backend.modules.users import service as users_service

    rng, now = random.Random(0), now_ms()
    with app.app_context():
        users = [
            users_service.create_user(username=f"author{i}", password="bench-password").id
            for i in range(AUTHORS)
        ]
        db.session.commit()
        strategies, listings = [], []
        for i in range(LISTINGS):
            sid, owner, symbol = new_id(), users[i % AUTHORS], rng.choice(SYMBOLS)
            tags = rng.sample(TAGS, 2)
            meta = {"name": f"strategy {i}", "description": f"bench {i}", "symbol": symbol, "interval": "1h"}
            strategies.append(
                {"id": sid, "owner_id": owner, "kind": "sma_cross", "tags": tags, "is_published": True,
                 "version_count": 1, "code_hidden": False, "created_at": now, "updated_at": now, **meta}
            )  # fmt: skip
            kpis = {"sharpeRatio": rng.gauss(0.5, 1), "totalReturn": rng.gauss(5, 20)}
            listings.append(
                {"strategy_id": sid, "owner_id": owner, "listed": True, "hidden": rng.random() < 0.01,
                 "sealed": False, "kind": "sma_cross", "tags": tags, "version_id": new_id(),
                 "backtest_id": new_id(), "kpis": kpis, "sharpe": kpis["sharpeRatio"],
                 "total_return": kpis["totalReturn"], "max_drawdown": -abs(rng.gauss(10, 5)),
                 "total_trades": rng.randint(0, 500), "copies_count": rng.randint(0, 100),
                 "followers_count": rng.randint(0, 300), "published_at": now - rng.randint(0, 10**10),
                 "created_at": now, "updated_at": now, **meta}
            )  # fmt: skip
        db.session.execute(insert(Strategy), strategies)
        db.session.execute(insert(Listing), listings)
        db.session.commit()
        db.session.execute(db.text("ANALYZE marketplace_listings"))
        db.session.commit()
        return auth_service.start_session_for(user_id=users[0]).access_token


def _plan(app) -> str:
    from sqlalchemy.dialects import postgresql

    from backend.extensions import db
    from backend.modules.marketplace.read_models import browse_query

    with app.app_context():
        sql = (
            browse_query()
            .limit(20)
            .compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        )
        rows = db.session.execute(db.text(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}")).scalars()
        return "\n".join(rows)


def main() -> None:
    """Run the benchmark on a scratch database and update docs/performance.md."""
    services = svc_mod.resolve(mode="test")
    url = svc_mod.with_database(services.database_url, f"qyq_bench_market_{os.getpid()}")
    svc_mod.ensure_database(url)
    try:
        app = _app(url, services.redis_url)
        headers = {"Authorization": f"Bearer {_seed(app)}"}
        client = app.test_client()
        cases = [
            f"sort={s}" for s in ("sharpe", "return", "drawdown", "trades", "followers", "copies", "newest")
        ]
        cases += [
            "symbol=ETHUSDT&sort=return",
            "tags=breakout&tags=gold",
            "q=strategy%201999",
            "sort=sharpe&page=500",
        ]
        rows = []
        for query in cases:

            def call(query: str = query) -> None:
                resp = client.get(f"/api/marketplace/strategies?page_size=20&{query}", headers=headers)
                assert resp.status_code == 200, resp.get_json()

            rows.append((query, _best(call)))
        plan = _plan(app)
        with app.app_context():
            from backend.extensions import db

            db.session.remove()
            db.engine.dispose()
    finally:
        _drop(url)
    table = ["| query (page_size=20) | best of 5 |", "|---|---|"]
    table += [f"| `{q}` | {s * 1000:.1f} ms |" for q, s in rows]
    update_section(
        "marketplace",
        "## Marketplace browse (scripts/bench_marketplace.py)\n\n"
        f"{LISTINGS:,} listings by {AUTHORS} authors (1 % hidden), in-process test client against the "
        "loopback Postgres on the shared dev machine (2 cores); each request is the page, its total "
        "and the page's authors, with JWT checks and the envelope.\n\n"
        + "\n".join(table)
        + "\n\nPlan of the default sort (first page):\n\n```\n"
        + plan
        + "\n```",
    )
    print("\n".join(table))
    print(plan)


if __name__ == "__main__":
    main()
