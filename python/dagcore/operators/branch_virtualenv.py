"""Branching from another interpreter: ``BranchPythonVirtualenvOperator``,
``BranchExternalPythonOperator`` and ``@task.branch_virtualenv`` / ``@task.branch_external_python``
(Airflow's providers/standard ``operators/python.py``, ``decorators/branch_virtualenv.py``,
``decorators/branch_external_python.py``): the function runs as for the virtualenv operators
(docs/airflow-behaviour.md 8.11) and its return value is the branch to follow, as for
``BranchPythonOperator`` (9.2)."""

from __future__ import annotations

from typing import Any

from dagcore.operators.branch import BranchMixIn
from dagcore.operators.python_virtualenv import (
    DecoratedExternalPythonOperator,
    DecoratedVirtualenvOperator,
    ExternalPythonOperator,
    PythonVirtualenvOperator,
)

__all__ = [
    "BranchExternalPythonOperator",
    "BranchPythonVirtualenvOperator",
    "DecoratedBranchExternalPythonOperator",
    "DecoratedBranchVirtualenvOperator",
]


class BranchPythonVirtualenvOperator(PythonVirtualenvOperator, BranchMixIn):
    """A PythonVirtualenvOperator whose callable returns the branch(es) to follow."""

    inherits_from_skipmixin = True

    def execute(self, context: dict[str, Any]) -> Any:
        return self.do_branch(context, super().execute(context))


class BranchExternalPythonOperator(ExternalPythonOperator, BranchMixIn):
    """An ExternalPythonOperator whose callable returns the branch(es) to follow."""

    inherits_from_skipmixin = True

    def execute(self, context: dict[str, Any]) -> Any:
        return self.do_branch(context, super().execute(context))


class DecoratedBranchVirtualenvOperator(DecoratedVirtualenvOperator, BranchMixIn):
    """The task ``@task.branch_virtualenv`` creates."""

    custom_operator_name = "@task.branch_virtualenv"
    inherits_from_skipmixin = True

    def execute(self, context: dict[str, Any]) -> Any:
        return self.do_branch(context, super().execute(context))


class DecoratedBranchExternalPythonOperator(DecoratedExternalPythonOperator, BranchMixIn):
    """The task ``@task.branch_external_python`` creates."""

    custom_operator_name = "@task.branch_external_python"
    inherits_from_skipmixin = True

    def execute(self, context: dict[str, Any]) -> Any:
        return self.do_branch(context, super().execute(context))
