"""The CeleryExecutor with real processes: Redis, two ``dagcore celery worker`` processes and a
``dagcore scheduler`` on a throw-away PostgreSQL database (:mod:`celery_cluster`).

Checked against the database and the tasks' own record of what ran, never against timings:
every try runs at most once (each try appends one line to a file), every run finishes, tries go
to both workers and to the worker of their queue, a worker killed with SIGKILL mid-try loses
nothing (its try is retried on the other worker), a Redis restart mid-run loses nothing, a
backfill of 100 runs completes, a worker without the DAG folder runs each run's version of the
code. Bad configuration fails with a message naming the value.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from celery_cluster import CeleryWorld, RedisServer
from scheduler_process import dagcore_env, run_cli, session_pids, wait_for
from sqlalchemy.engine import Engine

from dagcore.api.backfills import create_backfill

pytestmark = pytest.mark.integration

# Four independent tasks per run; `routed` only in ROUTED_DAG.
QUICK_DAG = """
from datetime import UTC, datetime, timedelta

from dagcore import DAG
from dagcore.operators.python import PythonOperator

with DAG("quick", start_date=datetime(2025, 1, 1, tzinfo=UTC), schedule=None,
         max_active_runs=64, default_args={"retries": 2, "retry_delay": timedelta(0)}):
    for i in range(4):
        PythonOperator(task_id=f"t{i}", python_callable=record)
"""

ROUTED_DAG = """
from datetime import UTC, datetime

from dagcore import DAG
from dagcore.operators.python import PythonOperator

with DAG("routed", start_date=datetime(2025, 1, 1, tzinfo=UTC), schedule=None,
         max_active_runs=64):
    PythonOperator(task_id="anywhere", python_callable=record)
    PythonOperator(task_id="only_q2", python_callable=record, queue="q2")
"""

# The first try writes a marker naming its worker, then sleeps until killed; later tries record
# and return.
SLEEPER_DAG = """
from datetime import UTC, datetime, timedelta

from dagcore import DAG
from dagcore.operators.python import PythonOperator


def sleep_first_try(ti):
    record(ti)
    marker = os.path.join(@OUT@, "first-try")
    if ti.try_number == 1:
        with open(marker + ".tmp", "w") as f:
            f.write(os.environ.get("TEST_WORKER", "?"))
        os.rename(marker + ".tmp", marker)
        time.sleep(600)


with DAG("sleeper", start_date=datetime(2025, 1, 1, tzinfo=UTC), schedule=None):
    PythonOperator(task_id="sleep", python_callable=sleep_first_try, retries=1,
                   retry_delay=timedelta(0))
"""

DAILY_DAG = """
from datetime import UTC, datetime

from dagcore import DAG
from dagcore.operators.python import PythonOperator

with DAG("daily", start_date=datetime(2025, 1, 1, tzinfo=UTC), schedule="@daily",
         catchup=False):
    PythonOperator(task_id="record", python_callable=record)
