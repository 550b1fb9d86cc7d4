"""TriggerDagRunOperator: trigger a run of another DAG (docs/airflow-behaviour.md 4.3).

As in Airflow 3, ``execute`` does not touch the database: it renders and checks its arguments
and raises :class:`~dagcore.exceptions.DagRunTriggerException` describing the run; the task
runner (the scheduler issue) creates it, handles an existing run (``reset_dag_run``,
``skip_when_already_exists``), pushes ``trigger_run_id``/``trigger_dag_id`` and waits when asked.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dagcore.exceptions import DagRunTriggerException
from dagcore.operators.base import BaseOperator
from dagcore.params import NOTSET
from dagcore.state import DagRunState
from dagcore.utils import timezone

__all__ = ["TriggerDagRunOperator"]

XCOM_LOGICAL_DATE_ISO = "trigger_logical_date_iso"
XCOM_RUN_ID = "trigger_run_id"


def _run_id_suffix() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


class TriggerDagRunOperator(BaseOperator):
    """Trigger a run of ``trigger_dag_id``.

    Args:
        task_id: the task id.
        trigger_dag_id: the DAG to trigger (templated).
        trigger_run_id: the new run's id (templated; default ``manual__<logical date ISO>``).
        conf: the run's conf (templated; must be JSON serializable).
        logical_date: the run's logical date (templated; ``str``/``datetime``; not given: now;
            ``None``: a run without logical date).
        reset_dag_run: clear an existing run with the same id instead of failing.
        wait_for_completion: wait until the run ends (templated).
        poke_interval: seconds between state checks while waiting (default 60).
        allowed_states: run states that count as success (default ``["success"]``).
        failed_states: run states that fail the task (default ``["failed"]``; ``[]``: none).
        skip_when_already_exists: skip the task when the run exists (templated).
        fail_when_dag_is_paused: fail when the target DAG is paused.
        deferrable: wait in the triggerer instead of a worker slot.
        note: the note stored on the triggered run (Airflow 3.1's ``note``).
        **kwargs: :class:`~dagcore.operators.base.BaseOperator` arguments.

    Raises:
        TypeError: ``logical_date`` of another type (at construction, as Airflow).
        ValueError: (from execute) ``conf`` that is not JSON serializable, or a naive or
            unparsable logical date.
    """

    template_fields = ("trigger_dag_id", "trigger_run_id", "logical_date", "conf",
                       "wait_for_completion", "skip_when_already_exists")
    template_fields_renderers = {"conf": "py"}
    ui_color = "#ffefeb"

    def __init__(self, task_id: str, *, trigger_dag_id: str, trigger_run_id: str | None = None,
                 conf: dict[str, Any] | None = None, logical_date: str | datetime | None = NOTSET,
                 reset_dag_run: bool = False, wait_for_completion: bool = False,
                 poke_interval: float = 60, allowed_states: Sequence[str] | None = None,
                 failed_states: Sequence[str] | None = None,
                 skip_when_already_exists: bool = False, fail_when_dag_is_paused: bool = False,
                 deferrable: bool = False, note: str | None = None, **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        if not isinstance(trigger_dag_id, str) or not trigger_dag_id:
            raise TypeError(f"trigger_dag_id of task {task_id!r} must be a non-empty str, got "
                            f"{trigger_dag_id!r}")
        if logical_date is not NOTSET and not isinstance(logical_date,
                                                         (str, datetime, type(None))):
            raise TypeError(f"Expected str, datetime.datetime, or None for parameter "
                            f"'logical_date'. Got {type(logical_date).__name__}")
        self.trigger_dag_id = trigger_dag_id
        self.trigger_run_id = trigger_run_id
        self.conf = conf or {}
        self.logical_date = logical_date
        self.reset_dag_run = reset_dag_run
        self.wait_for_completion = wait_for_completion
        self.poke_interval = poke_interval
        self.allowed_states = [DagRunState(s).value for s in
                               (allowed_states if allowed_states is not None
                                else [DagRunState.SUCCESS])]
        self.failed_states = [DagRunState(s).value for s in
                              (failed_states if failed_states is not None
                               else [DagRunState.FAILED])]
        self.skip_when_already_exists = skip_when_already_exists
        self.fail_when_dag_is_paused = fail_when_dag_is_paused
        self.deferrable = deferrable
        if note is not None and not isinstance(note, str):
            raise TypeError(f"note of task {task_id!r} must be a str or None, got "
                            f"{type(note).__name__}")
        self.note = note

    def _resolve_logical_date(self) -> datetime | None:
        value = self.logical_date
        if value is NOTSET:
            return timezone.utcnow()
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(f"logical_date {self.logical_date!r} of task {self.task_id!r} "
                                 f"is not an ISO 8601 date") from None
        if value.tzinfo is None:
            raise ValueError(f"logical_date {value!r} of task {self.task_id!r} must be "
                             f"timezone-aware")
        return value

    def execute(self, context: dict[str, Any]) -> Any:
        logical_date = self._resolve_logical_date()
        try:
            conf = json.loads(json.dumps(self.conf))
        except (TypeError, ValueError):
            raise ValueError("conf parameter should be JSON Serializable") from None
        if self.trigger_run_id:
            run_id = str(self.trigger_run_id)
        elif logical_date is not None:
            run_id = f"manual__{logical_date.isoformat()}"
        else:
            run_id = f"manual__{timezone.utcnow().isoformat()}_{_run_id_suffix()}"
        raise DagRunTriggerException(
            trigger_dag_id=self.trigger_dag_id, dag_run_id=run_id, conf=conf,
            logical_date=logical_date, reset_dag_run=self.reset_dag_run,
            skip_when_already_exists=_as_bool(self.skip_when_already_exists),
            wait_for_completion=_as_bool(self.wait_for_completion),
            allowed_states=self.allowed_states, failed_states=self.failed_states,
            poke_interval=self.poke_interval, deferrable=self.deferrable, note=self.note)


def _as_bool(value: Any) -> bool:
    """A templated flag: a rendered ``"True"``/``"false"`` string counts as the bool."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)
