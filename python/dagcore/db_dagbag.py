"""DBDagBag: serialized DAG versions read from the database, cached in a :class:`VersionCache`.

Design note (docs/airflow-behaviour.md 1.4, 1.5). Entries are keyed by ``dag_version_id`` (its
canonical string; a ``uuid.UUID`` argument is the same key), tagged with the ``dag_id`` and
weighted by their memory (below). A version's content can change in place until a task instance
uses it (docs/airflow-behaviour.md 1.3), so an entry remembers the ``dag_hash`` it was built from
and, once ``revalidation_interval`` has passed since it was last checked, one single-column query
(``SELECT dag_hash ... WHERE dag_version_id = ?``) decides whether it is still good. Within the
interval a hit costs no query. Revalidation does not re-arm the cache's TTL (Airflow's write-back
did, so a hot version never aged out).

Hit path. The cache itself remembers when each entry was last checked (its ``refresh_after`` is
the revalidation interval), so a hit within the interval is one C++ call,
``VersionCache.get_fresh``: the key (str or UUID), the clock, the freshness check and the hit
count all happen there. A stale entry, a miss or a malformed id takes the slow path in Python.

Weights. An entry weighs what its objects take in memory: ``sys.getsizeof`` of every object
reachable from the deserialized DAG, each counted once, leaving out what is shared with the rest
of the process (classes, modules, functions, enum members, time zones), measured once when the
version is loaded. It agrees with tracemalloc's count of what deserializing allocates; the JSON
text's length, the weight before, is about half of it, so a byte budget used to let the cache
take twice its size.

Metrics. ``<prefix>.cache.hits/misses/evictions`` (counters) and ``.size/.bytes`` (gauges) are the
C++ cache's own figures, exact: hits + misses = lookups, and a lookup served by another
thread's load of the same version is a hit, as Airflow's ``_get_dag`` counts a lookup that finds
another thread's load (``get_or_load(..., count_wait_as_hit=True)``). They reach StatsD as deltas
since the last flush: :meth:`DBDagBag.flush_metrics` runs on the slow path (a miss, a
revalidation, a version not found) at most once per ``metrics_flush_interval`` seconds, and after
``clear_cache``/``invalidate_dag``. A hit never calls StatsD. Since every version in use takes
the slow path once per revalidation interval, counts reach StatsD at most about one interval
late while the bag is used; call ``flush_metrics()`` to send the rest (at shutdown, say).

Differences from Airflow, on purpose:

* bounded by count and bytes, with W-TinyLFU on request (scan resistant);
* :meth:`DBDagBag.get_latest_version_of_dag` reuses the cached object while the latest version id
  and hash are unchanged (Airflow deserializes on every call; its open PR #69815);
* loads are single flight: N threads missing the same version run one query and one
  deserialization;
* metrics are sent in batches rather than one StatsD packet per lookup.
"""

from __future__ import annotations

import enum
import json
import logging
import math
import threading
import time
import types
import uuid
import zlib
from collections.abc import Callable, Iterator
from datetime import tzinfo
from operator import attrgetter
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dagcore._native import core
from dagcore.cache import CacheStats, VersionCache
from dagcore.configuration import conf
from dagcore.exceptions import DagcoreException
from dagcore.models import tables as t
from dagcore.serialization import SerializedDAG

__all__ = ["DBDagBag", "InvalidDagVersionId", "StatsClient", "latest_version_id",
           "retained_bytes"]

log = logging.getLogger(__name__)

API_SERVER_STATS_PREFIX = "api_server.dag_bag"
SCHEDULER_STATS_PREFIX = "scheduler.dag_bag"


class StatsClient(Protocol):
    """The part of ``statsd.StatsClient`` the bag uses."""

    def incr(self, stat: str, count: int = 1, rate: float = 1) -> None: ...
    def gauge(self, stat: str, value: float, rate: float = 1, delta: bool = False) -> None: ...


class InvalidDagVersionId(DagcoreException, ValueError):
    """A DAG version id that is neither a ``uuid.UUID`` nor the string of one."""


class _Entry:
    """A cached version: the DAG, the hash it was built from, and its weight (bytes in memory).

    When it was last checked is kept by the cache (``refresh_after``), not here.
    """

    __slots__ = ("dag", "dag_hash", "weight")

    def __init__(self, dag: SerializedDAG, dag_hash: str) -> None:
        self.dag = dag
        self.dag_hash = dag_hash
        self.weight = 0
        self.weight = retained_bytes(self)  # measured once, when the version is loaded


