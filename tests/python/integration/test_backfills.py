"""Backfills in the database (dagcore.api.backfills) and run by the scheduler, on SQLite and
PostgreSQL (docs/airflow-behaviour.md section 2).

The clock is frozen at :data:`NOW` (``dagcore.utils.timezone.utcnow``); the scheduler runs
in-process, one loop at a time, with the InProcessExecutor, or with :class:`fake_executors.NeverRuns`, an executor
that accepts task instances and never runs them, to look at runs while they are running. Every
refused request is checked to leave every table as it was.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fake_executors import NeverRuns
from sqlalchemy.engine import Engine

import dagcore.backfill
import dagcore.utils.timezone as tz_seam
from dagcore import DAG, Param
from dagcore.api import backfills as api
from dagcore.api.backfills import (
    BackfillCompleted,
    BackfillNotFound,
    OverlappingBackfill,
    backfill_status,
    cancel_backfill,
    create_backfill,
    dry_run_backfill,
    get_backfill,
    list_backfills,
    pause_backfill,
    unpause_backfill,
)
from dagcore.api.common import DagNotFound, trigger_dag
from dagcore.backfill import (
    BackfillAction,
    DagNonPeriodicScheduleError,
    InvalidBackfillDate,
    InvalidBackfillDateRange,
    InvalidBackfillDirection,
    InvalidReprocessBehavior,
)
from dagcore.dag_processing import write_dag
from dagcore.db import migrate, transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.exceptions import ParamValidationError
from dagcore.executors.base import BaseExecutor
from dagcore.executors.inprocess import InProcessExecutor
from dagcore.jobs.scheduler import SchedulerJob
from dagcore.models import tables as t
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator

pytestmark = pytest.mark.integration

NOW = datetime(2025, 6, 1, tzinfo=UTC)
START = datetime(2025, 1, 1, tzinfo=UTC)


def day(i: int) -> datetime:
    """Midnight of 2025-01-01 + i days: the logical date of the daily DAGs' runs."""
    return START + timedelta(days=i)


# -- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The frozen clock; a test may move ``clock[0]``."""
    now = [NOW]
    monkeypatch.setattr(tz_seam, "utcnow", lambda: now[0])
    return now


@pytest.fixture
def db(engine: Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
       clock: list[datetime]) -> Engine:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    migrate(engine)
    return engine


def daily(dag_id: str = "daily", tasks: str = "a>b", *, task: type = EmptyOperator,
          **kwargs: Any) -> DAG:
    """A ``@daily`` DAG whose tasks are a chain (``"a>b"``) of EmptyOperators (or no-op
    PythonOperators with ``task=PythonOperator``)."""
    kwargs.setdefault("schedule", "@daily")
    task_kwargs = {k: kwargs.pop(k) for k in ("depends_on_past", "retries") if k in kwargs}
    with DAG(dag_id, start_date=START, **kwargs) as dag:
        prev = None
        for name in tasks.split(">"):
            op = (task(task_id=name, python_callable=lambda: None, **task_kwargs)
                  if task is PythonOperator else task(task_id=name, **task_kwargs))
            if prev is not None:
                prev >> op
            prev = op
    return dag


def store(engine: Engine, *dags: DAG, paused: bool = False) -> None:
    for dag in dags:
        write_dag(engine, dag)
        with transaction(engine) as conn:
            conn.execute(t.dag.update().where(t.dag.c.dag_id == dag.dag_id)
                         .values(is_paused=paused))


def scheduler(engine: Engine, dags: dict[str, DAG],
              executor: BaseExecutor | None = None) -> SchedulerJob:
    """A registered scheduler; ``dags`` is the InProcessExecutor's mapping (a test may put a
    new version of a DAG into it)."""
    job = SchedulerJob(engine=engine, executor=executor or InProcessExecutor(engine, dags=dags),
                       dag_bag=DBDagBag(engine=engine, revalidation_interval=0),
                       idle_sleep=0.0, dags=dags, single=False)
    job.job.register()
    job.executor.start()
    return job


def loop(job: SchedulerJob, n: int = 30) -> None:
    for _ in range(n):
        job.run_once()


def loop_until(job: SchedulerJob, done: Callable[[], bool], limit: int = 100) -> None:
    for _ in range(limit):
        if done():
            return
        job.run_once()
    assert done(), f"not done after {limit} scheduler loops"


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    with engine.connect() as conn:
        return {table.name: sorted((tuple(row) for row in conn.execute(sa.select(table))),
                                   key=repr)
                for table in t.metadata.sorted_tables}


def rows(engine: Engine, table: sa.Table, *where: Any, order: Any = None) -> list[Any]:
    with engine.connect() as conn:
        query = sa.select(table).where(*where)
        if order is not None:
            query = query.order_by(order)
        return conn.execute(query).all()


