"""VersionCache under threads and re-entrant user code.

Joins carry generous timeouts only so that a deadlock fails the test instead of hanging the run;
nothing here measures time. Overlap is arranged with a Barrier (all callers start together) and an
Event the loader waits on; the test releases the loader once the cache has counted every caller's
miss (or after a grace period, should the implementation count misses later).
"""

from __future__ import annotations

import faulthandler
import gc
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dagcore.cache import VersionCache

THREADS = 8
JOIN_TIMEOUT_S = 30.0
GRACE_S = 5.0


class Blob:
    def __init__(self, name: str) -> None:
        self.name = name


class LoadError(Exception):
    pass


def run_threads(target: Callable[[int], Any], count: int = THREADS) -> list[Any]:
    """Runs ``target(i)`` in ``count`` threads; returns each one's result or the exception it raised."""
    results: list[Any] = [None] * count

    def wrapper(i: int) -> None:
        try:
            results[i] = target(i)
        except BaseException as exc:  # noqa: BLE001 - inspected by the test
            results[i] = exc

    threads = [threading.Thread(target=wrapper, args=(i,), name=f"cache-worker-{i}", daemon=True) for i in range(count)]
    # A deadlock with the GIL held would stop the joins below from ever timing out: the watchdog
    # (a C thread) then dumps every thread's stack and ends the run instead of hanging it.
    faulthandler.dump_traceback_later(JOIN_TIMEOUT_S + 30, exit=True)
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
    finally:
        faulthandler.cancel_dump_traceback_later()
    hung = [t.name for t in threads if t.is_alive()]
    assert not hung, f"threads still running after {JOIN_TIMEOUT_S} s (deadlock?): {hung}"
    return results


def release_when_all_missed(cache: VersionCache, release: threading.Event, started: threading.Event) -> threading.Thread:
    """Sets ``release`` once the loader runs and the cache has counted every caller's miss."""

    def watch() -> None:
        started.wait(JOIN_TIMEOUT_S)
        deadline = time.monotonic() + GRACE_S
        while cache.stats.misses < THREADS and time.monotonic() < deadline:
            time.sleep(0.001)
        release.set()

    watcher = threading.Thread(target=watch, name="release-watcher", daemon=True)
    watcher.start()
    return watcher


@pytest.mark.parametrize("policy", ["lru", "tinylfu"])
def test_concurrent_misses_on_one_key_load_once(policy: str) -> None:
    cache = VersionCache(policy=policy)
    barrier = threading.Barrier(THREADS)
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow_loader() -> Blob:
        calls.append(threading.get_ident())
        started.set()
        assert release.wait(JOIN_TIMEOUT_S), "the test never released the loader"
        return Blob("dag v1")

    def caller(i: int) -> Blob:
        barrier.wait(JOIN_TIMEOUT_S)
        return cache.get_or_load("dag_version:1", slow_loader)

    watcher = release_when_all_missed(cache, release, started)
    results = run_threads(caller)
    watcher.join(JOIN_TIMEOUT_S)

    assert len(calls) == 1, f"loader called {len(calls)} times"
    assert all(isinstance(r, Blob) for r in results), results
    assert all(r is results[0] for r in results)
    stats = cache.stats
    assert (stats.loads, stats.misses, stats.hits, stats.load_failures) == (1, THREADS, 0, 0)
    assert cache.get("dag_version:1") is results[0]


@pytest.mark.parametrize("policy", ["lru", "tinylfu"])
def test_concurrent_misses_share_one_failure(policy: str) -> None:
    cache = VersionCache(policy=policy)
    barrier = threading.Barrier(THREADS)
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def failing_loader() -> Blob:
        calls.append(threading.get_ident())
        started.set()
        assert release.wait(JOIN_TIMEOUT_S), "the test never released the loader"
        raise LoadError("serialized dag 1 is corrupt")

    def caller(i: int) -> Blob:
        barrier.wait(JOIN_TIMEOUT_S)
        return cache.get_or_load("dag_version:1", failing_loader)

    watcher = release_when_all_missed(cache, release, started)
    results = run_threads(caller)
    watcher.join(JOIN_TIMEOUT_S)

    assert len(calls) == 1, f"loader called {len(calls)} times"
    assert [type(r) for r in results] == [LoadError] * THREADS, results
    assert {str(r) for r in results} == {"serialized dag 1 is corrupt"}
    stats = cache.stats
    assert (stats.loads, stats.load_failures, stats.misses, stats.size) == (0, 1, THREADS, 0)
    assert "dag_version:1" not in cache
    # The failure is not remembered: the next caller loads again.
    assert cache.get_or_load("dag_version:1", lambda: "v1") == "v1"
    assert cache.stats.loads == 1


