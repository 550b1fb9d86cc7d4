"""The API server's DAG cache metrics reach StatsD (issue 13): a real ``dagcore api-server``, a UDP
socket on loopback as the StatsD server, requests that read DAGs through the server's
``DBDagBag.for_api_server()``, then SIGTERM.

Airflow's API server counts one hit or one miss per lookup of its DAG bag under
``api_server.dag_bag`` (``CachedDBDagBag(stats_prefix="api_server.dag_bag")``,
models/dagbag.py after PR #71815; docs/airflow-behaviour.md 1.4). dagcore's names are
``api_server.dag_bag.cache.hits/misses/evictions`` (counters) and ``.size/.bytes`` (gauges), sent
in batches (docs/airflow-behaviour.md 1.5 notes the differences): a hit never calls StatsD, so the
hits below arrive only because the server flushes the bag's metrics at shutdown.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from api_server_process import (
    DAG_IDS,
    ApiServer,
    prepare_home,
    server_env,
    start_api_server,
)

PREFIX = "dagcore.api_server.dag_bag.cache."
LINE = re.compile(r"([^:|]+):(-?[\d.]+)\|(c|g|ms)(?:\|@[\d.]+)?")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_home(tmp_path_factory.mktemp("metrics"))


@pytest.fixture
def sink() -> Iterator[socket.socket]:
    """A UDP socket on a free loopback port: the StatsD server."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock
    finally:
        sock.close()


def _received(sock: socket.socket, quiet_s: float = 1.0) -> list[str]:
    """Every StatsD line received until nothing arrives for ``quiet_s``."""
    sock.settimeout(quiet_s)
    lines: list[str] = []
    while True:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return lines
        lines.extend(data.decode().splitlines())


def _totals(lines: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """(counters summed, gauges' last value) of the cache metrics, by short name."""
    counters: dict[str, float] = {}
    gauges: dict[str, float] = {}
    for line in lines:
        match = LINE.fullmatch(line)
        assert match is not None, f"not a StatsD line: {line!r}"
        name, value, kind = match.groups()
        if not name.startswith(PREFIX):
            continue
        short = name[len(PREFIX):]
        if kind == "c":
            counters[short] = counters.get(short, 0.0) + float(value)
        elif kind == "g":
            gauges[short] = float(value)
    return counters, gauges


def _server(home: Path, sink: socket.socket, tmp_path: Path, **settings: str) -> ApiServer:
    """The server with StatsD on, sending to ``sink``."""
    env = server_env(
        home,
        DAGCORE__METRICS__STATSD_ON="True",
        DAGCORE__METRICS__STATSD_HOST="127.0.0.1",
        DAGCORE__METRICS__STATSD_PORT=str(sink.getsockname()[1]),
        DAGCORE__METRICS__STATSD_PREFIX="dagcore",
        # Long enough that the second lookup of a DAG is a hit however slow the machine is.
        DAGCORE__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL="3600",
        **settings)
    return start_api_server(env, tmp_path / "server.log")


def test_dag_bag_hits_and_misses_reach_statsd(home: Path, sink: socket.socket,
                                              tmp_path: Path) -> None:
    server = _server(home, sink, tmp_path)
    try:
        for _ in range(3):  # first: each DAG's latest version is loaded; then: cached
            for dag_id in DAG_IDS:
                answer = server.request("GET", f"/api/v2/dags/{dag_id}/details",
                                        as_user="viewer")
                assert answer.status_code == 200, answer.text
        # The DAG list reads the dag and dag_tag tables only: no lookup in the bag.
        listing = server.request("GET", "/api/v2/dags", as_user="viewer")
        assert listing.status_code == 200, listing.text
        assert sorted(d["dag_id"] for d in listing.json()["dags"]) == sorted(DAG_IDS)
    finally:
        code = server.stop()
    assert code == 0, server.log()
    counters, gauges = _totals(_received(sink))
    # 3 versions loaded once each; the 6 later reads are hits.
    assert counters.get("misses") == len(DAG_IDS), (counters, gauges)
    assert counters.get("hits") == 2 * len(DAG_IDS), (counters, gauges)
    assert "evictions" not in counters  # nothing evicted: only increases are sent
    assert gauges.get("size") == len(DAG_IDS)
    assert 0 < gauges.get("bytes", 0) <= 512 << 20  # measured memory, under the default budget


def test_evictions_are_counted_when_the_budget_is_exceeded(home: Path, sink: socket.socket,
                                                           tmp_path: Path) -> None:
    # A one-entry cache: reading three DAGs in turn evicts the one before each time.
    server = _server(home, sink, tmp_path, DAGCORE__API__DAG_VERSION_CACHE_SIZE="1",
                     DAGCORE__API__DAG_VERSION_CACHE_POLICY="lru")
    try:
        for dag_id in DAG_IDS:
            answer = server.request("GET", f"/api/v2/dags/{dag_id}/details", as_user="viewer")
            assert answer.status_code == 200, answer.text
    finally:
        code = server.stop()
    assert code == 0, server.log()
    counters, gauges = _totals(_received(sink))
    assert counters.get("misses") == len(DAG_IDS), (counters, gauges)
    assert counters.get("evictions") == len(DAG_IDS) - 1, (counters, gauges)
    assert gauges.get("size") == 1
