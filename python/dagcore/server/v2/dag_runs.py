"""``/api/v2/dags/{dag_id}/dagRuns``: list, get, trigger, patch, delete, clear.

Airflow 3 (``api_fastapi/core_api/routes/public/dag_run.py``, docs/airflow-rest-api.md B.2):
the list takes ``~`` for every DAG and answers 404 for an unknown one; its filters are the
``_gte``/``_gt``/``_lte``/``_lt`` bounds of run_after, logical_date, start_date, end_date and
updated_at (a run not started or ended yet counts as now there), repeated ``state`` and
``run_type`` (``none`` is NULL; an unknown value → 422 naming the valid ones), ``dag_version``
(version numbers), ``run_id_pattern`` and ``triggering_user_name_pattern`` (SQL ``LIKE``, ``~``
for all); ``order_by`` as GET /dags (unknown → 400). A trigger body is strict
with ``logical_date`` a required (nullable) key and answers 200; a duplicate run id or logical
date is a unique-constraint violation, 409 with ``_UniqueConstraintErrorHandler``'s body
(``statement``/``orig_error`` hidden, the ``message`` naming an id found in the server log);
a missing run is 404 "The DagRun with dag_id: `<d>` and run_id: `<r>` was not found"; DELETE
answers 204; clear with ``dry_run`` (the default) lists the task instances it would clear.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Response

from dagcore.api import common
from dagcore.api import dag_runs as api_runs
from dagcore.api import dags as api_dags
from dagcore.api.users import Action
from dagcore.server.auth import Principal, require
from dagcore.server.errors import ApiError
from dagcore.server.paging import MAX_OFFSET, effective_limit
from dagcore.server.serializers import rendered_json
from dagcore.server.state import ServerState, server_state
from dagcore.server.v2.dag_run_models import (
    DAGRunClearBody,
    DAGRunCollectionResponse,
    DAGRunPatchBody,
    DAGRunResponse,
    TaskInstanceCollectionResponse,
    TriggerDAGRunPostBody,
    dag_run_payload,
    dag_run_response,
    task_instance_response,
)
from dagcore.server.v2.parameters import (
    DAG_RUN_STATES,
    DAG_RUN_TYPES,
    date_range,
    enum_values,
    search_pattern,
)

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/dags/{dag_id}/dagRuns", tags=["DagRun"])


def _not_found(dag_id: str, run_id: str) -> ApiError:
    return ApiError(404, f"The DagRun with dag_id: `{dag_id}` and run_id: `{run_id}` was not "
                    f"found")


def _response(server: ServerState, run: common.DagRun) -> DAGRunResponse:
    return dag_run_response(run, api_runs.dag_versions_of(server.engine, run))


def _payloads(server: ServerState, runs: list[common.DagRun]) -> list[dict[str, Any]]:
    """A page of runs as ``DAGRunResponse`` JSON (``dag_run_payload``), each version read
    once: a page's runs mostly share a few versions, and one query per run made a 100-run page
    100 identical queries (benchmarks/api_bench.py)."""
    versions: dict[Any, list[dict[str, Any]]] = {}
    out = []
    for run in runs:
        key = run.created_dag_version_id
        if key not in versions:
            versions[key] = api_runs.dag_versions_of(server.engine, run)
        out.append(dag_run_payload(run, versions[key]))
    return out


def _unique_violation() -> ApiError:
    """Airflow 3's ``_UniqueConstraintErrorHandler`` body (statement and error hidden)."""
    error_id = uuid.uuid4()
    log.info("Unique constraint violation on dag_run; error id %s", error_id)
    return ApiError(409, {
        "reason": "Unique constraint violation", "statement": "hidden", "orig_error": "hidden",
        "message": "Serious error when handling your request. Check logs for more details - "
                   f"you will find it in api server when you look for ID {error_id}"})


@router.get("", response_model=DAGRunCollectionResponse,
            dependencies=[Depends(require(Action.READ))])
def get_dag_runs(
    dag_id: str = Path(...),
    limit: int | None = Query(None, ge=0),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    run_after: api_dags.DateRange = Depends(date_range("run_after")),
    logical_date: api_dags.DateRange = Depends(date_range("logical_date")),
    start_date: api_dags.DateRange = Depends(date_range("start_date")),
    end_date: api_dags.DateRange = Depends(date_range("end_date")),
    updated_at: api_dags.DateRange = Depends(date_range("updated_at")),
    run_type: list[str] = Query([]),
    state: list[str] = Query([]),
    dag_version: list[int] = Query([]),
    order_by: list[str] = Query(["id"]),
    run_id_pattern: str | None = Query(None),
    triggering_user_name_pattern: str | None = Query(None),
    server: ServerState = Depends(server_state),
) -> Any:
    """A page of the DAG's runs (``~``: every DAG's) and how many match."""
    filters = api_runs.RunFilters(
        states=enum_values(state, DAG_RUN_STATES, "state"),
        run_types=enum_values(run_type, DAG_RUN_TYPES, "run type"),
        dag_versions=dag_version, run_id_pattern=search_pattern(run_id_pattern),
        triggering_user_name_pattern=search_pattern(triggering_user_name_pattern),
        ranges={"run_after": run_after, "logical_date": logical_date, "start_date": start_date,
                "end_date": end_date, "updated_at": updated_at})
    if dag_id != "~" and not api_runs.dag_exists(server.engine, dag_id):
        raise ApiError(404, f"The Dag with ID: `{dag_id}` was not found")
    try:
        listing = api_runs.list_dag_runs(server.engine, None if dag_id == "~" else dag_id,
                                         limit=effective_limit(limit), offset=offset,
                                         filters=filters, order_by=order_by)
    except api_runs.InvalidOrderBy as exc:
        raise ApiError(400, str(exc)) from None
    return rendered_json({"dag_runs": _payloads(server, listing.runs),
                          "total_entries": listing.total})


