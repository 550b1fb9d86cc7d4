"""A DAG version's code: dag_code_blob (content-addressed files), dag_version_file, and the
code_hash / code_path columns of dag_version.

Revision ID: 0008_dag_version_code
Revises: 0007_dag_file_warning
Create Date: 2026-12-07

Frozen: this file is history. A later schema change is a new revision, never an edit here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dagcore.models.types import UtcDateTime, UUIDType

# revision identifiers, used by Alembic.
revision = "0008_dag_version_code"
down_revision = "0007_dag_file_warning"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dag_version") as batch:
        batch.add_column(sa.Column("code_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("code_path", sa.String(length=1024), nullable=True))
    op.create_table(
        "dag_code_blob",
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("content_hash", name=op.f("pk_dag_code_blob")),
    )
    op.create_table(
        "dag_version_file",
        sa.Column("dag_version_id", UUIDType(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["content_hash"], ["dag_code_blob.content_hash"],
                                name=op.f("fk_dag_version_file_content_hash_dag_code_blob")),
        sa.ForeignKeyConstraint(["dag_version_id"], ["dag_version.id"], ondelete="CASCADE",
                                name=op.f("fk_dag_version_file_dag_version_id_dag_version")),
        sa.PrimaryKeyConstraint("dag_version_id", "path", name=op.f("pk_dag_version_file")),
    )
    op.create_index(op.f("ix_dag_version_file_content_hash"), "dag_version_file",
                    ["content_hash"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dag_version_file_content_hash"), table_name="dag_version_file")
    op.drop_table("dag_version_file")
    op.drop_table("dag_code_blob")
    with op.batch_alter_table("dag_version") as batch:
        batch.drop_column("code_path")
        batch.drop_column("code_hash")
