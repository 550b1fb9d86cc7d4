"""Task instances over HTTP: v2 list/get of a run's task instances, ``clearTaskInstances`` on
both versions, and issue 13's deviation 1 (``POST /api/v1/dags/{dag_id}/clear``).

Airflow's behaviour: docs/airflow-rest-api.md A.4 and B.2, from Airflow 3's
``core_api/routes/public/task_instances.py`` (``post_clear_task_instances``,
``get_task_instances``) and Airflow 2.10's ``api_connexion/endpoints/task_instance_endpoint.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from api_server_process import ApiServer, home_engine, prepare_home, serve

from dagcore.api.common import trigger_dag
from dagcore.db import transaction
from dagcore.models import tables as t

V1_PROBLEM = "https://airflow.apache.org/docs/apache-airflow/stable/stable-rest-api-ref.html"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, api_database_url: str | None) -> Path:
    """On SQLite and on PostgreSQL (the module runs once per backend)."""
    return prepare_home(tmp_path_factory.mktemp("api"), database_url=api_database_url)


@pytest.fixture(scope="module")
def server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from serve(home, tmp_path_factory)


@pytest.fixture
def db(home: Path) -> Iterator[sa.Engine]:
    yield from home_engine(home)


def _run(db: sa.Engine, day: int, ti_state: str, run_state: str = "success",
         dag_id: str = "etl_daily") -> str:
    """A finished run of ``dag_id`` on 2024-05-<day> with one task instance in ``ti_state``."""
    task_id = {"etl_daily": "extract", "ml_train": "train"}[dag_id]
    run = trigger_dag(dag_id, logical_date=datetime(2024, 5, day, tzinfo=UTC), engine=db)
    with transaction(db) as conn:
        conn.execute(t.dag_run.update().where(t.dag_run.c.id == run.id)
                     .values(state=run_state))
        conn.execute(t.task_instance.insert().values(
            id=uuid.uuid4(), dag_id=dag_id, run_id=run.run_id, task_id=task_id, map_index=-1,
            state=ti_state, try_number=1, max_tries=0, pool="default_pool", pool_slots=1,
            operator="EmptyOperator"))
    return run.run_id


def _ti_state(db: sa.Engine, run_id: str) -> str | None:
    with db.connect() as conn:
        return conn.execute(sa.select(t.task_instance.c.state).where(
            t.task_instance.c.run_id == run_id)).scalar_one()


def _run_state(db: sa.Engine, run_id: str) -> str:
    with db.connect() as conn:
        return str(conn.execute(sa.select(t.dag_run.c.state).where(
            t.dag_run.c.run_id == run_id)).scalar_one())


def test_v2_list_and_get(server: ApiServer, db: sa.Engine) -> None:
    """get_task_instances: {"task_instances", "total_entries"} with Airflow 3's keys, the
    state filter; get_task_instance: one; 404s with Airflow 3's texts."""
    run_id = _run(db, 1, "success")
    base = f"/api/v2/dags/etl_daily/dagRuns/{run_id}/taskInstances"
    listed = server.request("GET", base, as_user="viewer")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["total_entries"] == 1
    ti = body["task_instances"][0]
    assert {"id", "task_id", "dag_id", "dag_run_id", "map_index", "logical_date", "run_after",
            "state", "try_number", "max_tries", "pool", "operator", "note",
            "rendered_fields", "dag_version"} <= set(ti)
    assert (ti["task_id"], ti["dag_run_id"], ti["state"], ti["logical_date"]) == (
        "extract", run_id, "success", "2024-05-01T00:00:00Z")
    none = server.request("GET", base, as_user="viewer", params={"state": "failed"}).json()
    assert none == {"task_instances": [], "total_entries": 0}
    got = server.request("GET", f"{base}/extract", as_user="viewer")
    assert got.status_code == 200 and got.json() == ti
    missing_ti = server.request("GET", f"{base}/nope", as_user="viewer")
    assert (missing_ti.status_code, missing_ti.json()) == (404, {
        "detail": f"The Task Instance with dag_id: `etl_daily`, run_id: `{run_id}`, task_id: "
                  f"`nope` and map_index: `-1` was not found"})
    missing_run = server.request(
        "GET", "/api/v2/dags/etl_daily/dagRuns/nope/taskInstances", as_user="viewer")
    assert (missing_run.status_code, missing_run.json()) == (404, {
        "detail": "The DagRun with dag_id: `etl_daily` and run_id: `nope` was not found"})
    bad_order = server.request("GET", base, as_user="viewer", params={"order_by": "nope"})
    assert bad_order.status_code == 400


