"""Every list endpoint returns its items in the order its OpenAPI description documents.

Rows get chosen timestamps (with ties, broken by id) so that each documented order differs from
the insertion order and from the plausible wrong ones (e.g. a strategy's update time instead of
its `lastUpdate`).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import update

from backend.core.db import new_id
from tests.helpers.api import ok

LIST_WITHOUT_ORDER_OWNED_ELSEWHERE = {("get", "/api/users/me/api-keys")}  # users module (SECURITY)


@pytest.fixture
def stamp(app):
    """Return ``stamp(Model, where, **values)``: set columns of the rows matching ``where``."""
    from backend.extensions import db

    def _stamp(model, where, **values) -> None:
        with app.app_context():
            db.session.execute(update(model).where(where).values(**values))
            db.session.commit()

    return _stamp


def _get(client, url: str, user=None) -> list:
    return ok(client.get(url, headers=user.headers if user else {}))


def _pages(client, url: str, user, page_size: int = 2) -> list:
    """Every item of a paginated list, page after page."""
    items, page = [], 1
    while batch := _get(client, f"{url}{'&' if '?' in url else '?'}page={page}&page_size={page_size}", user):
        items += batch
        page += 1
    return items


def _by_id_then(*groups: list[str]) -> list[str]:
    """Expected order where each group shares a sort key (ties are broken by id ascending)."""
    return [i for group in groups for i in sorted(group)]


def _resolve(spec: dict, node: dict) -> dict:
    while "$ref" in node:
        node = spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _returns_a_list(spec: dict, op: dict) -> bool:
    """Whether a 2xx response of ``op`` is an array (bare, or the envelope's ``data``)."""
    for status, response in op["responses"].items():
        schema = _resolve(spec, response.get("content", {}).get("application/json", {}).get("schema", {}))
        data = _resolve(spec, schema.get("properties", {}).get("data", schema))
        if status.startswith("2") and data.get("type") == "array":
            return True
    return False


def test_every_list_operation_documents_its_order(client):
    spec = client.get("/api/openapi.json").get_json()
    lists = [
        (method, path)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if method in ("get", "post", "put", "patch", "delete") and _returns_a_list(spec, op)
    ]
    assert len(lists) >= 20  # the check sees the lists (guards against checking nothing)
    undocumented = [
        f"{method.upper()} {path}"
        for method, path in lists
        if "Order: " not in spec["paths"][path][method].get("description", "")
        and (method, path) not in LIST_WITHOUT_ORDER_OWNED_ELSEWHERE
    ]
    assert undocumented == []


def test_strategy_lists_follow_last_update(client, user, make_strategy, stamp):
    from backend.modules.strategies.models import Strategy

    sid = {n: make_strategy(user, name=n)["id"] for n in ("a", "b", "c", "d")}
    # Ordered by update time alone this would be c, {b, d}, a.
    stamp(
        Strategy,
        Strategy.id == sid["a"],
        updated_at=1000,
        latest_finished_at=5000,
        latest_backtest_id=new_id(),
    )
    stamp(Strategy, Strategy.id == sid["b"], updated_at=3000)
    stamp(
        Strategy,
        Strategy.id == sid["c"],
        updated_at=4000,
        latest_finished_at=2000,
        latest_backtest_id=new_id(),
    )
    stamp(Strategy, Strategy.id == sid["d"], updated_at=3000)
    expected = _by_id_then([sid["a"]], [sid["b"], sid["d"]], [sid["c"]])

    recent = _get(client, "/api/strategies/recent?limit=10", user)
    assert [s["id"] for s in recent] == expected
    assert [s["lastUpdate"] for s in recent] == [5000, 3000, 3000, 2000]
    assert [s["id"] for s in _get(client, "/api/strategies/recent?limit=2", user)] == expected[:2]
    assert [s["id"] for s in _pages(client, "/api/strategies", user)] == expected


def test_the_showcase_prefers_tested_strategies_and_shows_them_by_last_update(
    client, user, make_strategy, stamp
):
    from backend.modules.strategies.models import Strategy

    sid = {n: make_strategy(user, name=n, published=True)["id"] for n in ("tested old", "untested", "tested")}
    stamp(
        Strategy,
        Strategy.id == sid["tested old"],
        updated_at=9000,
        latest_finished_at=2000,
        latest_backtest_id=new_id(),
    )
    stamp(Strategy, Strategy.id == sid["untested"], updated_at=8000)
    stamp(
        Strategy,
        Strategy.id == sid["tested"],
        updated_at=1000,
        latest_finished_at=5000,
        latest_backtest_id=new_id(),
    )
    make_strategy(user, name="private")  # never in the showcase

    names = [s["name"] for s in _get(client, "/api/strategies/recent?limit=10")]
    assert names == ["untested", "tested", "tested old"]
    assert [s["name"] for s in _get(client, "/api/strategies/recent?limit=2")] == ["tested", "tested old"]


def test_versions_are_newest_first_and_kinds_are_fixed(client, user, make_strategy):
    sid = make_strategy(user)["id"]
    for fast in (5, 6):
        ok(client.patch(f"/api/strategies/{sid}", json={"params": {"fast": fast}}, headers=user.headers))
    assert [v["number"] for v in _get(client, f"/api/strategies/{sid}/versions", user)] == [3, 2, 1]
    kinds = [k["kind"] for k in _get(client, "/api/strategies/kinds", user)]
    assert kinds == sorted(kinds) and {"rsi", "sma_cross"} <= set(kinds)


def test_bot_lists_are_newest_first_and_so_is_the_public_fallback(client, user, make_bot, stamp):
    from backend.modules.bots.models import BotInstance

    bid = [make_bot(user, name=f"bot{i}", public=True)["id"] for i in range(4)]
    for bot_id, created in zip(bid, (1000, 3000, 2000, 3000), strict=True):
        stamp(BotInstance, BotInstance.id == bot_id, created_at=created)
    expected = _by_id_then([bid[1], bid[3]], [bid[2]], [bid[0]])
    assert [b["id"] for b in _pages(client, "/api/bots", user)] == expected
    assert [b["id"] for b in _get(client, "/api/bots/recent?limit=10", user)] == expected
    assert [b["id"] for b in _get(client, "/api/bots/recent?limit=10")] == expected  # anonymous


def test_backtests_are_newest_first(client, user, run_backtest, stamp):
    from backend.modules.backtests.models import Backtest

    ids = [
        ok(run_backtest(user, strategy={"kind": "rsi"}, symbol="BTCUSDT"), 202)["backtest_id"]
        for _ in range(3)
    ]
    for backtest_id, created in zip(ids, (3000, 1000, 3000), strict=True):
        stamp(Backtest, Backtest.id == backtest_id, created_at=created)
    assert [b["id"] for b in _pages(client, "/api/backtests", user)] == _by_id_then(
        [ids[0], ids[2]], [ids[1]]
    )


def test_forum_lists_follow_their_documented_times(client, user, other_user, make_user, make_post, stamp):
    from backend.modules.forum.models import Comment, Favorite, Follow, Post

    pid = [make_post(user, title=f"p{i}")["id"] for i in range(3)]
    for post_id, created in zip(pid, (2000, 1000, 2000), strict=True):
        stamp(Post, Post.id == post_id, created_at=created)
    newest = _by_id_then([pid[0], pid[2]], [pid[1]])
    assert [p["id"] for p in _pages(client, "/api/forum/posts", user)] == newest

    cid = [
        ok(
            client.post(
                f"/api/forum/posts/{pid[0]}/comments", json={"content": f"c{i}"}, headers=user.headers
            ),
            201,
        )["id"]
        for i in range(3)
    ]
    for comment_id, created in zip(cid, (3000, 1000, 3000), strict=True):
        stamp(Comment, Comment.id == comment_id, created_at=created)
    oldest = _by_id_then([cid[1]], [cid[0], cid[2]])
    assert [c["id"] for c in _pages(client, f"/api/forum/posts/{pid[0]}/comments", user)] == oldest

    for post_id, favorited in zip(pid, (1000, 3000, 2000), strict=True):
        ok(client.post(f"/api/forum/posts/{post_id}/favorite", headers=other_user.headers))
        stamp(
            Favorite,
            (Favorite.post_id == post_id) & (Favorite.user_id == other_user.id),
            created_at=favorited,
        )
    favorites = [p["id"] for p in _pages(client, "/api/users/me/favorites", other_user)]
    assert favorites == [pid[1], pid[2], pid[0]]

    fans = [make_user() for _ in range(3)]
    for fan, followed in zip(fans, (2000, 1000, 2000), strict=True):
        ok(client.post(f"/api/users/{user.id}/follow", headers=fan.headers))
        ok(client.post(f"/api/users/{fan.id}/follow", headers=user.headers))
        stamp(Follow, (Follow.follower_id == fan.id) & (Follow.followee_id == user.id), created_at=followed)
        stamp(Follow, (Follow.follower_id == user.id) & (Follow.followee_id == fan.id), created_at=followed)
    expected = _by_id_then([fans[0].id, fans[2].id], [fans[1].id])
    assert [u["id"] for u in _pages(client, f"/api/users/{user.id}/followers", user)] == expected
    assert [u["id"] for u in _pages(client, f"/api/users/{user.id}/following", user)] == expected


def test_files_are_newest_first(client, user, upload, stamp):
    from backend.modules.files.models import StoredFile

    fid = [ok(upload(user, b"a,b\n1,2\n", f"f{i}.csv"), 201)["id"] for i in range(3)]
    for file_id, created in zip(fid, (1000, 2000, 2000), strict=True):
        stamp(StoredFile, StoredFile.id == file_id, created_at=created)
    assert [f["id"] for f in _pages(client, "/api/files", user)] == _by_id_then([fid[1], fid[2]], [fid[0]])


def test_workflow_lists_are_newest_first(client, user, make_workflow, workflow_market, stamp):
    from backend.modules.workflows.models import Workflow, WorkflowNotification, WorkflowRun
    from tests.domain.workflow.builders import threshold_graph

    wid = [make_workflow(user, name=f"w{i}")["id"] for i in range(3)]
    for workflow_id, updated in zip(wid, (2000, 2000, 3000), strict=True):
        stamp(Workflow, Workflow.id == workflow_id, updated_at=updated)
    assert [w["id"] for w in _pages(client, "/api/workflows", user)] == _by_id_then(
        [wid[2]], [wid[0], wid[1]]
    )

    graph = threshold_graph("<", 30)
    graph["nodes"][3]["data"] = {"action": "notify", "message": "dip"}
    notifying = make_workflow(user, graph)["id"]
    runs = [
        ok(client.post(f"/api/workflows/{notifying}/execute", headers=user.headers), 202)["run_id"]
        for _ in range(3)
    ]
    for run_id, created in zip(runs, (1000, 3000, 1000), strict=True):
        stamp(WorkflowRun, WorkflowRun.id == run_id, created_at=created)
        stamp(WorkflowNotification, WorkflowNotification.run_id == run_id, created_at=created)
    assert [r["id"] for r in _pages(client, f"/api/workflows/{notifying}/runs", user)] == _by_id_then(
        [runs[1]], [runs[0], runs[2]]
    )
    notified = [n["runId"] for n in _pages(client, "/api/workflows/notifications", user)]
    assert notified[0] == runs[1] and sorted(notified[1:]) == sorted([runs[0], runs[2]])
    assert [n["createdAt"] for n in _pages(client, "/api/workflows/notifications", user)] == [
        3000,
        1000,
        1000,
    ]


def test_audits_are_newest_first(client, user, agent_off, stamp):
    from backend.modules.agent.models import Audit
    from tests.domain.audit.test_statements import EXAMPLE

    aid = [
        ok(client.post("/api/agent/audit", json={"statements": EXAMPLE}, headers=user.headers), 202)[
            "audit_id"
        ]
        for _ in range(3)
    ]
    for audit_id, created in zip(aid, (1000, 2000, 1000), strict=True):
        stamp(Audit, Audit.id == audit_id, created_at=created)
    assert [a["id"] for a in _pages(client, "/api/agent/audits", user)] == _by_id_then(
        [aid[1]], [aid[0], aid[2]]
    )


def test_memories_are_newest_first_undated_last(app, monkeypatch):
    from backend.modules.agent import service
    from backend.modules.agent.memory import Memory

    stored = [
        Memory(id="m1", memory="a", kind="preference", score=None, created_at=None),
        Memory(id="m3", memory="b", kind="audit", score=None, created_at=1000),
        Memory(id="m2", memory="c", kind="audit", score=None, created_at=2000),
        Memory(id="m0", memory="d", kind="audit", score=None, created_at=1000),
    ]
    monkeypatch.setattr(service, "_store_call", lambda *_a, **_k: list(stored))
    assert [m.id for m in service.list_memories(actor_id="u")] == ["m2", "m0", "m3", "m1"]


def test_udf_marks_are_in_time_order(app, monkeypatch):
    from backend.modules.udf import service

    fills = [
        {"id": "b2", "time": 3000, "side": "sell", "price": 2, "quantity": 1},
        {"id": "b1", "time": 1000, "side": "buy", "price": 1, "quantity": 1},
    ]
    orders = [
        SimpleNamespace(id="o2", time=2000, side="buy", price=1, quantity=1),
        SimpleNamespace(id="o1", time=1000, side="sell", price=1, quantity=1),
    ]
    monkeypatch.setattr(service.backtests_service, "trade_marks", lambda **_k: fills)
    monkeypatch.setattr(service.bots_service, "trade_marks", lambda **_k: orders)
    marks = service.trade_marks(actor_id="u", symbol="XAUUSD", start_ms=0, end_ms=10_000)
    assert [m.id for m in marks] == ["b1", "o1", "o2", "b2"]


def test_symbols_have_a_fixed_order_and_search_is_alphabetical(client, user, acme_candles):
    from backend.domain.marketdata.mock import MOCK_SPECS

    symbols = [s["symbol"] for s in _get(client, "/api/market/symbols", user)]
    assert symbols == [*MOCK_SPECS, "ACME"]  # the mock symbols' fixed order, then imported ones
    found = client.get("/api/udf/search?query=&limit=100").get_json()
    assert [s["symbol"] for s in found] == sorted(symbols)
    usd = [s["symbol"] for s in client.get("/api/udf/search?query=eurusd&limit=100").get_json()]
    assert usd[0] == "EURUSD" and usd[1:] == sorted(usd[1:])  # the exact match, then alphabetical
