"""No lost writes after a scheduler crash, no process left after a clean stop (issue 12 §1, §3).

Real processes on a real SQLite file: ``python -m dagcore scheduler`` and the CLI commands run
as subprocesses; the tests observe only processes (``/proc``), ``/proc/locks``, files (the
tasks' logs and a marker file) and database rows, never how the executor makes its workers.

Why a crash could lose a committed write (§1). In WAL mode every SQLite connection holds a
shared ``fcntl`` read lock on one byte of the ``-shm`` file, the "DMS" (dead-man switch, byte
128: ``UNIX_SHM_DMS`` in SQLite's ``os_unix.c``). A connection that opens the database and gets
that byte *exclusively* concludes it is alone, and the last connection to close checkpoints
and deletes ``-wal`` and ``-shm``. POSIX locks belong to a process, and SQLite keeps its own
per-inode bookkeeping of the locks its process holds; a process forked from one that has the
database open inherits that bookkeeping but not the locks, so its connections believe the DMS
lock is held and never take it. Such a worker is safe while its parent lives (the parent's lock
protects everyone); once the parent dies (kill -9, OOM), the next short-lived process to open
the database (a CLI command, a monitoring ``sqlite3``) finds the byte free, and on closing
deletes the WAL that the orphaned worker goes on committing into: the worker's "success" lands
in a deleted file and the row stays ``running``.

The tasks here wait for files the test creates, or sleep briefly; the waits of the test have
generous deadlines that only turn a hang into a failure, nothing is timed. Every process a test
started is found at the end by a marker in its environment and killed by pid.
"""

from __future__ import annotations

import random
import re
import sqlite3
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from scheduler_process import (
    DagcoreProcess,
    dagcore_env,
    command_lines,
    kill_pids,
    open_by,
    pids_with_env,
    posix_locks,
    reap_sessions,
    run_cli,
    wait_for,
)

from dagcore.api.common import trigger_dag
from dagcore.dag_processing import sync_dags
from dagcore.db import create_engine, migrate, transaction
from dagcore.models import tables as t

pytestmark = pytest.mark.integration

MARKER_VAR = "DAGCORE_TEST_MARKER"
START = datetime(2025, 1, 1, tzinfo=UTC)
# SQLite's os_unix.c: UNIX_SHM_BASE = (22 + SQLITE_SHM_NLOCK) * 4 = 120, the first lock byte of
# the -shm file; UNIX_SHM_DMS = UNIX_SHM_BASE + SQLITE_SHM_NLOCK = 128, the dead-man switch.
DMS_BYTE = 128
LOCK_TIMEOUT_S = 15.0  # only turns a missing lock into a failure
FINISH_TIMEOUT_S = 180.0  # only turns a hang into a failure
# Airflow logs a try's outcome as "Marking task as SUCCESS. dag_id=..., task_id=..."
# (airflow/models/taskinstance.py, _log_state); dagcore's task runner writes the same line.
OUTCOME_LINE = re.compile(r"Marking task as ([A-Z_]+)\. dag_id=")
LOG_NAME = re.compile(r"dag_id=(?P<dag>[^/]+)/run_id=(?P<run>[^/]+)/task_id=(?P<task>[^/]+)/"
                      r"attempt=(?P<try>\d+)\.log$")

# Each task waits (bounded) for OUT/release. held_bash's command writes OUT/started first;
# held_python's callable writes the pid of the process running it to OUT/pid.
HELD_DAGS = """\
import os
import time
from datetime import UTC, datetime

from dagcore import DAG
from dagcore.operators.bash import BashOperator
from dagcore.operators.python import PythonOperator

OUT = @OUT@
RELEASE = os.path.join(OUT, "release")


def held():
    with open(os.path.join(OUT, "pid.tmp"), "w") as f:
        f.write(str(os.getpid()))
    os.rename(os.path.join(OUT, "pid.tmp"), os.path.join(OUT, "pid"))
    deadline = time.monotonic() + 120
    while not os.path.exists(RELEASE) and time.monotonic() < deadline:
        time.sleep(0.02)
    print("released")


with DAG("held_bash", start_date=datetime(2025, 1, 1, tzinfo=UTC), schedule=None):
    BashOperator(task_id="wait", bash_command=(
        f"touch {OUT}/started; "
        f"for i in $(seq 2400); do [ -e {RELEASE} ] && break; sleep 0.05; done; "
        "echo released"))

with DAG("held_python", start_date=datetime(2025, 1, 1, tzinfo=UTC), schedule=None):
    PythonOperator(task_id="wait", python_callable=held)
"""

