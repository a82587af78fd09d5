"""The auditor cites a backtest's guardrails with the numbers stored in its result."""

from __future__ import annotations

import pytest

from tests.fixtures.backtests import RANGE_END_MS, RANGE_START_MS
from tests.helpers.api import ok


def _backtest(client, owner, **extra) -> dict:
    body = {
        "interval": "1h",
        "start": RANGE_START_MS,
        "end": RANGE_END_MS,
        "provider": "mock",
        "fee_bps": 10,
        "strategy": {"kind": "sma_cross", "params": {"fast": 5, "slow": 20}},
        "symbol": "BTCUSDT",
        **extra,
    }
    backtest_id = ok(client.post("/api/backtests/run", json=body, headers=owner.headers), 202)["backtest_id"]
    return ok(client.get(f"/api/backtests/{backtest_id}", headers=owner.headers))


def _findings(client, owner, backtest_id: str) -> dict[str, dict]:
    audit_id = ok(
        client.post("/api/agent/audit", json={"backtest_id": backtest_id}, headers=owner.headers), 202
    )["audit_id"]
    audit = ok(client.get(f"/api/agent/audits/{audit_id}", headers=owner.headers))
    assert audit["status"] == "completed", audit
    return {f["id"]: f for f in audit["findings"]}


def _related(finding: dict) -> dict[str, float]:
    return {e["metric"]: e["value"] for e in finding["related"]}


def test_backtest_audit_cites_the_stored_guardrails(client, user, agent_off):
    detail = _backtest(client, user)
    guard = detail["guardrails"]
    f = _findings(client, user, detail["id"])
    psr = f["bt.probabilistic_sharpe"]
    assert psr["evidence"]["value"] == pytest.approx(guard["probabilisticSharpe"]["value"], abs=1e-4)
    assert _related(psr)["observations"] == guard["probabilisticSharpe"]["observations"] == 504
    boot = f["bt.bootstrap"]
    assert boot["evidence"]["value"] == pytest.approx(guard["bootstrap"]["totalReturn"]["p5"], abs=1e-4)
    assert _related(boot)["bootstrapMaxDrawdownP5Pct"] == pytest.approx(
        guard["bootstrap"]["maxDrawdown"]["p5"], abs=1e-4
    )
    assert "bt.walk_forward" not in f and "bt.deflated_sharpe" not in f  # no walk-forward, one trial


def test_walk_forward_backtest_audit_cites_the_gap(client, user, agent_off):
    detail = _backtest(client, user, walk_forward={"folds": 3, "train_fraction": 0.6})
    gap = detail["guardrails"]["inOutSample"]
    assert gap == detail["walkForward"]["degradation"]
    f = _findings(client, user, detail["id"])["bt.walk_forward"]
    related = _related(f)
    assert related["inSampleSharpe"] == pytest.approx(gap["inSampleSharpe"], abs=1e-4)
    assert related["outOfSampleSharpe"] == pytest.approx(gap["outOfSampleSharpe"], abs=1e-4)
    assert related["sharpeGap"] == pytest.approx(gap["sharpeGap"], abs=1e-4)
    efficiency = f["evidence"]["value"]
    assert (
        efficiency is None
        if gap["efficiency"] is None
        else efficiency == pytest.approx(gap["efficiency"], abs=1e-4)
    )
    expected = (
        "info"
        if gap["inSampleSharpe"] <= 0
        else "high"
        if gap["outOfSampleSharpe"] <= 0
        else "medium"
        if gap["efficiency"] < 0.5
        else "info"
    )
    assert f["severity"] == expected
