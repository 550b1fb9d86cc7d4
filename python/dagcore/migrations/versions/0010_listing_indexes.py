"""Indexes the listings need at scale (issue 18; docs/performance.md section 5): a DAG's runs in
id order (``GET /dags/{dag_id}/dagRuns``, the DAG's newest started run) and newest first
(``dagcore dags list-runs``, the latest runs of ``/ui/dags``).

Revision ID: 0010_listing_indexes
Revises: 0009_assets
Create Date: 2026-12-07

Frozen: this file is history. A later schema change is a new revision, never an edit here.
"""

from __future__ import annotations

from alembic import op

# revision identifiers, used by Alembic.
revision = "0010_listing_indexes"
down_revision = "0009_assets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_dag_run_dag_id_id"), "dag_run", ["dag_id", "id"])
    op.create_index(op.f("ix_dag_run_dag_id_run_after_id"), "dag_run",
                    ["dag_id", "run_after", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dag_run_dag_id_run_after_id"), table_name="dag_run")
    op.drop_index(op.f("ix_dag_run_dag_id_id"), table_name="dag_run")
