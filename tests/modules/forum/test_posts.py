"""Posts: CRUD, filters, author from the user record, ownership, hot list, attachments."""

from __future__ import annotations

import types
import uuid

import pytest
from sqlalchemy import update

from tests.helpers.api import error, ok

H = 3_600_000
UNKNOWN = str(uuid.uuid4())


def test_create_and_read_post_author_comes_from_user_record(client, user, other_user):
    resp = client.post(
        "/api/forum/posts",
        json={"title": "SMA on BTC", "content": "body", "tags": ["BTC", "sma", "btc "]},
        headers=user.headers,
    )
    post = ok(resp, 201)
    assert post["author"] == user.username
    assert post["authorId"] == user.id
    assert post["tags"] == ["btc", "sma"]  # normalised and de-duplicated
    assert (post["likes"], post["comments"], post["tipsTotal"]) == (0, 0, 0)
    assert post["liked"] is False
    assert post["favorited"] is False
    assert isinstance(post["timestamp"], int)
    assert post["timestamp"] > 1_600_000_000_000

    # Renaming the user renames the author everywhere: nothing was copied from the request.
    client.patch("/api/users/me", json={"name": "Alice Q", "avatar": "https://x/a.png"}, headers=user.headers)
    detail = ok(client.get(f"/api/forum/posts/{post['id']}", headers=other_user.headers))
    assert (detail["author"], detail["avatar"], detail["content"]) == ("Alice Q", "https://x/a.png", "body")


@pytest.mark.parametrize(
    "extra", [{"author": "Mallory"}, {"avatar": "x"}, {"likes": 999}, {"authorId": "x"}, {"tipsTotal": 5}]
)
def test_create_rejects_client_supplied_protected_fields(client, user, extra):
    resp = client.post("/api/forum/posts", json={"title": "t", **extra}, headers=user.headers)
    body = error(resp, 422, "validation_error")
    assert list(body["details"]["fields"]) == list(extra)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "t", "tags": ["a,b"]}, "tags"),
        ({"title": "t", "tags": ["t"] * 11}, "tags"),
        ({"title": "t", "attachment": {"kind": "bot", "id": "x"}}, "attachment"),
    ],
)
def test_create_validation_errors(client, user, payload, field):
    body = error(client.post("/api/forum/posts", json=payload, headers=user.headers), 422, "validation_error")
    assert field in body["details"]["fields"]


def test_posts_require_a_token(client, user, make_post):
    post = make_post(user)
    error(client.get("/api/forum/posts"), 401, "token_missing")
    error(client.post("/api/forum/posts", json={"title": "t"}), 401, "token_missing")
    error(client.get(f"/api/forum/posts/{post['id']}"), 401, "token_missing")
    error(client.patch(f"/api/forum/posts/{post['id']}", json={"title": "x"}), 401, "token_missing")
    error(client.delete(f"/api/forum/posts/{post['id']}"), 401, "token_missing")


def test_list_filters_by_tag_and_author_and_paginates(app, client, user, other_user, make_post):
    a1 = make_post(user, "a1", tags=["btc"])
    a2 = make_post(user, "a2", tags=["eth"])
    b1 = make_post(other_user, "b1", tags=["btc", "rsi"])
    for i, post in enumerate((a1, a2, b1)):  # distinct times: newest first is then unambiguous
        _backdate(app, post["id"], 1_700_000_000_000 + i * 1000)
    ids = lambda resp: [p["id"] for p in ok(resp)]  # noqa: E731
    assert ids(client.get("/api/forum/posts?tag=btc", headers=user.headers)) == [b1["id"], a1["id"]]
    assert ids(client.get("/api/forum/posts?tag=BTC", headers=user.headers)) == [b1["id"], a1["id"]]
    assert ids(client.get("/api/forum/posts?tag=nope", headers=user.headers)) == []
    assert ids(client.get(f"/api/forum/posts?author={user.id}", headers=user.headers)) == [a2["id"], a1["id"]]
    assert ids(client.get(f"/api/forum/posts?author={user.id}&tag=btc", headers=user.headers)) == [a1["id"]]
    resp = client.get("/api/forum/posts?page=2&page_size=2", headers=user.headers)
    assert ids(resp) == [a1["id"]]
    assert '"total": 3' in resp.headers["X-Pagination"]
    error(client.get("/api/forum/posts?page_size=101", headers=user.headers), 422, "validation_error")


