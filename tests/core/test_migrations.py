"""The models and the migrations describe the same schema (what `flask db check` verifies).

The session database is built by `flask db upgrade heads` (tests/fixtures/core_db.py); Alembic's
autogenerate comparison then diffs it against the models' metadata. Any difference means the next
`make revision` would autogenerate spurious operations, or a model changed without a migration.
"""
from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from backend.extensions import db

# Indexes created by 0001_foundation that the Job model does not declare yet: the next
# autogenerate would drop them. Remove this set, the filter below and the xfail marker once
# backend/core/jobs.py declares them.
KNOWN_JOBS_DRIFT = {("remove_index", "ix_jobs_owner_id"), ("remove_index", "ix_jobs_status_heartbeat_at")}


def _schema_diffs(metadata: MetaData) -> list[tuple[str, str]]:
    """Return (operation, object) for every difference between ``metadata`` and the database."""
    context = MigrationContext.configure(connection=db.session.connection(), opts={"compare_type": True})
    return [_describe(diff) for diff in compare_metadata(context, metadata)]


def _describe(diff: Any) -> tuple[str, str]:
    """Name one autogenerate diff: ``("add_column", "jobs.kind")``, ``("remove_index", "ix_...")``."""
    if isinstance(diff, list):  # modify_* diffs come as a list of per-attribute tuples
        op, _schema, table, column = diff[0][:4]
        return op, f"{table}.{column}"
    op, obj = diff[0], diff[-1]
    if op in ("add_column", "remove_column"):
        return op, f"{diff[2]}.{obj.name}"
    return op, str(getattr(obj, "name", obj))


def test_the_migrated_schema_matches_the_models_apart_from_the_known_jobs_indexes(app):
    with app.app_context():
        diffs = _schema_diffs(db.metadata)
    assert [d for d in diffs if d not in KNOWN_JOBS_DRIFT] == []


@pytest.mark.xfail(strict=True, reason="0001_foundation creates ix_jobs_owner_id and "
                   "ix_jobs_status_heartbeat_at, which the Job model does not declare (lead fixes "
                   "backend/core/jobs.py; then delete this marker and KNOWN_JOBS_DRIFT)")
def test_the_migrated_schema_matches_the_models(app):
    with app.app_context():
        assert _schema_diffs(db.metadata) == []


def test_the_comparison_sees_every_model_table(app):
    # Guards the check above against comparing nothing: against empty metadata, every model's
    # table in the migrated database must show up as one to remove.
    with app.app_context():
        removed = {name for op, name in _schema_diffs(MetaData()) if op == "remove_table"}
    assert removed == set(db.metadata.tables)
