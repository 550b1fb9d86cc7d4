"""``dagcore.server.serializers.rendered``: the same bytes FastAPI writes for a response model.

Hot routes return ``rendered(model)`` instead of the model to skip FastAPI 0.92's second
validation and ``jsonable_encoder`` walk (benchmarks/api_bench.py); clients must not see a
difference, so each case compares the two answers byte for byte.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from dagcore.server.serializers import V1Model, V2Model, rendered


class Inner(V2Model):
    id: uuid.UUID
    created_at: datetime


class Outer(V2Model):
    name: str
    when: datetime | None
    whens: list[datetime]
    inner: list[Inner]
    conf: dict[str, Any] | None
    ratio: float | None


class OuterV1(V1Model):
    when: datetime
    inner: Inner


def _client_for(model: Any) -> TestClient:
    app = FastAPI()

    @app.get("/model", response_model=type(model))
    def as_model() -> Any:
        return model

    @app.get("/rendered", response_model=type(model))
    def as_rendered() -> Any:
        return rendered(model)

    return TestClient(app)


CASES = [
    Outer(name="r\u00e9sum\u00e9 \u2603", when=datetime(2024, 1, 1, tzinfo=UTC),
          whens=[datetime(2024, 1, 1, 12, 30, 5, 120, tzinfo=UTC),
                 datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))],
          inner=[Inner(id=uuid.UUID(int=7), created_at=datetime(2025, 6, 1, tzinfo=UTC))],
          conf={"nested": {"list": [1, 2.5, None, True, "\u00fc"]}, "empty": {}}, ratio=0.1),
    Outer(name="", when=None, whens=[], inner=[], conf=None, ratio=None),
    OuterV1(when=datetime(2024, 1, 1, tzinfo=UTC),
            inner=Inner(id=uuid.UUID(int=1), created_at=datetime(2024, 1, 1, tzinfo=UTC))),
]


@pytest.mark.parametrize("model", CASES, ids=["v2-full", "v2-empty", "v1-offsets"])
def test_rendered_writes_the_bytes_fastapi_writes(model: Any) -> None:
    client = _client_for(model)
    expected = client.get("/model")
    got = client.get("/rendered")
    assert got.status_code == expected.status_code == 200
    assert got.headers["content-type"] == expected.headers["content-type"]
    assert got.content == expected.content


def test_rendered_v2_datetimes_end_in_z_with_fractions_only_when_present() -> None:
    # Airflow 3 (pydantic 2) writes ...Z and no ".000000" (docs/airflow-rest-api.md B.1).
    body = rendered(CASES[0]).body.decode()
    assert '"when":"2024-01-01T00:00:00Z"' in body
    assert '"2024-01-01T12:30:05.000120Z"' in body
    assert '"2024-01-01T00:00:00Z"]' in body  # +02:00 converted to UTC


def test_rendered_keeps_the_status_code() -> None:
    assert rendered(CASES[1], status_code=201).status_code == 201


# -- dag_run_payload: the run listing and trigger answers without a model ----------------------

def _run(**changes: Any) -> Any:
    from dagcore.api.common import DagRun

    values: dict[str, Any] = dict(
        id=1, dag_id="etl", run_id="manual__2024-01-01T00:00:00+00:00",
        logical_date=datetime(2024, 1, 1, tzinfo=UTC), run_after=datetime(2024, 1, 2, tzinfo=UTC),
        queued_at=datetime(2024, 1, 2, 0, 0, 1, 500, tzinfo=UTC),
        start_date=datetime(2024, 1, 2, 0, 0, 2, tzinfo=UTC),
        end_date=datetime(2024, 1, 2, 0, 1, 2, 250000, tzinfo=UTC), state="success",
        run_type="manual", triggered_by="rest_api", triggering_user_name="ops",
        conf={"n\u00e4me": "x", "deep": {"list": [1, 2.5, None, True]}},
        data_interval_start=datetime(2024, 1, 1, tzinfo=UTC),
        data_interval_end=datetime(2024, 1, 2, tzinfo=UTC),
        last_scheduling_decision=datetime(2024, 1, 2, 0, 1, tzinfo=UTC), creating_job_id=None,
        created_dag_version_id=uuid.UUID(int=5), bundle_version=None, backfill_id=None,
        clear_number=0, partition_key=None, note="a \u2603 note",
        updated_at=datetime(2024, 1, 2, tzinfo=UTC))
    values.update(changes)
    return DagRun(**values)


VERSION = {"id": uuid.UUID(int=5), "version_number": 3, "dag_id": "etl", "bundle_name": "dags",
           "bundle_version": None, "created_at": datetime(2023, 12, 31, 23, 0, tzinfo=UTC),
           "dag_hash": "ignored"}

PAYLOAD_CASES = [
    (_run(), [VERSION], None),
    (_run(logical_date=None, queued_at=None, start_date=None, end_date=None,
          data_interval_start=None, data_interval_end=None, last_scheduling_decision=None,
          triggered_by=None, triggering_user_name=None, conf=None, note=None, state="queued",
          created_dag_version_id=None), [], None),
    (_run(conf={}, start_date=datetime(2024, 1, 2, 2, tzinfo=timezone(timedelta(hours=2)))),
     [{**VERSION, "id": str(uuid.UUID(int=9))}], "ETL \u00e9"),
]


@pytest.mark.parametrize("run,versions,name", PAYLOAD_CASES, ids=["full", "nulls", "offsets"])
def test_dag_run_payload_writes_the_bytes_of_the_rendered_model(
        run: Any, versions: Any, name: Any) -> None:
    from dagcore.server.serializers import rendered_json
    from dagcore.server.v2.dag_run_models import (
        DAGRunCollectionResponse,
        dag_run_payload,
        dag_run_response,
    )

    model = dag_run_response(run, versions, name)
    assert rendered_json(dag_run_payload(run, versions, name)).body == rendered(model).body
    page = rendered_json({"dag_runs": [dag_run_payload(run, versions, name)] * 2,
                          "total_entries": 7})
    assert page.body == rendered(DAGRunCollectionResponse(dag_runs=[model] * 2,
                                                          total_entries=7)).body
