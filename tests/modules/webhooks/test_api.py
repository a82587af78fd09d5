"""Webhook endpoints: create (secret once, encrypted), SSRF 422s, unknown events, limits, ownership 404s."""

from __future__ import annotations

import json

import pytest

from tests.helpers.api import error, fields, ok

PUBLIC = "http://93.184.216.34/hook"  # a literal public address: no DNS needed


def _create(client, user, **body) -> dict:
    body = {"url": PUBLIC, "events": ["job.succeeded"], **body}
    return ok(client.post("/api/webhooks", headers=user.headers, json=body), 201)


def test_create_shows_the_secret_once_and_stores_it_encrypted(app, client, user):
    from backend.extensions import db
    from backend.modules.webhooks.models import Webhook

    hook = _create(client, user, events=["job.failed", "bot.fill", "job.failed"], description="CI")
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 30
    assert (hook["url"], hook["events"], hook["active"], hook["description"]) == (
        PUBLIC,
        ["bot.fill", "job.failed"],
        True,
        "CI",
    )
    with app.app_context():
        stored = db.session.get(Webhook, hook["id"]).secret_encrypted
    assert hook["secret"] not in stored
    shown = ok(client.get(f"/api/webhooks/{hook['id']}", headers=user.headers))
    listed = ok(client.get("/api/webhooks", headers=user.headers))
    assert "secret" not in shown and [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]


def test_rotation_replaces_the_secret_and_shows_the_new_one_once(client, user):
    hook = _create(client, user)
    rotated = ok(client.post(f"/api/webhooks/{hook['id']}/rotate-secret", headers=user.headers))
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != hook["secret"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://93.184.216.34/x", "http:// or https://"),
        ("http://" + "a" * 2050 + ".com/", "longer than 2048 characters"),
        ("http://127.0.0.1:5000/hook", "127.0.0.1 is a loopback address"),
        ("http://10.0.0.8/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:192.168.0.1]/hook", "private"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://240.0.0.1/hook", "reserved"),
        ("http://user:pw@93.184.216.34/", "credentials"),
    ],
)
def test_a_forbidden_url_is_a_422_naming_why(client, user, url, why):
    resp = client.post("/api/webhooks", headers=user.headers, json={"url": url, "events": ["job.failed"]})
    messages = fields(resp, "webhooks.invalid_url")["url"]
    assert why in messages[0]


def test_the_dev_setting_allows_a_loopback_receiver(client, user, allow_private):
    assert _create(client, user, url="http://127.0.0.1:9/hook")["url"] == "http://127.0.0.1:9/hook"


def test_unknown_or_missing_events_and_bad_fields_are_422(client, user):
    post = lambda body: client.post("/api/webhooks", headers=user.headers, json=body)  # noqa: E731
    assert "events" in fields(post({"url": PUBLIC, "events": ["job.exploded"]}))
    assert "events" in fields(post({"url": PUBLIC, "events": []}))
    assert set(fields(post({}))) == {"url", "events"}
    assert "description" in fields(post({"url": PUBLIC, "events": ["bot.fill"], "description": "x" * 501}))
    assert "secret" in fields(post({"url": PUBLIC, "events": ["bot.fill"], "secret": "mine"}))


def test_the_event_catalogue_is_listed(client, user):
    types = [t["type"] for t in ok(client.get("/api/webhooks/events", headers=user.headers))]
    assert types[:3] == ["job.succeeded", "job.failed", "job.cancelled"] and "notification.created" in types


def test_update_checks_the_new_url_and_changes_fields(client, user):
    hook = _create(client, user)
    path = f"/api/webhooks/{hook['id']}"
    fields(
        client.patch(path, headers=user.headers, json={"url": "http://192.168.1.1/"}), "webhooks.invalid_url"
    )
    changed = ok(client.patch(path, headers=user.headers, json={"active": False, "events": ["bot.error"]}))
    assert (changed["active"], changed["events"], changed["url"]) == (False, ["bot.error"], PUBLIC)
    ok(client.delete(path, headers=user.headers))
    error(client.get(path, headers=user.headers), 404, code="webhooks.not_found")


def test_a_user_has_at_most_the_configured_number_of_endpoints(app, client, user, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOKS_MAX_PER_USER", 2)
    _create(client, user)
    _create(client, user)
    resp = client.post("/api/webhooks", headers=user.headers, json={"url": PUBLIC, "events": ["bot.fill"]})
    error(resp, 409, code="webhooks.limit_reached")


def test_other_users_endpoints_and_deliveries_are_404(client, user, other_user):
    hook = _create(client, user)
    base = f"/api/webhooks/{hook['id']}"
    delivery = "00000000-0000-0000-0000-000000000000"
    for method, path in [
        ("get", base),
        ("patch", base),
        ("delete", base),
        ("post", f"{base}/rotate-secret"),
        ("post", f"{base}/ping"),
        ("get", f"{base}/deliveries"),
        ("post", f"{base}/deliveries/{delivery}/replay"),
    ]:
        kwargs = {"json": {"active": False}} if method == "patch" else {}
        error(
            getattr(client, method)(path, headers=other_user.headers, **kwargs),
            404,
            code="webhooks.not_found",
        )
    assert ok(client.get("/api/webhooks", headers=other_user.headers)) == []
    error(
        client.post(f"{base}/deliveries/{delivery}/replay", headers=user.headers),
        404,
        code="webhooks.delivery_not_found",
    )


def test_every_endpoint_needs_a_token(client):
    for method, path in [
        ("get", "/api/webhooks"),
        ("post", "/api/webhooks"),
        ("get", "/api/webhooks/events"),
    ]:
        error(getattr(client, method)(path, json={}), 401)


def test_the_list_is_paginated(client, user):
    for _ in range(3):
        _create(client, user)
    resp = client.get("/api/webhooks?page_size=2", headers=user.headers)
    assert len(ok(resp)) == 2 and json.loads(resp.headers["X-Pagination"])["total"] == 3
