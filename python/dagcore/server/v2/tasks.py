"""``GET /api/v2/dags/{dag_id}/tasks`` and ``GET /api/v2/dags/{dag_id}/tasks/{task_id}``.

Airflow 3 (``core_api/routes/public/tasks.py``): the tasks of the DAG's latest version (here
through the server's DAG bag and its cache), ``order_by`` one field of
:data:`dagcore.api.dags.TASK_ORDER_BY_FIELDS` (``-`` for descending; another → 400 "Ordering
with '<f>' is disallowed or the attribute does not exist on the model"). 404 texts: "The Dag
with ID: `<d>` was not found" (checked first), "Task with id <t> was not found".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query

from dagcore.api import dags as api_dags
from dagcore.api.users import Action
from dagcore.server.auth import require
from dagcore.server.errors import ApiError
from dagcore.server.state import ServerState, server_state
from dagcore.server.v2.task_models import TaskCollectionResponse, TaskResponse, task_response

__all__ = ["router"]

router = APIRouter(prefix="/dags/{dag_id}/tasks", tags=["Task"])


def _dag_not_found(dag_id: str) -> ApiError:
    return ApiError(404, f"The Dag with ID: `{dag_id}` was not found")


@router.get("", response_model=TaskCollectionResponse,
            dependencies=[Depends(require(Action.READ))])
def get_tasks(dag_id: str = Path(...), order_by: str = Query("task_id"),
              server: ServerState = Depends(server_state)) -> Any:
    """The tasks of the DAG's latest version."""
    try:
        dag, tasks = api_dags.list_dag_tasks(server.dag_bag, dag_id, order_by)
    except api_dags.DagNotFound:
        raise _dag_not_found(dag_id) from None
    except api_dags.InvalidOrderBy as exc:
        raise ApiError(400, str(exc)) from None
    return TaskCollectionResponse(tasks=[task_response(task, dag) for task in tasks],
                                  total_entries=len(tasks))


@router.get("/{task_id}", response_model=TaskResponse,
            dependencies=[Depends(require(Action.READ))])
def get_task(dag_id: str = Path(...), task_id: str = Path(...),
             server: ServerState = Depends(server_state)) -> Any:
    """One task of the DAG's latest version."""
    try:
        dag, task = api_dags.get_dag_task(server.dag_bag, dag_id, task_id)
    except api_dags.DagNotFound:
        raise _dag_not_found(dag_id) from None
    except api_dags.TaskNotFound:
        raise ApiError(404, f"Task with id {task_id} was not found") from None
    return task_response(task, dag)