def test_v2_list_across_dags_and_runs(server: ApiServer, db: sa.Engine) -> None:
    """``~`` for the DAG and/or the run lists every DAG's / run's task instances (Airflow 3),
    ordered by map index then id, each with its own run's dates and DAG; a named run or DAG
    that does not exist is a 404."""
    first = _run(db, 25, "success")
    second = _run(db, 26, "failed", dag_id="ml_train")
    with db.connect() as conn:
        expected = conn.execute(sa.select(t.task_instance.c.id, t.task_instance.c.dag_id)
                                .order_by(t.task_instance.c.map_index,
                                          t.task_instance.c.id)).all()
    listed = server.request("GET", "/api/v2/dags/~/dagRuns/~/taskInstances?limit=1000",
                            as_user="viewer")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["total_entries"] == len(expected)
    assert [(ti["id"], ti["dag_id"]) for ti in body["task_instances"]] == [
        (str(i), d) for i, d in expected]
    by_run = {ti["dag_run_id"]: ti for ti in body["task_instances"]}
    assert by_run[first]["logical_date"].startswith("2024-05-25")
    assert by_run[second]["dag_id"] == "ml_train"
    assert by_run[second]["logical_date"].startswith("2024-05-26")
    paged = server.request("GET", "/api/v2/dags/~/dagRuns/~/taskInstances?limit=1&offset=1",
                           as_user="viewer").json()
    assert [ti["id"] for ti in paged["task_instances"]] == [str(expected[1][0])]
    of_dag = server.request("GET", "/api/v2/dags/ml_train/dagRuns/~/taskInstances",
                            as_user="viewer").json()
    assert {ti["dag_id"] for ti in of_dag["task_instances"]} == {"ml_train"}
    assert of_dag["total_entries"] == sum(1 for _, d in expected if d == "ml_train")
    of_run = server.request("GET", f"/api/v2/dags/~/dagRuns/{second}/taskInstances",
                            as_user="viewer").json()
    assert [ti["dag_run_id"] for ti in of_run["task_instances"]] == [second]
    missing_run = server.request("GET", "/api/v2/dags/~/dagRuns/nope/taskInstances",
                                 as_user="viewer")
    assert missing_run.status_code == 404
    assert "nope" in missing_run.json()["detail"]
    missing_dag = server.request("GET", "/api/v2/dags/nope/dagRuns/~/taskInstances",
                                 as_user="viewer")
    assert missing_dag.status_code == 404
    assert "nope" in missing_dag.json()["detail"]
    bad = server.request("GET", "/api/v2/dags/~/dagRuns/~/taskInstances?order_by=bogus",
                         as_user="viewer")
    assert bad.status_code == 400


def test_v2_clear_dry_run_then_clear(server: ApiServer, db: sa.Engine) -> None:
    """ClearTaskInstancesBody defaults: dry_run true, only_failed true, reset_dag_runs true.
    A dry run lists the failed task instance and changes nothing; the real clear gives it no
    state and queues its run."""
    run_id = _run(db, 3, "failed", run_state="failed", dag_id="ml_train")
    path = "/api/v2/dags/ml_train/clearTaskInstances"
    dry = server.request("POST", path, as_user="user", json={"dag_run_id": run_id})
    assert dry.status_code == 200, dry.text
    assert [(ti["dag_run_id"], ti["state"]) for ti in dry.json()["task_instances"]] == [
        (run_id, "failed")]
    assert dry.json()["total_entries"] == 1
    assert _ti_state(db, run_id) == "failed"
    done = server.request("POST", path, as_user="user",
                          json={"dag_run_id": run_id, "dry_run": False})
    assert done.status_code == 200
    assert [ti["state"] for ti in done.json()["task_instances"]] == [None]
    assert _ti_state(db, run_id) is None and _run_state(db, run_id) == "queued"


