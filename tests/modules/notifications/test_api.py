"""The centre's endpoints: list (newest first, unread filter, pages), unread count, read, preferences."""

from __future__ import annotations

import json

from tests.helpers.api import error, fields, ok


def _fills(emit_fact, user, n: int) -> None:
    for i in range(n):
        emit_fact("bot.fill", "bots", user.id, "b", botId="b", orderId=f"o{i}", symbol=f"S{i}")


def test_the_list_is_newest_first_paginated_and_filters_unread(client, user, emit_fact):
    _fills(emit_fact, user, 5)
    resp = client.get("/api/notifications?page=1&page_size=2", headers=user.headers)
    assert [n["body"] for n in ok(resp)] == ["S4", "S3"]
    assert json.loads(resp.headers["X-Pagination"])["total"] == 5
    ids = [n["id"] for n in ok(client.get("/api/notifications", headers=user.headers))]
    assert ok(client.post("/api/notifications/read", headers=user.headers, json={"ids": ids[:2]})) == {
        "updated": 2,
        "unread": 3,
    }
    unread = ok(client.get("/api/notifications?unread=true", headers=user.headers))
    assert [n["id"] for n in unread] == ids[2:] and not any(n["read"] for n in unread)
    assert ok(client.get("/api/notifications/unread-count", headers=user.headers)) == {"count": 3}


def test_marking_read_ignores_ids_that_are_not_mine_and_all_marks_everything(
    client, user, other_user, emit_fact
):
    _fills(emit_fact, user, 2)
    _fills(emit_fact, other_user, 1)
    theirs = ok(client.get("/api/notifications", headers=other_user.headers))[0]["id"]
    body = {"ids": [theirs, "00000000-0000-0000-0000-000000000000"]}
    assert ok(client.post("/api/notifications/read", headers=user.headers, json=body)) == {
        "updated": 0,
        "unread": 2,
    }
    assert ok(client.get("/api/notifications/unread-count", headers=other_user.headers)) == {"count": 1}
    assert ok(client.post("/api/notifications/read", headers=user.headers, json={"all": True})) == {
        "updated": 2,
        "unread": 0,
    }
    assert (
        ok(client.post("/api/notifications/read", headers=user.headers, json={"all": True}))["updated"] == 0
    )


def test_read_needs_exactly_one_of_ids_and_all_and_at_most_200_ids(client, user):
    post = lambda body: client.post("/api/notifications/read", headers=user.headers, json=body)  # noqa: E731
    assert "ids" in fields(post({}))
    assert "ids" in fields(post({"ids": ["a"], "all": True}))
    assert "all" in fields(post({"all": False}))
    assert "ids" in fields(post({"ids": []}))
    assert "ids" in fields(post({"ids": [f"{i:08d}" for i in range(201)]}))
    assert "ids" in fields(post({"ids": ["not an id!"]}))


def test_every_endpoint_needs_a_token(client):
    for method, path in [
        ("get", "/api/notifications"),
        ("get", "/api/notifications/unread-count"),
        ("post", "/api/notifications/read"),
        ("get", "/api/notifications/preferences"),
        ("put", "/api/notifications/preferences"),
    ]:
        error(getattr(client, method)(path, json={}), 401)


def test_preferences_list_the_catalogue_and_refuse_unknown_types(client, user):
    prefs = ok(client.get("/api/notifications/preferences", headers=user.headers))
    assert (
        prefs["muted"] == []
        and {"type": "forum.like", "description": "Someone liked your post"} in prefs["types"]
    )
    resp = client.put(
        "/api/notifications/preferences", headers=user.headers, json={"muted": ["forum.like", "nope"]}
    )
    assert "muted" in fields(resp)
    assert "muted" in fields(client.put("/api/notifications/preferences", headers=user.headers, json={}))
    resp = client.put(
        "/api/notifications/preferences", headers=user.headers, json={"muted": ["forum.like", "forum.like"]}
    )
    assert ok(resp)["muted"] == ["forum.like"]


def test_the_service_refuses_unknown_types_too(app, user):
    import pytest

    from backend.modules.notifications import service
    from backend.modules.notifications.errors import UnknownNotificationType

    with app.app_context(), pytest.raises(UnknownNotificationType) as caught:
        service.set_preferences(actor_id=user.id, muted=["bot.fill", "nope"])
    assert caught.value.details["fields"] == {"muted": ["Unknown type(s): nope."]}
