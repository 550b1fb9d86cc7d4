"""A DAG's structure through the REST API, for real: ``GET /api/v2/dags/{dag_id}/details``,
``GET /api/v2/dags/{dag_id}/tasks`` and ``.../tasks/{task_id}`` on ``dagcore api-server`` (SQLite
and PostgreSQL through ``api_database_url``), answered from the DAG's latest serialized version
through the server's ``DBDagBag`` (its bounded cache), never by parsing the file.

Airflow 3's behaviour each test follows: ``api_fastapi/core_api/routes/public/dags.py``
(``get_dag_details``), ``routes/public/tasks.py`` (``get_tasks``, ``get_task``),
``datamodels/dags.py`` (``DAGDetailsResponse``), ``datamodels/tasks.py`` (``TaskResponse``),
``common/dagbag.py`` (``get_latest_version_of_dag``: the 404 text), and the bodies of
``airflow-core/tests/unit/api_fastapi/core_api/routes/public/test_dags.py`` (``TestDagDetails``)
and ``test_tasks.py`` (``TestGetTask``, ``TestGetTasks``).

Deviations the expected bodies spell out (README deviations list): ``__class`` of a param and
``class_ref.module_path`` name dagcore's classes; ``has_outlets`` is always false; a
``default_args`` timedelta is stored (and shown) as seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from api_server_process import ApiServer, database_url_of, prepare_home, serve

from dagcore.api import dags as api_dags
from dagcore.db import create_engine, transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.models import tables as t

DETAILS_DAG = '''\
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dagcore import DAG
from dagcore.operators.bash import BashOperator
from dagcore.operators.empty import EmptyOperator

with DAG("details_dag", schedule=None,
         start_date=datetime(2021, 6, 15, tzinfo=ZoneInfo("Europe/Amsterdam")),
         doc_md="""
         details
           indented
         """, params={"foo": 1}, dagrun_timeout=timedelta(hours=1, minutes=5),
         default_args={"depends_on_past": False, "retries": 1},
         owner_links={"airflow": "https://example.com/airflow"},
         template_searchpath=["/templates"], is_paused_upon_creation=True):
    op1 = EmptyOperator(task_id="op1", params={"foo": "bar"})
    op2 = EmptyOperator(task_id="op2", start_date=datetime(2021, 6, 16, tzinfo=UTC),
                        retries=3, priority_weight=5)
    op3 = BashOperator(task_id="op3", bash_command="true",
                       execution_timeout=timedelta(minutes=10, microseconds=5))
    op1 >> op2
    op1 >> op3
'''


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, api_database_url: str | None) -> Path:
    """prepare_home's DAGs plus ``details_dag`` (one DAG with every detail set), parsed."""
    from dagcore.dag_processing import sync_dags

    root = tmp_path_factory.mktemp("details")
    home = prepare_home(root, database_url=api_database_url)
    (root / "dags" / "details.py").write_text(DETAILS_DAG)
    engine = create_engine(database_url_of(home))
    try:
        result = sync_dags(root / "dags", engine=engine, min_update_interval=timedelta(0))
        assert not result.import_errors, result.import_errors
        with transaction(engine) as conn:
            for run_id, state in (("r1", "running"), ("r2", "queued"), ("r3", "success")):
                conn.execute(t.dag_run.insert().values(
                    dag_id="details_dag", run_id=run_id, state=state, run_type="manual",
                    run_after=sa.func.now()))
    finally:
        engine.dispose()
    return home


@pytest.fixture(scope="module")
def server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from serve(home, tmp_path_factory)


@pytest.fixture
def engine(home: Path) -> Iterator[sa.Engine]:
    engine = create_engine(database_url_of(home))
    try:
        yield engine
    finally:
        engine.dispose()


