"""The task runner, the database XCom backend and the try helpers on SQLite and PostgreSQL.

Each test creates a run with ``trigger_dag`` and inserts its task instances in state ``queued``
itself (the scheduler's job), then runs a try in-process with :func:`run_workload`, on the main
thread so that SIGTERM and ``execution_timeout`` are handled as in an executor's child.
"""

from __future__ import annotations

import itertools
import os
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

import dagcore.utils.timezone as tz_seam
from dagcore import DAG
from dagcore.api.common import trigger_dag
from dagcore.configuration import conf_vars
from dagcore.dag_processing import write_dag
from dagcore.db import migrate, transaction
from dagcore.context import get_current_context
from dagcore.exceptions import (
    AirflowFailException,
    AirflowSensorTimeout,
    DagcoreException,
    TaskSkipped,
)
from dagcore.executors.base import TaskInstanceKey, TaskWorkload
from dagcore.models import tables as t
from dagcore.models.taskinstance import NO_STATE, archive_try, fail_task_instance
from dagcore.models.types import uuid7
from dagcore.operators.base import BaseOperator
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator
from dagcore.operators.trigger_dagrun import TriggerDagRunOperator
from dagcore.task_runner import load_dag, run_workload
from dagcore.models.xcom import DatabaseXComBackend

NOW = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
START = datetime(2024, 1, 1, tzinfo=UTC)
RUN = "r1"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "home"))
    for var in [v for v in os.environ if v.startswith("DAGCORE__")]:
        monkeypatch.delenv(var)


@dataclass
class Harness:
    """A migrated database, time frozen at NOW, and helpers to queue and run tries."""

    engine: Engine
    tmp_path: Path
    stored: set[str] = field(default_factory=set)

    def store(self, dag: DAG) -> None:
        if dag.dag_id not in self.stored:
            write_dag(self.engine, dag, source_code="# dag\n")
            self.stored.add(dag.dag_id)

    def start_run(self, dag: DAG, run_id: str = RUN, **kwargs: Any) -> None:
        self.store(dag)
        trigger_dag(dag.dag_id, run_id=run_id, engine=self.engine, **kwargs)

    def queue(self, dag: DAG, task_id: str, run_id: str = RUN, *, try_number: int = 1,
              max_tries: int | None = None, state: str | None = "queued",
              start_run: bool = True) -> TaskWorkload:
        """Insert the task instance (creating the run first unless told) and its workload."""
        if start_run and not self.run_exists(dag.dag_id, run_id):
            self.start_run(dag, run_id)
        ti_id = uuid7()
        task = dag.get_task(task_id)
        with transaction(self.engine) as conn:
            conn.execute(t.task_instance.insert().values(
                id=ti_id, dag_id=dag.dag_id, run_id=run_id, task_id=task_id, map_index=-1,
                state=state, try_number=try_number,
                max_tries=task.retries if max_tries is None else max_tries,
                operator=type(task).__name__, queued_dttm=NOW))
        key = TaskInstanceKey(dag.dag_id, task_id, run_id, try_number)
        log_path = self.tmp_path / "logs" / dag.dag_id / run_id / f"{task_id}-{try_number}.log"
        return TaskWorkload(ti_id=str(ti_id), key=key, dag_version_id=None,
                            fileloc=dag.fileloc, log_path=str(log_path))

    def run(self, workload: TaskWorkload, dag: DAG | None, **kwargs: Any) -> str | None:
        return run_workload(workload, engine=self.engine, dag=dag, **kwargs)

    def run_exists(self, dag_id: str, run_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.dag_run.c.id).where(
                t.dag_run.c.dag_id == dag_id, t.dag_run.c.run_id == run_id)).first() is not None

    def ti(self, dag_id: str, task_id: str, run_id: str = RUN) -> Any:
        ti = t.task_instance
        with self.engine.connect() as conn:
            return conn.execute(sa.select(ti).where(ti.c.dag_id == dag_id, ti.c.run_id == run_id,
                                                    ti.c.task_id == task_id)).one()

    def dag_run(self, dag_id: str, run_id: str) -> Any:
        dr = t.dag_run
        with self.engine.connect() as conn:
            return conn.execute(sa.select(dr).where(dr.c.dag_id == dag_id,
                                                    dr.c.run_id == run_id)).one_or_none()

    def xcoms(self, dag_id: str, run_id: str = RUN) -> dict[tuple[str, str], Any]:
        xc = t.xcom
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(xc).where(xc.c.dag_id == dag_id, xc.c.run_id == run_id))
            return {(r.task_id, r.key): r.value for r in rows}

    def history(self) -> list[Any]:
        tih = t.task_instance_history
        with self.engine.connect() as conn:
            return conn.execute(sa.select(tih).order_by(tih.c.id)).all()

    def snapshot(self) -> list[Any]:
        with self.engine.connect() as conn:
            return [conn.execute(sa.select(table)).all()
                    for table in (t.task_instance, t.task_instance_history, t.xcom, t.dag_run)]


