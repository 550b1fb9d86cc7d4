"""The scheduler loop on SQLite and PostgreSQL, tasks run in-process (InProcessExecutor).

Real processes (LocalExecutor, kill -9) are in test_scheduler_processes.py.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fake_executors import NeverRuns
from sqlalchemy.engine import Engine

import dagcore.utils.timezone as tz_seam
from dagcore import DAG
from dagcore.api.common import trigger_dag
from dagcore.dag_processing import write_dag
from dagcore.db import migrate, transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.executors.base import BaseExecutor, ExecutorEvent
from dagcore.executors.inprocess import InProcessExecutor
from dagcore.jobs.job import Job, SchedulerAlreadyRunning
from dagcore.jobs.scheduler import SchedulerJob
from dagcore.models import tables as t
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator

START = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def db(engine: Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    migrate(engine)
    return engine


def _store(engine: Engine, *dags: DAG, paused: bool = False) -> None:
    for dag in dags:
        write_dag(engine, dag)
    with transaction(engine) as conn:
        conn.execute(t.dag.update().values(is_paused=paused))


def _job(engine: Engine, *dags: DAG, executor: BaseExecutor | None = None) -> SchedulerJob:
    dag_map = {d.dag_id: d for d in dags}
    job = SchedulerJob(engine=engine,
                       executor=executor or InProcessExecutor(engine, dags=dag_map),
                       dag_bag=DBDagBag(engine=engine, revalidation_interval=0),
                       idle_sleep=0.0, dags=dag_map, single=False)
    job.job.register()
    job.executor.start()
    return job


def _loop(job: SchedulerJob, n: int = 30) -> None:
    for _ in range(n):
        job.run_once()


def _runs(engine: Engine, dag_id: str) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.dag_run).where(t.dag_run.c.dag_id == dag_id)
                            .order_by(t.dag_run.c.run_after)).all()


def _tis(engine: Engine, dag_id: str, run_id: str) -> dict[str, Any]:
    ti = t.task_instance
    with engine.connect() as conn:
        return {row.task_id: row for row in conn.execute(
            sa.select(ti).where(ti.c.dag_id == dag_id, ti.c.run_id == run_id))}


def _chain_dag(dag_id: str = "chain", n: int = 5, **kwargs: Any) -> DAG:
    with DAG(dag_id, start_date=START, **kwargs) as dag:
        prev = None
        for i in range(n):
            task = EmptyOperator(task_id=f"t{i}")
            if prev is not None:
                prev >> task
            prev = task
    return dag


def test_empty_chain_finishes_in_one_loop_and_tis_appear_when_the_run_starts(db: Engine) -> None:
    dag = _chain_dag()
    _store(db, dag)
    run = trigger_dag("chain", engine=db)
    assert _tis(db, "chain", run.run_id) == {}  # created when the run starts, not before
    job = _job(db, dag)
    job.run_once()
    (row,) = _runs(db, "chain")
    assert row.state == "success"
    tis = _tis(db, "chain", run.run_id)
    assert {k: (v.state, v.try_number) for k, v in tis.items()} == {
        f"t{i}": ("success", 1) for i in range(5)}


def test_python_tasks_run_pass_xcoms_and_failures_propagate(db: Engine) -> None:
    with DAG("py", start_date=START) as dag:
        a = PythonOperator(task_id="a", python_callable=lambda: 21)
        b = PythonOperator(task_id="b",
                           python_callable=lambda ti: ti.xcom_pull("a") * 2)
        c = PythonOperator(task_id="c", python_callable=lambda: 1 / 0)
        d = EmptyOperator(task_id="d")
        a >> b >> c >> d
    _store(db, dag)
    run = trigger_dag("py", engine=db)
    _loop(_job(db, dag))
    tis = _tis(db, "py", run.run_id)
    assert {k: v.state for k, v in tis.items()} == {
        "a": "success", "b": "success", "c": "failed", "d": "upstream_failed"}
    assert _runs(db, "py")[0].state == "failed"
    with db.connect() as conn:
        value = conn.execute(sa.select(t.xcom.c.value).where(
            t.xcom.c.task_id == "b", t.xcom.c.key == "return_value")).scalar_one()
    assert value == 42


def test_scheduled_runs_follow_the_timetable_with_catchup(db: Engine,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    now = START + timedelta(days=3, hours=5)
    monkeypatch.setattr(tz_seam, "utcnow", lambda: now)
    dag = _chain_dag("daily", n=2, schedule="@daily", catchup=True)
    _store(db, dag)
    _loop(_job(db, dag), 10)
    runs = _runs(db, "daily")
    assert [r.run_id for r in runs] == [
        f"scheduled__{(START + timedelta(days=i)).isoformat()}" for i in range(4)]
    assert {r.state for r in runs} == {"success"}
    assert {r.run_type for r in runs} == {"scheduled"}
    with db.connect() as conn:
        nxt = conn.execute(sa.select(t.dag.c.next_dagrun_create_after)).scalar_one()
    assert nxt == START + timedelta(days=4)


def test_without_catchup_only_the_latest_run_is_created(db: Engine,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    now = START + timedelta(days=3, hours=5)
    monkeypatch.setattr(tz_seam, "utcnow", lambda: now)
    dag = _chain_dag("daily", n=1, schedule="@daily", catchup=False)
    _store(db, dag)
    _loop(_job(db, dag), 5)
    assert [r.logical_date for r in _runs(db, "daily")] == [START + timedelta(days=3)]


def test_max_active_runs_limits_started_runs(db: Engine) -> None:
    with DAG("limited", start_date=START, max_active_runs=2) as dag:
        PythonOperator(task_id="p", python_callable=lambda: None)
    _store(db, dag)
    for i in range(4):
        trigger_dag("limited", run_id=f"r{i}", logical_date=START + timedelta(hours=i),
                    engine=db)
    job = _job(db, dag, executor=NeverRuns())
    job.run_once()
    states = sorted(r.state for r in _runs(db, "limited"))
    assert states == ["queued", "queued", "running", "running"]


def test_max_active_tasks_is_per_run(db: Engine) -> None:
    with DAG("wide", start_date=START, max_active_tasks=2) as dag:
        for i in range(5):
            PythonOperator(task_id=f"p{i}", python_callable=lambda: None)
    _store(db, dag)
    for i in range(2):
        trigger_dag("wide", run_id=f"r{i}", logical_date=START + timedelta(hours=i), engine=db)
    never = NeverRuns(parallelism=100)
    job = _job(db, dag, executor=never)
    _loop(job, 3)
    per_run: dict[str, int] = {}
    for w in never.queued:
        per_run[w.key.run_id] = per_run.get(w.key.run_id, 0) + 1
    assert per_run == {"r0": 2, "r1": 2}


def test_paused_dag_gets_no_runs_and_its_triggered_run_stays_queued(
        db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tz_seam, "utcnow", lambda: START + timedelta(days=2))
    dag = _chain_dag("paused", n=1, schedule="@daily", catchup=True)
    _store(db, dag, paused=True)
    trigger_dag("paused", run_id="manual", engine=db)
    _loop(_job(db, dag), 3)
    assert [(r.run_id, r.state) for r in _runs(db, "paused")] == [("manual", "queued")]


def test_retries_archive_the_failed_try(db: Engine, tmp_path: Any) -> None:
    marker = tmp_path / "failed-once"

    def flaky() -> str:
        if not marker.exists():
            marker.write_text("x")
            raise RuntimeError("first try fails")
        return "ok"

    with DAG("retry", start_date=START) as dag:
        PythonOperator(task_id="flaky", python_callable=flaky, retries=1,
                       retry_delay=timedelta(0))
    _store(db, dag)
    run = trigger_dag("retry", engine=db)
    _loop(_job(db, dag))
    ti = _tis(db, "retry", run.run_id)["flaky"]
    assert (ti.state, ti.try_number) == ("success", 2)
    with db.connect() as conn:
        history = conn.execute(sa.select(t.task_instance_history.c.state,
                                         t.task_instance_history.c.try_number)).all()
    # Airflow's TaskInstanceHistory.record_ti records a try that had not finished as failed.
    assert [tuple(h) for h in history] == [("failed", 1)]
    assert _runs(db, "retry")[0].state == "success"


def test_retry_waits_for_retry_delay(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [datetime(2025, 6, 1, tzinfo=UTC)]
    monkeypatch.setattr(tz_seam, "utcnow", lambda: now[0])
    with DAG("delay", start_date=START) as dag:
        PythonOperator(task_id="boom", python_callable=lambda: 1 / 0, retries=1,
                       retry_delay=timedelta(minutes=5))
    _store(db, dag)
    run = trigger_dag("delay", engine=db)
    job = _job(db, dag)
    _loop(job, 5)
    assert _tis(db, "delay", run.run_id)["boom"].state == "up_for_retry"
    now[0] += timedelta(minutes=4)
    _loop(job, 3)
    assert _tis(db, "delay", run.run_id)["boom"].state == "up_for_retry"
    now[0] += timedelta(minutes=2)
    _loop(job, 5)
    ti = _tis(db, "delay", run.run_id)["boom"]
    assert (ti.state, ti.try_number) == ("failed", 2)


def test_dagrun_timeout_fails_the_run_and_skips_unfinished(db: Engine,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    now = [datetime(2025, 6, 1, tzinfo=UTC)]
    monkeypatch.setattr(tz_seam, "utcnow", lambda: now[0])
    with DAG("slow", start_date=START, dagrun_timeout=timedelta(minutes=10)) as dag:
        PythonOperator(task_id="p", python_callable=lambda: None)
    _store(db, dag)
    run = trigger_dag("slow", engine=db)
    job = _job(db, dag, executor=NeverRuns())
    _loop(job, 2)
    assert _tis(db, "slow", run.run_id)["p"].state == "queued"
    now[0] += timedelta(minutes=11)
    _loop(job, 1)
    assert _runs(db, "slow")[0].state == "failed"
    assert _tis(db, "slow", run.run_id)["p"].state == "skipped"


def test_a_process_that_dies_fails_its_try(db: Engine) -> None:
    with DAG("dies", start_date=START) as dag:
        PythonOperator(task_id="p", python_callable=lambda: None)
    _store(db, dag)
    run = trigger_dag("dies", engine=db)
    dying = _Dies()
    _loop(_job(db, dag, executor=dying), 5)
    assert _tis(db, "dies", run.run_id)["p"].state == "failed"
    assert _runs(db, "dies")[0].state == "failed"


def test_queued_tis_of_a_dead_scheduler_are_reset(db: Engine) -> None:
    with DAG("orphan", start_date=START) as dag:
        PythonOperator(task_id="p", python_callable=lambda: "done")
    _store(db, dag)
    run = trigger_dag("orphan", engine=db)
    dead = _job(db, dag, executor=NeverRuns())
    _loop(dead, 2)
    assert _tis(db, "orphan", run.run_id)["p"].state == "queued"
    with transaction(db) as conn:  # the first scheduler died: its heartbeat is old
        conn.execute(t.job.update().where(t.job.c.id == dead.job.id).values(
            latest_heartbeat=datetime(2000, 1, 1, tzinfo=UTC)))
    job = _job(db, dag)
    assert job.adopt_or_reset_orphaned_tasks() == 1
    _loop(job, 5)
    assert _tis(db, "orphan", run.run_id)["p"].state == "success"


def test_a_second_scheduler_on_sqlite_is_refused(sqlite_engine: Engine, tmp_path: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    migrate(sqlite_engine)
    Job(sqlite_engine, "SchedulerJob").register(single=True)  # this process: alive
    job = SchedulerJob(engine=sqlite_engine, executor=NeverRuns(), num_runs=1)
    with pytest.raises(SchedulerAlreadyRunning, match=f"pid {os.getpid()}.*SQLite allows one"):
        job.run()
    with sqlite_engine.connect() as conn:  # nothing registered by the refused one
        assert conn.execute(sa.select(sa.func.count()).select_from(t.job)).scalar_one() == 1


def test_num_runs_stops_the_loop(db: Engine) -> None:
    job = SchedulerJob(engine=db, executor=NeverRuns(), num_runs=3, idle_sleep=0.0,
                       single=False)
    assert job.run() == 3
    with db.connect() as conn:
        assert conn.execute(sa.select(t.job.c.state)).scalar_one() == "success"


def test_dag_test_returns_states_xcoms_and_calls_dag_callbacks() -> None:
    seen: list[str] = []
    with DAG("tested", start_date=START, params={"n": 2},
             on_success_callback=lambda ctx: seen.append(ctx["reason"])) as dag:
        a = PythonOperator(task_id="a", python_callable=lambda params: params["n"] * 10)
        b = PythonOperator(task_id="b", python_callable=lambda ti: ti.xcom_pull("a") + 1)
        a >> b
    result = dag.test(conf={"n": 4})
    assert result.state == "success"
    assert result.task_states == {"a": "success", "b": "success"}
    assert result.xcom_pull("a") == 40 and result.xcom_pull("b") == 41
    assert seen == ["success"]


def test_dag_test_reports_a_failed_run() -> None:
    with DAG("broken", start_date=START) as dag:
        PythonOperator(task_id="a", python_callable=lambda: 1 / 0)
        EmptyOperator(task_id="b")
    result = dag.test()
    assert result.state == "failed"
    assert result.task_states == {"a": "failed", "b": "success"}
    with pytest.raises(KeyError, match="'nope'"):
        result.get_task_instance("nope")


class _Dies(NeverRuns):
    """Every workload's process 'dies' at once (killed by a signal)."""

    def heartbeat(self) -> list[ExecutorEvent]:
        events = [ExecutorEvent(w.key, w.ti_id, "failed", "killed by signal SIGKILL")
                  for w in self.queued]
        self.queued = []
        return events


