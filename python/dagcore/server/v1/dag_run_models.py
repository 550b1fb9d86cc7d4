"""``/api/v1`` DAG-run models with Airflow 2.10's field names (``v1.yaml`` ``DAGRun``,
``TaskInstanceReference``; docs/airflow-rest-api.md A.2): ``dag_run_id``, and
``execution_date`` beside ``logical_date`` (the same value)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dagcore.api.common import DagRun, TaskInstanceRow
from dagcore.server.serializers import V1Model

__all__ = [
    "DAGRun",
    "DAGRunCollection",
    "TaskInstanceReference",
    "TaskInstanceReferenceCollection",
    "dag_run_v1",
    "task_instance_reference",
]


class DAGRun(V1Model):
    dag_run_id: str
    dag_id: str
    logical_date: datetime | None
    execution_date: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    last_scheduling_decision: datetime | None
    run_type: str
    state: str
    external_trigger: bool
    conf: dict[str, Any]
    note: str | None


class DAGRunCollection(V1Model):
    dag_runs: list[DAGRun]
    total_entries: int


class TaskInstanceReference(V1Model):
    task_id: str
    dag_id: str
    execution_date: datetime | None
    dag_run_id: str


class TaskInstanceReferenceCollection(V1Model):
    task_instances: list[TaskInstanceReference]


def dag_run_v1(run: DagRun) -> DAGRun:
    """A stored run as Airflow 2's ``DAGRun`` (``external_trigger``: not made by the
    scheduler)."""
    return DAGRun(
        dag_run_id=run.run_id, dag_id=run.dag_id, logical_date=run.logical_date,
        execution_date=run.logical_date, start_date=run.start_date, end_date=run.end_date,
        data_interval_start=run.data_interval_start, data_interval_end=run.data_interval_end,
        last_scheduling_decision=run.last_scheduling_decision, run_type=run.run_type,
        state=run.state, external_trigger=run.run_type == "manual", conf=run.conf or {},
        note=run.note)


def task_instance_reference(ti: TaskInstanceRow, run: DagRun) -> TaskInstanceReference:
    return TaskInstanceReference(task_id=ti.task_id, dag_id=ti.dag_id,
                                 execution_date=run.logical_date, dag_run_id=ti.run_id)
