"""Backfills run by real processes, on SQLite and on PostgreSQL.

``dagcore backfill create --wait`` (which runs a scheduler in its own process) is killed with
SIGKILL in the middle of a 300-run backfill, and ``dagcore scheduler --num-runs N`` is run until
the backfill completes; a DAG file is changed in the middle of a backfill. The database is then
checked against invariants, never against timings: one run per date, every run succeeded, one
task instance per task of the run's version, no run mixing two versions. The waits have generous
deadlines that only turn a hang into a failure. Every process started here is gone when a test
ends (:mod:`scheduler_process`).
"""

from __future__ import annotations

import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from scheduler_process import DagcoreProcess, dagcore_env, reap_sessions, wait_for
from sqlalchemy.engine import Engine

from dagcore.dag_processing import sync_dags
from dagcore.db import migrate, transaction
from dagcore.models import tables as t

pytestmark = pytest.mark.integration

FROM = datetime(2024, 1, 1, tzinfo=UTC)
RUNS = 300
PARALLELISM = "4"  # PostgreSQL: each task process holds connections (max_connections=40)
DEADLINE_S = 100.0  # only turns a hang into a failure
SCHEDULER_LOOPS = "400"

# Hourly; an EmptyOperator and a quick PythonOperator with retries (a killed try is retried).
HOURLY_DAG = """\
from datetime import UTC, datetime, timedelta

from dagcore import DAG
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator


def work(ti):
    return ti.run_id


with DAG("@DAG_ID@", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule="@hourly",
         default_args={"retries": 2, "retry_delay": timedelta(0)}):
    start = EmptyOperator(task_id="start")
    start >> PythonOperator(task_id="work", python_callable=work)
"""
V1_TASKS = frozenset({"start", "work"})
# Version 2 of the same file: one more task.
HOURLY_DAG_V2 = HOURLY_DAG + """\
    start >> PythonOperator(task_id="extra", python_callable=work)
"""
V2_TASKS = V1_TASKS | {"extra"}


class World:
    """One test's database, DAG folder and dagcore processes."""

    def __init__(self, engine: Engine, root: Path) -> None:
        self.engine = engine
        self.home = root / "home"
        self.dags = root / "dags"
        self.out = root / "out"
        for folder in (self.home, self.dags, self.out):
            folder.mkdir()
        self.env = dagcore_env(
            self.home, db_url=engine.url.render_as_string(hide_password=False),
            dags_folder=self.dags, DAGCORE__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME="0.02",
            # The scheduler sees a new DAG version at once (no revalidation window).
            DAGCORE__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL="0")
        self.processes: list[DagcoreProcess] = []

    def write_dag(self, dag_id: str, text: str, *, paused: bool) -> None:
        """Write the DAG file and store it, as the DAG processor would."""
        (self.dags / f"{dag_id}.py").write_text(textwrap.dedent(text.replace("@DAG_ID@",
                                                                             dag_id)))
        result = sync_dags(self.dags, engine=self.engine, min_update_interval=timedelta(0))
        assert not result.import_errors, result.import_errors
        with transaction(self.engine) as conn:
            conn.execute(t.dag.update().where(t.dag.c.dag_id == dag_id)
                         .values(is_paused=paused))

    def start(self, name: str, *args: str) -> DagcoreProcess:
        process = DagcoreProcess(self.env, args, logs=self.out, name=name)
        self.processes.append(process)
        return process

    def backfill(self) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.backfill)).one_or_none()

    def run_states(self, dag_id: str) -> Counter[str]:
        dr = t.dag_run
        with self.engine.connect() as conn:
            return Counter(conn.execute(sa.select(dr.c.state).where(
                dr.c.dag_id == dag_id, dr.c.backfill_id.is_not(None))).scalars())

    def runs(self, dag_id: str) -> list[Any]:
        dr = t.dag_run
        with self.engine.connect() as conn:
            return conn.execute(sa.select(dr).where(dr.c.dag_id == dag_id)
                                .order_by(dr.c.logical_date)).all()

    def tis(self, dag_id: str) -> list[Any]:
        ti = t.task_instance
        with self.engine.connect() as conn:
            return conn.execute(sa.select(ti).where(ti.c.dag_id == dag_id)).all()

    def versions(self, dag_id: str) -> dict[Any, int]:
        dv = t.dag_version
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(dv.c.id, dv.c.version_number)
                                     .where(dv.c.dag_id == dag_id)).all())


