"""dagcore.asset_conditions: Airflow's serialized conditions compiled and evaluated in bulk.

* Airflow's outcomes (docs/airflow-behaviour.md section 12): ``&``, ``|``, nesting, plain
  lists, aliases (several assets = any of them, none = false), references, empty all/any;
* the queue semantics: a pair for another DAG only, duplicates, empty input, DAGs without a
  queued asset of their own;
* every bad input gets a TypeError/ValueError naming the bad value;
* property (Hypothesis): on random trees and random queues the engine equals the Python
  reference (:func:`evaluate_python`) for every DAG.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dagcore.asset_conditions import (
    AssetConditions,
    ResolvedCondition,
    evaluate_python,
    resolve_condition,
)

IDS = {f"s3://bucket/{c}": i for i, c in enumerate("abcdefgh", start=1)}
ALIASES = {"two": [IDS["s3://bucket/g"], IDS["s3://bucket/h"]], "none": []}


def asset(letter: str) -> dict[str, Any]:
    uri = f"s3://bucket/{letter}"
    return {"__type": "asset", "name": uri, "uri": uri, "group": "asset", "extra": {}}


def all_of(*objects: Any) -> dict[str, Any]:
    return {"__type": "asset_all", "objects": list(objects)}


def any_of(*objects: Any) -> dict[str, Any]:
    return {"__type": "asset_any", "objects": list(objects)}


def alias(name: str) -> dict[str, Any]:
    return {"__type": "asset_alias", "name": name, "group": "asset"}


def resolve(leaf: Mapping[str, Any]) -> list[int]:
    kind = leaf["__type"]
    if kind in ("asset_alias", "dataset_alias"):
        return ALIASES.get(leaf["name"], [])
    key = leaf.get("uri") or leaf.get("name")
    return [IDS[key]] if key in IDS else []


def ids(*letters: str) -> list[int]:
    return [IDS[f"s3://bucket/{c}"] for c in letters]


def is_ready(condition: Any, *queued: str) -> bool:
    engine = AssetConditions({"dag": condition}, resolve)
    result = engine.ready([("dag", i) for i in ids(*queued)])
    expected = bool(set(ids(*queued)) & set(engine.assets("dag"))) and evaluate_python(
        condition, set(ids(*queued)), resolve)
    assert result == (["dag"] if expected else [])
    return result == ["dag"]


@pytest.mark.parametrize(("condition", "queued", "expected"), [
    pytest.param(asset("a"), "a", True, id="single-asset"),
    pytest.param(asset("a"), "b", False, id="single-asset-other-queued"),
    pytest.param(all_of(asset("a"), asset("b")), "a", False, id="and-half"),
    pytest.param(all_of(asset("a"), asset("b")), "ab", True, id="and-both"),
    pytest.param(any_of(asset("a"), asset("b")), "b", True, id="or-one"),
    pytest.param(any_of(asset("a"), asset("b")), "c", False, id="or-none"),
    pytest.param([asset("a"), asset("b"), asset("c")], "abc", True, id="plain-list-all"),
    pytest.param([asset("a"), asset("b"), asset("c")], "ab", False, id="plain-list-missing"),
    pytest.param(all_of(any_of(asset("a"), asset("b")), any_of(asset("c"),
                                                               all_of(asset("d"), asset("e")))),
                 "bde", True, id="nested-true"),
    pytest.param(all_of(any_of(asset("a"), asset("b")), any_of(asset("c"),
                                                               all_of(asset("d"), asset("e")))),
                 "bd", False, id="nested-false"),
    pytest.param(all_of(asset("a"), alias("two")), "ah", True, id="alias-any-of-its-assets"),
    pytest.param(all_of(asset("a"), alias("two")), "a", False, id="alias-none-queued"),
    pytest.param(any_of(asset("a"), alias("none")), "a", True, id="alias-to-nothing-in-or"),
    pytest.param(all_of(asset("a"), alias("none")), "a", False, id="alias-to-nothing-false"),
    pytest.param(all_of(asset("a"), all_of()), "a", True, id="empty-all-true"),
    pytest.param(all_of(asset("a"), any_of()), "a", False, id="empty-any-false"),
    pytest.param(all_of(), "a", False, id="no-own-asset-queued-never-ready"),
    pytest.param(all_of(asset("a"), {"__type": "asset_ref", "name": "s3://bucket/b"}), "ab",
                 True, id="name-ref"),
    pytest.param(any_of({"__type": "asset_uri_ref", "uri": "s3://bucket/c"}), "c", True,
                 id="uri-ref"),
    pytest.param({"__type": "dataset_all", "objects": [
        {"__type": "dataset", "uri": "s3://bucket/a", "extra": {}},
        {"__type": "dataset", "uri": "s3://bucket/b", "extra": {}}]}, "ab", True,
        id="airflow2-datasets"),
    pytest.param(all_of(asset("a"), {"__type": "asset", "name": "unknown", "uri": "x://y"}), "a",
                 False, id="unresolved-asset-false"),
])
def test_airflow_outcomes(condition: Any, queued: str, expected: bool) -> None:
    assert is_ready(condition, *queued) is expected


def test_many_dags_in_one_call() -> None:
    engine = AssetConditions({
        "both": all_of(asset("a"), asset("b")),
        "a_only": asset("a"),
        "b_or_c": any_of(asset("b"), asset("c")),
    }, resolve)
    a, b, c = ids("a", "b", "c")
    # a pair counts for its own DAG only
    assert engine.ready([("a_only", a), ("both", b)]) == ["a_only"]
    assert engine.ready([("b_or_c", a)]) == []
    assert engine.ready([("both", b), ("both", a), ("b_or_c", c)]) == ["both", "b_or_c"]
    # duplicates and any order
    assert engine.ready([("both", a)] * 3) == []
    assert engine.ready(iter([("b_or_c", c), ("b_or_c", c)])) == ["b_or_c"]
    # empty input; lists as pairs; a tuple of pairs
    assert engine.ready([]) == []
    assert engine.ready([["a_only", a]]) == ["a_only"]
    assert engine.ready((("b_or_c", b),)) == ["b_or_c"]
    # the array form, by index
    assert engine.ready_indices(array("q", [0, 0, 2]), array("q", [a, b, b])) == [0, 2]
    assert engine.keys == ("both", "a_only", "b_or_c")
    assert len(engine) == 3
    assert engine.index("b_or_c") == 2


def test_missing_and_assets() -> None:
    engine = AssetConditions({"dag": all_of(asset("c"), any_of(asset("a"), asset("c")),
                                            alias("two"))}, resolve)
    assert engine.assets("dag") == sorted(ids("a", "c") + ALIASES["two"])
    assert engine.missing("dag", ids("c")) == sorted(ids("a") + ALIASES["two"])
    assert engine.missing("dag", iter(ids("a", "c", "g", "h"))) == []
    assert engine.resolved("dag") == ("all", (IDS["s3://bucket/c"],
                                              ("any", tuple(ids("a", "c"))),
                                              ("any", tuple(ALIASES["two"]))))


def test_no_conditions() -> None:
    engine: AssetConditions[str] = AssetConditions({}, resolve)
    assert engine.ready([]) == []
    with pytest.raises(ValueError, match="queued pair for DAG 'x', which has no asset condition"):
        engine.ready([("x", 1)])


@pytest.mark.parametrize(("condition", "error", "message"), [
    pytest.param("s3://a", TypeError, r"condition of DAG 'd': an asset condition must be a dict, "
                 r"got str 's3://a'", id="not-a-dict"),
    pytest.param({"uri": "x"}, ValueError, r"unknown asset condition __type None", id="no-type"),
    pytest.param({"__type": "asset_xor", "objects": []}, ValueError,
                 r"unknown asset condition __type 'asset_xor'", id="unknown-type"),
    pytest.param({"__type": "asset_all", "objects": "ab"}, TypeError,
                 r"'asset_all' needs a list 'objects', got str 'ab'", id="objects-not-list"),
    pytest.param(all_of(asset("a"), {"__type": "asset"}), ValueError,
                 r"condition of DAG 'd'\.objects\[1\]: a 'asset' leaf needs a string 'name' or "
                 r"'uri'", id="asset-without-name-or-uri"),
    pytest.param(any_of(all_of({"__type": "asset_alias", "name": 3})), ValueError,
                 r"objects\[0\]\.objects\[0\]: a 'asset_alias' leaf needs a string 'name'",
                 id="alias-name-not-str"),
    pytest.param([asset("a"), 7], TypeError, r"condition of DAG 'd'\[1\]: an asset condition "
                 r"must be a dict, got int 7", id="list-item-not-dict"),
])
def test_bad_conditions(condition: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        AssetConditions({"d": condition}, resolve)


@pytest.mark.parametrize(("result", "error", "message"), [
    pytest.param(5, TypeError, r"the resolver must return an iterable of asset ids, got int 5",
                 id="not-iterable"),
    pytest.param("12", TypeError, r"got str '12'", id="string"),
    pytest.param(["1"], TypeError, r"non-int asset id '1'", id="str-id"),
    pytest.param([True], TypeError, r"non-int asset id True", id="bool-id"),
    pytest.param([-3], ValueError, r"asset id -3 .*ids must lie in 0 \.\. 2\*\*63 - 1",
                 id="negative-id"),
    pytest.param([2 ** 63], ValueError, r"asset id 9223372036854775808", id="too-large"),
])
def test_bad_resolver_results(result: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        AssetConditions({"d": asset("a")}, lambda leaf: result)


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="conditions must be a mapping"):
        AssetConditions([asset("a")], resolve)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="resolver must be callable, got dict"):
        AssetConditions({"d": asset("a")}, IDS)  # type: ignore[arg-type]


def test_bad_pairs() -> None:
    engine = AssetConditions({"d": asset("a"), "e": asset("b")}, resolve)
    with pytest.raises(ValueError, match="queued pair for DAG 'zz', which has no asset condition"):
        engine.ready([("d", 1), ("zz", 1)])
    with pytest.raises(TypeError, match=r"queued pair \('e', 'x'\): the asset id must be an int"):
        engine.ready([("d", 1), ("e", "x")])
    with pytest.raises(ValueError, match=r"queued pair \('d', 36893488147419103232\): asset id "
                                         r"out of range"):
        engine.ready([("d", 2 ** 65)])
    with pytest.raises(ValueError, match="pair 1: negative asset id -1"):
        engine.ready([("d", 1), ("e", -1)])
    with pytest.raises(TypeError, match="queued pairs must be"):
        engine.ready([("d",)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"pair 0: DAG index 2 is out of range \(2 conditions\)"):
        engine.ready_indices([2], [1])
    with pytest.raises(ValueError, match="the pair arrays differ in length: 2 DAG indexes, 1 "):
        engine.ready_indices([0, 1], [1])
    with pytest.raises(TypeError, match=r"a buffer of signed 64-bit integers \('q'\) is needed, "
                                        r"got items of format 'i'"):
        engine.ready_indices(array("i", [0]), [1])
    with pytest.raises(ValueError, match="no asset condition for DAG 'nope'"):
        engine.missing("nope", [])
    with pytest.raises(ValueError, match=r"queued\[0\]: negative asset id -5"):
        engine.missing("d", [-5])


def test_evaluate_python_needs_a_resolver_for_serialized_conditions() -> None:
    with pytest.raises(TypeError, match="needs a resolver"):
        evaluate_python(asset("a"), {1})
    assert evaluate_python(("any", (1, ("all", ()))), set()) is True
    assert evaluate_python(("all", (1, ("any", ()))), {1}) is False


# ----------------------------------------------------------------------------- property

N_ASSETS = 12
leaves = st.integers(min_value=0, max_value=N_ASSETS - 1).map(
    lambda i: {"__type": "asset", "name": f"n{i}", "uri": f"u{i}"})
aliases = st.sampled_from(["al0", "al1", "al2"]).map(
    lambda n: {"__type": "asset_alias", "name": n})
trees = st.recursive(
    leaves | aliases,
    lambda children: st.lists(children, max_size=4).flatmap(
        lambda objects: st.sampled_from([all_of(*objects), any_of(*objects)])),
    max_leaves=10)
ALIAS_IDS = {"al0": [], "al1": [3], "al2": [1, 5, 7]}


def property_resolve(leaf: Mapping[str, Any]) -> list[int]:
    if leaf["__type"] == "asset_alias":
        return ALIAS_IDS[leaf["name"]]
    return [int(leaf["uri"][1:])]


@settings(max_examples=150, deadline=None)
@given(conditions=st.lists(trees, min_size=1, max_size=8),
       queue=st.lists(st.tuples(st.integers(0, 7), st.integers(0, N_ASSETS + 2)), max_size=40))
def test_engine_equals_python_reference(conditions: list[Any],
                                        queue: list[tuple[int, int]]) -> None:
    keys = [f"dag_{i}" for i in range(len(conditions))]
    engine = AssetConditions(dict(zip(keys, conditions)), property_resolve)
    pairs = [(keys[d % len(keys)], a) for d, a in queue]
    queued: dict[str, set[int]] = {}
    for key, asset_id in pairs:
        queued.setdefault(key, set()).add(asset_id)
    expected = []
    for key, condition in zip(keys, conditions):
        resolved: ResolvedCondition = resolve_condition(condition, property_resolve)
        mine = queued.get(key, set())
        if mine & set(engine.assets(key)) and evaluate_python(resolved, mine):
            expected.append(key)
    assert engine.ready(pairs) == expected
    for key in keys:
        mine = queued.get(key, set())
        assert engine.missing(key, mine) == sorted(set(engine.assets(key)) - mine)


def test_concurrent_ready_calls_agree() -> None:
    """One compiled set serves several threads at once (the GIL is released while evaluating)."""
    from concurrent.futures import ThreadPoolExecutor

    letters = "abcdefgh"
    conditions = {f"dag_{i}": all_of(asset(letters[i % 8]),
                                     any_of(asset(letters[(i + 1) % 8]), alias("two")))
                  for i in range(200)}
    engine = AssetConditions(conditions, resolve)
    queues = [[(key, asset_id) for key in conditions for asset_id in ids(*queued)]
              for queued in ("ab", "gh", letters, "")]
    expected = [engine.ready(q) for q in queues]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: engine.ready(queues[i % 4]), range(64)))
    assert results == [expected[i % 4] for i in range(64)]
    assert expected[2] == list(conditions)  # every DAG ready with every asset queued


def test_leaf_resolving_to_repeated_ids() -> None:
    assert resolve_condition(alias("x"), lambda leaf: [8, 7, 8]) == ("any", (8, 7))
    assert resolve_condition(asset("a"), lambda leaf: (5, 5)) == 5
    engine = AssetConditions({"d": alias("x")}, lambda leaf: iter([8, 7, 8]))
    assert engine.assets("d") == [7, 8]
    assert engine.ready([("d", 7)]) == ["d"]
