"""serialize_dag / dag_hash / SerializedDAG: hash stability and faithful round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dagcore import DAG, Param
from dagcore.operators.bash import BashOperator
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator
from dagcore.serialization import (
    DagSerializationError,
    SerializedDAG,
    dag_hash,
    serialize_dag,
    sort_for_hash,
)
from dagcore.state import TaskInstanceState as TI
from dagcore.trigger_rule import TriggerRule

START = datetime(2024, 1, 1, tzinfo=UTC)


def _build(order: tuple[str, ...] = ("extract", "transform", "load", "cleanup"),
           fileloc: str = "/dags/etl.py", **dag_kwargs: object) -> DAG:
    kwargs: dict[str, object] = {"schedule": "0 3 * * *", "start_date": START,
                                 "params": {"n": Param(3, type="integer", minimum=1)}}
    kwargs.update(dag_kwargs)
    with DAG("etl", **kwargs) as dag:  # type: ignore[arg-type]
        makers = {
            "extract": lambda: BashOperator(task_id="extract", bash_command="echo {{ ds }}",
                                            retries=2, retry_delay=timedelta(seconds=30),
                                            execution_timeout=timedelta(minutes=5)),
            "transform": lambda: PythonOperator(task_id="transform", python_callable=print,
                                                op_args=[1, object()], depends_on_past=True),
            "load": lambda: EmptyOperator(task_id="load", trigger_rule="none_failed",
                                          max_active_tis_per_dag=2, doc_md="loads"),
            "cleanup": lambda: EmptyOperator(task_id="cleanup", trigger_rule="all_done"),
        }
        tasks = {name: makers[name]() for name in order}
    tasks["extract"] >> tasks["transform"] >> tasks["load"] >> tasks["cleanup"]
    dag.fileloc = fileloc
    return dag


def _roundtrip(dag: DAG) -> SerializedDAG:
    return SerializedDAG(json.loads(json.dumps(serialize_dag(dag))))


def test_serialized_data_is_json_and_names_the_operator_classes() -> None:
    data = serialize_dag(_build())
    assert json.loads(json.dumps(data)) == data
    tasks = {t["task_id"]: t for t in data["dag"]["tasks"]}
    assert tasks["extract"]["operator"] == "dagcore.operators.bash.BashOperator"
    assert tasks["extract"]["template_values"]["bash_command"] == "echo {{ ds }}"
    # op_args holds an object: left out rather than written as a repr with an address.
    assert "op_args" not in tasks["transform"]["template_values"]
    assert data["dag"]["fileloc"] == "/dags/etl.py"


def test_hash_is_a_32_character_md5() -> None:
    digest = dag_hash(serialize_dag(_build()))
    assert len(digest) == 32 and int(digest, 16) >= 0


def test_moving_the_file_does_not_change_the_hash() -> None:
    assert dag_hash(serialize_dag(_build(fileloc="/elsewhere/moved.py"))) == dag_hash(
        serialize_dag(_build()))


def test_reordering_tasks_does_not_change_the_hash() -> None:
    reordered = _build(order=("cleanup", "load", "transform", "extract"))
    assert [t.task_id for t in reordered.tasks] != [t.task_id for t in _build().tasks]
    assert dag_hash(serialize_dag(reordered)) == dag_hash(serialize_dag(_build()))


def test_tag_order_does_not_change_the_hash() -> None:
    assert dag_hash(serialize_dag(_build(tags=["b", "a"]))) == dag_hash(
        serialize_dag(_build(tags=["a", "b"])))


@pytest.mark.parametrize("kwargs", [
    pytest.param({"schedule": "0 4 * * *"}, id="schedule"),
    pytest.param({"params": {"n": Param(4, type="integer")}}, id="param-default"),
    pytest.param({"max_active_runs": 3}, id="max_active_runs"),
])
def test_hash_changes_with_content(kwargs: dict[str, object]) -> None:
    assert dag_hash(serialize_dag(_build(**kwargs))) != dag_hash(serialize_dag(_build()))


def test_hash_is_stable_across_runs_of_serialize() -> None:
    assert dag_hash(serialize_dag(_build())) == dag_hash(serialize_dag(_build()))


def test_sort_for_hash_sorts_task_lists_and_string_lists_only() -> None:
    value = {"b": [3, 1], "a": ["y", "x"], "tasks": [{"task_id": "z"}, {"task_id": "a"}]}
    assert sort_for_hash(value) == {"a": ["x", "y"], "b": [3, 1],
                                    "tasks": [{"task_id": "a"}, {"task_id": "z"}]}


def test_round_trip_gives_the_same_task_specs_and_run_decisions() -> None:
    dag = _build()
    ser = _roundtrip(dag)
    assert ser.task_specs() == dag.task_specs()
    assert ser.run_graph().task_ids == dag.run_graph().task_ids
    cases = [
        {},
        {"extract": TI.SUCCESS},
        {"extract": TI.FAILED},
        {"extract": TI.SUCCESS, "transform": TI.SUCCESS, "load": TI.FAILED},
        {"extract": TI.SUCCESS, "transform": TI.SUCCESS, "load": TI.SUCCESS,
         "cleanup": TI.SUCCESS},
    ]
    assert ser.run_graph().decide_many(cases) == dag.run_graph().decide_many(cases)


def test_round_trip_keeps_task_settings() -> None:
    ser = _roundtrip(_build())
    extract = ser.get_task("extract")
    assert extract.retries == 2
    assert extract.retry_delay == timedelta(seconds=30)
    assert extract.execution_timeout == timedelta(minutes=5)
    assert extract.downstream_task_ids == {"transform"}
    assert ser.get_task("transform").depends_on_past is True
    load = ser.get_task("load")
    assert load.trigger_rule is TriggerRule.NONE_FAILED
    assert load.max_active_tis_per_dag == 2 and load.doc_md == "loads"
    assert [t.task_id for t in ser.roots] == ["extract"]
    assert [t.task_id for t in ser.leaves] == ["cleanup"]
    with pytest.raises(KeyError, match="nope"):
        ser.get_task("nope")


def test_setup_teardown_round_trip() -> None:
    with DAG("st", start_date=START) as dag:
        setup = EmptyOperator(task_id="setup")
        work = EmptyOperator(task_id="work")
        teardown = EmptyOperator(task_id="teardown", trigger_rule="all_done_setup_success")
        setup.is_setup = True
        teardown.is_teardown = True
        teardown.on_failure_fail_dagrun = True
        setup >> work >> teardown
    ser = _roundtrip(dag)
    assert ser.task_specs() == dag.task_specs()
    assert ser.get_task("teardown").on_failure_fail_dagrun is True


@pytest.mark.parametrize("schedule", [None, "@once", "@continuous", "*/5 * * * *",
                                      timedelta(hours=2)], ids=str)
def test_timetable_round_trip(schedule: object) -> None:
    kwargs = {"max_active_runs": 1} if schedule == "@continuous" else {}
    dag = DAG("tt", schedule=schedule, start_date=datetime(2024, 3, 1,
                                                          tzinfo=ZoneInfo("Europe/Amsterdam")),
              **kwargs)  # type: ignore[arg-type]
    ser = _roundtrip(dag)
    assert ser.timetable == dag.timetable
    assert ser.timezone == ZoneInfo("Europe/Amsterdam")
    assert ser.start_date == dag.start_date


def test_params_round_trip_with_schema_and_required_params() -> None:
    dag = DAG("p", start_date=START, params={
        "n": Param(3, type="integer", minimum=1, description="count"),
        "name": Param(type="string"),
        "plain": "x",
    })
    ser = _roundtrip(dag)
    assert ser.params.get_param("n") == dag.params.get_param("n")
    assert ser.params.get_param("name").has_value is False
    assert ser.params["plain"] == "x"


def test_dag_settings_round_trip() -> None:
    dag = _build(catchup=True, max_active_runs=2, dagrun_timeout=timedelta(hours=1),
                 tags=["x"], description="d", is_paused_upon_creation=False,
                 default_args={"owner": "ops", "on_failure_callback": print})
    ser = _roundtrip(dag)
    assert (ser.dag_id, ser.catchup, ser.max_active_runs, ser.dagrun_timeout, ser.tags,
            ser.description, ser.is_paused_upon_creation) == (
        "etl", True, 2, timedelta(hours=1), {"x"}, "d", False)
    assert ser.default_args == {"owner": "ops"}
    assert ser.run_graph() is ser.run_graph()


def test_a_param_that_is_not_json_is_an_error_naming_it() -> None:
    # A non-JSON default is refused by Param itself (Airflow's _check_json); NaN passes
    # json.dumps but is not JSON, so serializing names the param.
    dag = DAG("bad", start_date=START, params={"obj": float("nan")})
    with pytest.raises(DagSerializationError, match="'obj'"):
        serialize_dag(dag)


@pytest.mark.parametrize("data, message", [
    ({"__version": 99, "dag": {}}, "format version 99"),
    ({"__version": 1, "dag": {"dag_id": "x", "timetable": {"__type": "no.such.Timetable"}}},
     "no.such.Timetable"),
])
def test_bad_stored_data_is_a_clear_error(data: dict[str, object], message: str) -> None:
    with pytest.raises(DagSerializationError, match=message):
        SerializedDAG(data)
