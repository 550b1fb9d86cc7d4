"""Param validation and the merge of params with ``dag_run.conf``."""

from __future__ import annotations

from typing import Any

import pytest

from dagcore import DAG, Param
from dagcore.exceptions import ParamValidationError
from dagcore.operators.python import PythonOperator
from dagcore.params import ParamsDict, merge_params

# (schema, value, error fragment or None when valid)
CASES = [
    ({"type": "integer"}, 5, None),
    ({"type": "integer"}, "5", "'5' is not of type 'integer'"),
    ({"type": "integer"}, True, "True is not of type 'integer'"),
    ({"type": "number"}, 1.5, None),
    ({"type": "string"}, 3, "3 is not of type 'string'"),
    ({"type": ["null", "string"]}, None, None),
    ({"type": "boolean"}, 0, "0 is not of type 'boolean'"),
    ({"type": "array"}, [1], None),
    ({"type": "object"}, {"a": 1}, None),
    ({"minimum": 1}, 0, "0 is less than the minimum of 1"),
    ({"minimum": 1}, 1, None),
    ({"maximum": 10}, 11, "11 is greater than the maximum of 10"),
    ({"exclusiveMaximum": 10}, 10, "greater than or equal to the maximum of 10"),
    ({"enum": ["a", "b"]}, "c", "'c' is not one of ['a', 'b']"),
    ({"enum": ["a", "b"]}, "a", None),
    ({"pattern": "^[a-z]+$"}, "abc", None),
    ({"pattern": "^[a-z]+$"}, "Abc", "'Abc' does not match '^[a-z]+$'"),
    ({"type": "string", "minLength": 2}, "a", "'a' is shorter than 2"),
    ({"type": "object", "required": ["x"]}, {"y": 1}, "'x' is a required property"),
    ({"type": "object", "properties": {"x": {"type": "integer"}}}, {"x": "no"},
     "'no' is not of type 'integer' at x"),
    ({"type": "array", "items": {"type": "integer"}}, [1, "b"], "at [1]"),
]


@pytest.mark.parametrize(("schema", "value", "error"), CASES,
                         ids=[f"{'-'.join(c[0])}-{c[1]!r}" for c in CASES])
def test_param_validation_table(schema: dict[str, Any], value: Any, error: str | None) -> None:
    param = Param(value, **schema)
    if error is None:
        assert param.resolve() == value
        return
    with pytest.raises(ParamValidationError) as info:
        param.resolve()
    assert error in str(info.value)
    params = ParamsDict({"the_param": Param(value, **schema)})
    with pytest.raises(ParamValidationError, match="Invalid input for param the_param"):
        params.validate()


def test_param_without_default_is_required() -> None:
    with pytest.raises(ParamValidationError, match="No value passed and Param has no default"):
        Param(type="string").resolve()
    assert Param(type="string").resolve("given") == "given"
    assert Param("bad", type="integer").resolve(suppress_exception=True) is None
    params = ParamsDict({"needed": Param(type="string")})
    with pytest.raises(ParamValidationError, match="Invalid input for param needed: No value"):
        params.validate()


def test_unknown_type_name_raises() -> None:
    with pytest.raises(ValueError, match="unknown JSON-schema type 'int'"):
        Param(1, type="int")


def test_params_dict_behaves_like_a_mapping_of_values() -> None:
    params = ParamsDict({"a": 1, "b": Param(2, type="integer", minimum=0)})
    assert dict(params) == {"a": 1, "b": 2}
    assert isinstance(params.get_param("a"), Param)
    params["b"] = 5
    assert params["b"] == 5
    with pytest.raises(ParamValidationError, match="Invalid input for param b: -1 is less than"):
        params["b"] = -1
    assert params["b"] == 5
    params["new"] = "x"
    assert params.dump() == {"a": 1, "b": 5, "new": "x"}


def test_merge_params_with_conf() -> None:
    dag_params = {"n": Param(1, type="integer", maximum=5), "keep": "k",
                  "need": Param(type="string")}
    task_params = {"keep": "task"}
    merged = merge_params(dag_params, task_params, conf={"n": 4, "need": "yes", "extra": [1]})
    assert dict(merged) == {"n": 4, "keep": "task", "need": "yes", "extra": [1]}
    with pytest.raises(ParamValidationError, match="Invalid input for param n: 9 is greater"):
        merge_params(dag_params, conf={"n": 9, "need": "x"})
    with pytest.raises(ParamValidationError, match="Invalid input for param need"):
        merge_params(dag_params, conf={})
    # The DAG's params are not changed by a run's conf.
    assert dag_params["n"].value == 1


def test_run_sees_params_merged_with_conf() -> None:
    with DAG("pconf", params={"n": Param(1, type="integer"), "word": "hi"}) as the_dag:
        PythonOperator("t", python_callable=lambda params: dict(params),
                       params={"task_only": True})
    assert the_dag.run_task("t", run_id="r") == {"n": 1, "word": "hi", "task_only": True}
    assert the_dag.run_task("t", run_id="r", conf={"n": 7, "other": 1}) == {
        "n": 7, "word": "hi", "task_only": True, "other": 1}
    with pytest.raises(ParamValidationError, match="Invalid input for param n"):
        the_dag.run_task("t", run_id="r", conf={"n": "seven"})
    assert the_dag.params["n"] == 1
