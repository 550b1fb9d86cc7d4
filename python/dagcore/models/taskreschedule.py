"""Reschedules of sensors, and the read-only queries a running task makes through its ``ti``.

A sensor in ``reschedule`` mode ends a try's poke with ``AirflowRescheduleException``; the task
runner then records the task instance ``up_for_reschedule`` and one ``task_reschedule`` row
(:func:`record_reschedule`) in the same transaction. The scheduler queues the task instance
again only once the newest row's ``reschedule_date`` has passed (:func:`not_yet_due`, a SQL
expression, so waiting sensors cost no Python per loop), at the same try number. A clear deletes
the rows (:func:`delete_reschedules`), as Airflow's ``clear_task_instances`` does
(docs/airflow-behaviour.md 10.2).

:class:`TaskInstanceQueries` answers ``context["ti"].get_first_reschedule_date`` /
``get_ti_count`` / ``get_dr_count`` / ``get_task_states`` (Airflow 3's RuntimeTaskInstance
methods, there served by the execution API) from the metadata database, read-only.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dagcore.models import tables as t
from dagcore.state import TaskInstanceState

__all__ = ["TaskInstanceQueries", "delete_reschedules", "not_yet_due", "record_reschedule"]

_UP_FOR_RESCHEDULE = TaskInstanceState.UP_FOR_RESCHEDULE.value


def record_reschedule(conn: Connection, row: Any, *, reschedule_date: datetime,
                      now: datetime) -> None:
    """Insert the ``task_reschedule`` row of the try ``row`` (a running ``task_instance`` row)
    that asked to be poked again at ``reschedule_date``.

    Raises:
        ValueError: ``reschedule_date`` is not an aware datetime.
    """
    if not isinstance(reschedule_date, datetime) or reschedule_date.tzinfo is None:
        raise ValueError(f"reschedule_date must be a timezone-aware datetime, got "
                         f"{reschedule_date!r}")
    start = row.start_date or now
    conn.execute(t.task_reschedule.insert().values(
        ti_id=row.id, try_number=row.try_number, start_date=start, end_date=now,
        duration=int((now - start).total_seconds()), reschedule_date=reschedule_date))


def not_yet_due(now: Any) -> Any:
    """SQL: the ``task_instance`` row is ``up_for_reschedule`` and its try has a reschedule
    date after ``now`` (a bind parameter or a value): Airflow's ReadyToRescheduleDep failing.
    Never NULL (a row without state is not waiting), so ``~not_yet_due(now)`` keeps every other
    row."""
    ti, tr = t.task_instance, t.task_reschedule
    later = sa.exists().where(tr.c.ti_id == ti.c.id, tr.c.try_number == ti.c.try_number,
                              tr.c.reschedule_date > now)
    return sa.and_(ti.c.state.is_not(None), ti.c.state == _UP_FOR_RESCHEDULE, later)


def delete_reschedules(conn: Connection, condition: Any) -> None:
    """Delete the reschedules of the task instances matching ``condition`` (a WHERE clause
    on ``task_instance``): a cleared sensor's timeout starts afresh."""
    ti, tr = t.task_instance, t.task_reschedule
    conn.execute(tr.delete().where(tr.c.ti_id.in_(sa.select(ti.c.id).where(condition))))


def _in_states(column: Any, states: Iterable[str | None]) -> Any:
    """``column`` in ``states``, where ``None`` (or ``"none"``) matches NULL."""
    values = [str(getattr(s, "value", s)) for s in states if s is not None and s != "none"]
    nullable = any(s is None or s == "none" for s in states)
    clause = column.in_(values) if values else sa.false()
    return sa.or_(clause, column.is_(None)) if nullable else clause