@pytest.mark.parametrize("policy", ["lru", "tinylfu"])
def test_loads_of_different_keys_run_concurrently(policy: str) -> None:
    """Each loader waits until the other has started: serialised loads would deadlock."""
    cache = VersionCache(policy=policy)
    started = {"a": threading.Event(), "b": threading.Event()}

    def loader_for(key: str, other: str) -> Callable[[], str]:
        def load() -> str:
            started[key].set()
            assert started[other].wait(JOIN_TIMEOUT_S), f"loader {other} never started while {key} was loading"
            return f"value {key}"

        return load

    results = run_threads(
        lambda i: cache.get_or_load(*(("a", loader_for("a", "b")) if i == 0 else ("b", loader_for("b", "a")))), count=2
    )
    assert results == ["value a", "value b"]
    assert cache.stats.loads == 2


@pytest.mark.parametrize("policy", ["lru", "tinylfu"])
def test_invalidate_from_another_thread_during_a_load_is_not_undone(policy: str) -> None:
    cache = VersionCache(policy=policy)
    started, release = threading.Event(), threading.Event()
    value = Blob("loaded")

    def loader() -> Blob:
        started.set()
        assert release.wait(JOIN_TIMEOUT_S)
        return value

    def caller(i: int) -> Any:
        if i == 0:
            return cache.get_or_load("k", loader)
        assert started.wait(JOIN_TIMEOUT_S)
        cache.invalidate("k")
        release.set()
        return None

    results = run_threads(caller, count=2)
    assert results[0] is value
    assert "k" not in cache


