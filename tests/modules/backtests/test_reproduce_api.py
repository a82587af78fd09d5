"""POST /api/backtests/{id}/reproduce: a `backtests.reproduce` job whose status (the run's job
endpoint) ends with `reproduced: identical`, or `different` and the first difference."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import update

from backend.extensions import db
from backend.modules.backtests import reproduce, trade_store
from backend.modules.backtests.models import Backtest
from tests.fixtures.core_celery import hold_jobs
from tests.helpers.api import error, ok

RUN_KEYS = {"job_id", "backtest_id", "status", "progress", "result"}


@pytest.fixture
def backtest_id(user, run_backtest, make_strategy):
    """A completed run of a saved SMA 5/20 strategy (a pinned version) with a dozen trades."""
    sid = make_strategy(user, params={"fast": 5, "slow": 20})["id"]
    resp = run_backtest(user, strategy_id=sid, fee_bps=10)
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["data"]["backtest_id"]


def reproduce_it(client, owner, backtest_id):
    """Submit a reproduction (it runs eagerly) and return its final job status."""
    data = ok(client.post(f"/api/backtests/{backtest_id}/reproduce", headers=owner.headers), 202)
    assert data["backtest_id"] == backtest_id and set(data) == {"job_id", "backtest_id"}
    return ok(client.get(f"/api/backtests/job/{data['job_id']}", headers=owner.headers))


def test_a_real_run_reproduces_identically(client, user, backtest_id):
    status = reproduce_it(client, user, backtest_id)
    assert status["status"] == "SUCCESS" and status["progress"] == 100
    assert status["reproduced"] == "identical"
    assert "difference" not in status and "result" not in status and "error" not in status


def test_the_run_job_status_is_unchanged(client, user, run_backtest):
    resp = run_backtest(user, strategy={"kind": "sma_cross", "params": {}}, symbol="BTCUSDT")
    status = ok(client.get(f"/api/backtests/job/{resp.get_json()['data']['job_id']}", headers=user.headers))
    assert set(status) == RUN_KEYS  # no `reproduced` on a run


def _tamper(backtest_id: str, seq: int, name: str, delta: float) -> None:
    """Add ``delta`` to one stored number of round trip ``seq``."""
    trades, _ = trade_store.read(backtest_id)
    trades[name][seq] += delta
    trade_store.write(backtest_id, trades)


def test_a_tampered_trade_is_the_first_difference(client, user, backtest_id):
    trades, _ = trade_store.read(backtest_id)
    stored = trade_store.money(trades["exit_price"][3])
    trades["exit_price"][3] += 0.5
    trades["pnl"][5] += 1  # a later change is not the first one
    trade_store.write(backtest_id, trades)
    db.session.commit()
    status = reproduce_it(client, user, backtest_id)
    assert status["status"] == "SUCCESS" and status["reproduced"] == "different"
    diff = status["difference"]
    assert (diff["what"], diff["trade"], diff["field"]) == ("trade", 3, "exit_price")
    assert diff["reproduced"] == pytest.approx(float(stored))
    assert diff["stored"] == pytest.approx(float(stored + Decimal("0.5")))
    assert "Trade 3" in diff["message"]


def test_a_missing_trade_is_a_different_count(client, user, backtest_id):
    trades, count = trade_store.read(backtest_id)
    trade_store.write(backtest_id, trades[:-1])
    db.session.commit()
    diff = reproduce_it(client, user, backtest_id)["difference"]
    assert (diff["what"], diff["stored"], diff["reproduced"]) == ("trade_count", count - 1, count)


def test_a_tampered_metric_is_named(client, user, backtest_id):
    row = db.session.get(Backtest, backtest_id)
    sharpe = row.metrics["sharpeRatio"]
    row.metrics = {**row.metrics, "sharpeRatio": sharpe + 0.25}
    db.session.commit()
    diff = reproduce_it(client, user, backtest_id)["difference"]
    assert (diff["what"], diff["metric"]) == ("metric", "sharpeRatio")
    assert (diff["stored"], diff["reproduced"]) == (sharpe + 0.25, sharpe)


def test_a_changed_bars_hash_comes_before_the_trades(client, user, backtest_id):
    db.session.execute(update(Backtest).where(Backtest.id == backtest_id).values(bars_hash="0" * 64))
    _tamper(backtest_id, 0, "pnl", 1)
    db.session.commit()
    diff = reproduce_it(client, user, backtest_id)["difference"]
    assert (diff["what"], diff["stored"]) == ("bars_hash", "0" * 64)
    assert len(diff["reproduced"]) == 64


def test_a_changed_strategy_hash_is_first(client, user, backtest_id):
    db.session.execute(update(Backtest).where(Backtest.id == backtest_id).values(strategy_hash="f" * 64))
    db.session.commit()
    assert reproduce_it(client, user, backtest_id)["difference"]["what"] == "strategy_hash"


def test_another_engine_version_is_a_difference(client, user, backtest_id, monkeypatch):
    monkeypatch.setattr(reproduce, "ENGINE_VERSION", "99.0.0")
    diff = reproduce_it(client, user, backtest_id)["difference"]
    assert (diff["what"], diff["reproduced"]) == ("engine_version", "99.0.0")


def test_a_result_stored_before_fingerprints_still_compares_its_trades(client, user, backtest_id):
    db.session.execute(
        update(Backtest).where(Backtest.id == backtest_id).values(bars_hash=None, strategy_hash=None)
    )
    db.session.commit()
    assert reproduce_it(client, user, backtest_id)["reproduced"] == "identical"
    _tamper(backtest_id, 1, "quantity", 0.001)
    db.session.commit()
    assert reproduce_it(client, user, backtest_id)["difference"]["field"] == "quantity"


def test_the_stored_result_is_left_alone(client, user, backtest_id):
    before = ok(client.get(f"/api/backtests/{backtest_id}", headers=user.headers))
    reproduce_it(client, user, backtest_id)
    assert ok(client.get(f"/api/backtests/{backtest_id}", headers=user.headers)) == before


def test_someone_elses_backtest_or_job_is_404(client, user, other_user, backtest_id):
    error(
        client.post(f"/api/backtests/{backtest_id}/reproduce", headers=other_user.headers), 404, "not_found"
    )
    error(client.post("/api/backtests/not-an-id/reproduce", headers=user.headers), 404, "not_found")
    assert client.post(f"/api/backtests/{backtest_id}/reproduce").status_code == 401
    job_id = ok(client.post(f"/api/backtests/{backtest_id}/reproduce", headers=user.headers), 202)["job_id"]
    error(client.get(f"/api/backtests/job/{job_id}", headers=other_user.headers), 404, "not_found")


def test_a_backtest_without_a_result_is_409(client, user, run_backtest, monkeypatch):
    hold_jobs(monkeypatch)
    pending = run_backtest(user, strategy={"kind": "sma_cross", "params": {}}, symbol="BTCUSDT")
    backtest_id = pending.get_json()["data"]["backtest_id"]
    resp = client.post(f"/api/backtests/{backtest_id}/reproduce", headers=user.headers)
    error(resp, 409, "not_completed", "backtests.not_completed")


def test_a_queued_reproduction_reports_no_outcome_yet(client, user, backtest_id, monkeypatch):
    hold_jobs(monkeypatch)
    job_id = ok(client.post(f"/api/backtests/{backtest_id}/reproduce", headers=user.headers), 202)["job_id"]
    status = ok(client.get(f"/api/backtests/job/{job_id}", headers=user.headers))
    assert status == {"job_id": job_id, "backtest_id": backtest_id, "status": "PENDING", "progress": 0}


def test_reproductions_and_runs_share_the_active_limit(
    app, client, user, backtest_id, run_backtest, monkeypatch
):
    hold_jobs(monkeypatch)
    monkeypatch.setitem(app.config, "BACKTEST_MAX_ACTIVE", 1)
    ok(client.post(f"/api/backtests/{backtest_id}/reproduce", headers=user.headers), 202)
    error(client.post(f"/api/backtests/{backtest_id}/reproduce", headers=user.headers), 429)
    busy = run_backtest(user, strategy={"kind": "sma_cross", "params": {}}, symbol="BTCUSDT")
    error(busy, 429, code="backtests.too_many_active")


@pytest.mark.integration
def test_a_real_worker_reproduces_a_real_worker_run(client, make_user, run_backtest, celery_worker):
    """Both jobs through the broker, on the backtests queue, in the worker process."""
    from tests.modules.backtests.test_integration import _poll

    owner = make_user()
    resp = run_backtest(
        owner, strategy={"kind": "sma_cross", "params": {"fast": 5, "slow": 20}}, symbol="BTCUSDT"
    )
    ids = resp.get_json()["data"]
    assert _poll(client, owner, ids["job_id"])[-1]["status"] == "SUCCESS", celery_worker.log()
    job_id = ok(client.post(f"/api/backtests/{ids['backtest_id']}/reproduce", headers=owner.headers), 202)[
        "job_id"
    ]
    final = _poll(client, owner, job_id)[-1]
    assert (final["status"], final.get("reproduced")) == ("SUCCESS", "identical"), celery_worker.log()
