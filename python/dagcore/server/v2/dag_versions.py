"""``GET /api/v2/dags/{dag_id}/dagVersions`` (and ``/{version_number}``),
``GET /api/v2/dagSources/{dag_id}`` and ``GET /api/v2/dagTags``.

Airflow 3 (``core_api/routes/public/dag_versions.py``, ``dag_sources.py``, ``dag_tags.py``;
docs/airflow-rest-api.md, "UI endpoints" 1, 2 and 4) over :mod:`dagcore.api.ui`: versions are
listed by ``id`` unless ``order_by`` says otherwise (an unknown field → 400 with Airflow's
text); a missing DAG is 404 "The Dag with ID: `<d>` was not found" as the other DAG routes
say; a missing version 404 naming the DAG and the number. A source is the stored file text of
a version (the latest without ``version_number``), as JSON or, with ``Accept: text/plain``, as
the text itself. Tags are the distinct names, ``tag_name_pattern`` a ``LIKE`` substring (``~``:
all).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from dagcore.api import ui as api_ui
from dagcore.api.common import DagNotFound
from dagcore.api.users import Action
from dagcore.server.auth import require
from dagcore.server.errors import ApiError
from dagcore.server.paging import MAX_OFFSET, effective_limit
from dagcore.server.serializers import V2Model
from dagcore.server.state import ServerState, server_state
from dagcore.server.v2.dag_run_models import DagVersionResponse
from dagcore.server.v2.parameters import search_pattern

__all__ = ["router"]

router = APIRouter(tags=["DagVersion"])


class DAGVersionCollectionResponse(V2Model):
    dag_versions: list[DagVersionResponse]
    total_entries: int


class DAGSourceResponse(V2Model):
    content: str | None
    dag_id: str
    version_number: int | None
    dag_display_name: str


class DAGTagCollectionResponse(V2Model):
    tags: list[str]
    total_entries: int


def _dag_not_found(dag_id: str) -> ApiError:
    return ApiError(404, f"The Dag with ID: `{dag_id}` was not found")


def _version(row: dict[str, Any], name: str) -> DagVersionResponse:
    return DagVersionResponse(id=uuid.UUID(str(row["id"])), version_number=row["version_number"],
                              dag_id=row["dag_id"], bundle_name=row["bundle_name"],
                              bundle_version=row["bundle_version"],
                              created_at=row["created_at"], dag_display_name=name)


@router.get("/dags/{dag_id}/dagVersions", response_model=DAGVersionCollectionResponse,
            dependencies=[Depends(require(Action.READ))])
def get_dag_versions(dag_id: str = Path(...), limit: int | None = Query(None, ge=0),
                     offset: int = Query(0, ge=0, le=MAX_OFFSET),
                     order_by: list[str] = Query(["id"]),
                     server: ServerState = Depends(server_state)) -> Any:
    """A page of the DAG's versions and how many it has."""
    try:
        rows, total, name = api_ui.list_dag_versions(
            server.engine, dag_id, limit=effective_limit(limit), offset=offset,
            order_by=order_by)
    except DagNotFound:
        raise _dag_not_found(dag_id) from None
    except api_ui.InvalidOrderBy as exc:
        raise ApiError(400, str(exc)) from None
    return DAGVersionCollectionResponse(dag_versions=[_version(r, name) for r in rows],
                                        total_entries=total)


@router.get("/dags/{dag_id}/dagVersions/{version_number}", response_model=DagVersionResponse,
            dependencies=[Depends(require(Action.READ))])
def get_dag_version(dag_id: str = Path(...), version_number: int = Path(...),
                    server: ServerState = Depends(server_state)) -> Any:
    """One version of the DAG."""
    try:
        row, name = api_ui.get_dag_version(server.engine, dag_id, version_number)
    except DagNotFound:
        raise _dag_not_found(dag_id) from None
    except api_ui.DagVersionNotFound as exc:
        raise ApiError(404, str(exc)) from None
    return _version(row, name)


def _wants_text(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/plain" in accept and "application/json" not in accept


@router.get("/dagSources/{dag_id}", response_model=DAGSourceResponse, tags=["DagSource"],
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
            dependencies=[Depends(require(Action.READ))])
def get_dag_source(request: Request, dag_id: str = Path(...),
                   version_number: int | None = Query(None, ge=1),
                   server: ServerState = Depends(server_state)) -> Any:
    """The DAG file's text of a version (the latest without ``version_number``)."""
    try:
        source = api_ui.get_dag_source(server.engine, dag_id, version_number)
    except DagNotFound:
        raise _dag_not_found(dag_id) from None
    except api_ui.DagVersionNotFound as exc:
        raise ApiError(404, str(exc)) from None
    if _wants_text(request):
        return Response(source.content or "", media_type="text/plain; charset=utf-8")
    return DAGSourceResponse(content=source.content, dag_id=source.dag_id,
                             version_number=source.version_number,
                             dag_display_name=source.dag_display_name)


@router.get("/dagTags", response_model=DAGTagCollectionResponse, tags=["DAG"],
            dependencies=[Depends(require(Action.READ))])
def get_dag_tags(limit: int | None = Query(None, ge=0), offset: int = Query(0, ge=0, le=MAX_OFFSET),
                 order_by: list[str] = Query(["name"]),
                 tag_name_pattern: str | None = Query(None),
                 server: ServerState = Depends(server_state)) -> Any:
    """A page of the distinct tag names and how many match."""
    try:
        names, total = api_ui.list_dag_tags(
            server.engine, limit=effective_limit(limit), offset=offset, order_by=order_by,
            tag_name_pattern=search_pattern(tag_name_pattern))
    except api_ui.InvalidOrderBy as exc:
        raise ApiError(400, str(exc)) from None
    return DAGTagCollectionResponse(tags=names, total_entries=total)
