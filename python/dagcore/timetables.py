"""Timetables: which DAG runs a schedule asks for, with Airflow 3's semantics, computed in C++.

A DAG's ``schedule`` becomes a timetable (:func:`create_timetable`): ``None`` never runs,
``"@once"`` runs once, ``"@continuous"`` runs back to back, a cron string or preset becomes a
:class:`CronTriggerTimetable` (a run at each fire, logical date = fire time) and a ``timedelta`` or
``relativedelta`` a :class:`DeltaTriggerTimetable`; with ``cron_data_intervals=True`` (Airflow's
``[scheduler] create_cron_data_intervals``) they become :class:`CronDataIntervalTimetable` and
:class:`DeltaDataIntervalTimetable` instead (Airflow 2: a run at the END of each period).

Every method behaves as the Airflow class of the same name: ``next_dagrun_info`` (catchup on or
off, ``run_immediately``, DST rules of the cron engine), ``infer_manual_data_interval``,
``periodic``, ``can_be_scheduled``, ``summary``, ``serialize``/``deserialize`` (Airflow's format)
and ``generate_run_id``. "Now" is :func:`dagcore.utils.timezone.utcnow`, the clock seam tests
freeze. :meth:`Timetable.iter_dagrun_infos_between` computes a whole backfill's run list in one
C++ call; it equals repeated ``next_dagrun_info`` calls with ``catchup=True``.

Datetimes passed in must be timezone-aware (naive ones raise ``ValueError``); every datetime
returned is aware UTC.

Example:
    >>> from datetime import datetime, timezone
    >>> tt = create_timetable("@daily", "Europe/Amsterdam")
    >>> batch = tt.iter_dagrun_infos_between(datetime(2026, 3, 28, tzinfo=timezone.utc),
    ...                                      datetime(2026, 3, 31, tzinfo=timezone.utc))
    >>> [d.isoformat() for d in batch.logical_dates]
    ['2026-03-28T23:00:00+00:00', '2026-03-29T22:00:00+00:00', '2026-03-30T22:00:00+00:00']
    >>> tt.generate_run_id(run_type="backfill", run_after=batch[0].run_after,
    ...                    data_interval=batch[0].data_interval)
    'backfill__2026-03-28T23:00:00+00:00'
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, ClassVar, TypeAlias, TypeGuard, overload
from zoneinfo import ZoneInfo

from dagcore._native import core
from dagcore.cron import describe_cron
from dagcore.utils import timezone

from dateutil.relativedelta import relativedelta, weekday  # a declared dependency (setup.cfg)

__all__ = [
    "DEFAULT_MAX_RUNS",
    "describe_timetable",
    "ContinuousTimetable",
    "CronDataIntervalTimetable",
    "CronTriggerTimetable",
    "DagRunInfo",
    "DataInterval",
    "DeltaDataIntervalTimetable",
    "DeltaTriggerTimetable",
    "MultipleCronTriggerTimetable",
    "NullTimetable",
    "OnceTimetable",
    "RunInfoBatch",
    "TimeRestriction",
    "Timetable",
    "create_timetable",
]

Delta: TypeAlias = "timedelta | relativedelta"
"""A schedule delta: a ``datetime.timedelta`` or a ``dateutil.relativedelta.relativedelta``."""

DEFAULT_MAX_RUNS = 1_000_000
"""The most runs :meth:`Timetable.iter_dagrun_infos_between` returns unless told otherwise."""

RUN_TYPES = ("scheduled", "backfill", "manual", "asset_triggered")
"""The run types a run id can start with (Airflow's ``DagRunType`` values)."""

# Airflow's cron_presets: the expression a timetable reports (summary, serialize). Other aliases
# (@midnight, @annually) are kept as given, as Airflow passes them through to croniter.
_CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}

_RELATIVE_FIELDS = ("years", "months", "days", "leapdays", "hours", "minutes", "seconds",
                    "microseconds")
_ABSOLUTE_FIELDS = ("year", "month", "day", "hour", "minute", "second", "microsecond", "weekday")
_MAX_MICROS = 1 << 62  # kept well inside int64 so the C++ arithmetic cannot overflow
_MAX_MONTHS = 12 * 10_000  # beyond any datetime's reach, far inside the C++ limits
_ITER_CHUNK = 4096  # runs per C++ slice while iterating a batch (bounds the transient lists)


# -------------------------------------------------------------------------------------------------
# values


def _check_aware(value: object, what: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} is a naive datetime ({value}): pass a timezone-aware datetime")


def _normalised(obj: object, name: str, what: str) -> None:
    """Checks the datetime field ``name`` of a frozen record and replaces a pendulum value by
    the stdlib datetime of the same instant (:func:`dagcore.utils.timezone.coerce_datetime`)."""
    value = getattr(obj, name)
    _check_aware(value, what)
    object.__setattr__(obj, name, timezone.coerce_datetime(value))


@dataclass(frozen=True, slots=True)
class DataInterval:
    """The data a run covers, ``[start, end]``; a run's logical date is ``start``.

    Attributes:
        start: the start of the interval (aware).
        end: the end of the interval (aware).

    Raises:
        TypeError: a bound is not a datetime.
        ValueError: a bound is naive.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _normalised(self, "start", "DataInterval.start")
        _normalised(self, "end", "DataInterval.end")

    @classmethod
    def exact(cls, at: datetime) -> DataInterval:
        """The zero-length interval ``[at, at]``."""
        return cls(at, at)

    def __iter__(self) -> Iterator[datetime]:
        """``start, end = interval`` works as with Airflow's NamedTuple."""
        return iter((self.start, self.end))


@dataclass(frozen=True, slots=True)
class DagRunInfo:
    """One run a timetable asks for.

    Attributes:
        run_after: the earliest time the run may start.
        data_interval: the data the run covers.
    """

    run_after: datetime
    data_interval: DataInterval

    def __post_init__(self) -> None:
        _normalised(self, "run_after", "DagRunInfo.run_after")
        if not isinstance(self.data_interval, DataInterval):
            raise TypeError(
                f"DagRunInfo.data_interval must be a DataInterval, got "
                f"{type(self.data_interval).__name__}")

    @property
    def logical_date(self) -> datetime:
        """The run's logical date: the start of its data interval."""
        return self.data_interval.start

    @classmethod
    def exact(cls, at: datetime) -> DagRunInfo:
        """A run at ``at`` covering ``[at, at]``."""
        return cls(at, DataInterval(at, at))

    @classmethod
    def interval(cls, start: datetime, end: datetime) -> DagRunInfo:
        """A run covering ``[start, end]``, due at ``end``."""
        return cls(end, DataInterval(start, end))


