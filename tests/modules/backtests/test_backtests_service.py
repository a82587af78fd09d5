"""Backtests service: cancellation, failure hook, and the functions other modules call."""

from __future__ import annotations

import pytest

from backend.core import jobs
from backend.modules.backtests import results, service
from backend.modules.backtests.errors import BacktestNotFound, InvalidBacktest
from backend.modules.backtests.schemas import BacktestSummarySchema
from tests.fixtures.core_celery import hold_jobs, make_job_stale


def _submit(client, owner, run_backtest, **body) -> dict:
    resp = run_backtest(owner, **{"strategy": {"kind": "sma_cross"}, "symbol": "BTCUSDT", **body})
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["data"]


def _job_status(client, owner, job_id: str) -> dict:
    return client.get(f"/api/backtests/job/{job_id}", headers=owner.headers).get_json()["data"]


def test_cancel_a_queued_backtest_and_the_late_delivery_is_a_no_op(client, user, run_backtest, monkeypatch):
    hold_jobs(monkeypatch)  # nothing consumes it
    ids = _submit(client, user, run_backtest)
    assert _job_status(client, user, ids["job_id"])["status"] == "PENDING"
    resp = client.post(f"/api/backtests/{ids['backtest_id']}/cancel", headers=user.headers)
    assert resp.status_code == 200 and resp.get_json()["data"]["status"] == "failed"
    assert jobs.execute(ids["job_id"]) is None  # not PENDING any more: skipped
    status = _job_status(client, user, ids["job_id"])
    assert status["status"] == "FAILED" and status["error"]["reason"] == "cancelled"


def test_cancel_while_running_stops_before_the_result_is_written(client, user, run_backtest, monkeypatch):
    real_load = results.load_bars

    def load_then_cancel(row):
        service.cancel_backtest(actor_id=row.owner_id, backtest_id=row.id)  # the user clicks cancel
        return real_load(row)

    monkeypatch.setattr(results, "load_bars", load_then_cancel)
    ids = _submit(client, user, run_backtest)
    assert _job_status(client, user, ids["job_id"])["status"] == "FAILED"
    detail = client.get(f"/api/backtests/{ids['backtest_id']}", headers=user.headers).get_json()["data"]
    assert (
        detail["status"] == "failed"
        and detail["error"]["reason"] == "cancelled"
        and detail["summary"] is None
        and detail["trades"] == []
    )


def test_a_lost_worker_fails_the_backtest_through_its_job(app, client, user, run_backtest, monkeypatch):
    hold_jobs(monkeypatch)
    ids = _submit(client, user, run_backtest)
    make_job_stale(ids["job_id"], attempts=app.config["JOB_MAX_ATTEMPTS"])
    assert jobs.reap_stale_jobs()["failed"] == 1
    detail = client.get(f"/api/backtests/{ids['backtest_id']}", headers=user.headers).get_json()["data"]
    assert detail["status"] == "failed" and detail["error"]["reason"] == "worker_lost"


def test_verified_kpis_for_the_owner_only_and_only_once_completed(
    client, user, other_user, run_backtest, monkeypatch
):
    ids = _submit(client, user, run_backtest)
    kpis = service.verified_kpis(actor_id=user.id, backtest_id=ids["backtest_id"])
    stored = client.get(f"/api/backtests/{ids['backtest_id']}", headers=user.headers).get_json()["data"]
    assert (
        kpis["backtestId"] == ids["backtest_id"] and kpis["totalReturn"] == stored["summary"]["totalReturn"]
    )
    assert kpis["engineVersion"] == "1.0.0" and kpis["params"] == {"fast": 10, "slow": 30}
    # The shape forum posts store and the agent reads: the inputs, then the 8 KPIs, flat and camelCase.
    inputs = ["backtestId", "strategyId", "strategyVersionId", "symbol", "interval", "kind", "params"]
    inputs += ["start", "end", "engineVersion", "finishedAt"]
    assert sorted(kpis) == sorted([*inputs, *stored["summary"]])
    assert {k: kpis[k] for k in stored["summary"]} == stored["summary"]
    with pytest.raises(BacktestNotFound):
        service.verified_kpis(actor_id=other_user.id, backtest_id=ids["backtest_id"])
    hold_jobs(monkeypatch)
    queued = _submit(client, user, run_backtest)
    assert service.verified_kpis(actor_id=user.id, backtest_id=queued["backtest_id"]) is None


