"""The scheduler loop's fast paths (issue 18, docs/performance.md 3) against the slow ones.

- The empty-task rounds of a DAG version's runs in one C++ call
  (``RunGraph.decide_many_cascade``) leave the database exactly as the Python rounds did
  (``SchedulerJob._decide_rounds``, still used for an empty task with ``depends_on_past``):
  the same DAGs and runs, loop after loop, compared row by row.
- On SQLite the decision made before taking the write lock is reused under the lock when
  nothing was committed in between (``PRAGMA data_version``), and made again when something was.
- A loop woken by ended tries decides only their runs (``SchedulerJob._focused``): the same
  DAGs run to the same end as with every loop deciding every run, and a change made by another
  program to another run is seen by the next loop that looks at every run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fake_executors import NeverRuns
from sqlalchemy.engine import Engine

from dagcore import DAG
from dagcore.api.common import trigger_dag
from dagcore.dag_processing import write_dag
from dagcore.db import migrate, transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.executors.base import BaseExecutor, ExecutorEvent, TaskWorkload
from dagcore.jobs import scheduler as scheduler_module
from dagcore.executors.inprocess import InProcessExecutor
from dagcore.jobs.scheduler import SchedulerJob
from dagcore.models import tables as t
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator
from dagcore.trigger_rule import TriggerRule

START = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def db(engine: Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    migrate(engine)
    return engine


def _store(engine: Engine, *dags: DAG) -> None:
    for dag in dags:
        write_dag(engine, dag)
    with transaction(engine) as conn:
        conn.execute(t.dag.update().values(is_paused=False))


def _job(engine: Engine, *dags: DAG, executor: BaseExecutor | None = None,
         cls: type[SchedulerJob] = SchedulerJob) -> SchedulerJob:
    dag_map = {d.dag_id: d for d in dags}
    job = cls(engine=engine, executor=executor or InProcessExecutor(engine, dags=dag_map),
              dag_bag=DBDagBag(engine=engine, revalidation_interval=0), idle_sleep=0.0,
              dags=dag_map, single=False)
    job.job.register()
    job.executor.start()
    return job


def _snapshot(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    ti, dr = t.task_instance, t.dag_run
    with engine.connect() as conn:
        tis = conn.execute(sa.select(ti.c.dag_id, ti.c.run_id, ti.c.task_id, ti.c.map_index,
                                     ti.c.state, ti.c.try_number)
                           .order_by(ti.c.dag_id, ti.c.run_id, ti.c.task_id,
                                     ti.c.map_index)).all()
        runs = conn.execute(sa.select(dr.c.dag_id, dr.c.run_id, dr.c.state)
                            .order_by(dr.c.dag_id, dr.c.run_id)).all()
    return [tuple(r) for r in tis], [tuple(r) for r in runs]


def _fail() -> None:
    raise RuntimeError("boom")


def _dags() -> list[DAG]:
    """Empty tasks in chains, fans and diamonds, with Python tasks that succeed or fail and the
    trigger rules that react to both."""
    with DAG("levels", start_date=START, schedule=None) as levels:
        tiers = [[EmptyOperator(task_id=f"e{k}_{i}") for i in range(3)] for k in range(4)]
        for upper, lower in zip(tiers, tiers[1:]):
            for task in lower:
                upper >> task
    with DAG("mixed", start_date=START, schedule=None) as mixed:
        start = EmptyOperator(task_id="start")
        ok = PythonOperator(task_id="ok", python_callable=lambda: None)
        bad = PythonOperator(task_id="bad", python_callable=_fail)
        after_ok = EmptyOperator(task_id="after_ok")
        after_bad = EmptyOperator(task_id="after_bad")
        on_fail = EmptyOperator(task_id="on_fail", trigger_rule=TriggerRule.ONE_FAILED)
        done = EmptyOperator(task_id="done", trigger_rule=TriggerRule.ALL_DONE)
        tail = PythonOperator(task_id="tail", python_callable=lambda: None,
                              trigger_rule=TriggerRule.NONE_FAILED)
        start >> [ok, bad]
        ok >> after_ok >> tail
        bad >> after_bad >> tail
        [ok, bad] >> on_fail >> done
        after_ok >> done
    with DAG("branches", start_date=START, schedule=None) as branches:
        root = PythonOperator(task_id="root", python_callable=lambda: None)
        skip_me = EmptyOperator(task_id="skip_me", trigger_rule=TriggerRule.ALL_FAILED)
        below = EmptyOperator(task_id="below")
        joined = EmptyOperator(task_id="joined",
                               trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
        root >> skip_me >> below >> joined
        root >> joined
    return [levels, mixed, branches]


def _stored_with_runs(engine: Engine, runs: int) -> list[DAG]:
    """The DAGs of :func:`_dags`, stored and unpaused, each with ``runs`` queued runs."""
    dags = _dags()
    _store(engine, *dags)
    for dag in dags:
        for i in range(runs):
            trigger_dag(dag.dag_id, run_id=f"r{i}", logical_date=START + timedelta(hours=i),
                        replace_microseconds=False, engine=engine)
    return dags


def _run_all(engine: Engine, *, fast: bool, monkeypatch: pytest.MonkeyPatch
             ) -> list[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    dags = _stored_with_runs(engine, 3)
    job = _job(engine, *dags)
    if not fast:
        monkeypatch.setattr(SchedulerJob, "_auto_success_of", lambda self, dag: None)
    snapshots = []
    for _ in range(12):
        job.run_once()
        snapshots.append(_snapshot(engine))
    monkeypatch.undo()
    return snapshots


def test_one_call_rounds_write_what_the_python_rounds_wrote(
        engine: Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "fast"))
    migrate(engine)
    fast = _run_all(engine, fast=True, monkeypatch=monkeypatch)
    with transaction(engine) as conn:
        for table in (t.task_instance, t.dag_run):
            conn.execute(table.delete())
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "slow"))
    slow = _run_all(engine, fast=False, monkeypatch=monkeypatch)
    assert fast == slow
    tis, runs = fast[-1]
    assert {state for *_, state in runs} == {"success", "failed"}  # it ran to the end
    assert ("levels", "r0", "e3_2", -1, "success", 1) in tis


def test_the_engine_counts_every_round_as_a_decision(db: Engine) -> None:
    dag = _dags()[0]
    _store(db, dag)
    trigger_dag("levels", run_id="r0", engine=db)
    job = _job(db, dag)
    job.run_once()
    assert _snapshot(db)[1] == [("levels", "r0", "success")]
    # 4 levels set success, then the run's state (once: on SQLite the decision made before
    # the write lock is reused under it, nothing having been committed in between)
    assert job.decide_runs == 5


# -- SQLite: the decision made before the write lock --------------------------------------------


def _two_step() -> DAG:
    with DAG("two", start_date=START, schedule=None) as dag:
        PythonOperator(task_id="a", python_callable=lambda: None) >> PythonOperator(
            task_id="b", python_callable=lambda: None)
    return dag


def test_the_unlocked_decision_is_reused_when_nothing_was_committed(
        sqlite_engine: Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    migrate(sqlite_engine)
    dag = _two_step()
    _store(sqlite_engine, dag)
    run = trigger_dag("two", engine=sqlite_engine)
    job = _job(sqlite_engine, dag, executor=NeverRuns())
    job.run_once()
    assert job.reused_examinations >= 1
    ti = t.task_instance
    with sqlite_engine.connect() as conn:
        states = dict(conn.execute(sa.select(ti.c.task_id, ti.c.state)
                                   .where(ti.c.run_id == run.run_id)).all())
    assert states == {"a": "queued", "b": None}


def test_a_commit_between_the_read_and_the_lock_is_decided_again(
        sqlite_engine: Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    migrate(sqlite_engine)
    dag = _two_step()
    _store(sqlite_engine, dag)
    run = trigger_dag("two", engine=sqlite_engine)
    ti = t.task_instance

    class MarkedMeanwhile(SchedulerJob):
        """Marks ``a`` successful (another connection, as the API would) right after the
        unlocked examination that found it schedulable."""

        armed = False

        def _examine(self, conn: Any, now: Any, lock: Any = None, focus: Any = None) -> Any:
            seen = super()._examine(conn, now, lock, focus)
            if lock is None and self.armed:
                self.armed = False
                with transaction(self.engine) as other:
                    other.execute(ti.update().where(ti.c.task_id == "a")
                                  .values(state="success"))
            return seen

    job = _job(sqlite_engine, dag, executor=NeverRuns(), cls=MarkedMeanwhile)
    job.run_once()  # the run starts: its task instances are created
    with sqlite_engine.connect() as conn:
        assert dict(conn.execute(sa.select(ti.c.task_id, ti.c.state)).all())["a"] == "queued"
    with transaction(sqlite_engine) as conn:  # back to no state: a is schedulable again
        conn.execute(ti.update().values(state=None, try_number=0))
    job.armed = True  # type: ignore[attr-defined]
    reused = job.reused_examinations
    job.run_once()
    assert job.reused_examinations == reused  # the commit was seen: decided again
    with sqlite_engine.connect() as conn:
        states = dict(conn.execute(sa.select(ti.c.task_id, ti.c.state)
                                   .where(ti.c.run_id == run.run_id)).all())
    assert states == {"a": "success", "b": "queued"}


def test_batched_ids_have_uuid7s_layout() -> None:
    import time as time_module

    from dagcore.models.types import uuid7, uuid7_many

    before = time_module.time_ns() // 1_000_000
    ids = uuid7_many(2_000)
    after = time_module.time_ns() // 1_000_000
    assert len(set(ids)) == 2_000 and uuid7_many(0) == []
    single = uuid7()
    for new in ids:
        assert (new.version, new.variant) == (single.version, single.variant) == (
            7, "specified in RFC 4122")
        assert before <= new.int >> 80 <= after
    # The random bits are random: every bit position of the 74 takes both values.
    ones = 0
    for new in ids:
        ones |= new.int & ((0xFFF << 64) | ((1 << 62) - 1))
    assert ones == (0xFFF << 64) | ((1 << 62) - 1)


# -- focused loops: only the runs of ended tries --------------------------------------------


def _run_to_the_end(engine: Engine, *, focus: bool, monkeypatch: pytest.MonkeyPatch
                    ) -> tuple[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]], int]:
    dags = _stored_with_runs(engine, 4)
    if not focus:
        monkeypatch.setattr(scheduler_module, "FOCUS_INTERVAL_S", -1.0)
    job = _job(engine, *dags)
    for _ in range(200):
        job.run_once()
        if all(state in ("success", "failed") for *_, state in _snapshot(engine)[1]):
            break
    monkeypatch.undo()
    return _snapshot(engine), job.focused_loops


def test_focused_loops_end_where_full_loops_end(
        engine: Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "focused"))
    migrate(engine)
    focused, made = _run_to_the_end(engine, focus=True, monkeypatch=monkeypatch)
    with transaction(engine) as conn:
        for table in (t.task_instance, t.dag_run):
            conn.execute(table.delete())
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "full"))
    full, none = _run_to_the_end(engine, focus=False, monkeypatch=monkeypatch)
    assert made > 0 and none == 0  # the in-process executor's events focus loops
    assert focused == full
    tis, runs = focused
    assert len(runs) == 12 and {state for *_, state in runs} == {"success", "failed"}
    assert all(state is not None for *_, state, _ in tis)


class Scripted(NeverRuns):
    """NeverRuns, whose next heartbeat reports the events a test puts in ``ended``."""

    def __init__(self) -> None:
        super().__init__()
        self.ended: list[ExecutorEvent] = []

    def heartbeat(self) -> list[ExecutorEvent]:
        ended, self.ended = self.ended, []
        return ended


def _b_states(engine: Engine) -> dict[str, str | None]:
    ti = t.task_instance
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(ti.c.run_id, ti.c.state)
                                 .where(ti.c.task_id == "b")).all())


def _r0_ended_and_r1_marked(engine: Engine) -> SchedulerJob:
    """Two runs of a >> b with both a queued; then r0's try of a ends (its process recorded
    success, and the executor reports it) and the API marks r1's a successful."""
    dag = _two_step()
    _store(engine, dag)
    for i, run_id in enumerate(("r0", "r1")):
        trigger_dag("two", run_id=run_id, logical_date=START + timedelta(hours=i),
                    engine=engine)
    executor = Scripted()
    job = _job(engine, dag, executor=executor)
    for _ in range(3):
        job.run_once()
    ti = t.task_instance
    with engine.connect() as conn:
        assert dict(conn.execute(sa.select(ti.c.run_id, ti.c.state)
                                 .where(ti.c.task_id == "a")).all()) == {
            "r0": "queued", "r1": "queued"}
    assert _b_states(engine) == {"r0": None, "r1": None}
    with transaction(engine) as conn:
        conn.execute(ti.update().where(ti.c.task_id == "a").values(state="success"))
    workload: TaskWorkload = next(w for w in executor.queued if w.key.run_id == "r0")
    executor.ended = [ExecutorEvent(key=workload.key, ti_id=workload.ti_id, state="success")]
    return job


def test_a_loop_woken_by_ended_tries_decides_their_runs_and_a_full_loop_the_rest(
        db: Engine) -> None:
    job = _r0_ended_and_r1_marked(db)
    job.run_once()
    assert job.focused_loops == 1
    assert _b_states(db) == {"r0": "queued", "r1": None}
    # The next loop without ended tries looks at every run.
    job.run_once()
    assert job.focused_loops == 1
    assert _b_states(db) == {"r0": "queued", "r1": "queued"}


def test_ended_tries_do_not_focus_a_loop_once_the_interval_is_over(
        db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    job = _r0_ended_and_r1_marked(db)
    monkeypatch.setattr(scheduler_module, "FOCUS_INTERVAL_S", 0.0)
    job.run_once()
    assert job.focused_loops == 0
    assert _b_states(db) == {"r0": "queued", "r1": "queued"}
