"""DAGs with task groups run as any other DAG: the tasks are ordinary tasks with dotted ids
(Airflow's ``group.task``), so the scheduler, the run-state engine and the runner need nothing
special. Checked with ``DAG.test()`` and with ``dags test`` on the example file; the states after
the run are Airflow's for the same graph (trigger rules over the group's leaves/roots)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest
from cli_helpers import CLIHome

from dagcore import DAG, task
from dagcore.dagbag import EXAMPLE_DAGS_FOLDER
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator
from dagcore.task_group import TaskGroup, task_group
from dagcore.trigger_rule import TriggerRule

pytestmark = pytest.mark.integration

START = datetime(2024, 1, 1, tzinfo=UTC)
LOGICAL = datetime(2024, 3, 1, tzinfo=UTC)


def test_nested_groups_and_group_dependencies_run() -> None:
    @task
    def number(n: int) -> int:
        return n

    @task
    def add(values: list[int]) -> int:
        return sum(values)

    @task_group
    def pair(base: int) -> object:
        return add([number(base), number(base + 1)])

    with DAG("grouped_run", start_date=START) as the_dag:
        start = EmptyOperator(task_id="start")
        with TaskGroup("outer") as outer:
            with TaskGroup("inner"):
                EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
            EmptyOperator(task_id="c")
        first = pair(1)
        second = pair(10)
        end = EmptyOperator(task_id="end")
        start >> outer >> [first, second]
        [first, second] >> end

    # @task_group returned add's reference: `>>` binds to it, not to the whole group (Airflow).
    assert the_dag.task_dict["pair.add"].upstream_task_ids == {
        "pair.number", "pair.number__1", "outer.inner.b", "outer.c"}
    assert the_dag.task_dict["pair.number"].upstream_task_ids == set()
    result = the_dag.test(LOGICAL)
    assert result.state == "success"
    assert result.task_states == {task_id: "success" for task_id in (
        "start", "outer.inner.a", "outer.inner.b", "outer.c", "pair.number", "pair.number__1",
        "pair.add", "pair__1.number", "pair__1.number__1", "pair__1.add", "end")}
    assert result.xcom_pull("pair.add") == 3
    assert result.xcom_pull("pair__1.add") == 21


def test_a_failure_inside_a_group_propagates_to_the_group_downstream() -> None:
    # Airflow: `group >> t` is edges from the group's leaves, so t is upstream_failed when a
    # leaf fails; a sibling branch in the group still runs.
    def boom() -> None:
        raise RuntimeError("boom")

    with DAG("grouped_failure", start_date=START) as the_dag:
        with TaskGroup("work") as work:
            PythonOperator(task_id="fails", python_callable=boom)
            EmptyOperator(task_id="fine")
        after = EmptyOperator(task_id="after")
        cleanup = EmptyOperator(task_id="cleanup", trigger_rule=TriggerRule.ALL_DONE)
        work >> after
        work >> cleanup

    result = the_dag.test(LOGICAL)
    assert result.state == "failed"
    assert result.task_states == {"work.fails": "failed", "work.fine": "success",
                                  "after": "upstream_failed", "cleanup": "success"}


def test_dags_test_runs_the_task_group_example(cli_home: CLIHome) -> None:
    # `dags test` of examples/dags/airflow_task_groups.py (Airflow 2 imports, compat finder).
    shutil.copy(EXAMPLE_DAGS_FOLDER / "airflow_task_groups.py", cli_home.dags_folder)
    result = cli_home.run("dags", "test", "airflow_task_groups", "-S",
                          str(cli_home.dags_folder), "-o", "json")
    assert result.returncode == 0, result.stderr
    states = {row["task_id"]: row["state"] for row in json.loads(result.stdout)}
    assert states == {task_id: "success" for task_id in (
        "start", "section_1.first", "section_1.inner.check", "section_2.produce",
        "section_2.produce__1", "section_2.total", "end")}
