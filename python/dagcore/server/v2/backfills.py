"""``/api/v2/backfills``: create, dry run, list by DAG, get, pause, unpause, cancel.

Airflow 3 (``core_api/routes/public/backfills.py``, docs/airflow-rest-api.md B.3) over
:mod:`dagcore.api.backfills`. Answers: create → 200 ``BackfillResponse``; dry run →
``{"backfills": [{"logical_date"}], "total_entries"}`` with the dates that would get a run
(created or cleared, not the skipped ones); 404 "Could not find dag <d>"; 422 ``{"detail":
"<message>"}`` for the planner's refusals (non-periodic schedule, future dates, the
depends_on_past rules, a range with nothing to run) and a conf that fails the DAG's params;
pause/unpause/cancel: 404 "Could not find backfill with id <id>", 409 "Backfill is already
completed."; GET of an unknown id: 404 "Backfill not found".

Where dagcore differs (its :mod:`dagcore.api.backfills` design note): an active backfill of the
same DAG refuses only an overlapping range (409 naming it; Airflow refuses any second one with
"There is already a running backfill for dag <d>"), cancel also stops the running runs, and the
body's extra optional ``keep_dag_paused`` (default false) runs the backfill while the DAG stays
paused (docs/airflow-rest-api.md, "UI endpoints" 5).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query

from dagcore.api import backfills as api_backfills
from dagcore.api.backfills import Backfill
from dagcore.api.common import DagNotFound
from dagcore.api.users import Action
from dagcore.backfill import BackfillAction
from dagcore.server.auth import Principal, require
from dagcore.server.errors import ApiError
from dagcore.server.paging import MAX_OFFSET, effective_limit
from dagcore.server.state import ServerState, server_state
from dagcore.server.v2.backfill_models import (
    BackfillCollectionResponse,
    BackfillPostBody,
    BackfillResponse,
    DryRunBackfillCollectionResponse,
    DryRunBackfillResponse,
    backfill_response,
)

__all__ = ["router"]

router = APIRouter(prefix="/backfills", tags=["Backfill"])

# Airflow 3's SortParam for backfills; any other field is refused with its text.
_ORDER_FIELDS = ("id", "dag_id", "from_date", "to_date", "created_at", "completed_at",
                 "updated_at", "max_active_runs", "is_paused")


def _response(server: ServerState, backfill: Backfill) -> BackfillResponse:
    return backfill_response(backfill, server.display_name(backfill.dag_id))


def _plan_kwargs(body: BackfillPostBody, principal: Principal) -> dict[str, Any]:
    return dict(from_date=body.from_date, to_date=body.to_date,
                reprocess_behavior=body.reprocess_behavior,
                max_active_runs=body.max_active_runs, run_backwards=body.run_backwards,
                dag_run_conf=body.dag_run_conf, run_on_latest_version=body.run_on_latest_version,
                keep_dag_paused=body.keep_dag_paused, triggering_user_name=principal.username)


def _refused(exc: Exception) -> ApiError:
    """The HTTP answer for an error of creating or planning a backfill."""
    if isinstance(exc, DagNotFound):
        return ApiError(404, str(exc))
    if isinstance(exc, api_backfills.OverlappingBackfill):
        return ApiError(409, str(exc))
    return ApiError(422, str(exc))


@router.post("", response_model=BackfillResponse)
def create_backfill(body: BackfillPostBody,
                    principal: Principal = Depends(require(Action.BACKFILL)),
                    server: ServerState = Depends(server_state)) -> Any:
    """Create a backfill; its runs exist when this answers."""
    try:
        backfill = api_backfills.create_backfill(body.dag_id, engine=server.engine,
                                                 dag_bag=server.dag_bag,
                                                 **_plan_kwargs(body, principal))
    except (LookupError, ValueError) as exc:
        raise _refused(exc) from None
    return _response(server, backfill)


@router.post("/dry_run", response_model=DryRunBackfillCollectionResponse)
def create_backfill_dry_run(body: BackfillPostBody,
                            principal: Principal = Depends(require(Action.BACKFILL)),
                            server: ServerState = Depends(server_state)) -> Any:
    """The logical dates a backfill would run (created or cleared runs), writing nothing."""
    try:
        plan = api_backfills.dry_run_backfill(body.dag_id, engine=server.engine,
                                              dag_bag=server.dag_bag,
                                              **_plan_kwargs(body, principal))
    except (LookupError, ValueError) as exc:
        raise _refused(exc) from None
    dates = [date for date, action in zip(plan.logical_dates, plan.actions)
             if action is not BackfillAction.SKIP]
    return DryRunBackfillCollectionResponse(
        backfills=[DryRunBackfillResponse(logical_date=date) for date in dates],
        total_entries=len(dates))


def _sort_key(order_by: str) -> tuple[str, bool]:
    field = order_by[1:] if order_by.startswith("-") else order_by
    if field not in _ORDER_FIELDS:
        raise ApiError(400, f"Ordering with '{field}' is disallowed or the attribute does not "
                            f"exist on the model")
    return field, order_by.startswith("-")


def _sort_value(backfill: Backfill, field: str) -> tuple[bool, Any, int]:
    """Sort key: a None (``completed_at`` of an active backfill) first, ties by id."""
    value = getattr(backfill, field)
    return (value is not None, value if value is not None else 0, backfill.id)


@router.get("", response_model=BackfillCollectionResponse,
            dependencies=[Depends(require(Action.READ))])
def list_backfills(dag_id: str = Query(...), limit: int | None = Query(None, ge=0),
                   offset: int = Query(0, ge=0, le=MAX_OFFSET), order_by: str = Query("id"),
                   server: ServerState = Depends(server_state)) -> Any:
    """A page of the DAG's backfills and how many there are."""
    field, descending = _sort_key(order_by)
    backfills = api_backfills.list_backfills(dag_id, engine=server.engine)
    backfills.sort(key=lambda b: _sort_value(b, field), reverse=descending)
    page = backfills[offset:offset + effective_limit(limit)]
    name = server.display_name(dag_id)
    return BackfillCollectionResponse(backfills=[backfill_response(b, name) for b in page],
                                      total_entries=len(backfills))


