"""``/api/v1/datasets`` response models with Airflow 2.10's field names
(``api_connexion/schemas/dataset_schema.py``, docs/airflow-rest-api.md B.4 "Airflow 2")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dagcore.api.assets import AssetInfo, EventInfo, QueuedEvent
from dagcore.server.serializers import V1Model

__all__ = [
    "Dataset",
    "DatasetCollection",
    "DatasetEvent",
    "DatasetEventCollection",
    "QueuedEventV1",
    "QueuedEventV1Collection",
    "dataset_event_v1",
    "dataset_v1",
    "queued_event_v1",
]


class DagScheduleDatasetReference(V1Model):
    dag_id: str
    created_at: datetime
    updated_at: datetime


class TaskOutletDatasetReference(V1Model):
    dag_id: str
    task_id: str
    created_at: datetime
    updated_at: datetime


class Dataset(V1Model):
    id: int
    uri: str
    extra: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    producing_tasks: list[TaskOutletDatasetReference]
    consuming_dags: list[DagScheduleDatasetReference]


class DatasetCollection(V1Model):
    datasets: list[Dataset]
    total_entries: int


class BasicDAGRun(V1Model):
    dag_run_id: str
    dag_id: str
    logical_date: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    state: str
    data_interval_start: datetime | None
    data_interval_end: datetime | None


class DatasetEvent(V1Model):
    id: int
    dataset_id: int
    dataset_uri: str
    extra: dict[str, Any] | None
    source_task_id: str | None
    source_dag_id: str | None
    source_run_id: str | None
    source_map_index: int
    created_dagruns: list[BasicDAGRun]
    timestamp: datetime


class DatasetEventCollection(V1Model):
    dataset_events: list[DatasetEvent]
    total_entries: int


class QueuedEventV1(V1Model):
    uri: str
    dag_id: str
    created_at: datetime


class QueuedEventV1Collection(V1Model):
    queued_events: list[QueuedEventV1]
    total_entries: int


def dataset_v1(asset: AssetInfo) -> Dataset:
    return Dataset(
        id=asset.id, uri=asset.uri, extra=asset.extra, created_at=asset.created_at,
        updated_at=asset.updated_at,
        producing_tasks=[TaskOutletDatasetReference(**r) for r in asset.producing_tasks],
        consuming_dags=[DagScheduleDatasetReference(**r) for r in asset.scheduled_dags])


def dataset_event_v1(event: EventInfo) -> DatasetEvent:
    return DatasetEvent(
        id=event.id, dataset_id=event.asset_id, dataset_uri=event.uri, extra=event.extra,
        source_task_id=event.source_task_id, source_dag_id=event.source_dag_id,
        source_run_id=event.source_run_id, source_map_index=event.source_map_index,
        created_dagruns=[BasicDAGRun(dag_run_id=r["run_id"], **{
            k: v for k, v in r.items() if k != "run_id"}) for r in event.created_dagruns],
        timestamp=event.timestamp)


def queued_event_v1(event: QueuedEvent) -> QueuedEventV1:
    return QueuedEventV1(uri=event.uri, dag_id=event.dag_id, created_at=event.created_at)
