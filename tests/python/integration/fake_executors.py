"""Executors for scheduler tests that must look at what was queued without anything running."""

from __future__ import annotations

from typing import Any

from dagcore.executors.base import BaseExecutor, ExecutorEvent, TaskWorkload


class NeverRuns(BaseExecutor):
    """Accepts workloads and never runs them: their task instances stay queued and their runs
    running (a scheduler that died before forking looks the same to the database)."""

    def __init__(self, parallelism: int = 64) -> None:
        super().__init__(parallelism)
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
