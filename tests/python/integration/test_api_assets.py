"""Asset routes of ``/api/v2`` for real (issue 17): ``dagcore api-server`` on a loopback port,
driven with ``requests``, on SQLite and PostgreSQL; producer runs and asset-triggered runs by a
real scheduler loop in this process.

Airflow 3's behaviour each test checks is in docs/airflow-rest-api.md B.4
(``api_fastapi/core_api/routes/public/assets.py`` and ``datamodels/assets.py``).

The module shares one server and database: tests that change the queue or create runs use
assets of their own, and the one running tasks for real (the LocalExecutor) comes first, before
any test leaves runs behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from api_server_process import ApiServer, home_engine, prepare_home, serve
from fake_executors import NeverRuns
from scheduler_loops import run_until

from dagcore.db import transaction
from dagcore.models import tables as t

pytestmark = pytest.mark.integration

V2 = "/api/v2"

ASSET_DAGS = '''
from datetime import datetime, timezone
from dagcore import DAG
from dagcore.assets import Asset, AssetAlias
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
RAW = Asset(name="raw", uri="s3://lake/raw", extra={"team": "ingest"})
CLEAN = Asset(name="clean", uri="s3://lake/clean")
SHARED = Asset(name="shared", uri="s3://lake/shared")
EXTERNAL = Asset(name="external", uri="s3://lake/external")
QUEUED = Asset(name="queued", uri="s3://lake/queued")
ON_DEMAND = Asset(name="on_demand", uri="s3://lake/on_demand")
ALIAS = AssetAlias("lake-alias")


def load(**context):
    context["outlet_events"][RAW].extra = {"rows": 3}


with DAG("make_raw", schedule=None, start_date=START, is_paused_upon_creation=False):
    PythonOperator(task_id="load", python_callable=load, outlets=[RAW])

with DAG("make_clean", schedule=[RAW], start_date=START, is_paused_upon_creation=False):
    EmptyOperator(task_id="clean", outlets=[CLEAN])

with DAG("on_external", schedule=[EXTERNAL], start_date=START, is_paused_upon_creation=False):
    EmptyOperator(task_id="report")

with DAG("paused_consumer", schedule=[QUEUED], start_date=START, is_paused_upon_creation=True):
    EmptyOperator(task_id="report")

for dag_id in ("shared_one", "shared_two"):
    with DAG(dag_id, schedule=None, start_date=START, is_paused_upon_creation=True):
        EmptyOperator(task_id="write", outlets=[SHARED])

with DAG("on_demand", schedule=None, start_date=START, is_paused_upon_creation=True):
    EmptyOperator(task_id="build", outlets=[ON_DEMAND])

with DAG("via_alias", schedule=None, start_date=START, is_paused_upon_creation=True):
    EmptyOperator(task_id="write", outlets=[ALIAS])
'''

ACTIVE = ["clean", "external", "on_demand", "queued", "raw", "shared"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, api_database_url: str | None) -> Path:
    """On SQLite and on PostgreSQL (the module runs once per backend)."""
    return prepare_home(tmp_path_factory.mktemp("assets"), database_url=api_database_url,
                        dags={"lake.py": ASSET_DAGS})


@pytest.fixture(scope="module")
def server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from serve(home, tmp_path_factory)


@pytest.fixture
def db(home: Path) -> Iterator[sa.Engine]:
    yield from home_engine(home)


def _get(server: ApiServer, path: str, *, as_user: str = "viewer", **params: Any) -> Any:
    answer = server.request("GET", f"{V2}{path}", as_user=as_user, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _asset_id(server: ApiServer, name: str) -> int:
    (found,) = [a for a in _get(server, "/assets", limit=100)["assets"] if a["name"] == name]
    return int(found["id"])


def _names(body: dict[str, Any]) -> list[str]:
    return [a["name"] for a in body["assets"]]


def _post_event(server: ApiServer, asset_id: int, extra: dict[str, Any] | None = None,
                as_user: str = "user") -> dict[str, Any]:
    body: dict[str, Any] = {"asset_id": asset_id}
    if extra is not None:
        body["extra"] = extra
    answer = server.request("POST", f"{V2}/assets/events", as_user=as_user, json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _runs(db: sa.Engine, dag_id: str) -> list[Any]:
    dr = t.dag_run
    with db.connect() as conn:
        return conn.execute(sa.select(dr).where(dr.c.dag_id == dag_id).order_by(dr.c.id)).all()


# -- events of a real producer run (first: it runs tasks) -----------------------------------------


def test_events_after_a_real_producer_run(server: ApiServer, db: sa.Engine, home: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A producer's task records the event (source dag/task/run, map index -1, its extra); the
    consumer's asset-triggered run consumed it (``created_dagruns``, upstreamAssetEvents); the
    asset's ``last_asset_event`` is it."""
    from dagcore.executors.local import LocalExecutor

    monkeypatch.setenv("DAGCORE_HOME", str(home))
    monkeypatch.setenv("DAGCORE__CORE__DAGS_FOLDER", str(home.parent / "dags"))
    monkeypatch.setenv("DAGCORE__CORE__DAG_CODE_CACHE_FOLDER", str(home.parent / "code_cache"))
    answer = server.request("POST", f"{V2}/dags/make_raw/dagRuns", as_user="user",
                            json={"logical_date": None, "dag_run_id": "produce_1"})
    assert answer.status_code == 200, answer.text

    def done() -> bool:
        states = [r.state for dag in ("make_raw", "make_clean") for r in _runs(db, dag)]
        assert "failed" not in states
        return len(states) == 2 and set(states) == {"success"}

    run_until(db, LocalExecutor(2, engine_url=db.url.render_as_string(hide_password=False)),
              done)
    raw = _asset_id(server, "raw")
    body = _get(server, "/assets/events", asset_id=raw)
    assert body["total_entries"] == 1
    (event,) = body["asset_events"]
    (consumer,) = _runs(db, "make_clean")
    assert consumer.run_type == "asset_triggered"
    assert {k: event[k] for k in ("asset_id", "name", "uri", "group", "extra", "source_dag_id",
                                  "source_task_id", "source_run_id", "source_map_index")} == {
        "asset_id": raw, "name": "raw", "uri": "s3://lake/raw", "group": "asset",
        "extra": {"rows": 3}, "source_dag_id": "make_raw", "source_task_id": "load",
        "source_run_id": "produce_1", "source_map_index": -1}
    assert event["timestamp"].endswith("Z")
    (created,) = event["created_dagruns"]
    assert (created["dag_id"], created["run_id"], created["state"], created["logical_date"]) == (
        "make_clean", consumer.run_id, "success", None)
    assert set(created) == {"run_id", "dag_id", "logical_date", "start_date", "end_date",
                            "state", "data_interval_start", "data_interval_end"}
    upstream = _get(server, f"/dags/make_clean/dagRuns/{consumer.run_id}/upstreamAssetEvents")
    assert upstream["total_entries"] == 1
    assert upstream["asset_events"][0]["id"] == event["id"]
    asset = _get(server, f"/assets/{raw}")
    assert asset["last_asset_event"] == {"id": event["id"], "timestamp": event["timestamp"]}
    # The consumer's own outlet recorded an event of "clean", from its run.
    clean = _get(server, "/assets/events", name_pattern="clea")["asset_events"]
    assert [(e["source_dag_id"], e["source_run_id"]) for e in clean] == [
        ("make_clean", consumer.run_id)]
    # A run that was not asset-triggered consumed nothing.
    assert _get(server, "/dags/make_raw/dagRuns/produce_1/upstreamAssetEvents") == {
        "asset_events": [], "total_entries": 0}


