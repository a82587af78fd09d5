"""Audit endpoints end to end (Celery runs eagerly in tests; the LLM is the fake server)."""

import copy

from tests.domain.audit.test_statements import EXAMPLE

GOOD = {
    "summary": [
        {"text": "Altman Z of 2.39 sits in the grey zone below 2.99.", "cites": ["fs.altman_z"]},
        {"text": "Piotroski F is 9, the strongest reading.", "cites": ["fs.piotroski_f"]},
    ],
    "recommendations": [
        {"text": "Read the debt notes before relying on a Z of 2.39.", "cites": ["fs.altman_z"]}
    ],
}
UNCITED = {"summary": [{"text": "This company is a great buy.", "cites": []}], "recommendations": []}


def _submit(client, headers, **body):
    return client.post("/api/agent/audit", json=body, headers=headers)


def _audit(client, headers, audit_id):
    resp = client.get(f"/api/agent/audits/{audit_id}", headers=headers)
    assert resp.status_code == 200, resp.json
    return resp.json["data"]


# The contract's audit object, in its order (docs/api-contract.md).
AUDIT_KEYS = [
    "id",
    "jobId",
    "status",
    "target",
    "question",
    "score",
    "findings",
    "summary",
    "recommendations",
    "narrative",
    "narrativeSource",
    "memoriesUsed",
    "model",
    "notes",
    "error",
    "createdAt",
    "finishedAt",
]


def by_id(audit):
    return {f["id"]: f for f in audit["findings"]}


def test_no_key_gives_findings_and_plain_summary(client, auth_headers, agent_off):
    resp = _submit(client, auth_headers, statements=EXAMPLE)
    assert resp.status_code == 202
    ids = resp.json["data"]
    assert set(ids) == {"job_id", "audit_id"}
    audit = _audit(client, auth_headers, ids["audit_id"])
    assert audit["status"] == "completed"
    assert audit["score"] == 90  # only the Altman grey zone (medium, -10)
    assert by_id(audit)["fs.altman_z"]["evidence"] == {"metric": "altmanZ", "value": 2.39, "threshold": 2.99}
    assert audit["narrativeSource"] == "deterministic" and audit["model"] is None
    assert audit["memoriesUsed"] == []
    assert "Narrative and memory are off" in audit["notes"][0]
    assert "[fs.altman_z]" in audit["summary"]
    assert audit["target"] == {"kind": "statements", "id": None, "symbol": "ACME"}
    assert audit["jobId"] == ids["job_id"]
    assert list(audit) == AUDIT_KEYS and audit["error"] is None
    assert isinstance(audit["createdAt"], int) and audit["finishedAt"] >= audit["createdAt"]


def test_with_key_the_narrative_cites_findings(client, auth_headers, agent_on):
    agent_on.script(GOOD)
    ids = _submit(client, auth_headers, statements=EXAMPLE, question="Is it safe?").json["data"]
    audit = _audit(client, auth_headers, ids["audit_id"])
    assert audit["status"] == "completed", audit
    assert audit["narrativeSource"] == "llm" and audit["model"] == "gpt-4o"
    assert audit["summary"].startswith("Altman Z of 2.39 sits in the grey zone below 2.99. [fs.altman_z]")
    assert audit["recommendations"] == ["Read the debt notes before relying on a Z of 2.39. [fs.altman_z]"]
    chat = agent_on.chat_requests()
    assert len(chat) == 1 and chat[0]["model"] == "gpt-4o"
    assert "Is it safe?" in chat[0]["messages"][1]["content"]
    assert all(r["auth"] == "Bearer sk-test-fake" for r in agent_on.requests)
    # the conclusion was remembered verbatim (no extra LLM call)
    mems = client.get("/api/agent/memories", headers=auth_headers).json["data"]
    assert [m["kind"] for m in mems] == ["audit"]
    assert mems[0]["memory"].startswith("Audit of financial statements of ACME scored 90/100")


def test_uncited_claim_is_rejected_then_retried(client, auth_headers, agent_on):
    agent_on.script(UNCITED, GOOD)
    ids = _submit(client, auth_headers, statements=EXAMPLE).json["data"]
    audit = _audit(client, auth_headers, ids["audit_id"])
    assert audit["narrativeSource"] == "llm"
    assert "great buy" not in audit["summary"]
    assert len(agent_on.chat_requests()) == 2


def test_two_bad_answers_fall_back_to_the_plain_summary(client, auth_headers, agent_on):
    wrong = copy.deepcopy(GOOD)
    wrong["summary"][0]["text"] = "Altman Z of 3.5 is safe."
    agent_on.script(UNCITED, wrong)
    audit = _audit(
        client, auth_headers, _submit(client, auth_headers, statements=EXAMPLE).json["data"]["audit_id"]
    )
    assert audit["status"] == "completed"
    assert audit["narrativeSource"] == "deterministic"
    assert "3.5" not in audit["summary"]
    assert any("rejected twice" in n for n in audit["notes"])


def test_llm_outage_fails_the_audit_with_a_reason(committed, client, auth_headers, agent_on, app):
    # committed: the job runner rolls back the failed work, which real commits must survive
    agent_on.script(agent_on.error(503), agent_on.error(429), agent_on.error(500))
    ids = _submit(client, auth_headers, statements=EXAMPLE).json["data"]
    audit = _audit(client, auth_headers, ids["audit_id"])
    assert audit["status"] == "failed"
    assert audit["error"]["reason"] == "llm_unavailable"
    assert "after 3 attempts" in audit["error"]["message"]
    assert "sk-test-fake" not in audit["error"]["message"]
    assert audit["score"] == 90 and audit["findings"]  # the deterministic part survives
    assert len(agent_on.chat_requests()) == 3
    from backend.core import jobs

    with app.app_context():
        assert (
            jobs.get_job(job_id=ids["job_id"], owner_id=audit_owner(client, auth_headers)).status
            == jobs.FAILED
        )


def audit_owner(client, headers):
    return client.get("/api/users/me", headers=headers).json["data"]["id"]
