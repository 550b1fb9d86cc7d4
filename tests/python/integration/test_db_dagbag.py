"""DBDagBag over a real database (SQLite and PostgreSQL): hits, revalidation, single flight,
bounds, weights, metrics.

Airflow's behaviour is in airflow-core/src/airflow/models/dagbag.py (``DBDagBag._get_dag``:
served while ``now - last_validated < min_serialized_dag_update_interval``, else the stored
``dag_hash`` is compared and a changed one reloads) and its tests
airflow-core/tests/unit/models/test_dagbag.py.
"""

from __future__ import annotations

import gc
import json
import threading
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore import DAG
from dagcore.configuration import conf_vars
from dagcore.dag_processing import write_dag
from dagcore.db import migrate, transaction
from dagcore.db_dagbag import DBDagBag, InvalidDagVersionId, retained_bytes
from dagcore.models import tables as t
from dagcore.operators.bash import BashOperator
from dagcore.operators.empty import EmptyOperator
from dagcore.serialization import SerializedDAG, serialize_dag

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
    # Every lookup counted once: the loader's thread is the miss, the threads served by its load
    # are hits (Airflow's _get_dag counts a lookup that finds another thread's load as a hit).
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
    bag.flush_metrics()
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


def test_uuid_and_str_ids_hit_the_same_entry_without_a_query(db: Engine, clock: Clock) -> None:
    write_dag(db, make_dag(), now=T0)
    vid = latest_version_id(db)
    bag = bag_for(db, clock)
    first = bag.get_dag(str(vid))
    with count_queries(db) as queries:
        assert bag.get_dag(vid) is first
        assert bag.get_dag(str(vid)) is first
        assert bag.get_dag(str(vid).upper()) is first  # normalised on the slow path
    assert queries == []
    assert bag.cache.keys() == [str(vid)]
    assert (bag.cache_stats.hits, bag.cache_stats.misses) == (3, 1)


@pytest.mark.parametrize("bad", ["not-a-uuid", "", 42, None, b"0" * 16])
def test_a_malformed_version_id_is_a_value_error_naming_it(db: Engine, clock: Clock,
                                                           bad: Any) -> None:
    bag = bag_for(db, clock)
    with pytest.raises(InvalidDagVersionId, match=repr(bad).replace("(", r"\(")) as err:
        bag.get_dag(bad)
    assert isinstance(err.value, ValueError)


def test_revalidation_interval_zero_checks_the_hash_on_every_lookup(
        db: Engine, clock: Clock) -> None:
    write_dag(db, make_dag(), now=T0)
    vid = latest_version_id(db)
    bag = DBDagBag(engine=db, clock=clock, revalidation_interval=0)
    first = bag.get_dag(vid)
    with count_queries(db) as queries:
        assert bag.get_dag(vid) is first
        assert bag.get_dag(vid) is first
    assert len(queries) == 2
    assert (bag.cache_stats.hits, bag.cache_stats.misses) == (2, 1)


def test_revalidation_is_due_per_entry_from_its_last_check(db: Engine, clock: Clock) -> None:
    for dag_id in ("a", "b"):
        write_dag(db, make_dag(dag_id), now=T0)
    va, vb = latest_version_id(db, "a"), latest_version_id(db, "b")
    bag = bag_for(db, clock)
    bag.get_dag(va)
    clock.now += 20
    bag.get_dag(vb)
    clock.now += 15  # a: 35 s since its load, b: 15 s
    with count_queries(db) as queries:
        bag.get_dag(vb)
    assert queries == []
    with count_queries(db) as queries:
        bag.get_dag(va)
    assert len(queries) == 1


def _sample_dag(n: int = 30) -> DAG:
    # A cron schedule in a named zone: the time zone is shared process-wide and not counted.
    with DAG("weighty", schedule="0 2 * * *", params={"region": "eu", "batch": 100},
             start_date=datetime(2024, 1, 1, tzinfo=ZoneInfo("Europe/Berlin")),
             tags=["a", "b"], description="a DAG to weigh") as dag:
        prev = EmptyOperator(task_id="start")
        for i in range(n):
            task = BashOperator(task_id=f"step_{i}", bash_command=f"echo {i} {{{{ ds }}}}",
                                env={"LANE": str(i)}, retries=i % 3)
            prev >> task
            prev = task
    dag.fileloc = "/dags/weighty.py"
    return dag