@pytest.mark.parametrize(("body", "status"), [
    ({"only_failed": True, "only_running": True}, 422),
    ({"start_date": "2024-05-02T00:00:00Z", "end_date": "2024-05-01T00:00:00Z"}, 422),
    ({"dag_run_id": "x", "start_date": "2024-05-01T00:00:00Z"}, 422),
    ({"task_ids": []}, 422),
    ({"unknown": 1}, 422),
    ({"start_date": "2024-05-01T00:00:00"}, 422),
])
def test_v2_clear_bad_bodies(server: ApiServer, body: dict[str, object], status: int) -> None:
    """Airflow 3's ClearTaskInstancesBody validators and strictness → 422."""
    answer = server.request("POST", "/api/v2/dags/etl_daily/clearTaskInstances",
                            as_user="user", json=body)
    assert answer.status_code == status, answer.text


def test_v2_clear_errors(server: ApiServer) -> None:
    """404 for an unknown run ("Dag Run id <r> not found in dag <d>") or DAG; 400 for
    include_past with a dag_run_id; a viewer may not clear (403)."""
    path = "/api/v2/dags/etl_daily/clearTaskInstances"
    run = server.request("POST", path, as_user="user", json={"dag_run_id": "nope"})
    assert (run.status_code, run.json()) == (404, {
        "detail": "Dag Run id nope not found in dag etl_daily"})
    dag = server.request("POST", "/api/v2/dags/nope/clearTaskInstances", as_user="user",
                         json={})
    assert (dag.status_code, dag.json()) == (404, {
        "detail": "The Dag with ID: `nope` was not found"})
    past = server.request("POST", path, as_user="user",
                          json={"dag_run_id": "x", "include_past": True})
    assert past.status_code == 400 and "include_past or include_future" in past.json()["detail"]
    assert server.request("POST", path, as_user="viewer", json={}).status_code == 403


def test_v1_clear_task_instances(server: ApiServer, db: sa.Engine) -> None:
    """v1: {"task_instances": [{"task_id", "dag_id", "execution_date", "dag_run_id"}]} (no
    total_entries), dry run by default; reset_dag_runs false by default leaves the run."""
    run_id = _run(db, 5, "failed", run_state="failed")
    path = "/api/v1/dags/etl_daily/clearTaskInstances"
    body = {"start_date": "2024-05-05T00:00:00+00:00", "end_date": "2024-05-05T00:00:00+00:00"}
    dry = server.request("POST", path, as_user="user", basic=True, json=body)
    assert dry.status_code == 200, dry.text
    assert dry.json() == {"task_instances": [{
        "task_id": "extract", "dag_id": "etl_daily",
        "execution_date": "2024-05-05T00:00:00+00:00", "dag_run_id": run_id}]}
    assert _ti_state(db, run_id) == "failed"
    done = server.request("POST", path, as_user="user", basic=True,
                          json={**body, "dry_run": False})
    assert done.status_code == 200
    assert _ti_state(db, run_id) is None and _run_state(db, run_id) == "failed"


def test_v1_clear_task_instances_errors(server: ApiServer) -> None:
    """Marshmallow's 400s and the 404 titles of task_instance_endpoint.py."""
    path = "/api/v1/dags/etl_daily/clearTaskInstances"
    unknown = server.request("POST", path, as_user="user", basic=True, json={"dryrun": True})
    assert (unknown.status_code, unknown.json()["detail"]) == (
        400, "{'dryrun': ['Unknown field.']}")
    both = server.request("POST", path, as_user="user", basic=True,
                          json={"only_failed": True, "only_running": True})
    assert both.json()["detail"] == ("{'_schema': ['only_failed and only_running both are set "
                                     "to True']}")
    naive = server.request("POST", path, as_user="user", basic=True,
                           json={"start_date": "2024-05-01T00:00:00"})
    assert (naive.status_code, naive.json()["detail"]) == (400, "Naive datetime is disallowed")
    dag = server.request("POST", "/api/v1/dags/nope/clearTaskInstances", as_user="user",
                         basic=True, json={})
    assert dag.status_code == 404
    assert (dag.json()["title"], dag.json()["detail"]) == ("Dag id nope not found", None)
    run = server.request("POST", path, as_user="user", basic=True, json={"dag_run_id": "zz"})
    assert (run.status_code, run.json()["title"]) == (
        404, "Dag Run id zz not found in dag etl_daily")


