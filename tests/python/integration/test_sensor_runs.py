"""Sensors run through the whole stack: ``dag.test()``, the scheduler with the LocalExecutor,
clearing (docs/airflow-behaviour.md 10.1, 10.2).

Airflow's expectations come from task-sdk ``bases/sensor.py`` (the poke loop, timeout,
soft_fail, PokeReturnValue), ``airflow-core`` ``ti_deps/deps/ready_to_reschedule.py`` (an
``up_for_reschedule`` task instance is not queued before its reschedule date), the execution
API's ``ti_update_state`` (a reschedule writes a ``task_reschedule`` row and keeps the try
number), ``models/taskinstance.py`` ``clear_task_instances`` (a clear deletes the rows) and the
standard provider's ``sensors/external_task.py``. Time limits here only turn a hang into a
failure.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cli_helpers import CLIHome
from sqlalchemy.engine import Engine

import dagcore.utils.timezone as tz_seam

from dagcore import DAG, task
from dagcore.api.common import clear_task_instances, trigger_dag
from dagcore.dag_processing import sync_dags, write_dag
from dagcore.dagbag import EXAMPLE_DAGS_FOLDER
from dagcore.db import create_engine, migrate, transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.executors.base import BaseExecutor, TaskInstanceKey, TaskWorkload
from dagcore.executors.local import LocalExecutor
from dagcore.jobs.scheduler import SchedulerJob
from dagcore.models import tables as t
from dagcore.operators.empty import EmptyOperator
from dagcore.sensors.base import PokeReturnValue
from dagcore.sensors.external_task import ExternalTaskSensor
from dagcore.sensors.python import PythonSensor

pytestmark = pytest.mark.integration

START = datetime(2024, 1, 1, tzinfo=UTC)
LOGICAL = datetime(2024, 3, 1, tzinfo=UTC)
FINISH_TIMEOUT_S = 120.0  # only turns a hang into a failure


def _rows(db_url: str, table: sa.Table) -> list[Any]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(table)).all()
    finally:
        engine.dispose()


class Countdown:
    """A poke that is true from its ``n``-th call (dag.test runs tasks in this process)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.calls >= self.n


# -- dag.test() ----------------------------------------------------------------------------------


def test_reschedule_sensor_goes_up_for_reschedule_then_succeeds_at_the_same_try(
        tmp_path: Path) -> None:
    # Airflow: each false poke ends the try up_for_reschedule with a task_reschedule row; the
    # next poke is the same try (try_number does not advance).
    poke = Countdown(3)
    with DAG("resched", schedule=None, start_date=START) as dag:
        # 0.2 s: the reschedule date (poke time + interval) must stay after the try's end date
        # even on a loaded machine (with 0.01 s a busy CI run once recorded the end later).
        PythonSensor(task_id="wait", python_callable=poke, mode="reschedule",
                     poke_interval=0.2, timeout=60) >> EmptyOperator(task_id="after")
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    result = dag.test(LOGICAL, db_url=db_url, timeout=FINISH_TIMEOUT_S)
    assert result.state == "success"
    assert result.task_states == {"wait": "success", "after": "success"}
    assert poke.calls == 3
    reschedules = _rows(db_url, t.task_reschedule)
    (wait,) = [row for row in _rows(db_url, t.task_instance) if row.task_id == "wait"]
    assert len(reschedules) == 2
    assert {(r.ti_id, r.try_number) for r in reschedules} == {(wait.id, 1)}
    assert wait.try_number == 1
    assert all(r.reschedule_date >= r.end_date >= r.start_date for r in reschedules)


def test_poke_mode_sensor_waits_inside_one_try(tmp_path: Path) -> None:
    poke = Countdown(3)
    with DAG("pokes", schedule=None, start_date=START) as dag:
        PythonSensor(task_id="wait", python_callable=poke, poke_interval=0.01, timeout=60)
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    result = dag.test(LOGICAL, db_url=db_url, timeout=FINISH_TIMEOUT_S)
    assert (result.state, result.task_states, poke.calls) == ("success", {"wait": "success"}, 3)
    assert _rows(db_url, t.task_reschedule) == []


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_timeout_fails_without_retry(mode: str) -> None:
    # Airflow: AirflowSensorTimeout fails the task even with retries left.
    with DAG(f"timeout_{mode}", schedule=None, start_date=START) as dag:
        PythonSensor(task_id="wait", python_callable=lambda: False, mode=mode,
                     poke_interval=0.01, timeout=0.05, retries=3) >> EmptyOperator(task_id="after")
    result = dag.test(LOGICAL, timeout=FINISH_TIMEOUT_S)
    assert result.state == "failed"
    assert result.task_states == {"wait": "failed", "after": "upstream_failed"}


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_soft_fail_timeout_skips(mode: str) -> None:
    with DAG(f"soft_{mode}", schedule=None, start_date=START) as dag:
        PythonSensor(task_id="wait", python_callable=lambda: False, mode=mode,
                     poke_interval=0.01, timeout=0.05, soft_fail=True) >> \
            EmptyOperator(task_id="after")
    result = dag.test(LOGICAL, timeout=FINISH_TIMEOUT_S)
    assert result.task_states == {"wait": "skipped", "after": "skipped"}
    assert result.state == "success"