_weight_of = attrgetter("weight")


class _VersionGone(LookupError):
    """Raised by a loader when the version (or its serialized row) does not exist."""


# Objects reachable from a DAG that the rest of the process shares: not part of its weight.
_SHARED_TYPES = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
                 types.MethodType, types.CodeType, enum.Enum, tzinfo)


def retained_bytes(root: object) -> int:
    """Bytes held by ``root`` and every object reachable from it, each counted once.

    ``sys.getsizeof`` summed over the objects the garbage collector sees as referents
    (containers, instances, slots), so a C++ object counts as its Python wrapper. Objects the
    process shares are left out and not walked into: classes, modules, functions, enum members,
    time zones (cached process-wide), None, True, False. The walk is C++, several times faster
    than the same walk in Python and a fraction of what deserializing the DAG costs.
    """
    return int(core.retained_bytes(root, _SHARED_TYPES))


def _non_negative(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number or None, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be greater than or equal to 0, got {value!r}")
    return value or None  # 0 means "no limit", as Airflow's 0


def _decode_data(data: Any, compressed: bytes | None) -> dict[str, Any]:
    """The serialized dict, from the JSON column or the compressed one."""
    if data is None and compressed is not None:
        return json.loads(zlib.decompress(compressed))
    if isinstance(data, (str, bytes)):
        return json.loads(data)
    return data


def _version_key(version_id: Any) -> str:
    """The canonical string of a version id (the form the database returns)."""
    if isinstance(version_id, uuid.UUID):
        return str(version_id)
    if isinstance(version_id, str):
        try:
            return str(uuid.UUID(version_id))
        except ValueError:
            pass
    raise InvalidDagVersionId(
        f"not a DAG version id (a uuid.UUID or its string): {version_id!r}")


def _default_stats_client() -> StatsClient | None:
    if not conf.getboolean("metrics", "statsd_on", fallback=False):
        return None
    import statsd

    return statsd.StatsClient(
        host=conf.get("metrics", "statsd_host", fallback="localhost"),
        port=conf.getint("metrics", "statsd_port", fallback=8125),
        prefix=conf.get("metrics", "statsd_prefix", fallback="dagcore") or None,
    )


class DBDagBag:
    """Serialized DAGs from the database, cached by version id (Airflow's ``DBDagBag``).

    Args:
        cache_size: the most versions kept (None or 0: no count limit).
        cache_bytes: the most total bytes kept, as the versions' measured memory (None or 0: no
            byte limit).
        cache_ttl: seconds after which a cached version is dropped regardless of use (None or 0:
            none).
        policy: ``"lru"`` or ``"tinylfu"`` (see :class:`~dagcore.cache.VersionCache`).
        revalidation_interval: seconds a cached version is served without checking its hash.
        stats_prefix: metric namespace (``api_server.dag_bag``); None: no metrics.
        engine: the metadata database (default: one from the configuration, made on first use).
        stats_client: a StatsD client (default: ``statsd.StatsClient`` from ``[metrics]`` when
            ``statsd_on``, else none).
        clock: monotonic seconds, for revalidation and the TTL (tests pass a fake).
        metrics_flush_interval: the slow path sends metrics at most this often, in seconds
            (None or 0: on every slow-path lookup).

    Raises:
        ValueError: a negative size, byte limit, TTL, revalidation or flush interval; unknown
            policy.
    """

    def __init__(self, *, cache_size: int | None = None, cache_bytes: int | None = None,
                 cache_ttl: float | None = None, policy: str = "lru",
                 revalidation_interval: float = 30.0, stats_prefix: str | None = None,
                 engine: Engine | None = None, stats_client: StatsClient | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 metrics_flush_interval: float | None = 1.0) -> None:
        size = _non_negative("cache_size", cache_size)
        max_bytes = _non_negative("cache_bytes", cache_bytes)
        ttl = _non_negative("cache_ttl", cache_ttl)
        interval = _non_negative("revalidation_interval", revalidation_interval)
        flush_interval = _non_negative("metrics_flush_interval", metrics_flush_interval)
        if stats_prefix is not None and not stats_prefix:
            raise ValueError("stats_prefix must be a non-empty string or None")
        self._revalidation_interval = float(interval or 0.0)
        self._clock = clock
        self._engine = engine
        self._engine_lock = threading.Lock()
        self._stats_prefix = stats_prefix
        self._stats: StatsClient | None = None
        # dag_id -> (latest version id, when it was last confirmed by a query)
        self._latest: dict[str, tuple[str, float]] = {}
        self._flush_lock = threading.Lock()
        self._flush_interval = float(flush_interval or 0.0)
        self._last_flush = -math.inf
        self._flushed: dict[str, int] = {"hits": 0, "misses": 0, "evictions": 0}
        if stats_prefix is not None:
            self._stats = stats_client if stats_client is not None else _default_stats_client()
        self._cache = VersionCache(
            max_entries=None if size is None else int(size),
            max_bytes=None if max_bytes is None else int(max_bytes),
            ttl=ttl, policy=policy, refresh_after=self._revalidation_interval,
            # The default clock is read in C++ (the same monotonic clock, without a Python call).
            clock=None if clock is time.monotonic else clock)
        self._get_fresh = self._cache.get_fresh

    # -- factories ------------------------------------------------------------------------------

    @classmethod
    def for_api_server(cls, *, engine: Engine | None = None,
                       stats_client: StatsClient | None = None) -> DBDagBag:
        """The API server's bag: ``[api] dag_version_cache_size/_bytes/_policy`` (and
        ``dag_version_cache_ttl``, default none), revalidated every
        ``[core] min_serialized_dag_update_interval`` seconds."""
        ttl = conf.getfloat("api", "dag_version_cache_ttl", fallback=0.0)
        return cls(
            cache_size=conf.getint("api", "dag_version_cache_size", fallback=4096),
            cache_bytes=conf.getbytes("api", "dag_version_cache_bytes", fallback=512 << 20),
            cache_ttl=ttl or None,
            policy=conf.get("api", "dag_version_cache_policy", fallback="tinylfu"),
            revalidation_interval=_revalidation_interval(),
            stats_prefix=API_SERVER_STATS_PREFIX, engine=engine, stats_client=stats_client)

    @classmethod
    def for_scheduler(cls, *, engine: Engine | None = None,
                      stats_client: StatsClient | None = None) -> DBDagBag:
        """The scheduler's bag: bounded by ``[scheduler] dag_version_cache_bytes`` only, so a
        count cap never cuts its round-robin working set (docs/airflow-behaviour.md 1.5), LRU."""
        return cls(
            cache_size=None,
            cache_bytes=conf.getbytes("scheduler", "dag_version_cache_bytes", fallback=1 << 30),
            cache_ttl=None, policy="lru", revalidation_interval=_revalidation_interval(),
            stats_prefix=SCHEDULER_STATS_PREFIX, engine=engine, stats_client=stats_client)

    # -- plumbing --------------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._engine_lock:
                if self._engine is None:
                    from dagcore.db import create_engine

                    self._engine = create_engine()
        return self._engine

    @property
    def revalidation_interval(self) -> float:
        return self._revalidation_interval

    @property
    def cache(self) -> VersionCache:
        """The underlying cache (for inspection; entries are internal records)."""
        return self._cache

    @property
    def cache_stats(self) -> CacheStats:
        """The cache's counters and occupancy (the figures the metrics report).

        ``hits`` and ``misses`` count bag lookups (``get_dag``, ``get_dag_for_run``,
        ``get_latest_version_of_dag``): a hit is a version served from the cache (after a
        revalidation, if one was due, or loaded by another thread while this one waited), a
        miss one this lookup read from the database or did not find. ``weight`` is in bytes of
        memory.
        """
        return self._cache.stats

    def flush_metrics(self) -> None:
        """Send StatsD the counters' increase since the last flush, and the size/bytes gauges.

        The slow path calls it (throttled by ``metrics_flush_interval``); call it to send hits
        that no slow-path lookup has flushed yet. A failing client is logged and its counts are
        sent by the next flush.
        """
        if self._stats is None:
            return
        with self._flush_lock:
            self._last_flush = self._clock()
            stats = self._cache.stats
            name = f"{self._stats_prefix}.cache"
            try:
                for counter, total in (("hits", stats.hits), ("misses", stats.misses),
                                       ("evictions", stats.evictions)):
                    if total != self._flushed[counter]:
                        self._stats.incr(f"{name}.{counter}", total - self._flushed[counter])
                        self._flushed[counter] = total
                self._stats.gauge(f"{name}.size", stats.size)
                self._stats.gauge(f"{name}.bytes", stats.weight)
            except Exception:  # metrics must never break a lookup
                log.debug("statsd flush failed", exc_info=True)

    def _maybe_flush(self) -> None:
        if self._stats is not None and self._clock() - self._last_flush >= self._flush_interval:
            self.flush_metrics()

    def _stored_hash(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.serialized_dag.c.dag_hash).where(
                t.serialized_dag.c.dag_version_id == uuid.UUID(key))).scalar_one_or_none()

    def _load_entry(self, version_id: str) -> _Entry:
        sd = t.serialized_dag
        query = sa.select(sd.c.data, sd.c.data_compressed, sd.c.dag_hash).where(
            sd.c.dag_version_id == uuid.UUID(version_id))
        with self.engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            raise _VersionGone(version_id)
        return _Entry(SerializedDAG(_decode_data(row.data, row.data_compressed)), row.dag_hash)

    def _load(self, key: str, dag_id: str | None) -> SerializedDAG | None:
        """Single-flight load; None if the version does not exist.

        The cache counts the lookup once: a miss for the thread whose loader ran, a hit for
        threads that waited for it (unless it failed) or found it already loaded.
        """
        try:
            if dag_id is None:
                with self.engine.connect() as conn:
                    dag_id = conn.execute(sa.select(t.dag_version.c.dag_id).where(
                        t.dag_version.c.id == uuid.UUID(key))).scalar_one_or_none()
                if dag_id is None:
                    self._cache.count_miss()
                    return None
            entry = self._cache.get_or_load(key, lambda: self._load_entry(key),
                                            weight=_weight_of, tag=dag_id,
                                            count_wait_as_hit=True)
        except _VersionGone:
            return None  # counted as a miss by get_or_load
        finally:
            self._maybe_flush()
        return entry.dag

    # -- lookups --------------------------------------------------------------------------------

    def get_dag(self, version_id: uuid.UUID | str, dag_id: str | None = None
                ) -> SerializedDAG | None:
        """The DAG of a version, or None if the version (or its serialized row) does not exist.

        Within ``revalidation_interval`` of the last check a cached version is returned without
        a query (one C++ call); after it, the stored ``dag_hash`` is compared and an in-place
        update (or a deleted version) is picked up.

        Args:
            version_id: the ``dag_version.id`` (a ``uuid.UUID`` or its string).
            dag_id: the DAG's id if known (saves a query on a miss; used as the cache tag).

        Raises:
            InvalidDagVersionId: ``version_id`` is neither a UUID nor the string of one.
        """
        try:
            entry = self._get_fresh(version_id)
        except TypeError:  # neither str nor UUID: the slow path names the bad value
            entry = None
        if entry is not None:
            return entry.dag
        return self._get_dag_slow(version_id, dag_id)

    def get_dag_of_hash(self, version_id: uuid.UUID | str, dag_hash: str | None,
                        dag_id: str | None = None) -> SerializedDAG | None:
        """:meth:`get_dag` for a caller that has just read the version's ``dag_hash``: a cached
        entry built from another hash (the version was updated in place within the
        revalidation interval) is dropped and the version loaded again, instead of being served
        until its next revalidation. The scheduler's asset step uses it
        (docs/airflow-behaviour.md 12.7)."""
        key = _version_key(version_id)
        entry = self._cache.peek(key)
        if entry is not None and entry.dag_hash != dag_hash:
            self._cache.invalidate(key)
        return self.get_dag(key, dag_id)

    def _get_dag_slow(self, version_id: Any, dag_id: str | None) -> SerializedDAG | None:
        """get_dag for a version that is not cached, or whose revalidation is due."""
        key = _version_key(version_id)
        if key != version_id and type(version_id) is str:  # e.g. upper case: not yet looked up
            entry = self._cache.get_fresh(key)
            if entry is not None:
                return entry.dag
        entry = self._cache.peek(key)
        if entry is not None:
            stored = self._stored_hash(key)
            if stored == entry.dag_hash:
                current = self._cache.confirm(key)  # counts the hit
                if current is not None:
                    self._maybe_flush()
                    return current.dag
                # evicted while the hash was read: loaded again below
            else:
                self._cache.invalidate(key)
                if stored is None:
                    log.debug("DAG version %s is gone: dropped from the cache", key)
                    self._cache.count_miss()
                    self._maybe_flush()
                    return None
            dag_id = dag_id or entry.dag.dag_id
        return self._load(key, dag_id)

    def get_dag_for_run(self, dag_run: Any) -> SerializedDAG | None:
        """The DAG a run executes: its ``created_dag_version_id``, or the latest version when the
        run has no ``bundle_version`` or no version id (unversioned bundles,
        docs/airflow-behaviour.md 1.4), unless its ``run_on_latest_version`` (a backfill's setting,
        joined in) is False.

        ``dag_run`` is a row or an object with ``dag_id``, ``created_dag_version_id`` and
        ``bundle_version``.
        """
        version_id = _field(dag_run, "created_dag_version_id")
        # A backfill created with run_on_latest_version=False pins its runs to that version.
        pinned = _field(dag_run, "run_on_latest_version") is False
        if version_id is None or (_field(dag_run, "bundle_version") is None and not pinned):
            return self.get_latest_version_of_dag(_field(dag_run, "dag_id"))
        return self.get_dag(version_id, _field(dag_run, "dag_id"))

    def get_latest_version_of_dag(self, dag_id: str) -> SerializedDAG | None:
        """The DAG's latest version (highest ``version_number``), or None.

        One query finds the latest version id and hash; the cached object is reused while both
        are unchanged (and marked as validated), else the version is loaded and cached. Within
        ``revalidation_interval`` of that query the confirmed answer is reused without one, the
        same bounded staleness as :meth:`get_dag` (``invalidate_dag`` forgets it at once).
        """
        # Within the revalidation interval of the last check the confirmed latest version is
        # trusted without a query, as get_dag trusts a cached version's hash: a newer version
        # shows up at most revalidation_interval later.
        confirmed = self._latest.get(dag_id)
        if confirmed is not None and self._clock() - confirmed[1] < self._revalidation_interval:
            entry: _Entry | None = self._cache.get_fresh(confirmed[0])
            if entry is not None:
                return entry.dag
        dv, sd = t.dag_version, t.serialized_dag
        query = (sa.select(dv.c.id, sd.c.dag_hash)
                 .select_from(dv.join(sd, sd.c.dag_version_id == dv.c.id))
                 .where(dv.c.dag_id == dag_id)
                 .order_by(dv.c.version_number.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            return None
        key = str(row.id)
        now = self._clock()
        entry = self._cache.peek(key)
        if entry is not None:
            if entry.dag_hash == row.dag_hash:
                current = self._cache.confirm(key)  # counts the hit
                if current is not None:
                    self._latest[dag_id] = (key, now)
                    self._maybe_flush()
                    return current.dag
            else:
                self._cache.invalidate(key)
        dag = self._load(key, dag_id)
        if dag is not None:
            self._latest[dag_id] = (key, now)
        return dag

    def iter_all_latest_version_dags(self) -> Iterator[SerializedDAG]:
        """Every DAG's latest version, deserialized, without touching the cache (a listing must
        not flush the hot set)."""
        dv, sd = t.dag_version, t.serialized_dag
        latest = (sa.select(dv.c.dag_id, sa.func.max(dv.c.version_number).label("n"))
                  .group_by(dv.c.dag_id).subquery())
        query = (sa.select(sd.c.data, sd.c.data_compressed)
                 .select_from(sd.join(dv, dv.c.id == sd.c.dag_version_id)
                              .join(latest, sa.and_(latest.c.dag_id == dv.c.dag_id,
                                                    latest.c.n == dv.c.version_number)))
                 .order_by(dv.c.dag_id))
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=64).execute(query):
                yield SerializedDAG(_decode_data(row.data, row.data_compressed))

    def clear_cache(self) -> int:
        """Empty the cache; returns how many versions were removed."""
        removed = self._cache.clear()
        self._latest.clear()
        self.flush_metrics()
        return removed

    def invalidate_dag(self, dag_id: str) -> int:
        """Drop every cached version of a DAG (after it is deleted, say); returns how many."""
        removed = self._cache.invalidate_tag(dag_id)
        self._latest.pop(dag_id, None)
        self.flush_metrics()
        return removed


# Built once (a trigger runs it on every request): no construction or cache key per call.
_LATEST_VERSION_ID = (sa.select(t.dag_version.c.id)
                      .where(t.dag_version.c.dag_id == sa.bindparam("dag_id"))
                      .order_by(t.dag_version.c.version_number.desc()).limit(1))


def latest_version_id(conn: Connection, dag_id: str) -> uuid.UUID | None:
    """The id of the DAG's latest version (highest ``version_number``), read on ``conn`` (the
    caller's transaction), or None when the DAG has no version."""
    return conn.execute(_LATEST_VERSION_ID, {"dag_id": dag_id}).scalar_one_or_none()


def _revalidation_interval() -> float:
    return conf.getfloat("core", "min_serialized_dag_update_interval", fallback=30.0)


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    mapping = getattr(obj, "_mapping", None)
    if mapping is not None and name in mapping:
        return mapping[name]
    return getattr(obj, name, None)
