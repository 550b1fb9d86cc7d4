"""DAG runs as the REST API lists, shows, changes and deletes them (Airflow's ``/dagRuns``
routes, docs/airflow-rest-api.md A.2 2-5, B.2).

Design note. Triggering and clearing are :mod:`dagcore.api.common`'s (shared with the CLI);
this module holds the rest: a filtered, ordered page of runs (``dag_id=None`` lists every DAG's,
Airflow's ``~``), one run, a run's new state or note, and deleting a run (its task instances go
with it by the foreign keys' ``ON DELETE CASCADE``). Setting a state follows Airflow's
``set_dag_run_state_to_success/failed/queued`` (``api/common/mark_tasks.py``): success marks the
unfinished task instances success, failed marks the running ones failed and the other
unfinished ones skipped, queued queues the run again with no start or end date. Each change is
one transaction. Errors are typed (:class:`DagRunNotFound`, :class:`InvalidOrderBy`); the route
layer maps them to HTTP answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dagcore.api.common import DagNotFound, DagRun, DagRunNotFound
from dagcore.api.dags import DateRange, InvalidOrderBy, any_equal, order_clauses
from dagcore.db import transaction
from dagcore.models import tables as t
from dagcore.state import DagRunState, TaskInstanceState
from dagcore.utils import timezone

__all__ = [
    "ORDER_BY_FIELDS",
    "DagNotFound",
    "DagRunListing",
    "DagRunNotFound",
    "DateRange",
    "InvalidOrderBy",
    "RANGE_COLUMNS",
    "RunFilters",
    "dag_exists",
    "dag_versions_of",
    "delete_dag_run",
    "get_dag_run",
    "list_dag_runs",
    "patch_dag_run",
    "run_duration",
    "run_id_at_logical_date",
]

_dr = t.dag_run

# Airflow 3's sortable fields of GET /dagRuns (routes/public/dag_run.py, SortParam); v1's
# are a subset (its names are mapped by the caller). "dag_run_id" is an alias of run_id.
ORDER_BY_FIELDS: Final = ("id", "state", "dag_id", "run_id", "dag_run_id", "logical_date",
                          "run_after", "start_date", "end_date", "updated_at", "conf",
                          "duration")

SETTABLE_STATES: Final = frozenset({DagRunState.SUCCESS.value, DagRunState.FAILED.value,
                                    DagRunState.QUEUED.value})

RANGE_COLUMNS: Final = ("logical_date", "start_date", "end_date", "run_after", "updated_at")
"""The columns :class:`RunFilters` bounds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFilters:
    """The filters of a run listing (Airflow 3's ``GET /dagRuns``): ``states`` and
    ``run_types`` (None matches NULL), ``dag_versions`` (version numbers of the version a run
    was created with), ``run_id_pattern`` and ``triggering_user_name_pattern`` (SQL ``LIKE``
    substrings, case-insensitive), and ``ranges``: column name (one of
    :data:`RANGE_COLUMNS`) to :class:`DateRange`. ``coalesce_open_dates`` (Airflow 3's rule)
    lets a run not started (ended) yet count as starting (ending) now; Airflow 2's v1 compares
    the stored dates only."""

    states: Sequence[str | None] = ()
    run_types: Sequence[str | None] = ()
    dag_versions: Sequence[int] = ()
    run_id_pattern: str | None = None
    triggering_user_name_pattern: str | None = None
    ranges: Mapping[str, DateRange] = field(default_factory=dict)
    coalesce_open_dates: bool = True

    def conditions(self, now: datetime) -> list[Any]:
        """SQL conditions; ``now`` stands in for a missing start or end date."""
        found: list[Any] = []
        if self.states:
            found.append(any_equal(_dr.c.state, self.states))
        if self.run_types:
            found.append(any_equal(_dr.c.run_type, self.run_types))
        if self.dag_versions:
            dv = t.dag_version
            found.append(sa.exists().where(dv.c.id == _dr.c.created_dag_version_id,
                                           dv.c.version_number.in_(list(self.dag_versions))))
        if self.run_id_pattern:
            found.append(_dr.c.run_id.ilike(f"%{self.run_id_pattern}%"))
        if self.triggering_user_name_pattern:
            found.append(_dr.c.triggering_user_name.ilike(
                f"%{self.triggering_user_name_pattern}%"))
        for name, bounds in self.ranges.items():
            if name not in RANGE_COLUMNS:
                raise ValueError(f"cannot filter runs by {name!r}: one of "
                                 f"{', '.join(RANGE_COLUMNS)}")
            column = _dr.c[name]
            if self.coalesce_open_dates and name in ("start_date", "end_date"):
                column = sa.func.coalesce(column, sa.literal(now, t.dag_run.c[name].type))
            found.extend(bounds.conditions(column))
        return found


