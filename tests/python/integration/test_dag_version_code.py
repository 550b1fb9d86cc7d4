"""A DAG version stores its code, and a try runs the code of its run's version
(docs/airflow-behaviour.md 1.8).

The DAG processor stores the DAG file and the helper modules of the DAG folder it imports with
each version, content-addressed; a try, wherever it runs, imports the DAG from that stored code
(written out under ``[core] dag_code_cache_folder``), so a run keeps its version's code and
tasks while the file is edited, and a worker needs the metadata database, not the DAG folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore.api.backfills import create_backfill
from dagcore.api.common import trigger_dag
from dagcore.api.dag_versions import get_version_code, list_version_summaries
from dagcore.api.ui import DagVersionNotFound
from dagcore.dag_code_store import code_hash, materialize
from dagcore.dag_loading import load_dag_version
from dagcore.dag_processing import sync_dags
from dagcore.db import migrate, transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.executors.local import LocalExecutor
from dagcore.jobs.scheduler import SchedulerJob
from dagcore.models import tables as t


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m dagcore ARGS`` with this process's environment (the fixtures' settings)."""
    return subprocess.run([sys.executable, "-m", "dagcore", *args], env=dict(os.environ),
                          text=True, capture_output=True, timeout=120,
                          stdin=subprocess.DEVNULL, check=False)


pytestmark = pytest.mark.integration

FINISH_TIMEOUT_S = 300.0  # only turns a hang into a failure

HELPER_V1 = 'CODE = "v1"\n'
HELPER_V2 = 'CODE = "v2"\n'

# a >> b >> c, each returning what its code says; v2 edits b's code and the helper, and drops c.
DAG_V1 = '''
import time
from datetime import datetime, timezone
from dagcore import DAG
from dagcore.operators.python import PythonOperator
from helpers import CODE

def a():
    time.sleep(0.02)
    return "a-" + CODE

def b():
    return "b-v1"

def lazy():  # imports its module when it runs: the version's, whatever ran before in the worker
    import helpers
    return "lazy-" + helpers.CODE

def c():
    return "c-v1"

with DAG("edited", schedule="@daily", start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
         catchup=False, is_paused_upon_creation=False):
    PythonOperator(task_id="a", python_callable=a) >> PythonOperator(
        task_id="b", python_callable=b) >> PythonOperator(task_id="c", python_callable=c)
    PythonOperator(task_id="lazy", python_callable=lazy)
'''

DAG_V2 = '''
import time
from datetime import datetime, timezone
from dagcore import DAG
from dagcore.operators.python import PythonOperator
from helpers import CODE

def a():
    time.sleep(0.02)
    return "a-" + CODE

def b():
    return "b-v2"

def lazy():
    import helpers
    return "lazy-" + helpers.CODE

with DAG("edited", schedule="@daily", start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
         catchup=False, is_paused_upon_creation=False):
    PythonOperator(task_id="a", python_callable=a) >> PythonOperator(
        task_id="b", python_callable=b)
    PythonOperator(task_id="lazy", python_callable=lazy)
'''


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "home"))
    folder = tmp_path / "dags"
    folder.mkdir()
    monkeypatch.setenv("DAGCORE__CORE__DAGS_FOLDER", str(folder))
    monkeypatch.setenv("DAGCORE__CORE__DAG_CODE_CACHE_FOLDER", str(tmp_path / "code_cache"))
    yield folder


@pytest.fixture
def world(engine: Engine, home: Path) -> tuple[Engine, Path]:
    migrate(engine)
    return engine, home


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def sync(engine: Engine, folder: Path) -> Any:
    result = sync_dags(folder, engine=engine, min_update_interval=timedelta(0))
    assert not result.import_errors, result.import_errors
    return result


def versions(engine: Engine, dag_id: str) -> list[Any]:
    dv = t.dag_version
    with engine.connect() as conn:
        return conn.execute(sa.select(dv).where(dv.c.dag_id == dag_id)
                            .order_by(dv.c.version_number)).all()


def mark_used(engine: Engine, dag_id: str) -> None:
    """Give the DAG's latest version a task instance, as a started run would."""
    trigger_dag(dag_id, run_id=f"used_{time.monotonic_ns()}", engine=engine)
    run = t.dag_run
    with transaction(engine) as conn:
        row = conn.execute(sa.select(run.c.run_id).where(run.c.dag_id == dag_id)
                           .order_by(run.c.id.desc())).first()
        assert row is not None
        version = versions(engine, dag_id)[-1].id
        from dagcore.models.types import uuid7
        conn.execute(t.task_instance.insert().values(
            id=uuid7(), dag_id=dag_id, run_id=row.run_id, task_id="a", map_index=-1,
            try_number=0, max_tries=0, dag_version_id=version, pool="default_pool",
            pool_slots=1, queue="default", priority_weight=1, executor_config={},
            updated_at=datetime.now(UTC)))


