"""DAGs as the REST API lists, shows and pauses them (Airflow's ``GET/PATCH /dags``).

Design note. Everything is answered in SQL from the ``dag`` table, its ``dag_tag`` rows and the
DAG's latest started run; no DAG is deserialized. Filters and paging follow Airflow 3's
``GET /api/v2/dags`` (docs/airflow-rest-api.md B.2), which Airflow 2's v1 listing is a subset
of (A.2 8):

* ``dag_id_pattern`` / ``dag_display_name_pattern``: a case-insensitive SQL ``LIKE`` substring
  (``%`` and ``_`` are wildcards, as Airflow's ``ilike``; v2's ``~`` alias is the caller's);
* ``tags``: DAGs with any (``tags_match_any``) or all of the tags, through ``dag_tag``;
* ``owners``: DAGs whose ``owners`` column contains any of the names (Airflow's ``ilike``);
* ``paused``, ``has_import_errors``, ``bundle_name``, ``bundle_version``: equality;
* ``exclude_stale``: stale DAGs left out;
* ``last_dag_run_state``, ``dag_run_states`` (None: NULL), ``dag_run_start_date`` and
  ``dag_run_end_date`` (:class:`DateRange`): on the DAG's latest run, which Airflow takes as the
  run with the highest id among those that started (``common/db/dags.py``); a DAG that never
  started a run has none and is left out by them.

Ordering (``order_by``, ``-`` for descending) follows Airflow's ``SortParam``: at most
:data:`MAX_SORT_PARAMS` fields, each with NULLs last, then the primary key in the direction of
the first field as a tiebreaker; an unknown field is :class:`InvalidOrderBy` with Airflow's
text. ``total`` counts the matches before paging.

A DAG's structure (``/dags/{dag_id}/details``, ``/dags/{dag_id}/tasks``) comes from its latest
serialized version through the caller's :class:`~dagcore.db_dagbag.DBDagBag` (its bounded
cache), never from the DAG file: :func:`get_dag_details`, :func:`list_dag_tasks`,
:func:`get_dag_task`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dagcore.api.common import DagNotFound, in_chunks
from dagcore.api.task_instances import TaskNotFound
from dagcore.api.user_input import UserInputError
from dagcore.db import transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.models import tables as t
from dagcore.serialization import SerializedDAG, SerializedTask
from dagcore.serialization_registry import registry
from dagcore.state import DagRunState

__all__ = [
    "MAX_SORT_PARAMS",
    "ORDER_BY_FIELDS",
    "TASK_ORDER_BY_FIELDS",
    "DagDetails",
    "DagListing",
    "DagNotFound",
    "DateRange",
    "InvalidOrderBy",
    "TaskNotFound",
    "any_equal",
    "dag_display_name",
    "display_names",
    "get_dag_details",
    "get_dag_info",
    "get_dag_task",
    "list_dag_tasks",
    "list_dags",
    "order_clauses",
    "set_dag_paused",
    "task_end_date",
    "task_operator_name",
    "task_start_date",
    "task_ui_color",
]

MAX_SORT_PARAMS: Final = 10  # Airflow's SortParam.MAX_SORT_PARAMS

# Airflow 3's sortable fields of GET /dags (routes/public/dags.py, SortParam).
ORDER_BY_FIELDS: Final = ("dag_id", "dag_display_name", "next_dagrun", "last_run_state",
                          "last_run_start_date")
_LAST_RUN_FIELDS: Final = frozenset({"last_run_state", "last_run_start_date"})


class InvalidOrderBy(UserInputError):
    """An ``order_by`` the listing cannot sort by (Airflow's message)."""


def _never_null(column: Any) -> bool:
    """A NOT NULL column of a table itself (a column reached through a subquery or an outer
    join can still be NULL)."""
    return (isinstance(column, sa.Column) and isinstance(column.table, sa.Table)
            and column.nullable is False)


def order_clauses(order_by: Sequence[str], allowed: Sequence[str],
                  column_of: Callable[[str], Any], primary_key: Any) -> list[Any]:
    """SQL ordering as Airflow's ``SortParam.to_orm``: per field (``-`` prefix: descending)
    NULLs last, then ``primary_key`` in the first field's direction. A table's NOT NULL
    column gets no NULLs-last term and ``primary_key`` is not repeated when it is already the
    last field: the same order, and a page ordered by the key (the default) walks the index
    instead of sorting every matching row.

    Raises:
        InvalidOrderBy: more than :data:`MAX_SORT_PARAMS` fields, or one not in ``allowed``
            (Airflow's texts).
    """
    if len(order_by) > MAX_SORT_PARAMS:
        raise InvalidOrderBy(f"Ordering with more than {MAX_SORT_PARAMS} parameters is not "
                             f"allowed. Provided: {list(order_by)}", name="order_by",
                             value=list(order_by))
    clauses: list[Any] = []
    for raw in order_by:
        name = raw.lstrip("-")
        if name not in allowed:
            raise InvalidOrderBy(f"Ordering with '{name}' is disallowed or the attribute does "
                                 f"not exist on the model", name="order_by", value=raw)
        column = column_of(name)
        if not _never_null(column):
            clauses.append(sa.case((column.is_not(None), 0), else_=1))
        clauses.append(column.desc() if raw.startswith("-") else column.asc())
    if order_by and column_of(order_by[-1].lstrip("-")) is primary_key:
        return clauses
    descending = bool(order_by) and order_by[0].startswith("-")
    clauses.append(primary_key.desc() if descending else primary_key.asc())
    return clauses


@dataclass(frozen=True, slots=True, kw_only=True)
class DateRange:
    """Bounds on one datetime column (aware datetimes; None: no bound): ``gte``/``gt`` below,
    ``lte``/``lt`` above (Airflow's ``Range``)."""

    gte: datetime | None = None
    gt: datetime | None = None
    lte: datetime | None = None
    lt: datetime | None = None

    def conditions(self, column: Any) -> list[Any]:
        found = []
        if self.gte is not None:
            found.append(column >= self.gte)
        if self.gt is not None:
            found.append(column > self.gt)
        if self.lte is not None:
            found.append(column <= self.lte)
        if self.lt is not None:
            found.append(column < self.lt)
        return found


def any_equal(column: Any, values: Sequence[str | None]) -> Any:
    """Airflow's ANY_EQUAL filter, where None (``none`` in a query) matches NULL."""
    wanted = [v for v in values if v is not None]
    clauses = [column.in_(wanted)] if wanted else []
    if len(wanted) != len(values):
        clauses.append(column.is_(None))
    return sa.or_(*clauses)


@dataclass(frozen=True, slots=True)
class DagListing:
    """One page of DAGs (each a mapping of the ``dag`` columns plus ``tags``) and how many
    match in all."""

    dags: list[dict[str, Any]]
    total: int


_last_run = t.dag_run.alias("last_run")


def _with_last_run(query: sa.Select) -> sa.Select:
    """``query`` joined (outer) to each DAG's latest started run as ``last_run``."""
    dr = t.dag_run
    # Per DAG, its newest started run: a walk back along the (dag_id, id) index that stops at
    # the first run with a start date (not a GROUP BY over every run: docs/performance.md 5).
    latest = (sa.select(dr.c.id).where(dr.c.dag_id == t.dag.c.dag_id,
                                       dr.c.start_date.is_not(None))
              .order_by(dr.c.id.desc()).limit(1).correlate(t.dag).scalar_subquery())
    return query.select_from(t.dag.outerjoin(_last_run, _last_run.c.id == latest))


def _order_column(name: str) -> Any:
    if name == "dag_display_name":
        return sa.func.coalesce(t.dag.c.dag_display_name, t.dag.c.dag_id)
    if name == "last_run_state":
        return _last_run.c.state
    if name == "last_run_start_date":
        return _last_run.c.start_date
    return t.dag.c[name]


def _tag_condition(tags: Sequence[str], match_any: bool) -> Any:
    dt = t.dag_tag

    def has(tag: str) -> Any:
        return sa.exists().where(dt.c.dag_id == t.dag.c.dag_id, dt.c.name == tag)

    if match_any:
        return sa.exists().where(dt.c.dag_id == t.dag.c.dag_id, dt.c.name.in_(list(tags)))
    return sa.and_(*(has(tag) for tag in dict.fromkeys(tags)))


def _tags_of(conn: Connection, dag_ids: Sequence[str]) -> dict[str, list[str]]:
    dt = t.dag_tag
    found: dict[str, list[str]] = {dag_id: [] for dag_id in dag_ids}
    if dag_ids:
        rows = conn.execute(sa.select(dt.c.dag_id, dt.c.name)
                            .where(dt.c.dag_id.in_(list(dag_ids))).order_by(dt.c.name))
        for dag_id, name in rows:
            found[dag_id].append(name)
    return found


def _with_tags(conn: Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
    infos = [dict(row._mapping) for row in rows]
    tags = _tags_of(conn, [info["dag_id"] for info in infos])
    for info in infos:
        info["tags"] = tags[info["dag_id"]]
    return infos


def list_dags(engine: Engine, *, limit: int, offset: int = 0,
              tags: Sequence[str] | None = None, tags_match_any: bool = True,
              owners: Sequence[str] | None = None, dag_id_pattern: str | None = None,
              dag_display_name_pattern: str | None = None, paused: bool | None = None,
              exclude_stale: bool = True, has_import_errors: bool | None = None,
              bundle_name: str | None = None, bundle_version: str | None = None,
              last_dag_run_state: str | None = None,
              dag_run_states: Sequence[str | None] = (),
              dag_run_start_date: DateRange = DateRange(),
              dag_run_end_date: DateRange = DateRange(),
              order_by: Sequence[str] = ("dag_id",),
              order_by_allowed: Sequence[str] = ORDER_BY_FIELDS) -> DagListing:
    """A page of DAGs (see the module note for the filters).

    Raises:
        InvalidOrderBy: a bad ``order_by`` (see :func:`order_clauses`).
    """
    ordering = order_clauses(order_by, order_by_allowed, _order_column, t.dag.c.dag_id)
    dag = t.dag
    conditions: list[Any] = []
    if exclude_stale:
        conditions.append(dag.c.is_stale.is_(False))
    for column, value in ((dag.c.is_paused, paused), (dag.c.has_import_errors, has_import_errors),
                          (dag.c.bundle_name, bundle_name),
                          (dag.c.bundle_version, bundle_version)):
        if value is not None:
            conditions.append(column == value)
    if dag_id_pattern:
        conditions.append(dag.c.dag_id.ilike(f"%{dag_id_pattern}%"))
    if dag_display_name_pattern:
        conditions.append(dag.c.dag_display_name.ilike(f"%{dag_display_name_pattern}%"))
    if tags:
        conditions.append(_tag_condition(tags, tags_match_any))
    if owners:
        conditions.append(sa.or_(*(dag.c.owners.ilike(f"%{owner}%") for owner in owners)))
    last_run = []
    if last_dag_run_state is not None:
        last_run.append(_last_run.c.state == last_dag_run_state)
    if dag_run_states:
        last_run.append(any_equal(_last_run.c.state, dag_run_states))
    last_run += dag_run_start_date.conditions(_last_run.c.start_date)
    last_run += dag_run_end_date.conditions(_last_run.c.end_date)
    conditions += last_run
    joins_last_run = bool(last_run) or any(raw.lstrip("-") in _LAST_RUN_FIELDS
                                           for raw in order_by)
    query = sa.select(dag).where(*conditions)
    counting = sa.select(sa.func.count()).where(*conditions)
    if joins_last_run:
        query, counting = _with_last_run(query), _with_last_run(counting)
    else:
        counting = counting.select_from(dag)
    with engine.connect() as conn:
        total = conn.execute(counting).scalar_one()
        rows = conn.execute(query.order_by(*ordering).limit(limit).offset(offset)).all()
        return DagListing(dags=_with_tags(conn, rows), total=total)


def dag_display_name(conn: Connection, dag_id: str) -> str:
    """The DAG's display name (its id when it has none).

    Raises:
        DagNotFound: no such DAG in the database.
    """
    row = conn.execute(sa.select(t.dag.c.dag_display_name)
                       .where(t.dag.c.dag_id == dag_id)).one_or_none()
    if row is None:
        raise DagNotFound(f"DAG {dag_id!r} not found")
    return str(row.dag_display_name or dag_id)


def display_names(engine: Engine, dag_ids: Sequence[str]) -> dict[str, str]:
    """Each DAG's display name (its id when it has none or is not in the ``dag`` table), in
    one query per :func:`~dagcore.api.common.in_chunks` slice of the ids."""
    names = {dag_id: dag_id for dag_id in dag_ids}
    with engine.connect() as conn:
        for part in in_chunks(sorted(names)):
            for dag_id, name in conn.execute(sa.select(t.dag.c.dag_id, t.dag.c.dag_display_name)
                                             .where(t.dag.c.dag_id.in_(list(part)))):
                names[dag_id] = str(name or dag_id)
    return names


def get_dag_info(engine: Engine, dag_id: str) -> dict[str, Any]:
    """The DAG's ``dag`` columns plus ``tags``.

    Raises:
        DagNotFound: no such DAG in the database.
    """
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.dag).where(t.dag.c.dag_id == dag_id)).one_or_none()
        if row is None:
            raise DagNotFound(f"DAG {dag_id!r} not found")
        return _with_tags(conn, [row])[0]