def test_stale_dag_gets_no_new_runs_and_its_queued_run_waits(
        db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tz_seam, "utcnow", lambda: START + timedelta(days=2))
    dag = _chain_dag("stale", n=1, schedule="@daily", catchup=True)
    _store(db, dag)
    trigger_dag("stale", run_id="manual", engine=db)
    with transaction(db) as conn:
        conn.execute(t.dag.update().values(is_stale=True))
    _loop(_job(db, dag), 3)
    assert [(r.run_id, r.state) for r in _runs(db, "stale")] == [("manual", "queued")]


def test_backfill_runs_count_against_the_backfill_limit_not_the_dags(db: Engine) -> None:
    with DAG("bf", start_date=START, max_active_runs=1) as dag:
        PythonOperator(task_id="p", python_callable=lambda: None)
    _store(db, dag)
    now = datetime(2025, 6, 1, tzinfo=UTC)
    with transaction(db) as conn:
        backfill_id = conn.execute(t.backfill.insert().values(
            dag_id="bf", from_date=START, to_date=START + timedelta(days=5), dag_run_conf={},
            max_active_runs=3, created_at=now, updated_at=now)).inserted_primary_key[0]
        for i in range(5):
            run_id = conn.execute(t.dag_run.insert().values(
                dag_id="bf", run_id=f"backfill__{i}", logical_date=START + timedelta(days=i),
                run_after=START + timedelta(days=i), state="queued", run_type="backfill",
                backfill_id=backfill_id, conf={})).inserted_primary_key[0]
            conn.execute(t.backfill_dag_run.insert().values(
                backfill_id=backfill_id, dag_run_id=run_id, sort_ordinal=5 - i,
                logical_date=START + timedelta(days=i)))
    trigger_dag("bf", run_id="manual", engine=db)
    _job(db, dag, executor=NeverRuns()).run_once()
    running = {r.run_id for r in _runs(db, "bf") if r.state == "running"}
    # The manual run uses the DAG's one slot; the backfill starts its first three by ordinal.
    assert running == {"manual", "backfill__4", "backfill__3", "backfill__2"}


