"""``/api/v1`` task-instance models and body checks, with Airflow 2.10's names (``v1.yaml``
``TaskInstanceReference``, ``ClearTaskInstances``; docs/airflow-rest-api.md A.4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dagcore.api.task_instances import TaskInstanceInfo
from dagcore.server.errors import ApiError
from dagcore.server.serializers import V1Model

__all__ = [
    "TaskInstanceReference",
    "TaskInstanceReferenceCollection",
    "body_bool",
    "body_datetime",
    "check_keys",
    "reference",
]


class TaskInstanceReference(V1Model):
    task_id: str
    dag_id: str
    execution_date: datetime | None
    dag_run_id: str


class TaskInstanceReferenceCollection(V1Model):
    task_instances: list[TaskInstanceReference]


def reference(info: TaskInstanceInfo) -> TaskInstanceReference:
    return TaskInstanceReference(task_id=info.ti.task_id, dag_id=info.ti.dag_id,
                                 execution_date=info.logical_date, dag_run_id=info.ti.run_id)


def check_keys(body: dict[str, Any], allowed: frozenset[str]) -> None:
    """Marshmallow's refusal of unknown keys: 400 ``{'<key>': ['Unknown field.']}``."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, str({key: ["Unknown field."] for key in unknown}))


def body_bool(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise ApiError(400, f"{value!r} is not of type 'boolean' - '{key}'")
    return value


def body_datetime(body: dict[str, Any], key: str) -> datetime | None:
    """An aware datetime, as marshmallow checks ``format: datetime`` fields."""
    value = body.get(key)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise ApiError(400, str({key: ["Not a valid datetime."]}))
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ApiError(400, "Naive datetime is disallowed", title="Invalid datetime format")
    return parsed
