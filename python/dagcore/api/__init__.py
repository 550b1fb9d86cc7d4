"""The Python API the CLI, the REST API server and ``TriggerDagRunOperator`` share.

:mod:`dagcore.api.common` holds the state changes (trigger a run, clear task instances); each is
one database transaction, with Airflow's rules and error messages.
"""

from __future__ import annotations

__all__: list[str] = []
