"""The web UI's own endpoints on a real ``dagcore api-server`` (SQLite and PostgreSQL):
``GET /ui/dags`` (DAGs with their latest runs), ``GET /ui/grid/{dag_id}`` (runs x tasks) and
``GET /ui/backfills`` (with progress); docs/airflow-rest-api.md, "UI endpoints" 6-8. The runs
and task instances are :mod:`ui_home`'s."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from api_server_process import ApiServer, database_url_of, serve
from ui_home import UiHome, build_ui_home

from dagcore.db import create_engine, transaction
from dagcore.models import tables as t


@pytest.fixture(scope="module")
def ui_home(tmp_path_factory: pytest.TempPathFactory, api_database_url: str | None) -> UiHome:
    return build_ui_home(tmp_path_factory.mktemp("ui"), database_url=api_database_url)


@pytest.fixture(scope="module")
def server(ui_home: UiHome, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from serve(ui_home.home, tmp_path_factory)


def _get(server: ApiServer, path: str, status: int = 200, **params: Any) -> Any:
    answer = server.request("GET", path, as_user="viewer", params=params)
    assert answer.status_code == status, answer.text
    return answer.json()


# -- /ui/dags -------------------------------------------------------------------------------------

def test_ui_dags_have_v2_fields_and_latest_run(server: ApiServer) -> None:
    body = _get(server, "/ui/dags")
    assert body["total_entries"] == 5 and body["import_errors_count"] == 0
    dags = {d["dag_id"]: d for d in body["dags"]}
    assert list(dags) == ["bf_dag", "etl_daily", "ml_train", "reporting", "ui_dag"]
    v2 = {d["dag_id"]: d for d in _get(server, "/api/v2/dags")["dags"]}
    for dag_id, dag in dags.items():
        runs = dag.pop("latest_dag_runs")
        assert dag == v2[dag_id]
        assert len(runs) == (0 if dag_id in ("bf_dag", "reporting") else 1)


def test_ui_dags_latest_runs(server: ApiServer) -> None:
    dags = {d["dag_id"]: d["latest_dag_runs"] for d in _get(server, "/ui/dags")["dags"]}
    assert dags["reporting"] == []
    [latest] = dags["ui_dag"]
    assert latest == {"run_id": "r4", "dag_id": "ui_dag", "state": "queued",
                      "run_type": "manual", "logical_date": "2024-01-04T00:00:00Z",
                      "run_after": "2024-01-04T00:00:00Z", "start_date": None,
                      "end_date": None, "duration": None}
    dags = {d["dag_id"]: d["latest_dag_runs"]
            for d in _get(server, "/ui/dags", dag_runs_limit=3)["dags"]}
    assert [r["run_id"] for r in dags["ui_dag"]] == ["r4", "r3", "r2"]
    assert [r["run_id"] for r in dags["etl_daily"]] == ["etl12", "etl11", "etl10"]
    assert [r["run_id"] for r in dags["ml_train"]] == ["ml1"]
    r2 = dags["ui_dag"][2]
    assert r2["state"] == "failed" and r2["duration"] == 90.0
    assert r2["start_date"] == "2024-01-02T01:00:00Z"
    none = _get(server, "/ui/dags", dag_runs_limit=0)["dags"]
    assert all(d["latest_dag_runs"] == [] for d in none)


def test_ui_dags_filters_and_paging(server: ApiServer) -> None:
    tagged = _get(server, "/ui/dags", tags="ui")
    assert [d["dag_id"] for d in tagged["dags"]] == ["ui_dag"] and tagged["total_entries"] == 1
    both = _get(server, "/ui/dags", tags=["etl", "prod"], tags_match_mode="all")
    assert [d["dag_id"] for d in both["dags"]] == ["etl_daily"]
    page = _get(server, "/ui/dags", limit=2, offset=1, order_by="-dag_id")
    assert [d["dag_id"] for d in page["dags"]] == ["reporting", "ml_train"]
    assert page["total_entries"] == 5
    named = _get(server, "/ui/dags", dag_display_name_pattern="UI D")
    assert [d["dag_display_name"] for d in named["dags"]] == ["UI Dag"]
    failed = _get(server, "/ui/dags", last_dag_run_state="running")
    assert {d["dag_id"] for d in failed["dags"]} == {"etl_daily", "ui_dag"}


def test_ui_dags_bad_input(server: ApiServer) -> None:
    for params in ({"dag_runs_limit": 31}, {"dag_runs_limit": -1}, {"limit": -1},
                   {"last_dag_run_state": "bogus"}, {"tags_match_mode": "some"}):
        answer = server.request("GET", "/ui/dags", as_user="viewer", params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["detail"], params
    assert "bogus" in _get(server, "/ui/dags", 400, order_by="bogus")["detail"]
    assert server.request("GET", "/ui/dags").status_code == 401


def test_ui_dags_counts_import_errors(server: ApiServer, ui_home: UiHome) -> None:
    engine = create_engine(database_url_of(ui_home.home))
    try:
        with transaction(engine) as conn:
            conn.execute(t.import_error.insert().values(
                timestamp=datetime(2024, 1, 1, tzinfo=UTC), filename="/x/broken.py",
                bundle_name="dags-folder", stacktrace="SyntaxError"))
        assert _get(server, "/ui/dags")["import_errors_count"] == 1
        with transaction(engine) as conn:
            conn.execute(sa.delete(t.import_error))
    finally:
        engine.dispose()


# -- /ui/grid -------------------------------------------------------------------------------------

STRUCTURE = [
    {"id": "start", "label": "start", "type": "task", "is_mapped": False,
     "operator": "EmptyOperator", "children": None},
    {"id": "grp", "label": "grp", "type": "group", "is_mapped": False, "operator": None,
     "children": [
         {"id": "grp.a", "label": "a", "type": "task", "is_mapped": False,
          "operator": "EmptyOperator", "children": None},
         {"id": "grp.inner", "label": "inner", "type": "group", "is_mapped": False,
          "operator": None, "children": [
              {"id": "grp.inner.b", "label": "b", "type": "task", "is_mapped": False,
               "operator": "EmptyOperator", "children": None}]}]},
    {"id": "m", "label": "m", "type": "task", "is_mapped": True, "operator": "BashOperator",
     "children": None},
    {"id": "end", "label": "end", "type": "task", "is_mapped": False,
     "operator": "EmptyOperator", "children": None},
    {"id": "extra", "label": "extra", "type": "task", "is_mapped": False,
     "operator": "EmptyOperator", "children": None},
]
TASK_IDS = ["start", "grp.a", "grp.inner.b", "m", "end", "extra", "ghost"]


def test_grid_structure_runs_and_cells(server: ApiServer) -> None:
    grid = _get(server, "/ui/grid/ui_dag")
    assert grid["dag_id"] == "ui_dag" and grid["total_runs"] == 4
    assert grid["structure"] == STRUCTURE
    assert grid["task_ids"] == TASK_IDS
    assert [r["run_id"] for r in grid["runs"]] == ["r4", "r3", "r2", "r1"]
    r4, r3, r2, r1 = grid["runs"]
    assert r4 == {"run_id": "r4", "state": "queued", "run_type": "manual",
                  "logical_date": "2024-01-04T00:00:00Z", "run_after": "2024-01-04T00:00:00Z",
                  "start_date": None, "end_date": None, "duration": None,
                  "dag_version_number": 2, "note": None}
    assert r3["note"] == "look here" and r3["dag_version_number"] == 2
    assert r1["dag_version_number"] == 1 and r1["duration"] == 90.0
    assert r2["state"] == "failed"
    cells = dict(zip([r["run_id"] for r in grid["runs"]], grid["cells"]))
    assert cells["r4"] == [None] * 7
    assert cells["r3"] == [
        "success", "success", "running",
        {"state": "failed", "counts": {"failed": 1, "none": 1, "success": 1,
                                       "up_for_retry": 1}},
        "none", None, "removed"]
    assert cells["r2"] == ["success", "failed", "upstream_failed",
                           {"state": "upstream_failed", "counts": {"upstream_failed": 1}},
                           "upstream_failed", None, None]
    assert cells["r1"] == ["success", "success", "success",
                           {"state": "success", "counts": {"success": 3}},
                           "success", None, None]


def test_grid_paging_and_filters(server: ApiServer) -> None:
    page = _get(server, "/ui/grid/ui_dag", limit=2, offset=1)
    assert [r["run_id"] for r in page["runs"]] == ["r3", "r2"]
    assert page["total_runs"] == 4 and len(page["cells"]) == 2
    assert page["cells"][1][1] == "failed"
    manual = _get(server, "/ui/grid/ui_dag", run_type="manual")
    assert [r["run_id"] for r in manual["runs"]] == ["r4"] and manual["total_runs"] == 1
    states = _get(server, "/ui/grid/ui_dag", state=["failed", "success"])
    assert [r["run_id"] for r in states["runs"]] == ["r2", "r1"]
    # a page without r3 has no ghost task
    old = _get(server, "/ui/grid/ui_dag", state="success")
    assert old["task_ids"] == TASK_IDS[:-1]
    empty = _get(server, "/ui/grid/ui_dag", offset=10)
    assert empty["runs"] == [] and empty["cells"] == [] and empty["total_runs"] == 4
    assert empty["structure"] == STRUCTURE


def test_grid_of_dag_without_groups(server: ApiServer) -> None:
    grid = _get(server, "/ui/grid/etl_daily", limit=1)
    assert grid["structure"] == [{"id": "extract", "label": "extract", "type": "task",
                                  "is_mapped": False, "operator": "EmptyOperator",
                                  "children": None}]
    assert [r["run_id"] for r in grid["runs"]] == ["etl12"] and grid["cells"] == [[None]]


def test_grid_bad_input(server: ApiServer) -> None:
    assert _get(server, "/ui/grid/nope", 404)["detail"] == "The Dag with ID: `nope` was not found"
    for params in ({"limit": 0}, {"limit": 5000}, {"offset": -1}, {"state": "bogus"},
                   {"run_type": "bogus"}, {"limit": "many"}):
        answer = server.request("GET", "/ui/grid/ui_dag", as_user="viewer", params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["detail"], params
    assert "Valid values are" in _get(server, "/ui/grid/ui_dag", 422, state="bogus")["detail"]


# -- /ui/backfills --------------------------------------------------------------------------------

def _create(server: ApiServer, start: str, end: str, **extra: Any) -> int:
    answer = server.request("POST", "/api/v2/backfills", as_user="op", json={
        "dag_id": "bf_dag", "from_date": start, "to_date": end, **extra})
    assert answer.status_code == 200, answer.text
    return int(answer.json()["id"])


def test_ui_backfills_progress_order_and_active(server: ApiServer) -> None:
    first = _create(server, "2024-02-01T00:00:00Z", "2024-02-03T00:00:00Z")
    second = _create(server, "2024-02-10T00:00:00Z", "2024-02-11T00:00:00Z",
                     keep_dag_paused=True)
    body = _get(server, "/ui/backfills", dag_id="bf_dag")
    assert body["total_entries"] == 2
    newest, oldest = body["backfills"]
    assert (newest["id"], oldest["id"]) == (second, first)
    assert newest["keep_dag_paused"] is True and oldest["keep_dag_paused"] is False
    assert oldest["progress"] == {"total": 3, "by_state": {"queued": 3}, "done": 0}
    assert newest["progress"] == {"total": 2, "by_state": {"queued": 2}, "done": 0}
    v2 = server.request("GET", f"/api/v2/backfills/{first}", as_user="viewer").json()
    assert {k: oldest[k] for k in v2} == v2
    assert "run_backwards" not in oldest
    cancelled = server.request("PUT", f"/api/v2/backfills/{first}/cancel", as_user="op")
    assert cancelled.status_code == 200, cancelled.text
    active = _get(server, "/ui/backfills", dag_id="bf_dag", active="true")
    assert [b["id"] for b in active["backfills"]] == [second] and active["total_entries"] == 1
    done = _get(server, "/ui/backfills", dag_id="bf_dag", active="false")["backfills"]
    assert [b["id"] for b in done] == [first]
    assert done[0]["progress"] == {"total": 3, "by_state": {"failed": 3}, "done": 3}
    page = _get(server, "/ui/backfills", dag_id="bf_dag", limit=1, offset=1)
    assert [b["id"] for b in page["backfills"]] == [first] and page["total_entries"] == 2
    everyone = _get(server, "/ui/backfills")
    assert {b["dag_id"] for b in everyone["backfills"]} == {"bf_dag"}


def test_ui_backfills_bad_input(server: ApiServer) -> None:
    assert _get(server, "/ui/backfills", 404, dag_id="nope")["detail"] == \
        "The Dag with ID: `nope` was not found"
    for params in ({"limit": -1}, {"active": "maybe"}, {"offset": -2}):
        answer = server.request("GET", "/ui/backfills", as_user="viewer", params=params)
        assert answer.status_code == 422, (params, answer.text)


def test_clear_task_instances_takes_task_id_and_map_index_pairs(server: ApiServer) -> None:
    """Airflow 3's ``task_ids`` items may be ``[task_id, map_index]``: only that instance of a
    mapped task (the grid's cell dialog clears one); a plain id beside it clears them all."""
    def dry(task_ids: Any, **extra: Any) -> list[tuple[str, int]]:
        answer = server.request("POST", "/api/v2/dags/ui_dag/clearTaskInstances",
                                as_user="admin", json={"dag_run_id": "r3", "dry_run": True,
                                                       "only_failed": False,
                                                       "task_ids": task_ids, **extra})
        assert answer.status_code == 200, answer.text
        return [(ti["task_id"], ti["map_index"]) for ti in answer.json()["task_instances"]]

    assert dry([["m", 1]]) == [("m", 1)]
    assert dry([["m", 1], ["m", 3]]) == [("m", 1), ("m", 3)]
    assert dry([["m", 1], "m"]) == [("m", 0), ("m", 1), ("m", 2), ("m", 3)]
    assert dry([["m", 2]], include_downstream=True) == [("end", -1), ("m", 2)]
    assert dry([["m", 9]]) == []
    bad = server.request("POST", "/api/v2/dags/ui_dag/clearTaskInstances", as_user="admin",
                         json={"dag_run_id": "r3", "task_ids": [["m", "x"]]})
    assert bad.status_code == 422, bad.text
    unknown = server.request("POST", "/api/v2/dags/ui_dag/clearTaskInstances", as_user="admin",
                             json={"dag_run_id": "r3", "task_ids": [["nope", 0]]})
    assert unknown.status_code == 400 and "nope" in unknown.json()["detail"]
