"""Cron expressions with Airflow's semantics, computed in C++.

Five fields (minute hour day-of-month month day-of-week), presets, names, ranges, steps, lists,
``L``, ``#`` and Jenkins-style hashed fields (``H``, ``H/15``, ``H(0-29)``), in a time zone with
Airflow's DST rules: a cron whose hour field is ``*`` steps in absolute time (a repeated hour
fires twice, a skipped one not at all); any other cron is computed in wall time, an ambiguous
wall time takes its second occurrence and a skipped one moves forward by the gap.

Design note: :meth:`CronExpression.between` is one C++ call. In a zone with DST it walks the zone
one segment of constant offset at a time: inside a segment the fires are the cron's wall times
minus the segment's offset, generated without a search per fire; only the instants next to a
transition take the per-date ``next()`` search, so the dates are exactly those of repeated
``next()`` calls (docs/performance.md section 1; tests/python/unit/test_cron_bulk_dst.py).

Example:
    >>> from datetime import datetime, timezone
    >>> c = CronExpression("0 2 * * *", timezone="Europe/Zurich")
    >>> c.next(datetime(2023, 3, 25, 12, tzinfo=timezone.utc))  # the gap day: 03:00+02:00
    datetime.datetime(2023, 3, 26, 1, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from datetime import datetime

from dagcore._native import core

__all__ = ["CronError", "CronExpression", "describe_cron"]

CronError = core.CronError
"""A cron expression that cannot be parsed; subclasses ``ValueError``. The message starts
``[<expr>] is not acceptable`` (croniter's wording) and names the field and the value."""


class CronExpression:
    """A cron expression in a time zone.

    Args:
        expr: five cron fields or a preset (``@hourly``, ``@daily``, ``@midnight``, ``@weekly``,
            ``@monthly``, ``@quarterly``, ``@yearly``, ``@annually``).
        timezone: a name from the system time-zone database.
        hash_key: the seed of ``H`` fields (a DAG passes its dag_id); required if ``H`` is used.

    Every method takes timezone-aware datetimes and returns aware UTC datetimes.

    Raises:
        CronError: the expression is invalid (the message names the field and value).
        ValueError: the time zone is unknown.
    """

    __slots__ = ("_expression", "_hash_key", "_schedule")

    def __init__(self, expr: str, *, timezone: str = "UTC", hash_key: str | None = None) -> None:
        if not isinstance(expr, str):
            raise TypeError(f"expr must be a str, got {type(expr).__name__}")
        if not isinstance(timezone, str):
            raise TypeError(f"timezone must be a str, got {type(timezone).__name__}")
        if hash_key is not None and not isinstance(hash_key, str):
            raise TypeError(f"hash_key must be a str or None, got {type(hash_key).__name__}")
        self._expression = expr
        self._hash_key = hash_key
        self._schedule = core.CronSchedule(expr, timezone, hash_key)

    @property
    def expression(self) -> str:
        """The expression as given."""
        return self._expression

    @property
    def timezone(self) -> str:
        """The time-zone name."""
        return self._schedule.timezone

    @property
    def hash_key(self) -> str | None:
        """The seed of ``H`` fields."""
        return self._hash_key

    @property
    def resolved(self) -> str:
        """The five fields after preset expansion, with ``H`` replaced by its values."""
        return self._schedule.resolved

    @property
    def fires_at_least_hourly(self) -> bool:
        """Whether the hour field is ``*`` (the cron then steps in absolute time)."""
        return self._schedule.fires_at_least_hourly

    def next(self, after: datetime) -> datetime | None:
        """The first fire strictly after ``after``; None if there is none a datetime can hold."""
        return self._schedule.next(after)

    def prev(self, before: datetime) -> datetime | None:
        """The last fire strictly before ``before``; None if there is none a datetime can hold."""
        return self._schedule.prev(before)

    def between(self, start: datetime, end: datetime) -> list[datetime]:
        """Every fire in ``[start, end]`` (both ends inclusive), in order."""
        return self._schedule.between(start, end)

    def matches(self, dt: datetime) -> bool:
        """Whether the schedule fires exactly at ``dt``."""
        return self._schedule.matches(dt)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CronExpression):
            return NotImplemented
        return (self._expression, self.timezone, self._hash_key) == (
            other._expression, other.timezone, other._hash_key)

    def __hash__(self) -> int:
        return hash((self._expression, self.timezone, self._hash_key))

    def __repr__(self) -> str:
        key = f", hash_key={self._hash_key!r}" if self._hash_key is not None else ""
        return f"CronExpression({self._expression!r}, timezone={self.timezone!r}{key})"