@pytest.fixture
def h(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Harness:
    monkeypatch.setattr(tz_seam, "utcnow", lambda: NOW)
    migrate(engine)
    return Harness(engine, tmp_path)


def make_dag(dag_id: str, *tasks: Callable[[], BaseOperator]) -> DAG:
    with DAG(dag_id, start_date=START, schedule=None) as dag:
        for build in tasks:
            build()
    dag.fileloc = f"/dags/{dag_id}.py"
    return dag


def py(task_id: str, fn: Callable[..., Any], **kwargs: Any) -> Callable[[], BaseOperator]:
    return lambda: PythonOperator(task_id=task_id, python_callable=fn, **kwargs)


def log_text(workload: TaskWorkload) -> str:
    return Path(workload.log_path).read_text(encoding="utf-8")


class Recorder:
    """Callbacks that record ``(name, context)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str) -> Callable[[dict[str, Any]], None]:
        def callback(context: dict[str, Any]) -> None:
            self.calls.append((name, context))
        return callback

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def all(self) -> dict[str, Any]:
        """The five callback arguments, each recording under its own name."""
        return {name: self(name) for name in (
            "on_execute_callback", "on_success_callback", "on_failure_callback",
            "on_retry_callback", "on_skipped_callback")}


class SleepOperator(BaseOperator):
    """Sleeps; records on_kill calls on the object that ran (the rendered copy)."""

    killed: list[str] = []

    def __init__(self, task_id: str, *, seconds: float = 5.0,
                 before: Callable[[dict[str, Any]], None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        self.seconds = seconds
        self.before = before
        self.started = False

    def execute(self, context: dict[str, Any]) -> Any:
        self.started = True
        if self.before is not None:
            self.before(context)
        time.sleep(self.seconds)
        return "slept"

    def on_kill(self) -> None:
        SleepOperator.killed.append(f"{self.task_id}:{'started' if self.started else 'idle'}")


@pytest.fixture(autouse=True)
def _reset_killed() -> Iterator[None]:
    SleepOperator.killed.clear()
    yield
    SleepOperator.killed.clear()


# -- success, XCom ------------------------------------------------------------------------------


def test_success_is_recorded_and_xcom_reaches_a_downstream_try(h: Harness) -> None:
    seen: list[Any] = []

    def produce(ti: Any) -> dict[str, int]:
        ti.xcom_push("extra", [1, "two"])
        return {"n": 41}

    def consume(ti: Any) -> int:
        value = ti.xcom_pull(task_ids="produce")
        seen.append((value, ti.xcom_pull(task_ids="produce", key="extra"),
                     ti.xcom_pull(task_ids="produce", key="missing", default="dflt")))
        return value["n"] + 1

    dag = make_dag("etl", py("produce", produce), py("consume", consume))
    first = h.queue(dag, "produce")
    assert h.run(first, dag) == "success"
    row = h.ti("etl", "produce")
    assert row.id == uuid.UUID(first.ti_id)
    assert (row.state, row.try_number, row.start_date, row.end_date) == ("success", 1, NOW, NOW)
    assert row.duration == 0.0 and row.last_heartbeat_at == NOW and row.updated_at == NOW
    assert row.pid == os.getpid() and row.hostname and row.unixname
    assert h.xcoms("etl") == {("produce", "return_value"): {"n": 41},
                              ("produce", "extra"): [1, "two"]}

    second = h.queue(dag, "consume")
    assert h.run(second, dag) == "success"
    assert seen == [({"n": 41}, [1, "two"], "dflt")]
    assert h.xcoms("etl")[("consume", "return_value")] == 42


def test_a_try_starts_without_the_previous_tries_xcoms(h: Harness) -> None:
    dag = make_dag("etl", py("quiet", lambda: None))
    workload = h.queue(dag, "quiet", try_number=2)
    DatabaseXComBackend(h.engine).push(dag_id="etl", run_id=RUN, task_id="quiet", key="old",
                                       value="from try 1")
    assert h.xcoms("etl") == {("quiet", "old"): "from try 1"}
    assert h.run(workload, dag) == "success"
    assert h.xcoms("etl") == {}


def test_context_carries_the_run(h: Harness) -> None:
    seen: dict[str, Any] = {}

    def look(**context: Any) -> None:
        seen.update(context)

    dag = make_dag("etl", py("look", look))
    h.start_run(dag, conf={"who": "ann"}, logical_date=NOW)
    assert h.run(h.queue(dag, "look"), dag) == "success"
    assert seen["run_id"] == RUN and seen["logical_date"] == NOW.replace(microsecond=0)
    assert seen["dag_run"].conf == {"who": "ann"} and seen["params"]["who"] == "ann"
    assert seen["dag_run"].run_type == "manual" and seen["dag_run"].triggered_by == "cli"
    assert seen["ti"].try_number == 1 and seen["ti"].max_tries == 0
    assert seen["task"] is not dag.get_task("look")  # the rendered copy ran


# -- failures, retries, skips -------------------------------------------------------------------


def boom() -> None:
    raise RuntimeError("boom 42")


def test_failure_with_retries_goes_up_for_retry(h: Harness) -> None:
    calls = Recorder()
    dag = make_dag("etl", py("flaky", boom, retries=2, **calls.all()))
    workload = h.queue(dag, "flaky")
    assert h.run(workload, dag) == "up_for_retry"
    row = h.ti("etl", "flaky")
    assert row.state == "up_for_retry" and row.end_date == NOW and row.try_number == 1
    # The scheduler archives the try and gives the next one a new id when it retries.
    assert row.id == uuid.UUID(workload.ti_id) and h.history() == []
    assert calls.names == ["on_execute_callback", "on_retry_callback"]
    exception = calls.calls[-1][1]["exception"]
    assert isinstance(exception, RuntimeError) and str(exception) == "boom 42"
    text = log_text(workload)
    assert "Task failed with exception" in text and "RuntimeError: boom 42" in text
    assert "Traceback" in text and "UP_FOR_RETRY" in text


def test_failure_without_retries_fails(h: Harness) -> None:
    calls = Recorder()
    dag = make_dag("etl", py("bad", boom, **calls.all()))
    workload = h.queue(dag, "bad")
    assert h.run(workload, dag) == "failed"
    row = h.ti("etl", "bad")
    assert row.state == "failed" and row.id == uuid.UUID(workload.ti_id)
    assert h.history() == []
    assert calls.names == ["on_execute_callback", "on_failure_callback"]
    assert isinstance(calls.calls[-1][1]["exception"], RuntimeError)


def test_last_retry_fails(h: Harness) -> None:
    dag = make_dag("etl", py("flaky", boom, retries=1))
    assert h.run(h.queue(dag, "flaky", try_number=2, max_tries=1), dag) == "failed"


def test_skip(h: Harness) -> None:
    calls = Recorder()

    def skip() -> None:
        raise TaskSkipped("nothing to do")

    dag = make_dag("etl", py("skip", skip, retries=3, **calls.all()))
    workload = h.queue(dag, "skip")
    assert h.run(workload, dag) == "skipped"
    assert h.ti("etl", "skip").state == "skipped"
    assert calls.names == ["on_execute_callback", "on_skipped_callback"]
    assert "nothing to do" in log_text(workload)


# Airflow's _run_raw_task (airflow/models/taskinstance.py): AirflowFailException and
# AirflowSensorTimeout call handle_failure(force_fail=True): failed, retries left or not;
# tests/models/test_taskinstance.py test_task_fails_with_fail_exception (the same case).
@pytest.mark.parametrize("error", [AirflowFailException, AirflowSensorTimeout])
def test_fail_exception_fails_without_retry(h: Harness,
                                            error: type[DagcoreException]) -> None:
    calls = Recorder()

    def give_up() -> None:
        raise error("no point in retrying")

    dag = make_dag("etl", py("hopeless", give_up, retries=3, **calls.all()))
    workload = h.queue(dag, "hopeless")
    assert h.run(workload, dag) == "failed"
    row = h.ti("etl", "hopeless")
    assert (row.state, row.try_number, row.max_tries) == ("failed", 1, 3)
    assert calls.names == ["on_execute_callback", "on_failure_callback"]
    assert isinstance(calls.calls[-1][1]["exception"], error)
    text = log_text(workload)
    assert "Task failed with exception" in text and "no point in retrying" in text
    assert "FAILED" in text


def test_airflow_exception_retries_as_any_failure(h: Harness) -> None:
    def fail() -> None:
        raise DagcoreException("plain AirflowException")

    dag = make_dag("etl", py("plain", fail, retries=1))
    assert h.run(h.queue(dag, "plain"), dag) == "up_for_retry"


def test_get_current_context_during_execute_only(h: Harness) -> None:
    # airflow/operators/python.py get_current_context: the context execute received.
    seen: dict[str, Any] = {}

    def look() -> str:
        context = get_current_context()
        seen.update(run_id=context["run_id"], task=context["task"], ti=context["ti"])
        return context["ti"].task_id

    dag = make_dag("etl", py("look", look))
    workload = h.queue(dag, "look")
    assert h.run(workload, dag) == "success"
    assert seen["run_id"] == RUN and seen["task"].task_id == "look"
    assert h.xcoms("etl")[("look", "return_value")] == "look"
    with pytest.raises(DagcoreException, match="no context was found"):
        get_current_context()  # cleared after the try


WORKER_DAG_FILE = """
from datetime import datetime, timezone
from dagcore import DAG
from dagcore.context import get_current_context
from dagcore.exceptions import AirflowFailException
from dagcore.operators.python import PythonOperator

def give_up():
    raise AirflowFailException("no point in retrying")

def look():
    context = get_current_context()
    return [context["run_id"], context["ti"].task_id, context["ti"].try_number]

with DAG("worker_dag", start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), schedule=None):
    PythonOperator(task_id="hopeless", python_callable=give_up, retries=3)
    PythonOperator(task_id="look", python_callable=look)
