"""Task instances on ``/api/v2``: ``GET /dags/{dag_id}/dagRuns/{run_id}/taskInstances``,
``GET`` and ``PATCH .../taskInstances/{task_id}`` (and ``PATCH .../{task_id}/dry_run``), and
``POST /dags/{dag_id}/clearTaskInstances``.

PATCH (Airflow 3.1+, ``patch_task_instance``): ``new_state`` success|failed|skipped (else 422
"'<s>' is not one of [...]"), ``include_upstream``/``include_downstream``; answers the changed
instances as a collection; 404 "Task '<t>' not found in DAG '<d>'"; 409 "Task id <t> is already
in <s> state". dagcore keeps no task-instance notes and sets states within one run: ``note``,
``include_future`` and ``include_past`` are refused with 400 naming the field.

Airflow 3 (``core_api/routes/public/task_instances.py``, docs/airflow-rest-api.md B.2): lists
page with ``limit``/``offset``, filter ``state`` (repeatable, ``no_status`` for none) and
``task_id``, ``order_by`` (default ``map_index``; an unknown field → 400); 404 "The DagRun with
dag_id: `<d>` and run_id: `<r>` was not found" and "The Task Instance with dag_id: `<d>`,
run_id: `<r>`, task_id: `<t>` and map_index: `-1` was not found". clearTaskInstances answers
``{"task_instances": [...], "total_entries"}`` for a dry run and a real one alike; 404 "Dag Run
id <r> not found in dag <d>", "The Dag with ID: `<d>` was not found" (3.2's
``get_latest_version_of_dag``); 400 for include_past/include_future with a dag_run_id.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query

from dagcore.api import common as api_common
from dagcore.api import dags as api_dags
from dagcore.api import task_instances as api_tis
from dagcore.api.users import Action
from dagcore.server.auth import require
from dagcore.server.errors import ApiError
from dagcore.server.paging import MAX_OFFSET, effective_limit
from dagcore.server.state import ServerState, server_state
from dagcore.server.v2.task_instance_models import (
    ClearTaskInstancesBody,
    PatchTaskInstanceBody,
    TaskInstanceCollectionResponse,
    TaskInstanceResponse,
    task_instance_response,
)

__all__ = ["router"]

router = APIRouter(prefix="/dags/{dag_id}", tags=["Task Instance"])

PAST_FUTURE_WITH_RUN = ("Cannot use include_past or include_future when dag_run_id is provided "
                        "because logical_date is not applicable.")


@router.get("/dagRuns/{dag_run_id}/taskInstances",
            response_model=TaskInstanceCollectionResponse,
            dependencies=[Depends(require(Action.READ))])
def get_task_instances(dag_id: str = Path(...), dag_run_id: str = Path(...),
                       limit: int | None = Query(None, ge=0),
                       offset: int = Query(0, ge=0, le=MAX_OFFSET),
                       state: list[str] = Query([]), task_id: str | None = Query(None),
                       order_by: list[str] = Query(["map_index"]),
                       server: ServerState = Depends(server_state)) -> Any:
    """A page of the run's task instances and how many match; ``~`` for the DAG and/or the
    run lists every DAG's / run's (Airflow 3)."""
    try:
        listing = api_tis.list_task_instances(
            server.engine, None if dag_id == "~" else dag_id,
            None if dag_run_id == "~" else dag_run_id, limit=effective_limit(limit),
            offset=offset, states=[s for item in state for s in item.split(",") if s],
            task_id=task_id, order_by=order_by)
    except (api_common.DagRunNotFound, api_common.DagNotFound) as exc:
        raise ApiError(404, str(exc)) from None
    except (api_tis.InvalidTaskInstanceOrder, api_tis.InvalidTaskInstanceState) as exc:
        raise ApiError(400, str(exc)) from None
    dag_ids = sorted({info.ti.dag_id for info in listing.task_instances})
    names = (api_dags.display_names(server.engine, dag_ids) if len(dag_ids) > 1 else
             {dag_id: server.display_name(dag_id) for dag_id in dag_ids})
    return TaskInstanceCollectionResponse(
        task_instances=[task_instance_response(i, names[i.ti.dag_id])
                        for i in listing.task_instances],
        total_entries=listing.total)


@router.get("/dagRuns/{dag_run_id}/taskInstances/{task_id}/listMapped",
            response_model=TaskInstanceCollectionResponse,
            dependencies=[Depends(require(Action.READ))])
def get_mapped_task_instances(dag_id: str = Path(...), dag_run_id: str = Path(...),
                              task_id: str = Path(...), limit: int | None = Query(None, ge=0),
                              offset: int = Query(0, ge=0, le=MAX_OFFSET),
                              state: list[str] = Query([]),
                              order_by: list[str] = Query(["map_index"]),
                              server: ServerState = Depends(server_state)) -> Any:
    """A page of a mapped task's instances in the run (Airflow 3's ``listMapped``): 404 "Task
    id <t> is not mapped" for a task that is not, "Task id <t> not found" for none."""
    try:
        listing = api_tis.list_task_instances(
            server.engine, dag_id, dag_run_id, limit=effective_limit(limit), offset=offset,
            states=[s for item in state for s in item.split(",") if s], task_id=task_id,
            order_by=order_by, mapped_only=True)
    except api_common.DagRunNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except (api_tis.InvalidTaskInstanceOrder, api_tis.InvalidTaskInstanceState) as exc:
        raise ApiError(400, str(exc)) from None
    if not listing.total:
        dag = server.dag_bag.get_latest_version_of_dag(dag_id)
        task = None if dag is None else dag.task_dict.get(task_id)
        if task is None:
            raise ApiError(404, f"Task id {task_id} not found")
        if not task.is_mapped:
            raise ApiError(404, f"Task id {task_id} is not mapped")
    name = server.display_name(dag_id)
    return TaskInstanceCollectionResponse(
        task_instances=[task_instance_response(i, name) for i in listing.task_instances],
        total_entries=listing.total)