def test_rebuild_run_reproduces_the_stored_result(client, user, run_backtest):
    ids = _submit(client, user, run_backtest, fee_bps=7, slippage_bps=3)
    rebuilt = service.rebuild_run(actor_id=user.id, backtest_id=ids["backtest_id"])
    stored = client.get(f"/api/backtests/{ids['backtest_id']}", headers=user.headers).get_json()["data"]
    assert rebuilt.metrics == stored["metrics"]
    assert BacktestSummarySchema().dump(rebuilt.summary) == stored["summary"]
    assert (rebuilt.config.fee_bps, rebuilt.config.slippage_bps) == (7.0, 3.0)
    assert len(rebuilt.bars) == stored["barsCount"] == len(rebuilt.result.equity)
    assert (rebuilt.kind, rebuilt.symbol, rebuilt.interval) == ("sma_cross", "BTCUSDT", "1h")


def test_rebuild_run_needs_a_completed_backtest(client, user, run_backtest, monkeypatch):
    hold_jobs(monkeypatch)
    ids = _submit(client, user, run_backtest)
    with pytest.raises(InvalidBacktest):
        service.rebuild_run(actor_id=user.id, backtest_id=ids["backtest_id"])


def test_strategy_kpis_use_the_owners_latest_completed_run(
    client, user, other_user, make_strategy, run_backtest
):
    sid = make_strategy(user, published=True)["id"]
    assert service.strategy_kpis(strategy_id=sid, owner_id=user.id) is None
    mine = run_backtest(user, strategy_id=sid).get_json()["data"]
    run_backtest(other_user, strategy_id=sid, fee_bps=50)  # someone else's run does not count
    kpis = service.strategy_kpis(strategy_id=sid, owner_id=user.id)
    assert kpis["backtestId"] == mine["backtest_id"]


def test_job_kind_is_declared_for_the_worker_and_the_reaper(app):
    assert "backtests.run" in jobs.registered_kinds()


def test_trade_marks_are_my_fills_in_the_range(client, user, other_user, run_backtest):
    ids = _submit(client, user, run_backtest)
    fills = client.get(f"/api/backtests/{ids['backtest_id']}", headers=user.headers).get_json()["data"][
        "trades"
    ]
    first, second = fills[0]["timestamp"], fills[1]["timestamp"]
    marks = service.trade_marks(actor_id=user.id, symbol="BTCUSDT", start_ms=first, end_ms=second + 1)
    assert [(m["time"], m["side"]) for m in marks] == [(first, "buy"), (second, "sell")]
    assert service.trade_marks(actor_id=other_user.id, symbol="BTCUSDT", start_ms=0, end_ms=2**62) == []
    assert service.trade_marks(actor_id=None, symbol="BTCUSDT", start_ms=0, end_ms=2**62) == []


def test_unknown_symbol_is_422_at_submit(client, user, run_backtest):
    resp = run_backtest(user, strategy={"kind": "rsi"}, symbol="NOPE")
    assert resp.status_code == 422 and "symbol" in resp.get_json()["details"]["fields"]


def test_storing_a_result_twice_replaces_the_trades(client, user, run_backtest):
    from backend.extensions import db
    from backend.modules.backtests import trade_store
    from backend.modules.backtests.models import Backtest

    ids = _submit(client, user, run_backtest)
    row = db.session.get(Backtest, ids["backtest_id"])
    before, n = trade_store.read(row.id)
    results.store(row, results.compute(row, results.load_bars(row)))  # a requeued run finishing again
    db.session.flush()
    after, m = trade_store.read(row.id)
    assert n > 0 and m == n and after.tobytes() == before.tobytes()


