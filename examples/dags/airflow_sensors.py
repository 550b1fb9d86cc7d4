"""An Airflow DAG that waits: sensors in ``poke`` and ``reschedule`` mode, ``@task.sensor`` with
a ``PokeReturnValue``, and a ``soft_fail`` sensor that times out and is skipped.

Written with Airflow's imports (``airflow.sensors.*`` of Airflow 2 and the standard provider's
``airflow.providers.standard.sensors.*`` of Airflow 3). Sensors in ``reschedule`` mode give up
their worker slot between pokes: the task instance waits ``up_for_reschedule``.
"""

from datetime import datetime, timedelta, timezone

from airflow import DAG
from airflow.decorators import task
from airflow.operators.empty import EmptyOperator
from airflow.providers.standard.sensors.date_time import DateTimeSensor
from airflow.providers.standard.sensors.weekday import DayOfWeekSensor
from airflow.sensors.base import PokeReturnValue
from airflow.sensors.bash import BashSensor
from airflow.sensors.filesystem import FileSensor
from airflow.sensors.python import PythonSensor
from airflow.sensors.time_delta import TimeDeltaSensor

with DAG(
    "airflow_sensors",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    default_args={"poke_interval": 0.1, "timeout": 60},
    tags=["example", "airflow-compat"],
) as dag:
    # The run's data interval ended at its logical date: nothing to wait for.
    wait_for_start = TimeDeltaSensor(task_id="wait_for_start", delta=timedelta(0),
                                     mode="reschedule")
    wait_for_dag_file = FileSensor(task_id="wait_for_dag_file", filepath=__file__)
    wait_for_bash = BashSensor(task_id="wait_for_bash", bash_command="test -d /",
                               mode="reschedule")
    wait_for_date = DateTimeSensor(task_id="wait_for_date", target_time="{{ logical_date }}")
    any_day = DayOfWeekSensor(task_id="any_day", week_day={
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"})
    # Never true: it times out, and soft_fail skips it instead of failing the run.
    never_true = PythonSensor(task_id="never_true", python_callable=lambda: False,
                              timeout=0.3, soft_fail=True, mode="reschedule")

    @task.sensor(mode="reschedule")
    def wait_for_value() -> PokeReturnValue:
        return PokeReturnValue(is_done=True, xcom_value=42)

    @task
    def use_value(value: int) -> int:
        return value + 1

    done = EmptyOperator(task_id="done", trigger_rule="none_failed")
    value = wait_for_value()
    [wait_for_start, wait_for_dag_file, wait_for_bash, wait_for_date, any_day,
     never_true] >> done
    use_value(value) >> done
