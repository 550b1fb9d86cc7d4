"""The REST API server for real: ``dagcore api-server`` on a loopback port, driven with
``requests`` (issue 13's foundation: auth, errors, health, version, DAGs on both versions).

Airflow's behaviour each test checks is named at the test (docs/airflow-rest-api.md sections,
and Airflow's sources: ``api_fastapi/core_api/routes/public/dags.py``, ``security.py``,
``auth/managers/simple/routes/login.py`` for v2; ``api_connexion/endpoints/dag_endpoint.py``,
``exceptions.py``, ``api/auth/backend/basic_auth.py`` for v1).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
import sqlalchemy as sa
from api_server_process import (
    database_url_of,
    home_engine,
    serve,
    DAG_IDS,
    ROLES,
    ApiServer,
    password_of,
    prepare_home,
    run_cli,
    server_env,
)
from starlette.routing import Mount

from dagcore.db import create_engine, transaction
from dagcore.models import tables as t

PARSED_AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
V1_PROBLEM = "https://airflow.apache.org/docs/apache-airflow/stable/stable-rest-api-ref.html"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, api_database_url: str | None) -> Path:
    """A migrated home with the DAGs stored, a stale one, and one user per role (via the
    CLI), on SQLite and on PostgreSQL (the module runs once per backend)."""
    return prepare_home(tmp_path_factory.mktemp("api"), parsed_at=PARSED_AT,
                        database_url=api_database_url)


@pytest.fixture(scope="module")
def server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from serve(home, tmp_path_factory)


@pytest.fixture
def db(home: Path) -> Iterator[sa.Engine]:
    yield from home_engine(home)


def _is_paused(db: sa.Engine, dag_id: str) -> bool:
    with db.connect() as conn:
        return bool(conn.execute(sa.select(t.dag.c.is_paused)
                                 .where(t.dag.c.dag_id == dag_id)).scalar_one())


def _no_500(answer: requests.Response) -> requests.Response:
    assert answer.status_code < 500, (answer.status_code, answer.text)
    return answer


# -- the token flow and HTTP Basic (docs/airflow-rest-api.md B.1, A.1) --------------------------


def test_token_flow(server: ApiServer) -> None:
    """Airflow 3's simple auth manager: POST /auth/token {username, password} → 201
    {"access_token"}; then Authorization: Bearer."""
    answer = requests.post(f"{server.url}/auth/token", timeout=30,
                           json={"username": "viewer", "password": password_of("viewer")})
    assert answer.status_code == 201
    assert set(answer.json()) == {"access_token"}
    token = answer.json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == "viewer"
    listed = requests.get(f"{server.url}/api/v2/dags", timeout=30,
                          headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200


def test_token_from_a_form(server: ApiServer) -> None:
    """login.py accepts the credentials as a form too."""
    answer = requests.post(f"{server.url}/auth/token", timeout=30,
                           data={"username": "op", "password": password_of("op")})
    assert answer.status_code == 201 and "access_token" in answer.json()


@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"username": "viewer", "password": "wrong"}, 401, "Invalid credentials"),
    ({"username": "ghost", "password": "x"}, 401, "Invalid credentials"),
    ({"username": "viewer"}, 400, "Username and password must be provided"),
    ({"username": "", "password": "x"}, 400, "Username and password must be provided"),
    ({}, 400, "Username and password must be provided"),
    (["viewer", "pw"], 400, "Username and password must be provided"),
])
def test_token_refused(server: ApiServer, body: Any, status: int, detail: str) -> None:
    """login.py: 400 "Username and password must be provided", 401 "Invalid credentials"."""
    answer = requests.post(f"{server.url}/auth/token", json=body, timeout=30)
    assert (answer.status_code, answer.json()) == (status, {"detail": detail})


def test_bad_tokens_are_401(server: ApiServer, home: Path) -> None:
    """No token → 401 "Not authenticated"; expired → 401 "Token Expired" (Airflow 3's texts).
    A tampered or foreign token: Airflow 3 answers 403 "Invalid JWT token"; issue 13 asks for
    401 (a bad token is no authentication)."""
    secret = (home / "jwt_secret").read_text().strip()
    past = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    expired = jwt.encode({"sub": "admin", "exp": past, "iat": past - 10}, secret,
                         algorithm="HS256")
    forged = jwt.encode({"sub": "admin", "exp": past + 10**6}, "not-the-secret",
                        algorithm="HS256")
    header, _, signature = server.token("viewer").split(".")
    payload = base64.urlsafe_b64encode(json.dumps(
        {"sub": "admin", "exp": past + 10**6}).encode()).decode().rstrip("=")
    tampered = f"{header}.{payload}.{signature}"
    cases = {None: "Not authenticated", "Bearer": "Not authenticated",
             f"Bearer {expired}": "Token Expired", f"Bearer {forged}": "Invalid JWT token",
             f"Bearer {tampered}": "Invalid JWT token", "Bearer x.y.z": "Invalid JWT token",
             "Token abc": "Not authenticated"}
    for header_value, detail in cases.items():
        headers = {} if header_value is None else {"Authorization": header_value}
        answer = requests.get(f"{server.url}/api/v2/dags", headers=headers, timeout=30)
        assert (answer.status_code, answer.json()) == (401, {"detail": detail}), header_value
        assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_token_of_a_deleted_user_stops_working(server: ApiServer, home: Path) -> None:
    env = server_env(home)
    assert run_cli(env, "users", "create", "--username", "temp", "--password",
                   password_of("temp"), "--role", "admin").returncode == 0
    token = server.token("temp")
    assert server.request("GET", "/api/v2/dags", as_user="temp").status_code == 200
    assert run_cli(env, "users", "delete", "--username", "temp").returncode == 0
    answer = requests.get(f"{server.url}/api/v2/dags", timeout=30,
                          headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401


def test_basic_auth_on_v1(server: ApiServer) -> None:
    """Airflow 2's basic_auth backend: what requests sends with auth=(user, password)."""
    answer = requests.get(f"{server.url}/api/v1/dags", auth=("viewer", password_of("viewer")),
                          timeout=30)
    assert answer.status_code == 200
    assert answer.json()["total_entries"] == 3
    again = requests.get(f"{server.url}/api/v1/dags", auth=("viewer", password_of("viewer")),
                         timeout=30)  # answered from the credential cache
    assert again.status_code == 200


@pytest.mark.parametrize("auth", [("viewer", "wrong"), ("ghost", "pw"), None])
def test_v1_401_is_airflow_2s_problem(server: ApiServer, auth: tuple[str, str] | None) -> None:
    """A.1: 401 {"detail": null, "status": 401, "title": "Unauthorized", "type":
    ".../Unauthenticated"} with WWW-Authenticate: Basic, as problem+json."""
    answer = requests.get(f"{server.url}/api/v1/dags", auth=auth, timeout=30)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["WWW-Authenticate"] == "Basic"
    assert answer.json() == {"detail": None, "status": 401, "title": "Unauthorized",
                             "type": f"{V1_PROBLEM}#section/Errors/Unauthenticated"}


def test_v1_malformed_basic_header_is_401(server: ApiServer) -> None:
    for value in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Basic"):
        answer = requests.get(f"{server.url}/api/v1/dags", headers={"Authorization": value},
                              timeout=30)
        assert answer.status_code == 401, value


# -- permissions: the 401/403 matrix (issue 13's roles) -------------------------------------------


ENDPOINTS = [
    # (method, path, body, least role)
    ("GET", "/api/v2/version", None, "viewer"),
    ("GET", "/api/v2/dags", None, "viewer"),
    ("GET", "/api/v2/dags/etl_daily", None, "viewer"),
    ("PATCH", "/api/v2/dags/ml_train", {"is_paused": True}, "user"),
    ("GET", "/api/v1/version", None, "viewer"),
    ("GET", "/api/v1/dags", None, "viewer"),
    ("GET", "/api/v1/dags/etl_daily", None, "viewer"),
    ("PATCH", "/api/v1/dags/ml_train", {"is_paused": True}, "user"),
]


@pytest.mark.parametrize(("method", "path", "body", "least"), ENDPOINTS)
def test_permission_matrix(server: ApiServer, method: str, path: str, body: Any,
                           least: str) -> None:
    """Anonymous → 401; a role below the least one → 403 (v2 {"detail": "Forbidden"}, v1
    problem title "Forbidden", detail null); the others → 200. Bearer on v2, Basic on v1."""
    v1 = path.startswith("/api/v1")
    anonymous = server.request(method, path, json=body)
    assert anonymous.status_code == 401
    for role in ROLES:
        answer = server.request(method, path, as_user=role, basic=v1, json=body)
        if ROLES.index(role) < ROLES.index(least):
            assert answer.status_code == 403, (role, answer.text)
            if v1:
                assert answer.json() == {
                    "detail": None, "status": 403, "title": "Forbidden",
                    "type": f"{V1_PROBLEM}#section/Errors/PermissionDenied"}
            else:
                assert answer.json() == {"detail": "Forbidden"}
        else:
            assert answer.status_code == 200, (role, answer.text)


def _routes(app: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route of ``app``, mounted sub-applications included."""
    for route in app.routes:
        if isinstance(route, Mount):
            yield from _routes(route.app, prefix + route.path)
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                yield method, prefix + route.path


PUBLIC = {
    ("GET", "/api/v2/monitor/health"), ("GET", "/api/v1/health"),
    ("GET", "/api/v2/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"),
    ("POST", "/auth/token"),
    # the web UI's files: the app must load before anyone can log in
    ("GET", "/"), ("GET", "/assets/{name:path}"),
}


def test_every_route_needs_authentication(server: ApiServer, home: Path) -> None:
    """Issue 13: every route but the health endpoints (and the docs, the OpenAPI document, the
    token route and the web UI's files) answers 401 to an anonymous request, whatever its body."""
    from dagcore.server.app import create_app

    engine = create_engine(database_url_of(home))
    try:
        routes = sorted(set(_routes(create_app(engine))))
    finally:
        engine.dispose()
    assert ("PATCH", "/api/v1/dags/{dag_id}") in routes
    assert PUBLIC <= set(routes)
    for method, path in routes:
        url = re.sub(r"\{[^}]+\}", "etl_daily", path)
        answer = _no_500(server.request(method, url, json={"bad": "body"}))
        if (method, path) in PUBLIC:
            assert answer.status_code != 401, (method, path)
        else:
            assert answer.status_code == 401, (method, path, answer.text)


# -- bad input never gives a 500 ------------------------------------------------------------------


def test_malformed_json(server: ApiServer) -> None:
    """v2: FastAPI's 422 with pydantic's list; v1: 400 problem+json (connexion)."""
    headers = {"Content-Type": "application/json"}
    v2 = server.request("PATCH", "/api/v2/dags/reporting", as_user="admin",
                        data="{not json", headers=headers)
    assert v2.status_code == 422
    assert v2.json()["detail"][0]["loc"][0] == "body"
    v1 = server.request("PATCH", "/api/v1/dags/reporting", as_user="admin", basic=True,
                        data="{not json", headers=headers)
    assert v1.status_code == 400
    assert v1.headers["content-type"] == "application/problem+json"
    assert v1.json()["status"] == 400 and v1.json()["title"] == "Bad Request"


@pytest.mark.parametrize("path", ["/api/v2/dags/reporting", "/api/v1/dags/reporting",
                                  "/auth/token"])
def test_oversized_body_is_413(server: ApiServer, path: str) -> None:
    """[api] max_request_body_bytes (1 MiB): a 2 MB body is refused before it is parsed."""
    body = json.dumps({"is_paused": True, "conf": {"x": "a" * (2 << 20)}})
    answer = server.request("POST" if path == "/auth/token" else "PATCH", path,
                            as_user="admin", basic=path.startswith("/api/v1"), data=body,
                            headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    detail = answer.json()["detail"]
    assert "max_request_body_bytes" in detail and "1048576" in detail
    if path.startswith("/api/v1"):
        assert answer.json()["status"] == 413


def test_oversized_chunked_body_is_413(server: ApiServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"is_paused": true, "x": "'
        for _ in range(40):
            yield b"a" * 65536
        yield b'"}'

    answer = server.request("PATCH", "/api/v2/dags/reporting", as_user="admin", data=chunks(),
                            headers={"Content-Type": "application/json"})
    assert answer.status_code == 413


def test_wrong_types_and_unknown_fields(server: ApiServer) -> None:
    """v2 DAGPatchBody is strict (extra="forbid") → 422; v1: connexion's type message and
    marshmallow's "Unknown field." → 400."""
    for body in ({"is_paused": "maybe"}, {"is_paused": True, "owner": "x"}, {}, [],
                 {"is_paused": None}):
        answer = server.request("PATCH", "/api/v2/dags/reporting", as_user="admin", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert isinstance(answer.json()["detail"], list)
    v1_cases = {
        json.dumps({"is_paused": "maybe"}): "'maybe' is not of type 'boolean' - 'is_paused'",
        json.dumps({"is_paused": True, "dag_id": "x"}): "Property is read-only - 'dag_id'",
        json.dumps({"is_paused": True, "colour": "x"}): "{'colour': ['Unknown field.']}",
        json.dumps({}): "{'is_paused': ['Missing data for required field.']}",
    }
    for body, detail in v1_cases.items():
        answer = server.request("PATCH", "/api/v1/dags/reporting", as_user="admin", basic=True,
                                data=body, headers={"Content-Type": "application/json"})
        assert (answer.status_code, answer.json()["detail"]) == (400, detail)


@pytest.mark.parametrize("query", ["limit=-1", "offset=-1", "limit=abc", "offset=1.5",
                                   "paused=perhaps", "tags_match_mode=some"])
def test_bad_paging_v2_is_422(server: ApiServer, query: str) -> None:
    """B.1: validation errors 422 with pydantic's list (loc ["query", ...])."""
    answer = server.request("GET", f"/api/v2/dags?{query}", as_user="viewer")
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][0] == "query"


def test_bad_paging_v1_is_400(server: ApiServer) -> None:
    """A.1: negative limit → 400 title "Page limit must be a positive integer"; other schema
    breaks → 400."""
    answer = server.request("GET", "/api/v1/dags?limit=-1", as_user="viewer", basic=True)
    assert answer.status_code == 400
    assert answer.json()["title"] == "Page limit must be a positive integer"
    for query in ("offset=-1", "limit=abc", "paused=perhaps"):
        answer = server.request("GET", f"/api/v1/dags?{query}", as_user="viewer", basic=True)
        assert answer.status_code == 400, query
        assert answer.headers["content-type"] == "application/problem+json"


HUGE = 10**20  # above any database integer: was a driver overflow (500) before a bound


@pytest.mark.parametrize("path", [
    "/api/v2/dags", "/api/v2/dags/~/dagRuns", "/api/v2/importErrors", "/api/v2/backfills",
    "/api/v2/dagTags", "/api/v2/dags/~/dagRuns/~/taskInstances", "/api/v2/assets",
    "/api/v2/assets/events", "/ui/dags"])
def test_an_offset_beyond_any_row_is_422_not_500(server: ApiServer, path: str) -> None:
    answer = server.request("GET", f"{path}?offset={HUGE}", as_user="admin")
    assert answer.status_code == 422, answer.text
    assert str(HUGE) in answer.text and "offset" in answer.text


@pytest.mark.parametrize("path", ["/api/v1/dags", "/api/v1/dags/~/dagRuns", "/api/v1/importErrors",
                                  "/api/v1/datasets"])
def test_an_offset_beyond_any_row_is_400_in_v1(server: ApiServer, path: str) -> None:
    answer = server.request("GET", f"{path}?offset={HUGE}", as_user="admin", basic=True)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"] == (
        f"{HUGE} is greater than the maximum of {2**63 - 1} - 'offset'")


def test_bad_order_by(server: ApiServer) -> None:
    """Both versions: 400 "Ordering with 'X' is disallowed or the attribute does not exist on
    the model"; v1 sorts only by dag_id."""
    detail = "Ordering with 'fileloc' is disallowed or the attribute does not exist on the model"
    v2 = server.request("GET", "/api/v2/dags?order_by=fileloc", as_user="viewer")
    assert (v2.status_code, v2.json()) == (400, {"detail": detail})
    v1 = server.request("GET", "/api/v1/dags?order_by=fileloc", as_user="viewer", basic=True)
    assert (v1.status_code, v1.json()["detail"]) == (400, detail)
    assert server.request("GET", "/api/v1/dags?order_by=-dag_id", as_user="viewer",
                          basic=True).status_code == 200


@pytest.mark.parametrize("dag_id", ["a'b", 'a"b', "a%2Fb", "..", "%2E%2E", "..%2F..%2Fetc",
                                    "a%00b", "%F0%9F%92%A5", "x" * 2000, "a;DROP TABLE dag"])
def test_hostile_ids_are_404(server: ApiServer, dag_id: str, db: sa.Engine) -> None:
    """Quotes, slashes, traversal, NUL, huge ids: a 404 (or 405 for a path that leaves the
    route), never a 500, and nothing changes."""
    for path in (f"/api/v2/dags/{dag_id}", f"/api/v1/dags/{dag_id}"):
        v1 = path.startswith("/api/v1")
        got = _no_500(server.request("GET", path, as_user="admin", basic=v1))
        assert got.status_code in (404, 405), (path, got.text)
        patched = _no_500(server.request("PATCH", path, as_user="admin", basic=v1,
                                         json={"is_paused": False}))
        assert patched.status_code in (404, 405), (path, patched.text)
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.dag)).scalar_one() == 4


@pytest.mark.parametrize("path, status", [
    ("/api/v2/dags?dag_id_pattern=a%00", 422), ("/api/v2/backfills?dag_id=a%00b", 422),
    ("/api/v1/dags/reporting/dagRuns?execution_date_gte=2024-01-01T00:00:00%00", 400),
])
def test_nul_in_a_query_parameter_is_refused(server: ApiServer, path: str, status: int) -> None:
    """A NUL character in a query parameter: v2 422 / v1 400 naming the parameter, on both
    backends (PostgreSQL's driver refuses it in a query: it was a 500 there)."""
    v1 = path.startswith("/api/v1")
    answer = server.request("GET", path, as_user="admin", basic=v1)
    assert answer.status_code == status, answer.text
    assert "contains a NUL character" in answer.json()["detail"]
    name = path.split("?")[1].split("=")[0]
    assert repr(name) in answer.json()["detail"]


def test_nul_in_credentials_is_401(server: ApiServer) -> None:
    """A username no user can have (a NUL character) is unknown: 401 "Invalid credentials"
    (Airflow 3's create_token), not a database error."""
    answer = requests.post(f"{server.url}/auth/token", timeout=30,
                           json={"username": "ad\u0000min", "password": "x"})
    assert (answer.status_code, answer.json()) == (401, {"detail": "Invalid credentials"})
    basic = requests.get(f"{server.url}/api/v1/dags", auth=("ad\x00min", "x"), timeout=30)
    assert basic.status_code == 401


# -- health and version ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v2/monitor/health", "/api/v1/health"])
def test_health_without_a_scheduler(server: ApiServer, path: str) -> None:
    """airflow_health.py: database healthy; no scheduler job → "unhealthy", heartbeat null."""
    answer = requests.get(f"{server.url}{path}", timeout=30)
    assert answer.status_code == 200
    body = answer.json()
    assert body["metadatabase"] == {"status": "healthy"}
    assert body["scheduler"] == {"status": "unhealthy", "latest_scheduler_heartbeat": None}
    assert body["triggerer"]["status"] is None and body["dag_processor"]["status"] is None


def test_health_with_a_live_scheduler(server: ApiServer, db: sa.Engine) -> None:
    """The latest SchedulerJob's heartbeat, "healthy" while it is alive; "unhealthy" once its
    heartbeat is older than [scheduler] scheduler_health_check_threshold."""
    import os
    import socket

    now = datetime.now(UTC)
    with transaction(db) as conn:
        job_id = conn.execute(t.job.insert().values(
            job_type="SchedulerJob", state="running", hostname=socket.getfqdn(),
            pid=os.getpid(), start_date=now, latest_heartbeat=now)).inserted_primary_key[0]
    try:
        body = requests.get(f"{server.url}/api/v2/monitor/health", timeout=30).json()
        assert body["scheduler"] == {"status": "healthy",
                                     "latest_scheduler_heartbeat": now.isoformat()}
        with transaction(db) as conn:
            conn.execute(t.job.update().where(t.job.c.id == job_id)
                         .values(latest_heartbeat=now - timedelta(minutes=5)))
        body = requests.get(f"{server.url}/api/v1/health", timeout=30).json()
        assert body["scheduler"]["status"] == "unhealthy"
    finally:
        with transaction(db) as conn:
            conn.execute(t.job.delete().where(t.job.c.id == job_id))


@pytest.mark.parametrize("path", ["/api/v2/version", "/api/v1/version"])
def test_version(server: ApiServer, path: str) -> None:
    import dagcore

    answer = server.request("GET", path, as_user="viewer", basic=path.startswith("/api/v1"))
    assert answer.json() == {"version": dagcore.__version__, "git_version": None}


def test_openapi_and_docs(server: ApiServer) -> None:
    spec = requests.get(f"{server.url}/api/v2/openapi.json", timeout=30).json()
    assert "/api/v2/dags" in spec["paths"] and "/auth/token" in spec["paths"]
    assert requests.get(f"{server.url}/docs", timeout=30).status_code == 200


# -- DAGs -----------------------------------------------------------------------------------------


V2_DAG_KEYS = {
    "dag_id", "dag_display_name", "is_paused", "is_stale", "last_parsed_time",
    "last_parse_duration", "last_expired", "bundle_name", "bundle_version", "relative_fileloc",
    "fileloc", "description", "timetable_summary", "timetable_description", "tags",
    "max_active_tasks", "max_active_runs", "max_consecutive_failed_dag_runs",
    "has_task_concurrency_limits", "has_import_errors", "next_dagrun_logical_date",
    "next_dagrun_data_interval_start", "next_dagrun_data_interval_end", "next_dagrun_run_after",
    "owners", "file_token",
}


def test_v2_dag_list_fields_and_paging(server: ApiServer) -> None:
    """B.2 GET /dags: DAGResponse's fields; stale DAGs left out; total counted before paging;
    datetimes with Z."""
    body = server.request("GET", "/api/v2/dags", as_user="viewer").json()
    assert body["total_entries"] == 3
    assert [d["dag_id"] for d in body["dags"]] == DAG_IDS
    first = body["dags"][0]
    assert set(first) == V2_DAG_KEYS
    assert first["tags"] == [{"name": "etl", "dag_id": "etl_daily"},
                             {"name": "prod", "dag_id": "etl_daily"}]
    assert first["last_parsed_time"] == "2026-03-04T05:06:07Z"
    assert first["description"] == "Daily ETL"
    page = server.request("GET", "/api/v2/dags?limit=1&offset=1", as_user="viewer").json()
    assert [d["dag_id"] for d in page["dags"]] == ["ml_train"] and page["total_entries"] == 3
    stale = server.request("GET", "/api/v2/dags?exclude_stale=false", as_user="viewer").json()
    assert stale["total_entries"] == 4


def test_v2_dag_list_filters_and_order(server: ApiServer) -> None:
    def ids(query: str) -> list[str]:
        answer = server.request("GET", f"/api/v2/dags?{query}", as_user="viewer")
        assert answer.status_code == 200, answer.text
        return [d["dag_id"] for d in answer.json()["dags"]]

    assert ids("tags=prod") == ["etl_daily", "reporting"]
    assert ids("tags=ml&tags=etl") == ["etl_daily", "ml_train"]
    assert ids("tags=prod&tags=etl&tags_match_mode=all") == ["etl_daily"]
    assert ids("dag_id_pattern=TRAIN") == ["ml_train"]  # case-insensitive substring
    assert ids("dag_id_pattern=%25_d%25") == ["etl_daily"]  # SQL LIKE wildcards, as Airflow's
    assert ids("order_by=-dag_id") == list(reversed(DAG_IDS))
    assert ids("limit=1000") == DAG_IDS  # capped at maximum_page_limit, not refused
    assert ids("limit=0") == []


def test_v2_get_dag(server: ApiServer) -> None:
    answer = server.request("GET", "/api/v2/dags/ml_train", as_user="viewer")
    assert answer.status_code == 200
    assert answer.json()["timetable_summary"] == "0 3 * * *"
    missing = server.request("GET", "/api/v2/dags/nope", as_user="viewer")
    assert (missing.status_code, missing.json()) == (
        404, {"detail": "The Dag with ID: `nope` was not found"})


def test_v2_patch_dag(server: ApiServer, db: sa.Engine) -> None:
    """B.2 PATCH /dags/{dag_id}: is_paused; update_mask must be exactly is_paused; 404 "Dag
    with id: <d> was not found"."""
    for paused in (False, True, False):
        answer = server.request("PATCH", "/api/v2/dags/reporting", as_user="user",
                                json={"is_paused": paused})
        assert answer.status_code == 200 and answer.json()["is_paused"] is paused
        assert _is_paused(db, "reporting") is paused
    masked = server.request("PATCH", "/api/v2/dags/reporting?update_mask=is_paused",
                            as_user="user", json={"is_paused": True})
    assert masked.status_code == 200 and _is_paused(db, "reporting")
    other = server.request("PATCH", "/api/v2/dags/reporting?update_mask=description",
                           as_user="user", json={"is_paused": False})
    assert (other.status_code, other.json()) == (
        400, {"detail": "Only `is_paused` field can be updated through the REST API"})
    assert _is_paused(db, "reporting")
    missing = server.request("PATCH", "/api/v2/dags/nope", as_user="user",
                             json={"is_paused": True})
    assert (missing.status_code, missing.json()) == (
        404, {"detail": "Dag with id: nope was not found"})


V1_DAG_KEYS = {
    "dag_id", "dag_display_name", "root_dag_id", "is_paused", "is_active", "is_subdag",
    "last_parsed_time", "last_pickled", "last_expired", "scheduler_lock", "pickle_id",
    "default_view", "fileloc", "file_token", "owners", "description", "schedule_interval",
    "timetable_description", "tags", "max_active_tasks", "max_active_runs",
    "max_consecutive_failed_dag_runs", "has_task_concurrency_limits", "has_import_errors",
    "next_dagrun", "next_dagrun_data_interval_start", "next_dagrun_data_interval_end",
    "next_dagrun_create_after",
}


def test_v1_dags(server: ApiServer) -> None:
    """A.2 8–9: {"dags": [...], "total_entries": N}; +00:00 datetimes; schedule_interval as a
    CronExpression; only_active; tags (any); 404 title "DAG not found"."""
    body = server.request("GET", "/api/v1/dags", as_user="viewer", basic=True).json()
    assert body["total_entries"] == 3
    first = body["dags"][0]
    assert set(first) == V1_DAG_KEYS
    assert first["last_parsed_time"] == "2026-03-04T05:06:07+00:00"
    assert first["schedule_interval"] == {"__type": "CronExpression", "value": "0 0 * * *"}
    assert first["tags"] == [{"name": "etl"}, {"name": "prod"}]
    assert first["is_active"] is True
    everything = server.request("GET", "/api/v1/dags?only_active=false", as_user="viewer",
                                basic=True).json()
    assert everything["total_entries"] == 4
    prod = server.request("GET", "/api/v1/dags?tags=prod&limit=1", as_user="viewer",
                          basic=True).json()
    assert [d["dag_id"] for d in prod["dags"]] == ["etl_daily"] and prod["total_entries"] == 2
    one = server.request("GET", "/api/v1/dags/reporting", as_user="viewer", basic=True).json()
    assert one["schedule_interval"] is None
    missing = server.request("GET", "/api/v1/dags/nope", as_user="viewer", basic=True)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "The DAG with dag_id: nope was not found",
                              "status": 404, "title": "DAG not found",
                              "type": f"{V1_PROBLEM}#section/Errors/NotFound"}


def test_v1_patch_dag(server: ApiServer, db: sa.Engine) -> None:
    """A.2 10: only is_paused; update_mask=is_paused; 404 title "Dag with id: '<d>' not
    found"."""
    answer = server.request("PATCH", "/api/v1/dags/etl_daily?update_mask=is_paused",
                            as_user="user", basic=True, json={"is_paused": False})
    assert answer.status_code == 200 and answer.json()["is_paused"] is False
    assert not _is_paused(db, "etl_daily")
    answer = server.request("PATCH", "/api/v1/dags/etl_daily", as_user="user", basic=True,
                            json={"is_paused": True})
    assert answer.json()["is_paused"] is True and _is_paused(db, "etl_daily")
    mask = server.request("PATCH", "/api/v1/dags/etl_daily?update_mask=owners",
                          as_user="user", basic=True, json={"is_paused": False})
    assert mask.status_code == 400
    assert mask.json()["detail"] == "Only `is_paused` field can be updated through the REST API"
    missing = server.request("PATCH", "/api/v1/dags/nope", as_user="user", basic=True,
                             json={"is_paused": True})
    assert missing.status_code == 404
    assert (missing.json()["title"], missing.json()["detail"]) == (
        "Dag with id: 'nope' not found", None)


def test_v1_unknown_path_is_a_problem(server: ApiServer) -> None:
    answer = server.request("GET", "/api/v1/nothing/here", as_user="viewer", basic=True)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
