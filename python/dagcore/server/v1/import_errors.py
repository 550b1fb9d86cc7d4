"""``GET /api/v1/importErrors`` and ``GET /api/v1/importErrors/{import_error_id}``.

Airflow 2.10 (``api_connexion/endpoints/import_error_endpoint.py``, docs/airflow-rest-api.md
A.2 12): v1 paging (``limit`` 100, capped, 0 → the fallback, negative → 400), ``order_by`` one of
``import_error_id`` (default), ``timestamp``, ``filename``; ``{"import_errors":
[{import_error_id, timestamp, filename, stack_trace}], "total_entries"}``; 404 title "Import
error not found", detail "The ImportError with import_error_id: `<id>` was not found".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query

from dagcore.api import import_errors as api_import_errors
from dagcore.api.users import Action
from dagcore.server.auth import require
from dagcore.server.errors import ApiError
from dagcore.server.paging import check_v1_offset, fallback_page_limit, maximum_page_limit
from dagcore.server.state import ServerState, server_state
from dagcore.server.v1.import_error_models import (
    ImportError,
    ImportErrorCollection,
    import_error_v1,
)

__all__ = ["router"]

router = APIRouter(prefix="/importErrors", tags=["ImportError"])

V1_DEFAULT_LIMIT = 100
_V1_ORDER_FIELDS = ("import_error_id", "timestamp", "filename")


def _limit(limit: int) -> int:
    if limit < 0:
        raise ApiError(400, None, title="Page limit must be a positive integer")
    return min(limit or fallback_page_limit(), maximum_page_limit())


@router.get("", response_model=ImportErrorCollection,
            dependencies=[Depends(require(Action.READ))])
def get_import_errors(limit: int = Query(V1_DEFAULT_LIMIT), offset: int = Query(0),
                      order_by: str = Query("import_error_id"),
                      server: ServerState = Depends(server_state)) -> Any:
    """A page of import errors and how many there are."""
    check_v1_offset(offset)
    try:
        listing = api_import_errors.list_import_errors(
            server.engine, limit=_limit(limit), offset=offset, order_by=[order_by],
            order_by_allowed=_V1_ORDER_FIELDS)
    except api_import_errors.InvalidImportErrorOrder as exc:
        raise ApiError(400, str(exc)) from None
    return ImportErrorCollection(
        import_errors=[import_error_v1(e) for e in listing.import_errors],
        total_entries=listing.total)


@router.get("/{import_error_id}", response_model=ImportError,
            dependencies=[Depends(require(Action.READ))])
def get_import_error(import_error_id: int = Path(...),
                     server: ServerState = Depends(server_state)) -> Any:
    """One import error."""
    try:
        return import_error_v1(api_import_errors.get_import_error(server.engine,
                                                                  import_error_id))
    except api_import_errors.ImportErrorNotFound:
        raise ApiError(404, f"The ImportError with import_error_id: `{import_error_id}` was "
                            f"not found", title="Import error not found") from None
