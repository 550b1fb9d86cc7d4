"""``/api/v2/backfills`` for real: ``dagcore api-server`` on a loopback port, driven with
``requests``.

Airflow's behaviour each test checks: docs/airflow-rest-api.md B.3, from Airflow 3's
``api_fastapi/core_api/routes/public/backfills.py``, ``datamodels/backfills.py`` and its tests
``tests/unit/api_fastapi/core_api/routes/public/test_backfills.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from api_server_process import ApiServer, home_engine, prepare_home, serve

from dagcore.models import tables as t

BODY = {"dag_id": "etl_daily", "from_date": "2024-02-01T00:00:00Z",
        "to_date": "2024-02-03T00:00:00Z"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, api_database_url: str | None) -> Path:
    """On SQLite and on PostgreSQL (the module runs once per backend)."""
    return prepare_home(tmp_path_factory.mktemp("api"), database_url=api_database_url)


@pytest.fixture(scope="module")
def server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from serve(home, tmp_path_factory)


@pytest.fixture
def db(home: Path) -> Iterator[sa.Engine]:
    yield from home_engine(home)


def _create(server: ApiServer, **body: Any) -> dict[str, Any]:
    answer = server.request("POST", "/api/v2/backfills", as_user="op", json={**BODY, **body})
    assert answer.status_code == 200, answer.text
    created: dict[str, Any] = answer.json()
    return created


def test_dry_run_lists_the_dates_and_writes_nothing(server: ApiServer, db: sa.Engine) -> None:
    """backfills.py create_backfill_dry_run: {"backfills": [{"logical_date"}], "total_entries"},
    one per date of the schedule in the range (both ends inclusive), nothing stored."""
    body = {**BODY, "from_date": "2023-06-01T00:00:00Z", "to_date": "2023-06-03T00:00:00Z"}
    answer = server.request("POST", "/api/v2/backfills/dry_run", as_user="op", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"backfills": [{"logical_date": "2023-06-01T00:00:00Z"},
                                           {"logical_date": "2023-06-02T00:00:00Z"},
                                           {"logical_date": "2023-06-03T00:00:00Z"}],
                             "total_entries": 3}
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.dag_run).where(
            t.dag_run.c.logical_date < sa.literal("2023-07-01"))).scalar_one() == 0


def test_create_get_list_pause_unpause_cancel(server: ApiServer, db: sa.Engine) -> None:
    """Create → 200 BackfillResponse with Airflow 3's fields, its runs queued within the
    request; GET by id and list by DAG; pause/unpause set is_paused; cancel pauses and sets
    completed_at; then a second cancel or pause → 409 "Backfill is already completed."."""
    created = _create(server, dag_run_conf={"k": 1}, max_active_runs=2)
    assert set(created) == {"id", "dag_id", "from_date", "to_date", "dag_run_conf", "is_paused",
                            "reprocess_behavior", "max_active_runs", "created_at",
                            "completed_at", "updated_at", "dag_display_name"}
    assert created["dag_id"] == "etl_daily" and created["dag_display_name"] == "etl_daily"
    assert created["from_date"] == "2024-02-01T00:00:00Z"
    assert created["dag_run_conf"] == {"k": 1} and created["max_active_runs"] == 2
    assert created["reprocess_behavior"] == "none" and created["is_paused"] is False
    assert created["completed_at"] is None and created["created_at"].endswith("Z")
    backfill_id = created["id"]
    with db.connect() as conn:
        runs = conn.execute(sa.select(t.dag_run.c.state, t.dag_run.c.run_type).where(
            t.dag_run.c.backfill_id == backfill_id)).all()
    assert sorted(runs) == [("queued", "backfill")] * 3

    got = server.request("GET", f"/api/v2/backfills/{backfill_id}", as_user="viewer")
    assert got.status_code == 200 and got.json() == created
    listed = server.request("GET", "/api/v2/backfills", as_user="viewer",
                            params={"dag_id": "etl_daily"})
    assert listed.status_code == 200
    assert backfill_id in [b["id"] for b in listed.json()["backfills"]]
    assert listed.json()["total_entries"] == len(listed.json()["backfills"])
    other = server.request("GET", "/api/v2/backfills", as_user="viewer",
                           params={"dag_id": "ml_train"})
    assert other.json() == {"backfills": [], "total_entries": 0}

    paused = server.request("PUT", f"/api/v2/backfills/{backfill_id}/pause", as_user="op")
    assert paused.status_code == 200 and paused.json()["is_paused"] is True
    unpaused = server.request("PUT", f"/api/v2/backfills/{backfill_id}/unpause", as_user="op")
    assert unpaused.status_code == 200 and unpaused.json()["is_paused"] is False
    cancelled = server.request("PUT", f"/api/v2/backfills/{backfill_id}/cancel", as_user="op")
    assert cancelled.status_code == 200
    assert cancelled.json()["is_paused"] is True and cancelled.json()["completed_at"]
    with db.connect() as conn:
        states = conn.execute(sa.select(t.dag_run.c.state).where(
            t.dag_run.c.backfill_id == backfill_id)).scalars().all()
    assert states == ["failed"] * 3  # queued runs fail on cancel
    for action in ("cancel", "pause", "unpause"):
        again = server.request("PUT", f"/api/v2/backfills/{backfill_id}/{action}",
                               as_user="op")
        assert (again.status_code, again.json()) == (
            409, {"detail": "Backfill is already completed."})


def test_overlapping_active_backfill_is_409(server: ApiServer) -> None:
    """Airflow: 409 for a second active backfill of the DAG. dagcore refuses an overlapping
    one (409, naming the active backfill) and lets a disjoint range through."""
    first = _create(server, from_date="2024-03-01T00:00:00Z", to_date="2024-03-05T00:00:00Z")
    overlap = server.request("POST", "/api/v2/backfills", as_user="op", json={
        **BODY, "from_date": "2024-03-04T00:00:00Z", "to_date": "2024-03-06T00:00:00Z"})
    assert overlap.status_code == 409
    assert f"active backfill {first['id']}" in overlap.json()["detail"]
    server.request("PUT", f"/api/v2/backfills/{first['id']}/cancel", as_user="op")


@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"dag_id": "nope"}, 404, "Could not find dag nope"),
    ({"dag_id": "reporting"}, 422,
     "reporting has a non-periodic schedule that does not support backfills"),
    ({"from_date": "2999-01-01T00:00:00Z", "to_date": "2999-01-02T00:00:00Z"}, 422,
     "Backfill cannot be executed for future dates."),
])
@pytest.mark.parametrize("path", ["/api/v2/backfills", "/api/v2/backfills/dry_run"])
def test_create_and_dry_run_refusals(server: ApiServer, path: str, body: dict[str, Any],
                                     status: int, detail: str) -> None:
    """backfills.py: 404 "Could not find dag <d>"; 422 {"detail": message} for the
    planner's refusals (test_backfills.py test_create_backfill_*)."""
    answer = server.request("POST", path, as_user="op", json={**BODY, **body})
    assert (answer.status_code, answer.json()) == (status, {"detail": detail})


