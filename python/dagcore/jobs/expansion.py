"""The scheduler's side of dynamic task mapping: instance counts, expansion and bulk writes.

Design note. A mapped task's instances are never handled one by one in the scheduler loop. A run
of a DAG with mapped tasks is read as instance counts per task and state (one ``GROUP BY``),
decided by the run-state engine from those counts (:meth:`dagcore.run_state.RunGraph.
decide_counts_compact`), and what the decision says about a mapped task applies to all its
candidate instances in one ``UPDATE`` per task. Expansion (docs/airflow-behaviour.md 3.10) turns
the task's placeholder instance (``map_index`` -1) into instance 0 and inserts instances 1..n-1
with one ``INSERT ... SELECT`` over a recursive counter, ids included, so expanding over 10,000
inputs costs two statements, whatever ``n``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from dagcore.mapping import mapped_length
from dagcore.models import tables as t
from dagcore.models.taskreschedule import not_yet_due
from dagcore.models.types import uuid7
from dagcore.serialization import SerializedTask
from dagcore.state import TaskInstanceState

__all__ = ["expand", "expanded_counts", "instance_states", "length_of", "mapped_counts",
           "retry_rows", "schedule_candidates", "set_candidates"]

log = logging.getLogger(__name__)

_TIS = TaskInstanceState
_CANDIDATES = (_TIS.UP_FOR_RETRY.value, _TIS.UP_FOR_RESCHEDULE.value)


def mapped_counts(conn: Connection, run_ids: list[int], now: datetime
                  ) -> dict[tuple[str, str], dict[str, dict[str | None, int]]]:
    """Expanded instances of the given runs, counted: (dag_id, run_id) -> task -> state -> n.

    A sensor instance waiting for its reschedule date counts as ``running`` (not a candidate,
    no deadlock), as the scheduler treats unmapped ones (docs/airflow-behaviour.md 10.2)."""
    ti, dr = t.task_instance, t.dag_run
    state = sa.case((not_yet_due(now), _TIS.RUNNING.value), else_=ti.c.state).label("state")
    query = (sa.select(ti.c.dag_id, ti.c.run_id, ti.c.task_id, state,
                       sa.func.count().label("n"))
             .select_from(ti.join(dr, sa.and_(dr.c.dag_id == ti.c.dag_id,
                                              dr.c.run_id == ti.c.run_id)))
             .where(dr.c.id.in_(run_ids), ti.c.map_index >= 0)
             .group_by(ti.c.dag_id, ti.c.run_id, ti.c.task_id, state))
    out: dict[tuple[str, str], dict[str, dict[str | None, int]]] = {}
    for dag_id, run_id, task_id, state, n in conn.execute(query).all():
        out.setdefault((dag_id, run_id), {}).setdefault(task_id, {})[state] = n
    return out


def _instances(run: Any, task_id: str, indexes: list[int] | None = None) -> Any:
    ti = t.task_instance
    which = ti.c.map_index >= 0 if indexes is None else ti.c.map_index.in_(sorted(indexes))
    return sa.and_(ti.c.dag_id == run.dag_id, ti.c.run_id == run.run_id, ti.c.task_id == task_id,
                   which)


def instance_states(conn: Connection, run: Any, task_ids: Any) -> list[tuple[str, int, Any]]:
    """(task_id, map_index, state) of the expanded instances of ``task_ids`` in ``run`` (the
    tasks of mapped task groups, decided per index)."""
    if not task_ids:
        return []
    ti = t.task_instance
    return [tuple(row) for row in conn.execute(  # type: ignore[misc]
        sa.select(ti.c.task_id, ti.c.map_index, ti.c.state).where(
            ti.c.dag_id == run.dag_id, ti.c.run_id == run.run_id,
            ti.c.task_id.in_(sorted(task_ids)), ti.c.map_index >= 0))]


def set_candidates(conn: Connection, run: Any, task_id: str, state: str, now: datetime, *,
                   indexes: list[int] | None = None) -> int:
    """A trigger-rule state (skipped, upstream_failed...) for every candidate instance (of the
    given map indexes)."""
    ti = t.task_instance
    return conn.execute(ti.update().where(
        _instances(run, task_id, indexes),
        sa.or_(ti.c.state.is_(None), ti.c.state.in_(_CANDIDATES)))
        .values(state=state, end_date=now, updated_at=now)).rowcount


def schedule_candidates(conn: Connection, run: Any, task_id: str, now: datetime, *,
                        empty: bool, indexes: list[int] | None = None) -> int:
    """Every instance without state (of the given map indexes) -> ``scheduled`` (``success``
    at once for an empty task, as Airflow's ``schedule_tis``), try number + 1;
    ``up_for_reschedule`` ones keep theirs."""
    ti = t.task_instance
    if empty:
        return conn.execute(ti.update().where(_instances(run, task_id, indexes),
                                              ti.c.state.is_(None))
                            .values(state=_TIS.SUCCESS.value, try_number=ti.c.try_number + 1,
                                    start_date=now, end_date=now, duration=0.0,
                                    updated_at=now)).rowcount
    n = conn.execute(ti.update().where(_instances(run, task_id, indexes), ti.c.state.is_(None))
                     .values(state=_TIS.SCHEDULED.value, try_number=ti.c.try_number + 1,
                             scheduled_dttm=now, updated_at=now)).rowcount
    n += conn.execute(ti.update().where(_instances(run, task_id, indexes),
                                        ti.c.state == _TIS.UP_FOR_RESCHEDULE.value,
                                        ~not_yet_due(now))
                      .values(state=_TIS.SCHEDULED.value, scheduled_dttm=now,
                              updated_at=now)).rowcount
    return n


def retry_rows(conn: Connection, run: Any, task_id: str) -> list[Any]:
    """A mapped task's instances waiting to be retried (the scheduler checks their delays)."""
    ti = t.task_instance
    return list(conn.execute(
        sa.select(sa.type_coerce(ti.c.id, sa.String).label("id"), ti.c.dag_id, ti.c.run_id,
                  ti.c.task_id, ti.c.state, ti.c.try_number, ti.c.end_date)
        .where(_instances(run, task_id), ti.c.state == _TIS.UP_FOR_RETRY.value)).all())


# -------------------------------------------------------------------------------------------------
# expansion


def _xcom_length(conn: Connection, run: Any) -> Any:
    xc = t.xcom

    def length(task_id: str, key: str, mapped: bool) -> int | None:
        where = (xc.c.dag_run_id == run.id, xc.c.task_id == task_id, xc.c.key == key)
        if mapped:  # a mapped upstream: one value per instance that pushed one
            return int(conn.execute(sa.select(sa.func.count()).where(
                *where, xc.c.map_index >= 0)).scalar_one())
        value = conn.execute(sa.select(xc.c.value).where(*where, xc.c.map_index == -1)
                             ).scalar_one_or_none()
        if isinstance(value, str):  # a JSON column read back as text on some backends
            value = json.loads(value)
        if isinstance(value, (list, dict)):
            return len(value)
        return None

    return length


def _id_expression(dialect: str, prefix: str, low: int, index: Any) -> Any:
    """Instance ids made in SQL: one random uuid7 prefix per expansion, the last 48 bits a
    random base plus the map index (unique within the expansion, random across them)."""
    offset = sa.literal(low, sa.BigInteger) + index
    if dialect == "postgresql":
        return sa.cast(sa.literal(prefix) + sa.func.lpad(sa.func.to_hex(offset), 12, "0"),
                       postgresql.UUID())
    return sa.literal(prefix) + sa.func.printf("%012x", offset)


def length_of(conn: Connection, run: Any, task: SerializedTask) -> int | None:
    """How many instances ``task`` expands into in ``run`` (None: an input was never pushed)."""
    spec: Mapping[str, Any] = task.expand_length or {"literal": 1}
    return mapped_length(spec, _xcom_length(conn, run))


def expanded_counts(n: int | None, ready: str) -> dict[str | None, int]:
    """The instance counts an expansion of length ``n`` leaves (see :func:`expand`)."""
    if n is None:
        return {_TIS.UPSTREAM_FAILED.value: 1}
    if n < 1:
        return {_TIS.SKIPPED.value: 1}
    return {ready: n}


def _ready_values(ready: str | None, now: datetime) -> dict[str, Any]:
    """The columns of an instance that is ready when created: ``scheduled`` (try 1), or
    ``success`` at once for an empty task (as ``schedule_tis`` would do in the same loop)."""
    if ready is None:  # decided instance by instance afterwards (a mapped task group)
        return {"updated_at": now}
    if ready == _TIS.SUCCESS.value:
        return {"state": ready, "try_number": 1, "start_date": now, "end_date": now,
                "duration": 0.0, "updated_at": now}
    return {"state": ready, "try_number": 1, "scheduled_dttm": now, "updated_at": now}


def expand(conn: Connection, run: Any, task: SerializedTask, placeholder_id: Any,
           n: int | None, ready: str | None, now: datetime) -> None:
    """Expand ``task`` in ``run`` into ``n`` instances (:func:`length_of`), ready as ``ready``.

    As Airflow's ``TaskMap.expand_mapped_task``: an input that was never pushed makes the task
    ``upstream_failed``; a zero length ``skipped``; otherwise the placeholder (map index -1)
    becomes instance 0 and instances 1..n-1 are created, all in state ``ready`` (the scheduler
    has already decided that they may run).
    """
    ti = t.task_instance
    placeholder = sa.and_(ti.c.id == placeholder_id, ti.c.state.is_(None))
    if n is None:
        log.error("Cannot expand %s for run %s; missing upstream values", task.task_id,
                  run.run_id)
        conn.execute(ti.update().where(placeholder).values(
            state=_TIS.UPSTREAM_FAILED.value, end_date=now, updated_at=now))
        return
    if n < 1:
        log.info("Marking %s of run %s as SKIPPED since the map has 0 values to expand",
                 task.task_id, run.run_id)
        conn.execute(ti.update().where(placeholder).values(
            state=_TIS.SKIPPED.value, end_date=now, updated_at=now))
        return
    values = _ready_values(ready, now)
    if conn.execute(ti.update().where(placeholder).values(map_index=0, **values)).rowcount != 1:
        return  # changed meanwhile (cleared, deleted): decided again next loop
    if n > 1:
        _insert_instances(conn, placeholder_id, n, values)
    log.info("Expanded %s of run %s into %d instance(s)", task.task_id, run.run_id, n)


def _insert_instances(conn: Connection, template_id: Any, n: int,
                      values: Mapping[str, Any]) -> None:
    """Instances 1..n-1, copies of instance 0's settings and ``values``, in one statement."""
    ti = t.task_instance
    counter = sa.select(sa.literal(1, sa.Integer).label("i")).cte("idx", recursive=True)
    counter = counter.union_all(sa.select((counter.c.i + 1).label("i"))
                                .where(counter.c.i < n - 1))
    prefix = str(uuid7())[:24]
    low = int.from_bytes(os.urandom(6), "big") % ((1 << 48) - (1 << 32))
    copied = ("task_id", "dag_id", "run_id", "max_tries", "pool", "pool_slots",
              "queue", "priority_weight", "operator", "custom_operator_name",
              "task_display_name", "executor_config", "dag_version_id")
    given = [(name, sa.literal(value, ti.c[name].type).label(name))
             for name, value in values.items()]
    if "state" not in values:
        given.append(("state", sa.literal(None, ti.c.state.type).label("state")))
    select = sa.select(
        _id_expression(conn.dialect.name, prefix, low, counter.c.i).label("id"),
        counter.c.i.label("map_index"), *(ti.c[name] for name in copied),
        *(column for _, column in given),
    ).select_from(ti.join(counter, sa.true())).where(ti.c.id == template_id)
    conn.execute(ti.insert().from_select(
        ["id", "map_index", *copied, *(name for name, _ in given)], select))
