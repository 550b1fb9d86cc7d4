"""``/api/v2`` assets: ``/assets``, ``/assets/aliases``, ``/assets/events``, the queue
(``/assets/{id}/queuedEvents``, ``/dags/{dag_id}/assets/...queuedEvents``), materialize, and
``/dags/{dag_id}/dagRuns/{run_id}/upstreamAssetEvents``.

Airflow 3 (``api_fastapi/core_api/routes/public/assets.py``, docs/airflow-rest-api.md B.4).
The SQL is :mod:`dagcore.api.assets`'; this module parses the query and renders the answer.
The fixed paths (``/assets/aliases``, ``/assets/events``) are declared before
``/assets/{asset_id}`` so that they are not read as an id. Reading needs ``read``; creating an
event and materializing ``trigger`` (both start runs); deleting queued events ``clear`` (it
drops pending triggers, as clearing drops a run's progress). A missing asset, alias, run or
queued event is 404 with Airflow's text naming the id; a bad ``order_by`` 400; a bad
``before`` 400 naming the value; a body or parameter of the wrong type 422.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Response

from dagcore.api import assets as api_assets
from dagcore.api import common
from dagcore.api import dag_runs as api_runs
from dagcore.api.dags import DateRange
from dagcore.api.users import Action
from dagcore.server.auth import Principal, require
from dagcore.server.errors import ApiError
from dagcore.server.paging import MAX_OFFSET, effective_limit
from dagcore.server.serializers import rendered_json
from dagcore.server.state import ServerState, server_state
from dagcore.server.v2.asset_models import (
    AssetAliasCollectionResponse,
    AssetAliasResponse,
    AssetCollectionResponse,
    AssetEventCollectionResponse,
    AssetEventResponse,
    AssetResponse,
    CreateAssetEventsBody,
    QueuedEventCollectionResponse,
    QueuedEventResponse,
    alias_response,
    asset_response,
    event_response,
    queued_event_response,
)
from dagcore.server.v2.dag_run_models import DAGRunResponse, dag_run_payload
from dagcore.server.v2.parameters import date_range, search_pattern

__all__ = ["router"]

router = APIRouter(tags=["Asset"])

# SQL's OFFSET is a 64-bit integer on both backends: a larger one is 422, not a driver error.


def _before(value: str | None) -> datetime | None:
    """Airflow's ``OptionalDateTimeQuery``: ISO 8601, a naive value is UTC; anything else is
    400 naming it."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ApiError(400, f"Invalid datetime: {value!r}. Please check the date parameter "
                       f"have this value.") from None
    return parsed.replace(tzinfo=UTC) if parsed.utcoffset() is None else parsed


def _dag_ids(values: list[str] | None) -> list[str] | None:
    """``dag_ids`` repeated or comma-separated (``dag_ids=a,b``), as Airflow reads them."""
    if values and len(values) == 1 and "," in values[0]:
        return [v for v in values[0].split(",") if v]
    return values


@router.get("/assets", response_model=AssetCollectionResponse,
            dependencies=[Depends(require(Action.READ))])
def get_assets(limit: int | None = Query(None, ge=0), offset: int = Query(0, ge=0, le=MAX_OFFSET),
               name_pattern: str | None = Query(None), uri_pattern: str | None = Query(None),
               dag_ids: list[str] | None = Query(None), only_active: bool = Query(True),
               order_by: list[str] = Query(["id"]),
               server: ServerState = Depends(server_state)) -> Any:
    """A page of assets with their references and newest event."""
    try:
        listing = api_assets.list_assets(
            server.engine, limit=effective_limit(limit), offset=offset,
            name_pattern=search_pattern(name_pattern), uri_pattern=search_pattern(uri_pattern),
            dag_ids=_dag_ids(dag_ids), only_active=only_active, order_by=order_by)
    except api_assets.InvalidOrderBy as exc:
        raise ApiError(400, str(exc)) from None
    return AssetCollectionResponse(assets=[asset_response(a) for a in listing.items],
                                   total_entries=listing.total)


@router.get("/assets/aliases", response_model=AssetAliasCollectionResponse,
            dependencies=[Depends(require(Action.READ))])
def get_asset_aliases(limit: int | None = Query(None, ge=0),
                      offset: int = Query(0, ge=0, le=MAX_OFFSET),
                      name_pattern: str | None = Query(None),
                      order_by: list[str] = Query(["id"]),
                      server: ServerState = Depends(server_state)) -> Any:
    """A page of asset aliases."""
    try:
        listing = api_assets.list_aliases(
            server.engine, limit=effective_limit(limit), offset=offset,
            name_pattern=search_pattern(name_pattern), order_by=order_by)
    except api_assets.InvalidOrderBy as exc:
        raise ApiError(400, str(exc)) from None
    return AssetAliasCollectionResponse(
        asset_aliases=[alias_response(a) for a in listing.items], total_entries=listing.total)


