"""``@setup`` / ``@teardown`` and setup/teardown tasks as context managers.

As Airflow 3's task-sdk ``definitions/decorators/setup_teardown.py`` (docs/airflow-behaviour.md
3.6): ``@setup`` and ``@teardown`` wrap a plain function (it becomes a ``@task``) or a
``@task``-decorated one (any flavour: ``@setup`` over ``@task.bash`` works); each call then adds
a task marked as a setup, or as a teardown whose trigger rule is ``all_done_setup_success`` and
whose failure fails the run only with ``on_failure_fail_dagrun=True``. A teardown's trigger rule
cannot be chosen ("Trigger rule not configurable for teardown tasks.").

``with setup_task >> teardown_task:`` (Airflow's ``SetupTeardownContext``): the tasks created in
the block become the work of that pair: the block's roots (tasks without upstream) get the
setups upstream, its leaves (tasks without downstream) get the teardown downstream.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

from dagcore.decorators import XComArg, _TaskDecorator, task
from dagcore.exceptions import DagcoreException
from dagcore.operators.base import BaseOperator

__all__ = ["SetupTeardownContext", "setup", "teardown"]


class _SetupTeardownTask:
    """A ``@task`` function whose calls add setup (or teardown) tasks.

    Everything else (``.override``, ``.function``...) is the wrapped decorator's."""

    def __init__(self, decorator: _TaskDecorator, *, is_setup: bool,
                 on_failure_fail_dagrun: bool = False) -> None:
        self._decorator = decorator
        self.is_setup = is_setup
        self.is_teardown = not is_setup
        self.on_failure_fail_dagrun = on_failure_fail_dagrun
        functools.update_wrapper(self, decorator.function)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._decorator, name)

    def override(self, **kwargs: Any) -> _SetupTeardownTask:
        """The same setup/teardown with other operator arguments."""
        fail = kwargs.pop("on_failure_fail_dagrun", self.on_failure_fail_dagrun)
        return _SetupTeardownTask(self._decorator.override(**kwargs), is_setup=self.is_setup,
                                  on_failure_fail_dagrun=fail)

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        if self.is_teardown and "trigger_rule" in self._decorator.kwargs:
            raise ValueError("Trigger rule not configurable for teardown tasks.")
        ref = self._decorator(*args, **kwargs)
        if self.is_setup:
            ref.operator.as_setup()
        else:
            ref.operator.as_teardown(on_failure_fail_dagrun=self.on_failure_fail_dagrun)
        return ref


def _as_task_decorator(func: Any, what: str) -> _TaskDecorator:
    from dagcore.task_group import _TaskGroupDecorator

    if isinstance(func, _TaskGroupDecorator):
        raise DagcoreException("Task groups cannot be marked as setup or teardown.")
    if isinstance(func, _SetupTeardownTask):
        raise DagcoreException(f"{func.__name__!r} is already marked as a "
                               f"{'setup' if func.is_setup else 'teardown'}; cannot be a {what}")
    if isinstance(func, _TaskDecorator):
        return func
    if isinstance(func, types.FunctionType):
        decorated: _TaskDecorator = task(func)
        return decorated
    raise TypeError(f"@{what} needs a function or a @task function, got "
                    f"{type(func).__name__}: {func!r}")


def setup(func: Callable[..., Any]) -> _SetupTeardownTask:
    """Airflow's ``@setup``: each call of ``func`` adds a setup task.

    Raises:
        DagcoreException: ``func`` is a ``@task_group`` ("Task groups cannot be marked as setup
            or teardown.").
        TypeError: ``func`` is not a function.
    """
    return _SetupTeardownTask(_as_task_decorator(func, "setup"), is_setup=True)


def teardown(_func: Callable[..., Any] | None = None, *,
             on_failure_fail_dagrun: bool = False) -> Any:
    """Airflow's ``@teardown`` / ``@teardown(on_failure_fail_dagrun=True)``: each call of the
    function adds a teardown task (its failure fails the run only with
    ``on_failure_fail_dagrun``).

    Raises:
        DagcoreException, TypeError: as :func:`setup`.
        ValueError: (when called) the task sets ``trigger_rule``.
    """
    if not isinstance(on_failure_fail_dagrun, bool):
        raise TypeError(f"on_failure_fail_dagrun must be a bool, got {on_failure_fail_dagrun!r}")

    def wrap(func: Callable[..., Any]) -> _SetupTeardownTask:
        return _SetupTeardownTask(_as_task_decorator(func, "teardown"), is_setup=False,
                                  on_failure_fail_dagrun=on_failure_fail_dagrun)

    return wrap if _func is None else wrap(_func)


