"""GET /api/backtests/job/{id} while a job is queued, running or failed: one read, the same answer.

A client polls this while its job runs, so a run that has not succeeded is answered from one
statement (``service._JOB_STATE``); these tests pin its answer to the rows and its errors to the
ones ``jobs.get_job`` gives (a success's result is tested with the results).
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, update

from backend.core import jobs
from backend.extensions import db
from backend.modules.backtests.models import Backtest
from tests.fixtures.core_celery import add_job, hold_jobs
from tests.helpers.api import error


def _submit(run_backtest, owner) -> dict:
    resp = run_backtest(owner, strategy={"kind": "sma_cross"}, symbol="BTCUSDT")
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["data"]


def _poll(client, owner, job_id: str):
    return client.get(f"/api/backtests/job/{job_id}", headers=owner.headers)


def _statements_of(fn) -> list[str]:
    """Return the SQL statements ``fn`` runs (not the savepoints the test suite wraps requests in)."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_a) -> None:
        text = " ".join(statement.split())
        if not text.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):  # the suite's
            seen.append(text)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


def _set_job(job_id: str, **values) -> None:
    db.session.execute(update(jobs.Job).where(jobs.Job.id == job_id).values(**values))
    db.session.commit()


@pytest.mark.parametrize(
    ("values", "wire"),
    [
        ({}, {"status": "PENDING", "progress": 0}),
        ({"status": jobs.RUNNING, "progress": 55, "attempts": 1}, {"status": "RUNNING", "progress": 55}),
        (
            {"status": jobs.FAILED, "progress": 30, "error_reason": "no_data", "error": "No bars."},
            {"status": "FAILED", "progress": 30, "error": {"reason": "no_data", "message": "No bars."}},
        ),
        (
            {"status": jobs.CANCELLED, "progress": 10, "error_reason": "cancelled", "error": "Stopped."},
            {"status": "FAILED", "progress": 10, "error": {"reason": "cancelled", "message": "Stopped."}},
        ),
    ],
)
def test_a_run_not_yet_succeeded_is_answered_from_its_rows_in_one_read(
    client, user, run_backtest, monkeypatch, values, wire
):
    hold_jobs(monkeypatch)
    ids = _submit(run_backtest, user)
    if values:
        _set_job(ids["job_id"], **values)
    answers = []
    statements = _statements_of(lambda: answers.append(_poll(client, user, ids["job_id"])))
    resp = answers[0]
    assert resp.status_code == 200
    assert resp.get_json()["data"] == {"job_id": ids["job_id"], "backtest_id": ids["backtest_id"], **wire}
    assert len(statements) == 1 and statements[0].startswith("SELECT jobs.kind"), statements


def test_the_poll_follows_the_job_to_its_result(client, user, run_backtest, monkeypatch):
    hold_jobs(monkeypatch)
    ids = _submit(run_backtest, user)
    assert _poll(client, user, ids["job_id"]).get_json()["data"]["status"] == "PENDING"
    assert jobs.execute(ids["job_id"]) == jobs.SUCCESS
    answers = []
    statements = _statements_of(lambda: answers.append(_poll(client, user, ids["job_id"])))
    data = answers[0].get_json()["data"]
    # the job's state, its backtest row, the first fills' blocks: the job is not read twice
    assert [st.split()[1].split(".")[0] for st in statements] == [
        "jobs",
        "backtests",
        "backtest_trade_blocks",
    ]
    assert (data["status"], data["progress"], data["backtest_id"]) == ("SUCCESS", 100, ids["backtest_id"])
    assert data["result"]["summary"]["totalTrades"] >= 0 and len(data["result"]["kline"]) > 0
    assert "error" not in data


def test_another_users_queued_job_is_404_and_not_read_further(
    client, user, other_user, run_backtest, monkeypatch
):
    hold_jobs(monkeypatch)
    ids = _submit(run_backtest, user)
    for state in ({}, {"status": jobs.RUNNING, "progress": 40, "attempts": 1}):
        if state:
            _set_job(ids["job_id"], **state)
        error(_poll(client, other_user, ids["job_id"]), 404, code="backtests.not_found")
    assert _poll(client, user, ids["job_id"]).status_code == 200


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-an-id", "1' OR '1'='1"])
def test_unknown_or_malformed_ids_are_404(client, user, job_id):
    error(_poll(client, user, job_id), 404, "not_found")


def test_a_job_of_another_kind_is_404_even_for_its_owner(client, user):
    job_id = add_job("selftest.other", user.id, status=jobs.RUNNING, progress=5, attempts=1)
    error(_poll(client, user, job_id), 404, code="backtests.not_found")


def test_the_poll_writes_nothing(client, user, run_backtest, monkeypatch):
    hold_jobs(monkeypatch)
    ids = _submit(run_backtest, user)
    _set_job(ids["job_id"], status=jobs.RUNNING, progress=20, attempts=1)
    statements = _statements_of(lambda: _poll(client, user, ids["job_id"]))
    assert all(s.startswith("SELECT") for s in statements), statements
    row = db.session.get(Backtest, ids["backtest_id"])
    assert row is not None and row.finished_at is None
