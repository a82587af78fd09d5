"""The personal read cache (backend/core/personal.py): a hit is the uncached answer byte for byte
and runs no SQL; never stale after a write of its owner; other users' writes leave it alone; the
session check is unchanged; Redis down means Postgres."""

from __future__ import annotations

import json

import pytest

from backend.core import changes, personal
from backend.core.redis import get_redis, reset_backoff
from backend.extensions import db
from tests.core.test_showcase import sql_statements
from tests.fixtures.backtests import RANGE_END_MS, RANGE_START_MS
from tests.fixtures.core_celery import hold_jobs
from tests.helpers.api import ok
from tests.helpers.redis_wire import redis_commands, redis_down

PATHS = ("/api/users/me", "/api/strategies", "/api/backtests", "/api/bots")
READS = {
    "/api/users/me": "users.me",
    "/api/strategies": "strategies",
    "/api/backtests": "backtests",
    "/api/bots": "bots",
}


@pytest.fixture
def mine(client, user, make_strategy, run_backtest, make_bot):
    """The user's strategy with a completed backtest, and a bot."""
    strategy = make_strategy(user, name="mine")
    ok(run_backtest(user, strategy_id=strategy["id"]), 202)
    bot = make_bot(user)
    return {"strategy": strategy, "bot": bot}


def _get(client, user, path, request_id="req-x"):
    return client.get(path, headers={**user.headers, "X-Request-ID": request_id})


def _uncached(app, client, user, path, request_id="req-x"):
    app.config["PERSONAL_CACHE_TTL_S"] = 0
    try:
        return _get(client, user, path, request_id)
    finally:
        app.config["PERSONAL_CACHE_TTL_S"] = 10


def _entry_exists(app, read, user_id) -> bool:
    with app.app_context():
        return bool(get_redis().exists(f"{app.config['REDIS_KEY_PREFIX']}personal:{read}:{user_id}"))


def _headers(resp) -> list[tuple[str, str]]:
    return [(k, v) for k, v in resp.headers.items() if k != "X-Request-ID"]


def _names(client, user, path="/api/strategies"):
    return [s["name"] for s in ok(_get(client, user, path))]


@pytest.mark.parametrize("path", PATHS)
def test_a_hit_is_the_uncached_answer_byte_for_byte_and_runs_no_sql(app, client, user, mine, path):
    expected = _uncached(app, client, user, path, "req-same")
    first = _get(client, user, path, "req-same")  # miss: fills
    assert _entry_exists(app, READS[path], user.id)
    with sql_statements(app) as statements:
        hit = _get(client, user, path, "req-same")
    assert statements == []
    assert hit.status_code == first.status_code == expected.status_code == 200
    assert hit.get_data() == first.get_data() == expected.get_data()
    assert _headers(hit) == _headers(first) == _headers(expected)
    other_id = _get(client, user, path, "req-other")  # only the request id differs
    assert other_id.get_json()["request_id"] == "req-other"
    assert other_id.get_data().replace(b"req-other", b"req-same") == expected.get_data()


def test_pagination_header_and_query_variants(app, client, user, make_strategy):
    for i in range(3):
        make_strategy(user, name=f"s{i}")
    page1 = _get(client, user, "/api/strategies?page_size=2")
    page2 = _get(client, user, "/api/strategies?page_size=2&page=2")
    assert len(ok(page1)) == 2 and len(ok(page2)) == 1
    with sql_statements(app) as statements:
        again1 = _get(client, user, "/api/strategies?page_size=2")
        again2 = _get(client, user, "/api/strategies?page_size=2&page=2")
    assert statements == []
    assert json.loads(again1.headers["X-Pagination"]) == json.loads(page1.headers["X-Pagination"])
    assert again1.headers["X-Pagination"] == page1.headers["X-Pagination"]
    assert again2.headers["X-Pagination"] == page2.headers["X-Pagination"]
    assert json.loads(again2.headers["X-Pagination"])["page"] == 2
    assert again1.get_data() == page1.get_data() and again2.get_data() == page2.get_data()
    # Invalid arguments are never cached and answer exactly as before.
    bad = [_get(client, user, "/api/strategies?page=0") for _ in range(2)]
    assert bad[0].status_code == bad[1].status_code == 422
    assert bad[0].get_data() == bad[1].get_data()
    app.config["PERSONAL_CACHE_TTL_S"] = 0
    try:
        assert _get(client, user, "/api/strategies?page=0").get_data() == bad[0].get_data()
    finally:
        app.config["PERSONAL_CACHE_TTL_S"] = 10


def test_backtest_filters_select_their_own_entries(client, user, mine):
    assert len(ok(_get(client, user, "/api/backtests"))) == 1
    assert ok(_get(client, user, "/api/backtests?symbol=ETHUSDT")) == []
    assert len(ok(_get(client, user, "/api/backtests"))) == 1
    assert ok(_get(client, user, "/api/backtests?symbol=ETHUSDT")) == []


