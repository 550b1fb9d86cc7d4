"""``BaseSensorOperator`` and ``PokeReturnValue``: a task that waits for a condition.

A sensor calls :meth:`BaseSensorOperator.poke` until it returns a true value
(docs/airflow-behaviour.md 10.1). In ``poke`` mode it sleeps between pokes inside one try,
holding its worker slot; in ``reschedule`` mode a false poke ends the try with
:class:`~dagcore.exceptions.AirflowRescheduleException`, the task runner records the task
instance ``up_for_reschedule`` with a reschedule date (a ``task_reschedule`` row), and the
scheduler queues it again once that date has passed, at the same try number. ``timeout`` counts
from the first poke: in reschedule mode from the start of the try's first reschedule, read from
the database through ``context["ti"].get_first_reschedule_date``. A timeout raises
:class:`~dagcore.exceptions.AirflowSensorTimeout` (the try fails without retrying), or skips the
task with ``soft_fail``.

The rules, error texts and the backoff formula follow Airflow 3's
``task-sdk/src/airflow/sdk/bases/sensor.py``.
"""

from __future__ import annotations

import hashlib
import logging
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from dagcore.configuration import conf
from dagcore.exceptions import (
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSensorTimeout,
    DagcoreException,
    TaskSkipped,
    TaskTimeout,
)
from dagcore.operators.base import BaseOperator
from dagcore.utils import timezone

