"""Run workloads one at a time in this process: for ``dag.test()`` and debugging.

Design note. No process is started: :meth:`InProcessExecutor.heartbeat` calls the task runner
directly, so a breakpoint in a task stops in the caller's debugger and the DAG objects the caller
already has can be used as they are (``dags``; nothing is parsed again). The price is isolation:
a task that crashes the interpreter or never returns takes the caller with it, and
:meth:`~InProcessExecutor.terminate` cannot stop a task that is running (it can only drop those
not started yet). Like every executor it reports only that a workload ended; the runner records
the task's state in the database. An event is ``"failed"`` only when the runner itself raised
(the runner reports a task's own errors through the database and returns normally).

The task runner installs signal handlers only when called from the main thread (Python allows
``signal.signal`` nowhere else) and never starts its heartbeat thread here.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from dagcore.executors.base import (
    BaseExecutor,
    DagCallbackRequest,
    ExecutorEvent,
    TaskInstanceKey,
    TaskWorkload,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from dagcore.dag import DAG

__all__ = ["InProcessExecutor"]

log = logging.getLogger(__name__)


class InProcessExecutor(BaseExecutor):
    """Runs each workload in the calling thread during :meth:`heartbeat` (parallelism 1).

    Args:
        engine: the database the task runner uses.
        dags: DAG objects by dag_id to run tasks from, instead of parsing ``fileloc`` (what
            ``dag.test()`` passes); a dag_id missing here is loaded by the runner.
        runner: called with the workload instead of ``task_runner.run_workload`` (tests).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        dags: Mapping[str, DAG] | None = None,
        runner: Callable[[TaskWorkload], object] | None = None,
    ) -> None:
        super().__init__(1)
        self.engine = engine
        self.dags = dags
        self._runner = runner
        self._pending: deque[TaskWorkload] = deque()
        self._keys: set[TaskInstanceKey] = set()
        self._events: list[ExecutorEvent] = []

    def start(self) -> None:
        """Nothing to set up."""

    def queue_workload(self, workload: TaskWorkload) -> None:
        """Accept ``workload``; a key already queued is ignored (and logged)."""
        if workload.key in self._keys:
            log.warning("Ignoring workload %s: already queued", workload.key)
            return
        self._keys.add(workload.key)
        self._pending.append(workload)

    def queue_callback(self, request: DagCallbackRequest) -> None:
        """Call a DAG's run callbacks now, in this process (loading the DAG from its file
        unless it is among ``dags``): this executor's whole point is to run in the caller."""
        from dagcore.task_runner import run_dag_callback

        run_dag_callback(request)

    @property
    def running(self) -> set[TaskInstanceKey]:
        """Keys queued and not run yet (a copy)."""
        return set(self._keys)

    def has_task(self, key: TaskInstanceKey) -> bool:
        return key in self._keys

    def heartbeat(self) -> list[ExecutorEvent]:
        """Run every queued workload, in order, to its end; their events (and any earlier)."""
        self._run_pending(deadline=None)
        return self._take_events()

    def end(self, timeout: float | None = None) -> list[ExecutorEvent]:
        """Run what is queued; past ``timeout`` seconds (checked between workloads, a running
        task is not interrupted) the rest is dropped by :meth:`terminate`.

        Raises:
            ValueError: ``timeout`` is negative.
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 seconds or None, got {timeout}")
        self._run_pending(deadline=None if timeout is None else time.monotonic() + timeout)
        if self._pending:
            self.terminate()
        return self._take_events()

    def terminate(self) -> None:
        """Drop the workloads not started yet, each with a ``"failed"`` event."""
        while self._pending:
            workload = self._pending.popleft()
            self._keys.discard(workload.key)
            self._events.append(ExecutorEvent(
                workload.key, workload.ti_id, "failed",
                "executor terminated before the task started"))

    def _take_events(self) -> list[ExecutorEvent]:
        events, self._events = self._events, []
        return events

    def _run_pending(self, deadline: float | None) -> None:
        while self._pending:
            if deadline is not None and time.monotonic() >= deadline:
                return
            workload = self._pending[0]
            state, info = "success", None
            try:
                self._run(workload)
            except Exception as exc:
                log.exception("The task runner raised for %s", workload.key)
                state = "failed"
                info = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            finally:
                # Also on KeyboardInterrupt: the workload was started, it is not queued anymore.
                self._pending.popleft()
                self._keys.discard(workload.key)
            self._events.append(ExecutorEvent(workload.key, workload.ti_id, state, info))

    def _run(self, workload: TaskWorkload) -> None:
        if self._runner is not None:
            self._runner(workload)
            return
        from dagcore.task_runner import run_workload

        run_workload(
            workload,
            engine=self.engine,
            dag=self.dags.get(workload.key.dag_id) if self.dags else None,
            heartbeat=False,
            handle_signals=threading.current_thread() is threading.main_thread(),
        )
