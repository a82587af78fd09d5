"""Attachments against the real backtests and strategies modules (eager Celery in tests)."""
from __future__ import annotations


def _error_code(resp) -> str:
    body = resp.get_json()
    assert resp.status_code == 422, body
    return body["details"]["error"]


def test_attach_own_completed_backtest_and_strategy(client, user, other_user, make_strategy,
                                                    run_backtest):
    strategy = make_strategy(user, published=True)
    started = run_backtest(user, strategy_id=strategy["id"])
    assert started.status_code == 202, started.get_json()
    backtest_id = started.get_json()["data"]["backtest_id"]
    latest = client.get("/api/backtests/latest", headers=user.headers).get_json()["data"]

    resp = client.post("/api/forum/posts", json={
        "title": "verified", "attachment": {"kind": "backtest", "id": backtest_id}}, headers=user.headers)
    assert resp.status_code == 201, resp.get_json()
    kpis = resp.get_json()["data"]["attachment"]["kpis"]
    assert kpis["backtestId"] == backtest_id
    assert kpis["totalReturn"] == latest["summary"]["totalReturn"]

    resp = client.post("/api/forum/posts", json={
        "title": "strategy", "attachment": {"kind": "strategy", "id": strategy["id"]}}, headers=user.headers)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["data"]["attachment"]["kpis"]["backtestId"] == backtest_id

    # Someone else can neither attach the backtest nor the (published) strategy.
    for kind, object_id in (("backtest", backtest_id), ("strategy", strategy["id"])):
        assert _error_code(client.post("/api/forum/posts", json={
            "title": "stolen", "attachment": {"kind": kind, "id": object_id}},
            headers=other_user.headers)) == "forum.attachment_unavailable"


def test_strategy_without_completed_backtest_cannot_be_attached(client, user, make_strategy):
    strategy = make_strategy(user)
    assert _error_code(client.post("/api/forum/posts", json={
        "title": "x", "attachment": {"kind": "strategy", "id": strategy["id"]}},
        headers=user.headers)) == "forum.attachment_unavailable"