# Independent tasks, half Bash, half Python; each try appends "<run_id> <task_id> <try> <pid>"
# to EXECUTIONS with one O_APPEND write (kept whole by the kernel), lasts a moment (so that
# kills find tries under way) and prints a line to its log.
CRASH_TASKS = 12
CRASH_RUNS = 4
CRASH_DAG = """\
import os
import time
from datetime import UTC, datetime, timedelta

from dagcore import DAG
from dagcore.operators.bash import BashOperator
from dagcore.operators.python import PythonOperator

EXECUTIONS = @EXECUTIONS@


def record(ti, seconds):
    line = f"{ti.run_id} {ti.task_id} {ti.try_number} {os.getpid()}\\n"
    fd = os.open(EXECUTIONS, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    time.sleep(seconds)
    print(f"python task {ti.task_id} of {ti.run_id} done")


with DAG("crashload", start_date=datetime(2025, 1, 1, tzinfo=UTC), schedule=None,
         max_active_runs=@RUNS@, max_active_tasks=64,
         default_args={"retries": 1, "retry_delay": timedelta(0)}):
    for i in range(@TASKS@):
        seconds = 0.4 + 0.2 * (i % 4)
        if i % 2:
            PythonOperator(task_id=f"python_{i}", python_callable=record,
                           op_kwargs={"seconds": seconds})
        else:
            BashOperator(task_id=f"bash_{i}", bash_command=(
                'echo "{{ run_id }} {{ ti.task_id }} {{ ti.try_number }} $$" >> '
                + EXECUTIONS + f" && sleep {seconds} && echo bash task done"))
"""
CRASH_KILLS = 10
CRASH_SEED = 20261206
CRASH_PARALLELISM = "4"

# A Bash task that starts a background child (its pid to OUT/child) and a Python task that
# writes its pid to OUT/pid; with @WAIT@ True both then wait (bounded) for OUT/release.
LEAVER_DAG = """\
import os
import time
from datetime import UTC, datetime

from dagcore import DAG
from dagcore.operators.bash import BashOperator
from dagcore.operators.python import PythonOperator

OUT = @OUT@


def python_task():
    with open(os.path.join(OUT, "pid.tmp"), "w") as f:
        f.write(str(os.getpid()))
    os.rename(os.path.join(OUT, "pid.tmp"), os.path.join(OUT, "pid"))
    release = os.path.join(OUT, "release")
    deadline = time.monotonic() + 120
    while @WAIT@ and not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.02)


BASH_WAIT = f"for i in $(seq 2400); do [ -e {OUT}/release ] && break; sleep 0.05; done; "

with DAG("leaver", start_date=datetime(2025, 1, 1, tzinfo=UTC), schedule=None):
    BashOperator(task_id="background", bash_command=(
        f"sleep 300 & echo $! > {OUT}/child; " + (BASH_WAIT if @WAIT@ else "") + "echo left"))
    PythonOperator(task_id="python", python_callable=python_task)
"""


# -- the world: a SQLite file, a DAG folder, processes marked in their environment ---------------