def set_dag_paused(engine: Engine, dag_id: str, paused: bool) -> None:
    """Pause or unpause the DAG (one transaction).

    Raises:
        DagNotFound: no such DAG in the database.
    """
    with transaction(engine) as conn:
        updated = conn.execute(t.dag.update().where(t.dag.c.dag_id == dag_id)
                               .values(is_paused=paused)).rowcount
    if not updated:
        raise DagNotFound(f"DAG {dag_id!r} not found")


# -- a DAG's structure, from its latest version through the DAG bag ------------------------------

# Airflow 3's sortable task fields (routes/public/tasks.py, _SORTABLE_TASK_FIELDS).
TASK_ORDER_BY_FIELDS: Final = (
    "task_id", "task_display_name", "owner", "start_date", "end_date", "trigger_rule",
    "depends_on_past", "wait_for_downstream", "retries", "queue", "pool", "pool_slots",
    "execution_timeout", "retry_delay", "retry_exponential_backoff", "priority_weight",
    "weight_rule", "ui_color", "ui_fgcolor", "operator_name")
# BaseOperator's colours (Airflow's defaults; dagcore operators set only ui_color).
DEFAULT_UI_COLOR: Final = "#fff"
DEFAULT_UI_FGCOLOR: Final = "#000"
_ACTIVE_RUN_STATES: Final = (DagRunState.RUNNING.value, DagRunState.QUEUED.value)