def test_event_filters_and_order(server: ApiServer) -> None:
    """Filters on source_* and the timestamp range; order_by with ``-``; paging."""
    everything = _get(server, "/assets/events")
    assert everything["total_entries"] >= 2
    assert _get(server, "/assets/events", source_dag_id="make_raw",
                source_task_id="load", source_map_index=-1)["total_entries"] == 1
    assert _get(server, "/assets/events", source_run_id="nope")["total_entries"] == 0
    assert _get(server, "/assets/events", source_map_index=3)["total_entries"] == 0
    assert _get(server, "/assets/events", asset_id=99999999999)["total_entries"] == 0
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert _get(server, "/assets/events", timestamp_gte=future)["total_entries"] == 0
    assert _get(server, "/assets/events", timestamp_lte=future)["total_entries"] == \
        everything["total_entries"]
    stamps = [e["timestamp"] for e in _get(server, "/assets/events",
                                           order_by="-timestamp")["asset_events"]]
    assert stamps == sorted(stamps, reverse=True)
    page = _get(server, "/assets/events", limit=1, offset=1)
    assert len(page["asset_events"]) == 1
    assert page["total_entries"] == everything["total_entries"]
    assert page["asset_events"][0]["id"] == everything["asset_events"][1]["id"]


@pytest.mark.parametrize(("params", "status", "text"), [
    ({"order_by": "bogus"}, 400, "Ordering with 'bogus' is disallowed"),
    ({"timestamp_gte": "2025-01-01T00:00:00"}, 422, "Input should have timezone info"),
    ({"source_map_index": "x"}, 422, "source_map_index"),
    ({"limit": "-1"}, 422, "limit"),
])
def test_event_listing_bad_parameters(server: ApiServer, params: dict[str, str], status: int,
                                      text: str) -> None:
    answer = server.request("GET", f"{V2}/assets/events", as_user="viewer", params=params)
    assert answer.status_code == status, answer.text
    assert text in answer.text


