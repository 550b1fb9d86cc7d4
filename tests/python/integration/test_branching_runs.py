"""Branching, short-circuit and latest-only through the real scheduler and task runner
(``DAG.test()``): the final task states are those Airflow's tests expect for the same graphs
(providers/standard tests ``operators/test_python.py``, ``test_branch_operator.py``,
``test_latest_only_operator.py``, ``test_weekday.py``, ``test_datetime.py``)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from cli_helpers import CLIHome
from sqlalchemy.engine import Engine

import dagcore.utils.timezone as tz_seam

from dagcore import DAG, task
from dagcore.api.common import trigger_dag
from dagcore.dag_processing import sync_dags, write_dag
from dagcore.dagbag import EXAMPLE_DAGS_FOLDER
from dagcore.db import migrate, transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.executors.inprocess import InProcessExecutor
from dagcore.executors.local import LocalExecutor
from dagcore.jobs.scheduler import SchedulerJob
from dagcore.models import tables as t
from dagcore.operators.branch import BaseBranchOperator, BranchPythonOperator
from dagcore.operators.datetime import BranchDateTimeOperator
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.latest_only import LatestOnlyOperator
from dagcore.operators.short_circuit import ShortCircuitOperator
from dagcore.operators.weekday import BranchDayOfWeekOperator
from dagcore.task_group import TaskGroup
from dagcore.trigger_rule import TriggerRule
from dagcore.utils.edgemodifier import Label, get_edge_info
from dagcore.utils.weekday import WeekDay

pytestmark = pytest.mark.integration

START = datetime(2024, 1, 1, tzinfo=UTC)
MONDAY = datetime(2024, 3, 4, 12, tzinfo=UTC)


def _two_paths(dag_id: str, choice: object) -> DAG:
    with DAG(dag_id, start_date=START) as the_dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: choice)
        a = EmptyOperator(task_id="a")
        a2 = EmptyOperator(task_id="a2")
        b = EmptyOperator(task_id="b")
        join = EmptyOperator(task_id="join",
                             trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
        branch >> a >> a2 >> join
        branch >> b >> join
    return the_dag


def test_branch_follows_one_path_and_the_join_runs() -> None:
    # Airflow: the branch skips the direct downstream not followed; the skip propagates down
    # its path (all_success); the join with none_failed_min_one_success runs.
    result = _two_paths("branch_one", "a").test(MONDAY)
    assert result.state == "success"
    assert result.task_states == {"branch": "success", "a": "success", "a2": "success",
                                  "b": "skipped", "join": "success"}


def test_branch_returning_none_skips_every_path() -> None:
    # Airflow (test_skip_all_except with None): every direct downstream is skipped, the join too.
    result = _two_paths("branch_none", None).test(MONDAY)
    assert result.state == "success"
    assert result.task_states == {"branch": "success", "a": "skipped", "a2": "skipped",
                                  "b": "skipped", "join": "skipped"}


def test_branch_to_an_unknown_task_fails_the_branch_task() -> None:
    # Airflow's skip_all_except: "'branch_task_ids' must contain only valid task_ids. Invalid
    # tasks found: {'nope'}." The branch task fails; everything downstream is upstream_failed.
    result = _two_paths("branch_bad", "nope").test(MONDAY)
    assert result.state == "failed"
    assert result.task_states["branch"] == "failed"
    assert result.task_states["a"] == "upstream_failed"
    assert result.task_states["b"] == "upstream_failed"


def test_branch_to_a_task_group_follows_its_roots() -> None:
    # Airflow's BranchMixIn._expand_task_group_roots: a group id means its root tasks.
    with DAG("branch_group", start_date=START) as the_dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "grp")
        with TaskGroup("grp") as grp:
            first = EmptyOperator(task_id="first")
            first >> EmptyOperator(task_id="second")
        other = EmptyOperator(task_id="other")
        branch >> [grp, other]
    result = the_dag.test(MONDAY)
    assert result.task_states == {"branch": "success", "grp.first": "success",
                                  "grp.second": "success", "other": "skipped"}


def test_task_branch_decorator_and_a_label() -> None:
    @task.branch
    def pick(n: int) -> str:
        return "even" if n % 2 == 0 else "odd"

    with DAG("branch_decorated", start_date=START) as the_dag:
        chosen = pick(3)
        even = EmptyOperator(task_id="even")
        odd = EmptyOperator(task_id="odd")
        chosen >> Label("n is even") >> even
        chosen >> Label("n is odd") >> odd
    assert get_edge_info(the_dag, "pick", "odd") == {"label": "n is odd"}
    result = the_dag.test(MONDAY)
    assert result.task_states == {"pick": "success", "even": "skipped", "odd": "success"}


def test_base_branch_operator_subclass() -> None:
    class ChooseSecond(BaseBranchOperator):
        def choose_branch(self, context: dict) -> list[str]:
            return ["second"]

    with DAG("branch_base", start_date=START) as the_dag:
        ChooseSecond(task_id="choose") >> [EmptyOperator(task_id="first"),
                                           EmptyOperator(task_id="second")]
    assert the_dag.test(MONDAY).task_states == {"choose": "success", "first": "skipped",
                                                "second": "success"}


def _short_circuit_dag(dag_id: str, *, ignore: bool) -> DAG:
    with DAG(dag_id, start_date=START) as the_dag:
        check = ShortCircuitOperator(task_id="check", python_callable=lambda: False,
                                     ignore_downstream_trigger_rules=ignore)
        direct = EmptyOperator(task_id="direct")
        later = EmptyOperator(task_id="later", trigger_rule=TriggerRule.ALL_DONE)
        check >> direct >> later
    return the_dag


def test_short_circuit_ignoring_trigger_rules_skips_everything_downstream() -> None:
    # Airflow (test_short_circuiting with ignore_downstream_trigger_rules=True): all skipped,
    # whatever their trigger rule.
    result = _short_circuit_dag("sc_all", ignore=True).test(MONDAY)
    assert result.task_states == {"check": "success", "direct": "skipped", "later": "skipped"}


def test_short_circuit_respecting_trigger_rules_skips_only_direct_downstream() -> None:
    # Airflow (ignore_downstream_trigger_rules=False): the direct downstream is skipped; an
    # all_done task further down runs.
    result = _short_circuit_dag("sc_direct", ignore=False).test(MONDAY)
    assert result.task_states == {"check": "success", "direct": "skipped", "later": "success"}


def test_task_short_circuit_truthy_continues() -> None:
    @task.short_circuit
    def go() -> int:
        return 42

    with DAG("sc_truthy", start_date=START) as the_dag:
        go() >> EmptyOperator(task_id="after")
    result = the_dag.test(MONDAY)
    assert result.task_states == {"go": "success", "after": "success"}
    assert result.xcom_pull("go") == 42


def test_latest_only_does_not_skip_a_manual_run() -> None:
    # Airflow 3: a manual run (DAG.test's run is one) always proceeds.
    with DAG("latest_manual", start_date=START, schedule="@daily") as the_dag:
        LatestOnlyOperator(task_id="latest_only") >> EmptyOperator(task_id="after")
    result = the_dag.test(MONDAY)
    assert result.task_states == {"latest_only": "success", "after": "success"}


def test_day_of_week_and_datetime_branches_use_the_logical_date() -> None:
    with DAG("calendar_branches", start_date=START) as the_dag:
        day = BranchDayOfWeekOperator(task_id="day", week_day={WeekDay.SATURDAY, "Sunday"},
                                      follow_task_ids_if_true="weekend",
                                      follow_task_ids_if_false="weekday",
                                      use_task_logical_date=True)
        day >> [EmptyOperator(task_id="weekend"), EmptyOperator(task_id="weekday")]
        window = BranchDateTimeOperator(
            task_id="window", target_lower=MONDAY - timedelta(hours=1),
            target_upper=MONDAY + timedelta(hours=1), use_task_logical_date=True,
            follow_task_ids_if_true="inside", follow_task_ids_if_false="outside")
        window >> [EmptyOperator(task_id="inside"), EmptyOperator(task_id="outside")]
    result = the_dag.test(MONDAY)
    assert result.task_states == {"day": "success", "weekend": "skipped", "weekday": "success",
                                  "window": "success", "inside": "success",
                                  "outside": "skipped"}


def test_latest_only_skips_all_but_the_latest_scheduled_run(
        engine: Engine, tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    # Airflow 3 (test_latest_only_operator.py): with catch-up, the runs of past intervals skip
    # the downstream of LatestOnlyOperator; the run whose window holds now runs it, and a task
    # with trigger rule all_done downstream of the skipped one still runs.
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    migrate(engine)
    now = START + timedelta(days=3, hours=5)
    monkeypatch.setattr(tz_seam, "utcnow", lambda: now)
    with DAG("latest_sched", start_date=START, schedule="@daily", catchup=True) as the_dag:
        latest = LatestOnlyOperator(task_id="latest_only")
        after = EmptyOperator(task_id="after")
        done = EmptyOperator(task_id="done", trigger_rule=TriggerRule.ALL_DONE)
        latest >> after >> done
    write_dag(engine, the_dag)
    with transaction(engine) as conn:
        conn.execute(t.dag.update().values(is_paused=False))
    dags = {"latest_sched": the_dag}
    job = SchedulerJob(engine=engine, executor=InProcessExecutor(engine, dags=dags),
                       dag_bag=DBDagBag(engine=engine, revalidation_interval=0), idle_sleep=0.0,
                       dags=dags, single=False)
    job.job.register()
    job.executor.start()
    try:
        for _ in range(30):
            job.run_once()
    finally:
        job.executor.end()
        job.job.complete()
    ti = t.task_instance
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ti.c.run_id, ti.c.task_id, ti.c.state)).all()
    states: dict[str, dict[str, str]] = {}
    for run_id, task_id, state in rows:
        states.setdefault(run_id, {})[task_id] = state
    expected_skip = {"latest_only": "success", "after": "skipped", "done": "success"}
    expected_run = {"latest_only": "success", "after": "success", "done": "success"}
    assert states == {
        f"scheduled__{(START + timedelta(days=i)).isoformat()}":
            expected_run if i == 3 else expected_skip for i in range(4)}


def test_dags_test_runs_the_branching_example(cli_home: CLIHome) -> None:
    # `dags test` of examples/dags/airflow_branching.py (Airflow imports, compat finder), on a
    # Monday: the weekday path.
    shutil.copy(EXAMPLE_DAGS_FOLDER / "airflow_branching.py", cli_home.dags_folder)
    result = cli_home.run("dags", "test", "airflow_branching", "2024-03-04T12:00:00+00:00", "-S",
                          str(cli_home.dags_folder), "-o", "json")
    assert result.returncode == 0, result.stderr
    states = {row["task_id"]: row["state"] for row in json.loads(result.stdout)}
    assert states == EXAMPLE_STATES


EXAMPLE_STATES = {
    "choose": "success", "path_a.extract": "success", "path_a.load": "success",
    "path_b": "skipped", "join": "success", "check_rows": "success", "report": "skipped",
    "latest_only": "success", "notify": "success", "weekday_check": "success",
    "weekend": "skipped", "workday": "success"}


def test_the_branching_example_with_the_local_executor(
        sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The skips are written by the task runner in the worker process, as with DAG.test().
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "home"))
    folder = tmp_path / "dags"
    folder.mkdir()
    monkeypatch.setenv("DAGCORE__CORE__DAGS_FOLDER", str(folder))
    shutil.copy(EXAMPLE_DAGS_FOLDER / "airflow_branching.py", folder)
    engine = sqlite_engine
    migrate(engine)
    result = sync_dags(folder, engine=engine, min_update_interval=timedelta(0))
    assert not result.import_errors, result.import_errors
    with transaction(engine) as conn:
        conn.execute(t.dag.update().values(is_paused=False))
    run = trigger_dag("airflow_branching", run_id="manual_1", logical_date=MONDAY, engine=engine)
    executor = LocalExecutor(2, engine_url=engine.url.render_as_string(hide_password=False))
    job = SchedulerJob(engine=engine, executor=executor,
                       dag_bag=DBDagBag(engine=engine, revalidation_interval=0), idle_sleep=0.01)
    job.job.register()
    job.executor.start()
    deadline = time.monotonic() + 120
    state = None
    try:
        while time.monotonic() < deadline and state not in ("success", "failed"):
            job.run_once()
            with engine.connect() as conn:
                state = conn.execute(sa.select(t.dag_run.c.state).where(
                    t.dag_run.c.run_id == run.run_id)).scalar_one()
            job._idle()
    finally:
        job._shutdown()
        job.job.complete("success")
    assert state == "success"
    ti = t.task_instance
    with engine.connect() as conn:
        states = dict(conn.execute(sa.select(ti.c.task_id, ti.c.state)).all())
    assert states == EXAMPLE_STATES


def test_tasks_test_of_a_branch_task_succeeds_and_names_the_skips(cli_home: CLIHome) -> None:
    # `tasks test` runs one task with no run: the skips it asks for are reported, not an error.
    shutil.copy(EXAMPLE_DAGS_FOLDER / "airflow_branching.py", cli_home.dags_folder)
    result = cli_home.run("tasks", "test", "airflow_branching", "choose",
                          "2024-03-04T12:00:00+00:00", "-S", str(cli_home.dags_folder))
    assert result.returncode == 0, result.stderr
    assert "Task choose: success, skipping downstream tasks ['path_b']" in result.stderr
