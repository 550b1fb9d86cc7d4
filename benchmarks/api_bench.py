#!/usr/bin/env python3
"""Benchmark dagcore's REST API server: requests/s and latency of two common requests against a
bare FastAPI app running the same SQL (the floor), and the server's memory while clients read
tens of thousands of distinct DAG versions.

Why this benchmark exists: an API server is Python on top of a web framework, and most of a
request's time can go to the framework, the models and the queries rather than to the work
asked for; the floor shows how much of dagcore's time is its own. And Airflow's API server keeps
every DAG version it has deserialized (its ``DBDagBag`` cache has no bound), so a deployment
with many DAGs, or many versions, grows until it is killed. dagcore's server reads DAGs through
``DBDagBag.for_api_server()``, a cache bounded by ``[api] dag_version_cache_bytes`` whose
figures are StatsD metrics ``api_server.dag_bag.cache.*``.

Servers. dagcore: ``python -m dagcore api-server --port P`` as a subprocess on a temporary
``DAGCORE_HOME`` (SQLite, made with ``dagcore db migrate``; user ``bench``, role admin, made
with ``dagcore users create``). Floor: ``benchmarks/api_floor_app.py`` (its docstring says what it
does and does not do: it runs dagcore's statements for the two requests, verbatim, with the same
engine setup, but verifies no token, checks no role, deserializes no DAG and builds its JSON
from the rows with plain dicts), served by the same uvicorn the same way (one worker, asyncio
and h11, keep-alive 5 s, access log on). Each server gets its own copy of the same database.
Before timing, the statements dagcore runs for one request of each kind are captured in process
(``create_app`` on a scratch copy, a ``before_cursor_execute`` listener) and compared with the
floor's: the table says whether they are the same.

Clients: 16 processes (not threads: on a small machine client threads would fight over one GIL
and measure the client), each with one keep-alive ``http.client`` connection, the same code for
both servers. Each authenticates once (``POST /auth/token``, then ``Authorization: Bearer``),
warms up, then all start together (a barrier) and send their requests one after another:

1. ``GET /api/v2/dags/bench_list/dagRuns?limit=100`` on a DAG with 300 runs (a page of 100 runs
   and the total);
2. ``POST /api/v2/dags/bench_trigger/dagRuns`` with ``{"logical_date": null, "conf": {...}}``
   (a new queued run each time, conf unique per request).

Both servers run side by side (an idle one costs nothing) and take turns: 4 rounds, each a
quarter of the requests, the order alternating, so that other work on the machine (the
1-minute load average is reported) weighs on both alike. Figures per server and request:
requests/s (the requests over the rounds' durations, each from the first client's start to the
last client's end) and p50/p99 of the per-request latency seen by the clients. Target:
dagcore's p50 within 1.5x of the floor's, for each request. With 16 clients on 2 CPUs the
server is saturated, so a p50 is about 16 times the CPU a request costs the server.

3. Memory. A second home holds ``--versions`` DAGs (70,000; 7,000 with ``--quick``), each with one
   version of a realistic serialized DAG (10 tasks in a chain, about 9.5 kB of JSON, about 16 kB
   of memory once deserialized), bulk-inserted in the rows ``write_dag`` makes (``dag``,
   ``dag_version``, ``serialized_dag``). dagcore's server runs with
   ``DAGCORE__API__DAG_VERSION_CACHE_BYTES`` set (64 MiB, reported), the count cap off
   (``DAG_VERSION_CACHE_SIZE=0``) so the byte budget is the bound, and StatsD on, sent to a UDP
   socket of this process. The 16 clients ask ``GET /api/v2/dags/{dag_id}/details`` of every
   DAG once (Airflow's DAG details page; it reads the DAG through
   ``dag_bag.get_latest_version_of_dag``), so every version is loaded, deserialized and cached
   through the server's bag (unbounded, that would be about 16 kB x 70,000 = 1.1 GB). The
   server's VmRSS (``/proc/<pid>/status``) is read after the clients' warm-up and sampled
   during the walk; its growth (peak minus before) is compared with the budget + 100 MiB.
   The server is then stopped with SIGTERM (it flushes the bag's metrics at shutdown) and the
   cache's hits, misses, evictions and final size/bytes are reported as received by the StatsD
   socket.

Output: plain-text tables, the targets marked PASS/MISS, then as the last line of stdout one JSON
object with every figure. A benchmark reports; it never asserts: the exit status is 0 whether or
not a target is met (a part that fails is reported as a note).

Usage: ``python benchmarks/api_bench.py [--quick] [--keep] [--versions N]`` (``make bench``);
``--quick`` sends 40 instead of 240 requests of each kind per client and seeds 7,000 versions,
``--keep`` leaves the temporary homes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import fmt, format_table, missing_dagcore, ratio, rounded

try:
    import sqlalchemy as sa
    from sqlalchemy import event

    import dagcore
    from dagcore import DAG
    from dagcore.dag_processing import write_dag
    from dagcore.db import create_engine, transaction
    from dagcore.models import tables as t
    from dagcore.operators.empty import EmptyOperator
except ImportError as exc:  # pragma: no cover - depends on the build
    raise missing_dagcore("api_bench", exc) from exc

import api_floor_app

HERE = Path(__file__).resolve().parent
CLIENTS = 16
USER, PASSWORD = "bench", "bench-password-1"
LIST_DAG, TRIGGER_DAG = "bench_list", "bench_trigger"
LIST_RUNS = 300
PAGE = 100
WARMUP = 5
ROUNDS = 4
START = datetime(2024, 1, 1, tzinfo=UTC)
CACHE_BYTES = 64 << 20
SEED_TASKS = 10
START_TIMEOUT_S = 60.0

# Targets from the issue.
TARGET_P50_RATIO = 1.5
TARGET_RSS_SLACK = 100 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Sizes of one run; ``--quick`` shrinks them."""

    quick: bool
    requests: int  # per client and request kind, over all rounds
    versions: int

    @classmethod
    def for_mode(cls, *, quick: bool, versions: int | None) -> Settings:
        if quick:
            return cls(quick=True, requests=40, versions=versions or 7_000)
        return cls(quick=False, requests=240, versions=versions or 70_000)


