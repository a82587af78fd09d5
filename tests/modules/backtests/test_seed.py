"""`flask seed` for strategies and backtests: a published showcase with real, completed results."""

from __future__ import annotations

from backend.modules.backtests import seed as backtests_seed
from backend.modules.strategies import seed as strategies_seed

NOW = 1_717_200_000_000  # 2024-06-01 00:00 UTC, inside the mock provider's history


def test_seed_publishes_demo_strategies_with_completed_backtests_and_is_idempotent(app, client, user):
    for _ in range(2):  # the second run must change nothing
        strategies_seed.seed_demo(admin_id=user.id)
        backtests_seed.seed_demo(admin_id=user.id, now=NOW)
    recent = client.get("/api/strategies/recent?limit=20").get_json()["data"]  # anonymous showcase
    assert len(recent) == len(strategies_seed.DEMO_STRATEGIES)
    assert {s["symbol"] for s in recent} == {"XAUUSD", "BTCUSDT"}
    assert all(s["status"] == "completed" and s["trades"] > 0 for s in recent)
    backtests = client.get("/api/backtests?page_size=50", headers=user.headers).get_json()["data"]
    assert len(backtests) == len(strategies_seed.DEMO_STRATEGIES)
    latest = client.get("/api/backtests/latest?symbol=XAUUSD").get_json()["data"]
    assert len(latest["kline"]) > 100 and any(bar.get("signal") for bar in latest["kline"])
    assert all(latest["summary"][k] is not None for k in ("totalReturn", "maxDrawdown", "totalTrades"))
