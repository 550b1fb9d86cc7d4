"""The VersionCache contract, run against every policy (the ``policy`` fixture: lru and tinylfu).

Only behaviour the contract states for all policies is asserted here; which entry a full cache
drops is policy-specific and lives in test_cache_eviction.py.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest

from dagcore.cache import CacheStats, VersionCache

STATS_FIELDS = (
    "hits",
    "misses",
    "loads",
    "load_failures",
    "evictions",
    "expirations",
    "invalidations",
    "rejections",
    "size",
    "weight",
    "max_entries",
    "max_bytes",
)

MISSING = object()


class Blob:
    """A distinct value object (identity matters: the cache must hand back the object it was given)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Blob({self.name!r})"


class LoadError(Exception):
    """Raised by test loaders."""


def counters(cache: VersionCache) -> dict[str, Any]:
    return dataclasses.asdict(cache.stats)


# --- construction and configuration -------------------------------------------------------------


def test_defaults() -> None:
    cache = VersionCache()
    assert cache.max_entries == 4096
    assert cache.max_bytes is None
    assert cache.ttl is None
    assert cache.policy == "lru"
    assert cache.stats.max_entries == 4096
    assert cache.stats.max_bytes is None


def test_configuration_is_exposed(policy: str) -> None:
    cache = VersionCache(max_entries=10, max_bytes=100, ttl=5.0, policy=policy)
    assert (cache.max_entries, cache.max_bytes, cache.ttl, cache.policy) == (10, 100, 5.0, policy)
    assert (cache.stats.max_entries, cache.stats.max_bytes) == (10, 100)


def test_ttl_accepts_an_int_number_of_seconds() -> None:
    assert VersionCache(ttl=5).ttl == 5


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("max_entries", 1), ("max_bytes", 1), ("ttl", 1.0), ("policy", "tinylfu")],
    ids=["max_entries", "max_bytes", "ttl", "policy"],
)
def test_configuration_is_read_only(attribute: str, value: Any) -> None:
    cache = VersionCache()
    before = getattr(cache, attribute)
    with pytest.raises(AttributeError):
        setattr(cache, attribute, value)
    assert getattr(cache, attribute) == before


# --- get / put / len / in / keys -------------------------------------------------------------------


@pytest.mark.parametrize("key", ["dag_version:1", "", 0, 7, -3, 2**40], ids=["str", "empty-str", "zero", "int", "negative-int", "large-int"])
def test_get_returns_the_object_put_stored(policy: str, key: str | int) -> None:
    cache = VersionCache(policy=policy)
    value = Blob("v")
    assert cache.put(key, value) is None
    assert cache.get(key) is value


def test_int_and_str_keys_are_distinct(policy: str) -> None:
    cache = VersionCache(policy=policy)
    as_int, as_str = Blob("int"), Blob("str")
    cache.put(1, as_int)
    cache.put("1", as_str)
    assert len(cache) == 2
    assert cache.get(1) is as_int
    assert cache.get("1") is as_str


def test_miss_returns_the_default(policy: str) -> None:
    cache = VersionCache(policy=policy)
    sentinel = object()
    assert cache.get("absent") is None
    assert cache.get("absent", sentinel) is sentinel
    assert cache.get("absent", default=sentinel) is sentinel


def test_any_python_object_is_a_value(policy: str) -> None:
    cache = VersionCache(policy=policy)
    values = {"none": None, "int": 3, "list": [1, 2], "dict": {}, "class": Blob}
    for key, value in values.items():
        cache.put(key, value)
    for key, value in values.items():
        assert cache.get(key, MISSING) is value


def test_a_stored_none_is_a_hit(policy: str) -> None:
    cache = VersionCache(policy=policy)
    cache.put("k", None)
    assert cache.get("k", MISSING) is None
    assert (cache.stats.hits, cache.stats.misses) == (1, 0)


