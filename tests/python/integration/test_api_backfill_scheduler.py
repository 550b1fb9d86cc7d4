"""A backfill created over HTTP runs to completion under a real ``dagcore scheduler`` (issue 13),
on SQLite and on PostgreSQL: ``POST /api/v2/backfills`` on the API server, the scheduler a
subprocess in a session of its own (scheduler_process.py), the outcome read over HTTP.

Airflow's behaviour: docs/airflow-rest-api.md B.3 (Airflow 3's ``core_api/routes/public/
backfills.py``: the create queues the runs, ``run_type`` backfill) and docs/airflow-behaviour.md
2.6 (Airflow 3's ``SchedulerJobRunner._mark_backfills_complete``: a backfill with no queued or
running run left gets ``completed_at``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_server_process import ApiServer, prepare_home, serve, server_env
from scheduler_process import FAST_SCHEDULER, DagcoreProcess, reap_sessions, wait_for

DEADLINE_S = 120.0  # only turns a hang into a failure
DATES = ["2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z", "2024-03-03T00:00:00Z"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, api_database_url: str | None) -> Path:
    """On SQLite and on PostgreSQL (the module runs once per backend)."""
    return prepare_home(tmp_path_factory.mktemp("api"), database_url=api_database_url)


@pytest.fixture(scope="module")
def server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from serve(home, tmp_path_factory)


@pytest.fixture
def scheduler(home: Path, tmp_path: Path) -> Iterator[DagcoreProcess]:
    """``dagcore scheduler`` on the home, until SIGTERM; its session is emptied after."""
    process = DagcoreProcess(server_env(home, **FAST_SCHEDULER), ["scheduler", "-p", "2"],
                             logs=tmp_path, name="scheduler")
    try:
        yield process
    finally:
        reap_sessions([process])


def test_backfill_created_over_http_runs_to_completion(server: ApiServer,
                                                       scheduler: DagcoreProcess) -> None:
    """Airflow 3: the backfill's runs (run_type backfill, its conf) run only while the DAG is
    unpaused (docs/airflow-behaviour.md 2.6: a paused DAG's backfill runs stay queued), at most
    ``max_active_runs`` at a time; the scheduler then sets ``completed_at``."""
    health = server.request("GET", "/api/v2/monitor/health")
    assert health.status_code == 200
    unpaused = server.request("PATCH", "/api/v2/dags/etl_daily", as_user="user",
                              json={"is_paused": False})
    assert unpaused.status_code == 200, unpaused.text
    created = server.request("POST", "/api/v2/backfills", as_user="op", json={
        "dag_id": "etl_daily", "from_date": DATES[0], "to_date": DATES[-1],
        "max_active_runs": 2, "dag_run_conf": {"source": "http"}})
    assert created.status_code == 200, created.text
    backfill_id = created.json()["id"]
    assert created.json()["completed_at"] is None

    def completed() -> dict[str, Any] | None:
        got = server.request("GET", f"/api/v2/backfills/{backfill_id}", as_user="viewer")
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body if body["completed_at"] is not None else None

    done = wait_for("the backfill's completion", completed, timeout=DEADLINE_S,
                    watch=[scheduler])
    assert done["is_paused"] is False and done["dag_run_conf"] == {"source": "http"}
    assert scheduler.stop() == 0, scheduler.describe()

    listed = server.request("GET", "/api/v2/dags/etl_daily/dagRuns", as_user="viewer",
                            params={"order_by": "logical_date", "limit": 100})
    assert listed.status_code == 200, listed.text
    runs = [r for r in listed.json()["dag_runs"] if r["logical_date"] in DATES]
    assert [(r["logical_date"], r["run_type"], r["state"], r["conf"]) for r in runs] == [
        (date, "backfill", "success", {"source": "http"}) for date in DATES]
    assert all(r["dag_run_id"].startswith("backfill__") for r in runs)
    # Its task instances ran (the one task of etl_daily, once per run).
    for run in runs:
        tis = server.request(
            "GET", f"/api/v2/dags/etl_daily/dagRuns/{run['dag_run_id']}/taskInstances",
            as_user="viewer")
        assert tis.status_code == 200, tis.text
        assert [(ti["task_id"], ti["state"]) for ti in tis.json()["task_instances"]] == [
            ("extract", "success")]