class Site:
    """One test's home (with the database ``home/dagcore.db``), DAG folder and processes.

    The test process never keeps a connection open (each query opens and closes one), so the
    processes under test, and the short-lived commands the test runs, are the database's only
    users: a command that closes the last connection really is the last one.
    """

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.dags = root / "dags"
        self.out = root / "out"
        for folder in (self.home, self.dags, self.out):
            folder.mkdir()
        self.db = self.home / "dagcore.db"
        self.url = f"sqlite:///{self.db}"
        self.executions = self.out / "executions.log"
        self.marker = uuid.uuid4().hex
        self.env = dagcore_env(self.home, db_url=self.url, dags_folder=self.dags,
                               **{MARKER_VAR: self.marker})
        self.processes: list[DagcoreProcess] = []
        self.engine = create_engine(self.url, poolclass=sa.pool.NullPool)

    def add_dags(self, filename: str, text: str, **placeholders: Any) -> None:
        """Write a DAG file (``@NAME@`` replaced by ``placeholders``; ``@OUT@`` and
        ``@EXECUTIONS@`` are known), store its DAGs and unpause them."""
        values = {"OUT": repr(str(self.out)), "EXECUTIONS": repr(str(self.executions)),
                  **{k: str(v) for k, v in placeholders.items()}}
        for name, value in values.items():
            text = text.replace(f"@{name}@", value)
        (self.dags / filename).write_text(textwrap.dedent(text))
        migrate(self.engine)
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
        process = DagcoreProcess(self.env, ["scheduler", *args], logs=self.out, name=name)
        self.processes.append(process)
        return process

    def cli(self, *args: str) -> str:
        """Run ``python -m dagcore ARGS``, a short-lived process opening the database; its
        output (it must succeed)."""
        result = run_cli(self.env, *args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    def open_and_close(self) -> None:
        """What a monitoring script does: the ``sqlite3`` module opens the file, reads, closes."""
        connection = sqlite3.connect(self.db, timeout=30)
        try:
            connection.execute("SELECT count(*) FROM task_instance").fetchone()
        finally:
            connection.close()

    def registered(self, process: DagcoreProcess) -> bool:
        """Whether ``process`` has its running ``job`` row."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.job.c.id).where(
                t.job.c.pid == process.pid, t.job.c.state == "running")).first() is not None

    def tis(self, dag_id: str) -> dict[tuple[str, str], Any]:
        """``(run_id, task_id)`` -> the task instance row."""
        ti = t.task_instance
        with self.engine.connect() as conn:
            return {(row.run_id, row.task_id): row
                    for row in conn.execute(sa.select(ti).where(ti.c.dag_id == dag_id))}

    def history(self, dag_id: str) -> dict[tuple[str, str, int], str]:
        """``(run_id, task_id, try_number)`` -> state of each archived (earlier) try."""
        tih = t.task_instance_history
        with self.engine.connect() as conn:
            return {(h.run_id, h.task_id, h.try_number): h.state for h in conn.execute(
                sa.select(tih).where(tih.c.dag_id == dag_id))}

    def runs(self, dag_id: str) -> dict[str, str]:
        dr = t.dag_run
        with self.engine.connect() as conn:
            return {row.run_id: row.state for row in conn.execute(
                sa.select(dr.c.run_id, dr.c.state).where(dr.c.dag_id == dag_id))}

    def try_logs(self, dag_id: str) -> dict[tuple[str, str, int], str]:
        """``(run_id, task_id, try_number)`` -> the outcome the try's log states
        (``"success"``, ``"up_for_retry"``, ``"failed"``...; ``""`` if none), for every try
        log of ``dag_id`` (``<base_log_folder>/dag_id=/run_id=/task_id=/attempt=N.log``)."""
        outcomes = {}
        for path in (self.home / "logs").glob(f"dag_id={dag_id}/run_id=*/task_id=*/attempt=*.log"):
            match = LOG_NAME.search(path.as_posix())
            assert match, path
            stated = OUTCOME_LINE.findall(path.read_text(errors="replace"))
            outcomes[(match["run"], match["task"], int(match["try"]))] = (
                stated[-1].lower() if stated else "")
        return outcomes

    def executed(self) -> list[tuple[str, str, int]]:
        """``(run_id, task_id, try_number)`` of every try that started its task's work."""
        if not self.executions.exists():
            return []
        return [(run, task, int(number)) for run, task, number, _ in
                map(str.split, self.executions.read_text().splitlines())]

    def marked(self) -> list[int]:
        """The live processes this test started, and theirs (the schedulers, their workers,
        orphaned or not, the tasks' processes, the CLI commands): those whose environment
        holds the test's marker, wherever their session or parent."""
        return pids_with_env(MARKER_VAR, self.marker)

    def database_users(self) -> list[int]:
        """The marked processes that have the database file open."""
        return [pid for pid in self.marked() if open_by(pid, self.db)]

    def dms_readers(self) -> set[int]:
        """The pids holding a shared (read) POSIX lock on the DMS byte of ``dagcore.db-shm``."""
        shm = self.db.with_name(self.db.name + "-shm")
        if not shm.exists():
            return set()
        return {pid for pid, mode, first, last in posix_locks(shm)
                if mode == "READ" and first <= DMS_BYTE and (last is None or DMS_BYTE <= last)}

    def close(self) -> None:
        """Release waiting tasks, end every process this test started (by pid)."""
        (self.out / "release").touch()
        reap_sessions(self.processes)
        kill_pids(self.marked())
        self.engine.dispose()


def read_pid(path: Path) -> int | None:
    """The pid a task wrote to ``path`` (None before it did)."""
    text = path.read_text().strip() if path.exists() else ""
    return int(text) if text else None


def within(timeout: float, probe: Callable[[], bool]) -> bool:
    """Whether ``probe`` becomes true within ``timeout`` seconds (polled; a bound on waiting
    for a lock that comes and goes with a connection, not a measurement)."""
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "home"))
    site = Site(tmp_path)
    try:
        yield site
    finally:
        site.close()


