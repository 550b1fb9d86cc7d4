"""``/api/v1/dags/{dag_id}/dagRuns``: Airflow 2.10's list, get, trigger, patch, delete, clear.

Airflow 2.10 (``api_connexion/endpoints/dag_run_endpoint.py``, docs/airflow-rest-api.md A.1-A.3):
problem+json errors, ``+00:00`` datetimes, ``limit`` 100 capped at ``[api]
maximum_page_limit``; an unknown DAG lists no runs (200); a trigger answers 200, and a duplicate
409 with one of two messages (same logical date, else same run id); a body key that is
read-only → 400 "Property is read-only - '<key>'", an unknown one → 400 "{'<key>': ['Unknown
field.']}".

Deviations (issue 13, documented): (2) a trigger with ``start_date``, ``end_date`` or ``state``
adds to Airflow's 400 how to run a date range, the backfill endpoint; (3) DELETE of an id that is
no run id but an ISO datetime equal to a run's logical date deletes that run (Airflow: 404).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from dagcore.api import common
from dagcore.api import dag_runs as api_runs
from dagcore.api.users import Action
from dagcore.server.auth import Principal, require
from dagcore.server.errors import ApiError
from dagcore.server.paging import check_v1_offset, fallback_page_limit, maximum_page_limit
from dagcore.server.state import ServerState, server_state
from dagcore.server.v1.dag_run_models import (
    DAGRun,
    DAGRunCollection,
    TaskInstanceReferenceCollection,
    dag_run_v1,
    task_instance_reference,
)

__all__ = ["router"]

router = APIRouter(prefix="/dags/{dag_id}/dagRuns", tags=["DAGRun"])

V1_DEFAULT_LIMIT = 100
# v1's order_by names → dagcore's columns (dag_run_endpoint.py's allowed list).
_ORDER_BY: Final = {"id": "id", "state": "state", "dag_id": "dag_id",
                    "execution_date": "logical_date", "dag_run_id": "run_id",
                    "start_date": "start_date", "end_date": "end_date",
                    "updated_at": "updated_at", "external_trigger": "run_type", "conf": "conf"}
_WRITABLE: Final = ("dag_run_id", "logical_date", "execution_date", "data_interval_start",
                    "data_interval_end", "conf", "note")
_READ_ONLY: Final = ("dag_id", "start_date", "end_date", "last_scheduling_decision",
                     "run_type", "state", "external_trigger")
BACKFILL_HINT: Final = ("To run a DAG over a date range, create a backfill: POST "
                        "/api/v2/backfills with dag_id, from_date and to_date.")
_SETTABLE: Final = ["success", "failed", "queued"]


def _limit(limit: int) -> int:
    if limit < 0:
        raise ApiError(400, None, title="Page limit must be a positive integer")
    return min(limit or fallback_page_limit(), maximum_page_limit())


def _query_datetime(value: str | None) -> datetime | None:
    """A query datetime as connexion reads it: a space back to "+" (a client that did not
    encode it), then ISO 8601; naive means UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError:
        raise ApiError(400, f"Invalid datetime: {value!r}",
                       title="Incorrect datetime argument") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _not_found_detail(dag_id: str, run_id: str) -> str:
    return f"DAGRun with DAG ID: '{dag_id}' and DagRun ID: '{run_id}' not found"


@router.get("", response_model=DAGRunCollection, dependencies=[Depends(require(Action.READ))])
def get_dag_runs(
    dag_id: str = Path(...),
    limit: int = Query(V1_DEFAULT_LIMIT),
    offset: int = Query(0),
    execution_date_gte: str | None = Query(None),
    execution_date_lte: str | None = Query(None),
    start_date_gte: str | None = Query(None),
    start_date_lte: str | None = Query(None),
    end_date_gte: str | None = Query(None),
    end_date_lte: str | None = Query(None),
    updated_at_gte: str | None = Query(None),
    updated_at_lte: str | None = Query(None),
    state: list[str] = Query([]),
    order_by: str = Query("id"),
    server: ServerState = Depends(server_state),
) -> Any:
    """A page of the DAG's runs (``~``: every DAG's); an unknown DAG has none."""
    check_v1_offset(offset)
    name = order_by[1:] if order_by.startswith("-") else order_by
    if name not in _ORDER_BY:
        raise ApiError(400, f"Ordering with '{name}' is disallowed or the attribute does not "
                            f"exist on the model")
    column = ("-" if order_by.startswith("-") else "") + _ORDER_BY[name]
    states = [s.strip() for item in state for s in item.split(",") if s.strip()]
    bounds = (("logical_date", execution_date_gte, execution_date_lte),
              ("start_date", start_date_gte, start_date_lte),
              ("end_date", end_date_gte, end_date_lte),
              ("updated_at", updated_at_gte, updated_at_lte))
    filters = api_runs.RunFilters(states=states, coalesce_open_dates=False, ranges={
        column: api_runs.DateRange(gte=_query_datetime(low), lte=_query_datetime(high))
        for column, low, high in bounds})
    listing = api_runs.list_dag_runs(server.engine, None if dag_id == "~" else dag_id,
                                     limit=_limit(limit), offset=offset, filters=filters,
                                     order_by=[column])
    return DAGRunCollection(dag_runs=[dag_run_v1(run) for run in listing.runs],
                            total_entries=listing.total)