"""


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def world(postgres_engine: Engine, tmp_path: Path, redis_server: RedisServer
          ) -> Iterator[CeleryWorld]:
    """Two workers (w1 on ``default``, w2 on ``default`` and ``q2``) and the world to start a
    scheduler in; everything stopped after."""
    world = CeleryWorld(postgres_engine, tmp_path / "world", redis_server)
    try:
        world.worker("w1", queues="default")
        world.worker("w2", queues="default,q2")
        yield world
    finally:
        world.close()
        left = [pid for p in world.processes for pid in session_pids(p.pid)]
        assert not left, f"processes left behind: {left}"


def _all_success(world: CeleryWorld, dag_id: str) -> None:
    runs = world.runs(dag_id)
    assert runs and set(runs.values()) == {"success"}, runs
    states = {(ti.run_id, ti.task_id): ti.state for ti in world.tis(dag_id)}
    assert set(states.values()) == {"success"}, states


def test_200_tries_run_once_each_across_both_workers(world: CeleryWorld) -> None:
    world.add_dag("quick.py", QUICK_DAG)
    run_ids = world.trigger("quick", 50)
    world.scheduler()
    world.wait_finished("quick")
    _all_success(world, "quick")
    tis = world.tis("quick")
    assert len(tis) == 200
    assert {ti.try_number for ti in tis} == {1}
    assert {ti.queue for ti in tis} == {"default"}
    assert all(ti.hostname and ti.pid for ti in tis)
    ran = world.executed_once()
    assert set(ran) == {(r, f"t{i}") for r in run_ids for i in range(4)}
    assert len(world.executions_log()) == 200  # each try once
    assert set(ran.values()) == {"w1", "w2"}  # both workers took tries


def test_a_task_of_queue_q2_runs_only_on_the_worker_of_q2(world: CeleryWorld) -> None:
    world.add_dag("routed.py", ROUTED_DAG)
    world.trigger("routed", 10)
    world.scheduler()
    world.wait_finished("routed")
    _all_success(world, "routed")
    assert {ti.queue for ti in world.tis("routed") if ti.task_id == "only_q2"} == {"q2"}
    ran = world.executed_once()
    assert {worker for (_, task), worker in ran.items() if task == "only_q2"} == {"w2"}
    assert len(ran) == 20


def test_a_worker_killed_mid_try_loses_nothing(world: CeleryWorld) -> None:
    world.add_dag("sleeper.py", SLEEPER_DAG)
    world.add_dag("quick.py", QUICK_DAG, sleep=0.05)
    world.trigger("sleeper", 1)
    world.trigger("quick", 20)
    world.scheduler()
    marker = world.out / "first-try"
    wait_for("the sleeper's first try started", marker.exists, timeout=120,
             watch=world.live)
    victim = marker.read_text()
    other = ({"w1", "w2"} - {victim}).pop()
    world.kill_worker(victim)  # mid-try: the sleeper, and whatever else it ran
    world.wait_finished("sleeper")
    world.wait_finished("quick")
    _all_success(world, "sleeper")
    _all_success(world, "quick")
    (sleeper,) = world.tis("sleeper")
    assert sleeper.try_number == 2  # retried once: the zombie check failed the lost try
    ran = world.executed_once()
    assert ran[("r000", "sleep")] == other
    # Every try the dead worker did not finish was run again, by the other worker.
    assert {(r, t) for r, t, _, w, _ in world.executions_log() if w == victim} <= set(ran)
    assert len(ran) == 81


def test_a_redis_restart_mid_run_loses_nothing(world: CeleryWorld) -> None:
    world.add_dag("quick.py", QUICK_DAG, sleep=0.05)
    world.trigger("quick", 40)
    world.scheduler()
    wait_for("some tries ran", lambda: len(world.executions_log()) >= 30, timeout=120,
             watch=world.live)
    world.redis.restart()
    world.wait_finished("quick")
    _all_success(world, "quick")
    ran = world.executed_once()
    assert len(ran) == 160
    assert sum("Redis restarted" in p.stderr for p in world.processes) == 1


def test_two_schedulers_share_the_tries_and_each_runs_once(world: CeleryWorld) -> None:
    """Several schedulers on one PostgreSQL database, each with its CeleryExecutor (rows taken
    with SKIP LOCKED; docs/deployment.md 1)."""
    world.add_dag("quick.py", QUICK_DAG, sleep=0.02)
    run_ids = world.trigger("quick", 40)
    first, second = world.scheduler(parallelism=4), world.scheduler(parallelism=4)
    world.wait_finished("quick")
    _all_success(world, "quick")
    assert {ti.try_number for ti in world.tis("quick")} == {1}
    ran = world.executed_once()
    assert set(ran) == {(r, f"t{i}") for r in run_ids for i in range(4)}
    assert len(world.executions_log()) == 160
    # Both schedulers queued tries (each stamps its job id on the tries it queues).
    assert len({ti.queued_by_job_id for ti in world.tis("quick")}) == 2, (first, second)


def test_a_backfill_of_100_runs_completes(world: CeleryWorld) -> None:
    world.add_dag("daily.py", DAILY_DAG)
    backfill = create_backfill("daily", from_date=datetime(2025, 1, 1, tzinfo=UTC),
                               to_date=datetime(2025, 4, 10, tzinfo=UTC), max_active_runs=16,
                               engine=world.engine)
    world.scheduler()
    world.wait_finished("daily")
    runs = {r: s for r, s in world.runs("daily").items() if r.startswith("backfill__")}
    assert len(runs) == 100 and set(runs.values()) == {"success"}
    assert set(runs) <= {run_id for run_id, _ in world.executed_once()}
    from dagcore.api.backfills import get_backfill

    wait_for("the backfill is marked complete",
             lambda: get_backfill(backfill.id, engine=world.engine).completed_at is not None,
             timeout=60)


# -- configuration errors -------------------------------------------------------------------------


def test_an_unknown_broker_scheme_is_named(tmp_path: Path) -> None:
    env = dagcore_env(tmp_path, DAGCORE__CELERY__BROKER_URL="amqp://guest:secret@host//")
    result = run_cli(env, "celery", "worker")
    assert result.returncode == 1
    assert "[celery] broker_url 'amqp://guest:***@host//' has scheme 'amqp'" in result.stderr
    assert "secret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_scheduler_with_the_celery_executor_and_a_bad_backend_is_refused(
        tmp_path: Path) -> None:
    env = dagcore_env(tmp_path, DAGCORE__CORE__EXECUTOR="CeleryExecutor",
                      DAGCORE__CELERY__RESULT_BACKEND="db+postgresql://x/y")
    assert run_cli(env, "db", "migrate").returncode == 0
    result = run_cli(env, "scheduler", "-n", "1")
    assert result.returncode == 1
    assert "[celery] result_backend 'db+postgresql://x/y' has scheme 'db+postgresql'" \
        in result.stderr


def test_the_celery_executor_without_celery_names_the_package(tmp_path: Path) -> None:
    # A `celery` package that fails to import stands for Celery not being installed.
    shadow = tmp_path / "shadow" / "celery"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'celery'\")\n")
    env = dagcore_env(tmp_path / "home", DAGCORE__CORE__EXECUTOR="CeleryExecutor")
    env["PYTHONPATH"] = os.pathsep.join([str(shadow.parent), env.get("PYTHONPATH", "")])
    assert run_cli(env, "db", "migrate").returncode == 0
    for args in (("scheduler", "-n", "1"), ("celery", "worker")):
        result = run_cli(env, *args)
        assert result.returncode == 1, result
        assert "python3-celery" in result.stderr and "Traceback" not in result.stderr, \
            result.stderr
    # dagcore itself still imports and runs without Celery.
    assert run_cli(env, "version").returncode == 0


def test_an_unknown_executor_is_named(tmp_path: Path) -> None:
    env = dagcore_env(tmp_path, DAGCORE__CORE__EXECUTOR="KubernetesExecutor")
    assert run_cli(env, "db", "migrate").returncode == 0
    result = run_cli(env, "scheduler", "-n", "1")
    assert result.returncode == 1
    assert "unknown [core] executor 'KubernetesExecutor'" in result.stderr
    assert "'CeleryExecutor'" in result.stderr


def test_celery_stop_without_a_worker_names_the_pid_file(tmp_path: Path) -> None:
    env = dagcore_env(tmp_path)
    result = run_cli(env, "celery", "stop", "--pid", str(tmp_path / "none.pid"))
    assert result.returncode == 1
    assert f"no worker pid file at {tmp_path / 'none.pid'}" in result.stderr


# -- the scheduler's zombie check with an executor that cannot kill --------------------------------

ZOMBIE_DAG = """\
from datetime import UTC, datetime

