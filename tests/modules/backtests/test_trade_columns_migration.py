"""Migrations 0022 and 0033 move stored trades between rows, one columnar value and columnar
blocks, both ways, unchanged.

The migration's downgrade and upgrade run inside the test's transaction (Postgres DDL is
transactional), so the session database is back at head when the test's rollback happens.
"""

from __future__ import annotations

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import text

from backend.extensions import db
from backend.modules.backtests import trade_store
from tests.helpers.migrations import load_migration


def _migration(name: str = "0022_backtest_trade_columns"):
    return load_migration(name)


def _fills(client, user, backtest_id):
    resp = client.get(f"/api/backtests/{backtest_id}/trades?page_size=1000", headers=user.headers)
    return resp.get_json()["data"], resp.headers["X-Pagination"]


def test_rows_and_columns_convert_both_ways_keeping_the_api_output(client, user, run_backtest):
    resp = run_backtest(
        user, strategy={"kind": "sma_cross", "params": {"fast": 5, "slow": 20}}, symbol="BTCUSDT"
    )
    backtest_id = resp.get_json()["data"]["backtest_id"]
    before = _fills(client, user, backtest_id)
    trips = trade_store.round_trips(backtest_id)
    assert len(before[0]) == 2 * len(trips) > 10
    migration, blocks = _migration(), _migration("0033_backtest_trade_blocks")
    conn = db.session.connection()
    with Operations.context(MigrationContext.configure(connection=conn)):
        blocks.downgrade()  # blocks -> one columnar value
        migration.downgrade()  # columns -> one row per round trip
        rows = conn.execute(
            text(
                "SELECT id, seq, side, entry_index, exit_index, entry_time, exit_time, entry_price, "
                "exit_price, quantity, pnl, fees, return_pct, holding_ms, closed_at_end "
                "FROM backtest_trades WHERE backtest_id = :id ORDER BY seq"
            ),
            {"id": backtest_id},
        ).all()
        assert [tuple(r) for r in rows] == [
            tuple(getattr(t, f) for f in trade_store.StoredTrade.__slots__) for t in trips
        ]
        migration.upgrade()  # rows -> columns
        blocks.upgrade()  # columns -> blocks
    assert trade_store.round_trips(backtest_id) == trips
    assert _fills(client, user, backtest_id) == before