@router.get("/{dag_run_id}", response_model=DAGRun,
            dependencies=[Depends(require(Action.READ))])
def get_dag_run(dag_id: str = Path(...), dag_run_id: str = Path(...),
                server: ServerState = Depends(server_state)) -> Any:
    """One run."""
    try:
        return dag_run_v1(api_runs.get_dag_run(server.engine, dag_id, dag_run_id))
    except api_runs.DagRunNotFound:
        raise ApiError(404, _not_found_detail(dag_id, dag_run_id),
                       title="DAGRun not found") from None


# -- trigger --------------------------------------------------------------------------------------


def _body_datetime(body: dict[str, Any], key: str) -> datetime | None:
    """A ``format: date-time`` body field: null, or an aware ISO 8601 string (connexion's
    message otherwise)."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{value!r} is not of type 'string' - '{key}'")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ApiError(400, f"'{value}' is not a 'date-time' - '{key}'")
    return parsed


def _check_trigger_body(body: dict[str, Any]) -> None:
    """Connexion's then marshmallow's checks of a ``DAGRun`` body (A.1, A.2 1)."""
    for key in body:
        if key in _READ_ONLY:
            detail = f"Property is read-only - '{key}'"
            if key in ("start_date", "end_date", "state"):
                detail = f"{detail}. {BACKFILL_HINT}"  # deviation 2 of issue 13
            raise ApiError(400, detail)
    for key, kind, name in (("dag_run_id", str, "string"), ("note", str, "string"),
                            ("conf", dict, "object")):
        value = body.get(key)
        if value is not None and not isinstance(value, kind):
            raise ApiError(400, f"{value!r} is not of type '{name}' - '{key}'")
    for key in body:
        if key not in _WRITABLE:
            raise ApiError(400, f"{{'{key}': ['Unknown field.']}}")


def _conflict(dag_id: str, exc: common.DagRunAlreadyExists,
              logical_date: datetime | None) -> ApiError:
    """Airflow 2's two 409 messages: the same logical date first, else the same run id."""
    existing = exc.dag_run
    if logical_date is not None and existing.logical_date == logical_date:
        when = existing.logical_date.astimezone(UTC).isoformat(sep=" ")
        return ApiError(409, f"DAGRun with DAG ID: '{dag_id}' and DAGRun logical date: "
                             f"'{when}' already exists")
    return ApiError(409, f"DAGRun with DAG ID: '{dag_id}' and DAGRun ID: "
                         f"'{existing.run_id}' already exists")


@router.post("", response_model=DAGRun)
def post_dag_run(body: dict[str, Any] = Body(...), dag_id: str = Path(...),
                 principal: Principal = Depends(require(Action.TRIGGER)),
                 server: ServerState = Depends(server_state)) -> Any:
    """Trigger a run (:func:`dagcore.api.common.trigger_dag`); 200 as Airflow 2 answers."""
    _check_trigger_body(body)
    logical = _body_datetime(body, "logical_date")
    execution = _body_datetime(body, "execution_date")
    start = _body_datetime(body, "data_interval_start")
    end = _body_datetime(body, "data_interval_end")
    if logical is not None and execution is not None and logical != execution:
        raise ApiError(400, f"'{body['logical_date']}' != '{body['execution_date']}'",
                       title="logical_date conflicts with execution_date")
    if (start is None) != (end is None):
        raise ApiError(400, "{'_schema': [\"Both 'data_interval_start' and "
                            "'data_interval_end' must be specified together\"]}")
    when = (logical or execution or datetime.now(UTC)).astimezone(UTC)
    try:
        run = common.trigger_dag(
            dag_id, run_id=body.get("dag_run_id"), conf=body.get("conf"), logical_date=when,
            replace_microseconds=False, triggered_by="rest_api",
            triggering_user_name=principal.username, note=body.get("note"),
            data_interval=None if start is None or end is None else (start, end),
            engine=server.engine, dag_bag=server.dag_bag)
    except common.DagNotFound:
        raise ApiError(404, f"DAG with dag_id: '{dag_id}' not found",
                       title="DAG not found") from None
    except common.DagHasImportErrors:
        raise ApiError(400, f"DAG with dag_id: '{dag_id}' has import errors",
                       title="DAG cannot be triggered") from None
    except common.DagRunAlreadyExists as exc:
        raise _conflict(dag_id, exc, when) from None
    except ValueError as exc:  # ParamValidationError too
        raise ApiError(400, str(exc)) from None
    return dag_run_v1(run)


