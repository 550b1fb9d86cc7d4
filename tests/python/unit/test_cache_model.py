"""Random operation sequences checked against a model of the contract (Hypothesis).

The model does not try to predict TinyLFU's choices. Instead it follows every entry through
``on_evict``: an entry is live from its put until the cache reports it gone, so after every
operation the cache's keys, len, stats and limits must agree with the model exactly. For LRU the
model also predicts which entries go and in what order ``keys()`` lists them.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dagcore.cache import VersionCache

MISSING = object()


class Val:
    """A distinct value that knows the weight it was stored with."""

    def __init__(self, serial: int, weight: int) -> None:
        self.serial = serial
        self.weight = weight

    def __repr__(self) -> str:
        return f"Val#{self.serial}(w={self.weight})"


class LoadError(Exception):
    pass


@dataclasses.dataclass
class Entry:
    value: Val
    weight: int
    tag: str | None


def ident(events: list[tuple[Any, Any, str]]) -> list[tuple[Any, int, str]]:
    """Events with values compared by identity, in a canonical order (the contract fixes no order)."""
    return sorted(((key, id(value), reason) for key, value, reason in events), key=repr)


# 0 and "0" are different keys; a small key space makes hits, overwrites and evictions common.
KEYS = st.sampled_from([0, 1, 2, 3, 4, 5, 6, "0", "a", "b", "c"])
TAGS = st.sampled_from([None, "dag_a", "dag_b"])
WEIGHTS = st.integers(1, 18)
PUT = st.tuples(st.just("put"), KEYS, WEIGHTS, TAGS)
OPERATIONS = st.one_of(
    PUT,
    PUT,
    st.tuples(st.just("get"), KEYS),
    st.tuples(st.just("contains"), KEYS),
    st.tuples(
        st.just("get_or_load"),
        KEYS,
        st.one_of(st.none(), WEIGHTS, st.just("callable")),
        TAGS,
        st.integers(0, 4).map(lambda n: n == 0),  # the loader fails
    ),
    st.tuples(st.just("invalidate"), KEYS),
    st.tuples(st.just("invalidate_tag"), st.sampled_from(["dag_a", "dag_b", "dag_c"])),
    st.tuples(st.just("clear")),
)
LIMITS = st.tuples(st.one_of(st.none(), st.integers(1, 6)), st.one_of(st.none(), st.integers(1, 15)))


class Model:
    """The contract's view of one cache; ``exact_lru`` also predicts LRU's choices."""

    def __init__(self, max_entries: int | None, max_bytes: int | None, policy: str, exact_lru: bool) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.exact_lru = exact_lru
        self.events: list[tuple[Any, Any, str]] = []
        self.cache = VersionCache(
            max_entries=max_entries, max_bytes=max_bytes, policy=policy, on_evict=self._record
        )
        self.entries: OrderedDict[Any, Entry] = OrderedDict()  # least recently used first
        self.counts = dict.fromkeys(
            ("hits", "misses", "loads", "load_failures", "evictions", "expirations", "invalidations", "rejections"), 0
        )
        self.serials = itertools.count()

    def _record(self, key: Any, value: Any, reason: str) -> None:
        self.events.append((key, value, reason))

    def weight(self) -> int:
        return sum(e.weight for e in self.entries.values())

    def over_limit(self) -> bool:
        return (self.max_entries is not None and len(self.entries) > self.max_entries) or (
            self.max_bytes is not None and self.weight() > self.max_bytes
        )

    # --- operations ----------------------------------------------------------------------------

    def run(self, op: tuple[Any, ...]) -> None:
        self.events.clear()
        getattr(self, f"do_{op[0]}")(*op[1:])
        self.check_state(op)

    def do_get(self, key: Any) -> None:
        got = self.cache.get(key, MISSING)
        if key in self.entries:
            assert got is self.entries[key].value, f"get({key!r}) returned the wrong object"
            self.counts["hits"] += 1
            self.entries.move_to_end(key)
        else:
            assert got is MISSING, f"get({key!r}) hit an entry the cache reported gone or never had"
            self.counts["misses"] += 1
        assert self.events == [], "a lookup evicted something"

    def do_contains(self, key: Any) -> None:
        before = self.cache.stats
        assert (key in self.cache) == (key in self.entries)
        assert self.cache.stats == before, "`in` changed the stats"

    def do_put(self, key: Any, weight: int, tag: str | None) -> None:
        value = Val(next(self.serials), weight)
        assert self.cache.put(key, value, weight=weight, tag=tag) is None
        self._insert(key, value, weight, tag)

    def do_get_or_load(self, key: Any, weight_spec: Any, tag: str | None, fails: bool) -> None:
        loaded: list[Val] = []
        weight = weight_spec if isinstance(weight_spec, int) else 1
        if weight_spec == "callable":
            weight = next(self.serials) % 18 + 1

        def loader() -> Val:
            if fails:
                raise LoadError(key)
            loaded.append(Val(next(self.serials), weight))
            return loaded[-1]

        kwargs: dict[str, Any] = {"tag": tag, "weight": (lambda v: v.weight) if weight_spec == "callable" else weight_spec}
        if key in self.entries:
            assert self.cache.get_or_load(key, loader, **kwargs) is self.entries[key].value
            assert loaded == [], "the loader ran for a cached key"
            self.counts["hits"] += 1
            self.entries.move_to_end(key)
            assert self.events == []
            return
        self.counts["misses"] += 1
        if fails:
            with pytest.raises(LoadError):
                self.cache.get_or_load(key, loader, **kwargs)
            self.counts["load_failures"] += 1
            assert self.events == [], "a failed load evicted something"
            return
        got = self.cache.get_or_load(key, loader, **kwargs)
        assert len(loaded) == 1 and got is loaded[0]
        self.counts["loads"] += 1
        self._insert(key, got, weight, tag)

    def do_invalidate(self, key: Any) -> None:
        existed = key in self.entries
        assert self.cache.invalidate(key) is existed
        expected = [(key, self.entries.pop(key).value, "invalidated")] if existed else []
        assert ident(self.events) == ident(expected)
        self.counts["invalidations"] += len(expected)

    def do_invalidate_tag(self, tag: str) -> None:
        doomed = [k for k, e in self.entries.items() if e.tag == tag]
        assert self.cache.invalidate_tag(tag) == len(doomed)
        expected = [(k, self.entries.pop(k).value, "invalidated") for k in doomed]
        assert ident(self.events) == ident(expected)
        self.counts["invalidations"] += len(expected)

    def do_clear(self) -> None:
        assert self.cache.clear() == len(self.entries)
        expected = [(k, e.value, "invalidated") for k, e in self.entries.items()]
        self.entries.clear()
        assert ident(self.events) == ident(expected)
        self.counts["invalidations"] += len(expected)

    def _insert(self, key: Any, value: Val, weight: int, tag: str | None) -> None:
        old = self.entries.pop(key, None)
        replaced = [(key, old.value, "replaced")] if old else []
        if self.max_bytes is not None and weight > self.max_bytes:
            self.counts["rejections"] += 1
            # Whether the rejected value itself is reported is not fixed by the contract.
            assert ident([e for e in self.events if e[1] is not value]) == ident(replaced)
            return
        self.entries[key] = Entry(value, weight, tag)
        must_evict = self.over_limit()
        if self.exact_lru:
            expected = list(replaced)
            while self.over_limit():
                victim, entry = self.entries.popitem(last=False)
                expected.append((victim, entry.value, "size"))
            assert ident(self.events) == ident(expected)
            self.counts["evictions"] += len(expected) - len(replaced)
            return
        size_events = [e for e in self.events if e[2] == "size"]
        assert ident([e for e in self.events if e[2] != "size"]) == ident(replaced)
        assert must_evict or not size_events, f"evicted {size_events} while within the limits"
        for victim, victim_value, _ in size_events:
            assert victim in self.entries and self.entries[victim].value is victim_value, (
                f"on_evict reported {victim!r} -> {victim_value!r}, which is not a live entry"
            )
            del self.entries[victim]
        self.counts["evictions"] += len(size_events)

    # --- invariants ----------------------------------------------------------------------------

    def check_state(self, op: tuple[Any, ...]) -> None:
        stats = self.cache.stats
        if self.max_entries is not None:
            assert stats.size <= self.max_entries, f"{stats.size} entries after {op}"
        if self.max_bytes is not None:
            assert stats.weight <= self.max_bytes, f"weight {stats.weight} after {op}"
        keys = self.cache.keys()
        if self.exact_lru:
            assert keys == list(self.entries), f"LRU order after {op}"
        else:
            assert sorted(keys, key=repr) == sorted(self.entries, key=repr), f"live keys after {op}"
        assert len(self.cache) == len(self.entries)
        assert dataclasses.asdict(stats) == self.counts | {
            "size": len(self.entries),
            "weight": self.weight(),
            "max_entries": self.max_entries,
            "max_bytes": self.max_bytes,
        }, f"stats after {op}"


@pytest.mark.parametrize("policy", ["lru", "tinylfu"])
@settings(max_examples=max(500, settings.default.max_examples))
@given(limits=LIMITS, ops=st.lists(OPERATIONS, max_size=60))
def test_every_entry_is_accounted_for_and_limits_hold(
    policy: str, limits: tuple[int | None, int | None], ops: list[tuple[Any, ...]]
) -> None:
    model = Model(*limits, policy=policy, exact_lru=False)
    for op in ops:
        model.run(op)


@settings(max_examples=max(500, settings.default.max_examples))
@given(limits=LIMITS, ops=st.lists(OPERATIONS, max_size=60))
def test_lru_matches_the_reference_model(limits: tuple[int | None, int | None], ops: list[tuple[Any, ...]]) -> None:
    model = Model(*limits, policy="lru", exact_lru=True)
    for op in ops:
        model.run(op)


class TtlClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


TTL = 9.5  # time moves in whole seconds, so no age ever equals the ttl exactly
TTL_OPERATIONS = st.one_of(
    st.tuples(st.just("put"), KEYS),
    st.tuples(st.just("get"), KEYS),
    st.tuples(st.just("contains"), KEYS),
    st.tuples(st.just("len")),
    st.tuples(st.just("advance"), st.integers(0, 6)),
)


@pytest.mark.parametrize("policy", ["lru", "tinylfu"])
@settings(max_examples=max(300, settings.default.max_examples))
@given(ops=st.lists(TTL_OPERATIONS, max_size=60))
def test_ttl_hits_are_exactly_the_entries_younger_than_the_ttl(policy: str, ops: list[tuple[Any, ...]]) -> None:
    clock = TtlClock()
    events: list[tuple[Any, Any, str]] = []
    cache = VersionCache(max_entries=None, ttl=TTL, policy=policy, clock=clock, on_evict=lambda *e: events.append(e))
    born: dict[Any, tuple[Val, float]] = {}  # entries not yet reported gone: value, put time
    hits = misses = expirations = 0
    serials = itertools.count()

    def live() -> set[Any]:
        return {k for k, (_, t) in born.items() if clock.now - t <= TTL}

    for op in ops:
        events.clear()
        kind, key = op[0], op[1] if len(op) > 1 else None
        old = born.get(key) if kind == "put" else None
        old_reported = False
        if kind == "advance":
            clock.now += op[1]
        elif kind == "put":
            value = Val(next(serials), 1)
            cache.put(key, value)
        elif kind == "get":
            got = cache.get(key, MISSING)
            if key in live():
                hits += 1
                assert got is born[key][0]
            else:
                misses += 1
                assert got is MISSING
        elif kind == "contains":
            assert (key in cache) == (key in live())
        else:
            assert len(cache) == len(live())

        if kind == "get" and key in born and key not in live():
            assert [(e[1], e[2]) for e in events if e[0] == key] == [(born[key][0], "expired")], (
                f"get({key!r}) missed an expired entry without removing it"
            )
        keys, stats = cache.keys(), cache.stats  # these may purge expired entries too

        # Any call may purge expired entries (reason "expired"); nothing else may go, except the
        # old value of a put's key (reason "replaced", or "expired" if it had expired).
        for gone_key, gone_value, reason in events:
            if old is not None and gone_value is old[0]:
                assert reason in ({"replaced"} if gone_key in live() else {"replaced", "expired"})
                old_reported = True
            else:
                assert reason == "expired", f"{reason!r} event for {gone_key!r} after {op}"
                assert gone_key not in live(), f"live entry {gone_key!r} reported expired after {op}"
            assert gone_key in born and born[gone_key][0] is gone_value, f"{gone_key!r} reported gone twice"
            expirations += reason == "expired"
            del born[gone_key]
        if kind == "put":
            assert old is None or old_reported, f"the old value of {key!r} was not reported after {op}"
            born[key] = (value, clock.now)

        assert sorted(keys, key=repr) == sorted(live(), key=repr)
        assert (stats.hits, stats.misses, stats.expirations, stats.size) == (hits, misses, expirations, len(live()))
