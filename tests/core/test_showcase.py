"""The anonymous showcase cache (backend/core/showcase.py): same bytes, no SQL on a hit, never stale
after a write, a fill never undoes a drop, and Redis down means computing it directly."""

from __future__ import annotations

import gzip
import json
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from backend.core import showcase
from backend.core.redis import get_redis
from backend.extensions import db
from tests.fixtures.backtests import RANGE_END_MS, RANGE_START_MS
from tests.helpers.api import ok
from tests.helpers.redis_wire import redis_down

SHOWCASE_PATHS = ("/api/strategies/recent", "/api/backtests/latest", "/api/bots/recent", "/api/forum/hot")


@contextmanager
def sql_statements(app):
    """Collect the SQL statements run on the app's engine while the block runs."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def showcase_data(client, user, make_strategy, run_backtest, make_bot, make_post):
    """One published strategy with a completed backtest, a public bot and a post."""
    strategy = make_strategy(user, name="shown", published=True)
    ok(run_backtest(user, strategy_id=strategy["id"]), 202)
    bot = make_bot(user, public=True)
    post = make_post(user, title="hello")
    return {"strategy": strategy, "bot": bot, "post": post}


def _uncached(app, client, path):
    app.config["SHOWCASE_CACHE_TTL_S"] = 0
    try:
        return client.get(path).get_json()
    finally:
        app.config["SHOWCASE_CACHE_TTL_S"] = 10


@pytest.mark.parametrize("path", SHOWCASE_PATHS)
def test_a_cached_answer_is_the_computed_one_and_runs_no_sql(app, client, showcase_data, path):
    first = client.get(path)
    with sql_statements(app) as statements:
        second = client.get(path, headers={"X-Request-ID": "req-cached-1"})
    assert statements == []  # served from Redis
    assert second.status_code == 200 and second.mimetype == "application/json"
    body = second.get_json()
    assert body["request_id"] == "req-cached-1" and second.headers["X-Request-ID"] == "req-cached-1"
    assert body["data"] == first.get_json()["data"] == _uncached(app, client, path)["data"]
    assert body["code"] == 0 and body["message"] == "ok" and list(body) == list(first.get_json())


def test_query_arguments_select_the_variant_and_are_still_validated(client, showcase_data, make_post, user):
    make_post(user, title="second")
    assert len(ok(client.get("/api/forum/hot?limit=1"))) == 1
    assert len(ok(client.get("/api/forum/hot?limit=5"))) == 2
    assert client.get("/api/forum/hot?limit=0").status_code == 422
    assert client.get("/api/backtests/latest?symbol=ETHUSDT").status_code == 404  # not cached either
    assert client.get("/api/backtests/latest?symbol=ETHUSDT").status_code == 404


def test_a_caller_with_a_token_gets_their_own_list_not_the_showcase(
    client, showcase_data, other_user, make_strategy
):
    ok(client.get("/api/strategies/recent"))  # fill the anonymous variant
    make_strategy(other_user, name="mine, private")
    mine = ok(client.get("/api/strategies/recent", headers=other_user.headers))
    assert [s["name"] for s in mine] == ["mine, private"]
    assert [s["name"] for s in ok(client.get("/api/strategies/recent"))] == ["shown"]
    junk = {"Authorization": "Bearer junk"}
    assert client.get("/api/strategies/recent", headers=junk).status_code == 401
    assert client.get("/api/forum/hot", headers=junk).status_code == 401


def test_publish_and_unpublish_show_at_once(client, user, showcase_data, make_strategy):
    hidden = make_strategy(user, name="later")
    assert [s["name"] for s in ok(client.get("/api/strategies/recent"))] == ["shown"]
    ok(client.patch(f"/api/strategies/{hidden['id']}", json={"published": True}, headers=user.headers))
    assert {s["name"] for s in ok(client.get("/api/strategies/recent"))} == {"shown", "later"}
    sid = showcase_data["strategy"]["id"]
    ok(client.patch(f"/api/strategies/{sid}", json={"published": False}, headers=user.headers))
    assert [s["name"] for s in ok(client.get("/api/strategies/recent"))] == ["later"]


def test_a_new_completed_backtest_shows_at_once(client, user, showcase_data, run_backtest):
    before = ok(client.get("/api/backtests/latest"))
    strategy_id = showcase_data["strategy"]["id"]
    later = ok(
        run_backtest(user, strategy_id=strategy_id, start=RANGE_START_MS + 3_600_000, end=RANGE_END_MS), 202
    )
    after = ok(client.get("/api/backtests/latest"))
    assert after["backtestId"] == later["backtest_id"] != before["backtestId"]


def test_a_bot_fill_shows_at_once(client, user, showcase_data):
    bot_id = showcase_data["bot"]["id"]
    (shown,) = ok(client.get("/api/bots/recent"))
    assert shown["id"] == bot_id and shown["position"] == 0
    ok(
        client.post(
            f"/api/bots/{bot_id}/orders",
            headers={**user.headers, "Idempotency-Key": "fill-1"},
            json={"side": "buy", "quantity": 1},
        ),
        201,
    )
    (shown,) = ok(client.get("/api/bots/recent"))
    assert shown["position"] == 1


def test_a_post_and_a_like_show_at_once(client, user, other_user, showcase_data, make_post):
    post_id = showcase_data["post"]["id"]
    assert [p["likes"] for p in ok(client.get("/api/forum/hot"))] == [0]
    ok(client.post(f"/api/forum/posts/{post_id}/like", headers=other_user.headers))
    assert [p["likes"] for p in ok(client.get("/api/forum/hot"))] == [1]
    make_post(other_user, title="newer")
    assert {p["title"] for p in ok(client.get("/api/forum/hot"))} == {"hello", "newer"}


def test_a_rolled_back_write_keeps_the_cache_and_a_savepoint_does_not_drop_it(app, client, showcase_data):
    from backend.modules.forum.models import Post

    ok(client.get("/api/forum/hot"))
    key = f"{app.config['REDIS_KEY_PREFIX']}showcase:v2:forum.hot"  # showcase._key
    with app.app_context():
        assert get_redis().exists(key)
        post = db.session.get(Post, showcase_data["post"]["id"])
        with db.session.begin_nested():
            post.title = "changed in a savepoint"
        assert get_redis().exists(key)  # released a savepoint only: nobody else can see it yet
        db.session.rollback()
        assert get_redis().exists(key)
        post = db.session.get(Post, showcase_data["post"]["id"])
        post.title = "changed and committed"
        db.session.commit()
        assert not get_redis().exists(key)


def test_a_fill_computed_before_a_drop_is_refused(app, client, showcase_data, make_post, user):
    """A reader that read the database before a write must not store its (stale) JSON after the drop."""
    from backend.modules.forum import service as forum_service

    real = forum_service.list_hot

    def slow_reader(**kwargs):
        result = real(**kwargs)  # the old list...
        make_post(user, title="written meanwhile")  # ...then a write commits and drops the showcase
        return result

    forum_service.list_hot = slow_reader
    try:
        stale = ok(client.get("/api/forum/hot"))
    finally:
        forum_service.list_hot = real
    assert [p["title"] for p in stale] == ["hello"]
    assert {p["title"] for p in ok(client.get("/api/forum/hot"))} == {"hello", "written meanwhile"}


def test_redis_down_computes_the_answer_directly(app, client, showcase_data, monkeypatch):
    from backend.core.redis import reset_backoff

    expected = {path: _uncached(app, client, path)["data"] for path in SHOWCASE_PATHS}
    redis_down(monkeypatch)
    try:
        for path in SHOWCASE_PATHS:
            assert ok(client.get(path)) == expected[path]
    finally:
        monkeypatch.undo()
        with app.app_context():
            reset_backoff()


def test_drop_all_and_the_table_map(app):
    assert set(showcase.showcases_reading({"posts"})) == {"forum.hot"}
    assert set(showcase.showcases_reading({"jobs"})) == {
        "strategies.recent",
        "backtests.latest",
        "dashboard.stats",
    }
    assert set(showcase.showcases_reading({"*"})) == set(
        showcase.showcases_reading({"users", "jobs", "bot_instances"})
    )
    assert showcase.showcases_reading({"orders", "token_families"}) == []


@contextmanager
def query_parses(monkeypatch):
    """Count the webargs parses of query arguments while the block runs."""
    from backend.core.envelope import EnvelopeBlueprint

    parser = EnvelopeBlueprint.ARGUMENTS_PARSER
    real = parser.parse
    seen: list[object] = []

    def counted(*args, **kwargs):
        seen.append(args[0] if args else None)
        return real(*args, **kwargs)

    monkeypatch.setattr(parser, "parse", counted)
    try:
        yield seen
    finally:
        monkeypatch.setattr(parser, "parse", real)


@pytest.mark.parametrize("path", [*SHOWCASE_PATHS, "/api/dashboard/stats"])
def test_a_raw_query_seen_before_is_answered_before_parsing(app, client, showcase_data, monkeypatch, path):
    for query in ("", "?limit=2" if "latest" not in path and "stats" not in path else ""):
        first = client.get(path + query, headers={"X-Request-ID": "req-raw"})
        with query_parses(monkeypatch) as parses, sql_statements(app) as statements:
            again = client.get(path + query, headers={"X-Request-ID": "req-raw"})
        assert parses == [] and statements == []
        assert again.get_data() == first.get_data()
        if "stats" not in path:  # its `asOf` is the time it was computed
            assert again.get_data() == _uncached_bytes(app, client, path + query, "req-raw")


def _uncached_bytes(app, client, path, request_id):
    app.config["SHOWCASE_CACHE_TTL_S"] = 0
    try:
        return client.get(path, headers={"X-Request-ID": request_id}).get_data()
    finally:
        app.config["SHOWCASE_CACHE_TTL_S"] = 10


def test_invalid_queries_are_never_answered_early_and_keep_their_422(app, client, showcase_data, monkeypatch):
    expected = _uncached_bytes(app, client, "/api/forum/hot?limit=0", "req-bad")
    for _ in range(3):
        with query_parses(monkeypatch) as parses:
            resp = client.get("/api/forum/hot?limit=0", headers={"X-Request-ID": "req-bad"})
        assert resp.status_code == 422 and resp.get_data() == expected and len(parses) == 1
    junk = _uncached_bytes(app, client, "/api/strategies/recent?limit=1&nope=1", "req-bad")
    assert (
        client.get("/api/strategies/recent?limit=1&nope=1", headers={"X-Request-ID": "req-bad"}).get_data()
        == junk
    )


def test_equivalent_query_strings_share_the_variant_and_get_their_own_raw_entry(
    app, client, showcase_data, make_post, user, monkeypatch
):
    make_post(user, title="second")
    one = ok(client.get("/api/forum/hot?limit=1"))
    with sql_statements(app) as statements:
        same = ok(client.get("/api/forum/hot?limit=01"))  # parsed: limit 1, the variant's JSON
    assert same == one and statements == []
    with query_parses(monkeypatch) as parses:
        assert ok(client.get("/api/forum/hot?limit=01")) == one  # now stored under its own raw form
    assert parses == []
    key = f"{app.config['REDIS_KEY_PREFIX']}showcase:v2:forum.hot"  # showcase._key
    with app.app_context():
        assert {"?limit=1", "?limit=01"} <= set(get_redis().hkeys(key))


def test_raw_entries_are_bounded(app, client, showcase_data):
    key = f"{app.config['REDIS_KEY_PREFIX']}showcase:v2:forum.hot"  # showcase._key
    for n in range(showcase.MAX_RAW_FIELDS + 5):
        ok(client.get(f"/api/forum/hot?limit={'0' * n}5"))
    with app.app_context():
        fields = get_redis().hkeys(key)
    entries = [f for f in fields if not f.startswith("#")]  # each entry also has its head, '#' + field
    assert len(entries) <= showcase.MAX_RAW_FIELDS + 1 and len(fields) == 2 * len(entries)


def _early_replies(monkeypatch) -> list:
    """Record the replies of the early lookup's script (what crossed from Redis into the process)."""
    from backend.core.redis import Lane

    replies: list = []
    real = Lane.script

    def spy(self, source, keys, args, *, raw=False):
        reply = real(self, source, keys, args, raw=raw)
        if source == showcase._LOOKUP:
            replies.append(reply)
        return reply

    monkeypatch.setattr(Lane, "script", spy)
    return replies


