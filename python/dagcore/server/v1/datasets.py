"""``/api/v1/datasets...``: Airflow 2.10's dataset endpoints over dagcore's assets.

Airflow 2.10 (``api_connexion/endpoints/dataset_endpoint.py``, docs/airflow-rest-api.md B.4
"Airflow 2"): a dataset is named by its URI (percent-encoded in the path); problem+json errors,
``+00:00`` datetimes, ``limit`` 100 capped at ``[api] maximum_page_limit``, a negative limit or
offset 400, one ``order_by``. The SQL is :mod:`dagcore.api.assets`' (shared with ``/api/v2``):
an event created here queues the asset's consumers as a task's event does. Deviations: of
several assets sharing a URI (dagcore's assets are unique by name and URI), ``GET
/datasets/{uri}`` and ``POST /datasets/events`` use the oldest; ``total_entries`` of ``GET
/datasets`` counts the matching datasets (Airflow 2 counts them all, whatever the filters); a
body without ``dataset_uri`` is 400 (Airflow 2: a 500).
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from dagcore.api import assets as api_assets
from dagcore.api.users import Action
from dagcore.server.auth import require
from dagcore.server.errors import ApiError
from dagcore.server.paging import check_v1_offset, fallback_page_limit, maximum_page_limit
from dagcore.server.state import ServerState, server_state
from dagcore.server.v1.dag_runs import _query_datetime
from dagcore.server.v1.dataset_models import (
    Dataset,
    DatasetCollection,
    DatasetEvent,
    DatasetEventCollection,
    QueuedEventV1,
    QueuedEventV1Collection,
    dataset_event_v1,
    dataset_v1,
    queued_event_v1,
)

__all__ = ["router"]

router = APIRouter(tags=["Dataset"])

V1_DEFAULT_LIMIT = 100
_DATASET_ORDER: Final = ("id", "uri", "created_at", "updated_at")
_EVENT_ORDER: Final = ("source_dag_id", "source_task_id", "source_run_id", "source_map_index",
                       "timestamp")


def _paging(limit: int, offset: int) -> tuple[int, int]:
    if limit < 0:
        raise ApiError(400, None, title="Page limit must be a positive integer")
    check_v1_offset(offset)
    return min(limit or fallback_page_limit(), maximum_page_limit()), offset


def _order(order_by: str, allowed: tuple[str, ...]) -> list[str]:
    name = order_by[1:] if order_by.startswith("-") else order_by
    if name not in allowed:
        raise ApiError(400, f"Ordering with '{name}' is disallowed or the attribute does not "
                            f"exist on the model")
    return [order_by]


def _queue_missing(detail: str) -> ApiError:
    return ApiError(404, detail, title="Queue event not found")


@router.get("/datasets", response_model=DatasetCollection,
            dependencies=[Depends(require(Action.READ))])
def get_datasets(limit: int = Query(V1_DEFAULT_LIMIT), offset: int = Query(0),
                 uri_pattern: str | None = Query(None), dag_ids: str | None = Query(None),
                 order_by: str = Query("id"),
                 server: ServerState = Depends(server_state)) -> Any:
    """A page of datasets (every asset, active or not)."""
    limit, offset = _paging(limit, offset)
    listing = api_assets.list_assets(
        server.engine, limit=limit, offset=offset, uri_pattern=uri_pattern,
        dag_ids=[d for d in dag_ids.split(",") if d] if dag_ids else None, only_active=False,
        order_by=_order(order_by, _DATASET_ORDER))
    return DatasetCollection(datasets=[dataset_v1(a) for a in listing.items],
                             total_entries=listing.total)


@router.get("/datasets/events", response_model=DatasetEventCollection,
            dependencies=[Depends(require(Action.READ))])
def get_dataset_events(limit: int = Query(V1_DEFAULT_LIMIT), offset: int = Query(0),
                       order_by: str = Query("timestamp"), dataset_id: int | None = Query(None),
                       source_dag_id: str | None = Query(None),
                       source_task_id: str | None = Query(None),
                       source_run_id: str | None = Query(None),
                       source_map_index: int | None = Query(None),
                       server: ServerState = Depends(server_state)) -> Any:
    """A page of dataset events."""
    limit, offset = _paging(limit, offset)
    filters = api_assets.EventFilters(
        asset_id=dataset_id, source_dag_id=source_dag_id, source_task_id=source_task_id,
        source_run_id=source_run_id, source_map_index=source_map_index)
    listing = api_assets.list_asset_events(server.engine, limit=limit, offset=offset,
                                           filters=filters,
                                           order_by=_order(order_by, _EVENT_ORDER))
    return DatasetEventCollection(dataset_events=[dataset_event_v1(e) for e in listing.items],
                                  total_entries=listing.total)


def _create_body(body: Any) -> tuple[str, dict[str, Any]]:
    """``{dataset_uri, extra}`` as marshmallow would load it (400 naming the bad key)."""
    if not isinstance(body, dict):
        raise ApiError(400, "{'_schema': ['Invalid input type.']}")
    for key in body:
        if key not in ("dataset_uri", "extra"):
            raise ApiError(400, f"{{'{key}': ['Unknown field.']}}")
    uri = body.get("dataset_uri")
    if not isinstance(uri, str):
        raise ApiError(400, "{'dataset_uri': ['Missing data for required field.']}"
                       if uri is None else "{'dataset_uri': ['Not a valid string.']}")
    extra = body.get("extra") or {}
    if not isinstance(extra, dict):
        raise ApiError(400, "{'extra': ['Not a valid mapping type.']}")
    return uri, extra


@router.post("/datasets/events", response_model=DatasetEvent,
             dependencies=[Depends(require(Action.TRIGGER))])
def create_dataset_event(body: Any = Body(None),
                         server: ServerState = Depends(server_state)) -> Any:
    """Record an event of the dataset (``extra`` gets ``from_rest_api: true``) and queue its
    consumers."""
    uri, extra = _create_body(body)
    not_found = ApiError(404, f"Dataset with uri: '{uri}' not found", title="Dataset not found")
    try:
        asset = api_assets.asset_by_uri(server.engine, uri)
        event = api_assets.create_asset_event(server.engine, asset.id,
                                              {**extra, "from_rest_api": True})
    except api_assets.AssetNotFound:
        raise not_found from None
    return dataset_event_v1(event)


@router.get("/datasets/queuedEvent/{uri:path}", response_model=QueuedEventV1Collection,
            dependencies=[Depends(require(Action.READ))])
def get_dataset_queued_events(uri: str = Path(...), before: str | None = Query(None),
                              server: ServerState = Depends(server_state)) -> Any:
    events = api_assets.list_queued_events(server.engine, uri=uri,
                                           before=_query_datetime(before))
    if not events:
        raise _queue_missing(f"Queue event with dataset uri: `{uri}` was not found")
    return QueuedEventV1Collection(queued_events=[queued_event_v1(e) for e in events],
                                   total_entries=len(events))


@router.delete("/datasets/queuedEvent/{uri:path}", status_code=204, response_class=Response,
               dependencies=[Depends(require(Action.CLEAR))])
def delete_dataset_queued_events(uri: str = Path(...), before: str | None = Query(None),
                                 server: ServerState = Depends(server_state)) -> Response:
    try:
        api_assets.delete_queued_events(server.engine, uri=uri, before=_query_datetime(before))
    except api_assets.QueuedEventNotFound:
        raise _queue_missing(f"Queue event with dataset uri: `{uri}` was not found") from None
    return Response(status_code=204)


@router.get("/datasets/{uri:path}", response_model=Dataset,
            dependencies=[Depends(require(Action.READ))])
def get_dataset(uri: str = Path(...), server: ServerState = Depends(server_state)) -> Any:
    """One dataset, by URI."""
    try:
        return dataset_v1(api_assets.asset_by_uri(server.engine, uri))
    except api_assets.AssetNotFound as exc:
        raise ApiError(404, str(exc), title="Dataset not found") from None


@router.get("/dags/{dag_id}/datasets/queuedEvent", response_model=QueuedEventV1Collection,
            dependencies=[Depends(require(Action.READ))])
def get_dag_dataset_queued_events(dag_id: str = Path(...), before: str | None = Query(None),
                                  server: ServerState = Depends(server_state)) -> Any:
    events = api_assets.list_queued_events(server.engine, dag_id=dag_id,
                                           before=_query_datetime(before))
    if not events:
        raise _queue_missing(f"Queue event with dag_id: `{dag_id}` was not found")
    return QueuedEventV1Collection(queued_events=[queued_event_v1(e) for e in events],
                                   total_entries=len(events))


@router.delete("/dags/{dag_id}/datasets/queuedEvent", status_code=204, response_class=Response,
               dependencies=[Depends(require(Action.CLEAR))])
def delete_dag_dataset_queued_events(dag_id: str = Path(...), before: str | None = Query(None),
                                     server: ServerState = Depends(server_state)) -> Response:
    try:
        api_assets.delete_queued_events(server.engine, dag_id=dag_id,
                                        before=_query_datetime(before))
    except api_assets.QueuedEventNotFound:
        raise _queue_missing(f"Queue event with dag_id: `{dag_id}` was not found") from None
    return Response(status_code=204)


def _one_missing(dag_id: str, uri: str) -> ApiError:
    return _queue_missing(f"Queue event with dag_id: `{dag_id}` and dataset uri: `{uri}` was "
                          f"not found")


@router.get("/dags/{dag_id}/datasets/queuedEvent/{uri:path}", response_model=QueuedEventV1,
            dependencies=[Depends(require(Action.READ))])
def get_dag_dataset_queued_event(dag_id: str = Path(...), uri: str = Path(...),
                                 before: str | None = Query(None),
                                 server: ServerState = Depends(server_state)) -> Any:
    events = api_assets.list_queued_events(server.engine, dag_id=dag_id, uri=uri,
                                           before=_query_datetime(before))
    if not events:
        raise _one_missing(dag_id, uri)
    return queued_event_v1(events[0])


@router.delete("/dags/{dag_id}/datasets/queuedEvent/{uri:path}", status_code=204,
               response_class=Response, dependencies=[Depends(require(Action.CLEAR))])
def delete_dag_dataset_queued_event(dag_id: str = Path(...), uri: str = Path(...),
                                    before: str | None = Query(None),
                                    server: ServerState = Depends(server_state)) -> Response:
    try:
        api_assets.delete_queued_events(server.engine, dag_id=dag_id, uri=uri,
                                        before=_query_datetime(before))
    except api_assets.QueuedEventNotFound:
        raise _one_missing(dag_id, uri) from None
    return Response(status_code=204)


@router.get("/dags/{dag_id}/dagRuns/{dag_run_id}/upstreamDatasetEvents",
            response_model=DatasetEventCollection, tags=["DAGRun"],
            dependencies=[Depends(require(Action.READ))])
def get_upstream_dataset_events(dag_id: str = Path(...), dag_run_id: str = Path(...),
                                server: ServerState = Depends(server_state)) -> Any:
    """The dataset events a run consumed."""
    try:
        events = api_assets.upstream_asset_events(server.engine, dag_id, dag_run_id)
    except api_assets.DagRunNotFound:
        raise ApiError(404, f"DAGRun with DAG ID: '{dag_id}' and DagRun ID: '{dag_run_id}' "
                            f"not found", title="DAGRun not found") from None
    return DatasetEventCollection(dataset_events=[dataset_event_v1(e) for e in events],
                                  total_entries=len(events))
