"""The scheduler's asset step on SQLite and PostgreSQL (docs/airflow-behaviour.md 12.5, 12.7):
only DAGs with a new version (or a changed serialized form) are compiled again, readiness follows
the latest condition, and the step's queries are served by indexes (EXPLAIN).

The DAGs are written with the DAG processor's ``write_dag`` and the queue rows inserted directly;
the step is :meth:`SchedulerJob._ready_for_assets`, as each scheduler loop runs it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fake_executors import NeverRuns
from sqlalchemy.engine import Engine

from dagcore import DAG
from dagcore.assets import Asset, BaseAsset
from dagcore.dag_processing import write_dag
from dagcore.db import migrate, transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.jobs.scheduler import SchedulerJob
from dagcore.models import tables as t
from dagcore.operators.empty import EmptyOperator

pytestmark = pytest.mark.integration

NOW = datetime(2026, 1, 1, tzinfo=UTC)
A, B, C = Asset("s3://step/a"), Asset("s3://step/b"), Asset("s3://step/c")


def write(engine: Engine, dag_id: str, schedule: BaseAsset | list[BaseAsset],
          minutes: int = 0) -> None:
    with DAG(dag_id, schedule=schedule, start_date=NOW, is_paused_upon_creation=False) as dag:
        EmptyOperator(task_id="x")
    with transaction(engine) as conn:
        write_dag(conn, dag, now=NOW + timedelta(minutes=minutes))


def queue(engine: Engine, *pairs: tuple[Asset, str]) -> None:
    with transaction(engine) as conn:
        ids = dict(conn.execute(sa.select(t.asset.c.uri, t.asset.c.id)).all())
        conn.execute(t.asset_dag_run_queue.insert(), [
            {"asset_id": ids[a.uri], "target_dag_id": dag_id, "created_at": NOW}
            for a, dag_id in pairs])


@pytest.fixture
def job(engine: Engine) -> Iterator[SchedulerJob]:
    migrate(engine)
    write(engine, "c1", [A, B])
    write(engine, "c2", A | C)
    write(engine, "c3", [C])
    executor = NeverRuns(4)
    scheduler = SchedulerJob(engine=engine, executor=executor, dag_bag=DBDagBag(engine=engine))
    scheduler.job.register()
    try:
        yield scheduler
    finally:
        scheduler.job.complete("success")
    assert executor.queued == []  # the asset step queues no task


def ready(job: SchedulerJob) -> set[str]:
    with job.engine.connect() as conn:
        found, versions, newest = job._ready_for_assets(conn, lock=False)
    assert versions == {} and newest == {}  # only the locked pass reads them
    return set(found)


def test_only_new_versions_are_compiled(job: SchedulerJob) -> None:
    engine = job.engine
    assert ready(job) == set()
    assert job._asset_cache.compiles == 0  # nothing queued: nothing compiled

    queue(engine, (A, "c1"), (A, "c2"))
    assert ready(job) == {"c2"}
    assert job._asset_cache.compiles == 2  # the queued DAGs only
    assert ready(job) == {"c2"}
    assert job._asset_cache.compiles == 2  # unchanged versions: nothing compiled

    write(engine, "c1", [A], minutes=1)  # a new condition for c1 (its version updated in place)
    assert ready(job) == {"c1", "c2"}
    assert job._asset_cache.compiles == 3

    queue(engine, (C, "c3"))
    assert ready(job) == {"c1", "c2", "c3"}
    assert job._asset_cache.compiles == 4

    with transaction(engine) as conn:
        conn.execute(t.dag.update().where(t.dag.c.dag_id == "c2").values(is_paused=True))
    assert ready(job) == {"c1", "c3"}
    assert job._asset_cache.compiles == 4

    # The locked pass also gives the latest version and the newest queue row of each ready DAG.
    with transaction(engine) as conn:
        found, versions, newest = job._ready_for_assets(conn, lock=True)
        latest = dict(conn.execute(sa.select(t.dag_version.c.dag_id, t.dag_version.c.id)).all())
    assert set(found) == {"c1", "c3"}
    assert versions == {"c1": latest["c1"], "c3": latest["c3"]}
    assert all(isinstance(v, uuid.UUID) for v in versions.values())
    assert newest == {"c1": NOW, "c3": NOW}


def test_a_dag_without_an_asset_schedule_is_never_ready(job: SchedulerJob) -> None:
    queue(job.engine, (A, "c1"), (B, "c1"))
    assert ready(job) == {"c1"}
    # A new version scheduled on nothing: its queue rows (if any stay) trigger nothing.
    with DAG("c1", schedule=None, start_date=NOW, is_paused_upon_creation=False) as dag:
        EmptyOperator(task_id="x")
    with transaction(job.engine) as conn:
        write_dag(conn, dag, now=NOW + timedelta(minutes=2))
    assert ready(job) == set()


def _plan(engine: Engine, sql: str) -> str:
    with engine.connect() as conn:
        cursor = conn.connection.cursor()
        if engine.dialect.name == "postgresql":
            # The tables are tiny here: make the planner show the index it can use.
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql)
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return "\n".join(row[3] for row in cursor.fetchall())


def test_step_queries_use_indexes(job: SchedulerJob) -> None:
    queue(job.engine, (A, "c1"), (A, "c2"))
    assert ready(job) == {"c2"}
    queue_plan = _plan(job.engine, job._statements["asset_queue"])
    versions_plan = _plan(job.engine, job._statements["asset_versions"])
    if job.engine.dialect.name == "postgresql":
        assert "Index" in queue_plan and "asset_dag_run_queue" in queue_plan, queue_plan
        assert "uq_dag_version_dag_id_version_number" in versions_plan, versions_plan
        assert "Seq Scan" not in versions_plan, versions_plan
    else:
        # The queue is read through its target_dag_id index, per active DAG.
        assert ("asset_dag_run_queue USING INDEX ix_asset_dag_run_queue_target_dag_id"
                in queue_plan), queue_plan
        assert "SCAN asset_dag_run_queue" not in queue_plan, queue_plan
        # The latest version of each queued DAG: the (dag_id, version_number) unique index.
        assert "SEARCH dag_version USING" in versions_plan, versions_plan
        assert "SCAN dag_version" not in versions_plan, versions_plan


def test_bag_reloads_a_version_updated_in_place_when_its_hash_differs(engine: Engine) -> None:
    migrate(engine)
    write(engine, "c1", [A, B])
    bag = DBDagBag(engine=engine, revalidation_interval=3600.0)  # no revalidation in the test
    with engine.connect() as conn:
        version_id, old_hash = conn.execute(
            sa.select(t.serialized_dag.c.dag_version_id, t.serialized_dag.c.dag_hash)).one()
    old = bag.get_dag(version_id, "c1")
    assert old is not None and bag.get_dag_of_hash(version_id, old_hash, "c1") is old

    write(engine, "c1", [C], minutes=1)  # no task instance used the version: updated in place
    with engine.connect() as conn:
        same_id, new_hash = conn.execute(
            sa.select(t.serialized_dag.c.dag_version_id, t.serialized_dag.c.dag_hash)).one()
    assert same_id == version_id and new_hash != old_hash
    assert bag.get_dag(version_id, "c1") is old  # within the interval: the cached copy
    new = bag.get_dag_of_hash(str(version_id), new_hash, "c1")
    assert new is not None and new is not old
    assert [a.uri for a in new.asset_condition.iter_assets()] == ["s3://step/c"]
    assert bag.get_dag(version_id, "c1") is new