def test_a_first_attempt_skips_the_trades_delete_and_a_retry_replaces_them(
    app, client, user, run_backtest, monkeypatch
):
    from backend.extensions import db
    from backend.modules.backtests import trade_store
    from backend.modules.backtests.models import Backtest

    replaces: list[bool] = []
    real_begin = trade_store.begin_write

    def spy(backtest_id, trades, *, replace=True, **options):
        replaces.append(replace)
        return real_begin(backtest_id, trades, replace=replace, **options)

    monkeypatch.setattr(trade_store, "begin_write", spy)
    ids = _submit(client, user, run_backtest)  # runs at once: the job's first attempt
    assert _job_status(client, user, ids["job_id"])["status"] == "SUCCESS" and replaces == [False]
    first, n = trade_store.read(ids["backtest_id"])

    hold_jobs(monkeypatch)
    again = _submit(client, user, run_backtest)
    row = db.session.get(Backtest, again["backtest_id"])
    results.store(row, results.compute(row, results.load_bars(row)))  # what a lost attempt left behind
    db.session.commit()
    make_job_stale(again["job_id"], attempts=1)
    assert jobs.reap_stale_jobs()["requeued"] == 1
    assert jobs.execute(again["job_id"]) == jobs.SUCCESS  # attempt 2: DELETE, then the COPY
    assert replaces[-1] is True
    stored, m = trade_store.read(again["backtest_id"])
    assert n > 0 and m == n and stored.tobytes() == first.tobytes()


def test_a_failure_beside_the_trades_copy_waits_for_it_and_rolls_back(
    client, user, run_backtest, monkeypatch
):
    from backend.extensions import db
    from backend.modules.backtests import trade_store
    from backend.modules.backtests.models import Backtest

    hold_jobs(monkeypatch)
    ids = _submit(client, user, run_backtest)
    row = db.session.get(Backtest, ids["backtest_id"])
    done = results.compute(row, results.load_bars(row))

    writes: list[str] = []
    begin_write = trade_store.begin_write

    def watched(*args, **kwargs):
        wait = begin_write(*args, **kwargs)

        def waited():
            wait()
            writes.append("done")

        return waited

    def broken():
        assert writes == []  # the writer's chart UPDATE and COPY are in flight
        raise RuntimeError("clock failed")

    monkeypatch.setattr(trade_store, "begin_write", watched)
    monkeypatch.setattr(results, "now_ms", broken)  # the last step before the wait
    monkeypatch.setattr(results, "BESIDE_MIN_BARS", 0)  # the writer on its thread, as for a long run
    savepoint = db.session.begin_nested()
    with pytest.raises(RuntimeError, match="clock failed"):
        results.store(row, done)
    assert writes == ["done"]  # the error came after the writer ended
    savepoint.rollback()
    assert trade_store.count(row.id) == 0  # the COPY went with the savepoint
    db.session.expire_all()
    assert db.session.get(Backtest, row.id).kline is None  # and the chart's UPDATE


def test_a_run_with_its_guardrails_and_trades_copy_on_threads_stores_the_same_result(
    client, user, run_backtest, monkeypatch
):
    from backend.modules.backtests import trade_store

    def stored(backtest_id: str) -> tuple:
        detail = client.get(f"/api/backtests/{backtest_id}", headers=user.headers).get_json()["data"]
        trades, n = trade_store.read(backtest_id)
        kept = ("summary", "guardrails", "kline", "equity")
        return tuple(detail[k] for k in kept), trades.tobytes(), n

    inline = _submit(client, user, run_backtest, interval="1h")
    monkeypatch.setattr(results, "BESIDE_MIN_BARS", 0)  # as a run of 500k bars or more does
    threaded = _submit(client, user, run_backtest, interval="1h")
    a, b = stored(inline["backtest_id"]), stored(threaded["backtest_id"])
    assert a[2] > 0 and a == b