# -- POST /assets/events -> the queue -> an asset-triggered run ------------------------------------


def test_external_event_queues_the_consumer_and_the_scheduler_runs_it(
        server: ApiServer, db: sa.Engine) -> None:
    """An event created through the API queues the consumer exactly as a task's event does; a
    scheduler loop then creates its asset_triggered run, whose upstreamAssetEvents is that
    event (Airflow's ``create_asset_event`` → ``register_asset_change``)."""
    external = _asset_id(server, "external")
    event = _post_event(server, external, {"note": "dropped by hand"})
    assert event["extra"] == {"note": "dropped by hand", "from_rest_api": True}
    assert (event["asset_id"], event["name"], event["uri"]) == (
        external, "external", "s3://lake/external")
    assert (event["source_dag_id"], event["source_task_id"], event["source_run_id"],
            event["source_map_index"], event["created_dagruns"]) == (None, None, None, -1, [])
    queued = _get(server, "/dags/on_external/assets/queuedEvents")
    assert [(q["dag_id"], q["asset_id"], q["dag_display_name"]) for q in
            queued["queued_events"]] == [("on_external", external, "on_external")]
    assert _runs(db, "on_external") == []

    run_until(db, NeverRuns(), lambda: bool(_runs(db, "on_external")))
    (run,) = _runs(db, "on_external")
    assert (run.run_type, run.triggered_by, run.logical_date) == ("asset_triggered", "asset",
                                                                  None)
    upstream = _get(server, f"/dags/on_external/dagRuns/{run.run_id}/upstreamAssetEvents")
    assert [e["id"] for e in upstream["asset_events"]] == [event["id"]]
    assert upstream["asset_events"][0]["extra"]["from_rest_api"] is True
    # The run consumed the queue row, and the event now names its run.
    missing = server.request("GET", f"{V2}/dags/on_external/assets/queuedEvents",
                             as_user="viewer")
    assert missing.status_code == 404
    (listed,) = _get(server, "/assets/events", asset_id=external)["asset_events"]
    assert [r["run_id"] for r in listed["created_dagruns"]] == [run.run_id]


@pytest.mark.parametrize(("body", "status", "text"), [
    ({"asset_id": 987654}, 404, "Asset with ID: `987654` was not found"),
    ({"asset_id": 99999999999}, 404, "Asset with ID: `99999999999` was not found"),
    ({"extra": {}}, 422, "asset_id"),
    ({"asset_id": "one"}, 422, "asset_id"),
    ({"asset_id": 1, "extra": [1, 2]}, 422, "extra"),
    ({"asset_id": 1, "bogus": True}, 422, "bogus"),
])
def test_create_event_bad_bodies(server: ApiServer, body: dict[str, Any], status: int,
                                 text: str) -> None:
    answer = server.request("POST", f"{V2}/assets/events", as_user="user", json=body)
    assert answer.status_code == status, answer.text
    assert text in answer.text