@dataclass(frozen=True, slots=True)
class TimeRestriction:
    """The bounds a DAG puts on automated runs.

    Attributes:
        earliest: no run starts before this (the DAG's start date), or None.
        latest: no run starts after this (the DAG's end date), or None.
        catchup: whether missed periods are run (False: skip to the most recent one).
    """

    earliest: datetime | None
    latest: datetime | None
    catchup: bool

    def __post_init__(self) -> None:
        if self.earliest is not None:
            _normalised(self, "earliest", "TimeRestriction.earliest")
        if self.latest is not None:
            _normalised(self, "latest", "TimeRestriction.latest")


def _make_interval(start: datetime, end: datetime) -> DataInterval:
    # Values from the C++ core are aware UTC already: skip __post_init__'s checks.
    interval = object.__new__(DataInterval)
    object.__setattr__(interval, "start", start)
    object.__setattr__(interval, "end", end)
    return interval


def _make_info(run_after: datetime, start: datetime, end: datetime) -> DagRunInfo:
    info = object.__new__(DagRunInfo)
    object.__setattr__(info, "run_after", run_after)
    object.__setattr__(info, "data_interval", _make_interval(start, end))
    return info


class RunInfoBatch(Sequence[DagRunInfo]):
    """Run infos computed in one C++ call: a sequence of :class:`DagRunInfo` built on access.

    The batch holds C++ columns; ``DagRunInfo`` objects and datetimes are created only when an
    item, a slice, an iteration or a column is asked for (each column property returns a new
    list). Slicing returns a new batch; ``reversed()`` iterates from the last run.
    """

    __slots__ = ("_batch",)

    def __init__(self, batch: core.RunInfoBatch | None = None) -> None:
        self._batch = core.RunInfoBatch() if batch is None else batch

    @classmethod
    def from_infos(cls, infos: Iterable[DagRunInfo]) -> RunInfoBatch:
        """A batch holding ``infos`` (for timetables written in Python)."""
        run_afters: list[datetime] = []
        starts: list[datetime] = []
        ends: list[datetime] = []
        for info in infos:
            run_afters.append(info.run_after)
            starts.append(info.data_interval.start)
            ends.append(info.data_interval.end)
        return cls(core.RunInfoBatch.from_columns(run_afters, starts, ends))

    def __len__(self) -> int:
        return len(self._batch)

    @overload
    def __getitem__(self, index: int) -> DagRunInfo: ...

    @overload
    def __getitem__(self, index: slice) -> RunInfoBatch: ...

    def __getitem__(self, index: int | slice) -> DagRunInfo | RunInfoBatch:
        if isinstance(index, slice):
            return RunInfoBatch(self._batch[index])
        return _make_info(*self._batch[index])

    def __iter__(self) -> Iterator[DagRunInfo]:
        batch = self._batch
        for lo in range(0, len(batch), _ITER_CHUNK):
            chunk = batch[lo:lo + _ITER_CHUNK]
            yield from map(_make_info, chunk.run_afters(), chunk.starts(), chunk.ends())

    def __reversed__(self) -> Iterator[DagRunInfo]:
        batch = self._batch
        for hi in range(len(batch), 0, -_ITER_CHUNK):
            chunk = batch[max(0, hi - _ITER_CHUNK):hi].reversed()
            yield from map(_make_info, chunk.run_afters(), chunk.starts(), chunk.ends())

    @property
    def logical_dates(self) -> list[datetime]:
        """Every run's logical date (its data interval start), aware UTC."""
        return self._batch.starts()

    @property
    def run_afters(self) -> list[datetime]:
        """Every run's ``run_after``, aware UTC."""
        return self._batch.run_afters()

    @property
    def data_interval_starts(self) -> list[datetime]:
        """Every run's data interval start, aware UTC."""
        return self._batch.starts()

    @property
    def data_interval_ends(self) -> list[datetime]:
        """Every run's data interval end, aware UTC."""
        return self._batch.ends()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RunInfoBatch):
            return bool(self._batch == other._batch)
        if isinstance(other, list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        n = len(self)
        if n == 0:
            return "RunInfoBatch(0 runs)"
        first = self._batch[0][1].isoformat()
        last = self._batch[n - 1][1].isoformat()
        return f"RunInfoBatch({n} runs, logical dates {first} .. {last})"


# -------------------------------------------------------------------------------------------------
# argument conversion


def _is_relativedelta(value: object) -> TypeGuard[relativedelta]:
    return isinstance(value, relativedelta)


def _zone_name(tz: object) -> str:
    """The zone-database name of a ``timezone`` argument (a name, ZoneInfo, pendulum or UTC)."""
    if isinstance(tz, str):
        return tz
    if not isinstance(tz, tzinfo):
        raise TypeError(f"timezone must be a zone name (str) or a tzinfo, got "
                        f"{type(tz).__name__}")
    zone = timezone.coerce_timezone(tz)
    if zone is UTC:
        return "UTC"
    if isinstance(zone, ZoneInfo):
        return zone.key
    raise ValueError(f"time zone {tz!r} has no name in the time-zone database: pass a name "
                     f"such as 'Europe/Amsterdam' (fixed offsets other than UTC are not "
                     f"supported)")


def _micros(td: timedelta) -> int:
    return (td.days * 86_400 + td.seconds) * 1_000_000 + td.microseconds


def _sets_absolute(value: relativedelta) -> bool:
    """Whether ``value`` has a part whose effect depends on the date it is added to."""
    return bool(value.leapdays) or any(getattr(value, name) is not None
                                       for name in _ABSOLUTE_FIELDS)


def _delta_parts(value: object, what: str) -> tuple[int, int] | None:
    """``value`` as (calendar months, fixed microseconds), the form the C++ engine computes
    with; None for a relativedelta it cannot express (absolute fields such as ``day=1`` or
    ``weekday=MO``, ``leapdays``, or months and a fixed part of opposite signs), which is
    computed in Python with dateutil instead. TypeError/ValueError naming the value."""
    if isinstance(value, timedelta):
        months, micros = 0, _micros(value)
    elif _is_relativedelta(value):
        if _sets_absolute(value):
            return None
        months = value.years * 12 + value.months
        micros = _micros(timedelta(days=value.days, hours=value.hours, minutes=value.minutes,
                                   seconds=value.seconds, microseconds=value.microseconds))
        if (months > 0 > micros) or (micros > 0 > months):
            return None
    else:
        raise TypeError(f"{what} must be a timedelta or a dateutil relativedelta, got "
                        f"{type(value).__name__}")
    if abs(months) > _MAX_MONTHS or abs(micros) >= _MAX_MICROS:
        raise ValueError(f"{what} {value!r} is out of range")
    return months, micros


@functools.cache
def _sample_dates() -> tuple[datetime, ...]:
    """Every day of a common and a leap year, each at midnight, midday and the last
    microsecond: every month length, day of month and weekday a relativedelta can meet."""
    times = (time(0), time(12, 30, 30, 500_000), time(23, 59, 59, 999_999))
    first = date(2023, 1, 1)
    return tuple(datetime.combine(first + timedelta(days=i), at, tzinfo=UTC)
                 for i in range(731) for at in times)


@functools.lru_cache(maxsize=256)
def _check_python_delta(value: relativedelta, what: str, forward: bool) -> None:
    """A relativedelta the C++ engine cannot express must move every date the same way.

    Airflow only checks ``now + delta > now`` once (docs/airflow-behaviour.md 8.6), so
    ``relativedelta(months=1, days=-28)`` (which leaves Feb 1 of a common year where it is) passes
    there and repeats a run later; here the delta is applied to :func:`_sample_dates` and the first
    date it does not move (forward for a schedule, not forward for a data interval) is named. A
    fixed ``year=`` stops repeating after that year, so it is refused outright.
    """
    if value.year is not None:
        raise ValueError(f"{what} {value!r} sets year={value.year}: a schedule with a fixed "
                         f"year does not repeat")
    for at in _sample_dates():
        try:
            moved = at + value if forward else at - value
        except (OverflowError, ValueError):
            raise ValueError(f"{what} {value!r} is out of range") from None
        if forward and moved <= at:
            raise ValueError(f"schedule interval must be positive, not {value!r} (it moves "
                             f"{at:%Y-%m-%d %H:%M:%S} to {moved:%Y-%m-%d %H:%M:%S})")
        if not forward and moved > at:
            raise ValueError(f"interval must not be negative, got {value!r} (the interval "
                             f"ending {at:%Y-%m-%d %H:%M:%S} would start at "
                             f"{moved:%Y-%m-%d %H:%M:%S})")


def _schedule_delta(value: object) -> tuple[int, int] | None:
    """The period of a delta timetable in the C++ engine's form, or None (computed in Python,
    after checking it moves every date forward)."""
    parts = _delta_parts(value, "schedule interval")
    if parts is None:
        _check_python_delta(value, "schedule interval", True)
        return None
    months, micros = parts
    if months < 0 or micros < 0 or (months == 0 and micros == 0):
        raise ValueError(f"schedule interval must be positive, not {value!r}")
    return months, micros


def _interval_delta(value: object) -> tuple[int, int] | None:
    """A trigger timetable's data-interval length in the C++ engine's form, or None (computed
    in Python, after checking no interval ends before it starts)."""
    parts = _delta_parts(value, "interval")
    if parts is None:
        _check_python_delta(value, "interval", False)
        return None
    months, micros = parts
    if months < 0 or micros < 0:
        raise ValueError(f"interval must not be negative, got {value!r}")
    return months, micros


def _run_immediately_arg(value: object) -> bool | timedelta:
    if isinstance(value, bool):
        return value
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError(f"run_immediately must not be a negative timedelta, got {value!r}")
        return value
    raise TypeError(f"run_immediately must be a bool or a timedelta, got {type(value).__name__}")


def _encode_delta(value: Delta) -> float | dict[str, Any]:
    """Airflow's encode_interval: seconds for a timedelta, a relativedelta as
    :func:`_encode_relativedelta` (docs/airflow-behaviour.md 8.6)."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    return _encode_relativedelta(value)


def _encode_relativedelta(value: relativedelta) -> dict[str, Any]:
    """Airflow's encode_relativedelta: the non-zero relative fields, the absolute fields that
    are set, ``weekday`` as ``[weekday]`` or ``[weekday, n]`` (``MO`` -> ``[0]``, ``FR(-1)`` ->
    ``[4, -1]``), in the attribute order Airflow reads them (docs/airflow-behaviour.md 8.6).

    One difference: Airflow keeps only truthy values, so an absolute field set to zero
    (``hour=0``, ``minute=0``) is dropped and its deserialized schedule keeps the start date's
    hour instead; here it is kept, so the round trip gives back the schedule the DAG file
    wrote. A relativedelta with no absolute field encodes exactly as in Airflow.
    """
    data: dict[str, Any] = {name: getattr(value, name) for name in _RELATIVE_FIELDS
                            if getattr(value, name)}
    for name in _ABSOLUTE_FIELDS:
        if name != "weekday" and getattr(value, name) is not None:
            data[name] = getattr(value, name)
    day = value.weekday
    if day is not None:
        data["weekday"] = [day.weekday, day.n] if day.n else [day.weekday]
    return data


def _decode_delta(value: Any, what: str) -> Delta:
    """Airflow's decode_interval (seconds, or an encode_relativedelta dict;
    docs/airflow-behaviour.md 8.6)."""
    if isinstance(value, dict):
        return _decode_relativedelta(value, what)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    raise ValueError(f"{what} must be seconds or a relativedelta dict, got {value!r}")


def _decode_relativedelta(value: dict[str, Any], what: str) -> relativedelta:
    """Airflow's decode_relativedelta, with an error naming the value for bad data
    (docs/airflow-behaviour.md 8.6)."""
    fields = dict(value)
    try:
        if "weekday" in fields:
            day = fields["weekday"]
            if (not isinstance(day, list | tuple) or not 1 <= len(day) <= 2
                    or not all(isinstance(x, int) and not isinstance(x, bool) for x in day)
                    or not 0 <= day[0] <= 6 or (len(day) == 2 and day[1] == 0)):
                raise ValueError(f"weekday must be [weekday] or [weekday, n] with weekday 0-6 "
                                 f"(Monday 0) and n not 0, got {day!r}")
            fields["weekday"] = weekday(*day)
        return relativedelta(**fields)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} {value!r} is not a serialized relativedelta: {exc}") from None


def _encode_run_immediately(value: bool | timedelta) -> bool | float:
    return value.total_seconds() if isinstance(value, timedelta) else value


def _decode_run_immediately(value: Any) -> bool | timedelta:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    raise ValueError(f"run_immediately must be a bool or seconds, got {value!r}")


def _check_max_runs(max_runs: object) -> int:
    if isinstance(max_runs, bool) or not isinstance(max_runs, int):
        raise TypeError(f"max_runs must be an int, got {type(max_runs).__name__}")
    if max_runs < 0:
        raise ValueError(f"max_runs must not be negative, got {max_runs}")
    return max_runs


def _run_type_value(run_type: object) -> str:
    value = run_type.value if isinstance(run_type, enum.Enum) else run_type
    if not isinstance(value, str) or value not in RUN_TYPES:
        raise ValueError(f"run_type must be one of {', '.join(RUN_TYPES)}, got {run_type!r}")
    return value


# -------------------------------------------------------------------------------------------------
# Python engines: relativedeltas the C++ core cannot express
#
# Design note. The C++ core steps deltas as (calendar months, fixed microseconds). A relativedelta
# with an absolute field (``day=1``, ``hour=0``, ``weekday=MO``, ``weekday=FR(-1)``), ``leapdays``,
# or months and a fixed part of opposite signs is applied by dateutil's rules instead; these
# classes do that in Python behind the same interface as the C++ timetables (``_impl``), so the
# timetable classes above them do not change. Plain timedeltas and purely relative
# relativedeltas keep the C++ path, bulk generation included. As in Airflow (DeltaMixin:
# ``convert_to_utc(current + delta)`` on the UTC datetimes the scheduler holds; see
# docs/airflow-behaviour.md 2.9.3, 2.9.4 and 8.6), the delta is applied to UTC wall time, so
# ``day=1`` or ``hour=0`` are UTC fields.


def _utc(value: datetime, what: str) -> datetime:
    _check_aware(value, what)
    return timezone.coerce_datetime(value).astimezone(UTC)


def _opt_utc(value: datetime | None, what: str) -> datetime | None:
    return None if value is None else _utc(value, what)


def _shift(at: datetime, delta: Delta, forward: bool) -> datetime:
    """``at`` ± ``delta`` as dateutil computes it; ValueError (not OverflowError) at the ends
    of the datetime range."""
    try:
        return at + delta if forward else at - delta
    except (OverflowError, ValueError):
        sign = "+" if forward else "-"
        raise ValueError(f"date value out of range: {at.isoformat()} {sign} {delta!r}") from None


_Raw: TypeAlias = "tuple[datetime, datetime, datetime]"
"""(run_after, data interval start, data interval end), as the C++ timetables return a run."""


class _PythonDeltaEngine:
    """What the Python delta timetables share: stepping and the bulk driver."""

    _delta: Delta

    def _next(self, at: datetime) -> datetime:
        moved = _shift(at, self._delta, True)
        if moved <= at:  # a guard: _check_python_delta refused such deltas on sample dates
            raise ValueError(f"schedule interval {self._delta!r} does not move "
                             f"{at.isoformat()} forward")
        return moved

    def _prev(self, at: datetime) -> datetime:
        return _shift(at, self._delta, False)

    def _info(self, last: DataInterval | None, earliest: datetime | None,
              latest: datetime | None, catchup: bool, now: datetime) -> _Raw | None:
        raise NotImplementedError

    def next_dagrun_info(self, last_start: datetime | None, last_end: datetime | None,
                         earliest: datetime | None, latest: datetime | None, catchup: bool,
                         now: datetime) -> _Raw | None:
        last = None
        if last_start is not None and last_end is not None:
            last = _make_interval(_utc(last_start, "last data interval start"),
                                  _utc(last_end, "last data interval end"))
        return self._info(last, _opt_utc(earliest, "earliest"), _opt_utc(latest, "latest"),
                          catchup, _utc(now, "now"))

    def infos_between(self, earliest: datetime, latest: datetime, now: datetime,
                      max_runs: int) -> core.RunInfoBatch:
        """Repeated next_dagrun_info with catchup, as Airflow's iter_dagrun_infos_between;
        runs beyond ``max_runs`` are counted, not kept."""
        first, last_date, at = _utc(earliest, "earliest"), _utc(latest, "latest"), _utc(now, "now")
        run_afters: list[datetime] = []
        starts: list[datetime] = []
        ends: list[datetime] = []
        count = 0
        raw = self._info(None, first, last_date, True, at)
        while raw is not None:
            count += 1
            if count <= max_runs:
                run_afters.append(raw[0])
                starts.append(raw[1])
                ends.append(raw[2])
            raw = self._info(_make_interval(raw[1], raw[2]), first, last_date, True, at)
        if count > max_runs:
            raise ValueError(f"the range holds {count} runs, more than max_runs={max_runs}")
        return core.RunInfoBatch.from_columns(run_afters, starts, ends)


class _PythonDeltaTrigger(_PythonDeltaEngine):
    """Airflow's DeltaTriggerTimetable (trigger.py: _TriggerTimetable with DeltaMixin): align
    is the identity and the first run without a start date is now."""

    def __init__(self, delta: relativedelta, interval: Delta) -> None:
        self._delta = delta
        self._interval = interval

    def _info(self, last: DataInterval | None, earliest: datetime | None,
              latest: datetime | None, catchup: bool, now: datetime) -> _Raw | None:
        if catchup:
            if last is not None:
                fire = self._next(last.end)
            else:
                fire = earliest if earliest is not None else now
        else:
            fire = now
            if last is not None:
                fire = max(fire, self._next(last.end))
            if earliest is not None:
                fire = max(fire, earliest)
        if latest is not None and latest < fire:
            return None
        return fire, _shift(fire, self._interval, False), fire

    def infer_manual_data_interval(self, run_after: datetime,
                                   now: datetime) -> tuple[datetime, datetime]:
        end = _utc(run_after, "run_after")
        return _shift(end, self._interval, False), end


class _PythonDeltaDataInterval(_PythonDeltaEngine):
    """Airflow's DeltaDataIntervalTimetable (interval.py: _DataIntervalTimetable with
    DeltaMixin) for a relativedelta the C++ core cannot express.

    Without catchup such a period counts as a calendar period (Airflow's newer rule for
    months and years, docs/airflow-behaviour.md 2.9.3): the runs stay on the start date's
    grid, one period at a time, and the one that runs is the last period that has ended by now
    (the first period while it is still running); without a start date the interval is
    ``[now - delta, next of that]``. The walk from the start date is remembered, so the
    scheduler's repeated calls continue it.
    """

    def __init__(self, delta: relativedelta) -> None:
        self._delta = delta
        self._walk: tuple[datetime, datetime, datetime] | None = None

    def _skip_to_latest(self, earliest: datetime | None, now: datetime) -> datetime:
        if earliest is None:
            return self._prev(now)
        walk = self._walk
        if walk is not None and walk[0] == earliest and walk[2] <= now:
            result, start = walk[1], walk[2]
        else:
            result = start = earliest
        following = self._next(start)
        while following <= now:
            result, start = start, following
            following = self._next(start)
        self._walk = (earliest, result, start)
        return result

    def _info(self, last: DataInterval | None, earliest: datetime | None,
              latest: datetime | None, catchup: bool, now: datetime) -> _Raw | None:
        if not catchup:
            earliest = self._skip_to_latest(earliest, now)
        if last is None:
            if earliest is None:
                return None
            start = earliest
        else:
            start = last.end if earliest is None else max(last.end, earliest)
            # A zero-length previous interval (left by a trigger timetable) must not be
            # followed by a run with that same logical date.
            if last.start == last.end and start == last.start:
                start = self._next(start)
        if latest is not None and start > latest:
            return None
        end = self._next(start)
        return end, start, end

    def infer_manual_data_interval(self, run_after: datetime,
                                   now: datetime) -> tuple[datetime, datetime]:
        end = _utc(run_after, "run_after")
        return self._prev(end), end


def _trigger_impl(make: Any, interval: Delta) -> Any:
    """The C++ trigger timetable ``make(interval months, interval micros)``, wrapped in
    :class:`_IntervalInPython` when the interval needs dateutil."""
    parts = _interval_delta(interval)
    if parts is None:
        return _IntervalInPython(make(0, 0), interval)
    return make(*parts)


class _IntervalInPython:
    """A trigger timetable whose fires the C++ core computes (with a zero data interval) but
    whose data-interval length it cannot express: each run's start is ``fire - interval``
    computed with dateutil (Airflow: ``coerce_datetime(next_start_time - self._interval)``)."""

    def __init__(self, impl: Any, interval: relativedelta) -> None:
        self._impl = impl
        self._interval = interval

    def _start(self, fire: datetime) -> datetime:
        return _shift(fire, self._interval, False)

    def next_dagrun_info(self, last_start: datetime | None, last_end: datetime | None,
                         earliest: datetime | None, latest: datetime | None, catchup: bool,
                         now: datetime) -> _Raw | None:
        # The core sees the runs it would have made with a zero interval: [end, end].
        raw = self._impl.next_dagrun_info(last_end, last_end, earliest, latest, catchup, now)
        if raw is None:
            return None
        return raw[0], self._start(raw[2]), raw[2]

    def infer_manual_data_interval(self, run_after: datetime,
                                   now: datetime) -> tuple[datetime, datetime]:
        end = self._impl.infer_manual_data_interval(run_after, now)[1]
        return self._start(end), end

    def infos_between(self, earliest: datetime, latest: datetime, now: datetime,
                      max_runs: int) -> core.RunInfoBatch:
        batch = self._impl.infos_between(earliest, latest, now, max_runs)
        ends = batch.ends()
        return core.RunInfoBatch.from_columns(batch.run_afters(),
                                              [self._start(end) for end in ends], ends)


# -------------------------------------------------------------------------------------------------
# timetables


class Timetable:
    """The base of every timetable, with Airflow's interface.

    The built-in kinds compute everything in C++. A subclass written in Python overrides
    :meth:`next_dagrun_info` and :meth:`infer_manual_data_interval` (and ``serialize`` /
    ``deserialize`` if it has parameters); :meth:`iter_dagrun_infos_between` then falls back to
    calling ``next_dagrun_info`` in a loop.

    Attributes:
        periodic: whether runs recur (False: the DAG cannot be backfilled).
        can_be_scheduled: whether the scheduler ever creates runs.
        active_runs_limit: the most active runs the timetable allows (None: no limit).
        description: a human-readable description.
    """

    periodic: ClassVar[bool] = True
    can_be_scheduled: ClassVar[bool] = True
    active_runs_limit: ClassVar[int | None] = None
    description: ClassVar[str] = ""

    @property
    def summary(self) -> str:
        """A short summary for the UI (the cron expression, the delta, ``@once``...)."""
        return type(self).__name__

    def validate(self) -> None:
        """Checks the timetable (built-in kinds check their arguments when constructed)."""

    def serialize(self) -> dict[str, Any]:
        """The timetable's parameters as JSON-compatible data (Airflow's format)."""
        return {}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        """The timetable that :meth:`serialize` described."""
        return cls()

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        """The next automated run, or None.

        Args:
            last_automated_data_interval: the data interval of the latest automated run, or
                None if there is none.
            restriction: the DAG's start and end dates and catchup setting.
        """
        raise NotImplementedError

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """The data interval of a run triggered manually at ``run_after``."""
        raise NotImplementedError

    def generate_run_id(self, *, run_type: str | enum.Enum, run_after: datetime,
                        data_interval: DataInterval | None) -> str:
        """The run id Airflow gives such a run: ``"<run_type>__<run_after ISO, UTC>"``.

        Args:
            run_type: ``"scheduled"``, ``"backfill"``, ``"manual"`` or ``"asset_triggered"``
                (or an enum with one of those values).
            run_after: when the run is due (aware; written in UTC, ``+00:00``, with
                microseconds only when non-zero).
            data_interval: the run's data interval (unused by the built-in kinds).

        Raises:
            ValueError: unknown run type or naive ``run_after``.
        """
        kind = _run_type_value(run_type)
        _check_aware(run_after, "run_after")
        return f"{kind}__{run_after.astimezone(UTC).isoformat()}"

    def iter_dagrun_infos_between(self, earliest: datetime, latest: datetime, *,
                                  max_runs: int = DEFAULT_MAX_RUNS) -> RunInfoBatch:
        """Every run a backfill from ``earliest`` to ``latest`` covers, in one call.

        The same list as calling :meth:`next_dagrun_info` with
        ``TimeRestriction(earliest, latest, catchup=True)``, each result's data interval
        feeding the next call, until it returns None: both bounds are inclusive on the
        timetable's start value (the logical date of a data-interval run, the fire time of a
        trigger run).

        Args:
            earliest: the first date (aware).
            latest: the last date (aware).
            max_runs: the most runs to return.

        Returns:
            The runs as a :class:`RunInfoBatch`.

        Raises:
            ValueError: more than ``max_runs`` runs (the message gives the count; nothing is
                allocated for them), naive bounds, or a timetable without a finite run list
                (continuous).
        """
        max_runs = _check_max_runs(max_runs)
        _check_aware(earliest, "earliest")
        _check_aware(latest, "latest")
        restriction = TimeRestriction(earliest, latest, True)
        kept: list[DagRunInfo] = []
        count = 0
        info = self.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
        while info is not None:
            count += 1
            if count <= max_runs:
                kept.append(info)
            previous = info.data_interval
            info = self.next_dagrun_info(last_automated_data_interval=previous,
                                         restriction=restriction)
            if info is not None and info.data_interval == previous:
                raise RuntimeError(f"{self!r} repeated the data interval {previous}")
        if count > max_runs:
            raise ValueError(f"the range holds {count} runs, more than max_runs={max_runs}")
        return RunInfoBatch.from_infos(kept)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Timetable):
            return NotImplemented
        return type(self) is type(other) and self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash((type(self).__qualname__,
                     json.dumps(self.serialize(), sort_keys=True, default=repr)))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self).deserialize, (self.serialize(),))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _CoreTimetable(Timetable):
    """A built-in kind: the C++ core does the work, this class converts at the edge."""

    _impl: Any

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        last = last_automated_data_interval
        raw = self._impl.next_dagrun_info(
            None if last is None else last.start,
            None if last is None else last.end,
            restriction.earliest,
            restriction.latest,
            bool(restriction.catchup),
            timezone.utcnow(),
        )
        return None if raw is None else _make_info(*raw)

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return _make_interval(*self._impl.infer_manual_data_interval(run_after,
                                                                     timezone.utcnow()))

    def iter_dagrun_infos_between(self, earliest: datetime, latest: datetime, *,
                                  max_runs: int = DEFAULT_MAX_RUNS) -> RunInfoBatch:
        max_runs = _check_max_runs(max_runs)
        return RunInfoBatch(self._impl.infos_between(earliest, latest, timezone.utcnow(),
                                                     max_runs))


class NullTimetable(_CoreTimetable):
    """Never schedules a run (``schedule=None``): runs are only triggered manually."""

    periodic = False
    can_be_scheduled = False
    description = "Never, external triggers only"

    def __init__(self) -> None:
        self._impl = core.Timetable.null()

    @property
    def summary(self) -> str:
        return "None"


class OnceTimetable(_CoreTimetable):
    """One run, at the DAG's start date (or when first seen without one): ``"@once"``."""

    periodic = False
    description = "Once, as soon as possible"

    def __init__(self) -> None:
        self._impl = core.Timetable.once()

    @property
    def summary(self) -> str:
        return "@once"


