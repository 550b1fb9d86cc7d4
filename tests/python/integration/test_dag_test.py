"""``DAG.test()`` (dagcore.testing.run_dag_test) creates and runs exactly the run asked for.

Airflow's DAG.test (task-sdk src/airflow/sdk/definitions/dag.py) creates one run with
``get_or_create_dagrun`` (run type manual, ``triggered_by`` test, ``triggering_user_name``
"dag_test") and loops over that run's task instances only: no scheduler creates a scheduled run
beside it, whatever the DAG's schedule (docs/airflow-behaviour.md 8.8).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dagcore import DAG
from dagcore.db import create_engine
from dagcore.models import tables as t
from dagcore.operators.empty import EmptyOperator
from dagcore.testing import run_dag_test

pytestmark = pytest.mark.integration

START = datetime(2024, 1, 1, tzinfo=UTC)
LOGICAL = datetime(2024, 3, 1, tzinfo=UTC)


def runs(db_url: str) -> list[tuple[Any, ...]]:
    engine = create_engine(db_url)
    dr = t.dag_run
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(
                sa.select(dr.c.dag_id, dr.c.run_id, dr.c.run_type, dr.c.state,
                          dr.c.triggered_by, dr.c.triggering_user_name))]
    finally:
        engine.dispose()


@pytest.mark.parametrize("schedule", ["@once", "*/1 * * * *", "@daily"])
def test_dag_test_creates_no_scheduled_run(tmp_path: Path, schedule: str) -> None:
    with DAG("tested", schedule=schedule, start_date=START) as dag:
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
    db_url = f"sqlite:///{tmp_path / 'test.db'}"
    result = dag.test(LOGICAL, db_url=db_url)
    assert (result.state, result.task_states) == ("success", {"a": "success", "b": "success"})
    assert runs(db_url) == [("tested", "manual__2024-03-01T00:00:00+00:00", "manual",
                             "success", "test", "dag_test")]


def test_keep_db_gives_the_temporary_database(tmp_path: Path) -> None:
    with DAG("kept", schedule="@once", start_date=START) as dag:
        EmptyOperator(task_id="a")
    result = run_dag_test(dag, logical_date=LOGICAL, keep_db=True)
    assert result.db_url is not None and result.db_url.startswith("sqlite:///")
    try:
        assert [row[:4] for row in runs(result.db_url)] == [
            ("kept", "manual__2024-03-01T00:00:00+00:00", "manual", "success")]
    finally:
        Path(result.db_url.removeprefix("sqlite:///")).unlink()
        Path(result.db_url.removeprefix("sqlite:///")).parent.rmdir()


def test_without_keep_db_the_temporary_database_is_gone() -> None:
    with DAG("dropped", schedule=None, start_date=START) as dag:
        EmptyOperator(task_id="a")
    result = run_dag_test(dag, logical_date=LOGICAL)
    assert result.state == "success" and result.db_url is None


# -- task exceptions and get_current_context in dag.test() (Airflow's DAG.test runs each task
# through the same _run_raw_task / task runner, so the same rules apply) ------------------------


def test_fail_exception_skip_and_context_in_dag_test(tmp_path: Path) -> None:
    from dagcore.context import get_current_context
    from dagcore.decorators import task
    from dagcore.exceptions import AirflowFailException, AirflowSkipException
    from dagcore.operators.python import PythonOperator

    def give_up() -> None:
        raise AirflowFailException("no point in retrying")

    def skip() -> None:
        raise AirflowSkipException("nothing to do")

    @task
    def look() -> list[Any]:
        context = get_current_context()
        return [context["dag_run"].run_id, context["ti"].task_id]

    with DAG("excs", schedule=None, start_date=START) as dag:
        PythonOperator(task_id="hopeless", python_callable=give_up, retries=3)
        PythonOperator(task_id="skip", python_callable=skip, retries=3)
        look()
    db_url = f"sqlite:///{tmp_path / 'test.db'}"
    result = dag.test(LOGICAL, db_url=db_url)
    assert result.task_states == {"hopeless": "failed", "skip": "skipped", "look": "success"}
    assert result.state == "failed"
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            tries = dict(conn.execute(sa.select(t.task_instance.c.task_id,
                                                t.task_instance.c.try_number)).all())
            value = conn.execute(sa.select(t.xcom.c.value).where(
                t.xcom.c.task_id == "look", t.xcom.c.key == "return_value")).scalar_one()
    finally:
        engine.dispose()
    assert tries == {"hopeless": 1, "skip": 1, "look": 1}
    assert value == ["manual__2024-03-01T00:00:00+00:00", "look"]