"""


def test_fail_exception_and_context_in_a_local_executor_worker(h: Harness,
                                                               engine: Engine) -> None:
    # A real worker process runs the real task runner from the DAG file.
    from dagcore.executors import LocalExecutor

    path = h.tmp_path / "dags" / "worker_dag.py"
    path.parent.mkdir()
    path.write_text(WORKER_DAG_FILE, encoding="utf-8")
    dag = load_dag(str(path), "worker_dag")
    workloads = [h.queue(dag, "hopeless"), h.queue(dag, "look")]
    executor = LocalExecutor(parallelism=1,
                             engine_url=engine.url.render_as_string(hide_password=False))
    executor.start()
    try:
        for workload in workloads:
            executor.queue_workload(workload)
    finally:
        executor.end(timeout=60)
    hopeless = h.ti("worker_dag", "hopeless")
    assert (hopeless.state, hopeless.try_number) == ("failed", 1)
    assert h.ti("worker_dag", "look").state == "success"
    assert h.xcoms("worker_dag")[("look", "return_value")] == [RUN, "look", 1]


@pytest.mark.parametrize(("retries", "expected"), [(0, "failed"), (1, "up_for_retry")])
def test_execution_timeout_stops_the_task(h: Harness, retries: int, expected: str) -> None:
    calls = Recorder()
    dag = make_dag("etl", lambda: SleepOperator(
        "slow", seconds=5, execution_timeout=timedelta(seconds=0.3), retries=retries,
        on_failure_callback=calls("failure"), on_retry_callback=calls("retry")))
    workload = h.queue(dag, "slow")
    assert h.run(workload, dag) == expected
    assert h.ti("etl", "slow").state == expected
    assert SleepOperator.killed == ["slow:started"]  # on_kill reached the copy that ran
    assert type(calls.calls[0][1]["exception"]).__name__ == "TaskTimeout"
    assert "TaskTimeout: Timeout, PID" in log_text(workload)


def test_a_task_catching_exception_cannot_swallow_its_timeout(h: Harness) -> None:
    def stubborn() -> str:
        try:
            time.sleep(5)
        except Exception:  # noqa: BLE001 - what careless task code does
            return "swallowed"
        return "slept"

    dag = make_dag("etl", py("stubborn", stubborn, execution_timeout=timedelta(seconds=0.2)))
    workload = h.queue(dag, "stubborn")
    assert h.run(workload, dag) == "failed"
    assert "TaskTimeout" in log_text(workload)


def test_execution_timeout_is_not_enforced_without_signal_handling(h: Harness) -> None:
    dag = make_dag("etl", lambda: SleepOperator(
        "slow", seconds=0.2, execution_timeout=timedelta(seconds=0.01)))
    workload = h.queue(dag, "slow")
    assert h.run(workload, dag, handle_signals=False) == "success"
    assert "is not enforced" in log_text(workload)


def test_a_raising_callback_does_not_change_the_outcome(h: Harness) -> None:
    calls = Recorder()

    def broken(context: dict[str, Any]) -> None:
        raise ValueError("callback bug")

    dag = make_dag("etl", py("ok", lambda: 1, on_execute_callback=[broken, calls("execute")],
                             on_success_callback=[calls("success"), broken, calls("again")]))
    workload = h.queue(dag, "ok")
    assert h.run(workload, dag) == "success"
    assert calls.names == ["execute", "success", "again"]
    assert "callback bug" in log_text(workload)


def test_missing_task_fails_the_try_with_the_error_in_its_log(h: Harness) -> None:
    dag = make_dag("etl", py("a", lambda: 1), py("b", lambda: 2))
    workload = h.queue(dag, "b")
    other = make_dag("etl", py("a", lambda: 1))  # a DAG version without task b
    assert h.run(workload, other) == "failed"
    assert "Task 'b' not found in DAG 'etl'" in log_text(workload)


def test_bad_conf_fails_the_try(h: Harness) -> None:
    from dagcore import Param

    with DAG("strict", start_date=START, schedule=None,
             params={"n": Param(1, type="integer")}) as dag:
        PythonOperator(task_id="a", python_callable=lambda: 1)
    dag.fileloc = "/dags/strict.py"
    workload = h.queue(dag, "a")
    with transaction(h.engine) as conn:  # a conf that the params refuse, stored behind its back
        conn.execute(t.dag_run.update().values(conf={"n": "not a number"}))
    assert h.run(workload, dag) == "failed"
    assert "Invalid input for param n" in log_text(workload)


# -- nothing to run -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["not-queued", "wrong-try", "unknown-id", "other-task"])
def test_nothing_runs_unless_the_try_is_queued(h: Harness, case: str) -> None:
    ran: list[int] = []
    dag = make_dag("etl", py("a", lambda: ran.append(1)), py("b", lambda: ran.append(2)))
    workload = h.queue(dag, "a", state="scheduled" if case == "not-queued" else "queued")
    h.queue(dag, "b")
    if case == "wrong-try":
        workload = TaskWorkload(ti_id=workload.ti_id, key=TaskInstanceKey("etl", "a", RUN, 2),
                                dag_version_id=None, fileloc=None, log_path=workload.log_path)
    elif case == "unknown-id":
        workload = TaskWorkload(ti_id=str(uuid7()), key=workload.key, dag_version_id=None,
                                fileloc=None, log_path=workload.log_path)
    elif case == "other-task":
        workload = TaskWorkload(ti_id=workload.ti_id, key=TaskInstanceKey("etl", "b", RUN, 1),
                                dag_version_id=None, fileloc=None, log_path=workload.log_path)
    before = h.snapshot()
    assert h.run(workload, dag) is None
    assert h.snapshot() == before and ran == []
    assert "Not running" in log_text(workload)


def test_a_workload_runs_once(h: Harness) -> None:
    ran: list[int] = []
    dag = make_dag("etl", py("a", lambda: ran.append(1)))
    workload = h.queue(dag, "a")
    assert h.run(workload, dag) == "success"
    assert h.run(workload, dag) is None
    assert ran == [1]


def test_bad_workloads_are_refused(h: Harness) -> None:
    dag = make_dag("etl", py("a", lambda: 1))
    workload = h.queue(dag, "a")
    with pytest.raises(ValueError, match="'not-a-uuid'"):
        h.run(TaskWorkload(ti_id="not-a-uuid", key=workload.key, dag_version_id=None,
                           fileloc=None, log_path=workload.log_path), dag)
    with pytest.raises(TypeError, match="TaskWorkload"):
        run_workload(workload.key, engine=h.engine)  # type: ignore[arg-type]


# -- decided elsewhere while running ------------------------------------------------------------


def clear_while_running(engine: Engine, *, state: str = "restarting",
                        new_id: bool = True) -> Callable[..., None]:
    """A task body that does what a clear (or a mark-success) does to its own running row."""
    def body(context: dict[str, Any]) -> None:
        ti = t.task_instance
        values: dict[str, Any] = {"state": state}
        if new_id:
            values["id"] = uuid7()
        with transaction(engine) as conn:
            changed = conn.execute(ti.update().where(
                ti.c.task_id == context["ti"].task_id, ti.c.state == "running").values(**values))
            assert changed.rowcount == 1
    return body


def test_cleared_while_running_ends_without_state(h: Harness) -> None:
    calls = Recorder()
    body = clear_while_running(h.engine)
    dag = make_dag("etl", py("a", lambda **ctx: body(ctx), retries=0, **calls.all()))
    workload = h.queue(dag, "a")
    assert h.run(workload, dag) == NO_STATE
    row = h.ti("etl", "a")
    assert row.state is None and row.end_date == NOW and row.try_number == 1
    assert calls.names == ["on_execute_callback"]  # the outcome was not this try's to decide


@pytest.mark.parametrize("state", ["success", "failed"])
def test_a_state_set_elsewhere_is_left_alone(h: Harness, state: str) -> None:
    body = clear_while_running(h.engine, state=state, new_id=False)
    dag = make_dag("etl", py("a", lambda **ctx: (body(ctx), boom())))
    assert h.run(h.queue(dag, "a"), dag) == state
    assert h.ti("etl", "a").state == state


def test_lost_heartbeat_stops_the_task(h: Harness) -> None:
    body = clear_while_running(h.engine)
    dag = make_dag("etl", lambda: SleepOperator("slow", seconds=5, before=body))
    workload = h.queue(dag, "slow")
    with conf_vars({("scheduler", "task_instance_heartbeat_sec"): "0.05"}):
        assert h.run(workload, dag) == NO_STATE
    assert h.ti("etl", "slow").state is None
    assert SleepOperator.killed == ["slow:started"]
    text = log_text(workload)
    assert "no longer running in the database" in text and "TaskTerminated" in text


def test_heartbeat_stamps_while_running(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    later = NOW + timedelta(minutes=5)
    beats: list[datetime] = []

    def body(context: dict[str, Any]) -> None:
        monkeypatch.setattr(tz_seam, "utcnow", lambda: later)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            row = h.ti("etl", "slow")
            if row.last_heartbeat_at == later:
                beats.append(row.last_heartbeat_at)
                return
            time.sleep(0.02)

    dag = make_dag("etl", lambda: SleepOperator("slow", seconds=0, before=body))
    with conf_vars({("scheduler", "task_instance_heartbeat_sec"): "0.05"}):
        assert h.run(h.queue(dag, "slow"), dag) == "success"
    assert beats == [later]


def test_one_heartbeat_thread_beats_for_the_tries_of_a_process(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process running tries one after another (a LocalExecutor worker) beats for each from
    one thread; a try that ended is never stamped again."""
    later = NOW + timedelta(minutes=5)

    def body_for(task_id: str) -> Callable[[dict[str, Any]], None]:
        def body(context: dict[str, Any]) -> None:
            stamp = later + timedelta(seconds=len(task_id))
            monkeypatch.setattr(tz_seam, "utcnow", lambda: stamp)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if h.ti("etl", task_id).last_heartbeat_at == stamp:
                    return
                time.sleep(0.02)
            raise AssertionError(f"{task_id} was not stamped")
        return body

    dag = make_dag("etl", lambda: SleepOperator("one", seconds=0, before=body_for("one")),
                   lambda: SleepOperator("three", seconds=0, before=body_for("three")))
    with conf_vars({("scheduler", "task_instance_heartbeat_sec"): "0.05"}):
        assert h.run(h.queue(dag, "one"), dag) == "success"
        first = h.ti("etl", "one").last_heartbeat_at
        assert h.run(h.queue(dag, "three"), dag) == "success"
        time.sleep(0.2)  # beats of "one" would have come by now
    assert first == later + timedelta(seconds=3)
    assert h.ti("etl", "one").last_heartbeat_at == first
    assert h.ti("etl", "three").last_heartbeat_at == later + timedelta(seconds=5)
    beaters = [th for th in threading.enumerate() if th.name == "ti-heartbeat"]
    assert len(beaters) == 1