@router.get("/{backfill_id}", response_model=BackfillResponse,
            dependencies=[Depends(require(Action.READ))])
def get_backfill(backfill_id: int = Path(...),
                 server: ServerState = Depends(server_state)) -> Any:
    """One backfill."""
    try:
        return _response(server, api_backfills.get_backfill(backfill_id, engine=server.engine))
    except api_backfills.BackfillNotFound:
        raise ApiError(404, "Backfill not found") from None


def _operate(server: ServerState, backfill_id: int, operation: Any) -> BackfillResponse:
    try:
        return _response(server, operation(backfill_id, engine=server.engine))
    except api_backfills.BackfillNotFound:
        raise ApiError(404, f"Could not find backfill with id {backfill_id}") from None
    except api_backfills.BackfillCompleted:
        raise ApiError(409, "Backfill is already completed.") from None


@router.put("/{backfill_id}/pause", response_model=BackfillResponse,
            dependencies=[Depends(require(Action.BACKFILL))])
def pause_backfill(backfill_id: int = Path(...),
                   server: ServerState = Depends(server_state)) -> Any:
    """No new run of the backfill starts until it is unpaused."""
    return _operate(server, backfill_id, api_backfills.pause_backfill)


@router.put("/{backfill_id}/unpause", response_model=BackfillResponse,
            dependencies=[Depends(require(Action.BACKFILL))])
def unpause_backfill(backfill_id: int = Path(...),
                     server: ServerState = Depends(server_state)) -> Any:
    """The backfill's queued runs may start again."""
    return _operate(server, backfill_id, api_backfills.unpause_backfill)


@router.put("/{backfill_id}/cancel", response_model=BackfillResponse,
            dependencies=[Depends(require(Action.BACKFILL))])
def cancel_backfill(backfill_id: int = Path(...),
                    server: ServerState = Depends(server_state)) -> Any:
    """Cancel the backfill: its queued (and running) runs fail, it is paused and completed."""
    return _operate(server, backfill_id, api_backfills.cancel_backfill)
