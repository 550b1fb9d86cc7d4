"""Backfills with more runs than SQLite allows bind parameters in one statement (issue 12 §4).

Airflow's backfill limit is ``max_backfill_dates`` (docs/airflow-behaviour.md 2.1): creation
allows far more runs than SQLite's 250,000 variables (32,766 before SQLite 3.32, 999 before
3.32 in some builds). Cancelling and reprocessing must therefore not put one bind parameter per
run in a statement. To prove that no statement grows with the number of runs without a slow
test, the connections' limit is lowered to 999 (``SQLITE_LIMIT_VARIABLE_NUMBER``) and the
backfills have 2,000 runs.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cli_helpers import CLIHome
from sqlalchemy.engine import Engine

import dagcore.utils.timezone as tz_seam
from dagcore import DAG
from dagcore.api.backfills import cancel_backfill, create_backfill
from dagcore.api.common import clear_task_instances
from dagcore.cli.output import render
from dagcore.dag_processing import write_dag
from dagcore.db import create_engine, migrate, transaction
from dagcore.models import tables as t
from dagcore.operators.empty import EmptyOperator

pytestmark = pytest.mark.integration

START = datetime(2020, 1, 1, tzinfo=UTC)
RUNS = 2_000  # twice the lowered limit
LIMIT = 999


def hour(i: int) -> datetime:
    return START + timedelta(hours=i)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A migrated SQLite database whose connections allow at most 999 bind parameters."""
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    monkeypatch.setattr(tz_seam, "utcnow", lambda: datetime(2025, 1, 1, tzinfo=UTC))
    engine = create_engine(f"sqlite:///{tmp_path / 'large.db'}")

    @sa.event.listens_for(engine, "connect")
    def lower_limit(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, LIMIT)

    engine.dispose()  # connections opened before the listener would keep the default limit
    migrate(engine)
    with DAG("hourly", start_date=START, schedule="@hourly") as dag:
        EmptyOperator(task_id="a")
    write_dag(engine, dag)
    try:
        yield engine
    finally:
        engine.dispose()


def test_the_lowered_limit_is_in_force(db: Engine) -> None:
    """The premise of the other tests: a statement with 1,000 parameters fails."""
    with db.connect() as conn, pytest.raises(sa.exc.OperationalError, match="too many SQL"):
        conn.execute(sa.select(t.dag_run.c.id).where(t.dag_run.c.id.in_(range(LIMIT + 1))))


def _state(engine: Engine, table: sa.Table) -> dict[str | None, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(table.c.state, sa.func.count())  # type: ignore[arg-type]
                                 .group_by(table.c.state)).all())


