"""An Airflow-2-style DAG with task groups: nested groups, group ``default_args``, ``@task_group``
and dependencies between groups and tasks.

Written with Airflow's imports (``airflow.utils.task_group``, ``airflow.decorators``); task ids
inside a group are ``group.task`` (``section_1.inner.check``), as in Airflow.
"""

from datetime import datetime, timezone

from airflow import DAG
from airflow.decorators import task, task_group
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.utils.task_group import TaskGroup

with DAG(
    "airflow_task_groups",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    default_args={"retries": 0},
    tags=["example", "airflow-compat"],
) as dag:
    start = EmptyOperator(task_id="start")

    with TaskGroup("section_1", tooltip="Tasks for section_1",
                   default_args={"owner": "section_1"}) as section_1:
        first = EmptyOperator(task_id="first")
        with TaskGroup("inner") as inner:
            check = BashOperator(task_id="check", bash_command="echo checked")
        first >> inner

    @task
    def produce(n: int) -> int:
        return n * 10

    @task
    def total(values: list) -> int:
        return sum(values)

    @task_group
    def section_2(n: int):
        """Produce two values and add them up (returns nothing: ``>>`` links the group)."""
        total([produce(n), produce(n + 1)])

    end = EmptyOperator(task_id="end")

    start >> section_1 >> section_2(1) >> end