def test_create_event_needs_trigger_permission(server: ApiServer) -> None:
    answer = server.request("POST", f"{V2}/assets/events", as_user="viewer",
                            json={"asset_id": _asset_id(server, "external")})
    assert answer.status_code == 403
    assert server.request("GET", f"{V2}/assets").status_code == 401


# -- assets: list, get, filters, paging, order ----------------------------------------------------


def test_list_assets_with_their_references(server: ApiServer) -> None:
    """Airflow 3's AssetResponse: scheduled_dags, producing_tasks, consuming_tasks, aliases,
    last_asset_event ({id, timestamp}, both null without events)."""
    body = _get(server, "/assets")
    assert sorted(_names(body)) == ACTIVE and body["total_entries"] == len(ACTIVE)
    assert [a["id"] for a in body["assets"]] == sorted(a["id"] for a in body["assets"])
    (raw,) = [a for a in body["assets"] if a["name"] == "raw"]
    assert (raw["uri"], raw["group"], raw["extra"]) == ("s3://lake/raw", "asset",
                                                        {"team": "ingest"})
    assert [r["dag_id"] for r in raw["scheduled_dags"]] == ["make_clean"]
    assert [(r["dag_id"], r["task_id"]) for r in raw["producing_tasks"]] == [
        ("make_raw", "load")]
    assert raw["consuming_tasks"] == [] and raw["aliases"] == []
    assert raw["created_at"].endswith("Z") and raw["updated_at"].endswith("Z")
    (shared,) = [a for a in body["assets"] if a["name"] == "shared"]
    assert sorted(r["dag_id"] for r in shared["producing_tasks"]) == ["shared_one",
                                                                      "shared_two"]
    assert shared["scheduled_dags"] == []
    assert shared["last_asset_event"] == {"id": None, "timestamp": None}


@pytest.mark.parametrize(("params", "expected"), [
    ({"name_pattern": "SHAR"}, ["shared"]),
    ({"uri_pattern": "lake/ra"}, ["raw"]),
    ({"name_pattern": "~"}, ACTIVE),
    ({"dag_ids": "make_raw,on_external"}, ["external", "raw"]),
    ({"dag_ids": ["make_clean"]}, ["clean", "raw"]),
    ({"dag_ids": "no_such_dag"}, []),
])
def test_list_assets_filters(server: ApiServer, params: dict[str, Any],
                             expected: list[str]) -> None:
    body = _get(server, "/assets", **params)
    assert sorted(_names(body)) == expected and body["total_entries"] == len(expected)


def test_only_active(server: ApiServer, db: sa.Engine) -> None:
    """An asset no live DAG references is left out unless only_active=false."""
    now = datetime.now(UTC)
    with transaction(db) as conn:
        conn.execute(t.asset.insert().values(name="orphan", uri="s3://lake/orphan",
                                             group="asset", extra={}, created_at=now,
                                             updated_at=now))
    try:
        assert "orphan" not in _names(_get(server, "/assets"))
        every = _get(server, "/assets", only_active="false", name_pattern="orphan")
        assert _names(every) == ["orphan"]
    finally:
        with transaction(db) as conn:
            conn.execute(t.asset.delete().where(t.asset.c.name == "orphan"))


def test_list_assets_paging_and_order(server: ApiServer) -> None:
    by_name = _names(_get(server, "/assets", order_by="-name"))
    assert by_name == sorted(ACTIVE, reverse=True)
    page = _get(server, "/assets", order_by="name", limit=2, offset=1)
    assert _names(page) == ACTIVE[1:3] and page["total_entries"] == len(ACTIVE)
    assert _names(_get(server, "/assets", order_by=["uri"])) == sorted(
        ACTIVE, key=lambda n: f"s3://lake/{n}")
    assert _get(server, "/assets", limit=0)["assets"] == []


