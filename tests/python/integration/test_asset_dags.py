"""Airflow 2 and 3 DAG files that use assets (datasets) load, sync and round-trip
(docs/airflow-behaviour.md 11).

The files below use the constructs and import paths of Airflow's asset example DAGs
(example_assets, example_asset_alias, example_asset_decorator, example_outlet_event_extra,
example_inlet_event_extra, example_asset_with_watchers; example_datasets in Airflow 2), written
for this test. They are parsed with :class:`~dagcore.dagbag.DagBag` and stored with
:func:`~dagcore.dag_processing.sync_dags`; the stored DAGs are read back and their asset
conditions and outlets compared with the parsed DAGs.
"""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore.assets import (
    Asset,
    AssetAlias,
    AssetAll,
    AssetAny,
    AssetOrTimeSchedule,
    AssetTriggeredTimetable,
    Dataset,
)
from dagcore.dag_processing import sync_dags
from dagcore.dagbag import DagBag
from dagcore.db import migrate
from dagcore.models import tables as t
from dagcore.serialization import dag_hash, deserialize_dag, serialize_dag

FILES = {
    "assets_v3.py": """
        import pendulum
        from airflow.providers.standard.operators.bash import BashOperator
        from airflow.sdk import DAG, Asset
        from airflow.timetables.assets import AssetOrTimeSchedule
        from airflow.timetables.trigger import CronTriggerTimetable

        first = Asset("s3://one/out.txt", extra={"k": "v"})
        second = Asset("s3://two/out.txt", extra={"k": "v"})
        third = Asset("s3://three/out.txt")
        start = pendulum.datetime(2021, 1, 1, tz="UTC")

        with DAG("make_first", start_date=start, schedule="@daily", catchup=False):
            BashOperator(task_id="make", bash_command="true", outlets=[first])
        with DAG("needs_first", start_date=start, schedule=[first]):
            BashOperator(task_id="use", bash_command="true",
                         outlets=[Asset("s3://other/x.txt")])
        with DAG("needs_both", start_date=start, schedule=[first, second]):
            BashOperator(task_id="use", bash_command="true")
        with DAG("first_or_both", start_date=start, schedule=first | (second & third)):
            BashOperator(task_id="use", bash_command="true")
        with DAG("assets_or_wednesdays", start_date=start, catchup=False,
                 schedule=AssetOrTimeSchedule(
                     timetable=CronTriggerTimetable("0 1 * * 3", timezone="UTC"),
                     assets=first & second)):
            BashOperator(task_id="use", bash_command="true")
    """,
    "alias_v3.py": """
        import pendulum
        from airflow.sdk import DAG, Asset, AssetAlias, task

        with DAG("through_alias", start_date=pendulum.datetime(2021, 1, 1, tz="UTC"),
                 schedule=None):
            @task(outlets=[AssetAlias("my-alias")])
            def emit(*, outlet_events=None):
                outlet_events[AssetAlias("my-alias")].add(Asset("s3://bucket/made"))
            emit()

        with DAG("on_alias", start_date=pendulum.datetime(2021, 1, 1, tz="UTC"),
                 schedule=[AssetAlias("my-alias")]):
            @task(inlets=[AssetAlias("my-alias")])
            def read(*, inlet_events=None):
                return list(inlet_events[AssetAlias("my-alias")])
            read()
    """,
    "decorated_v3.py": """
        import pendulum
        from airflow.sdk import Asset, asset, dag, task

        @asset(uri="s3://bucket/raw", schedule=None)
        def raw_data():
            pass

        @asset(uri="s3://bucket/clean", schedule=None)
        def clean_data(self, context, raw_data):
            return [self.uri, context["ti"].task_id, raw_data.name]

        @dag(schedule=Asset(uri="s3://bucket/raw", name="raw_data")
             | Asset(uri="s3://bucket/clean", name="clean_data"),
             start_date=pendulum.datetime(2021, 1, 1, tz="UTC"))
        def uses_decorated():
            @task(outlets=[Asset(name="nothing")])
            def nothing():
                pass
            nothing()

        uses_decorated()
    """,
    "extra_v3.py": """
        import datetime
        from airflow.providers.standard.operators.bash import BashOperator
        from airflow.sdk import DAG, Asset, Metadata, task

        out = Asset(uri="s3://output/1.txt", name="out-asset")

        with DAG("extra_by_yield", start_date=datetime.datetime.min, schedule="@daily"):
            @task(outlets=[out])
            def by_yield():
                yield Metadata(out, {"rows": 1})
            by_yield()

        def _after(context, result):
            context["outlet_events"][out].extra = {"rows": 2}

        with DAG("extra_after_classic", start_date=datetime.datetime.min, schedule="@daily"):
            BashOperator(task_id="classic", bash_command=":", outlets=[out],
                         post_execute=_after)

        with DAG("reads_inlets", start_date=datetime.datetime.min, schedule="@daily"):
            BashOperator(task_id="classic_read", inlets=[out],
                         bash_command="echo '{{ inlet_events.for_asset(uri='s3://output/1.txt') }}'")
    """,
    "watchers_v3.py": """
        from airflow.sdk import DAG, Asset, AssetWatcher, chain, task

        watched = Asset("watched", watchers=[AssetWatcher(name="w", trigger={"classpath": "x",
                                                                            "kwargs": {}})])
        with DAG("on_watched", schedule=[watched]):
            @task
            def hello():
                print("hello")
            chain(hello())
    """,
    "datasets_v2.py": """
        from datetime import datetime
        from airflow.datasets import Dataset, DatasetAlias
        from airflow.datasets.metadata import Metadata
        from airflow.models.dag import DAG
        from airflow.operators.bash import BashOperator
        from airflow.decorators import task
        from airflow.timetables.datasets import DatasetOrTimeSchedule
        from airflow.timetables.trigger import CronTriggerTimetable

        d1 = Dataset("s3://dag1/output_1.txt", extra={"hi": "bye"})
        d2 = Dataset("s3://dag2/output_1.txt")

        with DAG("ds_producer", start_date=datetime(2021, 1, 1), schedule="@daily"):
            BashOperator(task_id="make", bash_command="true", outlets=[d1])
        with DAG("ds_consumer", start_date=datetime(2021, 1, 1), schedule=[d1, d2]):
            BashOperator(task_id="use", bash_command="true")
        with DAG("ds_or_time", start_date=datetime(2021, 1, 1),
                 schedule=DatasetOrTimeSchedule(
                     timetable=CronTriggerTimetable("0 1 * * 3", timezone="UTC"),
                     datasets=(d1 | d2))):
            BashOperator(task_id="use", bash_command="true")
        with DAG("ds_alias", start_date=datetime(2021, 1, 1), schedule=None):
            @task(outlets=[DatasetAlias("ds-alias")])
            def emit(*, outlet_events=None):
                yield Metadata(d2, {"n": 1}, alias="ds-alias")
            emit()
    """,
}


