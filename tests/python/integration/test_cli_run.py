"""The CLI commands that run work, for real: ``scheduler``, ``standalone``, ``dags test``,
``tasks test``, ``tasks states-for-dag-run``, and ``TriggerDagRunOperator`` through the
scheduler.

Each command is ``python -m dagcore ...`` in a subprocess with ``DAGCORE_HOME`` (and its SQLite
database) in tmp_path and a small DAG folder written here. ``scheduler -n N`` stops after N
loops, however long they took, so a test runs it again until the run is finished (bounded):
how many loops a run needs depends on the machine, what the run ends as does not. Every
process a command started is gone when it exits (its session is empty).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cli_helpers import CLIHome, assert_one_line_error
from scheduler_process import DagcoreProcess, dagcore_env, reap_sessions, session_pids, wait_for

from dagcore.db import create_engine, head_revision
from dagcore.models import tables as t

pytestmark = pytest.mark.integration

LOOPS = "200"
MAX_INVOCATIONS = 15  # of `scheduler -n LOOPS` for one run: only turns a hang into a failure
FINISH_TIMEOUT_S = 120.0

PIPELINE_DAG = """\
from datetime import UTC, datetime

from dagcore import DAG, task
from dagcore.operators.bash import BashOperator
from dagcore.operators.empty import EmptyOperator

with DAG("pipeline", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)):
    @task
    def extract() -> list[int]:
        print("extracting")
        return [3, 1, 4]

    @task
    def total(values: list[int]) -> int:
        return sum(values)

    report = BashOperator(task_id="report",
                          bash_command="echo total={{ ti.xcom_pull('total') }}")
    EmptyOperator(task_id="start") >> total(extract()) >> report
"""
PIPELINE_TASKS = {"start", "extract", "total", "report"}

FAILING_DAG = """\
from datetime import UTC, datetime

from dagcore import DAG
from dagcore.operators.python import PythonOperator


def boom():
    raise ValueError("no data at the source")


with DAG("failing", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)):
    PythonOperator(task_id="fine", python_callable=lambda: 1)
    PythonOperator(task_id="boom", python_callable=boom)
"""

# examples/dags/airflow_trigger_controller.py's pair, plus a controller that waits.
TRIGGER_DAGS = """\
from datetime import UTC, datetime

from dagcore import DAG, task
from dagcore.operators.bash import BashOperator
from dagcore.operators.trigger_dagrun import TriggerDagRunOperator

START = datetime(2024, 1, 1, tzinfo=UTC)

for dag_id, wait in (("controller", False), ("controller_wait", True)):
    with DAG(dag_id, schedule=None, start_date=START):
        TriggerDagRunOperator(task_id="trigger_target", trigger_dag_id="target",
                              trigger_run_id="from_{{ dag.dag_id }}",
                              conf={"message": "Hello from {{ dag.dag_id }}"},
                              wait_for_completion=wait, poke_interval=0.1)


@task(task_id="show_message")
def show_message(dag_run=None) -> str:
    return dag_run.conf.get("message")


with DAG("target", schedule=None, start_date=START):
    show_message() >> BashOperator(task_id="echo_message",
                                   bash_command='echo "Bash got: $MESSAGE"',
                                   env={"MESSAGE": '{{ dag_run.conf.get("message") }}'})
"""


# Two DAGs whose scheduler would create a run of its own at once: `dags test` must not.
ONE_RUN_DAGS = """\
from datetime import UTC, datetime

from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

START = datetime(2024, 1, 1, tzinfo=UTC)

with DAG("once", schedule="@once", start_date=START):
    EmptyOperator(task_id="only")

with DAG("every_minute", schedule="*/1 * * * *", start_date=START):
    EmptyOperator(task_id="only")
"""

# A controller and its target in two files of one folder.
CONTROLLER_DAG = """\
from datetime import UTC, datetime

from dagcore import DAG
from dagcore.operators.trigger_dagrun import TriggerDagRunOperator

with DAG("controller", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)):
    TriggerDagRunOperator(task_id="trigger_target", trigger_dag_id="target",
                          trigger_run_id="from_{{ dag.dag_id }}",
                          conf={"message": "Hello from {{ dag.dag_id }}"})
"""

TARGET_DAG = """\
from datetime import UTC, datetime

from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

with DAG("target", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)):
    EmptyOperator(task_id="only")
