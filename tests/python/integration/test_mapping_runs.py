"""Dynamic task mapping end to end: ``DAG.test()`` runs the real scheduler (expansion from the
database, decisions from instance counts) and the task runner (each instance's operator built
from the partial arguments and its expanded values). The expected states, values and orders are
Airflow's (task-sdk ``definitions/mappedoperator.py``, ``models/expandinput.py``,
``models/taskmap.py``; airflow-core ``tests/unit/models/test_mappedoperator.py``)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from typing import Any

import pytest
from cli_helpers import CLIHome

from dagcore import DAG, task
from dagcore.configuration import conf_vars
from dagcore.dagbag import EXAMPLE_DAGS_FOLDER
from dagcore.operators.bash import BashOperator
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator
from dagcore.trigger_rule import TriggerRule

pytestmark = pytest.mark.integration

START = datetime(2024, 1, 1, tzinfo=UTC)
LOGICAL = datetime(2024, 3, 1, tzinfo=UTC)


@task
def make_list() -> list[int]:
    return [1, 2, 3]


@task
def add(x: int, y: int = 0) -> int:
    return x + y


@task
def total(values: list[int]) -> int:
    return sum(values)


def test_a_task_mapped_over_an_upstream_list_runs_one_instance_per_item() -> None:
    with DAG("map_xcom", start_date=START) as dag:
        added = add.partial(y=10).expand(x=make_list())
        summed = total(added)
    assert dag.task_dict["add"].upstream_task_ids == {"make_list"}
    result = dag.test(LOGICAL)
    assert result.state == "success"
    assert result.mapped_states == {"add": ["success"] * 3}
    # A mapped task's values, in map-index order; a downstream task gets them as a list.
    assert result.xcom_pull("add") == [11, 12, 13]
    assert result.xcom_pull(summed.operator.task_id) == 36
    assert [ti.map_index for ti in result.mapped["add"]] == [0, 1, 2]


def test_several_inputs_map_over_their_product_last_fastest() -> None:
    # Airflow's DictOfListsExpandInput: x=[1,2] and y=[10,20,30] give 6 instances, y fastest.
    with DAG("map_product", start_date=START) as dag:
        add.expand(x=[1, 2], y=[10, 20, 30])
    result = dag.test(LOGICAL)
    assert result.xcom_pull("add") == [11, 21, 31, 12, 22, 32]


def test_a_dict_maps_to_key_value_pairs() -> None:
    @task
    def make_dict() -> dict[str, int]:
        return {"a": 1, "b": 2}

    @task
    def show(pair: Any) -> str:
        key, value = pair
        return f"{key}={value}"

    with DAG("map_dict", start_date=START) as dag:
        show.expand(pair=make_dict())
        show.override(task_id="literal").expand(pair={"x": 9})
    result = dag.test(LOGICAL)
    assert result.xcom_pull("show") == ["a=1", "b=2"]
    assert result.xcom_pull("literal") == ["x=9"]


def test_expand_kwargs_map_and_zip() -> None:
    @task
    def pairs() -> list[dict[str, int]]:
        return [{"x": 1, "y": 2}, {"x": 3}]

    @task
    def letters() -> list[str]:
        return ["a", "b", "c"]

    @task
    def join(item: Any) -> str:
        return "".join(str(v) for v in item)

    with DAG("map_kwargs", start_date=START) as dag:
        add.override(task_id="from_xcom").expand_kwargs(pairs())
        add.override(task_id="from_literal").expand_kwargs([{"x": 5, "y": 5}])
        add.override(task_id="doubled").expand(x=make_list().map(lambda v: v * 2))
        numbers = make_list()
        join.override(task_id="zipped").expand(item=numbers.zip(letters()))
        join.override(task_id="zipped_longest").expand(
            item=numbers.zip(letters(), [7], fillvalue="-"))
    result = dag.test(LOGICAL)
    assert result.state == "success"
    assert result.xcom_pull("from_xcom") == [3, 3]
    assert result.xcom_pull("from_literal") == [10]
    assert result.xcom_pull("doubled") == [2, 4, 6]
    assert result.xcom_pull("zipped") == ["1a", "2b", "3c"]
    assert result.xcom_pull("zipped_longest") == ["1a7", "2b-", "3c-"]


def test_classic_operators_map_too() -> None:
    with DAG("map_classic", start_date=START) as dag:
        BashOperator.partial(task_id="echo", do_xcom_push=True).expand(
            bash_command=["echo one", "echo two"])
        PythonOperator.partial(task_id="py", python_callable=lambda v: v * 3).expand(
            op_args=[[1], [2]])
        EmptyOperator.partial(task_id="empty").expand(doc=["a", "b", "c", "d"])
    result = dag.test(LOGICAL)
    assert result.state == "success"
    assert result.xcom_pull("echo") == ["one", "two"]
    assert result.xcom_pull("py") == [3, 6]
    # Empty instances succeed without running, as unmapped empty tasks (one try each).
    assert [ti.try_number for ti in result.mapped["empty"]] == [1] * 4


def test_zero_length_expansion_skips_the_task_and_its_downstream() -> None:
    @task
    def nothing() -> list[int]:
        return []

    with DAG("map_empty", start_date=START) as dag:
        mapped = add.expand(x=nothing())
        after = total(mapped)
        always = EmptyOperator(task_id="always", trigger_rule=TriggerRule.ALL_DONE)
        mapped >> always
    result = dag.test(LOGICAL)
    assert result.state == "success"
    # Airflow: "Marking ... as SKIPPED since the map has 0 values to expand".
    assert result.task_states["add"] == "skipped"
    assert result.task_states[after.operator.task_id] == "skipped"
    assert result.task_states["always"] == "success"
    assert "add" not in result.mapped


def test_one_failed_instance_fails_the_run_and_counts_in_trigger_rules() -> None:
    @task
    def fragile(x: int) -> int:
        if x == 2:
            raise ValueError("two is bad")
        return x

    with DAG("map_fail", start_date=START) as dag:
        mapped = fragile.expand(x=[1, 2, 3])
        after = total(mapped)
        alert = EmptyOperator(task_id="alert", trigger_rule=TriggerRule.ONE_FAILED)
        one_ok = EmptyOperator(task_id="one_ok", trigger_rule=TriggerRule.ONE_SUCCESS)
        mapped >> [alert, one_ok]
    result = dag.test(LOGICAL)
    assert result.mapped_states["fragile"] == ["success", "failed", "success"]
    assert result.task_states[after.operator.task_id] == "upstream_failed"
    assert result.task_states["alert"] == "success"
    assert result.task_states["one_ok"] == "success"
    assert result.state == "failed"


def test_mapped_instances_are_retried_one_by_one() -> None:
    attempts: dict[int, int] = {}

    @task(retries=1, retry_delay=0)
    def flaky(x: int) -> int:
        attempts[x] = attempts.get(x, 0) + 1
        if x == 1 and attempts[x] == 1:
            raise RuntimeError("first try fails")
        return x

    with DAG("map_retry", start_date=START) as dag:
        flaky.expand(x=[0, 1])
    result = dag.test(LOGICAL)
    assert result.state == "success"
    assert [ti.try_number for ti in result.mapped["flaky"]] == [1, 2]


def test_map_index_template_labels_the_instances() -> None:
    with DAG("map_label", start_date=START) as dag:
        add.override(map_index_template="x is {{ task.op_kwargs['x'] }}").expand(x=[4, 5])
    result = dag.test(LOGICAL)
    assert [ti.rendered_map_index for ti in result.mapped["add"]] == ["x is 4", "x is 5"]


def test_an_unmappable_return_value_fails_the_upstream_task() -> None:
    @task
    def not_a_list() -> int:
        return 3

    with DAG("map_bad_type", start_date=START) as dag:
        add.expand(x=not_a_list())
    result = dag.test(LOGICAL)
    # Airflow's UnmappableXComTypePushed fails the pushing task; the mapped one cannot expand.
    assert result.task_states["not_a_list"] == "failed"
    assert result.task_states["add"] == "upstream_failed"
    assert result.state == "failed"


def test_max_map_length_is_enforced_on_pushed_values() -> None:
    @task
    def long_list() -> list[int]:
        return list(range(5))

    with DAG("map_too_long", start_date=START) as dag:
        add.expand(x=long_list())
    with conf_vars({("core", "max_map_length"): "4"}):
        result = dag.test(LOGICAL)
    assert result.task_states["long_list"] == "failed"
    assert result.task_states["add"] == "upstream_failed"


def test_a_mapped_task_over_a_mapped_task_gets_one_instance_per_value() -> None:
    with DAG("map_chain", start_date=START) as dag:
        first = add.expand(x=[1, 2, 3])
        add.override(task_id="second").partial(y=100).expand(x=first)
    result = dag.test(LOGICAL)
    assert result.xcom_pull("second") == [101, 102, 103]


def test_max_active_tis_per_dagrun_limits_running_instances() -> None:
    with DAG("map_limit", start_date=START) as dag:
        add.override(max_active_tis_per_dagrun=1).expand(x=[1, 2, 3])
    result = dag.test(LOGICAL)
    assert result.state == "success"
    spans = sorted((ti.start_date, ti.end_date) for ti in result.mapped["add"])
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end is not None and start is not None and end <= start


def test_dags_test_runs_the_mapping_example(cli_home: CLIHome) -> None:
    shutil.copy(EXAMPLE_DAGS_FOLDER / "airflow_dynamic_mapping.py", cli_home.dags_folder)
    result = cli_home.run("dags", "test", "airflow_dynamic_mapping", "-S",
                          str(cli_home.dags_folder), "-o", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    by_task: dict[str, list[str]] = {}
    for row in rows:
        by_task.setdefault(row["task_id"], []).append(row["state"])
    assert by_task["add_one"] == ["success"] * 3
    assert by_task["sum_it"] == ["success"]
    assert by_task["echo_each"] == ["success"] * 2


# -- the real scheduler: LocalExecutor task processes load the DAG file ----------------------------

MAPPED_FILE = """\
from datetime import UTC, datetime

