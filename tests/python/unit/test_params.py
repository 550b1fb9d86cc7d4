"""Param validation (jsonschema, as Airflow's ``Param.resolve``) and the merge of params with
``dag_run.conf``.

The expectations are Airflow's: ``task-sdk/src/airflow/sdk/definitions/param.py`` (``Param``,
``ParamsDict``, ``process_params``) and its tests ``task-sdk/tests/task_sdk/definitions/
test_param.py``; error texts are jsonschema's, which Airflow passes on unchanged. The facts are
written down in docs/airflow-behaviour.md 8.1 (validation), 8.2 (serialization) and 8.3
(``context["params"]``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from dagcore import DAG, Param
from dagcore.exceptions import ParamValidationError
from dagcore.operators.python import PythonOperator
from dagcore.params import NOTSET, ParamsDict, merge_params, validate_schema

# (schema, value, first line of jsonschema's error, or None when valid). Airflow raises
# ParamValidationError(err) for jsonschema's ValidationError, so the text is jsonschema's.
CASES = [
    ({"type": "integer"}, 5, None),
    ({"type": "integer"}, 5.0, None),  # JSON Schema: an integral number is an integer
    ({"type": "integer"}, "5", "'5' is not of type 'integer'"),
    ({"type": "integer"}, True, "True is not of type 'integer'"),
    ({"type": "number"}, 1.5, None),
    ({"type": "string"}, 3, "3 is not of type 'string'"),
    ({"type": ["null", "string"]}, None, None),
    ({"type": ["string", "number"]}, [], "[] is not of type 'string', 'number'"),
    ({"type": "boolean"}, 0, "0 is not of type 'boolean'"),
    ({"type": "array"}, [1], None),
    ({"type": "object"}, {"a": 1}, None),
    ({"type": "null"}, "x", "'x' is not of type 'null'"),
    ({"minimum": 1}, 0, "0 is less than the minimum of 1"),
    ({"minimum": 1}, 1, None),
    ({"maximum": 10}, 11, "11 is greater than the maximum of 10"),
    ({"exclusiveMinimum": 0}, 0, "0 is less than or equal to the minimum of 0"),
    ({"exclusiveMaximum": 10}, 10, "10 is greater than or equal to the maximum of 10"),
    ({"multipleOf": 5}, 12, "12 is not a multiple of 5"),
    ({"enum": ["a", "b"]}, "c", "'c' is not one of ['a', 'b']"),
    ({"enum": ["a", "b"]}, "a", None),
    ({"enum": [1, None]}, None, None),
    ({"const": "x"}, "y", "'x' was expected"),
    ({"pattern": "^[a-z]+$"}, "abc", None),
    ({"pattern": "^[a-z]+$"}, "Abc", "'Abc' does not match '^[a-z]+$'"),
    ({"pattern": "[0-9]"}, "a1b", None),  # searched, not anchored
    ({"type": "string", "minLength": 2}, "a", "'a' is too short"),
    ({"type": "string", "maxLength": 2}, "abc", "'abc' is too long"),
    ({"type": "array", "minItems": 2}, [1], "[1] is too short"),
    ({"type": "array", "maxItems": 1}, [1, 2], "[1, 2] is too long"),
    ({"type": "array", "uniqueItems": True}, [1, 1], "[1, 1] has non-unique elements"),
    ({"type": "array", "items": {"type": "integer"}}, [1, "b"], "'b' is not of type 'integer'"),
    ({"type": "array", "contains": {"const": 3}}, [1, 2],
     "[1, 2] does not contain items matching the given schema"),
    ({"type": "object", "required": ["x"]}, {"y": 1}, "'x' is a required property"),
    ({"type": "object", "properties": {"x": {"type": "integer"}}}, {"x": "no"},
     "'no' is not of type 'integer'"),
    ({"type": "object", "additionalProperties": False, "properties": {"a": {}}}, {"a": 1, "b": 2},
     "Additional properties are not allowed ('b' was unexpected)"),
    ({"type": "object", "minProperties": 1}, {}, "{} does not have enough properties"),
    ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 1.5, None),
    ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 2,
     "2 is valid under each of {'type': 'number'}, {'type': 'integer'}"),
    ({"anyOf": [{"type": "integer"}, {"pattern": "^x"}]}, "xy", None),
    ({"anyOf": [{"type": "integer"}, {"type": "boolean"}]}, "y",
     "'y' is not valid under any of the given schemas"),
    ({"allOf": [{"minimum": 1}, {"maximum": 3}]}, 4, "4 is greater than the maximum of 3"),
    ({"not": {"type": "string"}}, "s", "'s' should not be valid under {'type': 'string'}"),
    ({"if": {"const": "a"}, "then": {"minLength": 2}}, "a", "'a' is too short"),
    ({"type": "object", "dependentRequired": {"a": ["b"]}}, {"a": 1},
     "'b' is a dependency of 'a'"),
    # Formats: FormatChecker() as Airflow passes it.
    ({"type": "string", "format": "date"}, "2021-01-01", None),
    ({"type": "string", "format": "date"}, "01/01/2021", "'01/01/2021' is not a 'date'"),
    ({"type": "string", "format": "date"}, "2021-02-30", "'2021-02-30' is not a 'date'"),
    ({"type": "string", "format": "email"}, "ann@example.com", None),
    ({"type": "string", "format": "email"}, "ann", "'ann' is not a 'email'"),
    ({"type": "string", "format": "ipv4"}, "10.0.0.0", None),
    ({"type": "string", "format": "ipv4"}, "10.0.0.256", "'10.0.0.256' is not a 'ipv4'"),
    ({"type": "string", "format": "ipv6"}, "::1", None),
    ({"type": "string", "format": "uuid"}, "12345678-1234-5678-1234-567812345678", None),
    ({"type": "string", "format": "uuid"}, "1234", "'1234' is not a 'uuid'"),
    ({"type": "string", "format": "regex"}, "[", "'[' is not a 'regex'"),
    # Formats the trigger form uses that jsonschema does not check: accepted as they are.
    ({"type": "string", "format": "multiline"}, "a\nb", None),
    ({"type": "string", "format": "password"}, "secret", None),
]


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0]


@pytest.mark.parametrize(("schema", "value", "error"), CASES,
                         ids=[f"{'-'.join(c[0])}-{c[1]!r}" for c in CASES])
def test_param_validation_table(schema: dict[str, Any], value: Any, error: str | None) -> None:
    param = Param(value, **schema)
    if error is None:
        assert param.resolve() == value
        assert ParamsDict({"the_param": param}).validate() == {"the_param": value}
        return
    with pytest.raises(ParamValidationError) as info:
        param.resolve()
    assert _first_line(info.value) == error
    assert param.resolve(suppress_exception=True) is None
    params = ParamsDict({"the_param": Param(value, **schema)})
    with pytest.raises(ParamValidationError) as named:
        params.validate()
    assert _first_line(named.value) == f"Invalid input for param the_param: {error}"


def test_error_text_is_jsonschemas_full_text_as_airflow_gives_it() -> None:
    # Airflow: ``raise ParamValidationError(err) from None`` -> str(err), which names the
    # keyword, the schema and the instance after the message.
    with pytest.raises(ParamValidationError) as info:
        Param({"x": "no"}, type="object", properties={"x": {"type": "integer"}}).resolve()
    text = str(info.value)
    assert text.startswith("'no' is not of type 'integer'\n")
    assert "Failed validating 'type' in schema['properties']['x']" in text
    assert "On instance['x']:" in text
    assert isinstance(info.value, ValueError)


# Airflow's test_string_rfc3339_datetime_format / test_string_datetime_invalid_format.
@pytest.mark.parametrize("value", ["2022-01-02T03:04:05.678901Z", "2022-01-02T03:04:05.678Z",
                                   "2022-01-02T03:04:05+00:00", "2022-01-02T03:04:05+04:00",
                                   "2022-01-02t03:04:05z"])
def test_date_time_format_accepts_rfc3339(value: str) -> None:
    assert Param(value, type="string", format="date-time").resolve() == value


@pytest.mark.parametrize("value", ["2022-01-02", "03:04:05", "Thu, 04 Mar 2021 05:06:07 GMT",
                                   "2022-01-02T03:04:05", "2022-02-30T03:04:05Z",
                                   "2022-01-02T24:00:00Z", "0000-01-01T00:00:00Z"])
def test_date_time_format_rejects_the_rest(value: str) -> None:
    with pytest.raises(ParamValidationError, match="is not a 'date-time'"):
        Param(value, type="string", format="date-time").resolve()


# Airflow's test_string_time_format: jsonschema's "time" is %H:%M:%S.
@pytest.mark.parametrize(("value", "valid"), [("03:04:05", True), ("03:04:05.06", False),
                                              ("03:04", False), ("24:00:00", False)])
def test_time_format(value: str, valid: bool) -> None:
    param = Param(value, type="string", format="time")
    if valid:
        assert param.resolve() == value
    else:
        with pytest.raises(ParamValidationError, match="is not a 'time'"):
            param.resolve()


# Airflow's test_string_duration_format / test_string_duration_format_error (ISO 8601).
@pytest.mark.parametrize("value", ["PT15M", "P1Y", "P1W", "P1D", "PT1H", "PT30S", "P1DT2H",
                                   "P1Y2M3DT4H5M6S", "PT1.5H", "PT1,5H", "-P1D", "P1WT2H"])
def test_duration_format_accepts_iso8601(value: str) -> None:
    assert Param(value, type="string", format="duration").resolve() == value


@pytest.mark.parametrize("value", ["P", "PT", "invalid", "15M", "1Y2M", "P1H", "P1DT",
                                   "P1Y1W", "P1D1Y", "PT1H1D"])
def test_duration_format_rejects_the_rest(value: str) -> None:
    with pytest.raises(ParamValidationError, match="is not a 'duration'"):
        Param(value, type="string", format="duration").resolve()


def test_formats_only_apply_to_strings() -> None:
    # JSON Schema: a format constrains strings; a number passes a "date-time" format.
    assert Param(5, format="date-time").resolve() == 5


def test_param_without_default_is_required() -> None:
    with pytest.raises(ParamValidationError, match="No value passed and Param has no default"):
        Param(type="string").resolve()
    assert Param(type="string").resolve("given") == "given"
    assert Param(type="string").resolve(suppress_exception=True) is None
    params = ParamsDict({"needed": Param(type="string")})
    with pytest.raises(ParamValidationError, match="Invalid input for param needed: No value"):
        params.validate()


def test_null_param() -> None:
    # Airflow's test_null_param: None is a value; Param() has none.
    assert Param().resolve(None) is None
    assert Param(None).resolve() is None
    assert Param(None, type="null").resolve() is None
    with pytest.raises(ParamValidationError, match="'test' is not of type 'null'"):
        Param(None, type="null").resolve("test")
    with pytest.raises(ParamValidationError, match="None is not of type 'string'"):
        Param(type="string").resolve(None)


@pytest.mark.parametrize("value", [{0, 1, 2}, object(), b"bytes", complex(1, 2)])
def test_a_default_that_is_not_json_serializable_is_refused(value: Any) -> None:
    # Airflow's test_param_json_validation: Param.__init__ -> _check_json.
    with pytest.raises(ParamValidationError,
                       match="All provided parameters must be json-serializable. The value '.*' "
                             "is not serializable."):
        Param(value)


def test_a_value_that_is_not_json_serializable_is_refused_even_when_suppressed() -> None:
    param = Param({"b": 1})
    assert param.resolve() == {"b": 1}
    assert param.resolve(value={"a": 1}) == {"a": 1}
    for suppress in (False, True):
        with pytest.raises(ParamValidationError, match="must be json-serializable"):
            param.resolve(value={1, 2, 3}, suppress_exception=suppress)
    params = ParamsDict({"p": Param(1)})
    with pytest.raises(ParamValidationError,
                       match="Invalid input for param p: All provided parameters must be json"):
        params["p"] = {1, 2}
    with pytest.raises(ParamValidationError, match="must be json-serializable"):
        ParamsDict({"plain": {1, 2}})


def test_explicit_schema_argument() -> None:
    # Airflow: ``schema=`` gives the whole schema instead of keywords.
    param = Param("abc", schema={"type": "string", "maxLength": 2})
    assert param.schema == {"type": "string", "maxLength": 2}
    with pytest.raises(ParamValidationError, match="'abc' is too long"):
        param.resolve()


@pytest.mark.parametrize(("schema", "message"), [
    ({"type": "int"}, "unknown JSON-schema type 'int'"),
    ({"type": ["string", "text"]}, "unknown JSON-schema type 'text'"),
    ({"minimum": "one"}, "invalid JSON schema for Param at schema['minimum']: 'one' is not of "
                         "type 'number'"),
    ({"enum": "ab"}, "invalid JSON schema for Param at schema['enum']"),
    # Airflow would raise jsonschema's SchemaError at every resolve: a tuple is no JSON array.
    ({"enum": ("a", "b")}, "invalid JSON schema for Param at schema['enum']: ('a', 'b') is not "
                           "of type 'array'"),
])
def test_a_bad_schema_is_refused_when_the_param_is_made(schema: dict[str, Any],
                                                        message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Param(1, **schema)


def test_ui_keywords_with_any_keys_are_kept_and_do_not_disturb_validation() -> None:
    param = Param(1, type=["integer", "null"], enum=[1, 2, None],
                  values_display={1: "One", 2: "Two", None: "None"}, title="Pick",
                  description="a number")
    assert param.resolve() == 1
    assert param.resolve(None) is None
    assert param.schema["values_display"] == {1: "One", 2: "Two", None: "None"}
    with pytest.raises(ParamValidationError, match="3 is not one of"):
        param.resolve(3)


def test_validate_schema_is_the_check_without_a_param() -> None:
    validate_schema("2024-01-01", {"type": "string", "format": "date"})
    with pytest.raises(ParamValidationError, match="'x' is not a 'date'"):
        validate_schema("x", {"format": "date"})
    with pytest.raises(ParamValidationError, match="invalid JSON schema for Param"):
        validate_schema(1, {"minimum": "x"})


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
    assert params.validate() == {"a": 1, "b": 5, "new": "x"}
    assert type(params.validate()) is dict


def test_params_dict_suppress_exception() -> None:
    # Airflow's TestParamsDict.test_params_dict: with suppress_exception an invalid assignment
    # is ignored, and an invalid value resolves to None.
    strict = ParamsDict({"key": Param("value", type="string")})
    with pytest.raises(ParamValidationError, match="Invalid input for param key: 1 is not"):
        strict["key"] = 1
    lenient = ParamsDict({"key": Param("value", type="string")}, suppress_exception=True)
    lenient["key"] = 1
    assert lenient.validate() == {"key": "value"}
    lenient.get_param("key").value = 2
    assert lenient["key"] is None
    assert lenient.validate() == {"key": None}


def test_copies_keep_the_schema_and_are_independent() -> None:
    import copy

    param = Param([1], type="array", minItems=1)
    clone = copy.deepcopy(param)
    assert clone == param and clone is not param
    clone.value.append(2)
    assert param.value == [1]
    assert copy.copy(ParamsDict({"p": param}, suppress_exception=True)).suppress_exception
    assert copy.deepcopy(Param()).value is NOTSET


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


def test_run_sees_params_as_a_plain_dict_merged_with_conf() -> None:
    # Airflow's process_params returns params.validate(): a dict, so json.dumps works on it.
    seen: dict[str, Any] = {}

    def callable_(params: Any) -> dict[str, Any]:
        seen["type"] = type(params)
        seen["json"] = json.dumps(params, sort_keys=True)
        return dict(params)

    with DAG("pconf", params={"n": Param(1, type="integer"), "word": "hi"}) as the_dag:
        PythonOperator("t", python_callable=callable_, params={"task_only": True})
    assert the_dag.run_task("t", run_id="r") == {"n": 1, "word": "hi", "task_only": True}
    assert seen == {"type": dict, "json": '{"n": 1, "task_only": true, "word": "hi"}'}
    assert the_dag.run_task("t", run_id="r", conf={"n": 7, "other": 1}) == {
        "n": 7, "word": "hi", "task_only": True, "other": 1}
    with pytest.raises(ParamValidationError, match="Invalid input for param n"):
        the_dag.run_task("t", run_id="r", conf={"n": "seven"})
    assert the_dag.params["n"] == 1


# -- serialization of params (Airflow's serialized_objects BaseSerialization._serialize_param) --


def test_values_display_with_non_string_keys_round_trips_as_airflow_stores_it() -> None:
    # Airflow: schema=cls.serialize(param.schema), and serialize() writes a dict as
    # {str(k): ...}; so the stored and restored keys are "1", "2" and "None".
    from datetime import UTC, datetime

    from dagcore.serialization import deserialize_dag, serialize_dag

    with DAG("vd", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None, params={
            "pick": Param(1, type=["integer", "null"], enum=[1, 2, None],
                          values_display={1: "One", 2: "Two", None: "None"}),
            "mapping": Param({1: "a"}, type="object"),
            "pair": Param(("a", "b"))}) as dag:
        PythonOperator("t", python_callable=lambda: None,
                       params={"level": Param(0, values_display={0: "zero"})})
    data = serialize_dag(dag)
    stored = json.loads(json.dumps(data))  # what the database gives back
    pick = stored["dag"]["params"]["pick"]
    assert pick["schema"]["values_display"] == {"1": "One", "2": "Two", "None": "None"}
    assert pick["default"] == 1
    assert stored["dag"]["params"]["mapping"]["default"] == {"1": "a"}
    assert stored["dag"]["params"]["pair"]["default"] == ["a", "b"]
    assert stored["dag"]["tasks"][0]["params"]["level"]["schema"] == {
        "values_display": {"0": "zero"}}

    restored = deserialize_dag(stored)
    param = restored.params.get_param("pick")
    assert param.schema == {"type": ["integer", "null"], "enum": [1, 2, None],
                            "values_display": {"1": "One", "2": "Two", "None": "None"}}
    assert restored.params["pick"] == 1
    assert restored.params.validate() == {"pick": 1, "mapping": {"1": "a"}, "pair": ["a", "b"]}
    # Stored again, it is the same data (no new DAG version on the next parse).
    assert serialize_dag(dag) == data
