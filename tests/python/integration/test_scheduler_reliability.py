"""The scheduler's reliability with real processes, on SQLite and on PostgreSQL.

``python -m dagcore scheduler`` runs as a subprocess against the test's database (given by
``DAGCORE__DATABASE__SQL_ALCHEMY_CONN``) and is killed with SIGKILL at random points of a
200-run workload and restarted; task processes are killed mid-run; the scheduler is stopped
with SIGTERM while a task sleeps; two schedulers share one database; a dead scheduler's task
process claims its try late. Afterwards the database is checked against invariants, never
against timings: every run finished once, one task instance per task, no try left queued or
running, the XComs each run's tasks pushed, and each try of a task executed at most once (the
tasks append ``run task try pid`` to a file with one ``O_APPEND`` write, which the kernel keeps
whole). The waits have generous deadlines that only turn a hang into a failure. Every process a
scheduler started is gone when a test ends (:mod:`scheduler_process`).
"""

from __future__ import annotations

import os
import random
import signal
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fake_executors import NeverRuns
from scheduler_process import (
    DagcoreProcess,
    dagcore_env,
    reap_sessions,
    session_pids,
    socket_inodes,
    wait_for,
)
from sqlalchemy.engine import Engine

from dagcore.api.common import trigger_dag
from dagcore.dag_processing import sync_dags
from dagcore.db import create_engine, migrate, transaction
from dagcore.executors.local import LocalExecutor
from dagcore.jobs.scheduler import SchedulerJob
from dagcore.models import tables as t
from dagcore.executors.base import TaskWorkload
from dagcore.task_runner import run_workload

pytestmark = pytest.mark.integration

START = datetime(2025, 1, 1, tzinfo=UTC)
RUNS = 200
KILLS = 5
SEED = 20250101
PARALLELISM = "4"  # PostgreSQL: each task process holds connections (max_connections=40)
FINISH_TIMEOUT_S = 180.0  # only turns a hang into a failure
FINISHED_RUN = ("success", "failed")

# start >> produce >> shell >> end: two task processes per run, the second templated with the
# first's XCom; each try of produce and shell appends "<run_id> <task_id> <try_number> <pid>"
# to EXECUTIONS.
WORKLOAD_DAG = """\
import os
from datetime import UTC, datetime, timedelta

from dagcore import DAG
from dagcore.operators.bash import BashOperator
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator

EXECUTIONS = @EXECUTIONS@


def produce(ti):
    line = f"{ti.run_id} {ti.task_id} {ti.try_number} {os.getpid()}\\n"
    fd = os.open(EXECUTIONS, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return int(ti.run_id[1:]) * 10


with DAG("@DAG_ID@", start_date=datetime(2025, 1, 1, tzinfo=UTC), schedule=None,
         max_active_runs=64,
         default_args={"retries": 2, "retry_delay": timedelta(0)}):
    shell = BashOperator(
        task_id="shell",
        bash_command=('echo "{{ run_id }} {{ ti.task_id }} {{ ti.try_number }} $$" >> '
                      + EXECUTIONS + ' && echo "$PRODUCED-{{ run_id }}"'),
        env={"PRODUCED": "{{ ti.xcom_pull('produce') }}"}, append_env=True)
    (EmptyOperator(task_id="start")
     >> PythonOperator(task_id="produce", python_callable=produce)
     >> shell
     >> EmptyOperator(task_id="end"))
"""
WORKLOAD_TASKS = frozenset({"start", "produce", "shell", "end"})
RECORDING_TASKS = frozenset({"produce", "shell"})

# One task that, on its first try only, writes its pid (atomically: write, then rename) and
# sleeps until it is killed; any later try returns at once.
SLEEPER_DAG = """\
import os
import time
from datetime import UTC, datetime, timedelta

from dagcore import DAG
from dagcore.operators.python import PythonOperator

OUT = @OUT@


def sleep_first_try():
    marker = os.path.join(OUT, "first-try-started")
    if os.path.exists(marker):
        return "later try"
    open(marker, "w").close()
    with open(os.path.join(OUT, "pid.tmp"), "w") as f:
        f.write(str(os.getpid()))
    os.rename(os.path.join(OUT, "pid.tmp"), os.path.join(OUT, "pid"))
    time.sleep(600)


with DAG("sleeper", start_date=datetime(2025, 1, 1, tzinfo=UTC), schedule=None):
    PythonOperator(task_id="sleep", python_callable=sleep_first_try, retries=@RETRIES@,
                   retry_delay=timedelta(0))
"""


# -- the world: a database, a DAG folder, scheduler processes ----------------------------------


