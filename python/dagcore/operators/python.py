"""PythonOperator: call a Python function with Airflow's context keyword arguments.

As Airflow's ``KeywordParameters.determine``: a callable with ``**kwargs`` receives the whole
context (merged with ``op_kwargs`` and ``templates_dict``); otherwise it receives only the
context keys its signature names, besides ``op_args`` and ``op_kwargs``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, ClassVar

from dagcore.assets import collect_metadata
from dagcore.operators.base import BaseOperator

__all__ = ["PythonOperator", "determine_kwargs"]

log = logging.getLogger(__name__)


def determine_kwargs(python_callable: Callable[..., Any], op_args: Collection[Any],
                     kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments ``python_callable`` gets from ``kwargs`` (context + op_kwargs).

    Raises:
        ValueError: a positional parameter filled by ``op_args`` is also a context key
            (``"The key 'ds' in args is a part of kwargs and therefore reserved."``).
    """
    signature = inspect.signature(python_callable)
    parameters = list(signature.parameters.values())
    positional = [p for p in parameters
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:len(op_args)]
    for p in positional:
        if p.name in kwargs:
            raise ValueError(f"The key {p.name!r} in args is a part of kwargs and therefore "
                             f"reserved.")
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return dict(kwargs)
    taken = {p.name for p in positional}
    return {p.name: kwargs[p.name] for p in parameters
            if p.name in kwargs and p.name not in taken
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _drain(generator: Any, context: Mapping[str, Any]) -> Any:
    """Run a task function's generator: yielded Metadata is recorded, anything else yielded is
    ignored with a warning (as Airflow does); the generator's return value is returned."""
    while True:
        try:
            item = next(generator)
        except StopIteration as stop:
            return stop.value
        if collect_metadata(context, item) is not None:
            log.warning("Ignoring unknown data of %r received from task", type(item))


class PythonOperator(BaseOperator):
    """Call ``python_callable(*op_args, **op_kwargs, **<context keys it declares>)``.

    Args:
        task_id: the task id.
        python_callable: the function.
        op_args: positional arguments (templated).
        op_kwargs: keyword arguments (templated).
        templates_dict: a dict rendered and given as the context key ``templates_dict``.
        show_return_value_in_logs: log the return value.
        **kwargs: :class:`~dagcore.operators.base.BaseOperator` arguments.

    Raises:
        TypeError: ``python_callable`` is not callable.
    """

    template_fields: ClassVar[Sequence[str]] = ("templates_dict", "op_args", "op_kwargs")
    template_fields_renderers = {"templates_dict": "json", "op_args": "py", "op_kwargs": "py"}
    ui_color = "#ffefeb"

    def __init__(self, task_id: str, *, python_callable: Callable[..., Any],
                 op_args: Collection[Any] | None = None,
                 op_kwargs: Mapping[str, Any] | None = None,
                 templates_dict: dict[str, Any] | None = None,
                 templates_exts: list[str] | None = None,
                 show_return_value_in_logs: bool = True, **kwargs: Any) -> None:
        if not callable(python_callable):
            raise TypeError(f"`python_callable` param of task {task_id!r} must be callable, got "
                            f"{type(python_callable).__name__}")
        super().__init__(task_id, **kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = templates_dict
        if templates_exts:
            self.template_ext = tuple(templates_exts)  # type: ignore[misc]
        self.show_return_value_in_logs = show_return_value_in_logs

    def execute(self, context: dict[str, Any]) -> Any:
        merged = {**context, **self.op_kwargs, "templates_dict": self.templates_dict}
        kwargs = determine_kwargs(self.python_callable, self.op_args, merged)
        result = self.execute_callable(self.op_args, kwargs)
        # An ``async def`` callable (Airflow 3.1): the coroutine runs to its end in an event
        # loop of its own; its result is the task's.
        if inspect.iscoroutine(result) and inspect.iscoroutinefunction(
                inspect.unwrap(self.python_callable)):
            result = asyncio.run(result)
        # Asset event extra the function yields or returns as Metadata (docs/airflow-behaviour.md
        # 11): a generator is run to its end, its return value is the task's.
        if inspect.isgenerator(result) and inspect.isgeneratorfunction(
                inspect.unwrap(self.python_callable)):
            result = _drain(result, context)
        result = collect_metadata(context, result)
        if self.show_return_value_in_logs:
            log.info("Done. Returned value was: %r", result)
        return result

    def execute_callable(self, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Call the function (subclasses resolve references first)."""
        return self.python_callable(*args, **kwargs)