def bf_runs(engine: Engine, backfill_id: int) -> list[Any]:
    """The backfill's runs in sort-ordinal order."""
    dr, bdr = t.dag_run, t.backfill_dag_run
    with engine.connect() as conn:
        return conn.execute(
            sa.select(dr, bdr.c.sort_ordinal)
            .join(bdr, sa.and_(bdr.c.dag_run_id == dr.c.id, bdr.c.backfill_id == backfill_id))
            .order_by(bdr.c.sort_ordinal)).all()


def tis(engine: Engine, dag_id: str, run_id: str | None = None) -> list[Any]:
    ti = t.task_instance
    where = [ti.c.dag_id == dag_id] + ([ti.c.run_id == run_id] if run_id else [])
    return rows(engine, ti, *where, order=ti.c.task_id)


def version_ids(engine: Engine, dag_id: str) -> dict[int, Any]:
    """version_number -> dag_version.id."""
    dv = t.dag_version
    with engine.connect() as conn:
        return {n: i for i, n in conn.execute(
            sa.select(dv.c.id, dv.c.version_number).where(dv.c.dag_id == dag_id))}


def add_run(engine: Engine, dag_id: str, logical: datetime, state: str,
            ti_states: dict[str, str | None], *, conf: dict[str, Any] | None = None) -> Any:
    """A scheduled run of ``dag_id`` at ``logical`` in ``state`` with task instances in
    ``ti_states`` (try 1 unless the state is None); returns the run row."""
    run_id = f"scheduled__{logical.isoformat()}"
    with transaction(engine) as conn:
        version_id = conn.execute(sa.select(t.dag_version.c.id)
                                  .where(t.dag_version.c.dag_id == dag_id)).scalar_one()
        conn.execute(t.dag_run.insert().values(
            dag_id=dag_id, run_id=run_id, logical_date=logical, run_after=logical,
            data_interval_start=logical, data_interval_end=logical, state=state,
            run_type="scheduled", triggered_by="timetable", conf=conf or {},
            start_date=None if state == "queued" else logical,
            end_date=logical if state in ("success", "failed") else None,
            created_dag_version_id=version_id, clear_number=0))
        if ti_states:
            conn.execute(t.task_instance.insert(), [
                {"id": uuid.uuid4(), "dag_id": dag_id, "run_id": run_id, "task_id": task_id,
                 "state": state_, "try_number": 0 if state_ is None else 1, "max_tries": 0,
                 "dag_version_id": version_id}
                for task_id, state_ in ti_states.items()])
    (row,) = rows(engine, t.dag_run, t.dag_run.c.run_id == run_id)
    return row


# -- creation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("backwards", [False, True], ids=["forward", "backwards"])
def test_create_writes_the_backfill_its_queued_runs_and_links_but_no_task_instance(
        db: Engine, backwards: bool) -> None:
    store(db, daily(params={"n": 1}))
    backfill = create_backfill("daily", from_date=day(0), to_date=day(4), run_backwards=backwards,
                               dag_run_conf={"n": 7}, max_active_runs=3,
                               triggering_user_name="alice", engine=db)
    assert (backfill.created, backfill.cleared, backfill.skipped) == (5, 0, 0)

    (row,) = rows(db, t.backfill)
    assert row.id == backfill.id
    assert (row.dag_id, row.from_date, row.to_date, row.dag_run_conf) == (
        "daily", day(0), day(4), {"n": 7})
    assert (row.is_paused, row.reprocess_behavior, row.max_active_runs) == (False, "none", 3)
    assert (row.created_at, row.updated_at, row.completed_at) == (NOW, NOW, None)
    assert (row.triggering_user_name, row.keep_dag_paused, row.run_on_latest_version) == (
        "alice", False, True)

    (version_id,) = version_ids(db, "daily").values()
    runs = rows(db, t.dag_run, order=t.dag_run.c.logical_date)
    assert [r.run_id for r in runs] == [f"backfill__{day(i).isoformat()}" for i in range(5)]
    for i, run in enumerate(runs):
        assert (run.logical_date, run.run_after) == (day(i), day(i))
        assert (run.data_interval_start, run.data_interval_end) == (day(i), day(i))
        assert (run.state, run.run_type, run.triggered_by) == ("queued", "backfill", "backfill")
        assert (run.conf, run.backfill_id, run.clear_number) == ({"n": 7}, backfill.id, 0)
        assert run.created_dag_version_id == version_id
        assert run.triggering_user_name == "alice"

    links = rows(db, t.backfill_dag_run, order=t.backfill_dag_run.c.sort_ordinal)
    ordinal_of = {link.logical_date: link.sort_ordinal for link in links}
    expected = {day(i): (5 - i if backwards else i + 1) for i in range(5)}
    assert ordinal_of == expected
    run_of = {run.logical_date: run.id for run in runs}
    assert [(link.dag_run_id, link.exception_reason) for link in links] == [
        (run_of[link.logical_date], None) for link in links]
    assert {link.backfill_id for link in links} == {backfill.id}
    assert tis(db, "daily") == []  # created by the scheduler when a run starts


