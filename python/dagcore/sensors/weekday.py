"""``DayOfWeekSensor``: waits until the day of the week is one of ``week_day``, as Airflow's
``providers/standard/sensors/weekday.py``.

``week_day`` is a day name (any case), a ``WeekDay``, or an iterable of those. dagcore's
``WeekDay`` enum belongs to ``dagcore.utils.weekday`` (with ``BranchDayOfWeekOperator``); until
that module exists in this tree, the days are validated here by name and ISO number, which
accepts any ``IntEnum`` named like Airflow's ``WeekDay`` (MONDAY = 1 ... SUNDAY = 7).
"""

from __future__ import annotations

import logging
from typing import Any

from dagcore.sensors.base import BaseSensorOperator, SensorArgumentError
from dagcore.utils import timezone
from dagcore.utils.weekday import WeekDay

__all__ = ["DayOfWeekSensor", "week_day_numbers"]

log = logging.getLogger(__name__)

_DAYS = tuple(day.name for day in WeekDay)


def week_day_numbers(week_day: Any) -> set[int]:
    """The ISO day numbers (Monday 1) of ``week_day``: :meth:`WeekDay.validate_week_day`, whose
    errors (Airflow's texts) become :class:`SensorArgumentError` (a ``ValueError``) here.

    Raises:
        SensorArgumentError: an unknown day name, or a value of another type.
    """
    try:
        days = WeekDay.validate_week_day(week_day)
    except (TypeError, ValueError) as exc:
        raise SensorArgumentError(str(exc)) from None
    if not days:
        raise SensorArgumentError(f"week_day must name at least one day, got {week_day!r}")
    return set(days)


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
