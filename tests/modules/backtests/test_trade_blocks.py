"""The round trips of a result stored as columnar blocks (trade_store, ADR 0017): every range reads
back what was written, whatever the block borders, migration 0033 converts both ways and 0034 keeps
a block's id in its row."""

from __future__ import annotations

import numpy as np
import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import text

from backend.domain.backtest.types import TRADE_DTYPE
from backend.extensions import db
from backend.modules.backtests import trade_store
from tests.helpers.migrations import load_migration

K = trade_store.BLOCK_TRADES
SIZES = (0, 1, K - 1, K, K + 1, 2 * K, 3 * K + 5)


def _trades(n: int, seed: int = 0) -> np.ndarray:
    """Return ``n`` round trips with every column holding distinct, non-trivial values."""
    rng = np.random.default_rng(seed + n)
    trades = np.zeros(n, dtype=TRADE_DTYPE)
    for name in TRADE_DTYPE.names:
        kind = TRADE_DTYPE[name].kind
        if kind == "f":
            trades[name] = rng.normal(100.0, 30.0, n)
        elif name == "side":
            trades[name] = rng.choice([-1, 1], n)
        elif kind in "iu":
            trades[name] = rng.integers(0, 2**40 if TRADE_DTYPE[name].itemsize == 8 else 2, n)
        else:
            trades[name] = rng.integers(0, 2, n).astype(bool)
    return trades


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.fixture
def backtest_id(user, run_backtest):
    resp = run_backtest(
        user, strategy={"kind": "sma_cross", "params": {"fast": 5, "slow": 20}}, symbol="BTCUSDT"
    )
    return resp.get_json()["data"]["backtest_id"]


def _blocks(backtest_id: str) -> list[tuple[int, int, int, int]]:
    rows = db.session.execute(
        text(
            "SELECT first, count, total, octet_length(data) FROM backtest_trade_blocks "
            "WHERE backtest_id = :id ORDER BY first"
        ),
        {"id": backtest_id},
    )
    return [tuple(r) for r in rows]


def _expected_blocks(n: int) -> list[tuple[int, int, int, int]]:
    """(first, count, total, data bytes) of each block of a result of ``n`` round trips; a result
    without round trips has one empty block."""
    sizes = [(first, min(K, n - first)) for first in range(0, n, K)]
    return [(first, k, n, k * trade_store.ROW_BYTES) for first, k in sizes] or [(0, 0, 0, 0)]


@pytest.mark.parametrize("n", SIZES)
def test_a_result_is_stored_as_blocks_of_block_trades(backtest_id, n):
    trades = _trades(n)
    trade_store.write(backtest_id, trades)
    assert _blocks(backtest_id) == _expected_blocks(n)
    assert trade_store.count(backtest_id) == n
    whole, total = trade_store.read(backtest_id)
    assert total == n and _same(whole, trades)


def test_every_range_reads_what_was_written_across_block_borders(backtest_id):
    n = 3 * K + 5
    trades = _trades(n, seed=7)
    trade_store.write(backtest_id, trades)
    edges = sorted({0, 1, K - 1, K, K + 1, 2 * K, 2 * K + 3, 3 * K, n - 1, n, n + 1, n + 500, 2**31 - 1})
    for first in edges:
        for stop in [*edges, None]:
            got, total = trade_store.read(backtest_id, first, stop)
            assert total == n
            assert _same(got, trades[first:stop]), (first, stop)
    got, total = trade_store.read(backtest_id, -5, 3)  # a negative start reads from the first
    assert total == n and _same(got, trades[:3])


def test_a_result_stored_again_replaces_its_blocks(backtest_id):
    trade_store.write(backtest_id, _trades(3 * K + 5))
    shorter = _trades(K + 1, seed=3)
    trade_store.write(backtest_id, shorter)  # a retried attempt: DELETE, then the new blocks
    assert [b[0] for b in _blocks(backtest_id)] == [0, K]
    got, total = trade_store.read(backtest_id)
    assert total == K + 1 and _same(got, shorter)


def test_no_result_reads_as_nothing(backtest_id):
    db.session.execute(text("DELETE FROM backtest_trade_blocks WHERE backtest_id = :id"), {"id": backtest_id})
    got, total = trade_store.read(backtest_id)
    assert total == 0 and len(got) == 0
    assert trade_store.count(backtest_id) == 0
    assert trade_store.read_times([backtest_id]) == {}


