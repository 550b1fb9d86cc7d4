"""Task instances of a run for the REST API: list (filters, ordering, paging), get, set a
state, and the run dates every answer carries (``logical_date``, ``run_after``).

Airflow 3 (``core_api/routes/public/task_instances.py``, docs/airflow-rest-api.md B.2) orders
by ``map_index`` by default; the sortable fields here are the ``task_instance`` columns the API
shows. A run that does not exist is an error (404 in the route), an empty run is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dagcore.api.common import (
    DagNotFound,
    DagRunNotFound,
    TaskInstanceRow,
    clear_task_instances,
    in_chunks,
)
from dagcore.api.user_input import UserInputError
from dagcore.db import transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.models import tables as t
from dagcore.serialization import SerializedDAG
from dagcore.state import TaskInstanceState
from dagcore.utils import timezone

__all__ = [
    "InvalidTaskInstanceOrder",
    "InvalidTaskInstanceState",
    "ORDER_BY_FIELDS",
    "TaskInstanceInfo",
    "TaskInstanceListing",
    "TaskInstanceNotFound",
    "SETTABLE_STATES",
    "TaskNotFound",
    "get_task_instance",
    "list_task_instances",
    "set_task_instance_note",
    "set_task_instance_state",
    "with_run_dates",
]

ORDER_BY_FIELDS: Final = ("id", "task_id", "map_index", "state", "start_date", "end_date",
                          "duration", "try_number", "pool", "queue", "priority_weight",
                          "operator", "updated_at")
# A state filter may name "no_status" for a task instance without one (Airflow 3's ``state``
# query parameter, which maps it to NULL).
NO_STATUS: Final = "no_status"
# The states a user may set (Airflow 3's PatchTaskInstanceBody).
SETTABLE_STATES: Final = ("success", "failed", "skipped")


class TaskInstanceNotFound(LookupError):
    """No task instance of the run has that task id and map index."""


class TaskNotFound(LookupError):
    """The DAG's latest version has no task with that id."""


class InvalidTaskInstanceOrder(UserInputError):
    """An ``order_by`` field task instances cannot be sorted by (Airflow's message)."""


class InvalidTaskInstanceState(UserInputError):
    """A ``state`` filter value that is not a task-instance state."""


@dataclass(frozen=True, slots=True)
class TaskInstanceInfo:
    """A task instance, its run's dates and the DAG version it ran with (a ``dag_version`` row:
    the instance's own ``dag_version_id``, else its run's ``created_dag_version_id``; None when
    neither is known)."""

    ti: TaskInstanceRow
    logical_date: datetime | None
    run_after: datetime | None
    dag_version: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class TaskInstanceListing:
    task_instances: list[TaskInstanceInfo]
    total: int


def _versions(conn: Connection, ids: Iterable[Any]) -> dict[Any, dict[str, Any]]:
    """``dag_version`` rows by id (one query per :func:`in_chunks` slice)."""
    dv = t.dag_version
    wanted = sorted({i for i in ids if i is not None}, key=str)
    found: dict[Any, dict[str, Any]] = {}
    for part in in_chunks(wanted):
        for row in conn.execute(sa.select(dv.c.id, dv.c.version_number, dv.c.dag_id,
                                          dv.c.bundle_name, dv.c.bundle_version,
                                          dv.c.created_at).where(dv.c.id.in_(list(part)))):
            found[row.id] = dict(row._mapping)
    return found


def _infos(conn: Connection, rows: Iterable[TaskInstanceRow], runs: Mapping[Any, Any], *,
           by_dag: bool = False) -> list[TaskInstanceInfo]:
    """``rows`` with their runs' dates (``runs`` by run id, or by ``(dag_id, run_id)`` with
    ``by_dag``: rows of several DAGs) and versions."""
    rows = list(rows)

    def run_of(row: TaskInstanceRow) -> Any:
        return runs.get((row.dag_id, row.run_id) if by_dag else row.run_id)

    def version_id(row: TaskInstanceRow) -> Any:
        return row.dag_version_id or getattr(run_of(row), "created_dag_version_id", None)

    versions = _versions(conn, (version_id(row) for row in rows))
    return [TaskInstanceInfo(row, getattr(run_of(row), "logical_date", None),
                             getattr(run_of(row), "run_after", None),
                             versions.get(version_id(row))) for row in rows]