def test_strategy_create_update_delete_show_at_once(client, user, make_strategy):
    assert _names(client, user) == []
    created = make_strategy(user, name="one")
    assert _names(client, user) == ["one"]
    ok(client.patch(f"/api/strategies/{created['id']}", json={"name": "renamed"}, headers=user.headers))
    assert _names(client, user) == ["renamed"]
    ok(client.delete(f"/api/strategies/{created['id']}", headers=user.headers))
    assert _names(client, user) == []


def test_a_backtest_finishing_in_the_job_runner_shows_at_once(app, client, user, make_strategy, monkeypatch):
    from backend.core import jobs

    strategy = make_strategy(user, name="runs")
    hold_jobs(monkeypatch)
    submitted = ok(run_backtest_now(client, user, strategy["id"]), 202)
    (pending,) = ok(_get(client, user, "/api/backtests"))
    assert pending["status"] == "queued"
    assert [s["status"] for s in ok(_get(client, user, "/api/strategies"))] == ["running"]
    with app.app_context():
        assert jobs.runtime.execute(submitted["job_id"]) == "SUCCESS"
    (done,) = ok(_get(client, user, "/api/backtests"))
    assert done["status"] == "completed" and done["id"] == submitted["backtest_id"]
    (shown,) = ok(_get(client, user, "/api/strategies"))
    assert shown["status"] == "completed" and shown["latestBacktestId"] == submitted["backtest_id"]


def run_backtest_now(client, user, strategy_id):
    payload = {"interval": "1h", "start": RANGE_START_MS, "end": RANGE_END_MS, "strategy_id": strategy_id}
    return client.post("/api/backtests/run", json=payload, headers=user.headers)


def test_a_bot_tick_and_a_status_change_show_at_once(app, client, user, bot_strategy, wave_market):
    from decimal import Decimal as D

    from backend.modules.bots import service, ticks
    from tests.fixtures.bots import T0

    strategy_id = bot_strategy(user.id)
    with app.app_context():
        bot_id = service.create_bot(
            actor_id=user.id,
            name="replay",
            strategy_id=strategy_id,
            start_ms=T0,
            now=wave_market.now,
            fee_bps=D(0),
            slippage_bps=D(0),
            capital=D(10000),
        ).id
    (before,) = ok(_get(client, user, "/api/bots"))
    with app.app_context():
        assert ticks.claim_due_ticks(wave_market.at_bar(60), 10) == [bot_id]  # Core UPDATE ... RETURNING
        db.session.commit()
        assert not _entry_exists(app, "bots", user.id)  # its owner noted from RETURNING
    ok(_get(client, user, "/api/bots"))
    with app.app_context():
        assert service.tick_bot(bot_id=bot_id, now=wave_market.now).status == "ran"
    (after,) = ok(_get(client, user, "/api/bots"))
    assert after["lastBarTime"] != before["lastBarTime"] and after["equity"] != before["equity"]
    ok(client.patch(f"/api/bots/{bot_id}/status", json={"status": "paused"}, headers=user.headers))
    assert ok(_get(client, user, "/api/bots"))[0]["status"] == "paused"


def test_a_profile_update_shows_at_once(client, user):
    assert ok(_get(client, user, "/api/users/me"))["name"] != "New Name"
    ok(client.patch("/api/users/me", json={"name": "New Name", "bio": "hi"}, headers=user.headers))
    me = ok(_get(client, user, "/api/users/me"))
    assert me["name"] == "New Name" and me["bio"] == "hi"


def test_account_deletion_ends_the_cached_reads(client, user, mine):
    for path in PATHS:
        ok(_get(client, user, path))
    ok(client.delete("/api/users/me", json={"password": user.password}, headers=user.headers))
    for path in PATHS:
        resp = _get(client, user, path)
        assert resp.status_code == 401 and resp.get_json()["details"]["reason"] == "token_revoked"


def test_a_revoked_session_is_refused_although_an_entry_is_cached(app, client, user, mine):
    for path in PATHS:
        ok(_get(client, user, path))
        assert _entry_exists(app, READS[path], user.id)
    ok(client.post("/api/auth/logout", headers=user.headers))
    for path in PATHS:
        resp = _get(client, user, path)
        assert resp.status_code == 401 and resp.get_json()["details"]["reason"] == "token_revoked"
        assert _entry_exists(app, READS[path], user.id)


