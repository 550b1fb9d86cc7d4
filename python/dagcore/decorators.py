"""TaskFlow: ``@task`` turns a function into a task factory; results are XCom references.

Calling a decorated function inside a DAG creates a task and returns an :class:`XComArg`, a
reference to the task's future return value. Passing references to another decorated call (or
to an operator's templated ``op_args``/``op_kwargs``) makes the producing tasks upstream and,
when the consumer runs, each reference is replaced by the value pulled from XCom. Calling the
same function twice in one DAG gives ids ``name``, ``name__1``, ``name__2`` as Airflow does.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

from dagcore.operators.base import BaseOperator, DependencyMixin
from dagcore.operators.python import PythonOperator
from dagcore.xcom import XCOM_RETURN_KEY

__all__ = ["FLAVOURS", "XComArg", "resolve_xcom_args", "task"]


class XComArg(DependencyMixin):
    """A reference to an XCom value a task will push (by default its return value).

    ``ref["key"]`` refers to one key of a ``multiple_outputs`` task; references take part in
    ``>>``/``<<`` like the task itself.
    """

    __slots__ = ("key", "operator")
    _is_xcom_reference = True  # resolved at run time (see resolve_xcom_args)

    def __init__(self, operator: BaseOperator, key: str = XCOM_RETURN_KEY) -> None:
        self.operator = operator
        self.key = key

    def __getitem__(self, key: str) -> XComArg:
        return XComArg(self.operator, key)

    def _dependency_tasks(self) -> list[BaseOperator]:
        return [self.operator]

    def as_setup(self) -> XComArg:
        """Mark the producing task as a setup; returns this reference."""
        self.operator.as_setup()
        return self

    def as_teardown(self, *, setups: Any = None,
                    on_failure_fail_dagrun: bool | None = None) -> XComArg:
        """Mark the producing task as a teardown (see ``BaseOperator.as_teardown``)."""
        self.operator.as_teardown(setups=setups, on_failure_fail_dagrun=on_failure_fail_dagrun)
        return self

    def __enter__(self) -> Any:
        """``with setup_ref >> teardown_ref:`` (see :mod:`dagcore.setup_teardown`)."""
        from dagcore.setup_teardown import enter_context

        return enter_context(self)

    def __exit__(self, *exc: object) -> None:
        from dagcore.setup_teardown import exit_context

        exit_context(self)

    def resolve(self, context: Mapping[str, Any]) -> Any:
        """The value, pulled from XCom through ``context["ti"]``.

        Nothing pushed under ``return_value`` (the task returned None, or pushes nothing) is
        None, and so is any key of a ``multiple_outputs`` task, as Airflow's
        ``PlainXComArg.resolve``.

        Raises:
            LookupError: nothing was pushed under another key; the message names the task and
                key.
        """
        marker = object()
        value = context["ti"].xcom_pull(task_ids=self.operator.task_id, key=self.key,
                                        default=marker)
        if value is marker:
            if self.key == XCOM_RETURN_KEY or getattr(self.operator, "multiple_outputs", False):
                return None
            raise LookupError(f"XComArg result from {self.operator.task_id} at "
                              f"{self.operator.dag_id} with key={self.key!r} is not found!")
        return value

    def __iter__(self) -> Any:
        raise TypeError("'XComArg' object is not iterable (its value exists only at run time)")

    def map(self, fn: Callable[[Any], Any]) -> Any:
        """The value with ``fn`` applied to each item when a mapped task uses it."""
        from dagcore.mapping import MapXComArg

        return MapXComArg(self, (fn,))

    def zip(self, *others: Any, fillvalue: Any = None) -> Any:
        """Tuples of this value's items and the others' (``fillvalue`` pads the shorter ones;
        without it the shortest input decides the length)."""
        from dagcore.mapping import NOTSET, ZipXComArg

        return ZipXComArg((self, *others), fillvalue=NOTSET if fillvalue is None else fillvalue)

    def __str__(self) -> str:
        """The Jinja expression that pulls the value, as Airflow's ``XComArg.__str__`` (an
        f-string such as ``f"echo {ref}"`` in a templated field then renders the value)."""
        return (f"{{{{ task_instance.xcom_pull(task_ids='{self.operator.task_id}', "
                f"dag_id='{self.operator.dag_id}', key='{self.key}') }}}}")

    def __repr__(self) -> str:
        if self.key == XCOM_RETURN_KEY:
            return f"XComArg({self.operator!r})"
        return f"XComArg({self.operator!r}, {self.key!r})"


def _references(value: Any) -> list[Any]:
    if getattr(value, "_is_xcom_reference", False):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [r for v in value for r in _references(v)]
    if isinstance(value, Mapping):
        return [r for v in value.values() for r in _references(v)]
    return []


def resolve_xcom_args(value: Any, context: Mapping[str, Any]) -> Any:
    """``value`` with every XCom reference in it (an :class:`XComArg`, or what its ``.map()`` or
    ``.zip()`` made; nested in lists, tuples, dicts) resolved."""
    if getattr(value, "_is_xcom_reference", False):
        return value.resolve(context)
    if isinstance(value, tuple):
        return tuple(resolve_xcom_args(v, context) for v in value)
    if isinstance(value, list):
        return [resolve_xcom_args(v, context) for v in value]
    if isinstance(value, (set, frozenset)):
        return type(value)(resolve_xcom_args(v, context) for v in value)
    if isinstance(value, dict):
        return {k: resolve_xcom_args(v, context) for k, v in value.items()}
    return value


class DecoratedPythonOperator(PythonOperator):
    """The task a ``@task`` function creates: a PythonOperator whose arguments may be
    references, resolved before the call."""

    custom_operator_name = "@task"

    def __init__(self, task_id: str, *, python_callable: Callable[..., Any],
                 op_args: Any = None, op_kwargs: Any = None, **kwargs: Any) -> None:
        super().__init__(task_id, python_callable=python_callable, op_args=op_args,
                         op_kwargs=op_kwargs, **kwargs)
        # Bind now so a wrong call fails at definition time, as in Airflow; parameters named
        # like context keys are filled at run time.
        signature = inspect.signature(python_callable)
        try:
            bound = signature.bind_partial(*self.op_args, **self.op_kwargs)
        except TypeError as exc:
            raise TypeError(f"{task_id}: {exc}") from None
        missing = [name for name, p in signature.parameters.items()
                   if p.default is p.empty and name not in bound.arguments
                   and name not in _CONTEXT_NAMES
                   and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        if missing:
            raise TypeError(f"{task_id}: missing required argument(s): {', '.join(missing)}")
        for ref in _references(self.op_args) + _references(self.op_kwargs):
            for upstream in ref._dependency_tasks():
                self.set_upstream(upstream)

    def execute_callable(self, args: list[Any], kwargs: dict[str, Any]) -> Any:
        return self.python_callable(*args, **kwargs)

    def execute(self, context: dict[str, Any]) -> Any:
        self.op_args = resolve_xcom_args(self.op_args, context)
        self.op_kwargs = resolve_xcom_args(self.op_kwargs, context)
        return super().execute(context)


_CONTEXT_NAMES = frozenset({
    "dag", "task", "ti", "task_instance", "dag_run", "run_id", "logical_date", "ds",
    "ds_nodash", "ts", "ts_nodash", "ts_nodash_with_tz", "data_interval_start",
    "data_interval_end", "params", "macros", "templates_dict", "task_instance_key_str",
    "test_mode", "inlets", "outlets", "var", "conn", "execution_date", "yesterday_ds",
    "tomorrow_ds", "outlet_events", "inlet_events", "triggering_asset_events",
    "triggering_dataset_events"})


def _infers_multiple_outputs(func: Callable[..., Any]) -> bool:
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # noqa: BLE001 - unresolvable annotations: no inference, as Airflow
        return False
    ret = hints.get("return")
    origin = typing.get_origin(ret) or ret
    return origin in (dict, typing.Dict, Mapping)  # noqa: UP006


class _TaskDecorator:
    """A ``@task``-decorated function: call it to add a task; ``.function`` is the original.

    ``operator_class`` is the operator each call creates (a ``DecoratedPythonOperator`` or a
    subclass: ``@task.branch``, ``@task.sensor``... make theirs, see :data:`FLAVOURS`)."""

    def __init__(self, function: Callable[..., Any], kwargs: dict[str, Any],
                 operator_class: type[DecoratedPythonOperator] | None = None) -> None:
        self.function = function
        self.kwargs = kwargs
        self.operator_class = operator_class or DecoratedPythonOperator
        functools.update_wrapper(self, function)

    def override(self, **kwargs: Any) -> _TaskDecorator:
        """The same decorator with other operator arguments (``task_id=``, ``retries=``...)."""
        return _TaskDecorator(self.function, {**self.kwargs, **kwargs}, self.operator_class)

    def _operator_kwargs(self) -> tuple[str, dict[str, Any]]:
        """The new task's id (made unique as Airflow does) and its operator arguments."""
        from dagcore.dag import DagContext
        from dagcore.task_group import TaskGroupContext

        op_kwargs = dict(self.kwargs)
        dag = op_kwargs.get("dag") or DagContext.get_current_dag()
        group = op_kwargs.get("task_group") or TaskGroupContext.get_current_task_group(dag)
        task_id = _unique_task_id(op_kwargs.pop("task_id", None) or self.function.__name__, dag,
                                  group)
        multiple_outputs = op_kwargs.pop("multiple_outputs", None)
        if multiple_outputs is None:
            multiple_outputs = _infers_multiple_outputs(self.function)
        op_kwargs["multiple_outputs"] = multiple_outputs
        if "doc_md" not in op_kwargs and self.function.__doc__:
            op_kwargs["doc_md"] = inspect.cleandoc(self.function.__doc__)
        return task_id, op_kwargs

    def partial(self, **kwargs: Any) -> _PartialTask:
        """Fix some of the function's arguments of a mapped task (then ``expand``)."""
        return _PartialTask(self, kwargs)

    def expand(self, **kwargs: Any) -> XComArg:
        """A mapped task: one instance per item (per combination) of the given inputs."""
        return _PartialTask(self, {}).expand(**kwargs)

    def expand_kwargs(self, kwargs: Any, *, strict: bool = True) -> XComArg:
        """A mapped task: one instance per dict of keyword arguments."""
        return _PartialTask(self, {}).expand_kwargs(kwargs, strict=strict)

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        task_id, op_kwargs = self._operator_kwargs()
        operator = self.operator_class(task_id, python_callable=self.function,
                                       op_args=list(args), op_kwargs=kwargs, **op_kwargs)
        return XComArg(operator)


