"""Strategies of kind `workflow`: a workflow graph version drives backtests like a built-in."""

from __future__ import annotations

from backend.modules.workflows import service as workflows_service
from backend.modules.workflows.seed import sma_cross_graph


def _workflow_version(owner) -> str:
    view = workflows_service.create_workflow(
        actor_id=owner.id, name="SMA 10/30 graph", graph=sma_cross_graph(), symbol="BTCUSDT"
    )
    return view.version_id


def test_workflow_strategy_backtests_like_the_equivalent_builtin(client, user, make_strategy, run_backtest):
    version_id = _workflow_version(user)
    graph = make_strategy(user, kind="workflow", params={"workflow_version_id": version_id})
    builtin = make_strategy(user, kind="sma_cross", params={"fast": 10, "slow": 30})
    summaries = []
    for sid in (graph["id"], builtin["id"]):
        job_id = run_backtest(user, strategy_id=sid, fee_bps=10).get_json()["data"]["job_id"]
        job = client.get(f"/api/backtests/job/{job_id}", headers=user.headers).get_json()["data"]
        assert job["status"] == "SUCCESS", job
        summaries.append(job["result"]["summary"])
    assert summaries[0] == summaries[1] and summaries[0]["totalTrades"] > 0


def test_someone_elses_workflow_version_is_rejected(client, user, other_user):
    version_id = _workflow_version(other_user)
    body = {
        "name": "x",
        "symbol": "BTCUSDT",
        "kind": "workflow",
        "params": {"workflow_version_id": version_id},
    }
    resp = client.post("/api/strategies", json=body, headers=user.headers)
    assert resp.status_code == 422
    assert resp.get_json()["details"]["fields"] == {
        "params.workflow_version_id": ["Unknown workflow version."]
    }
    resp = client.post(
        "/api/backtests/run",
        headers=user.headers,
        json={
            "strategy": {"kind": "workflow", "params": {"workflow_version_id": version_id}},
            "symbol": "BTCUSDT",
        },
    )
    assert resp.status_code == 422
