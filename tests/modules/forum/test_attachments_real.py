"""Attachments against the real backtests and strategies modules (eager Celery in tests)."""

from __future__ import annotations

from tests.helpers.api import error, ok


def test_attach_own_completed_backtest_and_strategy(client, user, other_user, make_strategy, run_backtest):
    strategy = make_strategy(user, published=True)
    backtest_id = ok(run_backtest(user, strategy_id=strategy["id"]), 202)["backtest_id"]
    latest = ok(client.get("/api/backtests/latest", headers=user.headers))

    resp = client.post(
        "/api/forum/posts",
        json={"title": "verified", "attachment": {"kind": "backtest", "id": backtest_id}},
        headers=user.headers,
    )
    kpis = ok(resp, 201)["attachment"]["kpis"]
    assert kpis["backtestId"] == backtest_id
    assert kpis["totalReturn"] == latest["metrics"]["totalReturn"]  # full precision, not the rounded summary

    resp = client.post(
        "/api/forum/posts",
        json={"title": "strategy", "attachment": {"kind": "strategy", "id": strategy["id"]}},
        headers=user.headers,
    )
    assert ok(resp, 201)["attachment"]["kpis"]["backtestId"] == backtest_id

    # Someone else can neither attach the backtest nor the (published) strategy.
    for kind, object_id in (("backtest", backtest_id), ("strategy", strategy["id"])):
        error(
            client.post(
                "/api/forum/posts",
                json={"title": "stolen", "attachment": {"kind": kind, "id": object_id}},
                headers=other_user.headers,
            ),
            422,
            code="forum.attachment_unavailable",
        )


def test_strategy_without_completed_backtest_cannot_be_attached(client, user, make_strategy):
    strategy = make_strategy(user)
    error(
        client.post(
            "/api/forum/posts",
            json={"title": "x", "attachment": {"kind": "strategy", "id": strategy["id"]}},
            headers=user.headers,
        ),
        422,
        code="forum.attachment_unavailable",
    )
