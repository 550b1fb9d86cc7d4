"""Backfills in the database: create (or dry-run), pause, unpause, cancel, status, list.

Design note. :func:`create_backfill` plans with the C++ engine
(:func:`dagcore.backfill.plan_backfill_batch`: Airflow's validation order and errors, the date
list, the reprocess table) and then writes everything in ONE transaction: the ``backfill`` row,
the new runs (``backfill__<run_after>``, queued, one bulk insert), the reused runs (cleared: their
task instances archived and reset, run id kept, run type ``backfill``, conf replaced only when
given), and one ``backfill_dag_run`` row per date (skipped dates with their reason) carrying the
sort ordinal the scheduler starts runs by. No task instance is created here: the scheduler creates
them when a run starts. A crash mid-way leaves nothing; a concurrent writer taking one of the
dates (a scheduled run at the same logical date) makes the insert fail on the unique constraint,
and the whole creation is planned and written again.

The writes go through the bulk writer (docs/performance.md 2): the plan's dates and run ids
come as text columns made in C++, the new runs' ids are reserved before the insert (SQLite:
``max(id) + 1`` onwards under the write lock, which is what SQLite would give them; PostgreSQL:
``nextval`` of the sequence in row order) so that the links need no read-back, and each table
gets one driver-level executemany of tuples (SQLite) or one ``COPY`` (PostgreSQL); cleared runs
are re-queued with set-based updates and their task instances reset with one ``UPDATE ...
FROM`` a temporary table of the new values (SQLite) or ``UPDATE ... FROM (VALUES ...)`` pages
(PostgreSQL). The portable writer
(SQLAlchemy executemany throughout, ``_BULK_WRITES = False``) is kept as the reference that
tests/python/integration/test_backfill_bulk.py compares every row with.

Where dagcore does what Airflow's users asked for and did not get
(docs/airflow-behaviour.md 2.2, 6):

* ``keep_dag_paused``: the backfill's runs execute while the DAG stays paused (its schedule still
  creates nothing); ``unpause`` unpauses the DAG instead; the two exclude each other;
* several backfills of one DAG may be active when their date ranges do not overlap (Airflow
  allows one); an overlapping one is refused naming the backfill it overlaps;
* ``run_on_latest_version=False`` pins the new runs to the version current at creation (reused
  runs keep their own, as Airflow's); with True (default) reused runs move to the latest version
  when they are cleared, as in Airflow (and a run without a bundle version takes the latest
  version when it starts);
* an empty date list is refused before anything is written (Airflow commits an orphan row);
* cancelling also stops the running runs (``terminate_running``), and :func:`backfill_status`
  reports progress and an estimate of the time left.
"""

from __future__ import annotations

import getpass
import io
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dagcore.api.common import DagNotFound, _check_conf, in_chunks
from dagcore.backfill import (
    BackfillAction,
    BackfillPlan,
    ReprocessBehavior,
    plan_backfill_batch,
)
from dagcore.db import create_engine, transaction
from dagcore.db_dagbag import DBDagBag, latest_version_id
from dagcore.models import tables as t
from dagcore.models.dagrun import (
    _check_values,
    generate_run_ids,
    insert_columns,
    insert_dag_runs,
    move_to_version,
)
from dagcore.models.taskinstance import archive_tries
from dagcore.models.types import uuid7, uuid7_strings
from dagcore.serialization import SerializedDAG
from dagcore.state import DagRunState, TaskInstanceState
from dagcore.utils import timezone

__all__ = [
    "Backfill",
    "BackfillCompleted",
    "BackfillDateOutOfRange",
    "BackfillNotFound",
    "BackfillStatus",
    "OverlappingBackfill",
    "backfill_status",
    "cancel_backfill",
    "create_backfill",
    "dry_run_backfill",
    "get_backfill",
    "list_backfills",
    "pause_backfill",
    "runs_done",
    "unpause_backfill",
]

log = logging.getLogger(__name__)

_CREATE_ATTEMPTS = 3
# The bulk writer (_write_bulk); False selects the portable one, kept as the reference the
# equivalence tests compare it with (tests/python/integration/test_backfill_bulk.py).
_BULK_WRITES = True
_FINISHED_TI = frozenset(s.value for s in TaskInstanceState.finished)
# backfill.max_active_runs is an INTEGER column: 32 bits on PostgreSQL (as Airflow's model).
_MAX_ACTIVE_RUNS_LIMIT = 2**31 - 1


class BackfillNotFound(LookupError):
    """No backfill has that id."""


class BackfillDateOutOfRange(ValueError):
    """A backfill date, in UTC, or a date its schedule computes from it is before year 1 or
    after 9999, which Python's datetime cannot hold."""


class BackfillCompleted(ValueError):
    """The backfill is already completed (pause, unpause and cancel refuse it)."""


class OverlappingBackfill(ValueError):
    """An active backfill of the same DAG covers part of the requested range."""

    def __init__(self, message: str, backfill_id: int) -> None:
        super().__init__(message)
        self.backfill_id = backfill_id


@dataclass(frozen=True, slots=True)
class Backfill:
    """A ``backfill`` row; ``created``, ``cleared`` and ``skipped`` come from
    :func:`create_backfill`."""

    id: int
    dag_id: str
    from_date: datetime
    to_date: datetime
    dag_run_conf: dict[str, Any]
    is_paused: bool
    reprocess_behavior: str
    max_active_runs: int
    created_at: datetime
    completed_at: datetime | None
    updated_at: datetime
    triggering_user_name: str | None
    keep_dag_paused: bool
    run_on_latest_version: bool
    created: int = 0
    cleared: int = 0
    skipped: int = 0

    @classmethod
    def from_row(cls, row: Any, **counts: int) -> Backfill:
        m = row._mapping
        values: dict[str, Any] = {f: m[f] for f in (
            "id", "dag_id", "from_date", "to_date", "is_paused", "reprocess_behavior",
            "max_active_runs", "created_at", "completed_at", "updated_at",
            "triggering_user_name", "keep_dag_paused", "run_on_latest_version")}
        values.update(counts, dag_run_conf=dict(m["dag_run_conf"] or {}))
        return cls(**values)