# =========================================================================== servers


@dataclass
class Server:
    """A server subprocess on a loopback port."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> int | None:
        """SIGTERM, then wait (SIGKILL to this child only if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        return self.process.returncode


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(home: Path, **settings: str) -> dict[str, str]:
    """This environment without ``DAGCORE__`` settings, with ``DAGCORE_HOME`` and dagcore's
    package directory on ``PYTHONPATH``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGCORE__")}
    env["DAGCORE_HOME"] = str(home)
    package_root = str(Path(dagcore.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.update(settings)
    return env


def cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "dagcore", *args], env=env, text=True,
                          capture_output=True, timeout=300, check=False,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"dagcore {' '.join(args)} failed: {done.stderr.strip()}")


def start_server(name: str, argv: list[str], env: dict[str, str], log_path: Path) -> Server:
    """Start ``argv + ['--port', P]`` and wait until it answers on loopback."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen([*argv, "--port", str(port)], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Server(name, process, port, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("POST", "/auth/token", body=json.dumps(
                {"username": USER, "password": PASSWORD}),
                headers={"Content-Type": "application/json"})
            if conn.getresponse().status == 201:
                conn.close()
                return server
            conn.close()
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} server did not answer:\n{server.log_tail()}")


def dagcore_server(home: Path, log_path: Path, **settings: str) -> Server:
    return start_server("dagcore", [sys.executable, "-m", "dagcore", "api-server"],
                        base_env(home, **settings), log_path)


def floor_server(db: Path, log_path: Path) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGCORE__")}
    return start_server("floor", [sys.executable, str(HERE / "api_floor_app.py"), "--db",
                                  str(db)], env, log_path)


def vm_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of process ``pid`` in KiB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(rest.split()[0])
    return found


# =========================================================================== clients

Request = tuple[str, str, "dict[str, Any] | None"]


@dataclass(slots=True)
class PhaseResult:
    """What one client measured in one phase."""

    latencies: list[float] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0
    errors: int = 0
    first_error: str | None = None
    items: int = 0  # list entries received (the memory phase)
    reconnects: int = 0  # requests sent again on a new connection after the server dropped one


def token_of(conn: http.client.HTTPConnection) -> str:
    """A bearer token from ``POST /auth/token``, as Airflow 3's clients get one."""
    conn.request("POST", "/auth/token", body=json.dumps({"username": USER, "password": PASSWORD}),
                 headers={"Content-Type": "application/json"})
    return str(json.loads(conn.getresponse().read())["access_token"])


