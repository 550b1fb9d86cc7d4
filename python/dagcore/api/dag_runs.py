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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dagcore.api.common import DagNotFound, DagRun, DagRunNotFound
from dagcore.api.dags import InvalidOrderBy
from dagcore.db import transaction
from dagcore.models import tables as t
from dagcore.state import DagRunState, TaskInstanceState
from dagcore.utils import timezone

__all__ = [
    "ORDER_BY_FIELDS",
    "DagNotFound",
    "DagRunListing",
    "DagRunNotFound",
    "InvalidOrderBy",
    "RunFilters",
    "dag_exists",
    "dag_versions_of",
    "delete_dag_run",
    "get_dag_run",
    "list_dag_runs",
    "patch_dag_run",
    "run_id_at_logical_date",
]

_dr = t.dag_run

# Airflow 3's sortable fields of GET /dagRuns (routes/public/dag_run.py, SortParam); v1's
# are a subset (its names are mapped by the caller). "dag_run_id" is an alias of run_id.
ORDER_BY_FIELDS: Final = ("id", "state", "dag_id", "run_id", "dag_run_id", "logical_date",
                          "run_after", "start_date", "end_date", "updated_at", "conf",
                          "run_type")

SETTABLE_STATES: Final = frozenset({DagRunState.SUCCESS.value, DagRunState.FAILED.value,
                                    DagRunState.QUEUED.value})


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFilters:
    """Range and value filters of a run listing; each bound is inclusive, None means none."""

    states: Sequence[str] = ()
    run_types: Sequence[str] = ()
    logical_date_gte: datetime | None = None
    logical_date_lte: datetime | None = None
    start_date_gte: datetime | None = None
    start_date_lte: datetime | None = None
    end_date_gte: datetime | None = None
    end_date_lte: datetime | None = None
    run_after_gte: datetime | None = None
    run_after_lte: datetime | None = None
    updated_at_gte: datetime | None = None
    updated_at_lte: datetime | None = None

    def conditions(self) -> list[Any]:
        found: list[Any] = []
        if self.states:
            found.append(_dr.c.state.in_(list(self.states)))
        if self.run_types:
            found.append(_dr.c.run_type.in_(list(self.run_types)))
        for column in ("logical_date", "start_date", "end_date", "run_after", "updated_at"):
            low, high = getattr(self, f"{column}_gte"), getattr(self, f"{column}_lte")
            if low is not None:
                found.append(_dr.c[column] >= low)
            if high is not None:
                found.append(_dr.c[column] <= high)
        return found


@dataclass(frozen=True, slots=True)
class DagRunListing:
    """One page of runs and how many match in all."""

    runs: list[DagRun]
    total: int


def _order_column(name: str) -> Any:
    if name == "dag_run_id":
        return _dr.c.run_id
    if name == "conf":
        return sa.cast(_dr.c.conf, sa.Text)
    return _dr.c[name]


def _order_by(order_by: Sequence[str], allowed: Sequence[str]) -> list[Any]:
    """SQL ordering (``-`` prefix: descending), id last as a tiebreaker.

    Raises:
        InvalidOrderBy: a field not in ``allowed`` (Airflow's text).
    """
    clauses: list[Any] = []
    for raw in order_by:
        name = raw[1:] if raw.startswith("-") else raw
        if name not in allowed:
            raise InvalidOrderBy(f"Ordering with '{name}' is disallowed or the attribute does "
                                 f"not exist on the model", name="order_by", value=raw)
        column = _order_column(name)
        clauses.append(column.desc() if raw.startswith("-") else column.asc())
    clauses.append(_dr.c.id.asc())
    return clauses


def dag_exists(engine: Engine, dag_id: str) -> bool:
    """Whether the DAG is in the ``dag`` table."""
    with engine.connect() as conn:
        return conn.execute(sa.select(t.dag.c.dag_id)
                            .where(t.dag.c.dag_id == dag_id)).first() is not None


def list_dag_runs(engine: Engine, dag_id: str | None, *, limit: int, offset: int = 0,
                  filters: RunFilters = RunFilters(), order_by: Sequence[str] = ("id",),
                  order_by_allowed: Sequence[str] = ORDER_BY_FIELDS) -> DagRunListing:
    """A page of the DAG's runs (every DAG's when ``dag_id`` is None) and the number matching.

    Raises:
        InvalidOrderBy: an ``order_by`` field outside ``order_by_allowed``.
    """
    ordering = _order_by(order_by, order_by_allowed)
    conditions = filters.conditions()
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


def dag_versions_of(engine: Engine, run: DagRun) -> list[dict[str, Any]]:
    """The DAG version the run was created with (Airflow 3's ``dag_versions``), as rows."""
    if run.created_dag_version_id is None:
        return []
    with engine.connect() as conn:
        row = conn.execute(_VERSION_BY_ID, {"id": run.created_dag_version_id}).first()
    return [] if row is None else [dict(row._mapping)]


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