def _run(conn: Connection, dag_id: str, run_id: str) -> Any:
    row = conn.execute(sa.select(t.dag_run.c.logical_date, t.dag_run.c.run_after,
                                 t.dag_run.c.created_dag_version_id).where(
        t.dag_run.c.dag_id == dag_id, t.dag_run.c.run_id == run_id)).one_or_none()
    if row is None:
        raise DagRunNotFound(f"The DagRun with dag_id: `{dag_id}` and run_id: `{run_id}` was "
                             f"not found")
    return row


def _ordering(order_by: Sequence[str]) -> list[Any]:
    ti = t.task_instance
    clauses: list[Any] = []
    for raw in order_by:
        name = raw[1:] if raw.startswith("-") else raw
        if name not in ORDER_BY_FIELDS:
            raise InvalidTaskInstanceOrder(
                f"Ordering with '{name}' is disallowed or the attribute does not exist on the "
                f"model", name="order_by", value=raw)
        clauses.append(ti.c[name].desc() if raw.startswith("-") else ti.c[name].asc())
    clauses.extend([ti.c.task_id.asc(), ti.c.map_index.asc()])  # a stable order between pages
    return clauses


def _state_condition(states: Sequence[str]) -> Any:
    valid = {s.value for s in TaskInstanceState} | {NO_STATUS}
    bad = [s for s in states if s not in valid]
    if bad:
        raise InvalidTaskInstanceState(
            f"Invalid value for state. Valid values are {', '.join(sorted(valid))}; got "
            f"{', '.join(map(repr, bad))}", name="state", value=bad)
    column = t.task_instance.c.state
    named = [s for s in states if s != NO_STATUS]
    conditions = [column.in_(named)] if named else []
    if NO_STATUS in states:
        conditions.append(column.is_(None))
    return sa.or_(*conditions)


def list_task_instances(engine: Engine, dag_id: str | None, run_id: str | None, *,
                        limit: int, offset: int = 0, states: Sequence[str] = (),
                        task_id: str | None = None,
                        order_by: Sequence[str] = ("map_index",),
                        mapped_only: bool = False) -> TaskInstanceListing:
    """A page of the run's task instances and how many match (``mapped_only``: the instances
    of mapped tasks, map index 0 and up).

    ``dag_id`` and/or ``run_id`` None (Airflow 3's ``~``) lists the instances of every DAG /
    every run (docs/airflow-rest-api.md B.2); such a page is ordered by ``order_by`` then by
    the primary key (Airflow's ``SortParam`` tiebreaker; the default order through
    :func:`_by_map_index`), a page of one run by ``order_by`` then task id and map index.

    Raises:
        DagRunNotFound: no such run (Airflow 3's 404 text).
        DagNotFound: ``run_id`` None and no such DAG.
        InvalidTaskInstanceOrder, InvalidTaskInstanceState: a bad ``order_by`` or ``state``.
    """
    ordering = _ordering(order_by)
    ti = t.task_instance
    one_run = dag_id is not None and run_id is not None
    if not one_run:
        ordering = ordering[:-2] + [ti.c.id.asc()]
    conditions = []
    if dag_id is not None:
        conditions.append(ti.c.dag_id == dag_id)
    if run_id is not None:
        conditions.append(ti.c.run_id == run_id)
    if states:
        conditions.append(_state_condition(states))
    if task_id is not None:
        conditions.append(ti.c.task_id == task_id)
    if mapped_only:
        conditions.append(ti.c.map_index >= 0)
    with engine.connect() as conn:
        if one_run:
            assert dag_id is not None and run_id is not None
            runs: dict[Any, Any] = {run_id: _run(conn, dag_id, run_id)}
        else:
            _check_exists(conn, dag_id, run_id)
        total = conn.execute(sa.select(sa.func.count()).select_from(ti)
                             .where(*conditions)).scalar_one()
        if not one_run and list(order_by) == ["map_index"]:
            found = _by_map_index(conn, conditions, limit, offset)
        else:
            found = conn.execute(sa.select(ti).where(*conditions).order_by(*ordering)
                                 .limit(limit).offset(offset)).all()
        rows = [TaskInstanceRow.from_row(row) for row in found]
        if one_run:
            return TaskInstanceListing(_infos(conn, rows, runs), total)
        return TaskInstanceListing(_infos(conn, rows, _runs_of(conn, rows), by_dag=True),
                                   total)


