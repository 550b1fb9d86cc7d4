"""Backfill planning with Airflow's semantics, computed in one C++ call.

:func:`plan_backfill` answers what Airflow's ``_create_backfill`` decides before it writes
anything: it validates the request in Airflow's order (docs/airflow-behaviour.md 2.3),
lists the timetable's runs between ``from_date`` and ``to_date`` (2.4) and reconciles each date
with the run that already exists at its logical date (2.5):

===================  ===============  ===============  ===================
existing run         reprocess none   reprocess failed reprocess completed
===================  ===============  ===============  ===================
(none)               create           create           create
queued / running     skip: in flight  skip: in flight  skip: in flight
success              skip: exists     skip: exists     clear
failed               skip: exists     clear            clear
===================  ===============  ===============  ===================

("exists" is the reason ``"already exists"``; "clear" means the existing run is cleared, re-queued
and attached to the backfill.)

Validation raises, in this order, the first of: :class:`DagNonPeriodicScheduleError` (the
timetable is not periodic: ``None``, ``@once``, ``@continuous``), :class:`InvalidBackfillDateRange`
(``from_date`` after ``to_date``), :class:`InvalidBackfillDate` (``from_date`` and ``to_date`` both
at or after now), :class:`InvalidBackfillDirection` (``depends_on_past`` with ``run_backwards``),
:class:`InvalidReprocessBehavior` (``depends_on_past`` with reprocess ``"none"``). All are
``ValueError`` subclasses. Malformed arguments (wrong types, naive datetimes, unknown names) raise
``TypeError`` / ``ValueError`` before that chain runs.

The date list holds the runs whose logical date (data-interval timetables) or fire time (trigger
timetables) lies in ``[from_date, to_date]``, both ends inclusive, and whose data interval ended
strictly before now, most recent first when ``run_backwards``. It may be empty: the caller that
writes the backfill (``create_backfill``) reports "No runs to create".

Example:
    >>> from datetime import datetime, timezone
    >>> from dagcore.timetables import CronTriggerTimetable
    >>> from dagcore.state import DagRunState
    >>> utc = timezone.utc
    >>> plan = plan_backfill(
    ...     CronTriggerTimetable("@daily", timezone="UTC"),
    ...     from_date=datetime(2026, 1, 1, tzinfo=utc), to_date=datetime(2026, 1, 3, tzinfo=utc),
    ...     existing_runs={datetime(2026, 1, 2, tzinfo=utc): DagRunState.FAILED},
    ...     reprocess_behavior="failed", now=datetime(2026, 5, 1, tzinfo=utc))
    >>> [(e.sort_ordinal, e.logical_date.day, str(e.action)) for e in plan]
    [(1, 1, 'create'), (2, 2, 'clear'), (3, 3, 'create')]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, TypeAlias, overload

from dagcore._native import core
from dagcore.state import DagRunState
from dagcore.timetables import (
    DEFAULT_MAX_RUNS,
    DagRunInfo,
    DataInterval,
    RunInfoBatch,
    Timetable,
)
from dagcore.utils import timezone

__all__ = [
    "BackfillAction",
    "BackfillDagRunExceptionReason",
    "BackfillPlan",
    "BackfillPlanEntry",
    "DagNonPeriodicScheduleError",
    "DagNonPeriodicScheduleException",
    "ExistingRuns",
    "InvalidBackfillDate",
    "InvalidBackfillDateRange",
    "InvalidBackfillDirection",
    "InvalidReprocessBehavior",
    "ReprocessBehavior",
    "plan_backfill",
    "plan_backfill_batch",
]

# -------------------------------------------------------------------------------------------------
# errors (classes of the compiled core, shown under this module's name)

DagNonPeriodicScheduleError: type[ValueError] = core.DagNonPeriodicScheduleError
"""``"<dag_id> has a non-periodic schedule that does not support backfills"`` (``"The Dag ..."``
without a dag_id)."""

DagNonPeriodicScheduleException = DagNonPeriodicScheduleError
"""Airflow's name for :data:`DagNonPeriodicScheduleError`."""

InvalidBackfillDateRange: type[ValueError] = core.InvalidBackfillDateRange
"""``"from_date (<from_date>) must not be after to_date (<to_date>)"``; equal dates are allowed."""

InvalidBackfillDate: type[ValueError] = core.InvalidBackfillDate
"""``"Backfill cannot be executed for future dates."``: from_date and to_date are both >= now."""