def test_cancelling_a_backfill_of_more_runs_than_parameters_fails_them_all(db: Engine) -> None:
    # Airflow's cancel_backfill (airflow/models/backfill.py... api_fastapi backfills
    # cancel_backfill): the backfill's queued runs fail; dagcore also fails its running ones.
    backfill = create_backfill("hourly", from_date=hour(0), to_date=hour(RUNS - 1),
                               max_active_runs=10, engine=db)
    dr, ti = t.dag_run, t.task_instance
    with transaction(db) as conn:
        runs = conn.execute(sa.select(dr.c.run_id).where(dr.c.backfill_id == backfill.id)
                            .order_by(dr.c.logical_date)).scalars().all()
        assert len(runs) == RUNS
        running = runs[:RUNS // 2 + 100]  # more running runs than the limit too
        conn.execute(dr.update().where(dr.c.run_id == sa.bindparam("_run"))
                     .values(state="running"), [{"_run": r} for r in running])
        conn.execute(ti.insert(), [
            {"id": uuid.uuid4(), "dag_id": "hourly", "run_id": r, "task_id": "a",
             "state": "running", "try_number": 1, "max_tries": 0} for r in running])

    cancelled = cancel_backfill(backfill.id, engine=db)

    assert cancelled.completed_at is not None and cancelled.is_paused
    assert _state(db, dr) == {"failed": RUNS}
    assert _state(db, ti) == {"failed": len(running)}


def test_reprocessing_more_failed_runs_than_parameters_clears_them_all(db: Engine) -> None:
    # Airflow's _handle_clear_run (airflow/models/backfill.py): a failed run at a date of a
    # backfill with reprocess_behavior="failed" is cleared and becomes the backfill's.
    dr, ti, tih = t.dag_run, t.task_instance, t.task_instance_history
    with transaction(db) as conn:
        version_id = conn.execute(sa.select(t.dag_version.c.id)).scalar_one()
        conn.execute(dr.insert(), [
            {"dag_id": "hourly", "run_id": f"scheduled__{hour(i).isoformat()}",
             "logical_date": hour(i), "run_after": hour(i), "data_interval_start": hour(i),
             "data_interval_end": hour(i + 1), "state": "failed", "run_type": "scheduled",
             "triggered_by": "timetable", "conf": {}, "start_date": hour(i),
             "end_date": hour(i + 1), "created_dag_version_id": version_id, "clear_number": 0}
            for i in range(RUNS)])
        conn.execute(ti.insert(), [
            {"id": uuid.uuid4(), "dag_id": "hourly", "run_id": f"scheduled__{hour(i).isoformat()}",
             "task_id": "a", "state": "failed", "try_number": 1, "max_tries": 0,
             "dag_version_id": version_id} for i in range(RUNS)])

    backfill = create_backfill("hourly", from_date=hour(0), to_date=hour(RUNS - 1),
                               reprocess_behavior="failed", engine=db)

    assert (backfill.created, backfill.cleared, backfill.skipped) == (0, RUNS, 0)
    with db.connect() as conn:
        runs = conn.execute(sa.select(dr.c.state, dr.c.clear_number, dr.c.backfill_id)).all()
        assert set(runs) == {("queued", 1, backfill.id)} and len(runs) == RUNS
        assert conn.execute(sa.select(sa.func.count()).select_from(tih)).scalar_one() == RUNS
    assert _state(db, ti) == {None: RUNS}


def test_clearing_more_task_instances_than_parameters_clears_them_all(db: Engine) -> None:
    # Airflow's dag.clear over a date range (airflow/models/dag.py clear, then
    # clear_task_instances): every matching task instance gets no state, its try archived,
    # and the finished runs are queued again; here over 2,000 runs of a backfill.
    backfill = create_backfill("hourly", from_date=hour(0), to_date=hour(RUNS - 1), engine=db)
    dr, ti = t.dag_run, t.task_instance
    with transaction(db) as conn:
        runs = conn.execute(sa.select(dr.c.run_id).where(dr.c.backfill_id == backfill.id)
                            ).scalars().all()
        conn.execute(dr.update().values(state="failed"))
        conn.execute(ti.insert(), [
            {"id": uuid.uuid4(), "dag_id": "hourly", "run_id": r, "task_id": "a",
             "state": "failed", "try_number": 1, "max_tries": 0} for r in runs])

    cleared = clear_task_instances("hourly", start_date=hour(0), end_date=hour(RUNS - 1),
                                   run_on_latest_version=True, engine=db)

    assert [(row.run_id, row.state) for row in cleared] == [(r, None) for r in sorted(runs)]
    assert _state(db, ti) == {None: RUNS}
    assert _state(db, dr) == {"queued": RUNS}
    with db.connect() as conn:
        history = sa.select(sa.func.count()).select_from(t.task_instance_history)
        assert conn.execute(history).scalar_one() == RUNS


# -- dry-run output of many dates -----------------------------------------------------------------

HOURLY_DAG = """\
from datetime import UTC, datetime
from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

with DAG("hourly", start_date=datetime(2014, 1, 1, tzinfo=UTC), schedule="@hourly"):
    EmptyOperator(task_id="a")
"""
# 2014-01-01T00 to 2024-01-01T23: 3,653 days of 24 hours.
DATES = 87_672
DRY_RUN = ("backfill", "create", "--dag-id", "hourly", "--from-date", "2014-01-01T00:00:00+00:00",
           "--to-date", "2024-01-01T23:00:00+00:00", "--dry-run")


@pytest.fixture
def hourly_home(cli_home: CLIHome, cli_db: Engine, monkeypatch: pytest.MonkeyPatch) -> CLIHome:
    monkeypatch.setenv("DAGCORE_HOME", str(cli_home.home))
    cli_home.store_dags(cli_db, {"hourly.py": HOURLY_DAG})
    return cli_home


def _ok(home: CLIHome, *args: str) -> subprocess.CompletedProcess[str]:
    result = home.run(*args)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr)
    return result