def test_v1_clear_by_state_deviation(server: ApiServer, db: sa.Engine) -> None:
    """Issue 13's deviation 1 (Airflow 2 has no such route): the copied client request clears
    the DAG's task instances in the range whose state is the given one, queues their runs,
    and answers 200 with them under task_instances."""
    succeeded = _run(db, 10, "success")
    failed = _run(db, 11, "failed", run_state="failed")
    outside = _run(db, 20, "success")
    body = {"dry_run": False, "include_downstream": True, "include_upstream": True,
            "only_active": False, "start_date": "2024-05-10T00:00:00+00:00",
            "end_date": "2024-05-12T00:00:00+00:00", "state": "success"}
    answer = server.request("POST", "/api/v1/dags/etl_daily/clear", as_user="user",
                            basic=True, json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"task_instances": [{
        "task_id": "extract", "dag_id": "etl_daily",
        "execution_date": "2024-05-10T00:00:00+00:00", "dag_run_id": succeeded}]}
    assert _ti_state(db, succeeded) is None and _run_state(db, succeeded) == "queued"
    assert _ti_state(db, failed) == "failed" and _ti_state(db, outside) == "success"
    # A list of states, as a dry run: the failed one is listed and left as it is.
    listed = server.request("POST", "/api/v1/dags/etl_daily/clear", as_user="user",
                            basic=True, json={**body, "dry_run": True,
                                              "state": ["failed", "upstream_failed"]})
    assert [ti["dag_run_id"] for ti in listed.json()["task_instances"]] == [failed]
    assert _ti_state(db, failed) == "failed"


def test_v1_clear_by_state_errors(server: ApiServer) -> None:
    """A state that is none names the bad value; an unknown key is refused; viewers 403."""
    path = "/api/v1/dags/etl_daily/clear"
    bad = server.request("POST", path, as_user="user", basic=True, json={"state": "sucess"})
    assert bad.status_code == 400 and "'sucess'" in bad.json()["detail"]
    unknown = server.request("POST", path, as_user="user", basic=True, json={"x": 1})
    assert (unknown.status_code, unknown.json()["detail"]) == (400, "{'x': ['Unknown field.']}")
    assert server.request("POST", path, as_user="viewer", basic=True,
                          json={}).status_code == 403
    assert server.request("POST", path, json={}).status_code == 401


def test_v2_patch_state(server: ApiServer, db: sa.Engine) -> None:
    """patch_task_instance (Airflow 3.1+): the dry_run route lists what would change and
    changes nothing; PATCH sets the state and answers the changed instances as a collection;
    the same state again → 409 "Task id <t> is already in <s> state"."""
    run_id = _run(db, 15, "failed", run_state="failed")
    path = f"/api/v2/dags/etl_daily/dagRuns/{run_id}/taskInstances/extract"
    dry = server.request("PATCH", f"{path}/dry_run", as_user="user",
                         json={"new_state": "success"})
    assert dry.status_code == 200, dry.text
    assert [ti["state"] for ti in dry.json()["task_instances"]] == ["failed"]
    assert _ti_state(db, run_id) == "failed"
    done = server.request("PATCH", path, as_user="user", json={"new_state": "success"})
    assert done.status_code == 200, done.text
    assert [(ti["task_id"], ti["state"]) for ti in done.json()["task_instances"]] == [
        ("extract", "success")]
    assert done.json()["total_entries"] == 1
    assert _ti_state(db, run_id) == "success"
    again = server.request("PATCH", path, as_user="user", json={"new_state": "success"})
    assert (again.status_code, again.json()) == (
        409, {"detail": "Task id extract is already in success state"})


