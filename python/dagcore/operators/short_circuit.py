"""``ShortCircuitOperator`` and ``@task.short_circuit``: continue only when a condition holds.

A falsy return value skips the downstream tasks (teardowns excepted): all of them, transitively,
with ``ignore_downstream_trigger_rules=True`` (the default), or only the direct ones otherwise,
leaving the trigger rules of the tasks further down to decide (Airflow's
``providers/standard/operators/python.py``; docs/airflow-behaviour.md 9.3). A truthy value is
returned (and pushed to XCom) and nothing is skipped.
"""

from __future__ import annotations

import logging
from typing import Any

from dagcore.decorators import DecoratedPythonOperator
from dagcore.operators.python import PythonOperator
from dagcore.operators.skipmixin import SkipMixin

__all__ = ["DecoratedShortCircuitOperator", "ShortCircuitOperator"]

log = logging.getLogger(__name__)


class _ShortCircuitMixin(SkipMixin):
    ignore_downstream_trigger_rules: bool

    def _short_circuit(self, context: dict[str, Any], condition: Any) -> Any:
        log.info("Condition result is %s", condition)
        if condition:
            log.info("Proceeding with downstream tasks...")
            return condition
        task = context["task"]
        if not task.downstream_task_ids:
            log.info("No downstream tasks; nothing to do.")
            return condition
        if self.ignore_downstream_trigger_rules:
            ids = task.get_flat_relative_ids(upstream=False)
        else:
            ids = task.get_direct_relative_ids(upstream=False)
        dag = task.dag
        to_skip = [dag.get_task(i) for i in sorted(ids)]
        log.info("Skipping downstream tasks")
        self.skip(context["ti"], [t for t in to_skip if not t.is_teardown])
        log.info("Done.")
        return condition


class ShortCircuitOperator(PythonOperator, _ShortCircuitMixin):
    """Skip the downstream tasks when ``python_callable`` returns a falsy value.

    Args:
        ignore_downstream_trigger_rules: True (default): skip every task downstream; False:
            skip the direct downstream tasks only, the trigger rules decide the others.
        **kwargs: :class:`~dagcore.operators.python.PythonOperator` arguments.
    """

    inherits_from_skipmixin = True

    def __init__(self, task_id: str, *, ignore_downstream_trigger_rules: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def execute(self, context: dict[str, Any]) -> Any:
        return self._short_circuit(context, super().execute(context))


class DecoratedShortCircuitOperator(DecoratedPythonOperator, _ShortCircuitMixin):
    """The task ``@task.short_circuit`` creates."""

    custom_operator_name = "@task.short_circuit"
    inherits_from_skipmixin = True

    def __init__(self, task_id: str, *, ignore_downstream_trigger_rules: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def execute(self, context: dict[str, Any]) -> Any:
        return self._short_circuit(context, super().execute(context))
