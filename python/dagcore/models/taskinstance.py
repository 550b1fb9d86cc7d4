"""The rules of a task instance's tries: retry or fail, when to retry, archiving a try.

Shared by the task runner (:mod:`dagcore.task_runner`), which records the outcome of a try it
ran, and the scheduler, which fails tries whose process died, timed out or got stuck, so both
apply the same rules (docs/airflow-behaviour.md 3.7).

Design note. A task instance's ``id`` names one try. Ending a try (:func:`end_try`) keeps
the row and its id, ``up_for_retry`` included: the scheduler archives the try
(:func:`archive_try`) and gives the row a new id when it schedules the retry, so a workload or
an executor event that still names the old id then finds no row and changes nothing. Every
function that writes takes the caller's connection and changes a row only if it is still in the
state the caller saw, so a decision someone else made meanwhile (a clear, a mark-success) is
never written over.

"No state" (SQL NULL) is returned as :data:`NO_STATE`, ``"none"`` (the spelling of Airflow's
REST API state filters), so that ``None`` can keep meaning "nothing was changed".
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import uuid
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dagcore.configuration import conf
from dagcore.models import tables as t
from dagcore.state import TaskInstanceState
from dagcore.utils import timezone

__all__ = [
    "HISTORY_FIELDS",
    "NO_STATE",
    "archive_try",
    "archive_tries",
    "end_try",
    "fail_task_instance",
    "failure_state",
    "history_values",
    "max_task_retry_delay",
    "next_retry_datetime",
]

log = logging.getLogger(__name__)

NO_STATE: Final = "none"
"""What the functions here return for a task instance left without state (SQL NULL)."""

HISTORY_FIELDS: Final = tuple(c.name for c in t.task_instance.columns if c.name != "id")
"""The ``task_instance`` columns copied to ``task_instance_history`` (all but ``id``, which
becomes ``task_instance_id`` there)."""

_DEFAULT_MAX_RETRY_DELAY_S: Final = 86400.0
# timedelta's own limit (~2.7e6 years in seconds): a cap that a bad config cannot overflow.
_TIMEDELTA_MAX_S: Final = timedelta.max.total_seconds()


# -- retry rules --------------------------------------------------------------------------------


def failure_state(*, try_number: int, max_tries: int,
                  restarting: bool = False) -> TaskInstanceState:
    """The state a failed try leaves its task instance in (docs/airflow-behaviour.md 3.7).

    Args:
        try_number: the try that failed (1 for the first).
        max_tries: the task instance's ``max_tries`` (``retries`` when never cleared).
        restarting: the task instance was cleared while running: it always retries.

    Returns:
        ``UP_FOR_RETRY`` when restarting, or when ``max_tries != 0 and try_number <=
        max_tries``; else ``FAILED``.
    """
    if restarting:
        return TaskInstanceState.UP_FOR_RETRY
    if max_tries != 0 and try_number <= max_tries:
        return TaskInstanceState.UP_FOR_RETRY
    return TaskInstanceState.FAILED


def max_task_retry_delay() -> float:
    """``[core] max_task_retry_delay`` in seconds (Airflow's ``MAX_RETRY_DELAY``)."""
    value = conf.getfloat("core", "max_task_retry_delay", fallback=_DEFAULT_MAX_RETRY_DELAY_S)
    if not value > 0:  # also refuses NaN
        raise ValueError(f"[core] max_task_retry_delay must be a positive number of seconds, "
                         f"got {value!r}")
    return min(value, _TIMEDELTA_MAX_S)


def _backoff_base(retry_exponential_backoff: bool | float) -> float | None:
    """The exponential base, or None for a constant delay (Airflow 3.1: ``True`` means 2,
    ``False``, ``0``, ``1`` and negative numbers mean no backoff)."""
    if isinstance(retry_exponential_backoff, bool):
        return 2.0 if retry_exponential_backoff else None
    if not isinstance(retry_exponential_backoff, (int, float)):
        raise TypeError(f"retry_exponential_backoff must be a bool or a number, got "
                        f"{type(retry_exponential_backoff).__name__}: "
                        f"{retry_exponential_backoff!r}")
    base = float(retry_exponential_backoff)
    if math.isnan(base) or base <= 0 or base == 1.0:
        return None
    return base


def next_retry_datetime(*, end_date: datetime, try_number: int, retry_delay: timedelta,
                        retry_exponential_backoff: bool | float = False,
                        max_retry_delay: timedelta | None = None, dag_id: str = "",
                        task_id: str = "", logical_date: datetime | None = None) -> datetime:
    """When a try that ended at ``end_date`` may be retried (Airflow's ``next_retry_datetime``).

    Without backoff the delay is ``retry_delay``. With backoff (``True`` is base 2, a number
    other than 0 and 1 is the base), ``min_backoff = ceil(retry_delay_s * base **
    (try_number - 1))`` (at least 1 s) and the delay is ``min_backoff + h % min_backoff`` with
    ``h`` the SHA-1 of ``"<dag_id>#<task_id>#<logical_date>#<try_number>"``: a deterministic
    jitter in ``[min_backoff, 2 * min_backoff)``, then capped by ``max_retry_delay``.
    ``try_number`` is the try that failed (Airflow 3 numbering, where the first retry waits
    between one and two ``retry_delay``). Every delay is capped by ``[core]
    max_task_retry_delay``.

    Args:
        end_date: when the failed try ended (aware).
        try_number: the try that failed (1 for the first).
        retry_delay: the task's ``retry_delay``.
        retry_exponential_backoff: the task's setting.
        max_retry_delay: the task's cap of the exponential delay.
        dag_id, task_id, logical_date: the task instance (they seed the jitter; a run without
            a logical date hashes ``None`` as Airflow does).

    Returns:
        ``end_date`` plus the delay.

    Raises:
        TypeError: ``end_date`` is not a datetime, a delay is not a timedelta.
        ValueError: a naive ``end_date``, a negative delay, ``try_number`` below 1.
    """
    if not isinstance(end_date, datetime):
        raise TypeError(f"end_date must be a datetime, got {type(end_date).__name__}: "
                        f"{end_date!r}")
    if end_date.tzinfo is None or end_date.utcoffset() is None:
        raise ValueError(f"end_date must be timezone-aware, got naive {end_date.isoformat()}")
    if isinstance(try_number, bool) or not isinstance(try_number, int) or try_number < 1:
        raise ValueError(f"try_number must be an int >= 1, got {try_number!r}")
    for name, value in (("retry_delay", retry_delay), ("max_retry_delay", max_retry_delay)):
        if value is None and name == "max_retry_delay":
            continue
        if not isinstance(value, timedelta):
            raise TypeError(f"{name} must be a timedelta, got {type(value).__name__}: {value!r}")
        if value < timedelta(0):
            raise ValueError(f"{name} must not be negative, got {value}")
    cap_s = max_task_retry_delay()
    delay_s = retry_delay.total_seconds()
    base = _backoff_base(retry_exponential_backoff)
    if base is not None:
        try:
            min_backoff = math.ceil(delay_s * base ** (try_number - 1))
        except OverflowError:  # float ** int overflows long before the cap matters
            min_backoff = math.ceil(cap_s)
        min_backoff = max(min_backoff, 1)
        digest = hashlib.sha1(f"{dag_id}#{task_id}#{logical_date}#{try_number}".encode(),
                              usedforsecurity=False).hexdigest()
        delay_s = min_backoff + int(digest, 16) % min_backoff
        if max_retry_delay is not None:
            delay_s = min(delay_s, max_retry_delay.total_seconds())
    return end_date + timedelta(seconds=min(delay_s, cap_s))


# -- writing tries ------------------------------------------------------------------------------


_FINISHED: Final = tuple(sorted(s.value for s in TaskInstanceState.finished))
# A try up for retry failed already: Airflow records it when it fails (while it is running, so
# its end is the failure's; docs/airflow-behaviour.md 8.5), here when its retry is scheduled, or
# when it is cleared first. Every other unfinished try ends when it is archived.
_ENDED: Final = (TaskInstanceState.UP_FOR_RETRY.value,)


def history_values(mapping: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The ``task_instance_history`` row of the try ``mapping`` (a ``task_instance`` row's
    columns), as Airflow's ``TaskInstanceHistory.record_ti`` writes it (docs/airflow-behaviour.md
    3.8, 8.5): a finished try keeps its state; any other is recorded ``failed`` and, unless it
    failed already (up for retry: Airflow records it when it fails), ends ``now`` with its
    duration since ``start_date``.

    Raises:
        KeyError: ``mapping`` lacks a column (named).
    """
    copy = {name: mapping[name] for name in HISTORY_FIELDS}
    copy["task_instance_id"] = mapping["id"]
    state = copy["state"]
    if state in _FINISHED:
        return copy
    copy["state"] = TaskInstanceState.FAILED.value
    if state not in _ENDED:
        start = copy["start_date"]
        copy["end_date"] = now
        copy["duration"] = None if start is None else (now - start).total_seconds()
    return copy


def archive_try(conn: Connection, row: Any, *, now: datetime | None = None) -> None:
    """Copy a try of a task instance to ``task_instance_history``, once per try.

    Nothing is written when ``(dag_id, run_id, task_id, map_index, try_number)`` is already
    archived (a try cleared twice before it ran again keeps its first copy). The copy's state,
    end and duration follow :func:`history_values`.

    Args:
        conn: a connection inside the caller's transaction.
        row: a ``task_instance`` row, or a mapping with its columns (``id`` included); pass a
            mapping with changed values to archive the try as it ended.
        now: when an unfinished try ends (default: now).

    Raises:
        KeyError: ``row`` lacks a column (named).
    """
    mapping: Mapping[str, Any] = row if isinstance(row, Mapping) else row._mapping
    tih = t.task_instance_history
    exists = conn.execute(sa.select(tih.c.id).where(
        tih.c.dag_id == mapping["dag_id"], tih.c.run_id == mapping["run_id"],
        tih.c.task_id == mapping["task_id"], tih.c.map_index == mapping["map_index"],
        tih.c.try_number == mapping["try_number"]).limit(1)).first()
    if exists is not None:
        return
    conn.execute(tih.insert().values(**history_values(mapping, now or timezone.utcnow())))


def archive_tries(conn: Connection, condition: Any, *, now: datetime | None = None) -> None:
    """Copy every try of the task instances matching ``condition`` (a WHERE clause on
    ``task_instance``) to ``task_instance_history``, once per try, inside the database.

    A try already archived (same dag, run, task, map index and try number) is not copied
    again, as :func:`archive_try`; the copies' states, ends and durations are
    :func:`history_values`'. Copies are inserted in (dag, run, task, map index) order.

    Args:
        conn: a connection inside the caller's transaction.
        condition: which task instances.
        now: when the unfinished tries end (default: now).
    """
    ti, tih = t.task_instance, t.task_instance_history
    now = now or timezone.utcnow()
    archived = sa.select(tih.c.id).where(
        tih.c.dag_id == ti.c.dag_id, tih.c.run_id == ti.c.run_id, tih.c.task_id == ti.c.task_id,
        tih.c.map_index == ti.c.map_index, tih.c.try_number == ti.c.try_number).exists()
    finished = ti.c.state.in_(_FINISHED)
    ending = sa.or_(ti.c.state.is_(None), ti.c.state.not_in((*_FINISHED, *_ENDED)))
    computed = {
        "state": sa.case((finished, ti.c.state), else_=TaskInstanceState.FAILED.value),
        "end_date": sa.case((ending, sa.literal(now, t.task_instance.c.end_date.type)),
                            else_=ti.c.end_date),
        "duration": sa.case((ending, sa.null()), else_=ti.c.duration),
    }
    # The ending tries that started get their duration below (few: the running ones).
    started = conn.execute(sa.select(ti.c.id, ti.c.start_date).where(
        condition, ~archived, ending, ti.c.start_date.is_not(None))).all()
    conn.execute(tih.insert().from_select(
        [*HISTORY_FIELDS, "task_instance_id"],
        sa.select(*(computed.get(name, ti.c[name]) for name in HISTORY_FIELDS), ti.c.id)
        .where(condition, ~archived)
        .order_by(ti.c.dag_id, ti.c.run_id, ti.c.task_id, ti.c.map_index)))
    if started:
        conn.execute(tih.update().where(tih.c.task_instance_id == sa.bindparam("_id"))
                     .values(duration=sa.bindparam("_duration")),
                     [{"_id": row.id, "_duration": (now - row.start_date).total_seconds()}
                      for row in started])


def _select_for_update(conn: Connection, query: Any) -> Any:
    # SQLite: the caller's transaction holds the write lock (BEGIN IMMEDIATE) already.
    if conn.dialect.name != "sqlite":
        query = query.with_for_update()
    return conn.execute(query).one_or_none()


def end_try(conn: Connection, row: Any, state: TaskInstanceState | None, *,
            now: datetime) -> str:
    """Record the end of the try ``row``: ``state``, ``end_date``, ``duration`` (when the try
    started) and ``updated_at``, only while the row is still in the state it was read in.

    Args:
        conn: a connection inside the caller's transaction, in which ``row`` was selected.
        row: the ``task_instance`` row.
        state: the state the try ends in (``None``: no state, to be scheduled again).
        now: the end of the try (aware).

    Returns:
        The state's value, :data:`NO_STATE` for ``None``.
    """
    duration = None if row.start_date is None else (now - row.start_date).total_seconds()
    value = None if state is None else state.value
    if row.state is not None:  # every caller's case: the one statement, built and keyed once
        conn.execute(_end_try_sql(), {"b_id": row.id, "b_state": row.state, "b_new": value,
                                      "b_now": now, "b_duration": duration})
    else:  # `state IS NULL`, which a bound parameter cannot say
        ti = t.task_instance
        conn.execute(ti.update().where(ti.c.id == row.id, ti.c.state.is_(None)).values(
            state=value, end_date=now, duration=duration, updated_at=now))
    return NO_STATE if state is None else state.value


@functools.cache
def _end_try_sql() -> Any:
    """:func:`end_try`'s update with bound parameters: built once, so a try's end costs no
    statement construction nor cache-key computation (docs/performance.md 3)."""
    ti = t.task_instance
    return ti.update().where(
        ti.c.id == sa.bindparam("b_id"), ti.c.state == sa.bindparam("b_state"),
    ).values(state=sa.bindparam("b_new"), end_date=sa.bindparam("b_now"),
             duration=sa.bindparam("b_duration"), updated_at=sa.bindparam("b_now"))


def fail_task_instance(conn: Connection, *, ti_id: Any, error: str | None, now: datetime,
                       expected_states: Collection[str | None] = ("queued", "running",
                                                                  "restarting")) -> str | None:
    """End a try that did not record its own outcome: its process died, it timed out in the
    queue, or it stopped heartbeating.

    A ``restarting`` task instance (cleared while running) goes to no state, to be scheduled
    again; any other goes to :func:`failure_state`'s answer, ``up_for_retry`` or ``failed``.
    ``end_date``, ``duration`` (when the try started) and ``updated_at`` are set. ``error`` is
    logged.

    Args:
        conn: a connection inside the caller's transaction.
        ti_id: the try's ``task_instance.id`` (``UUID`` or its string).
        error: why the try failed (for the log).
        now: the time to record (aware).
        expected_states: change the row only in one of these states.

    Returns:
        The new state's value (:data:`NO_STATE` for no state), or ``None`` when no row has
        that id (the try was cleared or retried since) or it is in another state (someone else
        decided its outcome): nothing was changed.

    Raises:
        ValueError: ``ti_id`` is not a UUID (named).
    """
    ti = t.task_instance
    row = _select_for_update(conn, sa.select(ti).where(ti.c.id == _as_uuid(ti_id)))
    if row is None:
        log.info("Task instance %s is gone (cleared or retried); not failing it: %s", ti_id,
                 error)
        return None
    if row.state not in expected_states:
        log.info("Task instance %s.%s %s try %d is %s, not one of %s; leaving it: %s",
                 row.dag_id, row.task_id, row.run_id, row.try_number, row.state,
                 sorted(map(str, expected_states)), error)
        return None
    if row.state == TaskInstanceState.RESTARTING.value:
        new_state: TaskInstanceState | None = None
    else:
        new_state = failure_state(try_number=row.try_number, max_tries=row.max_tries)
    result = end_try(conn, row, new_state, now=now)
    log.error("Task instance %s.%s %s try %d (%s) -> %s: %s", row.dag_id, row.task_id,
              row.run_id, row.try_number, row.state, result, error)
    return result


def _as_uuid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValueError(f"task instance id must be a UUID, got {value!r}") from None
