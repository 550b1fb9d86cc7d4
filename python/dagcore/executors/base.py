"""What the scheduler hands an executor, and what an executor gives back.

Design note. The scheduler decides *what* runs; an executor only starts and watches processes.
The database is the single source of truth for task-instance state: the task runner
(:mod:`dagcore.task_runner`) moves its task instance from ``queued`` to ``running`` and then to
its final state itself. An executor reports only that a workload's process has ended
(:class:`ExecutorEvent`); when that happens while the task instance is still ``queued`` or
``running`` in the database, the process died without recording an outcome and the scheduler
fails (or retries) the try.

A workload names its try by the task instance's ``id`` (a new id per try, see
``api.common.clear_task_instances``), so a workload whose try was cleared or reset meanwhile
finds no row and runs nothing.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dagcore.configuration import conf

__all__ = [
    "BaseExecutor",
    "DagCallbackRequest",
    "ExecutorEvent",
    "TaskInstanceKey",
    "TaskWorkload",
    "log_path_for",
]


@dataclass(frozen=True, slots=True)
class TaskInstanceKey:
    """One try of one task instance (Airflow's ``TaskInstanceKey``)."""

    dag_id: str
    task_id: str
    run_id: str
    try_number: int
    map_index: int = -1


@dataclass(frozen=True, slots=True)
class TaskWorkload:
    """What an executor needs to run one try: which row, which DAG file, where to log."""

    ti_id: str  # task_instance.id of the queued try (str of the UUID)
    key: TaskInstanceKey
    dag_version_id: str | None  # the DAG version the scheduler chose for the run
    fileloc: str | None  # the DAG file that defines key.dag_id
    log_path: str  # absolute path of this try's log file
    queue: str = "default"  # the task instance's queue (the CeleryExecutor routes by it)


@dataclass(frozen=True, slots=True)
class DagCallbackRequest:
    """A DAG's ``on_success_callback`` / ``on_failure_callback`` to call for a finished run.

    The scheduler never imports a DAG file (a file that crashes or hangs would take it down), so
    it hands the call to its executor, which runs it where tasks run: the process imports the
    file, builds the context from these fields and calls the callbacks (Airflow runs them in
    the DAG processor, away from the scheduler too).
    """

    dag_id: str
    fileloc: str
    state: str  # the run's final state, "success" or "failed"
    reason: str
    run_id: str
    logical_date: datetime | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    run_after: datetime | None = None
    run_type: str = "manual"
    conf: dict[str, Any] = field(default_factory=dict)
    triggered_by: str | None = None
    dag_version_id: str | None = None  # the run's DAG version: its code is the one called


@dataclass(frozen=True, slots=True)
class ExecutorEvent:
    """A workload's process has ended: ``state`` is ``"success"`` (exit status 0) or
    ``"failed"`` (non-zero status or killed by a signal; ``info`` says which)."""

    key: TaskInstanceKey
    ti_id: str
    state: str
    info: str | None = None


def log_path_for(key: TaskInstanceKey) -> Path:
    """``<base_log_folder>/dag_id=<d>/run_id=<r>/task_id=<t>/attempt=<n>.log`` (Airflow's
    layout; ``map_index=<i>/`` is added before the attempt for a mapped task)."""
    base = Path(conf.get("logging", "base_log_folder")).expanduser()
    path = base / f"dag_id={key.dag_id}" / f"run_id={key.run_id}" / f"task_id={key.task_id}"
    if key.map_index >= 0:
        path = path / f"map_index={key.map_index}"
    return path / f"attempt={key.try_number}.log"


class BaseExecutor(abc.ABC):
    """Runs workloads, at most ``parallelism`` at once (0 or less: no limit)."""

    def __init__(self, parallelism: int = 32) -> None:
        if not isinstance(parallelism, int) or isinstance(parallelism, bool):
            raise TypeError(f"parallelism must be an int, got {parallelism!r}")
        self.parallelism = parallelism

    @abc.abstractmethod
    def start(self) -> None:
        """Get ready to run workloads (before the first ``queue_workload``; the scheduler calls
        it when it is made and again when it runs, so a second call must change nothing)."""

    @abc.abstractmethod
    def queue_workload(self, workload: TaskWorkload) -> None:
        """Accept a workload; it starts at the next :meth:`heartbeat` with a free slot."""

    @property
    @abc.abstractmethod
    def running(self) -> set[TaskInstanceKey]:
        """Keys of the workloads accepted and not yet reported as ended."""

    @property
    def slots_available(self) -> int:
        """How many more workloads may be queued now (a large number without a limit)."""
        if self.parallelism <= 0:
            return 1 << 30
        return max(0, self.parallelism - len(self.running))

    def has_task(self, key: TaskInstanceKey) -> bool:
        return key in self.running

    @abc.abstractmethod
    def heartbeat(self) -> list[ExecutorEvent]:
        """Start queued workloads that fit, reap ended processes; the events since last call."""

    @abc.abstractmethod
    def end(self, timeout: float | None = None) -> list[ExecutorEvent]:
        """Wait for every accepted workload to end (at most ``timeout`` seconds; then
        :meth:`terminate`), and return the remaining events."""

    @abc.abstractmethod
    def terminate(self) -> None:
        """Stop every running workload now (SIGTERM, then SIGKILL after a short grace)."""

    def queue_callback(self, request: DagCallbackRequest) -> None:
        """Call a DAG's run callback away from the scheduler's process; no event comes back.

        Raises:
            NotImplementedError: this executor cannot run callbacks (the scheduler logs it).
        """
        raise NotImplementedError(f"{type(self).__name__} does not run DAG callbacks")

    def kill(self, key: TaskInstanceKey, reason: str) -> bool:
        """Kill the process of a running workload now (its event then says ``reason``); False
        if this executor runs no such workload or cannot kill it."""
        return False