def test_the_os_user_is_recorded_by_default_and_the_api_is_reexported(db: Engine) -> None:
    import getpass

    store(db, daily())
    backfill = create_backfill("daily", from_date=day(0), to_date=day(0), engine=db)
    assert backfill.triggering_user_name == getpass.getuser()
    assert backfill.dag_run_conf == {}
    assert dagcore.backfill.create_backfill is create_backfill
    assert dagcore.backfill.OverlappingBackfill is OverlappingBackfill
    assert get_backfill(backfill.id, engine=db).id == backfill.id
    with pytest.raises(BackfillNotFound, match="Backfill 99 not found"):
        get_backfill(99, engine=db)


# Reference 2.5: what an existing run at a date becomes, per its state and reprocess_behavior.
REPROCESS_TABLE = [
    ("success", "none", "already exists"),
    ("success", "failed", "already exists"),
    ("success", "completed", "clear"),
    ("failed", "none", "already exists"),
    ("failed", "failed", "clear"),
    ("failed", "completed", "clear"),
    ("queued", "none", "in flight"),
    ("queued", "failed", "in flight"),
    ("queued", "completed", "in flight"),
    ("running", "none", "in flight"),
    ("running", "failed", "in flight"),
    ("running", "completed", "in flight"),
]
EXISTING_TIS = {
    "success": {"a": "success", "b": "success"},
    "failed": {"a": "success", "b": "failed"},
    "queued": {},
    "running": {"a": "running", "b": None},
}


@pytest.mark.parametrize("state, reprocess, outcome", REPROCESS_TABLE,
                         ids=[f"{s}-{r}" for s, r, _ in REPROCESS_TABLE])
def test_an_existing_run_is_cleared_or_skipped_per_the_reprocess_table(
        db: Engine, state: str, reprocess: str, outcome: str) -> None:
    store(db, daily(retries=2))
    existing = add_run(db, "daily", day(1), state, EXISTING_TIS[state], conf={"old": 1})
    before_tis = tis(db, "daily", existing.run_id)
    backfill = create_backfill("daily", from_date=day(0), to_date=day(2),
                               reprocess_behavior=reprocess, dag_run_conf={"new": 2}, engine=db)
    cleared = outcome == "clear"
    assert (backfill.created, backfill.cleared, backfill.skipped) == (
        2, int(cleared), int(not cleared))

    (link,) = rows(db, t.backfill_dag_run, t.backfill_dag_run.c.logical_date == day(1))
    assert link.sort_ordinal == 2
    (run,) = rows(db, t.dag_run, t.dag_run.c.id == existing.id)
    after_tis = tis(db, "daily", existing.run_id)
    history = rows(db, t.task_instance_history)
    if not cleared:
        assert (link.dag_run_id, link.exception_reason) == (None, outcome)
        assert run == existing  # untouched, in flight or not
        assert after_tis == before_tis
        assert history == []
        return
    assert (link.dag_run_id, link.exception_reason) == (existing.id, None)
    # Cleared: the run id stays, the run joins the backfill as a queued backfill run.
    assert run.run_id == existing.run_id == f"scheduled__{day(1).isoformat()}"
    assert (run.state, run.run_type, run.triggered_by) == ("queued", "backfill", "backfill")
    assert (run.backfill_id, run.clear_number, run.conf) == (backfill.id, 1, {"new": 2})
    assert (run.start_date, run.end_date, run.last_scheduling_decision) == (None, None, None)
    # Its task instances are reset (new ids, no state, the retries counted from this try)...
    assert [(ti.task_id, ti.state, ti.try_number, ti.max_tries) for ti in after_tis] == [
        ("a", None, 1, 3), ("b", None, 1, 3)]
    assert not {ti.id for ti in after_tis} & {ti.id for ti in before_tis}
    # ... and the finished tries are in the history, once each.
    assert sorted((h.task_id, h.try_number, h.state, h.task_instance_id) for h in history) == [
        (ti.task_id, 1, ti.state, ti.id) for ti in before_tis]


@pytest.mark.parametrize("conf, expected", [(None, {"old": 1}), ({"new": 2}, {"new": 2})],
                         ids=["kept-without-conf", "replaced-by-conf"])
