"""Backtests: the kline and equity curve stored as the API sends them (``json`` text, ADR 0012).

Before, ``jsonb`` rows ``[[t, o, h, l, c, v, signal|null], ...]`` and ``[[t, value], ...]`` that
every read of a result parsed (psycopg2), turned into objects and encoded again (about 25 ms of a
2,000-candle poll's 45 ms of CPU). Now ``json`` (its text kept as written) holding the wire form,
``[{"time", "open", "high", "low", "close", "volume"[, "signal"]}, ...]`` and
``[{"time", "value"}, ...]``, which a read selects as text and splices into the response
(``core.jsonprovider.RawJSON``).

The upgrade rewrites every stored result into the wire form (numbers as ``jsonb`` kept them: the
same values; ``signal`` left out where null); the downgrade turns it back into the rows. lz4
compression (0030) is set again where the server has it.

Revision ID: 0032_resultio_result_wire_json
Revises: 0030_backtest_result_lz4
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032_resultio_result_wire_json"
down_revision = "0030_backtest_result_lz4"
branch_labels = None
depends_on = None

# Session-local helpers (ALTER ... USING takes no subquery, a function may hold one).
_TO_WIRE = """
CREATE OR REPLACE FUNCTION pg_temp.qyq_kline_wire(rows jsonb) RETURNS json LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN rows IS NULL THEN NULL ELSE COALESCE((
    SELECT '[' || string_agg(
        '{"time":' || (e->>0) || ',"open":' || (e->>1) || ',"high":' || (e->>2)
        || ',"low":' || (e->>3) || ',"close":' || (e->>4) || ',"volume":' || (e->>5)
        || CASE WHEN e->>6 IS NULL THEN '}' ELSE ',"signal":' || (e->6)::text || '}' END,
        ',' ORDER BY i) || ']'
    FROM jsonb_array_elements(rows) WITH ORDINALITY AS r(e, i)), '[]')::json END
$$;
CREATE OR REPLACE FUNCTION pg_temp.qyq_equity_wire(rows jsonb) RETURNS json LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN rows IS NULL THEN NULL ELSE COALESCE((
    SELECT '[' || string_agg('{"time":' || (e->>0) || ',"value":' || (e->>1) || '}', ',' ORDER BY i) || ']'
    FROM jsonb_array_elements(rows) WITH ORDINALITY AS r(e, i)), '[]')::json END
$$;
"""
_TO_ROWS = """
CREATE OR REPLACE FUNCTION pg_temp.qyq_kline_rows(wire json) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN wire IS NULL THEN NULL ELSE COALESCE((
    SELECT jsonb_agg(jsonb_build_array(e->'time', e->'open', e->'high', e->'low', e->'close',
                                       e->'volume', e->'signal') ORDER BY i)
    FROM jsonb_array_elements(wire::jsonb) WITH ORDINALITY AS r(e, i)), '[]'::jsonb) END
$$;
CREATE OR REPLACE FUNCTION pg_temp.qyq_equity_rows(wire json) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN wire IS NULL THEN NULL ELSE COALESCE((
    SELECT jsonb_agg(jsonb_build_array(e->'time', e->'value') ORDER BY i)
    FROM jsonb_array_elements(wire::jsonb) WITH ORDINALITY AS r(e, i)), '[]'::jsonb) END
$$;
"""
COLUMNS = ("kline", "equity_curve")


def _has_lz4() -> bool:
    row = op.get_bind().execute(
        sa.text(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
        )
    )
    return row.first() is not None


def _convert(helpers: str, type_: str, kline_fn: str, equity_fn: str) -> None:
    op.execute(helpers)
    op.execute(
        f"ALTER TABLE backtests ALTER COLUMN kline TYPE {type_} USING pg_temp.{kline_fn}(kline), "
        f"ALTER COLUMN equity_curve TYPE {type_} USING pg_temp.{equity_fn}(equity_curve)"
    )
    op.execute(f"DROP FUNCTION pg_temp.{kline_fn}, pg_temp.{equity_fn}")
    if _has_lz4():
        op.execute(
            "ALTER TABLE backtests " + ", ".join(f"ALTER COLUMN {c} SET COMPRESSION lz4" for c in COLUMNS)
        )


def upgrade() -> None:
    _convert(_TO_WIRE, "json", "qyq_kline_wire", "qyq_equity_wire")


def downgrade() -> None:
    _convert(_TO_ROWS, "jsonb", "qyq_kline_rows", "qyq_equity_rows")
