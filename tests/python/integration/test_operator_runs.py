"""Runs of DAGs using the operators and decorators of issue 14 part D, with ``DAG.test()`` and
``dags test``: task and run states are Airflow's for the same DAG.

Setup/teardown (docs/airflow-behaviour.md 3.6, Airflow's ``DagRun.update_state``): a teardown
runs when its setup succeeded, whatever the work did; the run's state ignores a teardown's
failure unless ``on_failure_fail_dagrun``. Virtualenv tasks run in a real virtual environment
(``python -m venv --system-site-packages``; no package index: requirements are what the system
already has)."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from cli_helpers import CLIHome

from dagcore import DAG, task
from dagcore.dagbag import EXAMPLE_DAGS_FOLDER
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python_virtualenv import ExternalPythonOperator, PythonVirtualenvOperator
from dagcore.setup_teardown import setup as setup_task
from dagcore.setup_teardown import teardown as teardown_task

pytestmark = pytest.mark.integration

START = datetime(2024, 1, 1, tzinfo=UTC)
LOGICAL = datetime(2024, 3, 1, tzinfo=UTC)


def _setup_teardown_dag(*, work_fails: bool, teardown_fails: bool,
                        fail_dagrun: bool) -> DAG:
    with DAG("st", start_date=START, schedule=None) as dag:
        @setup_task
        def create() -> str:
            return "cluster"

        @teardown_task(on_failure_fail_dagrun=fail_dagrun)
        def delete(name: str) -> None:
            if teardown_fails:
                raise RuntimeError("cannot delete " + name)

        @task
        def work(name: str) -> str:
            if work_fails:
                raise RuntimeError("work failed")
            return name

        cluster = create()
        with cluster >> delete(cluster):
            work(cluster) >> EmptyOperator(task_id="after")
    return dag


@pytest.mark.parametrize(("work_fails", "teardown_fails", "fail_dagrun", "run_state", "states"), [
    (False, False, False, "success",
     {"create": "success", "work": "success", "after": "success", "delete": "success"}),
    # The teardown runs although the work failed; the run fails for the work.
    (True, False, False, "failed",
     {"create": "success", "work": "failed", "after": "upstream_failed", "delete": "success"}),
    # A teardown's failure does not fail the run...
    (False, True, False, "success",
     {"create": "success", "work": "success", "after": "success", "delete": "failed"}),
    # ...unless on_failure_fail_dagrun=True.
    (False, True, True, "failed",
     {"create": "success", "work": "success", "after": "success", "delete": "failed"}),
], ids=["all-fine", "work-fails", "teardown-fails", "teardown-fails-fail-dagrun"])
def test_setup_teardown_run_states(work_fails: bool, teardown_fails: bool, fail_dagrun: bool,
                                   run_state: str, states: dict[str, str]) -> None:
    dag = _setup_teardown_dag(work_fails=work_fails, teardown_fails=teardown_fails,
                              fail_dagrun=fail_dagrun)
    result = dag.test(LOGICAL)
    assert (result.state, result.task_states) == (run_state, states)


def test_teardown_is_skipped_when_its_setup_fails() -> None:
    # all_done_setup_success: the setup failed, so the teardown has nothing to tear down.
    with DAG("st_setup_fails", start_date=START, schedule=None) as dag:
        @setup_task
        def create() -> None:
            raise RuntimeError("no cluster")

        @teardown_task
        def delete() -> None: ...

        @task
        def work() -> None: ...

        c = create()
        with c >> delete():
            work()
    result = dag.test(LOGICAL)
    assert result.state == "failed"
    assert result.task_states == {"create": "failed", "work": "upstream_failed",
                                  "delete": "upstream_failed"}


def test_task_bash_run_pushes_the_last_line() -> None:
    with DAG("bash_deco", start_date=START, schedule=None) as dag:
        @task
        def who() -> str:
            return "dagcore"

        @task.bash
        def greet(name: str) -> str:
            return f"echo first; echo hello {name} {{{{ ds }}}}"

        @task.bash
        def empty() -> str:
            return ""

        @task.bash
        def skip() -> str:
            return "exit 99"

        greet(who())
        empty()
        skip()
    result = dag.test(LOGICAL)
    assert result.task_states == {"who": "success", "greet": "success", "empty": "failed",
                                  "skip": "skipped"}
    assert result.xcom_pull("greet") == "hello dagcore 2024-03-01"


def _double(x: int, ds: str | None = None, params: dict | None = None) -> dict:  # type: ignore
    import sys as _sys

    return {"x": x * 2, "ds": ds, "params": params, "python": _sys.executable}


def test_virtualenv_and_external_python_runs(tmp_path: Path) -> None:
    cache = tmp_path / "venvs"
    with DAG("venv", start_date=START, schedule=None, params={"a": 1}) as dag:
        PythonVirtualenvOperator(task_id="venv", python_callable=_double, op_args=[21],
                                 requirements=["pendulum"], venv_cache_path=cache)
        ExternalPythonOperator(task_id="external", python=sys.executable,
                               python_callable=_double, op_kwargs={"x": 1})
        # A requirement that cannot be installed offline fails that task only.
        PythonVirtualenvOperator(task_id="missing", python_callable=_double, op_args=[1],
                                 requirements=["surely-not-installed-pkg==1.0"],
                                 venv_cache_path=cache)

        @task.virtualenv(venv_cache_path=cache, system_site_packages=False)
        def isolated(n: int) -> int:
            return n + 1

        @task
        def one() -> int:
            return 1

        isolated(one())
    result = dag.test(LOGICAL)
    assert result.task_states == {"venv": "success", "external": "success",
                                  "missing": "failed", "one": "success",
                                  "isolated": "success"}
    venv = result.xcom_pull("venv")
    assert (venv["x"], venv["ds"], venv["params"]) == (42, "2024-03-01", {"a": 1})
    assert venv["python"].startswith(str(cache))
    assert result.xcom_pull("external")["python"] == sys.executable
    assert result.xcom_pull("isolated") == 2
    # The environments are cached by what defines them: a second run creates none.
    before = sorted(p.name for p in cache.iterdir())
    assert dag.test(LOGICAL.replace(day=2)).task_states["venv"] == "success"
    assert sorted(p.name for p in cache.iterdir()) == before


def test_missing_requirement_message_names_it(tmp_path: Path) -> None:
    from dagcore.operators.python_virtualenv import VirtualenvError

    op = PythonVirtualenvOperator(task_id="missing", python_callable=_double, op_args=[1],
                                  requirements=["surely-not-installed-pkg==1.0"],
                                  venv_cache_path=tmp_path)
    with pytest.raises(VirtualenvError, match="installing requirement "
                                              "'surely-not-installed-pkg==1.0' failed"):
        op.execute({})


def test_virtualenv_failure_and_skip_exit_codes(tmp_path: Path) -> None:
    def boom() -> None:
        raise ValueError("bad input 7")

    def leave() -> None:
        import sys as _sys

        _sys.exit(42)

    with DAG("venv_fail", start_date=START, schedule=None) as dag:
        ExternalPythonOperator(task_id="boom", python=sys.executable, python_callable=boom)
        ExternalPythonOperator(task_id="leave", python=sys.executable, python_callable=leave,
                               skip_on_exit_code=42)
    result = dag.test(LOGICAL)
    assert result.task_states == {"boom": "failed", "leave": "skipped"}


def test_dags_test_runs_the_setup_teardown_example(cli_home: CLIHome) -> None:
    # examples/dags/airflow_setup_teardown.py: airflow.sdk imports through the compat finder.
    shutil.copy(EXAMPLE_DAGS_FOLDER / "airflow_setup_teardown.py", cli_home.dags_folder)
    result = cli_home.run("dags", "test", "airflow_setup_teardown", "-S",
                          str(cli_home.dags_folder), "-o", "json")
    assert result.returncode == 0, result.stderr
    states = {row["task_id"]: row["state"] for row in json.loads(result.stdout)}
    assert states == {"create_cluster": "success", "greet": "success", "compute": "success",
                      "delete_cluster": "success"}


CONTROLLER = """\
from datetime import UTC, datetime

