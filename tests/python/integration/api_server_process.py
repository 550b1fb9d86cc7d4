"""``dagcore api-server`` as a subprocess on a free loopback port, for the REST API tests.

:func:`start_api_server` starts ``python -m dagcore api-server --port <free>`` with the given
environment (a ``DAGCORE_HOME`` already migrated, users created), waits until the health
endpoint answers, and returns an :class:`ApiServer`; :meth:`ApiServer.stop` sends SIGTERM and
waits for the exit (SIGKILL, to this process only, if it hangs).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import sqlalchemy as sa

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
START_ATTEMPTS = 3

ROLES = ("viewer", "user", "op", "admin")

DAGS = {
    "etl.py": """\
from datetime import UTC, datetime
from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

with DAG("etl_daily", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule="@daily",
         tags=["etl", "prod"], description="Daily ETL"):
    EmptyOperator(task_id="extract")

with DAG("ml_train", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule="0 3 * * *",
         tags=["ml"]):
    EmptyOperator(task_id="train")

with DAG("reporting", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None,
         tags=["prod"]):
    EmptyOperator(task_id="report")
""",
}
DAG_IDS = ["etl_daily", "ml_train", "reporting"]


def password_of(username: str) -> str:
    return f"pw-{username}-secret"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ApiServer:
    """A running server: its base URL and process."""

    process: subprocess.Popen[str]
    port: int
    log_path: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def token(self, username: str) -> str:
        """A bearer token for ``username`` (one ``POST /auth/token`` per user)."""
        if username not in self.tokens:
            answer = requests.post(f"{self.url}/auth/token", timeout=30,
                                   json={"username": username,
                                         "password": password_of(username)})
            assert answer.status_code == 201, answer.text
            self.tokens[username] = answer.json()["access_token"]
        return self.tokens[username]

    def bearer(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}

    def request(self, method: str, path: str, *, as_user: str | None = None,
                basic: bool = False, **kwargs: Any) -> requests.Response:
        """``method path`` as ``as_user`` (Bearer on v2, or ``basic``), anonymous when None."""
        headers = dict(kwargs.pop("headers", {}))
        if as_user is not None and not basic:
            headers.update(self.bearer(as_user))
        auth = (as_user, password_of(as_user)) if as_user is not None and basic else None
        return requests.request(method, f"{self.url}{path}", headers=headers, auth=auth,
                                timeout=30, **kwargs)

    def stop(self) -> int:
        """SIGTERM, then wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()  # our own child, by its handle
                self.process.wait(timeout=STOP_TIMEOUT)
        return int(self.process.returncode)


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dagcore", *args], env=env, text=True,
                          capture_output=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)


def create_role_users(env: dict[str, str]) -> None:
    """One user per role, named after it, through ``dagcore users create``."""
    for role in ROLES:
        made = run_cli(env, "users", "create", "--username", role, "--password",
                       password_of(role), "--role", role)
        assert made.returncode == 0, made.stderr


def start_api_server(env: dict[str, str], log_path: Path, *extra: str) -> ApiServer:
    """Start the server (see the module note); fails the test with its log if it never
    answers."""
    for _ in range(START_ATTEMPTS):  # the free port can be taken before the server binds it
        port = free_port()
        log = log_path.open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "dagcore", "api-server", "--port", str(port), *extra],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True)
        log.close()
        server = ApiServer(process=process, port=port, log_path=log_path)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if requests.get(f"{server.url}/api/v2/monitor/health",
                                timeout=5).status_code == 200:
                    return server
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        if process.poll() is None:
            server.stop()
            raise AssertionError(f"api-server did not answer:\n{server.log()}")
        if "address already in use" not in server.log().lower():
            raise AssertionError(f"api-server exited with {process.returncode}:\n{server.log()}")
    raise AssertionError("api-server: no free port after several attempts")


def server_env(home: Path, **settings: str) -> dict[str, str]:
    """This process's environment without ``DAGCORE__`` settings, with ``DAGCORE_HOME`` and
    the package on ``PYTHONPATH``."""
    import dagcore

    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGCORE__")}
    env["DAGCORE_HOME"] = str(home)
    package_root = str(Path(dagcore.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.update(settings)
    return env


def prepare_home(root: Path, *, parsed_at: datetime | None = None,
                 database_url: str | None = None, dags: dict[str, str] | None = None,
                 **settings: str) -> Path:
    """``root/home``: migrated (``dagcore db migrate``), :data:`DAGS` stored, a stale DAG
    ``old_dag`` beside them, and one user per role (``dagcore users create``). ``settings``
    are environment variables for the commands (a database URL). ``database_url`` (a
    PostgreSQL database) is written into the home's ``dagcore.cfg`` instead, so that every
    command and server started with this ``DAGCORE_HOME`` uses it (None: the home's SQLite
    file). ``dags`` (file name -> source) are written beside :data:`DAGS`."""
    from dagcore.dag_processing import sync_dags
    from dagcore.db import create_engine, transaction
    from dagcore.models import tables as t

    home = root / "home"
    home.mkdir()
    if database_url is not None:
        (home / "dagcore.cfg").write_text(f"[database]\nsql_alchemy_conn = {database_url}\n")
    folder = root / "dags"
    folder.mkdir()
    for name, text in {**DAGS, **(dags or {})}.items():
        (folder / name).write_text(text)
    env = server_env(home, **settings)
    migrated = run_cli(env, "db", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    url = settings.get("DAGCORE__DATABASE__SQL_ALCHEMY_CONN", database_url_of(home))
    engine = create_engine(url)
    try:
        result = sync_dags(folder, engine=engine, min_update_interval=timedelta(0),
                           now=parsed_at)
        assert not result.import_errors, result.import_errors
        with transaction(engine) as conn:
            conn.execute(t.dag.insert().values(dag_id="old_dag", is_stale=True,
                                               is_paused=False))
    finally:
        engine.dispose()
    create_role_users(env)
    return home


def database_url_of(home: Path) -> str:
    """The database of a home from :func:`prepare_home`: its ``dagcore.cfg``'s, else its
    SQLite file."""
    import configparser

    config = configparser.ConfigParser(interpolation=None)
    config.read(home / "dagcore.cfg")
    return config.get("database", "sql_alchemy_conn",
                      fallback=f"sqlite:///{home / 'dagcore.db'}")


def serve(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The body of a module's ``server`` fixture: a server on ``home`` for the module's tests,
    which must then stop cleanly (exit status 0 after SIGTERM)."""
    running = start_api_server(server_env(home), tmp_path_factory.mktemp("log") / "server.log")
    try:
        yield running
    finally:
        code = running.stop()
        assert code == 0, running.log()


def home_engine(home: Path) -> Iterator[sa.Engine]:
    """The body of a ``db`` fixture: an engine on ``home``'s database, disposed after."""
    from dagcore.db import create_engine

    engine = create_engine(database_url_of(home))
    try:
        yield engine
    finally:
        engine.dispose()