@dataclass(frozen=True, slots=True)
class DagDetails:
    """What ``GET /dags/{dag_id}/details`` shows: the ``dag`` row plus ``tags`` (``info``), the
    latest version's deserialized DAG (``dag``) and ``dag_version`` row (``latest_version``,
    None if the version vanished since the bag read it), and how many runs are running or
    queued."""

    info: dict[str, Any]
    dag: SerializedDAG
    latest_version: dict[str, Any] | None
    active_runs_count: int


def _latest_dag(bag: DBDagBag, dag_id: str) -> SerializedDAG:
    dag = bag.get_latest_version_of_dag(dag_id)
    if dag is None:
        raise DagNotFound(f"DAG {dag_id!r} not found")
    return dag


def get_dag_details(engine: Engine, bag: DBDagBag, dag_id: str) -> DagDetails:
    """The DAG's details: its latest version from ``bag`` (cached; no file is parsed), its
    ``dag`` row, latest ``dag_version`` row and active-run count (Airflow 3's
    ``get_dag_details``, routes/public/dags.py).

    Raises:
        DagNotFound: no serialized version, or no ``dag`` row.
    """
    dag = _latest_dag(bag, dag_id)
    dv, dr = t.dag_version, t.dag_run
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.dag).where(t.dag.c.dag_id == dag_id)).one_or_none()
        if row is None:
            raise DagNotFound(f"DAG {dag_id!r} not found")
        info = _with_tags(conn, [row])[0]
        version = conn.execute(
            sa.select(dv.c.id, dv.c.version_number, dv.c.dag_id, dv.c.bundle_name,
                      dv.c.bundle_version, dv.c.created_at)
            .where(dv.c.dag_id == dag_id).order_by(dv.c.version_number.desc()).limit(1)
        ).one_or_none()
        active = conn.execute(sa.select(sa.func.count()).select_from(dr).where(
            dr.c.dag_id == dag_id, dr.c.state.in_(_ACTIVE_RUN_STATES))).scalar_one()
    return DagDetails(info=info, dag=dag,
                      latest_version=None if version is None else dict(version._mapping),
                      active_runs_count=int(active))