def test_a_copy_held_by_the_process_is_served_while_redis_holds_its_version(
    app, client, showcase_data, monkeypatch
):
    path = "/api/backtests/latest"
    client.get(path)  # computed and stored (the raw field too)
    replies = _early_replies(monkeypatch)
    first = client.get(path)  # the entry crosses once: the process keeps a copy
    again = client.get(path)  # only the version crosses
    assert len(replies[0][0]) > 10_000 and len(replies[1][0]) == showcase.VERSION_CHARS
    assert again.get_json()["data"] == first.get_json()["data"] == _uncached(app, client, path)["data"]


def test_a_copy_is_not_served_once_redis_holds_another_version_or_nothing(
    app, client, showcase_data, monkeypatch, user, make_post
):
    path = "/api/forum/hot"
    client.get(path)
    client.get(path)  # the copy is made
    key, gen_key = showcase._key("forum.hot"), showcase._gen_key("forum.hot")
    with app.test_request_context():
        gen = get_redis().get(gen_key) or ""
        showcase._fill(key, gen_key, gen, 10, ["?", showcase._value(gen, '["replaced"]')])  # a newer fill
    assert ok(client.get(path)) == ["replaced"]
    make_post(user, title="newer")  # a write drops the hash: the copy must not answer
    titles = [p["title"] for p in ok(client.get(path))]
    assert "newer" in titles


