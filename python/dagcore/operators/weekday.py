"""``BranchDayOfWeekOperator``: follow one branch on the given days of the week, the other on
the rest (Airflow's ``providers/standard/operators/weekday.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dagcore.operators.branch import BaseBranchOperator
from dagcore.utils import timezone
from dagcore.utils.weekday import WeekDay

__all__ = ["BranchDayOfWeekOperator"]


class BranchDayOfWeekOperator(BaseBranchOperator):
    """Follow ``follow_task_ids_if_true`` when today (or the run's logical date) is one of
    ``week_day``, else ``follow_task_ids_if_false``.

    Args:
        follow_task_ids_if_true: task id(s) or task-group id(s) to follow on those days.
        follow_task_ids_if_false: task id(s) or task-group id(s) to follow on other days.
        week_day: a day name (``"Monday"``, any case), a :class:`WeekDay`, or an iterable of
            them; checked now (:meth:`WeekDay.validate_week_day`).
        use_task_logical_date: compare the run's logical date instead of the current day in the
            DAG's time zone.
        **kwargs: :class:`~dagcore.operators.base.BaseOperator` arguments.
    """

    def __init__(self, task_id: str, *, follow_task_ids_if_true: str | Iterable[str],
                 follow_task_ids_if_false: str | Iterable[str], week_day: Any,
                 use_task_logical_date: bool = False, **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        self.follow_task_ids_if_true = follow_task_ids_if_true
        self.follow_task_ids_if_false = follow_task_ids_if_false
        self.week_day = week_day
        self.use_task_logical_date = use_task_logical_date
        self._week_day_num = WeekDay.validate_week_day(week_day)

    def choose_branch(self, context: dict[str, Any]) -> str | Iterable[str]:
        if self.use_task_logical_date:
            now = context["logical_date"]
        else:
            assert self.dag is not None
            now = timezone.utcnow().astimezone(self.dag.timezone)
        if now.isoweekday() in self._week_day_num:
            return self.follow_task_ids_if_true
        return self.follow_task_ids_if_false
