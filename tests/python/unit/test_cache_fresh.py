"""VersionCache freshness (``refresh_after``: get_fresh, peek, confirm, count_miss) and uuid.UUID
keys: what DBDagBag's one-call hit path stands on (the ``policy`` fixture: lru and tinylfu).

Airflow's DBDagBag (airflow-core/src/airflow/models/dagbag.py, ``_get_dag``) serves a cached
version while ``now - last_validated < min_serialized_dag_update_interval`` and otherwise checks
its hash; here the cache keeps the "last validated" time itself.
"""

from __future__ import annotations

import uuid

import pytest

from dagcore.cache import VersionCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def counts(cache: VersionCache) -> tuple[int, int]:
    stats = cache.stats
    return stats.hits, stats.misses


def test_get_fresh_serves_an_entry_until_refresh_after_then_counts_nothing(policy: str) -> None:
    clock = Clock()
    cache = VersionCache(policy=policy, clock=clock, refresh_after=30)
    value = object()
    cache.put("v1", value)
    clock.now += 29.9
    assert cache.get_fresh("v1") is value
    clock.now += 0.1  # 30 s since the put: stale (Airflow: now - last_validated < interval)
    assert cache.get_fresh("v1") is None
    assert cache.get_fresh("v1", "fallback") == "fallback"
    assert cache.get_fresh("absent", default=1) == 1
    assert counts(cache) == (1, 0)  # only the fresh lookup counted
    assert "v1" in cache and cache.peek("v1") is value


def test_confirm_makes_a_stale_entry_fresh_and_counts_one_hit(policy: str) -> None:
    clock = Clock()
    cache = VersionCache(policy=policy, clock=clock, refresh_after=30)
    value = object()
    cache.put("v1", value)
    clock.now += 31
    assert cache.get_fresh("v1") is None
    assert cache.confirm("v1") is value
    clock.now += 29
    assert cache.get_fresh("v1") is value  # 30 s from the confirmation, not from the put
    assert cache.confirm("absent") is None
    assert counts(cache) == (2, 0)


def test_a_load_or_a_put_is_fresh(policy: str) -> None:
    clock = Clock()
    cache = VersionCache(policy=policy, clock=clock, refresh_after=30)
    cache.put("v1", "a")
    clock.now += 40
    cache.put("v1", "b")
    assert cache.get_fresh("v1") == "b"
    assert cache.get_or_load("v2", lambda: "c") == "c"
    assert cache.get_fresh("v2") == "c"


def test_confirm_does_not_rearm_the_ttl(policy: str) -> None:
    clock = Clock()
    cache = VersionCache(policy=policy, clock=clock, ttl=10, refresh_after=5)
    cache.put("v1", "a")
    clock.now += 6
    assert cache.confirm("v1") == "a"
    clock.now += 5  # 11 s after the put
    assert cache.get_fresh("v1") is None and cache.peek("v1") is None
    assert cache.stats.expirations == 1


def test_peek_neither_counts_nor_promotes() -> None:
    cache = VersionCache(max_entries=2, policy="lru")
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.peek("a") == 1 and cache.peek("zz", "none") == "none"
    cache.put("c", 3)  # lru: "a" was not promoted by peek, so it goes
    assert "a" not in cache
    assert counts(cache) == (0, 0)


def test_count_miss_counts_one_miss() -> None:
    cache = VersionCache()
    cache.count_miss()
    assert counts(cache) == (0, 1)


def test_without_refresh_after_entries_never_go_stale_and_zero_means_always() -> None:
    clock = Clock()
    never = VersionCache(clock=clock)
    never.put("k", 1)
    clock.now += 1e9
    assert never.get_fresh("k") == 1 and never.refresh_after is None
    always = VersionCache(clock=clock, refresh_after=0)
    always.put("k", 1)
    assert always.get_fresh("k") is None and always.confirm("k") == 1
    assert always.refresh_after == 0.0
    assert "refresh_after=0.0" in repr(always)


@pytest.mark.parametrize("bad", [-1, float("nan")])
def test_a_negative_refresh_after_is_a_value_error_naming_it(bad: float) -> None:
    with pytest.raises(ValueError, match="refresh_after"):
        VersionCache(refresh_after=bad)


def test_a_non_numeric_refresh_after_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="refresh_after"):
        VersionCache(refresh_after="30")  # type: ignore[arg-type]