# -------------------------------------------------------------------------------------------------
# with setup >> teardown:


def _operator_of(item: Any) -> BaseOperator:
    if isinstance(item, XComArg):
        return item.operator
    if isinstance(item, BaseOperator):
        return item
    raise TypeError(f"only tasks and TaskFlow results can be used as context managers, got "
                    f"{type(item).__name__}")


class SetupTeardownContext:
    """One ``with task:`` block over a setup or teardown task (Airflow's
    ``BaseSetupTeardownContext``).

    The block's work is the tasks it adds to the DAG (found by comparing the DAG's tasks on entry
    and on exit) that are neither setups nor teardowns, nor work of a block nested in it. On exit
    the work's roots get the setups upstream and its leaves the teardowns downstream; a nested
    block's setups go downstream of the enclosing block's setups and its teardowns upstream of
    the enclosing teardowns, as Airflow's ``pop_context_managed_setup_task`` links them.

    Raises:
        DagcoreException: the task is neither a setup nor a teardown.
        ValueError: Airflow's errors for a pair the block cannot read ("Multiple shifts are not
            allowed in the context manager", ...).
    """

    _active: list[SetupTeardownContext] = []

    def __init__(self, item: Any) -> None:
        operator = _operator_of(item)
        if not operator.is_setup and not operator.is_teardown:
            raise DagcoreException("Only setup/teardown tasks can be used as context managers.")
        if operator.dag is None:
            raise DagcoreException(f"setup/teardown task {operator.task_id!r} used as context "
                                   f"manager must belong to a DAG")
        self.dag = operator.dag
        self.setups, self.teardowns = _pair_of(operator)
        self._before = set(self.dag.task_dict)
        self._claimed: set[str] = set()

    def enter(self) -> SetupTeardownContext:
        SetupTeardownContext._active.append(self)
        return self

    def exit(self) -> None:
        SetupTeardownContext._active.remove(self)
        work = [t for tid, t in self.dag.task_dict.items()
                if tid not in self._before and tid not in self._claimed
                and not t.is_setup and not t.is_teardown]
        if work:
            roots = [t for t in work if not t.upstream_list]
            leaves = [t for t in work if not t.downstream_list]
            for setup_task in self.setups:
                setup_task.set_downstream(roots or work[:1])
            for teardown_task in self.teardowns:
                teardown_task.set_upstream(leaves or work[-1:])
        if SetupTeardownContext._active:
            outer = SetupTeardownContext._active[-1]
            outer._claimed.update(t.task_id for t in work)
            if outer.setups and self.setups:
                for setup_task in outer.setups:
                    setup_task.set_downstream(self.setups)
            if outer.teardowns and self.teardowns:
                for teardown_task in outer.teardowns:
                    teardown_task.set_upstream(self.teardowns)


def _pair_of(operator: BaseOperator) -> tuple[list[BaseOperator], list[BaseOperator]]:
    """The setups and teardowns of a ``with`` block over ``operator``, checked as Airflow's
    ``_push_tasks``."""
    if operator.is_setup:
        if operator.upstream_list:
            raise ValueError("Setup tasks cannot have upstreams set manually on the context "
                             "manager")
        for task_ in operator.downstream_list:
            if not task_.is_teardown:
                raise ValueError("Downstream tasks to a setup task must be a teardown task on "
                                 "the context manager")
            if task_.downstream_list:
                raise ValueError("Multiple shifts are not allowed in the context manager")
        return [operator], operator.downstream_list
    for task_ in operator.upstream_list:
        if not task_.is_setup:
            raise ValueError("Upstream tasks to a teardown task must be a setup task on the "
                             "context manager")
        if task_.upstream_list:
            raise ValueError("Multiple shifts are not allowed in the context manager")
    if operator.downstream_list:
        raise ValueError("Downstream to a teardown task cannot be set manually on the context "
                         "manager")
    return operator.upstream_list, [operator]


def enter_context(item: Any) -> SetupTeardownContext:
    """``item.__enter__``: start a setup/teardown block (see :class:`SetupTeardownContext`)."""
    return SetupTeardownContext(item).enter()


def exit_context(item: Any) -> None:
    """``item.__exit__``: end the innermost block opened over ``item``."""
    operator = _operator_of(item)
    for ctx in reversed(SetupTeardownContext._active):
        if operator in ctx.setups or operator in ctx.teardowns:
            ctx.exit()
            return
