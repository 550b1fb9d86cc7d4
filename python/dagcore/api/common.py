"""Trigger a DAG run and clear task instances: Airflow's ``api.common`` rules
(docs/airflow-behaviour.md 4, 3.8).

Design note. Each call is one transaction. Nothing here checks "does the run already exist?"
before inserting: two processes could both see "no" and both insert. The unique constraints on
``dag_run`` ``(dag_id, run_id)`` and ``(dag_id, logical_date)`` decide instead; the loser's
transaction is rolled back whole and :class:`DagRunAlreadyExists` names the run that won. So N
processes triggering one run id leave exactly one run.

Clearing reads the runs, then each run's own DAG version (through :class:`DBDagBag`, whose
cache makes repeated versions cheap), resolves the task closure with the C++ run graph, and
rewrites the selected task instances and their runs in the same transaction. On SQLite that
transaction holds the write lock from its first statement (``BEGIN IMMEDIATE``); on PostgreSQL
the task instances are read ``FOR UPDATE``, so a concurrent clear or scheduler update waits
instead of being overwritten with stale values.

Deliberate choices where Airflow's paths disagree (docs/airflow-behaviour.md 4.1 vs 4.2):

* the default run id is ``manual__<logical_date ISO>`` (the operator's and the REST API's form);
  with ``logical_date=None`` it is ``manual__<run_after ISO>_<8 random>``;
* the data interval is ``timetable.infer_manual_data_interval(run_after=logical_date)`` (the
  REST path): a run's interval follows its logical date, not the moment it was triggered;
* ``run_after`` defaults to now (the run is due at once), not to the end of the interval.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dagcore.db import transaction
from dagcore.db_dagbag import DBDagBag, latest_version_id
from dagcore.models import tables as t
from dagcore.models.dagrun import (
    DEFAULT_ALLOWED_RUN_ID_PATTERN,
    RUN_ID_REGEX,
    generate_run_id,
    insert_dag_run,
    move_to_version,
    validate_run_id,
)
from dagcore.models.taskinstance import archive_tries
from dagcore.models.taskreschedule import delete_reschedules
from dagcore.models.types import uuid7
from dagcore.params import merge_params
from dagcore.serialization import SerializedDAG
from dagcore.state import DagRunState, TaskInstanceState
from dagcore.utils import timezone

__all__ = [
    "DEFAULT_ALLOWED_RUN_ID_PATTERN",
    "RUN_ID_REGEX",
    "TRIGGERED_BY",
    "DagHasImportErrors",
    "DagNotFound",
    "DagRun",
    "DagRunAlreadyExists",
    "DagRunNotFound",
    "TaskInstanceRow",
    "clear_dag_runs",
    "clear_task_instances",
    "trigger_dag",
    "validate_run_id",
]

log = logging.getLogger(__name__)

# Airflow's DagRunTriggeredByType values.
TRIGGERED_BY: Final = frozenset({"cli", "operator", "rest_api", "ui", "test", "timetable",
                                 "asset", "backfill"})


class _NotSet:
    def __repr__(self) -> str:
        return "<now>"


_NOW: Any = _NotSet()
# Values per IN list (in_chunks): SQLite allows 999 bind parameters before 3.32.
IN_CHUNK: Final = 500


# -- errors -------------------------------------------------------------------------------------


class DagNotFound(LookupError):
    """The DAG is not in the database (or is stale: its file no longer defines it)."""


class DagRunNotFound(LookupError):
    """A run named by id does not exist."""


class DagHasImportErrors(ValueError):
    """The DAG's file currently fails to import, so the DAG cannot be triggered."""


class DagRunAlreadyExists(ValueError):
    """A run with the same ``(dag_id, run_id)`` or ``(dag_id, logical_date)`` exists.

    Attributes:
        dag_run: the existing run.
    """

    def __init__(self, dag_run: DagRun, message: str) -> None:
        super().__init__(message)
        self.dag_run = dag_run


