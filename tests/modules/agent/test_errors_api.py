"""Error envelopes on every agent endpoint, and the bot target with a stubbed bots service."""

from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from tests.domain.audit.test_statements import EXAMPLE
from tests.helpers.api import error, fields

DAY = 86_400_000
UNKNOWN = "00000000-0000-4000-8000-000000000000"
ENDPOINTS = [
    ("post", "/api/agent/audit"),
    ("get", "/api/agent/audits"),
    ("get", f"/api/agent/audits/{UNKNOWN}"),
    ("get", "/api/agent/memories"),
    ("post", "/api/agent/memories"),
    ("delete", "/api/agent/memories"),
    ("delete", f"/api/agent/memories/{UNKNOWN}"),
]


@pytest.mark.parametrize("method, url", ENDPOINTS)
def test_every_endpoint_needs_a_token(client, method, url):
    error(getattr(client, method)(url, json={}), 401, "token_missing")


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "target"),
        ({"backtest_id": "a", "statements": EXAMPLE}, "target"),
        ({"bot_id": ""}, "bot_id"),
        ({"statements": EXAMPLE, "colour": "red"}, "colour"),
        ({"statements": EXAMPLE, "question": "x" * 1001}, "question"),
        ({"statements": {"current": {"revenue": 1}, "prior": {}}}, "statements"),
    ],
)
def test_audit_validation_errors(client, auth_headers, agent_off, body, field):
    assert field in fields(client.post("/api/agent/audit", json=body, headers=auth_headers))


def test_unknown_audit_is_404(client, auth_headers):
    error(client.get(f"/api/agent/audits/{UNKNOWN}", headers=auth_headers), 404, code="agent.audit_not_found")
    # A segment that cannot be an id is no route at all (and never someone's audit).
    error(client.get("/api/agent/audits/nope", headers=auth_headers), 404, "not_found")


def test_bad_pagination_is_422(client, auth_headers):
    error(client.get("/api/agent/audits?page_size=0", headers=auth_headers), 422, "validation_error")


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "x" * 2001}, {"text": "ok", "extra": 1}])
def test_memory_validation_errors(client, auth_headers, agent_off, body):
    error(client.post("/api/agent/memories", json=body, headers=auth_headers), 422, "validation_error")


def test_unknown_memory_is_404(client, auth_headers, agent_off):
    resp = client.delete("/api/agent/memories/00000000-0000-0000-0000-000000000000", headers=auth_headers)
    error(resp, 404, code="agent.memory_not_found")


def test_memory_store_down_is_503(client, auth_headers, agent_on, app, monkeypatch):
    monkeypatch.setitem(app.config, "QDRANT_URL", "http://127.0.0.1:9")  # nothing listens there
    error(client.get("/api/agent/memories", headers=auth_headers), 503, code="agent.memory_unavailable")


def test_bot_audit_from_equity_and_order_pnl(client, auth_headers, agent_off, monkeypatch):
    from backend.modules.bots import service as bots_service

    perf = SimpleNamespace(
        equity=[SimpleNamespace(time=i * DAY, value=v) for i, v in enumerate([100, 110, 99, 121])],
        # buy 1 / sell 1 three times: each sell closes the long and realises its PnL
        orders=[
            SimpleNamespace(side=side, quantity=D(1), position_after=D(pos), pnl=D(pnl))
            for side, pos, pnl in [("buy", 1, 0), ("sell", 0, 10), ("buy", 1, 0)]
            + [("sell", 0, -11), ("buy", 1, 0), ("sell", 0, 22)]
        ],
    )
    monkeypatch.setattr(bots_service, "get_bot", lambda **kw: SimpleNamespace(symbol="ETHUSDT"))
    monkeypatch.setattr(bots_service, "get_performance", lambda **kw: perf)
    audit_id = client.post("/api/agent/audit", json={"bot_id": "b1"}, headers=auth_headers).get_json()[
        "data"
    ]["audit_id"]
    audit = client.get(f"/api/agent/audits/{audit_id}", headers=auth_headers).get_json()["data"]
    f = {x["id"]: x for x in audit["findings"]}
    assert audit["target"] == {"kind": "bot", "id": "b1", "symbol": "ETHUSDT"}
    assert f["bt.trade_count"]["evidence"]["value"] == 3
    # +21 % return against the 110 -> 99 drawdown of -10 %: ratio 2.1
    assert f["bt.drawdown_vs_return"]["evidence"]["value"] == pytest.approx(2.1)
    # net 21, best two 32: 152.38 % of the profit; the rest loses 11
    assert f["bt.outlier_trades"]["evidence"]["value"] == pytest.approx(152.381, abs=1e-3)
    assert f["bt.outlier_trades"]["severity"] == "high"
    assert "bt.over_exposure" not in f and "bt.cost_sensitivity" not in f


def test_a_memory_folder_locked_by_another_process_is_a_bounded_503(
    client, auth_headers, agent_on, app, monkeypatch
):
    import os
    import subprocess
    import sys
    import time

    monkeypatch.setitem(app.config, "AGENT_MEMORY_LOCK_TIMEOUT_S", 0.3)
    path = app.config["QDRANT_PATH"]
    lock_file = os.path.join(path, os.pardir, os.path.basename(path) + ".lock")
    os.makedirs(path, exist_ok=True)
    holder = subprocess.Popen(  # another process (a worker) has the embedded folder open
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('held', flush=True); time.sleep(30)",
            lock_file,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        resp = client.get("/api/agent/memories", headers=auth_headers)
        assert time.monotonic() - started < 5  # waited about the timeout, not for the holder
        error(resp, 503, code="agent.memory_unavailable")
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert client.get("/api/agent/memories", headers=auth_headers).status_code == 200  # free again
