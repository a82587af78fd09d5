"""Service-level job behaviour: duplicate deliveries are no-ops; a lost worker fails the audit."""

from backend.core import jobs
from tests.domain.audit.test_statements import EXAMPLE
from tests.fixtures.core_celery import hold_jobs, make_job_stale


def test_a_duplicate_delivery_does_nothing(app, client, user, agent_off):
    ids = client.post("/api/agent/audit", json={"statements": EXAMPLE}, headers=user.headers).get_json()[
        "data"
    ]
    with app.app_context():
        assert jobs.execute(ids["job_id"]) is None
    audit = client.get(f"/api/agent/audits/{ids['audit_id']}", headers=user.headers).get_json()["data"]
    assert audit["status"] == "completed" and audit["score"] == 90


def test_a_lost_worker_fails_a_queued_audit(app, client, user, agent_off, monkeypatch):
    hold_jobs(monkeypatch)
    ids = client.post("/api/agent/audit", json={"statements": EXAMPLE}, headers=user.headers).get_json()[
        "data"
    ]
    assert (
        client.get(f"/api/agent/audits/{ids['audit_id']}", headers=user.headers).get_json()["data"]["status"]
        == "queued"
    )
    make_job_stale(ids["job_id"], attempts=app.config["JOB_MAX_ATTEMPTS"])
    with app.app_context():
        assert jobs.reap_stale_jobs()["failed"] == 1
    audit = client.get(f"/api/agent/audits/{ids['audit_id']}", headers=user.headers).get_json()["data"]
    assert (audit["status"], audit["error"]["reason"]) == ("failed", "worker_lost")
    assert audit["finishedAt"] is not None
    assert audit["target"]["symbol"] == "ACME"  # taken from the statements


def test_the_job_kind_is_declared_as_a_task(app):
    assert "agent.audit" in jobs.registered_kinds()
    assert "agent.audit" in app.extensions["celery"].tasks
