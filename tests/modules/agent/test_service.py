"""Service-level job behaviour: duplicate deliveries are no-ops; a lost worker fails the audit."""
from backend.modules.agent import service
from backend.modules.agent.models import Audit
from tests.domain.audit.test_statements import EXAMPLE


def test_a_duplicate_delivery_does_nothing(app, client, user, agent_off):
    ids = client.post("/api/agent/audit", json={"statements": EXAMPLE}, headers=user.headers).get_json()["data"]
    with app.app_context():
        assert service.run_audit(job_id=ids["job_id"], audit_id=ids["audit_id"]) is None
    audit = client.get(f"/api/agent/audits/{ids['audit_id']}", headers=user.headers).get_json()["data"]
    assert audit["status"] == "completed" and audit["score"] == 90


def test_the_failure_hook_marks_a_queued_audit_failed(app, user, agent_off):
    from backend.extensions import db
    with app.app_context():
        audit = service._create(actor_id=user.id, kind="statements", target_id=None, statements=EXAMPLE,
                                symbol=None, question=None)
        service.mark_failed(audit.job_id, "worker_lost", "The worker running this job stopped responding.")
        row = db.session.get(Audit, audit.id)
        assert (row.status, row.error_reason) == ("failed", "worker_lost")
        assert row.finished_at is not None
        assert row.symbol == "ACME"  # taken from the statements


def test_the_job_kind_is_registered_with_its_hook(app):
    from backend.core import jobs
    kind = jobs._KINDS[service.JOB_KIND]
    assert kind.task_name == "agent.audit" and kind.on_failed is service.mark_failed
    assert "agent.audit" in app.extensions["celery"].tasks