def test_only_the_author_may_edit_or_delete(client, user, other_user, make_post):
    post = make_post(user, "original", tags=["a"])
    url = f"/api/forum/posts/{post['id']}"
    body = error(client.patch(url, json={"title": "hijack"}, headers=other_user.headers), 403, "forbidden")
    assert body["details"]["error"] == "forum.not_author"
    error(client.delete(url, headers=other_user.headers), 403, "forbidden")
    assert ok(client.get(url, headers=user.headers))["title"] == "original"

    edited = ok(client.patch(url, json={"title": "edited", "tags": ["B"]}, headers=user.headers))
    assert (edited["title"], edited["tags"], edited["content"]) == ("edited", ["b"], "")
    error(client.patch(url, json={"likes": 5}, headers=user.headers), 422, "validation_error")

    assert client.delete(url, headers=user.headers).status_code == 200
    error(client.get(url, headers=user.headers), 404, "not_found")
    error(client.delete(url, headers=user.headers), 404, "not_found")


@pytest.mark.parametrize("post_id", [UNKNOWN, "not_an_id", "x" * 40, "0" * 37])
def test_unknown_post_is_404(client, user, post_id):
    # An id-shaped unknown id is the module's 404; a segment that cannot be an id is no route.
    looks_like_id = post_id == UNKNOWN
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {"title": "x"}} if method == "patch" else {}
        body = error(
            getattr(client, method)(f"/api/forum/posts/{post_id}", headers=user.headers, **kwargs),
            404,
            "not_found",
        )
        assert body["details"].get("error") == ("forum.post_not_found" if looks_like_id else None)
    body = error(client.delete(f"/api/forum/comments/{post_id}", headers=user.headers), 404, "not_found")
    assert body["details"].get("error") == ("forum.comment_not_found" if looks_like_id else None)


def _backdate(app, post_id: str, created_at: int) -> None:
    from backend.extensions import db
    from backend.modules.forum.models import Post

    with app.app_context():
        db.session.execute(update(Post).where(Post.id == post_id).values(created_at=created_at))
        db.session.commit()


def test_hot_is_anonymous_and_ranks_engagement_against_age(app, client, make_user, make_post):
    from backend.core.db import now_ms

    author, *fans = [make_user() for _ in range(4)]
    now = now_ms()
    lonely = make_post(author, "lonely")  # 1 pt, 1 h   -> 1/3^1.5   = 0.192
    liked = make_post(author, "liked")  # 4 pts, 10 h -> 4/12^1.5  = 0.096
    talked = make_post(author, "talked")  # 6 pts, 2 h  -> 6/4^1.5   = 0.750
    tipped = make_post(author, "tipped")  # 7 pts, 5 h  -> 7/7^1.5   = 0.378
    ancient = make_post(author, "ancient")  # 4 pts, 100 h -> 0.0039
    for fan in fans:
        client.post(f"/api/forum/posts/{liked['id']}/like", headers=fan.headers)
        client.post(f"/api/forum/posts/{ancient['id']}/like", headers=fan.headers)
    client.post(f"/api/forum/posts/{talked['id']}/like", headers=fans[0].headers)
    for fan in fans[:2]:
        client.post(f"/api/forum/posts/{talked['id']}/comments", json={"content": "hi"}, headers=fan.headers)
    client.post(f"/api/forum/posts/{tipped['id']}/tips", json={"amount": 99}, headers=fans[0].headers)
    for post, hours in ((lonely, 1), (liked, 10), (talked, 2), (tipped, 5), (ancient, 100)):
        _backdate(app, post["id"], now - hours * H)

    hot = ok(client.get("/api/forum/hot"))
    assert [p["title"] for p in hot] == ["talked", "tipped", "lonely", "liked", "ancient"]
    assert (hot[0]["likes"], hot[0]["comments"], hot[0]["author"]) == (1, 2, author.username)
    assert [p["title"] for p in ok(client.get("/api/forum/hot?limit=2"))] == ["talked", "tipped"]
    error(client.get("/api/forum/hot?limit=0"), 422, "validation_error")
    error(client.get("/api/forum/hot?limit=101"), 422, "validation_error")