from airflow.sdk import DAG
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("controller", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)):
    TriggerDagRunOperator(task_id="trigger", trigger_dag_id="target", trigger_run_id="child",
                          note="started by the controller")

with DAG("target", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)):
    EmptyOperator(task_id="only")
"""


def test_trigger_dagrun_note_is_stored_on_the_triggered_run(cli_home: CLIHome,
                                                            tmp_path: Path) -> None:
    (cli_home.dags_folder / "controller.py").write_text(CONTROLLER)
    db_url = f"sqlite:///{tmp_path / 'note.db'}"
    result = cli_home.run("dags", "test", "controller", "2024-03-01", "-S",
                          str(cli_home.dags_folder), "--db-url", db_url, "-o", "json")
    assert result.returncode == 0, result.stderr
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT dag_id, run_id, note FROM dag_run WHERE dag_id = 'target'")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [("target", "child", "started by the controller")]


def test_dill_serializer_in_an_external_python(tmp_path: Path) -> None:
    # tutorial_taskflow_api_virtualenv (Airflow's example) uses serializer="dill"; Debian's
    # python3-dill is installed by the bootstrap, so the interpreter sharing it runs the task.
    def count(words: list[str]) -> dict[str, int]:
        return {word: len(word) for word in words}

    with DAG("dill", start_date=START, schedule=None) as dag:
        ExternalPythonOperator(task_id="count", python=sys.executable, python_callable=count,
                               op_args=[["a", "bcd"]], serializer="dill")
    result = dag.test(LOGICAL)
    assert result.task_states == {"count": "success"}
    assert result.xcom_pull("count") == {"a": 1, "bcd": 3}


def test_use_dill_is_airflow_2_s_spelling_of_the_dill_serializer() -> None:
    def plus_one(n: int) -> int:
        return n + 1

    with pytest.warns(DeprecationWarning, match="Please provide serializer='dill'"):
        op = ExternalPythonOperator(task_id="t", python=sys.executable, python_callable=plus_one,
                                    use_dill=True)
    assert op.serializer == "dill"
    with pytest.raises(ValueError, match="Both 'use_dill' and 'serializer' parameters are set"), \
            pytest.warns(DeprecationWarning):
        ExternalPythonOperator(task_id="u", python=sys.executable, python_callable=plus_one,
                               use_dill=True, serializer="pickle")


def test_use_airflow_context_gives_get_current_context_in_the_other_interpreter(
        tmp_path: Path) -> None:
    # Airflow 2.10's example_python_context_operator: get_current_context() inside a
    # PythonVirtualenvOperator / ExternalPythonOperator with use_airflow_context=True.
    def read_context():  # type: ignore[no-untyped-def]  # runs without this module's imports
        from airflow.operators.python import get_current_context

        context = get_current_context()
        return [context["ds"], context["params"], context["task_instance_key_str"]]

    def no_context() -> str:
        from airflow.operators.python import get_current_context

        return str(get_current_context())

    with DAG("venv_context", start_date=START, schedule=None, params={"p": 1}) as dag:
        PythonVirtualenvOperator(task_id="venv", python_callable=read_context,
                                 use_airflow_context=True, venv_cache_path=tmp_path)
        ExternalPythonOperator(task_id="external", python=sys.executable,
                               python_callable=read_context, use_airflow_context=True)
        # Without the flag, the function has no current context: Airflow's error.
        ExternalPythonOperator(task_id="without", python=sys.executable,
                               python_callable=no_context)
    result = dag.test(LOGICAL)
    assert result.task_states == {"venv": "success", "external": "success", "without": "failed"}
    expected = ["2024-03-01", {"p": 1}]
    assert result.xcom_pull("venv")[:2] == expected
    assert result.xcom_pull("external")[:2] == expected
    assert result.xcom_pull("external")[2].startswith("venv_context__external__")
    with pytest.raises(ValueError, match="the `use_airflow_context` parameter is set to True, "
                                         "but expect_airflow and system_site_packages"):
        PythonVirtualenvOperator(task_id="bad", python_callable=read_context,
                                 use_airflow_context=True, expect_airflow=False,
                                 system_site_packages=False)
