"""The listings that must stay fast at scale read ``task_instance`` and ``dag_run`` through
indexes (docs/performance.md section 5), on SQLite and PostgreSQL.

Each test runs the real code path (the API function, the CLI command, a scheduler loop) with
every statement it sends captured, then asks the database how it would run each ``SELECT``:
SQLite's ``EXPLAIN QUERY PLAN``, PostgreSQL's ``EXPLAIN`` with ``enable_seqscan`` off (on these
small tables the planner would otherwise rightly prefer a sequential scan; with it off, a
sequential scan in the plan means no index can serve the query). No plan may read either table
whole: SQLite's ``SCAN task_instance`` / ``SCAN dag_run`` (a full scan of the table, or of an
index of it) or a lookup of task instances by ``map_index`` alone, PostgreSQL's ``Seq Scan
on`` them. The one scan allowed is counting an
unfiltered table, which has no better plan (SQLite counts its smallest index,
PostgreSQL an index-only scan).

``benchmarks/scale_bench.py`` times the same paths on 2 million task instances.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from fake_executors import NeverRuns

from dagcore import DAG
from dagcore.api import assets as api_assets
from dagcore.api import backfills as api_backfills
from dagcore.api import dag_runs as api_runs
from dagcore.api import dags as api_dags
from dagcore.api import import_errors as api_import_errors
from dagcore.api import task_instances as api_tis
from dagcore.api import ui as api_ui
from dagcore.dag_processing import write_dag
from dagcore.db import migrate, transaction
from dagcore.models import tables as t
from dagcore.models.types import uuid7
from dagcore.operators.empty import EmptyOperator

pytestmark = pytest.mark.integration

BASE = datetime(2025, 1, 1, tzinfo=UTC)
DAGS = ("plan_a", "plan_b", "plan_c")
RUNS = 60
TASKS = ("extract", "transform", "load")
WATCHED = ("task_instance", "dag_run")


@pytest.fixture
def db(engine: Engine) -> Engine:
    """A migrated database with three DAGs, their runs (some of a backfill) and task
    instances, an import error and an asset."""
    migrate(engine)
    for dag_id in DAGS:
        with DAG(dag_id, schedule="@daily", start_date=BASE, is_paused_upon_creation=False
                 ) as dag:
            EmptyOperator(task_id="extract") >> EmptyOperator(task_id="transform") >> \
                EmptyOperator(task_id="load")
        write_dag(engine, dag, now=BASE)
    with transaction(engine) as conn:
        versions = {r.dag_id: r.id for r in conn.execute(
            sa.select(t.dag_version.c.dag_id, t.dag_version.c.id))}
        conn.execute(t.backfill.insert().values(
            id=1, dag_id="plan_a", from_date=BASE, to_date=BASE + timedelta(days=RUNS // 2),
            dag_run_conf={}, created_at=BASE, updated_at=BASE))
        runs, tis = [], []
        for dag_id in DAGS:
            for k in range(RUNS):
                logical = BASE + timedelta(days=k)
                state = "running" if k == RUNS - 1 else "failed" if k % 7 == 3 else "success"
                runs.append({"dag_id": dag_id, "run_id": f"scheduled__{k}",
                             "logical_date": logical, "run_after": logical + timedelta(days=1),
                             "start_date": logical + timedelta(days=1),
                             "end_date": None if state == "running" else
                             logical + timedelta(days=1, minutes=5), "state": state,
                             "run_type": "scheduled", "created_dag_version_id": versions[dag_id],
                             "backfill_id": 1 if dag_id == "plan_a" and k < RUNS // 2 else None})
                for i, task_id in enumerate(TASKS):
                    tis.append({"id": uuid7(), "dag_id": dag_id, "run_id": f"scheduled__{k}",
                                "task_id": task_id, "map_index": -1,
                                "state": ("running" if i == 0 else None) if state == "running"
                                else state, "dag_version_id": versions[dag_id],
                                "start_date": logical, "try_number": 1})
        conn.execute(t.dag_run.insert(), runs)
        conn.execute(t.task_instance.insert(), tis)
        ids = conn.execute(sa.select(t.dag_run.c.id, t.dag_run.c.logical_date)
                           .where(t.dag_run.c.backfill_id == 1)).all()
        conn.execute(t.backfill_dag_run.insert(), [
            {"backfill_id": 1, "dag_run_id": i, "logical_date": d, "sort_ordinal": n + 1}
            for n, (i, d) in enumerate(ids)])
        conn.execute(t.import_error.insert().values(timestamp=BASE, filename="/dags/broken.py",
                                                    bundle_name="dags-folder", stacktrace="x"))
        conn.execute(t.asset.insert().values(name="a", uri="s3://a", group="asset", extra={},
                                             created_at=BASE, updated_at=BASE))
        asset_id = conn.execute(sa.select(t.asset.c.id)).scalar_one()
        conn.execute(t.task_outlet_asset_reference.insert().values(
            asset_id=asset_id, dag_id="plan_b", task_id="load", created_at=BASE,
            updated_at=BASE))
    return engine


@contextlib.contextmanager
def captured() -> Iterator[list[tuple[str, Any]]]:
    """Every SELECT any engine sends meanwhile (statement text, parameters)."""
    found: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and not executemany:
            found.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield found
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def _plan(engine: Engine, statement: str, parameters: Any) -> list[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
            conn.exec_driver_sql("RESET enable_seqscan")
            return [r[0] for r in rows]
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        return [r[-1] for r in rows]


_UNFILTERED_COUNT = re.compile(
    r"^\s*SELECT count\(\*\) AS \w+\s+FROM (task_instance|dag_run)\s*$", re.IGNORECASE)


_MAP_INDEX_ONLY = re.compile(r"^SEARCH task_instance USING (COVERING )?INDEX \S+ \(map_index\b")
_PAGE = re.compile(r"\bLIMIT \S+( OFFSET \S+)?\s*$")  # the statement's own LIMIT, last


def full_scans(engine: Engine, statements: list[tuple[str, Any]]) -> list[str]:
    """The statements (with the offending plan line) that read task_instance or dag_run whole.

    On SQLite a ``SCAN`` of either is allowed in one case: a page (``LIMIT``) whose plan needs
    no sort (no temporary b-tree), i.e. the scan walks the table or an index in the page's
    order and stops after the page."""
    bad = []
    postgres = engine.dialect.name == "postgresql"
    pattern = re.compile(r"Seq Scan on (task_instance|dag_run)\b" if postgres else
                         r"^SCAN (task_instance|dag_run)\b")
    for statement, parameters in statements:
        if _UNFILTERED_COUNT.match(statement):
            continue
        plan = [line.strip() for line in _plan(engine, statement, parameters)]
        # An index lookup on map_index alone reads nearly every task instance (-1 is most).
        bad += [f"{line}  <-  {' '.join(statement.split())}" for line in plan
                if _MAP_INDEX_ONLY.search(line)]
        ordered_page = (not postgres and _PAGE.search(statement) is not None
                        and not any("TEMP B-TREE" in line for line in plan))
        for line in plan:
            if pattern.search(line) and not ordered_page:
                bad.append(f"{line}  <-  {' '.join(statement.split())}")
    return bad


def check_paths(engine: Engine, call: Callable[[], Any]) -> list[tuple[str, Any]]:
    """Run ``call`` capturing its statements; assert no full scan; return the statements."""
    with captured() as statements:
        call()
    watched = [s for s in statements if any(w in s[0] for w in WATCHED)]
    assert watched, "the path read neither task_instance nor dag_run: nothing was checked"
    assert full_scans(engine, watched) == []
    return watched


def test_dag_run_listings_use_indexes(db: Engine) -> None:
    listing = api_runs.list_dag_runs(db, "plan_a", limit=50)
    assert listing.total == RUNS and len(listing.runs) == 50
    check_paths(db, lambda: api_runs.list_dag_runs(db, "plan_a", limit=50))
    check_paths(db, lambda: api_runs.list_dag_runs(db, None, limit=50))
    check_paths(db, lambda: api_runs.list_dag_runs(db, "plan_a", limit=50,
                                                   order_by=("-run_after",)))


def test_task_instance_listings_use_indexes(db: Engine) -> None:
    one_run = api_tis.list_task_instances(db, "plan_b", "scheduled__5", limit=50)
    assert one_run.total == len(TASKS)
    every = api_tis.list_task_instances(db, None, None, limit=50)
    assert every.total == len(DAGS) * RUNS * len(TASKS) and len(every.task_instances) == 50
    check_paths(db, lambda: api_tis.list_task_instances(db, "plan_b", "scheduled__5", limit=50))
    check_paths(db, lambda: api_tis.list_task_instances(db, None, None, limit=50))
    check_paths(db, lambda: api_tis.list_task_instances(db, "plan_c", None, limit=50))


def test_dag_listings_use_indexes(db: Engine) -> None:
    listing = api_dags.list_dags(db, limit=50)
    assert [d["dag_id"] for d in listing.dags] == list(DAGS)
    check_paths(db, lambda: api_ui.latest_runs(db, list(DAGS), 1))
    check_paths(db, lambda: api_dags.list_dags(db, limit=50, order_by=("last_run_state",)))


def test_backfill_status_and_listing_use_indexes(db: Engine) -> None:
    status = api_backfills.backfill_status(1, engine=db)
    assert status.total_runs == RUNS // 2
    check_paths(db, lambda: api_backfills.backfill_status(1, engine=db))
    check_paths(db, lambda: api_ui.list_backfills_with_progress(db, dag_id="plan_a", limit=50))


def test_other_listings_read_no_run_or_task_instance(db: Engine) -> None:
    with captured() as statements:
        api_import_errors.list_import_errors(db, limit=50)
        api_assets.list_assets(db, limit=50)
        api_backfills.list_backfills("plan_a", engine=db)
    assert statements
    assert full_scans(db, statements) == []


def test_cli_listings_use_indexes(db: Engine, monkeypatch: pytest.MonkeyPatch,
                                  tmp_path: Any) -> None:
    from dagcore.cli import main

    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    monkeypatch.setenv("DAGCORE__DATABASE__SQL_ALCHEMY_CONN",
                       db.url.render_as_string(hide_password=False))

    def cli(*argv: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(list(argv)) == 0
        return out.getvalue()

    assert "plan_c" in cli("dags", "list")
    table = cli("dags", "list-runs", "plan_a")
    assert f"{RUNS} rows: the first 20 and the last 20 shown, {RUNS - 40} left out" in table
    check_paths(db, lambda: cli("dags", "list-runs", "plan_a"))
    check_paths(db, lambda: cli("dags", "list-runs", "plan_a", "-o", "json"))
    check_paths(db, lambda: cli("backfill", "status", "1"))
    with captured() as statements:
        cli("dags", "list")
    assert full_scans(db, statements) == []


def test_scheduler_loop_uses_indexes(db: Engine) -> None:
    from dagcore.db_dagbag import DBDagBag
    from dagcore.jobs.scheduler import SchedulerJob

    job = SchedulerJob(engine=db, executor=NeverRuns(8), dag_bag=DBDagBag.for_scheduler(engine=db),
                       idle_sleep=0.0, single=False, create_runs=True)
    job.job.register()
    try:
        job.run_once()
        check_paths(db, job.run_once)
    finally:
        job.job.complete("success")
