"""The pool without pre-ping (backend/core/db.py `init_engine_events`): a connection that died while
idle is replaced without an error, one that died in use costs one 503 and the next request is
served, and a connection returned inside a transaction is rolled back before anyone reuses it."""

from __future__ import annotations

import psycopg2
import pytest
from sqlalchemy import text

from backend.core import db as core_db
from backend.extensions import db
from tests.helpers.api import error, ok


@pytest.fixture(autouse=True)
def _reads_run_sql(app, monkeypatch):
    """GET /api/users/me is the probe: it must read Postgres, not the personal read cache."""
    monkeypatch.setitem(app.config, "PERSONAL_CACHE_TTL_S", 0)


def _kill_pooled_connections(app) -> int:
    """Terminate every other server process of the test database (what a Postgres restart does)."""
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg2", "")
    admin = psycopg2.connect(url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (killed,) = cur.fetchone()
    admin.close()
    return int(killed)


def test_the_engine_pings_nothing_per_request_and_keeps_no_second_rollback(app, committed):
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_pre_ping"] is False and options["pool_reset_on_return"] is None
    with app.app_context():
        assert db.engine in core_db._EVENTS_ON  # replaced by the idle ping and the conditional reset


def test_a_connection_that_died_idle_is_replaced_without_an_error(app, client, user, committed, monkeypatch):
    ok(client.get("/api/users/me", headers=user.headers))
    assert _kill_pooled_connections(app) >= 1
    monkeypatch.setattr(core_db, "PING_AFTER_IDLE_S", 0.0)  # every pooled connection counts as idle
    assert ok(client.get("/api/users/me", headers=user.headers))["id"] == user.id


def test_a_connection_that_died_in_use_costs_one_503_then_requests_are_served(
    app, client, user, committed, monkeypatch
):
    ok(client.get("/api/users/me", headers=user.headers))
    monkeypatch.setattr(core_db, "PING_AFTER_IDLE_S", 3600.0)  # never pinged: as under load
    assert _kill_pooled_connections(app) >= 1
    body = error(client.get("/api/users/me", headers=user.headers), 503, "service_unavailable")
    assert body["details"]["service"] == "database"
    for _ in range(3):
        assert ok(client.get("/api/users/me", headers=user.headers))["id"] == user.id


@pytest.mark.parametrize("leave", ["open", "failed"])
def test_a_connection_returned_inside_a_transaction_is_rolled_back(app, committed, leave):
    with app.app_context():
        raw = db.engine.raw_connection()
        cursor = raw.cursor()
        cursor.execute("SELECT 1")
        if leave == "failed":
            with pytest.raises(psycopg2.Error):
                cursor.execute("SELECT no_such_column FROM users")
        dbapi = raw.dbapi_connection
        assert dbapi.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE
        raw.close()  # back to the pool
        assert dbapi.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