# -- 1. the repro -------------------------------------------------------------------------


def test_a_success_committed_by_an_orphaned_worker_survives_a_cli_command(site: Site) -> None:
    """Issue 12 §1: kill -9 the scheduler while its worker runs a try, run ``dags list`` (the
    last connection to close), let the try finish: its log says SUCCESS, so must the row.

    On a worker that shares its parent's SQLite lock state, ``dags list`` deletes the WAL the
    orphaned worker then commits into, and the row stays ``running``."""
    site.add_dags("held.py", HELD_DAGS)
    site.trigger("held_bash", 1)
    scheduler = site.scheduler("scheduler")
    wait_for("the task started", (site.out / "started").exists, timeout=60, watch=[scheduler])
    (ti,) = site.tis("held_bash").values()
    assert ti.state == "running"

    scheduler.kill9()
    site.cli("dags", "list")
    (site.out / "release").touch()
    wait_for("the try stated its outcome in its log",
             lambda: site.try_logs("held_bash").get(("r000", "wait", 1)), timeout=60)
    wait_for("the orphaned worker closed the database", lambda: not site.database_users(),
             timeout=60)

    assert site.try_logs("held_bash") == {("r000", "wait", 1): "success"}
    (ti,) = site.tis("held_bash").values()
    assert (ti.state, ti.try_number) == ("success", 1)


# -- 2. the worker's own DMS lock -----------------------------------------------------------------


def test_a_worker_mid_try_holds_the_wal_dead_man_switch_lock(site: Site) -> None:
    """Issue 12 §1: the process running a try holds its own shared lock on the DMS byte of
    ``dagcore.db-shm`` (see the module note), so that no process opening the database while
    the try runs can believe it is alone, the scheduler dead or not. So does every other
    process of the scheduler's that has the database open."""
    site.add_dags("held.py", HELD_DAGS)
    site.trigger("held_python", 1)
    scheduler = site.scheduler("scheduler")
    pid_file = site.out / "pid"
    task_pid = wait_for("the task wrote its pid", lambda: read_pid(pid_file), timeout=60,
                        watch=[scheduler])
    assert task_pid != scheduler.pid and task_pid in site.marked()
    # The scheduler's lock shows that /proc/locks is read right.
    wait_for("the scheduler holds the DMS read lock",
             lambda: scheduler.pid in site.dms_readers(), timeout=LOCK_TIMEOUT_S,
             watch=[scheduler])

    assert within(LOCK_TIMEOUT_S, lambda: task_pid in site.dms_readers()), (
        f"the task's process {task_pid} (database open: {open_by(task_pid, site.db)}) holds no "
        f"read lock on the DMS byte; holders: {sorted(site.dms_readers())}, scheduler "
        f"{scheduler.pid}")
    assert within(LOCK_TIMEOUT_S, lambda: set(site.database_users()) <= site.dms_readers()), (
        f"processes with the database open: {site.database_users()}, holding the DMS lock: "
        f"{sorted(site.dms_readers())}")

    (site.out / "release").touch()
    wait_for("the run finished", lambda: site.runs("held_python") == {"r000": "success"},
             timeout=60, watch=[scheduler])
    assert scheduler.stop() == 0, scheduler.describe()


# -- 3. kill -9 at random points with short-lived commands in between, x10 ----------------------


