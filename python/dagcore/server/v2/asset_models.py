"""``/api/v2`` asset models with Airflow 3's field names (``api_fastapi/core_api/datamodels/
assets.py``, docs/airflow-rest-api.md B.4) and their builders from :mod:`dagcore.api.assets`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, StrictInt

from dagcore.api.assets import AliasInfo, AssetInfo, EventInfo, QueuedEvent
from dagcore.server.serializers import StrictBody, V2Model

__all__ = [
    "AssetAliasCollectionResponse",
    "AssetAliasResponse",
    "AssetCollectionResponse",
    "AssetEventCollectionResponse",
    "AssetEventResponse",
    "AssetResponse",
    "CreateAssetEventsBody",
    "QueuedEventCollectionResponse",
    "QueuedEventResponse",
    "alias_response",
    "asset_response",
    "event_response",
    "queued_event_response",
]


class DagScheduleAssetReference(V2Model):
    dag_id: str
    created_at: datetime
    updated_at: datetime


class TaskOutletAssetReference(V2Model):
    dag_id: str
    task_id: str
    created_at: datetime
    updated_at: datetime


class TaskInletAssetReference(V2Model):
    dag_id: str
    task_id: str
    created_at: datetime
    updated_at: datetime


class LastAssetEventResponse(V2Model):
    id: int | None = None
    timestamp: datetime | None = None


class AssetAliasResponse(V2Model):
    id: int
    name: str
    group: str


class AssetResponse(V2Model):
    id: int
    name: str
    uri: str
    group: str
    extra: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime
    scheduled_dags: list[DagScheduleAssetReference]
    producing_tasks: list[TaskOutletAssetReference]
    consuming_tasks: list[TaskInletAssetReference]
    aliases: list[AssetAliasResponse]
    last_asset_event: LastAssetEventResponse | None = None


class AssetCollectionResponse(V2Model):
    assets: list[AssetResponse]
    total_entries: int


class AssetAliasCollectionResponse(V2Model):
    asset_aliases: list[AssetAliasResponse]
    total_entries: int


class DagRunAssetReference(V2Model):
    run_id: str
    dag_id: str
    logical_date: datetime | None
    start_date: datetime | None  # Airflow declares it required; a queued run has none
    end_date: datetime | None
    state: str
    data_interval_start: datetime | None
    data_interval_end: datetime | None


class AssetEventResponse(V2Model):
    id: int
    asset_id: int
    uri: str | None = None
    name: str | None = None
    group: str | None = None
    extra: dict[str, Any] | None = None
    source_task_id: str | None = None
    source_dag_id: str | None = None
    source_run_id: str | None = None
    source_map_index: int
    created_dagruns: list[DagRunAssetReference]
    timestamp: datetime


class AssetEventCollectionResponse(V2Model):
    asset_events: list[AssetEventResponse]
    total_entries: int


class QueuedEventResponse(V2Model):
    dag_id: str
    asset_id: int
    created_at: datetime
    dag_display_name: str


class QueuedEventCollectionResponse(V2Model):
    queued_events: list[QueuedEventResponse]
    total_entries: int


class CreateAssetEventsBody(StrictBody):
    """``{asset_id, extra}``; unknown keys are refused (Airflow's ``StrictBaseModel``)."""

    asset_id: StrictInt
    extra: dict[str, Any] = Field(default_factory=dict)


def alias_response(alias: AliasInfo) -> AssetAliasResponse:
    return AssetAliasResponse(id=alias.id, name=alias.name, group=alias.group)


def asset_response(asset: AssetInfo) -> AssetResponse:
    """Airflow 3's ``AssetResponse`` of an asset."""
    return AssetResponse(
        id=asset.id, name=asset.name, uri=asset.uri, group=asset.group, extra=asset.extra,
        created_at=asset.created_at, updated_at=asset.updated_at,
        scheduled_dags=[DagScheduleAssetReference(**r) for r in asset.scheduled_dags],
        producing_tasks=[TaskOutletAssetReference(**r) for r in asset.producing_tasks],
        consuming_tasks=[TaskInletAssetReference(**r) for r in asset.consuming_tasks],
        aliases=[alias_response(a) for a in asset.aliases],
        last_asset_event=LastAssetEventResponse(**(asset.last_asset_event or {})))


def event_response(event: EventInfo) -> AssetEventResponse:
    """Airflow 3's ``AssetEventResponse`` of an event."""
    return AssetEventResponse(
        id=event.id, asset_id=event.asset_id, uri=event.uri, name=event.name,
        group=event.group, extra=event.extra, source_task_id=event.source_task_id,
        source_dag_id=event.source_dag_id, source_run_id=event.source_run_id,
        source_map_index=event.source_map_index,
        created_dagruns=[DagRunAssetReference(**r) for r in event.created_dagruns],
        timestamp=event.timestamp)


def queued_event_response(event: QueuedEvent) -> QueuedEventResponse:
    return QueuedEventResponse(dag_id=event.dag_id, asset_id=event.asset_id,
                               created_at=event.created_at,
                               dag_display_name=event.dag_display_name)
