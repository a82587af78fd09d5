"""Bots HTTP contract: create, list, recent, detail, status, delete, validation, ownership."""

from __future__ import annotations

import json

import pytest

BOT_FIELDS = {"id", "name", "strategy", "status", "profit", "runtime", "capital", "tags"}


def test_create_returns_contract_bot(client, user, bot_strategy, wave_market):
    strategy_id = bot_strategy(user.id)
    resp = client.post(
        "/api/bots",
        headers=user.headers,
        json={
            "name": "Wave rider",
            "strategy_id": strategy_id,
            "capital": 2500.5,
            "tags": ["demo"],
            "paper": True,
        },
    )
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["code"] == 0
    bot = body["data"]
    assert set(bot) >= BOT_FIELDS
    assert bot["name"] == "Wave rider" and bot["strategy"] == "SMA 3/8"
    assert bot["status"] == "active" and bot["runtime"] == "0m"
    assert bot["capital"] == 2500.5 and bot["profit"] == 0 and bot["tags"] == ["demo"]
    assert bot["symbol"] == "BTCUSDT" and bot["interval"] == "1m" and bot["paper"] is True
    assert bot["strategyId"] == strategy_id and bot["strategyVersionId"]
    assert bot["feeBps"] == 10 and bot["slippageBps"] == 5 and bot["allowShort"] is False  # defaults


def test_create_with_allow_short_stores_it(client, user, make_bot):
    assert make_bot(user, allow_short=True)["allowShort"] is True


@pytest.mark.parametrize(
    "capital, message",
    [
        (0, "Must be at least 0.00000001"),
        (-5, "Must be at least 0.00000001"),
        (1e-9, "Must be at least 0.00000001"),  # would round to zero in the 8-decimal ledger
        ("NaN", "finite"),
        ("Infinity", "finite"),
        (True, "number"),
        ("abc", "number"),
    ],
)
def test_create_rejects_bad_capital(client, user, bot_strategy, wave_market, capital, message):
    resp = client.post(
        "/api/bots",
        headers=user.headers,
        json={"name": "x", "strategy_id": bot_strategy(user.id), "capital": capital},
    )
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["code"] == 42200 and body["details"]["reason"] == "validation_error"
    assert message in " ".join(body["details"]["fields"]["capital"])


def test_create_rejects_nan_literal_capital(client, user, bot_strategy, wave_market):
    raw = f'{{"name": "x", "strategy_id": "{bot_strategy(user.id)}", "capital": NaN}}'
    resp = client.post("/api/bots", headers={**user.headers, "Content-Type": "application/json"}, data=raw)
    assert resp.status_code in (400, 422)
    assert resp.get_json()["code"] == resp.status_code * 100


def test_create_rejects_live_trading_unknown_strategy_and_missing_fields(
    client, user, bot_strategy, wave_market
):
    live = client.post(
        "/api/bots",
        headers=user.headers,
        json={"name": "x", "strategy_id": bot_strategy(user.id), "capital": 100, "paper": False},
    )
    assert live.status_code == 422
    assert "paper" in live.get_json()["details"]["fields"]
    unknown = client.post(
        "/api/bots",
        headers=user.headers,
        json={"name": "x", "strategy_id": "00000000-0000-0000-0000-000000000000", "capital": 100},
    )
    assert unknown.status_code == 422
    assert unknown.get_json()["details"]["fields"] == {"strategy_id": ["Unknown strategy."]}
    missing = client.post("/api/bots", headers=user.headers, json={"owner_id": "x"})
    fields = missing.get_json()["details"]["fields"]
    assert missing.status_code == 422
    assert {"name", "strategy_id", "capital", "owner_id"} <= set(fields)


def test_create_rejects_someone_elses_private_strategy_and_unknown_symbol(
    client, user, other_user, bot_strategy, wave_market
):
    theirs = bot_strategy(other_user.id)
    resp = client.post(
        "/api/bots", headers=user.headers, json={"name": "x", "strategy_id": theirs, "capital": 100}
    )
    assert resp.status_code == 422 and "strategy_id" in resp.get_json()["details"]["fields"]
    nope = client.post(
        "/api/bots",
        headers=user.headers,
        json={"name": "x", "strategy_id": bot_strategy(user.id), "capital": 100, "symbol": "NOPE"},
    )
    assert nope.status_code == 422 and "symbol" in nope.get_json()["details"]["fields"]


