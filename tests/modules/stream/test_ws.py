"""/ws/market over a real server (flask-sock needs one): ticket auth, subscribe, receive, errors."""

from __future__ import annotations

import json
import threading

import pytest
from simple_websocket import Client, ConnectionClosed
from werkzeug.serving import make_server

from backend.core import events
from tests.helpers.api import ok

pytestmark = pytest.mark.integration


@pytest.fixture
def server(app, committed, monkeypatch):
    monkeypatch.setitem(app.config, "STREAM_HEARTBEAT_S", 0.2)
    monkeypatch.setitem(app.config, "STREAM_WS_POLL_MS", 50)
    app.extensions.pop("stream_redis", None)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(timeout=5)
    app.extensions.pop("stream_redis", None)


def _ticket(client, user) -> str:
    return ok(client.post("/api/stream/ticket", headers=user.headers), 201)["ticket"]


def _receive(ws: Client, timeout: float = 5.0) -> dict:
    message = ws.receive(timeout=timeout)
    assert message is not None, "nothing received in time"
    return json.loads(message)


def test_a_bad_ticket_gets_an_error_and_is_closed(server):
    ws = Client.connect(f"{server}/ws/market?ticket=made-up")
    try:
        assert _receive(ws) | {"message": None} == {
            "type": "error",
            "status": 401,
            "reason": "ticket_invalid",
            "message": None,
            "fields": None,
        }
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(5):
                ws.receive(timeout=2)
        assert closed.value.reason == 4401
    finally:
        if ws.connected:
            ws.close()


def test_subscribe_then_receive_market_events_and_bad_subscriptions_are_errors(server, client, user, app):
    ws = Client.connect(f"{server}/ws/market?ticket={_ticket(client, user)}")
    try:
        ws.send(json.dumps({"subscribe": ["BTCUSDT:1m"]}))
        assert _receive(ws) == {"type": "subscribed", "topics": ["market:BTCUSDT:1m"]}
        with app.app_context():
            events.publish(events.Event("market.bar", "market:BTCUSDT:1m", None, "BTCUSDT", {"price": "1.5"}))
            events.publish(events.Event("job.failed", "jobs", user.id, "j1", {"jobId": "j1"}))  # not a market
        got = _receive(ws)
        assert (got["type"], got["topic"], got["data"]) == (
            "market.bar",
            "market:BTCUSDT:1m",
            {"price": "1.5"},
        )
        assert got["id"].startswith("BTCUSDT/1m=")
        ws.send(json.dumps({"subscribe": ["NOPE_NOT_A_SYMBOL:1m"]}))
        bad = _receive(ws)
        assert bad["type"] == "error" and bad["status"] == 422 and "topics" in bad["fields"]
        ws.send("not json")
        assert _receive(ws)["status"] == 422
        ws.send(json.dumps({"unsubscribe": ["BTCUSDT:1m"]}))
        assert _receive(ws) == {"type": "subscribed", "topics": []}
    finally:
        if ws.connected:
            ws.close()
