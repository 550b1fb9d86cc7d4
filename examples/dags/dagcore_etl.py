"""A dagcore DAG: a daily extract/transform/load with TaskFlow and a Bash report."""

from datetime import UTC, datetime

from dagcore import DAG, task
from dagcore.operators.bash import BashOperator
from dagcore.operators.empty import EmptyOperator

with DAG(
    "dagcore_etl",
    schedule="0 2 * * *",
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["example"],
):
    start = EmptyOperator(task_id="start")

    @task
    def extract() -> list[int]:
        return [3, 1, 4, 1, 5, 9, 2, 6]

    @task
    def transform(values: list[int]) -> dict[str, float]:
        return {"count": len(values), "mean": sum(values) / len(values)}

    @task
    def load(stats: dict[str, float]) -> str:
        return f"{stats['count']} values, mean {stats['mean']:.3f}"

    report = BashOperator(task_id="report", bash_command="echo 'loaded for {{ ds }}'")

    raw = extract()
    start >> raw
    load(transform(raw)) >> report
