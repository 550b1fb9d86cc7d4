"""A task's processes end with the task, and a try's log has a size cap (issue 12 §3, §5).

Real processes: each Bash command carries a unique marker (a ``sleep`` duration nobody else
uses), and ``/proc/*/cmdline`` tells whether any process with it remains. Airflow kills a Bash
task's whole process group (``airflow/providers/standard/hooks/subprocess.py``:
``os.killpg(os.getpgid(self.sub_process.pid), signal.SIGTERM)``, the group bash leads); dagcore
adds the SIGKILL after ``[core] killed_task_cleanup_time`` and a guard that kills the group when
its worker dies.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dagcore import DAG
from dagcore.configuration import conf_vars
from dagcore.executors import LocalExecutor
from dagcore.executors.base import TaskInstanceKey, TaskWorkload
from dagcore.operators.bash import BashOperator
from dagcore.operators.python import PythonOperator

START = datetime(2024, 1, 1, tzinfo=UTC)
LOGICAL = datetime(2024, 3, 1, tzinfo=UTC)
WAIT_S = 30.0  # a bound on waiting for processes to go, not a timing assertion


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "home"))
    for var in [v for v in os.environ if v.startswith("DAGCORE__")]:
        monkeypatch.delenv(var)


def marker() -> str:
    """A ``sleep`` argument unique to one test: 1000 seconds and some random digits."""
    return f"1000.{uuid.uuid4().int % 10**9:09d}"


def with_marker(mark: str) -> list[int]:
    """Pids of live processes whose command line holds ``mark`` (zombies have none)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if mark.encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def wait_until_gone(mark: str) -> list[int]:
    """Waits (bounded) until no process holds ``mark``; returns those that remain."""
    deadline = time.monotonic() + WAIT_S
    while (left := with_marker(mark)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


def wait_until_present(mark: str) -> list[int]:
    deadline = time.monotonic() + WAIT_S
    while not (found := with_marker(mark)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return found


@pytest.fixture
def cleanup() -> Iterator[list[str]]:
    """Markers whose processes are SIGKILLed after the test, so a failure leaves nothing."""
    marks: list[str] = []
    yield marks
    for mark in marks:
        for pid in with_marker(mark):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def run_dag(tmp_path: Path, task: BashOperator | PythonOperator) -> dict[str, str]:
    dag = DAG("procs", schedule="@once", start_date=START)
    dag.add_task(task)
    result = dag.test(LOGICAL, db_url=f"sqlite:///{tmp_path / 'test.db'}")
    return dict(result.task_states)


def test_a_command_ignoring_sigterm_dies_at_its_execution_timeout(
        tmp_path: Path, cleanup: list[str]) -> None:
    # Airflow: on timeout, on_kill SIGTERMs the group; the supervisor SIGKILLs after the grace.
    mark = marker()
    cleanup.append(mark)
    task = BashOperator(task_id="stubborn", bash_command=f"trap '' TERM; sleep {mark}",
                        execution_timeout=timedelta(seconds=2))
    with conf_vars({("core", "killed_task_cleanup_time"): "1"}):
        assert run_dag(tmp_path, task) == {"stubborn": "failed"}
    assert wait_until_gone(mark) == []


def test_background_children_of_a_finished_task_are_killed(
        tmp_path: Path, cleanup: list[str]) -> None:
    # The task ends when bash exits (Airflow's SubprocessHook waits for bash, not its children);
    # what it left in its process group must not run on, unowned, after the try.
    mark = marker()
    cleanup.append(mark)
    task = BashOperator(task_id="leaves", bash_command=f"sleep {mark} & echo started")
    assert run_dag(tmp_path, task) == {"leaves": "success"}
    assert wait_until_gone(mark) == []


def test_a_background_child_that_ignores_sigterm_is_killed_too(
        tmp_path: Path, cleanup: list[str]) -> None:
    mark = marker()
    cleanup.append(mark)
    task = BashOperator(task_id="leaves", bash_command=f"(trap '' TERM; sleep {mark}) & true")
    assert run_dag(tmp_path, task) == {"leaves": "success"}
    assert wait_until_gone(mark) == []


# -- kill -9 of the worker -----------------------------------------------------------------------


def run_marked_bash(workload: TaskWorkload) -> None:
    """A LocalExecutor runner (in the forked worker): a Bash command that ignores SIGTERM."""
    mark = workload.key.task_id.removeprefix("t")
    BashOperator(task_id="cmd", bash_command=f"trap '' TERM; sleep {mark}").execute({})


def test_a_kill_9_of_the_worker_takes_the_command_with_it(
        tmp_path: Path, cleanup: list[str]) -> None:
    # Airflow's supervisor owns its task's processes; a dead worker must not leave a command
    # running beside the retry the heartbeat timeout will schedule.
    mark = marker()
    cleanup.append(mark)
    key = TaskInstanceKey("dag", f"t{mark}", "run_1", 1)
    executor = LocalExecutor(parallelism=1, runner=run_marked_bash)
    executor.start()
    try:
        executor.queue_workload(TaskWorkload(
            ti_id="ti", key=key, dag_version_id=None, fileloc=None,
            log_path=str(tmp_path / "try.log")))
        executor.heartbeat()
        assert wait_until_present(mark), "the command never started"
        (worker,) = executor.pids
        os.kill(worker, signal.SIGKILL)
        assert wait_until_gone(mark) == []
    finally:
        executor.terminate(grace=1.0)


# -- the log cap --------------------------------------------------------------------------------


def test_a_try_log_stops_at_task_log_max_bytes_with_a_notice(tmp_path: Path) -> None:
    task = BashOperator(task_id="chatty", bash_command="for i in $(seq 1 5000); do "
                        "echo line $i of a chatty task; done; echo the end")
    with conf_vars({("logging", "task_log_max_bytes"): "20000"}):
        assert run_dag(tmp_path, task) == {"chatty": "success"}
    (log,) = (tmp_path / "home" / "logs").rglob("*.log")
    text = log.read_text()
    assert len(text.encode()) <= 20000 + 200  # the cap, and the one-line notice
    assert "reached [logging] task_log_max_bytes (20000 bytes)" in text
    assert "line 1 of a chatty task" in text and "the end" not in text