class ContinuousTimetable(_CoreTimetable):
    """A new run as soon as the previous one finishes (``"@continuous"``), one at a time.

    Each run covers ``[previous end, now]``. It has no finite list of runs between two dates,
    so :meth:`iter_dagrun_infos_between` raises ``ValueError``.
    """

    periodic = False
    active_runs_limit = 1
    description = "As frequently as possible, but only one run at a time."

    def __init__(self) -> None:
        self._impl = core.Timetable.continuous()

    @property
    def summary(self) -> str:
        return "@continuous"


class _CronTimetable(_CoreTimetable):
    """What the cron kinds share: the expression (presets resolved as Airflow reports them),
    the zone and the ``H`` seed."""

    _expression: str
    _timezone: str
    _hash_key: str | None

    def _schedule(self, cron: object, tz: object, hash_key: str | None) -> Any:
        if not isinstance(cron, str):
            raise TypeError(f"cron must be a str, got {type(cron).__name__}")
        if hash_key is not None and not isinstance(hash_key, str):
            raise TypeError(f"hash_key must be a str or None, got {type(hash_key).__name__}")
        return core.CronSchedule(cron, _zone_name(tz), hash_key)

    @property
    def summary(self) -> str:
        return self._expression

    def _common(self) -> dict[str, Any]:
        data: dict[str, Any] = {"expression": self._expression, "timezone": self._timezone}
        if self._hash_key is not None:
            data["hash_key"] = self._hash_key
        return data