# -- storing -------------------------------------------------------------------------------------


def test_a_version_stores_its_dag_file_and_the_helpers_it_imports(
        world: tuple[Engine, Path]) -> None:
    engine, folder = world
    write(folder, {"helpers.py": HELPER_V1, "edited.py": DAG_V1,
                   "unused_helper.py": "X = 1\n"})
    sync(engine, folder)

    code = get_version_code(engine, "edited")
    assert code.version_number == 1
    assert code.code_path == "edited.py"
    assert set(code.files) == {"edited.py", "helpers.py"}  # not the module nobody imported
    assert code.files["helpers.py"] == HELPER_V1
    assert code.source == textwrap.dedent(DAG_V1)
    raw = {path: text.encode() for path, text in code.files.items()}
    assert code.code_hash == code_hash(raw) == versions(engine, "edited")[0].code_hash


def test_files_are_stored_once_whatever_the_number_of_versions_and_dags(
        world: tuple[Engine, Path]) -> None:
    engine, folder = world
    other = DAG_V1.replace('"edited"', '"other"')
    write(folder, {"helpers.py": HELPER_V1, "edited.py": DAG_V1, "other.py": other})
    sync(engine, folder)
    mark_used(engine, "edited")
    write(folder, {"edited.py": DAG_V1.replace('"b-v1"', '"b-v1.1"')})
    sync(engine, folder)

    assert [v.version_number for v in versions(engine, "edited")] == [1, 2]
    with engine.connect() as conn:
        blobs = conn.execute(sa.select(sa.func.count()).select_from(t.dag_code_blob)).scalar()
        links = conn.execute(sa.select(sa.func.count()).select_from(t.dag_version_file)).scalar()
    # edited.py twice (two contents), other.py, helpers.py once though three versions use it.
    assert blobs == 4
    assert links == 6


def test_a_code_edit_makes_a_new_version_once_a_task_instance_used_the_old_one(
        world: tuple[Engine, Path]) -> None:
    engine, folder = world
    write(folder, {"helpers.py": HELPER_V1, "edited.py": DAG_V1})
    sync(engine, folder)
    # Unused: the helper's edit (no change to the DAG's structure) updates version 1 in place.
    write(folder, {"helpers.py": HELPER_V2})
    sync(engine, folder)
    assert len(versions(engine, "edited")) == 1
    assert get_version_code(engine, "edited").files["helpers.py"] == HELPER_V2

    mark_used(engine, "edited")
    write(folder, {"helpers.py": HELPER_V1})
    result = sync(engine, folder)
    assert result.versions_created == ("edited",)
    assert [v.version_number for v in versions(engine, "edited")] == [1, 2]
    assert get_version_code(engine, "edited", 1).files["helpers.py"] == HELPER_V2  # untouched
    assert get_version_code(engine, "edited", 2).files["helpers.py"] == HELPER_V1

    # Nothing changed: nothing written.
    result = sync(engine, folder)
    assert result.written == () and len(versions(engine, "edited")) == 2


# -- loading -------------------------------------------------------------------------------------


def test_load_dag_version_runs_each_versions_own_code_in_one_process(
        world: tuple[Engine, Path], tmp_path: Path) -> None:
    engine, folder = world
    write(folder, {"helpers.py": HELPER_V1, "edited.py": DAG_V1})
    sync(engine, folder)
    mark_used(engine, "edited")
    write(folder, {"helpers.py": HELPER_V2, "edited.py": DAG_V2})
    sync(engine, folder)
    v1, v2 = (v.id for v in versions(engine, "edited"))
    fileloc = str(folder / "edited.py")

    old = load_dag_version(engine, v1, "edited", fileloc)
    new = load_dag_version(engine, v2, "edited", fileloc)
    assert sorted(old.task_dict) == ["a", "b", "c", "lazy"]
    assert sorted(new.task_dict) == ["a", "b", "lazy"]
    assert old.get_task("b").python_callable() == "b-v1"
    assert new.get_task("b").python_callable() == "b-v2"
    # Each version's helper module, though both import "helpers" in this one process.
    assert old.get_task("a").python_callable() == "a-v1"
    assert new.get_task("a").python_callable() == "a-v2"
    assert old.fileloc == fileloc  # templates next to the DAG file are found in the folder
    # Cached per version: the same objects again, without reading the database.
    assert load_dag_version(engine, v1, "edited", fileloc) is old
    with pytest.raises(LookupError, match="'missing' not found in the code of its version"):
        load_dag_version(engine, v1, "missing", fileloc)


