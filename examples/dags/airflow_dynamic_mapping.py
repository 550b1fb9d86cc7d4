"""Dynamic task mapping as an Airflow user writes it (after Airflow's
example_dynamic_task_mapping.py): one task instance per item, decided at run time.

Runs unchanged on Airflow and on dagcore (``dagcore dags test airflow_dynamic_mapping``).
"""

from __future__ import annotations

from datetime import datetime

from airflow.decorators import dag, task
from airflow.operators.bash import BashOperator


@dag(dag_id="airflow_dynamic_mapping", start_date=datetime(2024, 1, 1), schedule=None,
     catchup=False, tags=["example", "mapping"])
def airflow_dynamic_mapping():
    @task
    def numbers() -> list[int]:
        return [1, 2, 3]

    @task(map_index_template="{{ task.op_kwargs['x'] }}")
    def add_one(x: int) -> int:
        return x + 1

    @task
    def sum_it(values: list[int]) -> int:
        total = sum(values)
        print(f"Total was {total}")
        return total

    sum_it(add_one.expand(x=numbers()))

    BashOperator.partial(task_id="echo_each", do_xcom_push=True).expand(
        bash_command=["echo first", "echo second"])


airflow_dynamic_mapping()
