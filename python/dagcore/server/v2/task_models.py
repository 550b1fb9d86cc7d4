"""``/api/v2`` models of a DAG's structure: ``TaskResponse`` / ``TaskCollectionResponse``
(Airflow 3's ``api_fastapi/core_api/datamodels/tasks.py``) and the value conversions
``DAGDetailsResponse`` shares with them (``datamodels/dags.py``).

Airflow renders a task's ``execution_timeout`` / ``retry_delay`` as ``{"__type": "TimeDelta",
"days", "seconds", "microseconds"}`` (its ``TimeDeltaWithValidation``), but a DAG's
``dag_run_timeout`` as pydantic 2 renders a ``timedelta``: an ISO 8601 duration (``PT5M``);
params as ``{name: {"__class", "value", "description", "schema"}}`` (``Param.dump``), with
dagcore's class path in ``__class``.
"""

from __future__ import annotations

import inspect
from datetime import datetime, timedelta
from typing import Any

from dagcore.api import dags as api_dags
from dagcore.params import Param, ParamsDict
from dagcore.serialization import SerializedDAG, SerializedTask
from dagcore.server.serializers import V2Model

__all__ = [
    "TaskCollectionResponse",
    "TaskResponse",
    "clean_doc_md",
    "iso_duration",
    "params_dump",
    "task_response",
    "time_delta",
]

PARAM_CLASS = f"{Param.__module__}.{Param.__qualname__}"


class TaskResponse(V2Model):
    task_id: str | None
    task_display_name: str | None
    owner: str | None
    start_date: datetime | None
    end_date: datetime | None
    trigger_rule: str | None
    depends_on_past: bool
    wait_for_downstream: bool
    retries: float | None
    queue: str | None
    pool: str | None
    pool_slots: float | None
    execution_timeout: dict[str, Any] | None
    retry_delay: dict[str, Any] | None
    retry_exponential_backoff: float
    priority_weight: float | None
    weight_rule: str | None
    ui_color: str | None
    ui_fgcolor: str | None
    template_fields: list[str] | None
    downstream_task_ids: list[str] | None
    doc_md: str | None
    operator_name: str | None
    params: dict[str, Any] | None
    class_ref: dict[str, Any] | None
    is_mapped: bool | None
    has_outlets: bool
    extra_links: list[str]


class TaskCollectionResponse(V2Model):
    tasks: list[TaskResponse]
    total_entries: int


def time_delta(value: timedelta | None) -> dict[str, Any] | None:
    """Airflow 3's ``TimeDeltaWithValidation`` form of a task's durations."""
    if value is None:
        return None
    return {"__type": "TimeDelta", "days": value.days, "seconds": value.seconds,
            "microseconds": value.microseconds}


def iso_duration(value: timedelta | None) -> str | None:
    """``value`` as pydantic 2 writes a ``timedelta`` (speedate's ``Duration``): ``P``, whole
    years of 365 days ``Y``, days ``D``, then ``T`` with hours ``H``, minutes ``M`` and seconds
    ``S`` (a fraction without trailing zeros), each only when not zero; ``PT0S`` for zero; a
    leading ``-`` for a negative one (``PT5M``, ``P1DT2H``, ``PT0.5S``)."""
    if value is None:
        return None
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    years, days = divmod(value.days, 365)
    text = f"{sign}P" + (f"{years}Y" if years else "") + (f"{days}D" if days else "")
    if value.seconds or value.microseconds:
        hours, rest = divmod(value.seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        text += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
        if seconds or value.microseconds:
            fraction = f".{value.microseconds:06d}".rstrip("0") if value.microseconds else ""
            text += f"{seconds}{fraction}S"
    elif not value.days:
        text += "T0S"
    return text


def params_dump(params: ParamsDict) -> dict[str, Any]:
    """Airflow's ``{k: v.dump() for k, v in params.items()}``: each param's class, value,
    description and schema."""
    return {name: {"__class": PARAM_CLASS, **param.dump()}
            for name, param in params.items_params()}


def clean_doc_md(doc_md: str | None) -> str | None:
    """Airflow 3 strips the indentation of ``doc_md`` (``inspect.cleandoc``)."""
    return None if doc_md is None else inspect.cleandoc(doc_md)


def task_response(task: SerializedTask, dag: SerializedDAG) -> TaskResponse:
    """A task of ``dag`` (a latest version) as Airflow 3's ``TaskResponse``, its dates bounded
    by the DAG's as ``DAG.add_task`` does (:func:`dagcore.api.dags.task_start_date`);
    ``is_mapped`` as stored (``expand`` or a mapped task group). dagcore has no outlets or
    operator extra links yet, hence ``has_outlets`` false and ``extra_links`` empty."""
    module_path, _, _ = task.operator.rpartition(".")
    return TaskResponse(
        task_id=task.task_id, task_display_name=task.task_display_name or task.task_id,
        owner=task.owner, start_date=api_dags.task_start_date(task, dag),
        end_date=api_dags.task_end_date(task, dag),
        trigger_rule=task.trigger_rule.value, depends_on_past=task.depends_on_past,
        wait_for_downstream=task.wait_for_downstream, retries=float(task.retries),
        queue=task.queue, pool=task.pool, pool_slots=float(task.pool_slots),
        execution_timeout=time_delta(task.execution_timeout),
        retry_delay=time_delta(task.retry_delay),
        retry_exponential_backoff=float(task.retry_exponential_backoff),
        priority_weight=float(task.priority_weight), weight_rule=task.weight_rule,
        ui_color=api_dags.task_ui_color(task), ui_fgcolor=api_dags.DEFAULT_UI_FGCOLOR,
        template_fields=list(task.template_fields),
        downstream_task_ids=sorted(task.downstream_task_ids), doc_md=task.doc_md,
        operator_name=api_dags.task_operator_name(task), params=params_dump(task.params),
        class_ref={"module_path": module_path or None, "class_name": task.task_type},
        is_mapped=task.is_mapped, has_outlets=False, extra_links=[])
