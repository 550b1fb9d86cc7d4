"""Executors without real task processes: construction, slots, get_executor, InProcessExecutor.

LocalExecutor with real forked processes is tested in integration/test_local_executor.py.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import types
from pathlib import Path
from typing import Any

import pytest

from dagcore.executors import (
    BaseExecutor,
    ExecutorEvent,
    InProcessExecutor,
    LocalExecutor,
    TaskInstanceKey,
    TaskWorkload,
    get_executor,
    log_path_for,
)
from dagcore.executors.local import _describe_status


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    return tmp_path


def workload(task_id: str, *, dag_id: str = "dag") -> TaskWorkload:
    key = TaskInstanceKey(dag_id, task_id, "run_1", 1)
    return TaskWorkload(ti_id=f"ti-{task_id}", key=key, dag_version_id=None, fileloc=None,
                        log_path=str(log_path_for(key)))


def never_called(workload: TaskWorkload) -> None:
    raise AssertionError("the runner must not run in this test")


# -- LocalExecutor: construction and bookkeeping (no process is started) -------------------------


def test_parallelism_defaults_to_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGCORE__CORE__PARALLELISM", "7")
    assert LocalExecutor().parallelism == 7


@pytest.mark.parametrize(
    ("env", "arg", "message"),
    [
        pytest.param(None, -1, "parallelism must be >= 0 (0: no limit), got -1", id="argument"),
        pytest.param("-3", None, "[core] parallelism must be >= 0 (0: no limit), got -3",
                     id="config"),
    ],
)
def test_negative_parallelism_is_rejected(monkeypatch: pytest.MonkeyPatch, env: str | None,
                                          arg: int | None, message: str) -> None:
    if env is not None:
        monkeypatch.setenv("DAGCORE__CORE__PARALLELISM", env)
    with pytest.raises(ValueError) as excinfo:
        LocalExecutor(arg)
    assert str(excinfo.value) == message


@pytest.mark.parametrize("bad", [1.5, "2", True], ids=repr)
def test_parallelism_must_be_an_int(bad: object) -> None:
    with pytest.raises(TypeError, match="parallelism must be an int"):
        LocalExecutor(bad)  # type: ignore[arg-type]


def test_slots_available_counts_queued_workloads() -> None:
    executor = LocalExecutor(3, runner=never_called)
    assert executor.slots_available == 3
    a, b, c, d = (workload(name) for name in "abcd")
    executor.queue_workload(a)
    executor.queue_workload(b)
    assert executor.slots_available == 1
    assert executor.running == {a.key, b.key}
    assert executor.has_task(a.key) and not executor.has_task(c.key)
    executor.queue_workload(c)
    executor.queue_workload(d)  # accepted beyond the limit: it waits for a free slot
    assert executor.slots_available == 0
    assert len(executor.running) == 4


def test_running_is_a_copy() -> None:
    executor = LocalExecutor(2, runner=never_called)
    executor.queue_workload(workload("a"))
    executor.running.clear()
    assert len(executor.running) == 1


def test_parallelism_zero_means_no_limit() -> None:
    executor = LocalExecutor(0, runner=never_called)
    for i in range(100):
        executor.queue_workload(workload(f"t{i}"))
    assert executor.slots_available == 1 << 30


def test_duplicate_key_is_ignored_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    executor = LocalExecutor(4, runner=never_called)
    w = workload("a")
    executor.queue_workload(w)
    executor.queue_workload(w)
    assert executor.running == {w.key}
    assert executor.slots_available == 3
    assert "already queued or running" in caplog.text
    assert str(w.key) in caplog.text


def test_a_fork_server_that_cannot_start_is_an_immediate_failed_event(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    executor = LocalExecutor(2, runner=never_called)
    w = workload("a")
    executor.queue_workload(w)
    (event,) = executor.heartbeat()
    assert event.state == "failed"
    assert event.info is not None
    assert event.info.startswith("cannot start a worker: cannot start the fork server "
                                 "(/nonexistent/python3): ")
    assert "No such file or directory" in event.info
    assert not executor.running


def test_wait_ready_names_a_fork_server_that_cannot_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dagcore.executors.forkserver import ForkServerError

    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    with pytest.raises(ForkServerError, match=r"^cannot start the fork server "
                       r"\(/nonexistent/python3\): .*No such file or directory"):
        LocalExecutor(1, runner=never_called).wait_ready(timeout=5)


def test_a_runner_that_cannot_be_pickled_is_refused() -> None:
    with pytest.raises(TypeError) as excinfo:
        LocalExecutor(1, runner=lambda w: None)
    assert str(excinfo.value).startswith("runner must be picklable (a module-level function), "
                                         "got <function ")


def test_terminate_drops_workloads_not_started() -> None:
    executor = LocalExecutor(1, runner=never_called)
    w = workload("a")
    executor.queue_workload(w)
    executor.terminate(grace=0)
    assert not executor.running
    assert executor.heartbeat() == [
        ExecutorEvent(w.key, w.ti_id, "failed", "executor terminated before the task started")]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda e: e.end(timeout=-1), "timeout must be >= 0 seconds or None, got -1",
                     id="end"),
        pytest.param(lambda e: e.terminate(grace=-0.5), "grace must be >= 0 seconds, got -0.5",
                     id="terminate"),
    ],
)
def test_negative_waits_are_rejected(call: Any, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        call(LocalExecutor(1, runner=never_called))
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    ("status", "state", "info"),
    [
        pytest.param(0, "success", None, id="exit-0"),
        pytest.param(1 << 8, "failed", "exit status 1", id="exit-1"),
        pytest.param(3 << 8, "failed", "exit status 3", id="exit-3"),
        pytest.param(int(signal.SIGKILL), "failed", "killed by signal SIGKILL", id="sigkill"),
        pytest.param(int(signal.SIGTERM), "failed", "killed by signal SIGTERM", id="sigterm"),
        pytest.param(None, "failed",
                     "exit status unknown (the fork server that started it is gone)",
                     id="reaped-elsewhere"),
    ],
)
def test_describe_status(status: int | None, state: str, info: str | None) -> None:
    assert _describe_status(status) == (state, info)


# -- get_executor --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["LocalExecutor", " LocalExecutor ", "dagcore.executors.local.LocalExecutor"])
def test_get_executor_by_name(name: str) -> None:
    executor = get_executor(name, parallelism=5, engine_url="sqlite://")
    assert isinstance(executor, LocalExecutor)
    assert executor.parallelism == 5
    assert executor.engine_url == "sqlite://"


def test_get_executor_defaults_to_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGCORE__CORE__PARALLELISM", "9")
    executor = get_executor()
    assert isinstance(executor, LocalExecutor)
    assert executor.parallelism == 9


@pytest.mark.parametrize(
    ("env", "name", "fragments"),
    [
        pytest.param(None, "KubernetesExecutor", ["unknown executor 'KubernetesExecutor'"],
                     id="unknown"),
        pytest.param("Nope", None, ["unknown [core] executor 'Nope'"], id="from-config"),
        pytest.param(None, "InProcessExecutor",
                     ["'InProcessExecutor'", "needs an engine: construct it directly"],
                     id="inprocess"),
    ],
)
def test_get_executor_rejects_unknown_names(monkeypatch: pytest.MonkeyPatch, env: str | None,
                                            name: str | None, fragments: list[str]) -> None:
    if env is not None:
        monkeypatch.setenv("DAGCORE__CORE__EXECUTOR", env)
    with pytest.raises(ValueError) as excinfo:
        get_executor(name)
    for fragment in fragments + ["known: 'LocalExecutor'"]:
        assert fragment in str(excinfo.value)


def test_executors_implement_the_contract() -> None:
    assert issubclass(LocalExecutor, BaseExecutor)
    assert issubclass(InProcessExecutor, BaseExecutor)


# -- InProcessExecutor ---------------------------------------------------------------------------


class Recorder:
    """A runner that records the workloads it ran, and raises for task ids starting "bad"."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.threads: list[threading.Thread] = []

    def __call__(self, workload: TaskWorkload) -> None:
        self.ran.append(workload.key.task_id)
        self.threads.append(threading.current_thread())
        if workload.key.task_id.startswith("bad"):
            raise ValueError(f"boom in {workload.key.task_id}")


