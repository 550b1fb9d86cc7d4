"""Which code a LocalExecutor worker runs across tries (docs/performance.md 3,
docs/deployment.md 6).

A worker runs up to ``[core] worker_max_tasks`` tries and keeps the DAG module it imported for a
DAG version (keyed by the version, whose code never changes once a task instance used it) for
the next tries of that version: the import is paid once per worker and version. The deviation
from Airflow, where each try imports the DAG file afresh, is that module-level state one try
changes is seen by the next try of the same version in the same worker; a try of another
version imports that version's code, with fresh module state.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore.api.common import trigger_dag
from dagcore.dag_processing import sync_dags
from dagcore.db import migrate
from dagcore.db_dagbag import DBDagBag
from dagcore.executors.local import LocalExecutor
from dagcore.jobs.scheduler import SchedulerJob
from dagcore.models import tables as t

FINISH_TIMEOUT_S = 300.0  # only turns a hang into a failure

DAG_FILE = '''
import os
from datetime import datetime, timezone
from dagcore import DAG
from dagcore.operators.python import PythonOperator

VERSION = "{version}"
SEEN = []  # module-level state, changed by every try

def probe():
    SEEN.append(1)
    return [VERSION, os.getpid(), len(SEEN)]

with DAG("reuse", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
         is_paused_upon_creation=False):
    for i in range(3):
        PythonOperator(task_id=f"p{{i}}", python_callable=probe)
'''


@pytest.fixture
def world(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[tuple[Engine, Path]]:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "home"))
    folder = tmp_path / "dags"
    folder.mkdir()
    monkeypatch.setenv("DAGCORE__CORE__DAGS_FOLDER", str(folder))
    monkeypatch.setenv("DAGCORE__CORE__DAG_CODE_CACHE_FOLDER", str(tmp_path / "code_cache"))
    migrate(engine)
    yield engine, folder


def _sync(engine: Engine, folder: Path, version: str) -> None:
    (folder / "reuse.py").write_text(textwrap.dedent(DAG_FILE.format(version=version)))
    result = sync_dags(folder, engine=engine, min_update_interval=timedelta(0))
    assert not result.import_errors, result.import_errors


def _until_done(engine: Engine, job: SchedulerJob, run_id: str) -> list[list[Any]]:
    """Run the scheduler until run ``run_id`` finished; the ``probe`` results of its tries."""
    dr, x = t.dag_run, t.xcom
    deadline = time.monotonic() + FINISH_TIMEOUT_S
    while True:
        job.run_once()
        with engine.connect() as conn:
            state = conn.execute(sa.select(dr.c.state).where(dr.c.run_id == run_id)).scalar()
        if state in ("success", "failed"):
            break
        assert time.monotonic() < deadline, f"run {run_id} not finished: {state}"
        job._idle()
    assert state == "success"
    with engine.connect() as conn:
        return sorted(row.value for row in conn.execute(sa.select(x.c.value).where(
            x.c.run_id == run_id, x.c.key == "return_value")))


def test_a_worker_keeps_a_versions_module_and_imports_a_new_versions_code(
        world: tuple[Engine, Path]) -> None:
    engine, folder = world
    _sync(engine, folder, "v1")
    # One worker slot: every try runs in the same worker process, one after another.
    executor = LocalExecutor(1, engine_url=engine.url.render_as_string(hide_password=False))
    job = SchedulerJob(engine=engine, executor=executor,
                       dag_bag=DBDagBag(engine=engine, revalidation_interval=0), idle_sleep=0.01)
    job.job.register()
    job.executor.start()
    try:
        # Logical dates of their own: two triggers within one second would share "now".
        trigger_dag("reuse", run_id="one", logical_date=datetime(2025, 1, 1, tzinfo=UTC),
                    engine=engine)
        first = _until_done(engine, job, "one")
        _sync(engine, folder, "v2")  # a new version: the file changed after its tries ran
        trigger_dag("reuse", run_id="two", logical_date=datetime(2025, 1, 2, tzinfo=UTC),
                    engine=engine)
        second = _until_done(engine, job, "two")
    finally:
        job._shutdown()
        job.job.complete("success")
    # The three tries of version 1 ran from one import of its code: module-level state one try
    # changed is seen by the next (the documented deviation from Airflow).
    assert [(version, seen) for version, _, seen in first] == [("v1", 1), ("v1", 2), ("v1", 3)]
    # The same worker ran version 2's tries from that version's code, imported afresh: its
    # module state starts empty.
    assert [(version, seen) for version, _, seen in second] == [("v2", 1), ("v2", 2), ("v2", 3)]
    assert len({pid for _, pid, _ in first + second}) == 1
