"""A throw-away Redis server and a CeleryExecutor deployment for the integration tests.

Design note. :class:`RedisServer` is ``redis-server`` on a free loopback port, without
persistence (``--save "" --appendonly no``: a restart loses every message, as a crashed broker
without persistence does), restartable on the same port. :class:`CeleryWorld` is one test's
deployment on the throw-away PostgreSQL database: a DAG folder, ``dagcore celery worker``
processes (each in a session of its own, marked by ``TEST_WORKER=<name>`` in its environment,
which its pool processes and their tasks inherit) and a ``dagcore scheduler`` with
``[core] executor = CeleryExecutor``; :meth:`CeleryWorld.close` stops them and kills whatever
is left of their sessions. Nothing here measures time: deadlines only turn hangs into failures.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from scheduler_process import DagcoreProcess, dagcore_env, reap_sessions, session_pids, wait_for
from sqlalchemy.engine import Engine

from dagcore.api.common import trigger_dag
from dagcore.dag_processing import sync_dags
from dagcore.db import migrate, transaction
from dagcore.models import tables as t

START = datetime(2025, 1, 1, tzinfo=UTC)
FINISH_TIMEOUT_S = 180.0  # only turns a hang into a failure
START_TIMEOUT_S = 60.0

# Small intervals: the executor reads the database states every half second and sends a try
# again 3 s after a lost message.
FAST_CELERY = {
    "DAGCORE__CORE__EXECUTOR": "CeleryExecutor",
    "DAGCORE__CELERY__STATE_CHECK_INTERVAL": "0.5",
    "DAGCORE__CELERY__STATE_CHECK_MIN_AGE": "1",
    "DAGCORE__CELERY__TASK_RESEND_TIMEOUT": "3",
    "DAGCORE__CELERY__TASK_MAX_RESENDS": "3",
}

# Each try of each task appends "<run_id> <task_id> <try_number> <worker> <pid>" to EXECUTIONS
# (one O_APPEND write, which the kernel keeps whole) and sleeps SLEEP seconds.
RECORD = """\
import os
import time

EXECUTIONS = @EXECUTIONS@


