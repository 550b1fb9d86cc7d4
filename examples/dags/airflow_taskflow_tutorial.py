"""An Airflow-style TaskFlow pipeline: extract, transform, load, passing values through XCom.

Written with ``from airflow.decorators import dag, task``; the DAG is created by calling the
decorated function at the bottom of the file.
"""

import json
from datetime import datetime, timezone

from airflow.decorators import dag, task


@dag(
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["example", "airflow-compat"],
)
def airflow_taskflow_tutorial():
    """Sum the values of a small order book."""

    @task()
    def extract() -> dict:
        raw = '{"order-1": 120.5, "order-2": 80.25, "order-3": 49.25}'
        return json.loads(raw)

    @task(multiple_outputs=True)
    def transform(orders: dict) -> dict:
        return {"total": sum(orders.values()), "count": len(orders)}

    @task()
    def load(total: float) -> str:
        line = f"Total order value: {total:.2f}"
        print(line)
        return line

    summary = transform(extract())
    load(summary["total"])


airflow_taskflow_tutorial()
