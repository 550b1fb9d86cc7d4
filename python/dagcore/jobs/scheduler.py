"""The scheduler: creates runs, starts them, decides them and queues their tasks.

Design note. One loop (:meth:`SchedulerJob.run_once`) does, in order, each step in its own
transaction so a kill at any point loses at most the step in flight:

1. **executor events**: a task process that ended while its task instance is still ``queued``
   or ``running`` died without recording an outcome; the try fails (or is retried). When
   processes ended, step 5 runs first, so that their slots are filled at once;
2. **asset-triggered runs** (docs/airflow-behaviour.md 12.4, 12.5, 12.7): the queued ``(DAG,
   asset)`` rows of active DAGs, as the driver's tuples, are evaluated against every such DAG's
   condition in one C++ call (:class:`~dagcore.asset_conditions.AssetConditions`; each DAG's
   condition compiled once per version and ``dag_hash``, in a
   :class:`~dagcore.asset_conditions.ConditionCache`), first without locks; a ready DAG gets a
   queued ``asset_triggered`` run with the
   events it consumes, and its queue rows up to the run's ``run_after`` are deleted, in one
   transaction. Then **create runs** from each active DAG's timetable
   (``scheduled__<run_after>``), several per DAG per loop while ``max_active_runs``
   (non-backfill runs only) allows; the unique
   constraints on ``dag_run`` make a duplicate impossible even between two schedulers;
3. **start queued runs** within ``max_active_runs`` (a backfill's runs against the backfill's own
   limit, docs/airflow-behaviour.md 2.6), creating their task instances (state None) at that
   moment; a backfill's run keeps the DAG version it starts with (no run of it mixes two versions);
4. **decide running runs** in batches: all task instances of the batch are read in one query, runs
   sharing a DAG version are decided in one :meth:`RunGraph.decide_many` call, and the changes are
   written with one ``executemany`` per kind. ``EmptyOperator`` tasks (no callbacks) whose
   dependencies pass (trigger rule, ``depends_on_past``/``wait_for_downstream``) go straight to
   ``success`` without the queueing limits of step 5, as in Airflow (docs/airflow-behaviour.md 8.4);
   the batch is decided again in memory until no empty task is ready, so a chain of empty tasks ends
   in one loop instead of one loop per level;
5. **queue** ``scheduled`` task instances, by priority, within ``max_active_tasks`` (per run,
   as Airflow 3), ``max_active_tis_per_dag``, ``max_active_tis_per_dagrun`` and the executor's
   free slots, then hand them to the executor after the commit;
6. periodically: heartbeat, zombies (running task instances without a heartbeat), tries stuck
   in ``queued``, backfills with nothing left to run.

On PostgreSQL the rows each step works on are read ``FOR UPDATE SKIP LOCKED``, so several
schedulers share the work without taking the same run or task instance twice. SQLite allows one
scheduler (:class:`~dagcore.jobs.job.SchedulerAlreadyRunning`) and has one writer at a time,
which the task processes need too (to claim and record their tries): there each step looks
without the write lock first and takes it only when it has something to write (step 4 decides
lock-free and, when anything changes, decides again under the lock), and a loop only stamps
``last_scheduling_decision`` on runs that changed nothing once a second unless a full batch is
running (the stamp only orders the runs when they do not fit in one batch).

While tasks run, :meth:`SchedulerJob.run` sleeps after a loop that did nothing, or only
handled ended processes and queued task instances; an executor with ``wait`` (the
LocalExecutor) wakes it as soon as a task's process ends. A loop woken by ended tries decides
only their runs (steps 2 and 3 wait too), with a loop over every run at least once a second
(:meth:`SchedulerJob._focused`). Statements a loop runs every time are built once per
scheduler, with what changes as bound parameters.

A restarted scheduler resets the ``queued`` task instances of dead schedulers to ``scheduled``
(they were never started, or their process will find its row changed and not run); ``running``
ones are left to finish, or to the zombie check if their process is gone.

Database faults stop the loop, as an exception in Airflow's loop stops its scheduler, with one
line: a SQLite file deleted or replaced under the scheduler (checked at the start of each loop,
one ``os.stat``; :class:`~dagcore.db.sqlite_file.DatabaseFileWatch`) terminates the running
tries and writes nothing more; a write lock held by another program past the busy timeout
(:class:`~dagcore.db.sqlite_file.DatabaseLocked`, naming the holder) waits for the running
tries, which record their own outcomes once the lock is released.
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

from dagcore.asset_conditions import AssetConditions, ConditionCache
from dagcore.asset_store import consume_asset_events, leaf_resolver
from dagcore.assets import encode_asset_condition
from dagcore.configuration import conf
from dagcore.db import create_engine, transaction
from dagcore.db.bulk import insert_rows
from dagcore.db.engine import _SQLITE_BEGIN_OPTION
from dagcore.db.sqlite_file import (
    DatabaseFileGone,
    DatabaseFileWatch,
    DatabaseLocked,
    describe_lock_timeout,
    is_lock_error,
)
from dagcore.db_dagbag import DBDagBag, latest_version_id
from dagcore.executors.base import (
    BaseExecutor,
    DagCallbackRequest,
    ExecutorEvent,
    TaskInstanceKey,
    TaskWorkload,
    log_path_for,
)
from dagcore.jobs import expansion
from dagcore.jobs.job import Job, SchedulerAlreadyRunning
from dagcore.models import tables as t
from dagcore.models.dagrun import generate_run_id, insert_dag_run
from dagcore.models.types import uuid7, uuid7_many
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
# Rounds of in-memory re-decision per loop for chains of empty tasks (a bound, not a rule).
MAX_EMPTY_ROUNDS = 1000
# On SQLite, how often last_scheduling_decision is written for runs that changed nothing, when
# they fit in one batch (see _schedule_dag_runs).
STAMP_INTERVAL_S = 1.0
# How long loops woken by ended tasks may look at those tasks' runs only (see run_once).
FOCUS_INTERVAL_S = 1.0


def _uuid(value: Any) -> uuid.UUID:
    """A version id as the driver returned it (a UUID, or its string on SQLite) as a UUID."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _as_text(column: Any) -> Any:
    """A UUID column read as the driver returns it (a string on SQLite, on PostgreSQL a
    string or a UUID), without the UUID type's result processing."""
    return sa.type_coerce(column, sa.String).label(column.name)


def _runnable(d: sa.Table, b: sa.Table) -> Any:
    """The DAG is unpaused, or the run belongs to a backfill that keeps it paused."""
    return sa.or_(d.c.is_paused == sa.false(), b.c.keep_dag_paused == sa.true())


def _pinned_if_backfill(b: sa.Table) -> Any:
    """``run_on_latest_version`` for a started run: False for a backfill's, else None. A
    backfill run keeps the version it started with (recorded as its ``created_dag_version_id``
    when it starts), so its task instances never mix two versions."""
    return sa.type_coerce(sa.case((b.c.id.is_not(None), sa.false())),
                          sa.Boolean).label("run_on_latest_version")


def _unchanged(update: Any) -> Any:
    """``update`` of the task instance ``_id`` while its state is still ``_old`` (None
    included: ``IS`` on SQLite, ``IS NOT DISTINCT FROM`` on PostgreSQL), so a state another
    process wrote since the read is never overwritten."""
    ti = t.task_instance
    return update.where(ti.c.id == sa.bindparam("_id"),
                        ti.c.state.is_not_distinct_from(sa.bindparam("_old")))


def _not_yet_due() -> Any:
    """SQL: a sensor waiting for its reschedule date (after the bind parameter ``now``)."""
    from dagcore.models.taskreschedule import not_yet_due

    return not_yet_due(sa.bindparam("now"))


def _waiting_sensors_count() -> Any:
    """The ``waiting_sensors`` column of the runs the loop decides: how many of the run's task
    instances are sensors waiting for their reschedule date (Airflow's ReadyToRescheduleDep
    failing). The decision query leaves those out, so a run with many waiting sensors costs
    the loop about what it costs without them (docs/airflow-behaviour.md 10.2)."""
    ti, dr = t.task_instance, t.dag_run
    return (sa.select(sa.func.count()).select_from(ti)
            .where(ti.c.dag_id == dr.c.dag_id, ti.c.run_id == dr.c.run_id,
                   ti.c.map_index == -1, _not_yet_due())
            .scalar_subquery().label("waiting_sensors"))


# Ids bound in one IN list (SQLite allows 32,766 variables since 3.32, 999 before).
_IDS_PER_STATEMENT = 900


def _data_version(conn: Connection) -> tuple[Any, int]:
    """SQLite's ``PRAGMA data_version`` of ``conn``'s database connection, with that
    connection: two equal values from the same connection mean that no other connection
    committed anything in between (a connection's own commits do not count; the unlocked
    examination commits nothing)."""
    raw = conn.connection.dbapi_connection
    return raw, raw.execute("PRAGMA data_version").fetchone()[0]


def _is_empty(task: SerializedTask) -> bool:
    return task.is_empty


def _moved(counts: dict[str | None, int], state: str,
           only: Iterable[str | None] = (None, UP_FOR_RETRY, UP_FOR_RESCHEDULE)
           ) -> dict[str | None, int]:
    """Instance counts with the instances in ``only`` moved to ``state``."""
    out = dict(counts)
    moved = sum(out.pop(s, 0) for s in only)
    out[state] = out.get(state, 0) + moved
    return out


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

    __slots__ = ("run", "dag", "rows", "states", "counts", "waiting")

    def __init__(self, run: Any, dag: SerializedDAG, rows: dict[str, Any],
                 states: dict[str, str | None] | None = None,
                 counts: dict[str, dict[str | None, int]] | None = None,
                 waiting: dict[str, str | None] | None = None) -> None:
        self.run = run
        self.dag = dag
        self.rows = rows  # task_id -> task_instance row (map_index -1)
        self.states: dict[str, str | None] = (
            {k: r.state for k, r in rows.items()} if states is None else states)
        # Expanded mapped tasks: task_id -> state -> number of instances (map_index >= 0).
        self.counts = counts or {}
        # Sensors waiting for their reschedule date (not read: see _waiting_sensors), decided
        # as running tasks: in progress, never schedulable, never changed.
        self.waiting = waiting

    def decision_states(self) -> dict[str, str | None]:
        """What the run-state engine decides: ``states``, and the waiting sensors."""
        return self.states if not self.waiting else {**self.states, **self.waiting}