@router.get("/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}",
            response_model=TaskInstanceResponse, dependencies=[Depends(require(Action.READ))])
def get_mapped_task_instance(dag_id: str = Path(...), dag_run_id: str = Path(...),
                             task_id: str = Path(...), map_index: int = Path(...),
                             server: ServerState = Depends(server_state)) -> Any:
    """One instance of a mapped task (by its map index)."""
    try:
        info = api_tis.get_task_instance(server.engine, dag_id, dag_run_id, task_id, map_index)
    except (api_common.DagRunNotFound, api_tis.TaskInstanceNotFound) as exc:
        raise ApiError(404, str(exc)) from None
    return task_instance_response(info, server.display_name(dag_id))


@router.get("/dagRuns/{dag_run_id}/taskInstances/{task_id}",
            response_model=TaskInstanceResponse, dependencies=[Depends(require(Action.READ))])
def get_task_instance(dag_id: str = Path(...), dag_run_id: str = Path(...),
                      task_id: str = Path(...),
                      server: ServerState = Depends(server_state)) -> Any:
    """One (unmapped) task instance."""
    try:
        info = api_tis.get_task_instance(server.engine, dag_id, dag_run_id, task_id)
    except (api_common.DagRunNotFound, api_tis.TaskInstanceNotFound) as exc:
        raise ApiError(404, str(exc)) from None
    return task_instance_response(info, server.display_name(dag_id))


@router.post("/clearTaskInstances", response_model=TaskInstanceCollectionResponse,
             dependencies=[Depends(require(Action.CLEAR))])