def test_requires_a_token(client):
    for method, path in [
        ("post", "/api/bots"),
        ("get", "/api/bots"),
        ("get", "/api/bots/00000000-0000-4000-8000-000000000000"),
        ("patch", "/api/bots/00000000-0000-4000-8000-000000000000/status"),
        ("delete", "/api/bots/00000000-0000-4000-8000-000000000000"),
        ("get", "/api/bots/00000000-0000-4000-8000-000000000000/performance"),
        ("get", "/api/bots/00000000-0000-4000-8000-000000000000/ledger"),
        ("post", "/api/bots/00000000-0000-4000-8000-000000000000/orders"),
    ]:
        resp = getattr(client, method)(path, json={})
        assert resp.status_code == 401, (method, path)
        assert resp.get_json()["code"] == 40100


def test_list_is_paginated_and_only_mine(client, user, other_user, make_bot):
    mine = [make_bot(user, name=f"b{i}") for i in range(3)]
    make_bot(other_user)
    resp = client.get("/api/bots?page=1&page_size=2", headers=user.headers)
    assert resp.status_code == 200
    assert [b["id"] for b in resp.get_json()["data"]] == [mine[2]["id"], mine[1]["id"]]
    assert json.loads(resp.headers["X-Pagination"])["total"] == 3


def test_recent_anonymous_sees_public_bots_only(client, user, make_bot):
    public = make_bot(user, public=True)
    private = make_bot(user)
    anon = client.get("/api/bots/recent")
    assert anon.status_code == 200
    ids = [b["id"] for b in anon.get_json()["data"]]
    assert public["id"] in ids and private["id"] not in ids
    own = client.get("/api/bots/recent?limit=1", headers=user.headers).get_json()["data"]
    assert [b["id"] for b in own] == [private["id"]]
    assert client.get("/api/bots/recent?limit=0").status_code == 422


def test_recent_for_a_caller_without_bots_is_the_public_showcase(client, user, other_user, make_bot):
    public = make_bot(user, public=True)
    make_bot(user)
    data = client.get("/api/bots/recent", headers=other_user.headers).get_json()["data"]
    assert [b["id"] for b in data] == [public["id"]]


def test_status_pause_resume_and_validation(client, user, make_bot):
    bot = make_bot(user)
    path = f"/api/bots/{bot['id']}/status"
    paused = client.patch(path, headers=user.headers, json={"status": "paused"})
    assert paused.status_code == 200 and paused.get_json()["data"]["status"] == "paused"
    active = client.patch(path, headers=user.headers, json={"status": "active"})
    assert active.get_json()["data"]["status"] == "active"
    bad = client.patch(path, headers=user.headers, json={"status": "offline"})
    assert bad.status_code == 422 and "status" in bad.get_json()["details"]["fields"]


def test_delete_stops_the_bot_and_hides_it(client, user, make_bot):
    bot = make_bot(user)
    resp = client.delete(f"/api/bots/{bot['id']}", headers=user.headers)
    assert resp.status_code == 200 and resp.get_json()["data"]["status"] == "offline"
    gone = client.get(f"/api/bots/{bot['id']}", headers=user.headers)
    assert gone.status_code == 404 and gone.get_json()["details"]["reason"] == "not_found"
    assert client.get("/api/bots", headers=user.headers).get_json()["data"] == []


def _every_verb(client, headers, bot_id):
    return {
        "get": client.get(f"/api/bots/{bot_id}", headers=headers),
        "performance": client.get(f"/api/bots/{bot_id}/performance", headers=headers),
        "ledger": client.get(f"/api/bots/{bot_id}/ledger", headers=headers),
        "status": client.patch(f"/api/bots/{bot_id}/status", headers=headers, json={"status": "paused"}),
        "order": client.post(f"/api/bots/{bot_id}/orders", headers=headers, json={"side": "buy"}),
        "delete": client.delete(f"/api/bots/{bot_id}", headers=headers),
    }


def test_private_bot_is_404_to_others_on_every_verb(client, user, other_user, make_bot):
    bot = make_bot(user)
    for verb, resp in _every_verb(client, other_user.headers, bot["id"]).items():
        assert resp.status_code == 404, verb
        assert resp.get_json()["details"]["reason"] == "not_found"
    owner_view = client.get(f"/api/bots/{bot['id']}", headers=user.headers).get_json()["data"]
    assert owner_view["status"] == "active"  # unchanged


def test_public_bot_is_readable_but_403_to_change(client, user, other_user, make_bot):
    bot = make_bot(user, public=True)
    results = _every_verb(client, other_user.headers, bot["id"])
    for verb in ("get", "performance", "ledger"):
        assert results[verb].status_code == 200, verb
    for verb in ("status", "order", "delete"):
        assert results[verb].status_code == 403, verb
        assert results[verb].get_json()["details"]["reason"] == "forbidden"


def test_unknown_bot_is_404(client, user):
    resp = client.get("/api/bots/does-not-exist", headers=user.headers)
    assert resp.status_code == 404 and resp.get_json()["code"] == 40400
