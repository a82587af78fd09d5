"""Each source makes its notification (title, link, object) and nothing else does; duplicates make one."""

from __future__ import annotations

import pytest

from tests.helpers.api import ok


def _list(client, user, **query) -> list[dict]:
    return ok(client.get("/api/notifications", headers=user.headers, query_string=query))


@pytest.mark.parametrize(
    ("kind", "data", "type_", "title", "link"),
    [
        ("backtests.run", {"backtestId": "b1"}, "backtest.completed", "Backtest finished", "/backtests/b1"),
        ("backtests.run", {"subjectId": "s1"}, "backtest.completed", "Backtest finished", "/strategies/s1"),
        (
            "backtests.reproduce",
            {"backtestId": "b2"},
            "backtest.completed",
            "Reproduction finished",
            "/backtests/b2",
        ),
        ("backtests.sweep", {"sweepId": "w1"}, "sweep.completed", "Sweep finished", "/backtests/sweeps/w1"),
        ("agent.audit", {"auditId": "a1"}, "audit.completed", "Audit finished", "/agent/audits/a1"),
        ("agent.audit", {}, "audit.completed", "Audit finished", "/jobs/j-1"),
    ],
)
def test_a_finished_job_notifies_its_owner_per_kind(client, user, emit_fact, kind, data, type_, title, link):
    emit_fact("job.succeeded", "jobs", user.id, "j-1", jobId="j-1", kind=kind, status="SUCCESS", **data)
    [n] = _list(client, user)
    assert (n["type"], n["title"], n["link"], n["objectId"], n["read"]) == (type_, title, link, "j-1", False)
    assert n["body"] is None and isinstance(n["createdAt"], int)


def test_a_failed_job_says_why_and_a_workflow_run_only_when_it_fails(client, user, emit_fact):
    emit_fact("job.succeeded", "jobs", user.id, "j-1", jobId="j-1", kind="workflows.run", subjectId="wf")
    assert _list(client, user) == []  # cron workflows run often: success is not a notification
    emit_fact(
        "job.failed",
        "jobs",
        user.id,
        "j-2",
        jobId="j-2",
        kind="workflows.run",
        subjectId="wf",
        reason="node_failed",
        message="1 node(s) failed: d",
    )
    emit_fact("job.failed", "jobs", user.id, "j-3", jobId="j-3", kind="backtests.sweep", reason="timeout")
    sweep, run = _list(client, user)
    assert (run["type"], run["body"], run["link"]) == (
        "workflow_run.failed",
        "1 node(s) failed: d",
        "/workflows/wf",
    )
    assert (sweep["type"], sweep["body"], sweep["title"]) == ("sweep.failed", "timeout", "Sweep failed")


def test_cancelled_jobs_bot_orders_and_status_changes_make_no_notification(client, user, emit_fact):
    emit_fact("job.cancelled", "jobs", user.id, "j-1", jobId="j-1", kind="backtests.run")
    emit_fact("job.succeeded", "jobs", user.id, "j-2", jobId="j-2", kind="unknown.kind")
    emit_fact("bot.order", "bots", user.id, "b", botId="b", side="buy")
    emit_fact("bot.status", "bots", user.id, "b", botId="b", status="paused")
    assert _list(client, user) == []


def test_a_redelivered_job_event_makes_one_notification(client, user, emit_fact):
    for _ in range(3):
        emit_fact("job.succeeded", "jobs", user.id, "j-1", jobId="j-1", kind="backtests.run")
    assert len(_list(client, user)) == 1


def test_bot_fills_and_errors_notify_with_a_link_to_the_bot(client, user, emit_fact):
    emit_fact(
        "bot.fill",
        "bots",
        user.id,
        "bot-1",
        botId="bot-1",
        botName="Momo",
        orderId="o1",
        side="BUY",
        symbol="BTCUSDT",
        quantity="0.5",
        price="100",
    )
    emit_fact("bot.fill", "bots", user.id, "bot-1", botId="bot-1", orderId="o1")  # the same fill again
    emit_fact("bot.error", "bots", user.id, "bot-1", botId="bot-1", message="market data unavailable")
    error, fill = _list(client, user)
    assert (fill["type"], fill["title"], fill["body"], fill["link"]) == (
        "bot.fill",
        "Momo: order filled",
        "buy 0.5 BTCUSDT at 100",
        "/bots/bot-1",
    )
    assert (error["type"], error["body"], error["link"]) == (
        "bot.error",
        "market data unavailable",
        "/bots/bot-1",
    )


def test_notifications_are_the_owners_only(client, user, other_user, emit_fact):
    emit_fact("bot.error", "bots", user.id, "b", botId="b", message="x")
    assert _list(client, other_user) == []
    assert ok(client.get("/api/notifications/unread-count", headers=other_user.headers)) == {"count": 0}


