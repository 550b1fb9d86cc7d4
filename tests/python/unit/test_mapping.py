"""Dynamic task mapping at parse time: the mapped node, its input's length as data, errors for bad
input, and each instance's arguments (Airflow's ``expandinput.py`` orders: the last ``expand``
keyword varies fastest; a dict maps to ``(key, value)`` pairs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dagcore import DAG, task
from dagcore.mapping import (
    DictOfListsExpandInput,
    ListOfDictsExpandInput,
    MappedOperator,
    UnmappableXComLengthPushed,
    UnmappableXComTypePushed,
    XComForMappingNotPushed,
    check_mapped_input,
    mapped_length,
)
from dagcore.operators.bash import BashOperator
from dagcore.operators.empty import EmptyOperator
from dagcore.run_state import RunGraph, TaskSpec
from dagcore.serialization import deserialize_dag, serialize_dag

START = datetime(2024, 1, 1, tzinfo=UTC)


@task
def produce() -> list[int]:
    return [1, 2]


@task
def consume(x: int, y: int = 0) -> int:
    return x + y


def _lengths(spec: Any, **known: int | None) -> int | None:
    return mapped_length(spec, lambda task_id, key, mapped: known.get(task_id))


def test_partial_expand_makes_one_mapped_node_with_the_operator_settings() -> None:
    with DAG("m", start_date=START, default_args={"retries": 3}) as dag:
        mapped = BashOperator.partial(task_id="echo", retry_delay=5).expand(
            bash_command=["echo 1", "echo 2"])
    assert isinstance(mapped, MappedOperator) and mapped.is_mapped
    assert dag.task_dict["echo"] is mapped
    assert (mapped.retries, mapped.retry_delay.total_seconds()) == (3, 5.0)  # default_args apply
    data = serialize_dag(dag)
    stored = deserialize_dag(data).task_dict["echo"]
    assert stored.is_mapped and stored.task_type == "BashOperator"
    assert stored.operator == "dagcore.operators.bash.BashOperator"
    assert _lengths(stored.expand_length) == 2


def test_a_dag_without_mapping_serializes_as_before() -> None:
    with DAG("plain", start_date=START) as dag:
        EmptyOperator(task_id="a")
    task_data = serialize_dag(dag)["dag"]["tasks"][0] if "dag" in serialize_dag(dag) \
        else serialize_dag(dag)["tasks"][0]
    assert "_is_mapped" not in task_data and "_expand_length" not in task_data


def test_taskflow_expand_sets_dependencies_and_length_specs() -> None:
    with DAG("tf", start_date=START) as dag:
        numbers = produce()
        mapped = consume.partial(y=1).expand(x=numbers)
        crossed = consume.expand(x=numbers.map(str), y=[1, 2, 3])
        zipped = consume.expand(x=numbers.zip([5, 6, 7], fillvalue=0))
        kwargs = consume.expand_kwargs(numbers)
    assert dag.task_dict["consume"].upstream_task_ids == {"produce"}
    assert mapped.operator.expand_input.length_spec() == {"product": [
        {"xcom": "produce", "key": "return_value", "mapped": False}]}
    assert _lengths(crossed.operator.expand_input.length_spec(), produce=4) == 12
    assert _lengths(zipped.operator.expand_input.length_spec(), produce=2) == 3  # longest
    assert _lengths(kwargs.operator.expand_input.length_spec(), produce=None) is None


def test_instance_arguments_follow_airflows_order() -> None:
    product = DictOfListsExpandInput({"a": [1, 2], "b": ["x", "y", "z"]})
    assert [product.resolve({}, i) for i in range(6)] == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"},
        {"a": 2, "b": "x"}, {"a": 2, "b": "y"}, {"a": 2, "b": "z"}]
    pairs = DictOfListsExpandInput({"kv": {"k1": 1, "k2": 2}})
    assert [pairs.resolve({}, i) for i in range(2)] == [{"kv": ("k1", 1)}, {"kv": ("k2", 2)}]
    listed = ListOfDictsExpandInput([{"a": 1}, {"a": 2, "b": 3}])
    assert listed.resolve({}, 1) == {"a": 2, "b": 3}


@pytest.mark.parametrize("bad", [3, "abc", None, b"xy"], ids=["int", "str", "none", "bytes"])
def test_mapping_over_a_scalar_is_refused_with_the_value_named(bad: Any) -> None:
    with DAG("bad", start_date=START), pytest.raises(ValueError, match="Cannot map over"):
        BashOperator.partial(task_id="echo").expand(bash_command=bad)


def test_bad_arguments_are_named() -> None:
    with DAG("bad_args", start_date=START):
        with pytest.raises(TypeError, match="missing required argument: 'task_id'"):
            BashOperator.partial(bash_command="echo")
        with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
            BashOperator.partial(task_id="a").expand(nope=[1])
        with pytest.raises(TypeError, match="unexpected keyword arguments: 'nope'"):
            BashOperator.partial(task_id="b", nope=1)
        with pytest.raises(ValueError, match="cannot map over 'pool'"):
            BashOperator.partial(task_id="c", bash_command="x").expand(pool=["a"])
        with pytest.raises(TypeError, match="also given to partial"):
            BashOperator.partial(task_id="d", bash_command="x").expand(bash_command=["y"])
        with pytest.raises(TypeError, match="no arguments to expand against"):
            BashOperator.partial(task_id="e").expand()
        with pytest.raises(TypeError, match=r"consume\(\) got an unexpected keyword argument 'z'"):
            consume.expand(z=[1])
        with pytest.raises(TypeError, match="both partial"):
            consume.partial(x=1).expand(x=[2])
        with pytest.raises(TypeError, match="expects a list of dicts"):
            consume.expand_kwargs([1, 2])
        with pytest.raises(TypeError, match="expects a list of dicts or an XCom"):
            consume.expand_kwargs({"x": 1})
        with pytest.raises(TypeError, match="map\\(\\) needs a callable"):
            produce().map(3)  # type: ignore[arg-type]


def test_unmap_builds_the_real_operator_outside_the_dag() -> None:
    with DAG("unmap", start_date=START, default_args={"env": {"A": "1"}}) as dag:
        mapped = BashOperator.partial(task_id="echo", cwd="/tmp").expand(
            bash_command=["echo 1", "echo 2"])
        after = EmptyOperator(task_id="after")
        mapped >> after
        # built while the DAG is still open: the instance must not join it
        instance = mapped.unmap({}, 1)
    assert isinstance(instance, BashOperator) and not instance.is_mapped
    assert (instance.task_id, instance.bash_command, instance.cwd) == ("echo", "echo 2", "/tmp")
    assert instance.env == {"A": "1"}  # the DAG's default_args reach the real operator
    assert dag.task_dict["echo"] is mapped and instance.downstream_task_ids == {"after"}


def test_an_upstream_must_push_a_mappable_value() -> None:
    with DAG("push", start_date=START) as dag:
        numbers = produce()
        consume.expand(x=numbers)
    source = dag.task_dict["produce"]
    check_mapped_input(source, [1, 2])
    check_mapped_input(source, {"a": 1})
    with pytest.raises(XComForMappingNotPushed, match="did not push XCom for task mapping"):
        check_mapped_input(source, None)
    with pytest.raises(UnmappableXComTypePushed, match="unmappable return type 'int'"):
        check_mapped_input(source, 3)
    with pytest.raises(UnmappableXComLengthPushed,
                       match=r"unmappable return value length: 1025 > 1024"):
        check_mapped_input(source, list(range(1025)))


def test_the_engine_decides_mapped_runs_from_counts_as_from_states() -> None:
    # A run whose every task has one instance decides the same from counts as from states.
    import random

    rng = random.Random(7)
    rules = ["all_success", "all_done", "one_success", "one_failed", "none_failed",
             "none_failed_min_one_success", "all_skipped", "none_skipped", "all_failed"]
    states = [None, "success", "failed", "skipped", "upstream_failed", "running", "queued",
              "up_for_retry", "removed"]
    for _ in range(200):
        n = rng.randint(1, 8)
        specs = [TaskSpec(f"t{i}", upstream=tuple(f"t{j}" for j in range(i) if rng.random() < 0.4),
                          trigger_rule=rng.choice(rules)) for i in range(n)]
        graph = RunGraph(specs)
        run = {f"t{i}": rng.choice(states) for i in range(n)}
        assert graph.decide_counts([run])[0] == graph.decide(run)


def test_the_engine_counts_every_instance_of_a_mapped_upstream() -> None:
    graph = RunGraph([TaskSpec("m"), TaskSpec("all", upstream=("m",)),
                      TaskSpec("one", upstream=("m",), trigger_rule="one_success"),
                      TaskSpec("failed", upstream=("m",), trigger_rule="all_failed")])
    waiting = graph.decide_counts([{"m": {"success": 9_999, "running": 1}}])[0]
    assert waiting.schedulable == ("one",) and waiting.state.value == "running"
    mixed = graph.decide_counts([{"m": {"success": 9_999, "skipped": 1}}])[0]
    assert {k: v.value for k, v in mixed.changed.items()} == {"all": "skipped",
                                                              "failed": "skipped"}
    # A run of 10,000 instances without state: the mapped task is one candidate.
    fresh = graph.decide_counts([{"m": {None: 10_000}}])[0]
    assert fresh.schedulable == ("m",)
    with pytest.raises(ValueError, match="'m' in state 'success' must be an int"):
        graph.encode_counts({"m": {"success": -1}})
    with pytest.raises(ValueError, match="expected .* instance counts"):
        graph.decide_counts_compact(b"\0" * 8, 1)


def test_mapped_task_groups_mark_their_tasks_and_refuse_nesting() -> None:
    from dagcore.task_group import TaskGroup, task_group

    @task_group
    def inner(x: int) -> None:
        consume(x)

    @task_group
    def outer(x: int) -> None:
        with TaskGroup("plain"):
            consume.override(task_id="deep")(x)
        inner.expand(x=[1])

    with DAG("groups", start_date=START) as dag, pytest.raises(
            ValueError, match="a mapped task group inside the mapped task group 'outer'"):
        outer.expand(x=[1, 2])
    deep = dag.task_dict["outer.plain.deep"]
    assert deep.is_mapped and getattr(deep, "mapped_group_id") == "outer"
    stored = deserialize_dag(serialize_dag(dag)).task_dict["outer.plain.deep"]
    assert stored.mapped_group == "outer" and _lengths(stored.expand_length) == 2
    with DAG("mapped_inside", start_date=START), pytest.raises(
            ValueError, match="mapping a task inside the mapped task group"):
        @task_group
        def holder(x: int) -> None:
            consume.expand(x=[1, 2])

        holder.expand(x=[1])
