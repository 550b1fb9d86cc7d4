"""LocalExecutor with real forked processes, driven by fake runners.

The runners are top-level functions passed as ``runner=`` so these tests do not depend on the
task runner; each finds its output directory through ``DAGCORE_HOME`` (set per test, inherited
by the children). Ordering is checked through what the children record (single ``O_APPEND``
writes, which the kernel orders), never through timings; the only time limits here turn a hang
into a failure.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dagcore.executors import (
    ExecutorEvent,
    LocalExecutor,
    TaskInstanceKey,
    TaskWorkload,
    log_path_for,
)

pytestmark = pytest.mark.integration

HANG_TIMEOUT_S = 30.0  # only turns a hang into a failure; never a measure of speed


# -- fake runners (run in the forked child) -----------------------------------------------------


def _out() -> Path:
    return Path(os.environ["DAGCORE_HOME"]) / "out"


def _append(name: str, line: str) -> None:
    fd = os.open(_out() / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())  # one write: atomic with O_APPEND
    finally:
        os.close(fd)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.rename(path)


def write_marker(workload: TaskWorkload) -> None:
    _write_atomic(_out() / f"{workload.key.task_id}.done", str(os.getpid()))


def raise_error(workload: TaskWorkload) -> None:
    raise RuntimeError(f"boom from {workload.key.task_id}")


def exit_3(workload: TaskWorkload) -> None:
    os._exit(3)


def sys_exit_4(workload: TaskWorkload) -> None:
    sys.exit(4)


def kill_self(workload: TaskWorkload) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def print_text(workload: TaskWorkload) -> None:
    print(f"hello stdout from {workload.key.task_id}")
    print("hello stderr", file=sys.stderr)
    subprocess.run(["sh", "-c", "echo hello from a subprocess"], check=True)


def record_environment(workload: TaskWorkload) -> None:
    _write_atomic(_out() / "env.json", json.dumps({
        "pid": os.getpid(),
        "pgid": os.getpgid(0),
        "stdin": sys.stdin.read(),
        "sigterm_default": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
        "sigint_default": signal.getsignal(signal.SIGINT) == signal.SIG_DFL,
        "sigchld_default": signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL,
        "wakeup_fd": signal.set_wakeup_fd(-1),  # returns the previous one
    }))


# What the fork server imports for its workers (dagcore.executors.forkserver._preload).
PRELOADED = ("dagcore.dag_code_store", "dagcore.dagbag", "dagcore.mapping",
             "dagcore.compat.airflow", "dagcore.operators.python", "dagcore.operators.bash",
             "jinja2.ext", "jinja2.nativetypes")


def record_modules(workload: TaskWorkload) -> None:
    from dagcore.compat import airflow as compat

    _write_atomic(_out() / "modules.json", json.dumps({
        "loaded": sorted(name for name in PRELOADED if name in sys.modules),
        "compat_installed": compat.is_installed(),
    }))


def record_interval(workload: TaskWorkload) -> None:
    _append("intervals", f"start {workload.key.task_id}")
    time.sleep(0.05)  # widens the overlap window; correctness does not depend on it
    _append("intervals", f"end {workload.key.task_id}")


def sleep_with_grandchild(workload: TaskWorkload) -> None:
    child = subprocess.Popen(["sleep", "60"])
    _write_atomic(_out() / f"{workload.key.task_id}.grandchild", str(child.pid))
    time.sleep(60)


def ignore_sigterm_and_sleep(workload: TaskWorkload) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _write_atomic(_out() / f"{workload.key.task_id}.ready", "")
    time.sleep(60)


# -- helpers ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    (tmp_path / "out").mkdir()
    return tmp_path


@pytest.fixture
def executors() -> Iterator[Callable[..., LocalExecutor]]:
    """Builds started executors and makes sure none leaves a process behind."""
    made: list[LocalExecutor] = []

    def make(*args: object, **kwargs: object) -> LocalExecutor:
        executor = LocalExecutor(*args, **kwargs)  # type: ignore[arg-type]
        executor.start()
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.terminate(grace=1.0)


def workload(task_id: str, *, try_number: int = 1, fileloc: str | None = None) -> TaskWorkload:
    key = TaskInstanceKey("dag", task_id, "run_1", try_number)
    return TaskWorkload(ti_id=f"ti-{task_id}", key=key, dag_version_id=None, fileloc=fileloc,
                        log_path=str(log_path_for(key)))


def wait_for(path: Path) -> Path:
    deadline = time.monotonic() + HANG_TIMEOUT_S
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.005)
    return path


def drain(executor: LocalExecutor, check: Callable[[], None] = lambda: None) -> list[ExecutorEvent]:
    """Heartbeats until nothing is running, calling ``check`` after each heartbeat."""
    deadline = time.monotonic() + HANG_TIMEOUT_S
    events: list[ExecutorEvent] = []
    while True:
        events += executor.heartbeat()
        check()
        if not executor.running:
            return events
        assert time.monotonic() < deadline, f"still running: {executor.running}"
        time.sleep(0.002)


def run_one(make: Callable[..., LocalExecutor], runner: Callable[[TaskWorkload], object],
            w: TaskWorkload) -> ExecutorEvent:
    executor = make(1, runner=runner)
    executor.queue_workload(w)
    (event,) = drain(executor)
    assert (event.key, event.ti_id) == (w.key, w.ti_id)
    return event


def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_gone(pid: int) -> None:
    deadline = time.monotonic() + HANG_TIMEOUT_S
    while not process_gone(pid):
        assert time.monotonic() < deadline, f"process {pid} is still alive"
        time.sleep(0.005)


# -- tests --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("runner", "state", "info"),
    [
        pytest.param(write_marker, "success", None, id="returns"),
        pytest.param(raise_error, "failed", "exit status 1", id="raises"),
        pytest.param(exit_3, "failed", "exit status 3", id="os-_exit-3"),
        pytest.param(sys_exit_4, "failed", "exit status 4", id="sys-exit-4"),
        pytest.param(kill_self, "failed", "killed by signal SIGKILL", id="sigkill"),
    ],
)
def test_event_reports_how_the_process_ended(
    executors: Callable[..., LocalExecutor], runner: Callable[[TaskWorkload], object],
    state: str, info: str | None,
) -> None:
    event = run_one(executors, runner, workload("t"))
    assert (event.state, event.info) == (state, info)


def test_runner_runs_in_a_child_process(executors: Callable[..., LocalExecutor],
                                        home: Path) -> None:
    run_one(executors, write_marker, workload("t"))
    pid = int((home / "out" / "t.done").read_text())
    assert pid != os.getpid()


def test_traceback_of_a_raising_runner_is_in_the_log(
    executors: Callable[..., LocalExecutor],
) -> None:
    w = workload("t")
    run_one(executors, raise_error, w)
    text = Path(w.log_path).read_text()
    assert "Traceback" in text
    assert "RuntimeError: boom from t" in text


def test_output_of_the_task_and_its_subprocesses_is_appended_to_the_log(
    executors: Callable[..., LocalExecutor], home: Path,
) -> None:
    w = workload("printer", try_number=2)
    assert Path(w.log_path).is_relative_to(home)
    Path(w.log_path).parent.mkdir(parents=True)
    Path(w.log_path).write_text("written before\n")
    run_one(executors, print_text, w)
    lines = Path(w.log_path).read_text().splitlines()
    assert lines[0] == "written before"
    assert set(lines[1:]) == {
        "hello stdout from printer", "hello stderr", "hello from a subprocess"}


def test_child_has_its_own_group_default_handlers_and_no_stdin(
    executors: Callable[..., LocalExecutor], home: Path,
) -> None:
    # What a scheduler installs: its own handlers and a wake-up fd shared with its children.
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    wake_r, wake_w = socket.socketpair()
    wake_w.setblocking(False)
    previous_fd = signal.set_wakeup_fd(wake_w.fileno())
    try:
        run_one(executors, record_environment, workload("t"))
    finally:
        signal.set_wakeup_fd(previous_fd)
        signal.signal(signal.SIGTERM, previous)
        wake_r.close()
        wake_w.close()
    env = json.loads((home / "out" / "env.json").read_text())
    assert env["pgid"] == env["pid"] != os.getpid()
    assert env["stdin"] == ""
    assert env["sigterm_default"] and env["sigint_default"] and env["sigchld_default"]
    assert env["wakeup_fd"] == -1


def test_never_more_than_parallelism_processes(
    executors: Callable[..., LocalExecutor], home: Path,
) -> None:
    executor = executors(2, runner=record_interval)
    for i in range(6):
        executor.queue_workload(workload(f"t{i}"))
    assert executor.slots_available == 0

    live_counts: list[int] = []
    events = drain(executor, check=lambda: live_counts.append(len(executor.pids)))

    assert sorted(e.key.task_id for e in events) == [f"t{i}" for i in range(6)]
    assert {e.state for e in events} == {"success"}
    assert max(live_counts) <= 2
    alive, most = 0, 0
    for line in (home / "out" / "intervals").read_text().splitlines():
        alive += 1 if line.startswith("start ") else -1
        most = max(most, alive)
    assert alive == 0
    assert most <= 2


def test_scheduler_style_loop_runs_everything(executors: Callable[..., LocalExecutor],
                                              home: Path) -> None:
    """As the scheduler drives it: heartbeat, then queue up to slots_available."""
    executor = executors(2, runner=write_marker)
    todo = deque(workload(f"t{i}") for i in range(10))
    done: list[ExecutorEvent] = []
    deadline = time.monotonic() + HANG_TIMEOUT_S
    while todo or executor.running:
        assert time.monotonic() < deadline, f"still running: {executor.running}"
        done += executor.heartbeat()
        for _ in range(min(executor.slots_available, len(todo))):
            executor.queue_workload(todo.popleft())
        assert len(executor.running) <= 2
        time.sleep(0.001)
    assert sorted(e.key.task_id for e in done) == sorted(f"t{i}" for i in range(10))
    assert {e.state for e in done} == {"success"}
    assert len(list((home / "out").glob("*.done"))) == 10


def test_duplicate_key_is_ignored(executors: Callable[..., LocalExecutor],
                                  caplog: pytest.LogCaptureFixture) -> None:
    executor = executors(4, runner=write_marker)
    w = workload("t")
    executor.queue_workload(w)
    executor.queue_workload(w)
    assert "already queued or running" in caplog.text
    assert executor.running == {w.key}
    executor.heartbeat()
    executor.queue_workload(w)  # now running: still ignored
    events = drain(executor)
    assert [e.key for e in events] == [w.key]


def test_end_waits_for_everything(executors: Callable[..., LocalExecutor], home: Path) -> None:
    executor = executors(2, runner=write_marker)
    for i in range(5):
        executor.queue_workload(workload(f"t{i}"))
    events = executor.end()
    assert sorted(e.key.task_id for e in events) == [f"t{i}" for i in range(5)]
    assert not executor.running
    assert len(list((home / "out").glob("*.done"))) == 5


def test_end_with_timeout_terminates(executors: Callable[..., LocalExecutor],
                                     monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("DAGCORE__CORE__KILLED_TASK_CLEANUP_TIME", "5")
    executor = executors(1, runner=sleep_with_grandchild)
    executor.queue_workload(workload("sleeper"))
    executor.queue_workload(workload("never"))
    executor.heartbeat()
    wait_for(home / "out" / "sleeper.grandchild")
    events = executor.end(timeout=0.1)
    by_task = {e.key.task_id: e for e in events}
    assert by_task["sleeper"].info == "killed by signal SIGTERM"
    assert by_task["never"].state == "failed"
    assert by_task["never"].info == "executor terminated before the task started"
    assert not executor.running
    wait_gone(int((home / "out" / "sleeper.grandchild").read_text()))


def test_terminate_kills_the_task_and_its_subprocesses(
    executors: Callable[..., LocalExecutor], home: Path,
) -> None:
    executor = executors(2, runner=sleep_with_grandchild)
    ws = [workload("a"), workload("b")]
    for w in ws:
        executor.queue_workload(w)
    executor.heartbeat()
    grandchildren = [int(wait_for(home / "out" / f"{w.key.task_id}.grandchild").read_text())
                     for w in ws]
    children = list(executor.pids)

    executor.terminate(grace=5.0)

    assert not executor.running and not executor.pids
    events = executor.heartbeat()
    assert sorted((e.key.task_id, e.state, e.info) for e in events) == [
        ("a", "failed", "killed by signal SIGTERM"),
        ("b", "failed", "killed by signal SIGTERM"),
    ]
    for pid in children + grandchildren:
        wait_gone(pid)
    assert executor.heartbeat() == []


def test_terminate_escalates_to_sigkill(executors: Callable[..., LocalExecutor],
                                        home: Path) -> None:
    executor = executors(1, runner=ignore_sigterm_and_sleep)
    executor.queue_workload(workload("stubborn"))
    executor.heartbeat()
    wait_for(home / "out" / "stubborn.ready")
    executor.terminate(grace=0.2)
    (event,) = executor.heartbeat()
    assert (event.state, event.info) == ("failed", "killed by signal SIGKILL")


def test_terminate_right_after_launch(executors: Callable[..., LocalExecutor]) -> None:
    """The group exists as soon as heartbeat returns (the parent calls setpgid too)."""
    executor = executors(3, runner=ignore_sigterm_and_sleep)
    for i in range(3):
        executor.queue_workload(workload(f"t{i}"))
    executor.heartbeat()
    executor.terminate(grace=0.0)
    events = executor.heartbeat()
    assert len(events) == 3
    assert {e.state for e in events} == {"failed"}
    assert {e.info for e in events} <= {"killed by signal SIGTERM", "killed by signal SIGKILL"}


def test_a_worker_is_reused_up_to_worker_max_tasks(
        executors: Callable[..., LocalExecutor], home: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGCORE__CORE__WORKER_MAX_TASKS", "2")
    executor = executors(1, runner=write_marker)
    for i in range(5):
        executor.queue_workload(workload(f"t{i}"))
    events = drain(executor)
    assert {e.state for e in events} == {"success"}
    pids = [(home / "out" / f"t{i}.done").read_text() for i in range(5)]
    # one worker at a time, each retired after two tries: t0,t1 | t2,t3 | t4
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    assert not executor.pids


def test_a_worker_killed_mid_try_fails_that_try_and_the_next_gets_a_new_worker(
        executors: Callable[..., LocalExecutor], home: Path) -> None:
    executor = executors(1, runner=kill_self)
    executor.queue_workload(workload("killed"))
    (killed,) = drain(executor)
    assert (killed.state, killed.info) == ("failed", "killed by signal SIGKILL")
    executor._runner = pickle.dumps(write_marker)  # the same executor, a runner that works
    executor.queue_workload(workload("after"))
    (after,) = drain(executor)
    assert after.state == "success"
    assert (home / "out" / "after.done").exists()


def test_a_worker_inherits_what_a_first_try_imports(
    executors: Callable[..., LocalExecutor], home: Path,
) -> None:
    """The fork server imported the DAG loader, DagBag, the operator classes and Jinja's
    extensions before forking: the worker's first try finds them loaded. Loading them installs
    nothing: the Airflow-imports compatibility layer is off in a worker that does not run the
    task runner (the worker turns it on itself for the task runner's tries)."""
    run_one(executors, record_modules, workload("t"))
    seen = json.loads((home / "out" / "modules.json").read_text())
    assert seen == {"loaded": sorted(PRELOADED), "compat_installed": False}
