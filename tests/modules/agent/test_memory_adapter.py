"""Mem0 2.x offline: add, search with per-user filters, list, delete one, delete all."""

from backend.modules.agent.memory import open_store


def test_memory_round_trip_and_isolation(memory_settings, fake_openai):
    with open_store(memory_settings) as store:
        _round_trip(store, fake_openai)
    with open_store(memory_settings) as store:  # the folder was closed and reopened: data persists
        assert [m.memory for m in store.list(user_id="bob")] == ["I prefer low drawdowns in crypto"]


def _round_trip(store, fake_openai):
    added = store.remember_statement(user_id="alice", text="I cannot tolerate drawdowns over 15%")
    # Mem0 made one extraction call to the fake server; the fact is the user's sentence
    assert [a.memory for a in added] == ["I cannot tolerate drawdowns over 15%"]
    assert len(fake_openai.chat_requests()) == 1
    store.remember_verbatim(user_id="alice", text="Backtest b1 scored 40: too few trades", kind="audit")
    store.remember_verbatim(user_id="bob", text="I prefer low drawdowns in crypto", kind="preference")

    hits = store.search(user_id="alice", query="maximum drawdowns I tolerate", limit=5)
    assert hits[0].memory == "I cannot tolerate drawdowns over 15%"
    assert all(h.memory != "I prefer low drawdowns in crypto" for h in hits)
    assert {m.kind for m in store.list(user_id="alice")} == {"preference", "audit"}
    assert [m.memory for m in store.list(user_id="bob")] == ["I prefer low drawdowns in crypto"]

    bob_id = store.list(user_id="bob")[0].id
    assert store.delete(user_id="alice", memory_id=bob_id) is False  # not hers
    assert store.delete(user_id="alice", memory_id="not-a-uuid") is False
    assert store.delete(user_id="alice", memory_id=added[0].id) is True
    assert [m.memory for m in store.list(user_id="alice")] == ["Backtest b1 scored 40: too few trades"]
    assert store.delete_all(user_id="alice") == 1
    assert store.list(user_id="alice") == []
    assert len(store.list(user_id="bob")) == 1


def test_embeddings_request_the_configured_dimension(memory_settings, fake_openai):
    with open_store(memory_settings) as store:
        store.remember_verbatim(user_id="u", text="hello world", kind="audit")
    emb = [r["body"] for r in fake_openai.requests if r["path"].endswith("/embeddings")]
    assert emb and all(b.get("dimensions") == memory_settings.embed_dims for b in emb)


def test_another_process_shares_the_embedded_store(memory_settings, fake_openai):
    # the API and the Celery worker are separate processes on one embedded Qdrant folder
    import dataclasses
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from backend.modules.agent.memory import MemorySettings, open_store\n"
        "s = MemorySettings(**json.loads(sys.argv[1]))\n"
        "with open_store(s) as store:\n"
        "    store.remember_verbatim(user_id='carol', text='written by the worker', kind='audit')\n"
    )
    with open_store(memory_settings) as store:  # created here first, then closed
        store.remember_verbatim(user_id="carol", text="written by the api", kind="preference")
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(dataclasses.asdict(memory_settings))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with open_store(memory_settings) as store:
        assert sorted(m.memory for m in store.list(user_id="carol")) == [
            "written by the api",
            "written by the worker",
        ]


def test_fixture_dimension_matches_the_fake_server():
    from tests.fixtures import agent, fake_openai

    assert agent.DIM == fake_openai.DIM