def test_the_copies_are_bounded():
    """Each copy is charged twice its data (the data and room for its gzip)."""
    copies = showcase._Copies(max_bytes=200)

    def held(field):
        copy = copies.get("k", field)
        return None if copy is None else (copy.version, copy.data)

    copies.put("k", "a", b"v1", b"x" * 60)
    copies.put("k", "b", b"v2", b"y" * 30)
    assert held("a") == (b"v1", b"x" * 60) and held("b") == (b"v2", b"y" * 30)
    copies.put("k", "c", b"v3", b"z" * 40)  # 120 + 60 + 80 is over the budget: starts over
    assert held("a") is None and held("c") == (b"v3", b"z" * 40)
    kept = copies.put("k", "d", b"v4", b"w" * 101)  # larger than the budget: served, never kept
    assert held("d") is None and kept.data == b"w" * 101
    copies.put("k", "c", b"v5", b"q" * 10)  # replacing an entry frees its bytes
    assert held("c") == (b"v5", b"q" * 10)
    copies.put("k", "e", b"v6", b"r" * 90)  # 20 + 180 fits only because c's 80 were freed
    assert held("c") == (b"v5", b"q" * 10) and held("e") == (b"v6", b"r" * 90)


def test_an_entry_filled_under_an_older_generation_is_never_served(app, client, showcase_data, monkeypatch):
    """What a process of the previous release does on a write (it only knows the generation and its
    own, unversioned hash) is enough to retire every entry of this one."""
    path = "/api/forum/hot"
    client.get(path)
    client.get(path)
    with app.app_context():
        r = get_redis()
        r.incr(showcase._gen_key("forum.hot"))
        r.delete(showcase._legacy_key("forum.hot"))
        assert r.exists(showcase._key("forum.hot"))  # the entry is still there...
    replies = _early_replies(monkeypatch)
    with sql_statements(app) as statements:
        again = client.get(path)
    assert replies[0][0] is None and statements  # ...but it is a miss: the view ran
    assert again.get_json()["data"] == _uncached(app, client, path)["data"]


