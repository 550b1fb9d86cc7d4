"""DAGs for the views e2e tests: one the list test pauses and unpauses (tag `views`), and one
whose file the code test edits to make a second DAG version."""
from datetime import datetime, timezone

from airflow import DAG
from airflow.operators.empty import EmptyOperator

with DAG(
    dag_id="e2e_views_pausable",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["views", "e2e"],
):
    EmptyOperator(task_id="only")
