"""``dagcore assets list|details|materialize`` run for real (docs/airflow-behaviour.md 12.6):
``python -m dagcore ...`` in a subprocess, ``DAGCORE_HOME`` and its SQLite database in tmp_path,
the DAG folder synced in-process.

Each error is one line on stderr naming the asset, and leaves the database as it was.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import yaml
from cli_helpers import CLIHome, assert_one_line_error, snapshot

from dagcore import asset_store
from dagcore.db import transaction
from dagcore.models import tables as t

pytestmark = pytest.mark.integration

LAKE = """\
from datetime import datetime, timezone
from dagcore import DAG
from dagcore.assets import Asset, AssetAlias
from dagcore.operators.empty import EmptyOperator

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
RAW = Asset(name="raw", uri="s3://lake/raw", extra={"team": "ingest"})
SHARED = Asset(name="shared", uri="s3://lake/shared")
EXTERNAL = Asset(name="external", uri="s3://lake/external")

with DAG("make_raw", schedule=None, start_date=START):
    EmptyOperator(task_id="load", outlets=[RAW])

with DAG("make_clean", schedule=[RAW, EXTERNAL], start_date=START):
    EmptyOperator(task_id="clean")

for dag_id in ("shared_one", "shared_two"):
    with DAG(dag_id, schedule=None, start_date=START):
        EmptyOperator(task_id="write", outlets=[SHARED])

with DAG("two_of_a_name", schedule=None, start_date=START):
    EmptyOperator(task_id="write", outlets=[Asset(name="dup", uri="s3://x/1"),
                                            Asset(name="dup", uri="s3://x/2")])

with DAG("via_alias", schedule=None, start_date=START):
    EmptyOperator(task_id="write", outlets=[AssetAlias("lake-alias")])
"""

NAMES = ["dup", "dup", "external", "raw", "shared"]


@pytest.fixture
def lake(cli_home: CLIHome, cli_db: sa.Engine) -> sa.Engine:
    cli_home.store_dags(cli_db, {"lake.py": LAKE})
    return cli_db


def ok(cli_home: CLIHome, *args: str) -> str:
    result = cli_home.run(*args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def _asset_id(engine: sa.Engine, name: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(t.asset.c.id).where(t.asset.c.name == name))
                   .scalar_one())


def test_list_json_is_the_rest_shape(cli_home: CLIHome, lake: sa.Engine) -> None:
    assets = json.loads(ok(cli_home, "assets", "list", "-o", "json"))
    assert [a["name"] for a in assets] == NAMES
    (raw,) = [a for a in assets if a["name"] == "raw"]
    assert (raw["uri"], raw["group"], raw["extra"]) == ("s3://lake/raw", "asset",
                                                        {"team": "ingest"})
    assert [r["dag_id"] for r in raw["scheduled_dags"]] == ["make_clean"]
    assert [(r["dag_id"], r["task_id"]) for r in raw["producing_tasks"]] == [
        ("make_raw", "load")]
    assert raw["last_asset_event"] is None and raw["aliases"] == []


def test_list_table_plain_and_yaml(cli_home: CLIHome, lake: sa.Engine) -> None:
    """table and plain shorten the references to names; yaml is json's values."""
    rows = list(csv.DictReader(io.StringIO(ok(cli_home, "assets", "list", "-o", "plain")),
                               delimiter="\t"))
    (shared,) = [r for r in rows if r["name"] == "shared"]
    assert shared["producing_tasks"] == "shared_one.write, shared_two.write"
    assert shared["scheduled_dags"] == "" and shared["uri"] == "s3://lake/shared"
    table = ok(cli_home, "assets", "list")
    assert "s3://lake/external" in table and "make_raw.load" in table
    assert yaml.safe_load(ok(cli_home, "assets", "list", "-o", "yaml")) == json.loads(
        ok(cli_home, "assets", "list", "-o", "json"))


@pytest.mark.parametrize(("args", "expected"), [
    (("--name", "SHA"), ["shared"]),
    (("--uri", "s3://x/"), ["dup", "dup"]),
    (("--name", "nothing"), []),
])
def test_list_filters(cli_home: CLIHome, lake: sa.Engine, args: tuple[str, ...],
                      expected: list[str]) -> None:
    assets = json.loads(ok(cli_home, "assets", "list", *args, "-o", "json"))
    assert [a["name"] for a in assets] == expected


def test_list_aliases(cli_home: CLIHome, lake: sa.Engine) -> None:
    aliases = json.loads(ok(cli_home, "assets", "list", "--alias", "-o", "json"))
    assert [(a["name"], a["group"]) for a in aliases] == [("lake-alias", "asset")]