def test_inprocess_runs_in_order_in_this_thread() -> None:
    runner = Recorder()
    executor = InProcessExecutor(object(), runner=runner)  # type: ignore[arg-type]
    executor.start()
    assert executor.parallelism == 1
    assert executor.slots_available == 1
    ws = [workload(name) for name in ("a", "b", "c")]
    for w in ws:
        executor.queue_workload(w)
    assert executor.slots_available == 0
    assert executor.running == {w.key for w in ws}
    events = executor.heartbeat()
    assert runner.ran == ["a", "b", "c"]
    assert runner.threads == [threading.current_thread()] * 3
    assert events == [ExecutorEvent(w.key, w.ti_id, "success") for w in ws]
    assert not executor.running
    assert executor.heartbeat() == []


def test_inprocess_runner_error_is_a_failed_event(caplog: pytest.LogCaptureFixture) -> None:
    runner = Recorder()
    executor = InProcessExecutor(object(), runner=runner)  # type: ignore[arg-type]
    bad, good = workload("bad1"), workload("good")
    executor.queue_workload(bad)
    executor.queue_workload(good)
    events = executor.heartbeat()
    assert events == [
        ExecutorEvent(bad.key, bad.ti_id, "failed", "ValueError: boom in bad1"),
        ExecutorEvent(good.key, good.ti_id, "success"),
    ]
    assert "boom in bad1" in caplog.text  # with its traceback


