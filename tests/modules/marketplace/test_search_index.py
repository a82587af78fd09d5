"""The browse search (`q`) can be served by the pg_trgm indexes of migration 0028.

A test database holds a handful of listings, for which any plan is cheap; so the test leaves the
planner only two ways to read them, the trigram indexes or a sequential scan, and forbids the
scan (the DDL is rolled back with the test's transaction). `scripts/bench_marketplace.py`
measures the search over 20,000 listings.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from backend.extensions import db
from backend.modules.marketplace.models import SORT_COLUMNS
from backend.modules.marketplace.read_models import browse_query


def _plan(q: str) -> str:
    compiled = browse_query(q=q).compile(dialect=postgresql.psycopg2.dialect())
    conn = db.session.connection()
    for name in SORT_COLUMNS:  # the partial indexes of the sorts: rolled back with the test
        conn.exec_driver_sql(f"DROP INDEX ix_marketplace_listings_{name}")
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
    return "\n".join(row[0] for row in rows)


def test_a_search_reads_through_both_trigram_indexes(app):
    plan = _plan("trend 50%_off")  # LIKE's wildcards in q are escaped; the indexes still serve it
    assert "Bitmap Index Scan on ix_marketplace_listings_name_trgm" in plan, plan
    assert "Bitmap Index Scan on ix_marketplace_listings_description_trgm" in plan, plan
    assert "Seq Scan" not in plan
    db.session.rollback()
    assert db.session.execute(text("SELECT to_regclass('ix_marketplace_listings_published')")).scalar()
