"""``GET /api/v2/dags`` filters and ordering for real: ``dagcore api-server`` on a loopback port,
driven with ``requests``, on a home whose ``dag`` rows and runs the module sets up.

Airflow 3's behaviour each test checks: ``api_fastapi/core_api/routes/public/dags.py``
(``get_dags``), ``api_fastapi/common/parameters.py`` (``_TagsFilter``, ``_OwnersFilter``,
``_SearchParam``, ``SortParam``), ``api_fastapi/common/db/dags.py`` (the latest run), and the
cases of ``airflow-core/tests/unit/api_fastapi/core_api/routes/public/test_dags.py``
(``TestGetDags.test_get_dags``) - docs/airflow-rest-api.md B.2.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from api_server_process import DAG_IDS, ApiServer, prepare_home, serve

from dagcore.db import create_engine, transaction
from dagcore.models import tables as t

T0 = datetime(2031, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _run(conn: sa.Connection, dag_id: str, run_id: str, state: str,
         start: datetime | None) -> None:
    conn.execute(t.dag_run.insert().values(
        dag_id=dag_id, run_id=run_id, state=state, run_type="manual", run_after=T0,
        logical_date=start, start_date=start, end_date=None if start is None else start + HOUR))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """etl_daily: owners "airflow, data", version v2, next run day 2, last started run failed
    (an earlier one succeeded); ml_train: display name "model training", owner ml_team, next run
    day 1, last started run success (a later queued one never started); reporting: import
    errors, no runs."""
    home = prepare_home(tmp_path_factory.mktemp("dags"))
    engine = create_engine(f"sqlite:///{home / 'dagcore.db'}")
    try:
        with transaction(engine) as conn:
            for dag_id, values in {
                "etl_daily": {"owners": "airflow, data", "bundle_version": "v2",
                              "next_dagrun": T0 + timedelta(days=2)},
                "ml_train": {"owners": "ml_team", "dag_display_name": "model training",
                             "next_dagrun": T0 + timedelta(days=1)},
                "reporting": {"owners": "airflow", "has_import_errors": True,
                              "next_dagrun": None},
            }.items():
                conn.execute(t.dag.update().where(t.dag.c.dag_id == dag_id).values(**values))
            _run(conn, "etl_daily", "e1", "success", T0)
            _run(conn, "etl_daily", "e2", "failed", T0 + 2 * HOUR)
            _run(conn, "ml_train", "m1", "success", T0 + 4 * HOUR)
            _run(conn, "ml_train", "m2", "queued", None)
    finally:
        engine.dispose()
    return home


@pytest.fixture(scope="module")
def server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from serve(home, tmp_path_factory)


def _ids(server: ApiServer, query: dict[str, Any]) -> list[str]:
    answer = server.request("GET", "/api/v2/dags", as_user="viewer", params=query)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total_entries"] == len(body["dags"])
    return [dag["dag_id"] for dag in body["dags"]]


@pytest.mark.parametrize(("query", "expected"), [
    ({}, DAG_IDS),
    # _TagsFilter: any of the tags, or all with tags_match_mode=all (dag_tag rows).
    ({"tags": ["prod"]}, ["etl_daily", "reporting"]),
    ({"tags": ["ml", "etl"]}, ["etl_daily", "ml_train"]),
    ({"tags": ["prod", "etl"], "tags_match_mode": "all"}, ["etl_daily"]),
    ({"tags": ["prod", "ml"], "tags_match_mode": "all"}, []),
    # _OwnersFilter: owners ILIKE %name%, any of them.
    ({"owners": ["airflow"]}, ["etl_daily", "reporting"]),
    ({"owners": ["DATA"]}, ["etl_daily"]),
    ({"owners": ["data", "ml_team"]}, ["etl_daily", "ml_train"]),
    # _SearchParam: ILIKE substring, "~" is everything.
    ({"dag_id_pattern": "TRAIN"}, ["ml_train"]),
    ({"dag_id_pattern": "~"}, DAG_IDS),
    ({"dag_display_name_pattern": "training"}, ["ml_train"]),
    ({"dag_display_name_pattern": "~"}, DAG_IDS),
    # Equality filters (test_dags.py: bundle_name, bundle_version, has_import_errors).
    ({"has_import_errors": "true"}, ["reporting"]),
    ({"has_import_errors": "false"}, ["etl_daily", "ml_train"]),
    ({"bundle_name": "dags-folder"}, DAG_IDS),
    ({"bundle_name": "wrong_bundle"}, []),
    ({"bundle_version": "v2"}, ["etl_daily"]),
    # The latest run = the highest id among runs that started (common/db/dags.py).
    ({"last_dag_run_state": "failed"}, ["etl_daily"]),
    ({"last_dag_run_state": "success"}, ["ml_train"]),
    ({"last_dag_run_state": "queued"}, []),
    ({"dag_run_state": ["failed", "success"]}, ["etl_daily", "ml_train"]),
    ({"dag_run_start_date_gte": (T0 + 3 * HOUR).isoformat()}, ["ml_train"]),
    ({"dag_run_start_date_lt": (T0 + 3 * HOUR).isoformat()}, ["etl_daily"]),
    ({"dag_run_end_date_lte": (T0 + 3 * HOUR).isoformat()}, ["etl_daily"]),
    # Stale DAGs only when asked for.
    ({"exclude_stale": "false", "dag_id_pattern": "old"}, ["old_dag"]),
])
def test_filters(server: ApiServer, query: dict[str, Any], expected: list[str]) -> None:
    """test_dags.py TestGetDags.test_get_dags's filter cases, on dagcore's DAGs."""
    assert _ids(server, query) == expected


@pytest.mark.parametrize(("order_by", "expected"), [
    # SortParam: NULLs last in both directions, then dag_id in the first field's direction.
    ("next_dagrun", ["ml_train", "etl_daily", "reporting"]),
    ("-next_dagrun", ["etl_daily", "ml_train", "reporting"]),
    ("last_run_state", ["etl_daily", "ml_train", "reporting"]),
    ("-last_run_state", ["ml_train", "etl_daily", "reporting"]),
    ("last_run_start_date", ["etl_daily", "ml_train", "reporting"]),
    ("-last_run_start_date", ["ml_train", "etl_daily", "reporting"]),
    ("-dag_display_name", ["reporting", "ml_train", "etl_daily"]),  # "model training"
    ("dag_display_name", ["etl_daily", "ml_train", "reporting"]),
])
def test_order_by(server: ApiServer, order_by: str, expected: list[str]) -> None:
    """test_dags.py's sort cases: a DAG without runs (or next run) comes last either way."""
    assert _ids(server, {"order_by": order_by}) == expected


