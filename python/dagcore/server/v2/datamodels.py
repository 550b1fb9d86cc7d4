"""``/api/v2`` response and body models, with Airflow 3's field names
(``airflow-core/src/airflow/api_fastapi/core_api/datamodels/``)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from dagcore.api.dags import DagDetails
from dagcore.server.serializers import StrictBody, V2Model
from dagcore.server.v2.dag_run_models import DagVersionResponse
from dagcore.server.v2.task_models import clean_doc_md, iso_duration, params_dump

__all__ = [
    "DAGCollectionResponse",
    "DAGDetailsResponse",
    "DAGPatchBody",
    "DAGResponse",
    "DagTagResponse",
    "HealthInfoResponse",
    "VersionInfo",
    "dag_details_response",
    "dag_response",
    "timezone_name",
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


class DAGDetailsResponse(DAGResponse):
    catchup: bool
    dag_run_timeout: str | None  # an ISO 8601 duration (task_models.iso_duration)
    asset_expression: dict[str, Any] | None
    doc_md: str | None
    start_date: datetime | None
    end_date: datetime | None
    is_paused_upon_creation: bool | None
    params: dict[str, Any] | None
    render_template_as_native_obj: bool
    template_search_path: list[str] | None
    timezone: str | None
    last_parsed: datetime | None
    default_args: dict[str, Any] | None
    owner_links: dict[str, str] | None
    is_favorite: bool
    active_runs_count: int
    concurrency: int
    latest_dag_version: DagVersionResponse | None


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


def timezone_name(tz: tzinfo) -> str:
    """``str()`` of the pendulum zone Airflow keeps: the zone's name (``UTC``,
    ``Europe/Amsterdam``), or ``+HH:MM`` for a fixed offset."""
    if tz is UTC:
        return "UTC"
    if isinstance(tz, ZoneInfo):
        return tz.key
    offset = tz.utcoffset(None)
    if offset is None:
        return str(tz)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def dag_details_response(details: DagDetails) -> DAGDetailsResponse:
    """Airflow 3's ``DAGDetailsResponse``: the ``dag`` row's fields as in ``DAGResponse``, the
    rest from the latest serialized version (``get_dag_details`` copies the DAG's attributes
    onto the row). dagcore has no assets, favourites or parse-load times yet:
    ``asset_expression`` is null, ``is_favorite`` false, ``last_parsed`` the row's
    ``last_parsed_time``."""
    dag, info = details.dag, details.info
    base = dag_response(info)
    version = details.latest_version
    return DAGDetailsResponse(
        **base.dict(),
        catchup=dag.catchup,
        dag_run_timeout=iso_duration(dag.dagrun_timeout),
        asset_expression=None,
        doc_md=clean_doc_md(dag.doc_md),
        start_date=dag.start_date,
        end_date=dag.end_date,
        is_paused_upon_creation=dag.is_paused_upon_creation,
        params=params_dump(dag.params),
        render_template_as_native_obj=dag.render_template_as_native_obj,
        template_search_path=list(dag.template_searchpath) or None,
        timezone=timezone_name(dag.timezone),
        last_parsed=info.get("last_parsed_time"),
        default_args=dict(dag.default_args),
        owner_links={str(k): str(v) for k, v in dag.owner_links.items()},
        is_favorite=False,
        active_runs_count=details.active_runs_count,
        concurrency=base.max_active_tasks,
        latest_dag_version=None if version is None else DagVersionResponse(
            dag_display_name=base.dag_display_name, **version),
    )