@pytest.fixture
def frequent_gil_switches() -> Iterator[None]:
    """Hands the GIL over every 10 µs instead of 5 ms, so threads interleave inside cache calls."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@pytest.mark.parametrize("policy", ["lru", "tinylfu"])
def test_many_threads_mixing_every_operation_keep_the_invariants(policy: str, frequent_gil_switches: None) -> None:
    max_entries, max_bytes = 32, 100
    max_ops_per_thread, seconds = 40_000, 1.5  # whichever ends first: a slow (sanitizer) build still finishes
    evicted: Counter[str] = Counter()
    evict_lock = threading.Lock()
    loader_outcomes: Counter[str] = Counter()
    mismatches: list[Any] = []

    def on_evict(key: Any, value: Any, reason: str) -> None:
        with evict_lock:
            evicted[reason] += 1
            if value[0] != key:
                mismatches.append((key, value, reason))
        len(cache)  # re-entrant call from the callback, concurrently with everyone else

    cache = VersionCache(max_entries=max_entries, max_bytes=max_bytes, policy=policy, on_evict=on_evict)
    barrier = threading.Barrier(THREADS)

    def worker(i: int) -> int:
        rng = random.Random(i)
        lookups = 0
        barrier.wait(JOIN_TIMEOUT_S)
        deadline = time.monotonic() + seconds
        for n in range(max_ops_per_thread):
            if n % 256 == 0 and time.monotonic() > deadline:
                break
            k = rng.randrange(64)
            key: int | str = k if k % 2 else f"dag_version:{k}"
            weight = rng.randint(1, 8)
            roll = rng.random()
            if roll < 0.35:
                lookups += 1
                got = cache.get(key)
                assert got is None or got[0] == key, f"get({key!r}) returned {got!r}"
            elif roll < 0.60:
                cache.put(key, (key, weight), weight=weight, tag=f"dag{k % 4}")
            elif roll < 0.85:
                lookups += 1

                def load(key: Any = key, weight: int = weight) -> tuple[Any, int]:
                    if rng.random() < 0.05:
                        with evict_lock:
                            loader_outcomes["failed"] += 1
                        raise LoadError(key)
                    with evict_lock:
                        loader_outcomes["loaded"] += 1
                    return (key, weight)

                try:
                    got = cache.get_or_load(key, load, weight=lambda v: v[1], tag=f"dag{k % 4}")
                    assert got[0] == key
                except LoadError:
                    pass
            elif roll < 0.95:
                cache.invalidate(key)
            elif roll < 0.99:
                cache.invalidate_tag(f"dag{k % 4}")
                key in cache  # noqa: B015
                cache.keys()
            else:
                cache.clear()
            if n % 64 == 0:
                stats = cache.stats
                assert stats.size <= max_entries, stats
                assert stats.weight <= max_bytes, stats
        return lookups

    results = run_threads(worker)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    assert not mismatches, f"on_evict got values of other keys: {mismatches[:5]}"

    stats = cache.stats
    assert evicted["size"] and evicted["invalidated"] and loader_outcomes["failed"], "the mix did not exercise everything"
    assert stats.hits + stats.misses == sum(results)
    assert stats.loads == loader_outcomes["loaded"]
    assert stats.load_failures == loader_outcomes["failed"]
    assert stats.evictions == evicted["size"]
    assert stats.invalidations == evicted["invalidated"]
    assert stats.expirations == evicted["expired"] == 0
    assert stats.rejections == 0
    assert stats.size <= max_entries
    assert stats.weight <= max_bytes
    keys = cache.keys()
    assert len(keys) == len(set(keys)) == len(cache) == stats.size
    values = [cache.get(key) for key in keys]
    assert all(value[0] == key for key, value in zip(keys, values))
    assert sum(weight for _, weight in values) == stats.weight


# --- user code that calls back into the cache (must not run under a cache lock) ---------------------


def scenario_on_evict(policy: str) -> list[Any]:
    seen: list[Any] = []

    def on_evict(key: Any, value: Any, reason: str) -> None:
        seen.append((reason, cache.get(key), len(cache), "x" in cache, len(cache.keys()), cache.stats.size))
        if not str(key).startswith("side"):
            cache.put(f"side-{key}", value)  # may evict again, re-entering on_evict once more
            cache.invalidate("nothing")

    cache = VersionCache(max_entries=2, policy=policy, on_evict=on_evict)
    for key in "abcd":
        cache.put(key, key)
    cache.put("d", "d2")
    cache.invalidate("d")
    cache.invalidate_tag("none")
    cache.clear()
    assert len(cache) <= 2
    return seen


class CallsCacheOnDel:
    def __init__(self, cache: VersionCache, log: list[str]) -> None:
        self.cache = cache
        self.log = log

    def __del__(self) -> None:
        self.log.append(f"del saw {len(self.cache)} entries, get -> {self.cache.get('probe')}")
        self.cache.put("from-del", 1)


def scenario_value_del(policy: str) -> list[Any]:
    log: list[str] = []
    clock_now = [0.0]
    cache = VersionCache(max_entries=2, ttl=10, policy=policy, clock=lambda: clock_now[0])
    # Each of these drops the last reference to a value inside a cache operation.
    cache.put("replaced", CallsCacheOnDel(cache, log))
    cache.put("replaced", 0)
    cache.put("invalidated", CallsCacheOnDel(cache, log))
    cache.invalidate("invalidated")
    cache.put("tagged", CallsCacheOnDel(cache, log), tag="t")
    cache.invalidate_tag("t")
    cache.put("cleared", CallsCacheOnDel(cache, log))
    cache.clear()
    cache.put("expired", CallsCacheOnDel(cache, log))
    clock_now[0] = 20.0
    cache.get("expired")
    cache.clear()
    for i in range(4):
        cache.put(f"evicted{i}", CallsCacheOnDel(cache, log))  # max_entries=2: some go for size
    cache.clear()
    return log


def scenario_loader(policy: str) -> list[Any]:
    cache = VersionCache(max_entries=2, policy=policy)
    cache.put("x", 1)

    def loader() -> Any:
        return (cache.get("x"), len(cache), cache.get_or_load("other", lambda: 2), cache.invalidate("x"), cache.clear())

    return [cache.get_or_load("k", loader)]


def scenario_weight_callable(policy: str) -> list[Any]:
    cache = VersionCache(max_bytes=10, policy=policy)
    cache.put("x", 1)
    seen: list[Any] = []

    def weigh(value: Any) -> int:
        seen.append((len(cache), cache.get("x"), "k" in cache))
        cache.put("y", 2)
        return 3

    cache.get_or_load("k", lambda: "v", weight=weigh)
    return seen


def scenario_clock(policy: str) -> list[Any]:
    inside = threading.local()
    seen: list[Any] = []

    def clock() -> float:
        if not getattr(inside, "active", False):
            inside.active = True
            try:
                seen.append((len(cache), "k" in cache))
            finally:
                inside.active = False
        return 0.0

    cache = VersionCache(ttl=10, policy=policy, clock=clock)
    cache.put("k", 1)
    cache.get("k")
    cache.get_or_load("j", lambda: 2)
    len(cache)
    return seen


REENTRANT_SCENARIOS = {
    "on_evict": scenario_on_evict,
    "value-__del__": scenario_value_del,
    "loader": scenario_loader,
    "weight-callable": scenario_weight_callable,
    "clock": scenario_clock,
}


@pytest.mark.parametrize("policy", ["lru", "tinylfu"])
@pytest.mark.parametrize("scenario", REENTRANT_SCENARIOS.values(), ids=REENTRANT_SCENARIOS.keys())
def test_user_code_may_call_back_into_the_cache(policy: str, scenario, call_without_hanging, capture_unraisable) -> None:
    with capture_unraisable() as unraisable:
        seen = call_without_hanging(scenario, policy)
    assert seen, "the user code was never called"
    assert not unraisable, [f"{u.exc_type.__name__}: {u.exc_value}" for u in unraisable]


def test_on_evict_sees_the_cache_without_the_removed_entry(call_without_hanging) -> None:
    seen = call_without_hanging(scenario_on_evict, "lru")
    first = seen[0]
    # put c into {a, b} with max_entries=2 evicts a: a is gone, b and c are there.
    assert first == ("size", None, 2, False, 2, 2)


def test_value_del_ran_for_every_released_value(call_without_hanging) -> None:
    log = call_without_hanging(scenario_value_del, "lru")
    gc.collect()
    assert len(log) == 9, log
