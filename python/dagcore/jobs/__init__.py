"""Long-running processes: the scheduler (:mod:`dagcore.jobs.scheduler`) and its ``job`` row."""

from __future__ import annotations

from typing import Any

__all__ = ["SchedulerJob"]


def __getattr__(name: str) -> Any:
    if name == "SchedulerJob":
        from dagcore.jobs.scheduler import SchedulerJob

        return SchedulerJob
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
