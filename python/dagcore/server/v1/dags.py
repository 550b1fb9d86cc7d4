"""``GET /api/v1/dags``, ``GET /api/v1/dags/{dag_id}``, ``PATCH /api/v1/dags/{dag_id}``.

Airflow 2.10 (``api_connexion/endpoints/dag_endpoint.py``, docs/airflow-rest-api.md A.1, A.2
8–10): ``limit`` (default 100, capped at ``[api] maximum_page_limit``, 0 means ``[api]
fallback_page_limit``, negative → 400 "Page limit must be a positive integer"), ``offset`` (≥ 0),
``order_by`` (only ``dag_id``), ``tags`` (any of), ``only_active`` (true), ``paused``,
``dag_id_pattern``. GET 404: title "DAG not found", detail "The DAG with dag_id: <d> was not
found". PATCH: only ``is_paused`` is writable (another DAG field → 400 "Property is read-only -
'<key>'", an unknown key → 400 "{'<key>': ['Unknown field.']}"); ``update_mask`` other than
``is_paused`` → 400; 404 title "Dag with id: '<d>' not found".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Query

from dagcore.api import dags as api_dags
from dagcore.api.users import Action
from dagcore.server.auth import require
from dagcore.server.errors import ApiError
from dagcore.server.paging import check_v1_offset, fallback_page_limit, maximum_page_limit
from dagcore.server.state import ServerState, server_state
from dagcore.server.v1.datamodels import DAG, DAGCollection, dag_v1

__all__ = ["router"]

router = APIRouter(prefix="/dags", tags=["DAG"])

V1_DEFAULT_LIMIT = 100
ONLY_IS_PAUSED = "Only `is_paused` field can be updated through the REST API"


def _limit(limit: int) -> int:
    if limit < 0:
        raise ApiError(400, None, title="Page limit must be a positive integer")
    return min(limit or fallback_page_limit(), maximum_page_limit())


@router.get("", response_model=DAGCollection, dependencies=[Depends(require(Action.READ))])
def get_dags(
    limit: int = Query(V1_DEFAULT_LIMIT),
    offset: int = Query(0),
    order_by: str = Query("dag_id"),
    tags: list[str] = Query([]),
    only_active: bool = Query(True),
    paused: bool | None = Query(None),
    dag_id_pattern: str | None = Query(None),
    server: ServerState = Depends(server_state),
) -> Any:
    """A page of DAGs and how many match."""
    check_v1_offset(offset)
    try:
        listing = api_dags.list_dags(
            server.engine, limit=_limit(limit), offset=offset, tags=tags,
            dag_id_pattern=dag_id_pattern, paused=paused, exclude_stale=only_active,
            order_by=[order_by], order_by_allowed=("dag_id",))
    except api_dags.InvalidOrderBy as exc:
        raise ApiError(400, str(exc)) from None
    return DAGCollection(dags=[dag_v1(info) for info in listing.dags],
                         total_entries=listing.total)


@router.get("/{dag_id}", response_model=DAG, dependencies=[Depends(require(Action.READ))])
def get_dag(dag_id: str = Path(...), server: ServerState = Depends(server_state)) -> Any:
    """One DAG."""
    try:
        return dag_v1(api_dags.get_dag_info(server.engine, dag_id))
    except api_dags.DagNotFound:
        raise ApiError(404, f"The DAG with dag_id: {dag_id} was not found",
                       title="DAG not found") from None


def _is_paused(body: dict[str, Any]) -> bool:
    """The body's ``is_paused``, checked as connexion and marshmallow check it."""
    for key in body:
        if key == "is_paused":
            continue
        if key in DAG.__fields__:
            raise ApiError(400, f"Property is read-only - '{key}'")
        raise ApiError(400, f"{{'{key}': ['Unknown field.']}}")
    if "is_paused" not in body:
        raise ApiError(400, "{'is_paused': ['Missing data for required field.']}")
    value = body["is_paused"]
    if not isinstance(value, bool):
        raise ApiError(400, f"{value!r} is not of type 'boolean' - 'is_paused'")
    return value


@router.patch("/{dag_id}", response_model=DAG, dependencies=[Depends(require(Action.PAUSE))])
def patch_dag(body: dict[str, Any] = Body(...), dag_id: str = Path(...),
              update_mask: list[str] | None = Query(None),
              server: ServerState = Depends(server_state)) -> Any:
    """Pause or unpause a DAG."""
    if update_mask is not None:
        fields = [f.strip() for item in update_mask for f in item.split(",")]
        if fields != ["is_paused"]:
            raise ApiError(400, ONLY_IS_PAUSED)
    paused = _is_paused(body)
    try:
        api_dags.set_dag_paused(server.engine, dag_id, paused)
        return dag_v1(api_dags.get_dag_info(server.engine, dag_id))
    except api_dags.DagNotFound:
        raise ApiError(404, None, title=f"Dag with id: '{dag_id}' not found") from None
