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
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from scheduler_process import (
    DagcoreProcess,
    dagcore_env,
    reap_sessions,
    run_cli,
    session_pids,
    wait_for,
)

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


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def dags_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    for name, text in (("pipeline.py", PIPELINE_DAG), ("failing.py", FAILING_DAG),
                       ("trigger.py", TRIGGER_DAGS)):
        (folder / name).write_text(textwrap.dedent(text))
    return folder


@pytest.fixture
def env(home: Path, dags_folder: Path) -> dict[str, str]:
    # Short idle sleeps: `-n LOOPS` then ends soon after the run.
    return dagcore_env(home, dags_folder=dags_folder,
                       DAGCORE__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME="0.01")


@pytest.fixture
def db(home: Path) -> Iterator[sa.Engine]:
    engine = create_engine(f"sqlite:///{home / 'dagcore.db'}")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def processes() -> Iterator[list[DagcoreProcess]]:
    """Long-running commands of the test; their sessions are emptied at the end."""
    started: list[DagcoreProcess] = []
    try:
        yield started
    finally:
        reap_sessions(started)


def ok(env: dict[str, str], *args: str) -> str:
    result = run_cli(env, *args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def one_line_error(result: Any, *fragments: str) -> str:
    """The command failed with exit code 1 and exactly one line on stderr."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dagcore: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def prepare(env: dict[str, str], dags_folder: Path, *unpause: str) -> None:
    """``db migrate``, ``dags reserialize``, ``dags unpause`` each of ``unpause``."""
    ok(env, "db", "migrate")
    ok(env, "dags", "reserialize", "-S", str(dags_folder))
    for dag_id in unpause:
        ok(env, "dags", "unpause", dag_id)


def run_row(db: sa.Engine, dag_id: str, run_id: str) -> Any:
    dr = t.dag_run
    with db.connect() as conn:
        return conn.execute(sa.select(dr).where(dr.c.dag_id == dag_id,
                                                dr.c.run_id == run_id)).one_or_none()


def ti_states(db: sa.Engine, dag_id: str, run_id: str) -> dict[str, str | None]:
    ti = t.task_instance
    with db.connect() as conn:
        return dict(conn.execute(sa.select(ti.c.task_id, ti.c.state).where(
            ti.c.dag_id == dag_id, ti.c.run_id == run_id)).all())


def run_until_finished(processes: list[DagcoreProcess], env: dict[str, str], db: sa.Engine,
                       dag_id: str, run_id: str, *args: str) -> list[DagcoreProcess]:
    """``python -m dagcore ARGS`` (a command that stops after ``-n`` loops) again and again
    until the run finished; each exits 0 and leaves no process behind."""
    done = []
    for i in range(MAX_INVOCATIONS):
        process = DagcoreProcess(env, args, logs=Path(env["DAGCORE_HOME"]) / "cli",
                                 name=f"{args[0]}-{i}")
        processes.append(process)
        assert process.proc.wait(timeout=FINISH_TIMEOUT_S) == 0, process.describe()
        assert "Traceback" not in process.stderr, process.describe()
        assert session_pids(process.pid) == [], "a process outlived the command"
        done.append(process)
        row = run_row(db, dag_id, run_id)
        if row is not None and row.state in ("success", "failed"):
            return done
    raise AssertionError(f"run {run_id} of {dag_id} not finished after {MAX_INVOCATIONS} "
                         f"invocations of {args}; states {ti_states(db, dag_id, run_id)}")


# -- scheduler -n, logs, states-for-dag-run -------------------------------------------------------


def test_scheduler_num_runs_runs_a_triggered_run_to_success(
        env: dict[str, str], dags_folder: Path, db: sa.Engine, home: Path,
        processes: list[DagcoreProcess]) -> None:
    prepare(env, dags_folder, "pipeline")
    ok(env, "dags", "trigger", "pipeline", "-r", "manual_1")
    done = run_until_finished(processes, env, db, "pipeline", "manual_1",
                              "scheduler", "-n", LOOPS, "-p", "2")
    for process in done:
        assert process.stdout.splitlines()[-1] == f"scheduler: stopped after {LOOPS} loop(s)"

    assert run_row(db, "pipeline", "manual_1").state == "success"
    run_dir = home / "logs" / "dag_id=pipeline" / "run_id=manual_1"
    extract_log = (run_dir / "task_id=extract" / "attempt=1.log").read_text()
    assert "extracting" in extract_log and "Marking task as SUCCESS" in extract_log
    assert "total=8" in (run_dir / "task_id=report" / "attempt=1.log").read_text()

    rows = json.loads(ok(env, "tasks", "states-for-dag-run", "pipeline", "manual_1",
                         "-o", "json"))
    assert {row["task_id"]: (row["state"], row["try_number"]) for row in rows} == {
        task_id: ("success", 1) for task_id in PIPELINE_TASKS}
    assert {(row["dag_id"], row["run_id"]) for row in rows} == {("pipeline", "manual_1")}


def test_states_for_an_unknown_run_is_a_one_line_error(env: dict[str, str],
                                                       dags_folder: Path) -> None:
    prepare(env, dags_folder)
    result = run_cli(env, "tasks", "states-for-dag-run", "pipeline", "no_such_run")
    one_line_error(result, "no_such_run", "pipeline")
    assert result.stdout == ""


@pytest.mark.parametrize("args, option", [
    (("scheduler", "-n", "0"), "--num-runs"),
    (("scheduler", "-p", "0"), "--parallelism"),
    (("standalone", "-n", "0"), "--num-runs"),
], ids=["scheduler-zero-loops", "scheduler-zero-parallelism", "standalone-zero-loops"])
def test_bad_numbers_are_usage_errors(env: dict[str, str], args: tuple[str, ...],
                                      option: str) -> None:
    result = run_cli(env, *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and option in lines[0], result.stderr


# -- dags test, tasks test ------------------------------------------------------------------------


def test_dags_test_runs_a_good_dag_and_exits_0(env: dict[str, str], dags_folder: Path) -> None:
    result = run_cli(env, "dags", "test", "pipeline", "-S", str(dags_folder), "-o", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {row["task_id"]: row["state"] for row in rows} == {
        task_id: "success" for task_id in PIPELINE_TASKS}
    assert result.stderr.splitlines()[-1].endswith(": success")


def test_dags_test_of_a_failing_dag_exits_1_with_the_states(env: dict[str, str],
                                                            dags_folder: Path) -> None:
    result = run_cli(env, "dags", "test", "failing", "-S", str(dags_folder), "-o", "json")
    assert result.returncode == 1, result.stderr
    rows = json.loads(result.stdout)
    assert {row["task_id"]: row["state"] for row in rows} == {"fine": "success",
                                                              "boom": "failed"}
    assert result.stderr.splitlines()[-1].endswith(": failed")


def test_tasks_test_prints_the_return_value(env: dict[str, str], dags_folder: Path) -> None:
    result = run_cli(env, "tasks", "test", "pipeline", "extract", "-S", str(dags_folder))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[3, 1, 4]"
    assert result.stderr.splitlines()[-1] == "Task extract: success"


@pytest.mark.parametrize("dag_id, task_id, fragments", [
    ("failing", "boom", ("Task boom failed", "ValueError", "no data at the source")),
    ("pipeline", "nope", ("'nope' not found", "'pipeline'", "extract")),
], ids=["failing-task", "unknown-task"])
def test_tasks_test_errors_are_one_line(env: dict[str, str], dags_folder: Path, dag_id: str,
                                        task_id: str, fragments: tuple[str, ...]) -> None:
    result = run_cli(env, "tasks", "test", dag_id, task_id, "-S", str(dags_folder))
    one_line_error(result, *fragments)


# -- standalone -----------------------------------------------------------------------------------


def test_standalone_migrates_parses_and_runs_a_triggered_run(
        env: dict[str, str], dags_folder: Path, db: sa.Engine,
        processes: list[DagcoreProcess]) -> None:
    prepare(env, dags_folder, "pipeline")
    ok(env, "dags", "trigger", "pipeline", "-r", "standalone_1")
    done = run_until_finished(processes, env, db, "pipeline", "standalone_1",
                              "standalone", "-n", LOOPS, "-p", "2", "-S", str(dags_folder))
    stdout = done[0].stdout
    assert f"standalone: database at {head_revision()}" in stdout
    # Parsed again, unchanged since `dags reserialize`: nothing written.
    assert "standalone: 5 DAG(s) parsed (0 written), 0 import error(s)" in stdout
    assert stdout.splitlines()[-1] == f"scheduler: stopped after {LOOPS} loop(s)"
    assert run_row(db, "pipeline", "standalone_1").state == "success"
    assert ti_states(db, "pipeline", "standalone_1") == {
        task_id: "success" for task_id in PIPELINE_TASKS}


# -- TriggerDagRunOperator through the scheduler ---------------------------------------------------


@pytest.mark.parametrize("controller", ["controller", "controller_wait"])
def test_trigger_dag_run_operator_runs_the_target_through_the_scheduler(
        env: dict[str, str], dags_folder: Path, db: sa.Engine,
        processes: list[DagcoreProcess], controller: str) -> None:
    prepare(env, dags_folder, controller, "target")
    ok(env, "dags", "trigger", controller, "-r", "go")
    target_run_id = f"from_{controller}"
    scheduler = DagcoreProcess(env, ["scheduler", "-p", "2"], logs=Path(env["DAGCORE_HOME"]),
                               name="scheduler")
    processes.append(scheduler)

    def finished() -> bool:
        runs = [run_row(db, controller, "go"), run_row(db, "target", target_run_id)]
        return all(r is not None and r.state in ("success", "failed") for r in runs)

    wait_for("the controller's and the target's runs finished", finished,
             timeout=FINISH_TIMEOUT_S, watch=[scheduler])
    assert scheduler.stop() == 0, scheduler.describe()

    target = run_row(db, "target", target_run_id)
    assert (target.state, target.triggered_by, target.run_type) == (
        "success", "operator", "manual")
    assert target.conf == {"message": f"Hello from {controller}"}
    assert ti_states(db, "target", target_run_id) == {"show_message": "success",
                                                      "echo_message": "success"}
    assert run_row(db, controller, "go").state == "success"
    ti, xc = t.task_instance, t.xcom
    with db.connect() as conn:
        trigger_end = conn.execute(sa.select(ti.c.end_date).where(
            ti.c.dag_id == controller, ti.c.task_id == "trigger_target")).scalar_one()
        pushed = dict(conn.execute(sa.select(xc.c.key, xc.c.value).where(
            xc.c.dag_id == controller, xc.c.task_id == "trigger_target")).all())
    assert pushed == {"trigger_run_id": target_run_id, "trigger_dag_id": "target"}
    if controller == "controller_wait":  # it ended only after it saw the target succeed
        assert trigger_end > target.end_date