@pytest.mark.parametrize(("params", "status", "text"), [
    ({"order_by": "extra"}, 400, "Ordering with 'extra' is disallowed"),
    ({"offset": "-3"}, 422, "offset"),
    ({"only_active": "maybe"}, 422, "only_active"),
])
def test_list_assets_bad_parameters(server: ApiServer, params: dict[str, str], status: int,
                                    text: str) -> None:
    answer = server.request("GET", f"{V2}/assets", as_user="viewer", params=params)
    assert answer.status_code == status, answer.text
    assert text in answer.text


def test_get_asset(server: ApiServer) -> None:
    clean = _asset_id(server, "clean")
    asset = _get(server, f"/assets/{clean}")
    assert (asset["id"], asset["name"], asset["uri"]) == (clean, "clean", "s3://lake/clean")
    assert [(r["dag_id"], r["task_id"]) for r in asset["producing_tasks"]] == [
        ("make_clean", "clean")]


@pytest.mark.parametrize(("asset_id", "status", "text"), [
    ("987654", 404, "The Asset with ID: `987654` was not found"),
    ("-1", 404, "The Asset with ID: `-1` was not found"),
    ("99999999999999", 404, "The Asset with ID: `99999999999999` was not found"),
    ("abc", 422, "asset_id"),
])
def test_get_asset_not_found_or_bad_id(server: ApiServer, asset_id: str, status: int,
                                       text: str) -> None:
    answer = server.request("GET", f"{V2}/assets/{asset_id}", as_user="viewer")
    assert answer.status_code == status, answer.text
    assert text in answer.text


# -- aliases --------------------------------------------------------------------------------------


def test_aliases(server: ApiServer) -> None:
    body = _get(server, "/assets/aliases")
    assert [(a["name"], a["group"]) for a in body["asset_aliases"]] == [("lake-alias", "asset")]
    assert body["total_entries"] == 1
    alias_id = body["asset_aliases"][0]["id"]
    assert _get(server, f"/assets/aliases/{alias_id}") == {"id": alias_id, "name": "lake-alias",
                                                           "group": "asset"}
    assert _get(server, "/assets/aliases", name_pattern="nothing")["total_entries"] == 0
    assert _get(server, "/assets/aliases", order_by="-name")["total_entries"] == 1
    missing = server.request("GET", f"{V2}/assets/aliases/4242", as_user="viewer")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "The Asset Alias with ID: `4242` was not found"
    bad = server.request("GET", f"{V2}/assets/aliases", as_user="viewer",
                         params={"order_by": "group"})
    assert bad.status_code == 400 and "'group'" in bad.text


# -- the queue ------------------------------------------------------------------------------------


def test_queued_events_listed_and_deleted(server: ApiServer) -> None:
    """A paused consumer keeps its queue row; each of the three GETs shows it, ``before``
    filters it, each of the three DELETEs removes it (204), then 404."""
    queued = _asset_id(server, "queued")
    _post_event(server, queued)
    by_asset = _get(server, f"/assets/{queued}/queuedEvents")
    assert by_asset["total_entries"] == 1
    (row,) = by_asset["queued_events"]
    assert (row["dag_id"], row["asset_id"]) == ("paused_consumer", queued)
    assert row["created_at"].endswith("Z")
    assert _get(server, "/dags/paused_consumer/assets/queuedEvents") == by_asset
    assert _get(server, f"/dags/paused_consumer/assets/{queued}/queuedEvents") == row
    later = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    assert _get(server, f"/assets/{queued}/queuedEvents", before=later) == by_asset
    early = server.request("GET", f"{V2}/assets/{queued}/queuedEvents", as_user="viewer",
                           params={"before": "2000-01-01T00:00:00Z"})
    assert early.status_code == 404
    assert early.json()["detail"] == f"Queue event with asset_id: `{queued}` was not found"

    for path in (f"/dags/paused_consumer/assets/{queued}/queuedEvents",
                 f"/assets/{queued}/queuedEvents", "/dags/paused_consumer/assets/queuedEvents"):
        forbidden = server.request("DELETE", f"{V2}{path}", as_user="viewer")
        assert forbidden.status_code == 403
        deleted = server.request("DELETE", f"{V2}{path}", as_user="user")
        assert deleted.status_code == 204, deleted.text
        assert server.request("GET", f"{V2}{path}", as_user="viewer").status_code == 404
        gone = server.request("DELETE", f"{V2}{path}", as_user="user")
        assert gone.status_code == 404, gone.text
        _post_event(server, queued)  # the row again, for the next DELETE
    assert _get(server, "/dags/paused_consumer/assets/queuedEvents")["total_entries"] == 1
    early_delete = server.request("DELETE", f"{V2}/assets/{queued}/queuedEvents",
                                  as_user="user", params={"before": "2000-01-01T00:00:00Z"})
    assert early_delete.status_code == 404
    assert _get(server, "/dags/paused_consumer/assets/queuedEvents")["total_entries"] == 1
    assert server.request("DELETE", f"{V2}/assets/{queued}/queuedEvents",
                          as_user="user").status_code == 204


