"""A manual run through a real Celery worker on the workflows queue, reading mock market data."""

from __future__ import annotations

import time

from tests.domain.workflow.builders import threshold_graph


def test_execute_on_a_real_worker(client, user, make_workflow, celery_worker):
    g = threshold_graph("<", 30, indicator="rsi", period=14, interval="1h", lookback=100)
    wf = make_workflow(user, g, symbol="BTCUSDT")
    queued = client.post(f"/api/workflows/{wf['id']}/execute", headers=user.headers).get_json()["data"]
    deadline, run = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        run = client.get(f"/api/workflows/runs/{queued['run_id']}", headers=user.headers).get_json()["data"]
        if run["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.3)
    assert run["status"] == "succeeded", run
    trace = {t["nodeId"]: t for t in run["trace"]}
    assert trace["d"]["inputs"] == {"symbol": "BTCUSDT", "interval": "1h", "bars": 100}
    rsi = trace["d"]["outputs"]["value"]
    assert trace["d"]["outputs"]["label"] == "RSI(14)" and 0 <= rsi <= 100
    took_buy = rsi < 30
    assert trace["l"]["outputs"]["result"] is took_buy
    assert (trace["buy"]["status"], trace["sell"]["status"]) == (
        ("ran", "pruned") if took_buy else ("pruned", "ran")
    )
    assert trace["l"]["decision"].startswith("RSI(14)=") and trace["l"]["decision"].endswith(
        "-> true" if took_buy else "-> false"
    )