def test_sigterm_stops_the_task(h: Harness) -> None:
    def body(context: dict[str, Any]) -> None:
        threading.Timer(0.1, os.kill, (os.getpid(), 15)).start()

    dag = make_dag("etl", lambda: SleepOperator("slow", seconds=5, before=body, retries=1))
    workload = h.queue(dag, "slow")
    assert h.run(workload, dag) == "up_for_retry"
    assert SleepOperator.killed == ["slow:started"]
    assert "Received SIGTERM" in log_text(workload)


# -- the log ------------------------------------------------------------------------------------


def test_the_try_logs_to_its_file(h: Harness) -> None:
    import logging

    def talk() -> None:
        logging.getLogger("my.task").info("hello from the task")

    dag = make_dag("etl", py("talk", talk))
    workload = h.queue(dag, "talk")
    Path(workload.log_path).parent.mkdir(parents=True)
    Path(workload.log_path).write_text("earlier line\n")  # the executor's redirect, say
    root_handlers = list(logging.getLogger().handlers)
    assert h.run(workload, dag) == "success"
    text = log_text(workload)
    assert text.startswith("earlier line\n")  # appended
    assert "dag_id=etl task_id=talk run_id=r1" in text and f"pid {os.getpid()}" in text
    assert "hello from the task" in text and "Marking task as SUCCESS" in text
    assert logging.getLogger().handlers == root_handlers  # removed afterwards


