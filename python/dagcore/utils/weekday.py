"""``WeekDay``: the days of the week as ISO numbers (Airflow's ``utils/weekday.py``, in
``providers/standard/utils/weekday.py`` for Airflow 3), for ``BranchDayOfWeekOperator``."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

__all__ = ["InvalidWeekDay", "WeekDay"]


class InvalidWeekDay(AttributeError, ValueError):
    """A day name that is not a day of the week. Airflow raises ``AttributeError``; this is one,
    and a ``ValueError`` too, as dagcore's errors for bad input are."""


@enum.unique
class WeekDay(enum.IntEnum):
    """The days of the week, valued as ``datetime.isoweekday()`` (Monday is 1)."""

    MONDAY = 1
    TUESDAY = 2
    WEDNESDAY = 3
    THURSDAY = 4
    FRIDAY = 5
    SATURDAY = 6
    SUNDAY = 7

    @classmethod
    def get_weekday_number(cls, week_day_str: str) -> WeekDay:
        """The day named ``week_day_str`` (its full English name, any case).

        Raises:
            InvalidWeekDay: not a day name (Airflow's text: ``Invalid Week Day passed: "x"``).
        """
        name = week_day_str.upper()
        if name not in cls.__members__:
            raise InvalidWeekDay(f'Invalid Week Day passed: "{week_day_str}"')
        return cls[name]

    @classmethod
    def convert(cls, day: str | WeekDay) -> int:
        """The ISO number of ``day`` (a :class:`WeekDay` or a day name)."""
        if isinstance(day, WeekDay):
            return day
        return cls.get_weekday_number(week_day_str=day)

    @classmethod
    def validate_week_day(cls, week_day: Any) -> set[int]:
        """``week_day`` (a name, a :class:`WeekDay`, or an iterable of them) as a set of ISO
        numbers.

        Raises:
            TypeError: neither a :class:`WeekDay` nor an iterable (Airflow's text).
            InvalidWeekDay: a name is not a day of the week.
        """
        if not isinstance(week_day, Iterable):
            if isinstance(week_day, WeekDay):
                week_day = {week_day}
            else:
                raise TypeError(f"Unsupported Type for week_day parameter: {type(week_day)}."
                                "Input should be iterable type:"
                                "str, set, list, dict or Weekday enum type")
        if isinstance(week_day, str):
            week_day = {week_day}
        return {cls.convert(item) for item in week_day}
