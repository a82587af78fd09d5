"""Workflows as a strategy kind: the service's vectorised signals match the built-in sma_cross."""

from __future__ import annotations

import numpy as np
import pytest

from backend.domain.backtest import engine
from backend.domain.backtest.metrics import compute_metrics
from backend.domain.backtest.strategies import get_strategy
from backend.domain.backtest.types import BacktestConfig
from tests.domain.workflow.builders import random_walk_bars, sma_cross_graph


def test_workflow_strategy_backtests_like_builtin_sma_cross(client, user, make_workflow):
    from backend.modules.strategies import service as strategies_service

    wf = make_workflow(user, sma_cross_graph(10, 30), name="SMA 10/30")
    view = strategies_service.create_strategy(
        actor_id=user.id,
        name="flow",
        symbol="BTCUSDT",
        kind="workflow",
        params={"workflow_version_id": wf["versionId"]},
        interval="1h",
    )
    run = strategies_service.get_strategy_for_run(actor_id=user.id, strategy_id=view.id)
    bars = random_walk_bars(2000, seed=5)
    flow = strategies_service.compute_signals(kind=run.kind, params=run.params, bars=bars)
    builtin = get_strategy("sma_cross").signals(bars, {"fast": 10, "slow": 30})
    np.testing.assert_array_equal(flow.entries, builtin.entries)
    np.testing.assert_array_equal(flow.exits, builtin.exits)
    config = BacktestConfig(fee_bps=10.0)
    a, b = engine.run(bars, flow, config), engine.run(bars, builtin, config)
    np.testing.assert_array_equal(a.trades, b.trades)
    assert compute_metrics(a, bars, 24 * 365) == compute_metrics(b, bars, 24 * 365)


def test_unknown_version_is_404(app, client, user):
    from backend.modules.workflows import service
    from backend.modules.workflows.errors import WorkflowVersionNotFound

    with pytest.raises(WorkflowVersionNotFound):
        service.workflow_signals(
            workflow_version_id="00000000-0000-0000-0000-000000000000", bars=random_walk_bars(10)
        )


def test_version_access_is_owner_only(client, user, other_user, make_workflow):
    from backend.modules.workflows import service
    from backend.modules.workflows.errors import WorkflowVersionNotFound

    wf = make_workflow(user)
    service.check_version_access(actor_id=user.id, workflow_version_id=wf["versionId"])
    with pytest.raises(WorkflowVersionNotFound):
        service.check_version_access(actor_id=other_user.id, workflow_version_id=wf["versionId"])


def test_backtest_endpoint_runs_a_workflow_strategy(client, user, make_workflow):
    wf = make_workflow(user, sma_cross_graph(10, 30), name="SMA 10/30")
    body = {
        "strategy": {"kind": "workflow", "params": {"workflow_version_id": wf["versionId"]}},
        "symbol": "BTCUSDT",
        "interval": "1h",
        # a fixed window: both runs see the same bars
        "start": 1_760_000_400_000 - 1500 * 3_600_000,
        "end": 1_760_000_400_000,
    }
    resp = client.post("/api/backtests/run", headers=user.headers, json=body)
    assert resp.status_code == 202, resp.get_json()
    job = client.get(
        f"/api/backtests/job/{resp.get_json()['data']['job_id']}", headers=user.headers
    ).get_json()["data"]
    assert job["status"] == "SUCCESS", job
    builtin = client.post(
        "/api/backtests/run",
        headers=user.headers,
        json={**body, "strategy": {"kind": "sma_cross", "params": {"fast": 10, "slow": 30}}},
    )
    ref_job = builtin.get_json()["data"]["job_id"]
    ref = client.get(f"/api/backtests/job/{ref_job}", headers=user.headers).get_json()["data"]
    assert job["result"]["summary"] == ref["result"]["summary"] and len(ref["result"]["trades"]) > 4
    assert [(t["side"], t["price"], t["timestamp"]) for t in job["result"]["trades"]] == [
        (t["side"], t["price"], t["timestamp"]) for t in ref["result"]["trades"]
    ]
