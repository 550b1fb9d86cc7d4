"""What leaves a VersionCache and when: limits, LRU order, TinyLFU scan resistance, TTL.

Limit tests run against both policies and assert only what the contract fixes for both (how many
entries go, never which); LRU's exact order has its own section.
"""

from __future__ import annotations

from typing import Any

import pytest

from dagcore.cache import VersionCache


class Blob:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Blob({self.name!r})"


# --- limits, both policies ---------------------------------------------------------------------


def test_max_entries_bounds_the_live_entries(policy: str, evict_log) -> None:
    cache = VersionCache(max_entries=5, policy=policy, on_evict=evict_log)
    values = {f"v{i}": Blob(str(i)) for i in range(12)}
    for key, value in values.items():
        cache.put(key, value)
        assert len(cache) <= 5
    assert len(cache) == 5
    assert cache.stats.size == 5
    assert cache.stats.evictions == 7
    assert evict_log.reasons() == ["size"] * 7
    evicted = evict_log.keys()
    assert all(values[key] is value for key, value, _ in evict_log.events)
    assert set(evicted).isdisjoint(cache.keys())
    assert sorted(evicted + cache.keys()) == sorted(values)


def test_max_bytes_bounds_the_total_weight(policy: str, evict_log) -> None:
    cache = VersionCache(max_entries=None, max_bytes=20, policy=policy, on_evict=evict_log)
    weights = [5, 7, 3, 9, 1, 8, 6, 2]
    for i, weight in enumerate(weights):
        cache.put(i, Blob(str(i)), weight=weight)
        assert cache.stats.weight <= 20
    live = cache.keys()
    assert cache.stats.weight == sum(weights[k] for k in live)
    assert cache.stats.evictions == len(evict_log.events) == len(weights) - len(live)
    assert evict_log.reasons() == ["size"] * cache.stats.evictions
    assert sorted(evict_log.keys() + live) == list(range(len(weights)))


def test_a_full_cache_evicts_only_as_much_as_needed(policy: str, evict_log) -> None:
    cache = VersionCache(max_entries=4, max_bytes=100, policy=policy, on_evict=evict_log)
    for i in range(4):
        cache.put(i, Blob(str(i)), weight=10)
    assert evict_log.events == []
    cache.put(4, Blob("4"), weight=10)
    assert len(evict_log.events) == 1
    assert len(cache) == 4


@pytest.mark.parametrize(
    ("weight", "puts", "evictions", "size_after"),
    [
        # max_entries=3, max_bytes=10
        (1, 5, 2, 3),  # 5 entries of weight 1: the entry count is the limit
        (4, 4, 2, 2),  # entries of weight 4: the third already weighs 12 > 10
    ],
    ids=["entries-limit-first", "bytes-limit-first"],
)
def test_whichever_limit_is_reached_first_evicts(
    policy: str, weight: int, puts: int, evictions: int, size_after: int
) -> None:
    cache = VersionCache(max_entries=3, max_bytes=10, policy=policy)
    for i in range(puts):
        cache.put(i, Blob(str(i)), weight=weight)
        assert len(cache) <= 3
        assert cache.stats.weight <= 10
    assert cache.stats.evictions == evictions
    assert len(cache) == size_after
    assert cache.stats.weight == size_after * weight


def test_an_entry_heavier_than_max_bytes_is_rejected(policy: str, evict_log) -> None:
    cache = VersionCache(max_bytes=10, policy=policy, on_evict=evict_log)
    old, other = Blob("old"), Blob("other")
    cache.put("k", old, weight=3)
    cache.put("other", other, weight=4)
    cache.put("k", Blob("too heavy"), weight=11)
    assert "k" not in cache
    assert cache.get("k") is None
    assert cache.get("other") is other
    assert cache.stats.rejections == 1
    assert cache.stats.evictions == 0
    assert (cache.stats.size, cache.stats.weight) == (1, 4)
    assert [e for e in evict_log.events if e[1] is old] == [("k", old, "replaced")]

    cache.put("new", Blob("also too heavy"), weight=1000)
    assert "new" not in cache
    assert cache.stats.rejections == 2
    assert cache.keys() == ["other"]


