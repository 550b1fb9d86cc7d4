"""DAG-run routes of the REST API for real (issue 13): ``dagcore api-server`` on a loopback port,
driven with ``requests``, on both versions.

Airflow's behaviour each test checks is named at the test: docs/airflow-rest-api.md A.2, A.3
(v1, ``api_connexion/endpoints/dag_run_endpoint.py`` of 2.10) and B.2 (v2,
``api_fastapi/core_api/routes/public/dag_run.py`` and ``datamodels/dag_run.py`` of Airflow 3).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from api_server_process import ApiServer, home_engine, prepare_home, serve

from dagcore.db import transaction
from dagcore.models import tables as t

V2 = "/api/v2/dags"
V1 = "/api/v1/dags"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, api_database_url: str | None) -> Path:
    """On SQLite and on PostgreSQL (the module runs once per backend)."""
    return prepare_home(tmp_path_factory.mktemp("runs"), database_url=api_database_url)


@pytest.fixture(scope="module")
def server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from serve(home, tmp_path_factory)


@pytest.fixture
def db(home: Path) -> Iterator[sa.Engine]:
    yield from home_engine(home)


def _run_id() -> str:
    return f"run_{uuid.uuid4().hex[:12]}"


def _trigger(server: ApiServer, dag_id: str = "reporting", **body: Any) -> dict[str, Any]:
    body.setdefault("logical_date", None)
    body.setdefault("dag_run_id", _run_id())
    answer = server.request("POST", f"{V2}/{dag_id}/dagRuns", as_user="user", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _add_tis(db: sa.Engine, dag_id: str, run_id: str, states: dict[str, str | None]) -> None:
    with transaction(db) as conn:
        for task_id, state in states.items():
            conn.execute(t.task_instance.insert().values(
                id=uuid.uuid4(), dag_id=dag_id, run_id=run_id, task_id=task_id, state=state,
                try_number=1, max_tries=0))


def _ti_states(db: sa.Engine, dag_id: str, run_id: str) -> dict[str, str | None]:
    ti = t.task_instance
    with db.connect() as conn:
        return dict(conn.execute(sa.select(ti.c.task_id, ti.c.state).where(
            ti.c.dag_id == dag_id, ti.c.run_id == run_id)).all())


def _stored_runs(db: sa.Engine, dag_id: str, run_id: str) -> int:
    dr = t.dag_run
    with db.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(dr).where(
            dr.c.dag_id == dag_id, dr.c.run_id == run_id)).scalar_one())


# -- v2: trigger (B.2) ---------------------------------------------------------------------------


def test_v2_trigger_answers_200_with_the_run(server: ApiServer) -> None:
    """Airflow 3 trigger_dag_run: 200 DAGRunResponse, queued, manual, triggered_by rest_api,
    the caller as triggering_user_name, datetimes with Z."""
    run_id = _run_id()
    run = _trigger(server, dag_id="etl_daily", dag_run_id=run_id,
                   logical_date="2025-02-03T04:05:06Z", conf={"a": 1}, note="hello")
    assert run["dag_run_id"] == run_id and run["dag_id"] == "etl_daily"
    assert run["logical_date"] == "2025-02-03T04:05:06Z"
    assert (run["state"], run["run_type"]) == ("queued", "manual")
    assert run["triggered_by"] == "rest_api"
    assert run["triggering_user_name"] == "user"
    assert (run["conf"], run["note"], run["start_date"]) == ({"a": 1}, "hello", None)
    assert run["run_after"].endswith("Z")
    assert len(run["dag_versions"]) == 1 and run["dag_versions"][0]["dag_id"] == "etl_daily"
    assert set(run) >= {"queued_at", "end_date", "duration", "data_interval_start",
                        "data_interval_end", "last_scheduling_decision", "bundle_version",
                        "dag_display_name"}


def test_v2_trigger_with_a_data_interval(server: ApiServer) -> None:
    """data_interval_start/end given together are the run's interval."""
    run = _trigger(server, logical_date="2025-03-01T00:00:00Z",
                   data_interval_start="2025-02-01T00:00:00Z",
                   data_interval_end="2025-03-01T00:00:00Z")
    assert (run["data_interval_start"], run["data_interval_end"]) == (
        "2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z")


def test_v2_trigger_null_logical_date(server: ApiServer) -> None:
    """logical_date null: no logical date and no interval (Airflow 3)."""
    run = _trigger(server, logical_date=None)
    assert run["logical_date"] is None and run["data_interval_start"] is None


