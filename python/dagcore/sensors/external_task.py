"""``ExternalTaskSensor`` and ``ExternalTaskMarker``: wait for another DAG's run, task(s) or
task group, as Airflow 3's ``providers/standard/sensors/external_task.py``.

The sensor looks at the runs of ``external_dag_id`` with the same logical date as its own run
(or ``logical_date - execution_delta``, or the dates ``execution_date_fn`` returns), through
``context["ti"].get_ti_count`` / ``get_dr_count`` / ``get_task_states`` (read from the metadata
database). It succeeds when every date's targets are in ``allowed_states``; a target in
``failed_states`` fails it (or skips it with ``soft_fail``), one in ``skipped_states`` skips it.
A task group counts for a date when every task of the group (in the DAG's latest version) is in
the states.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from dagcore.exceptions import DagcoreException, TaskSkipped
from dagcore.operators.empty import EmptyOperator
from dagcore.sensors.base import BaseSensorOperator, SensorArgumentError
from dagcore.state import DagRunState, TaskInstanceState

__all__ = [
    "DuplicateStateError",
    "ExternalDagFailedError",
    "ExternalDagNotFoundError",
    "ExternalTaskFailedError",
    "ExternalTaskGroupFailedError",
    "ExternalTaskGroupNotFoundError",
    "ExternalTaskMarker",
    "ExternalTaskNotFoundError",
    "ExternalTaskSensor",
]

log = logging.getLogger(__name__)

TASK_STATES = frozenset([None, *(s.value for s in TaskInstanceState)])
DAG_STATES = frozenset(s.value for s in DagRunState)


class DuplicateStateError(SensorArgumentError):
    """A state given in more than one of allowed/skipped/failed states."""


class ExternalDagFailedError(DagcoreException):
    """The external DAG's run is in a failed state."""


class ExternalTaskFailedError(DagcoreException):
    """An external task is in a failed state."""


class ExternalTaskGroupFailedError(DagcoreException):
    """The external task group is in a failed state."""


class ExternalDagNotFoundError(DagcoreException, LookupError):
    """``check_existence``: the external DAG does not exist."""


class ExternalTaskNotFoundError(DagcoreException, LookupError):
    """``check_existence``: an external task does not exist."""


class ExternalTaskGroupNotFoundError(DagcoreException, LookupError):
    """``check_existence``: the external task group does not exist."""


def _state_value(state: Any) -> str | None:
    return None if state is None else str(getattr(state, "value", state))


def _count_by_matched_states(run_states: dict[str, dict[str, Any]],
                             states: Collection[str | None]) -> int:
    """How many runs have every task (of a group) in ``states`` (Airflow's
    ``_get_count_by_matched_states``)."""
    return sum(1 for task_states in run_states.values()
               if task_states and all(s in states for s in task_states.values()))


