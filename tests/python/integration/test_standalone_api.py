"""``dagcore standalone`` with its API server (issue 13), for real: standalone in a session of
its own, the API driven with ``requests``, the processes it started found afterwards by a marker
in their environment (``/proc/<pid>/environ``, as test_crash_safety.py does).

Airflow 3's ``airflow standalone`` (``airflow-core/src/airflow/cli/commands/
standalone_command.py``) runs the api-server, scheduler, dag-processor and triggerer as child
processes, the API on ``[api] port`` (8080), and terminates them when it stops. dagcore runs
the scheduler in the standalone process itself and the API server and DAG processor as
children; ``--api-port`` and ``--api-host`` choose the address (default 127.0.0.1:8080).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from api_server_process import free_port, password_of, prepare_home, server_env
from scheduler_process import (
    DagcoreProcess,
    command_lines,
    kill_pids,
    pids_with_env,
    run_cli,
    wait_for,
)

MARKER_VAR = "DAGCORE_TEST_STANDALONE_MARKER"
DEADLINE_S = 90.0  # only turns a hang into a failure


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return prepare_home(tmp_path)  # migrated, tmp_path/dags stored, a user per role


@pytest.fixture
def marker() -> Iterator[str]:
    """A unique value in the environment of every process a test's standalone starts; any
    still alive at the end is killed (by pid) after the test has failed on it."""
    value = uuid.uuid4().hex
    yield value
    kill_pids(pids_with_env(MARKER_VAR, value))


def _env(home: Path, marker: str) -> dict[str, str]:
    return server_env(home, **{MARKER_VAR: marker,
                               "DAGCORE__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.05"})


def _standalone(home: Path, marker: str, tmp_path: Path, *args: str) -> DagcoreProcess:
    return DagcoreProcess(_env(home, marker),
                          ["standalone", "-S", str(home.parent / "dags"), "-p", "2", *args],
                          logs=tmp_path / "logs", name=f"standalone-{uuid.uuid4().hex[:6]}")


def _assert_nothing_left(marker: str, port: int) -> None:
    """No process standalone started is alive, and nothing listens on its API port."""
    left = pids_with_env(MARKER_VAR, marker)
    assert not left, f"left behind: {command_lines(left)}"
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"


def _token(base: str, username: str) -> dict[str, str]:
    answer = requests.post(f"{base}/auth/token", timeout=30,
                           json={"username": username, "password": password_of(username)})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_standalone_serves_the_api_and_stops_it_on_sigterm(
        home: Path, marker: str, tmp_path: Path) -> None:
    """As Airflow 3's standalone: the API answers while it runs (health without a user, the
    DAGs and a triggered run with one) and the scheduler runs the run; SIGTERM stops
    everything, exit status 0, nothing left."""
    port = free_port()
    standalone = _standalone(home, marker, tmp_path, "--api-port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("the API server line",
                 lambda: f"standalone: API server at {base}" in standalone.stdout,
                 timeout=DEADLINE_S, watch=[standalone])
        health = requests.get(f"{base}/api/v2/monitor/health", timeout=30)
        assert health.status_code == 200, health.text
        user = _token(base, "user")
        dags = requests.get(f"{base}/api/v2/dags", headers=user, timeout=30)
        assert dags.status_code == 200
        assert {d["dag_id"] for d in dags.json()["dags"]} >= {"etl_daily", "reporting"}
        unpaused = requests.patch(f"{base}/api/v2/dags/reporting", headers=user, timeout=30,
                                  json={"is_paused": False})
        assert unpaused.status_code == 200, unpaused.text
        triggered = requests.post(f"{base}/api/v2/dags/reporting/dagRuns", headers=user,
                                  timeout=30, json={"dag_run_id": "from_standalone",
                                                    "logical_date": None, "conf": {"n": 1}})
        assert triggered.status_code == 200, triggered.text

        def run_state() -> str | None:
            answer = requests.get(f"{base}/api/v2/dags/reporting/dagRuns/from_standalone",
                                  headers=user, timeout=30)
            assert answer.status_code == 200, answer.text
            state = answer.json()["state"]
            return state if state in ("success", "failed") else None

        assert wait_for("the triggered run", run_state, timeout=DEADLINE_S,
                        watch=[standalone]) == "success"
    finally:
        code = standalone.stop(timeout=DEADLINE_S)
    assert code == 0, standalone.describe()
    assert standalone.stdout.splitlines()[-1].startswith("scheduler: stopped after")
    _assert_nothing_left(marker, port)


def test_standalone_with_num_runs_stops_its_api_server(
        home: Path, marker: str, tmp_path: Path) -> None:
    """``-n N``: the scheduler's loops end standalone, which then stops its children."""
    port = free_port()
    standalone = _standalone(home, marker, tmp_path, "--api-port", str(port), "-n", "20")
    assert standalone.proc.wait(timeout=DEADLINE_S) == 0, standalone.describe()
    lines = standalone.stdout.splitlines()
    assert f"standalone: API server at http://127.0.0.1:{port} (users: `dagcore users create`)" \
        in lines
    assert lines[-1] == "scheduler: stopped after 20 loop(s)"
    assert "api-server | " in standalone.stderr  # uvicorn's lines, prefixed
    _assert_nothing_left(marker, port)


def test_standalone_on_a_taken_port_says_so_and_leaves_nothing(
        home: Path, marker: str, tmp_path: Path) -> None:
    """A port in use: the API server child exits, standalone ends with one line naming the
    address (exit status 1) instead of scheduling without its API; no scheduler loop ran."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        standalone = _standalone(home, marker, tmp_path, "--api-port", str(port))
        code = standalone.proc.wait(timeout=DEADLINE_S)
        assert code == 1, standalone.describe()
        assert standalone.stderr.splitlines()[-1] == (
            f"dagcore: error: the API server cannot listen on 127.0.0.1:{port}: the address is "
            f"already in use (--api-port picks another port, --no-api-server runs without it)")
        assert "scheduler: stopped" not in standalone.stdout
        assert not pids_with_env(MARKER_VAR, marker)


def test_standalone_without_the_api_server(home: Path, marker: str, tmp_path: Path) -> None:
    """``--no-api-server``: standalone runs the DAG processor and the scheduler only."""
    standalone = _standalone(home, marker, tmp_path, "--no-api-server", "-n", "5")
    assert standalone.proc.wait(timeout=DEADLINE_S) == 0, standalone.describe()
    assert "API server" not in standalone.stdout
    assert "api-server |" not in standalone.stderr
    assert not pids_with_env(MARKER_VAR, marker)


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_standalone_bad_api_port_is_a_usage_error(tmp_path: Path, port: str) -> None:
    """The port is checked before anything starts (exit status 2, as argparse's errors)."""
    result = run_cli(server_env(tmp_path), "standalone", "--api-port", port, "-n", "1")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"dagcore: error: --api-port {port} is not a TCP port (1-65535)")
