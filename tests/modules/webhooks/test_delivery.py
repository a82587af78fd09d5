"""Deliveries to a real receiver on loopback: signature and timestamp, retries with backoff, replay, ping.

Celery is eager here: the after-commit enqueue runs the attempt at once; later attempts are driven
through the beat's ``enqueue_due`` after moving a retry's due time into the past.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time

import pytest

from tests.helpers.api import error, ok


def verify(secret: str, header: str, body: bytes, tolerance_s: int = 300) -> int:
    """Check ``X-QYQ-Signature`` as docs/webhooks.md tells a receiver to; return its timestamp."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"]), "bad signature"
    assert abs(time.time() - timestamp) <= tolerance_s, "stale timestamp"
    return timestamp


@pytest.fixture
def hook(client, user, webhook_receiver, allow_private):
    body = {"url": webhook_receiver.url, "events": ["job.succeeded", "bot.fill", "notification.created"]}
    return ok(client.post("/api/webhooks", headers=user.headers, json=body), 201)


def _log(client, user, hook) -> list[dict]:
    return ok(client.get(f"/api/webhooks/{hook['id']}/deliveries", headers=user.headers))


def test_an_event_is_delivered_signed_to_the_receiver(client, user, emit_fact, webhook_receiver, hook):
    emit_fact("job.succeeded", "jobs", user.id, "j-1", jobId="j-1", kind="agent.audit", status="SUCCESS")
    by_type = {r.headers["X-QYQ-Event-Type"]: r for r in webhook_receiver.requests}
    assert set(by_type) == {"job.succeeded", "notification.created"}  # the audit's notification too
    got = by_type["job.succeeded"]
    verify(hook["secret"], got.headers["X-QYQ-Signature"], got.body)
    body = got.json()
    assert body["id"] == got.headers["X-QYQ-Event-Id"] and got.path == "/hook"
    assert (body["type"], body["topic"], body["objectId"], body["data"]["jobId"]) == (
        "job.succeeded",
        "jobs",
        "j-1",
        "j-1",
    )
    assert got.headers["Content-Type"] == "application/json"
    log = {d["eventType"]: d for d in _log(client, user, hook)}
    d = log["job.succeeded"]
    assert (d["status"], d["attempts"], d["responseCode"], d["error"], d["nextRetryAt"]) == (
        "succeeded",
        1,
        200,
        None,
        None,
    )
    assert d["eventId"] == body["id"] and d["durationMs"] >= 0 and d["deliveredAt"] >= d["createdAt"]


def test_a_tampered_body_or_another_secret_fails_verification(user, emit_fact, webhook_receiver, hook):
    emit_fact("bot.fill", "bots", user.id, "b", botId="b")
    got = next(r for r in webhook_receiver.requests if r.headers["X-QYQ-Event-Type"] == "bot.fill")
    with pytest.raises(AssertionError, match="bad signature"):
        verify(hook["secret"], got.headers["X-QYQ-Signature"], got.body.replace(b'"b"', b'"c"'))
    with pytest.raises(AssertionError, match="bad signature"):
        verify("whsec_other", got.headers["X-QYQ-Signature"], got.body)


def test_only_subscribed_types_of_the_owner_reach_an_active_endpoint(
    client, user, other_user, emit_fact, webhook_receiver, hook
):
    emit_fact("bot.order", "bots", user.id, "b", botId="b")  # not subscribed
    emit_fact("bot.fill", "bots", other_user.id, "b", botId="b")  # someone else's
    assert webhook_receiver.requests == []
    client.patch(f"/api/webhooks/{hook['id']}", headers=user.headers, json={"active": False})
    emit_fact("job.succeeded", "jobs", user.id, "j", jobId="j", kind="unknown")
    assert webhook_receiver.requests == [] and _log(client, user, hook) == []


def _make_due(app, hook_id: str) -> None:
    from sqlalchemy import update

    from backend.extensions import db
    from backend.modules.webhooks.models import WebhookDelivery

    with app.app_context():
        db.session.execute(
            update(WebhookDelivery).where(WebhookDelivery.webhook_id == hook_id).values(next_retry_at=0)
        )
        db.session.commit()


