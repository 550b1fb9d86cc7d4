"""A daily DAG for backfills from the form: extract, a task group of two transforms, load."""
from datetime import datetime, timezone

from airflow import DAG
from airflow.decorators import task
from airflow.operators.empty import EmptyOperator
from airflow.utils.task_group import TaskGroup

with DAG(
    "e2e_daily",
    schedule="@daily",
    start_date=datetime(2026, 10, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=16,
    tags=["e2e", "daily"],
    description="Daily extract, transform and load",
):
    extract = EmptyOperator(task_id="extract")
    with TaskGroup("transform") as transform:
        EmptyOperator(task_id="clean")

        @task
        def enrich(**context):
            return context["ds"]

        enrich()

    load = EmptyOperator(task_id="load")
    extract >> transform >> load