def test_code_is_written_out_once_per_machine(world: tuple[Engine, Path],
                                              tmp_path: Path) -> None:
    engine, folder = world
    write(folder, {"helpers.py": HELPER_V1, "edited.py": DAG_V1})
    sync(engine, folder)
    version = versions(engine, "edited")[0]
    cache = tmp_path / "other_cache"
    with engine.connect() as conn:
        found = materialize(conn, version.id, folder=cache)
        assert found is not None
        root, code_path = found
        assert root == cache / version.code_hash and code_path == "edited.py"
        assert (root / "helpers.py").read_text() == HELPER_V1
        stamp = (root / "edited.py").stat().st_mtime_ns
        again = materialize(conn, version.id, folder=cache)
    assert again == found and (root / "edited.py").stat().st_mtime_ns == stamp
    assert [p.name for p in cache.iterdir()] == [version.code_hash]  # no staging left


def test_a_try_runs_without_the_dag_folder(world: tuple[Engine, Path]) -> None:
    """What a worker on another machine sees: the DAG folder is not there, the database is."""
    engine, folder = world
    write(folder, {"helpers.py": HELPER_V1, "edited.py": DAG_V1})
    sync(engine, folder)
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    run = trigger_dag("edited", run_id="no_folder", engine=engine)

    results = run_until_done(engine, [run.run_id])

    assert results[run.run_id] == {"a": "a-v1", "b": "b-v1", "c": "c-v1", "lazy": "lazy-v1"}


# -- the backfill in flight ----------------------------------------------------------------------


def run_until_done(engine: Engine, run_ids: list[str] | None = None,
                   on_loop: Any = None) -> dict[str, dict[str, Any]]:
    """A scheduler with the LocalExecutor here until every run of "edited" has finished; each
    run's XCom return values by task."""
    executor = LocalExecutor(4, engine_url=engine.url.render_as_string(hide_password=False))
    job = SchedulerJob(engine=engine, executor=executor,
                       dag_bag=DBDagBag(engine=engine, revalidation_interval=0),
                       idle_sleep=0.01)
    job.job.register()
    job.executor.start()
    dr = t.dag_run
    deadline = time.monotonic() + FINISH_TIMEOUT_S
    states: dict[str, str] = {}
    try:
        while time.monotonic() < deadline:
            job.run_once()
            with engine.connect() as conn:
                states = dict(conn.execute(sa.select(dr.c.run_id, dr.c.state)
                                           .where(dr.c.dag_id == "edited")).all())
            if on_loop is not None:
                on_loop(states)
            wanted = states if run_ids is None else {r: states.get(r) for r in run_ids}
            if wanted and all(s in ("success", "failed") for s in wanted.values()):
                break
            job._idle()
        else:
            pytest.fail(f"runs not finished after {FINISH_TIMEOUT_S} s: {states}")
    finally:
        job._shutdown()
        job.job.complete("success")
    finished = states if run_ids is None else {r: states[r] for r in run_ids}
    assert set(finished.values()) == {"success"}, states
    x = t.xcom
    results: dict[str, dict[str, Any]] = {run_id: {} for run_id in states}
    with engine.connect() as conn:
        for row in conn.execute(sa.select(x.c.run_id, x.c.task_id, x.c.value).where(
                x.c.dag_id == "edited", x.c.key == "return_value")):
            results[row.run_id][row.task_id] = row.value
    return results