InvalidBackfillDirection: type[ValueError] = core.InvalidBackfillDirection
"""``run_backwards`` requested while tasks depend on the past."""

InvalidReprocessBehavior: type[ValueError] = core.InvalidReprocessBehavior
"""Reprocess behavior ``"none"`` while tasks depend on the past."""

# Tracebacks and reprs name the public module; pickling finds the classes there too.
for _error in (DagNonPeriodicScheduleError, InvalidBackfillDateRange, InvalidBackfillDate,
               InvalidBackfillDirection, InvalidReprocessBehavior):
    _error.__module__ = __name__
del _error


# -------------------------------------------------------------------------------------------------
# values


class ReprocessBehavior(str, Enum):
    """Which existing runs a backfill clears and runs again (Airflow's ReprocessBehavior)."""

    FAILED = "failed"
    COMPLETED = "completed"
    NONE = "none"

    def __str__(self) -> str:
        return self.value


class BackfillAction(str, Enum):
    """What a backfill does for one date."""

    CREATE = "create"
    """No run exists at the logical date: the backfill creates one."""
    CLEAR = "clear"
    """The existing run is cleared, re-queued and attached to the backfill (its run id stays)."""
    SKIP = "skip"
    """The existing run is left alone; the entry's ``reason`` says why."""

    def __str__(self) -> str:
        return self.value


class BackfillDagRunExceptionReason(str, Enum):
    """Why a date is skipped (Airflow's BackfillDagRunExceptionReason; ``UNKNOWN`` is defined
    there too and never produced)."""

    IN_FLIGHT = "in flight"
    ALREADY_EXISTS = "already exists"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


# The objects the engine's action and reason codes stand for (see backfill.hpp).
_ACTIONS = (BackfillAction.CREATE, BackfillAction.CLEAR, BackfillAction.SKIP)
_REASONS = (None, BackfillDagRunExceptionReason.IN_FLIGHT,
            BackfillDagRunExceptionReason.ALREADY_EXISTS)

ExistingRuns: TypeAlias = (
    "Mapping[datetime, DagRunState | str] | Iterable[tuple[datetime, DagRunState | str]]")
"""The DAG's existing runs: logical date -> state, as a mapping or as (logical_date, state)
pairs; states as :class:`~dagcore.state.DagRunState` members or their values."""


@dataclass(frozen=True, slots=True)
class BackfillPlanEntry:
    """One date of a backfill plan.

    Attributes:
        sort_ordinal: the date's 1-based position in the plan (1 is the most recent date when
            the backfill runs backwards); the scheduler starts backfill runs in this order.
        info: the run the timetable asks for at this date.
        logical_date: ``info.logical_date``.
        action: create a run, clear the existing one, or skip the date.
        reason: why the date is skipped; None unless ``action`` is ``SKIP``.

    Raises:
        ValueError: sort_ordinal < 1, logical_date differing from the info's, an unknown action
            or reason, or a reason that does not go with the action.
        TypeError: a field of the wrong type.
    """

    sort_ordinal: int
    info: DagRunInfo
    logical_date: datetime
    action: BackfillAction
    reason: BackfillDagRunExceptionReason | None = None

    def __post_init__(self) -> None:
        # Entries the engine builds skip this (their fields are right by construction).
        if isinstance(self.sort_ordinal, bool) or not isinstance(self.sort_ordinal, int):
            raise TypeError(f"sort_ordinal must be an int, got {type(self.sort_ordinal).__name__}")
        if self.sort_ordinal < 1:
            raise ValueError("sort_ordinal must be >= 1")
        if not isinstance(self.info, DagRunInfo):
            raise TypeError(f"info must be a DagRunInfo, got {type(self.info).__name__}")
        if self.logical_date != self.info.logical_date:
            raise ValueError(f"logical_date {self.logical_date} is not the info's logical date "
                             f"{self.info.logical_date}")
        try:
            action = BackfillAction(self.action)
        except ValueError:
            raise ValueError(f"action must be one of create, clear, skip, got "
                             f"{self.action!r}") from None
        reason = None
        if self.reason is not None:
            try:
                reason = BackfillDagRunExceptionReason(self.reason)
            except ValueError:
                raise ValueError(f"reason must be one of in flight, already exists, unknown or "
                                 f"None, got {self.reason!r}") from None
        if (action is BackfillAction.SKIP) != (reason is not None):
            raise ValueError(f"a {action.value!r} entry "
                             f"{'needs a reason' if reason is None else 'has no reason'}")
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "reason", reason)

    @property
    def run_after(self) -> datetime:
        """When the run may start: ``info.run_after``."""
        return self.info.run_after

    @property
    def data_interval(self) -> DataInterval:
        """The data the run covers: ``info.data_interval``."""
        return self.info.data_interval