class CronTriggerTimetable(_CronTimetable):
    """A run at each fire of a cron expression (Airflow 3's default for cron schedules).

    A run's data interval is ``[fire - interval, fire]``, so its logical date is the fire time
    when ``interval`` is zero. Without catchup the most recent due fire runs. Without a start
    date the first run is the latest past fire if ``now`` is close enough to it
    (``run_immediately``), else the next one.

    Args:
        cron: five cron fields or a preset (``@daily``...).
        timezone: the zone the cron is read in (a name such as ``"Europe/Amsterdam"``, or a
            ZoneInfo / pendulum zone).
        interval: the length of each run's data interval (timedelta or relativedelta, >= 0).
        run_immediately: ``True`` runs the latest past fire at once, ``False`` only if it is
            within max(10% of the period, 5 minutes), a timedelta only if within that.
        hash_key: the seed of ``H`` fields (a DAG passes its dag_id).

    Raises:
        CronError: the expression is invalid (a ValueError).
        ValueError: unknown time zone, negative interval or run_immediately.
        TypeError: an argument of the wrong type.
    """

    def __init__(self, cron: str, *, timezone: str | tzinfo,
                 interval: Delta = timedelta(0), run_immediately: bool | timedelta = False,
                 hash_key: str | None = None) -> None:
        schedule = self._schedule(cron, timezone, hash_key)
        self._run_immediately = _run_immediately_arg(run_immediately)
        self._impl = _trigger_impl(
            lambda months, micros: core.Timetable.cron_trigger(schedule, months, micros,
                                                               self._run_immediately),
            interval)
        self._cron_schedule = schedule
        self._expression = _CRON_PRESETS.get(cron, cron)
        self._timezone = schedule.timezone
        self._hash_key = hash_key
        self._interval = interval

    def serialize(self) -> dict[str, Any]:
        data = self._common()
        data["interval"] = _encode_delta(self._interval)
        data["run_immediately"] = _encode_run_immediately(self._run_immediately)
        return data

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> CronTriggerTimetable:
        return cls(data["expression"], timezone=data["timezone"],
                   interval=_decode_delta(data.get("interval", 0.0), "interval"),
                   run_immediately=_decode_run_immediately(data.get("run_immediately", False)),
                   hash_key=data.get("hash_key"))

    def __repr__(self) -> str:
        extra = ""
        if self._interval:
            extra += f", interval={self._interval!r}"
        if self._run_immediately is not False:
            extra += f", run_immediately={self._run_immediately!r}"
        if self._hash_key is not None:
            extra += f", hash_key={self._hash_key!r}"
        return f"CronTriggerTimetable({self._expression!r}, timezone={self._timezone!r}{extra})"


