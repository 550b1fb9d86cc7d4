"""An Airflow-style DAG that branches: ``@task.branch`` into a task group or a task, a join with
``none_failed_min_one_success``, ``@task.short_circuit``, ``LatestOnlyOperator``,
``BranchDayOfWeekOperator`` and edge labels.

Written with Airflow 3's imports (``airflow.sdk``, ``airflow.providers.standard``); the Airflow 2
paths (``airflow.operators.python``, ``airflow.operators.latest_only``...) work too.
"""

from datetime import datetime, timezone

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.latest_only import LatestOnlyOperator
from airflow.providers.standard.operators.weekday import BranchDayOfWeekOperator
from airflow.providers.standard.utils.weekday import WeekDay
from airflow.sdk import DAG, Label, TaskGroup, task

with DAG(
    "airflow_branching",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    tags=["example", "airflow-compat"],
) as dag:

    @task.branch
    def choose(**context):
        """Follow the group when the run has no conf asking otherwise."""
        return (context["dag_run"].conf or {}).get("path", "path_a")

    with TaskGroup("path_a") as path_a:
        EmptyOperator(task_id="extract") >> EmptyOperator(task_id="load")

    path_b = EmptyOperator(task_id="path_b")
    join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")

    chosen = choose()
    chosen >> Label("default") >> path_a >> join
    chosen >> Label("asked for b") >> path_b >> join

    @task.short_circuit
    def check_rows():
        """No rows today: nothing to report."""
        return 0

    report = EmptyOperator(task_id="report")
    join >> check_rows() >> report

    latest_only = LatestOnlyOperator(task_id="latest_only")
    notify = EmptyOperator(task_id="notify")
    join >> latest_only >> notify

    weekday_check = BranchDayOfWeekOperator(
        task_id="weekday_check",
        week_day={WeekDay.SATURDAY, WeekDay.SUNDAY},
        follow_task_ids_if_true="weekend",
        follow_task_ids_if_false="workday",
        use_task_logical_date=True,
    )
    join >> weekday_check >> [EmptyOperator(task_id="weekend"), EmptyOperator(task_id="workday")]
