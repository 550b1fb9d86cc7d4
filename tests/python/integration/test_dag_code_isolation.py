"""The scheduler never runs a DAG file's code; a hostile DAG file costs only its own tries.

The scheduler runs here, in the test's process, with the real LocalExecutor: its workers come
from the fork server and import the DAG files themselves. Each DAG file appends the pid of every
process that imports it to ``<file>.imports``, so the test can say which processes ran its code.
A stored DAG whose code then turns hostile where the workers import it (``os._exit(1)`` at import,
a segfault, a loop in C code that no signal handler interrupts) fails its own tries with the exit status or the signal
(the hung one is killed when its heartbeat stops), while the scheduler goes on running the
other DAGs. A DAG's run callbacks run in a worker too.

Before the fork server, the scheduler parsed each DAG file in its own process to let forked
workers inherit the parse: the first hostile file killed or hung the scheduler itself.
"""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore.api.common import trigger_dag
from dagcore.dag_processing import sync_dags
from dagcore.db import migrate, transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.executors.local import LocalExecutor
from dagcore.jobs.scheduler import SchedulerJob
from dagcore.models import tables as t

pytestmark = pytest.mark.integration

FINISH_TIMEOUT_S = 120.0  # only turns a hang into a failure

# A try runs the code stored with its DAG version, written out under the code cache folder
# (docs/airflow-behaviour.md 1.8): the records go to the DAG folder, named after the file.
RECORD_IMPORT = """
import os, pathlib
_HERE = pathlib.Path(FOLDER) / pathlib.Path(__file__).name
with open(_HERE.with_suffix(".imports"), "a") as _f:
    _f.write(f"{os.getpid()}\\n")
"""

DAG_BODY = """
from datetime import datetime, timezone
from pathlib import Path
from dagcore import DAG
from dagcore.operators.python import PythonOperator

def note(**context):
    with open(_HERE.with_suffix(".ran"), "a") as f:
        f.write(f"{context['ti'].task_id} {os.getpid()}\\n")

def callback(context):
    with open(_HERE.with_suffix(".callback"), "a") as f:
        f.write(f"{context['reason']} {context['dag_run'].run_id} {os.getpid()}\\n")

with DAG("{dag_id}", start_date=datetime(2025, 1, 1, tzinfo=timezone.utc), schedule=None, catchup=False,
         on_success_callback=callback, on_failure_callback=callback):
    PythonOperator(task_id="work", python_callable=note, retries=0)
"""

# Hostile once the file "hostile" exists in the DAG folder: the DAG processor stores the code,
# then the workers that import it meet the hostile part.
HOSTILE = {
    "exit": "    os._exit(1)\n",
    "segfault": "    import ctypes\n    ctypes.string_at(0)\n",
    "c_loop": ("    import collections, itertools\n"
               "    collections.deque(itertools.count(), maxlen=0)\n"),
}


def dag_source(folder: Path, dag_id: str, hostile: str = "") -> str:
    guard = f"if (_HERE.parent / 'hostile').exists():\n{hostile}" if hostile else ""
    return (RECORD_IMPORT.replace("FOLDER", repr(str(folder))) + guard
            + DAG_BODY.replace("{dag_id}", dag_id))


@pytest.fixture
def world(sqlite_engine: Engine, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, Path]]:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "home"))
    folder = tmp_path / "dags"
    folder.mkdir()
    monkeypatch.setenv("DAGCORE__CORE__DAGS_FOLDER", str(folder))
    # A hung worker is found by its stopped heartbeat: make that quick.
    monkeypatch.setenv("DAGCORE__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC", "0.5")
    monkeypatch.setenv("DAGCORE__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT", "3")
    monkeypatch.setenv("DAGCORE__SCHEDULER__ZOMBIE_DETECTION_INTERVAL", "0.5")
    # ... and a hung DAG callback (the failure callback of the hostile file's run).
    monkeypatch.setenv("DAGCORE__CORE__DAG_FILE_PROCESSOR_TIMEOUT", "3")
    migrate(sqlite_engine)
    yield sqlite_engine, folder