class MultipleCronTriggerTimetable(_CoreTimetable):
    """Runs at the fires of several cron expressions (a fire shared by several runs once).

    With catchup the next run is the one with the earliest logical date; without, the latest
    one already due, else the earliest future one.

    Args:
        *crons: the cron expressions (at least one).
        timezone: the zone every expression is read in.
        interval: each run's data interval length, as in :class:`CronTriggerTimetable`.
        run_immediately: as in :class:`CronTriggerTimetable`.
        hash_key: the seed of ``H`` fields.

    Raises:
        ValueError: no expression ("cron expression required"), or as CronTriggerTimetable.
    """

    def __init__(self, *crons: str, timezone: str | tzinfo, interval: Delta = timedelta(0),
                 run_immediately: bool | timedelta = False, hash_key: str | None = None) -> None:
        if not crons:
            raise ValueError("cron expression required")
        parts = [CronTriggerTimetable(c, timezone=timezone, interval=interval,
                                      run_immediately=run_immediately, hash_key=hash_key)
                 for c in crons]
        schedules = [p._cron_schedule for p in parts]
        self._run_immediately = _run_immediately_arg(run_immediately)
        self._impl = _trigger_impl(
            lambda months, micros: core.Timetable.multiple_cron_trigger(
                schedules, months, micros, self._run_immediately),
            interval)
        self._parts = parts
        self._timezone = parts[0]._timezone
        self._interval = interval
        self._hash_key = hash_key

    @property
    def summary(self) -> str:
        return ", ".join(p.summary for p in self._parts)

    def serialize(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "expressions": [p._expression for p in self._parts],
            "timezone": self._timezone,
            "interval": _encode_delta(self._interval),
            "run_immediately": _encode_run_immediately(self._run_immediately),
        }
        if self._hash_key is not None:
            data["hash_key"] = self._hash_key
        return data

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> MultipleCronTriggerTimetable:
        return cls(*data["expressions"], timezone=data["timezone"],
                   interval=_decode_delta(data.get("interval", 0.0), "interval"),
                   run_immediately=_decode_run_immediately(data.get("run_immediately", False)),
                   hash_key=data.get("hash_key"))

    def __repr__(self) -> str:
        crons = ", ".join(repr(p._expression) for p in self._parts)
        return f"MultipleCronTriggerTimetable({crons}, timezone={self._timezone!r})"