@pytest.fixture
def dag_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def test_asset_dag_files_load_with_their_conditions(dag_folder: Path) -> None:
    bag = DagBag(dag_folder)
    assert bag.import_errors == {}
    dags = bag.dags
    first = Asset("s3://one/out.txt", extra={"k": "v"})
    second = Asset("s3://two/out.txt", extra={"k": "v"})
    third = Asset("s3://three/out.txt")
    assert dags["make_first"].asset_condition is None
    assert dags["needs_first"].asset_condition == AssetAll(first)
    assert dags["needs_both"].asset_condition == AssetAll(first, second)
    assert dags["first_or_both"].asset_condition == AssetAny(first, AssetAll(second, third))
    mixed = dags["assets_or_wednesdays"].timetable
    assert isinstance(mixed, AssetOrTimeSchedule) and mixed.summary == "Asset or 0 1 * * 3"
    assert dags["on_alias"].asset_condition == AssetAll(AssetAlias("my-alias"))
    assert dags["make_first"].task_dict["make"].outlets == [first]
    # @asset: one DAG per asset, named after it, whose task produces it
    assert dags["raw_data"].task_dict["raw_data"].outlets == [
        Asset(name="raw_data", uri="s3://bucket/raw")]
    assert dags["clean_data"].task_dict["clean_data"].inlets == [Asset.ref(name="raw_data")]
    assert dags["uses_decorated"].asset_condition == AssetAny(
        Asset(uri="s3://bucket/raw", name="raw_data"),
        Asset(uri="s3://bucket/clean", name="clean_data"))
    assert isinstance(dags["on_watched"].timetable, AssetTriggeredTimetable)
    # Airflow 2 names
    d1 = Dataset("s3://dag1/output_1.txt", extra={"hi": "bye"})
    assert dags["ds_consumer"].asset_condition == AssetAll(d1, Dataset("s3://dag2/output_1.txt"))
    assert dags["ds_or_time"].asset_condition == AssetAny(d1, Dataset("s3://dag2/output_1.txt"))


def test_asset_dags_sync_and_round_trip(dag_folder: Path, engine: Engine) -> None:
    migrate(engine)
    result = sync_dags(dag_folder, engine=engine, min_update_interval=timedelta(0))
    assert not result.import_errors, result.import_errors
    parsed = DagBag(dag_folder).dags
    assert set(result.written) == set(parsed)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.serialized_dag.c.dag_id, t.serialized_dag.c.data,
                                      t.serialized_dag.c.dag_hash)).all()
    stored = {row.dag_id: row for row in rows}
    for dag_id, dag in parsed.items():
        data = stored[dag_id].data
        restored = deserialize_dag(data)
        assert restored.asset_condition == dag.asset_condition, dag_id
        assert type(restored.timetable) is type(dag.timetable), dag_id
        for task_id, task in dag.task_dict.items():
            assert list(restored.task_dict[task_id].asset_outlets) == [
                o for o in task.outlets if isinstance(o, (Asset, AssetAlias))], (dag_id, task_id)
        # the hash of a fresh parse equals the stored one: no new version on the next pass
        assert dag_hash(serialize_dag(dag)) == stored[dag_id].dag_hash, dag_id
    again = sync_dags(dag_folder, engine=engine, min_update_interval=timedelta(0))
    assert not again.versions_created


def test_asset_dags_pass_dag_test(dag_folder: Path) -> None:
    """Every DAG runs to success with ``DAG.test()``: the asset accessors, yielded Metadata,
    the post_execute hook and the ``inlet_events`` template all work in a real run."""
    bag = DagBag(dag_folder)
    assert bag.import_errors == {}
    states = {dag_id: dag.test().state for dag_id, dag in sorted(bag.dags.items())}
    assert states == {dag_id: "success" for dag_id in bag.dags}
    # clean_data's task got its asset as ``self``, the context, and its upstream as a reference
    result = bag.dags["clean_data"].test()
    assert result.xcoms["clean_data"]["return_value"] == [
        "s3://bucket/clean", "clean_data", "raw_data"]
