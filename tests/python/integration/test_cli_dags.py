"""``dagcore dags|tasks|config`` run for real: ``python -m dagcore ...`` in a subprocess, with
``DAGCORE_HOME`` (and its SQLite database) in tmp_path and a small DAG folder written here.

The database is prepared in-process (migrate, then sync the folder) to keep each test to the
subprocesses it is about. Every error case checks the contract of the CLI: exit code 1, exactly
one line on stderr (``dagcore: error: ...``), nothing on stdout that looks like success, and the
database byte-for-byte as it was (every row of every table).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cli_helpers import CLIHome, assert_one_line_error, snapshot

from dagcore.dag_processing import sync_dags
from dagcore.db import migrate, transaction
from dagcore.models import tables as t

ETL_DAG = """\
from datetime import UTC, datetime
from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

with DAG("etl", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule="@daily"):
    a = EmptyOperator(task_id="extract")
    b = EmptyOperator(task_id="transform")
    c = EmptyOperator(task_id="load")
    a >> b >> c
"""

OTHER_DAG = """\
from datetime import UTC, datetime
from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

with DAG("other", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None):
    EmptyOperator(task_id="only")
"""

BROKEN_DAG = """\
from dagcore import DAG
raise RuntimeError("this DAG file is broken")
"""

START = datetime(2024, 1, 1, tzinfo=UTC)


# -- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def dags_folder(cli_home: CLIHome) -> Path:
    return cli_home.write_dags({"etl.py": ETL_DAG, "other.py": OTHER_DAG,
                                "broken.py": BROKEN_DAG})


@pytest.fixture
def synced(cli_db: sa.Engine, dags_folder: Path) -> sa.Engine:
    """A migrated database holding the folder's DAGs (etl, other) and broken.py's error."""
    migrate(cli_db)
    sync_dags(dags_folder, engine=cli_db, min_update_interval=timedelta(0))
    return cli_db


def ok(cli_home: CLIHome, *args: str, stdin: str | None = None) -> str:
    result = cli_home.run(*args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def as_json(cli_home: CLIHome, *args: str) -> list[dict[str, Any]]:
    data = json.loads(ok(cli_home, *args, "-o", "json"))
    assert isinstance(data, list)
    return data


def as_plain(cli_home: CLIHome, *args: str) -> list[dict[str, str]]:
    text = ok(cli_home, *args, "-o", "plain")
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


def dag_row(engine: sa.Engine, dag_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.dag).where(t.dag.c.dag_id == dag_id)).one_or_none()


def runs_of(engine: sa.Engine, dag_id: str = "etl") -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.dag_run).where(t.dag_run.c.dag_id == dag_id)
                            .order_by(t.dag_run.c.run_id)).all()


def add_run(engine: sa.Engine, run_id: str, states: dict[str, str | None], *, run_state: str,
            day: int) -> None:
    """A finished or running run of etl with task instances in the given states."""
    with transaction(engine) as conn:
        version_id = conn.execute(sa.select(t.dag_version.c.id)
                                  .where(t.dag_version.c.dag_id == "etl")).scalar_one()
        logical = START + timedelta(days=day)
        conn.execute(t.dag_run.insert().values(
            dag_id="etl", run_id=run_id, logical_date=logical, run_after=logical,
            state=run_state, run_type="scheduled", start_date=logical, end_date=logical,
            created_dag_version_id=version_id, clear_number=0))
        conn.execute(t.task_instance.insert(), [
            {"id": uuid.uuid4(), "dag_id": "etl", "run_id": run_id, "task_id": task_id,
             "state": state, "try_number": 1, "max_tries": 0, "dag_version_id": version_id}
            for task_id, state in states.items()])


@pytest.fixture
def with_runs(synced: sa.Engine) -> sa.Engine:
    """etl with r1 (day 0, failed: transform failed) and r2 (day 1, success)."""
    add_run(synced, "r1", {"extract": "success", "transform": "failed",
                           "load": "upstream_failed"}, run_state="failed", day=0)
    add_run(synced, "r2", {"extract": "success", "transform": "success", "load": "success"},
            run_state="success", day=1)
    return synced


def ti_states(engine: sa.Engine) -> dict[tuple[str, str], str | None]:
    with engine.connect() as conn:
        return {(r.run_id, r.task_id): r.state for r in conn.execute(
            sa.select(t.task_instance.c.run_id, t.task_instance.c.task_id,
                      t.task_instance.c.state))}


# -- help ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, commands", [
    ((), ("dags", "tasks", "config")),
    (("dags",), ("reserialize", "list", "list-runs", "list-import-errors", "list-warnings",
                 "trigger", "pause", "unpause", "delete")),
    (("tasks",), ("list", "clear")),
    (("config",), ("get-value",)),
], ids=["top", "dags", "tasks", "config"])
def test_help_lists_the_commands(cli_home: CLIHome, args: tuple[str, ...],
                                 commands: tuple[str, ...]) -> None:
    out = ok(cli_home, *args, "--help")
    for command in commands:
        assert command in out


# -- dags reserialize / list / list-import-errors -----------------------------------------------


def test_reserialize_stores_versions_and_import_errors(cli_home: CLIHome, cli_db: sa.Engine,
                                                       dags_folder: Path) -> None:
    migrate(cli_db)
    out = ok(cli_home, "dags", "reserialize", "-S", str(dags_folder))
    assert "DAGs written: 2, versions created: 2, import errors: 1" in out
    assert "broken.py" in out
    with cli_db.connect() as conn:
        versions = conn.execute(sa.select(t.dag_version.c.dag_id, t.dag_version.c.version_number)
                                .order_by(t.dag_version.c.dag_id)).all()
    assert [tuple(v) for v in versions] == [("etl", 1), ("other", 1)]

    # Once more, at once: no throttle, but nothing changed, so nothing is written.
    again = ok(cli_home, "dags", "reserialize", "-S", str(dags_folder))
    assert "DAGs written: 0, versions created: 0, import errors: 1" in again

    # A changed file gets a new version right away (no min_serialized_dag_update_interval).
    (dags_folder / "other.py").write_text(OTHER_DAG.replace('task_id="only"', 'task_id="one"'))
    ok(cli_home, "dags", "reserialize", "-S", str(dags_folder))
    listed = {row["dag_id"]: row for row in as_json(cli_home, "dags", "list")}
    assert listed["other"]["latest_version"] == 1  # in place: no task instance used version 1
    assert [row["task_id"] for row in as_json(cli_home, "tasks", "list", "other")] == ["one"]


def test_reserialize_errors(cli_home: CLIHome, cli_db: sa.Engine, dags_folder: Path) -> None:
    assert_one_line_error(cli_home.run("dags", "reserialize", "-S", str(dags_folder)),
                          "dagcore db migrate")
    migrate(cli_db)
    before = snapshot(cli_db)
    assert_one_line_error(cli_home.run("dags", "reserialize", "-S", "/no/such/folder"),
                          "/no/such/folder")
    assert snapshot(cli_db) == before


def test_dags_list_in_every_format(cli_home: CLIHome, synced: sa.Engine,
                                   dags_folder: Path) -> None:
    rows = as_json(cli_home, "dags", "list")
    assert rows == [
        {"dag_id": "etl", "fileloc": str(dags_folder / "etl.py"), "is_paused": True,
         "is_stale": False, "has_import_errors": False, "latest_version": 1},
        {"dag_id": "other", "fileloc": str(dags_folder / "other.py"), "is_paused": True,
         "is_stale": False, "has_import_errors": False, "latest_version": 1},
    ]
    plain = as_plain(cli_home, "dags", "list")
    assert [(r["dag_id"], r["is_paused"], r["latest_version"]) for r in plain] == [
        ("etl", "True", "1"), ("other", "True", "1")]
    table = ok(cli_home, "dags", "list")
    for fragment in ("dag_id", "has_import_errors", "latest_version", "etl", "other",
                     str(dags_folder / "etl.py")):
        assert fragment in table  # off a terminal, rich never truncates a value


def test_dags_list_empty_database(cli_home: CLIHome, cli_db: sa.Engine) -> None:
    migrate(cli_db)
    assert as_json(cli_home, "dags", "list") == []
    assert as_plain(cli_home, "dags", "list") == []


def test_list_import_errors(cli_home: CLIHome, synced: sa.Engine) -> None:
    rows = as_json(cli_home, "dags", "list-import-errors")
    assert [(r["filename"], r["bundle_name"]) for r in rows] == [("broken.py", "dags-folder")]
    assert "this DAG file is broken" in rows[0]["error"]
    datetime.fromisoformat(rows[0]["timestamp"])
    plain = as_plain(cli_home, "dags", "list-import-errors")
    assert [r["filename"] for r in plain] == ["broken.py"]
    assert "\n" not in plain[0]["error"]  # one line per row, even for a traceback
    assert "broken.py" in ok(cli_home, "dags", "list-import-errors")


# -- dags trigger / list-runs -------------------------------------------------------------------


def test_trigger_with_conf_run_id_and_logical_date(cli_home: CLIHome,
                                                   synced: sa.Engine) -> None:
    [printed] = as_json(cli_home, "dags", "trigger", "etl", "-c", '{"k": [1, 2]}', "-r", "my_run",
                        "-l", "2024-03-01T06:30:00.123456+00:00")
    assert printed["run_id"] == "my_run"
    assert printed["state"] == "queued" and printed["run_type"] == "manual"
    assert printed["logical_date"] == "2024-03-01T06:30:00+00:00"  # microseconds zeroed
    assert printed["conf"] == {"k": [1, 2]}
    [stored] = runs_of(synced)
    assert stored.run_id == "my_run" and stored.conf == {"k": [1, 2]}
    assert stored.triggered_by == "cli"
    assert stored.logical_date == datetime(2024, 3, 1, 6, 30, tzinfo=UTC)


def test_trigger_keeps_microseconds_when_asked(cli_home: CLIHome, synced: sa.Engine) -> None:
    [printed] = as_json(cli_home, "dags", "trigger", "etl", "--no-replace-microseconds",
                        "-l", "2024-03-01T06:30:00.123456Z")
    assert printed["logical_date"] == "2024-03-01T06:30:00.123456+00:00"
    assert printed["run_id"] == "manual__2024-03-01T06:30:00.123456+00:00"


@pytest.mark.parametrize("zone, text, expected", [
    ("utc", "2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
    # Amsterdam in winter is UTC+1: local midnight is 23:00 UTC the day before.
    ("Europe/Amsterdam", "2024-03-01T00:00", datetime(2024, 2, 29, 23, tzinfo=UTC)),
    # An explicit offset wins over the default time zone.
    ("Europe/Amsterdam", "2024-03-01T00:00:00-05:00", datetime(2024, 3, 1, 5, tzinfo=UTC)),
], ids=["naive-utc", "naive-amsterdam", "explicit-offset"])
def test_trigger_naive_date_is_in_the_default_timezone(cli_home: CLIHome, synced: sa.Engine,
                                                       zone: str, text: str,
                                                       expected: datetime) -> None:
    cli_home.env["DAGCORE__CORE__DEFAULT_TIMEZONE"] = zone
    ok(cli_home, "dags", "trigger", "etl", "-l", text)
    [stored] = runs_of(synced)
    assert stored.logical_date == expected


def test_trigger_table_and_plain_output(cli_home: CLIHome, synced: sa.Engine) -> None:
    table = ok(cli_home, "dags", "trigger", "etl", "-r", "r_table", "-l", "2024-03-01")
    assert "r_table" in table and "queued" in table
    [plain] = as_plain(cli_home, "dags", "trigger", "etl", "-r", "r_plain", "-l", "2024-03-02")
    assert plain["run_id"] == "r_plain" and plain["logical_date"] == "2024-03-02T00:00:00+00:00"


def test_trigger_without_logical_date_uses_now(cli_home: CLIHome, synced: sa.Engine) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    [printed] = as_json(cli_home, "dags", "trigger", "etl")
    logical = datetime.fromisoformat(printed["logical_date"])
    assert before <= logical <= datetime.now(UTC)
    assert printed["run_id"] == f"manual__{printed['logical_date']}"


def test_list_runs_newest_first_and_by_state(cli_home: CLIHome, with_runs: sa.Engine) -> None:
    ok(cli_home, "dags", "trigger", "etl", "-r", "manual_one", "-l", "2024-02-01")
    rows = as_json(cli_home, "dags", "list-runs", "etl")
    assert [r["run_id"] for r in rows] == ["manual_one", "r2", "r1"]
    assert rows[0]["state"] == "queued" and rows[0]["run_type"] == "manual"
    assert [r["run_id"] for r in as_json(cli_home, "dags", "list-runs", "etl", "--state",
                                         "failed")] == ["r1"]
    assert [r["run_id"] for r in as_plain(cli_home, "dags", "list-runs", "etl", "--state",
                                          "success")] == ["r2"]
    assert "manual_one" in ok(cli_home, "dags", "list-runs", "etl")
    assert as_json(cli_home, "dags", "list-runs", "other") == []


# -- dags pause / unpause / delete --------------------------------------------------------------


def test_pause_and_unpause(cli_home: CLIHome, synced: sa.Engine) -> None:
    assert "paused: False" in ok(cli_home, "dags", "unpause", "etl")
    assert dag_row(synced, "etl").is_paused is False
    assert dag_row(synced, "other").is_paused is True
    assert "paused: True" in ok(cli_home, "dags", "pause", "etl")
    assert dag_row(synced, "etl").is_paused is True


def test_delete_with_yes_cascades(cli_home: CLIHome, with_runs: sa.Engine) -> None:
    out = ok(cli_home, "dags", "delete", "etl", "-y")
    assert "Deleted DAG etl (1 versions, 2 runs, 6 task instances)" in out
    assert dag_row(with_runs, "etl") is None
    with with_runs.connect() as conn:
        for table in (t.dag_version, t.serialized_dag, t.dag_code, t.dag_run, t.task_instance):
            count = conn.execute(sa.select(sa.func.count()).select_from(table)
                                 .where(table.c.dag_id == "etl")).scalar_one()
            assert count == 0, table.name
    assert dag_row(with_runs, "other") is not None


@pytest.mark.parametrize("answer, code", [(None, 1), ("n\n", 1), ("y\n", 0)],
                         ids=["no-answer", "no", "yes"])
def test_delete_asks_first(cli_home: CLIHome, with_runs: sa.Engine, answer: str | None,
                           code: int) -> None:
    before = snapshot(with_runs)
    result = cli_home.run("dags", "delete", "etl", stdin=answer)
    assert result.returncode == code, result.stderr
    assert "Proceed? (y/n)" in result.stdout
    if code == 0:
        assert dag_row(with_runs, "etl") is None
    else:
        assert snapshot(with_runs) == before
        if answer is None:
            assert_one_line_error(result, "--yes")


# -- tasks list / clear -------------------------------------------------------------------------


def test_tasks_list(cli_home: CLIHome, synced: sa.Engine) -> None:
    rows = as_json(cli_home, "tasks", "list", "etl")
    assert rows == [
        {"task_id": "extract", "operator": "EmptyOperator", "upstream_task_ids": [],
         "downstream_task_ids": ["transform"], "trigger_rule": "all_success", "retries": 0},
        {"task_id": "transform", "operator": "EmptyOperator", "upstream_task_ids": ["extract"],
         "downstream_task_ids": ["load"], "trigger_rule": "all_success", "retries": 0},
        {"task_id": "load", "operator": "EmptyOperator", "upstream_task_ids": ["transform"],
         "downstream_task_ids": [], "trigger_rule": "all_success", "retries": 0},
    ]
    assert [r["task_id"] for r in as_plain(cli_home, "tasks", "list", "etl")] == [
        "extract", "transform", "load"]
    table = ok(cli_home, "tasks", "list", "etl")
    assert "transform" in table and "EmptyOperator" in table


def test_tasks_clear_dry_run_changes_nothing(cli_home: CLIHome, with_runs: sa.Engine) -> None:
    before = snapshot(with_runs)
    out = ok(cli_home, "tasks", "clear", "etl", "--only-failed", "--dry-run")
    assert "transform" in out and "upstream_failed" in out
    assert "2 task instance(s) would be cleared" in out
    assert snapshot(with_runs) == before


def test_tasks_clear_regex_downstream_and_date_range(cli_home: CLIHome,
                                                     with_runs: sa.Engine) -> None:
    out = ok(cli_home, "tasks", "clear", "etl", "-t", "^trans", "-d", "-s", "2024-01-02",
             "-e", "2024-01-02T23:59:59", "-y")
    assert "Cleared 2 task instance(s) of DAG etl." in out
    states = ti_states(with_runs)
    assert states[("r2", "transform")] is None and states[("r2", "load")] is None
    assert states[("r2", "extract")] == "success"
    assert states[("r1", "transform")] == "failed"  # r1 is outside the date range
    assert {r.run_id: r.state for r in runs_of(with_runs)} == {"r1": "failed", "r2": "queued"}


def test_tasks_clear_upstream(cli_home: CLIHome, with_runs: sa.Engine) -> None:
    ok(cli_home, "tasks", "clear", "etl", "-t", "^load$", "--upstream", "-y")
    states = ti_states(with_runs)
    assert all(state is None for state in states.values()), states


@pytest.mark.parametrize("answer, code, cleared", [(None, 1, False), ("n\n", 1, False),
                                                   ("y\n", 0, True)],
                         ids=["no-answer", "no", "yes"])
def test_tasks_clear_asks_first(cli_home: CLIHome, with_runs: sa.Engine, answer: str | None,
                                code: int, cleared: bool) -> None:
    before = snapshot(with_runs)
    result = cli_home.run("tasks", "clear", "etl", "--only-failed", stdin=answer)
    assert result.returncode == code, result.stderr
    assert "You are about to clear these 2 task instance(s)" in result.stdout
    if cleared:
        states = ti_states(with_runs)
        assert states[("r1", "transform")] is None and states[("r1", "load")] is None
        assert states[("r2", "transform")] == "success"
    else:
        assert snapshot(with_runs) == before


def test_tasks_clear_nothing_to_clear(cli_home: CLIHome, synced: sa.Engine) -> None:
    assert "No task instances to clear." in ok(cli_home, "tasks", "clear", "etl")


# -- config get-value ---------------------------------------------------------------------------


def test_config_get_value(cli_home: CLIHome) -> None:
    assert ok(cli_home, "config", "get-value", "core", "default_timezone").strip() == "utc"
    assert ok(cli_home, "config", "get-value", "core", "dags_folder").strip() == str(
        cli_home.home / "dags")
    cli_home.env["DAGCORE__CORE__DEFAULT_TIMEZONE"] = "Europe/Amsterdam"
    assert ok(cli_home, "config", "get-value", "CORE", "Default_Timezone").strip() == \
        "Europe/Amsterdam"


@pytest.mark.parametrize("section, key", [("core", "no_such_key"), ("no_section", "x")],
                         ids=["unknown-key", "unknown-section"])
def test_config_get_value_unknown(cli_home: CLIHome, section: str, key: str) -> None:
    result = cli_home.run("config", "get-value", section, key)
    assert_one_line_error(result, f"[{section}/{key}]")
    assert result.stdout == ""


# -- errors: one line, exit 1, nothing changed --------------------------------------------------


@pytest.mark.parametrize("args, fragments", [
    (("dags", "trigger", "nope"), ("nope",)),
    (("dags", "list-runs", "nope"), ("'nope' not found",)),
    (("dags", "pause", "nope"), ("'nope' not found",)),
    (("dags", "unpause", "nope"), ("'nope' not found",)),
    (("dags", "delete", "nope", "-y"), ("'nope' not found",)),
    (("tasks", "list", "nope"), ("'nope' not found",)),
    (("tasks", "clear", "nope", "-y"), ("'nope' not found",)),
    (("dags", "trigger", "etl", "-c", "{not json"), ("--conf", "not valid JSON", "{not json")),
    (("dags", "trigger", "etl", "-c", "[1, 2]"), ("--conf", "JSON object")),
    (("dags", "trigger", "etl", "-l", "2024-13-01"), ("--logical-date", "2024-13-01")),
    (("dags", "trigger", "etl", "-l", "yesterday"), ("--logical-date", "yesterday")),
    (("dags", "trigger", "etl", "-r", "r1"), ("already exists", "r1")),
    (("dags", "trigger", "etl", "-l", "2024-01-01"), ("already exists", "logical_date")),
    (("dags", "trigger", "etl", "-r", "scheduled__x"), ("scheduled__x",)),
    (("dags", "list-runs", "etl", "--state", "bogus"), ("--state", "bogus")),
    (("tasks", "clear", "etl", "-s", "not-a-date", "-y"), ("--start-date", "not-a-date")),
    (("tasks", "clear", "etl", "-e", "2024-02-30", "-y"), ("--end-date", "2024-02-30")),
    (("tasks", "clear", "etl", "-s", "2024-02-01", "-e", "2024-01-01", "-y"),
     ("--start-date", "after")),
    (("tasks", "clear", "etl", "-t", "(", "-y"), ("--task-regex",)),
    (("tasks", "clear", "etl", "--only-failed", "--only-running", "-y"),
     ("--only-failed", "--only-running")),
], ids=["trigger-unknown-dag", "list-runs-unknown-dag", "pause-unknown-dag",
        "unpause-unknown-dag", "delete-unknown-dag", "tasks-list-unknown-dag",
        "clear-unknown-dag", "bad-json-conf", "conf-not-an-object", "bad-date",
        "not-a-date", "duplicate-run-id", "duplicate-logical-date", "reserved-run-id",
        "bad-state", "clear-bad-start", "clear-bad-end",
        "clear-start-after-end", "clear-bad-regex", "clear-failed-and-running"])
def test_errors_are_one_line_and_change_nothing(cli_home: CLIHome, with_runs: sa.Engine,
                                                args: tuple[str, ...],
                                                fragments: tuple[str, ...]) -> None:
    before = snapshot(with_runs)
    result = cli_home.run(*args)
    assert_one_line_error(result, *fragments)
    assert "Traceback" not in result.stderr
    assert snapshot(with_runs) == before


def test_commands_need_a_migrated_database(cli_home: CLIHome) -> None:
    for args in (("dags", "list"), ("dags", "trigger", "etl"), ("tasks", "list", "etl")):
        assert_one_line_error(cli_home.run(*args), "dagcore db migrate")


def test_bad_output_format_is_a_usage_error(cli_home: CLIHome, synced: sa.Engine) -> None:
    result = cli_home.run("dags", "list", "-o", "xml")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
