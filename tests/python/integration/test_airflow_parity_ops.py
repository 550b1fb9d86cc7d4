"""Scheduler, clear and backfill behaviours checked against Airflow's, on SQLite and PostgreSQL.

Each test names the Airflow source whose behaviour it states:

* empty tasks and their dependencies: ``airflow/models/dagrun.py`` (``schedule_tis``,
  ``task_instance_scheduling_decisions``), ``airflow/ti_deps/deps/prev_dagrun_dep.py``
  (docs/airflow-behaviour.md 8.4);
* task-instance history: ``airflow/models/taskinstancehistory.py`` (``record_ti``;
  docs/airflow-behaviour.md 8.5);
* ``run_on_latest_version``: ``airflow/models/taskinstance.py`` (``clear_task_instances``),
  ``airflow/models/backfill.py`` (``_handle_clear_run``);
* run ids and the one writer of ``dag_run`` rows: ``airflow/models/dagrun.py``
  (``DagRun.generate_run_id``), ``airflow/api/common/trigger_dag.py``.

The clock is frozen at :data:`NOW` (``dagcore.utils.timezone.utcnow``).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fake_executors import NeverRuns
from sqlalchemy.engine import Engine

import dagcore.utils.timezone as tz_seam
from dagcore import DAG
from dagcore.api.backfills import create_backfill
from dagcore.api.common import clear_dag_runs, clear_task_instances, trigger_dag
from dagcore.dag_processing import write_dag
from dagcore.db import migrate, transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.jobs.scheduler import SchedulerJob
from dagcore.models import tables as t
from dagcore.models.dagrun import (
    generate_run_id,
    generate_run_ids,
    insert_dag_run,
    insert_dag_runs,
)
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator
from dagcore.timetables import CronTriggerTimetable

pytestmark = pytest.mark.integration

NOW = datetime(2025, 6, 1, tzinfo=UTC)
START = datetime(2025, 1, 1, tzinfo=UTC)


def day(i: int) -> datetime:
    return START + timedelta(days=i)


@pytest.fixture
def db(engine: Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    monkeypatch.setattr(tz_seam, "utcnow", lambda: NOW)
    migrate(engine)
    return engine


def store(engine: Engine, dag: DAG, *, bundle_version: str | None = None) -> None:
    """Write a version of ``dag`` (unpaused), recording ``bundle_version`` on the dag row as
    the DAG processor does for a versioned bundle."""
    write_dag(engine, dag, bundle_version=bundle_version)
    with transaction(engine) as conn:
        conn.execute(t.dag.update().where(t.dag.c.dag_id == dag.dag_id)
                     .values(is_paused=False, bundle_version=bundle_version))


def scheduler(engine: Engine) -> SchedulerJob:
    job = SchedulerJob(engine=engine, executor=NeverRuns(),
                       dag_bag=DBDagBag(engine=engine, revalidation_interval=0),
                       idle_sleep=0.0, single=False)
    job.job.register()
    job.executor.start()
    return job


def loop(job: SchedulerJob, n: int = 5) -> None:
    for _ in range(n):
        job.run_once()


def run_row(engine: Engine, dag_id: str, run_id: str) -> Any:
    dr = t.dag_run
    with engine.connect() as conn:
        return conn.execute(sa.select(dr).where(dr.c.dag_id == dag_id,
                                                dr.c.run_id == run_id)).one()


def ti_rows(engine: Engine, dag_id: str, run_id: str) -> dict[str, Any]:
    ti = t.task_instance
    with engine.connect() as conn:
        return {row.task_id: row for row in conn.execute(
            sa.select(ti).where(ti.c.dag_id == dag_id, ti.c.run_id == run_id))}


def set_ti(engine: Engine, dag_id: str, run_id: str, task_id: str, state: str | None) -> None:
    """Put a task instance in ``state``; a running one heartbeats (else it is a zombie)."""
    ti = t.task_instance
    with transaction(engine) as conn:
        conn.execute(ti.update().where(ti.c.dag_id == dag_id, ti.c.run_id == run_id,
                                       ti.c.task_id == task_id)
                     .values(state=state, last_heartbeat_at=NOW + timedelta(days=1)))


def version_ids(engine: Engine, dag_id: str) -> dict[int, Any]:
    dv = t.dag_version
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(dv.c.version_number, dv.c.id)
                                 .where(dv.c.dag_id == dag_id)).all())


def add_run(engine: Engine, dag_id: str, logical: datetime, state: str,
            tis: dict[str, tuple[str | None, int]], *, version: int = 1,
            bundle_version: str | None = None) -> str:
    """A scheduled run of ``dag_id`` at ``logical`` in ``state``, on DAG version ``version``,
    with task instances ``task_id -> (state, try_number)`` that started an hour before NOW;
    returns its run id."""
    run_id = f"scheduled__{logical.isoformat()}"
    version_id = version_ids(engine, dag_id)[version]
    with transaction(engine) as conn:
        insert_dag_run(conn, dag_id=dag_id, run_id=run_id, logical_date=logical,
                       run_after=logical, data_interval_start=logical,
                       data_interval_end=logical, state=state, run_type="scheduled",
                       triggered_by="timetable", conf={}, start_date=logical,
                       end_date=logical if state in ("success", "failed") else None,
                       created_dag_version_id=version_id, bundle_version=bundle_version,
                       clear_number=0, updated_at=logical)
        conn.execute(t.task_instance.insert(), [
            {"id": uuid.uuid4(), "dag_id": dag_id, "run_id": run_id, "task_id": task_id,
             "state": ti_state, "try_number": try_number, "max_tries": 0,
             "start_date": NOW - timedelta(hours=1) if try_number else None,
             "end_date": NOW - timedelta(minutes=30) if ti_state in (
                 "success", "failed", "skipped", "upstream_failed", "up_for_retry") else None,
             "duration": 1800.0 if ti_state in (
                 "success", "failed", "skipped", "upstream_failed", "up_for_retry") else None,
             "dag_version_id": version_id}
            for task_id, (ti_state, try_number) in tis.items()])
    return run_id


# -- 1. empty tasks wait for their dependencies like any task -------------------------------------


def _gate_dag(**task_kwargs: Any) -> DAG:
    with DAG("gate", start_date=START, schedule=None) as dag:
        EmptyOperator(task_id="gate", **task_kwargs)
    return dag


@pytest.mark.parametrize("previous", ["running", "queued", "failed", "upstream_failed", None])
def test_an_empty_task_with_depends_on_past_waits_for_its_previous_instance(
        db: Engine, previous: str | None) -> None:
    # Airflow: EmptyOperator TIs go to SUCCESS in DagRun.schedule_tis only once they are in the
    # ready list of task_instance_scheduling_decisions, whose deps include PrevDagrunDep: with
    # depends_on_past the previous run's instance must be SUCCESS or SKIPPED.
    store(db, _gate_dag(depends_on_past=True))
    first = trigger_dag("gate", logical_date=day(0), engine=db)
    job = scheduler(db)
    loop(job, 2)
    assert run_row(db, "gate", first.run_id).state == "success"
    set_ti(db, "gate", first.run_id, "gate", previous)  # the previous instance is not done
    second = trigger_dag("gate", logical_date=day(1), engine=db)
    loop(job)
    assert run_row(db, "gate", second.run_id).state == "running"
    assert ti_rows(db, "gate", second.run_id)["gate"].state is None

    set_ti(db, "gate", first.run_id, "gate", "success")
    loop(job, 2)
    assert run_row(db, "gate", second.run_id).state == "success"
    gate = ti_rows(db, "gate", second.run_id)["gate"]
    assert (gate.state, gate.try_number) == ("success", 1)


def test_an_empty_task_with_depends_on_past_passes_after_a_skipped_instance(db: Engine) -> None:
    # Airflow PrevDagrunDep: SKIPPED counts as successful (_SUCCESSFUL_STATES).
    store(db, _gate_dag(depends_on_past=True))
    first = trigger_dag("gate", logical_date=day(0), engine=db)
    job = scheduler(db)
    loop(job, 2)
    set_ti(db, "gate", first.run_id, "gate", "skipped")
    second = trigger_dag("gate", logical_date=day(1), engine=db)
    loop(job, 2)
    assert run_row(db, "gate", second.run_id).state == "success"


def test_an_empty_task_waits_while_the_previous_run_has_not_started(db: Engine) -> None:
    # Airflow creates a run's TIs (no state) with the run: PrevDagrunDep counts them as not
    # successful. dagcore creates them when the run starts, so a queued previous run waits too.
    store(db, _gate_dag(depends_on_past=True))
    first = trigger_dag("gate", logical_date=day(0), run_after=NOW + timedelta(days=1),
                        engine=db)
    second = trigger_dag("gate", logical_date=day(1), engine=db)
    job = scheduler(db)
    loop(job)
    assert run_row(db, "gate", first.run_id).state == "queued"
    assert run_row(db, "gate", second.run_id).state == "running"
    assert ti_rows(db, "gate", second.run_id)["gate"].state is None


def test_an_empty_task_with_wait_for_downstream_waits_for_the_previous_downstream(
        db: Engine) -> None:
    # Airflow PrevDagrunDep: with wait_for_downstream, the previous run's instances of the
    # task's direct downstream tasks must be SUCCESS or SKIPPED too (wait_for_downstream
    # implies depends_on_past, BaseOperator.__init__).
    with DAG("wfd", start_date=START, schedule=None) as dag:
        EmptyOperator(task_id="gate", wait_for_downstream=True) >> EmptyOperator(task_id="after")
    store(db, dag)
    first = trigger_dag("wfd", logical_date=day(0), engine=db)
    job = scheduler(db)
    loop(job, 2)
    set_ti(db, "wfd", first.run_id, "after", "failed")
    second = trigger_dag("wfd", logical_date=day(1), engine=db)
    loop(job)
    assert ti_rows(db, "wfd", second.run_id)["gate"].state is None

    set_ti(db, "wfd", first.run_id, "after", "success")
    loop(job, 2)
    assert {k: v.state for k, v in ti_rows(db, "wfd", second.run_id).items()} == {
        "gate": "success", "after": "success"}


def test_the_first_instance_of_a_new_depends_on_past_task_passes_unless_told_not_to(
        db: Engine) -> None:
    # Airflow PrevDagrunDep: the previous run has no instance of the task (it was added since);
    # ignore_first_depends_on_past (default True) passes when no earlier run has one, else the
    # dependency fails.
    with DAG("grow", start_date=START, schedule=None) as v1:
        EmptyOperator(task_id="a")
    store(db, v1)
    add_run(db, "grow", day(0), "success", {"a": ("success", 1)})
    with DAG("grow", start_date=START, schedule=None) as v2:
        EmptyOperator(task_id="a")
        EmptyOperator(task_id="new", depends_on_past=True)
        EmptyOperator(task_id="strict", depends_on_past=True, ignore_first_depends_on_past=False)
    store(db, v2)
    run = trigger_dag("grow", logical_date=day(1), engine=db)
    loop(scheduler(db))
    assert {k: v.state for k, v in ti_rows(db, "grow", run.run_id).items()} == {
        "a": "success", "new": "success", "strict": None}


def test_concurrency_limits_do_not_hold_back_empty_tasks(db: Engine) -> None:
    # Airflow: max_active_tasks, max_active_tis_per_dag(run) and pools are checked when TIs are
    # queued for the executor (_executable_task_instances_to_queued); EmptyOperator TIs go to
    # SUCCESS in schedule_tis and never get there.
    with DAG("limits", start_date=START, schedule=None, max_active_tasks=1) as dag:
        PythonOperator(task_id="busy", python_callable=lambda: None)
        for name in ("e1", "e2"):
            EmptyOperator(task_id=name, max_active_tis_per_dag=1)
    store(db, dag)
    run = trigger_dag("limits", logical_date=day(0), engine=db)
    loop(scheduler(db), 3)
    assert {k: v.state for k, v in ti_rows(db, "limits", run.run_id).items()} == {
        "busy": "queued", "e1": "success", "e2": "success"}


def test_trigger_rules_still_decide_empty_tasks(db: Engine) -> None:
    # Airflow: TriggerRuleDep runs before schedule_tis; an upstream failure makes an all_success
    # empty task UPSTREAM_FAILED instead of SUCCESS, an all_done one runs.
    with DAG("rules", start_date=START, schedule=None) as dag:
        up = EmptyOperator(task_id="up")
        up >> EmptyOperator(task_id="strict")
        up >> EmptyOperator(task_id="lenient", trigger_rule="all_done")
    store(db, dag)
    run = trigger_dag("rules", logical_date=day(0), engine=db)
    job = scheduler(db)
    job._start_queued_dagruns()
    set_ti(db, "rules", run.run_id, "up", "failed")
    loop(job, 2)
    assert {k: v.state for k, v in ti_rows(db, "rules", run.run_id).items()} == {
        "up": "failed", "strict": "upstream_failed", "lenient": "success"}


class _MyEmpty(EmptyOperator):
    """A subclass of EmptyOperator: still "empty" for the scheduler, even with an execute."""

    def execute(self, context: Any) -> None:
        raise AssertionError("an EmptyOperator subclass is never run")


def test_which_tasks_count_as_empty_follows_airflow(db: Engine) -> None:
    # Airflow's DagRun.schedule_tis: inherits_from_empty_operator and no on_execute_callback,
    # no on_success_callback (and no outlets) -> SUCCESS without running. A failure or retry
    # callback does not matter (it cannot fire); an execute or success callback does.
    def noop(context: Any) -> None:
        pass

    with DAG("which_empty", start_date=START, schedule=None) as dag:
        _MyEmpty(task_id="subclass")
        EmptyOperator(task_id="with_failure_cb", on_failure_callback=noop,
                      on_retry_callback=noop)
        EmptyOperator(task_id="with_execute_cb", on_execute_callback=noop)
        EmptyOperator(task_id="with_success_cb", on_success_callback=noop)
    store(db, dag)
    run = trigger_dag("which_empty", logical_date=day(0), engine=db)
    job = scheduler(db)
    loop(job, 3)
    assert {k: v.state for k, v in ti_rows(db, "which_empty", run.run_id).items()} == {
        "subclass": "success", "with_failure_cb": "success",
        "with_execute_cb": "queued", "with_success_cb": "queued"}
    assert sorted(w.key.task_id for w in job.executor.queued) == [
        "with_execute_cb", "with_success_cb"]


# -- 3. the history of a cleared try ----------------------------------------------------------------


UNFINISHED = ["running", "queued", "scheduled", "up_for_retry", "up_for_reschedule",
              "restarting", None]
FINISHED = ["success", "failed", "skipped", "upstream_failed", "removed"]


def test_clearing_records_unfinished_tries_as_failed_and_finished_ones_as_they_are(
        db: Engine) -> None:
    # Airflow TaskInstanceHistory.record_ti: ti_history_state = ti.state if it is in
    # State.finished, else FAILED, with end_date = now and the duration set. A try up for
    # retry keeps the end of its failure: Airflow records it when it fails, while it is still
    # running (execution API ti_update_state -> prepare_db_for_next_try).
    states = UNFINISHED + FINISHED
    names = {state: f"t_{state or 'none'}" for state in states}
    with DAG("hist", start_date=START, schedule=None) as dag:
        for name in names.values():
            EmptyOperator(task_id=name)
    store(db, dag)
    run_id = add_run(db, "hist", day(0), "failed",
                     {names[s]: (s, 1) for s in states})
    clear_task_instances("hist", run_id=run_id, engine=db)
    tih = t.task_instance_history
    with db.connect() as conn:
        history = {row.task_id: row for row in conn.execute(sa.select(tih))}
    assert len(history) == len(states)
    for state in states:
        row = history[names[state]]
        if state in FINISHED:
            assert (row.state, row.end_date, row.duration) == (
                state, NOW - timedelta(minutes=30) if state != "removed" else None,
                1800.0 if state != "removed" else None), state
        elif state == "up_for_retry":
            assert (row.state, row.end_date, row.duration) == (
                "failed", NOW - timedelta(minutes=30), 1800.0)
        else:
            assert (row.state, row.end_date, row.duration) == ("failed", NOW, 3600.0), state


def test_a_try_that_never_started_is_recorded_failed_without_a_duration(db: Engine) -> None:
    # Airflow record_ti + set_duration: end_date = now; no start_date, so no duration.
    with DAG("hist", start_date=START, schedule=None) as dag:
        EmptyOperator(task_id="a")
    store(db, dag)
    run_id = add_run(db, "hist", day(0), "failed", {"a": ("scheduled", 0)})
    with transaction(db) as conn:  # a try that was scheduled (try 1) but never started
        conn.execute(t.task_instance.update().values(try_number=1))
    clear_dag_runs("hist", run_ids=[run_id], engine=db)
    with db.connect() as conn:
        (row,) = conn.execute(sa.select(t.task_instance_history)).all()
    assert (row.state, row.try_number, row.start_date, row.end_date, row.duration) == (
        "failed", 1, None, NOW, None)


# -- 2. run_on_latest_version ---------------------------------------------------------------------


def _two_versions(db: Engine, v2_tasks: str = "a>b>c", *, retries: int = 0) -> dict[int, Any]:
    """``etl`` at version 1 (tasks a, b; bundle v1) with a failed run at day 0 (and task
    instances, so the next write is a new version), then version 2 (``v2_tasks``, bundle v2)."""
    def make(tasks: str, retries: int = 0) -> DAG:
        with DAG("etl", start_date=START, schedule="@daily") as dag:
            prev = None
            for name in tasks.split(">"):
                op = EmptyOperator(task_id=name, retries=retries)
                if prev is not None:
                    prev >> op
                prev = op
        return dag

    store(db, make("a>b"), bundle_version="v1")
    add_run(db, "etl", day(0), "failed", {"a": ("success", 1), "b": ("failed", 1)},
            bundle_version="v1")
    store(db, make(v2_tasks, retries), bundle_version="v2")
    versions = version_ids(db, "etl")
    assert sorted(versions) == [1, 2]
    return versions


@pytest.mark.parametrize("latest", [True, False], ids=["latest-version", "own-version"])
def test_a_reused_backfill_run_moves_to_the_latest_version_with_run_on_latest_version(
        db: Engine, latest: bool) -> None:
    # Airflow _handle_clear_run -> dag.clear(run_on_latest_version=...) -> clear_task_instances:
    # a cleared finished run gets created_dag_version_id = the latest version, its TIs that
    # version, bundle_version = DagModel.bundle_version; verify_integrity marks TIs of tasks
    # the version lacks REMOVED. Without it the run keeps its version. New runs always get the
    # latest version and the current bundle version (models/backfill.py, test_backfill.py
    # test_reprocess_behavior... bundle versions).
    versions = _two_versions(db, "a")
    backfill = create_backfill("etl", from_date=day(0), to_date=day(1),
                               reprocess_behavior="failed", run_on_latest_version=latest,
                               engine=db)
    assert (backfill.created, backfill.cleared) == (1, 1)
    reused = run_row(db, "etl", f"scheduled__{day(0).isoformat()}")
    new = run_row(db, "etl", f"backfill__{day(1).isoformat()}")
    assert (new.created_dag_version_id, new.bundle_version) == (versions[2], "v2")
    tis = ti_rows(db, "etl", reused.run_id)
    if latest:
        assert (reused.created_dag_version_id, reused.bundle_version) == (versions[2], "v2")
        assert {k: (v.state, v.dag_version_id) for k, v in tis.items()} == {
            "a": (None, versions[2]), "b": ("removed", versions[2])}
    else:
        assert (reused.created_dag_version_id, reused.bundle_version) == (versions[1], "v1")
        assert {k: (v.state, v.dag_version_id) for k, v in tis.items()} == {
            "a": (None, versions[1]), "b": (None, versions[1])}
    assert (reused.state, reused.run_type, reused.backfill_id) == (
        "queued", "backfill", backfill.id)


@pytest.mark.parametrize("latest", [True, False], ids=["latest-version", "own-version"])
def test_clear_with_run_on_latest_version_moves_finished_runs(db: Engine, latest: bool) -> None:
    # Airflow clear_task_instances(run_on_latest_version=True): each cleared TI takes its task
    # (max_tries = try_number + retries) from the latest version; each finished run reset to
    # dag_run_state moves to that version (and bundle version). Default False.
    versions = _two_versions(db, "a>b", retries=3)
    run_id = f"scheduled__{day(0).isoformat()}"
    cleared = clear_task_instances("etl", run_id=run_id, run_on_latest_version=latest,
                                   engine=db)
    assert {ti.task_id: ti.max_tries for ti in cleared} == (
        {"a": 4, "b": 4} if latest else {"a": 1, "b": 1})
    run = run_row(db, "etl", run_id)
    want = (versions[2], "v2") if latest else (versions[1], "v1")
    assert (run.state, run.created_dag_version_id, run.bundle_version) == ("queued", *want)
    assert {ti.dag_version_id for ti in ti_rows(db, "etl", run_id).values()} == {want[0]}


def test_clear_with_run_on_latest_version_leaves_unfinished_runs_on_their_version(
        db: Engine) -> None:
    # Airflow clear_task_instances: only runs in State.finished_dr_states are reset and moved.
    versions = _two_versions(db)
    with transaction(db) as conn:
        conn.execute(t.dag_run.update().values(state="running", end_date=None))
    run_id = f"scheduled__{day(0).isoformat()}"
    clear_task_instances("etl", run_id=run_id, task_ids=["b"], run_on_latest_version=True,
                         engine=db)
    run = run_row(db, "etl", run_id)
    assert (run.state, run.created_dag_version_id, run.bundle_version) == (
        "running", versions[1], "v1")


def test_clear_refuses_a_run_on_latest_version_that_is_not_a_bool(db: Engine) -> None:
    _two_versions(db)
    with pytest.raises(TypeError, match="run_on_latest_version must be a bool, got 'yes'"):
        clear_task_instances("etl", run_on_latest_version="yes", engine=db)  # type: ignore


# -- 4. run ids and the dag_run writer --------------------------------------------------------------


def test_run_ids_follow_airflow_formats() -> None:
    # Airflow DagRun.generate_run_id / DagRunType.generate_run_id: "<type>__<ISO>", and
    # "<type>__<run_after ISO>_<8 random [A-Za-z0-9]>" without a logical date.
    at = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert generate_run_id("manual", stamp=at, run_after=NOW) == "manual__2025-03-04T05:06:07+00:00"
    assert generate_run_id("backfill", stamp=at, run_after=at) == (
        "backfill__2025-03-04T05:06:07+00:00")
    assert re.fullmatch(r"manual__2025-06-01T00:00:00\+00:00_[A-Za-z0-9]{8}",
                        generate_run_id("manual", stamp=None, run_after=NOW))
    # The scheduler's ids are the timetable's (Timetable.generate_run_id).
    tt = CronTriggerTimetable("@daily", timezone="UTC")
    assert generate_run_id("scheduled", stamp=at, run_after=at) == tt.generate_run_id(
        run_type="scheduled", run_after=at, data_interval=None)
    assert generate_run_ids("backfill", [at, NOW]) == [
        "backfill__2025-03-04T05:06:07+00:00", "backfill__2025-06-01T00:00:00+00:00"]


def test_run_id_generation_names_bad_input() -> None:
    with pytest.raises(ValueError, match="'nightly'"):
        generate_run_id("nightly", stamp=NOW, run_after=NOW)
    with pytest.raises(ValueError, match="naive 2025-01-01T00:00:00"):
        generate_run_id("manual", stamp=datetime(2025, 1, 1), run_after=NOW)
    with pytest.raises(ValueError, match="UTC"):
        generate_run_ids("backfill", [NOW.astimezone(ZoneInfo("Europe/Paris"))])


def test_the_dag_run_writer_names_bad_rows(db: Engine) -> None:
    base = dict(dag_id="x", run_id="r", run_after=NOW, run_type="manual", state="queued",
                clear_number=0, updated_at=NOW)
    with transaction(db) as conn:
        with pytest.raises(KeyError, match="colour"):
            insert_dag_run(conn, **base, colour="red")
        with pytest.raises(ValueError, match="run_after"):
            insert_dag_run(conn, **{**base, "run_after": None})
        with pytest.raises(ValueError, match="'nightly'"):
            insert_dag_run(conn, **{**base, "run_type": "nightly"})
        with pytest.raises(ValueError, match="equal lengths"):
            insert_dag_runs(conn, {"run_id": ["a", "b"], "run_after": [NOW]},
                            {k: v for k, v in base.items() if k not in ("run_id", "run_after")})
        with pytest.raises(ValueError, match="both per run and as constants: run_id"):
            insert_dag_runs(conn, {"run_id": ["a"]}, base)


def test_the_three_creators_write_the_same_kind_of_row(db: Engine) -> None:
    # One writer: a scheduled, a manual and a backfill run carry the columns Airflow's
    # DagRun has at creation (version, bundle version, queued state, clear_number 0).
    with DAG("etl", start_date=START, schedule="@daily", catchup=False) as dag:
        EmptyOperator(task_id="a")
    store(db, dag, bundle_version="b1")
    manual = trigger_dag("etl", logical_date=day(10), engine=db)
    create_backfill("etl", from_date=day(0), to_date=day(0), engine=db)
    job = scheduler(db)
    job._create_dag_runs()
    dr = t.dag_run
    with db.connect() as conn:
        rows = {row.run_type: row for row in conn.execute(sa.select(dr))}
    assert set(rows) == {"manual", "backfill", "scheduled"}
    (version,) = version_ids(db, "etl").values()
    for run_type, row in rows.items():
        assert (row.state, row.clear_number, row.created_dag_version_id, row.bundle_version,
                row.queued_at) == ("queued", 0, version, "b1", NOW), run_type
    assert rows["manual"].run_id == manual.run_id == f"manual__{day(10).isoformat()}"
    assert rows["backfill"].run_id == f"backfill__{day(0).isoformat()}"
    assert rows["scheduled"].run_id == f"scheduled__{rows['scheduled'].run_after.isoformat()}"
    assert rows["scheduled"].creating_job_id == job.job.id
