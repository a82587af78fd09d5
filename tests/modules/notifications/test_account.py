"""Account deletion (``account.deleted``): notification and webhook rows of the user go.

On this branch nothing emits ``account.deleted`` yet; the tests subscribe the handlers as
``create_app`` does for every module with an ``account.py`` and emit the event themselves.
"""

from __future__ import annotations

from sqlalchemy import func, select

from tests.helpers.api import ok


def test_a_deleted_account_leaves_no_notifications_mutes_or_webhooks(
    app, client, user, other_user, emit_fact
):
    from backend.extensions import db
    from backend.modules.notifications import account as notifications_account
    from backend.modules.notifications.models import Notification, NotificationMute
    from backend.modules.webhooks import account as webhooks_account
    from backend.modules.webhooks.models import Webhook, WebhookDelivery

    notifications_account.subscribe()
    webhooks_account.subscribe()
    post = ok(
        client.post("/api/forum/posts", headers=other_user.headers, json={"title": "t", "content": "c"}), 201
    )
    client.post(f"/api/forum/posts/{post['id']}/like", headers=user.headers)
    client.post(f"/api/users/{other_user.id}/follow", headers=user.headers)
    client.post(f"/api/forum/posts/{post['id']}/comments", headers=user.headers, json={"content": "hi"})
    client.put("/api/notifications/preferences", headers=user.headers, json={"muted": ["bot.fill"]})
    body = {"url": "http://93.184.216.34/h", "events": ["bot.error"], "active": False}
    ok(client.post("/api/webhooks", headers=user.headers, json=body), 201)
    emit_fact("bot.error", "bots", user.id, "b", botId="b", message="x")
    assert len(ok(client.get("/api/notifications", headers=other_user.headers))) == 3

    emit_fact("account.deleted", "", user.id, user.id)

    with app.app_context():
        count = lambda model, column: db.session.scalar(  # noqa: E731
            select(func.count()).select_from(model).where(column == user.id)
        )
        assert count(Notification, Notification.user_id) == 0
        assert count(NotificationMute, NotificationMute.user_id) == 0
        assert count(Webhook, Webhook.owner_id) == 0
        assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    # The other user keeps the reply (the comment stays), not the like and follow of a deleted user.
    assert [n["type"] for n in ok(client.get("/api/notifications", headers=other_user.headers))] == [
        "forum.reply"
    ]