def record(ti):
    line = (f"{ti.run_id} {ti.task_id} {ti.try_number} "
            f"{os.environ.get('TEST_WORKER', '?')} {os.getpid()}\\n")
    fd = os.open(EXECUTIONS, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    time.sleep(@SLEEP@)
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """``redis-server`` on 127.0.0.1:<free port>, no persistence; :meth:`restart` keeps the
    port."""

    def __init__(self, root: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            message = "redis-server not found"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"{message}; CI must install it (scripts/bootstrap.sh)")
            pytest.skip(message)
        self.binary = binary
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.starts += 1
        with open(self.root / f"redis-{self.starts}.log", "wb") as out:
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.root)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        wait_for("redis-server answers PING", self.ping, timeout=START_TIMEOUT_S,
                 interval=0.02)

    def ping(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"redis-server exited: {self.log()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def log(self) -> str:
        path = self.root / f"redis-{self.starts}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        """Stop it (its lists and results are lost) and start it again on the same port."""
        self.stop()
        self.start()


class CeleryWorld:
    """One test's database, DAG folder, Redis, workers and scheduler."""

    def __init__(self, engine: Engine, root: Path, redis: RedisServer, **extra: str) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=False)
        self.redis = redis
        self.home = root / "home"
        self.dags = root / "dags"
        self.out = root / "out"
        for folder in (self.home, self.dags, self.out):
            folder.mkdir(parents=True, exist_ok=True)
        self.executions = self.out / "executions.log"
        self.env = dagcore_env(self.home, db_url=self.url, dags_folder=self.dags,
                               DAGCORE__CELERY__BROKER_URL=redis.url,
                               DAGCORE__CELERY__RESULT_BACKEND=redis.url, **FAST_CELERY,
                               **extra)
        self.workers: dict[str, DagcoreProcess] = {}
        self.processes: list[DagcoreProcess] = []
        self.killed: list[DagcoreProcess] = []
        migrate(engine)

    # -- DAGs and runs ------------------------------------------------------------------------

    def add_dag(self, filename: str, text: str, *, sleep: float = 0.0) -> None:
        """Write a DAG file (RECORD, then ``text``), store its DAGs, unpause them."""
        source = RECORD + textwrap.dedent(text)
        source = (source.replace("@EXECUTIONS@", repr(str(self.executions)))
                  .replace("@SLEEP@", repr(sleep)).replace("@OUT@", repr(str(self.out))))
        (self.dags / filename).write_text(source)
        result = sync_dags(self.dags, engine=self.engine, min_update_interval=timedelta(0))
        assert not result.import_errors, result.import_errors
        with transaction(self.engine) as conn:
            conn.execute(t.dag.update().values(is_paused=False))

    def trigger(self, dag_id: str, count: int) -> list[str]:
        run_ids = [f"r{i:03d}" for i in range(count)]
        for i, run_id in enumerate(run_ids):
            trigger_dag(dag_id, run_id=run_id, logical_date=START + timedelta(hours=i),
                        engine=self.engine)
        return run_ids

    def runs(self, dag_id: str) -> dict[str, str]:
        dr = t.dag_run
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(dr.c.run_id, dr.c.state)
                                     .where(dr.c.dag_id == dag_id)).all())

    def unfinished_runs(self, dag_id: str) -> int:
        return sum(state not in ("success", "failed") for state in self.runs(dag_id).values())

    @property
    def live(self) -> list[DagcoreProcess]:
        """The processes not killed on purpose (a wait fails if one of them exits)."""
        return [p for p in self.processes if p not in self.killed]

    def wait_finished(self, dag_id: str) -> None:
        wait_for(f"every run of {dag_id} finished", lambda: self.unfinished_runs(dag_id) == 0,
                 timeout=FINISH_TIMEOUT_S, watch=self.live, interval=0.25)

    def tis(self, dag_id: str) -> list[Any]:
        ti = t.task_instance
        with self.engine.connect() as conn:
            return conn.execute(sa.select(ti).where(ti.c.dag_id == dag_id)).all()

    def executions_log(self) -> list[tuple[str, str, int, str, int]]:
        """(run_id, task_id, try_number, worker, pid) per line of EXECUTIONS."""
        if not self.executions.exists():
            return []
        lines = []
        for line in self.executions.read_text().splitlines():
            run_id, task_id, try_number, worker, pid = line.split()
            lines.append((run_id, task_id, int(try_number), worker, int(pid)))
        return lines

    def executed_once(self) -> dict[tuple[str, str], str]:
        """(run_id, task_id) -> the worker of its last try, after checking that no try ran
        twice."""
        lines = self.executions_log()
        tries = Counter((run_id, task_id, try_number) for run_id, task_id, try_number, _, _
                        in lines)
        twice = {k: n for k, n in tries.items() if n > 1}
        assert not twice, f"tries executed more than once: {twice}"
        last: dict[tuple[str, str], tuple[int, str]] = {}
        for run_id, task_id, try_number, worker, _ in lines:
            if try_number >= last.get((run_id, task_id), (0, ""))[0]:
                last[(run_id, task_id)] = (try_number, worker)
        return {k: worker for k, (_, worker) in last.items()}

    # -- processes ----------------------------------------------------------------------------

    def worker(self, name: str, *, queues: str = "default", concurrency: int = 3
               ) -> DagcoreProcess:
        """``dagcore celery worker`` called ``name``, once Celery says it is ready."""
        env = {**self.env, "TEST_WORKER": name}
        process = DagcoreProcess(
            env, ["celery", "worker", "--queues", queues, "--concurrency", str(concurrency),
                  "--hostname", f"{name}@%h", "--pid", str(self.out / f"{name}.pid"),
                  "--loglevel", "INFO"],
            logs=self.out, name=f"worker-{name}-{len(self.processes)}")
        self.processes.append(process)
        self.workers[name] = process
        wait_for(f"worker {name} ready", lambda: " ready." in process.stderr,
                 timeout=START_TIMEOUT_S, watch=[process], interval=0.05)
        return process

    def scheduler(self, parallelism: int = 8) -> DagcoreProcess:
        process = DagcoreProcess(self.env, ["scheduler", "-p", str(parallelism)],
                                 logs=self.out, name=f"scheduler-{len(self.processes)}")
        self.processes.append(process)
        return process

    def kill_worker(self, name: str) -> None:
        """SIGKILL the whole process group of worker ``name`` (a machine lost)."""
        process = self.workers[name]
        self.killed.append(process)
        os.killpg(process.pid, signal.SIGKILL)
        process.proc.wait(timeout=30)
        wait_for(f"every process of worker {name} gone", lambda: not session_pids(process.pid),
                 timeout=30)

    def close(self) -> list[int]:
        """Stop the scheduler(s), then the workers (SIGTERM), then kill what is left of their
        sessions; the pids that had to be killed."""
        for process in self.processes:
            if process.alive() and "scheduler" in process.out_path.name:
                process.stop()
        for process in self.processes:
            if process.alive():
                process.signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while any(p.alive() for p in self.processes) and time.monotonic() < deadline:
            time.sleep(0.05)
        return reap_sessions(self.processes, grace=5)
