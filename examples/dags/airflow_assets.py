"""Data-aware scheduling, Airflow 3 style: a producer updates two assets, a consumer runs when both
have new events (``schedule=orders & customers``), and reads the events that triggered it.

The producer attaches an ``extra`` to the event of ``orders`` through ``outlet_events``; the
consumer's ``triggering_asset_events`` carries it (docs/airflow-behaviour.md 11.5 and 12.5).
"""

from datetime import datetime, timezone

from airflow.sdk import DAG, Asset, task

orders = Asset(name="orders", uri="s3://warehouse/orders.parquet", group="sales")
customers = Asset(name="customers", uri="s3://warehouse/customers.parquet", group="sales")

with DAG(
    dag_id="airflow_assets_producer",
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    schedule=None,
    catchup=False,
    tags=["example", "assets"],
):

    @task(outlets=[orders])
    def export_orders(*, outlet_events=None) -> None:
        outlet_events[orders].extra = {"rows": 1250}
        print("wrote orders")

    @task(outlets=[customers])
    def export_customers() -> None:
        print("wrote customers")

    export_orders() >> export_customers()


with DAG(
    dag_id="airflow_assets_consumer",
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    schedule=orders & customers,
    catchup=False,
    tags=["example", "assets"],
):

    @task
    def report(*, triggering_asset_events=None) -> int:
        rows = 0
        for asset, events in triggering_asset_events.items():
            for event in events:
                print(f"{asset.name}: event {event.id} from {event.source_dag_id} {event.extra}")
                rows += int(event.extra.get("rows", 0))
        return rows

    report()