def test_an_entry_as_heavy_as_max_bytes_fits_an_empty_cache(policy: str) -> None:
    cache = VersionCache(max_bytes=10, policy=policy)
    value = Blob("exactly")
    cache.put("k", value, weight=10)
    assert cache.get("k") is value
    assert (cache.stats.weight, cache.stats.rejections) == (10, 0)


def test_an_overweight_load_is_returned_but_not_cached(policy: str) -> None:
    cache = VersionCache(max_bytes=10, policy=policy)
    value = Blob("big")
    assert cache.get_or_load("k", lambda: value, weight=lambda v: 50) is value
    assert "k" not in cache
    assert (cache.stats.loads, cache.stats.rejections, cache.stats.size) == (1, 1, 0)


def test_max_entries_alone_ignores_weight(policy: str) -> None:
    cache = VersionCache(max_entries=3, max_bytes=None, policy=policy)
    for i in range(3):
        cache.put(i, Blob(str(i)), weight=10**9)
    assert len(cache) == 3
    assert cache.stats.weight == 3 * 10**9
    assert (cache.stats.evictions, cache.stats.rejections) == (0, 0)


def test_unbounded_cache_never_evicts(policy: str) -> None:
    cache = VersionCache(max_entries=None, max_bytes=None, policy=policy)
    for i in range(20_000):
        cache.put(i, i, weight=1 + i % 7)
    assert len(cache) == 20_000
    stats = cache.stats
    assert (stats.size, stats.evictions, stats.rejections) == (20_000, 0, 0)
    assert stats.weight == sum(1 + i % 7 for i in range(20_000))
    assert (stats.max_entries, stats.max_bytes) == (None, None)
    assert all(cache.get(i) == i for i in range(0, 20_000, 997))


# --- LRU order -----------------------------------------------------------------------------------------


def lru(max_entries: int | None = 3, **options: Any) -> VersionCache:
    return VersionCache(max_entries=max_entries, policy="lru", **options)


def test_lru_evicts_the_least_recently_put_first(evict_log) -> None:
    cache = lru(on_evict=evict_log)
    for key in "abcde":
        cache.put(key, key.upper())
    assert evict_log.events == [("a", "A", "size"), ("b", "B", "size")]
    assert cache.keys() == ["c", "d", "e"]


def test_lru_get_hit_promotes(evict_log) -> None:
    cache = lru(on_evict=evict_log)
    for key in "abc":
        cache.put(key, key)
    cache.get("a")
    cache.put("d", "d")
    assert evict_log.keys() == ["b"]
    assert cache.keys() == ["c", "a", "d"]


def test_lru_keys_are_least_recently_used_first() -> None:
    cache = lru(max_entries=10)
    for key in (1, 2, 3, 4):
        cache.put(key, key)
    cache.get(2)
    cache.get(1)
    cache.get(99)  # a miss changes nothing
    assert cache.keys() == [3, 4, 2, 1]


def test_lru_contains_does_not_promote(evict_log) -> None:
    cache = lru(on_evict=evict_log)
    for key in "abc":
        cache.put(key, key)
    assert "a" in cache
    cache.put("d", "d")
    assert evict_log.keys() == ["a"]
    assert cache.keys() == ["b", "c", "d"]


def test_lru_keys_and_len_do_not_promote() -> None:
    cache = lru()
    for key in "abc":
        cache.put(key, key)
    cache.keys()
    len(cache)
    cache.put("d", "d")
    assert cache.keys() == ["b", "c", "d"]


def test_lru_overwrite_counts_as_a_use(evict_log) -> None:
    cache = lru(on_evict=evict_log)
    for key in "abc":
        cache.put(key, key)
    cache.put("a", "A")
    cache.put("d", "d")
    assert evict_log.events == [("a", "a", "replaced"), ("b", "b", "size")]
    assert cache.keys() == ["c", "a", "d"]