def test_read_times_joins_each_results_blocks_in_order(user, run_backtest, backtest_id):
    other = run_backtest(
        user, strategy={"kind": "sma_cross", "params": {"fast": 5, "slow": 20}}, symbol="BTCUSDT"
    )
    other_id = other.get_json()["data"]["backtest_id"]
    mine, theirs = _trades(2 * K + 9, seed=1), _trades(K - 1, seed=2)
    trade_store.write(backtest_id, mine)
    trade_store.write(other_id, theirs)
    times = trade_store.read_times([backtest_id, other_id])
    for bid, trades in ((backtest_id, mine), (other_id, theirs)):
        entry, exit_ = times[bid]
        assert entry.tolist() == trades["entry_time"].tolist()
        assert exit_.tolist() == trades["exit_time"].tolist()


def test_decode_blocks_matches_decoding_each_block():
    trades = _trades(4 * K + 11, seed=5)
    blocks = [(len(part), trade_store.encode(part)) for part in np.split(trades, [K, 2 * K, 3 * K, 4 * K])]
    assert _same(trade_store.decode_blocks(blocks), trades)
    assert len(trade_store.decode_blocks([(0, b"")])) == 0


def _migration():
    return load_migration("0033_backtest_trade_blocks")


def test_the_migration_moves_every_result_both_ways_unchanged(user, run_backtest):
    """Inside the test's transaction (Postgres DDL is transactional): back at head on rollback."""
    ids, stored = [], {}
    for n in SIZES:
        resp = run_backtest(
            user, strategy={"kind": "sma_cross", "params": {"fast": 5, "slow": 20}}, symbol="BTCUSDT"
        )
        bid = resp.get_json()["data"]["backtest_id"]
        stored[bid] = _trades(n, seed=11)
        trade_store.write(bid, stored[bid])
        ids.append(bid)
    migration = _migration()
    assert migration.BLOCK_TRADES == K and [s for _, s in migration.LAYOUT] == [
        np.dtype(t).itemsize for _, t in trade_store.LAYOUT
    ]
    conn = db.session.connection()
    with Operations.context(MigrationContext.configure(connection=conn)):
        migration.downgrade()  # blocks -> one columnar value per result
        values = {
            bid: f"{n}:{bytes(data).hex()}"
            for bid, n, data in conn.execute(
                text("SELECT backtest_id, count, data FROM backtest_trade_columns")
            )
        }
        for bid in ids:
            trades = stored[bid]
            assert values[bid] == f"{len(trades)}:{trade_store.encode(trades).hex()}"
        migration.upgrade()  # values -> blocks
    for bid in ids:
        trades = stored[bid]
        n = len(trades)
        assert _blocks(bid) == _expected_blocks(n)
        got, total = trade_store.read(bid)
        assert total == n and _same(got, trades)


def _ids_in_toast(backtest_id: str) -> int:
    """Return how many TOAST chunks of ``backtest_trade_blocks`` hold ``backtest_id`` itself."""
    toast = db.session.execute(
        text(
            "SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = 'backtest_trade_blocks'::regclass"
        )
    ).scalar_one()
    return db.session.execute(
        text(f"SELECT count(*) FROM {toast} WHERE chunk_data = convert_to(:id, 'UTF8')"),  # noqa: S608 - a catalog name
        {"id": backtest_id},
    ).scalar_one()


def test_a_blocks_id_stays_in_its_row_not_in_toast(backtest_id):
    """A block row is ~8 KB with ``data`` unmovable: Postgres would otherwise move the id out of
    line, a TOAST row and index entry per block for nothing (migration 0034)."""
    trade_store.write(backtest_id, _trades(3 * K + 5))
    assert len(_blocks(backtest_id)) == 4
    assert _ids_in_toast(backtest_id) == 0


def test_migration_0034_keeps_new_blocks_ids_inline_and_its_downgrade_does_not(backtest_id):
    """Inside the test's transaction (Postgres DDL is transactional): back at head on rollback."""
    migration = load_migration("0034_trade_block_ids_inline")
    with Operations.context(MigrationContext.configure(connection=db.session.connection())):
        migration.downgrade()
        trade_store.write(backtest_id, _trades(2 * K))
        assert _ids_in_toast(backtest_id) == 2  # one TOAST copy of the id per block, as before 0034
        migration.upgrade()
        trade_store.write(backtest_id, _trades(2 * K))  # replaced: the blocks written again
        assert _ids_in_toast(backtest_id) == 0
    got, total = trade_store.read(backtest_id)
    assert total == 2 * K and _same(got, _trades(2 * K))