__all__ = ["BaseSensorOperator", "PokeReturnValue", "SensorArgumentError", "poke_mode_only"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S: Final = 60 * 60 * 24 * 7  # Airflow's [sensors] default_timeout: 7 days

# soft_fail / never_fail turn these into a skip (Airflow's _SOFT_FAIL_EXCEPTIONS).
_SOFT_FAIL_EXCEPTIONS: Final = (AirflowSensorTimeout, TaskTimeout, AirflowFailException)


class SensorArgumentError(DagcoreException, ValueError):
    """A sensor argument Airflow refuses (a negative ``poke_interval``, an unknown ``mode``...);
    the message is Airflow's."""


class PokeReturnValue:
    """What ``poke`` may return instead of a bool: ``is_done`` and the XCom value the sensor
    returns (so pushes as ``return_value``) once done."""

    def __init__(self, is_done: bool, xcom_value: Any | None = None) -> None:
        self.xcom_value = xcom_value
        self.is_done = is_done

    def __bool__(self) -> bool:
        return bool(self.is_done)

    def __repr__(self) -> str:
        return f"PokeReturnValue(is_done={self.is_done!r}, xcom_value={self.xcom_value!r})"


def _seconds(value: Any, name: str, *, allow_none: bool = False) -> timedelta | None:
    """A ``timedelta`` or a non-negative number of seconds as a timedelta (Airflow's
    ``_coerce_*`` helpers, with their messages)."""
    if value is None and allow_none:
        return None
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    raise SensorArgumentError(f"Operator arg `{name}` must be timedelta object or a non-negative "
                              f"number (got {value!r})")


def _default_timeout() -> float:
    return conf.getfloat("sensors", "default_timeout", fallback=float(DEFAULT_TIMEOUT_S))


class BaseSensorOperator(BaseOperator):
    """Waits until :meth:`poke` returns a true value (subclasses override ``poke``).

    Args:
        poke_interval: seconds (or a timedelta) between pokes; default 60.
        timeout: seconds (or a timedelta) from the first poke before the sensor times out;
            default ``[sensors] default_timeout`` (7 days).
        soft_fail: a timeout (or ``AirflowFailException``, ``AirflowTaskTimeout`` from poke)
            skips the task instead of failing it.
        mode: ``"poke"`` (sleep inside the try) or ``"reschedule"`` (free the worker slot
            between pokes; the task instance waits ``up_for_reschedule``).
        exponential_backoff: progressively longer waits between pokes (with a jitter).
        max_wait: the longest wait between pokes with ``exponential_backoff``.
        silent_fail: an error in ``poke`` (other than the soft-fail ones and skips) is logged
            and counts as a false poke.
        never_fail: any error in ``poke`` skips the task; exclusive with ``soft_fail``.
        **kwargs: :class:`~dagcore.operators.base.BaseOperator` arguments.

    Raises:
        SensorArgumentError: a bad ``poke_interval``, ``timeout``, ``max_wait`` or ``mode``, or
            ``soft_fail`` with ``never_fail``.
    """

    ui_color = "#e6f1f2"
    valid_modes: tuple[str, ...] = ("poke", "reschedule")
    _is_sensor = True

    def __init__(self, task_id: str, *, poke_interval: timedelta | float = 60,
                 timeout: timedelta | float | None = None, soft_fail: bool = False,
                 mode: str = "poke", exponential_backoff: bool = False,
                 max_wait: timedelta | float | None = None, silent_fail: bool = False,
                 never_fail: bool = False, **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        interval = _seconds(poke_interval, "poke_interval")
        assert interval is not None
        self.poke_interval: float = interval.total_seconds()
        self.soft_fail = soft_fail
        limit = _seconds(_default_timeout() if timeout is None else timeout, "timeout")
        assert limit is not None
        self.timeout: float = limit.total_seconds()
        self.mode = mode
        self.exponential_backoff = exponential_backoff
        self.max_wait = _seconds(max_wait, "max_wait", allow_none=True)
        if soft_fail is True and never_fail is True:
            raise SensorArgumentError("soft_fail and never_fail are mutually exclusive, you can "
                                      "not provide both.")
        self.silent_fail = silent_fail
        self.never_fail = never_fail
        self._validate_input_values()

    def _validate_input_values(self) -> None:
        if self.poke_interval < 0:
            raise SensorArgumentError("The poke_interval must be a non-negative number")
        if self.timeout < 0:
            raise SensorArgumentError("The timeout must be a non-negative number")
        if self.mode not in self.valid_modes:
            dag_id = self.dag_id or ""
            raise SensorArgumentError(f"The mode must be one of {list(self.valid_modes)},"
                                      f"'{dag_id} .{self.task_id}'; received '{self.mode}'.")

    @property
    def reschedule(self) -> bool:
        """Whether the sensor runs in ``reschedule`` mode."""
        return self.mode == "reschedule"

    def poke(self, context: dict[str, Any]) -> bool | PokeReturnValue:
        """Whether the condition holds (override in a subclass)."""
        raise DagcoreException("Override me.")

    # -- the loop --------------------------------------------------------------------------------

    def execute(self, context: dict[str, Any]) -> Any:
        """Poke until done; returns the ``PokeReturnValue``'s XCom value (or None).

        Raises:
            AirflowSensorTimeout: ``timeout`` passed (without ``soft_fail``).
            TaskSkipped: ``soft_fail``/``never_fail`` turned a timeout or failure into a skip.
            AirflowRescheduleException: reschedule mode, the poke was false.
        """
        started_at: datetime | float
        if self.reschedule:
            first = context["ti"].get_first_reschedule_date(context)
            start_date = first or timezone.utcnow()
            started_at = start_date

            def run_duration() -> float:  # from the database's dates: pokes span processes
                return (timezone.utcnow() - start_date).total_seconds()
        else:
            start_monotonic = started_at = time.monotonic()

            def run_duration() -> float:
                return time.monotonic() - start_monotonic

        poke_count = 1
        while True:
            done = self._poke_once(context)
            if done:
                log.info("Success criteria met. Exiting.")
                return done.xcom_value if isinstance(done, PokeReturnValue) else None
            if run_duration() > self.timeout:
                message = (f"Sensor has timed out; run duration of {run_duration()} seconds "
                           f"exceeds the specified timeout of {self.timeout}.")
                if self.soft_fail:
                    raise TaskSkipped(message)
                raise AirflowSensorTimeout(message)
            wait = self._get_next_poke_interval(started_at, run_duration, poke_count)
            if self.reschedule:
                raise AirflowRescheduleException(timezone.utcnow() + timedelta(seconds=wait))
            time.sleep(max(wait, 0.0))
            poke_count += 1

    def _poke_once(self, context: dict[str, Any]) -> Any:
        """One poke with Airflow's error rules (soft_fail, never_fail, silent_fail)."""
        try:
            return self.poke(context)
        except _SOFT_FAIL_EXCEPTIONS as exc:
            if self.soft_fail:
                raise TaskSkipped("Skipping due to soft_fail is set to True.") from exc
            if self.never_fail:
                raise TaskSkipped("Skipping due to never_fail is set to True.") from exc
            raise
        except TaskSkipped:
            raise
        except Exception as exc:
            if self.silent_fail:
                log.error("Sensor poke failed: \n %s", traceback.format_exc())
                return False
            if self.never_fail:
                raise TaskSkipped("Skipping due to never_fail is set to True.") from exc
            raise

    def _get_next_poke_interval(self, started_at: datetime | float,
                                run_duration: Callable[[], float], poke_count: int) -> float:
        """``poke_interval``, or with ``exponential_backoff`` Airflow's jittered doubling:
        ``min_backoff = max(int(poke_interval * 2 ** (n - 2)), 1)``, the wait ``min_backoff +
        sha1(dag#task#started_at#n) % min_backoff``, capped by the time left and ``max_wait``.
        In reschedule mode ``n`` is estimated from the time elapsed (each try starts afresh)."""
        if not self.exponential_backoff:
            return self.poke_interval
        if self.reschedule:
            elapsed = run_duration()
            cumulative, estimated = 0.0, 0
            while cumulative <= elapsed:
                estimated += 1
                cumulative += self._jittered(started_at, estimated)
            poke_count = estimated or poke_count
        wait = min(self.timeout - int(run_duration()), self._jittered(started_at, poke_count))
        if self.max_wait:
            wait = min(self.max_wait.total_seconds(), wait)
        log.info("new %s interval is %s", self.mode, wait)
        return wait

    def _jittered(self, started_at: datetime | float, poke_count: int) -> float:
        min_backoff = max(int(self.poke_interval * (2 ** (poke_count - 2))), 1)
        digest = hashlib.sha1(f"{self.dag_id}#{self.task_id}#{started_at}#{poke_count}".encode(),
                              usedforsecurity=False).hexdigest()
        return min(min_backoff + int(digest, 16) % min_backoff,
                   timedelta.max.total_seconds() - 1)


def poke_mode_only(cls: type[BaseSensorOperator]) -> type[BaseSensorOperator]:
    """Class decorator: the sensor runs only in ``poke`` mode (setting another mode raises)."""
    if not (isinstance(cls, type) and issubclass(cls, BaseSensorOperator)):
        raise SensorArgumentError(f"poke_mode_only decorator should only be applied to "
                                  f"subclasses of BaseSensorOperator, got:{cls}.")

    def mode_getter(_: Any) -> str:
        return "poke"

    def mode_setter(_: Any, value: str) -> None:
        if value != "poke":
            raise SensorArgumentError(f"Cannot set mode to '{value}'. Only 'poke' is acceptable")

    cls.mode = property(mode_getter, mode_setter)  # type: ignore[assignment]
    return cls
