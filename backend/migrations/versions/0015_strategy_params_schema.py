"""Strategy versions keep the parameter descriptor of a `python` strategy's code.

A `python` version's `code` was already stored (and hashed); its `PARAMS` descriptor is read in
the sandbox when the version is made and stored here, so reading a strategy never starts a
sandbox. NULL for every other kind (and for every existing row: none is `python` yet).

Revision ID: 0015_strategy_params_schema
Revises: 0010_backtests_job_status
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015_strategy_params_schema"
down_revision = "0010_backtests_job_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("strategy_versions", sa.Column("params_schema", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("strategy_versions", "params_schema")