def test_poke_return_value_pushes_its_xcom_value() -> None:
    with DAG("xcoms", schedule=None, start_date=START) as dag:
        @task.sensor(poke_interval=0.01, timeout=60, mode="reschedule")
        def ready() -> PokeReturnValue:
            return PokeReturnValue(is_done=True, xcom_value={"path": "/data/x"})

        @task
        def use(value: dict[str, str]) -> str:
            return value["path"]

        use(ready())
    result = dag.test(LOGICAL, timeout=FINISH_TIMEOUT_S)
    assert result.task_states == {"ready": "success", "use": "success"}
    assert result.xcom_pull("ready") == {"path": "/data/x"}
    assert result.xcom_pull("use") == "/data/x"


def test_external_task_sensor_sees_another_dags_run(tmp_path: Path) -> None:
    # Airflow 3's ExternalTaskSensor counts the other DAG's task instances (and runs) with the
    # same logical date through ti.get_ti_count / get_dr_count.
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with DAG("upstream_dag", schedule=None, start_date=START) as upstream:
        EmptyOperator(task_id="produce")
    with DAG("downstream_dag", schedule=None, start_date=START) as downstream:
        ExternalTaskSensor(task_id="wait_task", external_dag_id="upstream_dag",
                           external_task_id="produce", poke_interval=0.01, timeout=30,
                           check_existence=True)
        ExternalTaskSensor(task_id="wait_dag", external_dag_id="upstream_dag",
                           poke_interval=0.01, timeout=30)
        ExternalTaskSensor(task_id="wait_earlier", external_dag_id="upstream_dag",
                           external_task_id="produce", execution_delta=timedelta(days=1),
                           poke_interval=0.01, timeout=0.05, soft_fail=True)
    assert upstream.test(LOGICAL, db_url=db_url).state == "success"
    result = downstream.test(LOGICAL, db_url=db_url, timeout=FINISH_TIMEOUT_S)
    assert result.task_states == {"wait_task": "success", "wait_dag": "success",
                                  "wait_earlier": "skipped"}


def test_external_task_sensor_failed_states_and_missing_task(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"

    def boom() -> None:
        raise RuntimeError("boom")

    with DAG("failing_dag", schedule=None, start_date=START) as upstream:
        PythonSensor(task_id="bad", python_callable=boom, timeout=1, poke_interval=0.01)
    with DAG("watching_dag", schedule=None, start_date=START) as downstream:
        ExternalTaskSensor(task_id="fails", external_dag_id="failing_dag",
                           external_task_id="bad", failed_states=["failed"],
                           poke_interval=0.01, timeout=30)
        ExternalTaskSensor(task_id="missing", external_dag_id="failing_dag",
                           external_task_id="nope", check_existence=True,
                           poke_interval=0.01, timeout=30)
    assert upstream.test(LOGICAL, db_url=db_url).state == "failed"
    result = downstream.test(LOGICAL, db_url=db_url, timeout=FINISH_TIMEOUT_S)
    assert result.task_states == {"fails": "failed", "missing": "failed"}


# -- the scheduler, the LocalExecutor and clear ---------------------------------------------------


SLOT_DAG = '''
from datetime import datetime, timezone
from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.sensors.filesystem import FileSensor

with DAG("slot_dag", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
    # The sensor goes first (priority), finds no file and frees the only worker slot, so the
    # task that writes the file can run.
    FileSensor(task_id="wait", filepath="{marker}", mode="reschedule", poke_interval=0.05,
               timeout=60, priority_weight=100, weight_rule="absolute")
    BashOperator(task_id="write", bash_command="touch {marker}")
'''


@pytest.fixture
def world(sqlite_engine: Engine, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, Path]]:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "home"))
    folder = tmp_path / "dags"
    folder.mkdir()
    monkeypatch.setenv("DAGCORE__CORE__DAGS_FOLDER", str(folder))
    migrate(sqlite_engine)
    yield sqlite_engine, folder


