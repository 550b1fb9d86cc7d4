"""Compatibility layers: :mod:`dagcore.compat.airflow` lets unchanged Airflow DAG files import
``airflow.*`` and get dagcore's classes."""

from __future__ import annotations

__all__: list[str] = []