def _get(server: ApiServer, path: str, **params: Any) -> Any:
    answer = server.request("GET", path, as_user="viewer", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _param(value: Any) -> dict[str, Any]:
    return {"__class": "dagcore.params.Param", "value": value, "description": None,
            "schema": {}}


def _task(task_id: str, **changes: Any) -> dict[str, Any]:
    """test_tasks.py TestGetTask's expected EmptyOperator body, with ``changes``."""
    body = {
        "class_ref": {"class_name": "EmptyOperator",
                      "module_path": "dagcore.operators.empty"},
        "depends_on_past": False, "downstream_task_ids": [], "end_date": None,
        "execution_timeout": None, "extra_links": [], "operator_name": "EmptyOperator",
        "owner": "airflow", "params": {}, "pool": "default_pool", "pool_slots": 1.0,
        "priority_weight": 1.0, "queue": "default", "retries": 1.0,  # default_args
        "retry_delay": {"__type": "TimeDelta", "days": 0, "seconds": 300, "microseconds": 0},
        "retry_exponential_backoff": 0.0, "start_date": "2021-06-14T22:00:00Z",
        "task_id": task_id, "task_display_name": task_id, "template_fields": [],
        "trigger_rule": "all_success", "ui_color": "#e8f7e4", "ui_fgcolor": "#000",
        "wait_for_downstream": False, "weight_rule": "downstream", "is_mapped": False,
        "has_outlets": False, "doc_md": None,
    }
    body.update(changes)
    return body


def _op3() -> dict[str, Any]:
    return _task("op3", class_ref={"class_name": "BashOperator",
                                   "module_path": "dagcore.operators.bash"},
                 operator_name="BashOperator", ui_color="#f0ede4",
                 template_fields=["bash_command", "env", "cwd"],
                 execution_timeout={"__type": "TimeDelta", "days": 0, "seconds": 600,
                                    "microseconds": 5})


def test_dag_details(server: ApiServer) -> None:
    """test_dags.py TestDagDetails.test_dag_details: DAGResponse's fields plus the latest
    version's settings; params as Param.dump(), dag_run_timeout an ISO 8601 duration, the
    time zone by name, doc_md without its indentation (DAGDetailsResponse.get_doc_md)."""
    body = _get(server, "/api/v2/dags/details_dag/details")
    listed = _get(server, "/api/v2/dags/details_dag")
    version = body.pop("latest_dag_version")
    assert {k: body.pop(k) for k in listed} == listed  # DAGResponse's fields, same values
    assert body == {
        "catchup": False,
        "dag_run_timeout": "PT1H5M",
        "asset_expression": None,
        "doc_md": "details\n  indented",
        "start_date": "2021-06-14T22:00:00Z",
        "end_date": None,
        "is_paused_upon_creation": True,
        "params": {"foo": _param(1)},
        "render_template_as_native_obj": False,
        "template_search_path": ["/templates"],
        "timezone": "Europe/Amsterdam",
        "last_parsed": listed["last_parsed_time"],
        "default_args": {"depends_on_past": False, "retries": 1},
        "owner_links": {"airflow": "https://example.com/airflow"},
        "is_favorite": False,
        "active_runs_count": 2,  # running + queued (get_dag_details)
        "concurrency": listed["max_active_tasks"],
    }
    assert {k: v for k, v in version.items() if k not in ("id", "created_at")} == {
        "version_number": 1, "dag_id": "details_dag", "bundle_name": "dags-folder",
        "bundle_version": None, "dag_display_name": "details_dag", "bundle_url": None}


def test_dag_details_of_a_plain_dag(server: ApiServer) -> None:
    """test_dags.py's DAG2 case: no params, no timeout, UTC, no template path → nulls and
    empties as Airflow renders them."""
    body = _get(server, "/api/v2/dags/reporting/details")
    assert {k: body[k] for k in ("params", "dag_run_timeout", "timezone",
                                 "template_search_path", "doc_md", "default_args",
                                 "owner_links", "active_runs_count")} == {
        "params": {}, "dag_run_timeout": None, "timezone": "UTC",
        "template_search_path": None, "doc_md": None, "default_args": {}, "owner_links": {},
        "active_runs_count": 0}


@pytest.mark.parametrize("path", [
    "/api/v2/dags/no_such_dag/details",
    "/api/v2/dags/no_such_dag/tasks",
    "/api/v2/dags/no_such_dag/tasks/op1",
    "/api/v2/dags/old_dag/details",  # a dag row without a serialized version
])
def test_unknown_dag_is_404(server: ApiServer, path: str) -> None:
    """common/dagbag.py get_latest_version_of_dag: 404 with Airflow's text, checked before
    the task id or order_by."""
    answer = server.request("GET", path, as_user="viewer", params={"order_by": "nope"})
    dag_id = path.split("/")[4]
    assert (answer.status_code, answer.json()) == (
        404, {"detail": f"The Dag with ID: `{dag_id}` was not found"})


@pytest.mark.parametrize("task_id", ["xxxx_not_existing", "op1 ", "OP1", "op1;x", "é",
                                     "a" * 300])
def test_unknown_task_is_404(server: ApiServer, task_id: str) -> None:
    """test_tasks.py TestGetTask.test_should_respond_404: Airflow's "Task with id <t> was not
    found"; odd ids are 404 too, never 500."""
    answer = server.request("GET", f"/api/v2/dags/details_dag/tasks/{task_id}",
                            as_user="viewer")
    assert (answer.status_code, answer.json()) == (
        404, {"detail": f"Task with id {task_id} was not found"})


def test_get_task(server: ApiServer) -> None:
    """test_tasks.py TestGetTask.test_should_respond_200: one task, params dumped, durations
    as TimeDelta objects, the downstream ids."""
    assert _get(server, "/api/v2/dags/details_dag/tasks/op1") == _task(
        "op1", downstream_task_ids=["op2", "op3"], params={"foo": _param("bar")})
    assert _get(server, "/api/v2/dags/details_dag/tasks/op3") == _op3()


def test_get_tasks(server: ApiServer) -> None:
    """test_tasks.py TestGetTasks.test_should_respond_200: every task, by task_id."""
    assert _get(server, "/api/v2/dags/details_dag/tasks") == {
        "tasks": [
            _task("op1", downstream_task_ids=["op2", "op3"], params={"foo": _param("bar")}),
            _task("op2", start_date="2021-06-16T00:00:00Z", retries=3.0,
                  priority_weight=5.0),
            _op3(),
        ],
        "total_entries": 3,
    }


@pytest.mark.parametrize(("order_by", "expected"), [
    ("task_id", ["op1", "op2", "op3"]),
    ("-task_id", ["op3", "op2", "op1"]),
    ("retries", ["op1", "op3", "op2"]),  # 1 (default_args), 1, 3
    ("-priority_weight", ["op2", "op1", "op3"]),
    ("start_date", ["op1", "op3", "op2"]),
    # None sorts last, and first once reversed (sorted(..., reverse=True)).
    ("execution_timeout", ["op3", "op1", "op2"]),
    ("-execution_timeout", ["op1", "op2", "op3"]),
    ("operator_name", ["op3", "op1", "op2"]),
    ("ui_color", ["op1", "op2", "op3"]),
])
def test_get_tasks_order_by(server: ApiServer, order_by: str, expected: list[str]) -> None:
    """test_tasks.py TestGetTasks.test_get_tasks_should_response_200_order_by: a stable sort
    on the field (ties keep task order)."""
    body = _get(server, "/api/v2/dags/details_dag/tasks", order_by=order_by)
    assert [task["task_id"] for task in body["tasks"]] == expected


def test_get_tasks_bad_order_by_is_400(server: ApiServer) -> None:
    """routes/public/tasks.py get_tasks: a field outside _SORTABLE_TASK_FIELDS → 400."""
    answer = server.request("GET", "/api/v2/dags/details_dag/tasks", as_user="viewer",
                            params={"order_by": "-params"})
    assert (answer.status_code, answer.json()) == (400, {
        "detail": "Ordering with 'params' is disallowed or the attribute does not exist on "
                  "the model"})


@pytest.mark.parametrize("path", ["/api/v2/dags/details_dag/details",
                                  "/api/v2/dags/details_dag/tasks",
                                  "/api/v2/dags/details_dag/tasks/op1"])
def test_anonymous_is_401(server: ApiServer, path: str) -> None:
    """TestDagDetails / TestGetTask test_should_respond_401."""
    assert server.request("GET", path).status_code == 401


def test_details_load_the_dag_once(engine: sa.Engine) -> None:
    """The API server's bag serves repeated reads of a DAG's structure from its cache: two
    details reads and a task listing deserialize the latest version once (one miss), as
    DBDagBag.get_latest_version_of_dag reuses the cached version (docs/airflow-behaviour.md
    1.4)."""
    bag = DBDagBag.for_api_server(engine=engine)
    first = api_dags.get_dag_details(engine, bag, "details_dag")
    second = api_dags.get_dag_details(engine, bag, "details_dag")
    _, tasks = api_dags.list_dag_tasks(bag, "details_dag")
    stats = bag.cache_stats
    assert (stats.misses, stats.hits) == (1, 2)
    assert first.dag is second.dag
    assert [task.task_id for task in tasks] == ["op1", "op2", "op3"]