def test_receiver_errors_are_retried_with_exponential_backoff_until_success(
    app, client, user, emit_fact, webhook_receiver, hook
):
    from backend.modules.webhooks import service

    base = app.config["WEBHOOKS_RETRY_BASE_S"]
    webhook_receiver.statuses = [500, 503]
    before = int(time.time() * 1000)
    emit_fact(
        "job.succeeded", "jobs", user.id, "j", jobId="j", kind="unknown.kind"
    )  # no notification: one delivery
    fills = lambda: _log(client, user, hook)  # noqa: E731
    [first] = fills()
    assert (first["status"], first["attempts"], first["responseCode"]) == ("retrying", 1, 500)
    assert first["error"] == "The receiver answered HTTP 500."
    assert before + base * 1000 <= first["nextRetryAt"] <= int(time.time() * 1000) + base * 1000
    with app.app_context():
        assert service.enqueue_due() == 0  # not due yet: nothing is sent early
    _make_due(app, hook["id"])
    with app.app_context():
        service.enqueue_due()
    [second] = fills()
    assert (second["status"], second["attempts"], second["responseCode"]) == ("retrying", 2, 503)
    delay = second["nextRetryAt"] - second["lastAttemptAt"]
    assert 2 * base * 1000 <= delay <= 2 * base * 1000 + 1000  # doubled
    _make_due(app, hook["id"])
    with app.app_context():
        service.enqueue_due()
    [third] = fills()
    assert (third["status"], third["attempts"], third["responseCode"], third["error"]) == (
        "succeeded",
        3,
        200,
        None,
    )
    sent = webhook_receiver.requests
    assert len(sent) == 3 and len({r.headers["X-QYQ-Event-Id"] for r in sent}) == 1
    for r in sent:
        verify(hook["secret"], r.headers["X-QYQ-Signature"], r.body)


def test_a_delivery_fails_for_good_after_the_last_attempt(
    app, client, user, emit_fact, webhook_receiver, hook, monkeypatch
):
    from backend.modules.webhooks import service

    monkeypatch.setitem(app.config, "WEBHOOKS_MAX_ATTEMPTS", 2)
    webhook_receiver.statuses = [500] * 10
    emit_fact(
        "job.succeeded", "jobs", user.id, "j", jobId="j", kind="unknown.kind"
    )  # no notification: one delivery
    _make_due(app, hook["id"])
    with app.app_context():
        service.enqueue_due()
    [d] = _log(client, user, hook)
    assert (d["status"], d["attempts"], d["nextRetryAt"]) == ("failed", 2, None)
    _make_due(app, hook["id"])
    with app.app_context():
        assert service.enqueue_due() == 0


def test_redirects_are_not_followed_and_unreachable_receivers_are_retried(
    app, client, user, emit_fact, webhook_receiver, hook
):
    webhook_receiver.statuses = [302]
    emit_fact("job.succeeded", "jobs", user.id, "j", jobId="j", kind="unknown.kind")
    [d] = _log(client, user, hook)
    assert (
        d["responseCode"] == 302 and "redirects are not followed" in d["error"] and d["status"] == "retrying"
    )
    assert [r.path for r in webhook_receiver.requests] == ["/hook"]
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    client.patch(
        f"/api/webhooks/{hook['id']}", headers=user.headers, json={"url": f"http://127.0.0.1:{port}/x"}
    )
    emit_fact("job.succeeded", "jobs", user.id, "j2", jobId="j2", kind="unknown.kind")
    latest = _log(client, user, hook)[0]
    assert latest["status"] == "retrying" and latest["responseCode"] is None
    assert latest["error"].startswith("ConnectionRefusedError")


