"""``/api/v2/backfills`` body and response models, with Airflow 3's field names
(``api_fastapi/core_api/datamodels/backfills.py``; docs/airflow-rest-api.md B.3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import validator

from dagcore.api.backfills import Backfill
from dagcore.server.serializers import StrictBody, V2Model

__all__ = [
    "BackfillCollectionResponse",
    "BackfillPostBody",
    "BackfillResponse",
    "DryRunBackfillCollectionResponse",
    "DryRunBackfillResponse",
    "backfill_response",
]


class BackfillPostBody(StrictBody):
    """Create or dry-run a backfill. Dates must be aware: Airflow 3 declares them
    ``AwareDatetime``, whose error text this repeats."""

    dag_id: str
    from_date: datetime
    to_date: datetime
    run_backwards: bool = False
    dag_run_conf: dict[str, Any] = {}
    reprocess_behavior: Literal["none", "failed", "completed"] = "none"
    max_active_runs: int = 10
    run_on_latest_version: bool = True
    # dagcore's extension (README deviations): the backfill runs while the DAG stays paused.
    keep_dag_paused: bool = False

    @validator("from_date", "to_date")
    def _aware(cls, value: datetime) -> datetime:  # noqa: N805 (pydantic's validator)
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("Input should have timezone info")
        return value


class BackfillResponse(V2Model):
    id: int
    dag_id: str
    from_date: datetime
    to_date: datetime
    dag_run_conf: dict[str, Any]
    is_paused: bool
    reprocess_behavior: str
    max_active_runs: int
    created_at: datetime
    completed_at: datetime | None
    updated_at: datetime
    dag_display_name: str


class BackfillCollectionResponse(V2Model):
    backfills: list[BackfillResponse]
    total_entries: int


class DryRunBackfillResponse(V2Model):
    logical_date: datetime


class DryRunBackfillCollectionResponse(V2Model):
    backfills: list[DryRunBackfillResponse]
    total_entries: int


def backfill_response(backfill: Backfill, dag_display_name: str | None) -> BackfillResponse:
    """A :class:`~dagcore.api.backfills.Backfill` as Airflow 3's ``BackfillResponse``."""
    return BackfillResponse(
        id=backfill.id, dag_id=backfill.dag_id, from_date=backfill.from_date,
        to_date=backfill.to_date, dag_run_conf=backfill.dag_run_conf,
        is_paused=backfill.is_paused, reprocess_behavior=backfill.reprocess_behavior,
        max_active_runs=backfill.max_active_runs, created_at=backfill.created_at,
        completed_at=backfill.completed_at, updated_at=backfill.updated_at,
        dag_display_name=dag_display_name or backfill.dag_id)