def test_inprocess_duplicate_key_is_ignored() -> None:
    runner = Recorder()
    executor = InProcessExecutor(object(), runner=runner)  # type: ignore[arg-type]
    w = workload("a")
    executor.queue_workload(w)
    executor.queue_workload(w)
    assert len(executor.heartbeat()) == 1
    assert runner.ran == ["a"]


def test_inprocess_end_and_terminate() -> None:
    runner = Recorder()
    executor = InProcessExecutor(object(), runner=runner)  # type: ignore[arg-type]
    executor.queue_workload(workload("a"))
    assert [e.state for e in executor.end()] == ["success"]

    executor.queue_workload(workload("b"))
    executor.terminate()
    assert runner.ran == ["a"]
    assert executor.end() == [ExecutorEvent(workload("b").key, "ti-b", "failed",
                                            "executor terminated before the task started")]
    with pytest.raises(ValueError, match="got -2"):
        executor.end(timeout=-2)


def test_inprocess_end_timeout_drops_what_did_not_start() -> None:
    runner = Recorder()
    executor = InProcessExecutor(object(), runner=runner)  # type: ignore[arg-type]
    executor.queue_workload(workload("a"))
    events = executor.end(timeout=0)
    assert runner.ran == []
    assert [(e.key.task_id, e.state) for e in events] == [("a", "failed")]


def test_inprocess_keyboard_interrupt_propagates() -> None:
    def interrupted(workload: TaskWorkload) -> None:
        raise KeyboardInterrupt

    executor = InProcessExecutor(object(), runner=interrupted)  # type: ignore[arg-type]
    executor.queue_workload(workload("a"))
    with pytest.raises(KeyboardInterrupt):
        executor.heartbeat()
    assert not executor.running


def test_inprocess_default_runner_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def run_workload(workload: TaskWorkload, **kwargs: Any) -> str:
        calls.append({"task_id": workload.key.task_id, **kwargs})
        return "success"

    fake = types.ModuleType("dagcore.task_runner")
    fake.run_workload = run_workload  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dagcore.task_runner", fake)
    engine, etl = object(), object()
    executor = InProcessExecutor(engine, dags={"etl": etl})  # type: ignore[arg-type, dict-item]
    executor.queue_workload(workload("a", dag_id="etl"))
    executor.queue_workload(workload("b", dag_id="other"))
    executor.heartbeat()

    executor.queue_workload(workload("c", dag_id="etl"))
    thread = threading.Thread(target=executor.heartbeat)
    thread.start()
    thread.join()

    common = {"engine": engine, "heartbeat": False}
    assert calls == [
        {"task_id": "a", "dag": etl, "handle_signals": True, **common},
        {"task_id": "b", "dag": None, "handle_signals": True, **common},
        {"task_id": "c", "dag": etl, "handle_signals": False, **common},
    ]
