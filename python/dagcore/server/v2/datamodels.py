"""``/api/v2`` response and body models, with Airflow 3's field names
(``airflow-core/src/airflow/api_fastapi/core_api/datamodels/``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dagcore.server.serializers import StrictBody, V2Model

__all__ = [
    "DAGCollectionResponse",
    "DAGPatchBody",
    "DAGResponse",
    "DagTagResponse",
    "HealthInfoResponse",
    "VersionInfo",
    "dag_response",
]


class VersionInfo(V2Model):
    version: str
    git_version: str | None


class _ComponentHealth(V2Model):
    status: str | None


class _SchedulerHealth(_ComponentHealth):
    latest_scheduler_heartbeat: str | None


class _TriggererHealth(_ComponentHealth):
    latest_triggerer_heartbeat: str | None


class _DagProcessorHealth(_ComponentHealth):
    latest_dag_processor_heartbeat: str | None


class HealthInfoResponse(V2Model):
    metadatabase: _ComponentHealth
    scheduler: _SchedulerHealth
    triggerer: _TriggererHealth
    dag_processor: _DagProcessorHealth


class DagTagResponse(V2Model):
    name: str
    dag_id: str


class DAGResponse(V2Model):
    dag_id: str
    dag_display_name: str
    is_paused: bool
    is_stale: bool
    last_parsed_time: datetime | None
    last_parse_duration: float | None
    last_expired: datetime | None
    bundle_name: str | None
    bundle_version: str | None
    relative_fileloc: str | None
    fileloc: str | None
    description: str | None
    timetable_summary: str | None
    timetable_description: str | None
    tags: list[DagTagResponse]
    max_active_tasks: int
    max_active_runs: int | None
    max_consecutive_failed_dag_runs: int
    has_task_concurrency_limits: bool
    has_import_errors: bool
    next_dagrun_logical_date: datetime | None
    next_dagrun_data_interval_start: datetime | None
    next_dagrun_data_interval_end: datetime | None
    next_dagrun_run_after: datetime | None
    owners: list[str]
    file_token: str | None


class DAGCollectionResponse(V2Model):
    dags: list[DAGResponse]
    total_entries: int


class DAGPatchBody(StrictBody):
    is_paused: bool


def owners_list(owners: str | None) -> list[str]:
    """Airflow stores owners comma-separated and lists them split."""
    return [o.strip() for o in owners.split(",") if o.strip()] if owners else []


def dag_response(info: dict[str, Any]) -> DAGResponse:
    """A ``dag`` row plus ``tags`` (:mod:`dagcore.api.dags`) as Airflow 3's ``DAGResponse``."""
    dag_id = info["dag_id"]
    return DAGResponse(
        dag_id=dag_id,
        dag_display_name=info.get("dag_display_name") or dag_id,
        is_paused=info["is_paused"],
        is_stale=info["is_stale"],
        last_parsed_time=info.get("last_parsed_time"),
        last_parse_duration=None,
        last_expired=None,
        bundle_name=info.get("bundle_name"),
        bundle_version=info.get("bundle_version"),
        relative_fileloc=info.get("relative_fileloc"),
        fileloc=info.get("fileloc"),
        description=info.get("description"),
        timetable_summary=info.get("timetable_summary"),
        timetable_description=info.get("timetable_description"),
        tags=[DagTagResponse(name=tag, dag_id=dag_id) for tag in info["tags"]],
        max_active_tasks=info["max_active_tasks"],
        max_active_runs=info.get("max_active_runs"),
        max_consecutive_failed_dag_runs=info["max_consecutive_failed_dag_runs"],
        has_task_concurrency_limits=info["has_task_concurrency_limits"],
        has_import_errors=info["has_import_errors"],
        next_dagrun_logical_date=info.get("next_dagrun"),
        next_dagrun_data_interval_start=info.get("next_dagrun_data_interval_start"),
        next_dagrun_data_interval_end=info.get("next_dagrun_data_interval_end"),
        next_dagrun_run_after=info.get("next_dagrun_create_after"),
        owners=owners_list(info.get("owners")),
        file_token=None,
    )
