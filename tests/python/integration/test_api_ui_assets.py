"""The web UI's asset endpoints on a real ``dagcore api-server`` (SQLite and PostgreSQL):
``GET /ui/dependencies`` (the asset graph, Airflow 3's shape) and ``GET /ui/dags/{dag_id}/assets``
(a DAG's condition tree and what it produces); docs/airflow-rest-api.md, "UI endpoints" 10-11.

The home holds :func:`api_server_process.prepare_home`'s DAGs (no assets) and :data:`ASSET_DAGS`:
a chain ``asset_producer -> raw -> asset_cleaner -> clean -> asset_reporter`` (which also waits
on ``Asset.ref(name="external")``, produced by ``external_feed``), an alias
(``alias_producer`` emits through ``exports``, ``alias_consumer`` is scheduled on it), and an
unrelated ``isolated_consumer``. Events are recorded with :mod:`dagcore.asset_store` as the
task runner does, which also queues the consumers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from api_server_process import ApiServer, database_url_of, prepare_home, serve

from dagcore.asset_store import record_asset_events
from dagcore.assets import Asset, AssetAlias, AssetEventRecord
from dagcore.db import create_engine, transaction
from dagcore.models import tables as t

ASSET_DAGS = '''\
from datetime import UTC, datetime

from dagcore import DAG
from dagcore.assets import Asset, AssetAlias
from dagcore.operators.empty import EmptyOperator

START = datetime(2024, 1, 1, tzinfo=UTC)
RAW = Asset(name="raw", uri="s3://lake/raw")
CLEAN = Asset(name="clean", uri="s3://lake/clean")
EXTERNAL = Asset(name="external", uri="file:///feeds/external")
EXPORTS = AssetAlias("exports")

with DAG("asset_producer", schedule=None, start_date=START):
    EmptyOperator(task_id="extract", outlets=[RAW])
    EmptyOperator(task_id="extract_again", outlets=[RAW])

with DAG("asset_cleaner", schedule=[RAW], start_date=START):
    EmptyOperator(task_id="clean", outlets=[CLEAN])

with DAG("asset_reporter", schedule=(CLEAN & RAW) | Asset.ref(name="external"),
         start_date=START):
    EmptyOperator(task_id="report", outlets=[Asset(name="report", uri="s3://lake/report")])

with DAG("external_feed", schedule=None, start_date=START):
    EmptyOperator(task_id="feed", outlets=[EXTERNAL])

with DAG("alias_producer", schedule=None, start_date=START):
    EmptyOperator(task_id="emit", outlets=[EXPORTS])

with DAG("alias_consumer", schedule=EXPORTS, start_date=START):
    EmptyOperator(task_id="use")

with DAG("isolated_consumer", schedule=Asset(name="lonely", uri="s3://other/lonely"),
         start_date=START):
    EmptyOperator(task_id="use")
'''

T1 = datetime(2024, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, api_database_url: str | None) -> Path:
    from dagcore.dag_processing import sync_dags

    root = tmp_path_factory.mktemp("ui_assets")
    home = prepare_home(root, database_url=api_database_url)
    (root / "dags" / "asset_dags.py").write_text(ASSET_DAGS)
    engine = create_engine(database_url_of(home))
    try:
        result = sync_dags(root / "dags", engine=engine, min_update_interval=timedelta(0))
        assert not result.import_errors, result.import_errors
        with transaction(engine) as conn:
            raw = Asset(name="raw", uri="s3://lake/raw")
            record_asset_events(conn, [AssetEventRecord(raw, {"n": 1}, None)],
                                dag_id="asset_producer", task_id="extract", run_id="p1",
                                map_index=-1, now=T1)
            record_asset_events(conn, [AssetEventRecord(raw, {"n": 2}, None)],
                                dag_id="asset_producer", task_id="extract", run_id="p2",
                                map_index=-1, now=T1 + timedelta(hours=1))
            exported = Asset(name="exported", uri="s3://lake/exported")
            record_asset_events(conn, [AssetEventRecord(exported, {}, AssetAlias("exports"))],
                                dag_id="alias_producer", task_id="emit", run_id="a1",
                                map_index=-1, now=T1)
    finally:
        engine.dispose()
    return home


@pytest.fixture(scope="module")
def server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from serve(home, tmp_path_factory)


@pytest.fixture(scope="module")
def asset_ids(home: Path) -> dict[str, int]:
    engine = create_engine(database_url_of(home))
    try:
        with engine.connect() as conn:
            return {name: id_ for id_, name in conn.execute(
                sa.select(t.asset.c.id, t.asset.c.name)).all()}
    finally:
        engine.dispose()


def _get(server: ApiServer, path: str, status: int = 200, **params: Any) -> Any:
    answer = server.request("GET", path, as_user="viewer", params=params)
    assert answer.status_code == status, answer.text
    return answer.json()


def _edges(graph: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["source_id"], e["target_id"]) for e in graph["edges"]}


# -- /ui/dependencies -----------------------------------------------------------------------------

def test_whole_graph_has_producer_asset_consumer_chains(
        server: ApiServer, asset_ids: dict[str, int]) -> None:
    graph = _get(server, "/ui/dependencies")
    a = {name: f"asset:{id_}" for name, id_ in asset_ids.items()}
    assert _edges(graph) == {
        ("dag:asset_producer", a["raw"]), (a["raw"], "dag:asset_cleaner"),
        ("dag:asset_cleaner", a["clean"]), (a["clean"], "dag:asset_reporter"),
        (a["raw"], "dag:asset_reporter"), ("dag:asset_reporter", a["report"]),
        ("dag:external_feed", a["external"]), (a["external"], "asset-name-ref:external"),
        ("asset-name-ref:external", "dag:asset_reporter"),
        ("dag:alias_producer", "asset-alias:exports"), ("asset-alias:exports", a["exported"]),
        ("asset-alias:exports", "dag:alias_consumer"),
        (a["lonely"], "dag:isolated_consumer"),
    }
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert nodes[a["raw"]] == {"id": a["raw"], "label": "raw", "type": "asset"}
    assert nodes["dag:asset_cleaner"] == {"id": "dag:asset_cleaner", "label": "asset_cleaner",
                                          "type": "dag"}
    assert nodes["asset-alias:exports"]["type"] == "asset-alias"
    assert nodes["asset-name-ref:external"] == {
        "id": "asset-name-ref:external", "label": "external", "type": "asset-name-ref"}
    # Sorted, each node once, every edge between listed nodes, no asset-less DAG.
    assert [n["id"] for n in graph["nodes"]] == sorted(nodes)
    assert {n for edge in _edges(graph) for n in edge} == set(nodes)
    assert "dag:etl_daily" not in nodes and "dag:old_dag" not in nodes


def test_connected_part_around_a_dag_or_asset(server: ApiServer,
                                              asset_ids: dict[str, int]) -> None:
    chain = _get(server, "/ui/dependencies", node_id="dag:asset_cleaner")
    ids = {n["id"] for n in chain["nodes"]}
    assert ids == {"dag:asset_producer", "dag:asset_cleaner", "dag:asset_reporter",
                   "dag:external_feed", "asset-name-ref:external",
                   *(f"asset:{asset_ids[n]}" for n in ("raw", "clean", "report", "external"))}
    assert ("dag:asset_producer", f"asset:{asset_ids['raw']}") in _edges(chain)
    same = _get(server, "/ui/dependencies", node_id=f"asset:{asset_ids['report']}")
    assert same == chain
    assert _get(server, "/ui/dependencies", node_id=f"asset:00{asset_ids['report']}") == chain
    alias = _get(server, "/ui/dependencies", node_id="dag:alias_consumer")
    assert {n["id"] for n in alias["nodes"]} == {
        "dag:alias_producer", "asset-alias:exports", "dag:alias_consumer",
        f"asset:{asset_ids['exported']}"}
    assert _get(server, "/ui/dependencies", node_id="asset-alias:exports") == alias


def test_a_dag_without_assets_is_alone(server: ApiServer) -> None:
    assert _get(server, "/ui/dependencies", node_id="dag:etl_daily") == {
        "nodes": [{"id": "dag:etl_daily", "label": "etl_daily", "type": "dag"}], "edges": []}


def test_dependencies_bad_input(server: ApiServer) -> None:
    for bad in ("etl_daily", "dag:", "task:x", "asset:abc", "asset:-1", ":x"):
        detail = _get(server, "/ui/dependencies", 400, node_id=bad)["detail"]
        assert f"`{bad}`" in detail, detail
    assert _get(server, "/ui/dependencies", 404, node_id="dag:nope")["detail"] == (
        "The Dag with ID: `nope` was not found")
    assert "`999999`" in _get(server, "/ui/dependencies", 404, node_id="asset:999999")["detail"]
    huge = "9" * 30  # past the id column's range: 404, not a database error
    assert f"`{huge}`" in _get(server, "/ui/dependencies", 404, node_id=f"asset:{huge}")["detail"]
    assert "`nope`" in _get(server, "/ui/dependencies", 404,
                            node_id="asset-alias:nope")["detail"]
    assert "`asset-uri-ref:s3://x`" in _get(server, "/ui/dependencies", 404,
                                            node_id="asset-uri-ref:s3://x")["detail"]
    assert server.request("GET", "/ui/dependencies").status_code == 401


# -- /ui/dags/{dag_id}/assets ---------------------------------------------------------------------

def test_consumer_condition_tree_with_events_and_queue(server: ApiServer,
                                                       asset_ids: dict[str, int]) -> None:
    body = _get(server, "/ui/dags/asset_reporter/assets")
    assert body["dag_id"] == "asset_reporter" and body["dag_display_name"] == "asset_reporter"
    cond = body["condition"]
    assert cond["type"] == "any"
    all_node, ref = cond["children"]
    assert all_node["type"] == "all"
    clean, raw = all_node["children"]
    assert clean == {"type": "asset", "id": asset_ids["clean"], "name": "clean",
                     "uri": "s3://lake/clean", "group": "asset", "last_event": None,
                     "queued_at": None}
    # Two events of raw: the newest is shown; raw is queued for this DAG since then.
    assert raw["last_event"] == {
        "id": raw["last_event"]["id"], "timestamp": "2024-03-01T13:00:00Z",
        "source_dag_id": "asset_producer", "source_task_id": "extract", "source_run_id": "p2",
        "source_map_index": -1}
    assert raw["queued_at"] == "2024-03-01T13:00:00Z"
    assert ref == {"type": "asset_ref", "name": "external", "uri": None, "queued": False,
                   "assets": [{"type": "asset", "id": asset_ids["external"], "name": "external",
                               "uri": "file:///feeds/external", "group": "asset",
                               "last_event": None, "queued_at": None}]}
    assert body["produces"] == [{
        "type": "asset", "id": asset_ids["report"], "name": "report", "uri": "s3://lake/report",
        "group": "asset", "last_event": None, "queued_at": None, "task_ids": ["report"]}]


def test_producer_and_alias_views(server: ApiServer, asset_ids: dict[str, int]) -> None:
    producer = _get(server, "/ui/dags/asset_producer/assets")
    assert producer["condition"] is None
    [raw] = producer["produces"]
    assert raw["name"] == "raw" and raw["task_ids"] == ["extract", "extract_again"]
    assert raw["last_event"]["source_run_id"] == "p2"
    # Queue rows are per consumer: raw is not queued for its producer.
    assert raw["queued_at"] is None
    consumer = _get(server, "/ui/dags/alias_consumer/assets")
    alias = consumer["condition"]
    assert alias["type"] == "alias" and alias["name"] == "exports" and alias["queued"] is True
    [exported] = alias["assets"]
    assert exported["id"] == asset_ids["exported"]
    assert exported["queued_at"] == "2024-03-01T12:00:00Z"
    assert exported["last_event"]["source_dag_id"] == "alias_producer"
    emitter = _get(server, "/ui/dags/alias_producer/assets")
    assert [(p["type"], p["name"], p["task_ids"]) for p in emitter["produces"]] == [
        ("alias", "exports", ["emit"])]
    assert emitter["produces"][0]["assets"][0]["name"] == "exported"


def test_dag_without_assets_and_unknown_dag(server: ApiServer) -> None:
    assert _get(server, "/ui/dags/etl_daily/assets") == {
        "dag_id": "etl_daily", "dag_display_name": "etl_daily", "condition": None,
        "produces": []}
    assert _get(server, "/ui/dags/nope/assets", 404)["detail"] == (
        "The Dag with ID: `nope` was not found")
    assert server.request("GET", "/ui/dags/etl_daily/assets").status_code == 401


def test_listed_in_openapi(server: ApiServer) -> None:
    spec = _get(server, "/api/v2/openapi.json")
    for path in ("/ui/dependencies", "/ui/dags/{dag_id}/assets"):
        assert spec["paths"][path]["get"]["tags"] == ["UI"], path
    node = spec["components"]["schemas"]["AssetConditionNode"]
    assert node["properties"]["children"]["items"]["$ref"].endswith("/AssetConditionNode")
