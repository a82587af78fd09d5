"""Cross-cutting contract checks over the live app (every module at once)."""

from __future__ import annotations

import re

import pytest

from tests.helpers.api import error, ok

SAMPLE_ID = "00000000-0000-4000-8000-000000000000"


def _operations(spec: dict, *, public: bool):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            if (op.get("security", spec.get("security")) == []) == public:
                yield method, re.sub(r"\{[^}]+\}", SAMPLE_ID, path)


def test_every_protected_operation_is_401_in_the_envelope_without_a_token(client):
    spec = client.get("/api/openapi.json").get_json()
    checked = 0
    for method, path in _operations(spec, public=False):
        error(client.open(path, method=method.upper(), json={}), 401, "token_missing")
        checked += 1
    assert checked > 60  # the whole API, not a handful


def _ms(value) -> bool:
    return isinstance(value, int) and 10**12 < value < 10**14  # Unix ms, not seconds


@pytest.fixture
def seeded(app):
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, result.output


def test_dashboard_payloads_use_the_contract_names_and_units(client, seeded):
    strategies = ok(client.get("/api/strategies/recent"))
    assert strategies
    for s in strategies:
        assert {
            "id",
            "name",
            "symbol",
            "status",
            "returns",
            "winRate",
            "maxDrawdown",
            "tags",
            "lastUpdate",
            "trades",
        } <= set(s)
        assert s["status"] in {"running", "paused", "stopped", "completed"}
        assert _ms(s["lastUpdate"])
        assert isinstance(s["id"], str)
        assert isinstance(s["tags"], list)

    bots = ok(client.get("/api/bots/recent"))
    assert bots
    for b in bots:
        assert {"id", "name", "strategy", "status", "profit", "runtime", "capital", "tags"} <= set(b)
        assert b["status"] in {"active", "paused", "error", "offline"}
        assert isinstance(b["runtime"], str)
        assert isinstance(b["capital"], (int, float))

    posts = ok(client.get("/api/forum/hot"))
    assert posts
    for p in posts:
        assert {"id", "title", "author", "avatar", "likes", "comments", "timestamp", "tags"} <= set(p)
        assert _ms(p["timestamp"])

    latest = ok(client.get("/api/backtests/latest"))
    assert {"summary", "kline", "trades"} <= set(latest)
    assert {
        "totalReturn",
        "annualizedReturn",
        "sharpeRatio",
        "maxDrawdown",
        "winRate",
        "profitFactor",
        "totalTrades",
        "avgHoldingDays",
    } <= set(latest["summary"])
    assert latest["summary"]["maxDrawdown"] <= 0  # drawdowns are negative percents
    assert latest["kline"]
    assert all(_ms(k["time"]) for k in latest["kline"])
    assert {"time", "open", "high", "low", "close", "volume"} <= set(latest["kline"][0])
    assert {k["signal"] for k in latest["kline"] if "signal" in k} <= {"buy", "sell"}
    for t in latest["trades"]:
        assert {"id", "symbol", "side", "price", "quantity", "timestamp"} <= set(t)
        assert t["side"] in {"buy", "sell"} and _ms(t["timestamp"]) and isinstance(t["id"], str)