def test_overwrite_replaces_value_and_weight(policy: str, evict_log) -> None:
    cache = VersionCache(max_bytes=100, policy=policy, on_evict=evict_log)
    old, new = Blob("old"), Blob("new")
    cache.put("k", old, weight=3)
    cache.put("k", new, weight=5)
    assert cache.get("k") is new
    assert len(cache) == 1
    assert cache.stats.weight == 5
    assert evict_log.events == [("k", old, "replaced")]
    assert (cache.stats.evictions, cache.stats.invalidations) == (0, 0)


def test_len_counts_live_entries(policy: str) -> None:
    cache = VersionCache(policy=policy)
    assert len(cache) == 0
    for i in range(5):
        cache.put(i, Blob(str(i)))
    cache.put(0, Blob("again"))
    assert len(cache) == 5
    cache.invalidate(3)
    assert len(cache) == 4


def test_contains_reports_membership_without_touching_stats(policy: str) -> None:
    cache = VersionCache(policy=policy)
    cache.put("present", Blob("p"))
    before = cache.stats
    assert "present" in cache
    assert "absent" not in cache
    assert 1 not in cache
    assert cache.stats == before


def test_keys_is_a_snapshot_list(policy: str) -> None:
    cache = VersionCache(policy=policy)
    cache.put("a", 1)
    cache.put(2, 2)
    keys = cache.keys()
    assert isinstance(keys, list)
    assert sorted(keys, key=str) == [2, "a"]
    cache.put("c", 3)
    cache.invalidate("a")
    assert sorted(keys, key=str) == [2, "a"]
    keys.append("mutating the snapshot")
    assert sorted(cache.keys(), key=str) == [2, "c"]


def test_keys_of_an_empty_cache(policy: str) -> None:
    assert VersionCache(policy=policy).keys() == []


# --- invalidation -----------------------------------------------------------------------------------


def test_invalidate_removes_the_entry_and_reports_whether_it_existed(policy: str, evict_log) -> None:
    cache = VersionCache(policy=policy, on_evict=evict_log)
    value = Blob("v")
    cache.put("k", value)
    cache.put("other", Blob("o"))
    assert cache.invalidate("k") is True
    assert "k" not in cache
    assert cache.get("k") is None
    assert cache.invalidate("k") is False
    assert cache.invalidate("never") is False
    assert cache.keys() == ["other"]
    assert cache.stats.invalidations == 1
    assert evict_log.events == [("k", value, "invalidated")]


def test_invalidate_tag_removes_only_that_tag(policy: str, evict_log) -> None:
    cache = VersionCache(policy=policy, on_evict=evict_log)
    a1, a2 = Blob("a1"), Blob("a2")
    cache.put("a1", a1, tag="dag_a")
    cache.put("a2", a2, tag="dag_a")
    cache.put("b1", Blob("b1"), tag="dag_b")
    cache.put("untagged", Blob("u"))
    cache.put("dag_a", Blob("key named like the tag"))

    assert cache.invalidate_tag("dag_a") == 2
    assert sorted(cache.keys()) == ["b1", "dag_a", "untagged"]
    assert cache.stats.invalidations == 2
    assert sorted(evict_log.events, key=lambda e: e[0]) == [("a1", a1, "invalidated"), ("a2", a2, "invalidated")]

    assert cache.invalidate_tag("dag_a") == 0
    assert cache.invalidate_tag("no such dag") == 0
    assert cache.stats.invalidations == 2
    assert len(cache) == 3


def test_invalidate_tag_skips_entries_already_invalidated(policy: str) -> None:
    cache = VersionCache(policy=policy)
    cache.put(1, "x", tag="dag")
    cache.put(2, "y", tag="dag")
    cache.invalidate(1)
    assert cache.invalidate_tag("dag") == 1
    assert cache.stats.invalidations == 2


