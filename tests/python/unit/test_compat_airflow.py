"""dagcore.compat.airflow: ``import airflow...`` served by dagcore, and Airflow DAG files through
the DagBag, their tasks run in-process."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import dagcore
from dagcore.compat import airflow as compat
from dagcore.configuration import conf_vars
from dagcore.dagbag import EXAMPLE_DAGS_FOLDER, DagBag
from dagcore.exceptions import DagRunTriggerException
from dagcore.operators.bash import BashOperator
from dagcore.xcom import InMemoryXComBackend

LOGICAL = datetime(2024, 3, 1, tzinfo=UTC)


def airflow_modules() -> list[str]:
    return sorted(n for n in sys.modules if n == "airflow" or n.startswith("airflow."))


@pytest.fixture(autouse=True)
def _clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "home"))
    assert not compat.is_installed() and airflow_modules() == []
    yield
    while compat.is_installed():
        compat.uninstall()
    assert airflow_modules() == []


# -- the finder ---------------------------------------------------------------------------------


def test_install_serves_dagcore_objects_and_uninstall_removes_everything() -> None:
    assert compat.install() is True
    try:
        from airflow.operators.bash import BashOperator as AirflowBash
        from airflow.providers.standard.operators.bash import BashOperator as ProviderBash
        from airflow.sdk import task

        assert AirflowBash is BashOperator and ProviderBash is BashOperator
        assert task is dagcore.task
        assert "airflow.operators.bash" in sys.modules
    finally:
        compat.uninstall()
    assert not compat.is_installed() and airflow_modules() == []
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("airflow")


@pytest.mark.parametrize("module", sorted(compat.ALIASES))
def test_every_alias_imports_with_its_names(module: str) -> None:
    with compat.enabled() as active:
        assert active
        alias = importlib.import_module(module)
        expected = [name for _, names in compat.ALIASES[module] for name in names]
        assert alias.__all__ == expected
        assert all(getattr(alias, name) is not None for name in expected)


def test_names_outside_the_table_are_not_found() -> None:
    with compat.enabled():
        with pytest.raises(ModuleNotFoundError, match="airflow.providers.amazon"):
            importlib.import_module("airflow.providers.amazon")
        with pytest.raises(ImportError):
            exec("from airflow.operators.bash import SSHOperator", {})


def test_installs_nest() -> None:
    with compat.enabled():
        with compat.enabled():
            import airflow  # noqa: F401
        assert compat.is_installed() and "airflow" in sys.modules
    assert not compat.is_installed() and airflow_modules() == []
    compat.uninstall()  # one too many: harmless


def test_a_real_airflow_is_never_shadowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "site" / "airflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("REAL = True\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert compat.real_airflow_available()
    with compat.enabled() as active:
        assert active is False and not compat.is_installed()
        airflow = importlib.import_module("airflow")
        assert airflow.REAL is True
    sys.modules.pop("airflow")


def test_naive_dates_are_read_in_the_default_timezone() -> None:
    with conf_vars({("core", "default_timezone"): "Europe/Zurich"}):
        the_dag = compat.DAG("naive", start_date=datetime(2024, 1, 1),
                             default_args={"start_date": datetime(2024, 2, 1)},
                             schedule_interval="@daily")
    assert the_dag.start_date == datetime(2024, 1, 1, tzinfo=ZoneInfo("Europe/Zurich"))
    assert the_dag.default_args["start_date"].tzinfo == ZoneInfo("Europe/Zurich")
    assert the_dag.schedule == "@daily"
    assert the_dag.fileloc == __file__
    assert isinstance(the_dag, dagcore.DAG)
    with pytest.raises(TypeError, match="either schedule or schedule_interval"):
        compat.DAG("both", schedule="@daily", schedule_interval="@daily")


def test_dag_decorator_accepts_naive_dates() -> None:
    @compat.dag(start_date=datetime(2024, 1, 1), schedule=None)
    def decorated() -> None:
        pass

    assert decorated().start_date == datetime(2024, 1, 1, tzinfo=UTC)

    @compat.dag
    def bare() -> None:
        pass

    assert bare().dag_id == "bare"


def test_state_and_dates_helpers() -> None:
    with compat.enabled():
        from airflow.utils.dates import days_ago
        from airflow.utils.state import DagRunState, State, TaskInstanceState

        assert State.SUCCESS == "success" and State.UPSTREAM_FAILED == "upstream_failed"
        assert State.NONE is None and State.QUEUED == DagRunState.QUEUED
        assert TaskInstanceState.SKIPPED == "skipped"
        ago = days_ago(2)
        assert ago.tzinfo is not None and ago.hour == 0
        assert timedelta(days=2) <= datetime.now(UTC) - ago < timedelta(days=3)


# -- Airflow DAG files through the DagBag -------------------------------------------------------

TUTORIAL = '''\
"""An Airflow 2-style tutorial file, unchanged."""
import textwrap
from datetime import datetime, timedelta

from airflow import DAG
from airflow.decorators import dag, task
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator
from airflow.utils.trigger_rule import TriggerRule

with DAG(
    "tutorial",
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
    schedule_interval=timedelta(days=1),
    start_date=datetime(2021, 1, 1),
    catchup=False,
    tags=["example"],
) as tutorial:
    print_date = BashOperator(task_id="print_date", bash_command="echo today is {{ ds }}")
    templated = BashOperator(
        task_id="templated",
        bash_command=textwrap.dedent("""\\
            {% for i in range(2) %}
            echo "{{ macros.ds_add(ds, i) }}"
            {% endfor %}"""),
    )
    shout = PythonOperator(task_id="shout", python_callable=lambda: "DONE",
                           trigger_rule=TriggerRule.ALL_DONE)
    print_date >> templated >> shout


@dag(schedule=None, start_date=datetime(2021, 1, 1), catchup=False)
def taskflow():
    @task()
    def extract():
        return {"a": 1.5, "b": 2.5}

    @task(multiple_outputs=True)
    def transform(orders: dict):
        return {"total": sum(orders.values())}

    @task()
    def load(total: float):
        return f"total={total:.1f}"

    load(transform(extract())["total"])


taskflow()
'''


def run_dag(bag: DagBag, dag_id: str, **kwargs: object) -> dict[str, object]:
    the_dag = bag.get_dag(dag_id)
    assert the_dag is not None
    xcom = InMemoryXComBackend()
    return {t.task_id: the_dag.run_task(t.task_id, run_id="manual__1", logical_date=LOGICAL,
                                        xcom=xcom, **kwargs)  # type: ignore[arg-type]
            for t in the_dag.topological_sort()}


def test_airflow_tutorial_file_loads_and_runs(tmp_path: Path) -> None:
    (tmp_path / "tutorial.py").write_text(TUTORIAL)
    bag = DagBag(tmp_path)
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == ["taskflow", "tutorial"]
    assert airflow_modules() == [] and not compat.is_installed()

    tutorial = bag.get_dag("tutorial")
    assert isinstance(tutorial, dagcore.DAG)
    assert tutorial.start_date == datetime(2021, 1, 1, tzinfo=UTC)
    assert tutorial.get_task("print_date").retries == 1
    assert run_dag(bag, "tutorial") == {"print_date": "today is 2024-03-01",
                                        "templated": "2024-03-02", "shout": "DONE"}
    assert run_dag(bag, "taskflow") == {"extract": {"a": 1.5, "b": 2.5},
                                        "transform": {"total": 4.0}, "load": "total=4.0"}


def test_compat_can_be_turned_off(tmp_path: Path) -> None:
    (tmp_path / "tutorial.py").write_text(TUTORIAL)
    for bag in (DagBag(tmp_path, compat_airflow=False), _bag_with_option_off(tmp_path)):
        assert bag.dags == {}
        assert "ModuleNotFoundError: No module named 'airflow'" in bag.import_errors["tutorial.py"]


def _bag_with_option_off(folder: Path) -> DagBag:
    with conf_vars({("core", "dagbag_compat_airflow"): False}):
        return DagBag(folder)


def test_compat_installed_by_the_caller_stays_installed(tmp_path: Path) -> None:
    (tmp_path / "tutorial.py").write_text(TUTORIAL)
    compat.install()
    bag = DagBag(tmp_path)
    assert bag.import_errors == {} and compat.is_installed()
    assert "airflow.operators.bash" in sys.modules
    compat.uninstall()


def test_process_file_alone_also_turns_compat_on_and_off(tmp_path: Path) -> None:
    path = tmp_path / "tutorial.py"
    path.write_text(TUTORIAL)
    bag = DagBag(tmp_path, collect_dags=False)
    assert sorted(d.dag_id for d in bag.process_file(path)) == ["taskflow", "tutorial"]
    assert airflow_modules() == []


def test_airflow_style_examples_run() -> None:
    bag = DagBag(EXAMPLE_DAGS_FOLDER)
    assert bag.import_errors == {}
    assert airflow_modules() == []

    assert run_dag(bag, "airflow_tutorial")["templated"].endswith(  # type: ignore[union-attr]
        "2024-03-01 plus 2 days: 2024-03-03")
    assert run_dag(bag, "airflow_taskflow_tutorial")["load"] == "Total order value: 250.00"

    controller = bag.get_dag("airflow_trigger_controller")
    with pytest.raises(DagRunTriggerException) as raised:
        controller.run_task("trigger_target", run_id="manual__1", logical_date=LOGICAL)
    assert raised.value.trigger_dag_id == "airflow_trigger_target"
    assert raised.value.conf == {"message": "Hello from the controller"}
    assert bag.get_dag("airflow_trigger_target") is not None  # the target is in the bag

    results = run_dag(bag, "airflow_trigger_target", conf=raised.value.conf)
    assert results == {"show_message": "Hello from the controller",
                       "echo_message": "Bash got: Hello from the controller"}
    assert os.path.samefile(controller.fileloc,
                            EXAMPLE_DAGS_FOLDER / "airflow_trigger_controller.py")


def test_aliases_are_separate_modules() -> None:
    # An alias that re-registered a dagcore module would overwrite that module's __spec__.
    with compat.enabled():
        import airflow.utils.trigger_rule as alias

        import dagcore.trigger_rule as original
        assert alias is not original and alias.TriggerRule is original.TriggerRule
        assert original.__spec__.name == "dagcore.trigger_rule"


# -- task exceptions, get_current_context, Variable, Connection: Airflow 2 and 3 import paths ----


@pytest.mark.parametrize("module", ["airflow.exceptions", "airflow.sdk.exceptions"])
def test_task_exceptions_at_airflow_s_paths(module: str) -> None:
    from dagcore import exceptions as exc

    with compat.enabled():
        aliased = importlib.import_module(module)
        assert aliased.AirflowException is exc.DagcoreException
        assert aliased.AirflowSkipException is exc.TaskSkipped
        assert aliased.AirflowFailException is exc.AirflowFailException
        assert aliased.AirflowTaskTimeout is exc.TaskTimeout
        assert aliased.AirflowSensorTimeout is exc.AirflowSensorTimeout
        for name in ("AirflowRescheduleException", "AirflowNotFoundException",
                     "AirflowBadRequest", "AirflowTaskTerminated"):
            assert getattr(aliased, name) is getattr(exc, name)


def test_context_variable_connection_at_airflow_s_paths() -> None:
    from dagcore.connections import BaseHook, Connection
    from dagcore.context import get_current_context
    from dagcore.variables import Variable

    expected = {
        # Airflow 2
        ("airflow.operators.python", "get_current_context"): get_current_context,
        ("airflow.models", "Variable"): Variable,
        ("airflow.models.variable", "Variable"): Variable,
        ("airflow.models", "Connection"): Connection,
        ("airflow.models.connection", "Connection"): Connection,
        ("airflow.hooks.base", "BaseHook"): BaseHook,
        # Airflow 3
        ("airflow.sdk", "get_current_context"): get_current_context,
        ("airflow.sdk", "Variable"): Variable,
        ("airflow.sdk", "Connection"): Connection,
        ("airflow.sdk", "BaseHook"): BaseHook,
        ("airflow.providers.standard.operators.python", "get_current_context"):
            get_current_context,
    }
    with compat.enabled():
        for (module, name), obj in expected.items():
            assert getattr(importlib.import_module(module), name) is obj, (module, name)


def test_xcomarg_in_an_f_string_and_render_template_pull_at_run_time() -> None:
    # Airflow's XComArg.__str__ is the Jinja expression pulling the value (example_xcom's
    # `bash_command=f"echo {XComArg(task, key='k')}"`), and BaseOperator.render_template
    # renders any content against the context (tutorial_taskflow_templates).
    from dagcore import DAG
    from dagcore.decorators import XComArg
    from dagcore.operators.empty import EmptyOperator
    from dagcore.templating import build_context

    with DAG("xcom_str", start_date=LOGICAL):
        push = EmptyOperator(task_id="push")
        echo = BashOperator(task_id="echo", bash_command=f"echo {XComArg(push, key='k')}")
    assert echo.bash_command == ("echo {{ task_instance.xcom_pull(task_ids='push', "
                                 "dag_id='xcom_str', key='k') }}")
    backend = InMemoryXComBackend()
    backend.push(dag_id="xcom_str", run_id="r", task_id="push", key="k", value=42)
    context = build_context(echo, run_id="r", logical_date=LOGICAL, xcom=backend)
    assert echo.render_template(echo.bash_command, context) == "echo 42"
    assert echo.render_template(["{{ ds }}", {"a": "{{ run_id }}"}], context) == [
        "2024-03-01", {"a": "r"}]


def test_more_paths_real_files_import_and_sla_is_accepted() -> None:
    with compat.enabled():
        from airflow.models.xcom_arg import XComArg
        from airflow.providers.common.compat.sdk import BaseOperator, TriggerRule
        from airflow.sdk.api.datamodels._generated import TriggerRule as GeneratedRule

        from dagcore.decorators import XComArg as DagcoreXComArg
        from dagcore.trigger_rule import TriggerRule as DagcoreRule

        assert XComArg is DagcoreXComArg and TriggerRule is GeneratedRule is DagcoreRule
        assert BaseOperator is dagcore.BaseOperator if hasattr(dagcore, "BaseOperator") \
            else BaseOperator.__name__ == "BaseOperator"
        dag = compat.DAG("sla", start_date=LOGICAL, sla_miss_callback=lambda *a: None)
        task = BashOperator(task_id="t", bash_command="true", sla=timedelta(hours=1), dag=dag)
        assert task.task_id in dag.task_dict


def test_airflow_2_spellings_from_the_example_dags() -> None:
    # example_branch_operator(_decorator), example_sensors, example_branch_dop_operator_v3.
    from dagcore.templating import build_context

    with compat.enabled():
        from airflow.decorators import task
        from airflow.operators.python import (
            BranchExternalPythonOperator,
            BranchPythonVirtualenvOperator,
        )
        from airflow.sensors.time_delta import TimeDeltaSensor, TimeDeltaSensorAsync

        from dagcore.operators.branch import BranchMixIn

        dag = compat.DAG("a2", start_date=LOGICAL, orientation="TB", default_view="graph",
                         concurrency=3)
        assert dag.max_active_tasks == 3
        assert issubclass(BranchPythonVirtualenvOperator, BranchMixIn)
        assert issubclass(BranchExternalPythonOperator, BranchMixIn)
        assert issubclass(TimeDeltaSensorAsync, TimeDeltaSensor)
        assert callable(task.branch_virtualenv) and callable(task.branch_external_python)
        op = BashOperator(task_id="t", bash_command="true", dag=dag)
        context = build_context(op, run_id="r", logical_date=LOGICAL)
        assert context["execution_date"] == LOGICAL
        assert (context["yesterday_ds"], context["tomorrow_ds"]) == ("2024-02-29", "2024-03-02")


def test_airflow_2_dummy_operator_and_top_level_xcomarg() -> None:
    # example_bash_operator / example_skip_dag (airflow.operators.dummy_operator), example_xcom
    # (`from airflow import DAG, XComArg`) as Airflow 2 wrote them.
    from dagcore.serialization import serialize_dag

    with compat.enabled():
        from airflow import XComArg
        from airflow.operators.dummy import DummyOperator as Dummy
        from airflow.operators.dummy_operator import DummyOperator
        from airflow.operators.empty import EmptyOperator

        assert Dummy is DummyOperator and issubclass(DummyOperator, EmptyOperator)
        from dagcore.decorators import XComArg as DagcoreXComArg
        assert XComArg is DagcoreXComArg
        dag = compat.DAG("dummies", start_date=LOGICAL, schedule=None)
        with pytest.warns(DeprecationWarning, match="Please use `airflow.operators.empty"):
            DummyOperator(task_id="d", dag=dag)
    (task,) = serialize_dag(dag)["dag"]["tasks"]
    assert (task["_is_empty"], task["task_type"]) == (True, "DummyOperator")


def test_asset_allow_producer_teams_is_kept_without_effect() -> None:
    # example_asset_allow_teams (Airflow's multi-team mode; off, every producer is allowed).
    from dagcore.assets import Asset
    from dagcore.serialization import serialize_dag

    with compat.enabled():
        from airflow.sdk import Asset as SdkAsset
        assert SdkAsset is Asset
    shared = Asset("shared_data", allow_producer_teams=["team_analytics"])
    assert shared.allow_producer_teams == ["team_analytics"]
    assert shared == Asset("shared_data")
    with_teams = compat.DAG("consumer", start_date=LOGICAL, schedule=[shared])
    without = compat.DAG("consumer", start_date=LOGICAL, schedule=[Asset("shared_data")])
    assert serialize_dag(with_teams) == serialize_dag(without)


def test_airflow_imports_inside_a_callable_resolve_while_the_task_runs(tmp_path: Path) -> None:
    # Airflow 2.10's example_python_context_operator: the function imports airflow when it runs.
    (tmp_path / "lazy.py").write_text(textwrap.dedent("""\
        import pendulum
        from airflow import DAG
        from airflow.operators.python import PythonOperator

        def print_context():
            from airflow.operators.python import get_current_context
            return get_current_context()["ds"]

        with DAG("lazy", schedule=None, start_date=pendulum.datetime(2021, 1, 1, tz="UTC")):
            PythonOperator(task_id="print_the_context", python_callable=print_context)
        """))
    bag = DagBag(tmp_path)
    assert bag.import_errors == {} and not compat.is_installed()
    result = bag.get_dag("lazy").test(LOGICAL)
    assert result.task_states == {"print_the_context": "success"}
    assert result.xcom_pull("print_the_context") == "2024-03-01"
    assert airflow_modules() == [] and not compat.is_installed()  # off again after the task
    with conf_vars({("core", "dagbag_compat_airflow"): "false"}):
        result = bag.get_dag("lazy").test(LOGICAL)
    assert result.task_states == {"print_the_context": "failed"}


def test_context_type_at_airflow_s_paths() -> None:
    # `from airflow.utils.context import Context` (Airflow 2's example_dag_decorator, custom
    # operators' annotations) and `from airflow.sdk import Context` (Airflow 3).
    from dagcore.context import Context

    with compat.enabled():
        from airflow.sdk import Context as SdkContext
        from airflow.utils.context import Context as Airflow2Context
    assert SdkContext is Context and Airflow2Context is Context
    assert "ds" in Context.__annotations__ and "ti" in Context.__annotations__
