"""``/api/v2``: Airflow 3's public API. One module per area; :func:`router` joins them."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["PREFIX", "router"]

PREFIX = "/api/v2"


def router() -> APIRouter:
    """Every ``/api/v2`` route."""
    from dagcore.server.v2 import (
        assets,
        backfills,
        dag_runs,
        dag_versions,
        dags,
        import_errors,
        monitor,
        task_instances,
        task_logs,
        tasks,
    )

    api = APIRouter(prefix=PREFIX)
    api.include_router(monitor.router)
    api.include_router(dags.router)
    api.include_router(dag_runs.router)
    api.include_router(backfills.router)
    api.include_router(import_errors.router)
    api.include_router(task_instances.router)
    api.include_router(tasks.router)
    api.include_router(dag_versions.router)
    api.include_router(task_logs.router)
    api.include_router(assets.router)
    return api
