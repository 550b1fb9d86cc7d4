"""``/ui``: the endpoints only the web UI uses, each answering one page in one request.

docs/airflow-rest-api.md, "UI endpoints" 6-8 (Airflow 3 has UI-private routes of the same
purpose under ``/ui``, ``core_api/routes/ui``; these are dagcore's shapes):

* ``GET /ui/dags``: ``GET /api/v2/dags``'s parameters and DAG objects, each with its newest
  ``dag_runs_limit`` runs (``latest_dag_runs``, newest first by ``run_after``), plus how many
  import errors there are; two queries for the DAGs, one for all their runs;
* ``GET /ui/grid/{dag_id}``: the latest version's task tree, a page of runs (newest first) and a
  cell per run and task (:func:`dagcore.api.ui.grid`);
* ``GET /ui/backfills``: backfills newest first with ``keep_dag_paused`` and their progress;
* ``GET /ui/dependencies?node_id=``: the asset dependency graph in Airflow 3's shape (nodes and
  edges, producer DAG -> asset -> consumer DAG), whole or around one node
  (:func:`dagcore.api.asset_graph.dependency_graph`; "UI endpoints" 10);
* ``GET /ui/dags/{dag_id}/assets``: the DAG's schedule condition as a tree (each asset with its
  last event and queue state) and the assets its tasks produce ("UI endpoints" 11).

Same tokens, errors and datetime format as ``/api/v2`` (the routes use its helpers); unknown
DAG: 404 "The Dag with ID: `<d>` was not found"; bad query values 400/422 with a ``detail``;
a malformed ``node_id`` 400 and one naming nothing 404, each naming the value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from dagcore.api import asset_graph as api_asset_graph
from dagcore.api import dags as api_dags
from dagcore.api import ui as api_ui
from dagcore.api.common import DagNotFound
from dagcore.api.users import Action
from dagcore.server.auth import require
from dagcore.server.errors import ApiError
from dagcore.server.paging import MAX_OFFSET, effective_limit
from dagcore.server.serializers import V2Model, iso_z, rendered_json
from dagcore.server.v2.backfill_models import BackfillResponse, backfill_response
from dagcore.server.v2.datamodels import DAGResponse, dag_response
from dagcore.server.v2.parameters import (
    DAG_RUN_STATES,
    DAG_RUN_TYPES,
    enum_values,
    search_pattern,
)
from dagcore.server.state import ServerState, server_state
from dagcore.state import DagRunState

__all__ = ["PREFIX", "router"]

PREFIX = "/ui"
MAX_DAG_RUNS_LIMIT = 30
MAX_GRID_LIMIT = 1000

router = APIRouter(prefix=PREFIX, tags=["UI"])


class DagRunSummary(V2Model):
    run_id: str
    dag_id: str
    state: str
    run_type: str
    logical_date: datetime | None
    run_after: datetime
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None


class UIDagResponse(DAGResponse):
    latest_dag_runs: list[DagRunSummary]


class UIDagCollectionResponse(V2Model):
    dags: list[UIDagResponse]
    total_entries: int
    import_errors_count: int


class GridNode(V2Model):
    id: str
    label: str
    type: Literal["task", "group"]
    is_mapped: bool
    operator: str | None
    children: list[GridNode] | None


GridNode.update_forward_refs()


class GridRun(V2Model):
    run_id: str
    state: str
    run_type: str
    logical_date: datetime | None
    run_after: datetime
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    dag_version_number: int | None
    note: str | None


class MappedCell(V2Model):
    state: str
    counts: dict[str, int]


class GridResponse(V2Model):
    dag_id: str
    structure: list[GridNode]
    task_ids: list[str]
    runs: list[GridRun]
    cells: list[list[MappedCell | str | None]]
    total_runs: int


class BackfillProgressResponse(V2Model):
    total: int
    by_state: dict[str, int]
    done: int


class UIBackfillResponse(BackfillResponse):
    keep_dag_paused: bool
    progress: BackfillProgressResponse


class UIBackfillCollectionResponse(V2Model):
    backfills: list[UIBackfillResponse]
    total_entries: int


def _z(value: datetime | None) -> str | None:
    return None if value is None else iso_z(value)


def _run_dates(run: dict[str, Any]) -> dict[str, Any]:
    start, end = run["start_date"], run["end_date"]
    return {"logical_date": _z(run["logical_date"]), "run_after": iso_z(run["run_after"]),
            "start_date": _z(start), "end_date": _z(end),
            "duration": (end - start).total_seconds() if start and end else None}


def _not_found(dag_id: str) -> ApiError:
    return ApiError(404, f"The Dag with ID: `{dag_id}` was not found")


@router.get("/dags", response_model=UIDagCollectionResponse,
            dependencies=[Depends(require(Action.READ))])
def get_ui_dags(
    limit: int | None = Query(None, ge=0),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    tags: list[str] = Query([]),
    tags_match_mode: Literal["any", "all"] | None = Query(None),
    owners: list[str] = Query([]),
    dag_id_pattern: str | None = Query(None),
    dag_display_name_pattern: str | None = Query(None),
    exclude_stale: bool = Query(True),
    paused: bool | None = Query(None),
    last_dag_run_state: DagRunState | None = Query(None),
    order_by: list[str] = Query(["dag_id"]),
    dag_runs_limit: int = Query(1, ge=0, le=MAX_DAG_RUNS_LIMIT),
    server: ServerState = Depends(server_state),
) -> Any:
    """A page of DAGs, each with its latest runs, and the number of import errors."""
    try:
        listing = api_dags.list_dags(
            server.engine, limit=effective_limit(limit), offset=offset, tags=tags,
            tags_match_any=tags_match_mode != "all", owners=owners,
            dag_id_pattern=search_pattern(dag_id_pattern),
            dag_display_name_pattern=search_pattern(dag_display_name_pattern),
            paused=paused, exclude_stale=exclude_stale,
            last_dag_run_state=None if last_dag_run_state is None else last_dag_run_state.value,
            order_by=order_by)
    except api_dags.InvalidOrderBy as exc:
        raise ApiError(400, str(exc)) from None
    runs = api_ui.latest_runs(server.engine, [info["dag_id"] for info in listing.dags],
                              dag_runs_limit)
    dags = []
    for info in listing.dags:
        body = dag_response(info).dict()
        for key, value in body.items():
            if isinstance(value, datetime):
                body[key] = iso_z(value)
        body["latest_dag_runs"] = [
            {"run_id": r["run_id"], "dag_id": r["dag_id"], "state": r["state"],
             "run_type": r["run_type"], **_run_dates(r)} for r in runs[info["dag_id"]]]
        dags.append(body)
    return rendered_json({"dags": dags, "total_entries": listing.total,
                          "import_errors_count": api_ui.import_errors_count(server.engine)})


@router.get("/grid/{dag_id}", response_model=GridResponse,
            dependencies=[Depends(require(Action.READ))])
def get_grid(dag_id: str = Path(...), limit: int = Query(25, ge=1, le=MAX_GRID_LIMIT),
             offset: int = Query(0, ge=0, le=MAX_OFFSET), run_type: list[str] = Query([]),
             state: list[str] = Query([]),
             server: ServerState = Depends(server_state)) -> Any:
    """The runs x tasks grid of a page of the DAG's runs."""
    try:
        found = api_ui.grid(server.engine, server.dag_bag, dag_id, limit=limit, offset=offset,
                            run_types=enum_values(run_type, DAG_RUN_TYPES, "run type"),
                            states=enum_values(state, DAG_RUN_STATES, "state"))
    except DagNotFound:
        raise _not_found(dag_id) from None
    runs = [{"run_id": r["run_id"], "state": r["state"], "run_type": r["run_type"],
             **_run_dates(r), "dag_version_number": r["dag_version_number"], "note": r["note"]}
            for r in found.runs]
    return rendered_json({"dag_id": found.dag_id, "structure": found.structure,
                          "task_ids": found.task_ids, "runs": runs, "cells": found.cells,
                          "total_runs": found.total_runs})