@router.get("/assets/aliases/{asset_alias_id}", response_model=AssetAliasResponse,
            dependencies=[Depends(require(Action.READ))])
def get_asset_alias(asset_alias_id: int = Path(...),
                    server: ServerState = Depends(server_state)) -> Any:
    """One asset alias."""
    try:
        return alias_response(api_assets.get_alias(server.engine, asset_alias_id))
    except api_assets.AssetAliasNotFound as exc:
        raise ApiError(404, str(exc)) from None


@router.get("/assets/events", response_model=AssetEventCollectionResponse,
            dependencies=[Depends(require(Action.READ))])
def get_asset_events(limit: int | None = Query(None, ge=0),
                     offset: int = Query(0, ge=0, le=MAX_OFFSET),
                     order_by: list[str] = Query(["timestamp"]),
                     asset_id: int | None = Query(None),
                     source_dag_id: str | None = Query(None),
                     source_task_id: str | None = Query(None),
                     source_run_id: str | None = Query(None),
                     source_map_index: int | None = Query(None),
                     name_pattern: str | None = Query(None),
                     timestamp: DateRange = Depends(date_range("timestamp")),
                     server: ServerState = Depends(server_state)) -> Any:
    """A page of asset events, each with the runs that consumed it."""
    filters = api_assets.EventFilters(
        asset_id=asset_id, source_dag_id=source_dag_id, source_task_id=source_task_id,
        source_run_id=source_run_id, source_map_index=source_map_index,
        name_pattern=search_pattern(name_pattern), timestamp=timestamp)
    try:
        listing = api_assets.list_asset_events(server.engine, limit=effective_limit(limit),
                                               offset=offset, filters=filters,
                                               order_by=order_by)
    except api_assets.InvalidOrderBy as exc:
        raise ApiError(400, str(exc)) from None
    return AssetEventCollectionResponse(
        asset_events=[event_response(e) for e in listing.items], total_entries=listing.total)


@router.post("/assets/events", response_model=AssetEventResponse,
             dependencies=[Depends(require(Action.TRIGGER))])
def create_asset_event(body: CreateAssetEventsBody,
                       server: ServerState = Depends(server_state)) -> Any:
    """Record an event of the asset (``extra`` gets ``from_rest_api: true``, as Airflow's) and
    queue its consumers; the scheduler then creates their asset-triggered runs."""
    extra = {**body.extra, "from_rest_api": True}
    try:
        return event_response(api_assets.create_asset_event(server.engine, body.asset_id,
                                                            extra))
    except api_assets.AssetNotFound as exc:
        raise ApiError(404, str(exc)) from None


@router.post("/assets/{asset_id}/materialize", response_model=DAGRunResponse)
def materialize_asset(asset_id: int = Path(...),
                      principal: Principal = Depends(require(Action.TRIGGER)),
                      server: ServerState = Depends(server_state)) -> Any:
    """Trigger the one DAG producing the asset: 404 when none (or no such asset), 409 when
    several."""
    try:
        run = api_assets.materialize_asset(
            server.engine, asset_id=asset_id, triggered_by="rest_api",
            triggering_user_name=principal.username, dag_bag=server.dag_bag)
    except (api_assets.AssetNotFound, api_assets.NoProducingDag) as exc:
        raise ApiError(404, str(exc)) from None
    except api_assets.SeveralProducingDags as exc:
        raise ApiError(409, str(exc)) from None
    except common.DagNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except ValueError as exc:  # import errors, a bad run id
        raise ApiError(400, str(exc)) from None
    return rendered_json(dag_run_payload(run, api_runs.dag_versions_of(server.engine, run)))


def _queued_collection(events: list[api_assets.QueuedEvent]) -> QueuedEventCollectionResponse:
    return QueuedEventCollectionResponse(
        queued_events=[queued_event_response(e) for e in events], total_entries=len(events))


@router.get("/assets/{asset_id}/queuedEvents", response_model=QueuedEventCollectionResponse,
            dependencies=[Depends(require(Action.READ))])
def get_asset_queued_events(asset_id: int = Path(...), before: str | None = Query(None),
                            server: ServerState = Depends(server_state)) -> Any:
    """The queue rows of an asset (one per consuming DAG waiting on it)."""
    events = api_assets.list_queued_events(server.engine, asset_id=asset_id,
                                           before=_before(before))
    if not events:
        raise ApiError(404, f"Queue event with asset_id: `{asset_id}` was not found")
    return _queued_collection(events)