_ITER_CHUNK = 4096  # entries built per C++ call while iterating a plan


def _entries(plan: Any, start: int, stop: int) -> list[BackfillPlanEntry]:
    return plan.entries(start, stop, BackfillPlanEntry, DagRunInfo, DataInterval, _ACTIONS,
                        _REASONS)


class BackfillPlan(Sequence[BackfillPlanEntry]):
    """A backfill plan computed in one C++ call: a sequence of :class:`BackfillPlanEntry` built
    on access.

    The plan holds C++ columns; entries and datetimes are created only when an item, a slice,
    an iteration, :meth:`to_list` or a column is asked for (each column property returns a new
    list). A slice returns a list of entries.
    """

    __slots__ = ("_plan",)

    def __init__(self, plan: Any | None = None) -> None:
        self._plan = core.BackfillPlan() if plan is None else plan

    def __len__(self) -> int:
        return len(self._plan)

    @overload
    def __getitem__(self, index: int) -> BackfillPlanEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[BackfillPlanEntry]: ...

    def __getitem__(self, index: int | slice) -> BackfillPlanEntry | list[BackfillPlanEntry]:
        n = len(self._plan)
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step == 1:
                return _entries(self._plan, start, max(start, stop))
            return [self[i] for i in range(start, stop, step)]
        i = index.__index__()
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("BackfillPlan index out of range")
        return _entries(self._plan, i, i + 1)[0]

    def __iter__(self) -> Iterator[BackfillPlanEntry]:
        n = len(self._plan)
        for lo in range(0, n, _ITER_CHUNK):
            yield from _entries(self._plan, lo, min(n, lo + _ITER_CHUNK))

    def __reversed__(self) -> Iterator[BackfillPlanEntry]:
        for hi in range(len(self._plan), 0, -_ITER_CHUNK):
            yield from reversed(_entries(self._plan, max(0, hi - _ITER_CHUNK), hi))

    def to_list(self) -> list[BackfillPlanEntry]:
        """Every entry, in plan order, built in one C++ call."""
        return _entries(self._plan, 0, len(self._plan))

    @property
    def infos(self) -> RunInfoBatch:
        """The runs in plan order, as a :class:`~dagcore.timetables.RunInfoBatch`."""
        return RunInfoBatch(self._plan.infos())

    @property
    def logical_dates(self) -> list[datetime]:
        """Every entry's logical date, aware UTC."""
        return self._plan.logical_dates()

    @property
    def run_afters(self) -> list[datetime]:
        """Every entry's ``run_after``, aware UTC."""
        return self._plan.run_afters()

    @property
    def actions(self) -> list[BackfillAction]:
        """Every entry's action."""
        return list(map(_ACTIONS.__getitem__, self._plan.action_codes()))

    @property
    def reasons(self) -> list[BackfillDagRunExceptionReason | None]:
        """Every entry's skip reason (None for create and clear)."""
        return list(map(_REASONS.__getitem__, self._plan.reason_codes()))

    def action_codes(self) -> bytes:
        """Every entry's action as one byte: 0 create, 1 clear, 2 skip (the order of
        :class:`BackfillAction`); no object per entry."""
        return bytes(self._plan.action_codes())

    def reason_codes(self) -> bytes:
        """Every entry's skip reason as one byte: 0 none, 1 in flight, 2 already exists."""
        return bytes(self._plan.reason_codes())

    def text_column(self, column: str, style: str, *, prefix: str = "",
                    action: BackfillAction | None = None) -> list[str]:
        """One date column as text, made in C++ (no datetime per entry).

        Args:
            column: ``"logical_date"``, ``"run_after"`` or ``"data_interval_end"``.
            style: ``"iso"``: ``isoformat()`` of the aware UTC datetime
                (``2025-01-01T00:00:00+00:00``); ``"sqlite"``: SQLAlchemy's SQLite ``DATETIME``
                text (``2025-01-01 00:00:00.000000``).
            prefix: put before every value (``"backfill__"`` makes the new runs' ids).
            action: only the entries with this action (default: every entry).

        Raises:
            ValueError: an unknown column or style.
        """
        code = -1 if action is None else _ACTIONS.index(BackfillAction(action))
        return self._plan.text_column(column, style, prefix, code)

    def count(self, value: object) -> int:
        """How many entries have the action ``value`` (a :class:`BackfillAction` or its value);
        an entry counts its occurrences, as ``Sequence.count``."""
        if isinstance(value, BackfillPlanEntry):
            return sum(1 for entry in self if entry == value)
        if isinstance(value, str):
            try:
                return int(self._plan.count(BackfillAction(value).value))
            except ValueError:
                pass
        return 0

    def counts(self) -> dict[BackfillAction, int]:
        """The number of entries per action (every action present, zero included)."""
        return {action: int(self._plan.count(action.value)) for action in _ACTIONS}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BackfillPlan):
            return bool(self._plan == other._plan)
        if isinstance(other, list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {a.value}" for a, n in self.counts().items())
        return f"BackfillPlan({len(self)} dates: {counts})"


# -------------------------------------------------------------------------------------------------
# planning


def _check_aware(value: object, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} is a naive datetime ({value}): pass a timezone-aware datetime")
    return value


def _check_bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be a bool, got {type(value).__name__}")
    return value


def _reprocess_value(value: object) -> str:
    """Airflow treats a missing reprocess behavior (the CLI's default None) as "none"."""
    if value is None:
        return ReprocessBehavior.NONE.value
    if isinstance(value, str):
        try:
            return ReprocessBehavior(value).value
        except ValueError:
            pass
        raise ValueError(f"reprocess_behavior must be one of "
                         f"{', '.join(r.value for r in ReprocessBehavior)}, got {value!r}")
    raise TypeError(f"reprocess_behavior must be a ReprocessBehavior or a str, got "
                    f"{type(value).__name__}")


def _existing_runs_arg(runs: ExistingRuns) -> Any:
    # The core reads a dict directly and anything else as an iterable of pairs.
    if isinstance(runs, Mapping) and not isinstance(runs, dict):
        return runs.items()
    return runs


def plan_backfill_batch(timetable: Timetable, *, from_date: datetime, to_date: datetime,
                        existing_runs: ExistingRuns,
                        reprocess_behavior: ReprocessBehavior | str | None = ReprocessBehavior.NONE,
                        run_backwards: bool = False, depends_on_past: bool = False,
                        now: datetime | None = None, dag_id: str | None = None,
                        max_runs: int = DEFAULT_MAX_RUNS) -> BackfillPlan:
    """:func:`plan_backfill`, returning the plan as columns instead of a list.

    The engine's work is the same; what is saved is building one Python object per date up
    front: the :class:`BackfillPlan` creates entries (and datetimes) only when they are read,
    and answers counts and action columns without creating any.

    Args:
        timetable: as :func:`plan_backfill`.
        from_date: as :func:`plan_backfill`.
        to_date: as :func:`plan_backfill`.
        existing_runs: as :func:`plan_backfill`.
        reprocess_behavior: as :func:`plan_backfill`.
        run_backwards: as :func:`plan_backfill`.
        depends_on_past: as :func:`plan_backfill`.
        now: as :func:`plan_backfill`.
        dag_id: as :func:`plan_backfill`.
        max_runs: as :func:`plan_backfill`.

    Returns:
        The plan, a sequence of :class:`BackfillPlanEntry` in plan order.

    Raises:
        Exactly what :func:`plan_backfill` raises.
    """
    if not isinstance(timetable, Timetable):
        raise TypeError(f"timetable must be a dagcore.timetables.Timetable, got "
                        f"{type(timetable).__name__}")
    _check_aware(from_date, "from_date")
    _check_aware(to_date, "to_date")
    reprocess = _reprocess_value(reprocess_behavior)
    backwards = _check_bool(run_backwards, "run_backwards")
    past = _check_bool(depends_on_past, "depends_on_past")
    if dag_id is not None and not isinstance(dag_id, str):
        raise TypeError(f"dag_id must be a str or None, got {type(dag_id).__name__}")
    if isinstance(max_runs, bool) or not isinstance(max_runs, int):
        raise TypeError(f"max_runs must be an int, got {type(max_runs).__name__}")
    if max_runs < 0:
        raise ValueError(f"max_runs must not be negative, got {max_runs}")
    current = timezone.utcnow() if now is None else _check_aware(now, "now")
    runs = _existing_runs_arg(existing_runs)

    impl = getattr(timetable, "_impl", None)
    if isinstance(impl, core.Timetable):
        return BackfillPlan(core.plan_backfill(impl, from_date, to_date, current, runs, reprocess,
                                               backwards, past, max_runs, dag_id))
    # A timetable written in Python: the same checks, its own run list, the same reconciliation.
    core.validate_backfill(bool(timetable.periodic), from_date, to_date, current, reprocess,
                           backwards, past, dag_id)
    infos = timetable.iter_dagrun_infos_between(from_date, to_date, max_runs=max_runs)
    return BackfillPlan(core.plan_backfill_infos(infos._batch, current, runs, reprocess,
                                                 backwards))


def plan_backfill(timetable: Timetable, *, from_date: datetime, to_date: datetime,
                  existing_runs: ExistingRuns,
                  reprocess_behavior: ReprocessBehavior | str | None = ReprocessBehavior.NONE,
                  run_backwards: bool = False, depends_on_past: bool = False,
                  now: datetime | None = None, dag_id: str | None = None,
                  max_runs: int = DEFAULT_MAX_RUNS) -> list[BackfillPlanEntry]:
    """What a backfill of ``timetable`` from ``from_date`` to ``to_date`` does for each date.

    Args:
        timetable: the DAG's timetable (its start date, end date and catchup are ignored, as in
            Airflow's backfills).
        from_date: the first date (aware), inclusive.
        to_date: the last date (aware), inclusive.
        existing_runs: the DAG's runs that already exist, logical date -> state (a mapping, or
            an iterable of ``(logical_date, state)`` pairs; states as ``DagRunState`` or str).
            Only runs at the planned logical dates matter.
        reprocess_behavior: ``"none"`` (default; None means the same, as in Airflow),
            ``"failed"`` or ``"completed"``.
        run_backwards: plan the most recent date first.
        depends_on_past: whether any task of the DAG has ``depends_on_past`` or
            ``depends_on_previous_tasks`` (forbids ``run_backwards`` and reprocess ``"none"``).
        now: the current time (aware); default :func:`dagcore.utils.timezone.utcnow`.
        dag_id: names the DAG in the non-periodic error message.
        max_runs: the most dates generated; more raise ``ValueError``. Built-in timetables
            generate dates only up to ``min(to_date, now)`` (nothing later can have ended),
            a timetable written in Python up to ``to_date``, as Airflow does.

    Returns:
        One :class:`BackfillPlanEntry` per date, in plan order, ``sort_ordinal`` 1..N. Empty
        when no interval in the range has ended yet.

    Raises:
        DagNonPeriodicScheduleError: the timetable is not periodic.
        InvalidBackfillDateRange: ``from_date`` is after ``to_date``.
        InvalidBackfillDate: both dates are at or after ``now``.
        InvalidBackfillDirection: ``depends_on_past`` with ``run_backwards``.
        InvalidReprocessBehavior: ``depends_on_past`` with reprocess behavior ``"none"``.
        ValueError: naive datetimes, an unknown reprocess behavior or run state (named in the
            message), two existing runs at one logical date, more than ``max_runs`` dates.
        TypeError: an argument of the wrong type.
    """
    return plan_backfill_batch(timetable, from_date=from_date, to_date=to_date,
                               existing_runs=existing_runs, reprocess_behavior=reprocess_behavior,
                               run_backwards=run_backwards, depends_on_past=depends_on_past,
                               now=now, dag_id=dag_id, max_runs=max_runs).to_list()


# The database side (create_backfill, dry_run_backfill, ...) lives in dagcore.api.backfills;
# importing it here lazily keeps this planning module free of SQLAlchemy.
_DB_NAMES = frozenset({"Backfill", "BackfillCompleted", "BackfillNotFound", "BackfillStatus",
                       "OverlappingBackfill", "backfill_status", "cancel_backfill",
                       "create_backfill", "dry_run_backfill", "get_backfill", "list_backfills",
                       "pause_backfill", "unpause_backfill"})


def __getattr__(name: str) -> Any:
    if name in _DB_NAMES:
        import importlib

        # layer-exception: public names of dagcore.backfill (DESIGN.md), served lazily from the
        # operations layer so that planning alone never imports the database code
        return getattr(importlib.import_module("dagcore.api.backfills"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
