"""DAGs for the assets e2e test: a producer whose task updates an asset, and a consumer
scheduled on it (the consumer's Assets tab shows the producer and the asset in its graph)."""
from datetime import datetime, timezone

from airflow import DAG
from airflow.operators.empty import EmptyOperator
from airflow.sdk import Asset

ORDERS = Asset(name="e2e_orders", uri="s3://e2e-lake/orders")

with DAG(
    dag_id="e2e_asset_producer",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["e2e", "assets"],
):
    EmptyOperator(task_id="load_orders", outlets=[ORDERS])

with DAG(
    dag_id="e2e_asset_consumer",
    schedule=[ORDERS],
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["e2e", "assets"],
):
    EmptyOperator(task_id="report")