@pytest.mark.parametrize(("path", "text"), [
    ("/dags/on_demand/assets/queuedEvents",
     "Queue event with dag_id: `on_demand` was not found"),
    ("/dags/nope/assets/5/queuedEvents",
     "Queued event with dag_id: `nope` and asset_id: `5` was not found"),
    ("/assets/99999999999/queuedEvents", "Queue event with asset_id: `99999999999` was not found"),
])
def test_queued_events_not_found(server: ApiServer, path: str, text: str) -> None:
    answer = server.request("GET", f"{V2}{path}", as_user="viewer")
    assert answer.status_code == 404, answer.text
    assert answer.json()["detail"] == text


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_queued_events_bad_before(server: ApiServer, method: str) -> None:
    answer = server.request(method, f"{V2}/dags/paused_consumer/assets/queuedEvents",
                            as_user="user", params={"before": "yesterday"})
    assert answer.status_code == 400, answer.text
    assert "'yesterday'" in answer.json()["detail"]


# -- materialize ----------------------------------------------------------------------------------


def test_materialize_triggers_the_producing_dag(server: ApiServer, db: sa.Engine) -> None:
    """Airflow 3.1: a queued manual run of the one DAG producing the asset, no logical date,
    triggered_by rest_api by the caller."""
    asset_id = _asset_id(server, "on_demand")
    answer = server.request("POST", f"{V2}/assets/{asset_id}/materialize", as_user="user")
    assert answer.status_code == 200, answer.text
    run = answer.json()
    assert (run["dag_id"], run["state"], run["run_type"], run["logical_date"],
            run["triggered_by"], run["triggering_user_name"]) == (
        "on_demand", "queued", "manual", None, "rest_api", "user")
    assert [r.run_id for r in _runs(db, "on_demand")] == [run["dag_run_id"]]


@pytest.mark.parametrize(("name", "status", "text"), [
    ("shared", 409, "More than one DAG materializes asset with ID: {id}"),
    ("external", 404, "No DAG materializes asset with ID: {id}"),
])
def test_materialize_ambiguous_or_without_producer(server: ApiServer, name: str, status: int,
                                                   text: str) -> None:
    asset_id = _asset_id(server, name)
    answer = server.request("POST", f"{V2}/assets/{asset_id}/materialize", as_user="user")
    assert answer.status_code == status, answer.text
    assert text.format(id=asset_id) in answer.json()["detail"]


def test_materialize_a_dag_with_import_errors_is_400(server: ApiServer, db: sa.Engine) -> None:
    asset_id = _asset_id(server, "on_demand")
    before = len(_runs(db, "on_demand"))
    with transaction(db) as conn:
        conn.execute(t.dag.update().where(t.dag.c.dag_id == "on_demand")
                     .values(has_import_errors=True))
    try:
        answer = server.request("POST", f"{V2}/assets/{asset_id}/materialize", as_user="user")
    finally:
        with transaction(db) as conn:
            conn.execute(t.dag.update().where(t.dag.c.dag_id == "on_demand")
                         .values(has_import_errors=False))
    assert answer.status_code == 400, answer.text
    assert "'on_demand' has import errors" in answer.json()["detail"]
    assert len(_runs(db, "on_demand")) == before