def test_overwrite_moves_the_entry_to_its_new_tag(policy: str) -> None:
    cache = VersionCache(policy=policy)
    cache.put("k", "v1", tag="old")
    cache.put("k", "v2", tag="new")
    assert cache.invalidate_tag("old") == 0
    assert "k" in cache
    cache.put("k", "v3")  # no tag any more
    assert cache.invalidate_tag("new") == 0
    assert cache.get("k") == "v3"


def test_clear_removes_everything_and_returns_the_count(policy: str, evict_log) -> None:
    cache = VersionCache(policy=policy, on_evict=evict_log)
    values = {i: Blob(str(i)) for i in range(4)}
    for key, value in values.items():
        cache.put(key, value, tag="dag" if key % 2 else None)
    assert cache.clear() == 4
    assert len(cache) == 0
    assert cache.keys() == []
    assert (cache.stats.size, cache.stats.weight, cache.stats.invalidations) == (0, 0, 4)
    assert sorted(evict_log.events, key=lambda e: e[0]) == [(k, v, "invalidated") for k, v in values.items()]
    assert cache.clear() == 0
    assert cache.invalidate_tag("dag") == 0


def test_cache_is_usable_after_clear(policy: str) -> None:
    cache = VersionCache(max_entries=2, policy=policy)
    cache.put("a", 1)
    cache.clear()
    cache.put("b", 2)
    assert cache.get("b") == 2
    assert len(cache) == 1


# --- stats ----------------------------------------------------------------------------------------


def test_stats_is_a_cache_stats_dataclass_with_the_contract_fields_in_order() -> None:
    stats = VersionCache().stats
    assert isinstance(stats, CacheStats)
    assert dataclasses.is_dataclass(stats)
    assert tuple(f.name for f in dataclasses.fields(CacheStats)) == STATS_FIELDS


@pytest.mark.parametrize("field", STATS_FIELDS)
def test_stats_is_frozen(field: str) -> None:
    stats = VersionCache().stats
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(stats, field, 99)
    assert getattr(stats, field) != 99


def test_fresh_stats(policy: str) -> None:
    cache = VersionCache(max_entries=7, max_bytes=70, policy=policy)
    assert counters(cache) == dict.fromkeys(STATS_FIELDS, 0) | {"max_entries": 7, "max_bytes": 70}


@pytest.mark.parametrize(
    ("max_entries", "max_bytes"),
    [(7, None), (None, 70), (None, None)],
    ids=["entries-only", "bytes-only", "unbounded"],
)
def test_stats_echo_the_limits(max_entries: int | None, max_bytes: int | None) -> None:
    stats = VersionCache(max_entries=max_entries, max_bytes=max_bytes).stats
    assert (stats.max_entries, stats.max_bytes) == (max_entries, max_bytes)


def test_stats_is_a_snapshot(policy: str) -> None:
    cache = VersionCache(policy=policy)
    before = cache.stats
    cache.put("k", 1)
    cache.get("k")
    assert (before.size, before.hits) == (0, 0)
    assert (cache.stats.size, cache.stats.hits) == (1, 1)


def test_stats_count_lookups_size_and_weight(policy: str) -> None:
    cache = VersionCache(max_bytes=1000, policy=policy)
    cache.put("a", 1, weight=10)
    cache.put("b", 2, weight=32)
    cache.get("a")
    cache.get("a")
    cache.get("b")
    cache.get("nope")
    "a" in cache  # noqa: B015 - membership must not count
    cache.keys()
    len(cache)
    assert counters(cache) == {
        "hits": 3,
        "misses": 1,
        "loads": 0,
        "load_failures": 0,
        "evictions": 0,
        "expirations": 0,
        "invalidations": 0,
        "rejections": 0,
        "size": 2,
        "weight": 42,
        "max_entries": 4096,
        "max_bytes": 1000,
    }
    assert cache.stats.hit_ratio == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("hits", "misses", "ratio"),
    [(0, 0, 0.0), (5, 0, 1.0), (0, 4, 0.0), (3, 1, 0.75), (1, 2, 1 / 3)],
    ids=["no-lookups", "all-hits", "all-misses", "three-of-four", "one-of-three"],
)
def test_hit_ratio(hits: int, misses: int, ratio: float) -> None:
    stats = CacheStats(**(dict.fromkeys(STATS_FIELDS, 0) | {"hits": hits, "misses": misses}))
    assert stats.hit_ratio == pytest.approx(ratio)
    assert isinstance(stats.hit_ratio, float)


