"""``dagcore api-server`` as a process: SIGTERM while requests are in flight, several workers,
its command-line errors, and the DAG endpoints on PostgreSQL.

Issue 13: "SIGTERM stops it within a few seconds, finishing in-flight requests" and "SIGTERM
during requests loses nothing" (uvicorn's graceful shutdown: it stops accepting, closes idle
connections and lets a started request finish).
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from api_server_process import (
    DAG_IDS,
    ApiServer,
    password_of,
    prepare_home,
    run_cli,
    server_env,
    start_api_server,
)
from conftest import PostgresServer

from dagcore.db import create_engine
from dagcore.models import tables as t

LOG_WAIT = 30.0


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return prepare_home(tmp_path)


@pytest.fixture
def server(home: Path, tmp_path: Path) -> Iterator[ApiServer]:
    running = start_api_server(server_env(home), tmp_path / "server.log")
    try:
        yield running
    finally:
        running.stop()


def _is_paused(home: Path, dag_id: str) -> bool:
    engine = create_engine(f"sqlite:///{home / 'dagcore.db'}")
    try:
        with engine.connect() as conn:
            return bool(conn.execute(sa.select(t.dag.c.is_paused)
                                     .where(t.dag.c.dag_id == dag_id)).scalar_one())
    finally:
        engine.dispose()


def _wait_for_log(server: ApiServer, text: str) -> None:
    deadline = time.monotonic() + LOG_WAIT
    while text not in server.log():
        assert time.monotonic() < deadline, f"{text!r} never logged:\n{server.log()}"
        time.sleep(0.05)


def test_sigterm_finishes_a_request_in_flight(server: ApiServer, home: Path) -> None:
    """A PATCH whose body is still arriving when SIGTERM comes is finished and answered 200,
    and its change is stored; then the server exits 0."""
    token = server.token("user")
    body = b'{"is_paused": false}'
    head = (f"PATCH /api/v2/dags/reporting HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    assert _is_paused(home, "reporting")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + body[:5])
        # The request is in flight once uvicorn has parsed its headers (it starts the
        # application then). Those bytes were readable before this second connection was even
        # accepted, and the event loop handles every ready socket per turn, so once the second
        # connection is answered the first one's headers have been read.
        assert requests.get(f"{server.url}/api/v2/monitor/health", timeout=30).ok
        server.process.send_signal(signal.SIGTERM)
        _wait_for_log(server, "Shutting down")
        sock.sendall(body[5:])
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert b'"is_paused":false' in answer
    assert server.process.wait(timeout=30) == 0, server.log()
    assert not _is_paused(home, "reporting")


def test_sigterm_during_a_stream_of_requests_loses_nothing(server: ApiServer,
                                                           home: Path) -> None:
    """Readers and one writer keep calling while SIGTERM arrives: every answer is complete
    and 200 (no 5xx, no cut body), refused connections come only after the signal, the
    process exits 0, and the database holds the last PATCH that was answered."""
    headers = server.bearer("admin")
    stop = threading.Event()
    signalled = threading.Event()
    failures: list[str] = []
    answered: list[int] = []
    last_written: list[bool] = []

    def reader() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    got = session.get(f"{server.url}/api/v2/dags", headers=headers, timeout=30)
                except requests.ConnectionError:
                    if not signalled.is_set():
                        failures.append("connection refused before SIGTERM")
                    return
                if got.status_code != 200 or got.json()["total_entries"] != 3:
                    failures.append(f"{got.status_code} {got.text[:200]}")
                answered.append(1)

    def writer() -> None:
        value = False
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    got = session.patch(f"{server.url}/api/v2/dags/reporting", headers=headers,
                                        json={"is_paused": value}, timeout=30)
                except requests.ConnectionError:
                    if not signalled.is_set():
                        failures.append("writer refused before SIGTERM")
                    return
                if got.status_code != 200 or got.json()["is_paused"] is not value:
                    failures.append(f"PATCH {got.status_code} {got.text[:200]}")
                    return
                last_written.append(value)
                value = not value

    threads = [threading.Thread(target=reader) for _ in range(6)]
    threads.append(threading.Thread(target=writer))
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while (len(answered) < 50 or len(last_written) < 5) and time.monotonic() < deadline:
            time.sleep(0.01)
        signalled.set()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0, server.log()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not failures, failures
    assert len(answered) >= 50 and last_written
    assert _is_paused(home, "reporting") is last_written[-1]


def test_several_workers(home: Path, tmp_path: Path) -> None:
    """--workers 2: both processes share the generated JWT secret (a token from one is valid
    in the other), and SIGTERM stops them all."""
    running = start_api_server(server_env(home), tmp_path / "server.log", "--workers", "2")
    try:
        for _ in range(20):  # connections land on either worker
            token = requests.post(f"{running.url}/auth/token", timeout=30, json={
                "username": "viewer", "password": password_of("viewer")}).json()["access_token"]
            listed = requests.get(f"{running.url}/api/v2/dags", timeout=30,
                                  headers={"Authorization": f"Bearer {token}",
                                           "Connection": "close"})
            assert listed.status_code == 200, listed.text
    finally:
        assert running.stop() == 0, running.log()


def test_cli_errors(home: Path, tmp_path: Path) -> None:
    env = server_env(home)
    bad_port = run_cli(env, "api-server", "--port", "70000")
    assert bad_port.returncode == 2 and "--port 70000" in bad_port.stderr
    bad_workers = run_cli(env, "api-server", "--workers", "0")
    assert bad_workers.returncode == 2 and "--workers" in bad_workers.stderr
    empty_home = tmp_path / "empty"
    empty_home.mkdir()
    unmigrated = run_cli(server_env(empty_home), "api-server", "--port", "1")
    assert unmigrated.returncode == 1 and "dagcore db migrate" in unmigrated.stderr


def test_dags_on_postgresql(postgres_server: PostgresServer, tmp_path: Path) -> None:
    """The DAG list, get and patch on PostgreSQL (both versions), users and tokens stored
    there."""
    name = postgres_server.create_database()
    try:
        settings = {"DAGCORE__DATABASE__SQL_ALCHEMY_CONN": postgres_server.url(name)}
        home = prepare_home(tmp_path, **settings)
        running = start_api_server(server_env(home, **settings), tmp_path / "server.log")
        try:
            v2 = running.request("GET", "/api/v2/dags?tags=prod", as_user="viewer").json()
            assert [d["dag_id"] for d in v2["dags"]] == ["etl_daily", "reporting"]
            v1 = running.request("GET", "/api/v1/dags", as_user="viewer", basic=True).json()
            assert [d["dag_id"] for d in v1["dags"]] == DAG_IDS
            assert running.request("GET", "/api/v2/dags?dag_id_pattern=TRAIN",
                                   as_user="viewer").json()["total_entries"] == 1
            patched = running.request("PATCH", "/api/v1/dags/ml_train", as_user="user",
                                      basic=True, json={"is_paused": False})
            assert patched.status_code == 200 and patched.json()["is_paused"] is False
            got = running.request("GET", "/api/v2/dags/ml_train", as_user="viewer").json()
            assert got["is_paused"] is False
            ordered = running.request("GET", "/api/v2/dags?order_by=-last_run_state",
                                      as_user="viewer")
            assert ordered.status_code == 200
        finally:
            assert running.stop() == 0, running.log()
    finally:
        postgres_server.drop_database(name)
