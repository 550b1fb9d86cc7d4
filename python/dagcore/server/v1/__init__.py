"""``/api/v1``: Airflow 2.10's stable API, a sub-application with its own error bodies
(problem+json, :func:`dagcore.server.errors.install_v1_handlers`). One module per area."""

from __future__ import annotations

from fastapi import FastAPI

__all__ = ["PREFIX", "create_v1_app"]

PREFIX = "/api/v1"


def create_v1_app() -> FastAPI:
    """The ``/api/v1`` application (mounted by :func:`dagcore.server.app.create_app`)."""
    from dagcore.server.errors import install_v1_handlers
    from dagcore.server.v1 import (
        dag_runs,
        dags,
        datasets,
        import_errors,
        monitor,
        task_instances,
    )

    app = FastAPI(title="dagcore REST API v1 (Airflow 2 stable API)", docs_url=None,
                  redoc_url=None, openapi_url=None)
    install_v1_handlers(app)
    app.include_router(monitor.router)
    app.include_router(dags.router)
    app.include_router(dag_runs.router)
    app.include_router(import_errors.router)
    app.include_router(task_instances.router)
    app.include_router(datasets.router)
    return app