class CronDataIntervalTimetable(_CronTimetable):
    """Data intervals between consecutive cron fires, each run at its interval's END.

    Airflow 2's behaviour for cron schedules (``create_cron_data_intervals``): the run for
    ``[00:00 May 4, 00:00 May 5]`` of a daily cron is due at 00:00 May 5. Without catchup the most
    recent complete period runs.

    Args:
        cron: five cron fields or a preset.
        timezone: the zone the cron is read in.
        hash_key: the seed of ``H`` fields.

    Raises:
        CronError: the expression is invalid (a ValueError).
        ValueError: unknown time zone.
    """

    def __init__(self, cron: str, timezone: str | tzinfo, *, hash_key: str | None = None) -> None:
        schedule = self._schedule(cron, timezone, hash_key)
        self._impl = core.Timetable.cron_data_interval(schedule)
        self._expression = _CRON_PRESETS.get(cron, cron)
        self._timezone = schedule.timezone
        self._hash_key = hash_key

    def serialize(self) -> dict[str, Any]:
        return self._common()

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> CronDataIntervalTimetable:
        return cls(data["expression"], data["timezone"], hash_key=data.get("hash_key"))

    def __repr__(self) -> str:
        key = f", hash_key={self._hash_key!r}" if self._hash_key is not None else ""
        return f"CronDataIntervalTimetable({self._expression!r}, {self._timezone!r}{key})"


