"""Assets in the authoring API (docs/airflow-behaviour.md 11): Asset/AssetAlias validation and
defaults, ``&``/``|`` shapes, asset schedules and their timetables, serialization round trip and
stable hash, inlets/outlets on tasks, and the task context's asset accessors."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime, timedelta

import pytest

from dagcore.assets import (
    TriggeringAssetEvents,
    Asset,
    AssetAlias,
    AssetAll,
    AssetAny,
    AssetEventRecord,
    AssetNameRef,
    AssetOrTimeSchedule,
    AssetTriggeredTimetable,
    AssetUriRef,
    Dataset,
    DatasetAlias,
    InletEventsAccessors,
    Metadata,
    OutletEventAccessors,
    asset,
    decode_asset_condition,
    encode_asset_condition,
)
from dagcore.dag import DAG
from dagcore.decorators import task
from dagcore.operators.base import execute_task
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator
from dagcore.serialization import dag_hash, deserialize_dag, serialize_dag
from dagcore.templating import build_context
from dagcore.timetables import (
    CronTriggerTimetable,
    DataInterval,
    NullTimetable,
    TimeRestriction,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


# -- Asset ----------------------------------------------------------------------------------------


def test_name_and_uri_default_to_each_other_and_group_to_asset() -> None:
    a = Asset("s3://bucket/key")
    assert (a.name, a.uri, a.group, a.extra) == ("s3://bucket/key", "s3://bucket/key", "asset", {})
    b = Asset(name="orders")
    assert (b.name, b.uri) == ("orders", "orders")
    c = Asset(uri="s3://b/k", name="n", group="g", extra={"x": 1})
    assert (c.name, c.uri, c.group, c.extra) == ("n", "s3://b/k", "g", {"x": 1})
    assert Dataset("s3://b/k").group == "dataset"
    assert isinstance(Dataset("x"), Asset)


def test_airflow2_positional_dataset_and_path_uris() -> None:
    d = Dataset("s3://b/k", {"a": 1})
    assert (d.name, d.uri, d.extra) == ("s3://b/k", "s3://b/k", {"a": 1})
    from pathlib import PurePosixPath

    assert Asset(name="p", uri=PurePosixPath("/data/x")).uri == "/data/x"
    with pytest.raises(ValueError, match=r"Asset uri must be a string, got \{'a': 1\}"):
        Asset("n", {"a": 1})  # type: ignore[arg-type]


def test_asset_needs_a_name_or_uri() -> None:
    with pytest.raises(TypeError, match="requires either 'name' or 'uri'"):
        Asset()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": ""}, "Asset name cannot be empty"),
    ({"name": "   "}, "Asset name cannot be just whitespace"),
    ({"name": "x" * 1501}, "Asset name cannot exceed 1500 characters"),
    ({"name": "self"}, "prohibited name for asset: self"),
    ({"name": "context"}, "prohibited name for asset: context"),
    ({"name": 5}, "Asset name must be a string, got 5"),
    ({"uri": "airflow://dag/x"}, "Asset scheme 'airflow' is reserved .*airflow://dag/x"),
    ({"name": "n", "group": 3}, "Asset group must be a string, got 3"),
    ({"name": "n", "extra": {"when": datetime(2026, 1, 1)}}, "extra must be JSON-serializable"),
    ({"name": "n", "extra": ["a"]}, r"extra must be a dict, got \['a'\]"),
])
def test_bad_asset_arguments_raise_naming_the_value(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Asset(**kwargs)


def test_uri_is_sanitized_as_airflow_does() -> None:
    assert Asset("S3://bucket/path/?b=2&a=1#frag").uri == "s3://bucket/path?a=1&b=2"
    assert Asset("s3://bucket").uri == "s3://bucket/"
    assert Asset("x-custom://Keep/Me/").uri == "x-custom://Keep/Me/"
    assert Asset("not a uri").uri == "not a uri"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert Asset("s3://user:pw@bucket/k").uri == "s3://bucket/k"
    assert any("auth info" in str(w.message) for w in caught)


def test_equality_and_hash_use_every_field() -> None:
    assert Asset("s3://b/k") == Asset("s3://b/k")
    assert hash(Asset("s3://b/k", extra={"a": 1, "b": 2})) == hash(
        Asset("s3://b/k", extra={"b": 2, "a": 1}))
    assert Asset("s3://b/k") != Asset("s3://b/k", extra={"a": 1})
    assert Asset("s3://b/k") != Asset(name="other", uri="s3://b/k")
    assert Asset("s3://b/k") != Dataset("s3://b/k")  # the group differs
    assert len({Asset("a"), Asset("a"), Asset("b")}) == 2
    assert AssetAlias("x") == AssetAlias("x") and AssetAlias("x") != AssetAlias("x", "g")


def test_ref_by_name_or_uri() -> None:
    assert Asset.ref(name="n") == AssetNameRef("n")
    assert Asset.ref(uri="s3://b/k") == AssetUriRef("s3://b/k")
    with pytest.raises(TypeError, match="either name or URI, not both"):
        Asset.ref(name="n", uri="u")
    with pytest.raises(TypeError, match="expects keyword argument 'name' or 'uri'"):
        Asset.ref()


def test_alias_validation() -> None:
    with pytest.raises(ValueError, match="AssetAlias name cannot be empty"):
        AssetAlias("")
    assert AssetAlias("a").group == "asset"


# -- expressions ------------------------------------------------------------------------------


def test_and_or_build_flat_conditions_as_airflow() -> None:
    a, b, c = Asset("a"), Asset("b"), Asset("c")
    assert (a | b) == AssetAny(a, b)
    assert ((a | b) | c).objects == (a, b, c)  # flattened
    assert ((a & b) & c).objects == (a, b, c)
    assert (a | (b & c)) == AssetAny(a, AssetAll(b, c))
    assert ((a & b) | c) == AssetAny(AssetAll(a, b), c)
    assert (a & (b & c)) == AssetAll(a, AssetAll(b, c))  # only the left side flattens
    assert (a | b).as_expression() == {"any": [a.as_expression(), b.as_expression()]}
    with pytest.raises(TypeError):
        a | "b"  # type: ignore[operator]
    with pytest.raises(TypeError, match="expect asset expressions in condition, got 'x'"):
        AssetAll(a, "x")  # type: ignore[arg-type]


def test_evaluate_is_the_boolean_meaning() -> None:
    a, b, c = Asset("a"), Asset("b"), Asset("c")
    cond = a | (b & c)
    assert cond.evaluate({a.key: True})
    assert not cond.evaluate({b.key: True})
    assert cond.evaluate({b.key: True, c.key: True})
    assert AssetAlias("x").evaluate({("alias", "x"): True})


def test_encode_decode_round_trip_in_airflows_shape() -> None:
    a = Asset(name="n", uri="s3://b/k", extra={"k": "v"})
    cond = a | (Dataset("d") & AssetAlias("al")) | Asset.ref(name="r")
    data = encode_asset_condition(cond)
    assert data == {"__type": "asset_any", "objects": [
        {"__type": "asset", "name": "n", "uri": "s3://b/k", "group": "asset",
         "extra": {"k": "v"}},
        {"__type": "asset_all", "objects": [
            {"__type": "asset", "name": "d", "uri": "d", "group": "dataset", "extra": {}},
            {"__type": "asset_alias", "name": "al", "group": "asset"}]},
        {"__type": "asset_ref", "name": "r"}]}
    assert decode_asset_condition(json.loads(json.dumps(data))) == cond
    with pytest.raises(ValueError, match="asset type 'nope'"):
        decode_asset_condition({"__type": "nope"})


# -- schedules --------------------------------------------------------------------------------


def test_schedule_on_assets_makes_an_asset_triggered_timetable() -> None:
    a, b = Asset("a"), Asset("b")
    dag = DAG("d1", schedule=[a, b], start_date=START)
    assert isinstance(dag.timetable, AssetTriggeredTimetable)
    assert dag.timetable.summary == "Asset"
    assert dag.asset_condition == AssetAll(a, b)
    assert DAG("d2", schedule=a | b).asset_condition == AssetAny(a, b)
    assert DAG("d3", schedule=a).asset_condition == a
    assert DAG("d4", schedule="@daily", start_date=START).asset_condition is None
    # never a time-based run
    restriction = TimeRestriction(START, None, True)
    assert dag.timetable.next_dagrun_info(last_automated_data_interval=None,
                                          restriction=restriction) is None
    now = datetime(2026, 2, 1, tzinfo=UTC)
    assert dag.timetable.infer_manual_data_interval(run_after=now) == DataInterval(now, now)


def test_schedule_list_with_a_non_asset_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="should be either assets.*got 'daily'"):
        DAG("bad", schedule=[Asset("a"), "daily"])


def test_asset_or_time_schedule_runs_on_time_and_has_a_condition() -> None:
    a, b = Asset("a"), Asset("b")
    cron = CronTriggerTimetable("0 1 * * 3", timezone="UTC")
    tt = AssetOrTimeSchedule(timetable=cron, assets=a & b)
    dag = DAG("d", schedule=tt, start_date=START, catchup=True)
    assert dag.asset_condition == AssetAll(a, b)
    assert tt.summary == "Asset or 0 1 * * 3"
    assert tt.description.startswith("Triggered by assets or ")
    info = tt.next_dagrun_info(last_automated_data_interval=None,
                               restriction=TimeRestriction(START, None, True))
    expected = cron.next_dagrun_info(last_automated_data_interval=None,
                                     restriction=TimeRestriction(START, None, True))
    assert info is not None and info == expected
    assert AssetOrTimeSchedule(timetable="@daily", assets=[a]).asset_condition == AssetAll(a)
    with pytest.raises(ValueError, match="needs assets, got None"):
        AssetOrTimeSchedule(timetable=cron)


# -- serialization ----------------------------------------------------------------------------


def _producer_consumer() -> tuple[DAG, DAG]:
    a = Asset("s3://b/a", extra={"hi": "bye"})
    b = Dataset("b")
    with DAG("producer", schedule="@daily", start_date=START) as producer:
        EmptyOperator(task_id="make", outlets=[a, AssetAlias("al"), "lineage-string"],
                      inlets=[Asset.ref(uri="s3://elsewhere/x")])
    with DAG("consumer", schedule=a | (b & AssetAlias("al")), start_date=START) as consumer:
        EmptyOperator(task_id="use", inlets=[a])
    return producer, consumer


def test_asset_timetable_and_outlets_round_trip() -> None:
    producer, consumer = _producer_consumer()
    data = json.loads(json.dumps(serialize_dag(consumer)))
    assert data["dag"]["timetable"]["__type"] == "dagcore.assets.AssetTriggeredTimetable"
    assert data["dag"]["timetable"]["__var"]["asset_condition"]["__type"] == "asset_any"
    restored = deserialize_dag(data)
    assert isinstance(restored.timetable, AssetTriggeredTimetable)
    assert restored.asset_condition == consumer.asset_condition
    assert restored.timetable.summary == "Asset"

    pdata = json.loads(json.dumps(serialize_dag(producer)))
    task_data = pdata["dag"]["tasks"][0]
    assert task_data["outlets"] == [
        {"__type": "asset", "__var": {"name": "s3://b/a", "uri": "s3://b/a", "group": "asset",
                                      "extra": {"hi": "bye"}}},
        {"__type": "asset_alias", "__var": {"name": "al", "group": "asset"}},
        "lineage-string"]
    make = deserialize_dag(pdata).task_dict["make"]
    assert make.outlets == (Asset("s3://b/a", extra={"hi": "bye"}), AssetAlias("al"),
                            "lineage-string")
    assert make.asset_outlets == [Asset("s3://b/a", extra={"hi": "bye"}), AssetAlias("al")]
    assert make.inlets == (AssetUriRef("s3://elsewhere/x"),)
    # an EmptyOperator with outlets must run (its events are recorded), as in Airflow
    assert make.is_empty is False
    assert deserialize_dag(data).task_dict["use"].is_empty is True


def test_hash_is_stable_across_parses_and_changes_with_the_condition() -> None:
    first = dag_hash(serialize_dag(_producer_consumer()[1]))
    assert dag_hash(serialize_dag(_producer_consumer()[1])) == first
    with DAG("consumer", schedule=Asset("s3://b/a", extra={"hi": "bye"}) | Dataset("b"),
             start_date=START) as other:
        EmptyOperator(task_id="use", inlets=[Asset("s3://b/a", extra={"hi": "bye"})])
    assert dag_hash(serialize_dag(other)) != first


def test_asset_or_time_schedule_round_trip() -> None:
    a = Asset("a")
    tt = AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 1 * * 3", timezone="UTC"),
                             assets=a | Asset("b"))
    with DAG("mixed", schedule=tt, start_date=START) as dag:
        EmptyOperator(task_id="t")
    data = json.loads(json.dumps(serialize_dag(dag)))
    var = data["dag"]["timetable"]["__var"]
    assert var["timetable"]["__type"] == "dagcore.timetables.CronTriggerTimetable"
    restored = deserialize_dag(data)
    assert isinstance(restored.timetable, AssetOrTimeSchedule)
    assert restored.timetable == tt
    assert restored.asset_condition == AssetAny(a, Asset("b"))
    assert dag_hash(serialize_dag(dag)) == dag_hash(data)


def test_dag_without_assets_keeps_its_serialized_form() -> None:
    with DAG("plain", schedule="@daily", start_date=START) as dag:
        EmptyOperator(task_id="t")
    task_data = serialize_dag(dag)["dag"]["tasks"][0]
    assert "outlets" not in task_data and "inlets" not in task_data
    assert isinstance(DAG("none").timetable, NullTimetable)


# -- tasks and the context --------------------------------------------------------------------


def _context(op: object) -> dict:
    return build_context(op, run_id="manual__1", logical_date=START)  # type: ignore[arg-type]


def test_outlet_events_extra_and_alias_events_are_collected() -> None:
    a = Asset("s3://out/1")

    def produce(*, outlet_events: OutletEventAccessors) -> None:
        outlet_events[a].extra = {"rows": 3}
        outlet_events[AssetAlias("al")].add(Asset("s3://dyn/x"), extra={"k": 1})

    with DAG("p", schedule=None, start_date=START):
        op = PythonOperator(task_id="p", python_callable=produce,
                            outlets=[a, AssetAlias("al")])
    context = _context(op)
    execute_task(op, context)
    assert context["outlet_events"].events() == [
        AssetEventRecord(a, {"rows": 3}),
        AssetEventRecord(Asset("s3://dyn/x"), {"k": 1}, AssetAlias("al"))]


def test_outlet_without_extra_gives_one_event_with_empty_extra() -> None:
    a = Asset("s3://out/1")
    with DAG("p", schedule=None, start_date=START):
        op = EmptyOperator(task_id="e", outlets=[a, "lineage"])
    context = _context(op)
    execute_task(op, context)
    assert context["outlet_events"].events() == [AssetEventRecord(a, {})]


def test_add_needs_an_alias_key() -> None:
    events = OutletEventAccessors([Asset("a")])
    with pytest.raises(TypeError, match="not one"):
        events[Asset("a")].add(Asset("b"))
    with pytest.raises(KeyError, match="got 5"):
        events[5]  # type: ignore[index]


def test_yielded_and_returned_metadata_set_the_extra() -> None:
    a, b = Asset("a"), Asset("b")

    with DAG("m", schedule=None, start_date=START):
        @task(outlets=[a, b])
        def by_yield():  # type: ignore[no-untyped-def]
            yield Metadata(a, {"hi": "bye"})
            yield Metadata(b, {"n": 1}, alias="al")
            return 7

        @task(outlets=[a])
        def by_return():  # type: ignore[no-untyped-def]
            return Metadata(a, {"r": True})

        first = by_yield().operator
        second = by_return().operator
    context = _context(first)
    assert execute_task(first, context) == 7
    assert context["outlet_events"].events() == [
        AssetEventRecord(a, {"hi": "bye"}), AssetEventRecord(b, {"n": 1}),
        AssetEventRecord(b, {"n": 1}, AssetAlias("al"))]
    context = _context(second)
    assert execute_task(second, context) is None
    assert context["outlet_events"].events() == [AssetEventRecord(a, {"r": True})]


def test_metadata_validation() -> None:
    with pytest.raises(TypeError, match="needs an Asset, got 'a'"):
        Metadata("a", {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="JSON-serializable"):
        Metadata(Asset("a"), {"x": object()})


def test_inlet_events_and_triggering_events_are_empty_until_stored() -> None:
    a = Asset("a")
    seen: dict = {}

    def read(*, inlet_events: InletEventsAccessors, triggering_asset_events: dict) -> None:
        seen["by_asset"] = inlet_events[a]
        seen["by_index"] = inlet_events[0]
        seen["by_uri"] = inlet_events.for_asset(uri="a")
        seen["triggering"] = dict(triggering_asset_events)

    with DAG("r", schedule=None, start_date=START):
        op = PythonOperator(task_id="r", python_callable=read, inlets=[a])
    context = _context(op)
    execute_task(op, context)
    assert seen == {"by_asset": [], "by_index": [], "by_uri": [], "triggering": {}}
    assert context["inlets"] == [a]
    with pytest.raises(IndexError, match="no inlet at position 3"):
        context["inlet_events"][3]
    with pytest.raises(KeyError, match="is not an inlet of the task"):
        context["inlet_events"][Asset("other")]
    assert context["inlet_events"][Asset.ref(name="anything")] == []


def test_inlet_events_read_through_the_lookup() -> None:
    a, alias = Asset(name="n", uri="s3://x/a"), AssetAlias("al")
    calls: list[tuple[str, str]] = []

    def lookup(kind: str, value: str) -> list[object]:
        calls.append((kind, value))
        return [kind]

    inlet = InletEventsAccessors([a, alias], lookup)
    assert inlet[a] == ["asset_key"] and inlet[0] == ["asset_key"]
    assert inlet[alias] == ["alias"] and inlet[1] == ["alias"]
    assert inlet[Asset.ref(name="n")] == ["name"]
    assert inlet[Asset.ref(uri="s3://x/a")] == ["uri"]
    assert inlet.for_asset(name="n", uri="s3://x/a") == ["asset_key"]
    assert inlet.for_asset(uri="s3://x/a") == ["uri"]
    assert inlet.for_asset_alias(name="al") == ["alias"]
    assert calls == [("asset_key", "n\0s3://x/a"), ("asset_key", "n\0s3://x/a"),
                     ("alias", "al"), ("alias", "al"), ("name", "n"), ("uri", "s3://x/a"),
                     ("asset_key", "n\0s3://x/a"), ("uri", "s3://x/a"), ("alias", "al")]
    with pytest.raises(KeyError, match="is not an inlet of the task"):
        inlet[Asset("other")]  # checked before any lookup


def test_triggering_asset_events_by_asset_alias_reference_and_uri() -> None:
    from types import SimpleNamespace

    a, b = Asset(name="n", uri="s3://x/a"), Asset("s3://x/b")
    alias = AssetAlias("al")
    e1 = SimpleNamespace(asset=a, extra={"i": 1}, source_aliases=[])
    e2 = SimpleNamespace(asset=b, extra={"i": 2}, source_aliases=[alias])
    e3 = SimpleNamespace(asset=a, extra={"i": 3}, source_aliases=[])
    events = TriggeringAssetEvents([e1, e2, e3])
    assert list(events) == [a, b] and len(events) == 2
    assert events[a] == [e1, e3]
    assert events[Asset(name="n", uri="s3://x/a", extra={"other": 1})] == [e1, e3]
    assert events[alias] == [e2]
    assert events[Asset.ref(name="n")] == [e1, e3]
    assert events[Asset.ref(uri="s3://x/b")] == [e2]
    assert events["s3://x/b"] == [e2]  # Airflow 2 keyed them by URI
    assert events[Asset("s3://x/none")] == []
    assert dict(TriggeringAssetEvents()) == {}
    with pytest.raises(KeyError, match="keyed by an asset"):
        events[3]


# -- @asset -----------------------------------------------------------------------------------


def test_asset_decorator_makes_a_dag_producing_the_asset() -> None:
    @asset(uri="s3://bucket/obj", schedule="@daily", start_date=START)
    def my_asset(self, context, upstream):  # type: ignore[no-untyped-def]
        return {"self": self.name, "upstream": upstream, "ti": context["ti"].task_id}

    assert isinstance(my_asset, Asset)
    assert (my_asset.name, my_asset.uri) == ("my_asset", "s3://bucket/obj")
    dag = my_asset.dag
    assert dag.dag_id == "my_asset" and list(dag.task_dict) == ["my_asset"]
    op = dag.task_dict["my_asset"]
    assert op.outlets == [my_asset]
    assert op.inlets == [Asset.ref(name="upstream")]
    assert dag.timetable.summary == "0 0 * * *"
    result = execute_task(op, _context(op))
    assert result == {"self": "my_asset", "upstream": AssetNameRef("upstream"),
                      "ti": "my_asset"}
    import copy

    assert copy.deepcopy(op).outlets[0] is my_asset
    restored = deserialize_dag(json.loads(json.dumps(serialize_dag(dag))))
    assert restored.task_dict["my_asset"].asset_outlets == [Asset(name="my_asset",
                                                                  uri="s3://bucket/obj")]


def test_asset_decorator_schedule_on_another_asset() -> None:
    @asset(schedule=Asset("upstream"))
    def downstream() -> None:
        pass

    assert downstream.dag.asset_condition == Asset("upstream")


def test_asset_multi() -> None:
    a, b = Asset("a"), Asset("b")

    @asset.multi(outlets=[a, b], schedule=None)
    def both() -> None:
        pass

    assert both.dag.dag_id == "both"
    assert both.dag.task_dict["both"].outlets == [a, b]
    assert list(both.iter_assets()) == [a, b]
    with pytest.raises(ValueError, match="outlets must be assets, got 'x'"):
        asset.multi(outlets=["x"], schedule=None)  # type: ignore[list-item]


def test_asset_decorator_requires_arguments() -> None:
    with pytest.raises(TypeError, match=r"needs arguments: use @asset\(schedule=...\)"):
        asset(lambda: None)
    with pytest.raises(TypeError, match="requires the 'schedule' argument"):
        asset(uri="s3://b/k")


def test_dags_with_timedelta_schedules_are_unchanged() -> None:
    assert DAG("t", schedule=timedelta(hours=1), start_date=START).asset_condition is None


def test_pre_and_post_execute_hooks_run_around_execute() -> None:
    a = Asset("s3://out/classic")
    calls: list[str] = []

    def after(context: dict, result: object) -> None:
        calls.append(f"post:{result}")
        context["outlet_events"][a].extra = {"from": "post_execute"}

    with DAG("hooks", schedule=None, start_date=START):
        op = PythonOperator(task_id="c", python_callable=lambda: "done", outlets=[a],
                            pre_execute=lambda context: calls.append("pre"),
                            post_execute=after)
    context = _context(op)
    execute_task(op, context)
    assert calls == ["pre", "post:done"]
    assert context["outlet_events"].events() == [AssetEventRecord(a, {"from": "post_execute"})]


def test_airflow_import_paths_serve_the_asset_classes() -> None:
    import importlib

    from dagcore.compat import airflow as compat

    with compat.enabled():
        sdk = importlib.import_module("airflow.sdk")
        datasets = importlib.import_module("airflow.datasets")
        assets_tt = importlib.import_module("airflow.timetables.assets")
        datasets_tt = importlib.import_module("airflow.timetables.datasets")
        definitions = importlib.import_module("airflow.sdk.definitions.asset")
        assert (sdk.Asset, sdk.AssetAlias, sdk.Metadata, sdk.asset) == (
            Asset, AssetAlias, Metadata, asset)
        assert (datasets.Dataset, datasets.DatasetAlias, datasets.DatasetAll,
                datasets.DatasetAny) == (Dataset, AssetAlias, AssetAll, AssetAny)
        assert assets_tt.AssetOrTimeSchedule is AssetOrTimeSchedule
        assert datasets_tt.DatasetOrTimeSchedule is AssetOrTimeSchedule
        assert definitions.AssetNameRef is AssetNameRef


def test_airflow_2_string_keys_of_outlet_and_inlet_events() -> None:
    # Airflow 2's example_dataset_alias (`outlet_events["example-alias"].add(...)`) and
    # example_inlet_event_extra (`{{ inlet_events['s3://output/1.txt'][-1].extra }}`).
    out = Dataset("s3://output/1.txt")
    named = Asset(name="report", uri="s3://output/report")

    def produce(*, outlet_events: OutletEventAccessors) -> None:
        outlet_events["example-alias"].add(Dataset("s3://bucket/my-task"))
        outlet_events["s3://output/1.txt"].extra = {"by": "uri"}
        outlet_events["report"].extra = {"by": "name"}

    with DAG("p2", schedule=None, start_date=START):
        op = PythonOperator(task_id="p", python_callable=produce,
                            outlets=[DatasetAlias("example-alias"), out, named])
    context = _context(op)
    execute_task(op, context)
    assert context["outlet_events"].events() == [
        AssetEventRecord(out, {"by": "uri"}), AssetEventRecord(named, {"by": "name"}),
        AssetEventRecord(Dataset("s3://bucket/my-task"), {}, DatasetAlias("example-alias"))]
    with pytest.raises(TypeError, match="is not one"):  # a URI that is no outlet alias
        OutletEventAccessors([out])["s3://elsewhere"].add(Asset("s3://x"))

    inlet = InletEventsAccessors([out, named], lambda kind, value: [(kind, value)])
    assert inlet["s3://output/1.txt"] == [("asset_key", "s3://output/1.txt\0s3://output/1.txt")]
    assert inlet["report"] == [("asset_key", "report\0s3://output/report")]
    with pytest.raises(KeyError, match="'s3://nope' is not the URI or name of an inlet"):
        inlet["s3://nope"]