# -- records ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DagRun:
    """A ``dag_run`` row (one field per column, same names)."""

    id: int
    dag_id: str
    run_id: str
    logical_date: datetime | None
    run_after: datetime
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    state: str
    run_type: str
    triggered_by: str | None
    triggering_user_name: str | None
    conf: dict[str, Any] | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    last_scheduling_decision: datetime | None
    creating_job_id: int | None
    created_dag_version_id: uuid.UUID | None
    bundle_version: str | None
    backfill_id: int | None
    clear_number: int
    partition_key: str | None
    note: str | None
    updated_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> DagRun:
        """The record of a row selected from ``dag_run``."""
        mapping = row._mapping
        return cls(**{f.name: mapping[f.name] for f in fields(cls)})


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskInstanceRow:
    """A ``task_instance`` row (one field per column, same names)."""

    id: uuid.UUID
    task_id: str
    dag_id: str
    run_id: str
    map_index: int
    state: str | None
    try_number: int
    max_tries: int
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    hostname: str | None
    unixname: str | None
    pool: str
    pool_slots: int
    queue: str | None
    priority_weight: int | None
    operator: str | None
    custom_operator_name: str | None
    queued_dttm: datetime | None
    scheduled_dttm: datetime | None
    queued_by_job_id: int | None
    pid: int | None
    executor: str | None
    executor_config: Any
    external_executor_id: str | None
    rendered_map_index: str | None
    task_display_name: str | None
    next_method: str | None
    next_kwargs: Any
    last_heartbeat_at: datetime | None
    updated_at: datetime | None
    note: str | None
    dag_version_id: uuid.UUID | None

    @classmethod
    def from_row(cls, row: Any) -> TaskInstanceRow:
        """The record of a row selected from ``task_instance``."""
        mapping = row._mapping
        return cls(**{f.name: mapping[f.name] for f in fields(cls)})


# -- shared helpers -----------------------------------------------------------------------------


def _engine_and_bag(engine: Engine | None, dag_bag: DBDagBag | None) -> tuple[Engine, DBDagBag]:
    if engine is None:
        if dag_bag is not None:
            engine = dag_bag.engine
        else:
            from dagcore.db import create_engine

            engine = create_engine()
    # A throw-away bag, as Airflow's trigger_dag uses: callers that trigger often pass theirs.
    return engine, dag_bag if dag_bag is not None else DBDagBag(engine=engine)


def _check_aware(value: object, name: str) -> None:
    if value is None:
        return
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}: {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


# Built once: a statement made per call costs its construction and cache key every time
# (about 0.1-0.2 ms each; benchmarks/api_bench.py).
_DAG_ROW = sa.select(t.dag).where(t.dag.c.dag_id == sa.bindparam("dag_id"))
_RUN_BY_ID = sa.select(t.dag_run).where(t.dag_run.c.id == sa.bindparam("id"))


def _dag_row(conn: Connection, dag_id: str) -> Any:
    row = conn.execute(_DAG_ROW, {"dag_id": dag_id}).one_or_none()
    if row is None:
        raise DagNotFound(f"Dag id {dag_id} not found in DagModel")
    return row


# -- trigger ------------------------------------------------------------------------------------


def _check_conf(dag: SerializedDAG, run_conf: Any) -> dict[str, Any]:
    if run_conf is None:
        run_conf = {}
    if not isinstance(run_conf, Mapping):
        raise ValueError(f"DagRun conf must be a JSON object or null, got "
                         f"{type(run_conf).__name__}: {_short_repr(run_conf)}")
    run_conf = dict(run_conf)
    try:
        json.dumps(run_conf)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"DagRun conf must be JSON-serializable: {exc}") from None
    except RecursionError:  # json recurses once per level
        raise _too_deep(run_conf) from None
    try:
        # Raises ParamValidationError "Invalid input for param <name>: ..."
        # (docs/airflow-behaviour.md 4.1).
        merge_params(dag.params, conf=run_conf)
    except RecursionError:  # the copies and schema checks recurse once per level, too
        raise _too_deep(run_conf) from None
    return run_conf


