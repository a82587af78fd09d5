"""Audit targets through the other modules: backtest, strategy (latest backtest), file, bot."""

import pytest

from tests.domain.audit.test_statements import EXAMPLE
from tests.fixtures.backtests import RANGE_END_MS, RANGE_START_MS
from tests.helpers.api import error


def _backtest(client, owner, strategy_id=None):
    body = {
        "interval": "1h",
        "start": RANGE_START_MS,
        "end": RANGE_END_MS,
        "provider": "mock",
        "fee_bps": 10,
        "slippage_bps": 5,
    }
    if strategy_id:
        body["strategy_id"] = strategy_id
    else:
        body.update(strategy={"kind": "sma_cross", "params": {"fast": 5, "slow": 20}}, symbol="BTCUSDT")
    resp = client.post("/api/backtests/run", json=body, headers=owner.headers)
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["data"]["backtest_id"]


def _audit(client, owner, **body):
    resp = client.post("/api/agent/audit", json=body, headers=owner.headers)
    assert resp.status_code == 202, resp.get_json()
    audit_id = resp.get_json()["data"]["audit_id"]
    return client.get(f"/api/agent/audits/{audit_id}", headers=owner.headers).get_json()["data"]


def test_backtest_audit_reruns_with_doubled_costs(client, user, agent_off):
    bt = _backtest(client, user)
    audit = _audit(client, user, backtest_id=bt)
    assert audit["status"] == "completed", audit
    assert audit["target"] == {"kind": "backtest", "id": bt, "symbol": "BTCUSDT"}
    f = {x["id"]: x for x in audit["findings"]}
    assert {
        "bt.trade_count",
        "bt.drawdown_vs_return",
        "bt.outlier_trades",
        "bt.cost_sensitivity",
        "bt.out_of_sample",
        "bt.flat_period",
        "bt.over_exposure",
    } <= set(f)
    summary = client.get(f"/api/backtests/{bt}", headers=user.headers).get_json()["data"]["summary"]
    # the findings quote the backtest's own numbers
    assert f["bt.trade_count"]["evidence"]["value"] == summary["totalTrades"]
    related = {e["metric"]: e["value"] for e in f["bt.cost_sensitivity"]["related"]}
    assert related["totalReturnPct"] == pytest.approx(summary["totalReturn"], abs=1e-4)
    assert related["stressedCostBps"] == 30  # (10 + 5) doubled
    assert f["bt.over_exposure"]["severity"] == "info"  # all-in long never exceeds equity
    assert 0 <= audit["score"] <= 100


def test_strategy_audit_uses_its_latest_backtest(client, user, make_strategy, agent_off):
    sid = make_strategy(user, params={"fast": 5, "slow": 20})["id"]
    error(client.post("/api/agent/audit", json={"strategy_id": sid}, headers=user.headers), 422)
    _backtest(client, user, strategy_id=sid)
    audit = _audit(client, user, strategy_id=sid)
    assert audit["status"] == "completed" and audit["target"]["kind"] == "strategy"
    assert any(x["id"] == "bt.trade_count" for x in audit["findings"])


def test_someone_elses_backtest_is_not_found(client, user, other_user, agent_off):
    bt = _backtest(client, user)
    error(
        client.post("/api/agent/audit", json={"backtest_id": bt}, headers=other_user.headers),
        404,
        code="agent.target_not_found",
    )


def test_uploaded_csv_statements(client, user, agent_off):
    lines = ["field,current,prior", "marketCap,1500,"]
    lines += [f"{k},{EXAMPLE['current'][k]},{EXAMPLE['prior'][k]}" for k in EXAMPLE["current"]]
    import io

    up = client.post(
        "/api/files",
        data={"file": (io.BytesIO("\n".join(lines).encode()), "acme.csv")},
        headers=user.headers,
        content_type="multipart/form-data",
    )
    assert up.status_code == 201, up.get_json()
    audit = _audit(client, user, file_id=up.get_json()["data"]["id"], symbol="ACME")
    assert audit["status"] == "completed" and audit["score"] == 90
    assert audit["target"] == {"kind": "file", "id": up.get_json()["data"]["id"], "symbol": "ACME"}


def test_unknown_targets_are_404(client, user, agent_off):
    for field in ("backtest_id", "bot_id", "file_id", "strategy_id"):
        resp = client.post(
            "/api/agent/audit", json={field: "00000000-0000-0000-0000-000000000000"}, headers=user.headers
        )
        assert error(resp, 404)["details"]["reason"] == "not_found", field


def test_bot_audit_through_the_real_bots_service(app, client, user, bot_strategy, wave_market, agent_off):
    # Counts the bot's closing fills (those that realise PnL), not its opening ones.
    from decimal import Decimal

    from backend.modules.bots import service as bots_service
    from tests.fixtures.bots import T0

    with app.app_context():
        bot = bots_service.create_bot(
            actor_id=user.id,
            name="audited",
            strategy_id=bot_strategy(user.id),
            capital=Decimal(10000),
            fee_bps=Decimal(10),
            slippage_bps=Decimal(0),
            allow_short=False,
            start_ms=T0,
            now=wave_market.now,
        )
        for index in range(12, 200):
            bots_service.tick_bot(bot_id=bot.id, now=wave_market.at_bar(index))
        orders = bots_service.get_performance(actor_id=user.id, bot_id=bot.id).orders
    closing = [o for o in orders if o.side == "sell"]  # long-only: every sell closes a position
    assert len(closing) >= 2 and len(orders) > len(closing)
    audit = _audit(client, user, bot_id=bot.id)
    assert audit["status"] == "completed", audit
    assert audit["target"] == {"kind": "bot", "id": bot.id, "symbol": "BTCUSDT"}
    f = {x["id"]: x for x in audit["findings"]}
    assert f["bt.trade_count"]["evidence"]["value"] == len(closing)


@pytest.mark.parametrize(
    ("side", "quantity", "position_after", "closes"),
    [
        ("buy", 1, 1, False),  # opens a long
        ("buy", 1, 2, False),  # adds to it
        ("sell", 1, 1, True),  # reduces it
        ("sell", 1, 0, True),  # closes it
        ("sell", 1, -1, False),  # opens a short
        ("buy", 1, 0, True),  # closes the short
        ("sell", 2, -1, True),  # flips a long of 1 to a short of 1
    ],
)
def test_a_fill_closes_when_the_position_before_was_on_the_other_side(side, quantity, position_after, closes):
    from decimal import Decimal

    from backend.modules.agent.targets import _closes

    assert _closes(side, Decimal(quantity), Decimal(position_after)) is closes