def test_materialize_unknown_asset_and_permissions(server: ApiServer) -> None:
    missing = server.request("POST", f"{V2}/assets/777777/materialize", as_user="user")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "The Asset with ID: `777777` was not found"
    bad = server.request("POST", f"{V2}/assets/x/materialize", as_user="user")
    assert bad.status_code == 422
    asset_id = _asset_id(server, "on_demand")
    viewer = server.request("POST", f"{V2}/assets/{asset_id}/materialize", as_user="viewer")
    assert viewer.status_code == 403


def test_upstream_events_of_an_unknown_run(server: ApiServer) -> None:
    answer = server.request("GET", f"{V2}/dags/make_raw/dagRuns/nope/upstreamAssetEvents",
                            as_user="viewer")
    assert answer.status_code == 404
    assert answer.json()["detail"] == ("The DagRun with dag_id: `make_raw` and run_id: `nope` "
                                       "was not found")


@pytest.mark.parametrize("path", ["/assets", "/assets/events", "/assets/aliases"])
def test_huge_paging_values_are_not_a_500(server: ApiServer, path: str) -> None:
    for params in ({"offset": str(10**20)}, {"limit": str(10**20)}):
        answer = server.request("GET", f"{V2}{path}", as_user="viewer", params=params)
        assert answer.status_code in (200, 422), (params, answer.text)


def test_event_extra_with_a_nul_character(server: ApiServer) -> None:
    """JSON text may escape NUL; PostgreSQL's json column holds the escape: stored, no 500."""
    event = _post_event(server, _asset_id(server, "shared"), {"odd": "a\u0000b"})
    assert event["extra"] == {"odd": "a\u0000b", "from_rest_api": True}


# -- Airflow 2's /api/v1/datasets (docs/airflow-rest-api.md B.4 "Airflow 2") ----------------------


V1 = "/api/v1"


def _v1(server: ApiServer, method: str, path: str, *, as_user: str = "viewer",
        **kwargs: Any) -> Any:
    return server.request(method, f"{V1}{path}", as_user=as_user, basic=True, **kwargs)


def _quoted(uri: str) -> str:
    from urllib.parse import quote

    return quote(uri, safe="")


def test_v1_datasets(server: ApiServer) -> None:
    body = _v1(server, "GET", "/datasets").json()
    assert sorted(d["uri"] for d in body["datasets"]) == sorted(
        f"s3://lake/{n}" for n in ACTIVE)
    (raw,) = [d for d in body["datasets"] if d["uri"] == "s3://lake/raw"]
    assert set(raw) == {"id", "uri", "extra", "created_at", "updated_at", "producing_tasks",
                        "consuming_dags"}
    assert [r["dag_id"] for r in raw["consuming_dags"]] == ["make_clean"]
    assert [r["task_id"] for r in raw["producing_tasks"]] == ["load"]
    assert raw["created_at"].endswith("+00:00")
    only = _v1(server, "GET", "/datasets", params={"uri_pattern": "RAW"}).json()
    assert [d["uri"] for d in only["datasets"]] == ["s3://lake/raw"]
    assert only["total_entries"] == 1
    by_dag = _v1(server, "GET", "/datasets", params={"dag_ids": "on_external,make_raw",
                                                     "order_by": "-uri"}).json()
    assert [d["uri"] for d in by_dag["datasets"]] == ["s3://lake/raw", "s3://lake/external"]
    one = _v1(server, "GET", f"/datasets/{_quoted('s3://lake/raw')}")
    assert one.status_code == 200 and one.json() == raw
    missing = _v1(server, "GET", f"/datasets/{_quoted('s3://lake/none')}")
    assert missing.status_code == 404
    assert missing.json()["title"] == "Dataset not found"
    assert missing.json()["detail"] == "The Dataset with uri: `s3://lake/none` was not found"
    for params, text in (({"order_by": "name"}, "Ordering with 'name' is disallowed"),
                         ({"limit": "-1"}, "Page limit must be a positive integer"),
                         ({"offset": str(10**20)}, "offset")):
        bad = _v1(server, "GET", "/datasets", params=params)
        assert bad.status_code == 400, bad.text
        assert text in bad.text