class World:
    """One test's database, DAG folder and scheduler processes."""

    def __init__(self, engine: Engine, root: Path) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=False)
        self.home = root / "home"
        self.dags = root / "dags"
        self.out = root / "out"
        for folder in (self.home, self.dags, self.out):
            folder.mkdir()
        self.executions = self.out / "executions.log"
        self.env = dagcore_env(self.home, db_url=self.url, dags_folder=self.dags)
        self.processes: list[DagcoreProcess] = []

    def add_dag(self, filename: str, text: str, **placeholders: Any) -> None:
        """Write a DAG file (``@NAME@`` replaced by ``placeholders``), store its DAGs,
        unpause them."""
        values = {"EXECUTIONS": repr(str(self.executions)), "OUT": repr(str(self.out)),
                  **{k: str(v) for k, v in placeholders.items()}}
        for name, value in values.items():
            text = text.replace(f"@{name}@", value)
        (self.dags / filename).write_text(textwrap.dedent(text))
        result = sync_dags(self.dags, engine=self.engine, min_update_interval=timedelta(0))
        assert not result.import_errors, result.import_errors
        with transaction(self.engine) as conn:
            conn.execute(t.dag.update().values(is_paused=False))

    def trigger(self, dag_id: str, count: int) -> list[str]:
        """``count`` manual runs ``r000``, ``r001``... an hour apart."""
        run_ids = [f"r{i:03d}" for i in range(count)]
        for i, run_id in enumerate(run_ids):
            trigger_dag(dag_id, run_id=run_id, logical_date=START + timedelta(hours=i),
                        engine=self.engine)
        return run_ids

    def scheduler(self, name: str, *args: str) -> DagcoreProcess:
        process = DagcoreProcess(self.env, ["scheduler", "-p", PARALLELISM, *args],
                                 logs=self.out, name=name)
        self.processes.append(process)
        return process

    def registered(self, process: DagcoreProcess) -> Any:
        """The running ``job`` row of ``process`` (None before it registered)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.job).where(t.job.c.pid == process.pid,
                                                       t.job.c.state == "running")).first()

    def runs(self, dag_id: str) -> dict[str, Any]:
        dr = t.dag_run
        with self.engine.connect() as conn:
            return {row.run_id: row for row in conn.execute(
                sa.select(dr).where(dr.c.dag_id == dag_id))}

    def unfinished_runs(self, dag_id: str) -> int:
        dr = t.dag_run
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(dr).where(
                dr.c.dag_id == dag_id, dr.c.state.not_in(FINISHED_RUN))).scalar_one()

    def wait_finished(self, dag_id: str, *watch: DagcoreProcess) -> None:
        wait_for(f"every run of {dag_id} finished",
                 lambda: self.unfinished_runs(dag_id) == 0, timeout=FINISH_TIMEOUT_S,
                 watch=watch, interval=0.25)

    def tis(self, dag_id: str) -> list[Any]:
        ti = t.task_instance
        with self.engine.connect() as conn:
            return conn.execute(sa.select(ti).where(ti.c.dag_id == dag_id)).all()

    def history(self, dag_id: str) -> list[Any]:
        tih = t.task_instance_history
        with self.engine.connect() as conn:
            return conn.execute(sa.select(tih).where(tih.c.dag_id == dag_id)).all()

    def xcoms(self, dag_id: str) -> list[Any]:
        xc = t.xcom
        with self.engine.connect() as conn:
            return conn.execute(sa.select(xc.c.run_id, xc.c.task_id, xc.c.key, xc.c.value)
                                .where(xc.c.dag_id == dag_id)).all()

    def executed(self) -> list[tuple[str, str, int]]:
        """``(run_id, task_id, try_number)`` of every try that started executing its task."""
        if not self.executions.exists():
            return []
        lines = self.executions.read_text().splitlines()
        return [(run, task, int(number)) for run, task, number, _ in map(str.split, lines)]


def _world(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "home"))
    migrate(engine)
    world = World(engine, tmp_path)
    try:
        yield world
    finally:
        reap_sessions(world.processes)


@pytest.fixture
def world(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """On SQLite and on PostgreSQL."""
    yield from _world(engine, tmp_path, monkeypatch)


@pytest.fixture
def sqlite_world(sqlite_engine: Engine, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from _world(sqlite_engine, tmp_path, monkeypatch)


@pytest.fixture
def postgres_world(postgres_engine: Engine, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from _world(postgres_engine, tmp_path, monkeypatch)


def assert_workload_done_once(world: World, dag_id: str, run_ids: list[str]) -> None:
    """Every run succeeded, once; one successful task instance per task; the XComs of each
    run; every try archived once; no try of a task executed twice."""
    runs = world.runs(dag_id)
    assert sorted(runs) == sorted(run_ids)
    assert Counter(r.state for r in runs.values()) == Counter({"success": len(run_ids)})

    tis = world.tis(dag_id)
    per_run: dict[str, list[str]] = {}
    for row in tis:
        per_run.setdefault(row.run_id, []).append(row.task_id)
    assert {run_id: sorted(tasks) for run_id, tasks in per_run.items()} == {
        run_id: sorted(WORKLOAD_TASKS) for run_id in run_ids}
    assert Counter(row.state for row in tis) == Counter({"success": len(tis)})
    assert {row.map_index for row in tis} == {-1}

    # The tries before the last are in the history, once each.
    archived = Counter((h.run_id, h.task_id, h.try_number) for h in world.history(dag_id))
    assert max(archived.values(), default=1) == 1, archived.most_common(3)
    assert set(archived) == {(row.run_id, row.task_id, n) for row in tis
                             for n in range(1, row.try_number)}

    executed = Counter(world.executed())
    twice = [key for key, n in executed.items() if n > 1]
    assert twice == [], f"tries executed more than once: {twice[:10]}"
    # The try that succeeded did run.
    final_tries = {(row.run_id, row.task_id, row.try_number) for row in tis
                   if row.task_id in RECORDING_TASKS}
    assert final_tries <= set(executed), sorted(final_tries - set(executed))[:10]

    values = {(x.run_id, x.task_id, x.key): x.value for x in world.xcoms(dag_id)}
    expected = {}
    for run_id in run_ids:
        produced = int(run_id[1:]) * 10
        expected[(run_id, "produce", "return_value")] = produced
        expected[(run_id, "shell", "return_value")] = f"{produced}-{run_id}"
    assert values == expected


# -- a. kill -9 of the scheduler at random points ------------------------------------------------


def test_kill_9_at_random_points_then_a_restart_runs_every_task_once(world: World) -> None:
    world.add_dag("workload.py", WORKLOAD_DAG, DAG_ID="workload")
    run_ids = world.trigger("workload", RUNS)
    rng = random.Random(SEED)
    killed = 0
    for i in range(KILLS):
        process = world.scheduler(f"killed-{i}")
        wait_for("the scheduler registered", lambda p=process: world.registered(p),
                 timeout=60, watch=[process])
        time.sleep(rng.uniform(0.2, 1.5))
        assert process.alive(), process.describe()
        process.kill9()
        killed += 1
    assert killed == KILLS
    final = world.scheduler("final")
    world.wait_finished("workload", final)
    assert final.stop() == 0, final.describe()
    wait_for("the orphaned task processes exited by themselves",
             lambda: not any(session_pids(p.pid) for p in world.processes), timeout=60)
    assert_workload_done_once(world, "workload", run_ids)
    # Only schedulers died: every worker finished its try and recorded it, so no outcome was
    # lost and no task needed a second try (a success committed by an orphaned worker into a
    # WAL that a restarting scheduler deleted came back as a retry before the fork server).
    executed_tasks = Counter((run_id, task_id) for run_id, task_id, _ in world.executed())
    assert max(executed_tasks.values()) == 1, executed_tasks.most_common(3)
    assert {row.try_number for row in world.tis("workload")} == {1}
    with world.engine.connect() as conn:
        jobs = Counter(conn.execute(sa.select(t.job.c.state)).scalars())
    # Each killed scheduler's row was marked failed by the next one to start.
    assert jobs == Counter({"failed": KILLS, "success": 1})


# -- b. a task process killed mid-run -------------------------------------------------------------


@pytest.mark.parametrize("retries, scheduler_dies_first, ti_state, try_number, run_state", [
    (1, False, "success", 2, "success"),
    (0, False, "failed", 1, "failed"),
    (1, True, "success", 2, "success"),
], ids=["retried", "failed-without-retries", "orphan-found-by-zombie-check"])
def test_a_task_process_killed_mid_run_is_retried_or_failed(
        world: World, retries: int, scheduler_dies_first: bool, ti_state: str,
        try_number: int, run_state: str) -> None:
    """The scheduler's executor sees its own child die; a task orphaned by a dead scheduler
    stops heartbeating and the next scheduler's zombie check fails it."""
    world.add_dag("sleeper.py", SLEEPER_DAG, RETRIES=retries)
    (run_id,) = world.trigger("sleeper", 1)
    scheduler = world.scheduler("scheduler")
    pid_file = world.out / "pid"
    pid = int(wait_for("the task wrote its pid", lambda: pid_file.exists() and
                       pid_file.read_text(), timeout=60, watch=[scheduler]))
    assert pid in session_pids(scheduler.pid)  # the scheduler's own task process
    # None of the scheduler's database connections stays open in its task process: else a
    # kill -9 of the scheduler would leave its transaction, and its locks, open on PostgreSQL.
    assert socket_inodes(pid) & socket_inodes(scheduler.pid) == set()
    if scheduler_dies_first:
        scheduler.kill9()
        os.kill(pid, signal.SIGKILL)
        scheduler = world.scheduler("restarted")
    else:
        os.kill(pid, signal.SIGKILL)
    world.wait_finished("sleeper", scheduler)
    assert scheduler.stop() == 0, scheduler.describe()

    assert world.runs("sleeper")[run_id].state == run_state
    (ti,) = world.tis("sleeper")
    assert (ti.state, ti.try_number) == (ti_state, try_number)
    history = [(h.try_number, h.state) for h in world.history("sleeper")]
    # Airflow's TaskInstanceHistory.record_ti records a try that had not finished as failed.
    assert history == ([(1, "failed")] if retries else [])


