"""In-process scheduler loops for integration tests: ``run_until`` drives a ``SchedulerJob`` with
a given executor until a condition holds, then one loop more (what finished runs queue, such as
asset-triggered runs, is created then)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine

from dagcore.db_dagbag import DBDagBag
from dagcore.executors.base import BaseExecutor
from dagcore.jobs.scheduler import SchedulerJob

__all__ = ["FINISH_TIMEOUT_S", "run_until"]

FINISH_TIMEOUT_S = 120.0  # only turns a hang into a failure


def run_until(engine: Engine, executor: BaseExecutor, until: Callable[[], bool]) -> None:
    """Scheduler loops with ``executor`` until ``until()`` holds, then one more."""
    job = SchedulerJob(engine=engine, executor=executor,
                       dag_bag=DBDagBag(engine=engine, revalidation_interval=0), idle_sleep=0.01)
    job.job.register()
    job.executor.start()
    deadline = time.monotonic() + FINISH_TIMEOUT_S
    try:
        while not until():
            if time.monotonic() > deadline:
                pytest.fail(f"not done after {FINISH_TIMEOUT_S} s")
            job.run_once()
            job._idle()
        job.run_once()
    finally:
        job._shutdown()
        job.job.complete("success")
