"""SkipMixin: a task that skips other tasks of its run (branching, short-circuit, latest-only).

As in Airflow 3 (task-sdk ``bases/skipmixin.py``; docs/airflow-behaviour.md 9.1), the task does not
write the skips itself: :meth:`SkipMixin.skip` and :meth:`SkipMixin.skip_all_except` raise
:class:`DownstreamTasksSkipped` naming the task ids, which ends ``execute``. The task runner
records the task's success and sets those task instances of the same run to ``skipped`` in one
transaction; the scheduler then propagates the skips through the trigger rules.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from types import GeneratorType
from typing import Any, Final

from dagcore.exceptions import DagcoreException

__all__ = [
    "XCOM_SKIPMIXIN_FOLLOWED",
    "XCOM_SKIPMIXIN_KEY",
    "XCOM_SKIPMIXIN_SKIPPED",
    "DownstreamTasksSkipped",
    "InvalidBranchError",
    "SkipMixin",
]

log = logging.getLogger(__name__)

XCOM_SKIPMIXIN_KEY: Final = "skipmixin_key"
XCOM_SKIPMIXIN_SKIPPED: Final = "skipped"
XCOM_SKIPMIXIN_FOLLOWED: Final = "followed"


class DownstreamTasksSkipped(DagcoreException):
    """Raised by a task to end its ``execute`` successfully and skip ``tasks`` of its run
    (Airflow 3's ``airflow.sdk.exceptions.DownstreamTasksSkipped``).

    Attributes:
        tasks: the task ids to skip (or ``(task_id, map_index)`` pairs, as Airflow's).
    """

    def __init__(self, *args: Any, tasks: Sequence[str | tuple[str, int]]) -> None:
        super().__init__(*args)
        self.tasks = list(tasks)


class InvalidBranchError(DagcoreException, ValueError):
    """A branch names something that is not a task id of the DAG, or is not a task id at all
    (Airflow raises ``AirflowException`` with the same texts)."""


def _task_ids(nodes: Iterable[Any]) -> list[str]:
    """The task ids of the operators among ``nodes`` (Airflow's ``_ensure_tasks``)."""
    from dagcore.operators.base import BaseOperator

    return [node.task_id for node in nodes if isinstance(node, BaseOperator)]


class SkipMixin:
    """Skip task instances of the running task's run (Airflow's ``SkipMixin``)."""

    @staticmethod
    def _set_state_to_skipped(tasks: Sequence[str | tuple[str, int]], map_index: int) -> None:
        # Airflow skips only from an unmapped task: the downstream of a mapped task is decided
        # when the scheduler expands it.
        if tasks and map_index == -1:
            raise DownstreamTasksSkipped(tasks=tasks)

    def skip(self, ti: Any, tasks: Iterable[Any]) -> None:
        """Skip ``tasks`` (operators) of ``ti``'s run; records ``{"skipped": ids}`` in XCom
        ``skipmixin_key`` first, as Airflow does.

        Raises:
            DownstreamTasksSkipped: always when there is something to skip (and ``ti`` is not
                mapped): the task ends there, successfully.
        """
        ids = _task_ids(tasks)
        if not ids:
            return
        if getattr(self, "task_id", None) is not None:
            ti.xcom_push(XCOM_SKIPMIXIN_KEY, {XCOM_SKIPMIXIN_SKIPPED: ids})
        self._set_state_to_skipped(ids, ti.map_index)

    def skip_all_except(self, ti: Any, branch_task_ids: None | str | Iterable[str]) -> None:
        """Follow ``branch_task_ids`` and skip every other task directly downstream of
        ``ti.task`` (Airflow's ``skip_all_except``).

        A directly downstream task that is also downstream of a followed task is followed too
        (``branch >> join`` and ``branch >> a >> join``: following ``a`` keeps ``join``).

        Raises:
            InvalidBranchError: an id is not a string, or not a task of the DAG.
            DownstreamTasksSkipped: there is something to skip (the task ends there).
        """
        followed = _branch_id_set(branch_task_ids)
        log.info("Following branch %s", followed)
        task = ti.task
        dag = task.dag
        unknown = followed - set(dag.task_ids)
        if unknown:
            raise InvalidBranchError(f"'branch_task_ids' must contain only valid task_ids. "
                                     f"Invalid tasks found: {unknown}.")
        downstream = task.downstream_list
        if not downstream:
            return
        for branch_id in list(followed):
            followed.update(dag.get_task(branch_id).get_flat_relative_ids(upstream=False))
        skip_ids = [d.task_id for d in downstream if d.task_id not in followed]
        follow_ids = [d.task_id for d in downstream if d.task_id in followed]
        log.info("Skipping tasks %s", skip_ids)
        ti.xcom_push(XCOM_SKIPMIXIN_KEY, {XCOM_SKIPMIXIN_FOLLOWED: follow_ids})
        self._set_state_to_skipped(skip_ids, ti.map_index)


def _branch_id_set(branch_task_ids: Any) -> set[str]:
    """``branch_task_ids`` as a set of ids, checked as Airflow's ``skip_all_except`` does."""
    if isinstance(branch_task_ids, GeneratorType):
        branch_task_ids = list(branch_task_ids)
    if branch_task_ids is None:
        return set()
    if isinstance(branch_task_ids, str):
        return {branch_task_ids}
    if isinstance(branch_task_ids, Iterable):
        ids = set(branch_task_ids)
        invalid = {(bti, type(bti).__name__) for bti in ids if not isinstance(bti, str)}
        if invalid:
            raise InvalidBranchError(
                f"Unable to branch to the specified tasks. The branching function returned "
                f"invalid 'branch_task_ids': {invalid}. Please check that your function returns "
                f"an Iterable of valid task IDs that exist in your DAG.")
        return ids
    raise InvalidBranchError(f"'branch_task_ids' must be either None, a task ID, or an Iterable "
                             f"of IDs, but got {type(branch_task_ids).__name__!r}.")