def test_another_users_token_and_family_never_see_my_entry(app, client, user, other_user, mine):
    mine_before = ok(_get(client, user, "/api/strategies"))
    assert ok(_get(client, other_user, "/api/strategies")) == []
    assert ok(_get(client, user, "/api/strategies")) == mine_before
    assert ok(_get(client, other_user, "/api/users/me"))["id"] == other_user.id
    # A token naming me with the other user's session family is refused (family of someone else).
    from flask_jwt_extended import create_access_token, decode_token

    with app.test_request_context():
        fam = decode_token(other_user.access_token)["fam"]
        forged = create_access_token(identity=user.id, additional_claims={"fam": fam})
    resp = client.get("/api/strategies", headers={"Authorization": f"Bearer {forged}"})
    assert resp.status_code == 401 and resp.get_json()["details"]["reason"] == "token_revoked"


def test_writes_of_another_user_leave_my_entries_alone(app, client, user, other_user, mine, make_strategy):
    for path in PATHS:
        ok(_get(client, user, path))
    make_strategy(other_user, name="theirs")  # ORM insert of strategies + strategy_versions
    ok(client.patch("/api/users/me", json={"bio": "theirs"}, headers=other_user.headers))
    for path in ("/api/users/me", "/api/backtests", "/api/bots"):
        assert _entry_exists(app, READS[path], user.id), path  # owners known: mine untouched
    with sql_statements(app) as statements:
        for path in ("/api/users/me", "/api/backtests", "/api/bots"):
            ok(_get(client, user, path))
    assert statements == []
    assert [s["name"] for s in ok(_get(client, other_user, "/api/strategies"))] == ["theirs"]
    assert _names(client, user) == ["SMA 3/8", "mine"]  # the bot's strategy, then mine


def test_a_write_of_an_unknown_owner_invalidates_everybody(app, client, user, other_user, mine):
    from sqlalchemy import update

    from backend.modules.bots.models import BotInstance

    ok(_get(client, user, "/api/bots"))
    with app.app_context():
        db.session.execute(update(BotInstance).where(BotInstance.id == mine["bot"]["id"]).values(name="core"))
        db.session.commit()
        assert _entry_exists(app, "bots", user.id)  # not dropped, but of an old generation
    assert ok(_get(client, user, "/api/bots"))[0]["name"] == "core"


def test_which_writes_drop_which_entries(user, other_user):
    assert personal.affected({"users": {other_user.id}}) == ({"users.me": {other_user.id}}, {"strategies"})
    assert personal.affected({"bot_instances": {user.id}}) == ({"bots": {user.id}}, set())
    assert personal.affected({"strategies": {changes.UNKNOWN}})[1] == {"strategies"}
    owners, everyone = personal.affected({"*": {user.id}})
    assert everyone == {"strategies"} and set(owners) == {"users.me", "backtests", "bots"}


def test_a_fill_computed_before_a_write_is_refused(app, client, user, make_strategy):
    from backend.modules.strategies import service as strategies_service

    make_strategy(user, name="first")
    real = strategies_service.list_strategies

    def slow_reader(**kwargs):
        result = real(**kwargs)  # the old list...
        make_strategy(user, name="written meanwhile")  # ...then a write commits and drops my entry
        return result

    strategies_service.list_strategies = slow_reader
    try:
        assert _names(client, user) == ["first"]
    finally:
        strategies_service.list_strategies = real
    assert set(_names(client, user)) == {"first", "written meanwhile"}


def test_redis_down_serves_the_same_bytes_from_postgres(app, client, user, mine, monkeypatch):
    expected = {path: _uncached(app, client, user, path, "req-down") for path in PATHS}
    for path in PATHS:
        ok(_get(client, user, path))  # cached entries exist...

    redis_down(monkeypatch)
    try:
        for path in PATHS:
            resp = _get(client, user, path, "req-down")
            assert resp.get_data() == expected[path].get_data(), path
            assert _headers(resp) == _headers(expected[path])
        ok(client.post("/api/auth/logout", headers=user.headers))  # recorded in Postgres
        assert _get(client, user, "/api/strategies").status_code == 401  # ...yet a revoked token is refused
    finally:
        monkeypatch.undo()
        with app.app_context():
            reset_backoff()


def test_a_missing_family_entry_still_reads_postgres(app, client, user, mine):
    ok(_get(client, user, "/api/strategies"))
    with app.app_context():
        r = get_redis()
        for key in r.scan_iter(match=f"{app.config['REDIS_KEY_PREFIX']}auth:family:*"):
            r.delete(key)
    with sql_statements(app) as statements:
        assert _names(client, user) == ["SMA 3/8", "mine"]  # the bot's strategy, then mine
    assert any("token_families" in s for s in statements)  # the session check, then a cache hit
    assert not any("FROM strategies" in s for s in statements)


