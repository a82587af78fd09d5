"""Guardrails and walk-forward through the API: every result carries them; bad requests are 422s.

Celery runs eagerly here (the job executes inside the submit request).
"""

from __future__ import annotations

import numpy as np
import pytest

from backend.domain.backtest import guardrails as g
from backend.domain.backtest import walkforward as wf
from backend.modules.backtests import service as backtests_service
from backend.modules.workflows import service as workflows_service
from backend.modules.workflows.seed import sma_cross_graph
from tests.fixtures.backtests import RANGE_START_MS
from tests.helpers.api import error, ok

SMA = {"kind": "sma_cross", "params": {"fast": 5, "slow": 20}}


def _job(client, owner, resp) -> dict:
    job_id = ok(resp, 202)["job_id"]
    job = ok(client.get(f"/api/backtests/job/{job_id}", headers=owner.headers))
    assert job["status"] == "SUCCESS", job
    return job


def test_every_result_carries_its_guardrails(client, user, run_backtest):
    job = _job(client, user, run_backtest(user, strategy=SMA, symbol="BTCUSDT", fee_bps=5))
    detail = ok(client.get(f"/api/backtests/{job['backtest_id']}", headers=user.headers))
    latest = ok(client.get("/api/backtests/latest", headers=user.headers))
    guard = detail["guardrails"]
    assert job["result"]["guardrails"] == guard == latest["guardrails"]
    assert detail["walkForward"] is None and job["result"]["walkForward"] is None
    assert set(guard) == {"probabilisticSharpe", "deflatedSharpe", "bootstrap", "inOutSample"}
    assert guard["deflatedSharpe"] is None and guard["inOutSample"] is None  # one run, no walk-forward
    # the stored numbers are the domain's, at full precision, recomputed from the rebuilt run
    run = backtests_service.rebuild_run(actor_id=user.id, backtest_id=job["backtest_id"])
    assert guard == g.result_guardrails(run.result, run.periods_per_year).to_dict()
    psr = guard["probabilisticSharpe"]
    assert psr["observations"] == detail["barsCount"] == 504 and 0.0 <= psr["value"] <= 1.0
    assert psr["sharpePerBar"] * np.sqrt(run.periods_per_year) == pytest.approx(
        detail["metrics"]["sharpeRatio"]
    )
    boot = guard["bootstrap"]
    assert boot["trades"] == detail["metrics"]["totalTrades"] and boot["seed"] == g.BOOTSTRAP_SEED
    assert boot["totalReturn"]["p5"] <= boot["totalReturn"]["p50"] <= boot["totalReturn"]["p95"]
    assert boot["maxDrawdown"]["p95"] <= 0.0
    # the list view stays as it was: no result fields
    listed = ok(client.get("/api/backtests", headers=user.headers))
    assert "guardrails" not in listed[0] and "metrics" not in listed[0]


def test_walk_forward_is_computed_in_the_job(client, user, run_backtest):
    body = {"folds": 3, "train_fraction": 0.6, "params": {"fast": [5, 8], "slow": [20, 30]}}
    job = _job(client, user, run_backtest(user, strategy=SMA, symbol="BTCUSDT", walk_forward=body))
    detail = ok(client.get(f"/api/backtests/{job['backtest_id']}", headers=user.headers))
    walk = detail["walkForward"]
    assert job["result"]["walkForward"] == walk
    assert (
        detail["params"] == SMA["params"] and detail["summary"] == job["result"]["summary"]
    )  # the plain run
    assert (walk["folds"], walk["trainFraction"], walk["objective"], walk["candidates"]) == (
        3,
        0.6,
        "sharpeRatio",
        4,
    )
    assert walk["grid"] == {"fast": [5, 8], "slow": [20, 30]}
    # 504 bars, 3 folds, 60 % training: T = floor(504 / (3 + 1.5)) = 112, L = 504 - 336 = 168
    windows = walk["windows"]
    assert [(w["trainBars"], w["testBars"]) for w in windows] == [(168, 112)] * 3
    assert [w["testFrom"] for w in windows] == [
        detail["start"] + (168 + 112 * k) * 3_600_000 for k in range(3)
    ]
    assert all(w["params"]["fast"] in (5, 8) and w["params"]["slow"] in (20, 30) for w in windows)
    # the degradation is the in/out gap of the guardrails
    degradation = walk["degradation"]
    assert detail["guardrails"]["inOutSample"] == degradation
    mean_in = float(np.mean([w["trainSharpe"] for w in windows]))
    assert degradation["inSampleSharpe"] == pytest.approx(mean_in)
    assert degradation["sharpeGap"] == pytest.approx(mean_in - degradation["outOfSampleSharpe"])
    oos = walk["outOfSample"]
    assert oos["from"] == windows[0]["testFrom"] and oos["sharpeRatio"] == degradation["outOfSampleSharpe"]
    assert oos["equity"][0][0] == oos["from"] and len(oos["equity"]) <= 3 * 112  # [time, value] points