def _run_scheduler(engine: Engine, dag_id: str, parallelism: int) -> dict[str, Any]:
    executor = LocalExecutor(parallelism,
                             engine_url=engine.url.render_as_string(hide_password=False))
    job = SchedulerJob(engine=engine, executor=executor,
                       dag_bag=DBDagBag(engine=engine, revalidation_interval=0),
                       idle_sleep=0.01)
    job.job.register()
    job.executor.start()
    deadline = time.monotonic() + FINISH_TIMEOUT_S
    state = None
    try:
        while time.monotonic() < deadline:
            job.run_once()
            with engine.connect() as conn:
                state = conn.execute(sa.select(t.dag_run.c.state).where(
                    t.dag_run.c.dag_id == dag_id)).scalar_one()
            if state in ("success", "failed"):
                break
            job._idle()
        else:
            pytest.fail(f"run not finished after {FINISH_TIMEOUT_S} s: {state}")
    finally:
        job._shutdown()
        job.job.complete("success")
    with engine.connect() as conn:
        return {row.task_id: row for row in conn.execute(
            sa.select(t.task_instance).where(t.task_instance.c.dag_id == dag_id))}


def test_reschedule_sensor_frees_its_worker_slot(world: tuple[Engine, Path],
                                                 tmp_path: Path) -> None:
    # One worker slot: a sensor in reschedule mode must give it up while it waits (Airflow's
    # "reschedule" mode), or the task it waits for could never run.
    engine, folder = world
    marker = tmp_path / "marker"
    (folder / "slot_dag.py").write_text(SLOT_DAG.replace("{marker}", str(marker)))
    assert not sync_dags(folder, engine=engine, min_update_interval=timedelta(0)).import_errors
    with transaction(engine) as conn:
        conn.execute(t.dag.update().values(is_paused=False))
    trigger_dag("slot_dag", run_id="manual_1", engine=engine)

    tis = _run_scheduler(engine, "slot_dag", parallelism=1)

    assert {k: row.state for k, row in tis.items()} == {"wait": "success", "write": "success"}
    assert tis["wait"].try_number == 1
    with engine.connect() as conn:
        reschedules = conn.execute(sa.select(t.task_reschedule)).all()
    assert reschedules and {r.ti_id for r in reschedules} == {tis["wait"].id}


def test_clear_deletes_the_task_reschedule_rows(tmp_path: Path) -> None:
    # Airflow's clear_task_instances deletes the cleared task instances' reschedules.
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with DAG("cleared", schedule=None, start_date=START) as dag:
        PythonSensor(task_id="wait", python_callable=Countdown(2), mode="reschedule",
                     poke_interval=0.01, timeout=60)
    assert dag.test(LOGICAL, db_url=db_url, timeout=FINISH_TIMEOUT_S).state == "success"
    assert len(_rows(db_url, t.task_reschedule)) == 1
    engine = create_engine(db_url)
    try:
        cleared = clear_task_instances("cleared", task_ids=["wait"], engine=engine)
    finally:
        engine.dispose()
    assert [row.task_id for row in cleared] == ["wait"]
    assert _rows(db_url, t.task_reschedule) == []


# -- the scheduler's ReadyToRescheduleDep ------------------------------------------------------


class _NeverRuns(BaseExecutor):
    """Takes workloads and never runs them: what the scheduler queues stays queued."""

    def __init__(self) -> None:
        super().__init__(8)
        self.queued: list[TaskWorkload] = []
        self.held: set[Any] = set()  # keys whose process has not been reaped yet

    def start(self) -> None:
        pass

    def queue_workload(self, workload: TaskWorkload) -> None:
        self.queued.append(workload)

    @property
    def running(self) -> set[Any]:
        return set(self.held)  # the queued workloads never start

    def heartbeat(self) -> list[Any]:
        return []

    def end(self, timeout: float | None = None) -> list[Any]:
        return []

    def terminate(self) -> None:
        pass


def _wait_dag() -> DAG:
    with DAG("waits", schedule=None, start_date=START) as dag:
        PythonSensor(task_id="wait", python_callable=lambda: False, mode="reschedule",
                     poke_interval=60, timeout=3600) >> EmptyOperator(task_id="after")
        EmptyOperator(task_id="other")
    return dag


