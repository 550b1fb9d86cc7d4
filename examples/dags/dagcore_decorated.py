"""A dagcore DAG built with ``@dag``: a param-driven greeting, never scheduled."""

from datetime import UTC, datetime

from dagcore import Param, dag, task


@dag(schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC), tags=["example"])
def dagcore_greeting(name: str = "world", times: Param = Param(2, type="integer", minimum=1)):
    """Greet ``name`` ``times`` times."""

    @task
    def greet(params=None) -> str:
        return " ".join([f"hello {params['name']}"] * params["times"])

    greet()


dagcore_greeting()
