"""Fixtures for the integration tests: a real SQLite file and a real PostgreSQL server, and a
home for the command line tests (``cli_home``).

``engine`` runs a test once per backend. PostgreSQL is a throw-away server for the whole session:
``initdb`` into a fresh directory under the system temp dir, ``pg_ctl start`` listening on
127.0.0.1 only (a free port, the unix socket inside that directory), one new database per test,
``pg_ctl stop -m fast`` and the directory removed at the end. PostgreSQL refuses to run as root,
so under root (CI) ``initdb`` and ``pg_ctl`` run as ``nobody`` through ``runuser`` and the
directory is handed to that user; ``DAGCORE_TEST_PG_USER`` picks another account.

Without PostgreSQL binaries the PostgreSQL cases are skipped, except under ``CI=true``, where
that is a failure: CI installs them (scripts/bootstrap.sh).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from cli_helpers import CLIHome
from sqlalchemy.engine import Engine

from dagcore.db import create_engine

PG_SUPERUSER = "dagcore"
START_ATTEMPTS = 3


def _pg_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    # Debian keeps the server binaries off PATH.
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    """A running throw-away server; :meth:`create_database` gives each test a clean database."""

    bindir: Path
    root: Path
    port: int
    run_as: str | None
    _names = itertools.count(1)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://{PG_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        engine = sa.create_engine(self.url(), future=True, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(sql)
        finally:
            engine.dispose()

    def create_database(self) -> str:
        name = f"test_{os.getpid()}_{next(self._names)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(cmd: list[str], run_as: str | None, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    if run_as is not None:
        cmd = ["runuser", "-u", run_as, "--", *cmd]
    # cwd: the server user must be able to enter it (pg_ctl checks), the repository may be root's.
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _stop(server: PostgresServer) -> None:
    """Stops the server however it is doing, and never leaves a postgres process behind."""
    pid = _postmaster_pid(server.data_dir)
    pg_ctl = str(server.bindir / "pg_ctl")
    for mode in ("fast", "immediate"):
        result = _run([pg_ctl, "stop", "-D", str(server.data_dir), "-m", mode, "-w", "-t", "30"],
                      server.run_as, server.root)
        if result.returncode == 0 or _postmaster_pid(server.data_dir) is None:
            break
    if pid is not None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)  # our own postmaster, by its pid: last resort


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1 for the whole session, stopped and removed at the end."""
    bindir = _pg_bindir()
    if bindir is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) not found"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI must install them (scripts/bootstrap.sh)")
        pytest.skip(message)
    run_as: str | None = None
    if os.geteuid() == 0:
        run_as = os.environ.get("DAGCORE_TEST_PG_USER", "nobody")
        if shutil.which("runuser") is None:
            pytest.fail("running as root needs runuser (util-linux) to start PostgreSQL as another user")
    # Not under pytest's basetemp: that is private to root (0700) and the server user must write.
    root = Path(tempfile.mkdtemp(prefix="dagcore-pg-"))
    server: PostgresServer | None = None
    try:
        if run_as is not None:
            account = pwd.getpwnam(run_as)
            os.chown(root, account.pw_uid, account.pw_gid)
        init = _run([str(bindir / "initdb"), "-D", str(root / "data"), "-U", PG_SUPERUSER, "-A", "trust",
                     "-E", "UTF8", "--locale=C", "--no-sync"], run_as, root)
        if init.returncode != 0:
            pytest.fail(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        for _ in range(START_ATTEMPTS):  # the free port can be taken before the server binds it
            port = _free_port()
            server = PostgresServer(bindir=bindir, root=root, port=port, run_as=run_as)
            options = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=40")
            start = _run([str(bindir / "pg_ctl"), "start", "-D", str(root / "data"), "-w", "-t", "30",
                          "-l", str(root / "server.log"), "-o", options], run_as, root)
            if start.returncode == 0:
                break
            _stop(server)
        else:
            log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
            pytest.fail(f"pg_ctl start failed:\n{start.stdout}\n{start.stderr}\n{log}")
        yield server
    finally:
        if server is not None:
            _stop(server)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_engine(postgres_server: PostgresServer) -> Iterator[Engine]:
    """An engine on a new, empty PostgreSQL database (dropped after the test)."""
    name = postgres_server.create_database()
    engine = create_engine(postgres_server.url(name))
    try:
        yield engine
    finally:
        engine.dispose()
        postgres_server.drop_database(name)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a new, empty SQLite file in the test's tmp_path."""
    engine = create_engine(f"sqlite:///{tmp_path / 'dagcore.db'}")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """An empty database on each backend in turn (test ids ``[sqlite]`` and ``[postgres]``)."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api_database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The database of an API test module's home (``prepare_home(database_url=...)``), each
    backend in turn (test ids ``[sqlite]`` and ``[postgres]``): None for the home's SQLite
    file, or a new PostgreSQL database on the session's server, dropped after the module."""
    if request.param == "sqlite":
        yield None
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create_database()
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


# -- the command line ----------------------------------------------------------------------------


@pytest.fixture
def cli_home(tmp_path: Path) -> CLIHome:
    """A fresh home (``tmp_path/home``) and an empty DAG folder (``tmp_path/dags``)."""
    home = tmp_path / "home"
    home.mkdir()
    folder = tmp_path / "dags"
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGCORE__")}
    env["DAGCORE_HOME"] = str(home)
    return CLIHome(home=home, dags_folder=folder, env=env)


@pytest.fixture
def cli_db(cli_home: CLIHome) -> Iterator[Engine]:
    """An engine on the home's database (as the commands find it: not migrated)."""
    engine = create_engine(cli_home.db_url)
    try:
        yield engine
    finally:
        engine.dispose()
