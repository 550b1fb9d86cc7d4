"""The task_reschedule table: one row per reschedule of a sensor in ``reschedule`` mode.

Revision ID: 0006_task_reschedule
Revises: 0005_dag_tag_ti_note
Create Date: 2026-12-07

Frozen: this file is history. A later schema change is a new revision, never an edit here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dagcore.models.types import UtcDateTime, UUIDType

# revision identifiers, used by Alembic.
revision = "0006_task_reschedule"
down_revision = "0005_dag_tag_ti_note"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('task_reschedule',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ti_id', UUIDType(), nullable=False),
    sa.Column('try_number', sa.Integer(), nullable=False),
    sa.Column('start_date', UtcDateTime(), nullable=False),
    sa.Column('end_date', UtcDateTime(), nullable=False),
    sa.Column('duration', sa.Integer(), nullable=False),
    sa.Column('reschedule_date', UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['ti_id'], ['task_instance.id'], name=op.f('fk_task_reschedule_ti_id_task_instance'), onupdate='CASCADE', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_reschedule'))
    )
    op.create_index(op.f('ix_task_reschedule_ti_id_try_number_reschedule_date'), 'task_reschedule', ['ti_id', 'try_number', 'reschedule_date'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_task_reschedule_ti_id_try_number_reschedule_date'), table_name='task_reschedule')
    op.drop_table('task_reschedule')