class _PartialTask:
    """``fn.partial(**fixed)``: a ``@task`` with some arguments fixed, to be expanded."""

    def __init__(self, decorator: _TaskDecorator, kwargs: dict[str, Any]) -> None:
        self.decorator = decorator
        self.kwargs = kwargs
        self._check_names("partial", kwargs)

    def _check_names(self, what: str, kwargs: Mapping[str, Any]) -> None:
        signature = inspect.signature(self.decorator.function)
        if any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
            return
        for name in kwargs:
            if name not in signature.parameters:
                raise TypeError(f"{self.decorator.function.__name__}() got an unexpected keyword "
                                f"argument {name!r} in {what}()")

    def expand(self, **kwargs: Any) -> XComArg:
        from dagcore.mapping import DictOfListsExpandInput

        if not kwargs:
            raise TypeError("no arguments to expand against")
        self._check_names("expand", kwargs)
        both = sorted(set(kwargs) & set(self.kwargs))
        if both:
            raise TypeError(f"{self.decorator.function.__name__}() got an argument given to both "
                            f"partial() and expand(): {both[0]!r}")
        return self._make(DictOfListsExpandInput(kwargs))

    def expand_kwargs(self, kwargs: Any, *, strict: bool = True) -> XComArg:
        from dagcore.mapping import ListOfDictsExpandInput

        del strict
        return self._make(ListOfDictsExpandInput(kwargs))

    def _make(self, expand_input: Any) -> XComArg:
        from dagcore.mapping import DecoratedMappedOperator

        task_id, op_kwargs = self.decorator._operator_kwargs()
        partial_kwargs = {**op_kwargs, "task_id": task_id,
                          "python_callable": self.decorator.function, "op_args": [],
                          "op_kwargs": dict(self.kwargs)}
        operator = DecoratedMappedOperator(self.decorator.operator_class, partial_kwargs,
                                           expand_input)
        for ref in _references(self.kwargs):
            for upstream in ref._dependency_tasks():
                operator.set_upstream(upstream)
        return XComArg(operator)