def test_scheduler_queues_a_rescheduled_sensor_only_once_its_date_has_passed(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Airflow's ReadyToRescheduleDep: an up_for_reschedule task instance is not queued before
    # its task_reschedule row's reschedule_date; meanwhile its run keeps running (a premature
    # task instance, not a deadlock), and it is queued again at the same try number.
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    migrate(engine)
    dag = _wait_dag()
    write_dag(engine, dag)
    with transaction(engine) as conn:
        conn.execute(t.dag.update().values(is_paused=False))
    executor = _NeverRuns()
    job = SchedulerJob(engine=engine, executor=executor,
                       dag_bag=DBDagBag(engine=engine, revalidation_interval=0), idle_sleep=0.0,
                       dags={"waits": dag}, single=False, create_runs=False)
    job.job.register()
    now = datetime.now(UTC)
    monkeypatch.setattr(tz_seam, "utcnow", lambda: now)
    trigger_dag("waits", run_id="manual_1", engine=engine)
    ti, tr = t.task_instance, t.task_reschedule
    for _ in range(3):
        job.run_once()
    with transaction(engine) as conn:  # as the task runner leaves a sensor after a poke
        wait = conn.execute(sa.select(ti).where(ti.c.task_id == "wait")).one()
        assert (wait.state, wait.try_number) == ("queued", 1)
        conn.execute(ti.update().where(ti.c.id == wait.id).values(
            state="up_for_reschedule", start_date=now, end_date=now))
        conn.execute(tr.insert().values(ti_id=wait.id, try_number=1, start_date=now,
                                        end_date=now, duration=0,
                                        reschedule_date=now + timedelta(seconds=60)))
        # A task instance is missing too: the loop creates it while the sensor waits.
        conn.execute(ti.delete().where(ti.c.task_id == "other"))
    executor.queued.clear()

    def states() -> dict[str, tuple[str | None, int]]:
        with engine.connect() as conn:
            return {r.task_id: (r.state, r.try_number) for r in conn.execute(sa.select(ti))}

    monkeypatch.setattr(tz_seam, "utcnow", lambda: now + timedelta(seconds=59))
    for _ in range(5):
        job.run_once()
    assert states()["wait"] == ("up_for_reschedule", 1)
    assert states()["after"] == (None, 0)
    assert states()["other"][0] == "success"  # created, then run as an empty task
    assert not [w for w in executor.queued if w.key.task_id == "wait"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(t.dag_run.c.state)).scalar_one() == "running"

    monkeypatch.setattr(tz_seam, "utcnow", lambda: now + timedelta(seconds=61))
    # Due, but the executor has not reaped the last poke's process: not queued yet.
    executor.held = {TaskInstanceKey("waits", "wait", "manual_1", 1, -1)}
    for _ in range(3):
        job.run_once()
    assert states()["wait"] == ("up_for_reschedule", 1)
    executor.held = set()
    for _ in range(3):
        job.run_once()
    assert states()["wait"] == ("queued", 1)
    assert [w.key.try_number for w in executor.queued if w.key.task_id == "wait"] == [1]
    job.job.complete("success")


# -- the example DAG -----------------------------------------------------------------------------


def test_dags_test_runs_the_sensors_example(cli_home: CLIHome) -> None:
    # `dags test` of examples/dags/airflow_sensors.py (Airflow imports, compat finder).
    shutil.copy(EXAMPLE_DAGS_FOLDER / "airflow_sensors.py", cli_home.dags_folder)
    result = cli_home.run("dags", "test", "airflow_sensors", "-S",
                          str(cli_home.dags_folder), "-o", "json")
    assert result.returncode == 0, result.stderr
    states = {row["task_id"]: row["state"] for row in json.loads(result.stdout)}
    assert states == {
        "wait_for_start": "success", "wait_for_dag_file": "success",
        "wait_for_bash": "success", "wait_for_value": "success", "use_value": "success",
        "wait_for_date": "success", "any_day": "success", "never_true": "skipped",
        "done": "success"}


def test_tasks_test_of_a_waiting_reschedule_sensor_reports_up_for_reschedule(
        cli_home: CLIHome) -> None:
    # `tasks test` runs one try with no run: a reschedule-mode sensor whose poke is False ends
    # its try up_for_reschedule, which is reported with the date, not as a failure.
    (cli_home.dags_folder / "waits.py").write_text(
        "from datetime import UTC, datetime\n"
        "from dagcore import DAG\n"
        "from dagcore.sensors.python import PythonSensor\n"
        "with DAG('waits', start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None):\n"
        "    PythonSensor(task_id='never', python_callable=lambda: False, mode='reschedule',\n"
        "                 poke_interval=60)\n")
    result = cli_home.run("tasks", "test", "waits", "never", "2024-03-04T12:00:00+00:00",
                          "-S", str(cli_home.dags_folder))
    assert result.returncode == 0, result.stderr
    assert "Task never: up_for_reschedule (poke again at " in result.stderr
