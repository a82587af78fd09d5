"""Strategies API: create/read/update/delete, versions, visibility and error envelopes."""

from __future__ import annotations

import json

from tests.helpers.api import error, fields


def test_create_fills_defaults_and_starts_at_version_1(client, user, make_strategy):
    data = make_strategy(user, name="Gold cross", symbol="XAUUSD", tags=["gold"])
    # No backtest yet: KPIs are 0, status "stopped", parameters are the kind's defaults.
    assert data["params"] == {"fast": 10, "slow": 30}
    assert (data["version"], data["status"], data["returns"], data["trades"]) == (1, "stopped", 0.0, 0)
    assert data["tags"] == ["gold"] and data["ownerId"] == user.id
    assert isinstance(data["lastUpdate"], int)


def test_create_rejects_bad_definitions_with_field_messages(client, user):
    cases = [
        ({"kind": "sma_cross", "params": {"fast": 30, "slow": 10}}, "params.fast"),  # fast >= slow
        ({"kind": "sma_cross", "params": {"fast": 0}}, "params.fast"),  # below the minimum
        ({"kind": "sma_cross", "params": {"speed": 3}}, "params.speed"),  # unknown parameter
        ({"kind": "rsi", "params": {"lower": 80, "upper": 20}}, "params.lower"),  # lower >= upper
        ({"kind": "martingale"}, "kind"),  # unknown kind
    ]
    for body, field in cases:
        resp = client.post(
            "/api/strategies", json={"name": "x", "symbol": "BTCUSDT", **body}, headers=user.headers
        )
        assert field in fields(resp), body


def test_create_requires_a_token_and_valid_fields(client, user):
    error(client.post("/api/strategies", json={}), 401, "token_missing")
    missing = fields(client.post("/api/strategies", json={"kind": "rsi"}, headers=user.headers))
    assert {"name", "symbol"} <= set(missing)


def test_visibility_private_is_404_published_is_readable_but_not_writable(
    client, user, other_user, make_strategy
):
    private = make_strategy(user)
    public = make_strategy(user, published=True)
    error(
        client.get(f"/api/strategies/{private['id']}", headers=other_user.headers),
        404,
        code="strategies.not_found",
    )
    assert client.get(f"/api/strategies/{public['id']}", headers=other_user.headers).status_code == 200
    error(
        client.patch(f"/api/strategies/{public['id']}", json={"name": "mine"}, headers=other_user.headers),
        403,
        code="strategies.forbidden",
    )
    error(client.delete(f"/api/strategies/{private['id']}", headers=other_user.headers), 404, "not_found")
    error(client.get("/api/strategies/not-a-uuid", headers=user.headers), 404, "not_found")


def test_parameter_change_creates_a_new_version_and_same_content_does_not(client, user, make_strategy):
    sid = make_strategy(user, params={"fast": 5, "slow": 20})["id"]
    url = f"/api/strategies/{sid}"
    same = client.patch(url, json={"params": {"fast": 5}}, headers=user.headers).get_json()["data"]
    assert same["version"] == 1  # merged params equal v1: no new version
    renamed = client.patch(url, json={"name": "Renamed"}, headers=user.headers).get_json()["data"]
    assert (renamed["name"], renamed["version"]) == ("Renamed", 1)  # metadata is not versioned
    changed = client.patch(url, json={"params": {"fast": 8}}, headers=user.headers).get_json()["data"]
    assert changed["version"] == 2 and changed["params"] == {"fast": 8, "slow": 20}
    versions = client.get(f"{url}/versions", headers=user.headers).get_json()["data"]
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[0]["contentHash"] != versions[1]["contentHash"] and len(versions[0]["contentHash"]) == 64
    assert fields(client.patch(url, json={"params": {"fast": 50}}, headers=user.headers)) == {
        "params.fast": ["Must be below slow."]
    }
    error(client.patch(url, json={}, headers=user.headers), 422, "validation_error")


def test_switching_kind_starts_from_the_new_kinds_defaults(client, user, make_strategy):
    sid = make_strategy(user)["id"]
    data = client.patch(f"/api/strategies/{sid}", json={"kind": "rsi"}, headers=user.headers).get_json()[
        "data"
    ]
    assert (data["kind"], data["version"], data["params"]) == (
        "rsi",
        2,
        {"period": 14, "lower": 30.0, "upper": 70.0},
    )


def test_delete_hides_the_strategy(client, user, make_strategy):
    sid = make_strategy(user)["id"]
    assert client.delete(f"/api/strategies/{sid}", headers=user.headers).status_code == 200
    error(client.get(f"/api/strategies/{sid}", headers=user.headers), 404, "not_found")
    assert client.get("/api/strategies", headers=user.headers).get_json()["data"] == []


