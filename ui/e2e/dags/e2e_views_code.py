"""A DAG whose file details.e2e.ts rewrites (the description) to make a second DAG version."""
from datetime import datetime, timezone

from airflow import DAG
from airflow.operators.empty import EmptyOperator

with DAG(
    dag_id="e2e_views_code",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    description="first version",
    tags=["views"],
):
    EmptyOperator(task_id="only")
