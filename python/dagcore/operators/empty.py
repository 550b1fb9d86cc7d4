"""EmptyOperator: a task that does nothing (the scheduler marks it successful without running
it, as Airflow does)."""

from __future__ import annotations

from typing import Any

from dagcore.operators.base import BaseOperator

__all__ = ["EmptyOperator"]


class EmptyOperator(BaseOperator):
    """A task that does nothing; useful to group dependencies."""

    ui_color = "#e8f7e4"
    inherits_from_empty_operator = True

    def execute(self, context: dict[str, Any]) -> None:
        return None
