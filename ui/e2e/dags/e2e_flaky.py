"""A DAG whose `checks.flaky` task fails on the first try of every run and succeeds when the run
is cleared (a marker file per run in DAGCORE_HOME), with a task group and a mapped task."""
import os
from datetime import datetime, timezone

from airflow import DAG
from airflow.decorators import task
from airflow.operators.empty import EmptyOperator
from airflow.utils.task_group import TaskGroup

with DAG(
    "e2e_flaky",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["e2e"],
    default_args={"retries": 0},
):

    @task
    def numbers():
        return [1, 2, 3]

    @task
    def square(x):
        return x * x

    with TaskGroup("checks") as checks:
        lint = EmptyOperator(task_id="lint")

        @task
        def flaky(**context):
            marker = os.path.join(os.environ["DAGCORE_HOME"], f"flaky-{context['run_id']}")
            if not os.path.exists(marker):
                open(marker, "w").close()
                raise RuntimeError("the first try of each run fails on purpose")
            print("second try: fine")

        lint >> flaky()

    done = EmptyOperator(task_id="done")
    square.expand(x=numbers()) >> checks >> done