def test_a_long_runs_chart_is_written_once_by_the_writer_not_in_the_rows_update(
    client, user, run_backtest, monkeypatch
):
    from sqlalchemy import event

    from backend.extensions import db

    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split()))

    monkeypatch.setattr(results, "BESIDE_MIN_BARS", 0)  # as a run of 500k bars or more does
    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        ids = _submit(client, user, run_backtest, interval="1h")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert _job_status(client, user, ids["job_id"])["status"] == "SUCCESS"
    row_updates = [s for s in seen if s.startswith("UPDATE backtests SET")]
    assert len(row_updates) == 1 and "metrics" in row_updates[0]  # the ORM's: the result's other columns
    assert "kline" not in row_updates[0] and "equity_curve" not in row_updates[0]
    detail = client.get(f"/api/backtests/{ids['backtest_id']}", headers=user.headers).get_json()["data"]
    assert len(detail["kline"]) > 0 and len(detail["equity"]) > 0  # written by the writer's own UPDATE


def test_a_long_runs_chart_refused_by_postgres_fails_the_job_and_stores_nothing(
    client, user, run_backtest, monkeypatch
):
    from backend.extensions import db
    from backend.modules.backtests import trade_store
    from backend.modules.backtests.models import Backtest

    monkeypatch.setattr(results, "BESIDE_MIN_BARS", 0)  # the chart's UPDATE on the writer's thread
    monkeypatch.setattr(results, "kline_wire", lambda *_a: '[{"time":1,')  # not JSON: Postgres says no
    ids = _submit(client, user, run_backtest, interval="1h")
    assert _job_status(client, user, ids["job_id"])["status"] == "FAILED"
    db.session.expire_all()
    row = db.session.get(Backtest, ids["backtest_id"])
    assert row is not None and row.kline is None and row.metrics is None and row.finished_at is None
    assert trade_store.count(ids["backtest_id"]) == 0  # the COPY after it never ran or rolled back


def test_the_chart_writer_refuses_a_backtest_that_is_not_there(app):
    from backend.extensions import db

    raw = db.session.connection().connection.dbapi_connection
    with pytest.raises(RuntimeError, match="not found"):
        results._chart_writer("no-such-backtest", "[]", "[]")(raw)


def test_a_long_run_whose_return_sums_fail_fails_and_computes_them_once(
    client, user, run_backtest, monkeypatch
):
    # The sums are shared (core.threads.Once): whichever of the metrics and the guardrails' thread
    # needs them first computes them; its error fails the job, and the other computes its own.
    calls: list[int] = []

    def broken(_result):
        calls.append(1)
        raise RuntimeError("sums failed")

    monkeypatch.setattr(results, "BESIDE_MIN_BARS", 0)  # the guardrails on their thread
    monkeypatch.setattr(results, "return_sums", broken)
    ids = _submit(client, user, run_backtest, interval="1h")
    assert _job_status(client, user, ids["job_id"])["status"] == "FAILED"
    assert calls == [1]


def test_a_long_run_whose_metrics_fail_beside_the_copy_fails_and_stores_nothing(
    client, user, run_backtest, monkeypatch
):
    # A long run's metrics are computed when the store reads them, with the trades' COPY in
    # flight: their error fails the job and rolls all of it back.
    from backend.extensions import db
    from backend.modules.backtests import trade_store
    from backend.modules.backtests.models import Backtest

    def broken(*_args, **_kwargs):
        raise RuntimeError("metrics failed")

    monkeypatch.setattr(results, "BESIDE_MIN_BARS", 0)  # as a run of 500k bars or more does
    monkeypatch.setattr(results, "compute_metrics", broken)
    ids = _submit(client, user, run_backtest, interval="1h")
    assert _job_status(client, user, ids["job_id"])["status"] == "FAILED"
    db.session.expire_all()
    row = db.session.get(Backtest, ids["backtest_id"])
    assert row is not None and row.kline is None and row.metrics is None and row.finished_at is None
    assert trade_store.count(ids["backtest_id"]) == 0


