"""Executors: start and watch the processes that run task instances.

Design note. The contract is in :mod:`dagcore.executors.base`; the scheduler sees nothing else.
Three executors implement it:

* :class:`LocalExecutor` -- worker processes forked from the scheduler, ``[core] parallelism``
  at once; the default ``[core] executor``.
* :class:`InProcessExecutor` -- one task at a time in the calling thread, for ``dag.test()``
  and debuggers. It runs against a given engine (and optionally given DAG objects), which a
  name in a configuration file cannot supply, so it is constructed directly, never by name.
* :class:`CeleryExecutor` -- tries sent through Redis to ``dagcore celery worker`` processes on
  any machine (:mod:`dagcore.executors.celery`; Celery itself is imported only when one is made).
"""

from __future__ import annotations

from dagcore.configuration import conf
from dagcore.executors.base import (
    BaseExecutor,
    DagCallbackRequest,
    ExecutorEvent,
    TaskInstanceKey,
    TaskWorkload,
    log_path_for,
)
from dagcore.executors.celery import CeleryExecutor
from dagcore.executors.inprocess import InProcessExecutor
from dagcore.executors.local import LocalExecutor

__all__ = [
    "BaseExecutor",
    "CeleryExecutor",
    "DagCallbackRequest",
    "ExecutorEvent",
    "InProcessExecutor",
    "LocalExecutor",
    "TaskInstanceKey",
    "TaskWorkload",
    "get_executor",
    "log_path_for",
]

# Names accepted by get_executor / ``[core] executor``: Airflow's short name or the import path.
_BY_NAME = {
    "LocalExecutor": LocalExecutor,
    "dagcore.executors.LocalExecutor": LocalExecutor,
    "dagcore.executors.local.LocalExecutor": LocalExecutor,
    "CeleryExecutor": CeleryExecutor,
    "dagcore.executors.CeleryExecutor": CeleryExecutor,
    "dagcore.executors.celery.CeleryExecutor": CeleryExecutor,
}


def get_executor(
    name: str | None = None,
    *,
    parallelism: int | None = None,
    engine_url: str | None = None,
) -> BaseExecutor:
    """The executor called ``name`` (Airflow's ``ExecutorLoader.load_executor``).

    Args:
        name: ``"LocalExecutor"`` or ``"CeleryExecutor"`` (or an import path,
            ``dagcore.executors.local.LocalExecutor``); default ``[core] executor``.
            :class:`InProcessExecutor` is not available by name: it needs an engine, so
            construct it directly.
        parallelism: passed to the executor; default ``[core] parallelism``.
        engine_url: the database the executor's task processes use; default
            ``[database] sql_alchemy_conn``.

    Raises:
        ValueError: ``name`` is not a known executor (the message lists the known names); the
            CeleryExecutor without Celery installed
            (:class:`~dagcore.executors.celery.CeleryNotInstalled`) or with a bad ``[celery]``
            option.
    """
    source = "executor"
    if name is None:
        name = conf.get("core", "executor")
        source = "[core] executor"
    cls = _BY_NAME.get(name.strip())
    if cls is None:
        known = ", ".join(repr(known) for known in _BY_NAME)
        hint = ""
        if name.strip().rsplit(".", 1)[-1] == "InProcessExecutor":
            hint = " (InProcessExecutor needs an engine: construct it directly)"
        raise ValueError(f"unknown {source} {name!r}{hint}; known: {known}")
    return cls(parallelism, engine_url=engine_url)