def test_hit_ratio_of_a_live_cache(policy: str) -> None:
    cache = VersionCache(policy=policy)
    assert cache.stats.hit_ratio == 0.0
    cache.get("x")
    cache.put("x", 1)
    cache.get("x")
    cache.get("x")
    cache.get("x")
    assert cache.stats.hit_ratio == pytest.approx(0.75)


# --- get_or_load --------------------------------------------------------------------------------


class CountingLoader:
    """A loader that returns a fresh Blob per call and counts its calls."""

    def __init__(self, name: str = "loaded") -> None:
        self.name = name
        self.calls = 0
        self.args: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Blob:
        self.calls += 1
        self.args.append(args + tuple(kwargs.items()))
        return Blob(f"{self.name}#{self.calls}")


def test_get_or_load_loads_once_then_serves_from_the_cache(policy: str) -> None:
    cache = VersionCache(policy=policy)
    loader = CountingLoader()
    first = cache.get_or_load("k", loader)
    second = cache.get_or_load("k", loader)
    assert second is first
    assert cache.get("k") is first
    assert loader.calls == 1
    assert loader.args == [()]
    stats = cache.stats
    assert (stats.hits, stats.misses, stats.loads, stats.load_failures, stats.size) == (2, 1, 1, 0, 1)


def test_get_or_load_serves_a_put_value_without_loading(policy: str) -> None:
    cache = VersionCache(policy=policy)
    value = Blob("put")
    cache.put(5, value)
    loader = CountingLoader()
    assert cache.get_or_load(5, loader) is value
    assert loader.calls == 0
    assert (cache.stats.hits, cache.stats.misses, cache.stats.loads) == (1, 0, 0)


@pytest.mark.parametrize(
    ("weight", "expected"),
    [(7, 7), (None, 1), (lambda value: len(value), 11), (len, 11)],
    ids=["int", "none-means-1", "lambda", "builtin-callable"],
)
def test_get_or_load_weight(policy: str, weight: Any, expected: int) -> None:
    cache = VersionCache(max_bytes=100, policy=policy)
    value = "eleven char"
    assert cache.get_or_load("k", lambda: value, weight=weight) is value
    assert cache.stats.weight == expected


def test_get_or_load_weight_callable_gets_the_loaded_value_once(policy: str) -> None:
    cache = VersionCache(max_bytes=100, policy=policy)
    seen: list[Any] = []

    def weigh(value: Any) -> int:
        seen.append(value)
        return 4

    value = cache.get_or_load("k", CountingLoader(), weight=weigh)
    assert len(seen) == 1
    assert seen[0] is value
    cache.get_or_load("k", CountingLoader(), weight=weigh)  # a hit does not weigh again
    assert len(seen) == 1


def test_get_or_load_default_weight_is_one(policy: str) -> None:
    cache = VersionCache(max_bytes=100, policy=policy)
    cache.get_or_load("k", CountingLoader())
    assert cache.stats.weight == 1


def test_get_or_load_tag(policy: str) -> None:
    cache = VersionCache(policy=policy)
    cache.get_or_load("v1", CountingLoader(), tag="dag")
    cache.get_or_load("v2", CountingLoader(), tag="other")
    assert cache.invalidate_tag("dag") == 1
    assert cache.keys() == ["v2"]


