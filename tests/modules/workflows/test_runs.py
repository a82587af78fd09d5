"""Executing workflows: 202 + job, the stored trace, actions (orders, notify), idempotent retries."""

from __future__ import annotations

import json

from backend.core import jobs
from tests.domain.workflow.builders import edge, graph, node, threshold_graph


def run_detail(client, user, run_id: str) -> dict:
    resp = client.get(f"/api/workflows/runs/{run_id}", headers=user.headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]


def execute(client, user, workflow_id: str) -> dict:
    resp = client.post(f"/api/workflows/{workflow_id}/execute", headers=user.headers)
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["data"]


def test_execute_queues_a_job_and_stores_the_trace(client, user, make_workflow, workflow_market):
    wf = make_workflow(user)
    queued = execute(client, user, wf["id"])
    assert set(queued) == {"run_id", "job_id"}
    run = run_detail(client, user, queued["run_id"])  # Celery is eager in tests: already done
    assert run["status"] == "succeeded" and run["trigger"] == "manual" and run["version"] == 1
    assert run["jobId"] == queued["job_id"] and run["workflowId"] == wf["id"] and run["error"] is None
    assert run["startedAt"] <= run["finishedAt"]
    trace = {t["nodeId"]: t for t in run["trace"]}
    assert [t["nodeId"] for t in run["trace"]] == ["t", "d", "l", "buy", "sell"]
    assert {k: t["status"] for k, t in trace.items()} == {
        "t": "ran",
        "d": "ran",
        "l": "ran",
        "buy": "ran",
        "sell": "pruned",
    }
    assert trace["d"]["inputs"] == {"symbol": "BTCUSDT", "interval": "1d", "bars": 2}
    assert trace["d"]["outputs"] == {"label": "close", "value": 27.4}
    assert trace["l"]["decision"] == "close=27.4 < 30 -> true"
    assert trace["l"]["outputs"] == {"result": True, "handle": "true"}
    assert trace["buy"]["outputs"]["intent"] == {"action": "buy", "symbol": "BTCUSDT", "botId": None}
    assert trace["buy"]["outputs"]["order"] is None and "intent recorded" in trace["buy"]["outputs"]["note"]
    assert all(t["durationMs"] >= 0 for t in run["trace"])


def test_job_status_is_success(client, user, make_workflow, workflow_market):
    wf = make_workflow(user)
    queued = execute(client, user, wf["id"])
    from backend.core import jobs

    job = jobs.get_job(job_id=queued["job_id"], owner_id=user.id)
    assert (job.status, job.progress) == ("SUCCESS", 100)


def test_false_branch_run(client, user, make_workflow, workflow_market):
    workflow_market.serve([10.0, 45.0])
    wf = make_workflow(user)
    trace = {
        t["nodeId"]: t for t in run_detail(client, user, execute(client, user, wf["id"])["run_id"])["trace"]
    }
    assert (trace["buy"]["status"], trace["sell"]["status"]) == ("pruned", "ran")
    assert trace["l"]["decision"] == "close=45 < 30 -> false"


def test_failed_data_node_fails_the_run_and_skips_downstream(client, user, make_workflow, workflow_market):
    wf = make_workflow(user, symbol="NOPE")  # no market data source serves it
    run = run_detail(client, user, execute(client, user, wf["id"])["run_id"])
    assert run["status"] == "failed" and run["error"] == "1 node(s) failed: d"
    assert [t["status"] for t in run["trace"]] == ["ran", "failed", "skipped", "skipped", "skipped"]
    assert run["trace"][1]["error"] == "UnknownSymbol: Unknown symbol 'NOPE'."


def test_a_market_outage_fails_the_data_node(client, user, make_workflow, workflow_market, monkeypatch):
    from backend.modules.market import service as market_service

    def down(**_kwargs):
        raise ConnectionError("provider down")

    monkeypatch.setattr(market_service, "load_bars", down)  # an injected failure: the one fake here
    run = run_detail(client, user, execute(client, user, make_workflow(user)["id"])["run_id"])
    assert run["status"] == "failed" and run["error"] == "1 node(s) failed: d"
    assert run["trace"][1]["error"] == "ConnectionError: provider down"


def test_notify_records_one_notification_even_when_the_job_is_redelivered(
    app, client, user, make_workflow, workflow_market
):
    from backend.extensions import db
    from backend.modules.workflows.models import WorkflowNotification

    g = threshold_graph("<", 30)
    g["nodes"][3]["data"] = {"action": "notify", "message": "RSI dip on BTC"}
    wf = make_workflow(user, g)
    queued = execute(client, user, wf["id"])
    assert jobs.execute(queued["job_id"]) is None  # duplicate delivery: job already done
    rows = db.session.query(WorkflowNotification).filter_by(run_id=queued["run_id"]).all()
    assert [(r.node_id, r.message, r.owner_id) for r in rows] == [("buy", "RSI dip on BTC", user.id)]
    trace = {t["nodeId"]: t for t in run_detail(client, user, queued["run_id"])["trace"]}
    assert trace["buy"]["outputs"]["notification"] == "RSI dip on BTC"
    listed = client.get("/api/workflows/notifications", headers=user.headers).get_json()["data"]
    assert [(n["runId"], n["nodeId"], n["message"], n["workflowId"]) for n in listed] == [
        (queued["run_id"], "buy", "RSI dip on BTC", wf["id"])
    ]
    # The notification centre has it too, once (the deprecated list above reads the workflow's rows).
    centre = client.get("/api/notifications", headers=user.headers).get_json()["data"]
    assert [(n["type"], n["title"], n["body"], n["link"], n["objectId"]) for n in centre] == [
        (
            "workflow.notify",
            f"Workflow {wf['name']}",
            "RSI dip on BTC",
            f"/workflows/runs/{queued['run_id']}",
            queued["run_id"],
        )
    ]