def test_a_root_handler_on_the_same_file_is_not_doubled(h: Harness) -> None:
    import logging

    def talk() -> None:
        logging.getLogger("my.task").warning("said once")

    dag = make_dag("etl", py("talk", talk))
    workload = h.queue(dag, "talk")
    Path(workload.log_path).parent.mkdir(parents=True)
    # What the LocalExecutor's child has: the CLI's stderr handler, stderr being the log file.
    stream = open(workload.log_path, "a", encoding="utf-8")  # noqa: SIM115
    inherited = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(inherited)
    try:
        assert h.run(workload, dag) == "success"
        assert inherited in root.handlers
    finally:
        root.removeHandler(inherited)
        stream.close()
    assert log_text(workload).count("said once") == 1


# -- DAG files ----------------------------------------------------------------------------------

DAG_FILE = """\
import logging
from datetime import UTC, datetime
from dagcore import DAG
from dagcore.operators.python import PythonOperator

def work():
    logging.getLogger("file.task").info("{marker}")
    return "{marker}"

with DAG("{dag_id}", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None) as dag:
    PythonOperator(task_id="work", python_callable=work)
"""


def write_dag_file(path: Path, dag_id: str, marker: str = "v1") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(DAG_FILE.format(dag_id=dag_id, marker=marker)))
    return path