class DeltaTriggerTimetable(_CoreTimetable):
    """A run every ``delta`` from the start date (or from now), each with data interval
    ``[fire - interval, fire]``.

    Calendar deltas (``relativedelta(months=1)``) step one period at a time on UTC dates, so
    Jan 31 is followed by Feb 28, then Mar 28. A relativedelta with absolute fields
    (``relativedelta(weeks=1, weekday=MO)``, ``relativedelta(months=1, day=1)``) is applied as
    dateutil applies it, in Python.

    Args:
        delta: the period: a timedelta or relativedelta that moves every date forward.
        interval: each run's data interval length (>= 0).

    Raises:
        ValueError: a delta that does not move every date forward ("schedule interval must be
            positive, not ..."), a negative interval, a fixed ``year=``.
    """

    def __init__(self, delta: Delta, *, interval: Delta = timedelta(0)) -> None:
        period = _schedule_delta(delta)
        if period is None:
            _interval_delta(interval)  # checked before any run is computed
            self._impl = _PythonDeltaTrigger(delta, interval)
        else:
            self._impl = _trigger_impl(
                lambda months, micros: core.Timetable.delta_trigger(*period, months, micros),
                interval)
        self._delta = delta
        self._interval = interval

    @property
    def summary(self) -> str:
        return str(self._delta)

    def serialize(self) -> dict[str, Any]:
        return {"delta": _encode_delta(self._delta), "interval": _encode_delta(self._interval)}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> DeltaTriggerTimetable:
        return cls(_decode_delta(data["delta"], "delta"),
                   interval=_decode_delta(data.get("interval", 0.0), "interval"))

    def __repr__(self) -> str:
        extra = f", interval={self._interval!r}" if self._interval else ""
        return f"DeltaTriggerTimetable({self._delta!r}{extra})"


