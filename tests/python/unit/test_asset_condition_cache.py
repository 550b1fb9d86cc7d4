"""dagcore.asset_conditions.ConditionCache: only new or changed DAGs are compiled, and the result
is the same as a fresh compile (docs/airflow-behaviour.md 12.4, 12.7).

Each test drives the cache through adding, changing and removing DAGs (and changes of what the
resolver knows) and compares its readiness with a fresh :class:`AssetConditions` of the same
conditions; the Hypothesis property does the same over random sequences of operations.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dagcore.asset_conditions import AssetConditions, ConditionCache


def asset(n: int) -> dict[str, Any]:
    return {"__type": "asset", "name": f"a{n}", "uri": f"s3://b/a{n}"}


def all_of(*objects: Any) -> dict[str, Any]:
    return {"__type": "asset_all", "objects": list(objects)}


def any_of(*objects: Any) -> dict[str, Any]:
    return {"__type": "asset_any", "objects": list(objects)}


def alias(name: str) -> dict[str, Any]:
    return {"__type": "asset_alias", "name": name}


class World:
    """The stored assets and alias links a resolver reads (a stand-in for the database)."""

    def __init__(self, assets: set[int] | None = None) -> None:
        self.assets = set(range(10)) if assets is None else assets
        self.aliases: dict[str, list[int]] = {}
        self.resolved_batches: list[list[Any]] = []  # what each resolver was made for

    @property
    def state(self) -> Hashable:
        return (frozenset(self.assets), tuple(sorted((k, tuple(v))
                                                     for k, v in self.aliases.items())))

    def resolve(self, leaf: Mapping[str, Any]) -> list[int]:
        if leaf["__type"] == "asset_alias":
            return list(self.aliases.get(leaf["name"], ()))
        n = int(leaf["name"][1:])
        return [n] if n in self.assets else []

    def resolver(self, conditions: list[Any]) -> Any:
        self.resolved_batches.append(conditions)
        return self.resolve


def fresh_ready(conditions: Mapping[str, Any], world: World,
                pairs: list[tuple[str, int]]) -> set[str]:
    present = {k: c for k, c in conditions.items()}
    fresh = AssetConditions(
        {k: (c if c is not None else any_of()) for k, c in present.items()}, world.resolve)
    return set(fresh.ready([p for p in pairs if p[0] in present]))


def cache_ready(cache: ConditionCache[str], conditions: Mapping[str, Any], world: World,
                tokens: Mapping[str, Hashable], pairs: list[tuple[str, int]]) -> set[str]:
    compiled = cache.sync(tokens, conditions.__getitem__, world.resolver, world.state)
    return set(compiled.ready([p for p in pairs if p[0] in conditions]))


PAIRS = [(dag, n) for dag in ("x", "y", "z") for n in range(10)]


def test_add_change_remove_match_a_fresh_compile() -> None:
    world = World()
    cache: ConditionCache[str] = ConditionCache()
    conditions: dict[str, Any] = {"x": all_of(asset(1), asset(2))}
    tokens: dict[str, Hashable] = {"x": 1}
    queued = [("x", 1), ("x", 2), ("y", 3)]
    assert cache_ready(cache, conditions, world, tokens, queued) == {"x"}
    assert cache.compiles == 1

    # Add a DAG: only it is compiled.
    conditions["y"] = any_of(asset(3), asset(4))
    tokens["y"] = 1
    assert cache_ready(cache, conditions, world, tokens, queued) == {"x", "y"} == fresh_ready(
        conditions, world, queued)
    assert cache.compiles == 2
    assert world.resolved_batches[-1] == [conditions["y"]]

    # Change one DAG's condition (a new version): only it is compiled again.
    conditions["x"] = all_of(asset(1), asset(2), asset(5))
    tokens["x"] = 2
    assert cache_ready(cache, conditions, world, tokens, queued) == {"y"} == fresh_ready(
        conditions, world, queued)
    assert cache.compiles == 3
    assert cache.token("x") == 2

    # Remove a DAG.
    assert cache.discard(["x", "nope"]) == 1
    del conditions["x"], tokens["x"]
    assert "x" not in cache and len(cache) == 1
    compiled = cache.sync(tokens, conditions.__getitem__, world.resolver, world.state)
    assert compiled.keys == ("y",)
    assert set(compiled.ready([("y", 4)])) == {"y"}
    with pytest.raises(ValueError, match="queued pair for DAG 'x', which has no asset condition"):
        compiled.ready([("x", 1)])


def test_unchanged_tokens_reuse_the_compiled_set() -> None:
    world = World()
    cache: ConditionCache[str] = ConditionCache()
    conditions = {"x": asset(1), "y": asset(2)}

    def load(key: str) -> Any:
        return conditions[key]

    first = cache.sync({"x": "v1", "y": "v1"}, load, world.resolver, world.state)
    # A loop that sees only some of the DAGs queued keeps the others compiled.
    again = cache.sync({"x": "v1"}, load, world.resolver, world.state)
    assert again is first
    assert cache.compiles == 2
    assert len(world.resolved_batches) == 1
    assert set(again.ready([("y", 2)])) == {"y"}


def test_a_dag_without_a_condition_is_never_ready() -> None:
    world = World()
    cache: ConditionCache[str] = ConditionCache()
    compiled = cache.sync({"x": 1, "y": 1}, {"x": None, "y": all_of()}.__getitem__,
                          world.resolver, world.state)
    assert compiled.ready([("x", 1), ("y", 1)]) == []
    assert compiled.resolved("x") == ("any", ())


def test_resolver_state_change_resolves_only_volatile_dags() -> None:
    world = World(assets={1, 2})
    cache: ConditionCache[str] = ConditionCache()
    conditions = {
        "plain": all_of(asset(1), asset(2)),      # stable: every leaf found
        "by_alias": any_of(alias("made")),        # volatile: an alias
        "not_yet": all_of(asset(1), asset(7)),    # volatile: asset 7 does not exist yet
    }
    tokens = dict.fromkeys(conditions, 1)
    queued = [("plain", 1), ("plain", 2), ("by_alias", 7), ("not_yet", 1), ("not_yet", 7)]
    assert cache_ready(cache, conditions, world, tokens, queued) == {"plain"}
    assert cache.compiles == 3

    world.assets.add(7)
    world.aliases["made"] = [7]
    assert cache_ready(cache, conditions, world, tokens, queued) == {
        "plain", "by_alias", "not_yet"} == fresh_ready(conditions, world, queued)
    # Only the two volatile DAGs were resolved again, from the cached serialized conditions.
    assert cache.compiles == 5
    assert world.resolved_batches[-1] == [conditions["by_alias"], conditions["not_yet"]]

    # "not_yet" found its asset: it is stable now; the alias DAG stays volatile.
    world.aliases["made"] = [7, 8]
    cache_ready(cache, conditions, world, tokens, queued)
    assert cache.compiles == 6
    assert world.resolved_batches[-1] == [conditions["by_alias"]]


def test_a_bad_condition_names_the_dag_and_keeps_the_cache() -> None:
    world = World()
    cache: ConditionCache[str] = ConditionCache()
    conditions: dict[str, Any] = {"x": asset(1)}
    good = cache.sync({"x": 1}, conditions.__getitem__, world.resolver, world.state)
    conditions["y"] = {"__type": "asset_some"}
    with pytest.raises(ValueError, match="condition of DAG 'y': unknown asset condition __type "
                                         "'asset_some'"):
        cache.sync({"x": 1, "y": 1}, conditions.__getitem__, world.resolver, world.state)
    assert "y" not in cache
    assert cache.sync({"x": 1}, conditions.__getitem__, world.resolver, world.state) is good


# -- property: any sequence of operations gives a fresh compile's readiness -------------------

_leaf = st.builds(asset, st.integers(0, 9)) | st.builds(alias, st.sampled_from(["p", "q"]))
_conditions = st.recursive(
    _leaf, lambda children: st.builds(lambda kind, objects: {"__type": kind, "objects": objects},
                                      st.sampled_from(["asset_all", "asset_any"]),
                                      st.lists(children, max_size=3)),
    max_leaves=6) | st.none()
_operations = st.lists(st.one_of(
    st.tuples(st.just("set"), st.sampled_from(["x", "y", "z"]), _conditions),
    st.tuples(st.just("remove"), st.sampled_from(["x", "y", "z"]), st.none()),
    st.tuples(st.just("world"), st.integers(0, 9), st.sampled_from(["p", "q"])),
), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(_operations, st.lists(st.sampled_from(PAIRS), max_size=20))
def test_incremental_equals_fresh_compile(operations: list[tuple[str, Any, Any]],
                                          queued: list[tuple[str, int]]) -> None:
    world = World(assets={0, 1, 2, 3, 4})
    cache: ConditionCache[str] = ConditionCache()
    conditions: dict[str, Any] = {}
    tokens: dict[str, Hashable] = {}
    version = 0
    for op, key, value in operations:
        if op == "set":
            version += 1
            conditions[key], tokens[key] = value, version
        elif op == "remove":
            conditions.pop(key, None)
            tokens.pop(key, None)
            cache.discard([key])
        else:  # an asset appears and an alias gains a link to it
            world.assets.add(key)
            world.aliases.setdefault(value, []).append(key)
        assert cache_ready(cache, conditions, world, tokens, queued) == fresh_ready(
            conditions, world, queued)
        assert set(cache.sync(tokens, conditions.__getitem__, world.resolver,
                              world.state).keys) == set(conditions)


def test_rows_as_a_driver_returns_them() -> None:
    """Keys as new str objects per row (as a database driver makes them), sorted or not, ints
    past one internal digit, and keys that are not str (found through the dict)."""
    world = World(assets=set(range(10)))
    conditions = {"consumer_0001": all_of(asset(1), asset(2)), "é-unicode-Ω": asset(3),
                  ("tuple", "key"): any_of(asset(4)), 7: asset(5)}
    engine = AssetConditions(conditions, world.resolve)
    big = 2 ** 40

    def fresh(key: Any) -> Any:
        return "".join(list(key)) if isinstance(key, str) else key

    rows = [(fresh("consumer_0001"), 1), (fresh("é-unicode-Ω"), 3), (fresh("consumer_0001"), 2),
            (("tuple", "key"), 4), (7, 5), (fresh("consumer_0001"), big)]
    assert all(r[0] is not k for r, k in zip(rows, ["consumer_0001", "é-unicode-Ω"]))
    assert engine.ready(rows) == list(conditions)
    assert engine.ready(sorted(rows[:3], key=lambda r: r[0])) == ["consumer_0001", "é-unicode-Ω"]
    with pytest.raises(ValueError, match="queued pair for DAG 'consumer_0002', which has no "):
        engine.ready([(fresh("consumer_0002"), 1)])
    with pytest.raises(ValueError, match="pair 1: negative asset id -3"):
        engine.ready([(fresh("consumer_0001"), 1), (fresh("consumer_0001"), -3)])
