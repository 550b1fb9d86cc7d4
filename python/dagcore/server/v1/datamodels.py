"""``/api/v1`` response models, with Airflow 2.10's field names (``v1.yaml``;
docs/airflow-rest-api.md A.2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dagcore.server.serializers import V1Model
from dagcore.server.v2.datamodels import owners_list

__all__ = ["DAG", "DAGCollection", "Tag", "VersionInfo", "dag_v1", "schedule_interval"]


class VersionInfo(V1Model):
    version: str
    git_version: str | None


class Tag(V1Model):
    name: str


class DAG(V1Model):
    dag_id: str
    dag_display_name: str
    root_dag_id: str | None
    is_paused: bool
    is_active: bool
    is_subdag: bool
    last_parsed_time: datetime | None
    last_pickled: datetime | None
    last_expired: datetime | None
    scheduler_lock: bool | None
    pickle_id: str | None
    default_view: str | None
    fileloc: str | None
    file_token: str | None
    owners: list[str]
    description: str | None
    schedule_interval: dict[str, Any] | None
    timetable_description: str | None
    tags: list[Tag]
    max_active_tasks: int
    max_active_runs: int | None
    max_consecutive_failed_dag_runs: int
    has_task_concurrency_limits: bool
    has_import_errors: bool
    next_dagrun: datetime | None
    next_dagrun_data_interval_start: datetime | None
    next_dagrun_data_interval_end: datetime | None
    next_dagrun_create_after: datetime | None


class DAGCollection(V1Model):
    dags: list[DAG]
    total_entries: int


def schedule_interval(summary: str | None) -> dict[str, Any] | None:
    """Airflow 2's ``ScheduleInterval``: null without a schedule, else the schedule's text as a
    ``CronExpression`` (dagcore stores the timetable's summary: a cron expression or preset)."""
    if summary is None or summary in ("None", ""):
        return None
    return {"__type": "CronExpression", "value": summary}


def dag_v1(info: dict[str, Any]) -> DAG:
    """A ``dag`` row plus ``tags`` as Airflow 2's ``DAG``."""
    dag_id = info["dag_id"]
    return DAG(
        dag_id=dag_id,
        dag_display_name=info.get("dag_display_name") or dag_id,
        root_dag_id=None,
        is_paused=info["is_paused"],
        is_active=not info["is_stale"],
        is_subdag=False,
        last_parsed_time=info.get("last_parsed_time"),
        last_pickled=None,
        last_expired=None,
        scheduler_lock=None,
        pickle_id=None,
        default_view="grid",
        fileloc=info.get("fileloc"),
        file_token=None,
        owners=owners_list(info.get("owners")),
        description=info.get("description"),
        schedule_interval=schedule_interval(info.get("timetable_summary")),
        timetable_description=info.get("timetable_description"),
        tags=[Tag(name=tag) for tag in info["tags"]],
        max_active_tasks=info["max_active_tasks"],
        max_active_runs=info.get("max_active_runs"),
        max_consecutive_failed_dag_runs=info["max_consecutive_failed_dag_runs"],
        has_task_concurrency_limits=info["has_task_concurrency_limits"],
        has_import_errors=info["has_import_errors"],
        next_dagrun=info.get("next_dagrun"),
        next_dagrun_data_interval_start=info.get("next_dagrun_data_interval_start"),
        next_dagrun_data_interval_end=info.get("next_dagrun_data_interval_end"),
        next_dagrun_create_after=info.get("next_dagrun_create_after"),
    )
