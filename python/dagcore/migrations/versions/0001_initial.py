"""Initial schema.

Tables: dag, dag_version, serialized_dag, dag_code, import_error, dag_run, task_instance,
task_instance_history, xcom, backfill, backfill_dag_run.

Revision ID: 0001_initial
Revises:
Create Date: 2026-05-20

Frozen: this file is history. A later schema change is a new revision, never an edit here; the
test suite checks that migrating to head gives exactly ``dagcore.models.tables.metadata``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dagcore.models.types import UtcDateTime, UUIDType

# revision identifiers, used by Alembic.
revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dag',
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('is_paused', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('is_stale', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('last_parsed_time', UtcDateTime(), nullable=True),
    sa.Column('fileloc', sa.String(length=2000), nullable=True),
    sa.Column('relative_fileloc', sa.String(length=2000), nullable=True),
    sa.Column('bundle_name', sa.String(length=250), nullable=True),
    sa.Column('bundle_version', sa.String(length=200), nullable=True),
    sa.Column('owners', sa.String(length=2000), nullable=True),
    sa.Column('dag_display_name', sa.String(length=2000), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('timetable_summary', sa.Text(), nullable=True),
    sa.Column('timetable_description', sa.String(length=1000), nullable=True),
    sa.Column('max_active_tasks', sa.Integer(), server_default='16', nullable=False),
    sa.Column('max_active_runs', sa.Integer(), nullable=True),
    sa.Column('max_consecutive_failed_dag_runs', sa.Integer(), server_default='0', nullable=False),
    sa.Column('has_task_concurrency_limits', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('has_import_errors', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('next_dagrun', UtcDateTime(), nullable=True),
    sa.Column('next_dagrun_data_interval_start', UtcDateTime(), nullable=True),
    sa.Column('next_dagrun_data_interval_end', UtcDateTime(), nullable=True),
    sa.Column('next_dagrun_create_after', UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('dag_id', name=op.f('pk_dag'))
    )
    op.create_index(op.f('ix_dag_is_paused'), 'dag', ['is_paused'], unique=False)
    op.create_index(op.f('ix_dag_next_dagrun_create_after'), 'dag', ['next_dagrun_create_after'], unique=False)
    op.create_table('import_error',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('timestamp', UtcDateTime(), nullable=False),
    sa.Column('filename', sa.String(length=1024), nullable=False),
    sa.Column('bundle_name', sa.String(length=250), nullable=True),
    sa.Column('stacktrace', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_error'))
    )
    op.create_index(op.f('ix_import_error_bundle_name_filename'), 'import_error', ['bundle_name', 'filename'], unique=False)
    op.create_table('backfill',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('from_date', UtcDateTime(), nullable=False),
    sa.Column('to_date', UtcDateTime(), nullable=False),
    sa.Column('dag_run_conf', sa.JSON(), nullable=False),
    sa.Column('is_paused', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('reprocess_behavior', sa.String(length=250), server_default='none', nullable=False),
    sa.Column('max_active_runs', sa.Integer(), server_default='10', nullable=False),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.Column('completed_at', UtcDateTime(), nullable=True),
    sa.Column('updated_at', UtcDateTime(), nullable=False),
    sa.Column('triggering_user_name', sa.String(length=512), nullable=True),
    sa.ForeignKeyConstraint(['dag_id'], ['dag.dag_id'], name=op.f('fk_backfill_dag_id_dag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backfill'))
    )
    op.create_index(op.f('ix_backfill_dag_id_completed_at'), 'backfill', ['dag_id', 'completed_at'], unique=False)
    op.create_table('dag_version',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('version_number', sa.Integer(), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('bundle_name', sa.String(length=250), nullable=True),
    sa.Column('bundle_version', sa.String(length=250), nullable=True),
    sa.Column('version_data', sa.JSON(), nullable=True),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.Column('last_updated', UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['dag_id'], ['dag.dag_id'], name=op.f('fk_dag_version_dag_id_dag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dag_version')),
    sa.UniqueConstraint('dag_id', 'version_number', name=op.f('uq_dag_version_dag_id_version_number'))
    )
    op.create_table('dag_code',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('fileloc', sa.String(length=2000), nullable=False),
    sa.Column('source_code', sa.Text(), nullable=False),
    sa.Column('source_code_hash', sa.String(length=32), nullable=False),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.Column('last_updated', UtcDateTime(), nullable=False),
    sa.Column('dag_version_id', UUIDType(), nullable=False),
    sa.ForeignKeyConstraint(['dag_id'], ['dag.dag_id'], name=op.f('fk_dag_code_dag_id_dag'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dag_version_id'], ['dag_version.id'], name=op.f('fk_dag_code_dag_version_id_dag_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dag_code')),
    sa.UniqueConstraint('dag_version_id', name=op.f('uq_dag_code_dag_version_id'))
    )
    op.create_table('dag_run',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('run_id', sa.String(length=250), nullable=False),
    sa.Column('logical_date', UtcDateTime(), nullable=True),
    sa.Column('run_after', UtcDateTime(), nullable=False),
    sa.Column('queued_at', UtcDateTime(), nullable=True),
    sa.Column('start_date', UtcDateTime(), nullable=True),
    sa.Column('end_date', UtcDateTime(), nullable=True),
    sa.Column('state', sa.String(length=50), nullable=False),
    sa.Column('run_type', sa.String(length=50), nullable=False),
    sa.Column('triggered_by', sa.String(length=50), nullable=True),
    sa.Column('triggering_user_name', sa.String(length=512), nullable=True),
    sa.Column('conf', sa.JSON(), nullable=True),
    sa.Column('data_interval_start', UtcDateTime(), nullable=True),
    sa.Column('data_interval_end', UtcDateTime(), nullable=True),
    sa.Column('last_scheduling_decision', UtcDateTime(), nullable=True),
    sa.Column('creating_job_id', sa.Integer(), nullable=True),
    sa.Column('created_dag_version_id', UUIDType(), nullable=True),
    sa.Column('bundle_version', sa.String(length=250), nullable=True),
    sa.Column('backfill_id', sa.Integer(), nullable=True),
    sa.Column('clear_number', sa.Integer(), server_default='0', nullable=False),
    sa.Column('partition_key', sa.String(length=250), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('updated_at', UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['backfill_id'], ['backfill.id'], name=op.f('fk_dag_run_backfill_id_backfill'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_dag_version_id'], ['dag_version.id'], name=op.f('fk_dag_run_created_dag_version_id_dag_version'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dag_id'], ['dag.dag_id'], name=op.f('fk_dag_run_dag_id_dag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dag_run')),
    sa.UniqueConstraint('dag_id', 'logical_date', name='dag_run_dag_id_logical_date_key'),
    sa.UniqueConstraint('dag_id', 'run_id', name='dag_run_dag_id_run_id_key')
    )
    op.create_index(op.f('ix_dag_run_backfill_id'), 'dag_run', ['backfill_id'], unique=False)
    op.create_index(op.f('ix_dag_run_dag_id_state'), 'dag_run', ['dag_id', 'state'], unique=False)
    op.create_index(op.f('ix_dag_run_state_run_after'), 'dag_run', ['state', 'run_after'], unique=False)
    op.create_table('serialized_dag',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('data_compressed', sa.LargeBinary(), nullable=True),
    sa.Column('dag_hash', sa.String(length=32), nullable=False),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.Column('last_updated', UtcDateTime(), nullable=False),
    sa.Column('dag_version_id', UUIDType(), nullable=False),
    sa.ForeignKeyConstraint(['dag_id'], ['dag.dag_id'], name=op.f('fk_serialized_dag_dag_id_dag'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dag_version_id'], ['dag_version.id'], name=op.f('fk_serialized_dag_dag_version_id_dag_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_serialized_dag')),
    sa.UniqueConstraint('dag_version_id', name=op.f('uq_serialized_dag_dag_version_id'))
    )
    op.create_index(op.f('ix_serialized_dag_dag_id'), 'serialized_dag', ['dag_id'], unique=False)
    op.create_table('backfill_dag_run',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('backfill_id', sa.Integer(), nullable=False),
    sa.Column('dag_run_id', sa.Integer(), nullable=True),
    sa.Column('exception_reason', sa.String(length=250), nullable=True),
    sa.Column('logical_date', UtcDateTime(), nullable=True),
    sa.Column('partition_key', sa.String(length=250), nullable=True),
    sa.Column('sort_ordinal', sa.Integer(), nullable=False),
    sa.CheckConstraint('sort_ordinal >= 1', name=op.f('ck_backfill_dag_run_sort_ordinal_positive')),
    sa.ForeignKeyConstraint(['backfill_id'], ['backfill.id'], name=op.f('fk_backfill_dag_run_backfill_id_backfill'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dag_run_id'], ['dag_run.id'], name=op.f('fk_backfill_dag_run_dag_run_id_dag_run'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backfill_dag_run')),
    sa.UniqueConstraint('backfill_id', 'dag_run_id', name=op.f('uq_backfill_dag_run_backfill_id_dag_run_id'))
    )
    op.create_table('task_instance',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('task_id', sa.String(length=250), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('run_id', sa.String(length=250), nullable=False),
    sa.Column('map_index', sa.Integer(), server_default='-1', nullable=False),
    sa.Column('state', sa.String(length=20), nullable=True),
    sa.Column('try_number', sa.Integer(), server_default='0', nullable=False),
    sa.Column('max_tries', sa.Integer(), server_default='-1', nullable=False),
    sa.Column('start_date', UtcDateTime(), nullable=True),
    sa.Column('end_date', UtcDateTime(), nullable=True),
    sa.Column('duration', sa.Float(), nullable=True),
    sa.Column('hostname', sa.String(length=1000), nullable=True),
    sa.Column('unixname', sa.String(length=1000), nullable=True),
    sa.Column('pool', sa.String(length=256), server_default='default_pool', nullable=False),
    sa.Column('pool_slots', sa.Integer(), server_default='1', nullable=False),
    sa.Column('queue', sa.String(length=256), nullable=True),
    sa.Column('priority_weight', sa.Integer(), nullable=True),
    sa.Column('operator', sa.String(length=1000), nullable=True),
    sa.Column('custom_operator_name', sa.String(length=1000), nullable=True),
    sa.Column('queued_dttm', UtcDateTime(), nullable=True),
    sa.Column('scheduled_dttm', UtcDateTime(), nullable=True),
    sa.Column('queued_by_job_id', sa.Integer(), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('executor', sa.String(length=1000), nullable=True),
    sa.Column('executor_config', sa.JSON(), nullable=True),
    sa.Column('external_executor_id', sa.String(length=250), nullable=True),
    sa.Column('rendered_map_index', sa.String(length=250), nullable=True),
    sa.Column('task_display_name', sa.String(length=2000), nullable=True),
    sa.Column('next_method', sa.String(length=1000), nullable=True),
    sa.Column('next_kwargs', sa.JSON(), nullable=True),
    sa.Column('last_heartbeat_at', UtcDateTime(), nullable=True),
    sa.Column('updated_at', UtcDateTime(), nullable=True),
    sa.Column('dag_version_id', UUIDType(), nullable=True),
    sa.ForeignKeyConstraint(['dag_id', 'run_id'], ['dag_run.dag_id', 'dag_run.run_id'], name=op.f('fk_task_instance_dag_id_run_id_dag_run'), onupdate='CASCADE', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dag_version_id'], ['dag_version.id'], name=op.f('fk_task_instance_dag_version_id_dag_version'), initially='DEFERRED', deferrable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_instance')),
    sa.UniqueConstraint('dag_id', 'run_id', 'task_id', 'map_index', name=op.f('uq_task_instance_dag_id_run_id_task_id_map_index'))
    )
    op.create_index(op.f('ix_task_instance_dag_version_id'), 'task_instance', ['dag_version_id'], unique=False)
    op.create_index(op.f('ix_task_instance_pool_state_priority_weight'), 'task_instance', ['pool', 'state', 'priority_weight'], unique=False)
    op.create_index(op.f('ix_task_instance_state'), 'task_instance', ['state'], unique=False)
    op.create_table('task_instance_history',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('task_instance_id', UUIDType(), nullable=False),
    sa.Column('task_id', sa.String(length=250), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('run_id', sa.String(length=250), nullable=False),
    sa.Column('map_index', sa.Integer(), server_default='-1', nullable=False),
    sa.Column('state', sa.String(length=20), nullable=True),
    sa.Column('try_number', sa.Integer(), server_default='0', nullable=False),
    sa.Column('max_tries', sa.Integer(), server_default='-1', nullable=False),
    sa.Column('start_date', UtcDateTime(), nullable=True),
    sa.Column('end_date', UtcDateTime(), nullable=True),
    sa.Column('duration', sa.Float(), nullable=True),
    sa.Column('hostname', sa.String(length=1000), nullable=True),
    sa.Column('unixname', sa.String(length=1000), nullable=True),
    sa.Column('pool', sa.String(length=256), server_default='default_pool', nullable=False),
    sa.Column('pool_slots', sa.Integer(), server_default='1', nullable=False),
    sa.Column('queue', sa.String(length=256), nullable=True),
    sa.Column('priority_weight', sa.Integer(), nullable=True),
    sa.Column('operator', sa.String(length=1000), nullable=True),
    sa.Column('custom_operator_name', sa.String(length=1000), nullable=True),
    sa.Column('queued_dttm', UtcDateTime(), nullable=True),
    sa.Column('scheduled_dttm', UtcDateTime(), nullable=True),
    sa.Column('queued_by_job_id', sa.Integer(), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('executor', sa.String(length=1000), nullable=True),
    sa.Column('executor_config', sa.JSON(), nullable=True),
    sa.Column('external_executor_id', sa.String(length=250), nullable=True),
    sa.Column('rendered_map_index', sa.String(length=250), nullable=True),
    sa.Column('task_display_name', sa.String(length=2000), nullable=True),
    sa.Column('next_method', sa.String(length=1000), nullable=True),
    sa.Column('next_kwargs', sa.JSON(), nullable=True),
    sa.Column('last_heartbeat_at', UtcDateTime(), nullable=True),
    sa.Column('updated_at', UtcDateTime(), nullable=True),
    sa.Column('dag_version_id', UUIDType(), nullable=True),
    sa.ForeignKeyConstraint(['dag_id', 'run_id'], ['dag_run.dag_id', 'dag_run.run_id'], name=op.f('fk_task_instance_history_dag_id_run_id_dag_run'), onupdate='CASCADE', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dag_version_id'], ['dag_version.id'], name=op.f('fk_task_instance_history_dag_version_id_dag_version'), initially='DEFERRED', deferrable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_instance_history')),
    sa.UniqueConstraint('dag_id', 'run_id', 'task_id', 'map_index', 'try_number', name='uq_tih_dag_id_run_id_task_id_map_index_try_number')
    )
    op.create_table('xcom',
    sa.Column('dag_run_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=250), nullable=False),
    sa.Column('map_index', sa.Integer(), server_default='-1', nullable=False),
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('run_id', sa.String(length=250), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('timestamp', UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['dag_id', 'run_id', 'task_id', 'map_index'], ['task_instance.dag_id', 'task_instance.run_id', 'task_instance.task_id', 'task_instance.map_index'], name=op.f('fk_xcom_dag_id_run_id_task_id_map_index_task_instance'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dag_run_id'], ['dag_run.id'], name=op.f('fk_xcom_dag_run_id_dag_run'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dag_run_id', 'task_id', 'map_index', 'key', name=op.f('pk_xcom'))
    )
    op.create_index(op.f('ix_xcom_dag_id_run_id_task_id'), 'xcom', ['dag_id', 'run_id', 'task_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_xcom_dag_id_run_id_task_id'), table_name='xcom')
    op.drop_table('xcom')
    op.drop_table('task_instance_history')
    op.drop_index(op.f('ix_task_instance_state'), table_name='task_instance')
    op.drop_index(op.f('ix_task_instance_pool_state_priority_weight'), table_name='task_instance')
    op.drop_index(op.f('ix_task_instance_dag_version_id'), table_name='task_instance')
    op.drop_table('task_instance')
    op.drop_table('backfill_dag_run')
    op.drop_index(op.f('ix_serialized_dag_dag_id'), table_name='serialized_dag')
    op.drop_table('serialized_dag')
    op.drop_index(op.f('ix_dag_run_state_run_after'), table_name='dag_run')
    op.drop_index(op.f('ix_dag_run_dag_id_state'), table_name='dag_run')
    op.drop_index(op.f('ix_dag_run_backfill_id'), table_name='dag_run')
    op.drop_table('dag_run')
    op.drop_table('dag_code')
    op.drop_table('dag_version')
    op.drop_index(op.f('ix_backfill_dag_id_completed_at'), table_name='backfill')
    op.drop_table('backfill')
    op.drop_index(op.f('ix_import_error_bundle_name_filename'), table_name='import_error')
    op.drop_table('import_error')
    op.drop_index(op.f('ix_dag_next_dagrun_create_after'), table_name='dag')
    op.drop_index(op.f('ix_dag_is_paused'), table_name='dag')
    op.drop_table('dag')