def test_a_new_dag_version_mid_run_removes_and_adds_task_instances(db: Engine) -> None:
    with DAG("versioned", start_date=START) as v1:
        PythonOperator(task_id="a", python_callable=lambda: None) >> PythonOperator(
            task_id="b", python_callable=lambda: None)
    _store(db, v1)
    run = trigger_dag("versioned", engine=db)
    _job(db, v1, executor=NeverRuns())._start_queued_dagruns()
    assert set(_tis(db, "versioned", run.run_id)) == {"a", "b"}
    with DAG("versioned", start_date=START) as v2:
        PythonOperator(task_id="a", python_callable=lambda: None) >> PythonOperator(
            task_id="c", python_callable=lambda: None)
    write_dag(db, v2)  # v1 has task instances: a new version
    _loop(_job(db, v2), 10)
    tis = _tis(db, "versioned", run.run_id)
    assert {k: v.state for k, v in tis.items()} == {"a": "success", "b": "removed",
                                                    "c": "success"}
    with db.connect() as conn:
        versions = dict(conn.execute(sa.select(t.dag_version.c.id,
                                               t.dag_version.c.version_number)).all())
    assert versions[tis["c"].dag_version_id] == 2
    assert _runs(db, "versioned")[0].state == "success"


def test_depends_on_past_waits_for_the_previous_run(db: Engine) -> None:
    with DAG("past", start_date=START) as dag:
        PythonOperator(task_id="p", python_callable=lambda: None, depends_on_past=True)
    _store(db, dag)
    first = trigger_dag("past", run_id="first", logical_date=START, engine=db)
    second = trigger_dag("past", run_id="second", logical_date=START + timedelta(days=1),
                         engine=db)
    never = NeverRuns()
    _loop(_job(db, dag, executor=never), 3)
    assert [w.key.run_id for w in never.queued] == ["first"]  # the second waits
    assert _tis(db, "past", second.run_id)["p"].state is None
    with transaction(db) as conn:
        conn.execute(t.task_instance.update().where(t.task_instance.c.run_id == first.run_id)
                     .values(state="success"))
    job = _job(db, dag, executor=never)
    _loop(job, 3)
    assert [w.key.run_id for w in never.queued] == ["first", "second"]


def test_max_active_tis_per_dag_spans_runs(db: Engine) -> None:
    with DAG("pertask", start_date=START) as dag:
        PythonOperator(task_id="p", python_callable=lambda: None, max_active_tis_per_dag=1)
        PythonOperator(task_id="q", python_callable=lambda: None)
    _store(db, dag)
    for i in range(3):
        trigger_dag("pertask", run_id=f"r{i}", logical_date=START + timedelta(hours=i),
                    engine=db)
    never = NeverRuns()
    _loop(_job(db, dag, executor=never), 3)
    queued = sorted((w.key.task_id, w.key.run_id) for w in never.queued)
    assert [k for k in queued if k[0] == "p"] == [("p", "r0")]
    assert [k for k in queued if k[0] == "q"] == [("q", "r0"), ("q", "r1"), ("q", "r2")]
