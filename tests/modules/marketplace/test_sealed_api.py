"""A sealed python strategy's code never leaves the server, except to its author: every endpoint
that returns a strategy (or runs one) is walked as the author, a stranger, a copier and anonymous."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.fixtures.backtests import RANGE_END_MS, RANGE_START_MS
from tests.fixtures.marketplace import SECRET
from tests.helpers.api import fields, ok

URL = "/api/marketplace/strategies"


def _no_secret(resp, status: int = 200) -> dict:
    ok(resp, status)
    assert SECRET not in resp.get_data(as_text=True), resp.request.path
    return resp.get_json()["data"]


@pytest.fixture
def sealed(client, user, other_user, publish_sealed):
    """A sealed listing by ``other_user`` and ``user``'s copy of it."""
    listing = publish_sealed(other_user)
    copy = _no_secret(client.post(f"{URL}/{listing['id']}/copy", headers=user.headers), 201)
    return listing, copy


def test_the_author_reads_the_code_in_both_apis(client, other_user, sealed):
    listing, _ = sealed
    assert SECRET in listing["code"]
    assert SECRET in ok(client.get(f"{URL}/{listing['id']}", headers=other_user.headers))["code"]
    assert SECRET in ok(client.get(f"/api/strategies/{listing['id']}", headers=other_user.headers))["code"]


def test_no_endpoint_returns_a_sealed_strategy_s_code_to_anyone_else(client, user, make_user, sealed):
    listing, copy = sealed
    sid, cid = listing["id"], copy["id"]
    assert (copy["sealed"], copy["code"], copy["kind"]) == (True, None, "python")
    stranger = make_user()
    _no_secret(client.get("/api/strategies/recent"))  # the anonymous showcase
    for headers in (user.headers, stranger.headers):
        _no_secret(client.get(URL, headers=headers))
        assert _no_secret(client.get(f"{URL}/{sid}", headers=headers))["code"] is None
        _no_secret(client.get("/api/strategies/recent", headers=headers))
        assert _no_secret(client.get(f"/api/strategies/{sid}", headers=headers))["code"] is None
        _no_secret(client.get(f"/api/strategies/{sid}/versions", headers=headers))
    # the copier owns the copy but never reads its code
    assert _no_secret(client.get(f"/api/strategies/{cid}", headers=user.headers))["code"] is None
    _no_secret(client.get("/api/strategies", headers=user.headers))
    _no_secret(client.get(f"/api/strategies/{cid}/versions", headers=user.headers))
    changed = client.patch(f"/api/strategies/{cid}", json={"params": {"fast": 6}}, headers=user.headers)
    assert _no_secret(changed)["version"] == 2
    # a copy of the copy is impossible: a sealed copy cannot be published
    resp = client.post(URL, json={"strategyId": cid, "sealed": True}, headers=user.headers)
    assert "strategyId" in fields(resp, "marketplace.not_publishable")


def test_a_sealed_copy_s_code_and_kind_cannot_be_replaced(client, user, sealed):
    _, copy = sealed
    for change in ({"code": "PARAMS = {}\n"}, {"kind": "sma_cross"}):
        resp = client.patch(f"/api/strategies/{copy['id']}", json=change, headers=user.headers)
        assert set(change) <= set(fields(resp, "strategies.invalid"))


def test_a_sealed_strategy_runs_for_others_trial_backtest_and_bot_without_its_code(client, user, sealed):
    listing, copy = sealed
    window = {"interval": "1h", "start": RANGE_START_MS, "end": RANGE_END_MS}
    trial = _no_secret(client.post(f"{URL}/{listing['id']}/trial", json=window, headers=user.headers), 202)
    job = _no_secret(client.get(f"/api/backtests/job/{trial['jobId']}", headers=user.headers))
    assert job["status"] == "SUCCESS", job
    _no_secret(client.get(f"/api/backtests/{trial['backtestId']}", headers=user.headers))
    run = client.post("/api/backtests/run", json={"strategy_id": copy["id"], **window}, headers=user.headers)
    job = _no_secret(client.get(f"/api/backtests/job/{ok(run, 202)['job_id']}", headers=user.headers))
    assert job["status"] == "SUCCESS", job
    # the copier's verified KPIs equal the author's: same code, params, range and data
    assert job["result"]["summary"]["totalReturn"] == pytest.approx(listing["kpis"]["totalReturn"], abs=1e-9)
    bot = {"name": "sealed bot", "strategy_id": copy["id"], "capital": str(Decimal(1000)), "paper": True}
    created = _no_secret(client.post("/api/bots", json=bot, headers=user.headers), 201)
    _no_secret(client.get(f"/api/bots/{created['id']}", headers=user.headers))
    _no_secret(client.get("/api/backtests", headers=user.headers))


def test_a_failing_sealed_copy_withholds_its_traceback_from_its_owner(ctx, sealed, user, monkeypatch):
    from backend.modules.strategies import python_kind
    from backend.modules.strategies import service as strategies_service

    seen: list[bool] = []
    monkeypatch.setattr(python_kind, "signals", lambda *a, show_traceback, **k: seen.append(show_traceback))
    listing, copy = sealed
    view = strategies_service.get_strategy(actor_id=user.id, strategy_id=copy["id"])
    strategies_service.compute_signals(
        kind="python", params=view.params, bars=None, version_id=view.version_id, actor_id=user.id
    )
    assert seen == [False]


def test_an_unsealed_python_listing_shows_its_code_and_its_copies_are_open(client, user, other_user, publish):
    from tests.fixtures.marketplace import SEALED_CODE

    listing = publish(other_user, kind="python", code=SEALED_CODE, params={"fast": 5, "slow": 20})
    assert SECRET in ok(client.get(f"{URL}/{listing['id']}", headers=user.headers))["code"]
    copy = ok(client.post(f"{URL}/{listing['id']}/copy", headers=user.headers), 201)
    assert copy["sealed"] is False and SECRET in copy["code"]
