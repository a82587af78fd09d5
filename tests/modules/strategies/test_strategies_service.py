"""Strategies service functions used by other modules (bots, backtests, forum)."""

from __future__ import annotations

import numpy as np
import pytest

from backend.domain.bars import Bars
from backend.modules.strategies import service
from backend.modules.strategies.errors import StrategyNotFound, StrategyVersionNotFound


def test_content_hash_is_canonical():
    # Key order does not matter; a different value does.
    assert service.content_hash("rsi", {"a": 1, "b": 2}) == service.content_hash("rsi", {"b": 2, "a": 1})
    assert service.content_hash("rsi", {"a": 1}) != service.content_hash("rsi", {"a": 2})


def test_get_strategy_for_run_pins_the_current_version(app, user, other_user, make_strategy):
    data = make_strategy(user, params={"fast": 3, "slow": 6})
    run = service.get_strategy_for_run(actor_id=user.id, strategy_id=data["id"])
    assert (run.version_id, run.kind, run.params, run.version_number) == (
        data["versionId"],
        "sma_cross",
        {"fast": 3, "slow": 6},
        1,
    )
    with pytest.raises(StrategyNotFound):
        service.get_strategy_for_run(actor_id=other_user.id, strategy_id=data["id"])
    with pytest.raises(StrategyVersionNotFound):
        service.get_version_for_run(actor_id=user.id, strategy_id=data["id"], version_id="nope")
    pinned = service.get_version_for_run(
        actor_id=user.id, strategy_id=data["id"], version_id=data["versionId"]
    )
    assert pinned.params == {"fast": 3, "slow": 6}


def test_compute_signals_of_a_version_marks_the_crossings(app, user, make_strategy):
    data = make_strategy(user, params={"fast": 2, "slow": 3})
    run = service.get_strategy_for_run(actor_id=user.id, strategy_id=data["id"])
    close = np.array([5, 4, 3, 4, 6, 5, 3, 2], dtype=float)
    bars = Bars.from_arrays(np.arange(8) * 60_000, close, close, close, close, np.ones(8))
    signals = service.compute_signals(kind=run.kind, params=run.params, bars=bars)
    # SMA2: -, 4.5, 3.5, 3.5, 5, 5.5, 4, 2.5 ; SMA3: -, -, 4, 3.67, 4.33, 5, 4.67, 3.33
    # fast above slow from index 4 (crossed up at 4); back below at index 6 (crossed down at 6).
    assert np.flatnonzero(signals.entries).tolist() == [4]
    assert np.flatnonzero(signals.exits).tolist() == [6]


def test_workflow_kind_needs_a_workflow_version(app, user, client):
    resp = client.post(
        "/api/strategies", json={"name": "wf", "symbol": "BTCUSDT", "kind": "workflow"}, headers=user.headers
    )
    assert resp.status_code == 422
    assert "params.workflow_version_id" in resp.get_json()["details"]["fields"]


def test_the_migration_backfills_the_owners_latest_completed_backtest(
    app, user, other_user, make_strategy, run_backtest
):
    import importlib.util
    from pathlib import Path

    from sqlalchemy import select, text, update

    from backend.extensions import db
    from backend.modules.strategies.models import Strategy

    path = Path(__file__).parents[3] / "backend/migrations/versions/0009_strategies_latest_backtest.py"
    spec = importlib.util.spec_from_file_location("strategies_latest_backtest", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)

    sid = make_strategy(user, published=True)["id"]
    untouched = make_strategy(user)["id"]
    for owner in (user, user, other_user):
        assert run_backtest(owner, strategy_id=sid).status_code == 202
    expected = db.session.execute(
        select(Strategy.latest_backtest_id, Strategy.latest_metrics, Strategy.latest_finished_at).where(
            Strategy.id == sid
        )
    ).one()
    assert expected[0] is not None
    db.session.execute(
        update(Strategy).values(latest_backtest_id=None, latest_metrics=None, latest_finished_at=None)
    )
    # At this revision backtests still had their own status column (0010 folds it into jobs):
    # recreate it inside the test's transaction (DDL rolls back with it) so the SQL sees that schema.
    db.session.execute(text("ALTER TABLE backtests ADD COLUMN status varchar(12)"))
    db.session.execute(
        text(
            "UPDATE backtests b SET status = CASE j.status WHEN 'SUCCESS' THEN 'completed' "
            "ELSE 'failed' END FROM jobs j WHERE j.id = b.job_id"
        )
    )
    db.session.execute(text(migration.BACKFILL))
    db.session.expire_all()
    rows = dict(db.session.execute(select(Strategy.id, Strategy.latest_backtest_id)).all())
    assert rows == {sid: expected[0], untouched: None}
    assert db.session.execute(
        select(Strategy.latest_metrics, Strategy.latest_finished_at).where(Strategy.id == sid)
    ).one() == tuple(expected[1:])