def test_a_long_run_whose_guardrails_fail_on_their_thread_fails_and_stores_nothing(
    client, user, run_backtest, monkeypatch
):
    # The guardrails run on their own thread from the engine's result; the store waits for them,
    # so their error fails the job there and rolls the writer's work back with it.
    import threading

    from backend.extensions import db
    from backend.modules.backtests import trade_store
    from backend.modules.backtests.models import Backtest

    where: list[bool] = []

    def broken(*_args, **_kwargs):
        where.append(threading.current_thread() is threading.main_thread())
        raise RuntimeError("guardrails failed")

    monkeypatch.setattr(results, "BESIDE_MIN_BARS", 0)  # as a run of 500k bars or more does
    monkeypatch.setattr(results, "result_guardrails", broken)
    ids = _submit(client, user, run_backtest, interval="1h")
    assert _job_status(client, user, ids["job_id"])["status"] == "FAILED"
    assert where == [False]  # made once, on their own thread
    db.session.expire_all()
    row = db.session.get(Backtest, ids["backtest_id"])
    assert row is not None and row.kline is None and row.guardrails is None and row.finished_at is None
    assert trade_store.count(ids["backtest_id"]) == 0


def test_a_long_runs_metrics_are_computed_once_when_first_read(client, user, run_backtest, monkeypatch):
    from backend.extensions import db
    from backend.modules.backtests.models import Backtest

    hold_jobs(monkeypatch)
    ids = _submit(client, user, run_backtest, interval="1h")
    row = db.session.get(Backtest, ids["backtest_id"])
    bars = results.load_bars(row)
    inline = results.compute(row, bars)
    calls: list[int] = []
    compute_metrics = results.compute_metrics

    def counted(*args, **kwargs):
        calls.append(1)
        return compute_metrics(*args, **kwargs)

    monkeypatch.setattr(results, "BESIDE_MIN_BARS", 0)
    monkeypatch.setattr(results, "compute_metrics", counted)
    later = results.compute(row, bars)
    assert calls == []  # not yet: the store reads them with the COPY in flight
    assert repr(later.metrics) == repr(inline.metrics) and later.metrics is later.metrics
    assert calls == [1]
    assert repr(later.guardrails) == repr(inline.guardrails)


def test_a_long_runs_metrics_error_is_raised_at_each_read(monkeypatch):
    failures: list[int] = []

    def broken():
        failures.append(1)
        raise RuntimeError("metrics failed")

    wait = results._when_read(broken)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="metrics failed"):
            wait()
    assert failures == [1, 1]  # nothing kept: each read tries again


def test_too_many_active_runs_is_429_naming_the_limit(app, client, user, run_backtest, monkeypatch):
    hold_jobs(monkeypatch)  # runs stay queued
    monkeypatch.setitem(app.config, "BACKTEST_MAX_ACTIVE", 2)
    first = _submit(client, user, run_backtest)
    _submit(client, user, run_backtest)
    resp = run_backtest(user, strategy={"kind": "rsi"}, symbol="BTCUSDT")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "5"
    details = resp.get_json()["details"]
    assert (details["error"], details["limit"], details["max"]) == (
        "backtests.too_many_active",
        "BACKTEST_MAX_ACTIVE",
        2,
    )
    client.post(f"/api/backtests/{first['backtest_id']}/cancel", headers=user.headers)
    assert run_backtest(user, strategy={"kind": "rsi"}, symbol="BTCUSDT").status_code == 202


