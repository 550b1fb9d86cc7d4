"""``dagcore backfill create|list|status|pause|unpause|cancel`` run for real: ``python -m dagcore``
in a subprocess with ``DAGCORE_HOME`` (and its SQLite database) in tmp_path.

The database is prepared in-process (migrate, then sync a small DAG folder). Every error case
checks the CLI's contract: exit code 1, exactly one line on stderr (``dagcore: error: ...``) and
every row of every table as it was. The subprocesses run on the real clock: past dates are in
2024, future ones in 2100.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from cli_helpers import CLIHome, assert_one_line_error, snapshot

from dagcore.api.backfills import create_backfill
from dagcore.db import transaction
from dagcore.models import tables as t

pytestmark = pytest.mark.integration

# A Python task too, so that --wait runs real task processes (LocalExecutor).
ETL_DAG = """\
from datetime import UTC, datetime
from dagcore import DAG, Param
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator

with DAG("etl", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule="@daily",
         params={"n": Param(1, type="integer", maximum=10)}):
    EmptyOperator(task_id="extract") >> PythonOperator(task_id="load",
                                                       python_callable=lambda: "loaded")
"""

MANUAL_DAG = """\
from datetime import UTC, datetime
from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

with DAG("manual", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None):
    EmptyOperator(task_id="only")