def test_a_cleared_run_keeps_its_conf_unless_one_is_given_and_runs_again(
        db: Engine, conf: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    dag = daily()
    store(db, dag)
    existing = add_run(db, "daily", day(0), "failed", {"a": "success", "b": "failed"},
                       conf={"old": 1})
    backfill = create_backfill("daily", from_date=day(0), to_date=day(1), dag_run_conf=conf,
                               reprocess_behavior="failed", engine=db)
    (run,) = rows(db, t.dag_run, t.dag_run.c.id == existing.id)
    assert run.conf == expected
    new_run = next(r for r in bf_runs(db, backfill.id) if r.id != existing.id)
    assert new_run.conf == (conf or {})

    loop(scheduler(db, {"daily": dag}), 10)
    (run,) = rows(db, t.dag_run, t.dag_run.c.id == existing.id)
    assert (run.state, run.clear_number) == ("success", 1)
    assert [(ti.task_id, ti.state, ti.try_number) for ti in tis(db, "daily", run.run_id)] == [
        ("a", "success", 2), ("b", "success", 2)]


# -- validation ---------------------------------------------------------------------------------


def _validation_dags() -> list[DAG]:
    return [daily(params={"n": Param(1, type="integer", maximum=10)}),
            daily("manual", schedule=None),
            daily("past", depends_on_past=True)]


FUTURE = {"from_date": NOW + timedelta(days=1), "to_date": NOW + timedelta(days=3)}
REVERSED = {"from_date": day(5), "to_date": day(1)}
VALIDATION = [
    # (id, dag_id, arguments, error, message)
    ("unknown-dag", "nope", {}, DagNotFound, "Could not find dag nope"),
    ("unknown-dag-before-dates", "nope", REVERSED, DagNotFound, "Could not find dag nope"),
    ("non-periodic", "manual", {}, DagNonPeriodicScheduleError,
     "manual has a non-periodic schedule that does not support backfills"),
    ("non-periodic-before-dates", "manual", REVERSED, DagNonPeriodicScheduleError,
     "non-periodic"),
    ("from-after-to", "daily", REVERSED, InvalidBackfillDateRange, "must not be after to_date"),
    ("from-after-to-before-future", "daily",
     {"from_date": NOW + timedelta(days=5), "to_date": NOW + timedelta(days=1)},
     InvalidBackfillDateRange, "must not be after to_date"),
    ("future", "daily", FUTURE, InvalidBackfillDate,
     "Backfill cannot be executed for future dates."),
    ("future-before-conf", "daily", {**FUTURE, "dag_run_conf": {"n": 99}}, InvalidBackfillDate,
     "future dates"),
    ("backwards-with-depends-on-past", "past",
     {"run_backwards": True, "reprocess_behavior": "failed"}, InvalidBackfillDirection,
     "cannot be run in reverse"),
    ("direction-before-reprocess", "past", {"run_backwards": True}, InvalidBackfillDirection,
     "cannot be run in reverse"),
    ("reprocess-none-with-depends-on-past", "past", {}, InvalidReprocessBehavior,
     "You must set reprocess behavior"),
    ("conf-fails-params", "daily", {"dag_run_conf": {"n": 99}}, ParamValidationError,
     "Invalid input for param n"),
    ("max-active-runs-0", "daily", {"max_active_runs": 0}, ValueError,
     "max_active_runs must be a positive integer, got 0"),
    ("keep-dag-paused-and-unpause", "daily", {"keep_dag_paused": True, "unpause": True},
     ValueError, "mutually exclusive"),
    ("arguments-before-unknown-dag", "nope", {"max_active_runs": 0}, ValueError,
     "max_active_runs"),
    ("no-midnight-in-range", "daily",
     {"from_date": day(0) + timedelta(hours=1), "to_date": day(0) + timedelta(hours=23)},
     ValueError, "No runs to create for Dag daily"),
    ("only-dates-not-ended-yet", "daily",
     {"from_date": NOW - timedelta(hours=1), "to_date": NOW + timedelta(days=2)},
     ValueError, "No runs to create for Dag daily"),
    ("naive-date", "daily", {"from_date": datetime(2025, 1, 1)}, ValueError,
     "from_date must be timezone-aware"),
]


@pytest.mark.parametrize("dag_id, kwargs, error, message", [v[1:] for v in VALIDATION],
                         ids=[v[0] for v in VALIDATION])
def test_a_refused_backfill_raises_in_airflows_order_and_writes_nothing(
        db: Engine, dag_id: str, kwargs: dict[str, Any], error: type[Exception],
        message: str) -> None:
    store(db, *_validation_dags())
    before = snapshot(db)
    arguments = {"from_date": day(0), "to_date": day(2), **kwargs}
    with pytest.raises(error, match=re.escape(message)):
        create_backfill(dag_id, engine=db, **arguments)
    assert snapshot(db) == before
    if "No runs" not in message:  # the dry run refuses alike (an empty plan is no error)
        with pytest.raises(error, match=re.escape(message)):
            dry_run_backfill(dag_id, engine=db, **arguments)
    assert snapshot(db) == before


def test_an_overlapping_active_backfill_is_refused_naming_it(db: Engine) -> None:
    store(db, daily())
    first = create_backfill("daily", from_date=day(0), to_date=day(9), engine=db)
    before = snapshot(db)
    for from_date, to_date in ((day(5), day(15)), (day(9), day(9)), (day(-3), day(0))):
        with pytest.raises(OverlappingBackfill, match=f"active backfill {first.id} ") as info:
            create_backfill("daily", from_date=from_date, to_date=to_date, engine=db)
        assert info.value.backfill_id == first.id
        assert snapshot(db) == before
    # The dry run does not check (as Airflow's).
    assert len(dry_run_backfill("daily", from_date=day(5), to_date=day(15), engine=db)) == 11
    # A range next to it is allowed, and so is any range once the first one completed.
    second = create_backfill("daily", from_date=day(10), to_date=day(12), engine=db)
    assert second.created == 3
    cancel_backfill(first.id, engine=db)
    third = create_backfill("daily", from_date=day(8), to_date=day(9), engine=db)
    assert (third.created, third.skipped) == (0, 2)  # both dates: "already exists" (failed)
    assert [b.id for b in list_backfills("daily", engine=db)] == [first.id, second.id, third.id]
    assert list_backfills("other", engine=db) == []


def test_a_run_created_meanwhile_makes_the_creation_plan_again(
        postgres_engine: Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
        clock: list[datetime]) -> None:
    """PostgreSQL (SQLite's writers queue): a scheduler creates a run at one of the dates
    between the plan and the insert; the unique constraint refuses the backfill's run, and
    the whole creation is planned and written again."""
    db = postgres_engine
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    migrate(db)
    store(db, daily())
    plan = api._plan
    calls = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        result = plan(*args, **kwargs)
        if len(calls) == 1:
            add_run(db, "daily", day(1), "queued", {})  # committed meanwhile
        return result

    monkeypatch.setattr(api, "_plan", racing)
    backfill = create_backfill("daily", from_date=day(0), to_date=day(2), engine=db)
    assert len(calls) == 2
    assert (backfill.created, backfill.skipped) == (2, 1)
    assert [(link.logical_date, link.exception_reason)
            for link in rows(db, t.backfill_dag_run, order=t.backfill_dag_run.c.sort_ordinal)
            ] == [(day(0), None), (day(1), "in flight"), (day(2), None)]
    assert [b.id for b in list_backfills(engine=db)] == [backfill.id]


def test_dry_run_returns_the_plan_and_writes_nothing(db: Engine) -> None:
    store(db, daily())
    add_run(db, "daily", day(1), "failed", {"a": "failed"})
    add_run(db, "daily", day(2), "success", {"a": "success"})
    add_run(db, "daily", day(3), "running", {"a": "running"})
    before = snapshot(db)
    plan = dry_run_backfill("daily", from_date=day(0), to_date=day(4), run_backwards=True,
                            reprocess_behavior="failed", engine=db)
    assert [(e.sort_ordinal, e.logical_date, str(e.action),
             None if e.reason is None else str(e.reason)) for e in plan] == [
        (1, day(4), "create", None),
        (2, day(3), "skip", "in flight"),
        (3, day(2), "skip", "already exists"),
        (4, day(1), "clear", None),
        (5, day(0), "create", None),
    ]
    assert plan.counts() == {BackfillAction.CREATE: 2, BackfillAction.CLEAR: 1,
                             BackfillAction.SKIP: 2}
    assert snapshot(db) == before


# -- run by the scheduler -----------------------------------------------------------------------


@pytest.mark.parametrize("dag_limit, backfill_limit", [(1, 3), (16, 2)],
                         ids=["dag-1-backfill-3", "dag-16-backfill-2"])
def test_the_backfills_max_active_runs_limits_its_running_runs_not_the_dags(
        db: Engine, dag_limit: int, backfill_limit: int) -> None:
    dag = daily(task=PythonOperator, max_active_runs=dag_limit, catchup=False)
    store(db, dag)
    backfill = create_backfill("daily", from_date=day(0), to_date=day(5), run_backwards=True,
                               max_active_runs=backfill_limit, engine=db)
    job = scheduler(db, {"daily": dag}, executor=NeverRuns())
    loop(job, 5)
    runs = bf_runs(db, backfill.id)
    running = [r.sort_ordinal for r in runs if r.state == "running"]
    assert running == list(range(1, backfill_limit + 1))  # the latest dates: run backwards
    assert [r.logical_date for r in runs if r.state == "running"] == [
        day(5 - i) for i in range(backfill_limit)]
    assert Counter(r.state for r in runs)["queued"] == 6 - backfill_limit
    # The DAG's own (scheduled) run is counted against the DAG's limit, not the backfill's.
    scheduled = rows(db, t.dag_run, t.dag_run.c.run_type == "scheduled")
    assert [r.state for r in scheduled] == ["running"]


def test_queued_runs_that_cannot_start_do_not_hold_back_a_backfill(
        db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """More queued runs than one loop reads, all held by their DAG's max_active_runs, come
    first in the order (non-backfill runs first, docs/airflow-behaviour.md 2.6): they must not keep
    the backfill's runs, or another DAG's, from being read (Airflow filters on the running counts
    in the query)."""
    monkeypatch.setenv("DAGCORE__SCHEDULER__MAX_DAGRUNS_PER_LOOP_TO_SCHEDULE", "5")
    busy = daily("busy", tasks="a", task=PythonOperator, schedule=None, max_active_runs=1)
    other = daily("other", tasks="a", task=PythonOperator, schedule=None)
    dag = daily(tasks="a", task=PythonOperator, catchup=False)
    store(db, busy, other, dag)
    for i in range(8):
        trigger_dag("busy", run_id=f"busy{i}", logical_date=day(i), engine=db)
    trigger_dag("other", run_id="late", logical_date=day(9), engine=db)
    backfill = create_backfill("daily", from_date=day(0), to_date=day(2), engine=db)
    job = scheduler(db, {}, executor=NeverRuns())
    assert job.batch_size == 5
    loop(job, 3)
    assert [r.state for r in bf_runs(db, backfill.id)] == ["running"] * 3
    assert Counter(r.state for r in rows(db, t.dag_run, t.dag_run.c.dag_id == "busy")) == {
        "running": 1, "queued": 7}
    assert [r.state for r in rows(db, t.dag_run, t.dag_run.c.dag_id == "other")] == [
        "running"]


def test_runs_start_in_sort_ordinal_order(db: Engine, clock: list[datetime]) -> None:
    dag = daily()
    store(db, dag, paused=True)
    backfill = create_backfill("daily", from_date=day(0), to_date=day(4), run_backwards=True,
                               max_active_runs=1, keep_dag_paused=True, engine=db)
    job = scheduler(db, {"daily": dag})
    for _ in range(50):
        clock[0] += timedelta(minutes=1)
        job.run_once()
    runs = bf_runs(db, backfill.id)
    assert {r.state for r in runs} == {"success"}
    by_start = sorted(runs, key=lambda r: r.start_date)
    assert [r.sort_ordinal for r in by_start] == [1, 2, 3, 4, 5]
    assert [r.logical_date for r in by_start] == [day(4 - i) for i in range(5)]
    # One at a time: each started after the one before ended.
    for before, after in zip(by_start, by_start[1:]):
        assert before.end_date <= after.start_date


def test_on_a_paused_dag_the_backfill_runs_stay_queued(db: Engine) -> None:
    dag = daily()
    store(db, dag, paused=True)
    backfill = create_backfill("daily", from_date=day(0), to_date=day(2), engine=db)
    job = scheduler(db, {"daily": dag})
    loop(job, 5)
    job._mark_backfills_complete()
    assert {r.state for r in bf_runs(db, backfill.id)} == {"queued"}
    assert tis(db, "daily") == []
    assert get_backfill(backfill.id, engine=db).completed_at is None


def test_keep_dag_paused_runs_the_backfill_while_the_schedule_stays_off(db: Engine) -> None:
    dag = daily(catchup=True)  # unpaused, it would create a run per day since January
    store(db, dag, paused=True)
    backfill = create_backfill("daily", from_date=day(0), to_date=day(3), keep_dag_paused=True,
                               engine=db)
    assert backfill.keep_dag_paused
    job = scheduler(db, {"daily": dag})
    loop(job, 20)
    job._mark_backfills_complete()
    assert [r.state for r in bf_runs(db, backfill.id)] == ["success"] * 4
    assert len(tis(db, "daily")) == 8
    assert rows(db, t.dag_run, t.dag_run.c.run_type != "backfill") == []
    (dag_row,) = rows(db, t.dag)
    assert dag_row.is_paused
    assert get_backfill(backfill.id, engine=db).completed_at == NOW


def test_unpause_unpauses_the_dag(db: Engine) -> None:
    dag = daily(catchup=False)
    store(db, dag, paused=True)
    backfill = create_backfill("daily", from_date=day(0), to_date=day(1), unpause=True,
                               engine=db)
    (dag_row,) = rows(db, t.dag)
    assert not dag_row.is_paused
    loop(scheduler(db, {"daily": dag}), 10)
    assert [r.state for r in bf_runs(db, backfill.id)] == ["success", "success"]


def test_pause_stops_new_starts_and_unpause_resumes(db: Engine) -> None:
    dag = daily(task=PythonOperator, catchup=False)
    store(db, dag)
    backfill = create_backfill("daily", from_date=day(0), to_date=day(3), max_active_runs=2,
                               engine=db)
    never = NeverRuns()
    job = scheduler(db, {"daily": dag}, executor=never)
    job.run_once()
    assert [r.state for r in bf_runs(db, backfill.id)] == ["running"] * 2 + ["queued"] * 2
    paused = pause_backfill(backfill.id, engine=db)
    assert paused.is_paused
    with transaction(db) as conn:  # the running runs' tasks finish: their slots free up
        conn.execute(t.task_instance.update().values(state="success"))
    loop(job, 5)
    # The running runs went on to success; the queued ones did not start.
    assert [r.state for r in bf_runs(db, backfill.id)] == ["success"] * 2 + ["queued"] * 2
    assert get_backfill(backfill.id, engine=db).is_paused
    unpaused = unpause_backfill(backfill.id, engine=db)
    assert not unpaused.is_paused
    loop(job, 2)
    assert [r.state for r in bf_runs(db, backfill.id)] == ["success"] * 2 + ["running"] * 2


def test_pause_unpause_and_cancel_refuse_unknown_and_completed_backfills(db: Engine) -> None:
    store(db, daily())
    backfill = create_backfill("daily", from_date=day(0), to_date=day(1), engine=db)
    for operation in (pause_backfill, unpause_backfill, cancel_backfill):
        with pytest.raises(BackfillNotFound, match="Backfill 42 not found"):
            operation(42, engine=db)
    cancelled = cancel_backfill(backfill.id, engine=db)
    assert cancelled.completed_at == NOW and cancelled.is_paused
    before = snapshot(db)
    for operation in (pause_backfill, unpause_backfill, cancel_backfill):
        with pytest.raises(BackfillCompleted,
                           match=f"Backfill {backfill.id} is already completed"):
            operation(backfill.id, engine=db)
    assert snapshot(db) == before


@pytest.mark.parametrize("terminate", [True, False], ids=["terminate-running", "keep-running"])
def test_cancel_fails_queued_runs_and_stops_running_ones(db: Engine, terminate: bool) -> None:
    dag = daily(tasks="a>b>c", task=PythonOperator, catchup=False)
    store(db, dag, paused=True)
    backfill = create_backfill("daily", from_date=day(0), to_date=day(4), max_active_runs=2,
                               keep_dag_paused=True, engine=db)
    job = scheduler(db, {"daily": dag}, executor=NeverRuns())
    loop(job, 3)
    runs = bf_runs(db, backfill.id)
    running = [r.run_id for r in runs if r.state == "running"]
    assert len(running) == 2
    ti = t.task_instance
    with transaction(db) as conn:  # a runs in the first run, is queued in the second
        conn.execute(ti.update().where(ti.c.run_id == running[0], ti.c.task_id == "a")
                     .values(state="running"))
        conn.execute(ti.update().where(ti.c.run_id == running[1], ti.c.task_id == "b")
                     .values(state="success"))
    states_before = {(r.run_id, r.task_id): r.state for r in tis(db, "daily")}
    assert states_before[(running[1], "a")] == "queued"

    cancelled = cancel_backfill(backfill.id, terminate_running=terminate, engine=db)
    assert cancelled.completed_at == NOW and cancelled.is_paused
    runs = {r.run_id: r for r in bf_runs(db, backfill.id)}
    for run_id, run in runs.items():
        if run_id in running and not terminate:
            assert run.state == "running"
        else:
            assert (run.state, run.end_date) == ("failed", NOW)
    states = {(r.run_id, r.task_id): r.state for r in tis(db, "daily")}
    if terminate:
        assert states == {
            (running[0], "a"): "failed", (running[0], "b"): "skipped",
            (running[0], "c"): "skipped",
            (running[1], "a"): "failed", (running[1], "b"): "success",
            (running[1], "c"): "skipped"}
    else:
        assert states == states_before
    with pytest.raises(BackfillCompleted):
        cancel_backfill(backfill.id, engine=db)
    # Nothing of the cancelled backfill starts again.
    loop(job, 5)
    after = bf_runs(db, backfill.id)
    assert Counter(r.state for r in after) == Counter(
        {"failed": 5} if terminate else {"failed": 3, "running": 2})
    assert get_backfill(backfill.id, engine=db).completed_at == NOW


def test_status_counts_runs_skipped_dates_and_estimates_the_time_left(db: Engine) -> None:
    store(db, daily())
    add_run(db, "daily", day(1), "running", {"a": "running"})
    add_run(db, "daily", day(2), "success", {"a": "success"})
    backfill = create_backfill("daily", from_date=day(0), to_date=day(6), max_active_runs=2,
                               engine=db)
    status = backfill_status(backfill.id, engine=db)
    assert status.runs_by_state == {"queued": 5}
    assert status.skipped == {"in flight": 1, "already exists": 1}
    assert status.skipped_dates == [(day(1), "in flight"), (day(2), "already exists")]
    assert (status.total_runs, status.done_runs, status.is_complete) == (5, 0, False)
    assert (status.started_at, status.estimated_time_left) == (None, None)

    # Two runs took 60 s and 120 s, one runs, two wait: 90 s x 3 left / 2 at once = 135 s.
    links = {r.logical_date: r.id for r in bf_runs(db, backfill.id)}
    dr = t.dag_run
    with transaction(db) as conn:
        for i, (state, start, seconds) in enumerate((
                ("success", NOW - timedelta(minutes=10), 60),
                ("failed", NOW - timedelta(minutes=8), 120),
                ("running", NOW - timedelta(minutes=5), None))):
            logical = day((0, 3, 4)[i])
            conn.execute(dr.update().where(dr.c.id == links[logical]).values(
                state=state, start_date=start,
                end_date=None if seconds is None else start + timedelta(seconds=seconds)))
    status = backfill_status(backfill.id, engine=db)
    assert status.runs_by_state == {"success": 1, "failed": 1, "running": 1, "queued": 2}
    assert (status.total_runs, status.done_runs) == (5, 2)
    assert status.started_at == NOW - timedelta(minutes=10)
    assert status.estimated_time_left == timedelta(seconds=135)
    assert status.finished_at is None


def test_the_scheduler_completes_a_backfill_once_no_run_is_left(db: Engine) -> None:
    dag = daily(tasks="a", task=PythonOperator)
    store(db, dag, paused=True)
    backfill = create_backfill("daily", from_date=day(0), to_date=day(3), max_active_runs=2,
                               keep_dag_paused=True, engine=db)
    job = scheduler(db, {"daily": dag})
    job.run_once()
    job._mark_backfills_complete()  # runs left: not complete
    assert get_backfill(backfill.id, engine=db).completed_at is None
    loop_until(job, lambda: {r.state for r in bf_runs(db, backfill.id)} == {"success"})
    job._last_backfill_check = 0.0  # the next loop checks the backfills (once a second)
    job.run_once()
    status = backfill_status(backfill.id, engine=db)
    assert status.is_complete and status.finished_at == NOW
    assert status.runs_by_state == {"success": 4}
    assert status.estimated_time_left == timedelta(0)
    assert {(ti.task_id, ti.state, ti.try_number) for ti in tis(db, "daily")} == {
        ("a", "success", 1)}
    assert len(tis(db, "daily")) == 4


@pytest.mark.parametrize("latest", [True, False], ids=["latest-version", "pinned-version"])
def test_a_new_version_mid_backfill_is_used_by_later_runs_unless_pinned(
        db: Engine, latest: bool) -> None:
    v1 = daily("versioned", tasks="a", task=PythonOperator, catchup=False)
    store(db, v1, paused=True)
    backfill = create_backfill("versioned", from_date=day(0), to_date=day(2), max_active_runs=1,
                               run_on_latest_version=latest, keep_dag_paused=True, engine=db)
    assert backfill.run_on_latest_version is latest
    dags = {"versioned": v1}
    job = scheduler(db, dags)
    loop_until(job, lambda: bf_runs(db, backfill.id)[0].state == "success")
    first, *later = bf_runs(db, backfill.id)
    assert [r.state for r in later] == ["queued", "queued"]

    v2 = daily("versioned", tasks="a>b", task=PythonOperator, catchup=False)
    write_dag(db, v2)  # version 1 has task instances: a new version
    dags["versioned"] = v2
    loop_until(job, lambda: {r.state for r in bf_runs(db, backfill.id)} == {"success"})
    versions = version_ids(db, "versioned")
    assert sorted(versions) == [1, 2]
    assert [(ti.task_id, ti.dag_version_id) for ti in tis(db, "versioned", first.run_id)] == [
        ("a", versions[1])]
    for run in later:
        got = [(ti.task_id, ti.state, ti.dag_version_id)
               for ti in tis(db, "versioned", run.run_id)]
        if latest:
            assert got == [("a", "success", versions[2]), ("b", "success", versions[2])]
        else:
            assert got == [("a", "success", versions[1])]


def test_a_running_backfill_run_keeps_the_version_it_started_with(db: Engine) -> None:
    v1 = daily("versioned", tasks="a", task=PythonOperator)
    store(db, v1, paused=True)
    backfill = create_backfill("versioned", from_date=day(0), to_date=day(1), max_active_runs=1,
                               keep_dag_paused=True, engine=db)
    job = scheduler(db, {"versioned": v1}, executor=NeverRuns())
    job.run_once()
    first, second = bf_runs(db, backfill.id)
    assert (first.state, second.state) == ("running", "queued")
    write_dag(db, daily("versioned", tasks="a>b", task=PythonOperator))
    versions = version_ids(db, "versioned")
    with transaction(db) as conn:  # a finishes; b of version 2 must not join this run
        conn.execute(t.task_instance.update().values(state="success"))
    loop(job, 3)
    assert [(ti.task_id, ti.state, ti.dag_version_id)
            for ti in tis(db, "versioned", first.run_id)] == [("a", "success", versions[1])]
    first, second = bf_runs(db, backfill.id)
    assert (first.state, first.created_dag_version_id) == ("success", versions[1])
    assert (second.state, second.created_dag_version_id) == ("running", versions[2])
    assert [(ti.task_id, ti.dag_version_id) for ti in tis(db, "versioned", second.run_id)] == [
        ("a", versions[2]), ("b", versions[2])]


def test_a_reprocessed_run_moves_to_the_latest_version_when_it_starts(db: Engine) -> None:
    v1 = daily("versioned", tasks="a", task=PythonOperator)
    store(db, v1, paused=True)
    existing = add_run(db, "versioned", day(0), "failed", {"a": "failed"})
    v2 = daily("versioned", tasks="a>b", task=PythonOperator)
    write_dag(db, v2)
    versions = version_ids(db, "versioned")
    backfill = create_backfill("versioned", from_date=day(0), to_date=day(0),
                               reprocess_behavior="failed", keep_dag_paused=True, engine=db)
    assert backfill.cleared == 1
    loop(scheduler(db, {"versioned": v2}), 10)
    (run,) = bf_runs(db, backfill.id)
    assert (run.run_id, run.state, run.created_dag_version_id) == (
        existing.run_id, "success", versions[2])
    assert [(ti.task_id, ti.state, ti.try_number, ti.dag_version_id)
            for ti in tis(db, "versioned", run.run_id)] == [
        ("a", "success", 2, versions[2]), ("b", "success", 1, versions[2])]
