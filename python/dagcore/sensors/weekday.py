"""``DayOfWeekSensor``: waits until the day of the week is one of ``week_day``, as Airflow's
``providers/standard/sensors/weekday.py``.

``week_day`` is a day name (any case), a ``WeekDay``, or an iterable of those. dagcore's
``WeekDay`` enum belongs to ``dagcore.utils.weekday`` (with ``BranchDayOfWeekOperator``); until
that module exists in this tree, the days are validated here by name and ISO number, which
accepts any ``IntEnum`` named like Airflow's ``WeekDay`` (MONDAY = 1 ... SUNDAY = 7).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from typing import Any

from dagcore.sensors.base import BaseSensorOperator, SensorArgumentError
from dagcore.utils import timezone

__all__ = ["DayOfWeekSensor", "week_day_numbers"]

log = logging.getLogger(__name__)

_DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def _day_number(day: Any) -> int:
    if isinstance(day, enum.Enum):
        day = day.name
    if isinstance(day, str) and day.upper() in _DAYS:
        return _DAYS.index(day.upper()) + 1
    raise SensorArgumentError(f'Invalid Week Day passed: "{day}"')


def week_day_numbers(week_day: Any) -> set[int]:
    """The ISO day numbers (Monday 1) of ``week_day`` (Airflow's ``WeekDay.validate_week_day``).

    Raises:
        SensorArgumentError: an unknown day name, or a value of another type (Airflow's texts).
    """
    if isinstance(week_day, (str, enum.Enum)):
        return {_day_number(week_day)}
    if isinstance(week_day, Iterable) and not isinstance(week_day, (bytes, dict)):
        days = {_day_number(day) for day in week_day}
        if days:
            return days
    raise SensorArgumentError(f"Unsupported Type for week_day parameter: {type(week_day)}. "
                              f"Input should be iterable type:str, set, list, dict or Weekday "
                              f"enum type")


class DayOfWeekSensor(BaseSensorOperator):
    """Waits until today (UTC) is one of ``week_day``; with ``use_task_logical_date``, succeeds
    when the run's logical date is (and so never succeeds on another day).

    Raises:
        SensorArgumentError: a bad ``week_day``.
    """

    def __init__(self, task_id: str, *, week_day: Any, use_task_logical_date: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        self.week_day = week_day
        self.use_task_logical_date = use_task_logical_date
        self._week_day_num = week_day_numbers(week_day)

    def poke(self, context: dict[str, Any]) -> bool:
        today = timezone.utcnow().isoweekday()
        log.info("Poking until weekday is in %s, Today is %s", self.week_day, _DAYS[today - 1])
        if self.use_task_logical_date:
            logical_date = context.get("logical_date")
            if logical_date is None:
                raise ValueError(f"{self.task_id}: use_task_logical_date needs a run with a "
                                 f"logical date")
            return logical_date.isoweekday() in self._week_day_num
        return today in self._week_day_num