@pytest.fixture
def world(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "home"))
    migrate(engine)
    world = World(engine, tmp_path)
    try:
        yield world
    finally:
        reap_sessions(world.processes)


def backfill_args(dag_id: str, runs: int, *extra: str) -> list[str]:
    to_date = FROM + timedelta(hours=runs - 1)
    return ["backfill", "create", "--dag-id", dag_id, "--from-date", FROM.isoformat(),
            "--to-date", to_date.isoformat(), "-p", PARALLELISM, *extra]


def tis_by_run(world: World, dag_id: str) -> dict[str, list[Any]]:
    per_run: dict[str, list[Any]] = {}
    for row in world.tis(dag_id):
        per_run.setdefault(row.run_id, []).append(row)
    return per_run


# -- kill -9 of `backfill create --wait`, then schedulers until the backfill completes --------


def test_kill_9_mid_backfill_then_schedulers_finish_every_date_once(world: World) -> None:
    world.write_dag("hourly", HOURLY_DAG, paused=False)
    waiting = world.start("wait", *backfill_args("hourly", RUNS, "--max-active-runs", "16",
                                                  "--wait"))
    wait_for("40 runs of the backfill succeeded",
             lambda: world.run_states("hourly")["success"] >= 40, timeout=DEADLINE_S,
             watch=[waiting])
    waiting.kill9()
    assert waiting.stdout.splitlines()[0] == (
        f"Backfill 1 of hourly created: {RUNS} run(s) created, 0 cleared, 0 date(s) skipped")
    states = world.run_states("hourly")
    assert sum(states.values()) == RUNS and states["success"] < RUNS, states
    assert world.backfill().completed_at is None

    deadline = time.monotonic() + DEADLINE_S
    restarts = 0
    while world.backfill().completed_at is None:
        assert time.monotonic() < deadline, (world.run_states("hourly"), restarts)
        scheduler = world.start(f"scheduler-{restarts}", "scheduler", "--num-runs",
                                SCHEDULER_LOOPS, "-p", PARALLELISM)
        restarts += 1
        assert scheduler.proc.wait(timeout=DEADLINE_S) == 0, scheduler.describe()
        assert "Traceback" not in scheduler.stderr, scheduler.describe()

    backfill_runs = [r for r in world.runs("hourly") if r.backfill_id is not None]
    assert [r.logical_date for r in backfill_runs] == [
        FROM + timedelta(hours=i) for i in range(RUNS)]
    assert [r.run_id for r in backfill_runs] == [
        f"backfill__{(FROM + timedelta(hours=i)).isoformat()}" for i in range(RUNS)]
    assert Counter(r.state for r in backfill_runs) == {"success": RUNS}
    assert {r.backfill_id for r in backfill_runs} == {world.backfill().id}
    # No other run at those dates (the DAG's own schedule only creates a run for now).
    assert all(r.logical_date > FROM + timedelta(days=300) for r in world.runs("hourly")
               if r.backfill_id is None)

    per_run = tis_by_run(world, "hourly")
    run_ids = {r.run_id for r in backfill_runs}
    assert {run_id: sorted(ti.task_id for ti in rows) for run_id, rows in per_run.items()
            if run_id in run_ids} == {run_id: sorted(V1_TASKS) for run_id in run_ids}
    mine = [ti for run_id in run_ids for ti in per_run[run_id]]
    assert Counter(ti.state for ti in mine) == {"success": 2 * RUNS}
    assert {ti.map_index for ti in mine} == {-1}


# -- the DAG file changes in the middle of a backfill --------------------------------------------


