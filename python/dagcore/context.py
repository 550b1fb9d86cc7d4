"""``get_current_context()``: the running task's context, for code that was not handed it.

Airflow's ``airflow.operators.python.get_current_context`` (Airflow 2) and
``airflow.sdk.get_current_context`` (Airflow 3) let a ``@task`` function or a
``PythonOperator`` callable (or a helper they call) reach the context without declaring it as a
parameter. The task runner sets it with :func:`set_current_context` for the duration of the
task's ``execute`` (``pre_execute`` and ``post_execute`` included) and clears it after.

Design note. The context is kept per thread, in a stack: ``dag.test()``'s in-process executor
may run tries of several tasks in threads of one process, and each must see its own; a
LocalExecutor worker is a process of its own anyway. (Airflow 2 keeps a process-global list,
enough there because one process runs one task.) A thread the task starts itself does not
inherit it: pass it the context.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any, TypedDict

from dagcore.exceptions import DagcoreException

__all__ = ["Context", "get_current_context", "set_current_context"]


class Context(TypedDict, total=False):
    """The task context's type, for annotations (Airflow 3's ``airflow.sdk.Context``, a
    ``TypedDict`` too; Airflow 2's ``airflow.utils.context.Context``). A task receives a plain
    dict with these keys among others (:func:`dagcore.templating.build_context`)."""

    conf: Any
    dag: Any
    dag_run: Any
    data_interval_end: Any
    data_interval_start: Any
    ds: str
    ds_nodash: str
    inlet_events: Any
    inlets: list[Any]
    logical_date: Any
    macros: Any
    map_index_template: str | None
    outlet_events: Any
    outlets: list[Any]
    params: dict[str, Any]
    run_id: str
    task: Any
    task_instance: Any
    task_instance_key_str: str
    test_mode: bool
    ti: Any
    triggering_asset_events: Any
    ts: str
    ts_nodash: str
    ts_nodash_with_tz: str
    var: Any


_local = threading.local()


def _stack() -> list[dict[str, Any]]:
    stack: list[dict[str, Any]] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def get_current_context() -> dict[str, Any]:
    """The context of the task running in this thread (the dict its ``execute`` received).

    Raises:
        DagcoreException: (``AirflowException``) no task is running in this thread, with
            Airflow 2's message (``airflow/operators/python.py`` ``get_current_context``).
    """
    stack = _stack()
    if not stack:
        raise DagcoreException("Current context was requested but no context was found! Are "
                               "you running within an airflow task?")
    return stack[-1]


@contextlib.contextmanager
def set_current_context(context: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Make ``context`` the current one in this thread for the block (nestable), as Airflow's
    ``set_current_context``; the previous one is current again after, even on an error."""
    stack = _stack()
    stack.append(context)
    try:
        yield context
    finally:
        # Remove this very entry (identity): a block that left an entry above it must not
        # leave this one behind.
        for index in range(len(stack) - 1, -1, -1):
            if stack[index] is context:
                del stack[index]
                break
