"""The dag_tag table (the API filters DAGs by tag in SQL) and task instance notes.

``dag_tag`` is filled here from each DAG's latest serialized version, so tags answer at once
after the upgrade; the DAG processor keeps it current from then on. ``note`` is added to
``task_instance`` and ``task_instance_history`` (they share their columns).

Revision ID: 0005_dag_tag_ti_note
Revises: 0004_users
Create Date: 2026-12-07

Frozen: this file is history. A later schema change is a new revision, never an edit here.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005_dag_tag_ti_note"
down_revision = "0004_users"
branch_labels = None
depends_on = None

_TAG_MAX_LEN = 100


def _latest_serialized(conn: sa.engine.Connection) -> list[Any]:
    """(dag_id, data, data_compressed) of each DAG's highest version."""
    dv = sa.table("dag_version", sa.column("id"), sa.column("dag_id"),
                  sa.column("version_number"))
    sd = sa.table("serialized_dag", sa.column("dag_version_id"), sa.column("data", sa.JSON),
                  sa.column("data_compressed", sa.LargeBinary))
    latest = (sa.select(dv.c.dag_id, sa.func.max(dv.c.version_number).label("number"))
              .group_by(dv.c.dag_id).subquery())
    query = (sa.select(dv.c.dag_id, sd.c.data, sd.c.data_compressed)
             .select_from(dv.join(latest, sa.and_(dv.c.dag_id == latest.c.dag_id,
                                                  dv.c.version_number == latest.c.number))
                          .join(sd, sd.c.dag_version_id == dv.c.id)))
    return list(conn.execute(query))


def _tags(data: Any, compressed: bytes | None) -> set[str]:
    if data is None and compressed is not None:
        data = json.loads(zlib.decompress(compressed).decode("utf-8"))
    if isinstance(data, str):
        data = json.loads(data)
    dag = data.get("dag", {}) if isinstance(data, dict) else {}
    return {str(tag)[:_TAG_MAX_LEN] for tag in dag.get("tags") or ()}


def upgrade() -> None:
    op.create_table('dag_tag',
    sa.Column('name', sa.String(length=_TAG_MAX_LEN), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.ForeignKeyConstraint(['dag_id'], ['dag.dag_id'], name=op.f('fk_dag_tag_dag_id_dag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('name', 'dag_id', name=op.f('pk_dag_tag'))
    )
    op.create_index(op.f('ix_dag_tag_dag_id'), 'dag_tag', ['dag_id'], unique=False)
    with op.batch_alter_table("task_instance") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    with op.batch_alter_table("task_instance_history") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    conn = op.get_bind()
    rows = [{"name": tag, "dag_id": dag_id}
            for dag_id, data, compressed in _latest_serialized(conn)
            for tag in sorted(_tags(data, compressed))]
    if rows:
        conn.execute(sa.table("dag_tag", sa.column("name"), sa.column("dag_id")).insert(), rows)


def downgrade() -> None:
    with op.batch_alter_table("task_instance_history") as batch:
        batch.drop_column("note")
    with op.batch_alter_table("task_instance") as batch:
        batch.drop_column("note")
    op.drop_index(op.f('ix_dag_tag_dag_id'), table_name='dag_tag')
    op.drop_table('dag_tag')