@dataclass(frozen=True, slots=True)
class DagRunListing:
    """One page of runs and how many match in all."""

    runs: list[DagRun]
    total: int


def _order_column(name: str, dialect: str) -> Any:
    if name == "dag_run_id":
        return _dr.c.run_id
    if name == "conf":
        return sa.cast(_dr.c.conf, sa.Text)
    if name == "duration":
        return run_duration(dialect)
    return _dr.c[name]


def run_duration(dialect: str) -> Any:
    """A run's duration in seconds as SQL (NULL unless it has both dates), Airflow's
    ``DagRun.duration`` expression."""
    if dialect == "postgresql":
        return sa.extract("epoch", _dr.c.end_date - _dr.c.start_date)
    # SQLite keeps UTC text; julianday() reads it as days.
    return (sa.func.julianday(_dr.c.end_date) - sa.func.julianday(_dr.c.start_date)) * 86400.0


def dag_exists(engine: Engine, dag_id: str) -> bool:
    """Whether the DAG is in the ``dag`` table."""
    with engine.connect() as conn:
        return conn.execute(sa.select(t.dag.c.dag_id)
                            .where(t.dag.c.dag_id == dag_id)).first() is not None


def list_dag_runs(engine: Engine, dag_id: str | None, *, limit: int, offset: int = 0,
                  filters: RunFilters = RunFilters(), order_by: Sequence[str] = ("id",),
                  order_by_allowed: Sequence[str] = ORDER_BY_FIELDS) -> DagRunListing:
    """A page of the DAG's runs (every DAG's when ``dag_id`` is None) and the number matching,
    ordered as Airflow's ``SortParam`` (:func:`dagcore.api.dags.order_clauses`).

    Raises:
        InvalidOrderBy: a bad ``order_by``.
        ValueError: a range on a column not in :data:`RANGE_COLUMNS`.
    """
    dialect = engine.dialect.name
    ordering = order_clauses(order_by, order_by_allowed,
                             lambda name: _order_column(name, dialect), _dr.c.id)
    conditions = filters.conditions(timezone.utcnow())
    if dag_id is not None:
        conditions.append(_dr.c.dag_id == dag_id)
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(_dr)
                             .where(*conditions)).scalar_one()
        rows = conn.execute(sa.select(_dr).where(*conditions).order_by(*ordering)
                            .limit(limit).offset(offset)).all()
    return DagRunListing(runs=[DagRun.from_row(row) for row in rows], total=total)


def _run_row(conn: Connection, dag_id: str, run_id: str) -> Any:
    row = conn.execute(sa.select(_dr).where(_dr.c.dag_id == dag_id,
                                            _dr.c.run_id == run_id)).one_or_none()
    if row is None:
        raise DagRunNotFound(f"The DagRun with dag_id: `{dag_id}` and run_id: `{run_id}` was "
                             f"not found")
    return row


def get_dag_run(engine: Engine, dag_id: str, run_id: str) -> DagRun:
    """One run.

    Raises:
        DagRunNotFound: no such run.
    """
    with engine.connect() as conn:
        return DagRun.from_row(_run_row(conn, dag_id, run_id))


def run_id_at_logical_date(engine: Engine, dag_id: str, logical_date: datetime) -> str | None:
    """The id of the DAG's run at ``logical_date`` (aware), None when there is none."""
    with engine.connect() as conn:
        return conn.execute(sa.select(_dr.c.run_id).where(
            _dr.c.dag_id == dag_id, _dr.c.logical_date == logical_date)).scalar_one_or_none()


# Built once (every run answered runs it): no construction or cache key per call.
_VERSION_BY_ID = sa.select(t.dag_version).where(t.dag_version.c.id == sa.bindparam("id"))