def test_a_drop_deletes_the_previous_releases_hash_too(app, client, showcase_data):
    with app.app_context():
        r = get_redis()
        r.hset(showcase._legacy_key("forum.hot"), "x", "[]")
        showcase.drop(["forum.hot"])
        assert not r.exists(showcase._legacy_key("forum.hot")) and not r.exists(showcase._key("forum.hot"))


BROWSER = {"Accept-Encoding": "gzip, deflate, br, zstd", "X-Request-ID": "req-gz"}


def test_a_browser_gets_a_large_copy_gzipped_and_it_is_the_same_body(app, client, showcase_data):
    path = "/api/backtests/latest"
    plain = _uncached_bytes(app, client, path, "req-gz")
    assert len(plain) > 10_000
    client.get(path)  # computed and stored
    for _ in range(3):  # the first hit makes the copy (and compresses it), the next ones reuse it
        resp = client.get(path, headers=BROWSER)
        assert resp.status_code == 200 and resp.mimetype == "application/json"
        assert resp.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in resp.vary
        assert int(resp.headers["Content-Length"]) == len(resp.get_data()) < len(plain) // 2
        assert gzip.decompress(resp.get_data()) == plain
    other = client.get(path, headers={**BROWSER, "X-Request-ID": "req-other"})
    assert json.loads(gzip.decompress(other.get_data()))["request_id"] == "req-other"


