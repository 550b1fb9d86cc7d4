"""``/api/v2`` task-instance models, with Airflow 3's field names
(``api_fastapi/core_api/datamodels/task_instances.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, root_validator, validator

from dagcore.api.task_instances import TaskInstanceInfo
from dagcore.server.serializers import StrictBody, V2Model
from dagcore.server.v2.dag_run_models import DagVersionResponse

__all__ = [
    "ClearTaskInstancesBody",
    "PatchTaskInstanceBody",
    "TaskInstanceCollectionResponse",
    "TaskInstanceResponse",
    "task_instance_response",
]


class TaskInstanceResponse(V2Model):
    id: str
    task_id: str
    dag_id: str
    dag_run_id: str
    map_index: int
    logical_date: datetime | None
    run_after: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    state: str | None
    try_number: int
    max_tries: int
    task_display_name: str
    dag_display_name: str
    hostname: str | None
    unixname: str | None
    pool: str
    pool_slots: int
    queue: str | None
    priority_weight: int | None
    operator: str | None
    operator_name: str | None
    queued_when: datetime | None
    scheduled_when: datetime | None
    pid: int | None
    executor: str | None
    executor_config: str
    note: str | None
    rendered_map_index: str | None
    rendered_fields: dict[str, Any]
    trigger: None
    triggerer_job: None
    dag_version: DagVersionResponse | None


class TaskInstanceCollectionResponse(V2Model):
    task_instances: list[TaskInstanceResponse]
    total_entries: int


def task_instance_response(info: TaskInstanceInfo,
                           dag_display_name: str | None = None) -> TaskInstanceResponse:
    """A task instance as Airflow 3's ``TaskInstanceResponse``, ``dag_version`` the version it
    ran with (:class:`~dagcore.api.task_instances.TaskInstanceInfo`). dagcore keeps no rendered
    fields or triggers: those fields are null or empty."""
    ti = info.ti
    v = info.dag_version
    version = None if v is None else DagVersionResponse(
        id=v["id"], version_number=v["version_number"], dag_id=v["dag_id"],
        bundle_name=v["bundle_name"], bundle_version=v["bundle_version"],
        created_at=v["created_at"], dag_display_name=dag_display_name or ti.dag_id)
    return TaskInstanceResponse(
        id=str(ti.id), task_id=ti.task_id, dag_id=ti.dag_id, dag_run_id=ti.run_id,
        map_index=ti.map_index, logical_date=info.logical_date, run_after=info.run_after,
        start_date=ti.start_date, end_date=ti.end_date, duration=ti.duration, state=ti.state,
        try_number=ti.try_number, max_tries=ti.max_tries,
        task_display_name=ti.task_display_name or ti.task_id,
        dag_display_name=dag_display_name or ti.dag_id, hostname=ti.hostname,
        unixname=ti.unixname, pool=ti.pool, pool_slots=ti.pool_slots, queue=ti.queue,
        priority_weight=ti.priority_weight, operator=ti.operator,
        operator_name=ti.custom_operator_name or ti.operator, queued_when=ti.queued_dttm,
        scheduled_when=ti.scheduled_dttm, pid=ti.pid, executor=ti.executor,
        executor_config=str(ti.executor_config if ti.executor_config is not None else {}),
        note=ti.note, rendered_map_index=ti.rendered_map_index, rendered_fields={}, trigger=None,
        triggerer_job=None, dag_version=version)


class ClearTaskInstancesBody(StrictBody):
    """Airflow 3's ``ClearTaskInstancesBody`` (docs/airflow-rest-api.md B.2): a dry run that
    clears only failed task instances and resets their runs unless told otherwise."""

    dry_run: bool = True
    start_date: datetime | None = None
    end_date: datetime | None = None
    only_failed: bool = True
    only_running: bool = False
    reset_dag_runs: bool = True
    # A task id, or Airflow 3's [task_id, map_index] pair for one instance of a mapped task.
    task_ids: list[str | tuple[str, int]] | None = None
    dag_run_id: str | None = None
    include_upstream: bool = False
    include_downstream: bool = False
    include_future: bool = False
    include_past: bool = False
    run_on_latest_version: bool = False

    @validator("start_date", "end_date")
    def _aware(cls, value: datetime | None) -> datetime | None:  # noqa: N805 (pydantic)
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError("Input should have timezone info")
        return value

    @validator("task_ids")
    def _not_empty(cls, value: list[str | tuple[str, int]] | None
                   ) -> list[str | tuple[str, int]] | None:  # noqa: N805
        if value is not None and not value:
            raise ValueError("task_ids must not be empty")
        return value

    def task_names_and_map_indexes(self) -> tuple[list[str] | None, dict[str, set[int]]]:
        """``task_ids`` split into the task ids and, for ``[task_id, map_index]`` items, the
        map indexes to clear per task (a plain task id in the list clears all of them)."""
        if self.task_ids is None:
            return None, {}
        names: list[str] = []
        indexes: dict[str, set[int]] = {}
        whole: set[str] = set()
        for item in self.task_ids:
            name = item if isinstance(item, str) else item[0]
            if name not in names:
                names.append(name)
            if isinstance(item, str):
                whole.add(name)
            else:
                indexes.setdefault(name, set()).add(item[1])
        return names, {k: v for k, v in indexes.items() if k not in whole}

    @root_validator(skip_on_failure=True)
    def _consistent(cls, values: dict[str, Any]) -> dict[str, Any]:  # noqa: N805
        """Airflow's cross-field rules (its ClearTaskInstancesBody validators)."""
        if values.get("only_failed") and values.get("only_running"):
            raise ValueError("only_failed and only_running both are set to True")
        start, end = values.get("start_date"), values.get("end_date")
        if start is not None and end is not None and end < start:
            raise ValueError("end_date is sooner than start_date")
        if values.get("dag_run_id") is not None and (start is not None or end is not None):
            raise ValueError("Exactly one of dag_run_id or (start_date and end_date) must be "
                             "provided")
        return values


class PatchTaskInstanceBody(StrictBody):
    """Airflow 3's ``PatchTaskInstanceBody``: the new state (success, failed or skipped) and the
    relatives to set with it, and/or the note (at most 1000 characters).
    ``include_future``/``include_past`` (other runs) are accepted only as false."""

    new_state: str | None = None
    note: str | None = Field(None, max_length=1000)
    include_upstream: bool = False
    include_downstream: bool = False
    include_future: bool = False
    include_past: bool = False

    @validator("new_state", pre=True)
    def _state(cls, value: Any) -> str:  # noqa: N805 (pydantic)
        valid = ["success", "failed", "skipped"]
        if value is None:
            raise ValueError("'new_state' should not be empty")
        state = str(value).lower()
        if state not in valid:
            raise ValueError(f"'{state}' is not one of {valid}")
        return state
