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
    from sqlalchemy import select, text, update

    from backend.extensions import db
    from backend.modules.strategies.models import Strategy
    from tests.helpers.migrations import load_migration

    migration = load_migration("0009_strategies_latest_backtest")

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


def test_record_backtest_built_once_decides_and_writes_as_the_per_call_statement(
    app, user, other_user, make_strategy
):
    """Without the strategy's object in the session, ``record_backtest`` runs its UPDATE built once on
    the session's connection: every case (first, older, newer, tie by id, another owner) is decided
    and stored as the per-call statement (kept for a session holding the object) decides and stores it,
    and the write is noted for the caches with its owner."""
    from sqlalchemy import select

    from backend.core.db import holds
    from backend.extensions import db
    from backend.modules.strategies.models import Strategy

    def stored(sid: str) -> tuple:
        return db.session.execute(
            select(Strategy.latest_backtest_id, Strategy.latest_metrics, Strategy.latest_finished_at).where(
                Strategy.id == sid
            )
        ).one()

    fast, oracle = make_strategy(user)["id"], make_strategy(user)["id"]
    db.session.expunge_all()
    calls = [
        (user.id, "b", {"totalReturn": 1.5, "trades": [1, 2]}, 100),  # the first
        (user.id, "a", {}, 99),  # older
        (user.id, "c", {"x": None}, 100),  # a tie, larger id
        (user.id, "a", {"x": "tie"}, 100),  # a tie, smaller id: wins
        (other_user.id, "z", {}, 500),  # not the owner's
        (user.id, "d", {"totalReturn": -2}, 101),  # newer
    ]
    for owner, backtest_id, metrics, finished_at in calls:
        db.session.commit()
        assert not holds(Strategy, fast)
        changed = service.record_backtest(
            strategy_id=fast,
            owner_id=owner,
            backtest_id=backtest_id,
            metrics=metrics,
            finished_at=finished_at,
        )
        assert db.session.info["qyq_changes"] == {"strategies": {owner}}
        expected = db.session.scalars(
            service._record_statement(oracle, owner, backtest_id, metrics, finished_at)
        ).first()
        assert changed == (expected is not None)
        assert stored(fast) == stored(oracle)
    assert stored(fast) == ("d", {"totalReturn": -2}, 101)


def test_record_backtest_updates_the_strategy_object_a_session_holds(app, user, make_strategy):
    from backend.core.db import holds
    from backend.extensions import db
    from backend.modules.strategies.models import Strategy

    held = db.session.get(Strategy, make_strategy(user)["id"])
    assert holds(Strategy, held.id) and held.latest_backtest_id is None
    assert service.record_backtest(
        strategy_id=held.id, owner_id=user.id, backtest_id="b", metrics={"k": 1}, finished_at=5
    )
    assert (held.latest_backtest_id, held.latest_metrics, held.latest_finished_at) == ("b", {"k": 1}, 5)