def test_v2_patch_errors(server: ApiServer, db: sa.Engine) -> None:
    """PatchTaskInstanceBody's validator → 422; an unknown task → 404 "Task '<t>' not found in
    DAG '<d>'"; an unknown run → 404; viewers 403."""
    run_id = _run(db, 16, "success")
    base = f"/api/v2/dags/etl_daily/dagRuns/{run_id}/taskInstances"
    bad = server.request("PATCH", f"{base}/extract", as_user="user",
                         json={"new_state": "running"})
    assert bad.status_code == 422
    assert "'running' is not one of ['success', 'failed', 'skipped']" in bad.text
    task = server.request("PATCH", f"{base}/nope", as_user="user", json={"new_state": "failed"})
    assert (task.status_code, task.json()) == (
        404, {"detail": "Task 'nope' not found in DAG 'etl_daily'"})
    run = server.request("PATCH", "/api/v2/dags/etl_daily/dagRuns/zz/taskInstances/extract",
                         as_user="user", json={"new_state": "failed"})
    assert run.status_code == 404
    assert server.request("PATCH", f"{base}/extract", as_user="viewer",
                          json={"new_state": "failed"}).status_code == 403
    assert _ti_state(db, run_id) == "success"


def _ti_note(db: sa.Engine, run_id: str) -> str | None:
    ti = t.task_instance
    with db.connect() as conn:
        return conn.execute(sa.select(ti.c.note).where(ti.c.run_id == run_id,
                                                       ti.c.task_id == "extract")).scalar_one()


def test_v2_patch_note(server: ApiServer, db: sa.Engine) -> None:
    """Airflow 3's PatchTaskInstanceBody.note (services/public/task_instances.py
    _patch_task_instance_note): set when sent non-null, shown in TaskInstanceResponse.note,
    kept by a null note without update_mask, removed by null with update_mask=note; a state
    change beside it applies too; a dry run changes nothing; over 1000 characters → 422."""
    run_id = _run(db, 17, "success")
    base = f"/api/v2/dags/etl_daily/dagRuns/{run_id}/taskInstances/extract"
    answer = server.request("PATCH", base, as_user="user", json={"note": "checked by hand"})
    assert answer.status_code == 200, answer.text
    assert [ti["note"] for ti in answer.json()["task_instances"]] == ["checked by hand"]
    assert server.request("GET", base, as_user="viewer").json()["note"] == "checked by hand"
    kept = server.request("PATCH", base, as_user="user", json={"note": None})
    assert kept.status_code == 200 and _ti_note(db, run_id) == "checked by hand"
    dry = server.request("PATCH", f"{base}/dry_run", as_user="user", json={"note": "no"})
    assert dry.status_code == 200 and _ti_note(db, run_id) == "checked by hand"
    both = server.request("PATCH", base, as_user="user",
                          json={"new_state": "failed", "note": "failed on purpose"})
    assert both.status_code == 200, both.text
    assert (_ti_state(db, run_id), _ti_note(db, run_id)) == ("failed", "failed on purpose")
    masked = server.request("PATCH", base, as_user="user", params={"update_mask": "note"},
                            json={"new_state": "success", "note": None})
    assert masked.status_code == 200, masked.text
    assert (_ti_state(db, run_id), _ti_note(db, run_id)) == ("failed", None)
    long = server.request("PATCH", base, as_user="user", json={"note": "x" * 1001})
    assert long.status_code == 422
    assert long.json()["detail"][0]["type"] == "string_too_long"


# -- set_task_instance_state on a chain (the API layer, both backends) ---------------------------


@pytest.fixture
def chain_db(engine: sa.Engine) -> sa.Engine:
    """A DAG a>b>c>d and a failed run r1: a success, b failed, c upstream_failed, d failed."""
    from test_api_common import add_run, make_dag, store

    from dagcore.db import migrate

    migrate(engine)
    store(engine, make_dag(edges="a>b>c>d"))
    add_run(engine, "r1", {"a": "success", "b": "failed", "c": "upstream_failed", "d": "failed"},
            run_state="failed")
    return engine


