"""`flask seed` for the marketplace: demo authors' verified listings, copies, follows and a report."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.extensions import db
from backend.modules.backtests import seed as backtests_seed
from backend.modules.marketplace import seed as marketplace_seed
from backend.modules.marketplace.models import Copy, Follow, Listing, Report
from backend.modules.strategies import seed as strategies_seed
from tests.helpers.api import ok

NOW = 1_717_200_000_000  # 2024-06-01 00:00 UTC, inside the mock provider's history


def _count(model) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_seed_builds_a_living_marketplace_once(app, client, user):
    for _ in range(2):  # the second run must change nothing
        strategies_seed.seed_demo(admin_id=user.id)
        backtests_seed.seed_demo(admin_id=user.id, now=NOW)
        marketplace_seed.seed_demo(admin_id=user.id, now=NOW)
        counts = (_count(Listing), _count(Copy), _count(Follow), _count(Report))
    expected = len(marketplace_seed.DEMO_LISTINGS) + len(strategies_seed.DEMO_STRATEGIES)
    assert counts == (
        expected,
        len(marketplace_seed.DEMO_COPIES),
        len(marketplace_seed.DEMO_FOLLOWS),
        1,
    )
    listings = ok(
        client.get("/api/marketplace/strategies", headers=user.headers, query_string={"page_size": 50})
    )
    assert len(listings) == expected
    assert any(item["sealed"] for item in listings)
    assert all(item["kpis"]["totalTrades"] is not None for item in listings)
    top = ok(
        client.get("/api/marketplace/strategies", headers=user.headers, query_string={"sort": "copies"})
    )[0]
    assert (top["name"], top["copies"], top["followers"]) == ("BTC momentum: SMA 8/21", 2, 2)
    detail = ok(client.get(f"/api/marketplace/strategies/{top['id']}", headers=user.headers))
    assert len(detail["equity"]) > 100