_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_DAY_NAMES = {name[:3].lower(): i for i, name in enumerate(_DAYS)}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_MONTH_NAMES = {name[:3].lower(): i + 1 for i, name in enumerate(_MONTHS)}
_PRESETS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
            "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
            "@annually": "0 0 1 1 *"}


def _number(text: str, names: dict[str, int] | None = None) -> int | None:
    if text.isdigit():
        return int(text)
    return names.get(text.lower()) if names else None


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _day_part(field: str) -> str | None:
    if field in ("*", "?"):
        return ""
    if "-" in field and "," not in field and "/" not in field:
        first, _, last = field.partition("-")
        a, b = _number(first, _DAY_NAMES), _number(last, _DAY_NAMES)
        if a is None or b is None or not (0 <= a <= 7 and 0 <= b <= 7):
            return None
        return f", {_DAYS[a % 7]} through {_DAYS[b % 7]}"
    days = [_number(part, _DAY_NAMES) for part in field.split(",")]
    if any(d is None or not 0 <= d <= 7 for d in days):
        return None
    return ", only on " + _and([_DAYS[d % 7] for d in days if d is not None])


def describe_cron(expression: str) -> str | None:
    """A cron expression in words for the common shapes, as Airflow's UI shows a schedule
    (its ``cron_descriptor`` text with a 24-hour clock: ``At 00:00``, ``Every 5 minutes``,
    ``At 06:30, Monday through Friday``); None for a shape it does not put into words (hashed
    ``H`` fields, ``L``, ``#``, steps in the day fields), where the expression itself is shown."""
    fields = _PRESETS.get(expression.strip(), expression).split()
    if len(fields) != 5:
        return None
    minute, hour, dom, month, dow = fields
    if minute == "*" and hour == "*":
        time = "Every minute"
    elif minute.startswith("*/") and minute[2:].isdigit() and hour == "*":
        time = f"Every {int(minute[2:])} minutes"
    elif minute.isdigit() and hour == "*":
        time = f"At {int(minute)} minutes past the hour"
    elif minute.isdigit() and hour.startswith("*/") and hour[2:].isdigit():
        time = f"At {int(minute)} minutes past the hour, every {int(hour[2:])} hours"
    elif minute.isdigit() and all(h.isdigit() for h in hour.split(",")):
        times = [f"{int(h):02d}:{int(minute):02d}" for h in hour.split(",")]
        if any(int(h) > 23 for h in hour.split(",")) or int(minute) > 59:
            return None
        time = "At " + _and(times)
    else:
        return None
    if dom in ("*", "?"):
        days = ""
    elif dom.isdigit() and 1 <= int(dom) <= 31:
        days = f", on day {int(dom)} of the month"
    else:
        return None
    weekdays = _day_part(dow)
    if weekdays is None:
        return None
    if month == "*":
        months = ""
    else:
        numbers = [_number(part, _MONTH_NAMES) for part in month.split(",")]
        if any(m is None or not 1 <= m <= 12 for m in numbers):
            return None
        months = ", only in " + _and([_MONTHS[m - 1] for m in numbers if m is not None])
    return time + days + weekdays + months