def client(port: int, index: int, warmup: list[Request], phases: list[list[Request]],
           count_key: str | None, barrier: Any, out: Any) -> None:
    """One client process: a token, the warm-up, then each phase after a barrier; sends its
    :class:`PhaseResult` list (as dicts) to ``out``."""
    results: list[dict[str, Any]] = []
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Authorization": f"Bearer {token_of(conn)}",
                   "Content-Type": "application/json"}

        reconnects = [0]

        def send(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, bytes]:
            """One request, sent once more on a new connection if the server dropped the
            kept-alive one: uvicorn's 5 s keep-alive timer can fire while its event loop is
            starved by busy request threads, before it reads the request waiting on the socket
            (so the request was not handled; were it, a resent trigger would add one more run,
            which the benchmark does not mind)."""
            for attempt in (0, 1):
                try:
                    conn.request(method, path, body=None if body is None else json.dumps(body),
                                 headers=headers)
                    response = conn.getresponse()
                    return response.status, response.read()
                except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                    conn.close()
                    if attempt:
                        raise
                    reconnects[0] += 1
            raise AssertionError("unreachable")

        for method, path, body in warmup:
            send(method, path, body)
        barrier.wait()  # warm: the parent may look at the server now
        for requests in phases:
            result = PhaseResult()
            barrier.wait()
            # uvicorn closes a connection idle for 5 s (keep-alive timeout), as one may have
            # been while others finished: a new one per phase, opened before the clock starts.
            conn.close()
            conn.connect()
            reconnects[0] = 0
            result.started = time.monotonic()
            for method, path, body in requests:
                sent = time.perf_counter()
                status, data = send(method, path, body)
                result.latencies.append(time.perf_counter() - sent)
                if status != 200:
                    result.errors += 1
                    result.first_error = result.first_error or f"{status} {data[:200]!r}"
                elif count_key == "":  # one object per answer
                    result.items += 1
                elif count_key is not None:
                    result.items += len(json.loads(data)[count_key])
            result.ended = time.monotonic()
            results.append({"latencies": result.latencies, "started": result.started,
                            "ended": result.ended, "errors": result.errors,
                            "first_error": result.first_error, "items": result.items,
                            "reconnects": reconnects[0]})
        conn.close()
    except Exception:  # noqa: BLE001 - reported by the parent
        barrier.abort()
        out.put((index, traceback.format_exc(limit=3)))
        return
    out.put((index, results))