def test_a_backfill_in_flight_keeps_each_runs_version_while_the_file_is_edited(
        world: tuple[Engine, Path]) -> None:
    engine, folder = world
    write(folder, {"helpers.py": HELPER_V1, "edited.py": DAG_V1})
    sync(engine, folder)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    create_backfill("edited", from_date=start, to_date=start + timedelta(days=49),
                    max_active_runs=4, engine=engine)
    edited: dict[str, Any] = {}

    def edit_mid_flight(states: dict[str, str]) -> None:
        done = sum(1 for r, s in states.items() if s == "success" and r.startswith("backfill__"))
        if not edited and done >= 5:
            # Runs are running right now (the backfill keeps 4 going): edit the helper and
            # b's code, drop c, and let the DAG processor store the new version.
            edited["running"] = sorted(r for r, s in states.items()
                                       if s == "running" and r.startswith("backfill__"))
            write(folder, {"helpers.py": HELPER_V2, "edited.py": DAG_V2})
            sync(engine, folder)

    results = run_until_done(engine, on_loop=edit_mid_flight)

    assert edited["running"], "the edit landed while no run was running"
    v1, v2 = (v.id for v in versions(engine, "edited"))
    ti = t.task_instance
    with engine.connect() as conn:
        used = conn.execute(sa.select(ti.c.run_id, ti.c.dag_version_id).distinct()).all()
    by_run: dict[str, set[Any]] = {}
    for run_id, version in used:
        if run_id.startswith("backfill__"):  # not the run the schedule made
            by_run.setdefault(run_id, set()).add(version)
    assert len(by_run) == 50
    assert all(len(vs) == 1 for vs in by_run.values()), "a run mixed two versions"
    old = sorted(r for r, vs in by_run.items() if vs == {v1})
    new = sorted(r for r, vs in by_run.items() if vs == {v2})
    assert old and new and len(old) + len(new) == 50
    assert set(edited["running"]) <= set(old)  # runs in flight finished on their version
    for run_id in old:
        assert results[run_id] == {"a": "a-v1", "b": "b-v1", "c": "c-v1", "lazy": "lazy-v1"}, \
            run_id
    for run_id in new:
        assert results[run_id] == {"a": "a-v2", "b": "b-v2", "lazy": "lazy-v2"}, run_id
    summaries = list_version_summaries(engine, "edited")
    scheduled = len(results) - 50  # the schedule's run, on either version
    assert [s.version_number for s in summaries] == [1, 2]
    assert summaries[0].runs + summaries[1].runs == 50 + scheduled
    assert summaries[0].runs >= len(old) and summaries[1].runs >= len(new)


# -- CLI -----------------------------------------------------------------------------------------


def test_cli_versions_and_show_version(world: tuple[Engine, Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    engine, folder = world
    monkeypatch.setenv("DAGCORE__DATABASE__SQL_ALCHEMY_CONN",
                       engine.url.render_as_string(hide_password=False))
    write(folder, {"helpers.py": HELPER_V1, "edited.py": DAG_V1})
    sync(engine, folder)
    mark_used(engine, "edited")
    write(folder, {"helpers.py": HELPER_V2, "edited.py": DAG_V2})
    sync(engine, folder)

    listed = run_cli("dags", "versions", "edited", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["version"], r["files"], r["runs"], r["task_instances"]) for r in rows] == [
        (1, 2, 1, 1), (2, 2, 0, 0)]
    assert all(len(r["code_hash"]) == 64 and r["created_at"] for r in rows)
    table = run_cli("dags", "versions", "edited")
    assert rows[0]["code_hash"][:12] in table.stdout

    shown = run_cli("dags", "show-version", "edited", "1")
    assert shown.returncode == 0 and shown.stdout == textwrap.dedent(DAG_V1)
    latest = run_cli("dags", "show-version", "edited")
    assert latest.stdout == textwrap.dedent(DAG_V2)
    helper = run_cli("dags", "show-version", "edited", "1", "--file", "helpers.py")
    assert helper.stdout == HELPER_V1
    files = run_cli("dags", "show-version", "edited", "2", "--list-files")
    assert files.stdout.splitlines() == ["edited.py  (DAG file)", "helpers.py"]

    for args, message in [
        (("show-version", "edited", "7"), "Dag 'edited' has no version 7"),
        (("show-version", "edited", "x"), "VERSION must be a version number (1 or more), "
                                          "got 'x'"),
        (("show-version", "edited", "0"), "got '0'"),
        (("show-version", "nope"), "nope"),
        (("versions", "nope"), "nope"),
        (("show-version", "edited", "1", "--file", "gone.py"),
         "version 1 of DAG 'edited' has no file 'gone.py'; its files: edited.py, helpers.py"),
    ]:
        result = run_cli("dags", *args)
        assert result.returncode == 1, (args, result.stdout)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_a_version_without_stored_code_is_reported(world: tuple[Engine, Path]) -> None:
    engine, folder = world
    write(folder, {"helpers.py": HELPER_V1, "edited.py": DAG_V1})
    sync(engine, folder)
    with transaction(engine) as conn:
        conn.execute(t.dag_version.update().values(code_hash=None, code_path=None))
    with pytest.raises(DagVersionNotFound, match="stored without its code"):
        get_version_code(engine, "edited")
    # Its tries load the DAG file from the DAG folder, as before code was stored.
    version = versions(engine, "edited")[0].id
    dag = load_dag_version(engine, version, "edited", str(folder / "edited.py"))
    assert dag.get_task("b").python_callable() == "b-v1"
    assert os.path.samefile(dag.fileloc, folder / "edited.py")
