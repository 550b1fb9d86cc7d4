"""An executor that accepts workloads and never runs them, for benchmarks of the scheduler loop.

What runs is not what those benchmarks measure: the loop's own work is. Imported after dagcore
(the scripts report a missing build themselves). Benchmarks do not import the test suite, whose
``fake_executors.NeverRuns`` has the same shape.
"""

from __future__ import annotations

from typing import Any

from dagcore.executors.base import BaseExecutor, ExecutorEvent, TaskWorkload

__all__ = ["IdleExecutor"]


class IdleExecutor(BaseExecutor):
    """Accepts workloads and never runs them; ``queued`` holds every workload it was given."""

    def __init__(self) -> None:
        super().__init__(64)
        self.queued: list[TaskWorkload] = []

    def start(self) -> None:
        pass

    def queue_workload(self, workload: TaskWorkload) -> None:
        self.queued.append(workload)

    @property
    def running(self) -> set[Any]:
        return {w.key for w in self.queued}

    def heartbeat(self) -> list[ExecutorEvent]:
        return []

    def end(self, timeout: float | None = None) -> list[ExecutorEvent]:
        return []

    def terminate(self) -> None:
        pass