from dagcore import DAG
from dagcore.operators.python import PythonOperator

with DAG("zombie", start_date=datetime(2025, 1, 1, tzinfo=UTC), schedule=None):
    PythonOperator(task_id="t", python_callable=print)
"""


def test_a_zombie_the_executor_cannot_kill_is_failed_by_the_scheduler(
        sqlite_engine: Engine, tmp_path: Path) -> None:
    import sqlalchemy as sa
    from fake_executors import NeverRuns

    from dagcore.api.common import trigger_dag
    from dagcore.dag_processing import sync_dags
    from dagcore.db import migrate, transaction
    from dagcore.jobs.scheduler import SchedulerJob
    from dagcore.models import tables as t

    migrate(sqlite_engine)
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "zombie.py").write_text(ZOMBIE_DAG)
    sync_dags(dags, engine=sqlite_engine)
    trigger_dag("zombie", run_id="r", engine=sqlite_engine)
    with transaction(sqlite_engine) as conn:
        conn.execute(t.dag.update().values(is_paused=False))
    executor = NeverRuns()  # BaseExecutor.kill: False, and no event ever comes
    job = SchedulerJob(engine=sqlite_engine, executor=executor, idle_sleep=0.0)
    job.job.register()
    wait_for("the try was queued", lambda: job.run_once() is not None and executor.queued,
             timeout=30)
    ti = t.task_instance
    with transaction(sqlite_engine) as conn:  # its worker claimed it, then its machine died
        conn.execute(ti.update().values(state="running",
                                        last_heartbeat_at=datetime(2000, 1, 1, tzinfo=UTC)))
    assert job.fail_zombies() == 1
    with sqlite_engine.connect() as conn:
        assert conn.execute(sa.select(ti.c.state)).scalar_one() == "failed"


# A worker on "another machine": its own home, and the DAG folder is not there at all (the file
# was moved away after the DAG processor stored it). The try runs the code stored with its DAG
# version (docs/airflow-behaviour.md 1.8, docs/deployment.md 6).
EDITED_DAG = """
from datetime import UTC, datetime