def test_a_slow_receiver_times_out(app, client, user, emit_fact, webhook_receiver, hook, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOKS_READ_TIMEOUT_S", 0.2)
    webhook_receiver.delay_s = 1.0
    emit_fact("job.succeeded", "jobs", user.id, "j", jobId="j", kind="unknown.kind")
    [d] = _log(client, user, hook)
    assert d["status"] == "retrying" and "timed out" in d["error"]


def test_the_address_is_checked_again_at_delivery_time(
    app, client, user, emit_fact, webhook_receiver, hook, monkeypatch
):
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE", False)  # saved when allowed; refused now
    emit_fact("job.succeeded", "jobs", user.id, "j", jobId="j", kind="unknown.kind")
    [d] = _log(client, user, hook)
    assert d["status"] == "retrying" and d["error"] == "Refused: The host 127.0.0.1 is a loopback address."
    assert webhook_receiver.requests == []


def _resolve(monkeypatch, answers: dict[str, str]) -> None:
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_dns_rebinding_to_a_private_address_is_refused_at_delivery(
    app, client, user, emit_fact, webhook_receiver, monkeypatch
):
    _resolve(monkeypatch, {"hooks.example.test": "93.184.216.34"})
    url = f"http://hooks.example.test:{webhook_receiver.port}/hook"
    hook = ok(
        client.post("/api/webhooks", headers=user.headers, json={"url": url, "events": ["bot.error"]}), 201
    )
    _resolve(monkeypatch, {"hooks.example.test": "127.0.0.1"})  # the name now points inside
    emit_fact("bot.error", "bots", user.id, "b", botId="b", message="x")
    [d] = _log(client, user, hook)
    assert (
        "resolves to 127.0.0.1, which is a loopback address" in d["error"] and webhook_receiver.requests == []
    )


def test_the_connection_goes_to_the_checked_address_with_the_urls_host(
    client, user, emit_fact, webhook_receiver, allow_private, monkeypatch
):
    _resolve(monkeypatch, {"receiver.test": "127.0.0.1"})
    url = f"http://receiver.test:{webhook_receiver.port}/in?x=1"
    ok(client.post("/api/webhooks", headers=user.headers, json={"url": url, "events": ["bot.error"]}), 201)
    emit_fact("bot.error", "bots", user.id, "b", botId="b", message="x")
    [got] = [r for r in webhook_receiver.requests if r.headers["X-QYQ-Event-Type"] == "bot.error"]
    assert got.path == "/in?x=1" and got.headers["Host"] == f"receiver.test:{webhook_receiver.port}"


def test_replay_sends_the_same_event_again_as_a_new_delivery(client, user, emit_fact, webhook_receiver, hook):
    emit_fact("job.succeeded", "jobs", user.id, "j", jobId="j", kind="unknown.kind")
    [original] = _log(client, user, hook)
    resp = client.post(f"/api/webhooks/{hook['id']}/deliveries/{original['id']}/replay", headers=user.headers)
    replay = ok(resp, 202)
    assert (replay["replayOf"], replay["eventId"], replay["eventType"]) == (
        original["id"],
        original["eventId"],
        "job.succeeded",
    )
    first, second = webhook_receiver.requests
    assert first.body == second.body and first.headers["X-QYQ-Event-Id"] == second.headers["X-QYQ-Event-Id"]
    assert first.headers["X-QYQ-Delivery-Id"] != second.headers["X-QYQ-Delivery-Id"]
    verify(hook["secret"], second.headers["X-QYQ-Signature"], second.body)
    assert [d["status"] for d in _log(client, user, hook)] == ["succeeded", "succeeded"]


def test_ping_sends_a_signed_ping_and_an_inactive_endpoint_refuses(client, user, webhook_receiver, hook):
    delivery = ok(client.post(f"/api/webhooks/{hook['id']}/ping", headers=user.headers), 202)
    assert delivery["eventType"] == "ping"
    [got] = webhook_receiver.requests
    verify(hook["secret"], got.headers["X-QYQ-Signature"], got.body)
    assert got.json()["data"] == {"webhookId": hook["id"]}
    client.patch(f"/api/webhooks/{hook['id']}", headers=user.headers, json={"active": False})
    error(
        client.post(f"/api/webhooks/{hook['id']}/ping", headers=user.headers), 409, code="webhooks.inactive"
    )
    d = _log(client, user, hook)[0]
    resp = client.post(f"/api/webhooks/{hook['id']}/deliveries/{d['id']}/replay", headers=user.headers)
    error(resp, 409, code="webhooks.inactive")


def test_a_rotated_secret_signs_later_attempts(client, user, webhook_receiver, hook):
    secret = ok(client.post(f"/api/webhooks/{hook['id']}/rotate-secret", headers=user.headers))["secret"]
    client.post(f"/api/webhooks/{hook['id']}/ping", headers=user.headers)
    [got] = webhook_receiver.requests
    verify(secret, got.headers["X-QYQ-Signature"], got.body)


def test_the_response_read_is_bounded(app, webhook_receiver):
    from backend.modules.webhooks import outbound

    webhook_receiver.response_body = b"x" * 100_000
    target = outbound.check_url(webhook_receiver.url, allow_private=True)
    got = outbound.post(target, b"{}", {"Content-Type": "application/json"}, outbound.Limits(2, 2, 1000))
    assert (got.status, len(got.body)) == (200, 1000)


def test_a_lost_first_enqueue_is_sent_by_the_beat(
    app, client, user, emit_fact, webhook_receiver, hook, monkeypatch
):
    from backend.modules.webhooks import attempts, service

    monkeypatch.setattr(attempts, "enqueue", lambda ids: None)  # the broker was down after commit
    emit_fact("job.succeeded", "jobs", user.id, "j", jobId="j", kind="unknown.kind")
    [d] = _log(client, user, hook)
    assert d["status"] == "pending" and webhook_receiver.requests == []
    monkeypatch.undo()
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE", True)
    _make_due(app, hook["id"])
    with app.app_context():
        assert service.enqueue_due() == 1
    assert _log(client, user, hook)[0]["status"] == "succeeded" and len(webhook_receiver.requests) == 1


def test_deliveries_payload_is_json(client, user, emit_fact, webhook_receiver, hook):
    emit_fact("bot.fill", "bots", user.id, "b", botId="b")
    assert all(json.loads(r.body)["type"] for r in webhook_receiver.requests)


def test_a_duplicate_task_finds_the_delivery_done_and_sends_nothing(
    app, client, user, emit_fact, webhook_receiver, hook
):
    from backend.modules.webhooks import service

    emit_fact("job.succeeded", "jobs", user.id, "j", jobId="j", kind="unknown.kind")
    [d] = _log(client, user, hook)
    with app.app_context():
        assert service.deliver(delivery_id=d["id"]) is None
    assert len(webhook_receiver.requests) == 1 and _log(client, user, hook)[0]["attempts"] == 1


def test_an_attempt_lost_with_its_worker_is_sent_again_by_the_beat(
    app, client, user, emit_fact, webhook_receiver, hook
):
    from sqlalchemy import update

    from backend.extensions import db
    from backend.modules.webhooks import service
    from backend.modules.webhooks.models import WebhookDelivery

    emit_fact("job.succeeded", "jobs", user.id, "j", jobId="j", kind="unknown.kind")
    with app.app_context():  # as if a worker died between the claim and the record
        db.session.execute(update(WebhookDelivery).values(status="sending", last_attempt_at=1))
        db.session.commit()
        assert service.enqueue_due() == 1
    [d] = _log(client, user, hook)
    assert (d["status"], d["attempts"]) == ("succeeded", 2) and len(webhook_receiver.requests) == 2


@pytest.mark.integration
def test_a_real_worker_consumes_the_webhooks_queue(
    app, client, make_user, celery_worker, webhook_receiver, emit_fact, allow_private
):
    owner = make_user()
    body = {"url": webhook_receiver.url, "events": ["job.failed"]}
    hook = ok(client.post("/api/webhooks", headers=owner.headers, json=body), 201)
    emit_fact("job.failed", "jobs", owner.id, "j", jobId="j", kind="unknown.kind", reason="boom")
    deadline = time.monotonic() + 30
    while not webhook_receiver.requests and time.monotonic() < deadline:
        time.sleep(0.1)
    [got] = webhook_receiver.requests
    verify(hook["secret"], got.headers["X-QYQ-Signature"], got.body)
    while _log(client, owner, hook)[0]["status"] != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _log(client, owner, hook)[0]["status"] == "succeeded", celery_worker.log()


def test_one_transaction_reads_the_owner_endpoints_once(app, client, user, webhook_receiver, hook):
    from sqlalchemy import event, update
    from sqlalchemy.engine import Engine

    from backend.core import events
    from backend.core.db import transactional
    from backend.extensions import db
    from backend.modules.webhooks.models import Webhook

    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append(" ".join(statement.split()))

    @transactional
    def tell(types: list[str], forget_between: bool = False) -> None:
        for i, type_ in enumerate(types):
            if forget_between and i:  # a write of endpoints in between: the next event reads again
                db.session.execute(update(Webhook).where(Webhook.id == hook["id"]).values(description=""))
            events.emit(events.Event(type_, "bots", user.id, object_id="b", data={"botId": "b", "n": i}))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        with app.app_context():
            tell(["bot.order", "bot.status", "bot.order", "bot.fill"])  # only bot.fill is subscribed
            lookups = [s for s in seen if "FROM webhooks WHERE webhooks.owner_id" in s]
            assert len(lookups) == 1  # the first event read them; the others needed no statement
            seen.clear()
            tell(["bot.order"])  # a new transaction reads again
            tell(["bot.order", "bot.order"], forget_between=True)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert len([s for s in seen if "FROM webhooks WHERE webhooks.owner_id" in s]) == 3
    assert [r.headers["X-QYQ-Event-Type"] for r in webhook_receiver.requests].count("bot.fill") == 1


def _statements_of(app, emit_fact, *fact, **data) -> list[str]:
    from sqlalchemy import event

    from backend.extensions import db

    seen: list[str] = []

    def listen(_conn, _cursor, statement, *_a) -> None:
        seen.append(" ".join(statement.split()))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            emit_fact(*fact, **data)
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
    return seen


def test_an_owner_without_endpoints_costs_one_read_and_no_savepoint(app, user, emit_fact):
    # job.succeeded makes a notification (its INSERT in a savepoint), whose notification.created
    # event webhooks also see: the owner's endpoints are read once, outside any savepoint of theirs
    fact = ("job.succeeded", "jobs", user.id, "j-2")
    seen = _statements_of(app, emit_fact, *fact, jobId="j-2", kind="agent.audit", status="SUCCESS")
    reads = [i for i, s in enumerate(seen) if s.startswith("SELECT webhooks.id")]
    assert len(reads) == 1, seen
    before, after = seen[reads[0] - 1], seen[reads[0] + 1]
    assert before.startswith("WITH created AS (INSERT INTO notifications"), seen  # in its savepoint
    assert after.startswith("RELEASE SAVEPOINT"), seen  # the notification's: none of the webhooks'
    assert len([s for s in seen if s.startswith("RELEASE SAVEPOINT")]) == len(
        [s for s in seen if s.startswith("SAVEPOINT")]
    )
    assert not [s for s in seen if "webhook_deliveries" in s]


def test_a_delivery_that_cannot_be_stored_is_logged_and_never_fails_its_cause(
    app, client, user, emit_fact, hook, monkeypatch, caplog
):
    from sqlalchemy.exc import SQLAlchemyError

    from backend.modules.webhooks import service as webhooks_service

    def broken(*_a, **_k):
        raise SQLAlchemyError("the delivery's INSERT failed")

    monkeypatch.setattr(webhooks_service, "_add_delivery", broken)
    emit_fact("job.succeeded", "jobs", user.id, "j-3", jobId="j-3", kind="agent.audit", status="SUCCESS")
    assert "webhook deliveries of job.succeeded not stored" in caplog.text
    monkeypatch.undo()
    notes = ok(client.get("/api/notifications", headers=user.headers))  # the cause's writes stand
    assert any(n["objectId"] == "j-3" for n in notes)
    assert _log(client, user, hook) == []