def test_each_notification_is_emitted_as_notification_created_with_its_api_form(app, client, user, emit_fact):
    from backend.core import events

    seen: list[events.Event] = []
    events.subscribe(seen.append)
    try:
        emit_fact("bot.error", "bots", user.id, "b", botId="b", message="x")
    finally:
        events._subscribers.remove(seen.append)
    created = [e for e in seen if e.type == "notification.created"]
    [n] = _list(client, user)
    assert [(e.topic, e.user_id, e.object_id, dict(e.data)) for e in created] == [
        ("notifications", user.id, n["id"], n)
    ]


def _post(client, user) -> str:
    resp = client.post("/api/forum/posts", headers=user.headers, json={"title": "My idea", "content": "x"})
    return ok(resp, 201)["id"]


def test_a_comment_on_my_post_notifies_me_but_never_my_own(client, user, other_user):
    post_id = _post(client, user)
    client.post(f"/api/forum/posts/{post_id}/comments", headers=user.headers, json={"content": "me"})
    assert _list(client, user) == []
    client.post(f"/api/forum/posts/{post_id}/comments", headers=other_user.headers, json={"content": "Nice!"})
    [n] = _list(client, user)
    assert (n["type"], n["title"], n["body"], n["link"], n["objectId"]) == (
        "forum.reply",
        f"{other_user.username} commented on “My idea”",
        "Nice!",
        f"/forum/posts/{post_id}",
        post_id,
    )
    assert _list(client, other_user) == []


def test_a_like_notifies_once_even_when_unliked_and_liked_again(client, user, other_user):
    post_id = _post(client, user)
    client.post(f"/api/forum/posts/{post_id}/like", headers=user.headers)  # my own like: nothing
    for _ in range(2):
        client.post(f"/api/forum/posts/{post_id}/like", headers=other_user.headers)
        client.delete(f"/api/forum/posts/{post_id}/like", headers=other_user.headers)
    [n] = _list(client, user)
    assert (n["type"], n["title"]) == ("forum.like", f"{other_user.username} liked “My idea”")


def test_a_new_follower_notifies_the_followed_user_once(client, user, other_user):
    for _ in range(2):
        client.post(f"/api/users/{user.id}/follow", headers=other_user.headers)
    [n] = _list(client, user)
    assert (n["type"], n["title"], n["link"], n["objectId"]) == (
        "forum.follow",
        f"{other_user.username} followed you",
        f"/users/{other_user.id}",
        other_user.id,
    )


def test_a_muted_type_creates_no_notification(client, user, emit_fact):
    resp = client.put("/api/notifications/preferences", headers=user.headers, json={"muted": ["bot.error"]})
    assert ok(resp)["muted"] == ["bot.error"]
    emit_fact("bot.error", "bots", user.id, "b", botId="b", message="x")
    emit_fact("bot.fill", "bots", user.id, "b", botId="b", orderId="o")
    assert [n["type"] for n in _list(client, user)] == ["bot.fill"]
    client.put("/api/notifications/preferences", headers=user.headers, json={"muted": []})
    emit_fact("bot.error", "bots", user.id, "b", botId="b", message="y")
    assert [n["type"] for n in _list(client, user)] == ["bot.error", "bot.fill"]


def test_each_user_keeps_only_the_newest_notifications(app, client, user, emit_fact, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFICATIONS_MAX_PER_USER", 3)
    for i in range(5):
        emit_fact("bot.fill", "bots", user.id, "b", botId="b", orderId=f"o{i}", symbol=f"S{i}")
    assert [n["body"] for n in _list(client, user)] == ["S4", "S3", "S2"]


def test_a_muted_notification_trims_nothing(app, client, user, emit_fact, monkeypatch):
    """The retention's DELETE runs in the INSERT's statement, and only when that inserted a row."""
    monkeypatch.setitem(app.config, "NOTIFICATIONS_MAX_PER_USER", 2)
    for i in range(2):
        emit_fact("bot.fill", "bots", user.id, "b", botId="b", orderId=f"o{i}", symbol=f"S{i}")
    client.put("/api/notifications/preferences", headers=user.headers, json={"muted": ["bot.fill"]})
    emit_fact("bot.fill", "bots", user.id, "b", botId="b", orderId="o9", symbol="S9")  # muted: not stored
    assert [n["body"] for n in _list(client, user)] == ["S1", "S0"]
    client.put("/api/notifications/preferences", headers=user.headers, json={"muted": []})
    emit_fact("bot.fill", "bots", user.id, "b", botId="b", orderId="o3", symbol="S3")
    assert [n["body"] for n in _list(client, user)] == ["S3", "S1"]