class ExternalTaskSensor(BaseSensorOperator):
    """Waits for a run, task(s) or task group of another DAG (see the module docstring).

    Args:
        external_dag_id: the DAG (templated).
        external_task_id: one task (templated); exclusive with the next two.
        external_task_ids: several tasks (templated); ``None``/empty: wait for the DAG run.
        external_task_group_id: a task group (templated).
        allowed_states: default ``["success"]``.
        skipped_states: states that skip this sensor; default none.
        failed_states: states that fail this sensor; default none.
        execution_delta: look at ``logical_date - execution_delta``.
        execution_date_fn: ``fn(logical_date, **context)`` -> a date or a list of dates.
        check_existence: fail at once when the DAG (or a task, or the group) does not exist.
        poll_interval: unused without a triggerer (Airflow's deferrable mode).

    Raises:
        DuplicateStateError: a state in two of the lists.
        SensorArgumentError: both ``external_task_id`` and ``external_task_ids`` (or a group),
            both ``execution_delta`` and ``execution_date_fn``, or states not valid for the
            target (task states for tasks and groups, DAG-run states for a DAG).
    """

    template_fields = ("external_dag_id", "external_task_id", "external_task_ids",
                       "external_task_group_id")
    ui_color = "#4db7db"

    def __init__(self, task_id: str, *, external_dag_id: str,
                 external_task_id: str | None = None,
                 external_task_ids: Collection[str] | None = None,
                 external_task_group_id: str | None = None,
                 allowed_states: Iterable[str] | None = None,
                 skipped_states: Iterable[str] | None = None,
                 failed_states: Iterable[str] | None = None,
                 execution_delta: timedelta | None = None,
                 execution_date_fn: Callable[..., Any] | None = None,
                 check_existence: bool = False, poll_interval: float = 2.0,
                 deferrable: bool = False, **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        self.allowed_states = ([_state_value(s) for s in allowed_states] if allowed_states
                               else [TaskInstanceState.SUCCESS.value])
        self.skipped_states = [_state_value(s) for s in skipped_states or ()]
        self.failed_states = [_state_value(s) for s in failed_states or ()]
        total = set(self.allowed_states + self.skipped_states + self.failed_states)
        if len(total) != (len(self.allowed_states) + len(self.skipped_states)
                          + len(self.failed_states)):
            raise DuplicateStateError("Duplicate values provided across allowed_states, "
                                      "skipped_states and failed_states.")
        if not external_task_ids:
            external_task_ids = None
        if external_task_id is not None and external_task_ids is not None:
            raise SensorArgumentError(
                "Only one of `external_task_id` or `external_task_ids` may be provided to "
                "ExternalTaskSensor; use external_task_id or external_task_ids or "
                "external_task_group_id.")
        if external_task_id is not None:
            external_task_ids = [external_task_id]
        if external_task_group_id is not None and external_task_ids is not None:
            raise SensorArgumentError(
                "Only one of `external_task_group_id` or `external_task_ids` may be provided "
                "to ExternalTaskSensor; use external_task_id or external_task_ids or "
                "external_task_group_id.")
        if external_task_ids or external_task_group_id:
            if not total <= TASK_STATES:
                raise SensorArgumentError(
                    f"Valid values for `allowed_states`, `skipped_states` and `failed_states` "
                    f"when `external_task_id` or `external_task_ids` or "
                    f"`external_task_group_id` is not `None`: {sorted(TASK_STATES, key=str)} "
                    f"(got {sorted(total - TASK_STATES, key=str)})")
        elif not total <= DAG_STATES:
            raise SensorArgumentError(
                f"Valid values for `allowed_states`, `skipped_states` and `failed_states` when "
                f"`external_task_id` and `external_task_group_id` is `None`: "
                f"{sorted(DAG_STATES)} (got {sorted(total - DAG_STATES, key=str)})")
        if execution_delta is not None and execution_date_fn is not None:
            raise SensorArgumentError("Only one of `execution_delta` or `execution_date_fn` may "
                                      "be provided to ExternalTaskSensor; not both.")
        self.execution_delta = execution_delta
        self.execution_date_fn = execution_date_fn
        self.external_dag_id = external_dag_id
        self.external_task_id = external_task_id
        self.external_task_ids = list(external_task_ids) if external_task_ids else None
        self.external_task_group_id = external_task_group_id
        self.check_existence = check_existence
        self._has_checked_existence = False
        self.poll_interval = poll_interval
        self.deferrable = deferrable

    # -- dates -----------------------------------------------------------------------------------

    @staticmethod
    def _logical_date(context: dict[str, Any]) -> datetime:
        logical_date = context.get("logical_date")
        if logical_date:
            return logical_date
        dag_run = context.get("dag_run")
        if dag_run is not None and getattr(dag_run, "run_after", None):
            return dag_run.run_after
        raise ValueError("Either `logical_date` or `dag_run.run_after` must be provided in the "
                         "context")

    def _dttm_filter(self, context: dict[str, Any]) -> list[datetime]:
        logical_date = self._logical_date(context)
        if self.execution_delta:
            return [logical_date - self.execution_delta]
        if self.execution_date_fn:
            result = self._call_execution_date_fn(logical_date, context)
            return list(result) if isinstance(result, (list, tuple)) else [result]
        return [logical_date]

    def _call_execution_date_fn(self, logical_date: datetime, context: dict[str, Any]) -> Any:
        """``execution_date_fn(logical_date, **<the context keys it takes>)`` (Airflow's
        ``make_kwargs_callable``; ``context`` is one of the keys)."""
        assert self.execution_date_fn is not None
        kwargs = {k: v for k, v in context.items() if k not in {"execution_date", "logical_date"}}
        kwargs["context"] = context
        parameters = inspect.signature(self.execution_date_fn).parameters.values()
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            names = {p.name for p in parameters}
            kwargs = {k: v for k, v in kwargs.items() if k in names}
        return self.execution_date_fn(logical_date, **kwargs)

    # -- poke ------------------------------------------------------------------------------------

    def poke(self, context: dict[str, Any]) -> bool:
        if self.external_task_ids and len(self.external_task_ids) > len(
                set(self.external_task_ids)):
            raise ValueError("Duplicate task_ids passed in external_task_ids parameter")
        dates = self._dttm_filter(context)
        ti = context["ti"]
        if self.check_existence and not self._has_checked_existence:
            self._check_for_existence(ti)
        log.info("Poking for %s in dag %s on %s ... ", self._target(), self.external_dag_id,
                 ",".join(d.isoformat() for d in dates))
        if self.failed_states and self._count(ti, dates, self.failed_states) > 0:
            self._fail()
        if self.skipped_states and self._count(ti, dates, self.skipped_states) > 0:
            raise TaskSkipped(f"{self._what()} reached a state in our states-to-skip-on list. "
                              f"Skipping.")
        return self._count(ti, dates, self.allowed_states) == len(dates)

    def _target(self) -> str:
        if self.external_task_ids:
            return f"tasks {self.external_task_ids}"
        if self.external_task_group_id:
            return f"task_group '{self.external_task_group_id}'"
        return "DAG"

    def _what(self) -> str:
        if self.external_task_ids:
            return (f"Some of the external tasks {self.external_task_ids} in DAG "
                    f"{self.external_dag_id}")
        if self.external_task_group_id:
            return (f"The external task_group '{self.external_task_group_id}' in DAG "
                    f"{self.external_dag_id}")
        return f"The external DAG {self.external_dag_id}"

    def _count(self, ti: Any, dates: Sequence[datetime], states: list[str | None]) -> float:
        """The matching count, normalised per date (a task list counts once per date)."""
        if self.external_task_ids:
            count = ti.get_ti_count(dag_id=self.external_dag_id,
                                    task_ids=list(self.external_task_ids),
                                    logical_dates=list(dates), states=states)
            return count / len(self.external_task_ids)
        if self.external_task_group_id:
            run_states = ti.get_task_states(dag_id=self.external_dag_id,
                                            task_group_id=self.external_task_group_id,
                                            logical_dates=list(dates))
            return _count_by_matched_states(run_states, set(states))
        return ti.get_dr_count(dag_id=self.external_dag_id, logical_dates=list(dates),
                               states=states)

    def _fail(self) -> None:
        suffix = " Skipping due to soft_fail." if self.soft_fail else ""
        if self.external_task_ids:
            message = (f"Some of the external tasks {self.external_task_ids} in DAG "
                       f"{self.external_dag_id} failed.")
            error: type[DagcoreException] = ExternalTaskFailedError
        elif self.external_task_group_id:
            message = (f"The external task_group '{self.external_task_group_id}' in DAG "
                       f"'{self.external_dag_id}' failed.")
            error = ExternalTaskGroupFailedError
        else:
            message = f"The external DAG {self.external_dag_id} failed."
            error = ExternalDagFailedError
        if self.soft_fail:
            raise TaskSkipped(message + suffix)
        raise error(message)

    def _check_for_existence(self, ti: Any) -> None:
        """Airflow's ``_check_for_existence``, against the metadata database: the DAG is known,
        and its latest version has the tasks (or the group)."""
        queries = ti._db("check_existence")
        if not queries.dag_exists(self.external_dag_id):
            raise ExternalDagNotFoundError(f"The external DAG {self.external_dag_id} does not "
                                           f"exist.")
        if self.external_task_ids or self.external_task_group_id:
            dag = queries.latest_dag(self.external_dag_id)
            if dag is None:
                raise ExternalDagNotFoundError(f"The external DAG {self.external_dag_id} could "
                                               f"not be loaded.")
            for task_id in self.external_task_ids or ():
                if task_id not in dag.task_dict:
                    raise ExternalTaskNotFoundError(f"The external task {task_id} in DAG "
                                                    f"{self.external_dag_id} does not exist.")
            group = self.external_task_group_id
            if group is not None and group not in dag.task_group_dict:
                raise ExternalTaskGroupNotFoundError(
                    f"The external task group '{group}' in DAG '{self.external_dag_id}' does "
                    f"not exist.")
        self._has_checked_existence = True


class ExternalTaskMarker(EmptyOperator):
    """Marks that a task of another DAG depends on this one (for a recursive clear); runs as an
    empty task.

    Args:
        external_dag_id: the dependent DAG (templated).
        external_task_id: the dependent task (templated).
        logical_date: the dependent run's logical date (templated; default this run's).
        recursion_depth: how deep a recursive clear follows markers (positive).

    Raises:
        TypeError: ``logical_date`` is neither a str nor a datetime (Airflow's message).
        SensorArgumentError: ``recursion_depth`` is not positive.
    """

    template_fields = ("external_dag_id", "external_task_id", "logical_date")
    ui_color = "#4db7db"

    def __init__(self, task_id: str, *, external_dag_id: str, external_task_id: str,
                 logical_date: str | datetime | None = "{{ logical_date.isoformat() }}",
                 recursion_depth: int = 10, **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        self.external_dag_id = external_dag_id
        self.external_task_id = external_task_id
        if isinstance(logical_date, datetime):
            self.logical_date = logical_date.isoformat()
        elif isinstance(logical_date, str):
            self.logical_date = logical_date
        else:
            raise TypeError(f"Expected str or datetime.datetime type for logical_date. Got "
                            f"{type(logical_date)}")
        if isinstance(recursion_depth, bool) or not isinstance(recursion_depth, int) \
                or recursion_depth <= 0:
            raise SensorArgumentError(f"recursion_depth should be a positive integer (got "
                                      f"{recursion_depth!r})")
        self.recursion_depth = recursion_depth
