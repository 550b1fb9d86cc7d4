"""DBDagBag over a real database (SQLite and PostgreSQL): hits, revalidation, single flight,
bounds, metrics."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore import DAG
from dagcore.configuration import conf_vars
from dagcore.dag_processing import write_dag
from dagcore.db import migrate, transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.models import tables as t
from dagcore.operators.empty import EmptyOperator

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
START = datetime(2024, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeStats:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float]] = []
        self.lock = threading.Lock()

    def incr(self, stat: str, count: int = 1, rate: float = 1) -> None:
        with self.lock:
            self.calls.append(("incr", stat, count))

    def gauge(self, stat: str, value: float, rate: float = 1, delta: bool = False) -> None:
        with self.lock:
            self.calls.append(("gauge", stat, value))

    def count(self, stat: str) -> int:
        return sum(c[2] for c in self.calls if c[0] == "incr" and c[1] == stat)  # type: ignore[misc]

    def last_gauge(self, stat: str) -> float:
        return [c[2] for c in self.calls if c[0] == "gauge" and c[1] == stat][-1]


@pytest.fixture
def db(engine: Engine) -> Engine:
    migrate(engine)
    return engine


@pytest.fixture
def clock() -> Clock:
    return Clock()


@contextmanager
def count_queries(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


def make_dag(dag_id: str = "etl", n: int = 2) -> DAG:
    with DAG(dag_id, start_date=START) as dag:
        for i in range(n):
            EmptyOperator(task_id=f"t{i}")
    dag.fileloc = f"/dags/{dag_id}.py"
    return dag


def latest_version_id(engine: Engine, dag_id: str = "etl") -> uuid.UUID:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.dag_version.c.id).where(t.dag_version.c.dag_id == dag_id)
                            .order_by(t.dag_version.c.version_number.desc()).limit(1)).scalar_one()


def bag_for(engine: Engine, clock: Clock, **kwargs: Any) -> DBDagBag:
    kwargs.setdefault("cache_size", 100)
    return DBDagBag(engine=engine, clock=clock, revalidation_interval=30, **kwargs)


def add_ti(engine: Engine, version_id: uuid.UUID, dag_id: str = "etl") -> None:
    with transaction(engine) as conn:
        conn.execute(t.dag_run.insert().values(dag_id=dag_id, run_id="r1", run_after=T0,
                                               state="running", run_type="manual",
                                               created_dag_version_id=version_id))
        conn.execute(t.task_instance.insert().values(id=uuid.uuid4(), dag_id=dag_id, run_id="r1",
                                                     task_id="t0", dag_version_id=version_id))


def test_hit_inside_the_revalidation_window_runs_no_query(db: Engine, clock: Clock) -> None:
    write_dag(db, make_dag(), now=T0)
    vid = latest_version_id(db)
    bag = bag_for(db, clock)
    first = bag.get_dag(vid)
    assert first is not None and first.task_ids == ["t0", "t1"]
    clock.now += 29
    with count_queries(db) as queries:
        assert bag.get_dag(vid) is first
        assert bag.get_dag(str(vid)) is first
    assert queries == []
    stats = bag.cache_stats
    assert (stats.hits, stats.misses, stats.size) == (2, 1, 1)


def test_revalidation_runs_one_hash_query_and_keeps_the_object(db: Engine, clock: Clock) -> None:
    write_dag(db, make_dag(), now=T0)
    vid = latest_version_id(db)
    bag = bag_for(db, clock)
    first = bag.get_dag(vid)
    clock.now += 31
    with count_queries(db) as queries:
        assert bag.get_dag(vid) is first
    assert len(queries) == 1 and "dag_hash" in queries[0] and "data" not in queries[0].split(
        "FROM")[0].replace("dag_hash", "")
    with count_queries(db) as queries:  # the check re-armed the window
        assert bag.get_dag(vid) is first
    assert queries == []


def test_revalidation_picks_up_an_in_place_update(db: Engine, clock: Clock) -> None:
    write_dag(db, make_dag(n=2), now=T0)
    vid = latest_version_id(db)
    bag = bag_for(db, clock)
    assert bag.get_dag(vid).task_ids == ["t0", "t1"]  # type: ignore[union-attr]
    write_dag(db, make_dag(n=3), now=T0 + timedelta(minutes=1))
    assert latest_version_id(db) == vid  # in place: same version id
    assert bag.get_dag(vid).task_ids == ["t0", "t1"]  # type: ignore[union-attr]  # window
    clock.now += 31
    assert bag.get_dag(vid).task_ids == ["t0", "t1", "t2"]  # type: ignore[union-attr]


def test_a_deleted_version_is_none_and_dropped(db: Engine, clock: Clock) -> None:
    write_dag(db, make_dag(), now=T0)
    vid = latest_version_id(db)
    bag = bag_for(db, clock)
    assert bag.get_dag(vid) is not None
    with transaction(db) as conn:
        conn.execute(t.dag_version.delete().where(t.dag_version.c.id == vid))
    clock.now += 31
    assert bag.get_dag(vid) is None
    assert str(vid) not in bag.cache
    assert bag.get_dag(uuid.uuid4()) is None
    assert len(bag.cache) == 0


def test_latest_version_is_reused_while_unchanged_then_replaced(db: Engine, clock: Clock) -> None:
    write_dag(db, make_dag(n=2), now=T0)
    bag = bag_for(db, clock)
    first = bag.get_latest_version_of_dag("etl")
    assert first is not None
    # Within the revalidation interval the confirmed latest version is served without a query.
    with count_queries(db) as queries:
        assert bag.get_latest_version_of_dag("etl") is first
    assert len(queries) == 0
    # After it, one query (id and hash) confirms it, and the same object is reused.
    clock.now += 31
    with count_queries(db) as queries:
        assert bag.get_latest_version_of_dag("etl") is first
    assert len(queries) == 1
    add_ti(db, latest_version_id(db))
    write_dag(db, make_dag(n=3), now=T0 + timedelta(minutes=1))  # version 2
    assert bag.get_latest_version_of_dag("etl") is first  # not due yet: bounded staleness
    clock.now += 31
    second = bag.get_latest_version_of_dag("etl")
    assert second is not first and second.task_ids == ["t0", "t1", "t2"]  # type: ignore[union-attr]
    assert bag.get_latest_version_of_dag("nope") is None


def test_latest_version_notices_an_in_place_update_after_the_interval(db: Engine,
                                                                      clock: Clock) -> None:
    write_dag(db, make_dag(n=2), now=T0)
    bag = bag_for(db, clock)
    first = bag.get_latest_version_of_dag("etl")
    write_dag(db, make_dag(n=3), now=T0 + timedelta(minutes=1))  # in place: same version id
    clock.now += 31
    second = bag.get_latest_version_of_dag("etl")
    assert second is not first and len(second.task_ids) == 3  # type: ignore[union-attr]
    assert len(bag.cache) == 1


def test_latest_version_is_rechecked_after_invalidate_dag(db: Engine, clock: Clock) -> None:
    write_dag(db, make_dag(n=2), now=T0)
    bag = bag_for(db, clock)
    first = bag.get_latest_version_of_dag("etl")
    write_dag(db, make_dag(n=3), now=T0 + timedelta(minutes=1))
    bag.invalidate_dag("etl")  # e.g. the process that wrote it tells its own bag
    second = bag.get_latest_version_of_dag("etl")
    assert second is not first and len(second.task_ids) == 3  # type: ignore[union-attr]


def test_get_dag_for_run(db: Engine, clock: Clock) -> None:
    write_dag(db, make_dag(n=2), now=T0)
    v1 = latest_version_id(db)
    add_ti(db, v1)
    write_dag(db, make_dag(n=3), now=T0 + timedelta(minutes=1))
    bag = bag_for(db, clock)
    pinned = {"dag_id": "etl", "created_dag_version_id": v1, "bundle_version": "abc"}
    assert len(bag.get_dag_for_run(pinned).task_ids) == 2  # type: ignore[union-attr]
    unversioned = {"dag_id": "etl", "created_dag_version_id": v1, "bundle_version": None}
    assert len(bag.get_dag_for_run(unversioned).task_ids) == 3  # type: ignore[union-attr]
    with db.connect() as conn:
        run = conn.execute(sa.select(t.dag_run)).one()
    assert len(bag.get_dag_for_run(run).task_ids) == 3  # type: ignore[union-attr]


def test_iter_all_latest_version_dags_does_not_fill_the_cache(db: Engine, clock: Clock) -> None:
    for dag_id in ("a", "b", "c"):
        write_dag(db, make_dag(dag_id), now=T0)
    add_ti(db, latest_version_id(db, "b"), dag_id="b")
    write_dag(db, make_dag("b", n=5), now=T0 + timedelta(minutes=1))
    bag = bag_for(db, clock)
    dags = list(bag.iter_all_latest_version_dags())
    assert [(d.dag_id, len(d.task_ids)) for d in dags] == [("a", 2), ("b", 5), ("c", 2)]
    assert len(bag.cache) == 0 and bag.cache_stats.misses == 0


def test_single_flight_eight_threads_one_load(db: Engine, clock: Clock) -> None:
    write_dag(db, make_dag(n=50), now=T0)
    vid = latest_version_id(db)
    bag = bag_for(db, clock)
    barrier = threading.Barrier(8)
    results: list[Any] = []

    def worker() -> None:
        barrier.wait()
        results.append(bag.get_dag(vid, "etl"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert len(results) == 8 and all(r is results[0] for r in results)
    stats = bag.cache_stats
    assert stats.loads == 1
    assert stats.hits + stats.misses == 8 and stats.misses == 1


def test_clear_cache(db: Engine, clock: Clock) -> None:
    for dag_id in ("a", "b"):
        write_dag(db, make_dag(dag_id), now=T0)
    bag = bag_for(db, clock)
    bag.get_latest_version_of_dag("a")
    bag.get_latest_version_of_dag("b")
    assert bag.clear_cache() == 2
    assert len(bag.cache) == 0 and bag.clear_cache() == 0
    assert bag.invalidate_dag("a") == 0


def test_invalidate_dag_drops_its_versions_by_tag(db: Engine, clock: Clock) -> None:
    for dag_id in ("a", "b"):
        write_dag(db, make_dag(dag_id), now=T0)
    bag = bag_for(db, clock)
    bag.get_dag(latest_version_id(db, "a"))  # dag_id looked up on the miss
    bag.get_latest_version_of_dag("b")
    assert bag.invalidate_dag("a") == 1
    assert len(bag.cache) == 1


def test_byte_bound_evicts(db: Engine, clock: Clock) -> None:
    for dag_id in ("a", "b", "c"):
        write_dag(db, make_dag(dag_id, n=20), now=T0)
    probe = bag_for(db, clock)
    probe.get_latest_version_of_dag("a")
    one = probe.cache_stats.weight
    assert one > 1000
    bag = bag_for(db, clock, cache_size=None, cache_bytes=int(one * 2.5))
    for dag_id in ("a", "b", "c"):
        assert bag.get_latest_version_of_dag(dag_id) is not None
    stats = bag.cache_stats
    assert stats.size == 2 and stats.evictions == 1 and stats.weight <= one * 2.5


def test_metrics_go_to_statsd_with_the_prefix(db: Engine, clock: Clock) -> None:
    for dag_id in ("a", "b"):
        write_dag(db, make_dag(dag_id, n=20), now=T0)
    stats = FakeStats()
    probe = bag_for(db, clock)
    probe.get_latest_version_of_dag("a")
    one = probe.cache_stats.weight
    bag = bag_for(db, clock, cache_size=None, cache_bytes=int(one * 1.5),
                  stats_prefix="scheduler.dag_bag", stats_client=stats)
    bag.get_latest_version_of_dag("a")
    bag.get_latest_version_of_dag("a")
    bag.get_latest_version_of_dag("b")  # evicts a
    p = "scheduler.dag_bag.cache"
    assert stats.count(f"{p}.hits") == 1 == bag.cache_stats.hits
    assert stats.count(f"{p}.misses") == 2 == bag.cache_stats.misses
    assert stats.count(f"{p}.evictions") == 1 == bag.cache_stats.evictions
    assert stats.last_gauge(f"{p}.size") == 1
    assert stats.last_gauge(f"{p}.bytes") == bag.cache_stats.weight
    bag.clear_cache()
    assert stats.last_gauge(f"{p}.size") == 0


def test_no_metrics_without_a_prefix(db: Engine, clock: Clock) -> None:
    write_dag(db, make_dag(), now=T0)
    stats = FakeStats()
    bag = bag_for(db, clock, stats_client=stats)
    bag.get_latest_version_of_dag("etl")
    assert stats.calls == []


def test_cache_ttl_drops_entries(db: Engine, clock: Clock) -> None:
    write_dag(db, make_dag(), now=T0)
    bag = bag_for(db, clock, cache_ttl=60)
    first = bag.get_latest_version_of_dag("etl")
    clock.now += 61
    assert bag.get_latest_version_of_dag("etl") is not first


def test_compressed_rows_are_read(db: Engine, clock: Clock) -> None:
    with conf_vars({("core", "compress_serialized_dags"): "True"}):
        write_dag(db, make_dag(), now=T0)
    bag = bag_for(db, clock)
    assert bag.get_latest_version_of_dag("etl").task_ids == ["t0", "t1"]  # type: ignore[union-attr]
    assert [d.dag_id for d in bag.iter_all_latest_version_dags()] == ["etl"]


@pytest.mark.parametrize("kwargs, message", [
    ({"cache_size": -1}, "cache_size"),
    ({"cache_bytes": -1}, "cache_bytes"),
    ({"cache_ttl": -1}, "cache_ttl"),
    ({"revalidation_interval": -1}, "revalidation_interval"),
    ({"stats_prefix": ""}, "stats_prefix"),
])
def test_bad_arguments_are_value_errors_naming_them(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DBDagBag(**kwargs)


def test_factories_read_the_configuration(sqlite_engine: Engine) -> None:
    with conf_vars({("api", "dag_version_cache_size"): "10",
                    ("api", "dag_version_cache_bytes"): "1MiB",
                    ("api", "dag_version_cache_policy"): "lru",
                    ("scheduler", "dag_version_cache_bytes"): "2MiB",
                    ("core", "min_serialized_dag_update_interval"): "5",
                    ("metrics", "statsd_on"): "False"}):
        api = DBDagBag.for_api_server(engine=sqlite_engine)
        scheduler = DBDagBag.for_scheduler(engine=sqlite_engine)
    assert (api.cache.max_entries, api.cache.max_bytes, api.cache.policy) == (10, 1 << 20, "lru")
    assert (scheduler.cache.max_entries, scheduler.cache.max_bytes) == (None, 2 << 20)
    assert api.revalidation_interval == 5.0


def test_factory_defaults() -> None:
    api = DBDagBag.for_api_server()
    scheduler = DBDagBag.for_scheduler()
    assert (api.cache.max_entries, api.cache.max_bytes, api.cache.policy) == (
        4096, 512 << 20, "tinylfu")
    assert (scheduler.cache.max_entries, scheduler.cache.max_bytes) == (None, 1 << 30)