# -- c. SIGTERM to the scheduler while a task runs ------------------------------------------------


def test_sigterm_stops_the_scheduler_cleanly_and_ends_the_running_try(world: World) -> None:
    world.add_dag("sleeper.py", SLEEPER_DAG, RETRIES=0)
    (run_id,) = world.trigger("sleeper", 1)
    scheduler = world.scheduler("scheduler")
    pid_file = world.out / "pid"
    pid = int(wait_for("the task wrote its pid", lambda: pid_file.exists() and
                       pid_file.read_text(), timeout=60, watch=[scheduler]))
    job = world.registered(scheduler)
    assert job is not None

    assert scheduler.stop(timeout=60) == 0, scheduler.describe()
    assert "Traceback" not in scheduler.stderr, scheduler.describe()
    assert scheduler.stdout.rstrip().splitlines()[-1].startswith("scheduler: stopped after")
    assert session_pids(scheduler.pid) == []  # the task process was stopped and reaped
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)

    with world.engine.connect() as conn:
        state, end_date = conn.execute(sa.select(t.job.c.state, t.job.c.end_date)
                                       .where(t.job.c.id == job.id)).one()
    assert state == "success" and end_date is not None
    (ti,) = world.tis("sleeper")
    assert (ti.state, ti.try_number) == ("failed", 1)
    assert ti.end_date is not None
    # Nobody decides the run once the scheduler is gone; the next scheduler will.
    assert world.runs("sleeper")[run_id].state == "running"