def test_load_dag_parses_and_caches_per_file_version(tmp_path: Path) -> None:
    path = write_dag_file(tmp_path / "dags" / "filed.py", "filed")
    dag = load_dag(str(path), "filed")
    assert dag.dag_id == "filed" and dag.task_ids == ["work"] and dag.fileloc == str(path)
    assert load_dag(str(path), "filed") is dag  # cached
    write_dag_file(path, "filed", marker="version-two")  # a different size
    again = load_dag(str(path), "filed")
    assert again is not dag
    assert again.get_task("work").python_callable() == "version-two"


def test_load_dag_names_what_is_missing(tmp_path: Path) -> None:
    path = write_dag_file(tmp_path / "one.py", "one")
    with pytest.raises(LookupError, match=r"Dag 'other' not found in .*one\.py.*defines: one"):
        load_dag(str(path), "other")
    broken = tmp_path / "broken.py"
    broken.write_text("from dagcore import DAG\nraise RuntimeError('cannot import me')\n")
    with pytest.raises(LookupError, match=r"(?s)'broken'.*broken\.py.*cannot import me"):
        load_dag(str(broken), "broken")
    with pytest.raises(LookupError, match="nowhere.py"):
        load_dag(str(tmp_path / "nowhere.py"), "x")
    with pytest.raises(LookupError, match="is not a file"):
        load_dag(str(tmp_path), "x")


def test_a_workload_loads_its_dag_file(h: Harness) -> None:
    path = write_dag_file(h.tmp_path / "dags" / "from_file.py", "from_file", marker="ran-it")
    dag = load_dag(str(path), "from_file")
    workload = h.queue(dag, "work")
    assert workload.fileloc == str(path)
    assert h.run(workload, None) == "success"
    assert h.xcoms("from_file") == {("work", "return_value"): "ran-it"}
    assert "ran-it" in log_text(workload)


def test_a_workload_whose_file_is_gone_fails(h: Harness) -> None:
    path = write_dag_file(h.tmp_path / "dags" / "gone.py", "gone")
    dag = load_dag(str(path), "gone")
    workload = h.queue(dag, "work")
    path.unlink()
    assert h.run(workload, None) == "failed"
    assert "cannot read DAG file" in log_text(workload)


# -- TriggerDagRunOperator (docs/airflow-behaviour.md 4.3) -----------------------------------------


def target_dag() -> DAG:
    return make_dag("target", lambda: EmptyOperator(task_id="t"))


def trigger(**kwargs: Any) -> DAG:
    kwargs.setdefault("trigger_run_id", "child")
    return make_dag("parent", lambda: TriggerDagRunOperator(
        task_id="trigger", trigger_dag_id="target", **kwargs))


def set_paused(engine: Engine, dag_id: str, paused: bool) -> None:
    with transaction(engine) as conn:
        conn.execute(t.dag.update().where(t.dag.c.dag_id == dag_id).values(is_paused=paused))


def test_trigger_creates_the_run(h: Harness) -> None:
    h.store(target_dag())
    dag = trigger(conf={"x": 1})
    assert h.run(h.queue(dag, "trigger"), dag) == "success"
    run = h.dag_run("target", "child")
    assert run is not None and run.triggered_by == "operator" and run.conf == {"x": 1}
    assert run.state == "queued" and run.logical_date == NOW  # microseconds kept
    assert h.xcoms("parent") == {("trigger", "trigger_run_id"): "child",
                                 ("trigger", "trigger_dag_id"): "target"}


def test_trigger_of_an_existing_run_fails(h: Harness) -> None:
    h.start_run(target_dag(), "child")
    dag = trigger()
    workload = h.queue(dag, "trigger")
    assert h.run(workload, dag) == "failed"
    assert "A run already exists for Dag 'target' with run_id 'child'" in log_text(workload)


def test_trigger_of_an_existing_run_skips_when_asked(h: Harness) -> None:
    h.start_run(target_dag(), "child")
    dag = trigger(skip_when_already_exists=True)
    assert h.run(h.queue(dag, "trigger"), dag) == "skipped"


def test_trigger_resets_an_existing_run(h: Harness) -> None:
    target = target_dag()
    h.start_run(target, "child", conf={"old": True})
    h.queue(target, "t", "child", state="failed")
    with transaction(h.engine) as conn:
        conn.execute(t.dag_run.update().values(state="failed"))
    dag = trigger(reset_dag_run=True, conf={"new": True})
    assert h.run(h.queue(dag, "trigger"), dag) == "success"
    run = h.dag_run("target", "child")
    assert (run.state, run.clear_number, run.conf) == ("queued", 1, {"old": True})
    assert h.ti("target", "t", "child").state is None
    assert h.xcoms("parent")[("trigger", "trigger_run_id")] == "child"