def test_a_dag_changed_mid_backfill_is_used_by_the_runs_that_start_later(world: World) -> None:
    runs = 60
    world.write_dag("evolving", HOURLY_DAG, paused=True)
    waiting = world.start("wait", *backfill_args("evolving", runs, "--max-active-runs", "4",
                                                  "--keep-dag-paused", "--wait"))
    wait_for("12 runs succeeded", lambda: world.run_states("evolving")["success"] >= 12,
             timeout=DEADLINE_S, watch=[waiting])
    world.write_dag("evolving", HOURLY_DAG_V2, paused=True)
    changed = datetime.now(UTC)
    assert waiting.proc.wait(timeout=DEADLINE_S) == 0, waiting.describe()
    assert world.backfill().completed_at is not None

    versions = world.versions("evolving")
    assert sorted(versions.values()) == [1, 2]
    by_run = tis_by_run(world, "evolving")
    all_runs = world.runs("evolving")
    assert len(all_runs) == runs  # the DAG stayed paused: no scheduled run
    assert Counter(r.state for r in all_runs) == {"success": runs}
    version_of: dict[str, int] = {}
    for run in all_runs:
        tis = by_run[run.run_id]
        used = {versions[ti.dag_version_id] for ti in tis}
        assert len(used) == 1, (run.run_id, sorted((ti.task_id, versions[ti.dag_version_id])
                                                   for ti in tis))
        (version_of[run.run_id],) = used
        expected = V1_TASKS if version_of[run.run_id] == 1 else V2_TASKS
        assert sorted(ti.task_id for ti in tis) == sorted(expected), run.run_id
        assert {ti.state for ti in tis} == {"success"}
        if run.start_date > changed:  # started after the new version was stored
            assert version_of[run.run_id] == 2, run.run_id
    # Once a run started on version 2, every run started after it did too.
    by_start = [version_of[r.run_id] for r in sorted(all_runs, key=lambda r: r.start_date)]
    first_v2 = by_start.index(2)
    assert by_start[:first_v2] == [1] * first_v2 and by_start[first_v2:] == [2] * (
        runs - first_v2), by_start
    assert 12 <= first_v2 < runs


# -- cancel while a task runs ---------------------------------------------------------------------

# Daily; one task that writes its pid (write, then rename) and sleeps until it is stopped.
SLEEPER_DAG = """\
import os
import time
from datetime import UTC, datetime

from dagcore import DAG
from dagcore.operators.python import PythonOperator

OUT = @OUT@


def sleep(ti):
    with open(os.path.join(OUT, "pid.tmp"), "w") as f:
        f.write(str(os.getpid()))
    os.rename(os.path.join(OUT, "pid.tmp"), os.path.join(OUT, ti.run_id + ".pid"))
    time.sleep(600)


with DAG("@DAG_ID@", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule="@daily"):
    PythonOperator(task_id="sleep", python_callable=sleep)
"""


def test_cancel_stops_the_running_task_and_the_waiting_backfill_ends(world: World) -> None:
    world.write_dag("sleeper", SLEEPER_DAG.replace("@OUT@", repr(str(world.out))),
                    paused=True)
    waiting = world.start("wait", "backfill", "create", "--dag-id", "sleeper", "--from-date",
                          "2024-01-01", "--to-date", "2024-01-03", "--max-active-runs", "1",
                          "--keep-dag-paused", "--wait", "-p", PARALLELISM)
    first = f"backfill__{FROM.isoformat()}"
    pid_file = world.out / f"{first}.pid"
    pid = int(wait_for("the first run's task wrote its pid",
                       lambda: pid_file.exists() and pid_file.read_text(),
                       timeout=DEADLINE_S, watch=[waiting]))
    cancel = world.start("cancel", "backfill", "cancel", "1")
    assert cancel.proc.wait(timeout=DEADLINE_S) == 0, cancel.describe()
    assert cancel.stdout.strip() == "Backfill 1 of sleeper cancelled"

    # The task process sees its try failed at its next heartbeat and stops; --wait sees the
    # backfill completed and exits 1 (runs failed).
    assert waiting.proc.wait(timeout=DEADLINE_S) == 1, waiting.describe()
    wait_for("the cancelled task's process ended", lambda: not _alive(pid),
             timeout=DEADLINE_S)
    assert "Backfill 1: 3 of 3 run(s) finished, 3 failed" in waiting.stderr, waiting.stderr
    assert [(r.run_id, r.state) for r in world.runs("sleeper")] == [
        (f"backfill__{(FROM + timedelta(days=i)).isoformat()}", "failed") for i in range(3)]
    # Only the first run ever started; its try stays failed (the stopped task did not
    # overwrite it).
    assert sorted(p.name for p in world.out.glob("*.pid")) == [f"{first}.pid"]
    assert [(ti.run_id, ti.state) for ti in world.tis("sleeper")] == [(first, "failed")]
    assert world.backfill().completed_at is not None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
