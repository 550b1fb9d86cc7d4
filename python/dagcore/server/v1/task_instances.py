"""Clearing on ``/api/v1``: ``POST /dags/{dag_id}/clearTaskInstances`` (Airflow 2.10) and
``POST /dags/{dag_id}/clear`` (issue 13's deviation 1; Airflow 2 has no such route).

clearTaskInstances (``api_connexion/endpoints/task_instance_endpoint.py``,
docs/airflow-rest-api.md A.4): body ``dry_run`` (true), ``task_ids``, ``start_date``/``end_date``,
``only_failed`` (true), ``only_running``, ``include_upstream``/``include_downstream``/
``include_future``/``include_past``, ``reset_dag_runs`` (false), ``dag_run_id``; marshmallow's
400s; 404 title "Dag id <d> not found" and "Dag Run id <r> not found in dag <d>"; answer
``{"task_instances": [{"task_id", "dag_id", "execution_date", "dag_run_id"}]}``. With
``reset_dag_runs`` the finished runs are queued again (Airflow 2 set them running; Airflow 3 and
dagcore's clear queue them).

``/clear`` takes what widely copied client code sends: ``dry_run`` (default true, as every
clear of the API), ``include_downstream``, ``include_upstream``, ``only_active``, ``start_date``,
``end_date``, ``state`` (a task-instance state or a list): it clears the DAG's task instances in
the range whose state is one of those (with ``only_active``: among the unfinished ones), queues
their finished runs again, and answers 200 with them under ``task_instances``.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Body, Depends, Path

from dagcore.api import common as api_common
from dagcore.api import task_instances as api_tis
from dagcore.api.users import Action
from dagcore.server.auth import require
from dagcore.server.errors import ApiError
from dagcore.server.state import ServerState, server_state
from dagcore.server.v1.task_instance_models import (
    TaskInstanceReferenceCollection,
    body_bool,
    body_datetime,
    check_keys,
    reference,
)
from dagcore.state import TaskInstanceState

__all__ = ["router"]

router = APIRouter(prefix="/dags/{dag_id}", tags=["TaskInstance"])

_CLEAR_TIS_KEYS: Final = frozenset({
    "dry_run", "task_ids", "start_date", "end_date", "only_failed", "only_running",
    "include_subdags", "include_parentdag", "include_upstream", "include_downstream",
    "include_future", "include_past", "reset_dag_runs", "dag_run_id"})
_CLEAR_KEYS: Final = frozenset({"dry_run", "include_downstream", "include_upstream",
                                "only_active", "start_date", "end_date", "state"})
_UNFINISHED: Final = frozenset(s.value for s in TaskInstanceState
                               if s not in TaskInstanceState.finished)


def _task_ids(body: dict[str, Any]) -> list[str] | None:
    value = body.get("task_ids")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, f"{value!r} is not of type 'array' of strings - 'task_ids'")
    if not value:
        raise ApiError(400, str({"task_ids": ["Shorter than minimum length 1."]}))
    return value


def _answer(server: ServerState, cleared: list[api_common.TaskInstanceRow]) -> Any:
    return TaskInstanceReferenceCollection(
        task_instances=[reference(i) for i in api_tis.with_run_dates(server.engine, cleared)])


def _clear(server: ServerState, dag_id: str, **kwargs: Any) -> Any:
    try:
        cleared = api_common.clear_task_instances(dag_id, engine=server.engine,
                                                  dag_bag=server.dag_bag, **kwargs)
    except api_common.DagNotFound:
        raise ApiError(404, None, title=f"Dag id {dag_id} not found") from None
    except api_common.DagRunNotFound as exc:
        raise ApiError(404, None, title=str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return _answer(server, cleared)


@router.post("/clearTaskInstances", response_model=TaskInstanceReferenceCollection,
             dependencies=[Depends(require(Action.CLEAR))])
def clear_task_instances(body: dict[str, Any] = Body(...), dag_id: str = Path(...),
                         server: ServerState = Depends(server_state)) -> Any:
    """Clear (by default: list as a dry run) the DAG's failed task instances."""
    check_keys(body, _CLEAR_TIS_KEYS)
    flags = {key: body_bool(body, key, default) for key, default in (
        ("dry_run", True), ("only_failed", True), ("only_running", False),
        ("include_upstream", False), ("include_downstream", False), ("include_future", False),
        ("include_past", False), ("reset_dag_runs", False))}
    start, end = body_datetime(body, "start_date"), body_datetime(body, "end_date")
    run_id = body.get("dag_run_id")
    if run_id is not None and not isinstance(run_id, str):
        raise ApiError(400, f"{run_id!r} is not of type 'string' - 'dag_run_id'")
    if flags["only_failed"] and flags["only_running"]:
        raise ApiError(400, str({"_schema": ["only_failed and only_running both are set to "
                                             "True"]}))
    if start is not None and end is not None and end < start:
        raise ApiError(400, str({"_schema": ["end_date is sooner than start_date"]}))
    if run_id is not None and (start is not None or end is not None):
        raise ApiError(400, str({"_schema": ["Exactly one of dag_run_id or (start_date and "
                                             "end_date) must be provided"]}))
    return _clear(server, dag_id, task_ids=_task_ids(body), run_id=run_id,
                  start_date=None if flags["include_past"] else start,
                  end_date=None if flags["include_future"] else end,
                  only_failed=flags["only_failed"], only_running=flags["only_running"],
                  include_upstream=flags["include_upstream"],
                  include_downstream=flags["include_downstream"], dry_run=flags["dry_run"],
                  dag_run_state="queued" if flags["reset_dag_runs"] else None)


def _states(body: dict[str, Any], only_active: bool) -> list[str] | None:
    value = body.get("state")
    states = [value] if isinstance(value, str) else value
    if states is not None and (not isinstance(states, list)
                               or not all(isinstance(s, str) for s in states) or not states):
        raise ApiError(400, f"{value!r} is not a task instance state or a list of them - "
                            f"'state'")
    valid = {s.value for s in TaskInstanceState}
    bad = [s for s in states or () if s not in valid]
    if bad:
        raise ApiError(400, f"{bad[0]!r} is not one of {sorted(valid)} - 'state'")
    if only_active:
        return sorted((set(states) if states is not None else valid) & _UNFINISHED)
    return states


@router.post("/clear", response_model=TaskInstanceReferenceCollection,
             dependencies=[Depends(require(Action.CLEAR))])
def clear_dag(body: dict[str, Any] = Body(...), dag_id: str = Path(...),
              server: ServerState = Depends(server_state)) -> Any:
    """Clear the DAG's task instances in a date range whose state is the given one
    (issue 13's deviation 1; see the module note)."""
    check_keys(body, _CLEAR_KEYS)
    dry_run = body_bool(body, "dry_run", True)
    upstream = body_bool(body, "include_upstream", False)
    downstream = body_bool(body, "include_downstream", False)
    only_active = body_bool(body, "only_active", False)
    start, end = body_datetime(body, "start_date"), body_datetime(body, "end_date")
    if start is not None and end is not None and end < start:
        raise ApiError(400, str({"_schema": ["end_date is sooner than start_date"]}))
    states = _states(body, only_active)
    if states is not None and not states:
        return TaskInstanceReferenceCollection(task_instances=[])
    return _clear(server, dag_id, start_date=start, end_date=end, only_failed=False,
                  only_running=False, include_upstream=upstream,
                  include_downstream=downstream, dry_run=dry_run, dag_run_state="queued",
                  states=states)
