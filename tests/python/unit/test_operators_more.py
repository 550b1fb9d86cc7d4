"""More operators and decorators (issue 14 part D), checked against Airflow's expectations:
``@task.bash``, ``@setup``/``@teardown``, PythonVirtualenvOperator/ExternalPythonOperator
validation, ``cross_downstream``/``chain_linear``, the ``airflow.sdk`` paths and ``timezone``,
``TriggerDagRunOperator(note=)``, DAG/task docs, ``owner_links``, ``inlets``/``outlets`` and the
retry settings. Runs are in tests/python/integration/test_operator_runs.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dagcore import DAG, task
from dagcore.compat import airflow as compat
from dagcore.decorators import XComArg
from dagcore.exceptions import DagcoreException, DagRunTriggerException
from dagcore.operators.bash_decorated import DecoratedBashOperator
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator
from dagcore.operators.python_virtualenv import (
    DecoratedVirtualenvOperator,
    ExternalPythonOperator,
    PythonVirtualenvOperator,
    VirtualenvError,
    function_source,
)
from dagcore.operators.trigger_dagrun import TriggerDagRunOperator
from dagcore.serialization import SerializedDAG, serialize_dag
import dagcore.setup_teardown as st
from dagcore.task_group import task_group
from dagcore.templating import build_context
from dagcore.trigger_rule import TriggerRule
from dagcore.utils.helpers import chain_linear, cross_downstream

START = datetime(2024, 1, 1, tzinfo=UTC)


def _dag(dag_id: str = "d", **kwargs: Any) -> DAG:
    return DAG(dag_id, start_date=START, schedule=None, **kwargs)


def _downstream(dag: DAG) -> dict[str, list[str]]:
    return {tid: sorted(t.downstream_task_ids) for tid, t in dag.task_dict.items()}


# -- @task.bash (providers/standard decorators/bash.py, tests/unit/standard/decorators/test_bash.py)


def test_task_bash_creates_a_decorated_bash_operator() -> None:
    with _dag():
        @task.bash
        def hello() -> str:
            return "echo hi"

        ref = hello()
    assert isinstance(ref.operator, DecoratedBashOperator)
    assert ref.operator.custom_operator_name == "@task.bash"
    # Airflow: bash_command is SET_DURING_EXECUTION until the callable has run.
    assert ref.operator.bash_command == "<set during execution>"
    assert {"bash_command", "env", "cwd", "op_args", "op_kwargs"} <= set(
        ref.operator.template_fields)


def _run(op: Any, dag: DAG, **context: Any) -> Any:
    ctx = build_context(op, run_id="r", logical_date=datetime(2024, 3, 1, tzinfo=UTC))
    ctx.update(context)
    op.render_template_fields(ctx)
    return op.execute(ctx)


def test_task_bash_runs_the_returned_command_rendered() -> None:
    # Airflow renders the returned command as a template before running it.
    with _dag() as dag:
        @task.bash(env={"WHO": "world"}, append_env=True)
        def hello(greeting: str) -> str:
            return f'echo "{greeting} $WHO {{{{ ds }}}}"'

        ref = hello("hello")
    assert _run(ref.operator, dag) == "hello world 2024-03-01"


@pytest.mark.parametrize("returned", ["", "   ", None, 42, ["echo"]])
def test_task_bash_refuses_a_non_string_or_empty_command(returned: Any) -> None:
    # Airflow: TypeError("The returned value from the TaskFlow callable must be a non-empty
    # string.") (test_bash.py test_non_string_return / test_empty_string_return).
    with _dag() as dag:
        @task.bash
        def bad() -> Any:
            return returned

        ref = bad()
    with pytest.raises(TypeError, match="must be a non-empty string"):
        _run(ref.operator, dag)


def test_task_bash_ignores_multiple_outputs_with_a_warning() -> None:
    with _dag():
        @task.bash(multiple_outputs=True)
        def cmd() -> str:
            return "echo x"

        with pytest.warns(UserWarning, match="`multiple_outputs=True` is not supported in "
                                             "@task.bash tasks. Ignoring."):
            ref = cmd()
    assert ref.operator.multiple_outputs is False


def test_unknown_task_flavour_names_the_known_ones() -> None:
    with pytest.raises(AttributeError, match="'nope'.*bash.*external_python.*virtualenv"):
        task.nope  # noqa: B018


# -- @setup / @teardown (task-sdk definitions/decorators/setup_teardown.py) ----------------------


def test_setup_and_teardown_mark_the_tasks_they_create() -> None:
    with _dag() as dag:
        @st.setup
        def create() -> str:
            return "c"

        @st.teardown
        def delete(name: str) -> None:
            pass

        @st.teardown(on_failure_fail_dagrun=True)
        def delete_hard() -> None:
            pass

        c = create()
        d = delete(c)
        h = delete_hard()
    assert dag.task_dict["create"].is_setup and not dag.task_dict["create"].is_teardown
    assert d.operator.is_teardown and not d.operator.on_failure_fail_dagrun
    assert h.operator.on_failure_fail_dagrun is True
    # Airflow: a teardown's trigger rule is ALL_DONE_SETUP_SUCCESS.
    assert d.operator.trigger_rule == TriggerRule.ALL_DONE_SETUP_SUCCESS
    assert dag.task_dict["create"].trigger_rule == TriggerRule.ALL_SUCCESS
    assert d.operator.upstream_task_ids == {"create"}


def test_setup_wraps_a_task_decorated_function_of_any_flavour() -> None:
    with _dag():
        @st.setup
        @task.bash(task_id="make")
        def make() -> str:
            return "echo made"

        ref = make()
    assert isinstance(ref.operator, DecoratedBashOperator)
    assert ref.operator.is_setup and ref.operator.task_id == "make"


def test_teardown_trigger_rule_is_not_configurable() -> None:
    # Airflow: ValueError("Trigger rule not configurable for teardown tasks.")
    with _dag():
        @st.teardown
        @task(trigger_rule="all_done")
        def td() -> None:
            pass

        with pytest.raises(ValueError, match="Trigger rule not configurable for teardown tasks"):
            td()


def test_task_groups_cannot_be_setup_or_teardown() -> None:
    @task_group
    def group() -> None:
        EmptyOperator(task_id="e")

    for decorator in (st.setup, st.teardown):
        with pytest.raises(DagcoreException,
                           match="Task groups cannot be marked as setup or teardown."):
            decorator(group)


def test_setup_teardown_override_keeps_the_marker() -> None:
    with _dag() as dag:
        @st.teardown(on_failure_fail_dagrun=True)
        def td() -> None:
            pass

        td.override(task_id="td2")()
    assert dag.task_dict["td2"].is_teardown and dag.task_dict["td2"].on_failure_fail_dagrun


def test_context_manager_puts_the_block_between_setup_and_teardown() -> None:
    # Airflow's SetupTeardownContext: the block's roots get the setup upstream, its leaves the
    # teardown downstream (test_setup_teardown.py test_setup_teardown_as_context_manager...).
    with _dag() as dag:
        s = EmptyOperator(task_id="s").as_setup()
        t = EmptyOperator(task_id="t").as_teardown(setups=s)
        with s >> t:
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            a >> b
            EmptyOperator(task_id="c")
    assert _downstream(dag) == {"s": ["a", "c", "t"], "t": [], "a": ["b"], "b": ["t"],
                                "c": ["t"]}


def test_context_manager_with_taskflow_references_and_nesting() -> None:
    with _dag() as dag:
        @st.setup
        def s1() -> None: ...

        @st.teardown
        def t1() -> None: ...

        @st.setup
        def s2() -> None: ...

        @st.teardown
        def t2() -> None: ...

        @task
        def work() -> None: ...

        with s1() >> t1():
            with s2() >> t2():
                work()
    assert _downstream(dag) == {"s1": ["s2", "t1"], "t1": [], "s2": ["t2", "work"],
                                "t2": ["t1"], "work": ["t2"]}


def test_only_setup_or_teardown_tasks_are_context_managers() -> None:
    with _dag(), pytest.raises(DagcoreException,
                               match="Only setup/teardown tasks can be used as context managers."):
        with EmptyOperator(task_id="plain"):
            pass


# -- PythonVirtualenvOperator / ExternalPythonOperator validation (operators/python.py) ----------


def _plain(x: int = 1) -> int:
    return x + 1


def test_virtualenv_refuses_lambdas_and_generators() -> None:
    with pytest.raises(ValueError, match="only supports functions for python_callable arg"):
        PythonVirtualenvOperator(task_id="v", python_callable=lambda: 1)

    def gen() -> Iterator[int]:
        yield 1

    with pytest.raises(ValueError, match="does not support using 'yield'"):
        PythonVirtualenvOperator(task_id="v", python_callable=gen)


def test_virtualenv_refuses_an_unknown_serializer() -> None:
    # Airflow: "Unsupported serializer 'json'. Expected one of 'pickle', 'cloudpickle', 'dill'"
    with pytest.raises(ValueError, match="Unsupported serializer 'json'. Expected one of "
                                         "'pickle', 'cloudpickle', 'dill'"):
        PythonVirtualenvOperator(task_id="v", python_callable=_plain, serializer="json")


def test_virtualenv_refuses_op_args_across_python_major_versions() -> None:
    other = "2.7" if sys.version_info.major == 3 else "3.11"
    with pytest.raises(ValueError, match="Passing op_args or op_kwargs is not supported across "
                                         "different Python major versions"):
        PythonVirtualenvOperator(task_id="v", python_callable=_plain, python_version=other,
                                 op_args=[1])


def test_virtualenv_names_a_missing_python_version(tmp_path: Path) -> None:
    op = PythonVirtualenvOperator(task_id="v", python_callable=_plain, python_version="3.99",
                                  venv_cache_path=tmp_path)
    with pytest.raises(VirtualenvError, match="python_version '3.99'.*'python3.99'"):
        op.execute({})


def test_external_python_names_a_missing_interpreter() -> None:
    # Airflow: ValueError("Python Path '<path>' must exists")
    op = ExternalPythonOperator(task_id="e", python="/no/such/python", python_callable=_plain)
    with pytest.raises(VirtualenvError, match="Python Path '/no/such/python' must exists"):
        op.execute({})
    with pytest.raises(ValueError, match="Python Path must be defined"):
        ExternalPythonOperator(task_id="e", python="", python_callable=_plain)
    with pytest.raises(VirtualenvError, match="must be a file"):
        ExternalPythonOperator(task_id="e", python="/", python_callable=_plain).execute({})


def test_external_python_needs_an_absolute_path(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "python").write_text("")
    monkeypatch.chdir(tmp_path)
    op = ExternalPythonOperator(task_id="e", python="python", python_callable=_plain)
    with pytest.raises(VirtualenvError, match="Python Path 'python' must be an absolute path."):
        op.execute({})


def test_virtualenv_refuses_context_keys_that_cannot_cross_processes() -> None:
    def wants_ti(ti: Any = None) -> None:
        return None

    op = ExternalPythonOperator(task_id="e", python=sys.executable, python_callable=wants_ti)
    with pytest.raises(ValueError, match=r"context keys \['ti'\] cannot be passed"):
        op.execute({"ti": object(), "ds": "2024-01-01"})


def test_function_source_drops_the_decorators() -> None:
    @task.virtualenv
    def decorated(a: int) -> int:
        return a

    source = function_source(decorated.function)
    assert source.startswith("def decorated(a: int) -> int:")
    assert "@task" not in source


def test_task_virtualenv_and_external_python_flavours() -> None:
    with _dag():
        @task.virtualenv(requirements=["pendulum"])
        def v() -> int:
            return 1

        @task.external_python(python=sys.executable)
        def e() -> int:
            return 1

        rv, re_ = v(), e()
    assert isinstance(rv.operator, DecoratedVirtualenvOperator)
    assert rv.operator.requirements == ["pendulum"]
    assert isinstance(re_.operator, ExternalPythonOperator)
    assert re_.operator.custom_operator_name == "@task.external_python"


# -- cross_downstream / chain_linear (task-sdk bases/operator.py) --------------------------------


def test_cross_downstream_links_every_pair() -> None:
    with _dag() as dag:
        a, b, c, d = (EmptyOperator(task_id=x) for x in "abcd")
        cross_downstream([a, b], [c, d])
    assert _downstream(dag) == {"a": ["c", "d"], "b": ["c", "d"], "c": [], "d": []}
    with pytest.raises(TypeError, match="cross_downstream"):
        cross_downstream(a, [c])  # type: ignore[arg-type]


def test_chain_linear_links_every_task_to_the_whole_next_element() -> None:
    # Airflow's docstring example: chain_linear(t1, [t2, t3, t4], [t5, t6], t7)
    with _dag() as dag:
        t = {i: EmptyOperator(task_id=f"t{i}") for i in range(1, 8)}
        chain_linear(t[1], [t[2], t[3], t[4]], [t[5], t[6]], t[7])
    assert _downstream(dag) == {"t1": ["t2", "t3", "t4"], "t2": ["t5", "t6"],
                                "t3": ["t5", "t6"], "t4": ["t5", "t6"], "t5": ["t7"],
                                "t6": ["t7"], "t7": []}


def test_chain_linear_errors_are_airflows() -> None:
    with pytest.raises(ValueError, match="No tasks provided; nothing to do."):
        chain_linear()
    with _dag():
        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        with pytest.raises(ValueError, match="No dependencies were set. Did you forget to "
                                             "expand with `\\*`\\?"):
            chain_linear([a, b])
        with pytest.raises(TypeError, match="chain_linear"):
            chain_linear(a, "b")  # type: ignore[arg-type]


# -- airflow.sdk and the other import paths -------------------------------------------------------


@pytest.fixture
def airflow_paths() -> Iterator[None]:
    with compat.enabled() as active:
        if not active:
            pytest.skip("a real Airflow is importable")
        yield


def test_airflow_sdk_exports(airflow_paths: None) -> None:
    import airflow.sdk as sdk

    from dagcore.utils import helpers

    for name in ("DAG", "dag", "task", "task_group", "TaskGroup", "Param", "ParamsDict",
                 "chain", "chain_linear", "cross_downstream", "get_current_context",
                 "BaseOperator", "setup", "teardown", "timezone", "Variable", "Connection",
                 "BaseHook", "TriggerRule", "XComArg"):
        assert hasattr(sdk, name), name
    assert sdk.setup is st.setup and sdk.teardown is st.teardown and sdk.XComArg is XComArg
    assert sdk.chain_linear is helpers.chain_linear
    from airflow.sdk.bases.operator import BaseOperator, chain, cross_downstream  # noqa: F401
    from airflow.sdk.definitions.decorators import setup as s2
    from airflow.sdk.definitions.decorators.setup_teardown import setup_task, teardown_task
    assert s2 is st.setup and setup_task is st.setup and teardown_task is st.teardown


def test_airflow_2_and_provider_paths(airflow_paths: None) -> None:
    from airflow.decorators import setup as s, teardown as td
    from airflow.models.baseoperator import chain_linear as cl, cross_downstream as cd
    from airflow.operators.python import ExternalPythonOperator as E, PythonVirtualenvOperator as P
    from airflow.providers.standard.decorators.bash import bash_task
    from airflow.providers.standard.decorators.python_virtualenv import virtualenv_task
    from airflow.providers.standard.operators.python import PythonVirtualenvOperator as P3
    from airflow.utils.helpers import chain_linear as cl2, cross_downstream as cd2

    assert (s, td) == (st.setup, st.teardown)
    assert cl is cl2 is chain_linear and cd is cd2 is cross_downstream
    assert P is P3 is PythonVirtualenvOperator and E is ExternalPythonOperator
    from airflow.operators.python import is_venv_installed  # Airflow's example DAGs import it

    assert is_venv_installed() is True
    with _dag():
        @bash_task
        def b() -> str:
            return "echo"

        @virtualenv_task
        def v() -> None: ...

        assert isinstance(b().operator, DecoratedBashOperator)
        assert isinstance(v().operator, DecoratedVirtualenvOperator)


def test_timezone_module_as_airflow(airflow_paths: None) -> None:
    import pendulum
    from airflow.sdk import timezone
    from airflow.utils import timezone as tz2

    # Airflow: timezone.datetime uses [core] default_timezone (utc here) when tzinfo is absent.
    assert timezone.datetime(2021, 1, 1) == datetime(2021, 1, 1, tzinfo=UTC)
    assert timezone.datetime(2021, 1, 1).utcoffset() == timedelta(0)
    assert timezone.parse("2021-01-01T05:00:00") == datetime(2021, 1, 1, 5, tzinfo=UTC)
    assert timezone.utcnow().tzinfo is not None
    naive = datetime(2021, 6, 1, 12)
    assert timezone.make_aware(naive, pendulum.timezone("Europe/Amsterdam")).utcoffset() == \
        timedelta(hours=2)
    with pytest.raises(ValueError, match="make_aware expects a naive datetime"):
        timezone.make_aware(datetime(2021, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="make_naive\\(\\) cannot be applied to a naive"):
        timezone.make_naive(naive)
    assert timezone.make_naive(datetime(2021, 1, 1, tzinfo=UTC)) == datetime(2021, 1, 1)
    assert timezone.convert_to_utc(naive) == datetime(2021, 6, 1, 12, tzinfo=UTC)
    assert timezone.is_naive(naive) and timezone.is_localized(timezone.utcnow())
    assert tz2.utcnow is timezone.utcnow


# -- TriggerDagRunOperator(note=) (providers/standard operators/trigger_dagrun.py) ---------------


def test_trigger_dagrun_note_goes_with_the_request() -> None:
    op = TriggerDagRunOperator(task_id="t", trigger_dag_id="target", note="from the controller")
    with pytest.raises(DagRunTriggerException) as info:
        op.execute({})
    assert info.value.note == "from the controller"
    with pytest.raises(TypeError, match="note of task 't' must be a str"):
        TriggerDagRunOperator(task_id="t", trigger_dag_id="target", note=3)  # type: ignore


# -- docs, owner_links, inlets/outlets, retries ---------------------------------------------------


def test_doc_fields_are_accepted_and_serialized(tmp_path: Path) -> None:
    doc_file = tmp_path / "readme.md"
    doc_file.write_text("# From a file")
    with _dag(doc_md=str(doc_file)) as dag:
        op = EmptyOperator(task_id="e", doc_md="**md**", doc="plain", doc_rst="rst",
                           doc_yaml="a: 1", doc_json='{"a": 1}')
    # Airflow's DAG.get_doc_md: a doc_md naming an existing .md file is the file's text.
    assert dag.doc_md == "# From a file"
    assert (op.doc_md, op.doc, op.doc_rst, op.doc_yaml, op.doc_json) == (
        "**md**", "plain", "rst", "a: 1", '{"a": 1}')
    assert _dag("other", doc_md="missing.md").doc_md == "missing.md"
    assert SerializedDAG(serialize_dag(dag)).doc_md == "# From a file"


@pytest.mark.parametrize("links", [
    {"airflow": "https://airflow.apache.org"}, {"team": "mailto:team@example.com"}])
def test_owner_links_that_airflow_accepts(links: dict[str, str]) -> None:
    assert _dag(owner_links=links).owner_links == links


@pytest.mark.parametrize(("links", "bad"), [
    ({"airflow": "airflow.apache.org"}, {"airflow": "airflow.apache.org"}),
    ({"x": "https://"}, {"x": "https://"}),
    ({"m": "mailto:"}, {"": "mailto:"}),
])
def test_owner_links_that_airflow_refuses(links: dict[str, str], bad: dict[str, str]) -> None:
    # Airflow 3 DAG._validate_owner_links: ValueError naming the bad links.
    with pytest.raises(ValueError, match="Wrong link format was used for the owner") as info:
        _dag(owner_links=links)
    assert f"Bad formatted links are: {bad}" in str(info.value)


def test_inlets_and_outlets_are_accepted_and_stored_as_lists() -> None:
    with _dag(default_args={"outlets": ["default-out"]}):
        one = EmptyOperator(task_id="one", inlets="a")
        two = EmptyOperator(task_id="two", inlets=["a", "b"], outlets=["c"])
        three = EmptyOperator(task_id="three")
    assert (one.inlets, one.outlets) == (["a"], ["default-out"])
    assert (two.inlets, two.outlets) == (["a", "b"], ["c"])
    assert three.inlets == []


def test_retry_settings_reach_the_serialized_task_the_scheduler_reads() -> None:
    with _dag(default_args={"retries": 3, "retry_delay": timedelta(seconds=10),
                            "retry_exponential_backoff": True,
                            "max_retry_delay": timedelta(minutes=1)}) as dag:
        EmptyOperator(task_id="e")
    stored = SerializedDAG(serialize_dag(dag)).task_dict["e"]
    assert (stored.retries, stored.retry_delay, stored.retry_exponential_backoff,
            stored.max_retry_delay) == (3, timedelta(seconds=10), True, timedelta(minutes=1))


def test_next_retry_datetime_follows_airflows_backoff_formula() -> None:
    # Airflow's TaskInstance.next_retry_datetime: min_backoff = ceil(delay * 2**(try-1)),
    # delay = min_backoff + sha1("dag#task#logical_date#try") % min_backoff, capped by
    # max_retry_delay.
    import hashlib
    import math

    from dagcore.models.taskinstance import next_retry_datetime

    end = datetime(2024, 1, 1, tzinfo=UTC)
    logical = datetime(2024, 1, 1, tzinfo=UTC)
    for try_number in (1, 2, 3):
        min_backoff = math.ceil(10 * 2 ** (try_number - 1))
        h = int(hashlib.sha1(f"d#e#{logical}#{try_number}".encode()).hexdigest(), 16)
        expected = end + timedelta(seconds=min_backoff + h % min_backoff)
        assert next_retry_datetime(end_date=end, try_number=try_number,
                                   retry_delay=timedelta(seconds=10),
                                   retry_exponential_backoff=True, dag_id="d", task_id="e",
                                   logical_date=logical) == expected
    capped = next_retry_datetime(end_date=end, try_number=8, retry_delay=timedelta(seconds=10),
                                 retry_exponential_backoff=True,
                                 max_retry_delay=timedelta(seconds=30), dag_id="d",
                                 task_id="e", logical_date=logical)
    assert capped == end + timedelta(seconds=30)


def test_setup_and_teardown_survive_serialization() -> None:
    with _dag() as dag:
        @st.setup
        def s() -> None: ...

        @st.teardown(on_failure_fail_dagrun=True)
        def t() -> None: ...

        s() >> t()
    stored = SerializedDAG(serialize_dag(dag)).task_dict
    assert stored["s"].is_setup and stored["t"].is_teardown
    assert stored["t"].trigger_rule == TriggerRule.ALL_DONE_SETUP_SUCCESS


def test_context_manager_ignores_loose_setup_teardown_tasks_created_inside() -> None:
    # Airflow's update_context_map leaves setup and teardown tasks out of a block's work.
    with _dag() as dag:
        s = EmptyOperator(task_id="s").as_setup()
        t = EmptyOperator(task_id="t").as_teardown(setups=s)
        with s >> t:
            EmptyOperator(task_id="w")
            EmptyOperator(task_id="loose").as_teardown()
    assert _downstream(dag) == {"s": ["t", "w"], "t": [], "w": ["t"], "loose": []}


def test_context_manager_with_a_setup_alone() -> None:
    with _dag() as dag:
        s = EmptyOperator(task_id="s").as_setup()
        with s:
            EmptyOperator(task_id="w1") >> EmptyOperator(task_id="w2")
    assert _downstream(dag) == {"s": ["w1"], "w1": ["w2"], "w2": []}


@pytest.mark.parametrize(("build", "message"), [
    (lambda s, t, x: (x >> s, s)[1],
     "Setup tasks cannot have upstreams set manually on the context manager"),
    (lambda s, t, x: (s >> x, s)[1],
     "Downstream tasks to a setup task must be a teardown task on the context manager"),
    (lambda s, t, x: (s >> t >> x, s)[1], "Multiple shifts are not allowed in the context manager"),
    (lambda s, t, x: (x >> t, t)[1],
     "Upstream tasks to a teardown task must be a setup task on the context manager"),
    (lambda s, t, x: (t >> x, t)[1],
     "Downstream to a teardown task cannot be set manually on the context manager"),
], ids=["setup-upstream", "setup-downstream-work", "multiple-shifts", "teardown-upstream-work",
        "teardown-downstream"])
def test_context_manager_errors_are_airflows(build: Any, message: str) -> None:
    # Airflow's BaseSetupTeardownContext._push_tasks (ValueError).
    with _dag():
        s = EmptyOperator(task_id="s").as_setup()
        t = EmptyOperator(task_id="t").as_teardown()
        x = EmptyOperator(task_id="x")
        target = build(s, t, x)
        with pytest.raises(ValueError, match=message):
            with target:
                pass


def test_async_callables_run_to_their_end() -> None:
    # Airflow 3.1's example_python_operator: PythonOperator(python_callable=<async def>), and
    # @task on an async function; the awaited result is the task's return value.
    import asyncio

    async def sleep_then(n: int) -> int:
        await asyncio.sleep(0.01)
        return n * 2

    with DAG("async_callables", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None) as dag:
        PythonOperator(task_id="op", python_callable=sleep_then, op_kwargs={"n": 21})

        @task
        async def decorated() -> str:
            await asyncio.sleep(0)
            return "done"

        decorated()
    result = dag.test(datetime(2024, 1, 2, tzinfo=UTC))
    assert result.task_states == {"op": "success", "decorated": "success"}
    assert (result.xcom_pull("op"), result.xcom_pull("decorated")) == (42, "done")


def test_an_xcomarg_of_a_task_that_returned_none_resolves_to_none() -> None:
    # Airflow 2's example_xcomargs: task2 gets task1.output, and task1 returns None (no XCom):
    # PlainXComArg.resolve gives None for return_value; another key missing is an error.
    def nothing(*args: Any, **kwargs: Any) -> None:
        return None

    def receive(dummy: Any = "unset", missing: Any = "unset") -> list[Any]:
        return [dummy]

    with DAG("xcomargs", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None) as dag:
        task1 = PythonOperator(task_id="task1", python_callable=nothing)
        PythonOperator(task_id="task2", python_callable=receive,
                       op_kwargs={"dummy": task1.output})
        PythonOperator(task_id="task3", python_callable=receive,
                       op_kwargs={"missing": XComArg(task1, key="other")})
    result = dag.test(datetime(2024, 1, 2, tzinfo=UTC))
    assert result.task_states == {"task1": "success", "task2": "success", "task3": "failed"}
    assert result.xcom_pull("task2") == [None]