@router.get("/backfills", response_model=UIBackfillCollectionResponse,
            dependencies=[Depends(require(Action.READ))])
def get_ui_backfills(dag_id: str | None = Query(None), limit: int | None = Query(None, ge=0),
                     offset: int = Query(0, ge=0, le=MAX_OFFSET), active: bool | None = Query(None),
                     server: ServerState = Depends(server_state)) -> Any:
    """A page of backfills (of ``dag_id`` if given), newest first, with their progress."""
    names: dict[str, str] = {}
    if dag_id is not None:
        try:
            with server.engine.connect() as conn:
                names[dag_id] = api_dags.dag_display_name(conn, dag_id)
        except DagNotFound:
            raise _not_found(dag_id) from None
    page, total = api_ui.list_backfills_with_progress(
        server.engine, dag_id=dag_id, limit=effective_limit(limit), offset=offset, active=active)
    out = []
    for item in page:
        b = item.backfill
        if b.dag_id not in names:
            names[b.dag_id] = server.display_name(b.dag_id)
        out.append(UIBackfillResponse(
            **backfill_response(b, names[b.dag_id]).dict(), keep_dag_paused=b.keep_dag_paused,
            progress=BackfillProgressResponse(total=item.total, by_state=item.by_state,
                                              done=item.done)))
    return UIBackfillCollectionResponse(backfills=out, total_entries=total)