@pytest.mark.parametrize("path", PATHS)
def test_a_hit_is_one_redis_round_trip(app, client, user, mine, monkeypatch, path):
    ok(_get(client, user, path))
    with sql_statements(app) as statements, redis_commands(monkeypatch) as calls:
        ok(_get(client, user, path))
    assert statements == []
    assert calls == ["EVALSHA"]  # the session check and the entry, together


def test_a_rename_of_another_user_refreshes_my_strategy_list(app, client, user, other_user, mine):
    ok(_get(client, user, "/api/strategies"))
    ok(client.patch("/api/users/me", json={"name": "Renamed"}, headers=other_user.headers))
    with sql_statements(app) as statements:
        ok(_get(client, user, "/api/strategies"))
    assert any("FROM strategies" in s for s in statements)  # a copy may show that author's name


def test_textual_writes_name_their_tables_and_owner_or_invalidate_everything(
    app, client, user, other_user, mine
):
    from sqlalchemy import text

    gen_key = f"{app.config['REDIS_KEY_PREFIX']}personal:gen:backtests"
    for who in (user, other_user):
        ok(_get(client, who, "/api/backtests"))
    with app.app_context():
        gen = get_redis().get(gen_key)
        options = {changes.OWNER_OPTION: user.id, changes.TABLES_OPTION: ("jobs",)}
        db.session.execute(
            text("UPDATE jobs SET heartbeat_at = heartbeat_at WHERE owner_id = :o"),
            {"o": user.id},
            execution_options=options,
        )
        db.session.commit()
        assert get_redis().get(gen_key) == gen  # owner and table known: no new generation
    assert not _entry_exists(app, "backtests", user.id) and _entry_exists(app, "backtests", other_user.id)
    with app.app_context():
        db.session.execute(
            text("UPDATE jobs SET heartbeat_at = heartbeat_at WHERE owner_id = :o"), {"o": user.id}
        )
        db.session.commit()
        assert get_redis().get(gen_key) != gen  # unknown table and owner: every entry of every read
        assert get_redis().get(f"{app.config['REDIS_KEY_PREFIX']}personal:gen:users.me") is not None


def test_another_accounts_deletion_leaves_my_backtests_and_bots_entries(app, client, user, make_user, mine):
    other = make_user()
    for path in PATHS:
        ok(_get(client, user, path))
    ok(client.delete("/api/users/me", json={"password": other.password}, headers=other.headers))
    for read in ("users.me", "backtests", "bots"):
        assert _entry_exists(app, read, user.id), read
    with sql_statements(app) as statements:
        for path in ("/api/users/me", "/api/backtests", "/api/bots"):
            ok(_get(client, user, path))
    assert statements == []
    assert _names(client, user) == ["SMA 3/8", "mine"]  # its deletes reach others' strategies: recomputed


def test_requests_sharing_one_app_context_each_use_their_own_lookup(app, client, user, other_user, mine):
    """The session check's lookup rides on the request object, so a request never sees another's,
    even when requests share `flask.g` (an app context pushed around them)."""
    expected = {u.id: _uncached(app, client, u, "/api/strategies").get_data() for u in (user, other_user)}
    for u in (user, other_user):
        ok(_get(client, u, "/api/strategies"))  # fills
    with app.app_context():
        for u in (user, other_user, user, other_user):
            with sql_statements(app) as statements:
                resp = _get(client, u, "/api/strategies")
            assert statements == []
            assert resp.get_data() == expected[u.id]


@pytest.mark.parametrize("path", PATHS)
def test_errors_are_unchanged_with_the_cache_warm(app, client, user, mine, path):
    """401s (missing, malformed, forged, expired token) and 404/422 answers, with the entries filled."""
    import time

    import time_machine

    ok(_get(client, user, path))
    assert _entry_exists(app, READS[path], user.id)
    head, payload, sig = user.access_token.split(".")
    forged = f"{head}.{payload}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"
    cases = {"token_missing": {}, "token_invalid": {"Authorization": f"Bearer {forged}"}}
    for reason, headers in cases.items():
        resp = client.get(path, headers=headers)
        assert resp.status_code == 401 and resp.get_json()["details"]["reason"] == reason
    lifetime = app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds()
    with time_machine.travel(time.time() + lifetime + 5, tick=False):
        resp = _get(client, user, path)
    assert resp.status_code == 401 and resp.get_json()["details"]["reason"] == "token_expired"
    missing = client.get(path + "/no-such-thing", headers=user.headers)
    assert missing.status_code in (404, 405)
    assert ok(_get(client, user, path)) is not None  # still served


def test_a_422_with_the_cache_warm_is_the_uncached_422(app, client, user, mine):
    ok(_get(client, user, "/api/backtests"))
    bad = _get(client, user, "/api/backtests?page=0")
    assert bad.status_code == 422
    assert bad.get_data() == _uncached(app, client, user, "/api/backtests?page=0").get_data()
