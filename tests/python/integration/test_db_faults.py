"""SQLite faults under a running ``dagcore scheduler`` process (issue 12 §5).

* The database file is deleted (with its ``-wal`` and ``-shm``), or replaced by another file,
  while a try runs: the scheduler stops with one line naming the path and exit status 1, its
  running try is terminated (as on SIGTERM), and it writes nothing at the path.
* Another program holds the write lock longer than the busy timeout while a try's task has
  finished: the scheduler stops with one line naming the file, the timeout and the holder, and
  the try keeps its success, executed once, also after a restart.

Real subprocesses and real SQLite files (:mod:`scheduler_process`); the waits only turn a hang
into a failure, nothing measures time. Airflow's scheduler also stops on an exception in its
loop and then ends its executor, whose LocalExecutor waits for the running tries
(airflow/jobs/scheduler_job_runner.py ``SchedulerJobRunner._execute``: ``except Exception:
log.exception(...); raise`` then ``finally: executor.end()``).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from scheduler_process import (
    DagcoreProcess,
    dagcore_env,
    reap_sessions,
    run_cli,
    session_pids,
    wait_for,
)

from dagcore.db.sqlite_file import lock_holders

pytestmark = pytest.mark.integration

WAIT_S = 60.0  # only turns a hang into a failure
BUSY_TIMEOUT_S = "1"

# Two DAGs of one task, which records each try in out/executions.log (one O_APPEND write, kept
# whole by the kernel), touches out/<dag_id>.started, waits until the test touches
# out/<dag_id>.go ("sleeper" never gets it), then touches out/<dag_id>.done and returns None (no
# XCom to push: the only write after its work is the try's outcome).
DAG_FILE = """\
import os
import time
from datetime import UTC, datetime

from dagcore import DAG
from dagcore.operators.python import PythonOperator

OUT = @OUT@


def record(ti):
    fd = os.open(os.path.join(OUT, "executions.log"),
                 os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, f"{ti.dag_id} {ti.try_number} {os.getpid()}\\n".encode())
    finally:
        os.close(fd)
    open(os.path.join(OUT, f"{ti.dag_id}.started"), "w").close()
    while not os.path.exists(os.path.join(OUT, f"{ti.dag_id}.go")):
        time.sleep(0.05)
    print("the task's work is done")
    open(os.path.join(OUT, f"{ti.dag_id}.done"), "w").close()


for dag_id in ("sleeper", "quick"):
    with DAG(dag_id, start_date=datetime(2025, 1, 1, tzinfo=UTC), schedule=None):
        PythonOperator(task_id="work", python_callable=record, retries=1)
