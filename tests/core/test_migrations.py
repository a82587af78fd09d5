"""The models and the migrations describe the same schema (what `flask db check` verifies).

The session database is built by `flask db upgrade heads` (tests/fixtures/core_db.py); Alembic's
autogenerate comparison then diffs it against the models' metadata. Any difference means the next
`make revision` would autogenerate spurious operations, or a model changed without a migration.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from backend.extensions import db


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


def test_the_migrated_schema_matches_the_models(app):
    with app.app_context():
        assert _schema_diffs(db.metadata) == []


def test_the_comparison_sees_every_model_table(app):
    # Guards the check above against comparing nothing: against empty metadata, every model's
    # table in the migrated database must show up as one to remove.
    with app.app_context():
        removed = {name for op, name in _schema_diffs(MetaData()) if op == "remove_table"}
    assert removed == set(db.metadata.tables)