def test_loader_error_propagates_and_nothing_is_cached(policy: str, evict_log) -> None:
    cache = VersionCache(policy=policy, on_evict=evict_log)
    calls = 0

    def failing() -> Any:
        nonlocal calls
        calls += 1
        raise LoadError(f"serialized dag is corrupt (attempt {calls})")

    with pytest.raises(LoadError, match=r"corrupt \(attempt 1\)"):
        cache.get_or_load("k", failing)
    assert "k" not in cache
    assert len(cache) == 0
    stats = cache.stats
    assert (stats.misses, stats.loads, stats.load_failures, stats.size) == (1, 0, 1, 0)

    with pytest.raises(LoadError, match=r"attempt 2"):
        cache.get_or_load("k", failing)
    assert calls == 2
    assert cache.stats.load_failures == 2

    value = cache.get_or_load("k", CountingLoader())
    assert cache.get("k") is value
    assert (cache.stats.loads, cache.stats.load_failures) == (1, 2)
    assert evict_log.events == []


@pytest.mark.parametrize(
    "error",
    [KeyError("k"), RuntimeError("boom"), KeyboardInterrupt(), SystemExit(3)],
    ids=["KeyError", "RuntimeError", "KeyboardInterrupt", "SystemExit"],
)
def test_loader_error_type_is_preserved(policy: str, error: BaseException) -> None:
    cache = VersionCache(policy=policy)

    def failing() -> Any:
        raise error

    with pytest.raises(type(error)) as caught:
        cache.get_or_load("k", failing)
    assert caught.value is error
    assert "k" not in cache


def test_loader_may_use_the_cache_for_other_keys(policy: str, call_without_hanging) -> None:
    cache = VersionCache(policy=policy)
    cache.put("dep", Blob("dep"))

    def loader() -> Blob:
        dep = cache.get("dep")
        cache.put("side", Blob("side"))
        nested = cache.get_or_load("nested", lambda: Blob("nested"))
        cache.invalidate("gone")
        return Blob(f"built from {dep.name} and {nested.name} with {len(cache)} entries")

    cache.put("gone", 1)
    value = call_without_hanging(cache.get_or_load, "outer", loader)
    assert value.name == "built from dep and nested with 3 entries"
    assert cache.get("outer") is value
    assert sorted(cache.keys()) == ["dep", "nested", "outer", "side"]
    assert cache.stats.loads == 2


def test_loader_reentering_its_own_key_gets_runtime_error(policy: str, call_without_hanging) -> None:
    cache = VersionCache(policy=policy)
    inner_errors: list[BaseException] = []

    def loader() -> Blob:
        try:
            cache.get_or_load("k", lambda: Blob("inner"))
        except RuntimeError as exc:
            inner_errors.append(exc)
        return Blob("outer")

    value = call_without_hanging(cache.get_or_load, "k", loader)
    assert [type(e) for e in inner_errors] == [RuntimeError]
    assert value.name == "outer"
    assert cache.get("k") is value


def test_uncaught_reentry_fails_the_outer_load(policy: str, call_without_hanging) -> None:
    cache = VersionCache(policy=policy)

    def loader() -> Blob:
        return cache.get_or_load("k", lambda: Blob("inner"))

    with pytest.raises(RuntimeError):
        call_without_hanging(cache.get_or_load, "k", loader)
    assert "k" not in cache
    assert (cache.stats.loads, cache.stats.load_failures) == (0, 1)


def test_indirect_reentry_through_another_key_gets_runtime_error(policy: str, call_without_hanging) -> None:
    """a's loader loads b, whose loader asks for a again: a cycle, which must fail, not hang."""
    cache = VersionCache(policy=policy)
    inner_errors: list[BaseException] = []

    def load_b() -> Blob:
        try:
            cache.get_or_load("a", lambda: Blob("a via b"))
        except RuntimeError as exc:
            inner_errors.append(exc)
        return Blob("b")

    value = call_without_hanging(cache.get_or_load, "a", lambda: Blob(f"a needs {cache.get_or_load('b', load_b).name}"))
    assert [type(e) for e in inner_errors] == [RuntimeError]
    assert value.name == "a needs b"
    assert sorted(cache.keys()) == ["a", "b"]