def task_start_date(task: SerializedTask, dag: SerializedDAG) -> datetime | None:
    """The task's start date as Airflow's ``DAG.add_task`` leaves it: the DAG's when the task
    has none, else the later of the two."""
    if task.start_date is None or dag.start_date is None:
        return task.start_date or dag.start_date
    return max(task.start_date, dag.start_date)


def task_end_date(task: SerializedTask, dag: SerializedDAG) -> datetime | None:
    """The task's end date as ``DAG.add_task`` leaves it: the DAG's when the task has none,
    else the earlier of the two."""
    if task.end_date is None or dag.end_date is None:
        return task.end_date or dag.end_date
    return min(task.end_date, dag.end_date)


def task_operator_name(task: SerializedTask) -> str:
    """Airflow's ``operator_name``: the operator class's name (dagcore has no
    ``custom_operator_name``)."""
    return task.task_type


def task_ui_color(task: SerializedTask) -> str:
    """The operator class's ``ui_color`` when the class is one dagcore registered (its own
    operators), else BaseOperator's: a user's class is never imported to find out, as the
    server never runs DAG code."""
    cls = registry().names().get(task.operator)
    color = getattr(cls, "ui_color", None) if cls is not None else None
    return color if isinstance(color, str) else DEFAULT_UI_COLOR


