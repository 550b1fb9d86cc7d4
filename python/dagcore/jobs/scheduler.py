"""The scheduler: creates runs, starts them, decides them and queues their tasks.

Design note. One loop (:meth:`SchedulerJob.run_once`) does, in order, each step in its own
transaction so a kill at any point loses at most the step in flight:

1. **executor events**: a task process that ended while its task instance is still ``queued``
   or ``running`` died without recording an outcome; the try fails (or is retried);
2. **create runs** from each active DAG's timetable (``scheduled__<run_after>``), several per
   DAG per loop while ``max_active_runs`` (non-backfill runs only) allows; the unique
   constraints on ``dag_run`` make a duplicate impossible even between two schedulers;
3. **start queued runs** within ``max_active_runs`` (a backfill's runs against the backfill's own
   limit, reference 2.6), creating their task instances (state None) at that moment;
4. **decide running runs** in batches: all task instances of the batch are read in one query,
   runs sharing a DAG version are decided in one :meth:`RunGraph.decide_many` call, and the
   changes are written with one ``executemany`` per kind. ``EmptyOperator`` tasks (no
   callbacks) go straight to ``success``; the batch is decided again in memory until no empty
   task is ready, so a chain of empty tasks ends in one loop instead of one loop per level;
5. **queue** ``scheduled`` task instances, by priority, within ``max_active_tasks`` (per run,
   as Airflow 3), ``max_active_tis_per_dag``, ``max_active_tis_per_dagrun`` and the executor's
   free slots, then hand them to the executor after the commit;
6. periodically: heartbeat, zombies (running task instances without a heartbeat), tries stuck
   in ``queued``, backfills with nothing left to run.

On PostgreSQL the rows each step works on are read ``FOR UPDATE SKIP LOCKED``, so several
schedulers share the work without taking the same run or task instance twice. SQLite allows one
scheduler (:class:`~dagcore.jobs.job.SchedulerAlreadyRunning`).

A restarted scheduler resets the ``queued`` task instances of dead schedulers to ``scheduled``
(they were never started, or their process will find its row changed and not run); ``running``
ones are left to finish, or to the zombie check if their process is gone.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dagcore.configuration import conf
from dagcore.db import create_engine, transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.executors.base import (
    BaseExecutor,
    ExecutorEvent,
    TaskInstanceKey,
    TaskWorkload,
    log_path_for,
)
from dagcore.jobs.job import Job, SchedulerAlreadyRunning
from dagcore.models import tables as t
from dagcore.models.types import uuid7
from dagcore.serialization import SerializedDAG, SerializedTask
from dagcore.state import DagRunState, TaskInstanceState
from dagcore.timetables import DataInterval, TimeRestriction
from dagcore.utils import timezone

__all__ = ["SchedulerAlreadyRunning", "SchedulerJob"]

log = logging.getLogger(__name__)

TIS = TaskInstanceState
QUEUED, RUNNING, SCHEDULED = TIS.QUEUED.value, TIS.RUNNING.value, TIS.SCHEDULED.value
SUCCESS, FAILED, SKIPPED = TIS.SUCCESS.value, TIS.FAILED.value, TIS.SKIPPED.value
UPSTREAM_FAILED, REMOVED = TIS.UPSTREAM_FAILED.value, TIS.REMOVED.value
UP_FOR_RETRY, UP_FOR_RESCHEDULE = TIS.UP_FOR_RETRY.value, TIS.UP_FOR_RESCHEDULE.value
RESTARTING = TIS.RESTARTING.value
SCHEDULABLE = frozenset({None, UP_FOR_RETRY, UP_FOR_RESCHEDULE})
FINISHED = frozenset(s.value for s in TIS.finished)
ACTIVE_TI = (QUEUED, RUNNING)
RUN_QUEUED, RUN_RUNNING = DagRunState.QUEUED.value, DagRunState.RUNNING.value
RUN_SUCCESS, RUN_FAILED = DagRunState.SUCCESS.value, DagRunState.FAILED.value
EMPTY_OPERATORS = frozenset({"dagcore.operators.empty.EmptyOperator"})
# Rounds of in-memory re-decision per loop for chains of empty tasks (a bound, not a rule).
MAX_EMPTY_ROUNDS = 1000


def _runnable(d: sa.Table, b: sa.Table) -> Any:
    """The DAG is unpaused, or the run belongs to a backfill that keeps it paused."""
    return sa.or_(d.c.is_paused == sa.false(), b.c.keep_dag_paused == sa.true())


def _is_empty(task: SerializedTask) -> bool:
    return task.operator in EMPTY_OPERATORS and not task.has_callbacks


def _priority_weights(dag: SerializedDAG) -> dict[str, int]:
    """Airflow's weight rules: ``downstream`` (own + every downstream task's), ``upstream``
    (own + every upstream task's) or ``absolute``."""
    tasks = dag.task_dict
    memo_down: dict[str, set[str]] = {}
    memo_up: dict[str, set[str]] = {}

    def closure(task_id: str, edges: Callable[[SerializedTask], Iterable[str]],
                memo: dict[str, set[str]]) -> set[str]:
        if task_id in memo:
            return memo[task_id]
        out: set[str] = set()
        stack = list(edges(tasks[task_id]))
        while stack:
            nxt = stack.pop()
            if nxt in out or nxt not in tasks:
                continue
            out.add(nxt)
            stack.extend(edges(tasks[nxt]))
        memo[task_id] = out
        return out

    weights = {}
    for task_id, task in tasks.items():
        rule = str(task.weight_rule).lower().rsplit(".", 1)[-1]
        if rule == "absolute":
            weights[task_id] = task.priority_weight
        elif rule == "upstream":
            weights[task_id] = task.priority_weight + sum(
                tasks[u].priority_weight for u in closure(task_id, lambda x: x.upstream_task_ids,
                                                          memo_up))
        else:
            weights[task_id] = task.priority_weight + sum(
                tasks[d].priority_weight for d in closure(
                    task_id, lambda x: x.downstream_task_ids, memo_down))
    return weights


class _Batch:
    """The task instances of one decided run and what the loop changes in them."""

    __slots__ = ("run", "dag", "rows", "states")

    def __init__(self, run: Any, dag: SerializedDAG, rows: dict[str, Any]) -> None:
        self.run = run
        self.dag = dag
        self.rows = rows  # task_id -> task_instance row (map_index -1)
        self.states: dict[str, str | None] = {k: r.state for k, r in rows.items()}


class SchedulerJob:
    """Airflow's scheduler loop over dagcore's metadata database.

    Args:
        engine: the metadata database (default: the configured one).
        executor: runs the queued task instances (default: ``[core] executor`` with
            ``[core] parallelism``).
        dag_bag: the DAG versions (default: :meth:`DBDagBag.for_scheduler`).
        num_runs: stop after this many loops (-1: until stopped).
        idle_sleep: seconds to sleep after a loop that did nothing (default
            ``[scheduler] scheduler_idle_sleep_time``); while tasks run, at most 10 ms.
        dags: DAG objects by id, for DAG-level callbacks without parsing files (``dag.test``).
        single: refuse to start while another scheduler is alive (default: on SQLite).
    """

    job_type = "SchedulerJob"

    def __init__(self, *, engine: Engine | None = None, executor: BaseExecutor | None = None,
                 dag_bag: DBDagBag | None = None, num_runs: int = -1,
                 idle_sleep: float | None = None, dags: Mapping[str, Any] | None = None,
                 single: bool | None = None) -> None:
        if isinstance(num_runs, bool) or not isinstance(num_runs, int):
            raise TypeError(f"num_runs must be an int, got {num_runs!r}")
        self.engine = engine if engine is not None else create_engine()
        self.is_postgres = self.engine.dialect.name == "postgresql"
        if executor is None:
            from dagcore.executors import get_executor

            executor = get_executor(engine_url=self.engine.url.render_as_string(
                hide_password=False))
        self.executor = executor
        self.dag_bag = dag_bag if dag_bag is not None else DBDagBag.for_scheduler(
            engine=self.engine)
        self.num_runs = num_runs
        self.idle_sleep = (conf.getfloat("scheduler", "scheduler_idle_sleep_time")
                           if idle_sleep is None else idle_sleep)
        self.dags = dict(dags or {})
        self.single = (self.engine.dialect.name == "sqlite") if single is None else single
        self.job = Job(self.engine, self.job_type, executor_class=type(executor).__name__)
        self._stop = threading.Event()
        self._weights: weakref.WeakKeyDictionary[SerializedDAG, dict[str, int]] = (
            weakref.WeakKeyDictionary())
        self._no_next_run: dict[str, Any] = {}  # dag_id -> last_parsed_time checked
        self._last_zombie_check = 0.0
        self._last_backfill_check = 0.0
        self._workloads: dict[str, TaskWorkload] = {}
        self.loops = 0
        self.batch_size = conf.getint("scheduler", "max_dagruns_per_loop_to_schedule")
        self.create_per_loop = conf.getint("scheduler", "max_dagruns_to_create_per_loop")
        self.max_tis = conf.getint("scheduler", "max_tis_per_query")
        self.decide_seconds = 0.0  # time inside RunGraph.decide_many (the benchmark reads it)

    # -- lifecycle ------------------------------------------------------------------------------

    def stop(self, *_: Any) -> None:
        """Ask the loop to end after the current iteration (the SIGTERM/SIGINT handler)."""
        self._stop.set()

    def run(self) -> int:
        """Register, loop until stopped or ``num_runs`` loops are done, shut down cleanly.

        Returns:
            The number of loops run.

        Raises:
            SchedulerAlreadyRunning: another scheduler is alive on this SQLite database.
        """
        self.job.register(single=self.single)
        log.info("Scheduler job %s started (pid %s, executor %s)", self.job.id, os.getpid(),
                 type(self.executor).__name__)
        restore = self._install_signal_handlers()
        state = "success"
        try:
            self.executor.start()
            self.adopt_or_reset_orphaned_tasks()
            while not self._stop.is_set() and (self.num_runs < 0 or self.loops < self.num_runs):
                did = self.run_once()
                if did == 0 and not self._stop.is_set():
                    busy = bool(self.executor.running)
                    self._stop.wait(min(self.idle_sleep, 0.01) if busy else self.idle_sleep)
        except BaseException:
            state = "failed"
            raise
        finally:
            try:
                self._shutdown()
            finally:
                restore()
                self.job.complete(state)
                log.info("Scheduler job %s stopped after %d loop(s)", self.job.id, self.loops)
        return self.loops

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGTERM, signal.SIGINT)}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore

    def _shutdown(self) -> None:
        grace = conf.getfloat("core", "killed_task_cleanup_time")
        events = self.executor.end(timeout=None if not self._stop.is_set() else grace)
        self._process_events(events)

    # -- the loop -------------------------------------------------------------------------------

    def run_once(self) -> int:
        """One scheduler loop; returns how much it did (0: nothing to do)."""
        self.loops += 1
        did = self._process_events(self.executor.heartbeat())
        did += self._create_dag_runs()
        did += self._start_queued_dagruns()
        did += self._schedule_dag_runs()
        did += self._enqueue_task_instances()
        did += self._process_events(self.executor.heartbeat())
        now_mono = time.monotonic()
        if self.job.due():
            self.job.heartbeat()
        interval = conf.getfloat("scheduler", "zombie_detection_interval")
        if now_mono - self._last_zombie_check >= interval:
            self._last_zombie_check = now_mono
            did += self.fail_zombies()
            did += self.fail_stuck_in_queued()
        if now_mono - self._last_backfill_check >= 1.0:
            self._last_backfill_check = now_mono
            self._mark_backfills_complete()
        return did

    def _lock(self, query: Any, *of: Any) -> Any:
        """``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite has one writer: nothing to do)."""
        if self.is_postgres:
            return query.with_for_update(skip_locked=True, of=list(of) or None)
        return query

    # -- 1. executor events ---------------------------------------------------------------------

    def _process_events(self, events: Iterable[ExecutorEvent]) -> int:
        from dagcore.models.taskinstance import fail_task_instance

        done = 0
        ti = t.task_instance
        for event in events:
            done += 1
            self._workloads.pop(event.ti_id, None)
            with transaction(self.engine) as conn:
                row = conn.execute(sa.select(ti.c.id, ti.c.state).where(
                    ti.c.id == uuid.UUID(event.ti_id))).one_or_none()
                if row is not None and row.state in (QUEUED, RUNNING):
                    why = event.info or f"process ended ({event.state})"
                    new = fail_task_instance(
                        conn, ti_id=row.id, now=timezone.utcnow(),
                        error=f"the task's process ended without recording a state: {why}")
                    log.warning("Task %s.%s %s try %d: process ended (%s) while %s; now %s",
                                event.key.dag_id, event.key.task_id, event.key.run_id,
                                event.key.try_number, why, row.state, new)
                elif row is None:
                    # Cleared while it ran: the new try waits in "restarting" for this process.
                    k = event.key
                    conn.execute(ti.update().where(
                        ti.c.dag_id == k.dag_id, ti.c.run_id == k.run_id,
                        ti.c.task_id == k.task_id, ti.c.map_index == k.map_index,
                        ti.c.state == RESTARTING).values(state=None,
                                                         updated_at=timezone.utcnow()))
        return done

    # -- 2. create runs -------------------------------------------------------------------------

    def _create_dag_runs(self) -> int:
        now = timezone.utcnow()
        d, dr = t.dag, t.dag_run
        query = (sa.select(d.c.dag_id, d.c.last_parsed_time, d.c.max_active_runs,
                           d.c.next_dagrun_create_after, d.c.bundle_version)
                 .where(d.c.is_paused == sa.false(), d.c.is_stale == sa.false(),
                        sa.or_(d.c.next_dagrun_create_after.is_(None),
                               d.c.next_dagrun_create_after <= now))
                 .order_by(d.c.next_dagrun_create_after))
        created = 0
        with transaction(self.engine) as conn:
            candidates = [row for row in conn.execute(self._lock(query, d)).all()
                          if not (row.next_dagrun_create_after is None
                                  and self._no_next_run.get(row.dag_id, 0) == row.last_parsed_time)]
            for row in candidates[: max(1, self.create_per_loop)]:
                created += self._create_runs_for(conn, row, now)
        return created

    def _create_runs_for(self, conn: Connection, row: Any, now: datetime) -> int:
        dr, dv = t.dag_run, t.dag_version
        version_id = conn.execute(sa.select(dv.c.id).where(dv.c.dag_id == row.dag_id)
                                  .order_by(dv.c.version_number.desc()).limit(1)
                                  ).scalar_one_or_none()
        dag = None if version_id is None else self.dag_bag.get_dag(version_id, row.dag_id)
        if dag is None:
            return 0
        max_runs = dag.max_active_runs
        active = conn.execute(sa.select(sa.func.count()).select_from(dr).where(
            dr.c.dag_id == row.dag_id, dr.c.state.in_((RUN_QUEUED, RUN_RUNNING)),
            dr.c.backfill_id.is_(None))).scalar_one()
        restriction = TimeRestriction(earliest=dag.start_date, latest=dag.end_date,
                                      catchup=dag.catchup)
        last = conn.execute(
            sa.select(dr.c.data_interval_start, dr.c.data_interval_end, dr.c.logical_date)
            .where(dr.c.dag_id == row.dag_id, dr.c.run_type.in_(("scheduled", "backfill")),
                   dr.c.logical_date.is_not(None))
            .order_by(dr.c.logical_date.desc()).limit(1)).one_or_none()
        interval = None
        if last is not None:
            start = last.data_interval_start or last.logical_date
            interval = DataInterval(start, last.data_interval_end or start)
        created = 0
        info = dag.timetable.next_dagrun_info(last_automated_data_interval=interval,
                                              restriction=restriction)
        while info is not None and info.run_after <= now and active < max_runs \
                and created < max(1, self.create_per_loop):
            run_id = dag.timetable.generate_run_id(run_type="scheduled",
                                                   run_after=info.run_after,
                                                   data_interval=info.data_interval)
            try:
                with conn.begin_nested():
                    conn.execute(dr.insert().values(
                        dag_id=row.dag_id, run_id=run_id, logical_date=info.logical_date,
                        run_after=info.run_after, queued_at=now, state=RUN_QUEUED,
                        run_type="scheduled", triggered_by="timetable", conf={},
                        data_interval_start=info.data_interval.start,
                        data_interval_end=info.data_interval.end,
                        created_dag_version_id=version_id, bundle_version=row.bundle_version,
                        clear_number=0, creating_job_id=self.job.id, updated_at=now))
                created += 1
                active += 1
                log.info("Created run %s of Dag %s", run_id, row.dag_id)
            except sa.exc.IntegrityError:
                log.info("Dag %s already has a run %s or one at %s: not created", row.dag_id,
                         run_id, info.logical_date.isoformat())
            info = dag.timetable.next_dagrun_info(last_automated_data_interval=info.data_interval,
                                                  restriction=restriction)
        values: dict[str, Any]
        if info is None:
            values = dict(next_dagrun=None, next_dagrun_data_interval_start=None,
                          next_dagrun_data_interval_end=None, next_dagrun_create_after=None)
            self._no_next_run[row.dag_id] = row.last_parsed_time
        else:
            self._no_next_run.pop(row.dag_id, None)
            # Full (max_active_runs): look again next loop; else when the next run is due.
            values = dict(next_dagrun=info.logical_date,
                          next_dagrun_data_interval_start=info.data_interval.start,
                          next_dagrun_data_interval_end=info.data_interval.end,
                          next_dagrun_create_after=info.run_after)
        conn.execute(t.dag.update().where(t.dag.c.dag_id == row.dag_id).values(**values))
        return created

    # -- 3. start queued runs -------------------------------------------------------------------

    def _start_queued_dagruns(self) -> int:
        now = timezone.utcnow()
        dr, d, b, bdr = t.dag_run, t.dag, t.backfill, t.backfill_dag_run
        query = (sa.select(dr, d.c.max_active_runs.label("dag_max_active_runs"),
                           b.c.max_active_runs.label("backfill_max_active_runs"),
                           b.c.run_on_latest_version, bdr.c.sort_ordinal)
                 .select_from(dr.join(d, d.c.dag_id == dr.c.dag_id)
                              .outerjoin(b, b.c.id == dr.c.backfill_id)
                              .outerjoin(bdr, sa.and_(bdr.c.dag_run_id == dr.c.id,
                                                      bdr.c.backfill_id == dr.c.backfill_id)))
                 .where(dr.c.state == RUN_QUEUED, dr.c.run_after <= now,
                        _runnable(d, b), d.c.is_stale == sa.false(),
                        sa.or_(b.c.id.is_(None), b.c.is_paused == sa.false()))
                 .order_by(bdr.c.sort_ordinal.is_(None).desc(), bdr.c.sort_ordinal,
                           dr.c.last_scheduling_decision.is_(None).desc(),
                           dr.c.last_scheduling_decision, dr.c.run_after, dr.c.id)
                 .limit(self.batch_size))
        started = 0
        with transaction(self.engine) as conn:
            runs = conn.execute(self._lock(query, dr)).all()
            if not runs:
                return 0
            dag_ids = sorted({r.dag_id for r in runs})
            running = Counter(
                (row.dag_id, row.backfill_id) for row in conn.execute(
                    sa.select(dr.c.dag_id, dr.c.backfill_id).where(
                        dr.c.dag_id.in_(dag_ids), dr.c.state == RUN_RUNNING)))
            to_start = []
            for run in runs:
                dag = self.dag_bag.get_dag_for_run(run)
                if dag is None:
                    log.warning("Run %s of Dag %s: no serialized DAG; not started", run.run_id,
                                run.dag_id)
                    continue
                if run.backfill_id is not None:
                    limit = run.backfill_max_active_runs or 10
                else:
                    limit = dag.max_active_runs
                slot = (run.dag_id, run.backfill_id)
                if running[slot] >= limit:
                    continue
                running[slot] += 1
                to_start.append((run, dag))
            if not to_start:
                return 0
            conn.execute(dr.update().where(dr.c.id == sa.bindparam("_id")).values(
                state=RUN_RUNNING, start_date=sa.bindparam("_start"), end_date=None,
                updated_at=now), [{"_id": run.id, "_start": run.start_date or now}
                                  for run, _ in to_start])
            self._create_task_instances(conn, to_start, now)
            started = len(to_start)
        log.info("Started %d run(s)", started)
        return started

    def _version_id_for(self, conn: Connection, run: Any, cache: dict[str, Any]) -> Any:
        pinned = run._mapping.get("run_on_latest_version") is False
        if run.created_dag_version_id is not None and (run.bundle_version is not None
                                                       or pinned):
            return run.created_dag_version_id
        if run.dag_id not in cache:
            dv = t.dag_version
            cache[run.dag_id] = conn.execute(
                sa.select(dv.c.id).where(dv.c.dag_id == run.dag_id)
                .order_by(dv.c.version_number.desc()).limit(1)).scalar_one_or_none()
        return cache[run.dag_id]

    def _create_task_instances(self, conn: Connection, runs: list[tuple[Any, SerializedDAG]],
                               now: datetime) -> None:
        ti = t.task_instance
        keys = [(run.dag_id, run.run_id) for run, _ in runs]
        existing: set[tuple[str, str, str]] = set()
        by_dag: dict[str, list[str]] = defaultdict(list)
        for dag_id, run_id in keys:
            by_dag[dag_id].append(run_id)
        for dag_id, run_ids in by_dag.items():
            existing.update(conn.execute(sa.select(ti.c.dag_id, ti.c.run_id, ti.c.task_id).where(
                ti.c.dag_id == dag_id, ti.c.run_id.in_(run_ids))).all())
        versions: dict[str, Any] = {}
        rows = []
        for run, dag in runs:
            weights = self._weights_of(dag)
            version_id = self._version_id_for(conn, run, versions)
            for task in dag.task_dict.values():
                if (run.dag_id, run.run_id, task.task_id) in existing:
                    continue
                rows.append(self._new_ti(run, task, weights[task.task_id], version_id, now))
        if rows:
            conn.execute(ti.insert(), rows)

    @staticmethod
    def _new_ti(run: Any, task: SerializedTask, weight: int, version_id: Any,
                now: datetime) -> dict[str, Any]:
        return {
            "id": uuid7(), "task_id": task.task_id, "dag_id": run.dag_id, "run_id": run.run_id,
            "map_index": -1, "state": None, "try_number": 0, "max_tries": task.retries,
            "pool": task.pool, "pool_slots": task.pool_slots, "queue": task.queue,
            "priority_weight": weight, "operator": task.task_type,
            "task_display_name": task.task_display_name, "dag_version_id": version_id,
            "executor_config": dict(task.executor_config), "updated_at": now,
        }

    def _weights_of(self, dag: SerializedDAG) -> dict[str, int]:
        weights = self._weights.get(dag)
        if weights is None:
            weights = self._weights[dag] = _priority_weights(dag)
        return weights

    # -- 4. decide running runs -----------------------------------------------------------------

    def _schedule_dag_runs(self) -> int:
        dr, d, ti, b = t.dag_run, t.dag, t.task_instance, t.backfill
        now = timezone.utcnow()
        query = (sa.select(dr, b.c.run_on_latest_version)
                 .select_from(dr.join(d, d.c.dag_id == dr.c.dag_id)
                              .outerjoin(b, b.c.id == dr.c.backfill_id))
                 .where(dr.c.state == RUN_RUNNING, dr.c.run_after <= now,
                        _runnable(d, b), d.c.is_stale == sa.false())
                 .order_by(dr.c.last_scheduling_decision.is_(None).desc(),
                           dr.c.last_scheduling_decision, dr.c.run_after, dr.c.id)
                 .limit(self.batch_size))
        finished: list[tuple[Any, SerializedDAG, str, str]] = []
        with transaction(self.engine) as conn:
            runs = conn.execute(self._lock(query, dr)).all()
            if not runs:
                return 0
            ti_rows: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
            for row in conn.execute(
                    sa.select(ti.c.id, ti.c.dag_id, ti.c.run_id, ti.c.task_id, ti.c.map_index,
                              ti.c.state, ti.c.try_number, ti.c.max_tries, ti.c.start_date,
                              ti.c.end_date, ti.c.dag_version_id)
                    .select_from(ti.join(dr, sa.and_(dr.c.dag_id == ti.c.dag_id,
                                                     dr.c.run_id == ti.c.run_id)))
                    .where(dr.c.id.in_([r.id for r in runs]), ti.c.map_index == -1)):
                ti_rows[(row.dag_id, row.run_id)][row.task_id] = row
            batches: dict[int, list[_Batch]] = defaultdict(list)
            dags: dict[int, SerializedDAG] = {}
            timed_out: list[tuple[Any, SerializedDAG]] = []
            new_tis: list[tuple[Any, SerializedDAG]] = []
            removed: list[Any] = []
            for run in runs:
                dag = self.dag_bag.get_dag_for_run(run)
                if dag is None:
                    log.warning("Run %s of Dag %s: no serialized DAG; not scheduled",
                                run.run_id, run.dag_id)
                    continue
                rows = ti_rows.get((run.dag_id, run.run_id), {})
                if dag.dagrun_timeout is not None and run.start_date is not None \
                        and run.start_date < now - dag.dagrun_timeout:
                    timed_out.append((run, dag))
                    continue
                for task_id, row in list(rows.items()):
                    if task_id not in dag.task_dict:
                        if row.state != REMOVED:
                            removed.append(row.id)
                        del rows[task_id]
                if len(rows) < len(dag.task_dict):
                    new_tis.append((run, dag))
                    continue  # created now, decided next loop
                batches[id(dag)].append(_Batch(run, dag, rows))
                dags[id(dag)] = dag
            if removed:
                conn.execute(ti.update().where(ti.c.id.in_(removed))
                             .values(state=REMOVED, updated_at=now))
            if new_tis:
                self._create_task_instances(conn, new_tis, now)
            for run, dag in timed_out:
                self._time_out(conn, run, now)
                finished.append((run, dag, RUN_FAILED, "timed_out"))
            for key, group in batches.items():
                finished.extend(self._decide(conn, dags[key], group, now))
            conn.execute(dr.update().where(dr.c.id.in_([r.id for r in runs]))
                         .values(last_scheduling_decision=now))
        for run, dag, state, reason in finished:
            self._run_finished(run, dag, state, reason)
        return len(runs)

    def _time_out(self, conn: Connection, run: Any, now: datetime) -> None:
        ti, dr = t.task_instance, t.dag_run
        log.info("Run %s of Dag %s timed out (dagrun_timeout): failed", run.run_id, run.dag_id)
        conn.execute(dr.update().where(dr.c.id == run.id).values(
            state=RUN_FAILED, end_date=now, updated_at=now))
        unfinished = sa.or_(ti.c.state.is_(None), ti.c.state.not_in(sorted(FINISHED)))
        conn.execute(ti.update().where(ti.c.dag_id == run.dag_id, ti.c.run_id == run.run_id,
                                       unfinished)
                     .values(state=SKIPPED, end_date=now, updated_at=now))

    def _decide(self, conn: Connection, dag: SerializedDAG, group: list[_Batch], now: datetime
                ) -> list[tuple[Any, SerializedDAG, str, str]]:
        graph = dag.run_graph()
        pending = group
        to_schedule: dict[int, list[str]] = defaultdict(list)  # batch index -> task ids
        decisions: dict[int, Any] = {}
        index = {id(b): i for i, b in enumerate(group)}
        empties: dict[int, set[str]] = defaultdict(set)
        for _ in range(MAX_EMPTY_ROUNDS):
            started = time.perf_counter()
            results = graph.decide_many([b.states for b in pending])
            self.decide_seconds += time.perf_counter() - started
            again = []
            for batch, decision in zip(pending, results):
                i = index[id(batch)]
                decisions[i] = decision
                for task_id, state in decision.changed.items():
                    batch.states[task_id] = state.value
                ready_empty = []
                to_schedule[i] = []
                for task_id in decision.schedulable:
                    task = dag.task_dict[task_id]
                    if _is_empty(task) and batch.states[task_id] is None:
                        ready_empty.append(task_id)
                    else:
                        to_schedule[i].append(task_id)
                if ready_empty:
                    for task_id in ready_empty:
                        batch.states[task_id] = SUCCESS
                        empties[i].add(task_id)
                    again.append(batch)
            if not again:
                break
            pending = again
        # Write: empties -> success, propagated states, then scheduled.
        ti = t.task_instance
        done_rows, state_rows, sched_rows, retry_rows = [], [], [], []
        finished = []
        for i, batch in enumerate(group):
            for task_id in empties[i]:
                row = batch.rows[task_id]
                done_rows.append({"_id": row.id, "_try": row.try_number + 1})
            for task_id, state in batch.states.items():
                row = batch.rows[task_id]
                if task_id in empties[i] or state == row.state:
                    continue
                state_rows.append({"_id": row.id, "_state": state, "_old": row.state})
            for task_id in to_schedule.get(i, ()):
                row = batch.rows[task_id]
                task = dag.task_dict[task_id]
                if row.state == UP_FOR_RETRY:
                    if not self._retry_due(row, task, batch.run, now):
                        continue
                    retry_rows.append(row)
                    continue
                if task.depends_on_past and not self._past_done(conn, batch.run, task, dag):
                    continue
                sched_rows.append({"_id": row.id, "_old": row.state,
                                   "_try": row.try_number + (row.state != UP_FOR_RESCHEDULE)})
            decision = decisions.get(i)
            if decision is not None and decision.state.value in (RUN_SUCCESS, RUN_FAILED):
                finished.append((batch.run, dag, decision.state.value,
                                 decision.reason or decision.state.value))
        if done_rows:
            conn.execute(ti.update().where(ti.c.id == sa.bindparam("_id"),
                                           ti.c.state.is_(None))
                         .values(state=SUCCESS, try_number=sa.bindparam("_try"), start_date=now,
                                 end_date=now, duration=0.0, updated_at=now), done_rows)
        for old_is_none in (True, False):
            rows = [r for r in state_rows if (r["_old"] is None) == old_is_none]
            if not rows:
                continue
            guard = (ti.c.state.is_(None) if old_is_none
                     else ti.c.state == sa.bindparam("_old"))
            conn.execute(ti.update().where(ti.c.id == sa.bindparam("_id"), guard)
                         .values(state=sa.bindparam("_state"), end_date=now, updated_at=now),
                         [r if not old_is_none else {k: v for k, v in r.items() if k != "_old"}
                          for r in rows])
        if retry_rows:
            self._retry(conn, retry_rows, now)
        for old_is_none in (True, False):
            rows = [r for r in sched_rows if (r["_old"] is None) == old_is_none]
            if not rows:
                continue
            guard = (ti.c.state.is_(None) if old_is_none
                     else ti.c.state == sa.bindparam("_old"))
            conn.execute(ti.update().where(ti.c.id == sa.bindparam("_id"), guard)
                         .values(state=SCHEDULED, try_number=sa.bindparam("_try"),
                                 scheduled_dttm=now, updated_at=now),
                         [r if not old_is_none else {k: v for k, v in r.items() if k != "_old"}
                          for r in rows])
        dr = t.dag_run
        for run, _, state, _ in finished:
            conn.execute(dr.update().where(dr.c.id == run.id).values(
                state=state, end_date=now, updated_at=now))
            log.info("Run %s of Dag %s: %s", run.run_id, run.dag_id, state)
        return finished

    def _retry_due(self, row: Any, task: SerializedTask, run: Any, now: datetime) -> bool:
        from dagcore.models.taskinstance import next_retry_datetime

        if row.end_date is None:
            return True
        due = next_retry_datetime(
            end_date=row.end_date, try_number=row.try_number, retry_delay=task.retry_delay,
            retry_exponential_backoff=task.retry_exponential_backoff,
            max_retry_delay=task.max_retry_delay, dag_id=row.dag_id, task_id=row.task_id,
            logical_date=run.logical_date)
        return due <= now

    def _retry(self, conn: Connection, rows: list[Any], now: datetime) -> None:
        """up_for_retry -> scheduled: the old try goes to the history, the new try a new id."""
        from dagcore.models.taskinstance import archive_try

        ti = t.task_instance
        for row in rows:
            full = conn.execute(sa.select(ti).where(ti.c.id == row.id,
                                                    ti.c.state == UP_FOR_RETRY)).one_or_none()
            if full is None:
                continue
            archive_try(conn, full)
            conn.execute(ti.update().where(ti.c.id == row.id).values(
                id=uuid7(), state=SCHEDULED, try_number=row.try_number + 1, scheduled_dttm=now,
                start_date=None, end_date=None, duration=None, pid=None, hostname=None,
                updated_at=now))

    def _past_done(self, conn: Connection, run: Any, task: SerializedTask,
                   dag: SerializedDAG) -> bool:
        """depends_on_past: the task's instance in the previous run succeeded or was skipped
        (reference 2.7); the first run, and the first run of a backfill, pass."""
        dr, ti, bdr = t.dag_run, t.task_instance, t.backfill_dag_run
        if run.logical_date is None:
            return True
        if run.backfill_id is not None:
            ordinal = conn.execute(sa.select(bdr.c.sort_ordinal).where(
                bdr.c.dag_run_id == run.id)).scalar_one_or_none()
            if ordinal == 1:
                return True
        query = (sa.select(dr.c.run_id).where(dr.c.dag_id == run.dag_id,
                                              dr.c.logical_date < run.logical_date)
                 .order_by(dr.c.logical_date.desc()).limit(1))
        if dag.catchup:
            query = query.where(dr.c.run_type.in_(("scheduled", "backfill")))
        previous = conn.execute(query).scalar_one_or_none()
        if previous is None:
            return True
        state = conn.execute(sa.select(ti.c.state).where(
            ti.c.dag_id == run.dag_id, ti.c.run_id == previous, ti.c.task_id == task.task_id,
            ti.c.map_index == -1)).one_or_none()
        return state is None or state[0] in (SUCCESS, SKIPPED)

    def _run_finished(self, run: Any, dag: SerializedDAG, state: str, reason: str) -> None:
        """After the commit: DAG callbacks and max_consecutive_failed_dag_runs."""
        if state == RUN_FAILED and dag.max_consecutive_failed_dag_runs > 0:
            self._maybe_pause(run.dag_id, dag.max_consecutive_failed_dag_runs)
        wanted = dag.has_on_success_callback if state == RUN_SUCCESS else (
            dag.has_on_failure_callback)
        if wanted:
            self._dag_callback(run, dag, state, reason)

    def _maybe_pause(self, dag_id: str, limit: int) -> None:
        dr = t.dag_run
        with transaction(self.engine) as conn:
            states = conn.execute(sa.select(dr.c.state).where(dr.c.dag_id == dag_id)
                                  .order_by(dr.c.run_after.desc()).limit(limit)).scalars().all()
            if len(states) == limit and all(s == RUN_FAILED for s in states):
                conn.execute(t.dag.update().where(t.dag.c.dag_id == dag_id)
                             .values(is_paused=True))
                log.warning("Dag %s paused: its last %d runs failed "
                            "(max_consecutive_failed_dag_runs)", dag_id, limit)

    def _dag_callback(self, run: Any, dag: SerializedDAG, state: str, reason: str) -> None:
        from dagcore.templating import DagRunContext

        real = self.dags.get(run.dag_id)
        try:
            if real is None:
                from dagcore.task_runner import load_dag

                real = load_dag(dag.fileloc or "", run.dag_id)
            callbacks = (real.on_success_callback if state == RUN_SUCCESS
                         else real.on_failure_callback)
            context = {
                "dag": real, "run_id": run.run_id, "reason": reason,
                "dag_run": DagRunContext(
                    dag_id=run.dag_id, run_id=run.run_id, logical_date=run.logical_date,
                    data_interval_start=run.data_interval_start,
                    data_interval_end=run.data_interval_end, run_after=run.run_after,
                    run_type=run.run_type, conf=dict(run.conf or {}),
                    triggered_by=run.triggered_by),
            }
            for callback in callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]:
                if callback is not None:
                    callback(context)
        except Exception:
            log.exception("The %s callback of Dag %s (run %s) failed", state, run.dag_id,
                          run.run_id)

    # -- 5. queue task instances ----------------------------------------------------------------

    def _enqueue_task_instances(self) -> int:
        slots = self.executor.slots_available
        if slots <= 0:
            return 0
        ti, dr, d, b = t.task_instance, t.dag_run, t.dag, t.backfill
        query = (sa.select(ti.c.id, ti.c.dag_id, ti.c.run_id, ti.c.task_id, ti.c.map_index,
                           ti.c.try_number, ti.c.dag_version_id, dr.c.created_dag_version_id,
                           dr.c.bundle_version, d.c.max_active_tasks, d.c.fileloc,
                           b.c.run_on_latest_version)
                 .select_from(ti.join(dr, sa.and_(dr.c.dag_id == ti.c.dag_id,
                                                  dr.c.run_id == ti.c.run_id))
                              .join(d, d.c.dag_id == ti.c.dag_id)
                              .outerjoin(b, b.c.id == dr.c.backfill_id))
                 .where(ti.c.state == SCHEDULED, dr.c.state == RUN_RUNNING,
                        _runnable(d, b), d.c.is_stale == sa.false())
                 .order_by(ti.c.priority_weight.desc(), dr.c.run_after, dr.c.id, ti.c.task_id)
                 .limit(min(self.max_tis, max(slots * 4, 32))))
        now = timezone.utcnow()
        workloads: list[TaskWorkload] = []
        with transaction(self.engine) as conn:
            candidates = conn.execute(self._lock(query, ti)).all()
            if not candidates:
                return 0
            dag_ids = sorted({c.dag_id for c in candidates})
            per_run: Counter[tuple[str, str]] = Counter()
            per_task: Counter[tuple[str, str]] = Counter()
            per_run_task: Counter[tuple[str, str, str]] = Counter()
            for row in conn.execute(sa.select(ti.c.dag_id, ti.c.run_id, ti.c.task_id).where(
                    ti.c.dag_id.in_(dag_ids), ti.c.state.in_(ACTIVE_TI))):
                per_run[(row.dag_id, row.run_id)] += 1
                per_task[(row.dag_id, row.task_id)] += 1
                per_run_task[(row.dag_id, row.run_id, row.task_id)] += 1
            chosen = []
            for c in candidates:
                if len(chosen) >= slots:
                    break
                dag = self.dag_bag.get_dag_for_run(c)
                task = dag.task_dict.get(c.task_id) if dag is not None else None
                if task is None:
                    continue
                limit = dag.max_active_tasks
                if per_run[(c.dag_id, c.run_id)] >= limit:
                    continue
                if (task.max_active_tis_per_dag is not None
                        and per_task[(c.dag_id, c.task_id)] >= task.max_active_tis_per_dag):
                    continue
                if (task.max_active_tis_per_dagrun is not None
                        and per_run_task[(c.dag_id, c.run_id, c.task_id)]
                        >= task.max_active_tis_per_dagrun):
                    continue
                per_run[(c.dag_id, c.run_id)] += 1
                per_task[(c.dag_id, c.task_id)] += 1
                per_run_task[(c.dag_id, c.run_id, c.task_id)] += 1
                chosen.append((c, dag))
            if not chosen:
                return 0
            conn.execute(ti.update().where(ti.c.id == sa.bindparam("_id"),
                                           ti.c.state == SCHEDULED)
                         .values(state=QUEUED, queued_dttm=now, queued_by_job_id=self.job.id,
                                 updated_at=now),
                         [{"_id": c.id} for c, _ in chosen])
            for c, dag in chosen:
                key = TaskInstanceKey(c.dag_id, c.task_id, c.run_id, c.try_number, c.map_index)
                workloads.append(TaskWorkload(
                    ti_id=str(c.id), key=key,
                    dag_version_id=None if c.dag_version_id is None else str(c.dag_version_id),
                    fileloc=c.fileloc or dag.fileloc, log_path=str(log_path_for(key))))
        for workload in workloads:
            self._workloads[workload.ti_id] = workload
            self.executor.queue_workload(workload)
        return len(workloads)

    # -- 6. housekeeping ------------------------------------------------------------------------

    def adopt_or_reset_orphaned_tasks(self) -> int:
        """``queued`` task instances of dead schedulers go back to ``scheduled``."""
        ti = t.task_instance
        with transaction(self.engine) as conn:
            live = self.job.live_job_ids(conn)
            query = sa.select(ti.c.id, ti.c.queued_by_job_id).where(ti.c.state == QUEUED)
            orphans = [row.id for row in conn.execute(self._lock(query, ti))
                       if row.queued_by_job_id not in live]
            if orphans:
                conn.execute(ti.update().where(ti.c.id.in_(orphans), ti.c.state == QUEUED)
                             .values(state=SCHEDULED, queued_by_job_id=None,
                                     updated_at=timezone.utcnow()))
                log.info("Reset %d queued task instance(s) of dead schedulers", len(orphans))
        return len(orphans)

    def fail_zombies(self) -> int:
        """Running task instances whose heartbeat stopped fail (or go up for retry)."""
        from dagcore.models.taskinstance import fail_task_instance

        ti = t.task_instance
        now = timezone.utcnow()
        limit = now - timedelta(seconds=conf.getfloat("scheduler",
                                                      "task_instance_heartbeat_timeout"))
        with transaction(self.engine) as conn:
            query = sa.select(ti.c.id, ti.c.dag_id, ti.c.task_id, ti.c.run_id).where(
                ti.c.state == RUNNING,
                sa.or_(ti.c.last_heartbeat_at.is_(None), ti.c.last_heartbeat_at < limit))
            zombies = conn.execute(self._lock(query, ti)).all()
            for z in zombies:
                if str(z.id) in self._workloads:
                    continue  # our own child: its exit is reported by the executor
                new = fail_task_instance(conn, ti_id=z.id, now=now,
                                         error="no heartbeat: the task's process is gone")
                log.warning("Zombie task %s.%s %s: %s", z.dag_id, z.task_id, z.run_id, new)
        return len(zombies)

    def fail_stuck_in_queued(self) -> int:
        """Tries queued longer than ``task_queued_timeout`` (whose process never claimed them)
        fail, and go up for retry when they have retries left (Airflow first re-queues them
        twice; dagcore's executors start a queued try at once, so one that waits that long is
        lost, not slow)."""
        from dagcore.models.taskinstance import fail_task_instance

        ti = t.task_instance
        now = timezone.utcnow()
        limit = now - timedelta(seconds=conf.getfloat("scheduler", "task_queued_timeout"))
        with transaction(self.engine) as conn:
            query = sa.select(ti.c.id).where(ti.c.state == QUEUED, ti.c.queued_dttm < limit)
            stuck = [row.id for row in conn.execute(self._lock(query, ti))
                     if str(row.id) not in self._workloads]
            for ti_id in stuck:
                fail_task_instance(conn, ti_id=ti_id, now=now,
                                   error="stuck in queued longer than task_queued_timeout",
                                   expected_states=(QUEUED,))
        return len(stuck)

    def _mark_backfills_complete(self) -> None:
        b, dr = t.backfill, t.dag_run
        now = timezone.utcnow()
        busy = sa.select(dr.c.id).where(dr.c.backfill_id == b.c.id,
                                        dr.c.state.in_((RUN_QUEUED, RUN_RUNNING)))
        with transaction(self.engine) as conn:
            conn.execute(b.update().where(b.c.completed_at.is_(None), ~sa.exists(busy))
                         .values(completed_at=now, updated_at=now))