def test_default_grid_is_around_the_given_params(client, user, run_backtest):
    job = _job(client, user, run_backtest(user, strategy=SMA, symbol="BTCUSDT", walk_forward={"folds": 2}))
    walk = job["result"]["walkForward"]
    # 5 and 20 at 75 / 100 / 125 %: fast 3.75 -> 4, 6.25 -> 6; slow 15, 20, 25
    assert walk["grid"] == {"fast": [4, 5, 6], "slow": [15, 20, 25]}
    assert (walk["candidates"], walk["trainFraction"], len(walk["windows"])) == (9, 0.7, 2)


def test_walk_forward_plan_drops_combinations_that_break_the_rules():
    # fast 20 with slow 20 breaks fast < slow: 3 of the 4 combinations remain
    payload = backtests_service.walk_forward.plan(
        kind="sma_cross",
        params={"fast": 5, "slow": 20},
        request={"folds": 2, "train_fraction": 0.5, "params": {"fast": [5, 20], "slow": [20, 40]}},
        bars=500,
    )
    assert payload["candidates"] == [
        {"fast": 5, "slow": 20},
        {"fast": 5, "slow": 40},
        {"fast": 20, "slow": 40},
    ]
    assert payload["objective"] == "sharpeRatio" and wf.min_bars(2, 0.5) <= 500


@pytest.mark.parametrize(
    ("walk", "field"),
    [
        ({"folds": 1}, "folds"),
        ({"folds": 2.5}, "folds"),
        ({}, "folds"),
        ({"folds": 3, "train_fraction": 1.0}, "train_fraction"),
        ({"folds": 3, "objective": "maxDrawdown"}, "objective"),
        ({"folds": 3, "params": {"fast": []}}, "params"),
    ],
)
def test_walk_forward_schema_errors_name_the_field(client, user, run_backtest, walk, field):
    body = error(
        run_backtest(user, strategy=SMA, symbol="BTCUSDT", walk_forward=walk), 422, "validation_error"
    )
    assert field in body["details"]["fields"]["walk_forward"], body


@pytest.mark.parametrize(
    ("walk", "field"),
    [
        ({"folds": 10}, "walk_forward.folds"),  # 10 folds at 70 % need 124 bars, the range holds 100
        ({"folds": 2, "params": {"nope": [1]}}, "walk_forward.params.nope"),
        ({"folds": 2, "params": {"fast": [2.5]}}, "walk_forward.params.fast"),
        ({"folds": 2, "params": {"fast": [40], "slow": [20]}}, "walk_forward.params"),  # fast >= slow only
        (
            {"folds": 2, "params": {"fast": list(range(1, 11)), "slow": list(range(50, 60))}},
            "walk_forward.params",
        ),
    ],
)
def test_walk_forward_rule_errors_name_the_field(client, user, run_backtest, walk, field):
    short = {"end": RANGE_START_MS + 100 * 3_600_000}  # 100 hourly bars
    body = error(
        run_backtest(user, strategy=SMA, symbol="BTCUSDT", walk_forward=walk, **short),
        422,
        code="backtests.invalid",
    )
    assert list(body["details"]["fields"]) == [field], body


def test_a_kind_without_parameters_cannot_walk_forward(client, user, make_strategy, run_backtest):
    version = workflows_service.create_workflow(
        actor_id=user.id, name="SMA graph", graph=sma_cross_graph(), symbol="BTCUSDT"
    ).version_id
    sid = make_strategy(user, kind="workflow", params={"workflow_version_id": version})["id"]
    body = error(
        run_backtest(user, strategy_id=sid, walk_forward={"folds": 2}), 422, code="backtests.invalid"
    )
    assert body["details"]["fields"] == {
        "walk_forward": ["The strategy kind 'workflow' has no parameters to choose."]
    }
    # nothing was submitted
    assert ok(client.get("/api/backtests", headers=user.headers)) == []