def test_lru_get_or_load_hit_promotes() -> None:
    cache = lru()
    for key in "abc":
        cache.put(key, key)
    cache.get_or_load("a", lambda: pytest.fail("a is cached"))
    cache.get_or_load("d", lambda: "d")
    assert cache.keys() == ["c", "a", "d"]


def test_lru_evicts_for_weight_from_the_old_end(evict_log) -> None:
    cache = lru(max_entries=None, max_bytes=10, on_evict=evict_log)
    cache.put("a", "a", weight=4)
    cache.put("b", "b", weight=4)
    cache.put("c", "c", weight=1)
    cache.put("a", "A", weight=10)  # b, c, a now weigh 15: b and then c must go, a (newest) stays
    assert sorted(evict_log.events) == [("a", "a", "replaced"), ("b", "b", "size"), ("c", "c", "size")]
    assert cache.keys() == ["a"]
    assert cache.stats.weight == 10


def test_lru_overwrite_within_limits_evicts_nothing(evict_log) -> None:
    cache = lru(max_entries=2, on_evict=evict_log)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 3)
    assert evict_log.reasons() == ["replaced"]
    assert cache.keys() == ["b", "a"]


# --- TinyLFU scan resistance -------------------------------------------------------------------


HOT_KEYS = [f"hot:{i}" for i in range(32)]
CAPACITY = 256
SCAN_LENGTH = 20 * CAPACITY


def run_hot_set_then_scan(cache: VersionCache) -> float:
    """Uses a hot set heavily, then scans cold keys once each; returns the share of hot keys kept."""
    for key in HOT_KEYS:
        cache.put(key, key)
    for _ in range(16):
        for key in HOT_KEYS:
            assert cache.get(key) == key
    for i in range(SCAN_LENGTH):
        key = f"cold:{i}"
        assert cache.get(key) is None
        cache.put(key, key)
    return sum(key in cache for key in HOT_KEYS) / len(HOT_KEYS)


SCAN_BOUNDS = {"max_entries": {"max_entries": CAPACITY}, "max_bytes": {"max_entries": None, "max_bytes": CAPACITY}}


@pytest.mark.parametrize("bounds", SCAN_BOUNDS.values(), ids=SCAN_BOUNDS.keys())
def test_tinylfu_keeps_hot_keys_through_a_scan(bounds: dict[str, Any]) -> None:
    cache = VersionCache(policy="tinylfu", **bounds)
    kept = run_hot_set_then_scan(cache)
    assert kept >= 0.9, f"tinylfu kept only {kept:.0%} of the hot keys through a scan"
    assert len(cache) <= CAPACITY
    assert cache.stats.evictions == len(HOT_KEYS) + SCAN_LENGTH - len(cache)


@pytest.mark.parametrize("bounds", SCAN_BOUNDS.values(), ids=SCAN_BOUNDS.keys())
def test_lru_scan_flushes_hot_keys(bounds: dict[str, Any]) -> None:
    cache = VersionCache(policy="lru", **bounds)
    assert run_hot_set_then_scan(cache) == 0.0
    assert len(cache) == CAPACITY


# --- TTL ----------------------------------------------------------------------------------------------


def test_expired_entry_is_a_miss_and_is_removed(policy: str, clock, evict_log) -> None:
    cache = VersionCache(ttl=10, policy=policy, clock=clock, on_evict=evict_log)
    value = Blob("v")
    cache.put("k", value, weight=3)
    clock.advance(10.5)
    sentinel = object()
    assert cache.get("k", sentinel) is sentinel
    stats = cache.stats
    assert (stats.hits, stats.misses, stats.expirations, stats.evictions, stats.invalidations) == (0, 1, 1, 0, 0)
    assert (stats.size, stats.weight) == (0, 0)
    assert evict_log.events == [("k", value, "expired")]
    assert cache.get("k") is None
    assert cache.stats.expirations == 1  # removed by the first miss, not expired twice
    assert cache.invalidate("k") is False