"""


def day(i: int) -> datetime:
    return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=i)


# -- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def db(cli_home: CLIHome, cli_db: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> sa.Engine:
    """A migrated database holding etl and manual, both unpaused."""
    monkeypatch.setenv("DAGCORE_HOME", str(cli_home.home))
    cli_home.store_dags(cli_db, {"etl.py": ETL_DAG, "manual.py": MANUAL_DAG}, unpause=True)
    return cli_db


def run(cli_home: CLIHome, *args: str) -> subprocess.CompletedProcess[str]:
    return cli_home.run("backfill", *args)


def ok(cli_home: CLIHome, *args: str) -> subprocess.CompletedProcess[str]:
    result = run(cli_home, *args)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def backfills(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.backfill).order_by(t.backfill.c.id)).all()


def runs(engine: sa.Engine, backfill_id: int | None = None) -> list[Any]:
    dr = t.dag_run
    query = sa.select(dr).order_by(dr.c.logical_date)
    if backfill_id is not None:
        query = query.where(dr.c.backfill_id == backfill_id)
    with engine.connect() as conn:
        return conn.execute(query).all()


def add_failed_run(engine: sa.Engine, logical: datetime) -> None:
    with transaction(engine) as conn:
        version_id = conn.execute(sa.select(t.dag_version.c.id)
                                  .where(t.dag_version.c.dag_id == "etl")).scalar_one()
        conn.execute(t.dag_run.insert().values(
            dag_id="etl", run_id=f"scheduled__{logical.isoformat()}", logical_date=logical,
            run_after=logical, state="failed", run_type="scheduled", conf={},
            created_dag_version_id=version_id, clear_number=0))


CREATE = ("create", "--dag-id", "etl", "--from-date", "2024-01-01", "--to-date", "2024-01-03")


# -- create ---------------------------------------------------------------------------------------


def test_create_prints_the_summary_and_writes_queued_runs(cli_home: CLIHome,
                                                          db: sa.Engine) -> None:
    add_failed_run(db, day(1))
    result = ok(cli_home, *CREATE, "--max-active-runs", "2", "--dag-run-conf", '{"n": 3}')
    assert result.stdout.splitlines() == [
        "Backfill 1 of etl created: 2 run(s) created, 0 cleared, 1 date(s) skipped"]
    (backfill,) = backfills(db)
    assert (backfill.from_date, backfill.to_date) == (day(0), day(2))
    assert (backfill.max_active_runs, backfill.dag_run_conf) == (2, {"n": 3})
    assert (backfill.reprocess_behavior, backfill.completed_at) == ("none", None)
    assert [(r.run_id, r.state, r.conf) for r in runs(db, backfill.id)] == [
        (f"backfill__{day(i).isoformat()}", "queued", {"n": 3}) for i in (0, 2)]


def test_create_accepts_airflows_option_aliases(cli_home: CLIHome, db: sa.Engine) -> None:
    add_failed_run(db, day(1))
    result = ok(cli_home, "create", "--dag-id", "etl", "--start-date", "2024-01-01T00:00:00",
                "--end-date", "2024-01-03T00:00:00+00:00", "--reprocessing-behavior", "failed",
                "--run-backwards", "--no-run-on-latest-version", "--keep-dag-paused")
    assert "2 run(s) created, 1 cleared, 0 date(s) skipped" in result.stdout
    (backfill,) = backfills(db)
    assert (backfill.from_date, backfill.to_date) == (day(0), day(2))  # naive: UTC
    assert backfill.reprocess_behavior == "failed"
    assert (backfill.run_on_latest_version, backfill.keep_dag_paused) == (False, True)
    with db.connect() as conn:
        ordinals = conn.execute(sa.select(t.backfill_dag_run.c.logical_date,
                                          t.backfill_dag_run.c.sort_ordinal)
                                .order_by(t.backfill_dag_run.c.sort_ordinal)).all()
    assert [tuple(o) for o in ordinals] == [(day(2), 1), (day(1), 2), (day(0), 3)]


def test_dry_run_lists_dates_and_actions_and_writes_nothing(cli_home: CLIHome,
                                                            db: sa.Engine) -> None:
    add_failed_run(db, day(1))
    before = snapshot(db)
    result = ok(cli_home, *CREATE, "--dry-run", "--reprocess-behavior", "failed", "-o", "json")
    assert json.loads(result.stdout) == [
        {"sort_ordinal": i + 1, "logical_date": day(i).isoformat(),
         "run_after": day(i).isoformat(), "action": action, "reason": None}
        for i, action in enumerate(("create", "clear", "create"))]
    assert "nothing written" in result.stderr
    assert snapshot(db) == before

    result = ok(cli_home, *CREATE, "--dry-run", "-o", "json")
    assert [(r["action"], r["reason"]) for r in json.loads(result.stdout)] == [
        ("create", None), ("skip", "already exists"), ("create", None)]
    assert snapshot(db) == before


def test_wait_runs_the_backfill_to_completion_and_prints_the_states(cli_home: CLIHome,
                                                                    db: sa.Engine) -> None:
    result = ok(cli_home, *CREATE, "--wait", "-p", "2", "-o", "json")
    first, rest = result.stdout.split("\n", 1)
    assert first == "Backfill 1 of etl created: 3 run(s) created, 0 cleared, 0 date(s) skipped"
    assert json.loads(rest) == [{"state": "success", "runs": 3}]
    assert "Backfill 1: 3 of 3 run(s) finished, 0 failed" in result.stderr
    (backfill,) = backfills(db)
    assert backfill.completed_at is not None
    assert [r.state for r in runs(db, backfill.id)] == ["success"] * 3
    with db.connect() as conn:
        states = conn.execute(sa.select(t.task_instance.c.task_id, t.task_instance.c.state)
                              .join(t.dag_run, sa.and_(
                                  t.dag_run.c.run_id == t.task_instance.c.run_id,
                                  t.dag_run.c.dag_id == t.task_instance.c.dag_id))
                              .where(t.dag_run.c.backfill_id == backfill.id)).all()
    assert sorted(tuple(s) for s in states) == [("extract", "success")] * 3 + [
        ("load", "success")] * 3


# -- list / status / pause / unpause / cancel ----------------------------------------------------


def test_list_status_pause_unpause_and_cancel(cli_home: CLIHome, db: sa.Engine) -> None:
    add_failed_run(db, day(1))
    ok(cli_home, *CREATE)
    ok(cli_home, "create", "--dag-id", "etl", "--from-date", "2024-02-01", "--to-date",
       "2024-02-02", "--max-active-runs", "1")

    listed = json.loads(ok(cli_home, "list", "-o", "json").stdout)
    assert [(b["id"], b["dag_id"], b["from_date"], b["max_active_runs"], b["is_paused"],
             b["completed_at"]) for b in listed] == [
        (1, "etl", day(0).isoformat(), 10, False, None),
        (2, "etl", "2024-02-01T00:00:00+00:00", 1, False, None)]
    assert json.loads(ok(cli_home, "list", "--dag-id", "manual", "-o", "json").stdout) == []

    status = ok(cli_home, "status", "1", "-o", "json")
    assert json.loads(status.stdout) == [{"state": "queued", "runs": 2},
                                         {"state": "skipped: already exists", "runs": 1}]
    assert "Backfill 1 of etl (2024-01-01T00:00:00+00:00 to 2024-01-03T00:00:00+00:00): " \
           "0/2 run(s) finished; running" in status.stderr

    assert ok(cli_home, "pause", "1").stdout.strip() == "Backfill 1 of etl paused"
    assert [b.is_paused for b in backfills(db)] == [True, False]
    assert "paused" in ok(cli_home, "status", "1").stderr
    assert ok(cli_home, "unpause", "1").stdout.strip() == "Backfill 1 of etl unpaused"
    assert [b.is_paused for b in backfills(db)] == [False, False]

    assert ok(cli_home, "cancel", "1").stdout.strip() == "Backfill 1 of etl cancelled"
    first, second = backfills(db)
    assert first.completed_at is not None and first.is_paused
    assert second.completed_at is None
    assert [r.state for r in runs(db, 1)] == ["failed", "failed"]
    assert json.loads(ok(cli_home, "status", "1", "-o", "json").stdout)[0] == {
        "state": "failed", "runs": 2}

    before = snapshot(db)
    for command in ("cancel", "pause", "unpause"):
        assert_one_line_error(run(cli_home, command, "1"), "Backfill 1 is already completed")
        assert_one_line_error(run(cli_home, command, "99"), "Backfill 99 not found")
    assert_one_line_error(run(cli_home, "status", "99"), "Backfill 99 not found")
    assert snapshot(db) == before


# -- errors ---------------------------------------------------------------------------------------


ERRORS = [
    ("unknown-dag", ("create", "--dag-id", "nope", "--from-date", "2024-01-01", "--to-date",
                     "2024-01-03"), ("Could not find dag nope",)),
    ("from-after-to", ("create", "--dag-id", "etl", "--from-date", "2024-01-05", "--to-date",
                       "2024-01-03"), ("must not be after to_date",)),
    ("future-range", ("create", "--dag-id", "etl", "--from-date", "2100-01-01", "--to-date",
                      "2100-01-05"), ("Backfill cannot be executed for future dates.",)),
    ("non-periodic", ("create", "--dag-id", "manual", "--from-date", "2024-01-01",
                      "--to-date", "2024-01-03"),
     ("manual has a non-periodic schedule that does not support backfills",)),
    ("bad-json", (*CREATE, "--dag-run-conf", '{"n": '), ("--dag-run-conf", "JSON", "'{\"n\": '")),
    ("conf-not-an-object", (*CREATE, "--dag-run-conf", "[1]"), ("must be a JSON object",)),
    ("conf-fails-params", (*CREATE, "--dag-run-conf", '{"n": 99}'),
     ("Invalid input for param n",)),
    ("bad-date", ("create", "--dag-id", "etl", "--from-date", "yesterday", "--to-date",
                  "2024-01-03"), ("--from-date: invalid date 'yesterday'",)),
    ("max-active-runs-0", (*CREATE, "--max-active-runs", "0"),
     ("--max-active-runs must be a positive integer",)),
    ("keep-dag-paused-and-unpause", (*CREATE, "--keep-dag-paused", "--unpause"),
     ("--keep-dag-paused and --unpause are mutually exclusive",)),
    ("no-runs", ("create", "--dag-id", "etl", "--from-date", "2024-01-01T01:00",
                 "--to-date", "2024-01-01T23:00"), ("No runs to create for Dag etl",)),
    ("overlapping", ("create", "--dag-id", "etl", "--from-date", "2024-01-10", "--to-date",
                     "2024-01-20"), ("active backfill 1 ", "overlaps")),
    ("overlapping-dry-run-is-checked-otherwise", (
        "create", "--dag-id", "etl", "--from-date", "2024-01-20", "--to-date", "2024-01-10",
        "--dry-run"), ("must not be after to_date",)),
]


@pytest.mark.parametrize("args, fragments", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_input_exits_1_with_one_line_and_writes_nothing(
        cli_home: CLIHome, db: sa.Engine, args: tuple[str, ...],
        fragments: tuple[str, ...]) -> None:
    create_backfill("etl", from_date=day(14), to_date=day(14), engine=db)  # backfill 1
    before = snapshot(db)
    result = run(cli_home, *args)
    assert_one_line_error(result, *fragments)
    assert result.stdout == ""
    assert snapshot(db) == before
