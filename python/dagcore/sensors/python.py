"""``PythonSensor`` and the operator of ``@task.sensor``: a Python callable is the poke.

As Airflow's ``providers/standard/sensors/python.py`` and ``decorators/sensor.py``: the callable
gets ``op_args``, ``op_kwargs`` and the context keys it names; a ``PokeReturnValue`` it returns
is used as is, any other value by its truth.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from dagcore.decorators import DecoratedPythonOperator, resolve_xcom_args
from dagcore.operators.python import determine_kwargs
from dagcore.sensors.base import BaseSensorOperator, PokeReturnValue

__all__ = ["DecoratedSensorOperator", "PythonSensor"]


def _as_poke_value(value: Any) -> PokeReturnValue:
    return value if isinstance(value, PokeReturnValue) else PokeReturnValue(bool(value))


class PythonSensor(BaseSensorOperator):
    """Waits for ``python_callable`` to return a true value (or a done ``PokeReturnValue``).

    Args:
        python_callable: the function poked.
        op_args, op_kwargs: its arguments (templated).
        templates_dict: rendered, and given as the context key ``templates_dict``.
        **kwargs: :class:`~dagcore.sensors.base.BaseSensorOperator` arguments.

    Raises:
        TypeError: ``python_callable`` is not callable.
    """

    template_fields = ("templates_dict", "op_args", "op_kwargs")

    def __init__(self, task_id: str, *, python_callable: Callable[..., Any],
                 op_args: Collection[Any] | None = None,
                 op_kwargs: Mapping[str, Any] | None = None,
                 templates_dict: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not callable(python_callable):
            raise TypeError(f"`python_callable` param of task {task_id!r} must be callable, got "
                            f"{type(python_callable).__name__}")
        super().__init__(task_id, **kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = templates_dict

    def poke(self, context: dict[str, Any]) -> PokeReturnValue:
        merged = {**context, **self.op_kwargs, "templates_dict": self.templates_dict}
        kwargs = determine_kwargs(self.python_callable, self.op_args, merged)
        return _as_poke_value(self.python_callable(*self.op_args, **kwargs))


class DecoratedSensorOperator(DecoratedPythonOperator, BaseSensorOperator):
    """The task of a ``@task.sensor`` function: the function is the poke; its arguments may be
    XCom references, resolved before each poke."""

    custom_operator_name = "@task.sensor"

    def __init__(self, task_id: str, *, python_callable: Callable[..., Any],
                 op_args: Any = None, op_kwargs: Any = None, **kwargs: Any) -> None:
        # Airflow's DecoratedSensorOperator drops multiple_outputs: what a sensor returns is
        # its PokeReturnValue's xcom_value, pushed as one return_value. The sensor arguments
        # reach BaseSensorOperator.__init__ through the MRO (PythonOperator's super()).
        kwargs.pop("multiple_outputs", None)
        super().__init__(task_id, python_callable=python_callable, op_args=op_args,
                         op_kwargs=op_kwargs, **kwargs)

    def poke(self, context: dict[str, Any]) -> PokeReturnValue:
        args = resolve_xcom_args(self.op_args, context)
        op_kwargs = resolve_xcom_args(self.op_kwargs, context)
        merged = {**context, **op_kwargs, "templates_dict": self.templates_dict}
        kwargs = determine_kwargs(self.python_callable, args, merged)
        return _as_poke_value(self.python_callable(*args, **kwargs))

    def execute(self, context: dict[str, Any]) -> Any:
        return BaseSensorOperator.execute(self, context)
