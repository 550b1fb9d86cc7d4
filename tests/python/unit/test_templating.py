"""Templating: Airflow's context names, macros, filters and the Jinja environment."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jinja2
import pytest

from dagcore import DAG
from dagcore.operators.empty import EmptyOperator
from dagcore.templating import build_context, macros, render_template

LOGICAL = datetime(2024, 3, 5, 6, 7, 8, tzinfo=UTC)
INTERVAL = (LOGICAL - timedelta(days=1), LOGICAL)


@pytest.fixture
def context() -> dict[str, Any]:
    with DAG("tpl", params={"p": 1}, user_defined_macros={"answer": 42},
             user_defined_filters={"shout": str.upper}) as the_dag:
        task = EmptyOperator("t")
    del the_dag
    return build_context(task, run_id="scheduled__x", logical_date=LOGICAL,
                         data_interval=INTERVAL, conf={"c": "conf", "p": 2})


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ ds }}", "2024-03-05"),
    ("{{ ds_nodash }}", "20240305"),
    ("{{ ts }}", "2024-03-05T06:07:08+00:00"),
    ("{{ ts_nodash }}", "20240305T060708"),
    ("{{ ts_nodash_with_tz }}", "20240305T060708+0000"),
    ("{{ logical_date.year }}", "2024"),
    ("{{ data_interval_start }}", "2024-03-04 06:07:08+00:00"),
    ("{{ data_interval_end | ds }}", "2024-03-05"),
    ("{{ run_id }}", "scheduled__x"),
    ("{{ dag_run.conf['c'] }} {{ dag_run.conf.c }}", "conf conf"),
    ("{{ dag_run.run_id }} {{ dag_run.dag_id }}", "scheduled__x tpl"),
    ("{{ params.p }}", "2"),
    ("{{ ti.task_id }} {{ ti.try_number }} {{ task_instance.dag_id }}", "t 1 tpl"),
    ("{{ task.task_id }} {{ dag.dag_id }}", "t tpl"),
    ("{{ macros.ds_add(ds, 5) }}", "2024-03-10"),
    ("{{ macros.ds_add(ds, -5) }}", "2024-02-29"),
    ("{{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m/%Y') }}", "05/03/2024"),
    ("{{ (logical_date + macros.timedelta(days=1)) | ds_nodash }}", "20240306"),
    ("{{ macros.json.dumps({'a': 1}) }}", '{"a": 1}'),
    ("{{ answer }} {{ 'x' | shout }}", "42 X"),
], ids=lambda v: v if isinstance(v, str) and "{{" in v else None)
def test_context_names(context: dict[str, Any], template: str, expected: str) -> None:
    assert render_template(template, context, jinja2_env(context)) == expected


def jinja2_env(context: dict[str, Any]) -> jinja2.Environment:
    from dagcore.templating import get_template_env

    return get_template_env(context["dag"])


def test_undefined_name_raises(context: dict[str, Any]) -> None:
    with pytest.raises(jinja2.UndefinedError, match="nope"):
        render_template("{{ nope }}", context, jinja2_env(context))


def test_nested_values_rendered_and_others_kept(context: dict[str, Any]) -> None:
    value = {"a": ["{{ ds }}", ("{{ run_id }}", 3)], "b": None, "c": {"{{ ds }}"}}
    assert render_template(value, context) == {"a": ["2024-03-05", ("scheduled__x", 3)],
                                               "b": None, "c": {"2024-03-05"}}


def test_run_without_logical_date_has_no_ds(context: dict[str, Any]) -> None:
    task = context["task"]
    ctx = build_context(task, run_id="manual__y")
    assert "ds" not in ctx and "ts" not in ctx and ctx["logical_date"] is None
    assert ctx["dag_run"].conf == {}


def test_data_interval_defaults_to_logical_date() -> None:
    ctx = build_context(EmptyOperator("solo"), run_id="r", logical_date=LOGICAL)
    assert ctx["data_interval_start"] == ctx["data_interval_end"] == LOGICAL


def test_naive_dates_are_refused() -> None:
    with pytest.raises(ValueError, match="logical_date must be a timezone-aware"):
        build_context(EmptyOperator("solo"), run_id="r", logical_date=datetime(2024, 1, 1))


def test_native_rendering() -> None:
    with DAG("native", render_template_as_native_obj=True) as the_dag:
        task = EmptyOperator("t")
    ctx = build_context(task, run_id="r", logical_date=LOGICAL, conf={"n": [1, 2]})
    from dagcore.templating import get_template_env

    assert render_template("{{ dag_run.conf['n'] }}", ctx, get_template_env(the_dag)) == [1, 2]


def test_macros_namespace() -> None:
    assert macros.ds_add("2024-01-31", 1) == "2024-02-01"
    assert macros.ds_add("2024-01-31", 0) == "2024-01-31"
    assert macros.datetime is datetime


# -- context["params"]: a plain dict of values (Airflow's process_params -> params.validate()) --


def test_context_params_is_a_plain_dict_of_resolved_values() -> None:
    from dagcore import Param

    with DAG("plain", params={"n": Param(1, type="integer"), "word": "hi"}) as the_dag:
        task = EmptyOperator("t", params={"mine": [1, 2]})
    del the_dag
    ctx = build_context(task, run_id="r", conf={"n": 5, "extra": {"k": None}})
    assert type(ctx["params"]) is dict
    assert ctx["params"] == {"n": 5, "word": "hi", "mine": [1, 2], "extra": {"k": None}}
    assert json.loads(json.dumps(ctx["params"])) == ctx["params"]


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ params.word }} {{ params['word'] }}", "hi hi"),
    ("{{ params.n * 2 }}", "10"),
    ("{{ params.nested.k }}", "v"),
    ("{{ params | tojson }}", '{"n": 5, "nested": {"k": "v"}, "word": "hi"}'),
    ("{{ params.get('absent', 'dflt') }}", "dflt"),
])
def test_templates_read_params_by_attribute_and_item(template: str, expected: str) -> None:
    # Jinja's getattr falls back to the item on a dict, so ``params.x`` keeps working.
    with DAG("attr", params={"word": "hi", "nested": {"k": "v"}}) as the_dag:
        task = EmptyOperator("t")
    ctx = build_context(task, run_id="r", conf={"n": 5})
    from dagcore.templating import get_template_env

    assert render_template(template, ctx, get_template_env(the_dag)) == expected


def test_a_missing_param_in_a_template_is_undefined() -> None:
    with DAG("missing", params={"word": "hi"}) as the_dag:
        task = EmptyOperator("t")
    ctx = build_context(task, run_id="r")
    from dagcore.templating import get_template_env

    with pytest.raises(jinja2.UndefinedError, match="absent"):
        render_template("{{ params.absent }}", ctx, get_template_env(the_dag))


def test_native_rendering_of_a_param_keeps_its_type() -> None:
    with DAG("native_params", params={"ids": [1, 2]}, render_template_as_native_obj=True) as dag:
        task = EmptyOperator("t")
    ctx = build_context(task, run_id="r")
    from dagcore.templating import get_template_env

    assert render_template("{{ params.ids }}", ctx, get_template_env(dag)) == [1, 2]


def test_operators_see_params_as_a_dict() -> None:
    # PythonOperator, @task and a templated bash_command, each run through run_task (which
    # builds the context as the task runner does).
    from dagcore import Param, task
    from dagcore.operators.bash import BashOperator
    from dagcore.operators.python import PythonOperator

    with DAG("ops", params={"name": Param("ann", type="string"), "n": 2}) as the_dag:
        PythonOperator("py", python_callable=lambda params: json.dumps(params, sort_keys=True))

        @task
        def decorated(params: dict[str, Any] | None = None) -> str:
            assert type(params) is dict
            return json.dumps(params, sort_keys=True)

        decorated()
        BashOperator("bash", bash_command="echo {{ params.name }}-{{ params['n'] * 3 }}")

    expected = '{"n": 2, "name": "bob"}'
    assert the_dag.run_task("py", run_id="r", conf={"name": "bob"}) == expected
    assert the_dag.run_task("decorated", run_id="r", conf={"name": "bob"}) == expected
    assert the_dag.run_task("bash", run_id="r", conf={"name": "bob"}) == "bob-6"
