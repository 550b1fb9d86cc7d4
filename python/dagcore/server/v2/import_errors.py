"""``GET /api/v2/importErrors`` and ``GET /api/v2/importErrors/{import_error_id}``.

Airflow 3 (``core_api/routes/public/import_error.py``, docs/airflow-rest-api.md B.2):
``limit``/``offset`` as every v2 list, ``order_by`` (a list; id, timestamp, filename,
bundle_name, stacktrace, alias import_error_id; another → 400), ``filename_pattern``;
``{"import_errors": [{import_error_id, timestamp, filename, bundle_name, stack_trace}],
"total_entries"}``; 404 "The ImportError with import_error_id: `<id>` was not found".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query

from dagcore.api import import_errors as api_import_errors
from dagcore.api.users import Action
from dagcore.server.auth import require
from dagcore.server.errors import ApiError
from dagcore.server.paging import MAX_OFFSET, effective_limit
from dagcore.server.state import ServerState, server_state
from dagcore.server.v2.import_error_models import (
    ImportErrorCollectionResponse,
    ImportErrorResponse,
    import_error_response,
)

__all__ = ["router"]

router = APIRouter(prefix="/importErrors", tags=["Import Error"])


@router.get("", response_model=ImportErrorCollectionResponse,
            dependencies=[Depends(require(Action.READ))])
def get_import_errors(limit: int | None = Query(None, ge=0),
                      offset: int = Query(0, ge=0, le=MAX_OFFSET),
                      order_by: list[str] = Query(["id"]),
                      filename_pattern: str | None = Query(None),
                      server: ServerState = Depends(server_state)) -> Any:
    """A page of import errors and how many match."""
    try:
        listing = api_import_errors.list_import_errors(
            server.engine, limit=effective_limit(limit), offset=offset, order_by=order_by,
            filename_pattern=filename_pattern)
    except api_import_errors.InvalidImportErrorOrder as exc:
        raise ApiError(400, str(exc)) from None
    return ImportErrorCollectionResponse(
        import_errors=[import_error_response(e) for e in listing.import_errors],
        total_entries=listing.total)


@router.get("/{import_error_id}", response_model=ImportErrorResponse,
            dependencies=[Depends(require(Action.READ))])
def get_import_error(import_error_id: int = Path(...),
                     server: ServerState = Depends(server_state)) -> Any:
    """One import error."""
    try:
        return import_error_response(
            api_import_errors.get_import_error(server.engine, import_error_id))
    except api_import_errors.ImportErrorNotFound:
        raise ApiError(404, f"The ImportError with import_error_id: `{import_error_id}` was "
                            f"not found") from None