def test_a_dry_run_table_of_many_dates_shows_its_ends_and_the_counts(
        hourly_home: CLIHome) -> None:
    result = _ok(hourly_home, *DRY_RUN)
    lines = result.stdout.splitlines()
    assert len(lines) < 100  # 2 x 20 rows, the "…" row, header, borders and caption
    assert "2014-01-01T00:00:00+00:00" in result.stdout
    assert "2024-01-01T23:00:00+00:00" in result.stdout
    assert "2019-01-01T00:00:00+00:00" not in result.stdout
    assert f"{DATES} rows" in result.stdout and "--all" in result.stdout
    assert f"{DATES} date(s): {DATES} create" in result.stderr


def test_a_dry_run_table_with_all_shows_every_date(hourly_home: CLIHome) -> None:
    # A month (744 dates, far more than the 2 x 20 shown without --all): rich lays out a table
    # of all 87,672 dates in about a minute, too slow for a test.
    result = _ok(hourly_home, *DRY_RUN[:4], "--from-date", "2014-01-01T00:00:00+00:00",
                 "--to-date", "2014-01-31T23:00:00+00:00", "--dry-run", "--all")
    dates = re.findall(r"\d{4}-\d\d-\d\dT\d\d:00:00\+00:00", result.stdout)
    assert len(dates) == 2 * 744  # logical_date and run_after of each date
    assert "left out" not in result.stdout


@pytest.mark.parametrize("output", ["json", "plain"])
def test_a_dry_run_as_json_or_plain_has_every_date(hourly_home: CLIHome, output: str) -> None:
    result = _ok(hourly_home, *DRY_RUN, "-o", output)
    if output == "json":
        rows = json.loads(result.stdout)
        assert [r["sort_ordinal"] for r in rows] == list(range(1, DATES + 1))
        assert rows[-1]["logical_date"] == "2024-01-01T23:00:00+00:00"
    else:
        lines = result.stdout.splitlines()
        assert lines[0].split("\t") == ["sort_ordinal", "logical_date", "run_after", "action",
                                        "reason"]
        assert len(lines) == DATES + 1
        assert lines[-1].startswith(f"{DATES}\t2024-01-01T23:00:00+00:00\t")


def _watched_rows(out: io.StringIO, n: int) -> Iterator[dict[str, Any]]:
    """``n`` rows; before yielding each after the first, checks the one before is written."""
    for i in range(n):
        if i:
            assert f"row-{i - 1}" in out.getvalue(), f"row {i - 1} not written before row {i}"
        yield {"name": f"row-{i}", "n": i}


@pytest.mark.parametrize("output", ["json", "plain"])
def test_json_and_plain_output_stream_row_by_row(output: str) -> None:
    out = io.StringIO()
    render(_watched_rows(out, 5), ["name", "n"], output, file=out)
    if output == "json":  # the same text as json.dumps of the whole list
        assert out.getvalue() == json.dumps(
            [{"name": f"row-{i}", "n": i} for i in range(5)], indent=2) + "\n"
    else:
        assert out.getvalue().splitlines() == ["name\tn", *(f"row-{i}\t{i}" for i in range(5))]


def test_json_output_of_no_rows_is_an_empty_array() -> None:
    out = io.StringIO()
    render(iter(()), ["name"], "json", file=out)
    assert out.getvalue() == "[]\n"


@pytest.mark.parametrize("rows, shown, left_out", [(4, 4, 0), (6, 6, 0), (7, 6, 1)])
def test_a_table_with_ends_keeps_the_first_and_last_rows(
        rows: int, shown: int, left_out: int) -> None:
    out = io.StringIO()
    render(({"name": f"row-{i}"} for i in range(rows)), ["name"], "table", file=out, ends=3,
           more_hint=" (--all)")
    names = re.findall(r"row-\d+", out.getvalue())
    assert len(names) == shown and names[:3] == ["row-0", "row-1", "row-2"]
    assert names[-1] == f"row-{rows - 1}"
    assert (f"{rows} rows: the first 3 and the last 3 shown, {left_out} left out (--all)"
            in out.getvalue()) == bool(left_out)


def test_a_table_refuses_ends_below_one() -> None:
    with pytest.raises(ValueError, match="ends must be at least 1, got 0"):
        render([], ["name"], "table", file=io.StringIO(), ends=0)