@router.get("/{dag_run_id}", response_model=DAGRunResponse,
            dependencies=[Depends(require(Action.READ))])
def get_dag_run(dag_id: str = Path(...), dag_run_id: str = Path(...),
                server: ServerState = Depends(server_state)) -> Any:
    """One run."""
    try:
        return _response(server, api_runs.get_dag_run(server.engine, dag_id, dag_run_id))
    except api_runs.DagRunNotFound:
        raise _not_found(dag_id, dag_run_id) from None


@router.post("", response_model=DAGRunResponse)
def trigger_dag_run(body: TriggerDAGRunPostBody, dag_id: str = Path(...),
                    principal: Principal = Depends(require(Action.TRIGGER)),
                    server: ServerState = Depends(server_state)) -> Any:
    """Trigger a run (:func:`dagcore.api.common.trigger_dag`); 200 as Airflow 3 answers."""
    interval = (None if body.data_interval_start is None or body.data_interval_end is None
                else (body.data_interval_start, body.data_interval_end))
    try:
        run = common.trigger_dag(
            dag_id, run_id=body.dag_run_id, conf=body.conf, logical_date=body.logical_date,
            run_after=body.run_after, replace_microseconds=False, triggered_by="rest_api",
            triggering_user_name=principal.username, note=body.note, data_interval=interval,
            engine=server.engine, dag_bag=server.dag_bag)
    except common.DagNotFound:
        raise ApiError(404, f"DAG with dag_id: '{dag_id}' not found") from None
    except common.DagHasImportErrors:
        raise ApiError(400, f"DAG with dag_id: '{dag_id}' has import errors and cannot be "
                       f"triggered") from None
    except common.DagRunAlreadyExists:
        raise _unique_violation() from None
    except ValueError as exc:  # ParamValidationError too
        raise ApiError(400, str(exc)) from None
    return rendered_json(dag_run_payload(run, api_runs.dag_versions_of(server.engine, run)))


@router.patch("/{dag_run_id}", response_model=DAGRunResponse,
              dependencies=[Depends(require(Action.TRIGGER))])
def patch_dag_run(body: DAGRunPatchBody, dag_id: str = Path(...),
                  dag_run_id: str = Path(...), update_mask: list[str] | None = Query(None),
                  server: ServerState = Depends(server_state)) -> Any:
    """Set a run's state and/or note; ``update_mask`` limits which (unknown names are
    ignored, as Airflow 3 does); without it the fields sent apply."""
    sent = body.__fields_set__
    fields = set(update_mask) if update_mask is not None else sent
    kwargs: dict[str, Any] = {}
    if "state" in fields and body.state is not None:
        kwargs["state"] = body.state
    if "note" in fields:
        kwargs["note"] = body.note
    try:
        return _response(server, api_runs.patch_dag_run(server.engine, dag_id, dag_run_id,
                                                        **kwargs))
    except api_runs.DagRunNotFound:
        raise _not_found(dag_id, dag_run_id) from None


@router.delete("/{dag_run_id}", status_code=204, response_class=Response,
               dependencies=[Depends(require(Action.DELETE_RUN))])
def delete_dag_run(dag_id: str = Path(...), dag_run_id: str = Path(...),
                   server: ServerState = Depends(server_state)) -> Response:
    """Delete a run and its task instances."""
    try:
        api_runs.delete_dag_run(server.engine, dag_id, dag_run_id)
    except api_runs.DagRunNotFound:
        raise _not_found(dag_id, dag_run_id) from None
    return Response(status_code=204)


@router.post("/{dag_run_id}/clear",
             response_model=TaskInstanceCollectionResponse | DAGRunResponse,
             dependencies=[Depends(require(Action.CLEAR))])
def clear_dag_run(body: DAGRunClearBody, dag_id: str = Path(...),
                  dag_run_id: str = Path(...),
                  server: ServerState = Depends(server_state)) -> Any:
    """Clear a run (:func:`dagcore.api.common.clear_dag_runs`): with ``dry_run`` the task
    instances that would be cleared, else the run as it is then."""
    try:
        run = api_runs.get_dag_run(server.engine, dag_id, dag_run_id)
        cleared = common.clear_dag_runs(
            dag_id, run_ids=[dag_run_id], only_failed=body.only_failed, dry_run=body.dry_run,
            run_on_latest_version=body.run_on_latest_version, engine=server.engine,
            dag_bag=server.dag_bag)
        if body.dry_run:
            return TaskInstanceCollectionResponse(
                task_instances=[task_instance_response(ti, run) for ti in cleared],
                total_entries=len(cleared))
        return _response(server, api_runs.get_dag_run(server.engine, dag_id, dag_run_id))
    except (api_runs.DagRunNotFound, common.DagNotFound):
        raise _not_found(dag_id, dag_run_id) from None
