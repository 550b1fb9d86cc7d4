"""Branching: ``BaseBranchOperator``, ``BranchPythonOperator`` and ``@task.branch``.

A branch task returns the task ids (or task-group ids: a group means its root tasks) to follow;
every other task directly downstream of it is skipped, and the scheduler propagates the skips
through the trigger rules (Airflow's ``providers/standard/operators/branch.py`` and
``operators/python.py``; docs/airflow-behaviour.md 9.2).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from dagcore.decorators import DecoratedPythonOperator
from dagcore.operators.base import BaseOperator
from dagcore.operators.python import PythonOperator
from dagcore.operators.skipmixin import SkipMixin

__all__ = ["BaseBranchOperator", "BranchMixIn", "BranchPythonOperator",
           "DecoratedBranchPythonOperator"]

log = logging.getLogger(__name__)


class BranchMixIn(SkipMixin):
    """Follow the branches a task chose (Airflow's ``BranchMixIn``)."""

    def do_branch(self, context: dict[str, Any], branches_to_execute: Any) -> Any:
        """Skip the direct downstream tasks not in ``branches_to_execute``; returns it (when
        nothing is skipped: a skip ends the task, see :class:`SkipMixin`)."""
        log.info("Branch into %s", branches_to_execute)
        ti = context["ti"]
        branch_task_ids = list(_expand_task_group_roots(ti.task.dag, branches_to_execute))
        self.skip_all_except(ti, None if branches_to_execute is None else branch_task_ids)
        return branches_to_execute


def _expand_task_group_roots(dag: Any, branches: Any) -> Iterator[Any]:
    """``branches`` with each task-group id replaced by the ids of the group's roots."""
    if branches is None:
        return
    if isinstance(branches, str) or not isinstance(branches, Iterable):
        branches = [branches]
    groups = dag.task_group_dict
    for branch in branches:
        if isinstance(branch, str) and branch in groups:
            roots = [root.task_id for root in groups[branch].roots]
            log.info("Expanding task group %s into %s", branch, roots)
            yield from roots
        else:
            yield branch


class BaseBranchOperator(BaseOperator, BranchMixIn):
    """Subclass and implement :meth:`choose_branch`: return a task id, a task-group id, a list
    of them, or None (skip every direct downstream task)."""

    inherits_from_skipmixin = True

    def choose_branch(self, context: dict[str, Any]) -> str | Iterable[str] | None:
        """The branch(es) to follow."""
        raise NotImplementedError(f"{type(self).__name__} must implement choose_branch")

    def execute(self, context: dict[str, Any]) -> Any:
        return self.do_branch(context, self.choose_branch(context))


class BranchPythonOperator(PythonOperator, BranchMixIn):
    """A PythonOperator whose callable returns the branch(es) to follow (Airflow's
    ``BranchPythonOperator``)."""

    inherits_from_skipmixin = True

    def choose_branch(self, context: dict[str, Any]) -> Any:
        return PythonOperator.execute(self, context)

    def execute(self, context: dict[str, Any]) -> Any:
        return self.do_branch(context, self.choose_branch(context))


class DecoratedBranchPythonOperator(DecoratedPythonOperator, BranchMixIn):
    """The task ``@task.branch`` creates: a ``@task`` whose return value is the branch."""

    custom_operator_name = "@task.branch"
    inherits_from_skipmixin = True

    def execute(self, context: dict[str, Any]) -> Any:
        return self.do_branch(context, super().execute(context))