# Airflow 3 (pydantic 2) items: TriggerDAGRunPostBody is a StrictBaseModel with logical_date a
# required AwareDatetime | None and a model validator for the interval pair.
@pytest.mark.parametrize(("body", "expected"), [
    ({"dag_run_id": "x"},
     {"type": "missing", "loc": ["body", "logical_date"], "msg": "Field required",
      "input": {"dag_run_id": "x"}}),
    ({"logical_date": None, "bogus": 1},
     {"type": "extra_forbidden", "loc": ["body", "bogus"],
      "msg": "Extra inputs are not permitted", "input": 1}),
    ({"logical_date": "2025-01-01T00:00:00"},
     {"type": "timezone_aware", "loc": ["body", "logical_date"],
      "msg": "Input should have timezone info", "input": "2025-01-01T00:00:00"}),
    ({"logical_date": None, "data_interval_start": "2025-01-01T00:00:00Z"},
     {"type": "value_error", "loc": ["body"],
      "msg": "Value error, Either both data_interval_start and data_interval_end must be "
             "provided or both must be None", "ctx": {"error": {}},
      "input": {"logical_date": None, "data_interval_start": "2025-01-01T00:00:00Z"}}),
])
def test_v2_trigger_bad_bodies_are_422(server: ApiServer, body: dict[str, Any],
                                       expected: dict[str, Any]) -> None:
    """TriggerDAGRunPostBody is strict: logical_date is a required key, unknown keys and naive
    datetimes are refused, the interval comes as a pair → 422 with pydantic 2's item."""
    answer = server.request("POST", f"{V2}/reporting/dagRuns", as_user="user", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == [expected]


def test_v2_trigger_errors(server: ApiServer) -> None:
    """404 "DAG with dag_id: '<d>' not found" (unknown or stale); 400 for a bad run id."""
    for dag_id in ("nope", "old_dag"):
        answer = server.request("POST", f"{V2}/{dag_id}/dagRuns", as_user="user",
                                json={"logical_date": None})
        assert (answer.status_code, answer.json()) == (
            404, {"detail": f"DAG with dag_id: '{dag_id}' not found"})
    answer = server.request("POST", f"{V2}/reporting/dagRuns", as_user="user",
                            json={"logical_date": None, "dag_run_id": "bad id/with slash"})
    assert answer.status_code == 400 and "bad id/with slash" in answer.json()["detail"]


def test_v2_duplicate_run_id_is_409(server: ApiServer) -> None:
    """_UniqueConstraintErrorHandler: 409 {"detail": {"reason": "Unique constraint violation",
    "statement": "hidden", "orig_error": "hidden", "message": ...}}."""
    run = _trigger(server)
    answer = server.request("POST", f"{V2}/reporting/dagRuns", as_user="user",
                            json={"logical_date": None, "dag_run_id": run["dag_run_id"]})
    assert answer.status_code == 409
    detail = answer.json()["detail"]
    assert detail["reason"] == "Unique constraint violation"
    assert (detail["statement"], detail["orig_error"]) == ("hidden", "hidden")
    assert "look for ID" in detail["message"]


def test_v2_permissions(server: ApiServer) -> None:
    """Reading needs viewer, triggering user, deleting op (issue 13's roles): 403 below."""
    run = _trigger(server)
    path = f"{V2}/reporting/dagRuns"
    assert server.request("GET", path, as_user="viewer").status_code == 200
    assert server.request("POST", path, as_user="viewer",
                          json={"logical_date": None}).status_code == 403
    assert server.request("POST", f"{path}/{run['dag_run_id']}/clear", as_user="viewer",
                          json={}).status_code == 403
    assert server.request("PATCH", f"{path}/{run['dag_run_id']}", as_user="viewer",
                          json={"note": "x"}).status_code == 403
    assert server.request("DELETE", f"{path}/{run['dag_run_id']}",
                          as_user="user").status_code == 403
    assert server.request("GET", path).status_code == 401


# -- v2: list and get (B.2) ---------------------------------------------------------------------


def test_v2_list_filters_order_and_paging(server: ApiServer) -> None:
    """GET .../dagRuns: {"dag_runs", "total_entries"} counted before paging; state and
    logical_date filters; order_by with "-"; ~ lists every DAG."""
    first = _trigger(server, dag_id="ml_train", logical_date="2024-05-01T03:00:00Z")
    second = _trigger(server, dag_id="ml_train", logical_date="2024-05-02T03:00:00Z")
    path = f"{V2}/ml_train/dagRuns"
    body = server.request("GET", path, as_user="viewer",
                          params={"logical_date_gte": "2024-05-01T00:00:00Z",
                                  "logical_date_lte": "2024-05-03T00:00:00Z",
                                  "order_by": "-logical_date"}).json()
    assert [r["dag_run_id"] for r in body["dag_runs"]] == [second["dag_run_id"],
                                                           first["dag_run_id"]]
    assert body["total_entries"] == 2
    page = server.request("GET", path, as_user="viewer",
                          params={"logical_date_gte": "2024-05-01T00:00:00Z",
                                  "logical_date_lte": "2024-05-03T00:00:00Z",
                                  "limit": 1, "offset": 1}).json()
    assert [r["dag_run_id"] for r in page["dag_runs"]] == [second["dag_run_id"]]
    assert page["total_entries"] == 2
    none = server.request("GET", path, as_user="viewer",
                          params={"state": "success",
                                  "logical_date_gte": "2024-05-01T00:00:00Z"}).json()
    assert none == {"dag_runs": [], "total_entries": 0}
    other = _trigger(server, dag_id="reporting", logical_date="2024-05-01T12:00:00Z")
    every = server.request("GET", f"{V2}/~/dagRuns", as_user="viewer",
                           params={"logical_date_gte": "2024-05-01T00:00:00Z",
                                   "logical_date_lte": "2024-05-03T00:00:00Z",
                                   "limit": 100}).json()
    listed = {(r["dag_id"], r["dag_run_id"]) for r in every["dag_runs"]}
    assert listed >= {("ml_train", first["dag_run_id"]), ("ml_train", second["dag_run_id"]),
                      ("reporting", other["dag_run_id"])}


def test_v2_list_errors(server: ApiServer) -> None:
    """Unknown DAG → 404 (Airflow 3.2's text); bad order_by → 400 with v1's text; bad state →
    422 "Invalid value for state..."; negative limit → 422."""
    answer = server.request("GET", f"{V2}/nope/dagRuns", as_user="viewer")
    assert (answer.status_code, answer.json()) == (
        404, {"detail": "The Dag with ID: `nope` was not found"})
    answer = server.request("GET", f"{V2}/reporting/dagRuns", as_user="viewer",
                            params={"order_by": "password"})
    assert (answer.status_code, answer.json()["detail"]) == (
        400, "Ordering with 'password' is disallowed or the attribute does not exist on the "
             "model")
    answer = server.request("GET", f"{V2}/reporting/dagRuns", as_user="viewer",
                            params={"state": "bogus"})
    assert (answer.status_code, answer.json()["detail"]) == (
        422, "Invalid value for state. Valid values are queued, running, success, failed")
    assert server.request("GET", f"{V2}/reporting/dagRuns", as_user="viewer",
                          params={"limit": -1}).status_code == 422


# -- v2: list filters (Airflow 3's get_dag_runs, common/parameters.py; test_dag_run.py
# TestGetDagRuns.test_filters, test_bad_filters, test_invalid_state, test_invalid_dag_version) --

FILTER_DAY = datetime(2031, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def filter_runs(home: Path) -> dict[str, str]:
    """Four etl_daily runs with a common run-id token (so other tests' runs stay out):
    a: success, scheduled, day 1, 1 h, user alice, created with version 1;
    b: failed, manual, day 2, 4 h, user bob, version 1;
    c: running, backfill, day 3, started, not ended;
    d: queued, asset_triggered, no logical date, not started."""
    token = uuid.uuid4().hex[:10]
    hour = timedelta(hours=1)
    dv = t.dag_version
    for engine in home_engine(home):  # one engine, disposed after
        with transaction(engine) as conn:
            version_id = conn.execute(sa.select(dv.c.id).where(
                dv.c.dag_id == "etl_daily", dv.c.version_number == 1)).scalar_one()
            for key, day, state, run_type, hours, user, version in (
                    ("a", 0, "success", "scheduled", 1, "alice", version_id),
                    ("b", 1, "failed", "manual", 4, "bob", version_id),
                    ("c", 2, "running", "backfill", None, None, None),
                    ("d", 3, "queued", "asset_triggered", None, None, None)):
                when = FILTER_DAY + timedelta(days=day)
                start = None if key == "d" else when + hour
                conn.execute(t.dag_run.insert().values(
                    dag_id="etl_daily", run_id=f"{token}_{key}", state=state,
                    run_type=run_type, logical_date=None if key == "d" else when,
                    run_after=when, start_date=start,
                    end_date=None if hours is None else start + hours * hour,
                    updated_at=when + 6 * hour, triggering_user_name=user,
                    created_dag_version_id=version))
    return {"token": token}


def _filtered(server: ApiServer, token: str, **query: Any) -> list[str]:
    query.setdefault("run_id_pattern", token)
    answer = server.request("GET", f"{V2}/~/dagRuns", as_user="viewer", params=query)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total_entries"] == len(body["dag_runs"])
    return [run["dag_run_id"].rsplit("_", 1)[1] for run in body["dag_runs"]]


def _day(days: int, hours: int = 0) -> str:
    return (FILTER_DAY + timedelta(days=days, hours=hours)).isoformat()


@pytest.mark.parametrize(("query", "expected"), [
    ({}, ["a", "b", "c", "d"]),
    # RangeFilter bounds: _gte, _gt, _lte, _lt; a NULL logical date matches no bound.
    ({"logical_date_gte": _day(1)}, ["b", "c"]),
    ({"logical_date_gt": _day(1)}, ["c"]),
    ({"logical_date_lte": _day(1)}, ["a", "b"]),
    ({"logical_date_lt": _day(1)}, ["a"]),
    ({"run_after_gte": _day(3)}, ["d"]),
    ({"run_after_gt": _day(0), "run_after_lt": _day(3)}, ["b", "c"]),
    ({"updated_at_gte": _day(1, 6), "updated_at_lte": _day(2, 6)}, ["b", "c"]),
    ({"start_date_gte": _day(1)}, ["b", "c"]),
    # start_date/end_date are coalesced with now: an open run (c, d) ends "now" (before 2031).
    ({"end_date_lte": _day(0, 3)}, ["a", "c", "d"]),
    ({"end_date_gt": _day(0, 3)}, ["b"]),
    # Repeated state / run_type (ANY_EQUAL); "none" is NULL, which no run has.
    ({"state": ["success", "failed"]}, ["a", "b"]),
    ({"state": "none"}, []),
    ({"run_type": ["manual", "backfill"]}, ["b", "c"]),
    ({"run_type": "asset_triggered"}, ["d"]),
    # dag_version: version numbers of the version a run was created with.
    ({"dag_version": 1}, ["a", "b"]),
    ({"dag_version": [2, 3]}, []),
    # _SearchParam patterns: ILIKE substring; "~" is everything.
    ({"triggering_user_name_pattern": "ALI"}, ["a"]),
    ({"triggering_user_name_pattern": "~"}, ["a", "b"]),
    # SortParam: duration (end - start) with NULLs last, id in the first field's direction.
    ({"order_by": "duration"}, ["a", "b", "c", "d"]),
    ({"order_by": "-duration"}, ["b", "a", "d", "c"]),
    ({"order_by": ["-end_date", "run_id"]}, ["b", "a", "c", "d"]),
    ({"order_by": "-logical_date"}, ["c", "b", "a", "d"]),
])
def test_v2_list_filters(server: ApiServer, filter_runs: dict[str, str],
                         query: dict[str, Any], expected: list[str]) -> None:
    assert _filtered(server, filter_runs["token"], **query) == expected


def test_v2_list_run_id_pattern(server: ApiServer, filter_runs: dict[str, str]) -> None:
    """run_id_pattern is a substring; on one DAG's path as on ~."""
    token = filter_runs["token"]
    answer = server.request("GET", f"{V2}/etl_daily/dagRuns", as_user="viewer",
                            params={"run_id_pattern": f"{token}_b"}).json()
    assert [r["dag_run_id"] for r in answer["dag_runs"]] == [f"{token}_b"]


def test_v2_list_bad_filters(server: ApiServer) -> None:
    """test_dag_run.py test_bad_filters: every bad date is one pydantic 2 item, in the order of
    the parameters (run_after, logical_date, start_date, end_date; gte before lte)."""
    names = ["logical_date_gte", "start_date_gte", "end_date_gte", "run_after_gte",
             "logical_date_lte", "start_date_lte", "end_date_lte", "run_after_lte"]
    answer = server.request("GET", f"{V2}/etl_daily/dagRuns", as_user="viewer",
                            params={name: "invalid" for name in names})
    assert answer.status_code == 422
    order = ["run_after_gte", "run_after_lte", "logical_date_gte", "logical_date_lte",
             "start_date_gte", "start_date_lte", "end_date_gte", "end_date_lte"]
    assert answer.json()["detail"] == [
        {"type": "datetime_from_date_parsing", "loc": ["query", name],
         "msg": "Input should be a valid datetime or date, input is too short",
         "input": "invalid", "ctx": {"error": "input is too short"}} for name in order]


def test_v2_list_bad_values(server: ApiServer) -> None:
    """test_invalid_dag_version: int_parsing naming dag_version; _transform_dag_run_types'
    422 text; Airflow's sort fields (no run_type) and at most 10; a naive date → 422
    timezone_aware (dagcore's: Airflow fails comparing it with its UTC columns)."""
    path = f"{V2}/etl_daily/dagRuns"
    answer = server.request("GET", path, as_user="viewer", params={"dag_version": "invalid"})
    assert (answer.status_code, answer.json()) == (422, {"detail": [{
        "type": "int_parsing", "loc": ["query", "dag_version", 0],
        "msg": "Input should be a valid integer, unable to parse string as an integer",
        "input": "invalid"}]})
    answer = server.request("GET", path, as_user="viewer", params={"run_type": "adhoc"})
    assert (answer.status_code, answer.json()) == (422, {
        "detail": "Invalid value for run type. Valid values are backfill, scheduled, manual, "
                  "asset_triggered"})
    answer = server.request("GET", path, as_user="viewer", params={"order_by": "run_type"})
    assert answer.status_code == 400
    many = ["id"] * 11
    answer = server.request("GET", path, as_user="viewer", params={"order_by": many})
    assert (answer.status_code, answer.json()) == (400, {
        "detail": f"Ordering with more than 10 parameters is not allowed. Provided: {many}"})
    answer = server.request("GET", path, as_user="viewer",
                            params={"start_date_gt": "2031-01-01T00:00:00"})
    assert (answer.status_code, answer.json()) == (422, {"detail": [{
        "type": "timezone_aware", "loc": ["query", "start_date_gt"],
        "msg": "Input should have timezone info", "input": "2031-01-01T00:00:00"}]})


def test_v2_get_run_and_404(server: ApiServer) -> None:
    """GET one run; a missing one → 404 "The DagRun with dag_id: `<d>` and run_id: `<r>` was
    not found"."""
    run = _trigger(server)
    got = server.request("GET", f"{V2}/reporting/dagRuns/{run['dag_run_id']}",
                         as_user="viewer").json()
    assert got == run
    answer = server.request("GET", f"{V2}/reporting/dagRuns/ghost", as_user="viewer")
    assert (answer.status_code, answer.json()) == (
        404, {"detail": "The DagRun with dag_id: `reporting` and run_id: `ghost` was not "
                        "found"})


# -- v2: patch, delete, clear (B.2) -------------------------------------------------------------


def test_v2_patch_state_and_note(server: ApiServer, db: sa.Engine) -> None:
    """PATCH {"state": "failed"}: running TIs fail, other unfinished ones are skipped
    (mark_tasks); {"note"} sets the note; update_mask limits the fields; a bad state → 422."""
    run = _trigger(server)
    run_id = run["dag_run_id"]
    _add_tis(db, "reporting", run_id, {"a": "running", "b": None, "c": "success"})
    path = f"{V2}/reporting/dagRuns/{run_id}"
    answer = server.request("PATCH", path, as_user="user", json={"state": "failed"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "failed" and answer.json()["end_date"] is not None
    assert _ti_states(db, "reporting", run_id) == {"a": "failed", "b": "skipped",
                                                   "c": "success"}
    answer = server.request("PATCH", path, as_user="user", params={"update_mask": "note"},
                            json={"state": "success", "note": "checked"})
    assert (answer.json()["state"], answer.json()["note"]) == ("failed", "checked")
    answer = server.request("PATCH", path, as_user="user", json={"state": "queued"})
    assert (answer.json()["state"], answer.json()["end_date"]) == ("queued", None)
    answer = server.request("PATCH", path, as_user="user", json={"state": "running"})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "state"]
    answer = server.request("PATCH", f"{V2}/reporting/dagRuns/ghost", as_user="user",
                            json={"note": "x"})
    assert answer.status_code == 404


def test_v2_delete(server: ApiServer, db: sa.Engine) -> None:
    """DELETE → 204 with no body, the task instances go with the run; again → 404."""
    run = _trigger(server)
    run_id = run["dag_run_id"]
    _add_tis(db, "reporting", run_id, {"a": "success"})
    answer = server.request("DELETE", f"{V2}/reporting/dagRuns/{run_id}", as_user="op")
    assert (answer.status_code, answer.content) == (204, b"")
    assert _stored_runs(db, "reporting", run_id) == 0
    assert _ti_states(db, "reporting", run_id) == {}
    answer = server.request("DELETE", f"{V2}/reporting/dagRuns/{run_id}", as_user="op")
    assert answer.status_code == 404


def test_v2_clear_dry_run_then_clear(server: ApiServer, db: sa.Engine) -> None:
    """DAGRunClearBody: a body is required (422 without); dry_run (default true) lists the
    task instances with total_entries; only_failed; a real clear answers the queued run."""
    run = _trigger(server)
    run_id = run["dag_run_id"]
    _add_tis(db, "reporting", run_id, {"a": "failed", "b": "success"})
    server.request("PATCH", f"{V2}/reporting/dagRuns/{run_id}", as_user="user",
                   json={"state": "failed"})
    path = f"{V2}/reporting/dagRuns/{run_id}/clear"
    answer = server.request("POST", path, as_user="user")
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][0] == "body"
    dry = server.request("POST", path, as_user="user", json={}).json()
    assert dry["total_entries"] == 2
    assert {ti["task_id"] for ti in dry["task_instances"]} == {"a", "b"}
    dry = server.request("POST", path, as_user="user", json={"only_failed": True}).json()
    assert [ti["task_id"] for ti in dry["task_instances"]] == ["a"]
    assert _ti_states(db, "reporting", run_id) == {"a": "failed", "b": "success"}
    done = server.request("POST", path, as_user="user",
                          json={"dry_run": False, "only_failed": True})
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "queued" and done.json()["dag_run_id"] == run_id
    assert _ti_states(db, "reporting", run_id) == {"a": None, "b": "success"}
    answer = server.request("POST", f"{V2}/reporting/dagRuns/ghost/clear", as_user="user",
                            json={})
    assert (answer.status_code, answer.json()) == (
        404, {"detail": "The DagRun with dag_id: `reporting` and run_id: `ghost` was not "
                        "found"})


# -- concurrency (issue 13) ---------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_eight_threads_one_run_id(server: ApiServer, db: sa.Engine, version: str) -> None:
    """8 threads posting the same dag_run_id: exactly one 200, seven 409, one run stored
    (the unique constraint decides, docs/airflow-behaviour.md 4)."""
    run_id = _run_id()
    if version == "v2":
        path = f"{V2}/reporting/dagRuns"
        kwargs: dict[str, Any] = {"json": {"dag_run_id": run_id, "logical_date": None}}
        server.token("user")  # fetched once, before the threads
    else:
        path = f"{V1}/reporting/dagRuns"
        kwargs = {"json": {"dag_run_id": run_id}, "basic": True}
    barrier = threading.Barrier(8)
    codes: list[int] = []
    lock = threading.Lock()

    def post() -> None:
        barrier.wait()
        answer = server.request("POST", path, as_user="user", **kwargs)
        with lock:
            codes.append(answer.status_code)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200] + [409] * 7
    assert _stored_runs(db, "reporting", run_id) == 1


def test_v2_run_ids_with_odd_characters_never_500(server: ApiServer) -> None:
    """Quotes and traversal sequences in a run id are just unknown ids: 404, never 500."""
    for run_id in ("a'b", 'a"b', "..%2F..%2Fetc", "%00"):
        answer = server.request("GET", f"{V2}/reporting/dagRuns/{run_id}", as_user="viewer")
        assert answer.status_code in (404, 422), (run_id, answer.status_code)


def test_v2_clear_keeps_dates_aware(server: ApiServer) -> None:
    """A triggered run's dates come back with Z (Airflow 3's datetime serialization)."""
    run = _trigger(server, logical_date="2025-06-01T12:00:00+02:00")
    assert run["logical_date"] == "2025-06-01T10:00:00Z"
    assert datetime.fromisoformat(run["queued_at"].replace("Z", "+00:00")).tzinfo == UTC


# -- v1 (A.1-A.3) --------------------------------------------------------------------------------


def _v1(server: ApiServer, method: str, path: str, user: str = "user",
        **kwargs: Any) -> Any:
    return server.request(method, f"{V1}{path}", as_user=user, basic=True, **kwargs)


def _problem(answer: Any, status: int, detail: Any, title: str | None = None) -> None:
    """Airflow 2's problem+json (connexion): status, title and detail."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert (body["status"], body["detail"]) == (status, detail)
    if title is not None:
        assert body["title"] == title


def test_v1_trigger_with_v1_names(server: ApiServer) -> None:
    """post_dag_run: 200 with dag_run_id, execution_date equal to logical_date, +00:00
    datetimes, external_trigger true, conf {} when absent (A.2 1)."""
    run_id = _run_id()
    answer = _v1(server, "POST", "/etl_daily/dagRuns",
                 json={"dag_run_id": run_id, "execution_date": "2023-07-08T09:10:11+00:00"})
    assert answer.status_code == 200, answer.text
    run = answer.json()
    assert run["dag_run_id"] == run_id
    assert run["logical_date"] == run["execution_date"] == "2023-07-08T09:10:11+00:00"
    assert (run["state"], run["external_trigger"], run["conf"], run["start_date"]) == (
        "queued", True, {}, None)
    assert run["run_type"] == "manual"


def test_v1_two_conflict_messages(server: ApiServer) -> None:
    """A.3 2: the same logical date → "...DAGRun logical date: '<isoformat(sep=' ')>' already
    exists"; the same run id → "...DAGRun ID: '<r>' already exists"; title "Conflict"."""
    run_id = _run_id()
    first = _v1(server, "POST", "/ml_train/dagRuns",
                json={"dag_run_id": run_id, "logical_date": "2023-01-02T03:00:00+00:00"})
    assert first.status_code == 200, first.text
    same_date = _v1(server, "POST", "/ml_train/dagRuns",
                    json={"dag_run_id": _run_id(), "logical_date": "2023-01-02T03:00:00Z"})
    _problem(same_date, 409, "DAGRun with DAG ID: 'ml_train' and DAGRun logical date: "
                             "'2023-01-02 03:00:00+00:00' already exists", "Conflict")
    same_id = _v1(server, "POST", "/ml_train/dagRuns",
                  json={"dag_run_id": run_id, "logical_date": "2023-01-03T03:00:00Z"})
    _problem(same_id, 409, f"DAGRun with DAG ID: 'ml_train' and DAGRun ID: '{run_id}' already "
                           f"exists", "Conflict")


@pytest.mark.parametrize(("body", "detail"), [
    ({"bogus": 1}, "{'bogus': ['Unknown field.']}"),
    ({"execution_date": "2020-11-10T08:25:56.939143"},
     "'2020-11-10T08:25:56.939143' is not a 'date-time' - 'execution_date'"),
    ({"conf": "x"}, "'x' is not of type 'object' - 'conf'"),
    ({"data_interval_start": "2024-01-01T00:00:00Z"},
     "{'_schema': [\"Both 'data_interval_start' and 'data_interval_end' must be specified "
     "together\"]}"),
    ({"dag_id": "x"}, "Property is read-only - 'dag_id'"),
])
def test_v1_trigger_bad_bodies_are_400(server: ApiServer, body: dict[str, Any],
                                       detail: str) -> None:
    """Connexion's and marshmallow's 400s (A.1, A.2 1)."""
    _problem(_v1(server, "POST", "/reporting/dagRuns", json=body), 400, detail)


def test_v1_logical_and_execution_date_conflict(server: ApiServer) -> None:
    """A.3 1: both given and different → 400 title "logical_date conflicts with
    execution_date"."""
    answer = _v1(server, "POST", "/reporting/dagRuns",
                 json={"logical_date": "2024-01-01T00:00:00+00:00",
                       "execution_date": "2024-01-02T00:00:00+00:00"})
    _problem(answer, 400, "'2024-01-01T00:00:00+00:00' != '2024-01-02T00:00:00+00:00'",
             "logical_date conflicts with execution_date")


@pytest.mark.parametrize("key", ["start_date", "end_date", "state"])
def test_v1_read_only_fields_name_the_backfill_endpoint(server: ApiServer, key: str) -> None:
    """Deviation 2 of issue 13: Airflow's 400 "Property is read-only - '<key>'", plus how to run
    a date range (the backfill endpoint)."""
    answer = _v1(server, "POST", "/reporting/dagRuns",
                 json={key: "2024-01-01T00:00:00+00:00", "dag_run_id": _run_id()})
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert detail.startswith(f"Property is read-only - '{key}'")
    assert "/api/v2/backfills" in detail


def test_v1_trigger_unknown_dag(server: ApiServer) -> None:
    """404 title "DAG not found", detail "DAG with dag_id: '<d>' not found"."""
    _problem(_v1(server, "POST", "/nope/dagRuns", json={}), 404,
             "DAG with dag_id: 'nope' not found", "DAG not found")


def test_v1_list_get_and_unknown_dag(server: ApiServer) -> None:
    """GET list: an unknown DAG is no error (200, empty); order_by one field; bad order_by →
    400; state comma list; GET one → 404 title "DAGRun not found"."""
    _v1(server, "POST", "/ml_train/dagRuns",
        json={"dag_run_id": _run_id(), "logical_date": "2022-05-01T03:00:00+00:00"})
    assert _v1(server, "GET", "/nope/dagRuns", user="viewer").json() == {
        "dag_runs": [], "total_entries": 0}
    body = _v1(server, "GET", "/ml_train/dagRuns", user="viewer",
               params={"execution_date_lte": "2022-05-01T03:00:00+00:00",
                       "order_by": "-execution_date", "state": "queued,running"}).json()
    assert body["total_entries"] == 1
    run = body["dag_runs"][0]
    assert run["execution_date"] == "2022-05-01T03:00:00+00:00"
    _problem(_v1(server, "GET", "/ml_train/dagRuns", user="viewer",
                 params={"order_by": "password"}), 400,
             "Ordering with 'password' is disallowed or the attribute does not exist on the "
             "model")
    _problem(_v1(server, "GET", "/ml_train/dagRuns", user="viewer", params={"limit": -1}),
             400, None, "Page limit must be a positive integer")
    got = _v1(server, "GET", f"/ml_train/dagRuns/{run['dag_run_id']}", user="viewer")
    assert got.json() == run
    _problem(_v1(server, "GET", "/ml_train/dagRuns/ghost", user="viewer"), 404,
             "DAGRun with DAG ID: 'ml_train' and DagRun ID: 'ghost' not found",
             "DAGRun not found")
    every = _v1(server, "GET", "/~/dagRuns", user="viewer").json()
    assert len(every["dag_runs"]) <= 100 and every["total_entries"] >= 1


def test_v1_patch_state(server: ApiServer, db: sa.Engine) -> None:
    """PATCH {"state"}: success marks the unfinished TIs success; 400 "'running' is not one of
    [...] - 'state'"; an unknown key 400; a missing run 404 title "Dag Run id <r> not found in
    dag <d>" (A.2 5)."""
    run_id = _trigger(server)["dag_run_id"]
    _add_tis(db, "reporting", run_id, {"a": None, "b": "failed"})
    answer = _v1(server, "PATCH", f"/reporting/dagRuns/{run_id}", json={"state": "success"})
    assert answer.status_code == 200 and answer.json()["state"] == "success"
    assert answer.json()["end_date"].endswith("+00:00")
    assert _ti_states(db, "reporting", run_id) == {"a": "success", "b": "failed"}
    _problem(_v1(server, "PATCH", f"/reporting/dagRuns/{run_id}", json={"state": "running"}),
             400, "'running' is not one of ['success', 'failed', 'queued'] - 'state'")
    _problem(_v1(server, "PATCH", f"/reporting/dagRuns/{run_id}",
                 json={"state": "failed", "states": "x"}), 400,
             "{'states': ['Unknown field.']}")
    _problem(_v1(server, "PATCH", "/reporting/dagRuns/ghost", json={"state": "failed"}),
             404, None, "Dag Run id ghost not found in dag reporting")


def test_v1_clear(server: ApiServer, db: sa.Engine) -> None:
    """clear: {} is a dry run listing TaskInstanceReferences; dry_run false clears and answers
    the run queued; "{'dryrun': ['Unknown field.']}"; 404 title with three spaces (A.2 6)."""
    run_id = _trigger(server)["dag_run_id"]
    _add_tis(db, "reporting", run_id, {"a": "failed"})
    _v1(server, "PATCH", f"/reporting/dagRuns/{run_id}", json={"state": "failed"})
    dry = _v1(server, "POST", f"/reporting/dagRuns/{run_id}/clear", json={})
    assert dry.json() == {"task_instances": [{"task_id": "a", "dag_id": "reporting",
                                              "execution_date": None, "dag_run_id": run_id}]}
    done = _v1(server, "POST", f"/reporting/dagRuns/{run_id}/clear", json={"dry_run": False})
    assert done.status_code == 200 and done.json()["state"] == "queued"
    assert _ti_states(db, "reporting", run_id) == {"a": None}
    _problem(_v1(server, "POST", f"/reporting/dagRuns/{run_id}/clear", json={"dryrun": True}),
             400, "{'dryrun': ['Unknown field.']}")
    _problem(_v1(server, "POST", "/reporting/dagRuns/ghost/clear", json={}), 404, None,
             "Dag Run id ghost not found in dag   reporting")


def test_v1_delete_and_delete_by_logical_date(server: ApiServer, db: sa.Engine) -> None:
    """DELETE → 204 (A.2 4); a missing id → 404 title "Not Found"; deviation 3 of issue 13:
    an ISO datetime equal to a run's logical date deletes that run (Airflow: 404)."""
    run_id = _run_id()
    _v1(server, "POST", "/etl_daily/dagRuns",
        json={"dag_run_id": run_id, "logical_date": "2021-04-05T00:00:00+00:00"})
    assert _v1(server, "DELETE", f"/etl_daily/dagRuns/{run_id}", user="user").status_code == 403
    answer = _v1(server, "DELETE", f"/etl_daily/dagRuns/{run_id}", user="op")
    assert (answer.status_code, answer.content) == (204, b"")
    _problem(_v1(server, "DELETE", f"/etl_daily/dagRuns/{run_id}", user="op"), 404,
             f"DAGRun with DAG ID: 'etl_daily' and DagRun ID: '{run_id}' not found", "Not Found")
    other = _run_id()
    _v1(server, "POST", "/etl_daily/dagRuns",
        json={"dag_run_id": other, "logical_date": "2021-04-06T00:00:00+00:00"})
    answer = _v1(server, "DELETE", "/etl_daily/dagRuns/2021-04-06T00:00:00+00:00", user="op")
    assert answer.status_code == 204, answer.text
    assert _stored_runs(db, "etl_daily", other) == 0
    _problem(_v1(server, "DELETE", "/etl_daily/dagRuns/2021-04-07T00:00:00Z", user="op"), 404,
             "DAGRun with DAG ID: 'etl_daily' and DagRun ID: '2021-04-07T00:00:00Z' not found")