@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0", "br"])
def test_a_client_that_does_not_accept_gzip_gets_the_body_as_it_is(app, client, showcase_data, accept):
    path = "/api/backtests/latest"
    client.get(path)
    client.get(path, headers=BROWSER)  # a copy exists, its gzip built
    headers = {"X-Request-ID": "req-gz", **({"Accept-Encoding": accept} if accept else {})}
    resp = client.get(path, headers=headers)
    assert "Content-Encoding" not in resp.headers and "Accept-Encoding" in resp.vary
    assert resp.get_data() == _uncached_bytes(app, client, path, "req-gz")


def test_a_small_entry_is_never_gzipped(app, client, showcase_data):
    path = "/api/forum/hot?limit=1"
    client.get(path)
    resp = client.get(path, headers=BROWSER)
    assert len(resp.get_data()) < 1024  # below compression.MIN_BYTES
    assert "Content-Encoding" not in resp.headers and "Accept-Encoding" not in resp.vary
    assert resp.get_json()["data"] == _uncached(app, client, path)["data"]


def test_the_gzipped_copy_is_never_stale_after_a_write(client, user, showcase_data, run_backtest):
    path = "/api/backtests/latest"

    def latest() -> dict:  # a miss (the view ran) answers as it is, a hit gzipped
        resp = client.get(path, headers=BROWSER)
        body = resp.get_data()
        return json.loads(gzip.decompress(body) if resp.headers.get("Content-Encoding") == "gzip" else body)[
            "data"
        ]

    client.get(path)
    before = latest()
    assert latest() == before  # served from the copy
    strategy_id = showcase_data["strategy"]["id"]
    later = ok(
        run_backtest(user, strategy_id=strategy_id, start=RANGE_START_MS + 3_600_000, end=RANGE_END_MS), 202
    )
    after = latest()
    assert after["backtestId"] == later["backtest_id"] != before["backtestId"]
    assert latest() == after
    assert client.get(path, headers=BROWSER).headers["Content-Encoding"] == "gzip"


def test_a_copy_current_in_redis_is_answered_from_its_head_and_a_value_without_one_is_read(
    app, client, showcase_data, monkeypatch
):
    """The held version is checked against the entry's head ('#' + field), not its value; a value
    stored without a head (a fill by a process of the previous release) is still read and served."""
    path = "/api/backtests/latest"
    client.get(path)
    client.get(path)  # the copy is made
    key, gen_key = showcase._key("backtests.latest"), showcase._gen_key("backtests.latest")
    with app.app_context():
        r = get_redis()
        head = r.hget(key, "#?")
        value = r.hget(key, "?")
        assert head == value.split("\n", 1)[0] and len(head) == showcase.VERSION_CHARS + len(r.get(gen_key))
        r.hdel(key, "#?")
        r.hset(key, "?", "e" * showcase.VERSION_CHARS + value[showcase.VERSION_CHARS :])  # an old fill
    replies = _early_replies(monkeypatch)
    served = client.get(path)
    assert replies[0][0].startswith(b"e" * showcase.VERSION_CHARS)  # the value crossed, not the version
    assert served.get_json()["data"] == _uncached(app, client, path)["data"]
    again = client.get(path)  # the process now holds "eee...", which the value still carries
    assert replies[1] == [b"e" * showcase.VERSION_CHARS] and again.get_data() != b""
