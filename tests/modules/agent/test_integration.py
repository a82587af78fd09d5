"""A real Celery worker runs an audit (no key: findings + plain summary); a broker outage leaves nothing."""

import os
import time

import pytest

from tests.domain.audit.test_statements import EXAMPLE

pytestmark = pytest.mark.integration


@pytest.mark.skipif(bool(os.environ.get("OPENAI_API_KEY")), reason="the worker would see a real key")
def test_real_worker_completes_an_audit(client, make_user, celery_worker):
    owner = make_user()
    resp = client.post("/api/agent/audit", json={"statements": EXAMPLE}, headers=owner.headers)
    assert resp.status_code == 202, resp.get_json()
    audit_id = resp.get_json()["data"]["audit_id"]
    deadline, audit = time.time() + 60, None
    while time.time() < deadline:
        audit = client.get(f"/api/agent/audits/{audit_id}", headers=owner.headers).get_json()["data"]
        if audit["status"] in ("completed", "failed"):
            break
        time.sleep(0.3)
    assert audit["status"] == "completed", (audit, celery_worker.log())
    assert audit["score"] == 90 and audit["narrativeSource"] == "deterministic"


def test_broker_down_is_503_and_leaves_no_audit(client, user, agent_off, broker_down):
    resp = client.post("/api/agent/audit", json={"statements": EXAMPLE}, headers=user.headers)
    assert resp.status_code == 503, resp.get_json()
    assert client.get("/api/agent/audits", headers=user.headers).get_json()["data"] == []
