"""Sensors: tasks that wait for a condition (Airflow's ``airflow.sensors`` and the standard
provider's sensors). See :mod:`dagcore.sensors.base`."""

from dagcore.sensors.base import BaseSensorOperator, PokeReturnValue

__all__ = ["BaseSensorOperator", "PokeReturnValue"]
