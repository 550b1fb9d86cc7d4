"""An Airflow-style tutorial DAG, unchanged Airflow syntax (``from airflow import DAG``).

Three Bash tasks: print the date, then sleep and a templated loop in parallel. The start date
is naive, as in Airflow's tutorial; dagcore reads it in ``[core] default_timezone``.
"""

import textwrap
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG(
    "airflow_tutorial",
    default_args={
        "depends_on_past": False,
        "retries": 1,
        "retry_delay": timedelta(minutes=5),
    },
    description="A first DAG: dates, a sleep and a templated loop",
    schedule=timedelta(days=1),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["example", "airflow-compat"],
) as dag:
    dag.doc_md = __doc__

    print_date = BashOperator(task_id="print_date", bash_command="date")
    print_date.doc_md = "Prints the current date on the worker."

    sleep = BashOperator(task_id="sleep", bash_command="sleep 0.1", retries=3)

    templated = BashOperator(
        task_id="templated",
        bash_command=textwrap.dedent(
            """\
            {% for offset in range(3) %}
            echo "{{ ds }} plus {{ offset }} days: {{ macros.ds_add(ds, offset) }}"
            {% endfor %}
            """
        ),
    )

    print_date >> [sleep, templated]