INVALIDATIONS = {
    "invalidate": lambda cache: cache.invalidate("k"),
    "invalidate_tag": lambda cache: cache.invalidate_tag("dag"),
    "clear": lambda cache: cache.clear(),
}


@pytest.mark.parametrize("invalidation", INVALIDATIONS.values(), ids=INVALIDATIONS.keys())
def test_invalidation_during_a_load_is_not_undone(policy: str, invalidation) -> None:
    cache = VersionCache(policy=policy)
    cache.put("bystander", 1, tag="other")
    loaded = Blob("stale")

    def loader() -> Blob:
        invalidation(cache)
        return loaded

    assert cache.get_or_load("k", loader, tag="dag") is loaded
    assert "k" not in cache
    assert cache.get("k") is None
    assert cache.stats.loads == 1
    later = cache.get_or_load("k", CountingLoader(), tag="dag")
    assert later is not loaded
    assert cache.get("k") is later


def test_invalidate_tag_of_another_tag_during_a_load_does_not_block_caching(policy: str) -> None:
    cache = VersionCache(policy=policy)

    def loader() -> Blob:
        cache.invalidate_tag("other")
        cache.invalidate("some other key")
        return Blob("fresh")

    value = cache.get_or_load("k", loader, tag="dag")
    assert cache.get("k") is value


def test_put_during_a_load_wins(policy: str) -> None:
    cache = VersionCache(policy=policy)
    racing, loaded = Blob("racing writer"), Blob("loaded")

    def loader() -> Blob:
        cache.put("k", racing)
        return loaded

    assert cache.get_or_load("k", loader) is loaded
    assert cache.get("k") is racing
    assert len(cache) == 1


# --- on_evict ------------------------------------------------------------------------------------------


def _expire(cache: VersionCache, clock) -> None:
    clock.advance(11)
    assert cache.get("a") is None


ON_EVICT_SCENARIOS = {
    # id: (cache options, action after putting "a" (weight 2, tag "dag") then "b", expected reason for "a")
    "expired": ({"ttl": 10}, _expire, "expired"),
    "invalidate": ({}, lambda cache, clock: cache.invalidate("a"), "invalidated"),
    "invalidate_tag": ({}, lambda cache, clock: cache.invalidate_tag("dag"), "invalidated"),
    "clear": ({}, lambda cache, clock: cache.clear(), "invalidated"),
    "replaced": ({}, lambda cache, clock: cache.put("a", Blob("new")), "replaced"),
    "replaced-by-overweight": ({"max_bytes": 5}, lambda cache, clock: cache.put("a", Blob("fat"), weight=6), "replaced"),
}


@pytest.mark.parametrize(("options", "action", "reason"), ON_EVICT_SCENARIOS.values(), ids=ON_EVICT_SCENARIOS.keys())
def test_on_evict_reason(policy: str, clock, evict_log, options: dict[str, Any], action, reason: str) -> None:
    cache = VersionCache(policy=policy, clock=clock, on_evict=evict_log, **options)
    a = Blob("a")
    cache.put("a", a, weight=2, tag="dag")
    clock.advance(5)
    cache.put("b", Blob("b"))
    action(cache, clock)
    assert [e for e in evict_log.events if e[1] is a] == [("a", a, reason)]


