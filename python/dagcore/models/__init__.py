"""The metadata database schema: SQLAlchemy Core tables (:mod:`dagcore.models.tables`)."""

from __future__ import annotations

from dagcore.models.tables import (
    backfill,
    backfill_dag_run,
    dag,
    dag_code,
    dag_run,
    dag_tag,
    dag_version,
    import_error,
    metadata,
    serialized_dag,
    task_instance,
    task_instance_history,
    xcom,
)
from dagcore.models.types import UtcDateTime, UUIDType, uuid7

__all__ = [
    "UUIDType",
    "UtcDateTime",
    "backfill",
    "backfill_dag_run",
    "dag",
    "dag_code",
    "dag_run",
    "dag_tag",
    "dag_version",
    "import_error",
    "metadata",
    "serialized_dag",
    "task_instance",
    "task_instance_history",
    "uuid7",
    "xcom",
]
