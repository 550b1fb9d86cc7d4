"""The metadata database schema (SQLAlchemy Core), after Airflow 3's tables.

Design note. This module is the *current* schema; the Alembic revisions in
``dagcore/migrations/versions`` are its frozen history, and a test compares a migrated database
with this metadata so the two cannot drift apart. Referential integrity is the database's job:

* deleting a ``dag`` row cascades to its tags, versions, serialized DAGs, code, runs, task instances
  (and their history), XComs and backfills;
* deleting a ``dag_version`` cascades to its ``serialized_dag``, ``dag_code`` and
  ``dag_version_file`` rows (the content-addressed ``dag_code_blob`` rows they name stay until
  no version names them: :func:`dagcore.dag_code_store.delete_unused_blobs`), sets
  ``dag_run.created_dag_version_id`` to NULL, and is refused while a task instance still
  references it (a DEFERRED check at commit: deleting the ``dag`` removes versions and task
  instances through different cascade paths, and PostgreSQL would otherwise check the version
  before the task instances are gone);
* deleting a ``backfill`` cascades to ``backfill_dag_run``; deleting a ``dag_run`` sets
  ``backfill_dag_run.dag_run_id`` to NULL (the backfill keeps its record of the date).

Runs are unique by ``(dag_id, run_id)`` and by ``(dag_id, logical_date)`` (NULL logical dates,
allowed since Airflow 3, do not collide). Constraint names follow :data:`NAMING_CONVENTION`
except the two run constraints, which keep Airflow's names.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

from dagcore.models.types import UtcDateTime, UUIDType

__all__ = [
    "ASSET_FIELD_LEN",
    "NAMING_CONVENTION",
    "asset",
    "asset_alias",
    "asset_alias_asset",
    "asset_alias_asset_event",
    "asset_dag_run_queue",
    "asset_event",
    "backfill",
    "backfill_dag_run",
    "dag",
    "dag_code",
    "dag_code_blob",
    "dag_file_warning",
    "dag_run",
    "dag_schedule_asset_alias_reference",
    "dag_schedule_asset_name_reference",
    "dag_schedule_asset_reference",
    "dag_schedule_asset_uri_reference",
    "dag_tag",
    "dag_version",
    "dag_version_file",
    "dagrun_asset_event",
    "import_error",
    "job",
    "metadata",
    "serialized_dag",
    "task_instance",
    "task_instance_history",
    "task_outlet_asset_reference",
    "task_reschedule",
    "user",
    "xcom",
]

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

ID_LEN: Final = 250  # dag_id, task_id, run_id: Airflow's ID_LEN


def _dag_id(*, fk: bool = True) -> sa.Column:
    if fk:
        return sa.Column("dag_id", sa.String(ID_LEN),
                         sa.ForeignKey("dag.dag_id", ondelete="CASCADE"), nullable=False)
    return sa.Column("dag_id", sa.String(ID_LEN), nullable=False)


dag = sa.Table(
    "dag",
    metadata,
    sa.Column("dag_id", sa.String(ID_LEN), primary_key=True),
    sa.Column("is_paused", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("is_stale", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("last_parsed_time", UtcDateTime),
    sa.Column("fileloc", sa.String(2000)),
    sa.Column("relative_fileloc", sa.String(2000)),
    sa.Column("bundle_name", sa.String(ID_LEN)),
    sa.Column("bundle_version", sa.String(200)),
    sa.Column("owners", sa.String(2000)),
    sa.Column("dag_display_name", sa.String(2000)),
    sa.Column("description", sa.Text),
    sa.Column("timetable_summary", sa.Text),
    sa.Column("timetable_description", sa.String(1000)),
    sa.Column("max_active_tasks", sa.Integer, nullable=False, default=16, server_default="16"),
    sa.Column("max_active_runs", sa.Integer),
    sa.Column("max_consecutive_failed_dag_runs", sa.Integer, nullable=False, default=0,
              server_default="0"),
    sa.Column("has_task_concurrency_limits", sa.Boolean, nullable=False, default=False,
              server_default=sa.false()),
    sa.Column("has_import_errors", sa.Boolean, nullable=False, default=False,
              server_default=sa.false()),
    sa.Column("next_dagrun", UtcDateTime),
    sa.Column("next_dagrun_data_interval_start", UtcDateTime),
    sa.Column("next_dagrun_data_interval_end", UtcDateTime),
    sa.Column("next_dagrun_create_after", UtcDateTime),
    sa.Index(None, "next_dagrun_create_after"),
    sa.Index(None, "is_paused"),
)

# A DAG's tags (Airflow's ``dag_tag``), rewritten with its ``dag`` row at each parse, so the API
# filters by tag in SQL.
TAG_MAX_LEN: Final = 100  # Airflow's TAG_MAX_LEN

dag_tag = sa.Table(
    "dag_tag",
    metadata,
    sa.Column("name", sa.String(TAG_MAX_LEN), primary_key=True),
    sa.Column("dag_id", sa.String(ID_LEN), sa.ForeignKey("dag.dag_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Index(None, "dag_id"),
)

# Versions are numbered per DAG from 1; the latest is the highest number (docs/airflow-behaviour.md
# 1.3).
dag_version = sa.Table(
    "dag_version",
    metadata,
    sa.Column("id", UUIDType, primary_key=True),
    sa.Column("version_number", sa.Integer, nullable=False),
    _dag_id(),
    sa.Column("bundle_name", sa.String(ID_LEN)),
    sa.Column("bundle_version", sa.String(ID_LEN)),
    sa.Column("version_data", sa.JSON),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_updated", UtcDateTime, nullable=False),
    # The version's code (docs/airflow-behaviour.md 1.8): a hash over its files' paths and
    # contents, and the DAG file's path among them; NULL when no code was stored with it.
    sa.Column("code_hash", sa.String(64)),
    sa.Column("code_path", sa.String(1024)),
    sa.UniqueConstraint("dag_id", "version_number"),
)

serialized_dag = sa.Table(
    "serialized_dag",
    metadata,
    sa.Column("id", UUIDType, primary_key=True),
    _dag_id(),
    sa.Column("data", sa.JSON),
    sa.Column("data_compressed", sa.LargeBinary),  # zlib, when [core] compress_serialized_dags
    sa.Column("dag_hash", sa.String(32), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_updated", UtcDateTime, nullable=False),
    sa.Column(
        "dag_version_id",
        UUIDType,
        sa.ForeignKey("dag_version.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Index(None, "dag_id"),
)

dag_code = sa.Table(
    "dag_code",
    metadata,
    sa.Column("id", UUIDType, primary_key=True),
    _dag_id(),
    sa.Column("fileloc", sa.String(2000), nullable=False),
    sa.Column("source_code", sa.Text, nullable=False),
    sa.Column("source_code_hash", sa.String(32), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_updated", UtcDateTime, nullable=False),
    sa.Column(
        "dag_version_id",
        UUIDType,
        sa.ForeignKey("dag_version.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
)

# The files of DAG versions' code, content-addressed (sha-256 of the content, stored
# zlib-compressed): a file unchanged between versions, or shared by several DAGs, is stored once.
dag_code_blob = sa.Table(
    "dag_code_blob",
    metadata,
    sa.Column("content_hash", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# Which files make up a version's code: the DAG file and the modules of its folder it imported,
# by path relative to the DAG folder (POSIX separators).
dag_version_file = sa.Table(
    "dag_version_file",
    metadata,
    sa.Column("dag_version_id", UUIDType, sa.ForeignKey("dag_version.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("content_hash", sa.String(64), sa.ForeignKey("dag_code_blob.content_hash"),
              nullable=False),
    sa.Index(None, "content_hash"),
)

# A file that failed to import has no dag row to hang from: keyed by file, no FK.
import_error = sa.Table(
    "import_error",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("timestamp", UtcDateTime, nullable=False),
    sa.Column("filename", sa.String(1024), nullable=False),
    sa.Column("bundle_name", sa.String(ID_LEN)),
    sa.Column("stacktrace", sa.Text, nullable=False),
    sa.Index(None, "bundle_name", "filename"),
)

# A file that looks like a DAG file but defined no DAG after catching failed imports (dagcore's
# warning; Airflow stays silent). Keyed by file like import_error: no DAG to hang from.
dag_file_warning = sa.Table(
    "dag_file_warning",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("timestamp", UtcDateTime, nullable=False),
    sa.Column("filename", sa.String(1024), nullable=False),
    sa.Column("bundle_name", sa.String(ID_LEN)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Index(None, "bundle_name", "filename"),
)

backfill = sa.Table(
    "backfill",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _dag_id(),
    sa.Column("from_date", UtcDateTime, nullable=False),
    sa.Column("to_date", UtcDateTime, nullable=False),
    sa.Column("dag_run_conf", sa.JSON, nullable=False, default=dict),
    sa.Column("is_paused", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("reprocess_behavior", sa.String(ID_LEN), nullable=False, default="none",
              server_default="none"),
    sa.Column("max_active_runs", sa.Integer, nullable=False, default=10, server_default="10"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("completed_at", UtcDateTime),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("triggering_user_name", sa.String(512)),
    # dagcore's own: run while the DAG stays paused; pin runs to the version at creation.
    sa.Column("keep_dag_paused", sa.Boolean, nullable=False, default=False,
              server_default=sa.false()),
    sa.Column("run_on_latest_version", sa.Boolean, nullable=False, default=True,
              server_default=sa.true()),
    sa.Index(None, "dag_id", "completed_at"),
)

dag_run = sa.Table(
    "dag_run",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _dag_id(),
    sa.Column("run_id", sa.String(ID_LEN), nullable=False),
    sa.Column("logical_date", UtcDateTime),
    sa.Column("run_after", UtcDateTime, nullable=False),
    sa.Column("queued_at", UtcDateTime),
    sa.Column("start_date", UtcDateTime),
    sa.Column("end_date", UtcDateTime),
    sa.Column("state", sa.String(50), nullable=False),
    sa.Column("run_type", sa.String(50), nullable=False),
    sa.Column("triggered_by", sa.String(50)),
    sa.Column("triggering_user_name", sa.String(512)),
    sa.Column("conf", sa.JSON),
    sa.Column("data_interval_start", UtcDateTime),
    sa.Column("data_interval_end", UtcDateTime),
    sa.Column("last_scheduling_decision", UtcDateTime),
    sa.Column("creating_job_id", sa.Integer),
    sa.Column(
        "created_dag_version_id",
        UUIDType,
        sa.ForeignKey("dag_version.id", ondelete="SET NULL"),
    ),
    sa.Column("bundle_version", sa.String(ID_LEN)),
    sa.Column("backfill_id", sa.Integer, sa.ForeignKey("backfill.id", ondelete="SET NULL")),
    sa.Column("clear_number", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("partition_key", sa.String(ID_LEN)),
    sa.Column("note", sa.Text),
    sa.Column("updated_at", UtcDateTime),
    sa.UniqueConstraint("dag_id", "run_id", name="dag_run_dag_id_run_id_key"),
    sa.UniqueConstraint("dag_id", "logical_date", name="dag_run_dag_id_logical_date_key"),
    sa.Index(None, "dag_id", "state"),
    sa.Index(None, "state", "run_after"),
    sa.Index(None, "backfill_id"),
    # A DAG's runs by id and newest first (docs/performance.md section 5).
    sa.Index(None, "dag_id", "id"),
    sa.Index(None, "dag_id", "run_after", "id"),
)

backfill_dag_run = sa.Table(
    "backfill_dag_run",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("backfill_id", sa.Integer, sa.ForeignKey("backfill.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("dag_run_id", sa.Integer, sa.ForeignKey("dag_run.id", ondelete="SET NULL")),
    sa.Column("exception_reason", sa.String(ID_LEN)),
    sa.Column("logical_date", UtcDateTime),
    sa.Column("partition_key", sa.String(ID_LEN)),
    sa.Column("sort_ordinal", sa.Integer, nullable=False),
    sa.UniqueConstraint("backfill_id", "dag_run_id"),
    sa.CheckConstraint("sort_ordinal >= 1", name="sort_ordinal_positive"),
)


def _task_instance_columns() -> list[sa.Column]:
    """The columns task_instance and task_instance_history share (fresh objects per call)."""
    return [
        sa.Column("task_id", sa.String(ID_LEN), nullable=False),
        sa.Column("dag_id", sa.String(ID_LEN), nullable=False),
        sa.Column("run_id", sa.String(ID_LEN), nullable=False),
        sa.Column("map_index", sa.Integer, nullable=False, default=-1, server_default="-1"),
        sa.Column("state", sa.String(20)),
        sa.Column("try_number", sa.Integer, nullable=False, default=0, server_default="0"),
        sa.Column("max_tries", sa.Integer, nullable=False, default=-1, server_default="-1"),
        sa.Column("start_date", UtcDateTime),
        sa.Column("end_date", UtcDateTime),
        sa.Column("duration", sa.Float),
        sa.Column("hostname", sa.String(1000)),
        sa.Column("unixname", sa.String(1000)),
        sa.Column("pool", sa.String(256), nullable=False, default="default_pool",
                  server_default="default_pool"),
        sa.Column("pool_slots", sa.Integer, nullable=False, default=1, server_default="1"),
        sa.Column("queue", sa.String(256)),
        sa.Column("priority_weight", sa.Integer),
        sa.Column("operator", sa.String(1000)),
        sa.Column("custom_operator_name", sa.String(1000)),
        sa.Column("queued_dttm", UtcDateTime),
        sa.Column("scheduled_dttm", UtcDateTime),
        sa.Column("queued_by_job_id", sa.Integer),
        sa.Column("pid", sa.Integer),
        sa.Column("executor", sa.String(1000)),
        sa.Column("executor_config", sa.JSON),
        sa.Column("external_executor_id", sa.String(ID_LEN)),
        sa.Column("rendered_map_index", sa.String(ID_LEN)),
        sa.Column("task_display_name", sa.String(2000)),
        sa.Column("next_method", sa.String(1000)),
        sa.Column("next_kwargs", sa.JSON),
        sa.Column("last_heartbeat_at", UtcDateTime),
        sa.Column("updated_at", UtcDateTime),
        sa.Column("note", sa.Text),  # Airflow 3's task instance note (PATCH ... note)
        # Deferred: a version stays while task instances use it, but deleting a dag (which
        # cascades to both by different paths) is checked only once the cascades are done.
        sa.Column("dag_version_id", UUIDType,
                  sa.ForeignKey("dag_version.id", deferrable=True, initially="DEFERRED")),
        # Runs cascade to their task instances; ON UPDATE lets a run_id rename follow.
        sa.ForeignKeyConstraint(
            ["dag_id", "run_id"],
            ["dag_run.dag_id", "dag_run.run_id"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
    ]


task_instance = sa.Table(
    "task_instance",
    metadata,
    sa.Column("id", UUIDType, primary_key=True),
    *_task_instance_columns(),
    sa.UniqueConstraint("dag_id", "run_id", "task_id", "map_index"),
    sa.Index(None, "state"),
    sa.Index(None, "dag_version_id"),
    sa.Index(None, "pool", "state", "priority_weight"),
)

# A copy of a try, archived when the TI is cleared or retried (docs/airflow-behaviour.md 3.8).
task_instance_history = sa.Table(
    "task_instance_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_instance_id", UUIDType, nullable=False),
    *_task_instance_columns(),
    # Named by hand: the conventional name is longer than PostgreSQL's 63-character limit.
    sa.UniqueConstraint("dag_id", "run_id", "task_id", "map_index", "try_number",
                        name="uq_tih_dag_id_run_id_task_id_map_index_try_number"),
)

# A scheduler (or other long-running process) and its heartbeat (Airflow's ``job`` table). The
# scheduler stamps ``queued_by_job_id`` on the task instances it queues, so a restarted scheduler
# can tell the work of a dead one from a live one's.
job = sa.Table(
    "job",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_type", sa.String(30), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("hostname", sa.String(500)),
    sa.Column("pid", sa.Integer),
    sa.Column("unixname", sa.String(1000)),
    sa.Column("executor_class", sa.String(500)),
    sa.Column("start_date", UtcDateTime, nullable=False),
    sa.Column("end_date", UtcDateTime),
    sa.Column("latest_heartbeat", UtcDateTime, nullable=False),
    sa.Index(None, "job_type", "state", "latest_heartbeat"),
)

xcom = sa.Table(
    "xcom",
    metadata,
    sa.Column("dag_run_id", sa.Integer, sa.ForeignKey("dag_run.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("task_id", sa.String(ID_LEN), primary_key=True),
    sa.Column("map_index", sa.Integer, primary_key=True, default=-1, server_default="-1"),
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("dag_id", sa.String(ID_LEN), nullable=False),
    sa.Column("run_id", sa.String(ID_LEN), nullable=False),
    sa.Column("value", sa.JSON),
    sa.Column("timestamp", UtcDateTime, nullable=False),
    sa.ForeignKeyConstraint(
        ["dag_id", "run_id", "task_id", "map_index"],
        ["task_instance.dag_id", "task_instance.run_id", "task_instance.task_id",
         "task_instance.map_index"],
        ondelete="CASCADE",
    ),
    sa.Index(None, "dag_id", "run_id", "task_id"),
)

# One row per reschedule of a sensor in ``reschedule`` mode (Airflow 3's ``task_reschedule``;
# docs/airflow-behaviour.md 10.2). A sensor's ``timeout`` counts from the start of its try's first
# reschedule. ``try_number`` (Airflow 2's column, gone in Airflow 3, where every try has its own
# ``ti_id``) is kept because a retry here keeps the rows: the task instance's id changes by an
# UPDATE, which the rows follow (ON UPDATE CASCADE), so a try's rows are (ti_id, try_number).
task_reschedule = sa.Table(
    "task_reschedule",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ti_id", UUIDType,
              sa.ForeignKey("task_instance.id", ondelete="CASCADE", onupdate="CASCADE"),
              nullable=False),
    sa.Column("try_number", sa.Integer, nullable=False),
    sa.Column("start_date", UtcDateTime, nullable=False),
    sa.Column("end_date", UtcDateTime, nullable=False),
    sa.Column("duration", sa.Integer, nullable=False),
    sa.Column("reschedule_date", UtcDateTime, nullable=False),
    sa.Index(None, "ti_id", "try_number", "reschedule_date"),
)

# A person or program that may call the REST API (``dagcore users create``). The password is
# stored only as a salted scrypt hash with its parameters (dagcore.api.users); ``role`` is one
# of viewer, user, op, admin.
user = sa.Table(
    "user",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(ID_LEN), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(512), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# -- assets (issue 17; docs/airflow-behaviour.md 11, 12), after Airflow 3's models/asset.py ------
# An asset is unique by (name, uri). Its events have no FK to the producing run or task instance
# (Airflow's neither: an event outlives its producer's deletion); a deleted asset takes its
# events, references and queue rows with it.
ASSET_FIELD_LEN: Final = 1500  # Airflow's limit on an asset's name, uri and group

asset = sa.Table(
    "asset",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(ASSET_FIELD_LEN), nullable=False),
    sa.Column("uri", sa.String(ASSET_FIELD_LEN), nullable=False),
    sa.Column("group", sa.String(ASSET_FIELD_LEN), nullable=False, default="asset",
              server_default="asset"),
    sa.Column("extra", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("name", "uri"),
)

asset_alias = sa.Table(
    "asset_alias",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(ASSET_FIELD_LEN), nullable=False, unique=True),
    sa.Column("group", sa.String(ASSET_FIELD_LEN), nullable=False, default="asset",
              server_default="asset"),
)

# Which assets an alias resolved to (an event recorded through the alias adds the link).
asset_alias_asset = sa.Table(
    "asset_alias_asset",
    metadata,
    sa.Column("alias_id", sa.Integer, sa.ForeignKey("asset_alias.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("asset_id", sa.Integer, sa.ForeignKey("asset.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Index(None, "asset_id"),
)

asset_event = sa.Table(
    "asset_event",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("asset_id", sa.Integer, sa.ForeignKey("asset.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("extra", sa.JSON, nullable=False, default=dict),
    sa.Column("source_task_id", sa.String(ID_LEN)),
    sa.Column("source_dag_id", sa.String(ID_LEN)),
    sa.Column("source_run_id", sa.String(ID_LEN)),
    sa.Column("source_map_index", sa.Integer, default=-1, server_default="-1"),
    sa.Column("timestamp", UtcDateTime, nullable=False),
    sa.Index(None, "asset_id", "timestamp"),
)

# The events recorded through an alias (Airflow's ``asset_alias_asset_event``).
asset_alias_asset_event = sa.Table(
    "asset_alias_asset_event",
    metadata,
    sa.Column("alias_id", sa.Integer, sa.ForeignKey("asset_alias.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("asset_event.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Index(None, "event_id"),
)

# The queue (docs/airflow-behaviour.md 12.2): one row per (asset, consuming DAG) with an event
# since the DAG's last asset-triggered run.
asset_dag_run_queue = sa.Table(
    "asset_dag_run_queue",
    metadata,
    sa.Column("asset_id", sa.Integer, sa.ForeignKey("asset.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("target_dag_id", sa.String(ID_LEN),
              sa.ForeignKey("dag.dag_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index(None, "target_dag_id"),
)

# The assets a DAG's schedule names (rewritten at each parse).
dag_schedule_asset_reference = sa.Table(
    "dag_schedule_asset_reference",
    metadata,
    sa.Column("asset_id", sa.Integer, sa.ForeignKey("asset.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("dag_id", sa.String(ID_LEN), sa.ForeignKey("dag.dag_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index(None, "dag_id"),
)

# The aliases, and the asset references by name or URI, a DAG's schedule names (rewritten at
# each parse, as Airflow's tables of these names): an event of an asset through such an alias,
# or of an asset of such a name or URI, queues the DAG.
dag_schedule_asset_alias_reference = sa.Table(
    "dag_schedule_asset_alias_reference",
    metadata,
    sa.Column("alias_id", sa.Integer, sa.ForeignKey("asset_alias.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("dag_id", sa.String(ID_LEN), sa.ForeignKey("dag.dag_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index(None, "dag_id"),
)

dag_schedule_asset_name_reference = sa.Table(
    "dag_schedule_asset_name_reference",
    metadata,
    sa.Column("name", sa.String(ASSET_FIELD_LEN), primary_key=True),
    sa.Column("dag_id", sa.String(ID_LEN), sa.ForeignKey("dag.dag_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index(None, "dag_id"),
)

dag_schedule_asset_uri_reference = sa.Table(
    "dag_schedule_asset_uri_reference",
    metadata,
    sa.Column("uri", sa.String(ASSET_FIELD_LEN), primary_key=True),
    sa.Column("dag_id", sa.String(ID_LEN), sa.ForeignKey("dag.dag_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index(None, "dag_id"),
)

# The assets a DAG's tasks produce (their outlets; rewritten at each parse).
task_outlet_asset_reference = sa.Table(
    "task_outlet_asset_reference",
    metadata,
    sa.Column("asset_id", sa.Integer, sa.ForeignKey("asset.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("dag_id", sa.String(ID_LEN), sa.ForeignKey("dag.dag_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("task_id", sa.String(ID_LEN), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index(None, "dag_id"),
)

# The events an asset-triggered run consumed (Airflow's ``dagrun_asset_event``).
dagrun_asset_event = sa.Table(
    "dagrun_asset_event",
    metadata,
    sa.Column("dag_run_id", sa.Integer, sa.ForeignKey("dag_run.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("asset_event.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Index(None, "event_id"),
)