def _by_map_index(conn: Connection, conditions: Sequence[Any], limit: int, offset: int
                  ) -> list[Any]:
    """The page ``ORDER BY map_index, id LIMIT limit OFFSET offset`` of the task instances
    matching ``conditions``, without an index on ``map_index`` (docs/performance.md section 5).

    A map index is -1 (an unmapped task) or 0 and up, so the order is the unmapped instances by
    id, then the mapped ones by (map_index, id). The unmapped part is a walk of the primary key
    that stops after the page (nearly every instance is unmapped); the mapped part is read only
    when the page reaches past the unmapped instances. An index leading with ``map_index``
    would serve the order directly, but the scheduler's ``map_index = -1`` lookups of a batch
    of runs' instances would take it on SQLite (no statistics): every instance of the table.
    """
    ti = t.task_instance
    unmapped = conn.execute(sa.select(ti).where(*conditions, ti.c.map_index == -1)
                            .order_by(ti.c.id).limit(limit).offset(offset)).all()
    if len(unmapped) >= limit:
        return list(unmapped)
    if unmapped:
        before = offset + len(unmapped)  # every unmapped instance is at or before this page
    else:
        before = conn.execute(sa.select(sa.func.count()).select_from(ti)
                              .where(*conditions, ti.c.map_index == -1)).scalar_one()
    mapped = conn.execute(sa.select(ti).where(*conditions, ti.c.map_index != -1)
                          .order_by(ti.c.map_index, ti.c.id).limit(limit - len(unmapped))
                          .offset(max(0, offset - before))).all()
    return [*unmapped, *mapped]


def _check_exists(conn: Connection, dag_id: str | None, run_id: str | None) -> None:
    """Airflow 3's 404s of a listing across DAGs or runs: the named run (of any DAG when
    ``dag_id`` is None), the named DAG."""
    dr = t.dag_run
    if run_id is not None:
        found = sa.select(dr.c.id).where(dr.c.run_id == run_id)
        if dag_id is not None:
            found = found.where(dr.c.dag_id == dag_id)
        if conn.execute(found.limit(1)).first() is None:
            raise DagRunNotFound(f"DagRun with run_id: `{run_id}` was not found")
    elif dag_id is not None and conn.execute(
            sa.select(t.dag.c.dag_id).where(t.dag.c.dag_id == dag_id)).first() is None:
        raise DagNotFound(f"DAG with dag_id: `{dag_id}` was not found")


def _runs_of(conn: Connection, rows: Sequence[TaskInstanceRow]) -> dict[tuple[str, str], Any]:
    """The dates and creating version of the rows' runs, by ``(dag_id, run_id)``: one query per
    :func:`in_chunks` slice of the pairs, an ``OR`` of ``dag_id = ? AND run_id = ?`` (each an
    index lookup; SQLite scans an index for a row-value ``IN``)."""
    dr = t.dag_run
    pairs = sorted({(row.dag_id, row.run_id) for row in rows})
    found: dict[tuple[str, str], Any] = {}
    for part in in_chunks(pairs, 200):
        for run in conn.execute(sa.select(dr.c.dag_id, dr.c.run_id, dr.c.logical_date,
                                          dr.c.run_after, dr.c.created_dag_version_id)
                                .where(sa.or_(*(sa.and_(dr.c.dag_id == d, dr.c.run_id == r)
                                                for d, r in part)))):
            found[(run.dag_id, run.run_id)] = run
    return found