def test_kill_9_at_random_points_with_cli_commands_in_between_loses_no_outcome(site: Site) -> None:
    """Issue 12 §1: ten times, kill -9 the scheduler at a random point while tries run, then
    run short-lived commands (a ``sqlite3`` open and close, ``dags list``, ``dags list-runs``)
    while its orphaned workers finish; then a last scheduler finishes the work. Every try's
    outcome in the database is the one its log states, no task ran twice (the retry a lost
    success would cause), and no try is left queued or running."""
    site.add_dags("crashload.py", CRASH_DAG, RUNS=CRASH_RUNS, TASKS=CRASH_TASKS)
    run_ids = site.trigger("crashload", CRASH_RUNS)
    total = CRASH_RUNS * CRASH_TASKS
    rng = random.Random(CRASH_SEED)
    orphans = []  # per kill: the orphaned processes that had the database open
    for i in range(CRASH_KILLS):
        started = len(site.executed())
        process = site.scheduler(f"killed-{i}", "-p", CRASH_PARALLELISM)
        wait_for("the scheduler registered", lambda: site.registered(process), timeout=60,
                 watch=[process])
        # A random point while this scheduler's tries run: after its first few started.
        target = min(started + rng.randint(1, 4), total)
        wait_for("the scheduler started tries", lambda: len(site.executed()) >= target,
                 timeout=60, watch=[process])
        time.sleep(rng.uniform(0, 0.3))
        assert process.alive(), process.describe()
        process.kill9()
        orphans.append(len(site.database_users()))
        site.open_and_close()
        site.cli("dags", "list")
        site.cli("dags", "list-runs", "crashload")

    assert any(orphans), f"no kill left a worker mid-try: {orphans}"
    final = site.scheduler("final", "-p", CRASH_PARALLELISM)
    wait_for("every run finished", lambda: all(
        state in ("success", "failed") for state in site.runs("crashload").values()),
        timeout=FINISH_TIMEOUT_S, watch=[final], interval=0.25)
    assert final.stop() == 0, final.describe()
    wait_for("the orphaned workers exited", lambda: not site.marked(), timeout=60)

    tis = site.tis("crashload")
    # Each try's outcome as its log states it: the last try in task_instance, earlier ones in
    # task_instance_history.
    recorded = {(run, task, ti.try_number): ti.state for (run, task), ti in tis.items()}
    recorded.update(site.history("crashload"))
    stated = site.try_logs("crashload")
    differ = {key: (outcome, recorded.get(key)) for key, outcome in stated.items()
              if outcome and recorded.get(key) != outcome}
    assert differ == {}, f"{len(differ)} tries whose (log, database) outcomes differ"
    assert [key for key, state in recorded.items()
            if state == "success" and stated.get(key) != "success"] == []
    executed = Counter((run, task) for run, task, _ in site.executed())
    assert sorted(key for key, n in executed.items() if n > 1) == [], "tasks run twice"
    assert set(executed) == set(tis)
    assert Counter(ti.state for ti in tis.values()) == Counter({"success": total})
    assert site.runs("crashload") == dict.fromkeys(run_ids, "success")


# -- 4. a clean stop leaves no process behind (issue 12 §3) --------------------------------------


@pytest.mark.parametrize("stop", ["sigterm", "num-runs"])
def test_a_clean_scheduler_stop_leaves_no_worker_or_task_process(site: Site, stop: str) -> None:
    """Issue 12 §3: after a scheduler stops cleanly (SIGTERM while a Bash try with a
    background child and a Python try run, or the end of ``--num-runs`` loops after both
    tries), no process it started remains: no worker, no task, no background child of a
    Bash task (``sleep 300 &``). Each carries the scheduler's unique environment marker;
    ``/proc/*/environ`` is what ``ps e`` shows."""
    site.add_dags("leaver.py", LEAVER_DAG, WAIT=stop == "sigterm")
    site.trigger("leaver", 1)
    child_file = site.out / "child"
    pid_file = site.out / "pid"
    if stop == "sigterm":
        scheduler = site.scheduler("scheduler")
        wait_for("the Bash task started its child and the Python task runs",
                 lambda: read_pid(child_file) and read_pid(pid_file), timeout=60,
                 watch=[scheduler])
        # The marker finds them: the background child, the Python task's process, the scheduler.
        marked = set(site.marked())
        assert {read_pid(child_file), read_pid(pid_file), scheduler.pid} <= marked
        assert scheduler.stop() == 0, scheduler.describe()
    else:
        scheduler = site.scheduler("scheduler", "--num-runs", "50")
        assert scheduler.proc.wait(timeout=120) == 0, scheduler.describe()
        assert child_file.exists() and pid_file.exists(), "the tasks never ran"
        assert {ti.state for ti in site.tis("leaver").values()} == {"success"}
    # Bounded: a process SIGKILLed by the scheduler as it exited may take a moment to go.
    deadline = time.monotonic() + 10
    while (left := site.marked()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == [], f"processes left behind: {command_lines(left)}"