from dagcore import DAG
from dagcore.operators.python import PythonOperator

def version():
    return "@VERSION@"

with DAG("edited", start_date=datetime(2025, 1, 1, tzinfo=UTC), schedule=None,
         max_active_runs=64):
    PythonOperator(task_id="which", python_callable=version)
"""


@pytest.fixture
def bare_world(postgres_engine: Engine, tmp_path: Path, redis_server: RedisServer
               ) -> Iterator[CeleryWorld]:
    world = CeleryWorld(postgres_engine, tmp_path / "world", redis_server)
    try:
        yield world
    finally:
        world.close()
        left = [pid for p in world.processes for pid in session_pids(p.pid)]
        assert not left, f"processes left behind: {left}"


def test_a_worker_without_the_dag_folder_runs_each_runs_version(bare_world: CeleryWorld,
                                                                tmp_path: Path) -> None:
    import sqlalchemy as sa

    from dagcore.api.common import trigger_dag
    from dagcore.models import tables as t

    world = bare_world
    world.add_dag("edited.py", EDITED_DAG.replace("@VERSION@", "v1"))
    for i in range(3):
        trigger_dag("edited", run_id=f"old_{i}", logical_date=None, engine=world.engine)
    world.scheduler()  # no worker yet: the runs start on version 1 and their tries wait queued
    ti = t.task_instance

    def queued_on_v1() -> bool:
        with world.engine.connect() as conn:
            states = conn.execute(sa.select(ti.c.state).where(ti.c.dag_id == "edited")).all()
        return len(states) == 3 and {s for (s,) in states} == {"queued"}

    wait_for("the old runs' tries queued", queued_on_v1, timeout=60, watch=world.live)
    # Version 2 of the file is stored, and its runs start on it; then the DAG folder leaves this
    # "machine": the worker starts with a DAG folder that does not exist.
    world.add_dag("edited.py", EDITED_DAG.replace("@VERSION@", "v2"))
    for i in range(3):
        trigger_dag("edited", run_id=f"new_{i}", logical_date=None, engine=world.engine)
    world.dags.rename(tmp_path / "elsewhere")
    world.env = {**world.env, "DAGCORE__CORE__DAGS_FOLDER": str(tmp_path / "no_such_folder")}
    world.worker("remote", queues="default")
    world.wait_finished("edited")

    _all_success(world, "edited")
    x = t.xcom
    with world.engine.connect() as conn:
        values = dict(conn.execute(sa.select(x.c.run_id, x.c.value).where(
            x.c.dag_id == "edited", x.c.key == "return_value")).all())
    assert values == {**{f"old_{i}": "v1" for i in range(3)},
                      **{f"new_{i}": "v2" for i in range(3)}}
    assert not (tmp_path / "no_such_folder").exists()