def test_a_hit_does_not_rearm_the_ttl(policy: str, clock) -> None:
    cache = VersionCache(ttl=10, policy=policy, clock=clock)
    cache.put("k", "v")
    clock.set(9)  # ttl - 1
    assert cache.get("k") == "v"
    clock.set(10.5)  # ttl + 0.5 after the put, 1.5 after the hit
    assert cache.get("k") is None
    assert (cache.stats.hits, cache.stats.misses, cache.stats.expirations) == (1, 1, 1)


def test_a_put_rearms_the_ttl(policy: str, clock) -> None:
    cache = VersionCache(ttl=10, policy=policy, clock=clock)
    cache.put("k", "old")
    clock.set(8)
    cache.put("k", "new")
    clock.set(17)  # 17 s after the first put, 9 s after the second
    assert cache.get("k") == "new"
    clock.set(18.5)
    assert cache.get("k") is None


def test_each_entry_has_its_own_age(policy: str, clock) -> None:
    cache = VersionCache(ttl=10, policy=policy, clock=clock)
    cache.put("early", 1)
    clock.set(5)
    cache.put("late", 2)
    clock.set(12)
    assert cache.get("early") is None
    assert cache.get("late") == 2
    clock.set(15.5)
    assert cache.get("late") is None
    assert cache.stats.expirations == 2


def test_membership_len_keys_and_size_ignore_expired_entries(policy: str, clock) -> None:
    cache = VersionCache(ttl=10, policy=policy, clock=clock)
    cache.put("old", 1)
    clock.set(5)
    cache.put("young", 2)
    clock.set(11)  # old is 11 s old, young 6 s
    assert "old" not in cache
    assert "young" in cache
    assert len(cache) == 1
    assert cache.keys() == ["young"]
    assert cache.stats.size == 1
    clock.set(100)
    assert len(cache) == 0
    assert cache.keys() == []
    assert cache.stats.size == 0
    assert "young" not in cache


def test_get_or_load_reloads_an_expired_entry(policy: str, clock) -> None:
    cache = VersionCache(ttl=10, policy=policy, clock=clock)
    first = cache.get_or_load("k", lambda: Blob("first"))
    clock.set(9)
    assert cache.get_or_load("k", lambda: Blob("unexpected")) is first
    clock.set(10.5)
    second = cache.get_or_load("k", lambda: Blob("second"))
    assert second.name == "second"
    assert cache.get("k") is second
    assert cache.stats.loads == 2


EXPIRED_INVALIDATIONS = {
    "invalidate": (lambda cache: cache.invalidate("k"), False),
    "invalidate_tag": (lambda cache: cache.invalidate_tag("dag"), 0),
    "clear": (lambda cache: cache.clear(), 0),
}


@pytest.mark.parametrize(("invalidation", "result"), EXPIRED_INVALIDATIONS.values(), ids=EXPIRED_INVALIDATIONS.keys())
def test_invalidating_an_expired_entry_finds_nothing(policy: str, clock, evict_log, invalidation, result: Any) -> None:
    """An expired entry is gone for `in`, len, keys and stats.size; invalidation must agree."""
    cache = VersionCache(ttl=10, policy=policy, clock=clock, on_evict=evict_log)
    cache.put("k", 1, tag="dag")
    clock.set(20)
    assert invalidation(cache) == result
    assert cache.stats.invalidations == 0
    assert "invalidated" not in evict_log.reasons()
    assert evict_log.reasons() in ([], ["expired"])


def test_no_ttl_means_no_expiry(policy: str, clock) -> None:
    cache = VersionCache(ttl=None, policy=policy, clock=clock)
    cache.put("k", "v")
    clock.advance(1e9)
    assert cache.get("k") == "v"
    assert cache.stats.expirations == 0


def test_default_clock_keeps_a_fresh_entry(policy: str) -> None:
    cache = VersionCache(ttl=3600, policy=policy)
    cache.put("k", "v")
    assert cache.get("k") == "v"
