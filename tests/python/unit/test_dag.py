"""The DAG: context manager, @dag, default_args, dependencies, setup/teardown, errors, run graph."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dagcore import DAG, Param, dag
from dagcore.dag import DagContext
from dagcore.exceptions import DagCycleError, DuplicateTaskIdFound, ParamValidationError
from dagcore.operators.base import BaseOperator
from dagcore.operators.bash import BashOperator
from dagcore.operators.empty import EmptyOperator
from dagcore.run_state import TaskSpec
from dagcore.timetables import CronTriggerTimetable, DeltaTriggerTimetable, NullTimetable
from dagcore.trigger_rule import TriggerRule
from dagcore.utils.helpers import chain

START = datetime(2024, 1, 1, tzinfo=UTC)


def edges(the_dag: DAG) -> set[tuple[str, str]]:
    return {(up, t.task_id) for t in the_dag.tasks for up in t.upstream_task_ids}


# -- definition ---------------------------------------------------------------------------------


def test_context_manager_collects_tasks_and_restores_context() -> None:
    with DAG("outer", start_date=START) as outer:
        a = EmptyOperator("a")
        with DAG("inner") as inner:
            b = EmptyOperator("b")
        c = EmptyOperator("c")
    assert outer.task_ids == ["a", "c"]
    assert inner.task_ids == ["b"]
    assert a.dag is outer and b.dag is inner and c.dag_id == "outer"
    assert DagContext.get_current_dag() is None
    assert outer.task_dict["a"] is a and outer.tasks == [a, c]


def test_explicit_dag_argument() -> None:
    the_dag = DAG("explicit")
    task = EmptyOperator("t", dag=the_dag)
    assert the_dag.get_task("t") is task
    with pytest.raises(KeyError, match="'missing' not found in DAG 'explicit'"):
        the_dag.get_task("missing")


def test_dag_settings_and_timetable() -> None:
    zone = ZoneInfo("Europe/Amsterdam")
    the_dag = DAG("settings", schedule="0 3 * * *", start_date=datetime(2024, 1, 1, tzinfo=zone),
                  tags=["a", "b"], description="d", max_active_runs=2, catchup=True,
                  dagrun_timeout=timedelta(hours=1), doc_md="# doc")
    assert isinstance(the_dag.timetable, CronTriggerTimetable)
    assert the_dag.timezone is zone
    assert the_dag.tags == {"a", "b"} and the_dag.max_active_runs == 2 and the_dag.catchup
    assert the_dag.max_active_tasks == 16 and the_dag.doc_md == "# doc"
    assert isinstance(DAG("none").timetable, NullTimetable)
    assert DAG("none").timezone == UTC
    assert isinstance(DAG("delta", schedule=timedelta(hours=2)).timetable, DeltaTriggerTimetable)


def test_dag_decorator() -> None:
    @dag(schedule=None, start_date=START, tags=["x"])
    def my_pipeline(size: int = 3) -> None:
        """Pipeline docs."""
        EmptyOperator("start") >> EmptyOperator(f"end_{size}")

    built = my_pipeline()
    assert built.dag_id == "my_pipeline"
    assert built.task_ids == ["start", "end_3"]
    assert built.params["size"] == 3
    assert built.doc_md == "Pipeline docs."
    assert edges(built) == {("start", "end_3")}

    @dag
    def bare() -> None:
        EmptyOperator("only")

    assert bare().task_ids == ["only"]

    @dag("named", params={"size": Param(5, type="integer")})
    def sized(size: int = 1) -> None:
        EmptyOperator(f"t{size}")

    assert sized().task_ids == ["t5"] and sized().dag_id == "named"


@pytest.mark.parametrize(("schedule", "fragment"), [
    ("not a cron", "'not a cron'"),
    ("61 * * * *", "'61 * * * *'"),
    (42, "42"),
], ids=["words", "minute-out-of-range", "int"])
def test_invalid_schedule_raises_naming_value(schedule: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=f"Invalid schedule .*{fragment[:4]}") as info:
        DAG("bad_schedule", schedule=schedule)
    assert fragment in str(info.value) and "bad_schedule" in str(info.value)


@pytest.mark.parametrize("kwargs", [
    {"start_date": datetime(2024, 1, 1)},
    {"max_active_runs": 0},
    {"start_date": START, "end_date": START - timedelta(days=1)},
], ids=["naive-start", "max-active-runs-zero", "end-before-start"])
def test_bad_dag_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="'args_dag'"):
        DAG("args_dag", **kwargs)


@pytest.mark.parametrize("dag_id", ["", "has space", "ü", "x" * 251])
def test_bad_dag_id(dag_id: str) -> None:
    with pytest.raises(ValueError, match="dag_id"):
        DAG(dag_id)


def test_duplicate_task_id_names_it() -> None:
    with DAG("dups"):
        EmptyOperator("same")
        with pytest.raises(DuplicateTaskIdFound,
                           match="Task id 'same' has already been added to the DAG 'dups'"):
            EmptyOperator("same")
    assert issubclass(DuplicateTaskIdFound, ValueError)


def test_cycle_raises_naming_the_cycle() -> None:
    with DAG("cyclic"):
        a, b, c = EmptyOperator("a"), EmptyOperator("b"), EmptyOperator("c")
        a >> b >> c
        with pytest.raises(DagCycleError,
                           match=r"Cycle detected in DAG 'cyclic': c -> a -> b -> c"):
            c >> a
        with pytest.raises(DagCycleError, match="a -> a"):
            a >> a
    assert issubclass(DagCycleError, ValueError)
    assert "a" not in c.downstream_task_ids


def test_cycle_detected_before_tasks_join_a_dag() -> None:
    a, b = EmptyOperator("a"), EmptyOperator("b")
    a >> b
    with pytest.raises(DagCycleError, match="b -> a -> b"):
        b >> a


def test_required_param_on_scheduled_dag_raises() -> None:
    with pytest.raises(ParamValidationError, match="required params without default values: x"):
        DAG("req", schedule="@daily", params={"x": Param(type="string")})
    DAG("req_ok", params={"x": Param(type="string")})  # unscheduled: triggered with conf
    with pytest.raises(ParamValidationError, match="Invalid input for param n of DAG 'bad'"):
        DAG("bad", params={"n": Param("abc", type="integer")})


# -- dependencies -------------------------------------------------------------------------------


def test_shift_operators_and_lists() -> None:
    with DAG("shift") as the_dag:
        a, b, c, d, e = (EmptyOperator(x) for x in "abcde")
        result = a >> [b, c]
        assert result == [b, c]
        [b, c] >> d  # noqa: B018 - __rrshift__
        e << d  # noqa: B018
    assert edges(the_dag) == {("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e")}
    assert a.downstream_task_ids == {"b", "c"} and d.upstream_task_ids == {"b", "c"}
    assert [t.task_id for t in the_dag.roots] == ["a"]
    assert [t.task_id for t in the_dag.leaves] == ["e"]


def test_lshift_list_and_set_methods() -> None:
    with DAG("methods") as the_dag:
        a, b, c, d = (EmptyOperator(x) for x in "abcd")
        [a, b] << c  # noqa: B018 - __rlshift__
        d.set_upstream([a, b])
        c.set_downstream(d)
    assert edges(the_dag) == {("c", "a"), ("c", "b"), ("a", "d"), ("b", "d"), ("c", "d")}


def test_chain() -> None:
    with DAG("chained") as the_dag:
        a, b, c, d, e, f = (EmptyOperator(x) for x in "abcdef")
        chain(a, [b, c], [d, e], f)
    assert edges(the_dag) == {("a", "b"), ("a", "c"), ("b", "d"), ("c", "e"), ("d", "f"),
                              ("e", "f")}
    with DAG("chain_bad"):
        x, y, z = (EmptyOperator(n) for n in "xyz")
        with pytest.raises(ValueError, match="different length Iterable. Got 1 and 2"):
            chain([x], [y, z])
        with pytest.raises(TypeError, match="chain"):
            chain(x, "y")


def test_relationship_across_dags_refused_and_dagless_task_joins() -> None:
    with DAG("one"):
        a = EmptyOperator("a")
    with DAG("two"):
        b = EmptyOperator("b")
    with pytest.raises(ValueError, match="more than one DAG"):
        a >> b
    loose = EmptyOperator("loose")
    a >> loose
    assert loose.dag_id == "one"


def test_setting_dependency_on_non_task_is_a_type_error() -> None:
    with DAG("types"):
        a = EmptyOperator("a")
        with pytest.raises(TypeError, match="int"):
            a >> 3


# -- default_args -------------------------------------------------------------------------------


def test_default_args_precedence() -> None:
    default_args = {"retries": 3, "retry_delay": timedelta(minutes=1), "owner": "data",
                    "bash_command": "echo default", "not_an_arg": 1}
    with DAG("defaults", default_args=default_args):
        plain = EmptyOperator("plain")
        explicit = EmptyOperator("explicit", retries=0)
        bash = BashOperator("bash")  # bash_command from default_args, as Airflow
        own = EmptyOperator("own", default_args={"retries": 7, "params": {"from_default": 1,
                                                                         "shared": "default"}},
                            params={"shared": "task", "mine": 2})
    assert plain.retries == 3 and plain.owner == "data"
    assert plain.retry_delay == timedelta(minutes=1)
    assert explicit.retries == 0
    assert bash.bash_command == "echo default"
    assert own.retries == 7
    assert dict(own.params) == {"from_default": 1, "shared": "task", "mine": 2}
    bare = EmptyOperator("bare")
    assert bare.retries == 0 and bare.retry_delay == timedelta(seconds=300)


def test_default_args_params_become_dag_params() -> None:
    the_dag = DAG("dparams", default_args={"params": {"a": 1}}, params={"b": 2})
    assert dict(the_dag.params) == {"a": 1, "b": 2}


def test_unknown_operator_argument_is_named() -> None:
    with pytest.raises(TypeError, match="Invalid arguments were passed to EmptyOperator"):
        EmptyOperator("x", no_such_thing=1)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"trigger_rule": "sometimes"}, "trigger_rule must be one of .*'x' has 'sometimes'"),
    ({"retries": -1}, "'retries' of task 'x'"),
    ({"execution_timeout": 5}, "execution_timeout of task 'x'"),
    ({"max_active_tis_per_dag": 0}, "max_active_tis_per_dag of task 'x'"),
], ids=["trigger-rule", "retries", "execution-timeout", "max-active-tis"])
def test_bad_operator_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        EmptyOperator("x", **kwargs)


@pytest.mark.parametrize("task_id", ["", "a b", "a/b"])
def test_bad_task_id(task_id: str) -> None:
    with pytest.raises(ValueError, match="task_id"):
        EmptyOperator(task_id)


def test_operator_settings_kept() -> None:
    on_fail = print
    task = BaseOperator("t", retries=2, retry_exponential_backoff=True, depends_on_past=True,
                        execution_timeout=timedelta(minutes=5), max_active_tis_per_dag=1,
                        on_failure_callback=on_fail, on_success_callback=on_fail, doc_md="x",
                        trigger_rule="one_failed")
    assert task.trigger_rule is TriggerRule.ONE_FAILED
    assert task.retries == 2 and task.retry_exponential_backoff and task.depends_on_past
    assert task.execution_timeout == timedelta(minutes=5) and task.max_active_tis_per_dag == 1
    assert task.on_failure_callback is on_fail and task.doc_md == "x"
    with pytest.raises(NotImplementedError):
        task.execute({})


# -- setup / teardown and the run graph ---------------------------------------------------------


def test_as_setup_and_as_teardown() -> None:
    with DAG("st") as the_dag:
        create = EmptyOperator("create").as_setup()
        work = EmptyOperator("work")
        delete = EmptyOperator("delete").as_teardown(setups=create, on_failure_fail_dagrun=True)
        create >> work >> delete
    assert create.is_setup and not create.is_teardown
    assert delete.is_teardown and delete.trigger_rule is TriggerRule.ALL_DONE_SETUP_SUCCESS
    assert delete.on_failure_fail_dagrun
    assert delete.upstream_task_ids == {"create", "work"}
    with pytest.raises(ValueError, match="both a setup and a teardown"):
        delete.as_setup()
    assert the_dag.task_specs() == [
        TaskSpec("create", is_setup=True),
        TaskSpec("work", upstream=("create",)),
        TaskSpec("delete", upstream=("create", "work"), trigger_rule="all_done_setup_success",
                 is_teardown=True, on_failure_fail_dagrun=True),
    ]


def test_as_teardown_setups_marks_them() -> None:
    with DAG("st2"):
        setup = EmptyOperator("setup")
        teardown = EmptyOperator("teardown").as_teardown(setups=[setup])
    assert setup.is_setup and teardown.upstream_task_ids == {"setup"}
    assert not teardown.on_failure_fail_dagrun


def test_setup_followed_by_non_all_success_task_is_refused() -> None:
    with pytest.raises(ValueError, match="Setup tasks must be followed with trigger rule "
                                         "ALL_SUCCESS: 'w' after setup 's'"):
        with DAG("st3"):
            EmptyOperator("s").as_setup() >> EmptyOperator("w", trigger_rule="all_done")


def test_run_graph_matches_the_dag() -> None:
    with DAG("graph") as the_dag:
        extract = EmptyOperator("extract", max_active_tis_per_dag=2)
        load = EmptyOperator("load", depends_on_past=True)
        alert = EmptyOperator("alert", trigger_rule=TriggerRule.ONE_FAILED)
        cleanup = EmptyOperator("cleanup", trigger_rule="all_done")
        alert << load << extract  # noqa: B018
        [extract, load] >> cleanup
    # Added in a non-topological order on purpose: the graph sorts, the specs keep insertion.
    assert the_dag.task_specs() == [
        TaskSpec("extract", limits_concurrency=True),
        TaskSpec("load", upstream=("extract",), depends_on_past=True),
        TaskSpec("alert", upstream=("load",), trigger_rule="one_failed"),
        TaskSpec("cleanup", upstream=("extract", "load"), trigger_rule="all_done"),
    ]
    graph = the_dag.run_graph()
    assert graph.task_ids == ("extract", "load", "alert", "cleanup")
    decision = graph.decide({"extract": "failed"})
    assert decision.schedulable == ("alert", "cleanup")
    assert decision.changed["load"].value == "upstream_failed"
    assert [t.task_id for t in the_dag.topological_sort()] == list(graph.task_ids)


def test_wait_for_downstream_implies_depends_on_past() -> None:
    assert EmptyOperator("w", wait_for_downstream=True).depends_on_past


def test_create_cron_data_intervals_setting_selects_the_timetable(monkeypatch) -> None:
    from dagcore.timetables import CronDataIntervalTimetable, CronTriggerTimetable

    assert isinstance(DAG("trigger_mode", schedule="@daily").timetable, CronTriggerTimetable)
    monkeypatch.setenv("DAGCORE__SCHEDULER__CREATE_CRON_DATA_INTERVALS", "True")
    assert isinstance(DAG("interval_mode", schedule="@daily").timetable, CronDataIntervalTimetable)
