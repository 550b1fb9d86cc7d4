"""Asset events and asset-triggered runs, end to end (docs/airflow-behaviour.md 11, 12): DAG files
synced by the DAG processor, a real scheduler loop with the LocalExecutor, on SQLite and
PostgreSQL (the ``engine`` fixture).

A producer's successful task records an event per outlet asset (with the extra it set) in the
transaction of its success and queues the DAGs scheduled on the asset; the scheduler creates an
``asset_triggered`` run for a DAG whose condition holds, links the events it consumes (they reach
its tasks as ``triggering_asset_events``) and clears its queue; a paused DAG's rows wait.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from scheduler_loops import run_until

from dagcore.api.common import trigger_dag
from dagcore.dag_processing import sync_dags
from dagcore.db import migrate, transaction
from dagcore.executors.local import LocalExecutor
from dagcore.models import tables as t

pytestmark = pytest.mark.integration


DAGS = '''
from datetime import datetime, timezone
from dagcore import DAG
from dagcore.assets import Asset, AssetAlias
from dagcore.operators.python import PythonOperator

A = Asset("s3://bucket/a")
B = Asset(name="b", uri="s3://bucket/b", extra={"owner": "team"})
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def produce(asset):
    def run(**context):
        context["outlet_events"][asset].extra = {"from": context["run_id"]}
    return run


def report(**context):
    events = context["triggering_asset_events"]
    return sorted([[key.uri, event.extra["from"], event.source_dag_id]
                   for key in events for event in events[key]])


for name, asset in (("produce_a", A), ("produce_b", B), ("produce_a_too", A)):
    with DAG(name, schedule=None, start_date=START, is_paused_upon_creation=False):
        PythonOperator(task_id="make", python_callable=produce(asset), outlets=[asset])

for name, schedule in (("needs_both", A & B), ("needs_either", A | B), ("needs_a", [A])):
    with DAG(name, schedule=schedule, start_date=START, is_paused_upon_creation=False):
        PythonOperator(task_id="report", python_callable=report)

ALIAS = AssetAlias("made-by-alias")
MADE = Asset("s3://bucket/made")


def via_alias(**context):
    context["outlet_events"][ALIAS].add(MADE, extra={"via": "alias"})


def read_inlets(**context):
    inlet = context["inlet_events"]
    return {"asset": [e.extra for e in inlet[MADE]],
            "alias": [e.extra for e in inlet[ALIAS]],
            "by_uri": [e.source_dag_id for e in inlet.for_asset(uri="s3://bucket/made")],
            "aliases": [[a.name for a in e.source_aliases] for e in inlet[MADE]],
            "triggering": [e.extra for e in context["triggering_asset_events"][MADE]],
            "datasets": {uri: [e.dataset.uri for e in events] for uri, events
                         in context["triggering_dataset_events"].items()}}


def fail(**context):
    raise RuntimeError("the producer fails")


with DAG("produce_via_alias", schedule=None, start_date=START, is_paused_upon_creation=False):
    PythonOperator(task_id="make", python_callable=via_alias, outlets=[ALIAS])

with DAG("needs_made", schedule=[MADE], start_date=START, is_paused_upon_creation=False):
    PythonOperator(task_id="report", python_callable=read_inlets, inlets=[MADE, ALIAS])

with DAG("produce_fails", schedule=None, start_date=START, is_paused_upon_creation=False):
    PythonOperator(task_id="make", python_callable=fail, outlets=[A], retries=0)
'''


# Consumers scheduled on an alias and on references (by name, by URI): a world of their own.
REF_DAGS = '''
from datetime import datetime, timezone
from dagcore import DAG
from dagcore.assets import Asset, AssetAlias, AssetOrTimeSchedule
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
ALIAS = AssetAlias("made-by-alias")


def via_alias(**context):
    context["outlet_events"][ALIAS].add(Asset("s3://bucket/made"), extra={"via": "alias"})


def plain(**context):
    context["outlet_events"][Asset(name="named", uri="s3://bucket/named")].extra = {"n": 1}


def report(**context):
    events = context["triggering_asset_events"]
    return sorted([key.uri, event.extra] for key in events for event in events[key])


with DAG("produce_via_alias", schedule=None, start_date=START, is_paused_upon_creation=False):
    PythonOperator(task_id="make", python_callable=via_alias, outlets=[ALIAS])

with DAG("produce_empty", schedule=None, start_date=START, is_paused_upon_creation=False):
    # An EmptyOperator with outlets runs (8.4, 11.4) so that its event is recorded.
    EmptyOperator(task_id="make", outlets=[Asset("s3://bucket/empty")])

with DAG("on_empty", schedule=[Asset("s3://bucket/empty")], start_date=START,
         is_paused_upon_creation=False):
    PythonOperator(task_id="report", python_callable=report)

with DAG("produce_named", schedule=None, start_date=START, is_paused_upon_creation=False):
    PythonOperator(task_id="make", python_callable=plain,
                   outlets=[Asset(name="named", uri="s3://bucket/named")])

for dag_id, schedule in (("on_alias", [ALIAS]), ("on_name", [Asset.ref(name="named")]),
                         ("on_uri", [Asset.ref(uri="s3://bucket/named")]),
                         ("time_or_named", AssetOrTimeSchedule(
                             timetable="@yearly",
                             assets=[Asset(name="named", uri="s3://bucket/named")]))):
    with DAG(dag_id, schedule=schedule, start_date=START, is_paused_upon_creation=False):
        PythonOperator(task_id="report", python_callable=report)
'''


def make_world(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
               source: str) -> Engine:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "home"))
    folder = tmp_path / "dags"
    folder.mkdir()
    monkeypatch.setenv("DAGCORE__CORE__DAGS_FOLDER", str(folder))
    monkeypatch.setenv("DAGCORE__CORE__DAG_CODE_CACHE_FOLDER", str(tmp_path / "code_cache"))
    (folder / "assets_dags.py").write_text(textwrap.dedent(source))
    migrate(engine)
    result = sync_dags(folder, engine=engine, min_update_interval=timedelta(0))
    assert not result.import_errors, result.import_errors
    return engine


@pytest.fixture
def world(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    yield make_world(engine, tmp_path, monkeypatch, DAGS)


@pytest.fixture
def ref_world(engine: Engine, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    yield make_world(engine, tmp_path, monkeypatch, REF_DAGS)


def runs(conn: Connection, dag_id: str) -> list[Any]:
    dr = t.dag_run
    return conn.execute(sa.select(dr).where(dr.c.dag_id == dag_id).order_by(dr.c.id)).all()


def finished(engine: Engine, *dag_ids: str, count: int = 1,
             state: str = "success") -> Callable[[], bool]:
    """Each DAG has ``count`` runs or more, all in ``state``; any other failed run fails."""
    def check() -> bool:
        with engine.connect() as conn:
            failed = conn.execute(sa.select(t.dag_run.c.dag_id, t.dag_run.c.run_id).where(
                t.dag_run.c.state == "failed",
                t.dag_run.c.dag_id.not_in(dag_ids if state == "failed" else ()))).all()
            assert not failed, f"runs failed: {failed}"
            for dag_id in dag_ids:
                states = [r.state for r in runs(conn, dag_id)]
                if len(states) < count or any(s != state for s in states):
                    return False
        return True
    return check


def run_scheduler(engine: Engine, until: Callable[[], bool]) -> None:
    """A scheduler with the LocalExecutor until ``until()`` holds (then one loop more)."""
    url = engine.url.render_as_string(hide_password=False)
    run_until(engine, LocalExecutor(2, engine_url=url), until)


def trigger(engine: Engine, dag_id: str) -> str:
    return trigger_dag(dag_id, engine=engine, replace_microseconds=False).run_id


def xcom_of(conn: Connection, dag_id: str, run_id: str) -> Any:
    x = t.xcom
    return conn.execute(sa.select(x.c.value).where(
        x.c.dag_id == dag_id, x.c.run_id == run_id, x.c.task_id == "report",
        x.c.key == "return_value")).scalar_one()


def queue(conn: Connection) -> set[tuple[str, str]]:
    q, a = t.asset_dag_run_queue, t.asset
    return set(tuple(r) for r in conn.execute(sa.select(q.c.target_dag_id, a.c.uri).join(
        a, a.c.id == q.c.asset_id)).all())


def test_parsing_stores_assets_and_references(world: Engine) -> None:
    a, s, o = t.asset, t.dag_schedule_asset_reference, t.task_outlet_asset_reference
    with world.connect() as conn:
        assets = {r.uri: r for r in conn.execute(sa.select(a)).all()}
        schedule = set(tuple(r) for r in conn.execute(sa.select(s.c.dag_id, a.c.uri).join(
            a, a.c.id == s.c.asset_id)).all())
        outlets = set(tuple(r) for r in conn.execute(sa.select(o.c.dag_id, o.c.task_id, a.c.uri).join(
            a, a.c.id == o.c.asset_id)).all())
    assert set(assets) == {"s3://bucket/a", "s3://bucket/b", "s3://bucket/made"}
    assert (assets["s3://bucket/b"].name, assets["s3://bucket/b"].extra) == (
        "b", {"owner": "team"})
    assert assets["s3://bucket/a"].name == "s3://bucket/a"
    assert schedule == {("needs_both", "s3://bucket/a"), ("needs_both", "s3://bucket/b"),
                        ("needs_either", "s3://bucket/a"), ("needs_either", "s3://bucket/b"),
                        ("needs_a", "s3://bucket/a"), ("needs_made", "s3://bucket/made")}
    # An alias outlet is an alias row (its assets are known when it records events).
    assert outlets == {("produce_a", "make", "s3://bucket/a"),
                       ("produce_a_too", "make", "s3://bucket/a"),
                       ("produce_b", "make", "s3://bucket/b"),
                       ("produce_fails", "make", "s3://bucket/a")}
    with world.connect() as conn:
        assert conn.execute(sa.select(t.asset_alias.c.name)).scalars().all() == [
            "made-by-alias"]
        assert conn.execute(sa.select(t.asset_alias_asset)).all() == []


def test_and_waits_for_both_or_runs_for_either(world: Engine) -> None:
    first = trigger(world, "produce_a")
    run_scheduler(world, finished(world, "produce_a", "needs_either", "needs_a"))
    with world.connect() as conn:
        either = runs(conn, "needs_either")
        assert [(r.run_type, r.state, r.logical_date, r.triggered_by) for r in either] == [
            ("asset_triggered", "success", None, "asset")]
        assert either[0].run_id.startswith("asset_triggered__")
        assert xcom_of(conn, "needs_either", either[0].run_id) == [
            ["s3://bucket/a", first, "produce_a"]]
        assert runs(conn, "needs_both") == []
        # needs_both keeps its row for a until b has an event too.
        assert queue(conn) == {("needs_both", "s3://bucket/a")}
        events = conn.execute(sa.select(t.asset_event)).all()
        assert [(e.source_dag_id, e.source_task_id, e.source_run_id, e.source_map_index,
                 e.extra) for e in events] == [("produce_a", "make", first, -1, {"from": first})]
    second = trigger(world, "produce_b")
    run_scheduler(world, finished(world, "produce_b", "needs_both"))
    run_scheduler(world, finished(world, "needs_either", count=2))
    with world.connect() as conn:
        both = runs(conn, "needs_both")
        assert [(r.run_type, r.state) for r in both] == [("asset_triggered", "success")]
        assert xcom_of(conn, "needs_both", both[0].run_id) == [
            ["s3://bucket/a", first, "produce_a"], ["s3://bucket/b", second, "produce_b"]]
        either = runs(conn, "needs_either")
        assert len(either) == 2
        # The second run of needs_either consumed only the event after its first run.
        assert xcom_of(conn, "needs_either", either[1].run_id) == [
            ["s3://bucket/b", second, "produce_b"]]
        assert len(runs(conn, "needs_a")) == 1  # b's event does not concern it
        assert queue(conn) == set()


def test_paused_consumer_queues_then_one_run_consumes_both_events(world: Engine) -> None:
    with transaction(world) as conn:
        conn.execute(t.dag.update().where(t.dag.c.dag_id == "needs_a").values(is_paused=True))
    first = trigger(world, "produce_a")
    run_scheduler(world, finished(world, "produce_a"))
    second = trigger(world, "produce_a")
    run_scheduler(world, finished(world, "produce_a", "needs_either", count=2))
    with world.connect() as conn:
        assert runs(conn, "needs_a") == []
        assert ("needs_a", "s3://bucket/a") in queue(conn)
        assert len(conn.execute(sa.select(t.asset_event)).all()) == 2
    with transaction(world) as conn:
        conn.execute(t.dag.update().where(t.dag.c.dag_id == "needs_a").values(is_paused=False))
    run_scheduler(world, finished(world, "needs_a"))
    with world.connect() as conn:
        consumer = runs(conn, "needs_a")
        assert [(r.run_type, r.state) for r in consumer] == [("asset_triggered", "success")]
        assert xcom_of(conn, "needs_a", consumer[0].run_id) == [
            ["s3://bucket/a", first, "produce_a"], ["s3://bucket/a", second, "produce_a"]]
        linked = conn.execute(sa.select(sa.func.count()).select_from(t.dagrun_asset_event).where(
            t.dagrun_asset_event.c.dag_run_id == consumer[0].id)).scalar_one()
        assert linked == 2
        assert ("needs_a", "s3://bucket/a") not in queue(conn)


def test_two_producers_of_one_asset_before_the_consumer_runs_give_one_run(world: Engine) -> None:
    # Issue 17: two DAGs update the same asset before its consumer runs: one run, both events.
    with transaction(world) as conn:
        conn.execute(t.dag.update().where(t.dag.c.dag_id == "needs_a").values(is_paused=True))
    first = trigger(world, "produce_a")
    second = trigger(world, "produce_a_too")
    run_scheduler(world, finished(world, "produce_a", "produce_a_too"))
    with world.connect() as conn:
        assert ("needs_a", "s3://bucket/a") in queue(conn)
    with transaction(world) as conn:
        conn.execute(t.dag.update().where(t.dag.c.dag_id == "needs_a").values(is_paused=False))
    run_scheduler(world, finished(world, "needs_a"))
    with world.connect() as conn:
        consumer = runs(conn, "needs_a")
        assert [(r.run_type, r.state) for r in consumer] == [("asset_triggered", "success")]
        assert xcom_of(conn, "needs_a", consumer[0].run_id) == sorted([
            ["s3://bucket/a", first, "produce_a"], ["s3://bucket/a", second, "produce_a_too"]])
        assert ("needs_a", "s3://bucket/a") not in queue(conn)


def test_an_alias_event_triggers_the_consumers_of_its_asset(world: Engine) -> None:
    producer = trigger(world, "produce_via_alias")
    run_scheduler(world, finished(world, "produce_via_alias", "needs_made"))
    with world.connect() as conn:
        consumer = runs(conn, "needs_made")
        assert [(r.run_type, r.state) for r in consumer] == [("asset_triggered", "success")]
        assert xcom_of(conn, "needs_made", consumer[0].run_id) == {
            "asset": [{"via": "alias"}], "alias": [{"via": "alias"}],
            "by_uri": ["produce_via_alias"], "aliases": [["made-by-alias"]],
            "triggering": [{"via": "alias"}],
            "datasets": {"s3://bucket/made": ["s3://bucket/made"]}}
        al, link, a = t.asset_alias, t.asset_alias_asset, t.asset
        linked = conn.execute(sa.select(al.c.name, a.c.uri).select_from(
            link.join(al, al.c.id == link.c.alias_id).join(a, a.c.id == link.c.asset_id))).all()
        assert [tuple(r) for r in linked] == [("made-by-alias", "s3://bucket/made")]
        event = conn.execute(sa.select(t.asset_event)).one()
        assert (event.source_dag_id, event.source_run_id) == ("produce_via_alias", producer)


def test_a_failed_try_records_no_event(world: Engine) -> None:
    trigger(world, "produce_fails")
    run_scheduler(world, finished(world, "produce_fails", state="failed"))
    with world.connect() as conn:
        assert conn.execute(sa.select(t.asset_event)).all() == []
        assert queue(conn) == set()
        assert runs(conn, "needs_a") == [] and runs(conn, "needs_either") == []


def test_consumers_scheduled_on_an_alias_and_on_references(ref_world: Engine) -> None:
    engine = ref_world
    with engine.connect() as conn:
        al_ref = t.dag_schedule_asset_alias_reference
        assert [tuple(r) for r in conn.execute(sa.select(al_ref.c.dag_id, t.asset_alias.c.name)
                                             .join(t.asset_alias,
                                                   t.asset_alias.c.id == al_ref.c.alias_id))
                ] == [("on_alias", "made-by-alias")]
        assert conn.execute(sa.select(t.dag_schedule_asset_name_reference.c.name)).scalars(
        ).all() == ["named"]
        assert conn.execute(sa.select(t.dag_schedule_asset_uri_reference.c.uri)).scalars(
        ).all() == ["s3://bucket/named"]
    trigger(engine, "produce_via_alias")
    run_scheduler(engine, finished(engine, "produce_via_alias", "on_alias"))
    trigger(engine, "produce_named")
    run_scheduler(engine, finished(engine, "produce_named", "on_name", "on_uri",
                                   "time_or_named"))
    with engine.connect() as conn:
        on_alias = runs(conn, "on_alias")
        assert [(r.run_type, r.state) for r in on_alias] == [("asset_triggered", "success")]
        assert xcom_of(conn, "on_alias", on_alias[0].run_id) == [
            ["s3://bucket/made", {"via": "alias"}]]
        # AssetOrTimeSchedule runs on its asset too (whether its yearly timetable has a run
        # due depends on today's date, so that part is not asserted here).
        assert {r.run_type for r in runs(conn, "time_or_named")} <= {"asset_triggered",
                                                                    "scheduled"}
        for dag_id in ("on_name", "on_uri", "time_or_named"):
            (run,) = [r for r in runs(conn, dag_id) if r.run_type == "asset_triggered"]
            assert xcom_of(conn, dag_id, run.run_id) == [["s3://bucket/named", {"n": 1}]]
        assert queue(conn) == set()
    trigger(engine, "produce_empty")
    run_scheduler(engine, finished(engine, "produce_empty", "on_empty"))
    with engine.connect() as conn:
        (run,) = runs(conn, "on_empty")
        assert xcom_of(conn, "on_empty", run.run_id) == [["s3://bucket/empty", {}]]
