"""The REST API application: :func:`create_app`.

Design note. One FastAPI application serves Airflow 3's public API under ``/api/v2`` (its
OpenAPI document at ``/api/v2/openapi.json``, the Swagger page at ``/docs``) and the token route
``/auth/token``; Airflow 2's stable API is a sub-application mounted at ``/api/v1``, so each
version renders its own errors (:mod:`dagcore.server.errors`) and datetimes
(:mod:`dagcore.server.serializers`). Routes live in one module per area under ``v2/`` and
``v1/``; each protected route depends on :func:`dagcore.server.auth.require` with its action.
Handlers call :mod:`dagcore.api` (the CLI's functions) and read DAGs through
``DBDagBag.for_api_server()``, never by parsing files. A body over ``[api]
max_request_body_bytes`` is refused with 413, and a NUL character in the URL with 404 (path)
or 422/400 (query), before any route sees them (:mod:`dagcore.server.limits`). The web UI's
own endpoints are under ``/ui`` (:mod:`dagcore.server.ui_routes`) and its built files are
served at ``/`` (:mod:`dagcore.server.static_ui`); answers of 1 KiB and more are gzipped when
the client accepts it (docs/airflow-rest-api.md, "UI endpoints"). At shutdown the
bag flushes its metrics: a hit never sends them and the slow path sends them at most once per
interval, so the last counts would be lost.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware
from sqlalchemy.engine import Engine

import dagcore
from dagcore.configuration import conf
from dagcore.db import create_engine
from dagcore.db_dagbag import DBDagBag
from dagcore.server import auth_routes, ui_routes, v1, v2
from dagcore.server.errors import install_v2_handlers
from dagcore.server.limits import BodySizeLimit, NulInUrl
from dagcore.server.state import ServerState
from dagcore.server.static_ui import install_ui

__all__ = ["OPENAPI_URL", "create_app"]

log = logging.getLogger(__name__)

OPENAPI_URL = f"{v2.PREFIX}/openapi.json"


def create_app(engine: Engine | None = None) -> FastAPI:
    """The API server's application.

    Args:
        engine: the metadata database (default: one from ``[database] sql_alchemy_conn``).

    Raises:
        ConfigError: ``[api] max_request_body_bytes`` is not a byte size.
    """
    engine = engine if engine is not None else create_engine()
    state = ServerState(engine=engine, dag_bag=DBDagBag.for_api_server(engine=engine))
    app = FastAPI(title="dagcore REST API", version=dagcore.__version__,
                  description="Airflow 3's public API (/api/v2) and Airflow 2's stable API "
                  "(/api/v1) over dagcore.",
                  openapi_url=OPENAPI_URL, docs_url="/docs", redoc_url=None)
    app.state.dagcore = state
    install_v2_handlers(app)
    app.include_router(auth_routes.router)
    app.include_router(v2.router())
    app.include_router(ui_routes.router)
    v1_app = v1.create_v1_app()
    v1_app.state.dagcore = state
    app.mount(v1.PREFIX, v1_app)
    install_ui(app)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    limit = conf.getbytes("api", "max_request_body_bytes")
    app.add_middleware(BodySizeLimit, limit=limit)
    app.add_middleware(NulInUrl)
    # FastAPI 0.92 has no ``lifespan`` argument yet; uvicorn runs shutdown handlers on SIGTERM.
    app.add_event_handler("shutdown", state.dag_bag.flush_metrics)
    return app