def get_task_instance(engine: Engine, dag_id: str, run_id: str, task_id: str,
                      map_index: int = -1) -> TaskInstanceInfo:
    """One task instance of the run.

    Raises:
        DagRunNotFound: no such run.
        TaskInstanceNotFound: the run has no such task instance.
    """
    ti = t.task_instance
    with engine.connect() as conn:
        run = _run(conn, dag_id, run_id)
        row = conn.execute(sa.select(ti).where(
            ti.c.dag_id == dag_id, ti.c.run_id == run_id, ti.c.task_id == task_id,
            ti.c.map_index == map_index)).one_or_none()
        if row is None:
            raise TaskInstanceNotFound(
                f"The Task Instance with dag_id: `{dag_id}`, run_id: `{run_id}`, task_id: "
                f"`{task_id}` and map_index: `{map_index}` was not found")
        return _infos(conn, [TaskInstanceRow.from_row(row)], {run_id: run})[0]


def with_run_dates(engine: Engine, rows: Iterable[TaskInstanceRow]) -> list[TaskInstanceInfo]:
    """``rows`` (of one DAG) with their runs' dates, in the same order."""
    rows = list(rows)
    if not rows:
        return []
    dr = t.dag_run
    dates: dict[str, Any] = {}
    with engine.connect() as conn:
        for part in in_chunks(sorted({row.run_id for row in rows})):
            for run in conn.execute(sa.select(dr.c.run_id, dr.c.logical_date, dr.c.run_after,
                                              dr.c.created_dag_version_id)
                                    .where(dr.c.dag_id == rows[0].dag_id,
                                           dr.c.run_id.in_(part))):
                dates[run.run_id] = run
        return _infos(conn, rows, dates)


def _relatives(dag: SerializedDAG, task_id: str, *, upstream: bool,
               downstream: bool) -> set[str]:
    """``task_id`` and, as asked, all its upstream and downstream tasks (transitively)."""
    found = {task_id}
    for wanted, edges in ((upstream, "upstream_task_ids"), (downstream, "downstream_task_ids")):
        todo = [task_id] if wanted else []
        while todo:
            for other in getattr(dag.task_dict[todo.pop()], edges):
                if other not in found:
                    found.add(other)
                    todo.append(other)
    return found