def test_a_uuid_key_is_its_canonical_string(policy: str) -> None:
    cache = VersionCache(policy=policy, refresh_after=60)
    u = uuid.UUID("0190A3F2-7B1C-7E4D-8A2B-0123456789AB")
    cache.put(u, "dag")
    assert cache.keys() == [str(u)] == ["0190a3f2-7b1c-7e4d-8a2b-0123456789ab"]
    assert cache.get(str(u)) == "dag" and cache.get_fresh(u) == "dag"
    assert cache.peek(u) == "dag" and cache.confirm(u) == "dag" and u in cache
    cache.put(str(u), "dag2")
    assert len(cache) == 1 and cache.get(u) == "dag2"
    assert cache.invalidate(u) and len(cache) == 0


@pytest.mark.parametrize("u", [uuid.UUID(int=0), uuid.UUID(int=(1 << 128) - 1), uuid.uuid4(),
                               uuid.uuid1()])
def test_uuid_keys_match_str_at_the_edges(u: uuid.UUID) -> None:
    cache = VersionCache()
    cache.put(str(u), u)
    assert cache.get(u) is u


def test_a_uuid_subclass_is_its_canonical_string_too() -> None:
    class MyUUID(uuid.UUID):
        pass

    cache = VersionCache()
    u = MyUUID(int=12345)
    cache.put(u, 1)
    assert cache.keys() == [str(uuid.UUID(int=12345))]


def test_a_uuid_is_not_a_tag_and_bad_keys_name_their_type() -> None:
    cache = VersionCache()
    with pytest.raises(TypeError, match="tag must be str"):
        cache.put("k", 1, tag=uuid.uuid4())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"key must be str, int or uuid.UUID, got float"):
        cache.get_fresh(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="get_fresh"):
        cache.get_fresh()  # type: ignore[call-arg]


def test_retained_bytes_walks_once_and_stops_at_shared_types() -> None:
    # core.retained_bytes backs DBDagBag's weights (sys.getsizeof over the reachable objects).
    import sys

    from dagcore._native import core

    text = "y" * 500
    inner = [text, text]
    assert core.retained_bytes(inner, ()) == sys.getsizeof(inner) + sys.getsizeof(text)
    assert core.retained_bytes([inner, inner], ()) == (
        sys.getsizeof([inner, inner]) + sys.getsizeof(inner) + sys.getsizeof(text))
    assert core.retained_bytes([str, None, True], (type,)) == sys.getsizeof([str, None, True])
    cycle: list[object] = []
    cycle.append(cycle)
    assert core.retained_bytes(cycle, ()) == sys.getsizeof(cycle)
    with pytest.raises(TypeError, match="shared_types must hold types, got int"):
        core.retained_bytes([], (1,))


def test_a_caller_that_waited_for_a_load_is_a_miss_by_default() -> None:
    import threading

    cache = VersionCache()
    started, release = threading.Event(), threading.Event()

    def slow_loader() -> str:
        started.set()
        release.wait(10)
        return "dag"

    leader = threading.Thread(target=lambda: cache.get_or_load("k", slow_loader))
    leader.start()
    assert started.wait(10)
    follower = threading.Thread(target=lambda: cache.get_or_load("k", lambda: "other"))
    follower.start()
    for _ in range(1000):  # until the follower has joined the load (its lookup is counted)
        if cache.stats.misses == 2:
            break
        threading.Event().wait(0.01)
    release.set()
    leader.join(10)
    follower.join(10)
    stats = cache.stats
    assert (stats.hits, stats.misses, stats.loads) == (0, 2, 1)


def test_count_wait_as_hit_leaves_a_leader_a_miss_and_a_found_entry_a_hit() -> None:
    # DBDagBag passes count_wait_as_hit=True, so that a lookup served by another thread's load
    # is a hit, as Airflow's _get_dag counts it (airflow-core/.../models/dagbag.py); the waiting
    # case is covered by the C++ test FollowerCountedByOutcomeWhenAsked and the bag's
    # eight-thread test.
    cache = VersionCache()
    assert cache.get_or_load("k", lambda: "dag", count_wait_as_hit=True) == "dag"
    assert cache.get_or_load("k", lambda: "other", count_wait_as_hit=True) == "dag"
    assert counts(cache) == (1, 1)
