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
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from dagcore.api import common
from dagcore.api import dag_runs as api_runs
from dagcore.api.users import Action
from dagcore.server.auth import Principal, require
from dagcore.server.errors import ApiError
from dagcore.server.paging import effective_limit
from dagcore.server.state import ServerState, server_state
from dagcore.server.v2.dag_run_models import (
    DAGRunClearBody,
    DAGRunCollectionResponse,
    DAGRunPatchBody,
    DAGRunResponse,
    TaskInstanceCollectionResponse,
    TriggerDAGRunPostBody,
    dag_run_response,
    task_instance_response,
)
from dagcore.server.v2.dags import search_pattern

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/dags/{dag_id}/dagRuns", tags=["DagRun"])

# Airflow's DagRunState and DagRunType values, in their enums' order (the 422 texts list them).
_VALID_STATES: Final = ("queued", "running", "success", "failed")
_VALID_RUN_TYPES: Final = ("backfill", "scheduled", "manual", "asset_triggered")


def _aware_or_422(value: datetime | None, name: str, raw: str | None) -> datetime | None:
    """A query datetime must name its zone: Airflow would fail comparing a naive one with its
    UTC columns (a 500); dagcore answers pydantic 2's ``timezone_aware`` error instead."""
    if value is not None and value.utcoffset() is None:
        raise ApiError(422, [{"type": "timezone_aware", "loc": ["query", name],
                              "msg": "Input should have timezone info", "input": raw}])
    return value


def date_range(column: str) -> Callable[..., api_runs.DateRange]:
    """A dependency reading ``<column>_gte``, ``_gt``, ``_lte`` and ``_lt`` (Airflow's
    ``datetime_range_filter_factory``)."""

    def bounds(request: Request,
               gte: datetime | None = Query(None, alias=f"{column}_gte"),
               gt: datetime | None = Query(None, alias=f"{column}_gt"),
               lte: datetime | None = Query(None, alias=f"{column}_lte"),
               lt: datetime | None = Query(None, alias=f"{column}_lt")) -> api_runs.DateRange:
        def aware(value: datetime | None, suffix: str) -> datetime | None:
            name = f"{column}_{suffix}"
            return _aware_or_422(value, name, request.query_params.get(name))

        return api_runs.DateRange(gte=aware(gte, "gte"), gt=aware(gt, "gt"),
                                  lte=aware(lte, "lte"), lt=aware(lt, "lt"))

    return bounds


def _enum_values(values: list[str], valid: tuple[str, ...], what: str) -> list[str | None]:
    """Airflow's ``_transform_dag_run_states`` / ``_types``: ``none`` is NULL, anything else
    unknown → 422 listing the valid values."""
    if any(v not in valid and v != "none" for v in values):
        raise ApiError(422, f"Invalid value for {what}. Valid values are {', '.join(valid)}")
    return [None if v == "none" else v for v in values]


def _not_found(dag_id: str, run_id: str) -> ApiError:
    return ApiError(404, f"The DagRun with dag_id: `{dag_id}` and run_id: `{run_id}` was not "
                    f"found")


def _response(server: ServerState, run: common.DagRun) -> DAGRunResponse:
    return dag_run_response(run, api_runs.dag_versions_of(server.engine, run))


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
    offset: int = Query(0, ge=0),
    run_after: api_runs.DateRange = Depends(date_range("run_after")),
    logical_date: api_runs.DateRange = Depends(date_range("logical_date")),
    start_date: api_runs.DateRange = Depends(date_range("start_date")),
    end_date: api_runs.DateRange = Depends(date_range("end_date")),
    updated_at: api_runs.DateRange = Depends(date_range("updated_at")),
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
        states=_enum_values(state, _VALID_STATES, "state"),
        run_types=_enum_values(run_type, _VALID_RUN_TYPES, "run type"),
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
    return DAGRunCollectionResponse(dag_runs=[_response(server, run) for run in listing.runs],
                                    total_entries=listing.total)


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
    return _response(server, run)


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
