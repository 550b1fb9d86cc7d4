"""TaskFlow: ``@task`` wiring and return values through XCom."""

from __future__ import annotations

from typing import Any

import pytest

from dagcore import DAG, dag, task
from dagcore.decorators import XComArg
from dagcore.operators.empty import EmptyOperator
from dagcore.trigger_rule import TriggerRule
from dagcore.xcom import InMemoryXComBackend, XComBackend


def run_all(the_dag: DAG, xcom: XComBackend) -> dict[str, Any]:
    return {t.task_id: the_dag.run_task(t.task_id, run_id="r", xcom=xcom)
            for t in the_dag.topological_sort()}


def test_return_values_flow_through_xcom() -> None:
    with DAG("flow") as the_dag:
        @task
        def extract() -> list[int]:
            return [1, 2, 3]

        @task(retries=2)
        def transform(values: list[int], factor: int = 1) -> int:
            return sum(values) * factor

        @task
        def load(total: int, ti=None) -> str:  # noqa: ANN001
            return f"{ti.task_id}:{total}"

        ref = load(transform(extract(), factor=10))
    assert isinstance(ref, XComArg)
    assert the_dag.get_task("transform").retries == 2
    assert the_dag.get_task("transform").upstream_task_ids == {"extract"}
    assert the_dag.get_task("load").upstream_task_ids == {"transform"}
    xcom = InMemoryXComBackend()
    assert run_all(the_dag, xcom) == {"extract": [1, 2, 3], "transform": 60, "load": "load:60"}
    assert xcom.pull(dag_id="flow", run_id="r", task_id="transform") == 60


def test_nested_references_and_multiple_outputs() -> None:
    with DAG("multi") as the_dag:
        @task
        def pair() -> dict[str, int]:
            return {"a": 1, "b": 2}

        @task(multiple_outputs=False)
        def whole() -> dict[str, int]:
            return {"w": 1}

        @task
        def combine(items: list[Any], mapping: dict[str, Any]) -> Any:
            return items, mapping

        p = pair()
        combine([p["a"], p["b"]], {"whole": whole()})
    assert the_dag.get_task("pair").multiple_outputs
    assert not the_dag.get_task("whole").multiple_outputs
    assert the_dag.get_task("combine").upstream_task_ids == {"pair", "whole"}
    result = run_all(the_dag, InMemoryXComBackend())
    assert result["combine"] == ([1, 2], {"whole": {"w": 1}})


def test_repeated_calls_get_unique_ids_and_override() -> None:
    with DAG("ids") as the_dag:
        @task
        def step() -> int:
            return 1

        step()
        step()
        step.override(task_id="custom", trigger_rule="all_done")()
        step()
    assert the_dag.task_ids == ["step", "step__1", "custom", "step__2"]
    assert the_dag.get_task("custom").trigger_rule is TriggerRule.ALL_DONE
    assert step.function() == 1


def test_references_take_part_in_shift_operators() -> None:
    with DAG("shift") as the_dag:
        @task
        def first() -> None:
            return None

        start = EmptyOperator("start")
        ref = first()
        start >> ref >> EmptyOperator("end")
    assert the_dag.get_task("first").upstream_task_ids == {"start"}
    assert the_dag.get_task("end").upstream_task_ids == {"first"}


def test_missing_upstream_value_is_none_or_named() -> None:
    # Airflow's PlainXComArg.resolve: no return_value is None (the task returned None); a
    # missing other key is an error naming the task and key.
    with DAG("missing") as the_dag:
        @task
        def nothing() -> None:
            return None

        @task
        def use(x: Any) -> Any:
            return x

        use(nothing())
        use.override(task_id="use_key")(XComArg(the_dag.get_task("nothing"), key="other"))
    xcom = InMemoryXComBackend()
    the_dag.run_task("nothing", run_id="r", xcom=xcom)
    assert the_dag.run_task("use", run_id="r", xcom=xcom) is None
    with pytest.raises(LookupError, match="XComArg result from nothing at missing with "
                                          "key='other' is not found"):
        the_dag.run_task("use_key", run_id="r", xcom=xcom)


def test_wrong_call_fails_at_definition() -> None:
    with DAG("wrong"):
        @task
        def needs(a: int, b: int) -> int:
            return a + b

        with pytest.raises(TypeError, match="needs: missing required argument"):
            needs(1)
        with pytest.raises(TypeError, match="needs"):
            needs(1, 2, 3)


def test_taskflow_in_dag_decorator_with_setup_teardown() -> None:
    @dag(schedule="@daily")
    def pipeline() -> None:
        @task
        def create() -> str:
            return "res"

        @task
        def work(resource: str) -> str:
            return resource.upper()

        @task
        def delete() -> None:
            return None

        resource = create()
        work(resource) >> delete().as_teardown(setups=resource)

    built = pipeline()
    assert built.get_task("create").is_setup
    assert built.get_task("delete").is_teardown
    assert built.get_task("delete").upstream_task_ids == {"create", "work"}
    assert run_all(built, InMemoryXComBackend())["work"] == "RES"
