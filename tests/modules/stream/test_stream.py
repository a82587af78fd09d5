"""GET /api/stream (SSE) and POST /api/stream/ticket: tickets, topics, cap, filtering, resume, revocation.

Streams are read through the test client (the response's generator, one chunk per frame); every
read is bounded by a deadline and by the short heartbeat set below, so no test can hang.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from backend.core import events, jobs
from backend.core.db import now_ms, transactional
from backend.core.redis import get_redis, rkey
from backend.extensions import db
from backend.modules.stream import service
from tests.helpers.api import error, ok

HEARTBEAT_S = 0.2


@pytest.fixture(autouse=True)
def short_stream_settings(app, monkeypatch):
    monkeypatch.setitem(app.config, "STREAM_HEARTBEAT_S", HEARTBEAT_S)
    monkeypatch.setitem(app.config, "STREAM_MAX_PER_USER", 2)
    app.extensions.pop("stream_redis", None)  # rebuilt with the short block's socket timeout
    yield
    app.extensions.pop("stream_redis", None)


def ticket(client, user) -> str:
    return ok(client.post("/api/stream/ticket", headers=user.headers), 201)["ticket"]


class Stream:
    """An open SSE response, parsed frame by frame."""

    def __init__(self, resp) -> None:
        assert resp.status_code == 200, resp.get_data(as_text=True)
        assert resp.mimetype == "text/event-stream"
        self.resp = resp
        self.chunks: Iterator[bytes] = iter(resp.response)

    def frames(self, timeout: float = 5.0) -> Iterator[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = next(self.chunks)
            except StopIteration:
                return
            text = chunk.decode() if isinstance(chunk, bytes) else chunk
            for block in text.split("\n\n"):
                if block.strip():
                    yield _parse(block)

    def until(self, pred: Callable[[dict], bool], timeout: float = 5.0) -> list[dict]:
        seen = []
        for frame in self.frames(timeout):
            seen.append(frame)
            if pred(frame):
                return seen
        raise AssertionError(f"no matching frame within {timeout}s; got {seen}")

    def close(self) -> None:
        self.resp.close()


def _parse(block: str) -> dict:
    frame: dict = {}
    for line in block.split("\n"):
        if line.startswith(":"):
            frame.setdefault("comments", []).append(line[1:].strip())
            continue
        name, _, value = line.partition(": ")
        frame[name] = json.loads(value) if name == "data" else value
    return frame


def open_stream(client, user, topics: str, **headers) -> Stream:
    resp = client.get(
        f"/api/stream?topics={topics}&ticket={ticket(client, user)}", headers=headers, buffered=False
    )
    return Stream(resp)


def data_frames(stream: Stream, count: int, timeout: float = 5.0) -> list[dict]:
    got: list[dict] = []
    for frame in stream.frames(timeout):
        if "data" in frame:
            got.append(frame)
            if len(got) == count:
                return got
    raise AssertionError(f"expected {count} events, got {got}")


def no_data_frames(stream: Stream, wait: float = 3 * HEARTBEAT_S) -> None:
    assert [f for f in stream.frames(wait) if "data" in f] == []


def publish(app, type_: str, topic: str, user_id: str | None, object_id: str = "o1", **data) -> None:
    with app.app_context():
        assert events.publish(events.Event(type_, topic, user_id, object_id=object_id, data=data))


# --- tickets ------------------------------------------------------------------------------------


def test_a_ticket_needs_a_token_and_expires_within_its_ttl(client, user, app):
    error(client.post("/api/stream/ticket"), 401)
    data = ok(client.post("/api/stream/ticket", headers=user.headers), 201)
    assert set(data) == {"ticket", "expiresAt"} and data["expiresAt"] > now_ms()
    with app.app_context():
        ttl = get_redis().ttl(rkey("stream", "ticket", data["ticket"]))
    assert 0 < ttl <= app.config["STREAM_TICKET_TTL_S"]


def test_a_ticket_works_once(client, user):
    value = ticket(client, user)
    first = Stream(client.get(f"/api/stream?topics=jobs&ticket={value}", buffered=False))
    first.close()
    again = client.get(f"/api/stream?topics=jobs&ticket={value}")
    body = error(again, 401, "ticket_invalid")
    assert body["details"]["error"] == "stream.ticket_invalid"


def test_missing_unknown_and_expired_tickets_are_401(client, user, app):
    error(client.get("/api/stream?topics=jobs"), 401, "ticket_invalid")
    error(client.get("/api/stream?topics=jobs&ticket=made-up"), 401, "ticket_invalid")
    value = ticket(client, user)
    with app.app_context():
        get_redis().pexpire(rkey("stream", "ticket", value), 1)  # what the TTL does, without waiting 30 s
    time.sleep(0.05)
    error(client.get(f"/api/stream?topics=jobs&ticket={value}"), 401, "ticket_invalid")


def test_a_ticket_of_a_revoked_session_is_401(client, user):
    value = ticket(client, user)
    ok(client.post("/api/auth/logout", headers=user.headers))
    error(client.get(f"/api/stream?topics=jobs&ticket={value}"), 401, "ticket_invalid")


# --- bad topics: 422 before anything opens (and the ticket is not used up) --------------------------


@pytest.mark.parametrize(
    "topics",
    ["weather", "jobs,market:NOPE_NOT_A_SYMBOL:1m", "market:BTCUSDT:7m", "market:BTCUSDT", "jobs," * 30],
)
def test_bad_topics_are_422_naming_the_field(client, user, topics):
    value = ticket(client, user)
    body = error(client.get(f"/api/stream?topics={topics}&ticket={value}"), 422)
    assert "topics" in body["details"]["fields"]
    Stream(client.get(f"/api/stream?topics=jobs&ticket={value}", buffered=False)).close()  # still valid


def test_the_document_states_the_topics_grammar(app, client, user):
    # Schemathesis (2026-11-30): `topics=000...` was a valid string in the document and a 422 here.
    from jsonschema_rs import Draft4Validator

    spec = app.test_client().get("/api/openapi.json").get_json()
    (param,) = [p for p in spec["paths"]["/api/stream"]["get"]["parameters"] if p["name"] == "topics"]
    validator = Draft4Validator(param["schema"])
    for good in ("jobs", "jobs, bots,notifications", "market:BTCUSDT:1m", "market:BINANCE:btcusdt:4h"):
        assert validator.is_valid(good), good
    for bad in (
        "0" * 64,
        "weather",
        "jobs,",
        "jobs,,bots",
        "market:BTCUSDT",
        "market:BTCUSDT:7m",
        "market::1m",
    ):
        assert not validator.is_valid(bad), bad
        body = error(client.get(f"/api/stream?topics={bad}&ticket={ticket(client, user)}"), 422)
        assert "topics" in body["details"]["fields"]
    # What the pattern cannot know: whether the symbol exists (stored data; schemathesis.toml).
    assert validator.is_valid("market:NOPE:1m")
    error(client.get(f"/api/stream?topics=market:NOPE:1m&ticket={ticket(client, user)}"), 422)
    stream = Stream(
        client.get(f"/api/stream?topics=jobs, bots&ticket={ticket(client, user)}", buffered=False)
    )
    stream.close()


def test_the_ticket_links_to_the_stream(app, client, user):
    # An OpenAPI link, so Schemathesis' stateful phase opens real streams (bounded in schemathesis.toml).
    spec = app.test_client().get("/api/openapi.json").get_json()
    link = spec["paths"]["/api/stream/ticket"]["post"]["responses"]["201"]["links"]["OpenStream"]
    assert link["operationRef"] == "#/paths/~1api~1stream/get"
    assert "get" in spec["paths"]["/api/stream"]
    body = client.post("/api/stream/ticket", headers=user.headers).get_json()
    value = body
    for step in link["parameters"]["ticket"].removeprefix("$response.body#/").split("/"):
        value = value[step]
    Stream(client.get(f"/api/stream?topics=jobs&ticket={value}", buffered=False)).close()


def test_missing_topics_is_422(client, user):
    body = error(client.get(f"/api/stream?ticket={ticket(client, user)}"), 422)
    assert "topics" in body["details"]["fields"]


# --- the per-user cap ---------------------------------------------------------------------------


def test_the_per_user_cap_is_429_and_a_closed_stream_frees_its_slot(client, user, other_user):
    first, second = open_stream(client, user, "jobs"), open_stream(client, user, "bots")
    over = client.get(f"/api/stream?topics=jobs&ticket={ticket(client, user)}")
    body = error(over, 429)
    assert body["details"]["error"] == "stream.too_many_streams" and over.headers["Retry-After"]
    open_stream(client, other_user, "jobs").close()  # the cap is per user
    first.close()
    open_stream(client, user, "jobs").close()
    second.close()


# --- what a stream carries -------------------------------------------------------------------------


def test_the_stream_opens_with_a_retry_hint_and_sends_heartbeats(client, user):
    stream = open_stream(client, user, "jobs")
    frames = stream.until(
        lambda f: any(c.startswith("heartbeat") for c in f.get("comments", [])), 5 * HEARTBEAT_S + 2
    )
    assert frames[0]["retry"] == "3000"
    stream.close()


def test_only_the_requested_topics_of_the_own_user_arrive(client, user, other_user, app):
    stream = open_stream(client, user, "jobs")
    publish(app, "bot.fill", "bots", user.id, "b1")  # not asked for
    publish(app, "job.succeeded", "jobs", other_user.id, "j-other", jobId="j-other", status="SUCCESS")
    publish(app, "job.succeeded", "jobs", user.id, "j1", jobId="j1", status="SUCCESS")
    [frame] = data_frames(stream, 1)
    assert frame["event"] == "job.succeeded"
    assert frame["data"]["objectId"] == "j1" and frame["data"]["data"] == {"jobId": "j1", "status": "SUCCESS"}
    no_data_frames(stream)
    stream.close()


def test_last_event_id_resumes_every_cursor_without_loss(client, user, app):
    publish(app, "job.progress", "jobs", user.id, "j0", progress=1)  # before the first stream: not sent
    stream = open_stream(client, user, "jobs,market:BTCUSDT:1m")
    publish(app, "job.progress", "jobs", user.id, "j1", progress=10)
    [first] = data_frames(stream, 1)
    stream.close()
    publish(app, "market.bar", "market:BTCUSDT:1m", None, "BTCUSDT", price="1")
    publish(app, "job.progress", "jobs", user.id, "j1", progress=20)
    publish(app, "job.progress", "jobs", user.id, "j1", progress=30)
    resumed = open_stream(client, user, "jobs,market:BTCUSDT:1m", **{"Last-Event-ID": first["id"]})
    got = data_frames(resumed, 3)
    assert sorted((f["event"], f["data"]["data"].get("progress")) for f in got) == [
        ("job.progress", 20),
        ("job.progress", 30),
        ("market.bar", None),
    ]
    resumed.close()
    # A new EventSource cannot send the header: ?lastEventId= does the same.
    value = ticket(client, user)
    again = Stream(
        client.get(f"/api/stream?topics=jobs&ticket={value}&lastEventId={got[-1]['id']}", buffered=False)
    )
    publish(app, "job.progress", "jobs", user.id, "j1", progress=40)
    [latest] = data_frames(again, 1)
    assert latest["data"]["data"]["progress"] == 40
    again.close()


def test_a_cursor_older_than_the_trimmed_stream_gets_a_gap_event_first(client, user, app):
    stream = open_stream(client, user, "jobs")
    publish(app, "job.progress", "jobs", user.id, "j1", progress=1)
    [first] = data_frames(stream, 1)
    stream.close()
    for pct in (2, 3, 4, 5):
        publish(app, "job.progress", "jobs", user.id, "j1", progress=pct)
    resumed = open_stream(client, user, "jobs", **{"Last-Event-ID": first["id"]})
    assert [f["data"]["data"]["progress"] for f in data_frames(resumed, 4)] == [2, 3, 4, 5]  # no gap
    resumed.close()
    with app.app_context():  # the window moves past the cursor: progress 2 and 3 are gone
        get_redis().xtrim(events.user_stream_key(user.id), maxlen=2, approximate=False)
    lost = open_stream(client, user, "jobs", **{"Last-Event-ID": first["id"]})
    frames = data_frames(lost, 3)
    assert frames[0]["event"] == "stream.gap" and frames[0]["data"]["data"] == {
        "stream": "u",
        "reason": "trimmed",
    }
    assert [f["data"]["data"]["progress"] for f in frames[1:]] == [4, 5]
    lost.close()


def test_the_gap_check_flags_lost_entries_and_only_rarely_a_false_alarm(app):
    with app.app_context():
        r = get_redis()
        key = rkey("test", "gap")
        r.delete(key)
        assert not service._trimmed_after(r, key, "0-0")  # no stream at all
        ids = [r.xadd(key, {"e": "{}"}) for _ in range(5)]
        assert not any(service._trimmed_after(r, key, c) for c in ["0-0", *ids])  # nothing trimmed
        r.xtrim(key, maxlen=2, approximate=False)  # ids 0, 1 and 2 are gone
        assert service._trimmed_after(r, key, "0-0")  # opened on an empty stream: 0-2 are lost
        assert service._trimmed_after(r, key, ids[0])  # 1 and 2 came after the cursor and are gone
        assert service._trimmed_after(r, key, ids[2])  # the false alarm: the trim stopped at it
        assert not service._trimmed_after(r, key, ids[3])  # the cursor is still there: nothing lost
        r.delete(key)


def test_a_revoked_session_closes_its_stream(client, user):
    stream = open_stream(client, user, "jobs")
    ok(client.post("/api/auth/logout", headers=user.headers))
    frames = stream.until(lambda f: f.get("event") == "stream.closed", 5 * HEARTBEAT_S + 2)
    assert frames[-1]["data"]["data"] == {"reason": "session_revoked"}
    assert list(stream.frames(1)) == []  # the response ended


def test_an_event_committed_in_another_app_context_arrives(client, user, app):
    stream = open_stream(client, user, "bots")

    @transactional
    def cause() -> None:
        events.emit(events.Event("bot.error", "bots", user.id, object_id="b9", data={"botId": "b9"}))

    with app.app_context():
        cause()
    [frame] = data_frames(stream, 1)
    assert (frame["event"], frame["data"]["objectId"]) == ("bot.error", "b9")
    stream.close()


@jobs.job_kind("test.stream_job")
def _stream_job(ctx: jobs.JobContext) -> None:
    ctx.progress(50)


def test_a_real_job_tells_its_progress_and_success(client, user, app, monkeypatch):
    monkeypatch.setattr(jobs.context, "PROGRESS_EVERY_S", 0.0)
    stream = open_stream(client, user, "jobs")
    with app.app_context():

        @transactional
        def new_job() -> str:
            job = jobs.Job(
                kind="test.stream_job",
                owner_id=user.id,
                status=jobs.PENDING,
                progress=0,
                attempts=0,
                created_at=now_ms(),
            )
            db.session.add(job)
            db.session.flush()
            return job.id

        job_id = new_job()
        assert jobs.execute(job_id) == jobs.SUCCESS
    got = data_frames(stream, 2)
    assert [(f["event"], f["data"]["data"]["status"]) for f in got] == [
        ("job.progress", "RUNNING"),
        ("job.succeeded", "SUCCESS"),
    ]
    assert all(f["data"]["data"]["jobId"] == job_id for f in got)
    stream.close()


def test_a_new_bar_of_a_watched_market_is_published_once(client, user, app):
    with app.app_context():
        get_redis().delete(service.markets_key(), rkey("stream", "lastbar", "BTCUSDT", "1m"))
        assert service.publish_new_bars() == 0  # nobody watches: nothing computed, nothing sent
    stream = open_stream(client, user, "market:BTCUSDT:1m")
    next(stream.frames())  # the stream has registered its market
    with app.app_context():
        assert service.watched_markets() == [("BTCUSDT", "1m")]
        assert service.publish_new_bars() == 1
        assert service.publish_new_bars() == 0  # the same bar again
    [frame] = data_frames(stream, 1)
    data = frame["data"]["data"]
    assert frame["event"] == "market.bar" and frame["data"]["topic"] == "market:BTCUSDT:1m"
    assert data["symbol"] == "BTCUSDT" and data["interval"] == "1m"
    assert isinstance(data["price"], str) and set(data["bar"]) == {
        "time",
        "open",
        "high",
        "low",
        "close",
        "volume",
    }
    stream.close()


def test_the_stream_is_documented_as_an_event_stream(client):
    spec = client.get("/api/openapi.json").get_json()
    get = spec["paths"]["/api/stream"]["get"]
    assert "text/event-stream" in get["responses"]["200"]["content"]
    assert {"401", "422", "429"} <= set(get["responses"])
    assert spec["paths"]["/api/stream/ticket"]["post"]["responses"]["201"]


def test_a_session_check_nobody_can_answer_keeps_an_open_stream_but_opens_none(app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from backend.core.errors import Unavailable

    def down(**_kwargs):
        raise OperationalError("SELECT", {}, Exception("postgres is gone"))

    monkeypatch.setattr(service.sessions, "is_active", down)
    holder = service.Holder(user_id="u1", family_id="f1")
    with app.app_context():
        assert service.session_active(holder, when_unknown=True) is True
        with pytest.raises(Unavailable):
            service.session_active(holder)
