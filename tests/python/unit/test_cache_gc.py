"""Memory: VersionCache lets go of what leaves it, and takes part in cyclic garbage collection.

DBDagBag keeps deserialized DAGs in the cache and passes its own bound methods as hooks, so a cache
that leaked values or pinned its owner through a reference cycle would grow without bound.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any

import pytest

from dagcore.cache import VersionCache


class Blob:
    def __init__(self, name: str) -> None:
        self.name = name


class LoadError(Exception):
    pass


def assert_released(ref: weakref.ref, what: str) -> None:
    gc.collect()
    assert ref() is None, f"{what} is still alive; referrers: {[type(r).__name__ for r in gc.get_referrers(ref())]}"


def _expire(cache: VersionCache, clock) -> None:
    clock.advance(100)
    assert cache.get("k") is None


def _crowd_out(cache: VersionCache) -> None:
    # Newcomers used more often than "k", so that TinyLFU's admission prefers them too.
    for i in range(10):
        cache.put(i, str(i))
        for _ in range(5):
            cache.get(i)
    assert "k" not in cache


# id: how the entry "k" (tag "dag") leaves a cache with max_entries=2, ttl=10
RELEASES: dict[str, Callable[[VersionCache, Any], Any]] = {
    "evicted-for-size": lambda cache, clock: _crowd_out(cache),
    "expired": _expire,
    "invalidated": lambda cache, clock: cache.invalidate("k"),
    "invalidated-by-tag": lambda cache, clock: cache.invalidate_tag("dag"),
    "cleared": lambda cache, clock: cache.clear(),
    "replaced": lambda cache, clock: cache.put("k", "newer"),
    "rejected-replacement": lambda cache, clock: cache.put("k", "heavy", weight=10**6),
}


@pytest.mark.parametrize("release", RELEASES.values(), ids=RELEASES.keys())
@pytest.mark.parametrize("with_on_evict", [False, True], ids=["no-hook", "on_evict"])
def test_a_value_is_released_when_it_leaves_the_cache(
    policy: str, clock, evict_log, release, with_on_evict: bool
) -> None:
    cache = VersionCache(
        max_entries=2, max_bytes=1000, ttl=10, policy=policy, clock=clock, on_evict=evict_log if with_on_evict else None
    )
    value = Blob("v")
    ref = weakref.ref(value)
    cache.put("k", value, tag="dag")
    del value
    gc.collect()
    assert ref() is not None, "the cache did not keep its value alive"
    release(cache, clock)
    assert cache.get("k") in (None, "newer")
    evict_log.events.clear()  # the hook's arguments must not outlive the call either
    assert_released(ref, "the value that left the cache")


def test_values_are_released_with_the_cache(policy: str) -> None:
    cache = VersionCache(policy=policy)
    value = Blob("v")
    ref = weakref.ref(value)
    cache.put("k", value)
    del value, cache
    assert_released(ref, "a value of a deleted cache")


def test_a_loaded_value_is_released_after_invalidation(policy: str) -> None:
    cache = VersionCache(policy=policy)
    refs: list[weakref.ref] = []

    def loader() -> Blob:
        blob = Blob("loaded")
        refs.append(weakref.ref(blob))
        return blob

    cache.get_or_load("k", loader)
    cache.invalidate("k")
    assert_released(refs[0], "a loaded value")


def test_the_loader_and_weight_callable_are_not_retained(policy: str) -> None:
    class Loader:
        def __call__(self) -> str:
            return "v"

    class Weigher:
        def __call__(self, value: Any) -> int:
            return 1

    cache = VersionCache(policy=policy)
    loader, weigher = Loader(), Weigher()
    refs = (weakref.ref(loader), weakref.ref(weigher))
    cache.get_or_load("k", loader, weight=weigher)
    del loader, weigher
    assert_released(refs[0], "the loader")
    assert_released(refs[1], "the weight callable")


def test_a_failed_load_does_not_retain_the_exception(policy: str) -> None:
    cache = VersionCache(policy=policy)
    refs: list[weakref.ref] = []

    def loader() -> Any:
        error = LoadError("boom")
        refs.append(weakref.ref(error))
        raise error

    with pytest.raises(LoadError):
        cache.get_or_load("k", loader)
    assert_released(refs[0], "the loader's exception")


# --- reference cycles through the cache ------------------------------------------------------------


class Owner:
    """Like DBDagBag: owns a cache and hands it its own bound methods."""

    def __init__(self, policy: str, hook: str) -> None:
        self.evicted: list[Any] = []
        kwargs: dict[str, Any] = {"policy": policy}
        if hook == "on_evict":
            kwargs["on_evict"] = self.on_evict
        elif hook == "clock":
            kwargs["clock"] = self.now
            kwargs["ttl"] = 60
        self.cache = VersionCache(**kwargs)
        self.cache.put("k", Blob("v"))
        if hook == "value":
            self.cache.put("self", self)  # a value that refers back to the cache's owner

    def on_evict(self, key: Any, value: Any, reason: str) -> None:
        self.evicted.append(key)

    def now(self) -> float:
        return 0.0


@pytest.mark.parametrize("hook", ["on_evict", "clock", "value"])
def test_a_cache_in_a_reference_cycle_is_collected(policy: str, hook: str) -> None:
    owner = Owner(policy, hook)
    owner.cache.get("k")
    ref = weakref.ref(owner)
    del owner
    assert_released(ref, f"an owner in a cycle through the cache's {hook}")