def test_hot_is_empty_without_posts(client):
    assert ok(client.get("/api/forum/hot")) == []


def _fake_backtest_kpis(monkeypatch, fn):
    from backend.modules.backtests import service as backtests_service

    monkeypatch.setattr(backtests_service, "verified_kpis", fn)


def test_attachment_shows_server_verified_kpis(client, user, monkeypatch):
    from decimal import Decimal

    from backend.core.errors import NotFound

    calls = []

    def verified_kpis(*, actor_id, backtest_id):
        calls.append((actor_id, backtest_id))
        if backtest_id != "bt-1":
            raise NotFound()
        return {"totalReturn": Decimal("12.40"), "maxDrawdown": Decimal("-3.5"), "totalTrades": 7}

    _fake_backtest_kpis(monkeypatch, verified_kpis)
    resp = client.post(
        "/api/forum/posts",
        json={"title": "my run", "attachment": {"kind": "backtest", "id": "bt-1"}},
        headers=user.headers,
    )
    assert ok(resp, 201)["attachment"] == {
        "kind": "backtest",
        "id": "bt-1",
        "kpis": {"totalReturn": 12.4, "maxDrawdown": -3.5, "totalTrades": 7},
    }
    assert calls == [(user.id, "bt-1")]

    body = error(
        client.post(
            "/api/forum/posts",
            json={"title": "not mine", "attachment": {"kind": "backtest", "id": "bt-2"}},
            headers=user.headers,
        ),
        422,
        "validation_error",
    )
    assert body["details"]["error"] == "forum.attachment_unavailable"
    # Typed KPIs are not accepted: kpis is read-only.
    error(
        client.post(
            "/api/forum/posts",
            json={
                "title": "x",
                "attachment": {"kind": "backtest", "id": "bt-1", "kpis": {"totalReturn": 900}},
            },
            headers=user.headers,
        ),
        422,
        "validation_error",
    )


def test_attachment_can_be_replaced_and_removed(client, user, make_post, monkeypatch):
    from backend.modules.backtests import service as backtests_service
    from backend.modules.strategies import service as strategies_service

    monkeypatch.setattr(
        strategies_service,
        "get_strategy",
        lambda *, actor_id, strategy_id: types.SimpleNamespace(id=strategy_id, owner_id=user.id),
    )
    monkeypatch.setattr(
        backtests_service, "strategy_kpis", lambda *, strategy_id, owner_id: {"returns": 5, "winRate": 50}
    )
    post = make_post(user)
    url = f"/api/forum/posts/{post['id']}"
    attached = ok(
        client.patch(url, json={"attachment": {"kind": "strategy", "id": "s-1"}}, headers=user.headers)
    )
    assert attached["attachment"]["kpis"] == {"returns": 5, "winRate": 50}
    assert ok(client.patch(url, json={"attachment": None}, headers=user.headers))["attachment"] is None


def test_undefined_kpis_are_stored_as_null(client, user, monkeypatch):
    from decimal import Decimal

    _fake_backtest_kpis(
        monkeypatch,
        lambda *, actor_id, backtest_id: {
            "sharpeRatio": float("nan"),
            "profitFactor": float("inf"),
            "winRate": Decimal("NaN"),
            "totalReturn": Decimal("1.50"),
            "nested": [Decimal("2")],
        },
    )
    resp = client.post(
        "/api/forum/posts",
        json={"title": "flat", "attachment": {"kind": "backtest", "id": "b"}},
        headers=user.headers,
    )
    assert ok(resp, 201)["attachment"]["kpis"] == {
        "sharpeRatio": None,
        "profitFactor": None,
        "winRate": None,
        "totalReturn": 1.5,
        "nested": [2],
    }
