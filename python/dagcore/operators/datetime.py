"""``BranchDateTimeOperator``: follow one branch inside a time window, the other outside it
(Airflow's ``providers/standard/operators/datetime.py``)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from dagcore.exceptions import DagcoreException
from dagcore.operators.branch import BaseBranchOperator
from dagcore.utils import timezone

__all__ = ["BranchDateTimeOperator", "target_times_as_dates"]

_Target = datetime.datetime | datetime.time | None


class BranchDateTimeOperator(BaseBranchOperator):
    """Follow ``follow_task_ids_if_true`` when now (or the run's logical date) is within
    ``[target_lower, target_upper]``, else ``follow_task_ids_if_false``.

    A ``datetime.time`` bound is taken on the date compared; an upper time before the lower one
    means the next day (a window across midnight). Naive bounds are read in the DAG's time zone.

    Args:
        follow_task_ids_if_true: task id(s) or task-group id(s) to follow inside the window.
        follow_task_ids_if_false: task id(s) or task-group id(s) to follow outside it.
        target_lower: the lower bound (a datetime or a time), or None: no lower bound.
        target_upper: the upper bound, or None: no upper bound.
        use_task_logical_date: compare the run's logical date (its ``run_after`` when it has
            none) instead of the current time.
        **kwargs: :class:`~dagcore.operators.base.BaseOperator` arguments.

    Raises:
        ValueError: both bounds are None (Airflow's text), or a bound is neither a datetime nor
            a time.
    """

    def __init__(self, task_id: str, *, follow_task_ids_if_true: str | Iterable[str],
                 follow_task_ids_if_false: str | Iterable[str], target_lower: _Target,
                 target_upper: _Target, use_task_logical_date: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        if target_lower is None and target_upper is None:
            raise InvalidTargetError("Both target_upper and target_lower are None. At least one "
                                     "must be defined to be compared to the current datetime")
        for name, value in (("target_lower", target_lower), ("target_upper", target_upper)):
            if value is not None and not isinstance(value, (datetime.datetime, datetime.time)):
                raise InvalidTargetError(f"{name} of task {task_id!r} must be a datetime, a time "
                                         f"or None, got {type(value).__name__}: {value!r}")
        self.target_lower = target_lower
        self.target_upper = target_upper
        self.follow_task_ids_if_true = follow_task_ids_if_true
        self.follow_task_ids_if_false = follow_task_ids_if_false
        self.use_task_logical_date = use_task_logical_date

    def choose_branch(self, context: dict[str, Any]) -> str | Iterable[str]:
        if self.use_task_logical_date:
            now = context.get("logical_date") or context["dag_run"].run_after
        else:
            now = timezone.utcnow()
        lower, upper = target_times_as_dates(now, self.target_lower, self.target_upper)
        assert self.dag is not None
        lower, upper = _aware(lower, self.dag.timezone), _aware(upper, self.dag.timezone)
        if upper is not None and upper < now:
            return self.follow_task_ids_if_false
        if lower is not None and lower > now:
            return self.follow_task_ids_if_false
        return self.follow_task_ids_if_true


class InvalidTargetError(DagcoreException, ValueError):
    """A bad ``target_lower``/``target_upper`` (Airflow raises ``AirflowException``)."""


def _aware(value: datetime.datetime | None,
           tz: datetime.tzinfo) -> datetime.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=tz)


def target_times_as_dates(base_date: datetime.datetime, lower: _Target,
                          upper: _Target) -> tuple[Any, Any]:
    """The bounds as datetimes: a time is put on ``base_date``'s date, and an upper bound
    before the lower one moves a day later (Airflow's ``target_times_as_dates``)."""
    if isinstance(lower, datetime.datetime) and isinstance(upper, datetime.datetime):
        return lower, upper
    if isinstance(lower, datetime.time):
        lower = datetime.datetime.combine(base_date, lower)
    if isinstance(upper, datetime.time):
        upper = datetime.datetime.combine(base_date, upper)
    if lower is None or upper is None:
        return lower, upper
    if upper < lower:
        upper += datetime.timedelta(days=1)
    return lower, upper