def store(engine: Engine, folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    result = sync_dags(folder, engine=engine, min_update_interval=timedelta(0))
    assert not result.import_errors, result.import_errors
    with transaction(engine) as conn:
        conn.execute(t.dag.update().values(is_paused=False))
    for name in files:  # this process imported them to store them: start the record afresh
        (folder / name).with_suffix(".imports").unlink(missing_ok=True)


def importers(folder: Path, name: str) -> set[int]:
    path = (folder / name).with_suffix(".imports")
    return {int(line) for line in path.read_text().split()} if path.exists() else set()


def run_until_finished(engine: Engine, run_ids: dict[str, str]) -> dict[str, Any]:
    """Run a scheduler with the LocalExecutor here until every run has finished; the task
    instance of each DAG."""
    executor = LocalExecutor(2, engine_url=engine.url.render_as_string(hide_password=False))
    job = SchedulerJob(engine=engine, executor=executor,
                       dag_bag=DBDagBag(engine=engine, revalidation_interval=0),
                       idle_sleep=0.01)
    job.job.register()
    job.executor.start()
    ti = t.task_instance
    deadline = time.monotonic() + FINISH_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            job.run_once()
            with engine.connect() as conn:
                states = dict(conn.execute(sa.select(t.dag_run.c.dag_id, t.dag_run.c.state)).all())
            if all(states.get(dag_id) in ("success", "failed") for dag_id in run_ids):
                break
            job._idle()
        else:
            pytest.fail(f"runs not finished after {FINISH_TIMEOUT_S} s: {states}")
    finally:
        job._shutdown()
        job.job.complete("success")
    with engine.connect() as conn:
        return {row.dag_id: row for row in conn.execute(sa.select(ti))}


def test_the_scheduler_never_imports_a_dag_file_and_callbacks_run_in_a_worker(
        world: tuple[Engine, Path]) -> None:
    engine, folder = world
    store(engine, folder, {"good.py": dag_source(folder, "good")})
    run = trigger_dag("good", run_id="manual_1", engine=engine)

    tis = run_until_finished(engine, {"good": run.run_id})

    assert tis["good"].state == "success"
    workers = importers(folder, "good.py")
    assert workers and os.getpid() not in workers
    ran = (folder / "good.ran").read_text().split()
    assert ran[0] == "work" and int(ran[1]) in workers
    # Airflow's DAG success callback, with reason "success" (docs/airflow-behaviour.md 3.4),
    # called in a worker that imported the file, not in the scheduler.
    reason, run_id, pid = (folder / "good.callback").read_text().split()
    assert (reason, run_id) == ("success", "manual_1")
    assert int(pid) != os.getpid()
    assert int(pid) in importers(folder, "good.py")


@pytest.mark.parametrize(("kind", "info"), [
    pytest.param("exit", "exit status 1", id="os-exit"),
    pytest.param("segfault", "killed by signal SIGSEGV", id="segfault"),
    pytest.param("c_loop", "killed by signal SIGKILL: no heartbeat for 3 s "
                 "([scheduler] task_instance_heartbeat_timeout)", id="c-loop"),
])
def test_a_stored_dag_whose_code_turns_hostile_fails_alone(
        world: tuple[Engine, Path], kind: str, info: str,
        caplog: pytest.LogCaptureFixture) -> None:
    engine, folder = world
    store(engine, folder, {"good.py": dag_source(folder, "good"),
                           "bad.py": dag_source(folder, "bad", HOSTILE[kind])})
    (folder / "hostile").touch()
    trigger_dag("bad", run_id="manual_bad", engine=engine)
    trigger_dag("good", run_id="manual_good", engine=engine)

    tis = run_until_finished(engine, {"good": "manual_good", "bad": "manual_bad"})

    assert tis["good"].state == "success"
    assert tis["bad"].state == "failed"
    assert os.getpid() not in importers(folder, "bad.py") | importers(folder, "good.py")
    assert not (folder / "bad.ran").exists()
    with engine.connect() as conn:
        runs = dict(conn.execute(sa.select(t.dag_run.c.dag_id, t.dag_run.c.state)).all())
    assert runs == {"good": "success", "bad": "failed"}
    # The scheduler failed the try with what the worker's exit said.
    assert f"Task bad.work manual_bad try 1: process ended ({info}) while running" in caplog.text
    if kind == "c_loop":  # its failure callback hangs the same way: killed on time
        assert ("The failed callback of Dag bad (run manual_bad) did not finish within "
                "dag_file_processor_timeout: killing it") in caplog.text