class _Plan:
    """The writes the decisions of one DAG version's runs call for (executemany rows)."""

    __slots__ = ("done_rows", "state_rows", "sched_rows", "retry_rows", "finished", "changed",
                 "mapped")

    def __init__(self) -> None:
        # Mapped tasks, applied to all candidate instances at once (dagcore.jobs.expansion):
        # ("expand", run, task, placeholder id) / ("state", run, task_id, state) /
        # ("schedule", run, task_id, empty).
        self.mapped: list[tuple[Any, ...]] = []
        self.done_rows: list[dict[str, Any]] = []  # empty tasks -> success
        self.state_rows: list[dict[str, Any]] = []  # propagated states (skipped, ...)
        self.sched_rows: list[dict[str, Any]] = []  # -> scheduled
        self.retry_rows: list[Any] = []  # up_for_retry rows whose delay has passed
        self.finished: list[tuple[Any, SerializedDAG, str, str]] = []  # (run, dag, state, why)
        self.changed = 0  # runs with anything to write


class _Examined:
    """One batch of running runs as :meth:`SchedulerJob._examine` read and decided them."""

    __slots__ = ("runs", "timed_out", "new_tis", "removed", "plans")

    def __init__(self, runs: list[Any]) -> None:
        self.runs = runs
        self.timed_out: list[tuple[Any, SerializedDAG]] = []
        self.new_tis: list[tuple[Any, SerializedDAG]] = []  # runs missing task instances
        self.removed: list[Any] = []  # ids of task instances whose task is gone
        self.plans: list[_Plan] = []

    @property
    def writes(self) -> bool:
        """Whether anything but ``last_scheduling_decision`` is to be written."""
        return bool(self.timed_out or self.new_tis or self.removed
                    or any(plan.changed for plan in self.plans))


