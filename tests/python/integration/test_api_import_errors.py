"""``/api/v2/importErrors`` and ``/api/v1/importErrors`` for real (``dagcore api-server`` on a
loopback port, ``requests``).

Airflow's behaviour: docs/airflow-rest-api.md A.2 12 and B.2, from Airflow 3's
``core_api/routes/public/import_error.py`` and Airflow 2.10's
``api_connexion/endpoints/import_error_endpoint.py`` with its test
``tests/api_connexion/endpoints/test_import_error_endpoint.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from api_server_process import ApiServer, database_url_of, prepare_home, serve

from dagcore.db import create_engine, transaction
from dagcore.models import tables as t

V1_PROBLEM = "https://airflow.apache.org/docs/apache-airflow/stable/stable-rest-api-ref.html"
AT = datetime(2020, 6, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, api_database_url: str | None) -> Path:
    """A home with two import errors, on SQLite and on PostgreSQL (the module runs once per
    backend)."""
    home = prepare_home(tmp_path_factory.mktemp("api"), database_url=api_database_url)
    engine = create_engine(database_url_of(home))
    try:
        with transaction(engine) as conn:
            conn.execute(t.import_error.insert(), [
                {"id": 1, "timestamp": AT, "filename": "Lorem_ipsum.py",
                 "bundle_name": "dags-folder", "stacktrace": "Lorem ipsum"},
                {"id": 2, "timestamp": AT, "filename": "broken/dolor.py",
                 "bundle_name": "dags-folder", "stacktrace": "SyntaxError"}])
    finally:
        engine.dispose()
    return home


@pytest.fixture(scope="module")
def server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from serve(home, tmp_path_factory)


FIRST_V2 = {"import_error_id": 1, "timestamp": "2020-06-10T12:00:00Z",
            "filename": "Lorem_ipsum.py", "bundle_name": "dags-folder",
            "stack_trace": "Lorem ipsum"}


def test_v2_list_and_get(server: ApiServer) -> None:
    """Airflow 3: {"import_errors": [...], "total_entries"} with import_error_id, timestamp,
    filename, bundle_name, stack_trace; ordered by id; a viewer may read."""
    answer = server.request("GET", "/api/v2/importErrors", as_user="viewer")
    assert answer.status_code == 200
    assert answer.json()["total_entries"] == 2
    assert answer.json()["import_errors"][0] == FIRST_V2
    got = server.request("GET", "/api/v2/importErrors/1", as_user="viewer")
    assert (got.status_code, got.json()) == (200, FIRST_V2)


def test_v2_filter_order_and_paging(server: ApiServer) -> None:
    """filename_pattern is a case-insensitive substring; order_by takes `-` and the
    import_error_id alias; total_entries counts before paging."""
    found = server.request("GET", "/api/v2/importErrors", as_user="viewer",
                           params={"filename_pattern": "DOLOR"}).json()
    assert [e["import_error_id"] for e in found["import_errors"]] == [2]
    assert found["total_entries"] == 1
    ordered = server.request("GET", "/api/v2/importErrors", as_user="viewer",
                             params={"order_by": "-import_error_id", "limit": 1}).json()
    assert [e["import_error_id"] for e in ordered["import_errors"]] == [2]
    assert ordered["total_entries"] == 2
    bad = server.request("GET", "/api/v2/importErrors", as_user="viewer",
                         params={"order_by": "nope"})
    assert (bad.status_code, bad.json()) == (400, {
        "detail": "Ordering with 'nope' is disallowed or the attribute does not exist on the "
                  "model"})


def test_v2_unknown_id(server: ApiServer) -> None:
    """404 "The ImportError with import_error_id: `<id>` was not found"; a non-integer id 422."""
    answer = server.request("GET", "/api/v2/importErrors/99", as_user="viewer")
    assert (answer.status_code, answer.json()) == (
        404, {"detail": "The ImportError with import_error_id: `99` was not found"})
    assert server.request("GET", "/api/v2/importErrors/x", as_user="viewer").status_code == 422


def test_v1_list_and_get(server: ApiServer) -> None:
    """Airflow 2.10's ImportError: import_error_id, timestamp (+00:00), filename, stack_trace
    (test_import_error_endpoint.py test_response_200)."""
    first = {"import_error_id": 1, "timestamp": "2020-06-10T12:00:00+00:00",
             "filename": "Lorem_ipsum.py", "stack_trace": "Lorem ipsum"}
    answer = server.request("GET", "/api/v1/importErrors", as_user="viewer", basic=True)
    assert answer.status_code == 200
    assert answer.json()["total_entries"] == 2 and answer.json()["import_errors"][0] == first
    got = server.request("GET", "/api/v1/importErrors/1", as_user="viewer", basic=True)
    assert (got.status_code, got.json()) == (200, first)
    ordered = server.request("GET", "/api/v1/importErrors", as_user="viewer", basic=True,
                             params={"order_by": "-import_error_id", "offset": 1}).json()
    assert [e["import_error_id"] for e in ordered["import_errors"]] == [1]


def test_v1_errors(server: ApiServer) -> None:
    """test_response_404: title "Import error not found", detail "The ImportError with
    import_error_id: `2` was not found"; a negative limit → 400 "Page limit must be a positive
    integer"; a field v1 does not sort by → 400."""
    answer = server.request("GET", "/api/v1/importErrors/99", as_user="viewer", basic=True)
    assert answer.status_code == 404
    assert answer.json() == {
        "detail": "The ImportError with import_error_id: `99` was not found", "status": 404,
        "title": "Import error not found", "type": f"{V1_PROBLEM}#section/Errors/NotFound"}
    negative = server.request("GET", "/api/v1/importErrors", as_user="viewer", basic=True,
                              params={"limit": -1})
    assert (negative.status_code, negative.json()["title"]) == (
        400, "Page limit must be a positive integer")
    bad_order = server.request("GET", "/api/v1/importErrors", as_user="viewer", basic=True,
                               params={"order_by": "bundle_name"})
    assert bad_order.status_code == 400


def test_anonymous_is_401(server: ApiServer) -> None:
    assert server.request("GET", "/api/v2/importErrors").status_code == 401
    assert server.request("GET", "/api/v1/importErrors/1").status_code == 401
