"""``dagcore.asset_store`` against real databases (the ``engine`` fixture: SQLite and
PostgreSQL): references follow a DAG's re-parse, events queue consumers (not stale ones), the
queue keeps one row per pair with the newest event's time, and a run consumes the events since
the previous asset-triggered run (docs/airflow-behaviour.md 12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dagcore import DAG
from dagcore.asset_store import (
    consume_asset_events,
    inlet_asset_events,
    leaf_resolver,
    record_asset_events,
    record_external_asset_event,
    triggering_asset_events,
)
from dagcore.assets import Asset, AssetAlias, AssetEventRecord
from dagcore.dag_processing import write_dag
from dagcore.db import migrate, transaction
from dagcore.models import tables as t
from dagcore.models.dagrun import insert_dag_run
from dagcore.operators.empty import EmptyOperator

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 1, tzinfo=UTC)
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
A = Asset("s3://k/a")
B = Asset(name="b", uri="s3://k/b")


@pytest.fixture
def db(engine: Engine) -> Engine:
    migrate(engine)
    return engine


def consumer(dag_id: str, schedule: Any) -> DAG:
    with DAG(dag_id, schedule=schedule, start_date=START, is_paused_upon_creation=False) as dag:
        EmptyOperator(task_id="noop")
    return dag


def producer(dag_id: str, *outlets: Any) -> DAG:
    with DAG(dag_id, schedule=None, start_date=START) as dag:
        EmptyOperator(task_id="make", outlets=list(outlets))
    return dag


def schedule_refs(conn: Connection) -> set[tuple[str, str]]:
    ref, a = t.dag_schedule_asset_reference, t.asset
    return {(r.dag_id, r.uri) for r in conn.execute(
        sa.select(ref.c.dag_id, a.c.uri).join(a, a.c.id == ref.c.asset_id))}


def record(conn: Connection, *events: AssetEventRecord, when: datetime,
           run_id: str = "r") -> list[int]:
    return record_asset_events(conn, list(events), dag_id="producer", task_id="make",
                               run_id=run_id, map_index=-1, now=when)


def queue_rows(conn: Connection) -> dict[tuple[str, str], datetime]:
    q, a = t.asset_dag_run_queue, t.asset
    return {(r.target_dag_id, r.uri): r.created_at for r in conn.execute(
        sa.select(q.c.target_dag_id, a.c.uri, q.c.created_at).join(a, a.c.id == q.c.asset_id))}


def test_a_reparse_rewrites_the_references_and_updates_the_asset(db: Engine) -> None:
    write_dag(db, consumer("c", A & B), now=T0)
    write_dag(db, producer("p", A), now=T0)
    with db.connect() as conn:
        assert schedule_refs(conn) == {("c", "s3://k/a"), ("c", "s3://k/b")}
    changed_b = Asset(name="b", uri="s3://k/b", extra={"v": 2})
    write_dag(db, consumer("c", [changed_b]), now=T0 + timedelta(seconds=1))
    write_dag(db, producer("p", changed_b), now=T0 + timedelta(seconds=1))
    with db.connect() as conn:
        assert schedule_refs(conn) == {("c", "s3://k/b")}
        o, a = t.task_outlet_asset_reference, t.asset
        assert [tuple(r) for r in conn.execute(sa.select(o.c.dag_id, o.c.task_id, a.c.uri).join(
            a, a.c.id == o.c.asset_id))] == [("p", "make", "s3://k/b")]
        # the asset row stays (events may name it); its extra follows the latest parse
        assert dict(conn.execute(sa.select(a.c.uri, a.c.extra)).all()) == {
            "s3://k/a": {}, "s3://k/b": {"v": 2}}


def test_events_queue_consumers_once_per_pair_with_the_newest_time(db: Engine) -> None:
    write_dag(db, consumer("c", [A]), now=T0)
    write_dag(db, consumer("stale", [A]), now=T0)
    write_dag(db, consumer("paused", [A]), now=T0)
    with transaction(db) as conn:
        conn.execute(t.dag.update().where(t.dag.c.dag_id == "stale").values(is_stale=True))
        conn.execute(t.dag.update().where(t.dag.c.dag_id == "paused").values(is_paused=True))
        record(conn, AssetEventRecord(A, {"n": 1}), when=T0)
    with transaction(db) as conn:
        record(conn, AssetEventRecord(A, {"n": 2}), when=T0 + timedelta(minutes=1))
    with db.connect() as conn:
        assert queue_rows(conn) == {("c", "s3://k/a"): T0 + timedelta(minutes=1),
                                    ("paused", "s3://k/a"): T0 + timedelta(minutes=1)}


def test_an_external_event_queues_consumers_as_a_task_event_does(db: Engine) -> None:
    """``POST /assets/events`` (docs/airflow-rest-api.md B.4): no source task, map index -1,
    the consumers by asset, by name reference and paused ones queued, stale ones not; an
    unknown asset id writes nothing."""
    write_dag(db, consumer("c", [B]), now=T0)
    write_dag(db, consumer("by_name", [Asset.ref(name="b")]), now=T0)
    write_dag(db, consumer("stale", [B]), now=T0)
    with transaction(db) as conn:
        conn.execute(t.dag.update().where(t.dag.c.dag_id == "stale").values(is_stale=True))
        conn.execute(t.dag.update().where(t.dag.c.dag_id == "c").values(is_paused=True))
        b_id = conn.execute(sa.select(t.asset.c.id).where(t.asset.c.name == "b")).scalar_one()
        event_id = record_external_asset_event(conn, asset_id=b_id, extra={"x": 1}, now=T0)
        assert record_external_asset_event(conn, asset_id=b_id + 1000, extra={}, now=T0) is None
    with db.connect() as conn:
        (event,) = conn.execute(sa.select(t.asset_event)).all()
        assert (event.id, event.asset_id, event.extra, event.source_dag_id, event.source_task_id,
                event.source_run_id, event.source_map_index, event.timestamp) == (
            event_id, b_id, {"x": 1}, None, None, None, -1, T0)
        assert queue_rows(conn) == {("c", "s3://k/b"): T0, ("by_name", "s3://k/b"): T0}


def test_a_run_consumes_the_events_since_the_previous_asset_triggered_run(db: Engine) -> None:
    write_dag(db, consumer("c", [A]), now=T0)

    def new_run(conn: Connection, run_after: datetime) -> int:
        return insert_dag_run(conn, dag_id="c", run_id=f"asset_triggered__{run_after}",
                              run_after=run_after, run_type="asset_triggered", state="queued",
                              clear_number=0, updated_at=run_after)

    with transaction(db) as conn:
        first_ids = record(conn, AssetEventRecord(A, {"n": 1}), when=T0)
        first_ids += record(conn, AssetEventRecord(A, {"n": 2}), when=T0 + timedelta(seconds=1))
        run1 = new_run(conn, T0 + timedelta(seconds=1))
        assert consume_asset_events(conn, dag_id="c", dag_run_id=run1,
                                    run_after=T0 + timedelta(seconds=1)) == 2
        assert queue_rows(conn) == {}
        record(conn, AssetEventRecord(A, {"n": 3}), when=T0 + timedelta(seconds=2))
        # an event newer than the run being created keeps its queue row for the next run
        late = new_run(conn, T0 + timedelta(seconds=1, milliseconds=500))
        assert consume_asset_events(conn, dag_id="c", dag_run_id=late,
                                    run_after=T0 + timedelta(seconds=1, milliseconds=500)) == 0
        assert queue_rows(conn) == {("c", "s3://k/a"): T0 + timedelta(seconds=2)}
        run2 = new_run(conn, T0 + timedelta(seconds=2))
        assert consume_asset_events(conn, dag_id="c", dag_run_id=run2,
                                    run_after=T0 + timedelta(seconds=2)) == 1
    with db.connect() as conn:
        assert [e.extra for e in triggering_asset_events(conn, run1)] == [{"n": 1}, {"n": 2}]
        assert [e.id for e in triggering_asset_events(conn, run1)] == first_ids
        assert [e.extra for e in triggering_asset_events(conn, run2)] == [{"n": 3}]
        assert [e.extra for e in inlet_asset_events(conn, uri="s3://k/a")] == [
            {"n": 1}, {"n": 2}, {"n": 3}]


def test_the_resolver_maps_assets_references_and_aliases(db: Engine) -> None:
    alias = AssetAlias("al")
    write_dag(db, consumer("c", A | B), now=T0)
    with transaction(db) as conn:
        record(conn, AssetEventRecord(B, {}, alias), when=T0)
    with db.connect() as conn:
        resolve = leaf_resolver(conn)
        ids = dict(conn.execute(sa.select(t.asset.c.uri, t.asset.c.id)).all())
        assert resolve({"__type": "asset", "name": "s3://k/a", "uri": "s3://k/a"}) == [ids["s3://k/a"]]
        assert resolve({"__type": "dataset", "uri": "s3://k/a"}) == [ids["s3://k/a"]]
        assert resolve({"__type": "asset", "name": "x", "uri": "s3://k/a"}) == []
        assert resolve({"__type": "asset_ref", "name": "b"}) == [ids["s3://k/b"]]
        assert resolve({"__type": "asset_ref", "uri": "s3://k/b"}) == [ids["s3://k/b"]]
        assert resolve({"__type": "asset_alias", "name": "al"}) == [ids["s3://k/b"]]
        assert resolve({"__type": "asset_alias", "name": "none"}) == []
        assert [[a.name for a in e.source_aliases]
                for e in inlet_asset_events(conn, alias="al")] == [["al"]]


# -- the scheduler's step ---------------------------------------------------------------------


def scheduler(engine: Engine) -> Any:
    from fake_executors import NeverRuns

    from dagcore.db_dagbag import DBDagBag
    from dagcore.jobs.scheduler import SchedulerJob

    job = SchedulerJob(engine=engine, executor=NeverRuns(),
                       dag_bag=DBDagBag(engine=engine, revalidation_interval=0))
    job.job.register()
    return job


def test_the_step_recompiles_when_a_version_changes_and_creates_airflows_run(
        db: Engine) -> None:
    write_dag(db, consumer("c", A & B), now=T0)
    with transaction(db) as conn:
        record(conn, AssetEventRecord(A, {"n": 1}), when=T0)
    job = scheduler(db)
    try:
        assert job._create_asset_triggered_runs() == 0  # b has no event yet
        with db.connect() as conn:
            assert queue_rows(conn) == {("c", "s3://k/a"): T0}
        # a new version of c needs a only: the cached conditions are compiled again
        write_dag(db, consumer("c", [A]), now=T0 + timedelta(seconds=1))
        assert job._create_asset_triggered_runs() == 1
        assert job._create_asset_triggered_runs() == 0  # the queue is empty now
    finally:
        job.job.complete("success")
    dr, dv = t.dag_run, t.dag_version
    with db.connect() as conn:
        (run,) = conn.execute(sa.select(dr).where(dr.c.dag_id == "c")).all()
        latest = conn.execute(sa.select(dv.c.id).where(dv.c.dag_id == "c").order_by(
            dv.c.version_number.desc()).limit(1)).scalar_one()
        assert (run.run_type, run.state, run.triggered_by, run.logical_date, run.run_after,
                run.data_interval_start, run.created_dag_version_id) == (
            "asset_triggered", "queued", "asset", None, T0, None, latest)
        assert run.run_id.startswith(f"asset_triggered__{T0.isoformat()}_")
        assert [e.extra for e in triggering_asset_events(conn, run.id)] == [{"n": 1}]
        assert queue_rows(conn) == {}


def test_deleting_a_dag_or_a_run_cascades(db: Engine) -> None:
    write_dag(db, consumer("c", [A]), now=T0)
    with transaction(db) as conn:
        record(conn, AssetEventRecord(A, {}), when=T0)
        run = insert_dag_run(conn, dag_id="c", run_id="asset_triggered__x", run_after=T0,
                             run_type="asset_triggered", state="queued", clear_number=0,
                             updated_at=T0)
        consume_asset_events(conn, dag_id="c", dag_run_id=run, run_after=T0)
        record(conn, AssetEventRecord(A, {}), when=T0 + timedelta(seconds=1))
    with transaction(db) as conn:
        conn.execute(t.dag_run.delete().where(t.dag_run.c.id == run))
    with db.connect() as conn:
        assert conn.execute(sa.select(t.dagrun_asset_event)).all() == []
        assert len(conn.execute(sa.select(t.asset_event)).all()) == 2  # events stay
        assert queue_rows(conn) != {}
    with transaction(db) as conn:
        conn.execute(t.dag.delete().where(t.dag.c.dag_id == "c"))
    with db.connect() as conn:
        assert queue_rows(conn) == {} and schedule_refs(conn) == set()