# -- d. two schedulers ----------------------------------------------------------------------------


def test_a_second_scheduler_on_sqlite_exits_1_with_one_line(sqlite_world: World) -> None:
    world = sqlite_world
    first = world.scheduler("first")
    job = wait_for("the first scheduler registered", lambda: world.registered(first),
                   timeout=60, watch=[first])
    second = world.scheduler("second")
    assert second.proc.wait(timeout=60) == 1
    lines = second.stderr.splitlines()
    assert len(lines) == 1, second.stderr
    assert lines[0].startswith("dagcore: error: ")
    assert "SQLite allows one scheduler" in lines[0] and f"pid {first.pid}" in lines[0]
    assert first.alive(), first.describe()
    assert first.stop() == 0, first.describe()
    with world.engine.connect() as conn:
        jobs = conn.execute(sa.select(t.job.c.id, t.job.c.state)).all()
    assert [tuple(j) for j in jobs] == [(job.id, "success")]  # the refused one left no row


def test_two_schedulers_on_postgres_share_the_work_and_run_every_try_once(
        postgres_world: World) -> None:
    world = postgres_world
    world.add_dag("workload.py", WORKLOAD_DAG, DAG_ID="shared")
    with transaction(world.engine) as conn:  # paused until both schedulers are up
        conn.execute(t.dag.update().values(is_paused=True))
    run_ids = world.trigger("shared", 50)
    schedulers = [world.scheduler(f"scheduler-{i}") for i in range(2)]
    jobs = [wait_for("both schedulers registered", lambda p=p: world.registered(p),
                     timeout=60, watch=schedulers) for p in schedulers]
    with transaction(world.engine) as conn:
        conn.execute(t.dag.update().values(is_paused=False))
    world.wait_finished("shared", *schedulers)
    for process in schedulers:
        assert process.stop() == 0, process.describe()
    assert_workload_done_once(world, "shared", run_ids)
    queued_by = {row.queued_by_job_id for row in world.tis("shared")
                 if row.task_id in RECORDING_TASKS}
    assert queued_by == {job.id for job in jobs}  # both took a share