@pytest.mark.parametrize("body", [
    {**BODY, "unknown": 1},
    {**BODY, "from_date": "2024-02-01T00:00:00"},
    {**BODY, "reprocess_behavior": "sometimes"},
    {k: v for k, v in BODY.items() if k != "dag_id"},
])
def test_bad_bodies_are_422(server: ApiServer, body: dict[str, Any]) -> None:
    """BackfillPostBody is strict (extra="forbid"), dates are AwareDatetime, reprocess_behavior
    an enum: pydantic's 422 with its list."""
    answer = server.request("POST", "/api/v2/backfills", as_user="op", json=body)
    assert answer.status_code == 422
    assert isinstance(answer.json()["detail"], list)


def test_unknown_and_bad_ids(server: ApiServer) -> None:
    """GET → 404 "Backfill not found"; pause/unpause/cancel → 404 "Could not find backfill
    with id <id>"; a non-integer id → 422."""
    got = server.request("GET", "/api/v2/backfills/999999", as_user="viewer")
    assert (got.status_code, got.json()) == (404, {"detail": "Backfill not found"})
    for action in ("pause", "unpause", "cancel"):
        answer = server.request("PUT", f"/api/v2/backfills/999999/{action}", as_user="op")
        assert (answer.status_code, answer.json()) == (
            404, {"detail": "Could not find backfill with id 999999"})
    bad = server.request("GET", "/api/v2/backfills/abc", as_user="viewer")
    assert bad.status_code == 422


def test_list_needs_dag_id_and_a_known_order(server: ApiServer) -> None:
    """dag_id is a required query parameter (422 without); an order_by field that is not
    sortable → 400 with SortParam's text."""
    assert server.request("GET", "/api/v2/backfills", as_user="viewer").status_code == 422
    answer = server.request("GET", "/api/v2/backfills", as_user="viewer",
                            params={"dag_id": "etl_daily", "order_by": "nope"})
    assert (answer.status_code, answer.json()) == (
        400, {"detail": "Ordering with 'nope' is disallowed or the attribute does not exist "
                        "on the model"})


def test_permissions(server: ApiServer) -> None:
    """Backfills need op (api/users.py); a user gets 403, nobody 401; viewers may read."""
    user = server.request("POST", "/api/v2/backfills", as_user="user", json=BODY)
    assert (user.status_code, user.json()) == (403, {"detail": "Forbidden"})
    assert server.request("PUT", "/api/v2/backfills/1/pause",
                          as_user="viewer").status_code == 403
    assert server.request("POST", "/api/v2/backfills/dry_run", json=BODY).status_code == 401
    assert server.request("GET", "/api/v2/backfills",
                          params={"dag_id": "etl_daily"}).status_code == 401