def _too_deep(run_conf: Mapping[str, Any]) -> ValueError:
    """The error for a conf nested deeper than Python's recursion limit: one clear message
    instead of a RecursionError's traceback (issue 12 §5)."""
    return ValueError(f"DagRun conf is nested too deeply to serialize as JSON: "
                      f"{_short_repr(run_conf)}")


def _short_repr(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters; ``...`` for a value nested too deeply for
    ``repr`` itself."""
    try:
        text = repr(value)
    except RecursionError:
        return "..."
    return text if len(text) <= limit else text[:limit] + "..."


def _check_start_date(dag: SerializedDAG, logical_date: datetime) -> None:
    raw = dag.default_args.get("start_date")
    if not isinstance(raw, str):
        return
    try:
        start = datetime.fromisoformat(raw)
    except ValueError:
        return
    if start.tzinfo is None:
        start = start.replace(tzinfo=dag.timezone)
    if logical_date < start:
        raise ValueError(f"Logical date [{logical_date.isoformat()}] should be >= start_date "
                         f"[{start.astimezone(UTC).isoformat()}] from DAG's default_args")


def _find_existing(engine: Engine, dag_id: str, run_id: str,
                   logical_date: datetime | None) -> tuple[DagRun, str] | None:
    dr = t.dag_run
    with engine.connect() as conn:
        row = conn.execute(sa.select(dr).where(dr.c.dag_id == dag_id,
                                               dr.c.run_id == run_id)).one_or_none()
        if row is not None:
            return DagRun.from_row(row), (f"A run already exists for Dag {dag_id!r} with "
                                          f"run_id {run_id!r}")
        if logical_date is not None:
            row = conn.execute(sa.select(dr).where(dr.c.dag_id == dag_id,
                                                   dr.c.logical_date == logical_date)
                               ).one_or_none()
            if row is not None:
                return DagRun.from_row(row), (
                    f"A run already exists for Dag {dag_id!r} with logical_date "
                    f"{logical_date.isoformat()} (run_id {row.run_id!r})")
    return None


def trigger_dag(dag_id: str, *, run_id: str | None = None, conf: Mapping[str, Any] | None = None,
                logical_date: datetime | None = _NOW, run_after: datetime | None = None,
                replace_microseconds: bool = True, triggered_by: str = "cli",
                triggering_user_name: str | None = None, note: str | None = None,
                data_interval: tuple[datetime, datetime] | None = None,
                engine: Engine | None = None, dag_bag: DBDagBag | None = None) -> DagRun:
    """Create a queued manual run of a DAG (Airflow's ``trigger_dag``, docs/airflow-behaviour.md
    4.1-4.2).

    A paused DAG's run is created too and stays queued until the DAG is unpaused.

    Args:
        dag_id: the DAG.
        run_id: the run id (validated, see :func:`validate_run_id`); default
            ``manual__<logical_date ISO>``, or ``manual__<run_after ISO>_<8 random>`` without a
            logical date.
        conf: the run's conf, a JSON object; validated against the DAG's params (merged), stored
            as given.
        logical_date: aware; default now; ``None`` for a run without a logical date (and without
            a data interval).
        run_after: aware; when the run is due (default now).
        replace_microseconds: zero the logical date's microseconds (the CLI's default).
        triggered_by: one of :data:`TRIGGERED_BY` (``"cli"``, ``"operator"``, ``"rest_api"``...).
        triggering_user_name: who triggered it (stored on the run).
        note: the run's note.
        data_interval: (start, end), aware, given instead of the timetable's inference (the
            REST API's ``data_interval_start/end``); only with a logical date.
        engine: the metadata database (default: the dag bag's, else the configured one).
        dag_bag: where the DAG is read from (default: a throw-away :class:`DBDagBag`).

    Returns:
        The new run as stored.

    Raises:
        DagNotFound: the DAG is unknown, stale, or has no serialized version.
        DagHasImportErrors: the DAG's file has import errors.
        ValueError: a naive date, a conf that is not a JSON object, an invalid or reserved run
            id, an unknown ``triggered_by``, a logical date before ``default_args`` start_date.
        ParamValidationError: conf (merged with the params) fails a param's schema.
        DagRunAlreadyExists: a run with this run id or logical date exists; nothing changed.
    """
    if triggered_by not in TRIGGERED_BY:
        raise ValueError(f"triggered_by must be one of {', '.join(sorted(TRIGGERED_BY))}, "
                         f"got {triggered_by!r}")
    now = timezone.utcnow()
    if logical_date is _NOW:
        logical_date = now
    _check_aware(logical_date, "logical_date")
    _check_aware(run_after, "run_after")
    if logical_date is not None:
        logical_date = logical_date.astimezone(UTC)
        if replace_microseconds:
            logical_date = logical_date.replace(microsecond=0)
    run_after = (run_after or now).astimezone(UTC)
    if data_interval is not None:
        _check_aware(data_interval[0], "data_interval_start")
        _check_aware(data_interval[1], "data_interval_end")
        if logical_date is None:
            raise ValueError("a data interval needs a logical date")
    if run_id is not None:
        validate_run_id(run_id)
    engine, dag_bag = _engine_and_bag(engine, dag_bag)

    try:
        with transaction(engine) as conn:
            dag_row = _dag_row(conn, dag_id)
            if dag_row.is_stale:
                raise DagNotFound(f"Dag id {dag_id} is stale (no DAG file defines it any more) "
                                  f"and cannot be triggered")
            if dag_row.has_import_errors:
                raise DagHasImportErrors(f"DAG with dag_id: '{dag_id}' has import errors and "
                                         f"cannot be triggered")
            version_id = latest_version_id(conn, dag_id)
            dag = None if version_id is None else dag_bag.get_dag(version_id, dag_id)
            if dag is None:
                raise DagNotFound(f"Dag id {dag_id} not found in the serialized DAG table")
            run_conf = _check_conf(dag, conf)
            interval: tuple[Any, Any] = (None, None)
            if logical_date is not None:
                _check_start_date(dag, logical_date)
                if data_interval is None:
                    inferred = dag.timetable.infer_manual_data_interval(run_after=logical_date)
                    interval = (inferred.start, inferred.end)
                else:
                    interval = data_interval
            if run_id is None:
                run_id = generate_run_id("manual", stamp=logical_date, run_after=run_after)
            new_id = insert_dag_run(
                conn, dag_id=dag_id, run_id=run_id, logical_date=logical_date,
                run_after=run_after, queued_at=now, start_date=None, end_date=None,
                state=DagRunState.QUEUED.value, run_type="manual", triggered_by=triggered_by,
                triggering_user_name=triggering_user_name, conf=run_conf,
                data_interval_start=interval[0], data_interval_end=interval[1],
                created_dag_version_id=version_id, bundle_version=dag_row.bundle_version,
                clear_number=0, note=note, updated_at=now)
            row = conn.execute(_RUN_BY_ID, {"id": new_id}).one()
    except sa.exc.IntegrityError:
        # Rolled back: a concurrent (or earlier) trigger holds the run id or the logical date.
        existing = _find_existing(engine, dag_id, run_id or "", logical_date)
        if existing is None:
            raise
        raise DagRunAlreadyExists(*existing) from None
    log.info("Triggered Dag %s: run %s (logical_date %s)", dag_id, run_id, logical_date)
    return DagRun.from_row(row)


def in_chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most ``size``: one ``IN`` list per slice keeps every statement
    below SQLite's limit on bind parameters (999 before SQLite 3.32) however many runs or task
    instances there are."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- clear --------------------------------------------------------------------------------------


_DAG_RUN_STATES: Final = frozenset(s.value for s in DagRunState)


def _select_runs(conn: Connection, dag_id: str, *, run_ids: Sequence[str] | None,
                 start_date: datetime | None, end_date: datetime | None) -> list[Any]:
    dr = t.dag_run
    query = sa.select(dr).where(dr.c.dag_id == dag_id)
    if run_ids is not None:
        query = query.where(dr.c.run_id.in_(list(run_ids)))
    if start_date is not None:
        query = query.where(dr.c.logical_date >= start_date)
    if end_date is not None:
        query = query.where(dr.c.logical_date <= end_date)
    return list(conn.execute(query.order_by(dr.c.run_after, dr.c.id)))


def _state_filter(only_failed: bool, only_running: bool) -> frozenset[str] | None:
    if only_failed:
        return frozenset(s.value for s in TaskInstanceState.failed_states)
    if only_running:
        return frozenset({TaskInstanceState.RUNNING.value})
    return None


def _check_states(states: Collection[str], only_failed: bool,
                  only_running: bool) -> frozenset[str]:
    """``states`` as a filter: each a task-instance state, none with only_failed/only_running."""
    if only_failed or only_running:
        raise ValueError("states cannot be combined with only_failed or only_running")
    valid = {s.value for s in TaskInstanceState}
    bad = [state for state in states if state not in valid]
    if bad:
        raise ValueError(f"invalid task instance state(s): {', '.join(map(repr, bad))}")
    return frozenset(states)


def _tasks_for_run(dag: SerializedDAG | None, task_ids: Sequence[str] | None,
                   task_regex: re.Pattern[str] | None, upstream: bool,
                   downstream: bool) -> set[str] | None:
    """The task ids to clear in one run (None: every task instance of the run)."""
    if task_ids is None and task_regex is None:
        return None
    if dag is None:  # the run's DAG version is gone: only the named tasks themselves
        return set(task_ids or ())
    graph = dag.run_graph()
    if task_regex is not None:
        roots = [task_id for task_id in graph.task_ids if task_regex.search(task_id)]
    else:
        roots = [task_id for task_id in task_ids or () if task_id in graph]
    if not roots:
        return set()
    return graph.clear_closure(roots, upstream=upstream, downstream=downstream)


@dataclass(frozen=True, slots=True)
class _Version:
    id: Any
    dag: SerializedDAG


def _latest_version(conn: Connection, dag_bag: DBDagBag, dag_id: str) -> _Version | None:
    """The DAG's latest version (id and DAG), None when it has none."""
    version_id = latest_version_id(conn, dag_id)
    dag = None if version_id is None else dag_bag.get_dag(version_id, dag_id)
    return None if dag is None else _Version(version_id, dag)


def _reset_run_values(run: Any, new_state: str, now: datetime) -> dict[str, Any]:
    """DagRun.set_state's side effects plus clear's (docs/airflow-behaviour.md 3.2, 3.8)."""
    values: dict[str, Any] = {"state": new_state, "start_date": now, "updated_at": now}
    if new_state == DagRunState.QUEUED.value:
        values.update(queued_at=now, start_date=None, end_date=None,
                      last_scheduling_decision=None, clear_number=run.clear_number + 1)
    elif new_state == DagRunState.RUNNING.value:
        values.update(end_date=None)
    elif new_state != run.state:
        values.update(end_date=now)
    return values


def _clear(dag_id: str, *, run_ids: Sequence[str] | None, missing_run: str | None,
           task_ids: Sequence[str] | None, task_regex: str | None,
           start_date: datetime | None, end_date: datetime | None, only_failed: bool,
           only_running: bool, include_upstream: bool, include_downstream: bool,
           dry_run: bool, dag_run_state: DagRunState | str | None, run_on_latest_version: bool,
           engine: Engine | None, dag_bag: DBDagBag | None,
           states: Collection[str] | None = None,
           map_indexes: Mapping[str, Collection[int]] | None = None) -> list[TaskInstanceRow]:
    if only_failed and only_running:
        raise ValueError("only_failed and only_running cannot both be set")
    _check_aware(start_date, "start_date")
    _check_aware(end_date, "end_date")
    if start_date is not None and end_date is not None and start_date > end_date:
        raise ValueError(f"start_date ({start_date.isoformat()}) must not be after end_date "
                         f"({end_date.isoformat()})")
    if task_ids is not None and task_regex is not None:
        raise ValueError("give task_ids or task_regex, not both")
    if isinstance(task_ids, str):
        task_ids = [task_ids]
    if task_ids is not None:
        task_ids = list(task_ids)
        if not task_ids:
            raise ValueError("task_ids must not be empty (None clears every task)")
        bad = [task_id for task_id in task_ids if not isinstance(task_id, str)]
        if bad:
            raise TypeError(f"task ids must be strings, got {bad!r}")
    try:
        pattern = None if task_regex is None else re.compile(task_regex)
    except re.error as exc:
        raise ValueError(f"invalid task_regex {task_regex!r}: {exc}") from None
    if not isinstance(run_on_latest_version, bool):
        raise TypeError(f"run_on_latest_version must be a bool, got {run_on_latest_version!r}")
    if dag_run_state is not None:
        dag_run_state = getattr(dag_run_state, "value", dag_run_state)
        if dag_run_state not in _DAG_RUN_STATES:
            raise ValueError(f"invalid DagRun state: {dag_run_state}")
    if states is not None:
        states = _check_states(states, only_failed, only_running)
    else:
        states = _state_filter(only_failed, only_running)
    engine, dag_bag = _engine_and_bag(engine, dag_bag)

    ti, dr = t.task_instance, t.dag_run
    with transaction(engine) as conn:
        dag_row = _dag_row(conn, dag_id)
        if task_ids is not None:
            latest = dag_bag.get_latest_version_of_dag(dag_id)
            unknown = [x for x in task_ids if latest is not None and not latest.has_task(x)]
            if unknown:
                raise ValueError(f"Task(s) {unknown!r} not found in DAG {dag_id!r}")
        runs = _select_runs(conn, dag_id, run_ids=run_ids, start_date=start_date,
                            end_date=end_date)
        if missing_run is not None and not runs:
            raise DagRunNotFound(missing_run)
        if (run_ids is not None and start_date is None and end_date is None
                and len(runs) < len(set(run_ids))):
            found = {run.run_id for run in runs}
            gone = sorted(set(run_ids) - found)
            raise DagRunNotFound(f"Dag Run id(s) {', '.join(gone)} not found in dag {dag_id}")
        run_by_id = {run.run_id: run for run in runs}
        dags = {run.run_id: dag_bag.get_dag_for_run(run) for run in runs}
        selected_tasks = {run.run_id: _tasks_for_run(dags[run.run_id], task_ids, pattern,
                                                     include_upstream, include_downstream)
                          for run in runs}
        if not runs:
            return []
        chosen = []
        # Sorted runs in chunks: every IN list stays bounded, the rows still come in order.
        for part in in_chunks(sorted(run_by_id)):
            query = (sa.select(ti).where(ti.c.dag_id == dag_id, ti.c.run_id.in_(part))
                     .order_by(ti.c.run_id, ti.c.task_id, ti.c.map_index))
            if states is not None:
                query = query.where(ti.c.state.in_(sorted(states)))
            if engine.dialect.name != "sqlite":
                query = query.with_for_update()
            for row in conn.execute(query):
                tasks = selected_tasks[row.run_id]
                if tasks is not None and row.task_id not in tasks:
                    continue
                wanted = map_indexes.get(row.task_id) if map_indexes else None
                if wanted is not None and row.map_index not in wanted:
                    continue
                chosen.append(row)
        if dry_run or not chosen:
            return [TaskInstanceRow.from_row(row) for row in chosen]

        now = timezone.utcnow()
        # Airflow's clear_task_instances(run_on_latest_version=True): the tasks' retries come
        # from the latest version, to which the finished runs move (below).
        latest_version = (_latest_version(conn, dag_bag, dag_id) if run_on_latest_version
                          else None)
        # A try is archived once: clearing a TI twice before it runs again keeps one copy.
        for part in in_chunks([row.id for row in chosen]):
            archive_tries(conn, ti.c.id.in_(part), now=now)
            # As Airflow's clear_task_instances: a cleared sensor forgets its reschedules.
            delete_reschedules(conn, ti.c.id.in_(part))

        new_ids = []
        for row in chosen:
            new_id = uuid7()  # prepare_db_for_next_try: the next try is a new TI id
            new_ids.append(new_id)
            values: dict[str, Any] = {"id": new_id, "updated_at": now}
            if row.state == TaskInstanceState.RUNNING.value:
                values["state"] = TaskInstanceState.RESTARTING.value
            else:
                dag = latest_version.dag if latest_version is not None else dags[row.run_id]
                task = dag.task_dict.get(row.task_id) if dag is not None else None
                max_tries = (row.try_number + task.retries if task is not None
                             else max(row.max_tries, row.try_number))
                values.update(state=None, max_tries=max_tries, external_executor_id=None,
                              next_method=None, next_kwargs=None)
            conn.execute(ti.update().where(ti.c.id == row.id).values(**values))

        if dag_run_state is not None:
            touched = {row.run_id for row in chosen}
            reset = []
            for run_id in sorted(touched):
                run = run_by_id[run_id]
                if run.state not in {s.value for s in DagRunState.finished}:
                    continue  # queued and running runs are left as they are
                conn.execute(dr.update().where(dr.c.id == run.id)
                             .values(**_reset_run_values(run, dag_run_state, now)))
                reset.append(run_id)
            if latest_version is not None:
                for part in in_chunks(reset):
                    move_to_version(conn, dag_id=dag_id, run_ids=part,
                                    version_id=latest_version.id,
                                    task_ids=latest_version.dag.task_dict.keys(),
                                    bundle_version=dag_row.bundle_version, now=now)
        cleared = sorted((row for part in in_chunks(new_ids) for row in conn.execute(
            sa.select(ti).where(ti.c.id.in_(part)))),
            key=lambda row: (row.run_id, row.task_id, row.map_index))
    log.info("Cleared %d task instance(s) of Dag %s", len(cleared), dag_id)
    return [TaskInstanceRow.from_row(row) for row in cleared]


def clear_task_instances(dag_id: str, *, task_ids: Sequence[str] | None = None,
                         task_regex: str | None = None, run_id: str | None = None,
                         start_date: datetime | None = None, end_date: datetime | None = None,
                         only_failed: bool = False, only_running: bool = False,
                         include_upstream: bool = False, include_downstream: bool = False,
                         dry_run: bool = False,
                         dag_run_state: DagRunState | str | None = DagRunState.QUEUED,
                         run_on_latest_version: bool = False, engine: Engine | None = None,
                         dag_bag: DBDagBag | None = None,
                         states: Collection[str] | None = None,
                         map_indexes: Mapping[str, Collection[int]] | None = None
                         ) -> list[TaskInstanceRow]:
    """Clear task instances of a DAG so they run again (Airflow's ``dag.clear``,
    docs/airflow-behaviour.md 3.8).

    Per task instance: a copy goes to ``task_instance_history`` (once per try), it gets a new
    id, and a running one becomes ``restarting`` (its worker stops and it retries); any other gets
    no state and ``max_tries = try_number + task.retries`` (the task as in the run's own DAG
    version). ``try_number`` is kept: it grows when the task is scheduled again. The runs of the
    cleared task instances that had finished (success/failed) go to ``dag_run_state``: queued
    (``start_date`` and ``last_scheduling_decision`` reset, ``clear_number`` + 1) by default;
    queued and running runs are left alone. One transaction.

    Args:
        dag_id: the DAG.
        task_ids: the tasks to clear (default: all); or ``task_regex``, a pattern searched in the
            task ids of each run's DAG version.
        run_id: only this run.
        start_date, end_date: only runs whose logical date is in ``[start_date, end_date]``
            (aware; runs without a logical date are left out when either is given).
        only_failed: only task instances in failed / upstream_failed.
        only_running: only running task instances.
        include_upstream, include_downstream: add the tasks' upstream / downstream relatives (and
            the setups and teardowns clearing needs), per run's DAG version.
        dry_run: change nothing; return what would be cleared.
        dag_run_state: the state for finished runs that are touched; None leaves runs alone.
        run_on_latest_version: as Airflow's: the cleared task instances take their retries from
            the DAG's latest version, and the finished runs reset to ``dag_run_state`` move to
            it (their ``created_dag_version_id``, their task instances' ``dag_version_id``,
            their ``bundle_version`` unless the DAG has none; instances of tasks the version
            lacks become ``removed``). Default False: each run keeps its own version.
        engine: the metadata database (default: the dag bag's, else the configured one).
        dag_bag: where DAG versions are read from (default: a throw-away :class:`DBDagBag`).
        states: only task instances in these states (excludes only_failed and only_running;
            the REST API's ``POST /api/v1/dags/{dag_id}/clear``, issue 13's deviation 1).
        map_indexes: task id → the map indexes of it to clear (Airflow 3's ``(task_id,
            map_index)`` items of ``task_ids``); a task not named here is cleared at every map
            index, its upstream/downstream relatives included.

    Returns:
        The task instances cleared, as they are now (with ``dry_run``: as they are, unchanged),
        ordered by run id, task id and map index.

    Raises:
        DagNotFound: unknown DAG.
        DagRunNotFound: ``run_id`` does not exist.
        ValueError: only_failed with only_running, start_date after end_date, a naive date,
            run_id with start_date/end_date, task_ids with task_regex, an empty or unknown task
            id, a bad regex, an invalid ``dag_run_state``.
        TypeError: ``run_on_latest_version`` is not a bool.
    """
    if run_id is not None and (start_date is not None or end_date is not None):
        raise ValueError("run_id cannot be combined with start_date or end_date")
    return _clear(dag_id, run_ids=None if run_id is None else [run_id],
                  missing_run=None if run_id is None else f"Dag Run id {run_id} not found in "
                                                          f"dag {dag_id}",
                  task_ids=task_ids, task_regex=task_regex, start_date=start_date,
                  end_date=end_date, only_failed=only_failed, only_running=only_running,
                  include_upstream=include_upstream, include_downstream=include_downstream,
                  dry_run=dry_run, dag_run_state=dag_run_state,
                  run_on_latest_version=run_on_latest_version, engine=engine, dag_bag=dag_bag,
                  states=states, map_indexes=map_indexes)


def clear_dag_runs(dag_id: str, *, run_ids: Iterable[str] | None = None,
                   start_date: datetime | None = None, end_date: datetime | None = None,
                   only_failed: bool = False, dry_run: bool = False,
                   dag_run_state: DagRunState | str | None = DagRunState.QUEUED,
                   run_on_latest_version: bool = False, engine: Engine | None = None,
                   dag_bag: DBDagBag | None = None) -> list[TaskInstanceRow]:
    """Clear whole runs (every task instance, or the failed ones) so they run again.

    The REST ``POST .../dagRuns/{run_id}/clear`` semantics over several runs; the per task
    instance and per run rules are :func:`clear_task_instances`'.

    Args:
        dag_id: the DAG.
        run_ids: the runs (default: every run in the date range).
        start_date, end_date: only runs whose logical date is in ``[start_date, end_date]``.
        only_failed: only failed / upstream_failed task instances.
        dry_run: change nothing; return what would be cleared.
        dag_run_state: the state for finished runs that are touched; None leaves runs alone.
        run_on_latest_version, engine, dag_bag: as :func:`clear_task_instances`.

    Returns:
        The task instances cleared (see :func:`clear_task_instances`).

    Raises:
        DagNotFound: unknown DAG.
        DagRunNotFound: a run id that does not exist (the message names it).
        ValueError: start_date after end_date, a naive date, an empty ``run_ids``.
    """
    ids = None if run_ids is None else list(run_ids)
    if ids is not None and not ids:
        raise ValueError("run_ids must not be empty (None clears every run)")
    missing = None
    if ids is not None and len(set(ids)) == 1:
        missing = f"The DagRun with dag_id: `{dag_id}` and run_id: `{ids[0]}` was not found"
    return _clear(dag_id, run_ids=ids, missing_run=missing, task_ids=None, task_regex=None,
                  start_date=start_date, end_date=end_date, only_failed=only_failed,
                  only_running=False, include_upstream=False, include_downstream=False,
                  dry_run=dry_run, dag_run_state=dag_run_state,
                  run_on_latest_version=run_on_latest_version, engine=engine, dag_bag=dag_bag)