def _states(engine: sa.Engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(t.task_instance.c.task_id, t.task_instance.c.state)
                                 .where(t.task_instance.c.run_id == "r1")).all())


def test_set_state_clears_failed_downstream(chain_db: sa.Engine) -> None:
    """Airflow's dag.set_task_instance_state: b → success, then the failed and upstream_failed
    instances downstream of b (c, d) are cleared and the run is queued again so it resumes."""
    from dagcore.api.task_instances import set_task_instance_state
    from dagcore.db_dagbag import DBDagBag

    bag = DBDagBag(engine=chain_db, revalidation_interval=0)
    changed = set_task_instance_state(chain_db, bag, "etl", "r1", "b", "success")
    assert [(ti.task_id, ti.state) for ti in changed] == [("b", "success")]
    assert _states(chain_db) == {"a": "success", "b": "success", "c": None, "d": None}
    with chain_db.connect() as conn:
        assert conn.execute(sa.select(t.dag_run.c.state)
                            .where(t.dag_run.c.run_id == "r1")).scalar_one() == "queued"


def test_set_state_with_downstream_and_dry_run(chain_db: sa.Engine) -> None:
    """include_downstream sets the relatives too (and they are not cleared afterwards); a dry
    run lists the instances that would change and changes nothing."""
    from dagcore.api.task_instances import set_task_instance_state
    from dagcore.db_dagbag import DBDagBag

    bag = DBDagBag(engine=chain_db, revalidation_interval=0)
    dry = set_task_instance_state(chain_db, bag, "etl", "r1", "b", "skipped", downstream=True,
                                  dry_run=True)
    assert [ti.task_id for ti in dry] == ["b", "c", "d"]
    assert _states(chain_db)["b"] == "failed"
    set_task_instance_state(chain_db, bag, "etl", "r1", "c", "failed", downstream=True)
    assert _states(chain_db) == {"a": "success", "b": "failed", "c": "failed", "d": "failed"}


def test_v2_mapped_instances(server: ApiServer, db: sa.Engine) -> None:
    """Airflow 3's ``.../taskInstances/{task_id}/listMapped`` and ``.../{task_id}/{map_index}``:
    a mapped task's instances by map index; 404 "Task id <t> is not mapped" for a task that is
    not; the unmapped URL of a mapped task is the map_index -1 404."""
    run = trigger_dag("etl_daily", logical_date=datetime(2024, 6, 1, tzinfo=UTC), engine=db)
    with transaction(db) as conn:
        for index in range(3):
            conn.execute(t.task_instance.insert().values(
                id=uuid.uuid4(), dag_id="etl_daily", run_id=run.run_id, task_id="extract",
                map_index=index, state="success", try_number=1, max_tries=0,
                pool="default_pool", pool_slots=1, operator="EmptyOperator",
                rendered_map_index=f"item {index}"))
    base = f"/api/v2/dags/etl_daily/dagRuns/{run.run_id}/taskInstances/extract"
    listed = server.request("GET", f"{base}/listMapped", as_user="viewer",
                            params={"limit": 2, "order_by": "-map_index"})
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["total_entries"] == 3
    assert [(ti["map_index"], ti["rendered_map_index"]) for ti in body["task_instances"]] == [
        (2, "item 2"), (1, "item 1")]
    one = server.request("GET", f"{base}/1", as_user="viewer")
    assert one.status_code == 200 and one.json()["map_index"] == 1
    missing = server.request("GET", f"{base}/7", as_user="viewer")
    assert missing.status_code == 404
    assert "map_index: `7` was not found" in missing.json()["detail"]
    unmapped = server.request("GET", base, as_user="viewer")
    assert unmapped.status_code == 404
    assert "map_index: `-1` was not found" in unmapped.json()["detail"]
    other = server.request("GET", f"/api/v2/dags/etl_daily/dagRuns/{run.run_id}/taskInstances/"
                           f"load/listMapped", as_user="viewer")
    assert other.status_code == 404, other.text
    assert other.json()["detail"] in ("Task id load is not mapped", "Task id load not found")
    bad = server.request("GET", f"{base}/not-a-number", as_user="viewer")
    assert bad.status_code in (404, 422)
