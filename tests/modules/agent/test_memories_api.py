"""Memories: round trip into an audit, deletion, per-user isolation, and the no-key path."""

from tests.domain.audit.test_statements import EXAMPLE
from tests.helpers.api import error, ok

PREF = "I cannot tolerate drawdowns over 15%"


def _mems(client, owner):
    return ok(client.get("/api/agent/memories", headers=owner.headers))


def test_memory_round_trip_into_an_audit_and_deletion(client, user, agent_on):
    resp = client.post("/api/agent/memories", json={"text": PREF}, headers=user.headers)
    assert resp.status_code == 201, resp.get_json()
    stored = resp.get_json()["data"]
    assert [m["memory"] for m in stored] == [PREF] and stored[0]["kind"] == "preference"
    assert isinstance(stored[0]["createdAt"], int)
    assert list(stored[0]) == ["id", "memory", "kind", "score", "createdAt"]
    # Mem0's fact extraction went to the fake server as one JSON-mode chat call
    assert agent_on.chat_requests()[0]["response_format"] == {"type": "json_object"}

    answer = {
        "summary": [
            {
                "text": "You cap drawdowns at 15%, and Altman Z is 2.39.",
                "cites": [f"mem:{stored[0]['id']}", "fs.altman_z"],
            }
        ],
        "recommendations": [],
    }
    agent_on.script(answer)
    audit_id = client.post(
        "/api/agent/audit",
        json={"statements": EXAMPLE, "question": "What drawdowns can I tolerate?"},
        headers=user.headers,
    ).get_json()["data"]["audit_id"]
    audit = client.get(f"/api/agent/audits/{audit_id}", headers=user.headers).get_json()["data"]
    assert audit["narrativeSource"] == "llm", audit
    assert [m["memory"] for m in audit["memoriesUsed"]][0] == PREF
    assert audit["memoriesUsed"][0]["id"] == stored[0]["id"]
    assert audit["memoriesUsed"][0]["createdAt"] == stored[0]["createdAt"]
    assert f"mem:{stored[0]['id']}" in agent_on.chat_requests()[-1]["messages"][1]["content"]

    mems = _mems(client, user)
    assert sorted(m["kind"] for m in mems) == ["audit", "preference"]
    assert ok(client.delete(f"/api/agent/memories/{stored[0]['id']}", headers=user.headers)) == {"deleted": 1}
    again = client.delete(f"/api/agent/memories/{stored[0]['id']}", headers=user.headers)
    error(again, 404, "not_found", "agent.memory_not_found")
    assert [m["kind"] for m in _mems(client, user)] == ["audit"]
    assert client.delete("/api/agent/memories", headers=user.headers).get_json()["data"] == {"deleted": 1}
    assert _mems(client, user) == []


def test_memories_and_audits_are_per_user(client, user, other_user, agent_on):
    mine = client.post("/api/agent/memories", json={"text": PREF}, headers=user.headers).get_json()["data"][0]
    client.post("/api/agent/memories", json={"text": "I trade only ETH"}, headers=other_user.headers)
    assert [m["memory"] for m in _mems(client, other_user)] == ["I trade only ETH"]
    # another user can neither delete my memory nor wipe it with their delete-all
    error(client.delete(f"/api/agent/memories/{mine['id']}", headers=other_user.headers), 404, "not_found")
    assert client.delete("/api/agent/memories", headers=other_user.headers).get_json()["data"] == {
        "deleted": 1
    }
    assert [m["memory"] for m in _mems(client, user)] == [PREF]

    agent_on.script(
        {"summary": [{"text": "Altman Z is 2.39.", "cites": ["fs.altman_z"]}], "recommendations": []}
    )
    audit_id = client.post("/api/agent/audit", json={"statements": EXAMPLE}, headers=user.headers).get_json()[
        "data"
    ]["audit_id"]
    error(
        client.get(f"/api/agent/audits/{audit_id}", headers=other_user.headers),
        404,
        code="agent.audit_not_found",
    )
    assert client.get("/api/agent/audits", headers=other_user.headers).get_json()["data"] == []
    listed = client.get("/api/agent/audits", headers=user.headers)
    assert [a["id"] for a in listed.get_json()["data"]] == [audit_id]
    assert '"total": 1' in listed.headers["X-Pagination"]


def test_no_key_memory_is_off_but_listing_works(client, user, agent_off):
    error(
        client.post("/api/agent/memories", json={"text": PREF}, headers=user.headers),
        503,
        code="agent.memory_off",
    )
    assert _mems(client, user) == []
    assert client.delete("/api/agent/memories", headers=user.headers).get_json()["data"] == {"deleted": 0}


def test_user_stored_openai_key_is_used(client, user, agent_on, app, monkeypatch):
    monkeypatch.setitem(app.config, "OPENAI_API_KEY", "")
    put = client.put(
        "/api/users/me/api-keys", json={"exchange": "openai", "apiKey": "sk-user-own"}, headers=user.headers
    )
    assert put.status_code in (200, 201), put.get_json()
    resp = client.post("/api/agent/memories", json={"text": PREF}, headers=user.headers)
    assert resp.status_code == 201
    assert {r["auth"] for r in agent_on.requests} == {"Bearer sk-user-own"}
    assert "sk-user-own" not in resp.get_data(as_text=True)
