"""`core.events`: subscribers run in the emitter's transaction; Redis sees an event only after commit."""

from __future__ import annotations

import json

import pytest

from backend.core import events
from backend.core.db import new_id, transactional
from backend.core.redis import get_redis


def _entries(key: str) -> list[dict]:
    return [json.loads(fields["e"]) for _id, fields in get_redis().xrange(key)]


@pytest.fixture
def seen():
    got: list[events.Event] = []
    events.subscribe(got.append)
    yield got
    events._subscribers.remove(got.append)


def test_emit_tells_subscribers_at_once_and_publishes_only_after_commit(app, seen):
    user = new_id()
    key = events.user_stream_key(user)
    event = events.Event("job.succeeded", "jobs", user, object_id="j1", data={"status": "SUCCESS"})

    @transactional
    def work() -> None:
        events.emit(event)
        assert seen == [event]  # in the transaction
        assert _entries(key) == []  # nothing visible before the commit

    with app.app_context():
        work()
        assert _entries(key) == [
            {
                "type": "job.succeeded",
                "topic": "jobs",
                "objectId": "j1",
                "at": event.at,
                "data": {"status": "SUCCESS"},
            }
        ]
        assert 0 < get_redis().ttl(key) <= app.config["EVENTS_STREAM_TTL_S"]


def test_a_rolled_back_cause_publishes_nothing(app, seen):
    user = new_id()

    @transactional
    def work() -> None:
        events.emit(events.Event("bot.fill", "bots", user, object_id="b1"))
        raise ValueError("the cause failed")

    with app.app_context():
        with pytest.raises(ValueError):
            work()
        assert len(seen) == 1
        assert _entries(events.user_stream_key(user)) == []


def test_market_events_go_to_the_market_stream_and_streams_are_capped(app):
    with app.app_context():
        cap = app.config["EVENTS_STREAM_MAXLEN"]
        for i in range(cap + 300):
            events.publish(events.Event("market.bar", "market:BTCUSDT:1m", None, data={"i": i}))
        key = events.market_stream_key("BTCUSDT", "1m")
        length = get_redis().xlen(key)
        assert cap <= length < cap + 300  # approximate trimming keeps about the cap, never everything
        assert _entries(key)[-1]["data"] == {"i": cap + 299}
        get_redis().delete(key)


def test_publish_is_best_effort_when_redis_fails(app, monkeypatch, caplog):
    import redis

    class Dead:  # the append and the TTL go in one pipeline; it fails when sent
        def pipeline(self, *a, **k):
            return self

        def xadd(self, *a, **k):
            return self

        def expire(self, *a, **k):
            return self

        def execute(self):
            raise redis.ConnectionError("gone")

    monkeypatch.setattr(events, "get_redis", lambda: Dead())
    with app.app_context():
        assert events.publish(events.Event("job.failed", "jobs", new_id())) is None
    assert "not published" in caplog.text


def test_an_event_without_an_owner_or_market_has_no_stream(app):
    with app.app_context():
        assert events.publish(events.Event("job.failed", "jobs", None)) is None


def test_subscriber_only_events_are_never_published(app, seen):
    user = new_id()

    @transactional
    def work() -> None:
        events.emit(events.Event("forum.reply", "", user, object_id="p1"))

    with app.app_context():
        work()
        assert [e.type for e in seen] == ["forum.reply"]
        assert _entries(events.user_stream_key(user)) == []


def test_an_event_emitted_by_a_subscriber_is_published_after_its_cause(app):
    user = new_id()

    def answer(event: events.Event) -> None:
        if event.type == "bot.fill":
            events.emit(events.Event("notification.created", "notifications", event.user_id))

    events.subscribe(answer)

    @transactional
    def work() -> None:
        events.emit(events.Event("bot.fill", "bots", user))

    try:
        with app.app_context():
            work()
            assert [e["type"] for e in _entries(events.user_stream_key(user))] == [
                "bot.fill",
                "notification.created",
            ]
    finally:
        events._subscribers.remove(answer)


def test_the_events_of_one_transaction_are_published_in_order_in_one_round_trip(app, monkeypatch):
    from tests.helpers.redis_wire import redis_round_trips

    user, other = new_id(), new_id()

    @transactional
    def work(fail: bool = False) -> None:  # types no subscriber acts on, on streamed topics
        events.emit(events.Event("test.first", "jobs", user, object_id="j1"))
        events.emit(events.Event("test.second", "notifications", user, object_id="n1"))
        events.emit(events.Event("test.third", "bots", other, object_id="b1"))
        events.emit(events.Event("forum.reply", "", user, object_id="p1"))  # no stream: not sent
        if fail:
            raise ValueError("the cause failed")

    with app.app_context():
        with pytest.raises(ValueError):
            work(fail=True)  # rolled back: nothing published, and nothing left for the next one
        with redis_round_trips(monkeypatch) as sent:
            work()
            # three XADDs and their EXPIREs, one round trip (the commit's one MULTI)
            assert sent == [["MULTI", *["XADD", "EXPIRE"] * 3, "EXEC"]]
            assert [e["objectId"] for e in _entries(events.user_stream_key(user))] == ["j1", "n1"]
            assert [e["objectId"] for e in _entries(events.user_stream_key(other))] == ["b1"]
            sent.clear()
            work()  # a new transaction publishes its own events
            assert len(sent) == 1
        assert len(_entries(events.user_stream_key(user))) == 4


def test_a_failed_batch_publish_is_logged_and_never_fails_the_cause(app, monkeypatch, caplog):
    import redis

    def down(self, *a, **k):
        raise redis.ConnectionError("gone")

    @transactional
    def work() -> None:
        events.emit(events.Event("test.first", "jobs", new_id()))
        events.emit(events.Event("test.second", "notifications", new_id()))

    monkeypatch.setattr(redis.client.Pipeline, "execute", down)
    with app.app_context():
        try:
            work()
        finally:
            app.extensions["redis_breaker"].reset()
    assert "events ['test.first', 'test.second'] not published" in caplog.text
