"""``GET /api/v1/health`` (no authentication) and ``GET /api/v1/version``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

import dagcore
from dagcore.api.users import Action
from dagcore.server.auth import require
from dagcore.server.health import health
from dagcore.server.state import ServerState, server_state
from dagcore.server.v1.datamodels import VersionInfo

__all__ = ["router"]

router = APIRouter()


@router.get("/health", tags=["Monitoring"])
def get_health(server: ServerState = Depends(server_state)) -> Any:
    """The metadata database's and the scheduler's health (public, as Airflow's)."""
    return health(server.engine)


@router.get("/version", response_model=VersionInfo, tags=["Monitoring"],
            dependencies=[Depends(require(Action.READ))])
def get_version() -> Any:
    """dagcore's version (Airflow's fields; authenticated, unlike Airflow: issue 13)."""
    return VersionInfo(version=dagcore.__version__, git_version=None)