class TaskInstanceQueries:
    """The metadata-database reads of one running try (its task instance id and try number).

    Args:
        engine: the metadata database.
        ti_id: the running task instance's id.
        try_number: its try.
    """

    def __init__(self, engine: Engine, ti_id: uuid.UUID, try_number: int) -> None:
        self.engine = engine
        self.ti_id = ti_id
        self.try_number = try_number

    def first_reschedule_date(self) -> datetime | None:
        """The start of this try's first reschedule, or None (the try never rescheduled)."""
        tr = t.task_reschedule
        with self.engine.connect() as conn:
            return conn.execute(sa.select(tr.c.start_date).where(
                tr.c.ti_id == self.ti_id, tr.c.try_number == self.try_number)
                .order_by(tr.c.id).limit(1)).scalar_one_or_none()

    @staticmethod
    def _run_filter(dag_id: str, logical_dates: Sequence[datetime] | None,
                    run_ids: Sequence[str] | None) -> list[Any]:
        dr = t.dag_run
        where = [dr.c.dag_id == dag_id]
        if logical_dates is not None:
            where.append(dr.c.logical_date.in_(list(logical_dates)))
        if run_ids is not None:
            where.append(dr.c.run_id.in_(list(run_ids)))
        return where

    def _group_task_ids(self, dag_id: str, task_group_id: str) -> list[str]:
        """The task ids in ``task_group_id`` of the latest version of ``dag_id`` (its
        subgroups included); empty when the DAG or the group is unknown."""
        dag = self.latest_dag(dag_id)
        group = None if dag is None else dag.task_group_dict.get(task_group_id)
        return [] if group is None else [task.task_id for task in group]

    def latest_dag(self, dag_id: str) -> Any:
        """The latest serialized version of ``dag_id``, or None."""
        from dagcore.db_dagbag import DBDagBag

        return DBDagBag(engine=self.engine).get_latest_version_of_dag(dag_id)

    def dag_exists(self, dag_id: str) -> bool:
        """Whether ``dag_id`` is a DAG the processor knows (and not stale)."""
        d = t.dag
        with self.engine.connect() as conn:
            return conn.execute(sa.select(d.c.dag_id).where(
                d.c.dag_id == dag_id, d.c.is_stale == sa.false())).first() is not None

    def ti_count(self, dag_id: str, *, map_index: int | None = None,
                 task_ids: Sequence[str] | None = None, task_group_id: str | None = None,
                 logical_dates: Sequence[datetime] | None = None,
                 run_ids: Sequence[str] | None = None,
                 states: Sequence[str | None] | None = None) -> int:
        """How many task instances of ``dag_id`` match (Airflow's ``get_ti_count``)."""
        ti, dr = t.task_instance, t.dag_run
        if task_group_id is not None:
            task_ids = self._group_task_ids(dag_id, task_group_id)
        query = (sa.select(sa.func.count()).select_from(ti.join(
            dr, sa.and_(dr.c.dag_id == ti.c.dag_id, dr.c.run_id == ti.c.run_id)))
            .where(*self._run_filter(dag_id, logical_dates, run_ids)))
        if task_ids is not None:
            query = query.where(ti.c.task_id.in_(list(task_ids)))
        if map_index is not None:
            query = query.where(ti.c.map_index == map_index)
        if states is not None:
            query = query.where(_in_states(ti.c.state, states))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def dr_count(self, dag_id: str, *, logical_dates: Sequence[datetime] | None = None,
                 run_ids: Sequence[str] | None = None,
                 states: Sequence[str] | None = None) -> int:
        """How many runs of ``dag_id`` match (Airflow's ``get_dr_count``)."""
        dr = t.dag_run
        query = sa.select(sa.func.count()).select_from(dr).where(
            *self._run_filter(dag_id, logical_dates, run_ids))
        if states is not None:
            query = query.where(_in_states(dr.c.state, states))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def task_states(self, dag_id: str, *, map_index: int | None = None,
                    task_ids: Sequence[str] | None = None, task_group_id: str | None = None,
                    logical_dates: Sequence[datetime] | None = None,
                    run_ids: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        """``{run_id: {task_id: state}}`` of the matching task instances (Airflow's
        ``get_task_states``; a mapped instance's key is ``task_id_<map_index>``)."""
        ti, dr = t.task_instance, t.dag_run
        if task_group_id is not None:
            task_ids = self._group_task_ids(dag_id, task_group_id)
        query = (sa.select(ti.c.run_id, ti.c.task_id, ti.c.map_index, ti.c.state)
                 .select_from(ti.join(dr, sa.and_(dr.c.dag_id == ti.c.dag_id,
                                                  dr.c.run_id == ti.c.run_id)))
                 .where(*self._run_filter(dag_id, logical_dates, run_ids)))
        if task_ids is not None:
            query = query.where(ti.c.task_id.in_(list(task_ids)))
        if map_index is not None:
            query = query.where(ti.c.map_index == map_index)
        out: dict[str, dict[str, Any]] = defaultdict(dict)
        with self.engine.connect() as conn:
            for run_id, task_id, index, state in conn.execute(query):
                out[run_id][task_id if index < 0 else f"{task_id}_{index}"] = state
        return dict(out)