@pytest.mark.parametrize(
    ("options", "weights"),
    [({"max_entries": 1}, (1, 1)), ({"max_bytes": 5}, (3, 3))],
    ids=["max_entries", "max_bytes"],
)
def test_on_evict_reason_size(policy: str, evict_log, options: dict[str, int], weights: tuple[int, int]) -> None:
    cache = VersionCache(policy=policy, on_evict=evict_log, **options)
    values = {"a": Blob("a"), "b": Blob("b")}
    for (key, value), weight in zip(values.items(), weights):
        cache.put(key, value, weight=weight)
    [(key, value, reason)] = evict_log.events
    assert reason == "size"
    assert value is values[key]
    assert key not in cache
    assert cache.stats.evictions == 1


def test_on_evict_is_not_called_by_lookups(policy: str, evict_log) -> None:
    cache = VersionCache(policy=policy, on_evict=evict_log)
    cache.put("a", 1)
    cache.get("a")
    cache.get("b")
    "a" in cache  # noqa: B015
    cache.keys()
    cache.get_or_load("a", CountingLoader())
    cache.get_or_load("c", CountingLoader())
    assert evict_log.events == []


def test_on_evict_runs_in_the_thread_that_caused_it(policy: str, call_without_hanging) -> None:
    threads: list[int] = []
    cache = VersionCache(max_entries=1, policy=policy, on_evict=lambda k, v, r: threads.append(threading.get_ident()))

    def churn() -> int:
        cache.put("a", 1)
        cache.put("b", 2)
        cache.put("b", 3)
        cache.invalidate("b")
        return threading.get_ident()

    worker = call_without_hanging(churn)
    assert worker != threading.get_ident()
    assert threads and set(threads) == {worker}


def test_on_evict_sees_the_entry_already_gone(policy: str, call_without_hanging) -> None:
    seen: list[tuple[bool, Any, int]] = []
    cache: VersionCache

    def on_evict(key: Any, value: Any, reason: str) -> None:
        seen.append((key in cache, cache.get(key, MISSING), len(cache)))

    cache = VersionCache(policy=policy, on_evict=on_evict)
    cache.put("a", 1)
    cache.put("b", 2)
    call_without_hanging(cache.invalidate, "a")
    assert seen == [(False, MISSING, 1)]


def _put_evicting(cache: VersionCache) -> None:
    cache.put("d", Blob("d"))  # which of a..d goes is the policy's choice; that one goes is the contract


ON_EVICT_ERROR_OPERATIONS = {
    # id: (action, expected on_evict calls, expected len afterwards)
    "invalidate": (lambda cache: cache.invalidate("a") is True, 1, 2),
    "invalidate_tag": (lambda cache: cache.invalidate_tag("dag") == 2, 2, 1),
    "clear": (lambda cache: cache.clear() == 3, 3, 0),
    "replace": (lambda cache: cache.put("a", Blob("a2")) is None and cache.get("a").name == "a2", 1, 3),
    "evict-for-size": (lambda cache: _put_evicting(cache) is None, 1, 3),
}


@pytest.mark.parametrize(
    ("action", "calls", "size_after"), ON_EVICT_ERROR_OPERATIONS.values(), ids=ON_EVICT_ERROR_OPERATIONS.keys()
)
def test_on_evict_error_goes_to_unraisablehook_and_the_operation_completes(
    policy: str, capture_unraisable, action, calls: int, size_after: int
) -> None:
    called: list[Any] = []

    def on_evict(key: Any, value: Any, reason: str) -> None:
        called.append(key)
        raise LoadError(f"on_evict failed for {key!r}")

    cache = VersionCache(max_entries=3, policy=policy, on_evict=on_evict)
    cache.put("a", Blob("a"), tag="dag")
    cache.put("b", Blob("b"), tag="dag")
    cache.put("c", Blob("c"))
    with capture_unraisable() as unraisable:
        assert action(cache)
    assert len(called) == calls
    assert len(cache) == size_after
    assert cache.stats.size == size_after
    assert [type(u.exc_value) for u in unraisable] == [LoadError] * calls
    assert sorted(str(u.exc_value) for u in unraisable) == sorted(f"on_evict failed for {k!r}" for k in called)