def _unique_task_id(task_id: str, dag: Any, group: Any = None) -> str:
    """``task_id``, or ``task_id__N`` when its id in ``group`` (``group.task_id``) is taken
    (Airflow 3's ``get_unique_task_id``: suffixes are counted on the prefixed ids)."""
    full = group.child_id(task_id) if group is not None else task_id
    if dag is None or full not in dag.task_dict:
        return task_id
    base = re.split(r"__\d+$", task_id)[0]
    full_base = re.split(r"__\d+$", full)[0]
    suffixes = [int(m.group(1)) for t in dag.task_dict
                if (m := re.match(rf"^{re.escape(full_base)}__(\d+)$", t))]
    return f"{base}__{max(suffixes, default=0) + 1}"


FLAVOURS: dict[str, tuple[str, str]] = {
    "bash": ("dagcore.operators.bash_decorated", "DecoratedBashOperator"),
    "virtualenv": ("dagcore.operators.python_virtualenv", "DecoratedVirtualenvOperator"),
    "external_python": ("dagcore.operators.python_virtualenv", "DecoratedExternalPythonOperator"),
    "branch": ("dagcore.operators.branch", "DecoratedBranchPythonOperator"),
    "short_circuit": ("dagcore.operators.short_circuit", "DecoratedShortCircuitOperator"),
    "branch_virtualenv": ("dagcore.operators.branch_virtualenv",
                          "DecoratedBranchVirtualenvOperator"),
    "branch_external_python": ("dagcore.operators.branch_virtualenv",
                               "DecoratedBranchExternalPythonOperator"),
    "sensor": ("dagcore.sensors.python", "DecoratedSensorOperator"),
}
"""``@task.<name>`` -> (module, operator class): the decorated operator each flavour creates
(a ``DecoratedPythonOperator`` subclass), imported on first use."""