from dagcore import DAG, task
from dagcore.operators.bash import BashOperator

with DAG("mapped_file", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)):
    @task
    def numbers():
        return [1, 2, 3, 4]

    @task
    def square(x):
        return x * x

    @task
    def total(values):
        print(f"total={sum(values)}")
        return sum(values)

    total(square.expand(x=numbers()))
    BashOperator.partial(task_id="echo").expand(bash_command=["echo a", "echo b"])
"""


def test_the_scheduler_runs_mapped_instances_in_task_processes(
        cli_home: CLIHome, cli_db: Any) -> None:
    import sqlalchemy as sa
    from scheduler_process import DagcoreProcess, dagcore_env, reap_sessions

    from dagcore.models import tables as t

    folder = cli_home.write_dags({"mapped.py": MAPPED_FILE})
    cli_home.env.update(dagcore_env(cli_home.home, dags_folder=folder,
                                    DAGCORE__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME="0.01"))
    for args in (("db", "migrate"), ("dags", "reserialize", "-S", str(folder)),
                 ("dags", "unpause", "mapped_file"),
                 ("dags", "trigger", "mapped_file", "-r", "m1")):
        done = cli_home.run(*args)
        assert done.returncode == 0, done.stderr
    ti, dr = t.task_instance, t.dag_run
    started: list[DagcoreProcess] = []
    try:
        for i in range(15):  # -n loops per invocation; the bound only turns a hang into a failure
            process = DagcoreProcess(cli_home.env, ("scheduler", "-n", "200", "-p", "2"),
                                     logs=cli_home.home / "cli", name=f"scheduler-{i}")
            started.append(process)
            assert process.proc.wait(timeout=120) == 0, process.describe()
            with cli_db.connect() as conn:
                state = conn.execute(sa.select(dr.c.state).where(
                    dr.c.run_id == "m1")).scalar_one()
            if state in ("success", "failed"):
                break
    finally:
        reap_sessions(started)
    assert state == "success"
    with cli_db.connect() as conn:
        rows = conn.execute(sa.select(ti.c.task_id, ti.c.map_index, ti.c.state)
                            .where(ti.c.run_id == "m1")
                            .order_by(ti.c.task_id, ti.c.map_index)).all()
    assert [tuple(r) for r in rows] == [
        ("echo", 0, "success"), ("echo", 1, "success"), ("numbers", -1, "success"),
        ("square", 0, "success"), ("square", 1, "success"), ("square", 2, "success"),
        ("square", 3, "success"), ("total", -1, "success")]
    log_dir = cli_home.home / "logs" / "dag_id=mapped_file" / "run_id=m1" / "task_id=total"
    assert "total=30" in (log_dir / "attempt=1.log").read_text()
    square_logs = sorted(p.parent.name for p in (log_dir.parent / "task_id=square").glob("*/*"))
    assert square_logs == [f"map_index={i}" for i in range(4)]


# -- both backends: expansion's INSERT ... SELECT and the counts query -----------------------------


def test_expansion_and_bulk_decisions_on_each_backend(engine: Any, tmp_path: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy as sa

    from dagcore.api.common import trigger_dag
    from dagcore.dag_processing import write_dag
    from dagcore.db import migrate, transaction
    from dagcore.db_dagbag import DBDagBag
    from dagcore.executors.inprocess import InProcessExecutor
    from dagcore.jobs.scheduler import SchedulerJob
    from dagcore.models import tables as t

    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    migrate(engine)
    with DAG("bulk", start_date=START, schedule=None) as dag:
        wide = EmptyOperator.partial(task_id="wide").expand(doc=[str(i) for i in range(300)])
        squares = add.expand(x=list(range(5)))
        summed = total(squares)
        wide >> summed
    write_dag(engine, dag)
    with transaction(engine) as conn:
        conn.execute(t.dag.update().values(is_paused=False))
    run = trigger_dag("bulk", engine=engine)
    job = SchedulerJob(engine=engine, executor=InProcessExecutor(engine, dags={"bulk": dag}),
                       dag_bag=DBDagBag(engine=engine, revalidation_interval=0),
                       idle_sleep=0.0, dags={"bulk": dag}, single=False)
    job.job.register()
    job.executor.start()
    for _ in range(30):
        job.run_once()
    ti = t.task_instance
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ti.c.id, ti.c.task_id, ti.c.map_index, ti.c.state,
                                      ti.c.try_number)
                            .where(ti.c.run_id == run.run_id)).all()
        run_state = conn.execute(sa.select(t.dag_run.c.state).where(
            t.dag_run.c.run_id == run.run_id)).scalar_one()
    assert run_state == "success"
    wide_rows = [r for r in rows if r.task_id == "wide"]
    assert sorted(r.map_index for r in wide_rows) == list(range(300))
    assert {(r.state, r.try_number) for r in wide_rows} == {("success", 1)}
    assert len({str(r.id) for r in rows}) == len(rows)  # ids made in SQL are unique
    assert sorted(r.map_index for r in rows if r.task_id == "add") == list(range(5))
    assert [r.state for r in rows if r.task_id == summed.operator.task_id] == ["success"]


# -- mapped task groups ------------------------------------------------------------------------------


def test_a_mapped_task_group_runs_each_expansion_on_its_own() -> None:
    from dagcore.task_group import task_group

    @task
    def first(i: int) -> int:
        if i == 2:
            raise ValueError("two is bad")
        return i

    @task
    def second(i: int) -> int:
        return i * 10

    @task_group
    def group(i: int) -> Any:
        return second(first(i))

    with DAG("map_group", start_date=START) as dag:
        collected = total.override(task_id="collect", trigger_rule=TriggerRule.ALL_DONE)(
            group.expand(i=make_list()))
    assert dag.task_dict["group.first"].upstream_task_ids == {"make_list"}
    result = dag.test(LOGICAL)
    # Airflow's relevant map indexes: instance i of `second` waits for instance i of `first`
    # only, so the failure of first[1] stops second[1] and nothing else.
    assert result.mapped_states == {"group.first": ["success", "failed", "success"],
                                    "group.second": ["success", "upstream_failed", "success"]}
    # A task outside the group gets every instance's value (those that pushed one).
    assert result.xcom_pull(collected.operator.task_id) == 40
    assert result.state == "success"  # the only leaf, collect (all_done), succeeded


def test_a_mapped_task_group_with_partial_arguments_and_a_classic_operator() -> None:
    from dagcore.task_group import task_group

    @task_group
    def group(word: str, suffix: str) -> Any:
        @task
        def shout(word: str, suffix: str) -> str:
            return word.upper() + suffix

        echo = BashOperator(task_id="echo", bash_command="echo {{ ti.map_index }}",
                            do_xcom_push=True)
        return shout(word, suffix) >> echo

    with DAG("map_group_partial", start_date=START) as dag:
        group.partial(suffix="!").expand(word=["a", "b"])
    result = dag.test(LOGICAL)
    assert result.state == "success"
    assert result.xcom_pull("group.shout") == ["A!", "B!"]
    assert result.xcom_pull("group.echo") == ["0", "1"]


def test_a_mapped_task_group_over_nothing_is_skipped() -> None:
    from dagcore.task_group import task_group

    @task
    def nothing() -> list[int]:
        return []

    @task_group
    def group(i: int) -> Any:
        return add(i)

    with DAG("map_group_empty", start_date=START) as dag:
        group.expand(i=nothing())
    result = dag.test(LOGICAL)
    assert result.task_states["group.add"] == "skipped"
    assert result.state == "success"


def test_custom_operators_map_and_an_xcom_reference_in_a_template_field_is_resolved() -> None:
    # After Airflow's example_dynamic_task_mapping_with_no_taskflow_operators: a constructor
    # whose first parameter is not task_id, and `values=mapped.output` in a template field,
    # which makes `sum_it` downstream of `add_one` and gets the list of its instances' values.
    from dagcore.operators.base import BaseOperator

    class AddOne(BaseOperator):
        def __init__(self, value: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.value = value

        def execute(self, context: Any) -> int:
            return self.value + 1

    class SumIt(BaseOperator):
        template_fields = ("values",)

        def __init__(self, values: Any, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.values = values

        def execute(self, context: Any) -> int:
            return sum(self.values)

    with DAG("map_custom", start_date=START) as dag:
        added = AddOne.partial(task_id="add_one").expand(value=[1, 2, 3])
        SumIt(task_id="sum_it", values=added.output)
    assert dag.task_dict["sum_it"].upstream_task_ids == {"add_one"}
    result = dag.test(LOGICAL)
    assert result.state == "success"
    assert result.xcom_pull("sum_it") == 9


def test_a_bash_command_from_an_upstream_xcom() -> None:
    # Airflow's example_dag_decorator: `BashOperator(bash_command=info["command"])`, where
    # `info` is a @task's output: resolved when the task's fields are rendered.
    @task(multiple_outputs=True)
    def prepare() -> dict[str, str]:
        return {"command": "echo from-xcom"}

    with DAG("bash_from_xcom", start_date=START) as dag:
        BashOperator(task_id="echo", bash_command=prepare()["command"], do_xcom_push=True)
    assert dag.task_dict["echo"].upstream_task_ids == {"prepare"}
    result = dag.test(LOGICAL)
    assert result.xcom_pull("echo") == "from-xcom"
    with pytest.raises(TypeError, match="must be a str or an XCom reference, got int"):
        BashOperator(task_id="bad", bash_command=3)  # type: ignore[arg-type]