class SchedulerJob:
    """Airflow's scheduler loop over dagcore's metadata database.

    Args:
        engine: the metadata database (default: the configured one).
        executor: runs the queued task instances (default: ``[core] executor`` with
            ``[core] parallelism``).
        dag_bag: the DAG versions (default: :meth:`DBDagBag.for_scheduler`).
        num_runs: stop after this many loops (-1: until stopped).
        idle_sleep: seconds to sleep after a loop that did nothing (default
            ``[scheduler] scheduler_idle_sleep_time``); while tasks run, at most 10 ms, or
            50 ms when the executor wakes the loop as a task ends (LocalExecutor).
        dags: DAG objects by id, for DAG-level callbacks without parsing files (``dag.test``).
        single: refuse to start while another scheduler is alive (default: on SQLite).
        create_runs: create scheduled runs of unpaused DAGs (off for ``dag.test``, which runs
            only the run it created, as Airflow's ``DAG.test`` does without a scheduler;
            docs/airflow-behaviour.md 8.8).
    """

    job_type = "SchedulerJob"

    def __init__(self, *, engine: Engine | None = None, executor: BaseExecutor | None = None,
                 dag_bag: DBDagBag | None = None, num_runs: int = -1,
                 idle_sleep: float | None = None, dags: Mapping[str, Any] | None = None,
                 single: bool | None = None, create_runs: bool = True) -> None:
        if isinstance(num_runs, bool) or not isinstance(num_runs, int):
            raise TypeError(f"num_runs must be an int, got {num_runs!r}")
        self.engine = engine if engine is not None else create_engine()
        self.is_postgres = self.engine.dialect.name == "postgresql"
        if executor is None:
            from dagcore.executors import get_executor

            executor = get_executor(engine_url=self.engine.url.render_as_string(
                hide_password=False))
        self.executor = executor
        executor.start()  # what it starts (the LocalExecutor's fork server) boots meanwhile
        self.dag_bag = dag_bag if dag_bag is not None else DBDagBag.for_scheduler(
            engine=self.engine)
        self.num_runs = num_runs
        self.idle_sleep = (conf.getfloat("scheduler", "scheduler_idle_sleep_time")
                           if idle_sleep is None else idle_sleep)
        self.dags = dict(dags or {})
        self.single = (self.engine.dialect.name == "sqlite") if single is None else single
        self.create_runs = create_runs
        self.job = Job(self.engine, self.job_type, executor_class=type(executor).__name__)
        self._stop = threading.Event()
        self._auto_success: weakref.WeakKeyDictionary[SerializedDAG, bytes | None] = (
            weakref.WeakKeyDictionary())
        self._weights: weakref.WeakKeyDictionary[SerializedDAG, dict[str, int]] = (
            weakref.WeakKeyDictionary())
        self._no_next_run: dict[str, Any] = {}  # dag_id -> last_parsed_time checked
        self._last_zombie_check = 0.0
        self._last_backfill_check = 0.0
        self._stamped = 0.0  # monotonic time of the last stamp of a batch that changed nothing
        self._statements: dict[str, Any] = {}  # see _statement
        self._urgent = False  # the last loop left work for the next one at once (see run)
        self._last_full = 0.0  # monotonic time of the last loop that looked at every run
        self._full_due = True  # the next loop must look at every run (see run_once)
        self._focus: set[tuple[str, str]] = set()  # runs of events not yet decided again
        self._workloads: dict[str, TaskWorkload] = {}
        self._asset_cache: ConditionCache[str] = ConditionCache()
        self._db_file: DatabaseFileWatch | None = None  # set by run()
        self.loops = 0
        self.focused_loops = 0  # loops that decided only the runs of ended tries (_focused)
        self.batch_size = conf.getint("scheduler", "max_dagruns_per_loop_to_schedule")
        self.create_per_loop = conf.getint("scheduler", "max_dagruns_to_create_per_loop")
        self.max_tis = conf.getint("scheduler", "max_tis_per_query")
        self.zombie_interval = conf.getfloat("scheduler", "zombie_detection_interval")
        self.reused_examinations = 0  # SQLite: locked re-examinations skipped (data_version)
        self.decide_seconds = 0.0  # time inside RunGraph.decide_many (the benchmark reads it)
        self.decide_runs = 0  # run decisions made by those calls

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
            DatabaseFileGone: the SQLite file was deleted or replaced while the scheduler ran
                (its running tries were terminated, as on SIGTERM).
            DatabaseLocked: another connection held the SQLite write lock for longer than the
                busy timeout (the running tries were waited for: they record their own outcomes
                once the lock is released).
        """
        self.job.register(single=self.single)
        self._db_file = DatabaseFileWatch.of(self.engine)
        log.info("Scheduler job %s started (pid %s, executor %s)", self.job.id, os.getpid(),
                 type(self.executor).__name__)
        restore = self._install_signal_handlers()
        failure: BaseException | None = None
        try:
            self.executor.start()
            self.adopt_or_reset_orphaned_tasks()
            while not self._stop.is_set() and (self.num_runs < 0 or self.loops < self.num_runs):
                did = self.run_once()
                # A loop whose only work was the executor events it decided and the task
                # instances it queued has nothing more to do until a task ends: sleep then too.
                if (did == 0 or not self._urgent) and not self._stop.is_set():
                    self._idle()
        except BaseException as exc:
            failure = self._explain(exc)
            if failure is exc:
                raise
            raise failure from exc
        finally:
            try:
                self._shutdown(failure)
            finally:
                restore()
                self._complete(failure)
                log.info("Scheduler job %s stopped after %d loop(s)", self.job.id, self.loops)
        return self.loops

    def _explain(self, exc: BaseException) -> BaseException:
        """The error the loop stops with, logged as one line: a SQLite lock timeout becomes
        :class:`DatabaseLocked` naming the file and, while it still holds the lock, the
        process holding it (read now, before the shutdown waits for the running tries)."""
        if isinstance(exc, DatabaseFileGone):
            log.error("%s", exc)
        elif is_lock_error(exc):
            exc = DatabaseLocked(describe_lock_timeout(
                self.engine, conf.getfloat("database", "sqlite_busy_timeout")))
            log.error("%s; stopping after the running tries end", exc)
        return exc

    def _idle(self) -> None:
        """Sleep after a loop that did nothing: ``idle_sleep``; while tasks run, at most 10 ms,
        or 50 ms with an executor that wakes the loop when a task's process ends (``wait``,
        the LocalExecutor), the bound then being how late a stop request is seen."""
        if not self.executor.running:
            self._stop.wait(self.idle_sleep)
            return
        wait = getattr(self.executor, "wait", None)
        if wait is None:
            self._stop.wait(min(self.idle_sleep, 0.01))
        else:
            wait(min(self.idle_sleep, 0.05))

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGTERM, signal.SIGINT)}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore

    def _shutdown(self, failure: BaseException | None = None) -> None:
        """End the executor and decide the tries whose processes ended without an outcome.

        After a stop request the running tries get ``[core] killed_task_cleanup_time`` seconds,
        else they are waited for (each records its own outcome, waiting out a database lock).
        When the database file is gone they are terminated at once, and nothing is written: a
        write would go to the deleted file, or create an empty one at its path. After a
        database error, events that cannot be written are left to the next scheduler (a try
        left ``running`` without a process is a zombie to it).
        """
        grace = conf.getfloat("core", "killed_task_cleanup_time")
        if isinstance(failure, DatabaseFileGone):
            self.executor.terminate()
            ended = self.executor.end(timeout=0)
            log.error("Terminated the running tries; %d ended try(s) not recorded (the "
                      "database file is gone)", len(ended))
            return
        events = self.executor.end(timeout=None if not self._stop.is_set() else grace)
        try:
            self._process_events(events)
        except sa.exc.OperationalError as exc:
            if failure is None:
                raise
            log.error("Could not record %d executor event(s) (%s); the next scheduler will "
                      "find those tries", len(events), str(getattr(exc, "orig", exc)).strip())

    def _complete(self, failure: BaseException | None) -> None:
        """Mark this scheduler's ``job`` row finished (not when the database file is gone;
        after a database error the next scheduler marks it failed if this cannot)."""
        if isinstance(failure, DatabaseFileGone):
            return
        try:
            self.job.complete("failed" if failure is not None else "success")
        except sa.exc.OperationalError as exc:
            if failure is None:
                raise
            log.error("Could not mark scheduler job %s failed (%s)", self.job.id,
                      str(getattr(exc, "orig", exc)).strip())

    # -- the loop -------------------------------------------------------------------------------

    def run_once(self) -> int:
        """One scheduler loop; returns how much it did (0: nothing to do)."""
        self.loops += 1
        if self._db_file is not None:
            self._db_file.check()  # one os.stat, a few microseconds
        events = self.executor.heartbeat()
        did = 0
        if events:
            # Slots were freed: fill them first (reading what ended changes nothing that queueing
            # depends on), so that a slot does not stay empty while the rest of the loop runs.
            did += self._enqueue_task_instances()
            events += self.executor.heartbeat()
        did += self._process_events(events)
        focus = self._focused(time.monotonic())
        # What the next loop has to look at at once; the rest (events already decided above,
        # task instances queued) only waits for tasks to end (see run()).
        if focus is None:
            urgent = self._create_asset_triggered_runs() if self.create_runs else 0
            urgent += self._create_dag_runs() if self.create_runs else 0
            urgent += self._start_queued_dagruns()
            self._full_due = urgent > 0  # runs created or started: the next loop sees them
            urgent += self._schedule_dag_runs()
        else:
            urgent = self._schedule_dag_runs(focus)
        did += urgent + self._enqueue_task_instances()
        ended = self._process_events(self.executor.heartbeat())
        urgent += ended
        did += ended
        now_mono = time.monotonic()
        if self.job.due():
            self.job.heartbeat()
        if now_mono - self._last_zombie_check >= self.zombie_interval:
            self._last_zombie_check = now_mono
            failed = self.fail_zombies() + self.fail_stuck_in_queued()
            urgent += failed
            did += failed
            self._full_due = self._full_due or failed > 0
        self._urgent = urgent > 0
        if now_mono - self._last_backfill_check >= 1.0:
            self._last_backfill_check = now_mono
            self._mark_backfills_complete()
        return did

    def _focused(self, now_mono: float) -> set[tuple[str, str]] | None:
        """The runs this loop decides: ``(dag_id, run_id)`` of the tries whose processes ended
        since they were last decided, or None for every running run (and the steps that create
        and start runs).

        While tasks run, nearly every loop is woken by a task's process ending, and most of a
        loop's time went to reading every task instance of every running run again. A run can
        only change through its own tries ending (the executor's events), through this
        scheduler's steps, through time (retry delays, timeouts, reschedules) or through
        another program (the API, the CLI, another scheduler). So a loop woken by ended tasks
        decides only those tasks' runs, unless the last loop created, started or finished runs,
        created task instances, or failed zombies, or no loop has looked at every run for
        ``FOCUS_INTERVAL_S``: the other changes are seen within that second, as an idle
        scheduler sees them within ``scheduler_idle_sleep_time``. A loop with no ended task
        looks at every run, as before. What a focused loop decides is read fresh from the
        database, as in a full loop: it decides fewer runs, never from older data.
        """
        if (self._focus and not self._full_due
                and now_mono - self._last_full < FOCUS_INTERVAL_S):
            focus, self._focus = self._focus, set()
            self.focused_loops += 1
            return focus
        self._focus = set()
        self._last_full = now_mono
        return None

    def _lock(self, query: Any, *of: Any) -> Any:
        """``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite has one writer: nothing to do)."""
        if self.is_postgres:
            return query.with_for_update(skip_locked=True, of=list(of) or None)
        return query

    def _statement(self, name: str, build: Callable[[], Any]) -> Any:
        """``build()``, built once per scheduler. While tasks run, a loop runs the same few
        statements every few milliseconds, and building one (and its cache key) costs more
        than running it: what changes goes in as bound parameters."""
        statement = self._statements.get(name)
        if statement is None:
            statement = self._statements[name] = build()
        return statement

    def _nothing_on_sqlite(self, query: Any, keep: Callable[[Any], bool] | None = None,
                           params: Mapping[str, Any] | None = None) -> bool:
        """On SQLite, whether ``query`` finds no row (none that ``keep`` keeps), read without
        the write lock. Always False on PostgreSQL, whose locks are per row.

        SQLite has one writer: a step's transaction takes the database's write lock first
        (``BEGIN IMMEDIATE``), and the task processes wait for it to claim and record their
        tries. A step that would find nothing skips its transaction instead.
        """
        if self.is_postgres:
            return False
        with self.engine.connect() as conn:
            rows = conn.execute(query, params)
            return not any(rows) if keep is None else not any(keep(row) for row in rows)

    # -- 1. executor events ---------------------------------------------------------------------

    def _process_events(self, events: Iterable[ExecutorEvent]) -> int:
        from dagcore.models.taskinstance import fail_task_instance

        events = list(events)
        if not events:
            return 0
        ti = t.task_instance
        for event in events:
            self._workloads.pop(event.ti_id, None)
            self._focus.add((event.key.dag_id, event.key.run_id))
        # Nearly every process recorded its own outcome: read the states in one query, without
        # a lock, and take a transaction only for the tries that need the scheduler.
        query = self._statement("event_states", lambda: sa.select(ti.c.id, ti.c.state).where(
            ti.c.id.in_(sa.bindparam("ids", expanding=True))))
        with self.engine.connect() as conn:
            states = dict(conn.execute(query, {"ids": [uuid.UUID(e.ti_id) for e in events]})
                          .all())
        gone = object()
        for event in events:
            if states.get(uuid.UUID(event.ti_id), gone) not in (QUEUED, RUNNING, gone):
                continue
            with transaction(self.engine) as conn:
                row = conn.execute(sa.select(ti.c.id, ti.c.state).where(
                    ti.c.id == uuid.UUID(event.ti_id))).one_or_none()
                # A process that exited 0 recorded its outcome, or ran nothing as another one
                # had claimed the try (an orphan of a dead scheduler, claiming after the try was
                # queued again): a running try is then not this process's to fail.
                if row is not None and (row.state == QUEUED or (
                        row.state == RUNNING and event.state != "success")):
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
        return len(events)

    # -- 2a. asset-triggered runs (docs/airflow-behaviour.md 12) ----------------------------------

    def _fetch_raw(self, conn: Connection, name: str, build: Callable[[], Any]) -> list[Any]:
        """The rows of a parameterless statement as the driver's plain tuples, on ``conn``'s
        connection (its transaction, its locks). The SQL is compiled once per scheduler; the
        rows skip SQLAlchemy's ``Row`` objects and result processing, which for the thousands of
        queue rows a loop may read cost more than the query and the evaluation together
        (docs/airflow-behaviour.md 12.7)."""
        sql = self._statements.get(name)
        if sql is None:
            sql = self._statements[name] = str(build().compile(dialect=self.engine.dialect))
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql)
            return cursor.fetchall()
        finally:
            cursor.close()

    def _asset_conditions(self, conn: Connection, tokens: Mapping[str, tuple[Any, Any]]
                          ) -> AssetConditions[str]:
        """The compiled conditions of these DAGs (``dag_id -> (version id, dag_hash)``): the
        per-DAG cache (:class:`~dagcore.asset_conditions.ConditionCache`) compiles only a DAG
        whose latest version or its hash changed (a version updated in place keeps its id),
        loading that one version from the bag; when an asset is added or an alias gains a link,
        only the DAGs with alias or reference leaves (or an asset leaf not found yet) are
        resolved again (docs/airflow-behaviour.md 12.4, 12.7)."""
        a, link = t.asset, t.asset_alias_asset
        state = self._fetch_raw(conn, "asset_resolver_state", lambda: sa.select(
            sa.select(sa.func.max(a.c.id)).scalar_subquery(),
            sa.select(sa.func.count()).select_from(link).scalar_subquery()))[0]

        def load(dag_id: str) -> Any:
            version_id, dag_hash = tokens[dag_id]
            # The hash just read: a version updated in place is not served from the bag's
            # cache with its old content.
            dag = None if version_id is None else self.dag_bag.get_dag_of_hash(
                str(version_id), dag_hash, dag_id)
            if dag is None or dag.asset_condition is None:
                return None
            return encode_asset_condition(dag.asset_condition)

        return self._asset_cache.sync(tokens, load, lambda conditions: leaf_resolver(
            conn, conditions), tuple(state))

    def _read_asset_queue(self, conn: Connection, *, lock: bool
                          ) -> tuple[list[Any], AssetConditions[str] | None,
                                     dict[str, tuple[Any, Any]]]:
        """The queue rows of unpaused, non-stale DAGs as ``(dag_id, asset_id)`` tuples sorted by
        DAG (locked on PostgreSQL when ``lock``), the compiled conditions (None when no row)
        and each queued DAG's ``(latest version id, dag_hash)``.

        Two reads per loop (docs/airflow-behaviour.md 12.5, 12.7): the rows, as the driver's
        tuples, and the latest version and ``dag_hash`` of each queued DAG (one query), which
        tell the cache which DAGs to compile again."""
        q, d = t.asset_dag_run_queue, t.dag

        def active() -> Any:  # built with the statements, once per scheduler
            return sa.and_(d.c.is_paused == sa.false(), d.c.is_stale == sa.false())

        def queue_query() -> Any:
            query = (sa.select(q.c.target_dag_id, q.c.asset_id)
                     .select_from(q.join(d, d.c.dag_id == q.c.target_dag_id))
                     .where(active()).order_by(q.c.target_dag_id, q.c.asset_id))
            return self._lock(query, q) if lock else query

        def versions_query() -> Any:
            # Each queued DAG with its latest version and that version's hash; NULLs for a DAG
            # without a version or serialized row (compiled as never ready).
            dv, sd, dv2 = t.dag_version, t.serialized_dag, t.dag_version.alias("newer")
            queued = (sa.select(q.c.target_dag_id).select_from(
                q.join(d, d.c.dag_id == q.c.target_dag_id)).where(active()).distinct().subquery())
            latest = (sa.select(sa.func.max(dv2.c.version_number))
                      .where(dv2.c.dag_id == queued.c.target_dag_id).scalar_subquery())
            return (sa.select(queued.c.target_dag_id, dv.c.id, sd.c.dag_hash).select_from(
                queued.outerjoin(dv, sa.and_(dv.c.dag_id == queued.c.target_dag_id,
                                             dv.c.version_number == latest))
                .outerjoin(sd, sd.c.dag_version_id == dv.c.id)))

        pairs = self._fetch_raw(conn, "asset_queue_locked" if lock else "asset_queue",
                                queue_query)
        if not pairs:
            return pairs, None, {}
        tokens = {dag_id: (version_id, dag_hash) for dag_id, version_id, dag_hash in
                  self._fetch_raw(conn, "asset_versions", versions_query)}
        return pairs, self._asset_conditions(conn, tokens), tokens

    def _ready_for_assets(self, conn: Connection, *, lock: bool
                          ) -> tuple[list[str], dict[str, Any], dict[str, datetime]]:
        """The DAGs whose condition holds over their queue rows (unpaused, non-stale DAGs
        only), their latest versions and the newest ``created_at`` of their rows (both for the
        ready DAGs, and only when ``lock``: the unlocked pass only decides whether to lock):
        :meth:`_read_asset_queue`, then one C++ call on the rows as read
        (:meth:`AssetConditions.ready`)."""
        q = t.asset_dag_run_queue
        pairs, conditions, tokens = self._read_asset_queue(conn, lock=lock)
        if conditions is None:
            return [], {}, {}
        try:
            ready = conditions.ready(pairs)
        except ValueError:
            # A DAG queued between the two reads (read committed, or no transaction on the
            # unlocked read) and never compiled: left to the next loop.
            ready = conditions.ready([p for p in pairs if p[0] in tokens])
        newest: dict[str, datetime] = {}
        versions: dict[str, Any] = {}
        if ready and lock:
            versions = {dag_id: _uuid(tokens[dag_id][0]) for dag_id in ready}
            newest = dict(conn.execute(
                sa.select(q.c.target_dag_id, sa.func.max(q.c.created_at))
                .where(q.c.target_dag_id.in_(ready)).group_by(q.c.target_dag_id)).all())
        return ready, versions, newest

    def _create_asset_triggered_runs(self) -> int:
        """Airflow's ``_create_dag_runs_asset_triggered``: every active DAG whose condition holds
        over its queued assets gets a queued ``asset_triggered`` run (no logical date, run_after
        the newest queue row's time) with the events it consumes, and its queue rows go. Paused
        and stale DAGs keep their rows until they are active again. Readiness is decided
        without locks first, so that a loop with nothing ready writes nothing (on SQLite, does
        not take the write lock), then again on the locked rows."""
        q = t.asset_dag_run_queue
        any_row = self._statement("any_asset_queue", lambda: sa.select(q.c.target_dag_id)
                                  .limit(1))
        with self.engine.connect() as conn:
            if conn.execute(any_row).first() is None:
                return 0
            ready, _, _ = self._ready_for_assets(conn, lock=False)
        if not ready:
            return 0
        d = t.dag
        now = timezone.utcnow()
        created = 0
        with transaction(self.engine) as conn:
            ready, versions, newest = self._ready_for_assets(conn, lock=True)
            bundles = dict(conn.execute(sa.select(d.c.dag_id, d.c.bundle_version).where(
                d.c.dag_id.in_(ready))).all()) if ready else {}
            for dag_id in ready:
                run_after = newest[dag_id]
                run_id = generate_run_id("asset_triggered", stamp=None, run_after=run_after)
                run_pk = insert_dag_run(
                    conn, dag_id=dag_id, run_id=run_id, logical_date=None, run_after=run_after,
                    queued_at=now, state=RUN_QUEUED, run_type="asset_triggered",
                    triggered_by="asset", conf={}, data_interval_start=None,
                    data_interval_end=None, created_dag_version_id=versions[dag_id],
                    bundle_version=bundles.get(dag_id), clear_number=0,
                    creating_job_id=self.job.id, updated_at=now)
                consumed = consume_asset_events(conn, dag_id=dag_id, dag_run_id=run_pk,
                                                run_after=run_after)
                log.info("Created run %s of Dag %s (asset-triggered, %d events)", run_id,
                         dag_id, consumed)
                created += 1
        return created

    # -- 2. create runs -------------------------------------------------------------------------

    def _create_dag_runs(self) -> int:
        now = timezone.utcnow()
        d = t.dag
        query = self._statement("dags_to_create", lambda: (
            sa.select(d.c.dag_id, d.c.last_parsed_time, d.c.max_active_runs,
                      d.c.next_dagrun_create_after, d.c.bundle_version)
            .where(d.c.is_paused == sa.false(), d.c.is_stale == sa.false(),
                   sa.or_(d.c.next_dagrun_create_after.is_(None),
                          d.c.next_dagrun_create_after <= sa.bindparam("now")))
            .order_by(d.c.next_dagrun_create_after)))

        def due(row: Any) -> bool:
            return not (row.next_dagrun_create_after is None
                        and self._no_next_run.get(row.dag_id, 0) == row.last_parsed_time)

        if self._nothing_on_sqlite(query, due, {"now": now}):
            return 0
        created = 0
        with transaction(self.engine) as conn:
            candidates = [row for row in conn.execute(self._lock(query, d), {"now": now}).all()
                          if due(row)]
            for row in candidates[: max(1, self.create_per_loop)]:
                created += self._create_runs_for(conn, row, now)
        return created

    def _create_runs_for(self, conn: Connection, row: Any, now: datetime) -> int:
        dr = t.dag_run
        version_id = latest_version_id(conn, row.dag_id)
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
            run_id = generate_run_id("scheduled", stamp=info.run_after, run_after=info.run_after)
            try:
                with conn.begin_nested():
                    insert_dag_run(
                        conn, dag_id=row.dag_id, run_id=run_id, logical_date=info.logical_date,
                        run_after=info.run_after, queued_at=now, state=RUN_QUEUED,
                        run_type="scheduled", triggered_by="timetable", conf={},
                        data_interval_start=info.data_interval.start,
                        data_interval_end=info.data_interval.end,
                        created_dag_version_id=version_id, bundle_version=row.bundle_version,
                        clear_number=0, creating_job_id=self.job.id, updated_at=now)
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
        any_queued = self._statement("any_queued_run", lambda: sa.select(dr.c.id).where(
            dr.c.state == RUN_QUEUED, dr.c.run_after <= sa.bindparam("now")).limit(1))
        if self._nothing_on_sqlite(any_queued, params={"now": now}):
            return 0  # the usual case, checked before building the query below
        # Runs whose DAG (or backfill) is at its max_active_runs are left out here, as Airflow
        # does: else more of them than one batch, first in the order, hide every other run.
        other = dr.alias("running_run")
        slot = sa.func.coalesce(other.c.backfill_id, 0)
        counts = (sa.select(other.c.dag_id, slot.label("slot"), sa.func.count().label("n"))
                  .where(other.c.state == RUN_RUNNING).group_by(other.c.dag_id, slot)
                  .subquery("running_counts"))
        limit = sa.func.coalesce(b.c.max_active_runs, d.c.max_active_runs)
        query = (sa.select(dr, d.c.max_active_runs.label("dag_max_active_runs"),
                           b.c.max_active_runs.label("backfill_max_active_runs"),
                           b.c.run_on_latest_version, bdr.c.sort_ordinal)
                 .select_from(dr.join(d, d.c.dag_id == dr.c.dag_id)
                              .outerjoin(b, b.c.id == dr.c.backfill_id)
                              .outerjoin(bdr, sa.and_(bdr.c.dag_run_id == dr.c.id,
                                                      bdr.c.backfill_id == dr.c.backfill_id))
                              .outerjoin(counts, sa.and_(
                                  counts.c.dag_id == dr.c.dag_id,
                                  counts.c.slot == sa.func.coalesce(dr.c.backfill_id, 0))))
                 .where(dr.c.state == RUN_QUEUED, dr.c.run_after <= now,
                        _runnable(d, b), d.c.is_stale == sa.false(),
                        sa.or_(b.c.id.is_(None), b.c.is_paused == sa.false()),
                        sa.or_(limit.is_(None), sa.func.coalesce(counts.c.n, 0) < limit))
                 .order_by(bdr.c.sort_ordinal.is_(None).desc(), bdr.c.sort_ordinal,
                           dr.c.last_scheduling_decision.is_(None).desc(),
                           dr.c.last_scheduling_decision, dr.c.run_after, dr.c.id)
                 .limit(self.batch_size))
        if self._nothing_on_sqlite(query):
            return 0
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
            versions: dict[int, Any] = {}  # backfill run id -> the version it starts with
            latest: dict[str, Any] = {}
            for run in runs:
                if run.backfill_id is not None:
                    # The latest version, or the one at the backfill's creation (pinned).
                    versions[run.id] = self._version_id_for(conn, run, latest)
                    dag = (None if versions[run.id] is None
                           else self.dag_bag.get_dag(versions[run.id], run.dag_id))
                else:
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
                created_dag_version_id=sa.bindparam("_version"), updated_at=now),
                [{"_id": run.id, "_start": run.start_date or now,
                  "_version": versions.get(run.id, run.created_dag_version_id)}
                 for run, _ in to_start])
            reused = [{"_dag": run.dag_id, "_run": run.run_id, "_version": versions[run.id]}
                      for run, _ in to_start if run.id in versions and run.clear_number]
            if reused:  # a reprocessed run's reset task instances named the version they ran
                ti = t.task_instance
                conn.execute(ti.update().where(
                    ti.c.dag_id == sa.bindparam("_dag"), ti.c.run_id == sa.bindparam("_run"),
                    ti.c.state.is_(None)).values(dag_version_id=sa.bindparam("_version")),
                    reused)
            self._create_task_instances(conn, to_start, now, versions)
            started = len(to_start)
        log.info("Started %d run(s)", started)
        return started

    def _version_id_for(self, conn: Connection, run: Any, cache: dict[str, Any]) -> Any:
        pinned = run._mapping.get("run_on_latest_version") is False
        if run.created_dag_version_id is not None and (run.bundle_version is not None
                                                       or pinned):
            return run.created_dag_version_id
        if run.dag_id not in cache:
            cache[run.dag_id] = latest_version_id(conn, run.dag_id)
        return cache[run.dag_id]

    def _create_task_instances(self, conn: Connection, runs: list[tuple[Any, SerializedDAG]],
                               now: datetime, start_versions: Mapping[int, Any] | None = None
                               ) -> None:
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
            version_id = (start_versions[run.id] if start_versions and run.id in start_versions
                          else self._version_id_for(conn, run, versions))
            for task in dag.task_dict.values():
                if (run.dag_id, run.run_id, task.task_id) in existing:
                    continue
                rows.append(self._new_ti(run, task, weights[task.task_id], version_id, now))
        if rows:
            for row, new_id in zip(rows, uuid7_many(len(rows))):
                row["id"] = new_id
            insert_rows(conn, ti, rows)

    @staticmethod
    def _new_ti(run: Any, task: SerializedTask, weight: int, version_id: Any,
                now: datetime) -> dict[str, Any]:
        return {
            "id": None, "task_id": task.task_id, "dag_id": run.dag_id, "run_id": run.run_id,
            "map_index": -1, "state": None, "try_number": 0, "max_tries": task.retries,
            "pool": task.pool, "pool_slots": task.pool_slots, "queue": task.queue,
            "priority_weight": weight, "operator": task.task_type,
            "task_display_name": task.task_display_name, "dag_version_id": version_id,
            "executor_config": dict(task.executor_config), "updated_at": now,
        }

    def _auto_success_of(self, dag: SerializedDAG) -> bytes | None:
        """The empty tasks of ``dag`` as :meth:`RunGraph.flags` (what the loop sets success
        without running); None when one of them ``depends_on_past`` (the rounds then run in
        Python, which checks the past run first)."""
        if dag in self._auto_success:
            return self._auto_success[dag]
        empty = [task for task in dag.task_dict.values() if _is_empty(task)]
        graph = dag.run_graph()
        flags = None if any(task.depends_on_past for task in empty) else (
            graph.flags(task.task_id for task in empty))
        self._auto_success[dag] = flags
        return flags

    def _weights_of(self, dag: SerializedDAG) -> dict[str, int]:
        weights = self._weights.get(dag)
        if weights is None:
            weights = self._weights[dag] = _priority_weights(dag)
        return weights

    # -- 4. decide running runs -----------------------------------------------------------------

    def _schedule_dag_runs(self, focus: set[tuple[str, str]] | None = None) -> int:
        """Decide the running runs (one batch; only the runs in ``focus`` when given, see
        :meth:`_focused`); returns how many changed (see run_once)."""
        now = timezone.utcnow()
        if self.is_postgres:
            with transaction(self.engine) as conn:
                seen = self._examine(conn, now, self._lock, focus)
                if seen is None:
                    return 0
                finished = self._write_decided(conn, seen, now)
            return self._decided(seen, finished)
        # SQLite has one writer (see _nothing_on_sqlite): decide without the lock first.
        # While tasks run, most loops change nothing but the runs' last_scheduling_decision,
        # a write that does not depend on what was read; only a loop with changes takes the
        # lock, on the same connection, and decides again only if another connection
        # committed something since the read (PRAGMA data_version, taken before it, differs
        # once the lock is held); else what it decided is what deciding again would decide.
        with self.engine.connect() as conn:
            version = _data_version(conn)
            seen = self._examine(conn, now, focus=focus)
            if seen is None:
                return 0
            if seen.writes:
                conn.rollback()  # the read transaction ends; the write transaction begins
                conn.execution_options(**{_SQLITE_BEGIN_OPTION: "IMMEDIATE"})
                with conn.begin():
                    if _data_version(conn) != version:
                        seen = self._examine(conn, now, self._lock, focus)
                        if seen is None:
                            return 0
                    else:
                        self.reused_examinations += 1
                    finished = self._write_decided(conn, seen, now)
                return self._decided(seen, finished)
        # last_scheduling_decision orders the runs only when more than a batch are running:
        # stamp a full batch every loop, a smaller one every STAMP_INTERVAL_S, instead of
        # taking the write lock on every loop while tasks run.
        mono = time.monotonic()
        if len(seen.runs) >= self.batch_size or mono - self._stamped >= STAMP_INTERVAL_S:
            with transaction(self.engine) as conn:
                self._stamp(conn, seen.runs, now)
            self._stamped = mono
        return 0

    def _write_decided(self, conn: Connection, seen: _Examined, now: datetime
                       ) -> list[tuple[Any, SerializedDAG, str, str]]:
        finished = self._write_examined(conn, seen, now)
        self._stamp(conn, seen.runs, now)
        return finished

    def _decided(self, seen: _Examined, finished: list[tuple[Any, SerializedDAG, str, str]]
                 ) -> int:
        """After the commit: the finished runs' hooks; the work done (see run_once)."""
        for run, dag, state, reason in finished:
            self._run_finished(run, dag, state, reason)
        if seen.new_tis or finished:
            # Task instances just created are decided by the next loop; a finished run may let
            # a queued one start.
            self._full_due = True
        # Work done: runs whose decision changed something. A run examined without change is
        # not work, so that the loop can sleep while tasks run (see run()).
        return (sum(plan.changed for plan in seen.plans) + len(seen.removed)
                + len(seen.new_tis) + len(seen.timed_out))

    def _examine(self, conn: Connection, now: datetime, lock: Callable[..., Any] | None = None,
                 focus: set[tuple[str, str]] | None = None) -> _Examined | None:
        """Read a batch of running runs (those in ``focus`` only, when given) and their task
        instances and decide them (no writes); None when no run is running."""
        dr, d, ti, b = t.dag_run, t.dag, t.task_instance, t.backfill

        def runs_to_decide() -> Any:
            query = (sa.select(dr, _pinned_if_backfill(b), _waiting_sensors_count())
                     .select_from(dr.join(d, d.c.dag_id == dr.c.dag_id)
                                  .outerjoin(b, b.c.id == dr.c.backfill_id))
                     .where(dr.c.state == RUN_RUNNING, dr.c.run_after <= sa.bindparam("now"),
                            _runnable(d, b), d.c.is_stale == sa.false())
                     .order_by(dr.c.last_scheduling_decision.is_(None).desc(),
                               dr.c.last_scheduling_decision, dr.c.run_after, dr.c.id)
                     .limit(self.batch_size))
            if focus is not None:
                query = query.where(dr.c.dag_id.in_(sa.bindparam("dag_ids", expanding=True)),
                                    dr.c.run_id.in_(sa.bindparam("run_ids", expanding=True)))
            return query if lock is None else lock(query, dr)

        params: dict[str, Any] = {"now": now}
        if focus is not None:
            params["dag_ids"] = sorted({dag_id for dag_id, _ in focus})
            params["run_ids"] = sorted({run_id for _, run_id in focus})
        name = f"runs_to_decide/{lock is not None}/{focus is not None}"
        runs = conn.execute(self._statement(name, runs_to_decide), params).all()
        if focus is not None:
            runs = [run for run in runs if (run.dag_id, run.run_id) in focus]
        if not runs:
            return None
        ti_rows: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
        ti_states: dict[tuple[str, str], dict[str, str | None]] = defaultdict(dict)
        # This query returns every task instance of the batch on every loop, and result
        # processing per row and column is most of a loop's time while tasks run: only the
        # columns a decision reads, the id as the database gives it (a UUID's string on SQLite;
        # the updates take either form), the end date only where a retry delay needs it.
        tis_query = self._statement("tis_to_decide", lambda: (
            sa.select(_as_text(ti.c.id), ti.c.dag_id,
                      ti.c.run_id, ti.c.task_id, ti.c.state, ti.c.try_number,
                      sa.case((ti.c.state == UP_FOR_RETRY, ti.c.end_date)).label("end_date"))
            .select_from(ti.join(dr, sa.and_(dr.c.dag_id == ti.c.dag_id,
                                             dr.c.run_id == ti.c.run_id)))
            .where(dr.c.id.in_(sa.bindparam("run_ids", expanding=True)),
                   ti.c.map_index == -1, ~_not_yet_due())))
        for row in conn.execute(tis_query, {"run_ids": [r.id for r in runs], "now": now}).all():
            _, dag_id, run_id, task_id, state, _, _ = row  # unpacking: no lookups by name
            ti_rows[(dag_id, run_id)][task_id] = row
            ti_states[(dag_id, run_id)][task_id] = state
        counts: dict[tuple[str, str], dict[str, dict[str | None, int]]] = {}
        if any(getattr(self.dag_bag.get_dag_for_run(r), "has_mapped_tasks", False)
               for r in runs):
            counts = expansion.mapped_counts(conn, [r.id for r in runs], now)
        seen = _Examined(runs)
        batches: dict[int, list[_Batch]] = defaultdict(list)
        dags: dict[int, SerializedDAG] = {}
        for run in runs:
            dag = self.dag_bag.get_dag_for_run(run)
            if dag is None:
                log.warning("Run %s of Dag %s: no serialized DAG; not scheduled",
                            run.run_id, run.dag_id)
                continue
            rows = ti_rows.get((run.dag_id, run.run_id), {})
            if dag.dagrun_timeout is not None and run.start_date is not None \
                    and run.start_date < now - dag.dagrun_timeout:
                seen.timed_out.append((run, dag))
                continue
            states = ti_states.get((run.dag_id, run.run_id), {})
            for task_id, row in list(rows.items()):
                if task_id not in dag.task_dict:
                    if row.state != REMOVED:
                        seen.removed.append(row.id)
                    del rows[task_id]
                    del states[task_id]
            expanded = counts.get((run.dag_id, run.run_id), {})
            waiting = None
            if run.waiting_sensors:
                waiting = self._waiting_sensors(conn, run, dag, rows, run.waiting_sensors, now)
            present = len(rows) + len(waiting or ()) + sum(1 for k in expanded if k not in rows)
            if present < len(dag.task_dict):
                seen.new_tis.append((run, dag))
                continue  # created now, decided next loop
            batches[id(dag)].append(_Batch(run, dag, rows, states, expanded, waiting))
            dags[id(dag)] = dag
        for key, group in batches.items():
            seen.plans.append(self._decide(conn, dags[key], group, now))
        return seen

    def _write_examined(self, conn: Connection, seen: _Examined, now: datetime
                        ) -> list[tuple[Any, SerializedDAG, str, str]]:
        """Write what :meth:`_examine` decided; the runs that finished."""
        ti = t.task_instance
        finished: list[tuple[Any, SerializedDAG, str, str]] = []
        if seen.removed:
            conn.execute(ti.update().where(ti.c.id.in_(seen.removed))
                         .values(state=REMOVED, updated_at=now))
        if seen.new_tis:
            self._create_task_instances(conn, seen.new_tis, now)
        for run, dag in seen.timed_out:
            self._time_out(conn, run, now)
            finished.append((run, dag, RUN_FAILED, "timed_out"))
        for plan in seen.plans:
            finished.extend(self._write_plan(conn, plan, now))
        return finished

    def _stamp(self, conn: Connection, runs: list[Any], now: datetime) -> None:
        dr = t.dag_run
        stamp = self._statement("stamp", lambda: dr.update().where(
            dr.c.id.in_(sa.bindparam("run_ids", expanding=True))).values(
                last_scheduling_decision=sa.bindparam("now")))
        conn.execute(stamp, {"run_ids": [r.id for r in runs], "now": now})

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
                ) -> _Plan:
        """Decide the runs of one DAG version and plan their writes (``conn`` is only read)."""
        if dag.has_mapped_tasks:
            return self._decide_mapped(conn, dag, group, now)
        graph = dag.run_graph()
        to_schedule: dict[int, list[str]] = defaultdict(list)  # batch index -> task ids
        decisions: dict[int, Any] = {}
        empties: dict[int, set[str]] = defaultdict(set)
        flags = self._auto_success_of(dag)
        if flags is not None:
            # The rounds in one C++ call (RunGraph.decide_many_cascade): an empty task
            # that becomes schedulable without state is set success and its run decided again,
            # exactly as _decide_rounds does (tests/python/unit/test_run_state_cascade.py).
            started = time.perf_counter()
            results, done, made = graph.decide_many_cascade(
                [b.decision_states() for b in group], flags, MAX_EMPTY_ROUNDS)
            self.decide_seconds += time.perf_counter() - started
            self.decide_runs += made
            for i, (batch, decision, succeeded) in enumerate(zip(group, results, done)):
                decisions[i] = decision
                states = batch.states
                for task_id, state in decision.changed.items():
                    states[task_id] = state.value
                to_schedule[i] = list(decision.schedulable)
                if succeeded:
                    empties[i] = set(succeeded)
                    for task_id in succeeded:
                        states[task_id] = SUCCESS
        else:
            self._decide_rounds(conn, dag, graph, group, to_schedule, decisions, empties)
        # Plan the writes: empties -> success, propagated states, then scheduled.
        plan = _Plan()
        done_rows, state_rows = plan.done_rows, plan.state_rows
        sched_rows, retry_rows, finished = plan.sched_rows, plan.retry_rows, plan.finished
        for i, batch in enumerate(group):
            written = len(done_rows) + len(state_rows) + len(sched_rows) + len(retry_rows)
            for task_id in empties[i]:
                row = batch.rows[task_id]
                done_rows.append({"_id": row.id, "_try": row.try_number + 1})
            for task_id, ti_state in batch.states.items():
                row = batch.rows[task_id]
                if task_id in empties[i] or ti_state == row.state:
                    continue
                state_rows.append({"_id": row.id, "_state": ti_state, "_old": row.state})
            for task_id in to_schedule.get(i, ()):
                row = batch.rows[task_id]
                task = dag.task_dict[task_id]
                if row.state == UP_FOR_RETRY:
                    if not self._retry_due(row, task, batch.run, now):
                        continue
                    retry_rows.append(row)
                    continue
                if row.state == UP_FOR_RESCHEDULE and self._still_running(row):
                    continue
                if task.depends_on_past and not self._past_done(conn, batch.run, task, dag):
                    continue
                sched_rows.append({"_id": row.id, "_old": row.state,
                                   "_try": row.try_number + (row.state != UP_FOR_RESCHEDULE)})
            run_decision = decisions.get(i)
            if run_decision is not None and run_decision.state.value in (RUN_SUCCESS, RUN_FAILED):
                finished.append((batch.run, dag, run_decision.state.value,
                                 run_decision.reason or run_decision.state.value))
                plan.changed += 1
            elif len(done_rows) + len(state_rows) + len(sched_rows) + len(retry_rows) > written:
                plan.changed += 1
        return plan

    def _decide_rounds(self, conn: Connection, dag: SerializedDAG, graph: Any,
                       group: list[_Batch], to_schedule: dict[int, list[str]],
                       decisions: dict[int, Any], empties: dict[int, set[str]]) -> None:
        """The rounds of :meth:`_decide` in Python, one :meth:`RunGraph.decide_many` per round:
        for a DAG with an empty task that ``depends_on_past`` (set success only once the past
        run is checked in the database)."""
        pending = group
        index = {id(b): i for i, b in enumerate(group)}
        for _ in range(MAX_EMPTY_ROUNDS):
            started = time.perf_counter()
            results = graph.decide_many([b.decision_states() for b in pending])
            self.decide_seconds += time.perf_counter() - started
            self.decide_runs += len(pending)
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
                        # Airflow sets an empty task SUCCESS in schedule_tis only once it is
                        # in the ready list, i.e. after its task deps passed: trigger rule
                        # (decide_many above), not in a retry period (no state: n/a) and
                        # PrevDagrunDep (depends_on_past / wait_for_downstream, here). Pools,
                        # max_active_tasks and max_active_tis_per_dag(run) are checked only
                        # when queueing, which an empty task never reaches, so they do not
                        # apply (docs/airflow-behaviour.md 3.3, 3.4, 2.7, 8.4).
                        if task.depends_on_past and not self._past_done(conn, batch.run,
                                                                        task, dag):
                            continue
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

    def _decide_mapped(self, conn: Connection, dag: SerializedDAG, group: list[_Batch],
                       now: datetime) -> _Plan:
        """:meth:`_decide` for a DAG with mapped tasks (docs/airflow-behaviour.md 3.10).

        Each run is decided from instance counts (no Python work per map index), in rounds
        like :meth:`_decide`'s: empty tasks succeed in memory, and a mapped task whose upstream
        tasks are done is expanded in memory (its length read now), so that its instances are
        decided in the same loop, as Airflow's ``task_instance_scheduling_decisions`` evaluates
        the instances an expansion creates. A decision about a mapped task is planned once for
        all its instances; an expansion whose instances are ready at once is planned with their
        state (``scheduled``, or ``success`` for an empty task), so they are inserted so.
        """
        graph = dag.run_graph()
        plan = _Plan()
        for batch in group:
            before = (len(plan.mapped) + len(plan.state_rows) + len(plan.sched_rows)
                      + len(plan.done_rows) + len(plan.retry_rows))
            decision = self._decide_mapped_run(conn, dag, graph, batch, plan, now)
            if decision.state.value in (RUN_SUCCESS, RUN_FAILED):
                plan.finished.append((batch.run, dag, decision.state.value,
                                      decision.reason or decision.state.value))
                plan.changed += 1
            elif len(plan.mapped) + len(plan.state_rows) + len(plan.sched_rows) \
                    + len(plan.done_rows) + len(plan.retry_rows) > before:
                plan.changed += 1
        return plan

    def _decide_mapped_run(self, conn: Connection, dag: SerializedDAG, graph: Any,
                           batch: _Batch, plan: _Plan, now: datetime) -> Any:
        """One run of :meth:`_decide_mapped`: plans its writes, returns its last decision."""
        if dag.mapped_groups:
            lengths = self._group_lengths(conn, dag, batch)
            if lengths:
                return self._decide_grouped_run(conn, dag, batch, plan, lengths, now)
        states: dict[str, Any] = dict(batch.decision_states())
        for task_id, by_state in batch.counts.items():
            if task_id not in batch.rows and task_id in dag.task_dict:
                states[task_id] = dict(by_state)
        rows: dict[str, Any] = batch.rows
        planned: set[str] = set()  # tasks already planned to be scheduled or expanded
        decision = None
        for _ in range(MAX_EMPTY_ROUNDS):
            started = time.perf_counter()
            decision = graph.decide_counts_compact(graph.encode_counts(states), 1)[0]
            self.decide_seconds += time.perf_counter() - started
            self.decide_runs += 1
            again = False
            for task_id, state in decision.changed.items():
                if task_id in rows and not isinstance(states[task_id], dict):
                    plan.state_rows.append({"_id": rows[task_id].id, "_state": state.value,
                                            "_old": rows[task_id].state})
                    states[task_id] = state.value
                else:
                    plan.mapped.append(("state", batch.run, task_id, state.value))
                    states[task_id] = _moved(states[task_id], state.value)
            for task_id in decision.schedulable:
                if task_id in planned:
                    continue
                task = dag.task_dict[task_id]
                if task.depends_on_past and not self._past_done(conn, batch.run, task, dag):
                    continue
                planned.add(task_id)
                states[task_id], ready_again = self._plan_ready(
                    conn, batch, task, rows.get(task_id), states[task_id], plan, now)
                again = again or ready_again
            if not again:
                break
        return decision

    def _plan_ready(self, conn: Connection, batch: _Batch, task: SerializedTask, row: Any,
                    current: Any, plan: _Plan, now: datetime) -> tuple[Any, bool]:
        """Plan the writes for a task the engine found ready in a run with mapped tasks: all
        candidates of an expanded mapped task, the expansion of a placeholder, a retry whose
        delay passed, an empty task's success or a scheduled try. Returns the task's state (or
        counts) in memory after that, and whether to decide again (an empty task succeeded or
        a task expanded)."""
        empty = _is_empty(task)
        if isinstance(current, dict):  # an expanded mapped task: all its candidates at once
            plan.mapped.append(("schedule", batch.run, task.task_id, empty))
            for retry in expansion.retry_rows(conn, batch.run, task.task_id):
                if self._retry_due(retry, task, batch.run, now):
                    plan.retry_rows.append(retry)
            return _moved(current, SUCCESS if empty else SCHEDULED, only=(None,)), empty
        if task.is_mapped and current is None:
            n = expansion.length_of(conn, batch.run, task)
            ready = SUCCESS if empty else SCHEDULED
            plan.mapped.append(("expand", batch.run, task, (row.id, n, ready)))
            return expansion.expanded_counts(n, ready), True
        if current == UP_FOR_RETRY:
            if self._retry_due(row, task, batch.run, now):
                plan.retry_rows.append(row)
            return current, False
        if empty and current is None:
            plan.done_rows.append({"_id": row.id, "_try": row.try_number + 1})
            return SUCCESS, True
        plan.sched_rows.append({"_id": row.id, "_old": row.state,
                                "_try": row.try_number + (row.state != UP_FOR_RESCHEDULE)})
        return SCHEDULED, False

    # -- mapped task groups: instance i of each task of a group is decided per index ----------

    @staticmethod
    def _group_lengths(conn: Connection, dag: SerializedDAG, batch: _Batch) -> dict[str, int]:
        """The groups of the run whose length is known and not zero (a group of unknown or zero
        length is decided as its tasks' placeholders are: upstream_failed or skipped)."""
        lengths: dict[str, int] = {}
        for group, task_ids in dag.mapped_groups.items():
            n = expansion.length_of(conn, batch.run, dag.task_dict[task_ids[0]])
            if n:
                lengths[group] = n
        return lengths

    def _decide_grouped_run(self, conn: Connection, dag: SerializedDAG, batch: _Batch,
                            plan: _Plan, lengths: dict[str, int], now: datetime) -> Any:
        """:meth:`_decide_mapped_run` for a run with mapped task groups of known length: the
        group tasks are unrolled into one node per map index (:meth:`SerializedDAG.
        expanded_graph`), so that instance ``i`` waits only for instance ``i`` of the tasks of
        its group it depends on, as Airflow's relevant map indexes; a placeholder is expanded
        (instances without state) when one of its nodes may run."""
        graph, nodes = dag.expanded_graph(lengths)
        decision_states = batch.decision_states()
        states: dict[str, Any] = {}
        for task_id, node in nodes.items():
            if not isinstance(node, list):
                states[node] = (decision_states[task_id] if task_id in decision_states
                                else dict(batch.counts.get(task_id, {})))
        grouped = [t for t, node in nodes.items() if isinstance(node, list)]
        expanded = {t for t in grouped if t not in batch.rows}
        for (task_id, index, state) in expansion.instance_states(conn, batch.run, expanded):
            states[nodes[task_id][index]] = state
        for task_id in grouped:
            for i, node in enumerate(nodes[task_id]):
                if task_id in batch.rows:  # a placeholder: every node has its state
                    states[node] = batch.states[task_id]
                else:
                    states.setdefault(node, "removed")  # an index beyond the expansion
        owner = {node: (task_id, i) for task_id in grouped
                 for i, node in enumerate(nodes[task_id])}
        decision = None
        planned: set[str] = set()
        for _ in range(MAX_EMPTY_ROUNDS):
            started = time.perf_counter()
            decision = graph.decide_counts_compact(graph.encode_counts(states), 1)[0]
            self.decide_seconds += time.perf_counter() - started
            self.decide_runs += 1
            again = False
            by_task: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
            to_run: dict[str, list[int]] = defaultdict(list)
            for node, state in decision.changed.items():
                if node in owner:
                    task_id, i = owner[node]
                    by_task[task_id][state.value].append(i)
                elif node in batch.rows and not isinstance(states[node], dict):
                    plan.state_rows.append({"_id": batch.rows[node].id, "_state": state.value,
                                            "_old": batch.rows[node].state})
                else:
                    plan.mapped.append(("state", batch.run, node, state.value))
                    states[node] = _moved(states[node], state.value)
                    continue
                states[node] = state.value
            for node in decision.schedulable:
                if node in planned:
                    continue
                planned.add(node)
                if node in owner:
                    task_id, i = owner[node]
                    to_run[task_id].append(i)
                    continue
                states[node], ready_again = self._plan_ready(
                    conn, batch, dag.task_dict[node], batch.rows.get(node), states[node], plan,
                    now)
                again = again or ready_again
            for task_id in {*by_task, *to_run}:
                task = dag.task_dict[task_id]
                if task_id in batch.rows and task_id not in expanded:
                    n = lengths[task.mapped_group or ""]
                    decided = {i for ids in by_task[task_id].values() for i in ids}
                    if not to_run.get(task_id) and len(by_task[task_id]) == 1 \
                            and len(decided) == n:
                        # every instance would get the same state: the placeholder gets it
                        (state,) = by_task[task_id]
                        placeholder = batch.rows[task_id]
                        plan.state_rows.append({"_id": placeholder.id, "_state": state,
                                                "_old": placeholder.state})
                        continue
                    plan.mapped.append(("expand", batch.run, task,
                                        (batch.rows[task_id].id, n, None)))
                    expanded.add(task_id)
                for state, indexes in by_task[task_id].items():
                    plan.mapped.append(("index_state", batch.run, task_id, (indexes, state)))
                if to_run.get(task_id):
                    empty = _is_empty(task)
                    plan.mapped.append(("index_schedule", batch.run, task_id,
                                        (to_run[task_id], empty)))
                    for i in to_run[task_id]:
                        states[nodes[task_id][i]] = SUCCESS if empty else SCHEDULED
                    again = again or empty
            if not again:
                break
        return decision

    def _write_mapped(self, conn: Connection, plan: _Plan, now: datetime) -> None:
        for kind, run, task, arg in plan.mapped:
            if kind == "expand":
                placeholder_id, n, ready = arg
                expansion.expand(conn, run, task, placeholder_id, n, ready, now)
            elif kind == "state":
                expansion.set_candidates(conn, run, task, arg, now)
            elif kind == "index_state":
                expansion.set_candidates(conn, run, task, arg[1], now, indexes=arg[0])
            elif kind == "index_schedule":
                expansion.schedule_candidates(conn, run, task, now, empty=arg[1],
                                              indexes=arg[0])
            else:
                expansion.schedule_candidates(conn, run, task, now, empty=arg)

    def _write_plan(self, conn: Connection, plan: _Plan, now: datetime
                    ) -> list[tuple[Any, SerializedDAG, str, str]]:
        """Write what :meth:`_decide` planned; the runs that finished."""
        ti = t.task_instance
        done_rows, state_rows = plan.done_rows, plan.state_rows
        sched_rows, retry_rows, finished = plan.sched_rows, plan.retry_rows, plan.finished
        if done_rows:
            # One statement per chunk of ids instead of one per row: the try number each row
            # gets is its own plus one, as _decide planned it from the rows it read in this
            # transaction (the state guard is the same).
            done = self._statement("empty_done", lambda: ti.update().where(
                ti.c.id.in_(sa.bindparam("_ids", expanding=True)), ti.c.state.is_(None))
                .values(state=SUCCESS, try_number=ti.c.try_number + 1,
                        start_date=sa.bindparam("_now"), end_date=sa.bindparam("_now"),
                        duration=0.0, updated_at=sa.bindparam("_now")))
            ids = [r["_id"] for r in done_rows]
            for k in range(0, len(ids), _IDS_PER_STATEMENT):
                conn.execute(done, {"_ids": ids[k:k + _IDS_PER_STATEMENT], "_now": now})
        if state_rows:
            conn.execute(self._statement("propagate", lambda: _unchanged(ti.update()).values(
                state=sa.bindparam("_state"), end_date=sa.bindparam("_now"),
                updated_at=sa.bindparam("_now"))), [{**r, "_now": now} for r in state_rows])
        if plan.mapped:
            self._write_mapped(conn, plan, now)
        if retry_rows:
            self._retry(conn, retry_rows, now)
        if sched_rows:
            conn.execute(self._statement("schedule", lambda: _unchanged(ti.update()).values(
                state=SCHEDULED, try_number=sa.bindparam("_try"),
                scheduled_dttm=sa.bindparam("_now"), updated_at=sa.bindparam("_now"))),
                [{**r, "_now": now} for r in sched_rows])
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

    # -- sensors waiting in reschedule mode (docs/airflow-behaviour.md 10.2) ----------------------

    def _waiting_sensors(self, conn: Connection, run: Any, dag: SerializedDAG,
                         rows: dict[str, Any], count: int, now: datetime
                         ) -> dict[str, str | None]:
        """The waiting sensors of ``run`` as decision states (``running``): the DAG's tasks
        without a row read, when there are ``count`` of them; otherwise (a task instance is
        missing too, or a waiting one's task left the DAG) their ids are read."""
        missing = dag.task_dict.keys() - rows.keys()
        if len(missing) != count:
            ti = t.task_instance
            read = conn.execute(sa.select(ti.c.task_id).where(
                ti.c.dag_id == run.dag_id, ti.c.run_id == run.run_id, ti.c.map_index == -1,
                _not_yet_due()), {"now": now}).scalars().all()
            missing &= set(read)
        return dict.fromkeys(missing, RUNNING)

    def _still_running(self, row: Any) -> bool:
        """The last poke of a due sensor has not been reaped by the executor yet: queueing the
        same try again now would be taken for that process's."""
        key = TaskInstanceKey(row.dag_id, row.task_id, row.run_id, row.try_number, -1)
        return self.executor.has_task(key)

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
        """Airflow's PrevDagrunDep for a task with ``depends_on_past`` (docs/airflow-behaviour.md
        2.7, 8.4): the first run of a backfill, and a run without an earlier run, pass; else every
        instance of the task in the previous run succeeded or was skipped and, with
        ``wait_for_downstream``, so did every instance of its direct downstream tasks there. A
        previous run without an instance of the task passes only when it is the task's first
        instance (``ignore_first_depends_on_past``)."""
        dr, ti, bdr = t.dag_run, t.task_instance, t.backfill_dag_run
        if run.logical_date is None:
            return True
        if run.backfill_id is not None:
            ordinal = conn.execute(sa.select(bdr.c.sort_ordinal).where(
                bdr.c.dag_run_id == run.id)).scalar_one_or_none()
            if ordinal == 1:
                return True
        query = (sa.select(dr.c.run_id, dr.c.state)
                 .where(dr.c.dag_id == run.dag_id, dr.c.logical_date < run.logical_date)
                 .order_by(dr.c.logical_date.desc()).limit(1))
        if dag.catchup:
            query = query.where(dr.c.run_type.in_(("scheduled", "backfill")))
        previous = conn.execute(query).one_or_none()
        if previous is None:
            return True
        of_previous = sa.and_(ti.c.dag_id == run.dag_id, ti.c.run_id == previous.run_id)
        states = conn.execute(sa.select(ti.c.state).where(
            of_previous, ti.c.task_id == task.task_id)).scalars().all()
        if not states:
            return self._first_instance(conn, run, task, previous.state)
        if any(state not in (SUCCESS, SKIPPED) for state in states):
            return False
        if not (task.wait_for_downstream and task.downstream_task_ids):
            return True
        unsuccessful = conn.execute(sa.select(ti.c.id).where(
            of_previous, ti.c.task_id.in_(sorted(task.downstream_task_ids)),
            sa.or_(ti.c.state.is_(None), ti.c.state.not_in((SUCCESS, SKIPPED)))
        ).limit(1)).first()
        return unsuccessful is None

    @staticmethod
    def _first_instance(conn: Connection, run: Any, task: SerializedTask,
                        previous_state: str) -> bool:
        """The previous run has no instance of ``task``: Airflow passes only with
        ``ignore_first_depends_on_past`` when no earlier run has one. A previous run that has
        not started has no task instances here yet (they are created when it starts), where
        Airflow's has them without a state, which never pass (PrevDagrunDep,
        docs/airflow-behaviour.md 8.4)."""
        if previous_state == RUN_QUEUED or not task.ignore_first_depends_on_past:
            return False
        dr, ti = t.dag_run, t.task_instance
        prior = conn.execute(
            sa.select(ti.c.id).select_from(ti.join(dr, sa.and_(dr.c.dag_id == ti.c.dag_id,
                                                               dr.c.run_id == ti.c.run_id)))
            .where(ti.c.dag_id == run.dag_id, ti.c.task_id == task.task_id,
                   dr.c.logical_date < run.logical_date).limit(1)).first()
        return prior is None

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
        """Call the DAG's run callbacks: in this process only with a DAG object given to the
        scheduler (``dag.test()``); otherwise the executor calls them in a process of its own,
        as this process never imports a DAG file (one that crashes or hangs would take the
        scheduler with it)."""
        request = DagCallbackRequest(
            dag_id=run.dag_id, fileloc=dag.fileloc or "", state=state, reason=reason,
            run_id=run.run_id, logical_date=run.logical_date,
            data_interval_start=run.data_interval_start,
            data_interval_end=run.data_interval_end, run_after=run.run_after,
            run_type=run.run_type, conf=dict(run.conf or {}), triggered_by=run.triggered_by,
            dag_version_id=(None if run.created_dag_version_id is None
                            else str(run.created_dag_version_id)))
        real = self.dags.get(run.dag_id)
        if real is not None:
            from dagcore.task_runner import run_dag_callback

            run_dag_callback(request, dag=real)
            return
        try:
            self.executor.queue_callback(request)
        except NotImplementedError as exc:
            log.error("The %s callback of Dag %s (run %s) was not called: %s", state,
                      run.dag_id, run.run_id, exc)

    # -- 5. queue task instances ----------------------------------------------------------------

    def _enqueue_task_instances(self) -> int:
        slots = self.executor.slots_available
        if slots <= 0:
            return 0
        ti, dr, d, b = t.task_instance, t.dag_run, t.dag, t.backfill
        rows = min(self.max_tis, max(slots * 4, 32))

        def tis_to_queue() -> Any:
            # Ids as the database gives them (strings on SQLite): a loop reads up to `rows`
            # candidates for one free slot, and making UUIDs of three columns per row was most
            # of this step's time; the workload wants strings, the update and the bag take both.
            query = (sa.select(_as_text(ti.c.id), ti.c.dag_id, ti.c.run_id, ti.c.task_id,
                               ti.c.map_index, ti.c.try_number, _as_text(ti.c.dag_version_id),
                               ti.c.queue, _as_text(dr.c.created_dag_version_id),
                               dr.c.bundle_version,
                               d.c.max_active_tasks, d.c.fileloc, _pinned_if_backfill(b))
                     .select_from(ti.join(dr, sa.and_(dr.c.dag_id == ti.c.dag_id,
                                                      dr.c.run_id == ti.c.run_id))
                                  .join(d, d.c.dag_id == ti.c.dag_id)
                                  .outerjoin(b, b.c.id == dr.c.backfill_id))
                     .where(ti.c.state == SCHEDULED, dr.c.state == RUN_RUNNING,
                            _runnable(d, b), d.c.is_stale == sa.false())
                     .order_by(ti.c.priority_weight.desc(), dr.c.run_after, dr.c.id,
                               ti.c.task_id)
                     .limit(rows))
            return self._lock(query, ti)

        query = self._statement(f"tis_to_queue/{rows}", tis_to_queue)
        active = self._statement("active_tis", lambda: sa.select(
            ti.c.dag_id, ti.c.run_id, ti.c.task_id).where(
                ti.c.dag_id.in_(sa.bindparam("dag_ids", expanding=True)),
                ti.c.state.in_(ACTIVE_TI)))
        now = timezone.utcnow()
        default_queue = conf.get("operators", "default_queue")
        workloads: list[TaskWorkload] = []
        with transaction(self.engine) as conn:
            candidates = conn.execute(query).all()
            if not candidates:
                return 0
            dag_ids = sorted({c.dag_id for c in candidates})
            per_run: Counter[tuple[str, str]] = Counter()
            per_task: Counter[tuple[str, str]] = Counter()
            per_run_task: Counter[tuple[str, str, str]] = Counter()
            for row in conn.execute(active, {"dag_ids": dag_ids}).all():
                per_run[(row.dag_id, row.run_id)] += 1
                per_task[(row.dag_id, row.task_id)] += 1
                per_run_task[(row.dag_id, row.run_id, row.task_id)] += 1
            chosen: list[tuple[Any, SerializedDAG]] = []
            for c in candidates:
                if len(chosen) >= slots:
                    break
                dag = self.dag_bag.get_dag_for_run(c)
                if dag is None:
                    continue
                task = dag.task_dict.get(c.task_id)
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
            to_queued = self._statement("to_queued", lambda: ti.update().where(
                ti.c.id == sa.bindparam("_id"), ti.c.state == SCHEDULED).values(
                    state=QUEUED, queued_dttm=sa.bindparam("_now"),
                    queued_by_job_id=sa.bindparam("_job"), updated_at=sa.bindparam("_now")))
            conn.execute(to_queued, [{"_id": c.id, "_now": now, "_job": self.job.id}
                                     for c, _ in chosen])
            for c, dag in chosen:
                key = TaskInstanceKey(c.dag_id, c.task_id, c.run_id, c.try_number, c.map_index)
                workloads.append(TaskWorkload(
                    ti_id=str(c.id), key=key,
                    dag_version_id=None if c.dag_version_id is None else str(c.dag_version_id),
                    fileloc=c.fileloc or dag.fileloc, log_path=str(log_path_for(key)),
                    queue=c.queue or default_queue))
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
        timeout = conf.getfloat("scheduler", "task_instance_heartbeat_timeout")
        limit = now - timedelta(seconds=timeout)
        with transaction(self.engine) as conn:
            query = sa.select(ti.c.id, ti.c.dag_id, ti.c.task_id, ti.c.run_id).where(
                ti.c.state == RUNNING,
                sa.or_(ti.c.last_heartbeat_at.is_(None), ti.c.last_heartbeat_at < limit))
            zombies = conn.execute(self._lock(query, ti)).all()
            for z in zombies:
                workload = self._workloads.get(str(z.id))
                # Our own workload: the executor kills its process (alive but silent: hung
                # where no signal reaches it, a DAG file looping in C code at import), and its
                # event, "failed", then fails the try. When the executor cannot kill it
                # (``kill`` returns False: it no longer runs that workload, or has no way to
                # stop it) no event will come, and the try is failed here, as nobody's.
                if workload is not None and self.executor.kill(
                        workload.key, f"no heartbeat for {timeout:g} s "
                        "([scheduler] task_instance_heartbeat_timeout)"):
                    continue
                self._workloads.pop(str(z.id), None)
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
