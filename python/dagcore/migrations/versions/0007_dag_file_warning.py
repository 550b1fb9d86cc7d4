"""The dag_file_warning table: files that define no DAG after catching failed imports.

Revision ID: 0007_dag_file_warning
Revises: 0006_task_reschedule
Create Date: 2026-12-07

Frozen: this file is history. A later schema change is a new revision, never an edit here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dagcore.models.types import UtcDateTime

# revision identifiers, used by Alembic.
revision = "0007_dag_file_warning"
down_revision = "0006_task_reschedule"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dag_file_warning",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("timestamp", UtcDateTime(), nullable=False),
        sa.Column("filename", sa.String(length=1024), nullable=False),
        sa.Column("bundle_name", sa.String(length=250), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dag_file_warning")),
    )
    op.create_index(op.f("ix_dag_file_warning_bundle_name_filename"), "dag_file_warning",
                    ["bundle_name", "filename"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dag_file_warning_bundle_name_filename"),
                  table_name="dag_file_warning")
    op.drop_table("dag_file_warning")