class _TaskNamespace:
    """Airflow's ``task``: ``@task``, ``@task(...)`` and the flavours ``@task.branch``,
    ``@task.sensor``... (each usable with or without parentheses)."""

    def __call__(self, python_callable: Callable[..., Any] | None = None,
                 **kwargs: Any) -> Any:
        """Airflow's ``@task``: usable as ``@task`` or ``@task(task_id=..., retries=...)``.

        Args:
            python_callable: the function (when used without parentheses).
            **kwargs: operator arguments; ``multiple_outputs`` defaults to whether the function
                is annotated to return a dict.
        """
        return _decorate("@task", python_callable, kwargs, None)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_") or name not in FLAVOURS:
            raise AttributeError(f"@task has no flavour {name!r}; known: "
                                 f"{', '.join(sorted(FLAVOURS)) or 'none'}")
        module, class_name = FLAVOURS[name]
        operator_class = getattr(importlib.import_module(module), class_name)

        def flavour(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
            return _decorate(f"@task.{name}", python_callable, kwargs, operator_class)

        flavour.__name__ = flavour.__qualname__ = name
        flavour.__doc__ = f"``@task.{name}``: each call adds a {class_name}."
        return flavour


def _decorate(what: str, python_callable: Callable[..., Any] | None, kwargs: dict[str, Any],
              operator_class: type[DecoratedPythonOperator] | None) -> Any:
    if python_callable is not None:
        if not callable(python_callable):
            raise TypeError(f"{what} needs a callable, got {type(python_callable).__name__}")
        return _TaskDecorator(python_callable, kwargs, operator_class)
    return lambda func: _decorate(what, func, kwargs, operator_class)


task = _TaskNamespace()
"""Airflow's ``@task`` (and ``@task.<flavour>``, see :data:`FLAVOURS`)."""
