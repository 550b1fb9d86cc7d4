"""Edge inputs that must end in one clear error, not a traceback (issue 12 §5): a conf JSON
nested 60,000 deep, backfill dates whose schedule reaches year 1 or past 9999, and a
``--max-active-runs`` too large for a 64-bit integer. The CLI prints one line
(``dagcore: error: ...``) and exits 1 without writing; the Python API raises a ``ValueError``
naming the value.

Airflow checks these through pydantic (``airflow/api_fastapi/core_api/datamodels/backfills.py``,
``dag_run.py``): a conf that cannot be parsed or a ``max_active_runs`` that does not fit the
column is a 422 with a message, never a 500.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from cli_helpers import CLIHome, assert_one_line_error, snapshot

from dagcore.api.backfills import BackfillDateOutOfRange, create_backfill, dry_run_backfill
from dagcore.api.common import trigger_dag
from dagcore.models import tables as t

pytestmark = pytest.mark.integration

ETL_DAG = """\
from datetime import UTC, datetime
from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

with DAG("etl", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule="@daily"):
    EmptyOperator(task_id="only")
"""

# A DAG whose schedule starts at year 1: a backfill from 0001-01-01 asks for the day before.
EARLY_DAG = """\
from datetime import UTC, datetime
from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

with DAG("early", start_date=datetime(1, 1, 1, tzinfo=UTC), schedule="@daily"):
    EmptyOperator(task_id="only")