def set_task_instance_state(engine: Engine, dag_bag: DBDagBag, dag_id: str, run_id: str,
                            task_id: str, new_state: str, *, map_index: int | None = None,
                            upstream: bool = False, downstream: bool = False,
                            dry_run: bool = False) -> list[TaskInstanceRow]:
    """Set ``new_state`` on a task instance of a run (and, as asked, on its upstream and
    downstream relatives in the same run), as Airflow's ``dag.set_task_instance_state``.

    Only task instances not already in ``new_state`` change: a finished one keeps its start
    date and gets an end date if it had none. Then, as Airflow does, the failed and
    upstream-failed instances downstream of ``task_id`` in the run are cleared (their run is
    queued again) so the run can resume; that is a second transaction.

    Args:
        map_index: one mapped instance; None: every instance of the task(s).
        dry_run: change nothing; return what would change.

    Returns:
        The task instances changed (with ``dry_run``: as they are now), by task id and map
        index.

    Raises:
        ValueError: ``new_state`` is not success, failed or skipped.
        DagNotFound, TaskNotFound, DagRunNotFound: the DAG, the task (in the DAG's latest
            version) or the run does not exist.
        TaskInstanceNotFound: the run has no instance of ``task_id`` (at ``map_index``).
    """
    if new_state not in SETTABLE_STATES:
        raise ValueError(f"'{new_state}' is not one of {list(SETTABLE_STATES)}")
    dag = dag_bag.get_latest_version_of_dag(dag_id)
    if dag is None:
        raise DagNotFound(f"The Dag with ID: `{dag_id}` was not found")
    if task_id not in dag.task_dict:
        raise TaskNotFound(f"Task '{task_id}' not found in DAG '{dag_id}'")
    tasks = _relatives(dag, task_id, upstream=upstream, downstream=downstream)
    ti = t.task_instance
    conditions = [ti.c.dag_id == dag_id, ti.c.run_id == run_id, ti.c.task_id.in_(sorted(tasks))]
    if map_index is not None:
        conditions.append(sa.or_(ti.c.task_id != task_id, ti.c.map_index == map_index))
    with transaction(engine) as conn:
        _run(conn, dag_id, run_id)
        query = sa.select(ti).where(*conditions).order_by(ti.c.task_id, ti.c.map_index)
        if engine.dialect.name != "sqlite":
            query = query.with_for_update()
        rows = conn.execute(query).all()
        if not any(row.task_id == task_id for row in rows):
            index = -1 if map_index is None else map_index
            raise TaskInstanceNotFound(
                f"The Task Instance with dag_id: `{dag_id}`, run_id: `{run_id}`, task_id: "
                f"`{task_id}` and map_index: `{index}` was not found")
        changing = [row for row in rows if row.state != new_state]
        if dry_run or not changing:
            return [TaskInstanceRow.from_row(row) for row in changing]
        now = timezone.utcnow()
        for row in changing:
            conn.execute(ti.update().where(ti.c.id == row.id).values(
                state=new_state, start_date=row.start_date or now,
                end_date=row.end_date or now, updated_at=now))
        changed = conn.execute(sa.select(ti).where(ti.c.id.in_([r.id for r in changing]))
                               .order_by(ti.c.task_id, ti.c.map_index)).all()
    # The instances just set are left alone (Airflow excludes them from this clear).
    below = sorted(_relatives(dag, task_id, upstream=False, downstream=True) - tasks)
    if below:
        clear_task_instances(dag_id, task_ids=below, run_id=run_id, only_failed=True,
                             engine=engine, dag_bag=dag_bag)
    return [TaskInstanceRow.from_row(row) for row in changed]


def set_task_instance_note(engine: Engine, dag_id: str, run_id: str, task_id: str,
                           note: str | None, *, map_index: int | None = None
                           ) -> list[TaskInstanceRow]:
    """Set (None: remove) the note of the run's instances of ``task_id`` (one mapped instance
    with ``map_index``), as Airflow 3's ``PATCH .../taskInstances/{task_id}`` with ``note``
    does; one transaction.

    Returns:
        The task instances, by map index, as they are then.

    Raises:
        DagRunNotFound: no such run.
        TaskInstanceNotFound: the run has no instance of ``task_id`` (at ``map_index``).
    """
    ti = t.task_instance
    conditions = [ti.c.dag_id == dag_id, ti.c.run_id == run_id, ti.c.task_id == task_id]
    if map_index is not None:
        conditions.append(ti.c.map_index == map_index)
    with transaction(engine) as conn:
        _run(conn, dag_id, run_id)
        updated = conn.execute(ti.update().where(*conditions)
                               .values(note=note, updated_at=timezone.utcnow())).rowcount
        if not updated:
            index = -1 if map_index is None else map_index
            raise TaskInstanceNotFound(
                f"The Task Instance with dag_id: `{dag_id}`, run_id: `{run_id}`, task_id: "
                f"`{task_id}` and map_index: `{index}` was not found")
        rows = conn.execute(sa.select(ti).where(*conditions).order_by(ti.c.map_index)).all()
    return [TaskInstanceRow.from_row(row) for row in rows]