def run_clients(port: int, warmups: list[list[Request]], plans: list[list[list[Request]]],
                count_key: str | None = None,
                on_ready: Callable[[], None] | None = None) -> list[list[PhaseResult]]:
    """Run one client process per plan; returns, per phase, every client's result.

    The parent takes part in every barrier: ``on_ready`` runs once every client has warmed up
    and before any starts its first phase (the memory part reads the server's RSS there)."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(plans) + 1)
    out = ctx.Queue()
    procs = [ctx.Process(target=client, args=(port, i, warmups[i], plan, count_key, barrier,
                                              out), daemon=True)
             for i, plan in enumerate(plans)]
    for proc in procs:
        proc.start()
    n_phases = len(plans[0])
    try:
        barrier.wait(timeout=600)  # every client is warm
        if on_ready is not None:
            on_ready()
        for _ in range(n_phases):
            barrier.wait(timeout=1800)  # every client is done with the phase before
    except threading.BrokenBarrierError:
        pass  # a client failed: its traceback comes through the queue
    collected: dict[int, Any] = {}
    for _ in procs:
        index, value = out.get(timeout=1800)
        collected[index] = value
    for proc in procs:
        proc.join(timeout=30)
    failures = [v for v in collected.values() if isinstance(v, str)]
    if failures:
        raise RuntimeError(f"a client failed: {failures[0]}")
    return [[PhaseResult(**collected[i][phase]) for i in range(len(plans))]
            for phase in range(n_phases)]


@dataclass(slots=True)
class Figures:
    """Requests/s and latency of one server and request."""

    requests: int = 0
    seconds: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    first_error: str | None = None
    reconnects: int = 0

    @property
    def per_s(self) -> float | None:
        return self.requests / self.seconds if self.seconds else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (nearest rank) of ``values``."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def figures(rounds: list[list[PhaseResult]]) -> Figures:
    """One request kind of one server over every round: requests over the rounds' summed
    durations (each from its first client's start to its last client's end)."""
    results = [r for one in rounds for r in one]
    latencies = [x for r in results for x in r.latencies]
    errors = sum(r.errors for r in results)
    return Figures(requests=len(latencies),
                   seconds=sum(max(r.ended for r in one) - min(r.started for r in one)
                               for one in rounds),
                   p50_ms=None if not latencies else percentile(latencies, 0.5) * 1e3,
                   p99_ms=None if not latencies else percentile(latencies, 0.99) * 1e3,
                   errors=errors,
                   first_error=next((r.first_error for r in results if r.first_error), None),
                   reconnects=sum(r.reconnects for r in results))


def request_plans(cfg: Settings, round_: int
                  ) -> tuple[list[list[Request]], list[list[list[Request]]]]:
    """Per client: the warm-up and the two phases (GET page, POST trigger) of one round."""
    get: Request = ("GET", f"/api/v2/dags/{LIST_DAG}/dagRuns?limit={PAGE}", None)

    def post(i: int, n: int) -> Request:
        return ("POST", f"/api/v2/dags/{TRIGGER_DAG}/dagRuns",
                {"logical_date": None, "conf": {"client": i, "n": n}})

    per_round = cfg.requests // ROUNDS
    first = round_ * per_round
    warmups = [[get] * WARMUP + [post(i, -1 - n) for n in range(WARMUP)] for i in range(CLIENTS)]
    plans = [[[get] * per_round, [post(i, first + n) for n in range(per_round)]]
             for i in range(CLIENTS)]
    return warmups, plans


# =========================================================================== databases


def chain_dag(dag_id: str, tasks: int) -> DAG:
    with DAG(dag_id, start_date=START, schedule="@daily", tags=["bench"],
             default_args={"owner": "data", "retries": 2}) as dag:
        previous = None
        for i in range(tasks):
            task = EmptyOperator(task_id=f"task_{i}")
            if previous is not None:
                previous >> task
            previous = task
    return dag


def new_home(root: Path, name: str) -> tuple[Path, dict[str, str]]:
    """``root/name``: migrated with ``dagcore db migrate``, user ``bench`` made with
    ``dagcore users create``."""
    home = root / name
    home.mkdir()
    env = base_env(home)
    cli(env, "db", "migrate")
    cli(env, "users", "create", "--username", USER, "--password", PASSWORD, "--role", "admin")
    return home, env


def seed_requests_db(db: Path) -> None:
    """The list DAG with ``LIST_RUNS`` runs (one version) and the trigger DAG, unpaused."""
    engine = create_engine(f"sqlite:///{db}")
    try:
        write_dag(engine, chain_dag(LIST_DAG, SEED_TASKS))
        write_dag(engine, chain_dag(TRIGGER_DAG, SEED_TASKS))
        with transaction(engine) as conn:
            conn.execute(t.dag.update().values(is_paused=False))
            version = conn.execute(sa.select(t.dag_version.c.id).where(
                t.dag_version.c.dag_id == LIST_DAG)).scalar_one()
            now = datetime.now(UTC)
            conn.execute(t.dag_run.insert(), [{
                "dag_id": LIST_DAG, "run_id": f"scheduled__{START + timedelta(days=i):%Y-%m-%d}",
                "logical_date": START + timedelta(days=i),
                "run_after": START + timedelta(days=i + 1),
                "queued_at": now, "start_date": now, "end_date": now + timedelta(seconds=i),
                "state": "success", "run_type": "scheduled", "triggered_by": "timetable",
                "conf": {}, "data_interval_start": START + timedelta(days=i),
                "data_interval_end": START + timedelta(days=i + 1),
                "created_dag_version_id": version, "clear_number": 0, "updated_at": now}
                for i in range(LIST_RUNS)])
    finally:
        engine.dispose()


def copy_db(src: Path, dst: Path) -> None:
    """A consistent copy of a SQLite database (the backup API: the WAL is included)."""
    with sqlite3.connect(src) as source, sqlite3.connect(dst) as target:
        source.backup(target)


def seed_versions_db(db: Path, n: int) -> int:
    """``n`` DAGs ``seed_NNNNN``, one version each, rows as ``write_dag`` makes them; returns the
    JSON size of one serialized DAG."""
    engine = create_engine(f"sqlite:///{db}")
    try:
        write_dag(engine, chain_dag("seed_template", SEED_TASKS))
        with engine.connect() as conn:
            dag_row = dict(conn.execute(sa.select(t.dag)).one()._mapping)
            version_row = dict(conn.execute(sa.select(t.dag_version)).one()._mapping)
            sd_row = dict(conn.execute(sa.select(t.serialized_dag)).one()._mapping)
        template = json.dumps(sd_row["data"])
        with transaction(engine) as conn:
            conn.execute(t.serialized_dag.delete())
            conn.execute(t.dag_version.delete())
            conn.execute(t.dag.delete())
        batch = 2_000
        for first in range(0, n, batch):
            dags, versions, serialized = [], [], []
            for i in range(first, min(n, first + batch)):
                dag_id = f"seed_{i:05d}"
                version_id = uuid.uuid4()
                dags.append({**dag_row, "dag_id": dag_id, "dag_display_name": dag_id})
                versions.append({**version_row, "id": version_id, "dag_id": dag_id})
                serialized.append({**sd_row, "id": uuid.uuid4(), "dag_id": dag_id,
                                   "dag_version_id": version_id,
                                   "data": json.loads(template.replace("seed_template",
                                                                       dag_id)),
                                   "dag_hash": uuid.uuid4().hex})
            with transaction(engine) as conn:
                conn.execute(t.dag.insert(), dags)
                conn.execute(t.dag_version.insert(), versions)
                conn.execute(t.serialized_dag.insert(), serialized)
        return len(template)
    finally:
        engine.dispose()


# =========================================================================== SQL check


def capture_statements(home: Path, db: Path) -> dict[str, list[str]]:
    """The statements dagcore's app runs for one GET and one POST (in process, on ``db``)."""
    from starlette.testclient import TestClient

    from dagcore.server.app import create_app

    os.environ["DAGCORE_HOME"] = str(home)
    engine = create_engine(f"sqlite:///{db}")
    seen: list[str] = []
    recording = [False]

    @event.listens_for(engine, "before_cursor_execute")
    def _record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if recording[0]:
            seen.append(" ".join(statement.split()))

    try:
        app_client = TestClient(create_app(engine))
        token = app_client.post("/auth/token", json={"username": USER, "password": PASSWORD}
                                ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        captured: dict[str, list[str]] = {}
        for name, call in (
                ("GET", lambda: app_client.get(f"/api/v2/dags/{LIST_DAG}/dagRuns?limit={PAGE}",
                                               headers=headers)),
                ("POST", lambda: app_client.post(f"/api/v2/dags/{TRIGGER_DAG}/dagRuns",
                                                 headers=headers,
                                                 json={"logical_date": None, "conf": {}}))):
            call()  # the first request loads the DAG version; the steady state is the second
            seen.clear()
            recording[0] = True
            answer = call()
            recording[0] = False
            if answer.status_code != 200:
                raise RuntimeError(f"{name}: {answer.status_code} {answer.text[:200]}")
            captured[name] = list(seen)
        return captured
    finally:
        engine.dispose()


def floor_statements() -> dict[str, list[str]]:
    """The statements the floor runs for the same two requests in the steady state (the DAG
    version's row already read: both servers keep version rows, whose columns never change)."""
    f = api_floor_app
    return {"GET": ["BEGIN", f.SQL_USER, "BEGIN", f.SQL_DAG_EXISTS, "BEGIN", f.SQL_COUNT_RUNS,
                    f.SQL_PAGE_RUNS],
            "POST": ["BEGIN", f.SQL_USER, "BEGIN IMMEDIATE", f.SQL_DAG_ROW,
                     f.SQL_LATEST_VERSION, f.SQL_INSERT_RUN, f.SQL_RUN_BY_ID]}


def same_json_shape(a: Any, b: Any) -> bool:
    """Same keys at every level (lists compared by their first item)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json_shape(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and (not a or same_json_shape(a[0], b[0]))
    return True


def fetch(port: int, method: str, path: str, body: Any = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Authorization": f"Bearer {token_of(conn)}",
                              "Content-Type": "application/json"})
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


# =========================================================================== StatsD sink


class StatsdSink:
    """A UDP socket on loopback that keeps every StatsD line it receives."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.lines.extend(data.decode(errors="replace").splitlines())

    def close(self) -> None:
        time.sleep(0.5)  # packets sent just before the server exited
        self._stop.set()
        self._thread.join()
        self.sock.close()

    def summary(self, prefix: str) -> dict[str, float]:
        """Counters summed, gauges' last values, for metric names under ``prefix``."""
        out: dict[str, float] = {}
        for line in self.lines:
            match = re.fullmatch(r"([^:]+):(-?[\d.]+)\|(c|g|ms)(\|@[\d.]+)?", line)
            if match is None or not match.group(1).startswith(prefix):
                continue
            name, value, kind = match.group(1)[len(prefix):], float(match.group(2)), match.group(3)
            out[name] = out.get(name, 0.0) + value if kind == "c" else value
        return out


# =========================================================================== the parts


@dataclass(slots=True)
class RequestsResult:
    figures: dict[str, dict[str, Figures]] = field(default_factory=dict)  # server -> request
    statements_same: bool | None = None
    statements: dict[str, list[str]] = field(default_factory=dict)
    shape_same: bool | None = None
    get_total_entries: dict[str, int] = field(default_factory=dict)
    load_before: float | None = None
    load_after: float | None = None


def bench_requests(cfg: Settings, root: Path, notes: list[str]) -> RequestsResult:
    """Part 1 and 2: the same clients against dagcore, then the floor."""
    result = RequestsResult()
    home, _ = new_home(root, "requests")
    db = home / "dagcore.db"
    seed_requests_db(db)
    floor_db, scratch_db = root / "floor.db", root / "scratch.db"
    copy_db(db, floor_db)
    copy_db(db, scratch_db)
    mine = capture_statements(home, scratch_db)
    result.statements = mine
    result.statements_same = mine == floor_statements()
    if not result.statements_same:
        notes.append("dagcore's statements differ from the floor's: "
                     + json.dumps({"dagcore": mine, "floor": floor_statements()}))
    answers: dict[str, Any] = {}
    servers: dict[str, Server] = {}
    rounds: dict[str, list[list[list[PhaseResult]]]] = {"dagcore": [], "floor": []}
    result.load_before = os.getloadavg()[0]
    try:
        servers["dagcore"] = dagcore_server(home, root / "dagcore.log")
        servers["floor"] = floor_server(floor_db, root / "floor.log")
        for name, server in servers.items():
            answers[name] = fetch(server.port, "GET", f"/api/v2/dags/{LIST_DAG}/dagRuns"
                                  f"?limit={PAGE}")
        for round_ in range(ROUNDS):  # alternating, so a busier minute weighs on both
            warmups, plans = request_plans(cfg, round_)
            order = ["dagcore", "floor"] if round_ % 2 == 0 else ["floor", "dagcore"]
            for name in order:
                rounds[name].append(run_clients(servers[name].port, warmups, plans))
    finally:
        for server in servers.values():
            server.stop()
    result.load_after = os.getloadavg()[0]
    for name, done in rounds.items():
        result.figures[name] = {"GET": figures([r[0] for r in done]),
                                "POST": figures([r[1] for r in done])}
    result.shape_same = same_json_shape(answers["dagcore"], answers["floor"])
    result.get_total_entries = {k: v.get("total_entries") for k, v in answers.items()}
    if answers["dagcore"] != answers["floor"]:
        notes.append("the GET answers' values differ between dagcore and the floor "
                     f"(shape {'same' if result.shape_same else 'different'})")
    return result


@dataclass(slots=True)
class MemoryResult:
    versions: int = 0
    json_bytes: int = 0
    seed_seconds: float = 0.0
    walk_seconds: float = 0.0
    requests: int = 0
    dags_received: int = 0
    errors: int = 0
    reconnects: int = 0
    rss_before_kib: int = 0
    rss_peak_kib: int = 0
    rss_after_kib: int = 0
    hwm_kib: int = 0
    exit_code: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    metric_lines: int = 0

    @property
    def growth_bytes(self) -> int:
        return (self.rss_peak_kib - self.rss_before_kib) * 1024


def bench_memory(cfg: Settings, root: Path, notes: list[str]) -> MemoryResult:
    """Part 3: RSS while the clients read every one of ``cfg.versions`` DAG versions."""
    result = MemoryResult(versions=cfg.versions)
    home, _ = new_home(root, "versions")
    started = time.perf_counter()
    result.json_bytes = seed_versions_db(home / "dagcore.db", cfg.versions)
    result.seed_seconds = time.perf_counter() - started
    sink = StatsdSink()
    pages = [f"/api/v2/dags/seed_{i:05d}/details" for i in range(cfg.versions)]
    plans = [[[("GET", p, None) for p in pages[i::CLIENTS]]] for i in range(CLIENTS)]
    warmups = [[("GET", "/api/v2/monitor/health", None)] for _ in range(CLIENTS)]
    peak = [0]
    sampling = threading.Event()

    server = dagcore_server(home, root / "versions.log", **{
        "DAGCORE__API__DAG_VERSION_CACHE_BYTES": str(CACHE_BYTES),
        "DAGCORE__API__DAG_VERSION_CACHE_SIZE": "0",
        "DAGCORE__METRICS__STATSD_ON": "True",
        "DAGCORE__METRICS__STATSD_HOST": "127.0.0.1",
        "DAGCORE__METRICS__STATSD_PORT": str(sink.port)})
    pid = server.process.pid

    def sample() -> None:
        while not sampling.wait(0.1):
            try:
                peak[0] = max(peak[0], vm_kib(pid)["VmRSS"])
            except (OSError, KeyError):
                return

    sampler = threading.Thread(target=sample, daemon=True)

    def ready() -> None:
        result.rss_before_kib = vm_kib(pid)["VmRSS"]
        peak[0] = result.rss_before_kib
        sampler.start()

    try:
        walk_started = time.perf_counter()
        phases = run_clients(server.port, warmups, plans, count_key="", on_ready=ready)
        result.walk_seconds = time.perf_counter() - walk_started
        sampling.set()
        sampler.join()
        status = vm_kib(pid)
        result.rss_after_kib = status["VmRSS"]
        result.hwm_kib = status["VmHWM"]
        result.rss_peak_kib = max(peak[0], result.rss_after_kib)
        walk = phases[0]
        result.requests = sum(len(r.latencies) for r in walk)
        result.dags_received = sum(r.items for r in walk)
        result.errors = sum(r.errors for r in walk)
        result.reconnects = sum(r.reconnects for r in walk)
        first = next((r.first_error for r in walk if r.first_error), None)
        if first:
            notes.append(f"memory walk: {result.errors} errors, first: {first}")
    finally:
        sampling.set()
        result.exit_code = server.stop()
        sink.close()
    result.metrics = sink.summary("dagcore.api_server.dag_bag.")
    result.metric_lines = len(sink.lines)
    if result.exit_code != 0:
        notes.append(f"the memory-phase server exited with {result.exit_code}: "
                     f"{server.log_tail(5)}")
    return result


# =========================================================================== output


def guarded(name: str, fn: Callable[[], Any], notes: list[str]) -> Any:
    """``fn()``, or None with a note when it raises (a benchmark reports, never crashes)."""
    try:
        return fn()
    except Exception:  # noqa: BLE001
        notes.append(f"{name} failed: {traceback.format_exc(limit=4)}")
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the parts, print the tables and the JSON line; always return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and versions")
    parser.add_argument("--keep", action="store_true", help="keep the temporary homes")
    parser.add_argument("--versions", type=int, default=None,
                        help="DAG versions in the memory part (default 70,000; 7,000 quick)")
    args = parser.parse_args(argv)

    cfg = Settings.for_mode(quick=args.quick, versions=args.versions)
    started = time.perf_counter()
    notes: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="api_bench_"))
    try:
        req: RequestsResult | None = guarded("requests part",
                                             lambda: bench_requests(cfg, root, notes), notes)
        mem: MemoryResult | None = guarded("memory part",
                                           lambda: bench_memory(cfg, root, notes), notes)
    finally:
        if args.keep:
            notes.append(f"temporary homes kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    elapsed_s = time.perf_counter() - started

    import fastapi
    import uvicorn

    fig: dict[str, Any] = {
        "benchmark": "api", "quick": cfg.quick, "python": platform.python_version(),
        "dagcore_version": getattr(dagcore, "__version__", None), "fastapi": fastapi.__version__,
        "uvicorn": uvicorn.__version__, "sqlalchemy": sa.__version__, "cpus": os.cpu_count(),
        "database": "sqlite (WAL, synchronous=NORMAL)", "clients": CLIENTS,
        "requests_per_client": cfg.requests, "list_runs": LIST_RUNS, "page": PAGE,
    }
    targets: dict[str, tuple[str, str, bool]] = {}
    rows = []
    for request, label in (("GET", f"GET a page of {PAGE} runs"), ("POST", "POST a trigger")):
        for server in ("dagcore", "floor"):
            f = None if req is None else req.figures.get(server, {}).get(request)
            key = f"{server}_{request.lower()}"
            fig[f"{key}_per_s"] = rounded(None if f is None else f.per_s, 1)
            fig[f"{key}_p50_ms"] = rounded(None if f is None else f.p50_ms, 3)
            fig[f"{key}_p99_ms"] = rounded(None if f is None else f.p99_ms, 3)
            fig[f"{key}_requests"] = None if f is None else f.requests
            fig[f"{key}_errors"] = None if f is None else f.errors
            fig[f"{key}_reconnects"] = None if f is None else f.reconnects
            if f is not None and f.errors:
                notes.append(f"{server} {request}: {f.errors} errors, first: {f.first_error}")
            if f is not None and f.reconnects:
                notes.append(f"{server} {request}: {f.reconnects} requests sent again after "
                             f"the server dropped a kept-alive connection")
            rows.append([label, server, "n/a" if f is None else f"{f.requests:,}",
                         fmt(None if f is None else f.per_s, ",.1f"),
                         fmt(None if f is None else f.p50_ms, ",.2f"),
                         fmt(None if f is None else f.p99_ms, ",.2f"),
                         "n/a" if f is None else f"{f.errors:,}"])
        r = ratio(fig[f"dagcore_{request.lower()}_p50_ms"], fig[f"floor_{request.lower()}_p50_ms"])
        fig[f"{request.lower()}_p50_ratio"] = rounded(r, 2)
        targets[f"{request.lower()}_p50_ratio"] = (
            f"{label}: dagcore p50 <= {TARGET_P50_RATIO}x the floor's", fmt(r, ".2f", "x"),
            r is not None and r <= TARGET_P50_RATIO)
    fig["statements_same_as_floor"] = None if req is None else req.statements_same
    fig["rounds"] = ROUNDS
    fig["load_avg_1m_before"] = None if req is None else rounded(req.load_before, 2)
    fig["load_avg_1m_after"] = None if req is None else rounded(req.load_after, 2)
    fig["json_shape_same_as_floor"] = None if req is None else req.shape_same

    budget_mib = CACHE_BYTES / (1 << 20)
    if mem is not None:
        m = mem.metrics
        fig.update({
            "versions": mem.versions, "serialized_json_bytes": mem.json_bytes,
            "seed_seconds": round(mem.seed_seconds, 2),
            "walk_seconds": round(mem.walk_seconds, 2), "walk_requests": mem.requests,
            "dags_received": mem.dags_received, "walk_errors": mem.errors,
            "walk_reconnects": mem.reconnects,
            "cache_budget_bytes": CACHE_BYTES, "cache_size_cap": 0,
            "rss_before_mib": round(mem.rss_before_kib / 1024, 1),
            "rss_peak_mib": round(mem.rss_peak_kib / 1024, 1),
            "rss_after_mib": round(mem.rss_after_kib / 1024, 1),
            "vm_hwm_mib": round(mem.hwm_kib / 1024, 1),
            "rss_growth_mib": round(mem.growth_bytes / (1 << 20), 1),
            "statsd_lines": mem.metric_lines,
            "cache_hits": m.get("cache.hits"), "cache_misses": m.get("cache.misses"),
            "cache_evictions": m.get("cache.evictions"), "cache_size": m.get("cache.size"),
            "cache_bytes": m.get("cache.bytes"), "server_exit_code": mem.exit_code,
        })
        limit = CACHE_BYTES + TARGET_RSS_SLACK
        walked = mem.dags_received >= mem.versions and not mem.errors
        targets["rss_growth"] = (
            f"RSS growth over {mem.versions:,} DAG versions <= cache budget {budget_mib:.0f} MiB "
            f"+ 100 MiB", f"{mem.growth_bytes / (1 << 20):,.1f} MiB",
            walked and mem.growth_bytes <= limit)
        targets["metrics"] = (
            "api_server.dag_bag.cache.* metrics arrive over StatsD (misses >= versions)",
            f"{int(m.get('cache.misses', 0)):,} misses",
            m.get("cache.misses", 0) >= mem.versions)
    else:
        targets["rss_growth"] = ("RSS growth <= cache budget + 100 MiB", "n/a", False)
    fig["targets_met"] = {key: met for key, (_, _, met) in targets.items()}
    fig["all_targets_met"] = all(fig["targets_met"].values())
    fig["elapsed_s"] = round(elapsed_s, 2)

    out: list[str] = [
        f"dagcore API server benchmark ({'quick' if cfg.quick else 'full'}): Python "
        f"{fig['python']}, dagcore {fig['dagcore_version']}, FastAPI {fig['fastapi']}, uvicorn "
        f"{fig['uvicorn']} (1 worker), SQLAlchemy {fig['sqlalchemy']}, {fig['cpus']} CPUs, "
        f"SQLite (WAL), {CLIENTS} client processes on loopback\n"]
    out.append(format_table(
        f"1. {CLIENTS} clients x {cfg.requests} requests of each kind, one after another per "
        f"client (keep-alive), in {ROUNDS} rounds alternating the servers; DAG {LIST_DAG} has "
        f"{LIST_RUNS} runs",
        ["request", "server", "requests", "req/s", "p50 ms", "p99 ms", "errors"], rows))
    if req is not None:
        out.append(format_table(
            "2. The floor against dagcore",
            ["check", "result"],
            [["floor runs dagcore's statements (captured, steady state)",
              "same" if req.statements_same else "DIFFERENT (see notes)"],
             ["GET answers' JSON keys", "same" if req.shape_same else "DIFFERENT"],
             ["statements per GET / POST (dagcore)",
              f"{len(req.statements.get('GET', []))} / {len(req.statements.get('POST', []))}"],
             ["1-minute load average before / after (other work on the machine)",
              f"{fmt(req.load_before, '.2f')} / {fmt(req.load_after, '.2f')}"]]))
    if mem is not None:
        m = mem.metrics
        out.append(format_table(
            f"3. Memory: {CLIENTS} clients ask each DAG's details (GET .../details), its latest "
            f"version read through the server's DBDagBag; budget "
            f"DAGCORE__API__DAG_VERSION_CACHE_BYTES={budget_mib:.0f} MiB, count cap off",
            ["figure", "value"],
            [["DAG versions seeded (one per DAG, serialized JSON bytes each)",
              f"{mem.versions:,} ({mem.json_bytes:,} B)"],
             ["seeding s / walk s (requests)",
              f"{mem.seed_seconds:.1f} / {mem.walk_seconds:.1f} ({mem.requests:,})"],
             ["DAGs received / errors / requests resent after a dropped connection",
              f"{mem.dags_received:,} / {mem.errors:,} / {mem.reconnects:,}"],
             ["server VmRSS before / peak / after MiB",
              f"{mem.rss_before_kib / 1024:,.1f} / {mem.rss_peak_kib / 1024:,.1f} / "
              f"{mem.rss_after_kib / 1024:,.1f}"],
             ["RSS growth (peak - before) MiB", f"{mem.growth_bytes / (1 << 20):,.1f}"],
             ["StatsD lines received", f"{mem.metric_lines:,}"],
             ["cache hits / misses / evictions (StatsD counters)",
              " / ".join(fmt(m.get(f"cache.{k}"), ",.0f") for k in
                         ("hits", "misses", "evictions"))],
             ["cache size / bytes at shutdown (StatsD gauges)",
              f"{fmt(m.get('cache.size'), ',.0f')} / {fmt(m.get('cache.bytes'), ',.0f')}"]]))
    out.append(format_table("Targets", ["target", "measured", "result"],
                            [[desc, measured, "PASS" if met else "MISS"]
                             for desc, measured, met in targets.values()]))
    if notes:
        out.append("Notes:\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    out.append(f"elapsed {elapsed_s:.1f} s")
    print("\n".join(out))
    print(json.dumps(fig, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