@pytest.mark.parametrize(("paused", "expected"), [(True, "failed"), (False, "success")])
def test_trigger_of_a_paused_dag(h: Harness, paused: bool, expected: str) -> None:
    h.store(target_dag())
    set_paused(h.engine, "target", paused)
    dag = trigger(fail_when_dag_is_paused=True)
    workload = h.queue(dag, "trigger")
    assert h.run(workload, dag) == expected
    assert (h.dag_run("target", "child") is None) == paused
    if paused:
        assert "Dag target is paused" in log_text(workload)


def test_trigger_of_a_paused_dag_without_the_flag_creates_the_run(h: Harness) -> None:
    h.store(target_dag())
    set_paused(h.engine, "target", True)
    dag = trigger()
    assert h.run(h.queue(dag, "trigger"), dag) == "success"
    assert h.dag_run("target", "child") is not None


def test_trigger_of_an_unknown_dag_fails(h: Harness) -> None:
    dag = trigger()
    workload = h.queue(dag, "trigger")
    assert h.run(workload, dag) == "failed"
    assert "Dag id target not found" in log_text(workload)


def finish_run_later(engine: Engine, state: str) -> threading.Thread:
    """A thread that waits for the target run, lets it sit queued a moment, then ends it."""
    def work() -> None:
        dr = t.dag_run
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with transaction(engine) as conn:
                found = conn.execute(sa.select(dr.c.id).where(
                    dr.c.dag_id == "target", dr.c.run_id == "child")).first()
            if found is not None:
                time.sleep(0.15)
                with transaction(engine) as conn:
                    conn.execute(dr.update().where(dr.c.id == found.id).values(state=state))
                return
            time.sleep(0.02)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(("final", "expected"), [("success", "success"), ("failed", "failed")])
def test_trigger_waits_for_completion(h: Harness, final: str, expected: str) -> None:
    h.store(target_dag())
    dag = trigger(wait_for_completion=True, poke_interval=0.05)
    workload = h.queue(dag, "trigger")
    finisher = finish_run_later(h.engine, final)
    assert h.run(workload, dag) == expected
    finisher.join(20)
    text = log_text(workload)
    assert "Waiting for target on child" in text
    if expected == "failed":
        assert "target failed with failed state failed" in text
    else:
        assert "target finished with allowed state success" in text


# -- fail_task_instance, archive_try ------------------------------------------------------------


@pytest.mark.parametrize(("state", "try_number", "max_tries", "expected"), [
    ("queued", 1, 0, "failed"),
    ("running", 1, 2, "up_for_retry"),
    ("running", 3, 2, "failed"),
    ("restarting", 1, 0, NO_STATE),
])
def test_fail_task_instance(h: Harness, state: str, try_number: int, max_tries: int,
                            expected: str) -> None:
    dag = make_dag("etl", py("a", lambda: 1))
    workload = h.queue(dag, "a", state=state, try_number=try_number, max_tries=max_tries)
    started = NOW - timedelta(seconds=30)
    with transaction(h.engine) as conn:
        conn.execute(t.task_instance.update().values(start_date=started))
        got = fail_task_instance(conn, ti_id=workload.ti_id, error="process died", now=NOW)
    assert got == expected
    row = h.ti("etl", "a")
    assert (row.state or NO_STATE) == expected
    assert row.end_date == NOW and row.duration == 30.0 and row.updated_at == NOW
    assert row.id == uuid.UUID(workload.ti_id) and h.history() == []


@pytest.mark.parametrize("case", ["gone", "success", "not-expected"])
def test_fail_task_instance_changes_nothing_it_should_not(h: Harness, case: str) -> None:
    dag = make_dag("etl", py("a", lambda: 1))
    workload = h.queue(dag, "a", state="success" if case == "success" else "queued")
    ti_id = str(uuid7()) if case == "gone" else workload.ti_id
    expected = ("running",) if case == "not-expected" else ("queued", "running", "restarting")
    before = h.snapshot()
    with transaction(h.engine) as conn:
        assert fail_task_instance(conn, ti_id=ti_id, error="x", now=NOW,
                                  expected_states=expected) is None
    assert h.snapshot() == before


def test_fail_task_instance_names_a_bad_id(h: Harness) -> None:
    with transaction(h.engine) as conn, pytest.raises(ValueError, match="'nope'"):
        fail_task_instance(conn, ti_id="nope", error=None, now=NOW)


def test_archive_try_once_per_try(h: Harness) -> None:
    dag = make_dag("etl", py("a", lambda: 1))
    h.queue(dag, "a", state="failed")
    row = h.ti("etl", "a")
    with transaction(h.engine) as conn:
        archive_try(conn, row)
        archive_try(conn, {**row._mapping, "state": "success"})  # same try: kept as first
    (archived,) = h.history()
    assert archived.task_instance_id == row.id and archived.state == "failed"
    assert archived.task_id == "a" and archived.try_number == 1


# -- DatabaseXComBackend ------------------------------------------------------------------------