def test_notifications_are_private(client, user, other_user, make_workflow, workflow_market):
    g = threshold_graph("<", 30)
    g["nodes"][3]["data"] = {"action": "notify"}
    execute(client, user, make_workflow(user, g)["id"])
    assert client.get("/api/workflows/notifications", headers=other_user.headers).get_json()["data"] == []


def test_runs_list_newest_first_without_trace(client, user, make_workflow, workflow_market):
    wf = make_workflow(user)
    first = execute(client, user, wf["id"])["run_id"]
    second = execute(client, user, wf["id"])["run_id"]
    resp = client.get(f"/api/workflows/{wf['id']}/runs", headers=user.headers)
    runs = resp.get_json()["data"]
    assert {r["id"] for r in runs} == {first, second} and all("trace" not in r for r in runs)
    assert json.loads(resp.headers["X-Pagination"])["total"] == 2


def test_other_users_run_is_404(client, user, other_user, make_workflow, workflow_market):
    run_id = execute(client, user, make_workflow(user)["id"])["run_id"]
    resp = client.get(f"/api/workflows/runs/{run_id}", headers=other_user.headers)
    assert resp.status_code == 404 and resp.get_json()["details"]["error"] == "workflows.run_not_found"


def test_broker_down_discards_the_run_and_answers_503(client, user, make_workflow, broker_down):
    wf = make_workflow(user)
    resp = client.post(f"/api/workflows/{wf['id']}/execute", headers=user.headers)
    assert resp.status_code == 503 and resp.get_json()["details"]["reason"] == "service_unavailable"
    assert client.get(f"/api/workflows/{wf['id']}/runs", headers=user.headers).get_json()["data"] == []


def order_graph(bot_id: str, market) -> dict:
    """t -> close > 0 -> buy on the bot (always true on positive prices); serves 1m closes near now."""
    market.serve([100.0, 101.0], interval="1m")
    return graph(
        [
            node("t", "trigger"),
            node("d", "data", interval="1m"),
            node("l", "logic", op=">", value=0),
            node("buy", "action", action="buy", bot_id=bot_id),
        ],
        [edge("t", "d"), edge("d", "l"), edge("l", "buy", "true")],
    )


def test_buy_places_one_paper_order_per_run_and_node(
    app, client, user, make_workflow, make_bot, workflow_market
):
    from backend.domain.workflow import ActionIntent, NodeTrace
    from backend.modules.workflows import runs

    bot = make_bot(user)
    wf = make_workflow(user, order_graph(bot["id"], workflow_market))
    queued = execute(client, user, wf["id"])
    trace = {t["nodeId"]: t for t in run_detail(client, user, queued["run_id"])["trace"]}
    order = trace["buy"]["outputs"]["order"]
    assert trace["buy"]["status"] == "ran" and order["side"] == "buy" and order["quantity"] > 0
    # A retried run performs the same action again: the idempotency key returns the first order.
    started = runs._Started(user.id, wf["id"], "BTCUSDT", {}, None, 0)
    again = NodeTrace("buy", "ran")
    runs._perform(ActionIntent("buy", "buy", "BTCUSDT", bot["id"], None), again, started, queued["run_id"])
    assert again.outputs["order"]["id"] == order["id"]
    perf = client.get(f"/api/bots/{bot['id']}/performance", headers=user.headers).get_json()["data"]
    assert [o["id"] for o in perf["orders"]] == [order["id"]]


def test_order_on_someone_elses_bot_fails_the_node(
    client, user, other_user, make_workflow, make_bot, workflow_market
):
    bot = make_bot(other_user)
    wf = make_workflow(user, order_graph(bot["id"], workflow_market))
    run = run_detail(client, user, execute(client, user, wf["id"])["run_id"])
    buy = run["trace"][-1]
    assert run["status"] == "failed" and buy["status"] == "failed" and buy["error"].startswith("bots.")


def test_a_retried_run_never_doubles_orders_notifications_or_trace(
    app, client, user, make_workflow, make_bot, workflow_market
):
    """Simulate the reaper requeueing a run's job: the whole run executes again."""
    from sqlalchemy import update

    from backend.core import jobs
    from backend.extensions import db
    from backend.modules.workflows.models import WorkflowNodeRun, WorkflowNotification
    from tests.domain.workflow.builders import edge, node

    bot = make_bot(user)
    g = order_graph(bot["id"], workflow_market)
    g["nodes"].append(node("note", "action", action="notify", message="bought"))
    g["edges"].append(edge("l", "note", "true"))
    g["nodes"][1]["data"]["symbol"] = "BTCUSDT"
    wf = make_workflow(user, g)
    queued = execute(client, user, wf["id"])
    first = run_detail(client, user, queued["run_id"])
    db.session.execute(update(jobs.Job).where(jobs.Job.id == queued["job_id"]).values(status=jobs.PENDING))
    assert jobs.execute(queued["job_id"]) == jobs.SUCCESS
    second = run_detail(client, user, queued["run_id"])
    buy_first, buy_second = first["trace"][3], second["trace"][3]
    assert buy_first["nodeId"] == buy_second["nodeId"] == "buy" and second["status"] == "succeeded"
    assert buy_second["outputs"]["order"]["id"] == buy_first["outputs"]["order"]["id"]
    assert db.session.query(WorkflowNodeRun).filter_by(run_id=queued["run_id"]).count() == 5
    assert db.session.query(WorkflowNotification).filter_by(run_id=queued["run_id"]).count() == 1
    perf = client.get(f"/api/bots/{bot['id']}/performance", headers=user.headers).get_json()["data"]
    assert len(perf["orders"]) == 1