def test_v1_dataset_events_and_upstream(server: ApiServer, db: sa.Engine) -> None:
    raw = _asset_id(server, "raw")
    body = _v1(server, "GET", "/datasets/events", params={"dataset_id": raw}).json()
    (event,) = body["dataset_events"]
    (consumer,) = _runs(db, "make_clean")
    assert (event["dataset_id"], event["dataset_uri"], event["source_dag_id"],
            event["source_run_id"], event["extra"]) == (raw, "s3://lake/raw", "make_raw",
                                                        "produce_1", {"rows": 3})
    assert event["timestamp"].endswith("+00:00")
    assert [(r["dag_run_id"], r["dag_id"]) for r in event["created_dagruns"]] == [
        (consumer.run_id, "make_clean")]
    upstream = _v1(server, "GET",
                   f"/dags/make_clean/dagRuns/{consumer.run_id}/upstreamDatasetEvents").json()
    assert [e["id"] for e in upstream["dataset_events"]] == [event["id"]]
    assert _v1(server, "GET", "/dags/make_clean/dagRuns/nope/upstreamDatasetEvents"
               ).status_code == 404
    bad = _v1(server, "GET", "/datasets/events", params={"order_by": "id"})
    assert bad.status_code == 400


def test_v1_create_event_and_queue(server: ApiServer) -> None:
    uri = "s3://lake/queued"
    created = _v1(server, "POST", "/datasets/events", as_user="user",
                  json={"dataset_uri": uri, "extra": {"a": 1}})
    assert created.status_code == 200, created.text
    assert created.json()["extra"] == {"a": 1, "from_rest_api": True}
    assert created.json()["source_dag_id"] is None
    by_uri = _v1(server, "GET", f"/datasets/queuedEvent/{_quoted(uri)}").json()
    assert [(q["uri"], q["dag_id"]) for q in by_uri["queued_events"]] == [
        (uri, "paused_consumer")]
    assert by_uri["queued_events"][0]["created_at"].endswith("+00:00")
    by_dag = _v1(server, "GET", "/dags/paused_consumer/datasets/queuedEvent").json()
    assert by_dag == by_uri
    one = _v1(server, "GET", f"/dags/paused_consumer/datasets/queuedEvent/{_quoted(uri)}")
    assert one.json() == by_uri["queued_events"][0]
    for path in (f"/dags/paused_consumer/datasets/queuedEvent/{_quoted(uri)}",
                 f"/datasets/queuedEvent/{_quoted(uri)}",
                 "/dags/paused_consumer/datasets/queuedEvent"):
        assert _v1(server, "DELETE", path, as_user="viewer").status_code == 403
        assert _v1(server, "DELETE", path, as_user="user").status_code == 204
        gone = _v1(server, "GET", path)
        assert gone.status_code == 404 and gone.json()["title"] == "Queue event not found"
        assert _v1(server, "DELETE", path, as_user="user").status_code == 404
        assert _v1(server, "POST", "/datasets/events", as_user="user",
                   json={"dataset_uri": uri}).status_code == 200
    assert _v1(server, "DELETE", f"/datasets/queuedEvent/{_quoted(uri)}",
               as_user="user").status_code == 204


@pytest.mark.parametrize(("body", "status", "text"), [
    ({"dataset_uri": "s3://lake/none"}, 404, "Dataset with uri: 's3://lake/none' not found"),
    ({}, 400, "{'dataset_uri': ['Missing data for required field.']}"),
    ({"dataset_uri": 3}, 400, "{'dataset_uri': ['Not a valid string.']}"),
    ({"dataset_uri": "s3://lake/raw", "extra": [1]}, 400, "'extra'"),
    ({"dataset_uri": "s3://lake/raw", "bogus": 1}, 400, "{'bogus': ['Unknown field.']}"),
    ([1, 2], 400, "Invalid input type"),
])
def test_v1_create_event_bad_bodies(server: ApiServer, body: Any, status: int,
                                    text: str) -> None:
    answer = _v1(server, "POST", "/datasets/events", as_user="user", json=body)
    assert answer.status_code == status, answer.text
    assert text in answer.json()["detail"]