def test_list_is_paginated_and_only_mine(client, user, other_user, make_strategy):
    for i in range(3):
        make_strategy(user, name=f"s{i}")
    make_strategy(other_user, name="theirs")
    resp = client.get("/api/strategies?page=1&page_size=2", headers=user.headers)
    assert len(resp.get_json()["data"]) == 2
    assert json.loads(resp.headers["X-Pagination"])["total"] == 3


def test_recent_anonymous_gets_the_published_showcase(client, user, other_user, make_strategy):
    make_strategy(user, name="private one")
    make_strategy(user, name="published one", published=True)
    anonymous = client.get("/api/strategies/recent").get_json()["data"]
    assert [s["name"] for s in anonymous] == ["published one"]
    assert set(anonymous[0]) == {
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
    }
    mine = client.get("/api/strategies/recent?limit=5", headers=user.headers).get_json()["data"]
    assert {s["name"] for s in mine} == {"private one", "published one"}
    # A user with no strategy of their own also sees the showcase rather than an empty dashboard.
    assert [
        s["name"] for s in client.get("/api/strategies/recent", headers=other_user.headers).get_json()["data"]
    ] == ["published one"]
    error(client.get("/api/strategies/recent?limit=0"), 422, "validation_error")
    junk = {"Authorization": "Bearer junk"}
    error(client.get("/api/strategies/recent", headers=junk), 401, "token_invalid")


def test_kinds_lists_parameter_schemas(client, user):
    kinds = {
        k["kind"]: k for k in client.get("/api/strategies/kinds", headers=user.headers).get_json()["data"]
    }
    assert {"sma_cross", "rsi"} <= set(kinds)
    assert {p["name"]: p["default"] for p in kinds["sma_cross"]["params"]} == {"fast": 10, "slow": 30}


def test_showcase_lists_strategies_with_results_first(client, user, make_strategy, run_backtest):
    tested = make_strategy(user, name="tested", published=True)
    make_strategy(user, name="untested, but newer", published=True)
    assert run_backtest(user, strategy_id=tested["id"]).status_code == 202
    names = [s["name"] for s in client.get("/api/strategies/recent").get_json()["data"]]
    assert names == ["tested", "untested, but newer"]
    assert [s["name"] for s in client.get("/api/strategies/recent?limit=1").get_json()["data"]] == ["tested"]


def test_symbols_must_be_served_by_the_market(client, user, make_strategy):
    resp = client.post(
        "/api/strategies", json={"name": "x", "symbol": "NOPE", "kind": "rsi"}, headers=user.headers
    )
    assert fields(resp) == {"symbol": ["Unknown symbol."]}
    sid = make_strategy(user)["id"]
    error(
        client.patch(f"/api/strategies/{sid}", json={"symbol": "NOPE"}, headers=user.headers),
        422,
        "validation_error",
    )


def test_every_private_endpoint_needs_a_token(client, user, make_strategy):
    sid = make_strategy(user)["id"]
    for method, url in (
        ("get", "/api/strategies"),
        ("get", "/api/strategies/kinds"),
        ("get", f"/api/strategies/{sid}"),
        ("patch", f"/api/strategies/{sid}"),
        ("delete", f"/api/strategies/{sid}"),
        ("get", f"/api/strategies/{sid}/versions"),
    ):
        body = {"name": "x"} if method == "patch" else None
        error(getattr(client, method)(url, json=body), 401, "token_missing")


def test_versions_of_someone_elses_private_strategy_are_404(client, user, other_user, make_strategy):
    sid = make_strategy(user)["id"]
    error(
        client.get(f"/api/strategies/{sid}/versions", headers=other_user.headers),
        404,
        code="strategies.not_found",
    )


def test_status_is_running_while_an_owners_job_of_it_is_pending(
    client, user, other_user, make_strategy, run_backtest
):
    from backend.core import jobs
    from backend.extensions import db

    sid = make_strategy(user, published=True)["id"]
    url = f"/api/strategies/{sid}"
    assert client.get(url, headers=user.headers).get_json()["data"]["status"] == "stopped"
    # Backtests name the strategy as their job's subject only for the owner's own runs.
    for owner, subject in ((user, sid), (other_user, None)):
        job_id = run_backtest(owner, strategy_id=sid).get_json()["data"]["job_id"]
        assert db.session.get(jobs.Job, job_id).subject_id == subject
    assert client.get(url, headers=user.headers).get_json()["data"]["status"] == "completed"
    job = jobs.Job(
        kind="backtests.run",
        owner_id=user.id,
        subject_id=sid,
        status=jobs.PENDING,
        progress=0,
        attempts=0,
        created_at=0,
    )
    db.session.add(job)
    db.session.commit()
    assert client.get(url, headers=user.headers).get_json()["data"]["status"] == "running"
    jobs.cancel_job(job_id=job.id)
    db.session.commit()
    assert client.get(url, headers=user.headers).get_json()["data"]["status"] == "completed"