"""


@pytest.fixture
def dags_folder(cli_home: CLIHome) -> Path:
    return cli_home.write_dags({"pipeline.py": PIPELINE_DAG, "failing.py": FAILING_DAG,
                                "trigger.py": TRIGGER_DAGS})


@pytest.fixture(autouse=True)
def scheduler_settings(cli_home: CLIHome, dags_folder: Path) -> None:
    """Every command here sees the DAG folder as [core] dags_folder and fast scheduler
    settings (short idle sleeps: ``-n LOOPS`` then ends soon after the run)."""
    cli_home.env.update(dagcore_env(cli_home.home, dags_folder=dags_folder,
                                    DAGCORE__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME="0.01"))


@pytest.fixture
def processes() -> Iterator[list[DagcoreProcess]]:
    """Long-running commands of the test; their sessions are emptied at the end."""
    started: list[DagcoreProcess] = []
    try:
        yield started
    finally:
        reap_sessions(started)


def ok(cli_home: CLIHome, *args: str) -> str:
    result = cli_home.run(*args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def prepare(cli_home: CLIHome, dags_folder: Path, *unpause: str) -> None:
    """``db migrate``, ``dags reserialize``, ``dags unpause`` each of ``unpause``."""
    ok(cli_home, "db", "migrate")
    ok(cli_home, "dags", "reserialize", "-S", str(dags_folder))
    for dag_id in unpause:
        ok(cli_home, "dags", "unpause", dag_id)


def run_row(cli_db: sa.Engine, dag_id: str, run_id: str) -> Any:
    dr = t.dag_run
    with cli_db.connect() as conn:
        return conn.execute(sa.select(dr).where(dr.c.dag_id == dag_id,
                                                dr.c.run_id == run_id)).one_or_none()


def ti_states(cli_db: sa.Engine, dag_id: str, run_id: str) -> dict[str, str | None]:
    ti = t.task_instance
    with cli_db.connect() as conn:
        return dict(conn.execute(sa.select(ti.c.task_id, ti.c.state).where(
            ti.c.dag_id == dag_id, ti.c.run_id == run_id)).all())


def run_until_finished(processes: list[DagcoreProcess], cli_home: CLIHome, cli_db: sa.Engine,
                       dag_id: str, run_id: str, *args: str) -> list[DagcoreProcess]:
    """``python -m dagcore ARGS`` (a command that stops after ``-n`` loops) again and again
    until the run finished; each exits 0 and leaves no process behind."""
    done = []
    for i in range(MAX_INVOCATIONS):
        process = DagcoreProcess(cli_home.env, args, logs=cli_home.home / "cli",
                                 name=f"{args[0]}-{i}")
        processes.append(process)
        assert process.proc.wait(timeout=FINISH_TIMEOUT_S) == 0, process.describe()
        assert "Traceback" not in process.stderr, process.describe()
        assert session_pids(process.pid) == [], "a process outlived the command"
        done.append(process)
        row = run_row(cli_db, dag_id, run_id)
        if row is not None and row.state in ("success", "failed"):
            return done
    raise AssertionError(f"run {run_id} of {dag_id} not finished after {MAX_INVOCATIONS} "
                         f"invocations of {args}; states {ti_states(cli_db, dag_id, run_id)}")


# -- scheduler -n, logs, states-for-dag-run -------------------------------------------------------


def test_scheduler_num_runs_runs_a_triggered_run_to_success(
        cli_home: CLIHome, dags_folder: Path, cli_db: sa.Engine,
        processes: list[DagcoreProcess]) -> None:
    prepare(cli_home, dags_folder, "pipeline")
    ok(cli_home, "dags", "trigger", "pipeline", "-r", "manual_1")
    done = run_until_finished(processes, cli_home, cli_db, "pipeline", "manual_1",
                              "scheduler", "-n", LOOPS, "-p", "2")
    for process in done:
        assert process.stdout.splitlines()[-1] == f"scheduler: stopped after {LOOPS} loop(s)"

    assert run_row(cli_db, "pipeline", "manual_1").state == "success"
    run_dir = cli_home.home / "logs" / "dag_id=pipeline" / "run_id=manual_1"
    extract_log = (run_dir / "task_id=extract" / "attempt=1.log").read_text()
    assert "extracting" in extract_log and "Marking task as SUCCESS" in extract_log
    assert "total=8" in (run_dir / "task_id=report" / "attempt=1.log").read_text()

    rows = json.loads(ok(cli_home, "tasks", "states-for-dag-run", "pipeline", "manual_1",
                         "-o", "json"))
    assert {row["task_id"]: (row["state"], row["try_number"]) for row in rows} == {
        task_id: ("success", 1) for task_id in PIPELINE_TASKS}
    assert {(row["dag_id"], row["run_id"]) for row in rows} == {("pipeline", "manual_1")}


def test_states_for_an_unknown_run_is_a_one_line_error(cli_home: CLIHome,
                                                       dags_folder: Path) -> None:
    prepare(cli_home, dags_folder)
    result = cli_home.run("tasks", "states-for-dag-run", "pipeline", "no_such_run")
    assert_one_line_error(result, "no_such_run", "pipeline")
    assert result.stdout == ""


@pytest.mark.parametrize("args, option", [
    (("scheduler", "-n", "0"), "--num-runs"),
    (("scheduler", "-p", "0"), "--parallelism"),
    (("standalone", "-n", "0"), "--num-runs"),
], ids=["scheduler-zero-loops", "scheduler-zero-parallelism", "standalone-zero-loops"])
def test_bad_numbers_are_usage_errors(cli_home: CLIHome, args: tuple[str, ...],
                                      option: str) -> None:
    result = cli_home.run(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and option in lines[0], result.stderr


# -- dags test, tasks test ------------------------------------------------------------------------


def test_dags_test_runs_a_good_dag_and_exits_0(cli_home: CLIHome, dags_folder: Path) -> None:
    result = cli_home.run("dags", "test", "pipeline", "-S", str(dags_folder), "-o", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {row["task_id"]: row["state"] for row in rows} == {
        task_id: "success" for task_id in PIPELINE_TASKS}
    assert result.stderr.splitlines()[-1].endswith(": success")


def test_dags_test_of_a_failing_dag_exits_1_with_the_states(cli_home: CLIHome,
                                                            dags_folder: Path) -> None:
    result = cli_home.run("dags", "test", "failing", "-S", str(dags_folder), "-o", "json")
    assert result.returncode == 1, result.stderr
    rows = json.loads(result.stdout)
    assert {row["task_id"]: row["state"] for row in rows} == {"fine": "success",
                                                              "boom": "failed"}
    assert result.stderr.splitlines()[-1].endswith(": failed")


def dag_runs(db_url: str) -> list[tuple[Any, ...]]:
    """(dag_id, run_id, run_type, state, triggered_by, conf) of every run, by dag_id."""
    engine = create_engine(db_url)
    dr = t.dag_run
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(
                sa.select(dr.c.dag_id, dr.c.run_id, dr.c.run_type, dr.c.state,
                          dr.c.triggered_by, dr.c.conf).order_by(dr.c.dag_id))]
    finally:
        engine.dispose()


# Airflow's `dags test` calls DAG.test (task-sdk src/airflow/sdk/definitions/dag.py): one
# get_or_create_dagrun(run_type manual, triggered_by test), then a loop over that run's task
# instances only; no scheduler creates runs meanwhile.
@pytest.mark.parametrize("dag_id", ["once", "every_minute"])
def test_dags_test_creates_only_the_run_it_was_asked_for(cli_home: CLIHome, tmp_path: Path,
                                                         dag_id: str) -> None:
    folder = tmp_path / "one_run"
    folder.mkdir()
    (folder / "one_run.py").write_text(ONE_RUN_DAGS)
    db_url = f"sqlite:///{tmp_path / 'test.db'}"
    result = cli_home.run("dags", "test", dag_id, "2024-03-01", "-S", str(folder),
                          "--db-url", db_url, "-o", "json")
    assert result.returncode == 0, result.stderr
    assert [(row["run_id"], row["task_id"], row["state"]) for row in json.loads(result.stdout)] \
        == [("manual__2024-03-01T00:00:00+00:00", "only", "success")]
    assert dag_runs(db_url) == [
        (dag_id, "manual__2024-03-01T00:00:00+00:00", "manual", "success", "test", {})]


# Airflow's DAG.test syncs the DAG folder to the database when the DAG has no version yet, so a
# TriggerDagRunOperator's target is known; the operator's trigger creates the target's run
# (queued, triggered_by operator), which DAG.test's loop does not run (docs/airflow-behaviour.md
# 4.3 for the trigger).
@pytest.mark.parametrize("subdir", ["folder", "file"])
def test_dags_test_of_a_controller_creates_the_target_run(cli_home: CLIHome, tmp_path: Path,
                                                          subdir: str) -> None:
    folder = tmp_path / "controller"
    folder.mkdir()
    (folder / "controller.py").write_text(CONTROLLER_DAG)
    (folder / "target.py").write_text(TARGET_DAG)
    db_url = f"sqlite:///{tmp_path / 'test.db'}"
    path = folder if subdir == "folder" else folder / "controller.py"
    result = cli_home.run("dags", "test", "controller", "2024-03-01", "-S", str(path),
                          "--db-url", db_url, "-o", "json")
    assert result.returncode == 0, result.stderr
    assert [(row["task_id"], row["state"]) for row in json.loads(result.stdout)] == [
        ("trigger_target", "success")]
    assert dag_runs(db_url) == [
        ("controller", "manual__2024-03-01T00:00:00+00:00", "manual", "success", "test", {}),
        ("target", "from_controller", "manual", "queued", "operator",
         {"message": "Hello from controller"})]


def test_tasks_test_prints_the_return_value(cli_home: CLIHome, dags_folder: Path) -> None:
    result = cli_home.run("tasks", "test", "pipeline", "extract", "-S", str(dags_folder))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[3, 1, 4]"
    assert result.stderr.splitlines()[-1] == "Task extract: success"


@pytest.mark.parametrize("dag_id, task_id, fragments", [
    ("failing", "boom", ("Task boom failed", "ValueError", "no data at the source")),
    ("pipeline", "nope", ("'nope' not found", "'pipeline'", "extract")),
], ids=["failing-task", "unknown-task"])
def test_tasks_test_errors_are_one_line(cli_home: CLIHome, dags_folder: Path, dag_id: str,
                                        task_id: str, fragments: tuple[str, ...]) -> None:
    result = cli_home.run("tasks", "test", dag_id, task_id, "-S", str(dags_folder))
    assert_one_line_error(result, *fragments)


# -- standalone -----------------------------------------------------------------------------------


def test_standalone_migrates_parses_and_runs_a_triggered_run(
        cli_home: CLIHome, dags_folder: Path, cli_db: sa.Engine,
        processes: list[DagcoreProcess]) -> None:
    prepare(cli_home, dags_folder, "pipeline")
    ok(cli_home, "dags", "trigger", "pipeline", "-r", "standalone_1")
    done = run_until_finished(processes, cli_home, cli_db, "pipeline", "standalone_1",
                              "standalone", "-n", LOOPS, "-p", "2", "-S", str(dags_folder),
                              "--no-api-server")
    stdout = done[0].stdout
    assert f"standalone: database at {head_revision()}" in stdout
    # Parsed again, unchanged since `dags reserialize`: nothing written.
    assert "standalone: 5 DAG(s) parsed (0 written), 0 import error(s)" in stdout
    assert stdout.splitlines()[-1] == f"scheduler: stopped after {LOOPS} loop(s)"
    assert run_row(cli_db, "pipeline", "standalone_1").state == "success"
    assert ti_states(cli_db, "pipeline", "standalone_1") == {
        task_id: "success" for task_id in PIPELINE_TASKS}


# -- TriggerDagRunOperator through the scheduler ---------------------------------------------------


@pytest.mark.parametrize("controller", ["controller", "controller_wait"])
def test_trigger_dag_run_operator_runs_the_target_through_the_scheduler(
        cli_home: CLIHome, dags_folder: Path, cli_db: sa.Engine,
        processes: list[DagcoreProcess], controller: str) -> None:
    prepare(cli_home, dags_folder, controller, "target")
    ok(cli_home, "dags", "trigger", controller, "-r", "go")
    target_run_id = f"from_{controller}"
    scheduler = DagcoreProcess(cli_home.env, ["scheduler", "-p", "2"], logs=cli_home.home,
                               name="scheduler")
    processes.append(scheduler)

    def finished() -> bool:
        runs = [run_row(cli_db, controller, "go"), run_row(cli_db, "target", target_run_id)]
        return all(r is not None and r.state in ("success", "failed") for r in runs)

    wait_for("the controller's and the target's runs finished", finished,
             timeout=FINISH_TIMEOUT_S, watch=[scheduler])
    assert scheduler.stop() == 0, scheduler.describe()

    target = run_row(cli_db, "target", target_run_id)
    assert (target.state, target.triggered_by, target.run_type) == (
        "success", "operator", "manual")
    assert target.conf == {"message": f"Hello from {controller}"}
    assert ti_states(cli_db, "target", target_run_id) == {"show_message": "success",
                                                          "echo_message": "success"}
    assert run_row(cli_db, controller, "go").state == "success"
    ti, xc = t.task_instance, t.xcom
    with cli_db.connect() as conn:
        trigger_end = conn.execute(sa.select(ti.c.end_date).where(
            ti.c.dag_id == controller, ti.c.task_id == "trigger_target")).scalar_one()
        pushed = dict(conn.execute(sa.select(xc.c.key, xc.c.value).where(
            xc.c.dag_id == controller, xc.c.task_id == "trigger_target")).all())
    assert pushed == {"trigger_run_id": target_run_id, "trigger_dag_id": "target"}
    if controller == "controller_wait":  # it ended only after it saw the target succeed
        assert trigger_end > target.end_date
