"""The job table (schedulers and their heartbeats).

Revision ID: 0002_job
Revises: 0001_initial
Create Date: 2026-11-21

Frozen: this file is history. A later schema change is a new revision, never an edit here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dagcore.models.types import UtcDateTime

# revision identifiers, used by Alembic.
revision = "0002_job"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job_type', sa.String(length=30), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('hostname', sa.String(length=500), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('unixname', sa.String(length=1000), nullable=True),
    sa.Column('executor_class', sa.String(length=500), nullable=True),
    sa.Column('start_date', UtcDateTime(), nullable=False),
    sa.Column('end_date', UtcDateTime(), nullable=True),
    sa.Column('latest_heartbeat', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job'))
    )
    op.create_index(op.f('ix_job_job_type_state_latest_heartbeat'), 'job',
                    ['job_type', 'state', 'latest_heartbeat'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_job_job_type_state_latest_heartbeat'), table_name='job')
    op.drop_table('job')