def test_a_cancel_after_the_last_progress_check_still_wins(client, user, run_backtest, monkeypatch):
    real_progress = jobs.JobContext.progress

    def progress_then_cancel(ctx, pct):
        real_progress(ctx, pct)
        if pct == 95:  # the user's cancel lands between the last check and the write
            from backend.extensions import db
            from backend.modules.backtests.models import Backtest

            row = db.session.query(Backtest).filter_by(job_id=ctx.job_id).one()
            service.cancel_backtest(actor_id=row.owner_id, backtest_id=row.id)

    monkeypatch.setattr(jobs.JobContext, "progress", progress_then_cancel)
    ids = _submit(client, user, run_backtest)
    assert _job_status(client, user, ids["job_id"])["status"] == "FAILED"
    detail = client.get(f"/api/backtests/{ids['backtest_id']}", headers=user.headers).get_json()["data"]
    assert (
        detail["status"] == "failed"
        and detail["error"]["reason"] == "cancelled"
        and detail["trades"] == []
        and detail["metrics"] is None
    )


def test_the_task_is_routed_to_the_backtests_queue(app):
    celery = app.extensions["celery"]
    assert "backtests.run" in celery.tasks
    assert celery.amqp.router.route({}, "backtests.run")["queue"].name == "backtests"


def test_a_completed_run_is_snapshotted_down_on_its_owners_strategy_only(
    client, user, other_user, make_strategy, run_backtest
):
    from backend.extensions import db
    from backend.modules.backtests.models import Backtest
    from backend.modules.strategies import service as strategies_service
    from backend.modules.strategies.models import Strategy

    sid = make_strategy(user, published=True)["id"]
    assert strategies_service.get_strategy(actor_id=user.id, strategy_id=sid).latest_backtest_id is None
    mine = run_backtest(user, strategy_id=sid).get_json()["data"]["backtest_id"]
    theirs = run_backtest(other_user, strategy_id=sid).get_json()["data"]["backtest_id"]
    assert theirs != mine
    row = db.session.get(Strategy, sid)
    db.session.refresh(row)
    done = db.session.get(Backtest, mine)
    assert (row.latest_backtest_id, row.latest_metrics, row.latest_finished_at) == (
        mine,
        done.metrics,
        done.finished_at,
    )
    # An older run (by finish time) never replaces a newer snapshot.
    assert not strategies_service.record_backtest(
        strategy_id=sid, owner_id=user.id, backtest_id="older", metrics={}, finished_at=done.finished_at - 1
    )
    assert strategies_service.record_backtest(
        strategy_id=sid,
        owner_id=user.id,
        backtest_id="newer",
        metrics={"totalReturn": 1},
        finished_at=done.finished_at + 1,
    )
    assert not strategies_service.record_backtest(
        strategy_id=sid, owner_id=other_user.id, backtest_id="x", metrics={}, finished_at=done.finished_at + 2
    )


def test_the_stored_row_comes_back_without_its_jobs_object_so_complete_runs_built_once(
    app, user, make_strategy, run_backtest
):
    """The claim's read leaves no object of the job in the session and ``_store`` merges the row
    back without it (no merge cascade), so ``complete()`` runs its UPDATE built once on the
    session's connection. The row's job is still there to read."""
    from backend.core.db import holds
    from backend.core.jobs import Job
    from backend.extensions import db
    from backend.modules.backtests import service

    sid = make_strategy(user)["id"]
    job_id = run_backtest(user, strategy_id=sid).get_json()["data"]["job_id"]
    db.session.expunge_all()
    loaded = service._row_of_job(job_id)  # the claim's transaction's read (the kind's load)
    assert loaded.row.job.id == job_id  # read with the row (joined), as before
    assert not holds(Job, job_id)
    db.session.commit()
    row = db.session.merge(loaded.row, load=False)
    assert row.job_id == job_id and not holds(Job, job_id)
    assert row.job.status == "SUCCESS"  # read on demand