class GraphNode(V2Model):
    id: str
    label: str
    type: Literal["dag", "asset", "asset-alias", "asset-name-ref", "asset-uri-ref"]


class GraphEdge(V2Model):
    source_id: str
    target_id: str


class BaseGraphResponse(V2Model):
    nodes: list[GraphNode]
    edges: list[GraphEdge]


class AssetEventSummary(V2Model):
    id: int
    timestamp: datetime
    source_dag_id: str | None
    source_task_id: str | None
    source_run_id: str | None
    source_map_index: int | None


class AssetLeaf(V2Model):
    type: Literal["asset"]
    id: int | None
    name: str
    uri: str
    group: str
    last_event: AssetEventSummary | None
    queued_at: datetime | None


class AssetConditionNode(V2Model):
    """One node of a schedule condition: ``all``/``any`` with ``children``, an ``asset`` (the
    :class:`AssetLeaf` fields), an ``alias`` or an ``asset_ref`` with the ``assets`` it
    resolves to and whether any of them is ``queued`` for the DAG."""

    type: Literal["all", "any", "asset", "alias", "asset_ref"]
    children: list[AssetConditionNode] | None
    id: int | None
    name: str | None
    uri: str | None
    group: str | None
    last_event: AssetEventSummary | None
    queued_at: datetime | None
    assets: list[AssetLeaf] | None
    queued: bool | None


AssetConditionNode.update_forward_refs()


class ProducedAsset(AssetConditionNode):
    task_ids: list[str]


class DagAssetsResponse(V2Model):
    dag_id: str
    dag_display_name: str
    condition: AssetConditionNode | None
    produces: list[ProducedAsset]


def _dates(value: Any) -> Any:
    """``value`` with every datetime written as v2 does (``...Z``)."""
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, dict):
        return {key: _dates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dates(item) for item in value]
    return value


@router.get("/dependencies", response_model=BaseGraphResponse,
            dependencies=[Depends(require(Action.READ))])
def get_dependencies(node_id: str | None = Query(None),
                     server: ServerState = Depends(server_state)) -> Any:
    """The asset dependency graph (producer DAG -> asset -> consumer DAG), whole or the
    connected part around ``node_id`` (``dag:<id>``, ``asset:<id>``, ``asset-alias:<name>``,
    ...)."""
    try:
        graph = api_asset_graph.dependency_graph(server.engine, node_id)
    except api_asset_graph.InvalidNodeId as exc:
        raise ApiError(400, str(exc)) from None
    except DagNotFound:
        raise _not_found((node_id or "").partition(":")[2]) from None
    except api_asset_graph.NodeNotFound as exc:
        raise ApiError(404, str(exc)) from None
    return rendered_json(graph)


@router.get("/dags/{dag_id}/assets", response_model=DagAssetsResponse,
            dependencies=[Depends(require(Action.READ))])
def get_dag_assets(dag_id: str = Path(...), server: ServerState = Depends(server_state)) -> Any:
    """The DAG's schedule condition (each asset with its last event and whether it is queued
    for this DAG) and the assets its tasks produce."""
    try:
        found = api_asset_graph.dag_assets(server.engine, server.dag_bag, dag_id)
    except DagNotFound:
        raise _not_found(dag_id) from None
    return rendered_json(_dates({"dag_id": found.dag_id,
                                 "dag_display_name": found.dag_display_name,
                                 "condition": found.condition, "produces": found.produces}))
