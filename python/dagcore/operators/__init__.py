"""dagcore's operators: ``empty``, ``python``, ``bash``, ``trigger_dagrun`` (one module each, as
Airflow's standard provider), on :class:`~dagcore.operators.base.BaseOperator`."""

from __future__ import annotations

from dagcore.operators.base import BaseOperator

__all__ = ["BaseOperator"]
