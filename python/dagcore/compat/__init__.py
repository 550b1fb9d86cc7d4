"""Compatibility layers: :mod:`dagcore.compat.airflow` lets unchanged Airflow DAG files import
``airflow.*`` and get dagcore's classes; :mod:`dagcore.compat.timezone` is Airflow's
``timezone`` module (``from airflow.sdk import timezone``)."""

from __future__ import annotations

import importlib
from typing import Any

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    # ``timezone`` imports pendulum: loaded when first asked for, not with the package.
    if name == "timezone":
        return importlib.import_module("dagcore.compat.timezone")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
