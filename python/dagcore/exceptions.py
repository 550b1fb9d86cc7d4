"""The exceptions of dagcore's authoring API.

Names follow Airflow's where Airflow has one (``AirflowSkipException`` is :class:`TaskSkipped`,
``AirflowException`` is :class:`DagcoreException`). Errors a caller would catch as a built-in
subclass it too: a cycle, a duplicate task id or an invalid param value is a ``ValueError``.

A task ends its try with these (docs/airflow-behaviour.md 3.7; Airflow's
``TaskInstance._run_raw_task``): :class:`TaskSkipped` -> ``skipped``; :class:`AirflowFailException`
and :class:`AirflowSensorTimeout` -> ``failed`` at once, retries left or not; any other exception,
:class:`TaskTimeout` included -> ``up_for_retry`` or ``failed`` by the retry rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = [
    "AirflowBadRequest",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowRescheduleException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "AirflowTaskTerminated",
    "AirflowTaskTimeout",
    "DagCycleError",
    "DagDuplicatedIdError",
    "DagImportTimeout",
    "DagRunTriggerException",
    "DagcoreException",
    "DuplicateTaskIdFound",
    "ParamValidationError",
    "TaskSkipped",
    "TaskTerminated",
    "TaskTimeout",
]


class DagcoreException(Exception):
    """The base of dagcore's exceptions; raised as is where Airflow raises ``AirflowException``
    (a Bash command that exits non-zero, a missing working directory)."""


AirflowException = DagcoreException
"""Airflow's name for :class:`DagcoreException` (``airflow.exceptions.AirflowException``)."""


class TaskSkipped(DagcoreException):
    """Raised by a task to end in the ``skipped`` state instead of ``success`` or ``failed``."""


AirflowSkipException = TaskSkipped
"""Airflow's name for :class:`TaskSkipped`, so ported code keeps working."""


class AirflowFailException(DagcoreException):
    """Raised by a task to fail its try without retrying, even with retries left (Airflow's
    ``AirflowFailException``: ``handle_failure(..., force_fail=True)``)."""


class AirflowSensorTimeout(DagcoreException):
    """A sensor ran out of its ``timeout``; like :class:`AirflowFailException`, the try fails
    without retrying (Airflow's ``_run_raw_task`` catches both together)."""


class AirflowRescheduleException(DagcoreException):
    """A sensor in ``reschedule`` mode asks to be run again at ``reschedule_date``: the task
    runner ends the try ``up_for_reschedule`` (docs/airflow-behaviour.md 10.2)."""

    def __init__(self, reschedule_date: datetime) -> None:
        super().__init__()
        self.reschedule_date = reschedule_date

    def __reduce__(self) -> tuple[Any, tuple[datetime]]:
        return self.__class__, (self.reschedule_date,)


class AirflowNotFoundException(DagcoreException, LookupError):
    """Something named does not exist (Airflow's ``AirflowNotFoundException``, HTTP 404): an
    undefined connection id. A ``LookupError`` too, as dagcore's other lookups."""

    status_code = 404


class AirflowBadRequest(DagcoreException, ValueError):
    """A request was malformed (Airflow's ``AirflowBadRequest``, HTTP 400)."""

    status_code = 400


class TaskTerminated(BaseException):
    """Raised in a running task when its process gets ``SIGTERM`` (the executor stops it, or the
    task runner finds its try cleared or decided elsewhere); the try fails.

    A ``BaseException``, as Airflow's: a task's own ``except Exception`` cannot swallow it."""


AirflowTaskTerminated = TaskTerminated
"""Airflow's name for :class:`TaskTerminated`."""


class TaskTimeout(BaseException):
    """Raised in a running task that exceeds its ``execution_timeout``; the try fails.

    A ``BaseException``, as Airflow's ``AirflowTaskTimeout``: a task's own ``except Exception``
    cannot swallow it."""


AirflowTaskTimeout = TaskTimeout
"""Airflow's name for :class:`TaskTimeout`."""


class DagCycleError(DagcoreException, ValueError):
    """A dependency would make the DAG cyclic; the message names the cycle."""


class DuplicateTaskIdFound(DagcoreException, ValueError):
    """A task id is used twice in one DAG."""


class ParamValidationError(DagcoreException, ValueError):
    """A param's value does not match its schema, or a required param has no value."""


class DagRunTriggerException(DagcoreException):
    """Raised by ``TriggerDagRunOperator.execute``: the task runner creates the run it describes.

    As in Airflow 3, the operator does not write to the database itself; whoever runs the task
    (the scheduler's task runner) catches this, triggers the run and applies ``reset_dag_run``,
    ``skip_when_already_exists`` and ``wait_for_completion``.
    """

    def __init__(self, *, trigger_dag_id: str, dag_run_id: str, conf: dict[str, Any],
                 logical_date: datetime | None, reset_dag_run: bool,
                 skip_when_already_exists: bool, wait_for_completion: bool,
                 allowed_states: list[str], failed_states: list[str], poke_interval: float,
                 deferrable: bool, note: str | None = None) -> None:
        super().__init__(f"trigger Dag {trigger_dag_id!r} with run_id {dag_run_id!r}")
        self.trigger_dag_id = trigger_dag_id
        self.dag_run_id = dag_run_id
        self.conf = conf
        self.logical_date = logical_date
        self.reset_dag_run = reset_dag_run
        self.skip_when_already_exists = skip_when_already_exists
        self.wait_for_completion = wait_for_completion
        self.allowed_states = allowed_states
        self.failed_states = failed_states
        self.poke_interval = poke_interval
        self.deferrable = deferrable
        self.note = note


class DagDuplicatedIdError(DagcoreException, ValueError):
    """Two files define the same DAG id (Airflow's ``AirflowDagDuplicatedIdException``)."""

    def __init__(self, dag_id: str, incoming: str, existing: str) -> None:
        super().__init__(f"Ignoring DAG {dag_id} from {incoming} - also found in {existing}")
        self.dag_id = dag_id
        self.incoming = incoming
        self.existing = existing


class DagImportTimeout(BaseException):
    """A DAG file took longer than ``[core] dagbag_import_timeout`` to import.

    A ``BaseException`` (as Airflow's ``AirflowTaskTimeout``) so that a file's own
    ``except Exception`` cannot swallow it.
    """