def test_xcom_backend_round_trip_and_replace(h: Harness) -> None:
    dag = make_dag("etl", py("a", lambda: 1), py("b", lambda: 2))
    h.queue(dag, "a")
    h.queue(dag, "b")
    xcom = DatabaseXComBackend(h.engine)
    ids = {"dag_id": "etl", "run_id": RUN}
    for value in ({"a": [1, 2.5, None, True]}, [1, "x"], "text", 0, None):
        xcom.push(**ids, task_id="a", key="k", value=value)
        assert xcom.pull(**ids, task_id="a", key="k", default="absent") == value
    xcom.push(**ids, task_id="a", key="k", value=(1, 2))
    assert xcom.pull(**ids, task_id="a", key="k") == [1, 2]  # JSON: tuples come back as lists
    assert xcom.pull(**ids, task_id="b", key="k", default="absent") == "absent"
    assert xcom.pull(dag_id="etl", run_id="nope", task_id="a", key="k", default=7) == 7
    xcom.push(**ids, task_id="b", key="k", value=2)
    assert xcom.clear(**ids, task_id="a") == 1
    assert h.xcoms("etl") == {("b", "k"): 2}
    assert xcom.clear(**ids) == 1


def test_xcom_backend_refuses_values_that_are_not_json(h: Harness) -> None:
    dag = make_dag("etl", py("a", lambda: 1))
    h.queue(dag, "a")
    xcom = DatabaseXComBackend(h.engine)
    with pytest.raises(TypeError, match=r"task 'a'.*key 'when'.*not JSON serializable"):
        xcom.push(dag_id="etl", run_id=RUN, task_id="a", key="when", value={"t": NOW})
    with pytest.raises(ValueError, match="key 'nan'"):
        xcom.push(dag_id="etl", run_id=RUN, task_id="a", key="nan", value=float("nan"))
    with pytest.raises(LookupError, match="'nope'"):
        xcom.push(dag_id="etl", run_id="nope", task_id="a", key="k", value=1)
    with pytest.raises(LookupError, match="'ghost'"):
        xcom.push(dag_id="etl", run_id=RUN, task_id="ghost", key="k", value=1)
    assert h.xcoms("etl") == {}


def test_a_return_value_that_is_not_json_fails_the_try(h: Harness) -> None:
    dag = make_dag("etl", py("a", lambda: object()))
    workload = h.queue(dag, "a")
    assert h.run(workload, dag) == "failed"
    assert "key 'return_value' is not JSON serializable" in log_text(workload)


def test_unixname_follows_the_variables_getuser_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The remembered user name is getpass.getuser()'s for the current variables, whatever they
    were at the previous call (the password database answers when none is set)."""
    import getpass

    from dagcore.task_runner import _unixname

    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    steps = [("USER", "alice"), ("LOGNAME", "bob"), ("LOGNAME", None), ("USER", None),
             ("USERNAME", "carol"), ("LNAME", "dave"), ("USERNAME", None), ("LNAME", None),
             ("USER", "alice"), ("USER", "")]
    for name, value in steps:
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
        try:
            expected = getpass.getuser()
        except (KeyError, OSError):
            expected = str(os.getuid())
        assert _unixname() == expected
        assert _unixname() == expected  # remembered: the same answer


_claim_examples = itertools.count()


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=st.sampled_from([None, "queued", "scheduled", "running", "success"]),
       try_shift=st.sampled_from([0, 0, 1, -1]), other_task=st.booleans(),
       other_run=st.sampled_from([None, "existing", "missing"]), known_id=st.booleans(),
       xcom=st.booleans())
def test_a_claim_reads_the_row_and_run_the_separate_selects_read(
        h: Harness, state: str | None, try_shift: int, other_task: bool, other_run: str | None,
        known_id: bool, xcom: bool) -> None:
    """The claim reads the task instance and the run in one joined statement: what it returns
    (claimed or not, the row's columns, the run's row by the workload's key, None without one)
    and what it changes equal what the claim followed by a select of each gives."""
    from dagcore.task_runner import _TRY_COLUMNS, _claim

    dag = make_dag("claim_ref", py("a", lambda: None), py("b", lambda: None))
    n = next(_claim_examples)
    run_id, spare = f"run{n}", f"spare{n}"
    h.start_run(dag, run_id, logical_date=START + timedelta(days=2 * n))
    if other_run == "existing":
        h.start_run(dag, spare, logical_date=START + timedelta(days=2 * n + 1))
    queued = h.queue(dag, "a", run_id, try_number=2, state=state, start_run=False)
    if xcom:
        with transaction(h.engine) as conn:
            conn.execute(t.xcom.insert().values(
                dag_run_id=h.dag_run("claim_ref", run_id).id, dag_id="claim_ref",
                run_id=run_id, task_id="a", map_index=-1, key="k", value="1", timestamp=NOW))
    key = TaskInstanceKey("claim_ref", "b" if other_task else "a",
                          run_id if other_run is None else spare, 2 + try_shift)
    ti_id = uuid.UUID(queued.ti_id) if known_id else uuid7()
    got = _claim(h.engine, ti_id, key)

    expect_claimed = (known_id and state == "queued" and try_shift == 0 and not other_task
                      and other_run is None)
    assert (got is not None) == expect_claimed
    ti = t.task_instance
    with h.engine.connect() as conn:
        row = conn.execute(sa.select(ti).where(ti.c.id == ti_id)).one_or_none()
    run = h.dag_run(key.dag_id, key.run_id)
    if got is None:
        return
    claimed_row, claimed_run = got
    assert row is not None and row.state == "running"
    assert {name: getattr(claimed_row, name) for name in _TRY_COLUMNS} == {
        name: getattr(row, name) for name in _TRY_COLUMNS}
    assert claimed_run is not None and run is not None
    assert claimed_run._asdict() == dict(run._mapping)
    assert h.xcoms("claim_ref", run_id) == {}
