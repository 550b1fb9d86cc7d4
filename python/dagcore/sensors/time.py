"""Sensors that wait for a moment: ``TimeDeltaSensor``, ``TimeSensor``, ``DateTimeSensor``.

As Airflow 3's standard provider (``sensors/time_delta.py``, ``sensors/time.py``,
``sensors/date_time.py``), without the deferrable variants (dagcore has no triggerer: a
``deferrable=True`` sensor pokes in its worker instead, in the mode given).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any

from dagcore.sensors.base import BaseSensorOperator, SensorArgumentError
from dagcore.utils import timezone

__all__ = ["DateTimeSensor", "DateTimeSensorAsync", "TimeDeltaSensor", "TimeDeltaSensorAsync",
           "TimeSensor", "TimeSensorAsync"]

log = logging.getLogger(__name__)


def _no_triggerer(task_id: str, deferrable: bool) -> None:
    if deferrable:
        log.info("%s: deferrable=True, but there is no triggerer; the sensor pokes in its "
                 "worker", task_id)


class TimeDeltaSensor(BaseSensorOperator):
    """Waits until ``delta`` after the run's data interval end (or, for a run without one, its
    ``run_after``).

    Raises:
        SensorArgumentError: ``delta`` is not a timedelta.
    """

    def __init__(self, task_id: str, *, delta: timedelta, deferrable: bool = False,
                 end_from_trigger: bool = False, **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        if not isinstance(delta, timedelta):
            raise SensorArgumentError(f"delta of task {task_id!r} must be a timedelta, got "
                                      f"{type(delta).__name__}: {delta!r}")
        self.delta = delta
        self.deferrable = deferrable
        self.end_from_trigger = end_from_trigger
        _no_triggerer(task_id, deferrable)

    @staticmethod
    def _base_time(context: dict[str, Any]) -> datetime:
        end = context.get("data_interval_end")
        if end:
            if not isinstance(end, datetime):
                raise ValueError("`data_interval_end` returned non-datetime object")
            return end
        dag_run = context.get("dag_run")
        if not dag_run:
            raise ValueError("`dag_run` not found in task context")
        return dag_run.run_after

    def poke(self, context: dict[str, Any]) -> bool:
        base = self._base_time(context)
        log.info("Checking if the delta has elapsed base_time=%s, delta=%s", base, self.delta)
        return timezone.utcnow() > base + self.delta


class TimeSensor(BaseSensorOperator):
    """Waits until ``target_time`` (a time of day, in the DAG's time zone) of the day the task
    was parsed (Airflow 3 computes the moment when the task is created).

    Raises:
        SensorArgumentError: ``target_time`` is not a ``datetime.time``.
    """

    def __init__(self, task_id: str, *, target_time: time, deferrable: bool = False,
                 start_from_trigger: bool = False, end_from_trigger: bool = False,
                 trigger_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        if not isinstance(target_time, time):
            raise SensorArgumentError(f"target_time of task {task_id!r} must be a "
                                      f"datetime.time, got {type(target_time).__name__}: "
                                      f"{target_time!r}")
        zone = self.dag.timezone if self.dag is not None else UTC
        aware = datetime.combine(datetime.now(zone).date(), target_time, zone)
        self.target_time = target_time
        self.target_datetime = aware.astimezone(UTC)
        self.deferrable = deferrable
        _no_triggerer(task_id, deferrable)

    def poke(self, context: dict[str, Any]) -> bool:
        log.info("Checking if the time (%s) has come", self.target_datetime)
        return timezone.utcnow() > self.target_datetime


class DateTimeSensor(BaseSensorOperator):
    """Waits until ``target_time`` (templated): a datetime or an ISO 8601 string (a naive value
    is UTC).

    Raises (from poke):
        TypeError: ``target_time`` is neither a str nor a datetime (Airflow's message).
        ValueError: a string that is not an ISO 8601 date-time.
    """

    template_fields = ("target_time",)

    def __init__(self, task_id: str, *, target_time: str | datetime, **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        self.target_time = target_time

    @property
    def _moment(self) -> datetime:
        value: Any = self.target_time
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"target_time of task {self.task_id!r} is not an ISO 8601 "
                                 f"date-time: {value!r}") from None
        else:
            raise TypeError(f"Expected str or datetime.datetime type for target_time. Got "
                            f"{type(value)}")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment

    def poke(self, context: dict[str, Any]) -> bool:
        log.info("Checking if the time (%s) has come", self.target_time)
        return timezone.utcnow() > self._moment


# Airflow 2's deferrable spellings (``TimeDeltaSensorAsync``...): with no triggerer they are the
# same sensors, waiting in their worker (see ``_no_triggerer``).
class TimeDeltaSensorAsync(TimeDeltaSensor):
    """Airflow 2's ``TimeDeltaSensorAsync``: a :class:`TimeDeltaSensor` (no triggerer)."""


class TimeSensorAsync(TimeSensor):
    """Airflow 2's ``TimeSensorAsync``: a :class:`TimeSensor` (no triggerer)."""


class DateTimeSensorAsync(DateTimeSensor):
    """Airflow 2's ``DateTimeSensorAsync``: a :class:`DateTimeSensor` (no triggerer)."""