def _task_sort_value(task: SerializedTask, dag: SerializedDAG, name: str) -> Any:
    if name == "start_date":
        return task_start_date(task, dag)
    if name == "end_date":
        return task_end_date(task, dag)
    if name == "operator_name":
        return task_operator_name(task)
    if name == "ui_color":
        return task_ui_color(task)
    if name == "ui_fgcolor":
        return DEFAULT_UI_FGCOLOR
    value = getattr(task, name)
    return value.value if name == "trigger_rule" else value


def list_dag_tasks(bag: DBDagBag, dag_id: str, order_by: str = "task_id"
                   ) -> tuple[SerializedDAG, list[SerializedTask]]:
    """The DAG's latest version and its tasks, sorted as Airflow 3's ``get_tasks``: by
    ``order_by`` (``-`` prefix: reversed), None values after the others (before them when
    reversed, as Airflow's ``sorted(..., reverse=True)`` puts them).

    Raises:
        DagNotFound: the DAG has no serialized version (checked first, as Airflow does).
        InvalidOrderBy: ``order_by`` is not one of :data:`TASK_ORDER_BY_FIELDS` (Airflow's
            text).
    """
    dag = _latest_dag(bag, dag_id)
    name = order_by.lstrip("-")
    if name not in TASK_ORDER_BY_FIELDS:
        raise InvalidOrderBy(f"Ordering with '{name}' is disallowed or the attribute does not "
                             f"exist on the model", name="order_by", value=order_by)

    def key(task: SerializedTask) -> tuple[bool, Any]:
        value = _task_sort_value(task, dag, name)
        return value is None, value

    return dag, sorted(dag.task_dict.values(), key=key, reverse=order_by.startswith("-"))


def get_dag_task(bag: DBDagBag, dag_id: str, task_id: str
                 ) -> tuple[SerializedDAG, SerializedTask]:
    """The DAG's latest version and one of its tasks.

    Raises:
        DagNotFound: the DAG has no serialized version.
        TaskNotFound: the version has no such task.
    """
    dag = _latest_dag(bag, dag_id)
    task = dag.task_dict.get(task_id)
    if task is None:
        raise TaskNotFound(f"Task {task_id!r} not found in DAG {dag_id!r}")
    return dag, task