def clear_task_instances(body: ClearTaskInstancesBody, dag_id: str = Path(...),
                         server: ServerState = Depends(server_state)) -> Any:
    """Clear (or, by default, list as a dry run) task instances of the DAG."""
    if body.dag_run_id is not None and (body.include_past or body.include_future):
        raise ApiError(400, PAST_FUTURE_WITH_RUN)
    task_ids, map_indexes = body.task_names_and_map_indexes()
    try:
        cleared = api_common.clear_task_instances(
            dag_id, task_ids=task_ids, map_indexes=map_indexes, run_id=body.dag_run_id,
            start_date=None if body.include_past else body.start_date,
            end_date=None if body.include_future else body.end_date,
            only_failed=body.only_failed, only_running=body.only_running,
            include_upstream=body.include_upstream,
            include_downstream=body.include_downstream, dry_run=body.dry_run,
            dag_run_state="queued" if body.reset_dag_runs else None,
            run_on_latest_version=body.run_on_latest_version, engine=server.engine,
            dag_bag=server.dag_bag)
    except api_common.DagNotFound:
        raise ApiError(404, f"The Dag with ID: `{dag_id}` was not found") from None
    except api_common.DagRunNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    name = server.display_name(dag_id)
    infos = api_tis.with_run_dates(server.engine, cleared)
    return TaskInstanceCollectionResponse(
        task_instances=[task_instance_response(i, name) for i in infos],
        total_entries=len(infos))


def _patch(server: ServerState, dag_id: str, dag_run_id: str, task_id: str,
           body: PatchTaskInstanceBody, update_mask: list[str] | None,
           dry_run: bool) -> Any:
    """Airflow 3's patch: the fields sent (only those in ``update_mask`` when given) apply;
    ``note`` is set when sent non-null or named in the mask (Airflow's
    ``_patch_task_instance_note``). A dry run changes nothing, the note included."""
    fields = set(body.__fields_set__)
    if update_mask:
        fields &= set(update_mask)
    for flag in ("include_future", "include_past"):
        if getattr(body, flag):
            raise ApiError(400, f"'{flag}' is not supported: dagcore sets task-instance states "
                                f"within one run")
    name = server.display_name(dag_id)
    try:
        changed = None
        if "new_state" in fields and body.new_state is not None:
            changed = api_tis.set_task_instance_state(
                server.engine, server.dag_bag, dag_id, dag_run_id, task_id, body.new_state,
                upstream=body.include_upstream, downstream=body.include_downstream,
                dry_run=dry_run)
            if not changed and not dry_run:
                raise ApiError(409, f"Task id {task_id} is already in {body.new_state} state")
        if "note" in fields and (update_mask or body.note is not None) and not dry_run:
            noted = api_tis.set_task_instance_note(server.engine, dag_id, dag_run_id, task_id,
                                                   body.note)
            changed = noted if changed is None else changed
    except (api_common.DagNotFound, api_common.DagRunNotFound, api_tis.TaskNotFound,
            api_tis.TaskInstanceNotFound) as exc:
        raise ApiError(404, str(exc)) from None
    if changed is None:
        return get_task_instances(dag_id, dag_run_id, limit=None, offset=0, state=[],
                                  task_id=task_id, order_by=["map_index"], server=server)
    infos = api_tis.with_run_dates(server.engine, changed)
    return TaskInstanceCollectionResponse(
        task_instances=[task_instance_response(i, name) for i in infos],
        total_entries=len(infos))


@router.patch("/dagRuns/{dag_run_id}/taskInstances/{task_id}",
              response_model=TaskInstanceCollectionResponse,
              dependencies=[Depends(require(Action.CLEAR))])
def patch_task_instance(body: PatchTaskInstanceBody, dag_id: str = Path(...),
                        dag_run_id: str = Path(...), task_id: str = Path(...),
                        update_mask: list[str] | None = Query(None),
                        server: ServerState = Depends(server_state)) -> Any:
    """Set a task instance's state (and its relatives', as asked) and/or its note."""
    return _patch(server, dag_id, dag_run_id, task_id, body, update_mask, dry_run=False)


@router.patch("/dagRuns/{dag_run_id}/taskInstances/{task_id}/dry_run",
              response_model=TaskInstanceCollectionResponse,
              dependencies=[Depends(require(Action.CLEAR))])
def patch_task_instance_dry_run(body: PatchTaskInstanceBody, dag_id: str = Path(...),
                                dag_run_id: str = Path(...), task_id: str = Path(...),
                                update_mask: list[str] | None = Query(None),
                                server: ServerState = Depends(server_state)) -> Any:
    """The task instances a PATCH would change, unchanged."""
    return _patch(server, dag_id, dag_run_id, task_id, body, update_mask, dry_run=True)