class DeltaDataIntervalTimetable(_CoreTimetable):
    """Data intervals of length ``delta`` from the start date, each run at its interval's end.

    Without catchup a timedelta period skips to the latest complete period on a grid of whole
    periods since the Unix epoch (Airflow's rounding); a calendar period (months, years, or
    absolute fields such as ``weekday=MO`` or ``day=1``) stays aligned to the start date, one
    period at a time (Jan 31, Feb 28, Mar 28, ...), and without a start date runs
    ``[now - delta, ...]``.

    Args:
        delta: the period: a timedelta or relativedelta that moves every date forward
            (absolute fields are applied as dateutil applies them, in Python).

    Raises:
        ValueError: a delta that does not move every date forward ("schedule interval must be
            positive, not ..."), or a fixed ``year=``.
    """

    def __init__(self, delta: Delta) -> None:
        period = _schedule_delta(delta)
        if period is None:
            self._impl = _PythonDeltaDataInterval(delta)
        else:
            self._impl = core.Timetable.delta_data_interval(*period)
        self._delta = delta
        # A months/years period the C++ core steps (the others are timedeltas or Python).
        self._calendar = period is not None and period[0] != 0

    @property
    def summary(self) -> str:
        return str(self._delta)

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        if self._calendar and not restriction.catchup and restriction.earliest is None:
            # Airflow (test_no_catchup_calendar_delta_without_start_date_ends_now): without a
            # start date, a calendar period skips to [now - delta, ...], not to a grid of
            # 30-day months since the epoch. Started there, the core's walk from the start date
            # gives exactly that interval.
            start = _shift(timezone.utcnow().astimezone(UTC), self._delta, False)
            restriction = TimeRestriction(start, restriction.latest, False)
        return super().next_dagrun_info(last_automated_data_interval=last_automated_data_interval,
                                        restriction=restriction)

    def serialize(self) -> dict[str, Any]:
        return {"delta": _encode_delta(self._delta)}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> DeltaDataIntervalTimetable:
        return cls(_decode_delta(data["delta"], "delta"))

    def __repr__(self) -> str:
        return f"DeltaDataIntervalTimetable({self._delta!r})"


def create_timetable(schedule: object, timezone: str | tzinfo, *,
                     cron_data_intervals: bool = False,
                     hash_key: str | None = None) -> Timetable:
    """The timetable a DAG's ``schedule`` value stands for, as Airflow 3 decides it.

    ======================== ===================================================================
    schedule                 timetable
    ======================== ===================================================================
    None                     :class:`NullTimetable`
    ``"@once"``              :class:`OnceTimetable`
    ``"@continuous"``        :class:`ContinuousTimetable`
    timedelta, relativedelta :class:`DeltaTriggerTimetable` (:class:`DeltaDataIntervalTimetable`
                             with ``cron_data_intervals``)
    cron string or preset    :class:`CronTriggerTimetable` in ``timezone``
                             (:class:`CronDataIntervalTimetable` with ``cron_data_intervals``)
    a Timetable              itself
    ======================== ===================================================================

    Args:
        schedule: the DAG's ``schedule`` value.
        timezone: the DAG's time zone (its start date's zone), used by cron schedules.
        cron_data_intervals: Airflow's ``[scheduler] create_cron_data_intervals`` (False in
            Airflow 3); it applies to timedelta schedules too, as in Airflow.
        hash_key: the seed of ``H`` cron fields (the dag_id).

    Raises:
        ValueError: ``"<schedule> is not a valid schedule."`` for any other value; a
            CronError for an invalid cron string.
    """
    if schedule is None:
        return NullTimetable()
    if isinstance(schedule, Timetable):
        return schedule
    if isinstance(schedule, str):
        if schedule == "@once":
            return OnceTimetable()
        if schedule == "@continuous":
            return ContinuousTimetable()
        if cron_data_intervals:
            return CronDataIntervalTimetable(schedule, timezone, hash_key=hash_key)
        return CronTriggerTimetable(schedule, timezone=timezone, hash_key=hash_key)
    if isinstance(schedule, timedelta) or _is_relativedelta(schedule):
        if cron_data_intervals:
            return DeltaDataIntervalTimetable(schedule)
        return DeltaTriggerTimetable(schedule)
    raise ValueError(f"{schedule!r} is not a valid schedule.")


def describe_timetable(timetable: Timetable) -> str | None:
    """The schedule in words for the UI (the ``dag`` row's ``timetable_description``): the
    timetable's own ``description``, or for a cron schedule its expression in words
    (:func:`dagcore.cron.describe_cron`, Airflow's cron_descriptor text; several crons joined by
    "; "); None when there are none."""
    if timetable.description:
        return timetable.description
    if isinstance(timetable, _CronTimetable):
        return describe_cron(timetable.summary)
    if isinstance(timetable, MultipleCronTriggerTimetable):
        words = [describe_cron(part.strip()) for part in timetable.summary.split(",")]
        return "; ".join(w for w in words if w) if all(words) else None
    return None