def test_weight_is_the_memory_deserializing_takes_within_a_factor_of_tracemalloc() -> None:
    text = json.dumps(serialize_dag(_sample_dag()))
    SerializedDAG(json.loads(text))  # fills the process-wide caches (time zone, cron) first
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [SerializedDAG(json.loads(text)) for _ in range(5)]
        gc.collect()
        measured = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    weight = retained_bytes(kept[0])
    assert 0.75 * measured <= weight <= 1.25 * measured
    assert weight > 1.5 * len(text)  # the JSON length, the old weight, was about half of it


def test_retained_bytes_counts_shared_objects_once_and_skips_process_wide_ones() -> None:
    shared = "x" * 1000
    assert retained_bytes([shared, shared]) == retained_bytes([None, None]) + retained_bytes(
        shared)
    assert retained_bytes([DAG, json, len, None]) == retained_bytes([None, None, None, None])


def test_entries_weigh_their_memory_so_the_byte_bound_counts_it(
        db: Engine, clock: Clock) -> None:
    sample = _sample_dag()
    write_dag(db, sample, now=T0)
    bag = bag_for(db, clock)
    dag = bag.get_latest_version_of_dag("weighty")
    stored = len(json.dumps(serialize_dag(sample), separators=(",", ":")))
    weight = bag.cache_stats.weight
    assert weight >= retained_bytes(dag) > 1.5 * stored


def test_hits_reach_statsd_by_flush_not_one_call_per_hit(db: Engine, clock: Clock) -> None:
    write_dag(db, make_dag(), now=T0)
    vid = latest_version_id(db)
    stats = FakeStats()
    bag = bag_for(db, clock, stats_prefix="api_server.dag_bag", stats_client=stats)
    p = "api_server.dag_bag.cache"
    bag.get_dag(vid)  # a miss: the slow path flushes (the first flush is never throttled)
    assert stats.count(f"{p}.misses") == 1 and stats.last_gauge(f"{p}.size") == 1
    calls = len(stats.calls)
    for _ in range(100):
        bag.get_dag(vid)
    assert len(stats.calls) == calls  # no StatsD call on a hit
    bag.flush_metrics()
    assert stats.count(f"{p}.hits") == 100 and stats.count(f"{p}.misses") == 1
    bag.flush_metrics()  # nothing new: counters unchanged, gauges re-sent
    assert stats.count(f"{p}.hits") == 100
    assert stats.last_gauge(f"{p}.bytes") == bag.cache_stats.weight


def test_the_slow_path_flushes_at_most_once_per_interval(db: Engine, clock: Clock) -> None:
    for dag_id in ("a", "b", "c"):
        write_dag(db, make_dag(dag_id), now=T0)
    stats = FakeStats()
    bag = bag_for(db, clock, stats_prefix="p", stats_client=stats, metrics_flush_interval=5)
    bag.get_latest_version_of_dag("a")  # flushed: 1 miss
    bag.get_dag(latest_version_id(db, "a"))  # a hit, not flushed
    bag.get_latest_version_of_dag("b")  # a miss within 5 s of the flush: not flushed
    assert stats.count("p.cache.misses") == 1 and stats.count("p.cache.hits") == 0
    clock.now += 5
    bag.get_latest_version_of_dag("c")  # slow path 5 s later: flushes everything so far
    assert stats.count("p.cache.misses") == 3 and stats.count("p.cache.hits") == 1
    assert stats.last_gauge("p.cache.size") == 3


def test_a_failing_statsd_client_loses_no_counts(db: Engine, clock: Clock) -> None:
    write_dag(db, make_dag(), now=T0)

    class Flaky(FakeStats):
        fail = True

        def incr(self, stat: str, count: int = 1, rate: float = 1) -> None:
            if self.fail:
                raise OSError("statsd down")
            super().incr(stat, count, rate)

    stats = Flaky()
    bag = bag_for(db, clock, stats_prefix="p", stats_client=stats)
    assert bag.get_latest_version_of_dag("etl") is not None  # the failing flush is swallowed
    bag.get_latest_version_of_dag("etl")
    stats.fail = False
    bag.flush_metrics()
    assert (stats.count("p.cache.misses"), stats.count("p.cache.hits")) == (1, 1)