"""

DEPTH = 60_000
# Arrays: 120,000 characters, under Linux's 128 KiB limit on one command-line argument.
DEEP_JSON = "[" * DEPTH + "]" * DEPTH
DEEP_OBJECT = '{"a": ' + DEEP_JSON + "}"
TOO_BIG = str(10 ** 23)


def deep_dict(depth: int = DEPTH) -> dict[str, object]:
    value: dict[str, object] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.fixture
def db(cli_home: CLIHome, cli_db: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> sa.Engine:
    """A migrated database holding etl and early, both unpaused."""
    monkeypatch.setenv("DAGCORE_HOME", str(cli_home.home))
    cli_home.store_dags(cli_db, {"etl.py": ETL_DAG, "early.py": EARLY_DAG}, unpause=True)
    return cli_db


CREATE = ("backfill", "create", "--dag-id", "etl", "--from-date", "2024-01-01", "--to-date",
          "2024-01-03")

CLI_ERRORS = [
    ("trigger-deep-conf", ("dags", "trigger", "etl", "--conf", DEEP_OBJECT),
     ("--conf", "nested too deeply")),
    ("trigger-deep-array-conf", ("dags", "trigger", "etl", "--conf", DEEP_JSON),
     ("--conf", "nested too deeply")),
    ("backfill-deep-conf", (*CREATE, "--dag-run-conf", DEEP_OBJECT),
     ("--dag-run-conf", "nested too deeply")),
    # from_date - 1 day (the query of existing runs) was before year 1: "database error".
    ("backfill-from-year-0-in-utc", ("backfill", "create", "--dag-id", "etl", "--from-date",
                                     "0001-01-01T00:00:00+05:00", "--to-date", "0001-01-03"),
     ("from_date 0001-01-01T00:00:00+05:00 is outside the years 1 to 9999",)),
    ("backfill-to-year-10000-in-utc", (
        "backfill", "create", "--dag-id", "etl", "--from-date", "2024-01-01", "--to-date",
        "9999-12-31T23:00:00-05:00", "--dry-run"),
     ("to_date 9999-12-31T23:00:00-05:00 is outside the years 1 to 9999",)),
    # Airflow: both dates after now (airflow/models/backfill.py _validate_backfill_params).
    ("backfill-9999", ("backfill", "create", "--dag-id", "etl", "--from-date", "9999-12-29",
                       "--to-date", "9999-12-31"),
     ("Backfill cannot be executed for future dates.",)),
    # Ids ending in a newline ("$" matches before it): refused by name, not "not found".
    ("trigger-dag-id-newline", ("dags", "trigger", "etl\n"), ("dag_id 'etl\\n' must contain",)),
    ("backfill-dag-id-newline", ("backfill", "create", "--dag-id", "etl\n", "--from-date",
                                 "2024-01-01", "--to-date", "2024-01-03"),
     ("dag_id 'etl\\n' must contain",)),
    ("trigger-run-id-newline", ("dags", "trigger", "etl", "--run-id", "my_run\n"),
     ("The run_id provided 'my_run\\n' does not match",)),
    ("max-active-runs-too-big", (*CREATE, "--max-active-runs", TOO_BIG), (TOO_BIG,)),
    ("max-active-runs-too-big-dry-run", (*CREATE, "--max-active-runs", TOO_BIG, "--dry-run"),
     (TOO_BIG,)),
]


@pytest.mark.parametrize("args, fragments", [e[1:] for e in CLI_ERRORS],
                         ids=[e[0] for e in CLI_ERRORS])
def test_cli_edge_input_exits_1_with_one_line_and_writes_nothing(
        cli_home: CLIHome, db: sa.Engine, args: tuple[str, ...],
        fragments: tuple[str, ...]) -> None:
    before = snapshot(db)
    result: subprocess.CompletedProcess[str] = cli_home.run(*args)
    line = assert_one_line_error(result, *fragments)
    assert "Traceback" not in result.stderr
    assert len(line) < 500, line  # the value is named, not echoed 60,000 characters long
    assert snapshot(db) == before


# -- the Python API -----------------------------------------------------------------------------


def test_trigger_dag_refuses_a_conf_nested_too_deeply(db: sa.Engine) -> None:
    with pytest.raises(ValueError, match="conf is nested too deeply"):
        trigger_dag("etl", conf=deep_dict(), engine=db)


def test_trigger_dag_refuses_a_deep_list_conf_naming_its_type(db: sa.Engine) -> None:
    # Airflow: "DagRun conf must be a JSON object or null" (docs/airflow-behaviour.md); the
    # message's repr of the value recursed.
    deep: list[object] = []
    for _ in range(DEPTH):
        deep = [deep]
    with pytest.raises(ValueError, match="DagRun conf must be a JSON object or null, got list"):
        trigger_dag("etl", conf=deep, engine=db)  # type: ignore[arg-type]


def test_trigger_dag_still_accepts_a_conf_nested_a_little(db: sa.Engine) -> None:
    dag_run = trigger_dag("etl", conf=deep_dict(50), engine=db)
    assert dag_run is not None


DAY: dict[str, Any] = {"from_date": datetime(2024, 1, 1, tzinfo=UTC),
                       "to_date": datetime(2024, 1, 3, tzinfo=UTC)}


@pytest.mark.parametrize("function", [create_backfill, dry_run_backfill])
def test_backfill_api_refuses_max_active_runs_beyond_the_column(
        db: sa.Engine, function: Callable[..., Any]) -> None:
    # backfill.max_active_runs is an INTEGER column (airflow/models/backfill.py): a value past
    # it was an OverflowError from the driver.
    before = snapshot(db)
    with pytest.raises(ValueError, match=f"max_active_runs .*{TOO_BIG}"):
        function("etl", max_active_runs=10 ** 23, engine=db, **DAY)
    assert snapshot(db) == before


def test_backfill_api_accepts_max_active_runs_up_to_the_column_limit(db: sa.Engine) -> None:
    backfill = create_backfill("etl", max_active_runs=2**31 - 1, engine=db, **DAY)
    assert backfill.max_active_runs == 2**31 - 1
    with pytest.raises(ValueError, match=f"max_active_runs must be at most {2**31 - 1}, got "
                                         f"{2**31}"):
        dry_run_backfill("etl", max_active_runs=2**31, engine=db, **DAY)


@pytest.mark.parametrize("function", [create_backfill, dry_run_backfill])
def test_backfill_api_refuses_dates_outside_datetime_in_utc(db: sa.Engine,
                                                            function: Callable[..., Any]) -> None:
    before = snapshot(db)
    early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))
    with pytest.raises(BackfillDateOutOfRange, match="from_date 0001-01-01T00:00:00[+]05:00"):
        function("etl", from_date=early, to_date=datetime(1, 1, 3, tzinfo=UTC),
                 engine=db)
    late = datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))
    with pytest.raises(BackfillDateOutOfRange, match="to_date 9999-12-31T23:00:00-05:00"):
        function("etl", from_date=DAY["from_date"], to_date=late,
                 engine=db)
    assert snapshot(db) == before


def test_backfill_from_year_1_creates_its_runs(db: sa.Engine) -> None:
    # Airflow plans a backfill with the timetable from from_date, whatever the DAG's start_date
    # (airflow/models/backfill.py _get_info_list); the query of existing runs a day before
    # from_date overflowed.
    backfill = create_backfill("early", from_date=datetime(1, 1, 1, tzinfo=UTC),
                               to_date=datetime(1, 1, 3, tzinfo=UTC), engine=db)
    with db.connect() as conn:
        dates = conn.execute(sa.select(t.dag_run.c.logical_date).where(
            t.dag_run.c.backfill_id == backfill.id).order_by(t.dag_run.c.logical_date)).scalars()
        assert [d.replace(tzinfo=UTC) for d in dates] == [
            datetime(1, 1, d, tzinfo=UTC) for d in (1, 2, 3)]


def test_backfill_up_to_9999_plans_the_dates_up_to_now(db: sa.Engine) -> None:
    # Airflow: only runs whose data interval ended before now (docs/airflow-behaviour.md); the
    # query of existing runs a day after to_date overflowed.
    plan = dry_run_backfill("etl", from_date=DAY["from_date"],
                            to_date=datetime(9999, 12, 31, tzinfo=UTC), engine=db)
    assert len(plan) > 365


def test_backfill_planner_overflow_is_a_clear_error(db: sa.Engine,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A schedule computed past year 9999 inside the planner (the safety net of _plan)."""
    import dagcore.api.backfills as backfills

    def overflow(*args: object, **kwargs: object) -> None:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(backfills, "plan_backfill_batch", overflow)
    with pytest.raises(BackfillDateOutOfRange, match="Cannot backfill Dag etl from 2024-01-01"):
        dry_run_backfill("etl", engine=db, **DAY)


def test_backfill_api_refuses_a_conf_nested_too_deeply(db: sa.Engine) -> None:
    with pytest.raises(ValueError, match="conf is nested too deeply"):
        create_backfill("etl", dag_run_conf=deep_dict(), engine=db, **DAY)
