"""``@task.bash``: the function returns the bash command, which then runs as a BashOperator.

As Airflow's ``_BashDecoratedOperator`` (providers/standard ``decorators/bash.py``): the function
is called at run time with its arguments (TaskFlow references resolved) and the context keys it
declares; its return value must be a non-empty string, which is rendered as a template (the
command may use ``{{ ds }}`` and friends) and run exactly as ``BashOperator`` runs
``bash_command``. ``multiple_outputs`` is not supported (ignored with a warning, as Airflow).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from dagcore.decorators import DecoratedPythonOperator, resolve_xcom_args
from dagcore.operators.bash import BashOperator
from dagcore.operators.python import determine_kwargs

__all__ = ["DecoratedBashOperator"]

SET_DURING_EXECUTION = "<set during execution>"
"""The ``bash_command`` of a ``@task.bash`` task until its function has run (Airflow's text)."""


class DecoratedBashOperator(DecoratedPythonOperator, BashOperator):
    """The task a ``@task.bash`` function creates.

    Raises (from execute):
        TypeError: the function returned a non-str or a blank string ("The returned value from
            the TaskFlow callable must be a non-empty string.", Airflow's text).
    """

    template_fields = (*DecoratedPythonOperator.template_fields, *BashOperator.template_fields)
    template_fields_renderers = {**DecoratedPythonOperator.template_fields_renderers,
                                 **BashOperator.template_fields_renderers}
    custom_operator_name = "@task.bash"

    def __init__(self, task_id: str, *, python_callable: Callable[..., Any],
                 op_args: Any = None, op_kwargs: Any = None, **kwargs: Any) -> None:
        if kwargs.pop("multiple_outputs", None):
            warnings.warn(f"`multiple_outputs=True` is not supported in "
                          f"{self.custom_operator_name} tasks. Ignoring.", UserWarning,
                          stacklevel=3)
        kwargs.setdefault("bash_command", SET_DURING_EXECUTION)
        super().__init__(task_id, python_callable=python_callable, op_args=op_args,
                         op_kwargs=op_kwargs, multiple_outputs=False, **kwargs)

    def execute(self, context: dict[str, Any]) -> Any:
        from dagcore.templating import get_template_env, render_template

        self.op_args = resolve_xcom_args(self.op_args, context)
        self.op_kwargs = resolve_xcom_args(self.op_kwargs, context)
        kwargs = determine_kwargs(self.python_callable, self.op_args,
                                  {**context, **self.op_kwargs})
        command = self.python_callable(*self.op_args, **kwargs)
        if not isinstance(command, str) or not command.strip():
            raise TypeError("The returned value from the TaskFlow callable must be a non-empty "
                            "string.")
        # Airflow re-renders the template fields once the command is known.
        self.bash_command = render_template(command, context, get_template_env(self.dag),
                                            template_ext=self.template_ext)
        return BashOperator.execute(self, context)