def runs_done(runs_by_state: Mapping[str, int]) -> int:
    """How many of a backfill's runs have finished (success or failed), from its runs by
    state."""
    return sum(runs_by_state.get(state, 0) for state in ("success", "failed"))


@dataclass(frozen=True, slots=True)
class BackfillStatus:
    """Progress of a backfill (:func:`backfill_status`)."""

    backfill: Backfill
    runs_by_state: dict[str, int]
    skipped: dict[str, int]  # reason -> number of dates
    skipped_dates: list[tuple[datetime | None, str]] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    estimated_time_left: timedelta | None = None

    @property
    def total_runs(self) -> int:
        return sum(self.runs_by_state.values())

    @property
    def done_runs(self) -> int:
        return runs_done(self.runs_by_state)

    @property
    def is_complete(self) -> bool:
        return self.backfill.completed_at is not None


def _aware(value: object, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")
    try:
        value.astimezone(UTC)  # the database and the planner work in UTC
    except OverflowError:
        raise BackfillDateOutOfRange(f"{name} {value.isoformat()} is outside the years 1 to "
                                     f"9999 in UTC") from None
    return value


def _engine_and_bag(engine: Engine | None, dag_bag: DBDagBag | None) -> tuple[Engine, DBDagBag]:
    engine = engine if engine is not None else (dag_bag.engine if dag_bag is not None
                                                else create_engine())
    return engine, dag_bag if dag_bag is not None else DBDagBag(engine=engine,
                                                                revalidation_interval=0)


def _check_args(max_active_runs: object, keep_dag_paused: bool, unpause: bool) -> None:
    if isinstance(max_active_runs, bool) or not isinstance(max_active_runs, int):
        raise TypeError(f"max_active_runs must be an int, got {max_active_runs!r}")
    if max_active_runs < 1:
        raise ValueError(f"max_active_runs must be a positive integer, got {max_active_runs}")
    if max_active_runs > _MAX_ACTIVE_RUNS_LIMIT:  # else an OverflowError from the database
        raise ValueError(f"max_active_runs must be at most {_MAX_ACTIVE_RUNS_LIMIT}, got "
                         f"{max_active_runs}")
    if keep_dag_paused and unpause:
        raise ValueError("keep_dag_paused and unpause are mutually exclusive: keep the DAG "
                         "paused (its backfill runs still execute) or unpause it")


def _latest(conn: Connection, dag_bag: DBDagBag, dag_id: str) -> tuple[Any, Any, SerializedDAG]:
    row = conn.execute(sa.select(t.dag).where(t.dag.c.dag_id == dag_id)).one_or_none()
    version_id = None if row is None else latest_version_id(conn, dag_id)
    dag = None if version_id is None else dag_bag.get_dag(version_id, dag_id)
    if dag is None:
        raise DagNotFound(f"Could not find dag {dag_id}")
    return row, version_id, dag


def _plan(conn: Connection, dag: SerializedDAG, *, from_date: datetime, to_date: datetime,
          reprocess_behavior: Any, run_backwards: bool, now: datetime) -> BackfillPlan:
    try:
        return _plan_in_range(conn, dag, from_date=from_date, to_date=to_date,
                              reprocess_behavior=reprocess_behavior,
                              run_backwards=run_backwards, now=now)
    except OverflowError as exc:  # a date before year 1 or after 9999
        raise BackfillDateOutOfRange(
            f"Cannot backfill Dag {dag.dag_id} from {from_date.isoformat()} to "
            f"{to_date.isoformat()}: its schedule around these dates reaches outside the years "
            f"1 to 9999 ({exc})") from None


def _shifted(value: datetime, days: int) -> datetime:
    """``value`` moved by ``days``, or left as it is where that leaves datetime's range: a
    bound of 9999-12-31 ("up to now") must not fail the query of existing runs."""
    try:
        return value + timedelta(days=days)
    except OverflowError:
        return value


def _plan_in_range(conn: Connection, dag: SerializedDAG, *, from_date: datetime,
                   to_date: datetime, reprocess_behavior: Any, run_backwards: bool,
                   now: datetime) -> BackfillPlan:
    dr = t.dag_run
    existing: Any = _driver_rows(conn, sa.select(dr.c.logical_date, dr.c.state).where(
        dr.c.dag_id == dag.dag_id, dr.c.logical_date.is_not(None),
        dr.c.logical_date >= _shifted(from_date, -1),
        dr.c.logical_date <= _shifted(to_date, 1)))
    depends_on_past = any(task.depends_on_past for task in dag.task_dict.values())
    return plan_backfill_batch(dag.timetable, from_date=from_date, to_date=to_date,
                               existing_runs=existing,
                               reprocess_behavior=reprocess_behavior,
                               run_backwards=run_backwards, depends_on_past=depends_on_past,
                               now=now, dag_id=dag.dag_id)


def _driver_rows(conn: Connection, query: Any) -> list[tuple[Any, ...]]:
    """``conn.execute(query).all()`` as plain tuples: the driver's rows with each column's
    result processor applied, without a SQLAlchemy Row per row (a ten-year range holds up to
    ~10^5 existing runs)."""
    dialect = conn.dialect
    compiled = query.compile(dialect=dialect)
    params = compiled.construct_params()
    processors = compiled._bind_processors
    values = {name: processors[name](value) if name in processors else value
              for name, value in params.items()}
    args: Any = (tuple(values[name] for name in compiled.positiontup) if dialect.positional
                 else values)
    result = [column.type.dialect_impl(dialect).result_processor(dialect, None)
              for column in query.selected_columns]
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(compiled.string, args)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not any(result):
        return [tuple(row) for row in rows]
    return [tuple(v if p is None else p(v) for p, v in zip(result, row)) for row in rows]


def dry_run_backfill(dag_id: str, *, from_date: datetime, to_date: datetime,
                     reprocess_behavior: ReprocessBehavior | str | None = "none",
                     max_active_runs: int = 10, run_backwards: bool = False,
                     dag_run_conf: Mapping[str, Any] | None = None,
                     run_on_latest_version: bool | None = None, keep_dag_paused: bool = False,
                     triggering_user_name: str | None = None, unpause: bool = False,
                     engine: Engine | None = None,
                     dag_bag: DBDagBag | None = None) -> BackfillPlan:
    """What :func:`create_backfill` would do, without writing anything.

    Same arguments and the same errors (except the overlap check, as Airflow's dry run).

    Returns:
        The plan: one :class:`~dagcore.backfill.BackfillPlanEntry` per date with its action
        (create, clear, or skip with a reason), in the order the runs would start.
    """
    del run_on_latest_version, triggering_user_name
    _aware(from_date, "from_date")
    _aware(to_date, "to_date")
    _check_args(max_active_runs, keep_dag_paused, unpause)
    engine, dag_bag = _engine_and_bag(engine, dag_bag)
    with engine.connect() as conn:
        _, _, dag = _latest(conn, dag_bag, dag_id)
        plan = _plan(conn, dag, from_date=from_date, to_date=to_date,
                     reprocess_behavior=reprocess_behavior, run_backwards=run_backwards,
                     now=timezone.utcnow())
    if dag_run_conf is not None:
        _check_conf(dag, dag_run_conf)
    return plan


def create_backfill(dag_id: str, *, from_date: datetime, to_date: datetime,
                    reprocess_behavior: ReprocessBehavior | str | None = "none",
                    max_active_runs: int = 10, run_backwards: bool = False,
                    dag_run_conf: Mapping[str, Any] | None = None,
                    run_on_latest_version: bool | None = None, keep_dag_paused: bool = False,
                    triggering_user_name: str | None = None, unpause: bool = False,
                    engine: Engine | None = None, dag_bag: DBDagBag | None = None) -> Backfill:
    """Create a backfill of ``dag_id`` over ``[from_date, to_date]`` (both inclusive).

    Args:
        dag_id: the DAG.
        from_date: the first logical date (aware).
        to_date: the last logical date (aware).
        reprocess_behavior: which existing runs are cleared and reused: ``"none"`` (default),
            ``"failed"`` or ``"completed"``; queued or running runs are never touched.
        max_active_runs: how many of the backfill's runs may run at once (its own limit,
            independent of the DAG's).
        run_backwards: most recent dates first (refused with ``depends_on_past``).
        dag_run_conf: the runs' conf (validated against the DAG's params); a reused run keeps
            its own conf when this is None.
        run_on_latest_version: runs use the DAG's latest version when they start (default), or
            (False) the version current now.
        keep_dag_paused: run the backfill while the DAG stays paused (its schedule creates
            nothing meanwhile).
        triggering_user_name: recorded on the backfill (default: the OS user).
        unpause: unpause the DAG (excludes ``keep_dag_paused``).
        engine: the metadata database (default: the configured one).
        dag_bag: where DAG versions come from.

    Returns:
        The :class:`Backfill`, with how many runs were created, cleared and skipped.

    Raises:
        DagNotFound: no such DAG (or no serialized version).
        DagNonPeriodicScheduleError, InvalidBackfillDateRange, InvalidBackfillDate,
        InvalidBackfillDirection, InvalidReprocessBehavior: Airflow's validation, in its order.
        ParamValidationError: ``dag_run_conf`` fails the DAG's params.
        OverlappingBackfill: an active backfill of the DAG overlaps the range (names its id).
        BackfillDateOutOfRange: a date outside the years 1 to 9999 (in UTC, or as the
            schedule computes it).
        ValueError: naive dates, bad arguments (``max_active_runs`` above 2**31 - 1, the
            column's limit), or no date in the range to run.
    """
    _aware(from_date, "from_date")
    _aware(to_date, "to_date")
    _check_args(max_active_runs, keep_dag_paused, unpause)
    if triggering_user_name is None:
        try:
            triggering_user_name = getpass.getuser()
        except (KeyError, OSError):
            triggering_user_name = None
    latest_version = True if run_on_latest_version is None else bool(run_on_latest_version)
    engine, dag_bag = _engine_and_bag(engine, dag_bag)
    for attempt in range(1, _CREATE_ATTEMPTS + 1):
        try:
            with transaction(engine) as conn:
                return _create(conn, dag_bag, dag_id, from_date=from_date, to_date=to_date,
                               reprocess_behavior=reprocess_behavior,
                               max_active_runs=max_active_runs, run_backwards=run_backwards,
                               dag_run_conf=dag_run_conf, latest_version=latest_version,
                               keep_dag_paused=keep_dag_paused, unpause=unpause,
                               user=triggering_user_name)
        except sa.exc.IntegrityError:
            if attempt == _CREATE_ATTEMPTS:
                raise
            log.info("Backfill of %s raced with another writer; planning again", dag_id)
    raise AssertionError("unreachable")  # pragma: no cover


def _create(conn: Connection, dag_bag: DBDagBag, dag_id: str, *, from_date: datetime,
            to_date: datetime, reprocess_behavior: Any, max_active_runs: int,
            run_backwards: bool, dag_run_conf: Mapping[str, Any] | None, latest_version: bool,
            keep_dag_paused: bool, unpause: bool, user: str | None) -> Backfill:
    b = t.backfill
    now = timezone.utcnow()
    dag_row, version_id, dag = _latest(conn, dag_bag, dag_id)
    plan = _plan(conn, dag, from_date=from_date, to_date=to_date,
                 reprocess_behavior=reprocess_behavior, run_backwards=run_backwards, now=now)
    conf = None if dag_run_conf is None else _check_conf(dag, dag_run_conf)
    overlap = conn.execute(sa.select(b.c.id, b.c.from_date, b.c.to_date).where(
        b.c.dag_id == dag_id, b.c.completed_at.is_(None), b.c.from_date <= to_date,
        b.c.to_date >= from_date).order_by(b.c.id).limit(1)).one_or_none()
    if overlap is not None:
        raise OverlappingBackfill(
            f"Dag {dag_id} already has an active backfill {overlap.id} from "
            f"{overlap.from_date.isoformat()} to {overlap.to_date.isoformat()} that overlaps "
            f"{from_date.isoformat()} to {to_date.isoformat()}; cancel it or pick "
            f"another range", overlap.id)
    if len(plan) == 0:
        raise ValueError(f"No runs to create for Dag {dag_id}: no run of its schedule between "
                         f"{from_date.isoformat()} and {to_date.isoformat()} has a data "
                         f"interval that ended before now")
    reprocess = str(ReprocessBehavior(reprocess_behavior or "none"))
    backfill_id = conn.execute(b.insert().values(
        dag_id=dag_id, from_date=from_date, to_date=to_date, dag_run_conf=conf or {},
        is_paused=False, reprocess_behavior=reprocess, max_active_runs=max_active_runs,
        created_at=now, updated_at=now, triggering_user_name=user,
        keep_dag_paused=keep_dag_paused, run_on_latest_version=latest_version)
    ).inserted_primary_key[0]

    if _BULK_WRITES:
        _write_bulk(conn, dag_bag, dag, plan, backfill_id=backfill_id, version_id=version_id,
                    bundle_version=dag_row.bundle_version, conf=conf, user=user, now=now,
                    latest_version=latest_version)
    else:
        _write_portable(conn, dag_bag, dag, plan, backfill_id=backfill_id,
                        version_id=version_id, bundle_version=dag_row.bundle_version, conf=conf,
                        user=user, now=now, latest_version=latest_version)
    if unpause:
        conn.execute(t.dag.update().where(t.dag.c.dag_id == dag_id).values(is_paused=False))
    row = conn.execute(sa.select(b).where(b.c.id == backfill_id)).one()
    counts = plan.counts()
    log.info("Backfill %s of Dag %s: %d run(s) created, %d cleared, %d date(s) skipped",
             backfill_id, dag_id, counts[BackfillAction.CREATE], counts[BackfillAction.CLEAR],
             counts[BackfillAction.SKIP])
    return Backfill.from_row(row, created=counts[BackfillAction.CREATE],
                             cleared=counts[BackfillAction.CLEAR],
                             skipped=counts[BackfillAction.SKIP])


def _write_portable(conn: Connection, dag_bag: DBDagBag, dag: SerializedDAG, plan: BackfillPlan,
                    *, backfill_id: int, version_id: Any, bundle_version: str | None,
                    conf: dict[str, Any] | None, user: str | None, now: datetime,
                    latest_version: bool) -> None:
    """The runs and links of a backfill through SQLAlchemy's executemany (the reference
    :func:`_write_bulk` is compared with; see the module's design note)."""
    dag_id = dag.dag_id
    dr, bdr = t.dag_run, t.backfill_dag_run
    actions = plan.actions
    infos = plan.infos
    logical_dates = infos.logical_dates  # = the data interval starts
    run_afters = infos.run_afters
    ends = infos.data_interval_ends
    created = [i for i, a in enumerate(actions) if a is BackfillAction.CREATE]
    memo: dict[Any, dict[Any, Any]] = {}
    new_run_afters = [run_afters[i] for i in created]
    new_run_ids = generate_run_ids("backfill", new_run_afters)
    if created:
        dates = [logical_dates[i] for i in created]
        insert_dag_runs(conn, {
            "run_id": new_run_ids, "logical_date": dates, "run_after": new_run_afters,
            "data_interval_start": dates, "data_interval_end": [ends[i] for i in created]}, {
            "dag_id": dag_id, "queued_at": now, "state": DagRunState.QUEUED.value,
            "run_type": "backfill", "triggered_by": "backfill", "triggering_user_name": user,
            "conf": conf or {}, "created_dag_version_id": version_id,
            "bundle_version": bundle_version, "backfill_id": backfill_id,
            "clear_number": 0, "updated_at": now}, memo)
    cleared = [i for i, a in enumerate(actions) if a is BackfillAction.CLEAR]
    cleared_ids = (_clear_runs(conn, dag_bag, dag, [logical_dates[i] for i in cleared],
                               backfill_id, conf, now,
                               latest=(version_id, bundle_version) if latest_version
                               else None, bulk=False) if cleared else {})
    run_pks: list[int | None] = [None] * len(actions)
    if created:
        created_ids = dict(conn.execute(sa.select(dr.c.run_id, dr.c.id).where(
            dr.c.dag_id == dag_id, dr.c.backfill_id == backfill_id)).all())
        for i, run_id in zip(created, new_run_ids):
            run_pks[i] = created_ids[run_id]
    for i in cleared:
        run_pks[i] = cleared_ids[logical_dates[i]]
    reasons = plan.reasons
    texts = {r: None if r is None else str(r) for r in set(reasons)}
    insert_columns(conn, bdr, {
        "logical_date": logical_dates, "sort_ordinal": range(1, len(actions) + 1),
        "dag_run_id": run_pks, "exception_reason": [texts[r] for r in reasons]},
        {"backfill_id": backfill_id}, memo)


def _clear_runs(conn: Connection, dag_bag: DBDagBag, dag: SerializedDAG, dates: list[datetime],
                backfill_id: int, conf: dict[str, Any] | None, now: datetime,
                latest: tuple[Any, str | None] | None, *, bulk: bool = True
                ) -> dict[datetime, int]:
    """Reuse finished runs: archive and reset their task instances, re-queue the runs.

    Airflow's ``_handle_clear_run`` (docs/airflow-behaviour.md 2.5, 3.8): ``dag.clear(run_id,
    run_on_latest_version=...)``, then the run becomes the backfill's. With ``latest`` (the
    latest version id and the DAG's bundle version: ``run_on_latest_version``), each run moves
    to that version (:func:`~dagcore.models.dagrun.move_to_version`) and its tasks' retries come
    from it; else a run keeps its own version (the latest when it has none) and its retries.
    ``bulk`` writes the task instances' new ids and the runs' new state with one statement per
    table and chunk (see the module's design note); without it, one SQLAlchemy executemany
    each, the reference the bulk path is compared with.

    Returns:
        The runs' ids by logical date.
    """
    dr = t.dag_run
    dag_id = dag.dag_id
    # In chunks: one bind parameter per date or run would exceed SQLite's limit on variables.
    runs = [r for part in in_chunks(dates) for r in conn.execute(sa.select(
        dr.c.id, dr.c.run_id, dr.c.clear_number, dr.c.logical_date,
        dr.c.created_dag_version_id).where(dr.c.dag_id == dag_id, dr.c.logical_date.in_(part)))]
    dags = {r.run_id: dag if latest is not None or r.created_dag_version_id is None
            else dag_bag.get_dag(r.created_dag_version_id, dag_id) or dag for r in runs}
    for part in in_chunks([r.run_id for r in runs]):
        if bulk:
            _reset_task_instances_bulk(conn, dag_id, part, dags, now)
        else:
            _reset_task_instances(conn, dag_id, part, dags, now)
        if latest is not None:
            version_id, bundle_version = latest
            move_to_version(conn, dag_id=dag_id, run_ids=part, version_id=version_id,
                            task_ids=dag.task_dict.keys(), bundle_version=bundle_version,
                            now=now)
    values: dict[str, Any] = dict(
        state=DagRunState.QUEUED.value, queued_at=now, start_date=None, end_date=None,
        last_scheduling_decision=None, backfill_id=backfill_id, run_type="backfill",
        triggered_by="backfill", updated_at=now)
    if conf is not None:
        values["conf"] = conf
    if bulk:
        # clear_number + 1 in the database: nothing above changes it, so each run gets the
        # value the per-run executemany computes from the row read above.
        for part in in_chunks([r.id for r in runs]):
            conn.execute(dr.update().where(dr.c.id.in_(part)).values(
                clear_number=dr.c.clear_number + 1, **values))
    else:
        conn.execute(dr.update().where(dr.c.id == sa.bindparam("_id")).values(
            clear_number=sa.bindparam("_clear"), **values),
            [{"_id": r.id, "_clear": r.clear_number + 1} for r in runs])
    return {r.logical_date: r.id for r in runs}


def _reset_task_instances(conn: Connection, dag_id: str, run_ids: Sequence[str],
                          dags: dict[str, SerializedDAG], now: datetime) -> None:
    """Archive the tries of these runs' task instances, then give each a new id and no state,
    its retries from the DAG its run runs again (``dags`` by run id)."""
    ti = t.task_instance
    in_runs = sa.and_(ti.c.dag_id == dag_id, ti.c.run_id.in_(run_ids))
    archive_tries(conn, sa.and_(in_runs, ti.c.try_number > 0), now=now)
    rows = conn.execute(sa.select(ti.c.id, ti.c.run_id, ti.c.task_id, ti.c.try_number,
                                  ti.c.max_tries).where(in_runs)).all()
    if rows:
        conn.execute(ti.update().where(ti.c.id == sa.bindparam("_id")).values(
            id=sa.bindparam("_new"), state=None, max_tries=sa.bindparam("_max"),
            external_executor_id=None, next_method=None, next_kwargs=None, updated_at=now),
            [{"_id": row.id, "_new": uuid7(), "_max": _max_tries(row, dags[row.run_id])}
             for row in rows])


def _reset_task_instances_bulk(conn: Connection, dag_id: str, run_ids: Sequence[str],
                               dags: dict[str, SerializedDAG], now: datetime) -> None:
    """:func:`_reset_task_instances` with the per-row values sent as driver tuples: on SQLite
    one UPDATE ... FROM a temporary table of them, on PostgreSQL one UPDATE ... FROM (VALUES
    ...) per page (``execute_values``), instead of one execution (and round trip) per row."""
    ti = t.task_instance
    in_runs = sa.and_(ti.c.dag_id == dag_id, ti.c.run_id.in_(run_ids))
    archive_tries(conn, sa.and_(in_runs, ti.c.try_number > 0), now=now)
    sqlite = conn.dialect.name == "sqlite"
    key = sa.literal_column("task_instance.rowid") if sqlite else ti.c.id
    rows = conn.execute(sa.select(key.label("key"), ti.c.run_id, ti.c.task_id, ti.c.try_number,
                                  ti.c.max_tries).where(in_runs)).all()
    if not rows:
        return
    new_ids = uuid7_strings(len(rows))
    max_tries = [_max_tries(row, dags[row.run_id]) for row in rows]
    keys = [row.key for row in rows]
    stmt = ti.update().values(
        id=sa.bindparam("_new"), state=None, max_tries=sa.bindparam("_max"),
        external_executor_id=None, next_method=None, next_kwargs=None, updated_at=now)
    if sqlite:
        _sqlite_update_from_rows(conn, stmt, {"_new": new_ids, "_max": max_tries}, keys)
    else:
        _pg_update_from_values(conn, stmt, ti.c.id, {"_new": new_ids, "_max": max_tries},
                               keys)


def _write_bulk(conn: Connection, dag_bag: DBDagBag, dag: SerializedDAG, plan: BackfillPlan,
                *, backfill_id: int, version_id: Any, bundle_version: str | None,
                conf: dict[str, Any] | None, user: str | None, now: datetime,
                latest_version: bool) -> None:
    """The runs and links of a backfill, as :func:`_write_portable` writes them, from the
    plan's columns: no object per date (the dates and run ids come as text columns made in C++,
    the new runs' ids are reserved up front: see the module's design note), one driver-level
    executemany (SQLite) or ``COPY`` (PostgreSQL) per table."""
    dag_id = dag.dag_id
    dr, bdr = t.dag_run, t.backfill_dag_run
    codes = plan.action_codes()
    n = len(codes)
    created = [i for i, code in enumerate(codes) if code == _CREATE_CODE]
    style = "sqlite" if conn.dialect.name == "sqlite" else "iso"
    starts_text = plan.text_column("logical_date", style)
    run_pks: list[int | None] = [None] * n
    if created:
        create = BackfillAction.CREATE
        ids = _reserve_ids(conn, dr, len(created))
        for i, pk in zip(created, ids):
            run_pks[i] = pk
        logical = plan.text_column("logical_date", style, action=create)
        columns: dict[str, Sequence[Any]] = {
            "id": ids,
            "run_id": plan.text_column("run_after", "iso", prefix="backfill__", action=create),
            "logical_date": logical,
            "run_after": plan.text_column("run_after", style, action=create),
            "data_interval_start": logical,
            "data_interval_end": plan.text_column("data_interval_end", style, action=create)}
        constants = {
            "dag_id": dag_id, "queued_at": now, "state": DagRunState.QUEUED.value,
            "run_type": "backfill", "triggered_by": "backfill", "triggering_user_name": user,
            "conf": conf or {}, "created_dag_version_id": version_id,
            "bundle_version": bundle_version, "backfill_id": backfill_id, "clear_number": 0,
            "updated_at": now}
        _check_values({**{name: values[0] for name, values in columns.items()
                          if name != "id"}, **constants})
        _bulk_insert(conn, dr, columns, constants)
    cleared = [i for i, code in enumerate(codes) if code == _CLEAR_CODE]
    if cleared:
        dates = list(map(datetime.fromisoformat, plan.text_column(
            "logical_date", "iso", action=BackfillAction.CLEAR)))
        cleared_ids = _clear_runs(conn, dag_bag, dag, dates, backfill_id, conf, now,
                                  latest=(version_id, bundle_version) if latest_version
                                  else None)
        for i, date in zip(cleared, dates):
            run_pks[i] = cleared_ids[date]
    texts = (None, "in flight", "already exists")
    _bulk_insert(conn, bdr, {
        "logical_date": starts_text, "sort_ordinal": range(1, n + 1), "dag_run_id": run_pks,
        "exception_reason": [texts[code] for code in plan.reason_codes()]},
        {"backfill_id": backfill_id})


_CREATE_CODE, _CLEAR_CODE = 0, 1  # BackfillPlan.action_codes()


def _reserve_ids(conn: Connection, table: sa.Table, n: int) -> list[int]:
    """The ids the database would give ``n`` rows inserted now, one after the other, taken
    up front so that rows can link to them without reading them back: on SQLite
    ``max(rowid) + 1`` onwards (the transaction holds the write lock: BEGIN IMMEDIATE), on
    PostgreSQL ``n`` values of the id's sequence."""
    if conn.dialect.name == "sqlite":
        top = conn.execute(sa.select(sa.func.max(table.c.id))).scalar()
        first = 1 if top is None else top + 1
        return list(range(first, first + n))
    with conn.connection.dbapi_connection.cursor() as cursor:  # plain tuples, no Row each
        cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
                       f"FROM generate_series(1, {int(n)})")
        return sorted(row[0] for row in cursor.fetchall())


