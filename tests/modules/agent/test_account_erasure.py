"""A deleted account's memories: erased after the commit, and retried until erased when the store is down."""

from __future__ import annotations

from sqlalchemy import select

from backend.celery_app import BEAT_SCHEDULE, TASK_MODULES
from backend.core.db import now_ms
from backend.extensions import db
from backend.modules.agent import account, memory
from backend.modules.agent import service as agent_service
from backend.modules.agent.models import MemoryErasure
from tests.helpers.api import ok
from tests.modules.users.test_account import delete_me


def _owed(user_id: str) -> MemoryErasure | None:
    return db.session.scalar(select(MemoryErasure).where(MemoryErasure.user_id == user_id))


def _store_down(monkeypatch) -> None:
    def unreachable(*_a, **_k):
        raise ConnectionError("qdrant is down")

    monkeypatch.setattr(agent_service, "open_store", unreachable)


def test_an_erasure_that_fails_is_kept_and_retried_until_the_memories_are_gone(
    client, user, other_user, agent_on, monkeypatch
):
    for who in (user, other_user):
        ok(client.post("/api/agent/memories", json={"text": "I avoid leverage"}, headers=who.headers), 201)
    with monkeypatch.context() as down:
        _store_down(down)
        before = now_ms()
        ok(delete_me(client, user))  # the deletion commits and answers although the store is down
        owed = _owed(user.id)
        assert owed is not None and owed.attempts == 1 and owed.last_error == "agent.memory_unavailable"
        first_due = owed.next_at
        assert first_due >= before + account.ERASE_RETRY_FIRST_S * 1000
        assert account.erase_due() == 0  # not due yet: nothing is tried
        assert _owed(user.id).attempts == 1
        assert account.erase_due(now=first_due) == 0  # due, still down: the delay doubles
        again = _owed(user.id)
        assert again is not None and again.attempts == 2
        assert again.next_at == first_due + 2 * account.ERASE_RETRY_FIRST_S * 1000
    with memory.open_store(agent_service.memory_settings("sk-test-fake")) as store:
        assert len(store.list(user_id=user.id)) == 1  # still there: the store was down

    assert account.erase_due(now=again.next_at) == 1  # the store is back
    assert _owed(user.id) is None
    assert agent_service.list_memories(actor_id=user.id) == []
    assert len(ok(client.get("/api/agent/memories", headers=other_user.headers))) == 1


def test_an_erasure_that_succeeds_at_once_leaves_nothing_owed(client, user, agent_on):
    ok(client.post("/api/agent/memories", json={"text": "I trade gold"}, headers=user.headers), 201)
    ok(delete_me(client, user))
    assert _owed(user.id) is None
    assert agent_service.list_memories(actor_id=user.id) == []


def test_retry_delays_grow_to_a_bound_and_the_beat_runs_the_retry(app, monkeypatch):
    _store_down(monkeypatch)
    db.session.add(MemoryErasure(user_id="gone-user", attempts=0, next_at=0))
    db.session.flush()
    delays = []
    for _ in range(10):
        row = _owed("gone-user")
        assert row is not None
        due = row.next_at
        account.erase_due(now=due)
        delays.append((_owed("gone-user").next_at - due) // 1000)
    assert delays[:4] == [30, 60, 120, 240] and max(delays) == account.ERASE_RETRY_MAX_S == delays[-1]
    assert BEAT_SCHEDULE["agent.erase_memories"]["task"] == "agent.erase_memories"
    assert "backend.modules.agent.tasks" in TASK_MODULES
    assert "agent.erase_memories" in app.extensions["celery"].tasks
