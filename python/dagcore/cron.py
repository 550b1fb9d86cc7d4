"""Cron expressions with Airflow's semantics, computed in C++.

Five fields (minute hour day-of-month month day-of-week), presets, names, ranges, steps, lists,
``L``, ``#`` and Jenkins-style hashed fields (``H``, ``H/15``, ``H(0-29)``), in a time zone with
Airflow's DST rules: a cron whose hour field is ``*`` steps in absolute time (a repeated hour
fires twice, a skipped one not at all); any other cron is computed in wall time, an ambiguous
wall time takes its second occurrence and a skipped one moves forward by the gap.

Example:
    >>> from datetime import datetime, timezone
    >>> c = CronExpression("0 2 * * *", timezone="Europe/Zurich")
    >>> c.next(datetime(2023, 3, 25, 12, tzinfo=timezone.utc))  # the gap day: 03:00+02:00
    datetime.datetime(2023, 3, 26, 1, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from datetime import datetime

from dagcore._native import core

__all__ = ["CronError", "CronExpression"]

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