def _bulk_insert(conn: Connection, table: sa.Table, columns: Mapping[str, Sequence[Any]],
                 constants: Mapping[str, Any]) -> None:
    """Insert one row per position of ``columns`` (values already as the driver takes them:
    dates as :meth:`~dagcore.backfill.BackfillPlan.text_column` makes them, ids and numbers as
    they are, None for NULL; no tab, newline or backslash in text) with ``constants``
    (converted here by their column's type, once) in every row."""
    if conn.dialect.name == "sqlite":
        stmt = table.insert().values({**{name: sa.bindparam(name) for name in columns},
                                      **constants})
        _sqlite_executemany(conn, stmt, columns)
    else:
        _pg_copy(conn, table, columns, constants)


def _processed(conn: Connection, stmt: Any, given: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``stmt`` compiled for the connection's dialect and its constant parameters as
    SQLAlchemy sends them (through their types' bind processors); ``given`` names the
    per-row parameters."""
    compiled = stmt.compile(dialect=conn.dialect)
    params = compiled.construct_params({name: None for name in given})
    processors = compiled._bind_processors
    return compiled, {name: processors[name](value) if name in processors else value
                      for name, value in params.items() if name not in given}


def _sqlite_executemany(conn: Connection, stmt: Any,
                        per_row: Mapping[str, Sequence[Any]]) -> None:
    """Run ``stmt`` once per position of ``per_row`` (its bind parameters by name) with one
    driver executemany of tuples; the statement's other parameters are constants, converted
    once by their types."""
    compiled, fixed = _processed(conn, stmt, per_row)
    params = [per_row[name] if name in per_row else repeat(fixed[name])
              for name in compiled.positiontup]
    conn.exec_driver_sql(compiled.string, list(zip(*params)))


def _copy_text(value: Any) -> str:
    """One value of a ``COPY ... FROM STDIN`` text row."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return (str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def _pg_copy(conn: Connection, table: sa.Table, columns: Mapping[str, Sequence[Any]],
             constants: Mapping[str, Any]) -> None:
    """``COPY table (columns) FROM STDIN`` of the rows, in order (serial ids are drawn in row
    order, as an INSERT's); a unique violation is raised as SQLAlchemy's IntegrityError."""
    _, fixed = _processed(conn, table.insert().values(**constants), {})
    tail = "".join("\t" + _copy_text(fixed[name]) for name in constants)
    body = "".join([
        "\t".join(["\\N" if v is None else str(v) for v in row]) + tail + "\n"
        for row in zip(*columns.values())])
    names = ", ".join(f'"{name}"' for name in (*columns, *constants))
    raw = conn.connection.dbapi_connection
    dbapi = conn.dialect.dbapi
    with raw.cursor() as cursor:
        try:
            cursor.copy_expert(f'COPY "{table.name}" ({names}) FROM STDIN', io.StringIO(body))
        except dbapi.IntegrityError as exc:
            raise sa.exc.IntegrityError(f"COPY {table.name}", None, exc) from exc


def _sqlite_update_from_rows(conn: Connection, stmt: Any, per_row: Mapping[str, Sequence[Any]],
                             rowids: Sequence[int]) -> None:
    """``stmt`` (an UPDATE whose per-row values are bind parameters named as ``per_row``'s
    keys) for the rows ``rowids``, as one ``UPDATE ... FROM`` a temporary table holding the
    per-row values (filled by one executemany, dropped after): one statement instead of one
    execution per row, several times faster for a primary-key change whose ``ON UPDATE
    CASCADE`` program runs per row. The temporary table lives in the caller's transaction."""
    _, fixed = _processed(conn, stmt, per_row)  # the constants are named as their columns
    table = stmt.table
    sets, args = [], []
    for column, bind in stmt._values.items():
        name = column if isinstance(column, str) else column.name
        param = getattr(bind, "key", None)
        if param in per_row:
            sets.append(f'"{name}" = m."{param}"')
        else:
            sets.append(f'"{name}" = ?')
            args.append(fixed[name])
    names = ", ".join(f'"{p}"' for p in per_row)
    conn.exec_driver_sql(f'CREATE TEMP TABLE _dagcore_update_rows (rid INTEGER PRIMARY KEY, '
                         f'{names})')
    try:
        conn.exec_driver_sql(
            f'INSERT INTO temp._dagcore_update_rows (rid, {names}) VALUES '
            f'(?{", ?" * len(per_row)})', list(zip(rowids, *per_row.values())))
        conn.exec_driver_sql(
            f'UPDATE "{table.name}" SET {", ".join(sets)} FROM temp._dagcore_update_rows AS m '
            f'WHERE "{table.name}".rowid = m.rid', tuple(args))
    finally:
        conn.exec_driver_sql("DROP TABLE temp._dagcore_update_rows")


def _pg_update_from_values(conn: Connection, stmt: Any, key: sa.Column,
                           per_row: Mapping[str, Sequence[Any]], keys: Sequence[Any]) -> None:
    """``stmt`` (an UPDATE whose per-row values are bind parameters named as ``per_row``'s
    keys) for the rows whose ``key`` is in ``keys``, as ``UPDATE ... FROM (VALUES ...)`` pages
    (``psycopg2.extras.execute_values``) instead of one round trip per row."""
    from psycopg2.extras import execute_values

    _, fixed = _processed(conn, stmt, per_row)  # the constants are named as their columns
    table = key.table
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cursor:
        sets = []
        for column, bind in stmt._values.items():
            name = column if isinstance(column, str) else column.name
            param = getattr(bind, "key", None)
            if param in per_row:
                cast = table.c[name].type.compile(dialect=conn.dialect)
                sets.append(f'"{name}" = v."{param}"::{cast}')
            else:
                sets.append(f'"{name}" = ' + cursor.mogrify("%s", (fixed[name],)).decode())
        key_cast = key.type.compile(dialect=conn.dialect)
        names = ", ".join(f'"{p}"' for p in ("_key", *per_row))
        sql = (f'UPDATE "{table.name}" SET {", ".join(sets)} FROM (VALUES %s) AS v({names}) '
               f'WHERE "{table.name}"."{key.name}" = v."_key"::{key_cast}')
        rows = list(zip([str(k) for k in keys], *per_row.values()))
        execute_values(cursor, sql, rows, page_size=1000)


def _max_tries(row: Any, dag: SerializedDAG) -> int:
    """Airflow's clear: ``try_number + task.retries`` with the task of the DAG version the run
    runs again; ``max(max_tries, try_number)`` when that version lacks the task."""
    task = dag.task_dict.get(row.task_id)
    if task is None:
        return max(row.max_tries, row.try_number)
    return row.try_number + task.retries


# -- operating ------------------------------------------------------------------------------------


def _backfill_row(conn: Connection, backfill_id: int, *, lock: bool = False) -> Any:
    if isinstance(backfill_id, bool) or not isinstance(backfill_id, int):
        raise TypeError(f"backfill id must be an int, got {backfill_id!r}")
    query = sa.select(t.backfill).where(t.backfill.c.id == backfill_id)
    if lock and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = conn.execute(query).one_or_none()
    if row is None:
        raise BackfillNotFound(f"Backfill {backfill_id} not found")
    return row


def get_backfill(backfill_id: int, *, engine: Engine | None = None) -> Backfill:
    """The backfill with that id (:class:`BackfillNotFound` if none)."""
    engine = engine if engine is not None else create_engine()
    with engine.connect() as conn:
        return Backfill.from_row(_backfill_row(conn, backfill_id))


def list_backfills(dag_id: str | None = None, *, engine: Engine | None = None
                   ) -> list[Backfill]:
    """Every backfill (of ``dag_id`` if given), by id."""
    engine = engine if engine is not None else create_engine()
    query = sa.select(t.backfill).order_by(t.backfill.c.id)
    if dag_id is not None:
        query = query.where(t.backfill.c.dag_id == dag_id)
    with engine.connect() as conn:
        return [Backfill.from_row(row) for row in conn.execute(query)]


def _set_paused(backfill_id: int, paused: bool, engine: Engine | None) -> Backfill:
    engine = engine if engine is not None else create_engine()
    now = timezone.utcnow()
    with transaction(engine) as conn:
        row = _backfill_row(conn, backfill_id, lock=True)
        if row.completed_at is not None:
            raise BackfillCompleted(f"Backfill {backfill_id} is already completed.")
        conn.execute(t.backfill.update().where(t.backfill.c.id == backfill_id)
                     .values(is_paused=paused, updated_at=now))
        return Backfill.from_row(_backfill_row(conn, backfill_id))


def pause_backfill(backfill_id: int, *, engine: Engine | None = None) -> Backfill:
    """No new run of the backfill starts until it is unpaused (running ones go on)."""
    return _set_paused(backfill_id, True, engine)


def unpause_backfill(backfill_id: int, *, engine: Engine | None = None) -> Backfill:
    """Let the backfill's queued runs start again."""
    return _set_paused(backfill_id, False, engine)


def cancel_backfill(backfill_id: int, *, terminate_running: bool = True,
                    engine: Engine | None = None) -> Backfill:
    """Cancel a backfill: its queued runs fail and, with ``terminate_running`` (the default,
    unlike Airflow), so do its running ones: their running task instances are marked failed
    (their processes see it at the next heartbeat and stop) and the ones not started are
    skipped. The backfill is paused and completed.

    Raises:
        BackfillNotFound: no such backfill.
        BackfillCompleted: it is already completed.
    """
    engine = engine if engine is not None else create_engine()
    dr, ti = t.dag_run, t.task_instance
    now = timezone.utcnow()
    with transaction(engine) as conn:
        row = _backfill_row(conn, backfill_id, lock=True)
        if row.completed_at is not None:
            raise BackfillCompleted(f"Backfill {backfill_id} is already completed.")
        states = [DagRunState.QUEUED.value]
        if terminate_running:
            states.append(DagRunState.RUNNING.value)
        # The runs as a subquery: no statement grows with the number of runs.
        of_backfill = sa.and_(dr.c.backfill_id == backfill_id, dr.c.state.in_(states))
        running = sa.select(dr.c.run_id).where(
            dr.c.dag_id == row.dag_id, dr.c.backfill_id == backfill_id,
            dr.c.state == DagRunState.RUNNING.value)
        if terminate_running:
            active = (TaskInstanceState.RUNNING.value, TaskInstanceState.QUEUED.value,
                      TaskInstanceState.SCHEDULED.value, TaskInstanceState.RESTARTING.value)
            conn.execute(ti.update().where(ti.c.dag_id == row.dag_id, ti.c.run_id.in_(running),
                                           ti.c.state.in_(active))
                         .values(state=TaskInstanceState.FAILED.value, end_date=now,
                                 updated_at=now))
            conn.execute(ti.update().where(
                ti.c.dag_id == row.dag_id, ti.c.run_id.in_(running),
                sa.or_(ti.c.state.is_(None), ti.c.state.not_in(sorted(_FINISHED_TI))))
                .values(state=TaskInstanceState.SKIPPED.value, end_date=now, updated_at=now))
        failed = conn.execute(dr.update().where(of_backfill).values(
            state=DagRunState.FAILED.value, end_date=now, updated_at=now)).rowcount
        conn.execute(t.backfill.update().where(t.backfill.c.id == backfill_id)
                     .values(is_paused=True, completed_at=now, updated_at=now))
        log.info("Backfill %s cancelled: %d run(s) failed", backfill_id, failed)
        return Backfill.from_row(_backfill_row(conn, backfill_id))


def backfill_status(backfill_id: int, *, engine: Engine | None = None) -> BackfillStatus:
    """Progress of a backfill: runs per state, skipped dates and why, start and end, and an
    estimate of the time left (mean duration of its finished runs times the runs left, divided
    by ``max_active_runs``; None until one run has finished)."""
    engine = engine if engine is not None else create_engine()
    dr, bdr = t.dag_run, t.backfill_dag_run
    with engine.connect() as conn:
        backfill = Backfill.from_row(_backfill_row(conn, backfill_id))
        # Counted per state in SQL (the backfill_id index); the finished runs' dates are read
        # only while runs are left to estimate (docs/performance.md section 5).
        per_state = conn.execute(
            sa.select(dr.c.state, sa.func.count(), sa.func.min(dr.c.start_date))
            .where(dr.c.backfill_id == backfill_id).group_by(dr.c.state)).all()
        by_state = Counter({state: n for state, n, _ in per_state})
        starts = [first for _, _, first in per_state if first is not None]
        left = by_state.get("queued", 0) + by_state.get("running", 0)
        durations = [] if not left else [
            (r.end_date - r.start_date).total_seconds() for r in conn.execute(
                sa.select(dr.c.start_date, dr.c.end_date).where(
                    dr.c.backfill_id == backfill_id, dr.c.state.in_(("success", "failed")),
                    dr.c.start_date.is_not(None), dr.c.end_date.is_not(None))
                .order_by(dr.c.id))]
        skipped_rows = conn.execute(sa.select(bdr.c.logical_date, bdr.c.exception_reason).where(
            bdr.c.backfill_id == backfill_id, bdr.c.exception_reason.is_not(None))
            .order_by(bdr.c.sort_ordinal)).all()
    estimate = timedelta(0) if left == 0 else None
    if durations and left:
        mean = sum(durations) / len(durations)
        estimate = timedelta(seconds=mean * left / max(1, backfill.max_active_runs))
    return BackfillStatus(
        backfill=backfill, runs_by_state=dict(by_state),
        skipped=dict(Counter(r.exception_reason for r in skipped_rows)),
        skipped_dates=[(r.logical_date, r.exception_reason) for r in skipped_rows],
        started_at=min(starts) if starts else None, finished_at=backfill.completed_at,
        estimated_time_left=estimate)