# -- patch, delete, clear -------------------------------------------------------------------------


@router.patch("/{dag_run_id}", response_model=DAGRun,
              dependencies=[Depends(require(Action.TRIGGER))])
def update_dag_run_state(body: dict[str, Any] = Body(...), dag_id: str = Path(...),
                         dag_run_id: str = Path(...),
                         server: ServerState = Depends(server_state)) -> Any:
    """Set a run's state: success, failed or queued."""
    state = body.get("state")
    if state not in _SETTABLE:
        raise ApiError(400, f"{state!r} is not one of {_SETTABLE} - 'state'")
    for key in body:
        if key != "state":
            raise ApiError(400, f"{{'{key}': ['Unknown field.']}}")
    try:
        return dag_run_v1(api_runs.patch_dag_run(server.engine, dag_id, dag_run_id,
                                                 state=state))
    except api_runs.DagRunNotFound:
        raise ApiError(404, None, title=f"Dag Run id {dag_run_id} not found in dag "
                                        f"{dag_id}") from None


def _run_at(server: ServerState, dag_id: str, text: str) -> str | None:
    """Deviation 3: the id of the run whose logical date ``text`` (ISO 8601; naive is UTC)
    names, None when ``text`` is no datetime or no run has it."""
    try:
        when = datetime.fromisoformat(text.replace(" ", "+"))
    except ValueError:
        return None
    when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return api_runs.run_id_at_logical_date(server.engine, dag_id, when.astimezone(UTC))


@router.delete("/{dag_run_id}", status_code=204, response_class=Response,
               dependencies=[Depends(require(Action.DELETE_RUN))])
def delete_dag_run(dag_id: str = Path(...), dag_run_id: str = Path(...),
                   server: ServerState = Depends(server_state)) -> Response:
    """Delete a run (or, deviation 3, the run at the logical date the id names)."""
    try:
        api_runs.delete_dag_run(server.engine, dag_id, dag_run_id)
    except api_runs.DagRunNotFound:
        run_id = _run_at(server, dag_id, dag_run_id)
        try:
            if run_id is None:
                raise
            api_runs.delete_dag_run(server.engine, dag_id, run_id)
        except api_runs.DagRunNotFound:
            raise ApiError(404, _not_found_detail(dag_id, dag_run_id),
                           title="Not Found") from None
    return Response(status_code=204)


@router.post("/{dag_run_id}/clear",
             response_model=TaskInstanceReferenceCollection | DAGRun,
             dependencies=[Depends(require(Action.CLEAR))])
def clear_dag_run(body: dict[str, Any] = Body(...), dag_id: str = Path(...),
                  dag_run_id: str = Path(...),
                  server: ServerState = Depends(server_state)) -> Any:
    """Clear a run: ``dry_run`` (default true) lists what would be cleared."""
    dry_run = body.get("dry_run", True)
    if not isinstance(dry_run, bool):
        raise ApiError(400, f"{dry_run!r} is not of type 'boolean' - 'dry_run'")
    for key in body:
        if key != "dry_run":
            raise ApiError(400, f"{{'{key}': ['Unknown field.']}}")
    missing = ApiError(404, None, title=f"Dag Run id {dag_run_id} not found in dag   {dag_id}")
    try:
        run = api_runs.get_dag_run(server.engine, dag_id, dag_run_id)
        cleared = common.clear_dag_runs(dag_id, run_ids=[dag_run_id], dry_run=dry_run,
                                        engine=server.engine, dag_bag=server.dag_bag)
        if dry_run:
            return TaskInstanceReferenceCollection(
                task_instances=[task_instance_reference(ti, run) for ti in cleared])
        return dag_run_v1(api_runs.get_dag_run(server.engine, dag_id, dag_run_id))
    except (api_runs.DagRunNotFound, common.DagNotFound):
        raise missing from None
