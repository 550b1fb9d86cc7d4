"""Operators: PythonOperator's context passing, BashOperator (real subprocesses),
EmptyOperator and TriggerDagRunOperator's argument handling."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import dagcore.utils.timezone
from dagcore import DAG
from dagcore.exceptions import (AirflowSkipException, DagcoreException, DagRunTriggerException,
                                TaskSkipped)
from dagcore.operators.bash import BashOperator
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator
from dagcore.operators.trigger_dagrun import TriggerDagRunOperator
from dagcore.xcom import InMemoryXComBackend

LOGICAL = datetime(2024, 3, 5, 6, 7, 8, tzinfo=UTC)


def run(the_dag: DAG, task_id: str, **kwargs: Any) -> Any:
    kwargs.setdefault("run_id", "manual__1")
    kwargs.setdefault("logical_date", LOGICAL)
    return the_dag.run_task(task_id, **kwargs)


# -- PythonOperator -----------------------------------------------------------------------------


def test_python_callable_gets_only_declared_context_keys() -> None:
    seen: dict[str, Any] = {}

    def f(a, ds, ti, b=None):  # noqa: ANN001, ANN202
        seen.update(a=a, ds=ds, ti=ti, b=b)
        return "ok"

    with DAG("py") as the_dag:
        PythonOperator("t", python_callable=f, op_args=[1], op_kwargs={"b": 2})
    xcom = InMemoryXComBackend()
    assert run(the_dag, "t", xcom=xcom) == "ok"
    assert seen["a"] == 1 and seen["b"] == 2 and seen["ds"] == "2024-03-05"
    assert seen["ti"].task_id == "t" and seen["ti"].run_id == "manual__1"
    assert xcom.pull(dag_id="py", run_id="manual__1", task_id="t") == "ok"


def test_python_callable_with_var_kwargs_gets_everything() -> None:
    seen: dict[str, Any] = {}

    def f(**kwargs: Any) -> None:
        seen.update(kwargs)

    with DAG("pykw") as the_dag:
        PythonOperator("t", python_callable=f, op_kwargs={"extra": 1})
    assert run(the_dag, "t") is None
    for key in ("ds", "ts", "logical_date", "run_id", "dag_run", "params", "ti", "task", "dag",
                "macros", "data_interval_start", "data_interval_end", "templates_dict"):
        assert key in seen, key
    assert seen["extra"] == 1 and seen["templates_dict"] is None


def test_python_callable_without_parameters() -> None:
    with DAG("pynone") as the_dag:
        PythonOperator("t", python_callable=lambda: 42)
    assert run(the_dag, "t") == 42


def test_op_args_op_kwargs_templates_dict_are_rendered() -> None:
    seen: dict[str, Any] = {}

    def f(x, y, templates_dict):  # noqa: ANN001, ANN202
        seen.update(x=x, y=y, templates_dict=templates_dict)

    with DAG("pytpl", params={"n": 3}) as the_dag:
        op = PythonOperator("t", python_callable=f, op_args=["{{ ds_nodash }}"],
                            op_kwargs={"y": ["{{ params.n }}", "{{ run_id }}"]},
                            templates_dict={"when": "{{ ts }}"})
    run(the_dag, "t")
    assert seen == {"x": "20240305", "y": ["3", "manual__1"],
                    "templates_dict": {"when": "2024-03-05T06:07:08+00:00"}}
    assert op.op_args == ["{{ ds_nodash }}"]  # the DAG's task keeps its templates


def test_positional_parameter_shadowing_context_key_is_refused() -> None:
    with DAG("pyclash") as the_dag:
        PythonOperator("t", python_callable=lambda ds: ds, op_args=["x"])
    with pytest.raises(ValueError, match="'ds' in args is a part of kwargs"):
        run(the_dag, "t")


def test_python_callable_must_be_callable() -> None:
    with pytest.raises(TypeError, match="python_callable"):
        PythonOperator("t", python_callable="nope")  # type: ignore[arg-type]


def test_multiple_outputs_pushes_each_key() -> None:
    with DAG("pymulti") as the_dag:
        PythonOperator("t", python_callable=lambda: {"a": 1, "b": 2}, multiple_outputs=True)
    xcom = InMemoryXComBackend()
    run(the_dag, "t", xcom=xcom)
    pull = {k: xcom.pull(dag_id="pymulti", run_id="manual__1", task_id="t", key=k)
            for k in ("a", "b", "return_value")}
    assert pull == {"a": 1, "b": 2, "return_value": {"a": 1, "b": 2}}


def test_ti_xcom_push_and_pull_between_tasks() -> None:
    def push(ti):  # noqa: ANN001, ANN202
        ti.xcom_push("k", [1, 2])

    def pull(ti):  # noqa: ANN001, ANN202
        return ti.xcom_pull(task_ids="push", key="k"), ti.xcom_pull(task_ids=["push"], key="k")

    with DAG("pyxcom") as the_dag:
        PythonOperator("push", python_callable=push) >> PythonOperator("pull", python_callable=pull)
    xcom = InMemoryXComBackend()
    run(the_dag, "push", xcom=xcom)
    assert run(the_dag, "pull", xcom=xcom) == ([1, 2], [[1, 2]])


def test_empty_operator_returns_none() -> None:
    with DAG("empty") as the_dag:
        EmptyOperator("t")
    xcom = InMemoryXComBackend()
    assert run(the_dag, "t", xcom=xcom) is None
    assert len(xcom) == 0


# -- BashOperator -------------------------------------------------------------------------------


def test_bash_success_returns_last_line() -> None:
    with DAG("bash") as the_dag:
        BashOperator("t", bash_command="echo first; echo last >&2")
    xcom = InMemoryXComBackend()
    assert run(the_dag, "t", xcom=xcom) == "last"
    assert xcom.pull(dag_id="bash", run_id="manual__1", task_id="t") == "last"


def test_bash_non_zero_exit_fails() -> None:
    with DAG("bashfail") as the_dag:
        BashOperator("t", bash_command="exit 3")
    with pytest.raises(DagcoreException, match="non-zero exit code 3"):
        run(the_dag, "t")


@pytest.mark.parametrize(("command", "skip_on", "skipped"), [
    ("exit 99", 99, True),
    ("exit 5", [5, 6], True),
    ("exit 99", None, False),
], ids=["default-99", "custom-list", "disabled"])
def test_bash_skip_exit_code(command: str, skip_on: Any, skipped: bool) -> None:
    with DAG("bashskip") as the_dag:
        BashOperator("t", bash_command=command, skip_on_exit_code=skip_on)
    expected = TaskSkipped if skipped else DagcoreException
    with pytest.raises(expected) as info:
        run(the_dag, "t")
    assert skipped == isinstance(info.value, TaskSkipped)
    assert AirflowSkipException is TaskSkipped


def test_bash_env_cwd_and_templated_command(tmp_path: Path) -> None:
    with DAG("bashenv", params={"who": "world"}) as the_dag:
        BashOperator("replace",
                     bash_command='echo "$GREETING {{ params.who }} $(pwd) ${HOME:-none}"',
                     env={"GREETING": "{{ ds }}"}, cwd=str(tmp_path))
        BashOperator("append", bash_command='echo "$GREETING $AIRFLOW_CTX_DAG_ID '
                     '$AIRFLOW_CTX_TASK_ID $AIRFLOW_CTX_DAG_RUN_ID $PATH_IS_SET"',
                     env={"GREETING": "hi", "PATH_IS_SET": "${PATH:+yes}"}, append_env=True)
    assert run(the_dag, "replace") == f"2024-03-05 world {tmp_path} none"
    assert run(the_dag, "append") == "hi bashenv append manual__1 ${PATH:+yes}"


def test_bash_inherits_environment_without_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGCORE_TEST_VALUE", "inherited")
    with DAG("bashinh") as the_dag:
        BashOperator("t", bash_command="echo $DAGCORE_TEST_VALUE")
    assert run(the_dag, "t") == "inherited"


def test_bash_missing_cwd(tmp_path: Path) -> None:
    with DAG("bashcwd") as the_dag:
        BashOperator("t", bash_command="true", cwd=str(tmp_path / "missing"))
    with pytest.raises(DagcoreException, match="Can not find the cwd"):
        run(the_dag, "t")


def test_bash_script_file_is_a_template(tmp_path: Path) -> None:
    (tmp_path / "script.sh").write_text("echo script {{ ds_nodash }}\n")
    with DAG("bashfile", template_searchpath=str(tmp_path)) as the_dag:
        BashOperator("t", bash_command="script.sh")
    assert run(the_dag, "t") == "script 20240305"


# -- TriggerDagRunOperator ----------------------------------------------------------------------


def test_trigger_dagrun_describes_the_run() -> None:
    with DAG("trig") as the_dag:
        TriggerDagRunOperator("t", trigger_dag_id="{{ params.target }}",
                              conf={"day": "{{ ds }}"}, logical_date="{{ logical_date }}",
                              wait_for_completion=True, params={"target": "other"},
                              failed_states=[])
    with pytest.raises(DagRunTriggerException) as info:
        run(the_dag, "t")
    exc = info.value
    assert exc.trigger_dag_id == "other" and exc.conf == {"day": "2024-03-05"}
    assert exc.logical_date == LOGICAL
    assert exc.dag_run_id == "manual__2024-03-05T06:07:08+00:00"
    assert exc.wait_for_completion and not exc.reset_dag_run and not exc.skip_when_already_exists
    assert exc.allowed_states == ["success"] and exc.failed_states == []
    assert exc.poke_interval == 60


def test_trigger_dagrun_defaults_to_now_and_run_id(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: now)
    with DAG("trignow") as the_dag:
        TriggerDagRunOperator("default", trigger_dag_id="x")
        TriggerDagRunOperator("nodate", trigger_dag_id="x", logical_date=None)
        TriggerDagRunOperator("given", trigger_dag_id="x", trigger_run_id="mine")
    with pytest.raises(DagRunTriggerException) as info:
        run(the_dag, "default")
    assert info.value.logical_date == now
    assert info.value.dag_run_id == "manual__2025-01-02T03:04:05.000006+00:00"
    with pytest.raises(DagRunTriggerException) as info:
        run(the_dag, "nodate")
    assert info.value.logical_date is None
    assert info.value.dag_run_id.startswith("manual__2025-01-02T03:04:05.000006+00:00_")
    assert len(info.value.dag_run_id.rsplit("_", 1)[1]) == 8
    with pytest.raises(DagRunTriggerException) as info:
        run(the_dag, "given")
    assert info.value.dag_run_id == "mine"


def test_trigger_dagrun_bad_arguments() -> None:
    with pytest.raises(TypeError, match="Expected str, datetime.datetime, or None for "
                                        "parameter 'logical_date'. Got int"):
        TriggerDagRunOperator("t", trigger_dag_id="x", logical_date=5)  # type: ignore[arg-type]
    with DAG("trigbad") as the_dag:
        TriggerDagRunOperator("t", trigger_dag_id="x", conf={"o": object()})
    with pytest.raises(ValueError, match="conf parameter should be JSON Serializable"):
        run(the_dag, "t")
