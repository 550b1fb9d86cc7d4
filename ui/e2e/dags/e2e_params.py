"""A manually triggered DAG whose params make the trigger form: an integer with bounds, an enum,
a string with a minimum length and a boolean (Airflow's Param JSON schemas)."""
from datetime import datetime, timezone

from airflow import DAG
from airflow.decorators import task
from airflow.models.param import Param

with DAG(
    "e2e_params",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["e2e", "params"],
    params={
        "count": Param(3, type="integer", minimum=1, maximum=10, description="How many items"),
        "colour": Param("red", enum=["red", "green", "blue"], description="Pick a colour"),
        "label": Param("hello", type="string", minLength=2),
        "dry_run": Param(False, type="boolean"),
    },
):

    @task
    def echo(**context):
        params = context["params"]
        print(f"count={params['count']} colour={params['colour']} label={params['label']}")
        return params["count"]

    echo()
