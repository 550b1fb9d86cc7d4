"""The DAG-version cache: bounded, thread-safe, observable, and scan resistant on request.

Airflow's API server cached every DAG version it ever read (9.4 GiB after a week with about
70,000 versions); its fixes bounded the cache by count, then added a TTL that hits re-armed, and
its reviewers rejected plain LRU because listing history flushes it. :class:`VersionCache`
bounds by entry count and by total weight (bytes), expires by age without re-arming on hits,
offers W-TinyLFU admission so scans do not evict the hot set, loads each missing version once
for all concurrent callers, and never runs Python code (loaders, ``on_evict``, ``__del__``)
while holding its lock. With ``refresh_after`` it also remembers when each entry was last known
to be current, so a caller that must re-check its entries now and then (DBDagBag compares a
version's ``dag_hash``) serves a fresh entry with one call, :meth:`~VersionCache.get_fresh`.

Example:
    >>> from dagcore.cache import VersionCache
    >>> cache = VersionCache(max_entries=512, max_bytes=64 << 20, ttl=3600, policy="tinylfu")
    >>> dag = cache.get_or_load("v-42", lambda: "parsed dag", weight=1024, tag="etl")
    >>> cache.get("v-42")
    'parsed dag'
    >>> cache.invalidate_tag("etl")
    1
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from dagcore._native import core

__all__ = ["CacheStats", "EvictionReason", "VersionCache"]

Key: TypeAlias = str | int | uuid.UUID
EvictionReason: TypeAlias = Literal["size", "expired", "invalidated", "replaced"]
"""Why ``on_evict`` was called: a size limit (or TinyLFU admission), the TTL, an
``invalidate``/``invalidate_tag``/``clear``, or a ``put`` that replaced the value."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheStats:
    """A consistent snapshot of a cache's counters and occupancy.

    Attributes:
        hits: lookups served from the cache.
        misses: lookups not served from the cache (absent, expired, or waiting for a load), and
            those counted by ``count_miss``.
        loads: ``get_or_load`` loader calls that returned a value.
        load_failures: loader calls that raised.
        evictions: entries removed to respect ``max_entries``/``max_bytes``.
        expirations: entries removed because they were older than the TTL.
        invalidations: entries removed by ``invalidate``, ``invalidate_tag`` or ``clear``.
        rejections: values not cached because their weight exceeded ``max_bytes``.
        size: live entries.
        weight: total weight of the live entries.
        max_entries: the entry limit (None: unbounded).
        max_bytes: the weight limit (None: unbounded).
    """

    hits: int
    misses: int
    loads: int
    load_failures: int
    evictions: int
    expirations: int
    invalidations: int
    rejections: int
    size: int
    weight: int
    max_entries: int | None
    max_bytes: int | None

    @property
    def hit_ratio(self) -> float:
        """hits / (hits + misses), 0.0 before the first lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


class VersionCache(core.VersionCache):
    """A bounded, thread-safe cache of parsed DAG versions.

    Args:
        max_entries: the most entries kept (None: no count limit).
        max_bytes: the most total ``weight`` kept (None: no weight limit). With both limits,
            whichever is reached first evicts; both None means unbounded.
        ttl: seconds after which an entry is a miss and is dropped, counted from its ``put``;
            hits do not extend it (None: no expiry).
        policy: ``"lru"`` (least recently used goes first) or ``"tinylfu"`` (W-TinyLFU:
            a small window LRU, then admission by popularity, so scans do not flush hot keys).
        clock: a callable returning seconds, for the TTL (default: a monotonic clock).
        on_evict: ``on_evict(key, value, reason)`` for every entry that leaves the cache, called
            after the cache lock is released; exceptions go to ``sys.unraisablehook``.
        refresh_after: seconds an entry stays fresh after it was stored or last confirmed
            (None: always fresh; 0: stale at once). Only :meth:`get_fresh` looks at it. The
            clock is ``clock`` (default: the monotonic clock, read in C++).

    Keys are ``str``, ``int`` or ``uuid.UUID`` (a UUID is stored as its canonical string, so
    ``UUID(x)`` and ``str(UUID(x))`` are one key); values are any object. Methods:
    ``get(key, default=None)``, ``put(key, value, *, weight=1, tag=None)``,
    ``get_or_load(key, loader, *, weight=None, tag=None, count_wait_as_hit=False)`` (single
    flight: concurrent misses run ``loader()`` once; ``weight`` may be a callable of the loaded
    value; a caller that waited for another's load is a miss, or with ``count_wait_as_hit`` a
    hit when that load succeeded), ``invalidate(key)``,
    ``invalidate_tag(tag)``, ``clear()``, ``purge_expired()``, ``keys()``, ``len()``, ``in``.

    Freshness (``refresh_after``): ``get_fresh(key, default=None)`` returns a fresh entry
    (counted as a hit) or ``default`` (a stale or absent entry, counted as nothing: the caller
    re-checks and counts the lookup once); ``peek(key, default=None)`` returns a live entry
    without counting or promoting it; ``confirm(key)`` marks a stale entry fresh again after the
    caller checked its source (counted as a hit; the TTL is not re-armed) and returns its value
    or None; ``count_miss()`` counts a lookup the caller answered without the cache.

    Raises:
        ValueError: a limit that is not positive, a ttl that is not positive, a negative
            refresh_after, an unknown policy.
        TypeError: an argument of the wrong type (the message names it).
    """

    __slots__ = ()

    @property
    def stats(self) -> CacheStats:
        """Counters and occupancy, as one consistent snapshot."""
        values: dict[str, Any] = self._stats()
        return CacheStats(**values)

    def __repr__(self) -> str:
        return (
            f"VersionCache(max_entries={self.max_entries!r}, max_bytes={self.max_bytes!r}, "
            f"ttl={self.ttl!r}, policy={self.policy!r}, refresh_after={self.refresh_after!r}, "
            f"size={len(self)})"
        )
