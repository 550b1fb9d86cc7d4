"""``GET /api/v2/dags``, ``GET /api/v2/dags/{dag_id}``, ``PATCH /api/v2/dags/{dag_id}``.

Airflow 3 (``core_api/routes/public/dags.py``, ``common/parameters.py``, docs/airflow-rest-api.md
B.2): filters ``tags`` (with ``tags_match_mode`` any|all), ``owners``, ``dag_id_pattern`` and
``dag_display_name_pattern`` (SQL ``LIKE`` substrings; ``~`` means every DAG),
``exclude_stale`` (true), ``paused``, ``has_import_errors``, ``bundle_name``,
``bundle_version``, and on the latest started run ``last_dag_run_state`` (a DagRunState, else
422), ``dag_run_state`` (repeated) and the ``dag_run_start_date_*`` / ``dag_run_end_date_*``
bounds; ``order_by`` (a list,
``-`` for descending; an unknown field or more than 10 → 400); ``limit`` (default ``[api]
fallback_page_limit``, capped at ``[api] maximum_page_limit``, negative → 422) and ``offset``
(≥ 0). 404 texts: "The Dag with ID: `<d>` was not found" (GET), "Dag with id: <d> was not
found" (PATCH); a PATCH ``update_mask`` other than exactly ``is_paused`` → 400 "Only
`is_paused` field can be updated through the REST API".

``GET /api/v2/dags/{dag_id}/details`` (``get_dag_details``): the DAG's latest version through
the server's DAG bag (its cache) plus its ``dag`` row, as ``DAGDetailsResponse``; 404 "The Dag
with ID: `<d>` was not found" when either is missing.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from dagcore.api import dags as api_dags
from dagcore.api.users import Action
from dagcore.server.auth import require
from dagcore.server.errors import ApiError
from dagcore.server.paging import MAX_OFFSET, effective_limit
from dagcore.server.state import ServerState, server_state
from dagcore.server.v2.datamodels import (
    DAGCollectionResponse,
    DAGDetailsResponse,
    DAGPatchBody,
    DAGResponse,
    dag_details_response,
    dag_response,
)
from dagcore.server.v2.parameters import DAG_RUN_STATES, date_range, enum_values, search_pattern
from dagcore.state import DagRunState

__all__ = ["router"]

router = APIRouter(prefix="/dags", tags=["DAG"])

ONLY_IS_PAUSED = "Only `is_paused` field can be updated through the REST API"


@router.get("", response_model=DAGCollectionResponse,
            dependencies=[Depends(require(Action.READ))])
def get_dags(
    limit: int | None = Query(None, ge=0),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    tags: list[str] = Query([]),
    tags_match_mode: Literal["any", "all"] | None = Query(None),
    owners: list[str] = Query([]),
    dag_id_pattern: str | None = Query(None),
    dag_display_name_pattern: str | None = Query(None),
    exclude_stale: bool = Query(True),
    paused: bool | None = Query(None),
    has_import_errors: bool | None = Query(None),
    last_dag_run_state: DagRunState | None = Query(None),
    dag_run_state: list[str] = Query([]),
    dag_run_start_date: api_dags.DateRange = Depends(date_range("dag_run_start_date")),
    dag_run_end_date: api_dags.DateRange = Depends(date_range("dag_run_end_date")),
    bundle_name: str | None = Query(None),
    bundle_version: str | None = Query(None),
    order_by: list[str] = Query(["dag_id"]),
    server: ServerState = Depends(server_state),
) -> Any:
    """A page of DAGs and how many match."""
    try:
        listing = api_dags.list_dags(
            server.engine, limit=effective_limit(limit), offset=offset, tags=tags,
            tags_match_any=tags_match_mode != "all", owners=owners,
            dag_id_pattern=search_pattern(dag_id_pattern),
            dag_display_name_pattern=search_pattern(dag_display_name_pattern),
            paused=paused, exclude_stale=exclude_stale, has_import_errors=has_import_errors,
            bundle_name=bundle_name, bundle_version=bundle_version,
            last_dag_run_state=None if last_dag_run_state is None else last_dag_run_state.value,
            dag_run_states=enum_values(dag_run_state, DAG_RUN_STATES, "state"),
            dag_run_start_date=dag_run_start_date, dag_run_end_date=dag_run_end_date,
            order_by=order_by)
    except api_dags.InvalidOrderBy as exc:
        raise ApiError(400, str(exc)) from None
    return DAGCollectionResponse(dags=[dag_response(info) for info in listing.dags],
                                 total_entries=listing.total)


@router.get("/{dag_id}", response_model=DAGResponse,
            dependencies=[Depends(require(Action.READ))])
def get_dag(dag_id: str = Path(...), server: ServerState = Depends(server_state)) -> Any:
    """One DAG."""
    try:
        return dag_response(api_dags.get_dag_info(server.engine, dag_id))
    except api_dags.DagNotFound:
        raise ApiError(404, f"The Dag with ID: `{dag_id}` was not found") from None


@router.get("/{dag_id}/details", response_model=DAGDetailsResponse,
            dependencies=[Depends(require(Action.READ))])
def get_dag_details(dag_id: str = Path(...),
                    server: ServerState = Depends(server_state)) -> Any:
    """One DAG with its latest version's settings (through the DAG cache)."""
    try:
        details = api_dags.get_dag_details(server.engine, server.dag_bag, dag_id)
    except api_dags.DagNotFound:
        raise ApiError(404, f"The Dag with ID: `{dag_id}` was not found") from None
    return dag_details_response(details)


@router.patch("/{dag_id}", response_model=DAGResponse,
              dependencies=[Depends(require(Action.PAUSE))])
def patch_dag(body: DAGPatchBody, dag_id: str = Path(...),
              update_mask: list[str] | None = Query(None),
              server: ServerState = Depends(server_state)) -> Any:
    """Pause or unpause a DAG."""
    if update_mask is not None and update_mask != ["is_paused"]:
        raise ApiError(400, ONLY_IS_PAUSED)
    try:
        api_dags.set_dag_paused(server.engine, dag_id, body.is_paused)
        return dag_response(api_dags.get_dag_info(server.engine, dag_id))
    except api_dags.DagNotFound:
        raise ApiError(404, f"Dag with id: {dag_id} was not found") from None