# -- e. an orphan of a dead scheduler claims its try late -----------------------------------------

# Each execution appends a line to EXECUTIONS, then waits (bounded) for OUT/release.
LATE_DAG = """\
import os
import time
from datetime import UTC, datetime, timedelta

from dagcore import DAG
from dagcore.operators.python import PythonOperator

EXECUTIONS = @EXECUTIONS@
OUT = @OUT@


def announce_then_wait(ti):
    fd = os.open(EXECUTIONS, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, f"{ti.run_id} {ti.task_id} {ti.try_number} {os.getpid()}\\\\n".encode())
    finally:
        os.close(fd)
    deadline = time.monotonic() + 60
    while not os.path.exists(os.path.join(OUT, "release")) and time.monotonic() < deadline:
        time.sleep(0.01)
    return "done"


with DAG("late", start_date=datetime(2025, 1, 1, tzinfo=UTC), schedule=None):
    PythonOperator(task_id="work", python_callable=announce_then_wait, retries=1,
                   retry_delay=timedelta(0))
"""


def after_the_orphan_claimed(workload: TaskWorkload) -> None:
    """The next scheduler's runner (in its worker): wait for the orphan's claim, then run."""
    wait_for("the orphan claimed the try", Path(os.environ["LATE_EXECUTIONS"]).exists,
             timeout=60)
    engine = create_engine(os.environ["LATE_DB_URL"])
    try:
        run_workload(workload, engine=engine)  # finds the try running: runs nothing
    finally:
        engine.dispose()


def test_a_try_claimed_late_by_an_orphan_is_not_failed_by_the_next_scheduler(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dead scheduler's task process claims its try only after the next scheduler reset and
    queued it again (a slow start, or a busy SQLite lock): the next scheduler's own process
    then finds the try running elsewhere, runs nothing and exits 0. That exit is not the
    death of the try the orphan runs, which must end as the orphan records it."""
    for name, value in world.env.items():
        if name.startswith("DAGCORE__"):
            monkeypatch.setenv(name, value)
    world.add_dag("late.py", LATE_DAG)
    (run_id,) = world.trigger("late", 1)
    ti = t.task_instance

    dead = SchedulerJob(engine=world.engine, executor=NeverRuns(parallelism=8), idle_sleep=0.0, single=False)
    dead.job.register()
    wait_for("the dead scheduler queued the try", lambda: dead.run_once() and
             dead.executor.queued, timeout=30)
    (orphan_workload,) = dead.executor.queued
    with transaction(world.engine) as conn:  # it dies: its heartbeat stops
        conn.execute(t.job.update().where(t.job.c.id == dead.job.id).values(
            latest_heartbeat=datetime(2000, 1, 1, tzinfo=UTC)))

    monkeypatch.setenv("LATE_EXECUTIONS", str(world.executions))
    monkeypatch.setenv("LATE_DB_URL", world.url)
    executor = LocalExecutor(2, runner=after_the_orphan_claimed)
    job = SchedulerJob(engine=world.engine, executor=executor, idle_sleep=0.0, single=False)
    job.job.register()
    orphans = LocalExecutor(1, engine_url=world.url)  # the dead scheduler's forked child
    try:
        assert job.adopt_or_reset_orphaned_tasks() == 1
        (own_pid,) = wait_for("the next scheduler queued the try again and forked",
                              lambda: job.run_once() is not None and executor.pids, timeout=30)
        orphans.queue_workload(orphan_workload)
        orphans.heartbeat()  # forks the orphan: it claims the try, queued again meanwhile
        wait_for("the next scheduler's own process exited", lambda: job.run_once() is not None
                 and own_pid not in executor.pids, timeout=60)
        (world.out / "release").touch()

        def finished() -> bool:
            orphans.heartbeat()
            job.run_once()
            return world.unfinished_runs("late") == 0 and not orphans.running

        wait_for("the run finished", finished, timeout=60)
    finally:
        (world.out / "release").touch()
        orphans.end(timeout=30)
        executor.end(timeout=30)
        job.job.complete()

    with world.engine.connect() as conn:
        state, try_number = conn.execute(sa.select(ti.c.state, ti.c.try_number)).one()
    assert (state, try_number) == ("success", 1)
    assert [number for _, _, number in world.executed()] == [1]
    assert world.runs("late")[run_id].state == "success"