@router.delete("/assets/{asset_id}/queuedEvents", status_code=204, response_class=Response,
               dependencies=[Depends(require(Action.CLEAR))])
def delete_asset_queued_events(asset_id: int = Path(...), before: str | None = Query(None),
                               server: ServerState = Depends(server_state)) -> Response:
    """Delete the queue rows of an asset."""
    try:
        api_assets.delete_queued_events(server.engine, asset_id=asset_id,
                                        before=_before(before))
    except api_assets.QueuedEventNotFound:
        raise ApiError(404, f"Queue event with asset_id: `{asset_id}` was not found") from None
    return Response(status_code=204)


@router.get("/assets/{asset_id}", response_model=AssetResponse,
            dependencies=[Depends(require(Action.READ))])
def get_asset(asset_id: int = Path(...), server: ServerState = Depends(server_state)) -> Any:
    """One asset with its references and newest event."""
    try:
        return asset_response(api_assets.get_asset(server.engine, asset_id))
    except api_assets.AssetNotFound as exc:
        raise ApiError(404, str(exc)) from None


@router.get("/dags/{dag_id}/assets/queuedEvents", response_model=QueuedEventCollectionResponse,
            dependencies=[Depends(require(Action.READ))])
def get_dag_asset_queued_events(dag_id: str = Path(...), before: str | None = Query(None),
                                server: ServerState = Depends(server_state)) -> Any:
    """The queue rows of a DAG (the assets it has an event of since its last asset-triggered
    run)."""
    events = api_assets.list_queued_events(server.engine, dag_id=dag_id,
                                           before=_before(before))
    if not events:
        raise ApiError(404, f"Queue event with dag_id: `{dag_id}` was not found")
    return _queued_collection(events)


@router.delete("/dags/{dag_id}/assets/queuedEvents", status_code=204, response_class=Response,
               dependencies=[Depends(require(Action.CLEAR))])
def delete_dag_asset_queued_events(dag_id: str = Path(...), before: str | None = Query(None),
                                   server: ServerState = Depends(server_state)) -> Response:
    """Delete the queue rows of a DAG."""
    try:
        api_assets.delete_queued_events(server.engine, dag_id=dag_id, before=_before(before))
    except api_assets.QueuedEventNotFound:
        raise ApiError(404, f"Queue event with dag_id: `{dag_id}` was not found") from None
    return Response(status_code=204)


def _one_missing(dag_id: str, asset_id: int) -> ApiError:
    return ApiError(404, f"Queued event with dag_id: `{dag_id}` and asset_id: `{asset_id}` was "
                    f"not found")


@router.get("/dags/{dag_id}/assets/{asset_id}/queuedEvents", response_model=QueuedEventResponse,
            dependencies=[Depends(require(Action.READ))])
def get_dag_asset_queued_event(dag_id: str = Path(...), asset_id: int = Path(...),
                               before: str | None = Query(None),
                               server: ServerState = Depends(server_state)) -> Any:
    """The queue row of one DAG and asset."""
    events = api_assets.list_queued_events(server.engine, dag_id=dag_id, asset_id=asset_id,
                                           before=_before(before))
    if not events:
        raise _one_missing(dag_id, asset_id)
    return queued_event_response(events[0])


@router.delete("/dags/{dag_id}/assets/{asset_id}/queuedEvents", status_code=204,
               response_class=Response, dependencies=[Depends(require(Action.CLEAR))])
def delete_dag_asset_queued_event(dag_id: str = Path(...), asset_id: int = Path(...),
                                  before: str | None = Query(None),
                                  server: ServerState = Depends(server_state)) -> Response:
    """Delete the queue row of one DAG and asset."""
    try:
        api_assets.delete_queued_events(server.engine, dag_id=dag_id, asset_id=asset_id,
                                        before=_before(before))
    except api_assets.QueuedEventNotFound:
        raise _one_missing(dag_id, asset_id) from None
    return Response(status_code=204)


@router.get("/dags/{dag_id}/dagRuns/{dag_run_id}/upstreamAssetEvents",
            response_model=AssetEventCollectionResponse, tags=["DagRun"],
            dependencies=[Depends(require(Action.READ))])
def get_upstream_asset_events(dag_id: str = Path(...), dag_run_id: str = Path(...),
                              server: ServerState = Depends(server_state)) -> Any:
    """The events an asset-triggered run consumed (none for another run)."""
    try:
        events = api_assets.upstream_asset_events(server.engine, dag_id, dag_run_id)
    except api_assets.DagRunNotFound as exc:
        raise ApiError(404, str(exc)) from None
    return AssetEventCollectionResponse(asset_events=[event_response(e) for e in events],
                                        total_entries=len(events))
