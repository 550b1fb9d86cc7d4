"""Backfill options beyond Airflow's: keep_dag_paused, run_on_latest_version.

Revision ID: 0003_backfill_options
Revises: 0002_job
Create Date: 2026-11-21

Frozen: this file is history. A later schema change is a new revision, never an edit here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003_backfill_options"
down_revision = "0002_job"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("backfill") as batch:
        batch.add_column(sa.Column("keep_dag_paused", sa.Boolean(), server_default=sa.false(),
                                   nullable=False))
        batch.add_column(sa.Column("run_on_latest_version", sa.Boolean(),
                                   server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("backfill") as batch:
        batch.drop_column("run_on_latest_version")
        batch.drop_column("keep_dag_paused")
