"""Migration 0030: a result's kline and equity curve are compressed with lz4 when the server has it."""

from __future__ import annotations

from sqlalchemy import text

from backend.extensions import db


def test_kline_and_curve_use_lz4_where_the_server_offers_it(app):
    offered = db.session.execute(
        text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
    ).scalar()
    methods = dict(
        db.session.execute(
            text(
                "SELECT attname, attcompression::text FROM pg_attribute "
                "WHERE attrelid = 'backtests'::regclass AND attname IN ('kline', 'equity_curve')"
            )
        ).all()
    )
    expected = "l" if offered else ""  # "" = the server's default (pglz)
    assert {k: v.strip("\x00") for k, v in methods.items()} == {"kline": expected, "equity_curve": expected}