def test_details(cli_home: CLIHome, lake: sa.Engine) -> None:
    """One asset (by name, URI or both); table/plain as property rows; the newest event."""
    raw_id = _asset_id(lake, "raw")
    now = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    with transaction(lake) as conn:
        event_id = asset_store.record_external_asset_event(conn, asset_id=raw_id,
                                                           extra={"x": 1}, now=now)
    (by_name,) = json.loads(ok(cli_home, "assets", "details", "--name", "raw", "-o", "json"))
    assert by_name["id"] == raw_id
    assert by_name["last_asset_event"] == {"id": event_id, "timestamp": now.isoformat()}
    assert json.loads(ok(cli_home, "assets", "details", "--uri", "s3://lake/raw",
                         "-o", "json")) == [by_name]
    (dup,) = json.loads(ok(cli_home, "assets", "details", "--name", "dup", "--uri", "s3://x/2",
                           "-o", "json"))
    assert dup["uri"] == "s3://x/2"
    rows = list(csv.DictReader(io.StringIO(ok(cli_home, "assets", "details", "--name", "raw",
                                              "-o", "plain")), delimiter="\t"))
    props = {r["property_name"]: r["property_value"] for r in rows}
    assert props["uri"] == "s3://lake/raw" and props["scheduled_dags"] == "make_clean"
    assert props["last_asset_event"] == now.isoformat()
    (alias,) = json.loads(ok(cli_home, "assets", "details", "--alias", "--name", "lake-alias",
                             "-o", "json"))
    assert (alias["name"], alias["group"]) == ("lake-alias", "asset")


@pytest.mark.parametrize(("args", "fragments"), [
    (("details", "--name", "nope"), ["Asset with name nope does not exist."]),
    (("details", "--name", "raw", "--uri", "s3://other"),
     ["Asset with name raw and URI s3://other does not exist."]),
    (("details", "--name", "dup"), ["More than one asset exists with name dup",
                                    "s3://x/1, s3://x/2"]),
    (("details", "--alias", "--name", "nope"), ["Asset alias with name nope does not exist."]),
    (("materialize", "--name", "nope"), ["Asset with name nope does not exist."]),
    (("materialize", "--name", "shared"),
     ["More than one DAG materializes asset with name shared: shared_one, shared_two"]),
    (("materialize", "--uri", "s3://lake/external"),
     ["No DAG materializes asset with URI s3://lake/external"]),
])
def test_errors_are_one_line_and_change_nothing(cli_home: CLIHome, lake: sa.Engine,
                                                args: tuple[str, ...],
                                                fragments: list[str]) -> None:
    before = snapshot(lake)
    result = cli_home.run("assets", *args)
    assert_one_line_error(result, *fragments)
    assert result.stdout == ""
    assert snapshot(lake) == before


@pytest.mark.parametrize(("args", "fragment"), [
    (("details",), "Either --name or --uri is required"),
    (("materialize",), "Either --name or --uri is required"),
    (("details", "--alias"), "Required --name with --alias"),
    (("details", "--alias", "--name", "a", "--uri", "u"), "Cannot use --uri with --alias"),
    (("list", "-o", "xml"), "invalid choice"),
])
def test_usage_errors_exit_2(cli_home: CLIHome, lake: sa.Engine, args: tuple[str, ...],
                             fragment: str) -> None:
    result = cli_home.run("assets", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert fragment in result.stderr and "Traceback" not in result.stderr


def test_materialize_triggers_the_producing_dag(cli_home: CLIHome, lake: sa.Engine) -> None:
    """Airflow 3's ``airflow assets materialize``: a queued manual run of the one DAG whose
    task produces the asset, without a logical date, triggered by the CLI."""
    (run,) = json.loads(ok(cli_home, "assets", "materialize", "--uri", "s3://lake/raw",
                           "-o", "json"))
    assert (run["dag_id"], run["state"], run["run_type"], run["logical_date"],
            run["triggered_by"]) == ("make_raw", "queued", "manual", None, "cli")
    dr = t.dag_run
    with lake.connect() as conn:
        stored = conn.execute(sa.select(dr)).all()
    assert [(r.dag_id, r.run_id, r.logical_date) for r in stored] == [
        ("make_raw", run["run_id"], None)]


def test_materialize_ignores_stale_producers(cli_home: CLIHome, lake: sa.Engine) -> None:
    with transaction(lake) as conn:
        conn.execute(t.dag.update().where(t.dag.c.dag_id == "shared_two")
                     .values(is_stale=True))
    (run,) = json.loads(ok(cli_home, "assets", "materialize", "--name", "shared",
                           "-o", "json"))
    assert run["dag_id"] == "shared_one"


def test_needs_a_migrated_database(cli_home: CLIHome) -> None:
    assert_one_line_error(cli_home.run("assets", "list"), "dagcore db migrate")
