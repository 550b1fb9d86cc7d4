"""EmptyOperator: a task that does nothing (the scheduler marks it successful without running
it, as Airflow does); ``DummyOperator``, Airflow 2's deprecated name for it."""

from __future__ import annotations

import warnings
from typing import Any

from dagcore.operators.base import BaseOperator

__all__ = ["DummyOperator", "EmptyOperator"]


class EmptyOperator(BaseOperator):
    """A task that does nothing; useful to group dependencies."""

    ui_color = "#e8f7e4"
    inherits_from_empty_operator = True

    def execute(self, context: dict[str, Any]) -> None:
        return None


class DummyOperator(EmptyOperator):
    """Airflow 2's ``airflow.operators.dummy.DummyOperator`` (and ``dummy_operator``): an
    :class:`EmptyOperator` that warns it is deprecated, as Airflow 2 did (removed in 3)."""

    def __init__(self, **kwargs: Any) -> None:
        warnings.warn("This class is deprecated. Please use "
                      "`airflow.operators.empty.EmptyOperator`.", DeprecationWarning, stacklevel=2)
        super().__init__(**kwargs)