# Version rows answered, by (database URL, id): the columns an answer shows never change once
# a version is written, and ids are uuids, so a kept row is never stale. Bounded; a clear
# drops the whole dict when it is full (no bookkeeping per hit).
_VERSION_ROWS: dict[tuple[str, Any], dict[str, Any]] = {}
_VERSION_ROWS_MAX = 4096


def dag_versions_of(engine: Engine, run: DagRun) -> list[dict[str, Any]]:
    """The DAG version the run was created with (Airflow 3's ``dag_versions``), as rows (a
    trigger's answer read it with a second query: a third of its time, benchmarks/api_bench.py)."""
    if run.created_dag_version_id is None:
        return []
    key = (str(engine.url), run.created_dag_version_id)
    cached = _VERSION_ROWS.get(key)
    if cached is not None:
        return [cached]
    with engine.connect() as conn:
        row = conn.execute(_VERSION_BY_ID, {"id": run.created_dag_version_id}).first()
    if row is None:
        return []
    if len(_VERSION_ROWS) >= _VERSION_ROWS_MAX:
        _VERSION_ROWS.clear()
    _VERSION_ROWS[key] = found = dict(row._mapping)
    return [found]


_UNSET: Final[Any] = object()


def _state_values(run: Any, state: str, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"state": state, "updated_at": now}
    if state == DagRunState.QUEUED.value:
        values.update(queued_at=now, start_date=None, end_date=None,
                      last_scheduling_decision=None)
    elif run.state != state or run.end_date is None:
        values.update(end_date=now)
    return values


def _mark_task_instances(conn: Connection, run: Any, state: str, now: datetime) -> None:
    """Airflow's mark_tasks for a whole run (see the module note)."""
    ti = t.task_instance
    unfinished = [s.value for s in TaskInstanceState.unfinished if s is not None]
    where = (ti.c.dag_id == run.dag_id, ti.c.run_id == run.run_id)
    if state == DagRunState.SUCCESS.value:
        conn.execute(ti.update().where(*where, sa.or_(ti.c.state.is_(None),
                                                      ti.c.state.in_(unfinished)))
                     .values(state=TaskInstanceState.SUCCESS.value, updated_at=now,
                             end_date=now))
    elif state == DagRunState.FAILED.value:
        conn.execute(ti.update().where(*where, ti.c.state == TaskInstanceState.RUNNING.value)
                     .values(state=TaskInstanceState.FAILED.value, updated_at=now,
                             end_date=now))
        conn.execute(ti.update().where(*where, sa.or_(ti.c.state.is_(None),
                                                      ti.c.state.in_(unfinished)))
                     .values(state=TaskInstanceState.SKIPPED.value, updated_at=now,
                             end_date=now))


def patch_dag_run(engine: Engine, dag_id: str, run_id: str, *, state: str | None = None,
                  note: Any = _UNSET) -> DagRun:
    """Set the run's state (success/failed/queued, with its task instances as the module note
    says) and/or its note (a string or None); one transaction.

    Raises:
        DagRunNotFound: no such run.
        ValueError: ``state`` is not one of success, failed, queued.
    """
    if state is not None and state not in SETTABLE_STATES:
        raise ValueError(f"invalid DagRun state {state!r}: must be one of "
                         f"{', '.join(sorted(SETTABLE_STATES))}")
    now = timezone.utcnow()
    with transaction(engine) as conn:
        run = _run_row(conn, dag_id, run_id)
        values: dict[str, Any] = {}
        if state is not None:
            values.update(_state_values(run, state, now))
            _mark_task_instances(conn, run, state, now)
        if note is not _UNSET:
            values.update(note=note, updated_at=now)
        if values:
            conn.execute(_dr.update().where(_dr.c.id == run.id).values(**values))
        return DagRun.from_row(conn.execute(sa.select(_dr).where(_dr.c.id == run.id)).one())


def delete_dag_run(engine: Engine, dag_id: str, run_id: str) -> None:
    """Delete the run and (by cascade) its task instances.

    Raises:
        DagRunNotFound: no such run.
    """
    with transaction(engine) as conn:
        deleted = conn.execute(_dr.delete().where(_dr.c.dag_id == dag_id,
                                                  _dr.c.run_id == run_id)).rowcount
    if not deleted:
        raise DagRunNotFound(f"The DagRun with dag_id: `{dag_id}` and run_id: `{run_id}` was "
                             f"not found")
