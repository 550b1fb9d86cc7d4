"""pendulum datetimes and zones, as Airflow DAG files write them, are accepted wherever a datetime
or a time zone is, and normalised at the edge: past it everything is a stdlib datetime with a
ZoneInfo / ``datetime.UTC`` / fixed ``datetime.timezone``, so a DAG serializes and hashes the same
as with the equivalent stdlib input.

Airflow sources: the DAG's time zone is its start date's (task-sdk definitions/dag.py;
docs/apache-airflow/authoring-and-scheduling/timezone.rst: ``start_date=pendulum.datetime(2016,
1, 1, tz="Europe/Amsterdam")`` makes a DAG that runs in Amsterdam time); encode_timezone
(airflow/serialization/encoders.py): a named zone as its name, pendulum's UTC as "UTC", another
fixed offset as its seconds; example DAGs such as
providers/standard/.../example_dags/example_bash_operator.py use
``start_date=pendulum.datetime(2021, 1, 1, tz="UTC")``. The facts are written down in
docs/airflow-behaviour.md 8.7.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pendulum
import pytest

from dagcore import DAG
from dagcore.backfill import plan_backfill
from dagcore.dagbag import DagBag
from dagcore.operators.empty import EmptyOperator
from dagcore.serialization import SerializedDAG, dag_hash, serialize_dag
from dagcore.timetables import (
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DagRunInfo,
    DataInterval,
    TimeRestriction,
)
from dagcore.utils.timezone import coerce_datetime, coerce_timezone

AMS = ZoneInfo("Europe/Amsterdam")


def without_fileloc(data: dict[str, object]) -> dict[str, object]:
    dag = dict(data["dag"])  # type: ignore[call-overload]
    dag.pop("fileloc")
    return {**data, "dag": dag}


# -------------------------------------------------------------------------------------------------
# the edge


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (pendulum.datetime(2021, 1, 1, tz="UTC"), datetime(2021, 1, 1, tzinfo=UTC)),
        (pendulum.datetime(2021, 1, 1, tz="Europe/Amsterdam"), datetime(2021, 1, 1, tzinfo=AMS)),
        (pendulum.datetime(2021, 1, 1, 12, 30, 15, 7, tz=pendulum.tz.fixed_timezone(7200)),
         datetime(2021, 1, 1, 12, 30, 15, 7, tzinfo=timezone(timedelta(hours=2)))),
        # The repeated hour of the autumn switch: the second 02:30 (fold=1) stays the second.
        (pendulum.datetime(2021, 10, 31, 1, 30, tz="UTC").in_timezone("Europe/Amsterdam"),
         datetime(2021, 10, 31, 2, 30, fold=1, tzinfo=AMS)),
    ],
    ids=["utc", "amsterdam", "fixed-offset", "fold"],
)
def test_coerce_datetime_gives_the_stdlib_datetime_of_the_same_instant(
        value: datetime, expected: datetime) -> None:
    result = coerce_datetime(value)
    assert type(result) is datetime and result == expected
    assert (result.utcoffset(), result.tzinfo) == (expected.utcoffset(), expected.tzinfo)
    assert result.isoformat() == expected.isoformat() == value.isoformat()


def test_coerce_datetime_keeps_stdlib_values_and_naive_ones() -> None:
    aware = datetime(2021, 1, 1, tzinfo=AMS)
    assert coerce_datetime(aware) is aware
    naive = datetime(2021, 1, 1)
    assert coerce_datetime(naive) is naive


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        (pendulum.timezone("Europe/Amsterdam"), AMS),
        (pendulum.timezone("UTC"), UTC),
        (pendulum.tz.fixed_timezone(0), UTC),
        (pendulum.tz.fixed_timezone(-3600), timezone(timedelta(hours=-1))),
        ("Europe/Amsterdam", AMS),
        ("UTC", UTC),
        (AMS, AMS),
        (timezone(timedelta(0)), UTC),
    ],
    ids=["pendulum-named", "pendulum-utc", "pendulum-zero-offset", "pendulum-fixed", "name", "utc-name",
         "zoneinfo", "stdlib-zero-offset"],
)
def test_coerce_timezone(tz: object, expected: object) -> None:
    assert coerce_timezone(tz) == expected


@pytest.mark.parametrize(
    ("tz", "error", "message"),
    [
        ("Mars/Olympus", ValueError, "unknown time zone 'Mars/Olympus'"),
        (3600, TypeError, "time zone must be a zone name .* got int: 3600"),
    ],
    ids=["unknown-name", "not-a-zone"],
)
def test_coerce_timezone_names_bad_input(tz: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        coerce_timezone(tz)


# -------------------------------------------------------------------------------------------------
# DAGs


def test_airflow_example_bash_operator_start_date() -> None:
    # Airflow's example_bash_operator.py.
    with DAG(dag_id="example_bash_operator", schedule="0 0 * * *",
             start_date=pendulum.datetime(2021, 1, 1, tz="UTC"), catchup=False,
             dagrun_timeout=timedelta(minutes=60), tags=["example", "example2"],
             params={"example_key": "example_value"}) as dag:
        EmptyOperator(task_id="run_this_last")
    with DAG(dag_id="example_bash_operator", schedule="0 0 * * *",
             start_date=datetime(2021, 1, 1, tzinfo=UTC), catchup=False,
             dagrun_timeout=timedelta(minutes=60), tags=["example", "example2"],
             params={"example_key": "example_value"}) as stdlib:
        EmptyOperator(task_id="run_this_last")
    assert type(dag.start_date) is datetime and dag.start_date == datetime(2021, 1, 1, tzinfo=UTC)
    assert dag.timezone is UTC
    assert without_fileloc(serialize_dag(dag)) == without_fileloc(serialize_dag(stdlib))
    assert dag_hash(serialize_dag(dag)) == dag_hash(serialize_dag(stdlib))


def test_start_date_zone_is_the_dag_zone() -> None:
    # Airflow's timezone.rst: a DAG whose start_date is in Europe/Amsterdam runs on Amsterdam time.
    dag = DAG("ams", schedule="@daily", start_date=pendulum.datetime(2021, 1, 1, tz="Europe/Amsterdam"),
              end_date=pendulum.datetime(2021, 12, 31, tz="Europe/Amsterdam"))
    assert dag.timezone == AMS and type(dag.start_date) is datetime and type(dag.end_date) is datetime
    assert dag.timetable == CronTriggerTimetable("@daily", timezone="Europe/Amsterdam", hash_key="ams")
    stdlib = DAG("ams", schedule="@daily", start_date=datetime(2021, 1, 1, tzinfo=AMS),
                 end_date=datetime(2021, 12, 31, tzinfo=AMS))
    data = serialize_dag(dag)
    assert without_fileloc(data) == without_fileloc(serialize_dag(stdlib))
    assert data["dag"]["timezone"] == "Europe/Amsterdam"
    assert data["dag"]["start_date"] == "2021-01-01T00:00:00+01:00"
    loaded = SerializedDAG(json.loads(json.dumps(data)))
    assert loaded.start_date == dag.start_date and loaded.timezone == AMS
    # Midnight in Amsterdam: 23:00 UTC in winter.
    infos = dag.timetable.iter_dagrun_infos_between(dag.start_date, pendulum.datetime(2021, 1, 3, tz="UTC"))
    assert infos.logical_dates == [datetime(2020, 12, 31, 23, tzinfo=UTC),
                                   datetime(2021, 1, 1, 23, tzinfo=UTC),
                                   datetime(2021, 1, 2, 23, tzinfo=UTC)]


def test_fixed_offset_zone_serializes_as_airflow_encodes_it() -> None:
    # encode_timezone: a pendulum FixedTimezone other than UTC is stored as its offset in seconds.
    dag = DAG("fixed", start_date=pendulum.datetime(2021, 1, 1, tz=pendulum.tz.fixed_timezone(7200)))
    assert dag.timezone == timezone(timedelta(hours=2))
    data = serialize_dag(dag)
    assert data["dag"]["timezone"] == 7200
    assert SerializedDAG(json.loads(json.dumps(data))).start_date == datetime(2020, 12, 31, 22, tzinfo=UTC)


def test_relative_pendulum_dates_and_default_args() -> None:
    # pendulum.now("UTC").subtract(days=1): a common Airflow idiom for "yesterday".
    yesterday = pendulum.now("UTC").subtract(days=1)
    dag = DAG("relative", schedule=timedelta(hours=1), start_date=yesterday)
    assert type(dag.start_date) is datetime and dag.start_date == yesterday
    in_default_args = DAG("defaults", default_args={"start_date": pendulum.datetime(2021, 1, 1, tz="UTC")})
    assert type(in_default_args.start_date) is datetime
    assert in_default_args.start_date == datetime(2021, 1, 1, tzinfo=UTC)


def test_naive_pendulum_dates_are_refused_like_naive_stdlib_ones() -> None:
    with pytest.raises(ValueError, match="start_date of DAG 'naive' must be timezone-aware"):
        DAG("naive", start_date=pendulum.naive(2021, 1, 1))


# -------------------------------------------------------------------------------------------------
# timetables and backfills


def test_timetables_take_pendulum_zones_and_datetimes() -> None:
    by_pendulum = CronTriggerTimetable("@daily", timezone=pendulum.timezone("Europe/Amsterdam"))
    assert by_pendulum == CronTriggerTimetable("@daily", timezone="Europe/Amsterdam")
    assert CronDataIntervalTimetable("@hourly", pendulum.timezone("UTC")).serialize() == {
        "expression": "0 * * * *", "timezone": "UTC"}
    start = pendulum.datetime(2021, 3, 27, tz="Europe/Amsterdam")
    end = pendulum.datetime(2021, 3, 30, tz="UTC")
    assert by_pendulum.iter_dagrun_infos_between(start, end) == by_pendulum.iter_dagrun_infos_between(
        datetime(2021, 3, 27, tzinfo=AMS), datetime(2021, 3, 30, tzinfo=UTC))
    restriction = TimeRestriction(start, end, catchup=True)
    assert type(restriction.earliest) is datetime and restriction.earliest == start
    interval = DataInterval(start, end)
    assert type(interval.start) is datetime and type(interval.end) is datetime
    info = DagRunInfo.exact(pendulum.datetime(2021, 1, 1, tz="UTC"))
    assert type(info.run_after) is datetime


def test_backfill_dates_may_be_pendulum() -> None:
    tt = CronTriggerTimetable("@daily", timezone="UTC")
    kwargs = {"existing_runs": {}, "now": datetime(2021, 2, 1, tzinfo=UTC)}
    by_pendulum = plan_backfill(tt, from_date=pendulum.datetime(2021, 1, 1, tz="UTC"),
                                to_date=pendulum.datetime(2021, 1, 3, tz="UTC"), **kwargs)
    by_stdlib = plan_backfill(tt, from_date=datetime(2021, 1, 1, tzinfo=UTC),
                              to_date=datetime(2021, 1, 3, tzinfo=UTC), **kwargs)
    assert [e.logical_date for e in by_pendulum] == [e.logical_date for e in by_stdlib] == [
        datetime(2021, 1, d, tzinfo=UTC) for d in (1, 2, 3)]


# -------------------------------------------------------------------------------------------------
# an Airflow DAG file through the DagBag

EXAMPLE = '''
import datetime

import pendulum

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG(
    dag_id="example_bash_operator",
    schedule="0 0 * * *",
    start_date=pendulum.datetime(2021, 1, 1, tz="UTC"),
    catchup=False,
    dagrun_timeout=datetime.timedelta(minutes=60),
    tags=["example", "example2"],
    params={"example_key": "example_value"},
) as dag:
    run_this_last = EmptyOperator(task_id="run_this_last")
    run_this = BashOperator(task_id="run_after_loop", bash_command="echo https://airflow.apache.org/")
    run_this >> run_this_last
    for i in range(3):
        task = BashOperator(task_id=f"runme_{i}", bash_command='echo "{{ task_instance_key_str }}"')
        task >> run_this

with DAG(
    dag_id="amsterdam",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2021, 3, 27, tz="Europe/Amsterdam"),
    catchup=True,
) as ams:
    EmptyOperator(task_id="noop")
'''


def test_airflow_example_file_with_pendulum_loads(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "home"))
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "example_bash_operator.py").write_text(EXAMPLE)
    bag = DagBag(folder)
    assert bag.import_errors == {}
    dag = bag.get_dag("example_bash_operator")
    assert dag is not None and dag.start_date == datetime(2021, 1, 1, tzinfo=UTC)
    assert type(dag.start_date) is datetime
    assert serialize_dag(dag)["dag"]["start_date"] == "2021-01-01T00:00:00+00:00"
    ams = bag.get_dag("amsterdam")
    assert ams is not None and ams.timezone == AMS
    # 02:00 does not exist in Amsterdam on 2021-03-28: the run moves past the gap (01:00 UTC).
    infos = ams.timetable.iter_dagrun_infos_between(ams.start_date,
                                                    datetime(2021, 3, 29, 12, tzinfo=UTC))
    assert infos.logical_dates == [datetime(2021, 3, 27, 1, tzinfo=UTC), datetime(2021, 3, 28, 1, tzinfo=UTC),
                                   datetime(2021, 3, 29, 0, tzinfo=UTC)]