def test_order_by_errors(server: ApiServer) -> None:
    """SortParam: an unknown field or more than 10 fields → 400 with Airflow's texts."""
    answer = server.request("GET", "/api/v2/dags", as_user="viewer",
                            params={"order_by": "-owners"})
    assert (answer.status_code, answer.json()) == (400, {
        "detail": "Ordering with 'owners' is disallowed or the attribute does not exist on the "
                  "model"})
    many = ["dag_id"] * 11
    answer = server.request("GET", "/api/v2/dags", as_user="viewer", params={"order_by": many})
    assert (answer.status_code, answer.json()) == (400, {
        "detail": f"Ordering with more than 10 parameters is not allowed. Provided: {many}"})


def test_bad_filter_values_are_422(server: ApiServer) -> None:
    """last_dag_run_state is a DagRunState (pydantic 2's enum error); dag_run_state values go
    through _transform_dag_run_states (Airflow's text); dates must parse."""
    answer = server.request("GET", "/api/v2/dags", as_user="viewer",
                            params={"last_dag_run_state": "done"})
    expected = "'queued', 'running', 'success' or 'failed'"
    assert (answer.status_code, answer.json()) == (422, {"detail": [{
        "type": "enum", "loc": ["query", "last_dag_run_state"],
        "msg": f"Input should be {expected}",
        "input": "done", "ctx": {"expected": expected}}]})
    answer = server.request("GET", "/api/v2/dags", as_user="viewer",
                            params={"dag_run_state": "done"})
    assert (answer.status_code, answer.json()) == (422, {
        "detail": "Invalid value for state. Valid values are queued, running, success, failed"})
    answer = server.request("GET", "/api/v2/dags", as_user="viewer",
                            params={"dag_run_start_date_gte": "soon"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "datetime_from_date_parsing"


def test_tags_come_from_dag_tag_sorted(server: ApiServer) -> None:
    """DAGResponse.tags: {name, dag_id} per dag_tag row, by name."""
    body = server.request("GET", "/api/v2/dags/etl_daily", as_user="viewer").json()
    assert body["tags"] == [{"name": "etl", "dag_id": "etl_daily"},
                            {"name": "prod", "dag_id": "etl_daily"}]
    assert body["owners"] == ["airflow", "data"]
    assert body["dag_display_name"] == "etl_daily"
