"""``/api/v2`` DAG-run models with Airflow 3's field names
(``api_fastapi/core_api/datamodels/dag_run.py``, docs/airflow-rest-api.md B.2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, root_validator, validator

from dagcore.api.common import DagRun, TaskInstanceRow
from dagcore.server.serializers import StrictBody, V2Model, iso_z

__all__ = [
    "DAGRunClearBody",
    "DAGRunCollectionResponse",
    "DAGRunPatchBody",
    "DAGRunResponse",
    "TaskInstanceCollectionResponse",
    "TriggerDAGRunPostBody",
    "dag_run_payload",
    "dag_run_response",
    "dag_version_payloads",
    "task_instance_response",
]


def _aware(value: datetime | None, field: Any) -> datetime | None:
    """Airflow 3's ``AwareDatetime``: a naive datetime is refused."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError("Input should have timezone info")
    return value


class DagVersionResponse(V2Model):
    id: uuid.UUID
    version_number: int
    dag_id: str
    bundle_name: str | None
    bundle_version: str | None
    created_at: datetime
    dag_display_name: str
    bundle_url: str | None = None  # dagcore's bundles have no URL


class DAGRunResponse(V2Model):
    dag_run_id: str
    dag_id: str
    logical_date: datetime | None
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_after: datetime
    last_scheduling_decision: datetime | None
    run_type: str
    state: str
    triggered_by: str | None
    triggering_user_name: str | None
    conf: dict[str, Any] | None
    note: str | None
    dag_versions: list[DagVersionResponse]
    bundle_version: str | None
    dag_display_name: str


class DAGRunCollectionResponse(V2Model):
    dag_runs: list[DAGRunResponse]
    total_entries: int


class TriggerDAGRunPostBody(StrictBody):
    """``logical_date`` is a required key that may be null (Airflow 3)."""

    dag_run_id: str | None = None
    logical_date: datetime | None = Field(...)
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    run_after: datetime | None = None
    conf: dict[str, Any] | None = None
    note: str | None = None

    _aware = validator("logical_date", "data_interval_start", "data_interval_end", "run_after",
                       allow_reuse=True)(_aware)

    @root_validator(skip_on_failure=True)
    def _interval_pair(cls, values: dict[str, Any]) -> dict[str, Any]:
        if (values.get("data_interval_start") is None) != (values.get("data_interval_end")
                                                           is None):
            raise ValueError("Either both data_interval_start and data_interval_end must be "
                             "provided or both must be None")
        return values


class DAGRunPatchBody(StrictBody):
    state: Literal["queued", "success", "failed"] | None = None
    note: str | None = Field(None, max_length=1000)


class DAGRunClearBody(StrictBody):
    dry_run: bool = True
    only_failed: bool = False
    run_on_latest_version: bool = False


class TaskInstanceResponse(V2Model):
    id: uuid.UUID
    task_id: str
    dag_id: str
    dag_run_id: str
    map_index: int
    logical_date: datetime | None
    run_after: datetime
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    state: str | None
    try_number: int
    max_tries: int
    task_display_name: str
    hostname: str | None
    unixname: str | None
    pool: str
    pool_slots: int
    queue: str | None
    priority_weight: int | None
    operator: str | None
    queued_when: datetime | None
    scheduled_when: datetime | None
    pid: int | None
    executor: str | None
    executor_config: str
    note: str | None
    rendered_map_index: str | None


class TaskInstanceCollectionResponse(V2Model):
    task_instances: list[TaskInstanceResponse]
    total_entries: int


def _duration(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start is not None and end is not None else None


def dag_run_response(run: DagRun, versions: list[dict[str, Any]],
                     dag_display_name: str | None = None) -> DAGRunResponse:
    """A stored run as Airflow 3's ``DAGRunResponse`` (the model of :func:`dag_run_payload`,
    which hot routes write without a model)."""
    return DAGRunResponse(**dag_run_payload(run, versions, dag_display_name))


def _z(value: datetime | None) -> str | None:
    return None if value is None else iso_z(value)


def dag_version_payloads(versions: list[dict[str, Any]],
                         dag_display_name: str) -> list[dict[str, Any]]:
    """``versions`` as :class:`DagVersionResponse` objects in JSON (see
    :func:`dag_run_payload`)."""
    return [{"id": str(uuid.UUID(str(v["id"]))), "version_number": int(v["version_number"]),
             "dag_id": v["dag_id"], "bundle_name": v["bundle_name"],
             "bundle_version": v["bundle_version"], "created_at": iso_z(v["created_at"]),
             "dag_display_name": dag_display_name, "bundle_url": None} for v in versions]


def dag_run_payload(run: DagRun, versions: list[dict[str, Any]],
                    dag_display_name: str | None = None) -> dict[str, Any]:
    """What :func:`dag_run_response` renders, built as JSON values without a model: a page of
    100 runs spent two thirds of its time validating and walking pydantic 1 models
    (benchmarks/api_bench.py). Same keys, order and values, byte for byte once dumped by
    :func:`dagcore.server.serializers.rendered_json` (tests/python/unit/test_server_serializers.py);
    the values come from the database, so there is nothing to validate."""
    name = dag_display_name or run.dag_id
    return {
        "dag_run_id": run.run_id, "dag_id": run.dag_id, "logical_date": _z(run.logical_date),
        "queued_at": _z(run.queued_at), "start_date": _z(run.start_date),
        "end_date": _z(run.end_date), "duration": _duration(run.start_date, run.end_date),
        "data_interval_start": _z(run.data_interval_start),
        "data_interval_end": _z(run.data_interval_end), "run_after": iso_z(run.run_after),
        "last_scheduling_decision": _z(run.last_scheduling_decision),
        "run_type": run.run_type, "state": run.state, "triggered_by": run.triggered_by,
        "triggering_user_name": run.triggering_user_name,
        "conf": None if run.conf is None else dict(run.conf), "note": run.note,
        "dag_versions": dag_version_payloads(versions, name),
        "bundle_version": run.bundle_version, "dag_display_name": name}


def task_instance_response(ti: TaskInstanceRow, run: DagRun) -> TaskInstanceResponse:
    """A task instance (of ``run``) as Airflow 3's ``TaskInstanceResponse``."""
    return TaskInstanceResponse(
        id=ti.id, task_id=ti.task_id, dag_id=ti.dag_id, dag_run_id=ti.run_id,
        map_index=ti.map_index, logical_date=run.logical_date, run_after=run.run_after,
        start_date=ti.start_date, end_date=ti.end_date, duration=ti.duration, state=ti.state,
        try_number=ti.try_number, max_tries=ti.max_tries,
        task_display_name=ti.task_display_name or ti.task_id, hostname=ti.hostname,
        unixname=ti.unixname, pool=ti.pool, pool_slots=ti.pool_slots, queue=ti.queue,
        priority_weight=ti.priority_weight, operator=ti.operator, queued_when=ti.queued_dttm,
        scheduled_when=ti.scheduled_dttm, pid=ti.pid, executor=ti.executor,
        executor_config=str(ti.executor_config or {}), note=ti.note,
        rendered_map_index=ti.rendered_map_index)
