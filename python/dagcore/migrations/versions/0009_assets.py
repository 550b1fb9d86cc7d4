"""Assets (issue 17): asset, asset_alias, their links, asset_event, the asset_dag_run_queue,
the DAG (asset, alias, name, URI) and task references, and the events a run consumed
(dagrun_asset_event).

Revision ID: 0009_assets
Revises: 0008_dag_version_code
Create Date: 2026-12-07

Frozen: this file is history. A later schema change is a new revision, never an edit here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dagcore.models.types import UtcDateTime

# revision identifiers, used by Alembic.
revision = "0009_assets"
down_revision = "0008_dag_version_code"
branch_labels = None
depends_on = None

_LEN = 1500
_ID_LEN = 250


def upgrade() -> None:
    op.create_table(
        "asset",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=_LEN), nullable=False),
        sa.Column("uri", sa.String(length=_LEN), nullable=False),
        sa.Column("group", sa.String(length=_LEN), server_default="asset", nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset")),
        sa.UniqueConstraint("name", "uri", name=op.f("uq_asset_name_uri")),
    )
    op.create_table(
        "asset_alias",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=_LEN), nullable=False),
        sa.Column("group", sa.String(length=_LEN), server_default="asset", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_alias")),
        sa.UniqueConstraint("name", name=op.f("uq_asset_alias_name")),
    )
    op.create_table(
        "asset_alias_asset",
        sa.Column("alias_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["alias_id"], ["asset_alias.id"], ondelete="CASCADE",
                                name=op.f("fk_asset_alias_asset_alias_id_asset_alias")),
        sa.ForeignKeyConstraint(["asset_id"], ["asset.id"], ondelete="CASCADE",
                                name=op.f("fk_asset_alias_asset_asset_id_asset")),
        sa.PrimaryKeyConstraint("alias_id", "asset_id", name=op.f("pk_asset_alias_asset")),
    )
    op.create_index(op.f("ix_asset_alias_asset_asset_id"), "asset_alias_asset", ["asset_id"])
    op.create_table(
        "asset_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("source_task_id", sa.String(length=_ID_LEN), nullable=True),
        sa.Column("source_dag_id", sa.String(length=_ID_LEN), nullable=True),
        sa.Column("source_run_id", sa.String(length=_ID_LEN), nullable=True),
        sa.Column("source_map_index", sa.Integer(), server_default="-1", nullable=True),
        sa.Column("timestamp", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["asset.id"], ondelete="CASCADE",
                                name=op.f("fk_asset_event_asset_id_asset")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_event")),
    )
    op.create_index(op.f("ix_asset_event_asset_id_timestamp"), "asset_event",
                    ["asset_id", "timestamp"])
    op.create_table(
        "asset_alias_asset_event",
        sa.Column("alias_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["alias_id"], ["asset_alias.id"], ondelete="CASCADE",
                                name=op.f("fk_asset_alias_asset_event_alias_id_asset_alias")),
        sa.ForeignKeyConstraint(["event_id"], ["asset_event.id"], ondelete="CASCADE",
                                name=op.f("fk_asset_alias_asset_event_event_id_asset_event")),
        sa.PrimaryKeyConstraint("alias_id", "event_id", name=op.f("pk_asset_alias_asset_event")),
    )
    op.create_index(op.f("ix_asset_alias_asset_event_event_id"), "asset_alias_asset_event",
                    ["event_id"])
    op.create_table(
        "asset_dag_run_queue",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("target_dag_id", sa.String(length=_ID_LEN), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["asset.id"], ondelete="CASCADE",
                                name=op.f("fk_asset_dag_run_queue_asset_id_asset")),
        sa.ForeignKeyConstraint(["target_dag_id"], ["dag.dag_id"], ondelete="CASCADE",
                                name=op.f("fk_asset_dag_run_queue_target_dag_id_dag")),
        sa.PrimaryKeyConstraint("asset_id", "target_dag_id",
                                name=op.f("pk_asset_dag_run_queue")),
    )
    op.create_index(op.f("ix_asset_dag_run_queue_target_dag_id"), "asset_dag_run_queue",
                    ["target_dag_id"])
    for table, extra in (("dag_schedule_asset_reference", ()),
                         ("task_outlet_asset_reference", ("task_id",))):
        op.create_table(
            table,
            sa.Column("asset_id", sa.Integer(), nullable=False),
            sa.Column("dag_id", sa.String(length=_ID_LEN), nullable=False),
            *(sa.Column(name, sa.String(length=_ID_LEN), nullable=False) for name in extra),
            sa.Column("created_at", UtcDateTime(), nullable=False),
            sa.Column("updated_at", UtcDateTime(), nullable=False),
            sa.ForeignKeyConstraint(["asset_id"], ["asset.id"], ondelete="CASCADE",
                                    name=op.f(f"fk_{table}_asset_id_asset")),
            sa.ForeignKeyConstraint(["dag_id"], ["dag.dag_id"], ondelete="CASCADE",
                                    name=op.f(f"fk_{table}_dag_id_dag")),
            sa.PrimaryKeyConstraint("asset_id", "dag_id", *extra, name=op.f(f"pk_{table}")),
        )
        op.create_index(op.f(f"ix_{table}_dag_id"), table, ["dag_id"])
    op.create_table(
        "dag_schedule_asset_alias_reference",
        sa.Column("alias_id", sa.Integer(), nullable=False),
        sa.Column("dag_id", sa.String(length=_ID_LEN), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alias_id"], ["asset_alias.id"], ondelete="CASCADE",
            name=op.f("fk_dag_schedule_asset_alias_reference_alias_id_asset_alias")),
        sa.ForeignKeyConstraint(["dag_id"], ["dag.dag_id"], ondelete="CASCADE",
                                name=op.f("fk_dag_schedule_asset_alias_reference_dag_id_dag")),
        sa.PrimaryKeyConstraint("alias_id", "dag_id",
                                name=op.f("pk_dag_schedule_asset_alias_reference")),
    )
    op.create_index(op.f("ix_dag_schedule_asset_alias_reference_dag_id"),
                    "dag_schedule_asset_alias_reference", ["dag_id"])
    for table, column in (("dag_schedule_asset_name_reference", "name"),
                          ("dag_schedule_asset_uri_reference", "uri")):
        op.create_table(
            table,
            sa.Column(column, sa.String(length=_LEN), nullable=False),
            sa.Column("dag_id", sa.String(length=_ID_LEN), nullable=False),
            sa.Column("created_at", UtcDateTime(), nullable=False),
            sa.ForeignKeyConstraint(["dag_id"], ["dag.dag_id"], ondelete="CASCADE",
                                    name=op.f(f"fk_{table}_dag_id_dag")),
            sa.PrimaryKeyConstraint(column, "dag_id", name=op.f(f"pk_{table}")),
        )
        op.create_index(op.f(f"ix_{table}_dag_id"), table, ["dag_id"])
    op.create_table(
        "dagrun_asset_event",
        sa.Column("dag_run_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["dag_run_id"], ["dag_run.id"], ondelete="CASCADE",
                                name=op.f("fk_dagrun_asset_event_dag_run_id_dag_run")),
        sa.ForeignKeyConstraint(["event_id"], ["asset_event.id"], ondelete="CASCADE",
                                name=op.f("fk_dagrun_asset_event_event_id_asset_event")),
        sa.PrimaryKeyConstraint("dag_run_id", "event_id", name=op.f("pk_dagrun_asset_event")),
    )
    op.create_index(op.f("ix_dagrun_asset_event_event_id"), "dagrun_asset_event", ["event_id"])


def downgrade() -> None:
    for table in ("dagrun_asset_event", "dag_schedule_asset_uri_reference",
                  "dag_schedule_asset_name_reference", "dag_schedule_asset_alias_reference",
                  "task_outlet_asset_reference",
                  "dag_schedule_asset_reference", "asset_dag_run_queue",
                  "asset_alias_asset_event", "asset_event", "asset_alias_asset"):
        op.drop_table(table)
    op.drop_table("asset_alias")
    op.drop_table("asset")
