"""An Airflow-style controller/target pair: the controller triggers the target with a conf.

Both DAGs live in this file; the target reads ``dag_run.conf`` from Python and from Bash.
"""

from datetime import datetime, timezone

from airflow.decorators import task
from airflow.models.dag import DAG
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

START = datetime(2024, 1, 1, tzinfo=timezone.utc)

with DAG(
    dag_id="airflow_trigger_controller",
    start_date=START,
    schedule="@once",
    catchup=False,
    tags=["example", "airflow-compat"],
):
    TriggerDagRunOperator(
        task_id="trigger_target",
        trigger_dag_id="airflow_trigger_target",
        conf={"message": "Hello from the controller"},
    )


@task(task_id="show_message")
def show_message(dag_run=None) -> str:
    message = dag_run.conf.get("message")
    print(f"Received message: {message}")
    return message


with DAG(
    dag_id="airflow_trigger_target",
    start_date=START,
    schedule=None,
    catchup=False,
    tags=["example", "airflow-compat"],
):
    shown = show_message()
    echo = BashOperator(
        task_id="echo_message",
        bash_command='echo "Bash got: $MESSAGE"',
        env={"MESSAGE": '{{ dag_run.conf.get("message") }}'},
    )
    shown >> echo