"""


class Home:
    """A DAGCORE_HOME with its SQLite database, the DAG file above and the schedulers run."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.dags = root / "dags"
        self.out = root / "out"
        for folder in (self.home, self.dags, self.out):
            folder.mkdir()
        self.db = self.home / "dagcore.db"
        self.env = dagcore_env(self.home, db_url=f"sqlite:///{self.db}", dags_folder=self.dags,
                               DAGCORE__DATABASE__SQLITE_BUSY_TIMEOUT=BUSY_TIMEOUT_S)
        (self.dags / "faults.py").write_text(
            textwrap.dedent(DAG_FILE).replace("@OUT@", repr(str(self.out))))
        self.processes: list[DagcoreProcess] = []
        for args in (["db", "migrate"], ["dags", "reserialize"], ["dags", "unpause", "sleeper"],
                     ["dags", "unpause", "quick"]):
            done = run_cli(self.env, *args)
            assert done.returncode == 0, done.stderr

    def trigger(self, dag_id: str) -> None:
        done = run_cli(self.env, "dags", "trigger", dag_id, "--run-id", "r1")
        assert done.returncode == 0, done.stderr

    def scheduler(self, name: str) -> DagcoreProcess:
        process = DagcoreProcess(self.env, ["scheduler"], logs=self.out, name=name)
        self.processes.append(process)
        return process

    def query(self, sql: str) -> list[Any]:
        """Rows of ``sql``, read with a connection of its own (closed at once)."""
        engine = sa.create_engine(f"sqlite:///{self.db}", poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                return list(conn.execute(sa.text(sql)).all())
        finally:
            engine.dispose()

    def executions(self, dag_id: str) -> list[str]:
        path = self.out / "executions.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [line for line in lines if line.split()[0] == dag_id]

    def task_log(self, dag_id: str, try_number: int = 1) -> str:
        path = (self.home / "logs" / f"dag_id={dag_id}" / "run_id=r1" / "task_id=work"
                / f"attempt={try_number}.log")
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    h = Home(tmp_path)
    try:
        yield h
    finally:
        reap_sessions(h.processes)


def _last_line(process: DagcoreProcess) -> str:
    lines = process.stderr.strip().splitlines()
    return lines[-1] if lines else ""


# -- the database file deleted or replaced ---------------------------------------------------------


def _delete(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def _replace(db: Path) -> None:
    """``mv copy.db dagcore.db``: a consistent copy (SQLite's backup API) takes the path."""
    copy = db.with_name("copy.db")
    source, target = sqlite3.connect(db), sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    os.replace(copy, db)


@pytest.mark.parametrize("change, what", [
    (_delete, "deleted while this process was using it; stopping (its writes would go to the "
              "deleted file)"),
    (_replace, "replaced by another file while this process was using it; stopping (its "
               "writes would go to the old file)"),
], ids=["deleted", "replaced"])
def test_a_scheduler_whose_database_file_goes_stops_with_one_line(
        home: Home, change: Any, what: str) -> None:
    """Before: the scheduler went on writing into the unlinked file (a run "succeeded" there)
    and exited 0 at SIGTERM."""
    home.trigger("sleeper")
    scheduler = home.scheduler("scheduler")
    wait_for("the try started", lambda: (home.out / "sleeper.started").exists(),
             timeout=WAIT_S, watch=[scheduler])
    task_pids = [int(line.split()[2]) for line in home.executions("sleeper")]
    identity = os.stat(home.db).st_ino

    change(home.db)
    wait_for("the scheduler exited", lambda: not scheduler.alive(), timeout=WAIT_S)

    assert scheduler.proc.returncode == 1, scheduler.describe()
    assert _last_line(scheduler) == (
        f"dagcore: error: the SQLite database file {home.db} was {what}"), scheduler.describe()
    assert "Traceback" not in scheduler.stderr, scheduler.describe()
    # The running try was terminated as on SIGTERM (its task saw TaskTerminated), and no
    # process of the scheduler's is left.
    assert "Received SIGTERM" in home.task_log("sleeper")
    assert session_pids(scheduler.pid) == []
    assert not any(Path(f"/proc/{pid}").exists() for pid in task_pids)
    if change is _delete:
        # Nothing was written at the path: no empty database appeared there.
        assert not home.db.exists()
    else:
        assert os.stat(home.db).st_ino != identity


# -- the write lock held past the busy timeout -----------------------------------------------------


def test_a_lock_held_past_the_busy_timeout_stops_the_scheduler_and_keeps_the_success(
        home: Home) -> None:
    """Before: the try's process gave up recording its success after three attempts and
    exited 1, and the try was failed (here: retried, so its task ran twice)."""
    home.trigger("quick")
    scheduler = home.scheduler("locked")
    wait_for("the try started", lambda: (home.out / "quick.started").exists(),
             timeout=WAIT_S, watch=[scheduler])

    holder = sqlite3.connect(home.db, isolation_level=None, timeout=WAIT_S)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the write lock, until ROLLBACK
        (home.out / "quick.go").touch()  # the task ends while the lock is held
        wait_for("the task's work was done", lambda: (home.out / "quick.done").exists(),
                 timeout=WAIT_S)
        # Held until the try's process failed to record its outcome three times (it gave up
        # there before) and the scheduler met the lock, or exited.
        wait_for("the outcome write and the scheduler met the lock",
                 lambda: not scheduler.alive() or (
                     home.task_log("quick").count("recording the outcome") >= 3
                     and "was locked for longer than" in scheduler.stderr),
                 timeout=WAIT_S)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    wait_for("the scheduler exited", lambda: not scheduler.alive(), timeout=WAIT_S)

    assert home.query("SELECT state, try_number FROM task_instance WHERE dag_id = 'quick'") == [
        ("success", 1)]
    assert "Marking task as SUCCESS" in home.task_log("quick")
    assert scheduler.proc.returncode == 1, scheduler.describe()
    assert _last_line(scheduler) == (
        f"dagcore: error: the SQLite database {home.db} was locked for longer than "
        f"{BUSY_TIMEOUT_S} s (the busy timeout, [database] sqlite_busy_timeout); held by pid "
        f"{os.getpid()} ({_cmdline(os.getpid())})"), scheduler.describe()
    assert "Traceback" not in scheduler.stderr, scheduler.describe()

    # A restarted scheduler finishes the run; the try ran once.
    restarted = home.scheduler("restarted")
    wait_for("the run finished",
             lambda: home.query("SELECT state FROM dag_run WHERE dag_id = 'quick'") in (
                 [("success",)], [("failed",)]),
             timeout=WAIT_S, watch=[restarted])
    assert restarted.stop() == 0, restarted.describe()
    assert home.query("SELECT state FROM dag_run WHERE dag_id = 'quick'") == [("success",)]
    assert home.query("SELECT state, try_number FROM task_instance WHERE dag_id = 'quick'") == [
        ("success", 1)]
    assert len(home.executions("quick")) == 1, home.executions("quick")


def _cmdline(pid: int) -> str:
    text = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    return text if len(text) <= 120 else text[:117] + "..."


def test_a_dag_processor_whose_database_file_is_deleted_stops_with_one_line(home: Home) -> None:
    """Before: it went on parsing into the deleted file every interval until stopped."""
    processor = DagcoreProcess(home.env, ["dag-processor", "--interval", "0.2"], logs=home.out,
                               name="processor")
    home.processes.append(processor)
    # Its first line, then one line per pass: two passes done.
    wait_for("two passes", lambda: len(processor.stdout.splitlines()) >= 3, timeout=WAIT_S,
             watch=[processor])
    _delete(home.db)
    wait_for("the DAG processor exited", lambda: not processor.alive(), timeout=WAIT_S)

    assert processor.proc.returncode == 1, processor.describe()
    assert _last_line(processor) == (
        f"dagcore: error: the SQLite database file {home.db} was deleted while this process "
        f"was using it; stopping (its writes would go to the deleted file)")
    assert not home.db.exists()


def _holding(db: Path, *statements: str) -> subprocess.Popen[str]:
    """Another process that runs ``statements`` on ``db`` and waits for a line on stdin."""
    script = textwrap.dedent(f"""\
        import sqlite3, sys
        con = sqlite3.connect({str(db)!r}, isolation_level=None)
        for statement in {list(statements)!r}:
            con.execute(statement).fetchall()
        print("ready", flush=True)
        sys.stdin.readline()
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_lock_holders_names_the_process_holding_the_write_lock(tmp_path: Path,
                                                               journal_mode: str) -> None:
    """WAL: the write lock is byte 120 of the -shm file; rollback journal: the database
    file's lock bytes (sqlite3 os_unix.c). A reader in a transaction is not a holder."""
    db = tmp_path / "locked.db"
    setup = sqlite3.connect(db, isolation_level=None)
    setup.execute(f"PRAGMA journal_mode={journal_mode}")
    setup.execute("CREATE TABLE t (x)")
    setup.close()
    reader = _holding(db, "BEGIN", "SELECT count(*) FROM t")
    try:
        writer = _holding(db, "BEGIN IMMEDIATE")
        try:
            holders = lock_holders(db)
            assert [pid for pid, _ in holders] == [writer.pid]
            assert holders[0][1].startswith(f"{sys.executable} -c import sqlite3")
        finally:
            writer.communicate("\n", timeout=WAIT_S)
        assert lock_holders(db) == []
    finally:
        reader.communicate("\n", timeout=WAIT_S)
