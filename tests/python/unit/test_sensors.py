"""Sensors without a database: the poke loop, argument errors, the standard sensors' pokes and
their Airflow import paths (docs/airflow-behaviour.md 10.1).

Airflow's expectations come from task-sdk ``src/airflow/sdk/bases/sensor.py`` and its tests
(``task-sdk/tests/task_sdk/bases/test_sensor.py``: validation messages, soft_fail/never_fail/
silent_fail, the exponential backoff) and the standard provider's ``sensors/*.py`` (each
sensor's poke).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

import dagcore.utils.timezone
from dagcore import DAG, task
from dagcore.compat.airflow import enabled
from dagcore.exceptions import (AirflowFailException, AirflowRescheduleException,
                                AirflowSensorTimeout, TaskSkipped)
from dagcore.sensors.base import BaseSensorOperator, PokeReturnValue, SensorArgumentError
from dagcore.sensors.bash import BashSensor
from dagcore.xcom import InMemoryXComBackend

LOGICAL = datetime(2024, 3, 5, 6, 7, 8, tzinfo=UTC)  # a Tuesday
START = datetime(2024, 1, 1, tzinfo=UTC)


def run(the_dag: DAG, task_id: str, **kwargs: Any) -> Any:
    kwargs.setdefault("run_id", "manual__1")
    kwargs.setdefault("logical_date", LOGICAL)
    return the_dag.run_task(task_id, **kwargs)


class Scripted(BaseSensorOperator):
    """A sensor whose pokes return (or raise) the given values in turn."""

    def __init__(self, task_id: str, *, answers: list[Any], **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        self.answers = answers
        self.calls = 0

    def poke(self, context: dict[str, Any]) -> Any:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, BaseException):
            raise answer
        return answer


def one_sensor(**kwargs: Any) -> tuple[DAG, Scripted]:
    with DAG("sensing", schedule=None, start_date=START) as the_dag:
        sensor = Scripted("s", poke_interval=0, **kwargs)
    sensor.prepare_for_execution = lambda: sensor  # type: ignore[method-assign]
    return the_dag, sensor


# -- arguments -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"poke_interval": -1}, "Operator arg `poke_interval` must be timedelta object or a "
                            "non-negative number"),
    ({"poke_interval": "5"}, "Operator arg `poke_interval` must be timedelta object"),
    ({"timeout": -0.5}, "Operator arg `timeout` must be timedelta object or a non-negative "
                        "number"),
    ({"max_wait": -3}, "Operator arg `max_wait` must be timedelta object"),
    ({"poke_interval": timedelta(seconds=-1)}, "The poke_interval must be a non-negative number"),
    ({"mode": "sometimes"}, "The mode must be one of ['poke', 'reschedule'],'bad .s'; received "
                            "'sometimes'."),
    ({"soft_fail": True, "never_fail": True}, "soft_fail and never_fail are mutually exclusive"),
])
def test_bad_arguments_get_airflows_errors(kwargs: dict[str, Any], message: str) -> None:
    # Airflow: BaseSensorOperator._coerce_* and _validate_input_values raise ValueError.
    with DAG("bad", schedule=None, start_date=START), \
            pytest.raises(SensorArgumentError) as caught:
        Scripted("s", answers=[True], **kwargs)
    assert isinstance(caught.value, ValueError)
    assert message in str(caught.value)


def test_defaults_are_airflows() -> None:
    with DAG("defaults", schedule=None, start_date=START):
        sensor = Scripted("s", answers=[True], poke_interval=timedelta(minutes=2))
    assert (sensor.poke_interval, sensor.timeout, sensor.mode) == (120.0, 7 * 24 * 3600.0, "poke")
    assert not sensor.reschedule and not sensor.soft_fail and sensor.max_wait is None


def test_default_args_reach_sensor_arguments() -> None:
    with DAG("dflt", schedule=None, start_date=START,
             default_args={"poke_interval": 5, "mode": "reschedule"}):
        sensor = Scripted("s", answers=[True])
    assert (sensor.poke_interval, sensor.mode) == (5.0, "reschedule")


# -- the poke loop -------------------------------------------------------------------------------


def test_poke_mode_pokes_until_true() -> None:
    the_dag, sensor = one_sensor(answers=[False, 0, None, True])
    assert run(the_dag, "s") is None
    assert sensor.calls == 4


def test_poke_return_value_is_the_return_value_pushed_to_xcom() -> None:
    # Airflow: the PokeReturnValue's xcom_value is execute()'s return value.
    the_dag, sensor = one_sensor(answers=[PokeReturnValue(False, "no"),
                                          PokeReturnValue(True, {"rows": 3})])
    xcom = InMemoryXComBackend()
    assert run(the_dag, "s", xcom=xcom) == {"rows": 3}
    assert xcom.pull(dag_id="sensing", run_id="manual__1", task_id="s",
                     key="return_value") == {"rows": 3}
    assert bool(PokeReturnValue(False, 1)) is False and bool(PokeReturnValue(True)) is True


def test_timeout_raises_airflow_sensor_timeout() -> None:
    the_dag, _ = one_sensor(answers=[False], timeout=0)
    message = "Sensor has timed out; run duration of .* seconds exceeds the specified timeout of 0"
    with pytest.raises(AirflowSensorTimeout, match=message):
        run(the_dag, "s")


def test_soft_fail_turns_a_timeout_into_a_skip() -> None:
    the_dag, _ = one_sensor(answers=[False], timeout=0, soft_fail=True)
    with pytest.raises(TaskSkipped, match="Sensor has timed out"):
        run(the_dag, "s")


@pytest.mark.parametrize("error", [AirflowFailException("no"), AirflowSensorTimeout("late")])
def test_soft_fail_skips_on_fail_exceptions_from_poke(error: Exception) -> None:
    the_dag, _ = one_sensor(answers=[error], soft_fail=True)
    with pytest.raises(TaskSkipped, match="Skipping due to soft_fail is set to True."):
        run(the_dag, "s")


def test_other_errors_fail_even_with_soft_fail() -> None:
    the_dag, _ = one_sensor(answers=[RuntimeError("bad poke")], soft_fail=True)
    with pytest.raises(RuntimeError, match="bad poke"):
        run(the_dag, "s")


def test_never_fail_skips_on_any_error() -> None:
    the_dag, _ = one_sensor(answers=[RuntimeError("bad poke")], never_fail=True)
    with pytest.raises(TaskSkipped, match="Skipping due to never_fail is set to True."):
        run(the_dag, "s")


def test_silent_fail_logs_and_pokes_again() -> None:
    the_dag, sensor = one_sensor(answers=[RuntimeError("flaky"), True], silent_fail=True)
    run(the_dag, "s")
    assert sensor.calls == 2


def test_skip_from_poke_skips() -> None:
    the_dag, _ = one_sensor(answers=[TaskSkipped("not today")])
    with pytest.raises(TaskSkipped, match="not today"):
        run(the_dag, "s")


def test_reschedule_mode_raises_reschedule_at_now_plus_poke_interval(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Airflow: a false poke in reschedule mode raises AirflowRescheduleException(now +
    # interval); the first poke's start is "now" when the try never rescheduled.
    monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: LOGICAL)
    with DAG("resched", schedule=None, start_date=START) as the_dag:
        Scripted("s", answers=[False], mode="reschedule", poke_interval=30)
    with pytest.raises(AirflowRescheduleException) as caught:
        run(the_dag, "s")
    assert caught.value.reschedule_date == LOGICAL + timedelta(seconds=30)


def test_reschedule_timeout_counts_from_the_first_reschedule(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Airflow: in reschedule mode, run_duration is now - ti.get_first_reschedule_date().
    monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: LOGICAL)
    with DAG("resched_to", schedule=None, start_date=START):
        sensor = Scripted("s", answers=[False], mode="reschedule", timeout=60)
    ti = type("TI", (), {"get_first_reschedule_date":
                         lambda self, ctx: LOGICAL - timedelta(seconds=61)})()
    with pytest.raises(AirflowSensorTimeout, match="exceeds the specified timeout of 60"):
        sensor.execute({"ti": ti})


def test_exponential_backoff_grows_and_respects_max_wait() -> None:
    # Airflow's _get_next_poke_interval: min_backoff = max(int(poke_interval * 2 ** (n - 2)),
    # 1), the wait is in [min_backoff, 2 * min_backoff), capped by max_wait.
    with DAG("backoff", schedule=None, start_date=START):
        sensor = Scripted("s", answers=[True], poke_interval=5, exponential_backoff=True,
                          timeout=10_000)
        capped = Scripted("c", answers=[True], poke_interval=5, exponential_backoff=True,
                          max_wait=timedelta(seconds=12), timeout=10_000)
    waits = [sensor._get_next_poke_interval(0.0, lambda: 0.0, n) for n in range(1, 7)]
    for n, wait in zip(range(1, 7), waits, strict=True):
        low = max(int(5 * 2 ** (n - 2)), 1)
        assert low <= wait < 2 * low
    assert [capped._get_next_poke_interval(0.0, lambda: 0.0, n) for n in range(1, 7)][-1] == 12


def test_poke_must_be_overridden() -> None:
    with DAG("plain", schedule=None, start_date=START):
        sensor = BaseSensorOperator(task_id="s")
    with pytest.raises(Exception, match="Override me."):
        sensor.poke({})


# -- the standard sensors ------------------------------------------------------------------------


def test_python_sensor_passes_arguments_and_context() -> None:
    from dagcore.sensors.python import PythonSensor

    seen: list[Any] = []

    def check(a: int, ds: str, b: int = 0) -> bool:
        seen.append((a, ds, b))
        return len(seen) >= 2

    with DAG("py", schedule=None, start_date=START) as the_dag:
        PythonSensor(task_id="s", python_callable=check, op_args=[1], op_kwargs={"b": 2},
                     poke_interval=0)
    run(the_dag, "s")
    assert seen == [(1, "2024-03-05", 2)] * 2


def test_python_sensor_refuses_a_non_callable() -> None:
    from dagcore.sensors.python import PythonSensor

    with DAG("py_bad", schedule=None, start_date=START), \
            pytest.raises(TypeError, match="must be callable, got int"):
        PythonSensor(task_id="s", python_callable=3)  # type: ignore[arg-type]


def test_task_sensor_decorator_makes_a_sensor() -> None:
    # Airflow's @task.sensor: the function is the poke; a bool or a PokeReturnValue.
    answers = iter([False, PokeReturnValue(True, "value")])
    with DAG("deco", schedule=None, start_date=START) as the_dag:
        @task.sensor(poke_interval=0, timeout=10, mode="reschedule")
        def ready() -> Any:
            return next(answers)

        ref = ready()
    sensor = ref.operator
    assert isinstance(sensor, BaseSensorOperator) and sensor.mode == "reschedule"
    assert sensor.custom_operator_name == "@task.sensor"
    sensor.mode = "poke"  # poke inside this test, without a database
    assert run(the_dag, "ready") == "value"


def test_time_delta_sensor_waits_for_data_interval_end_plus_delta(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dagcore.sensors.time import TimeDeltaSensor

    with DAG("delta", schedule=None, start_date=START):
        sensor = TimeDeltaSensor(task_id="s", delta=timedelta(hours=1))
    context = {"data_interval_end": LOGICAL}
    monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: LOGICAL + timedelta(minutes=59))
    assert sensor.poke(context) is False
    monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: LOGICAL + timedelta(minutes=61))
    assert sensor.poke(context) is True
    with DAG("delta_bad", schedule=None, start_date=START), \
            pytest.raises(SensorArgumentError, match="delta of task 's' must be a timedelta"):
        TimeDeltaSensor(task_id="s", delta=5)  # type: ignore[arg-type]


def test_time_sensor_uses_the_dags_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    from zoneinfo import ZoneInfo

    from dagcore.sensors.time import TimeSensor

    zone = ZoneInfo("Asia/Tokyo")  # UTC+9
    with DAG("tz", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=zone)):
        sensor = TimeSensor(task_id="s", target_time=time(10, 0))
    assert sensor.target_datetime.tzinfo == UTC
    assert sensor.target_datetime.astimezone(zone).time() == time(10, 0)
    monkeypatch.setattr(dagcore.utils.timezone, "utcnow",
                        lambda: sensor.target_datetime + timedelta(seconds=1))
    assert sensor.poke({}) is True
    with DAG("tz_bad", schedule=None, start_date=START), \
            pytest.raises(SensorArgumentError, match="must be a datetime.time"):
        TimeSensor(task_id="s", target_time="10:00")  # type: ignore[arg-type]


def test_date_time_sensor_renders_and_parses_its_target(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dagcore.sensors.time import DateTimeSensor

    monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: LOGICAL)
    with DAG("dt", schedule=None, start_date=START) as the_dag:
        DateTimeSensor(task_id="past", target_time="{{ logical_date - macros.timedelta(days=1) }}",
                       poke_interval=0)
        DateTimeSensor(task_id="naive", target_time="2024-03-05T06:00:00", poke_interval=0)
        bad = DateTimeSensor(task_id="bad", target_time=5)  # type: ignore[arg-type]
    run(the_dag, "past")
    run(the_dag, "naive")  # naive: UTC, before LOGICAL
    with pytest.raises(TypeError, match="Expected str or datetime.datetime type for "
                                        "target_time"):
        bad.poke({})


def test_file_sensor_finds_files_through_the_connections_base_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagcore.sensors.filesystem import FileSensor

    monkeypatch.setenv("AIRFLOW_CONN_MY_FS", f'{{"conn_type": "fs", "extra": {{"path": '
                                             f'"{tmp_path}"}}}}')
    with DAG("fs", schedule=None, start_date=START):
        by_glob = FileSensor(task_id="glob", filepath="data/*.csv", fs_conn_id="my_fs")
        deep = FileSensor(task_id="deep", filepath="data/**/x.txt", fs_conn_id="my_fs",
                          recursive=True)
        folder = FileSensor(task_id="folder", filepath=str(tmp_path / "data"))
    assert by_glob.fs_conn_id == "my_fs" and folder.fs_conn_id == "fs_default"
    assert not by_glob.poke({}) and not deep.poke({}) and not folder.poke({})
    (tmp_path / "data" / "a" / "b").mkdir(parents=True)
    assert not folder.poke({})  # an empty folder tree is not there yet
    (tmp_path / "data" / "a" / "b" / "x.txt").write_text("x")
    assert deep.poke({}) and folder.poke({}) and not by_glob.poke({})
    (tmp_path / "data" / "rows.csv").write_text("1")
    assert by_glob.poke({})
    with DAG("fs_missing", schedule=None, start_date=START):
        missing = FileSensor(task_id="m", filepath="x", fs_conn_id="no_such_conn")
    with pytest.raises(LookupError, match="The conn_id `no_such_conn` isn't defined"):
        missing.poke({})


def test_bash_sensor_exit_codes(tmp_path: Path) -> None:
    with DAG("bash", schedule=None, start_date=START):
        ok = BashSensor(task_id="ok", bash_command="exit 0")
        later = BashSensor(task_id="later", bash_command="exit 1")
        retry = BashSensor(task_id="retry", bash_command="exit 7", retry_exit_code=7)
        fail = BashSensor(task_id="fail", bash_command="exit 3", retry_exit_code=7)
        env = BashSensor(task_id="env", bash_command='test "$X" = yes',
                         env={"X": "yes", "PATH": os.environ.get("PATH", "")})
    assert ok.poke({}) is True and later.poke({}) is False and retry.poke({}) is False
    assert env.poke({}) is True
    with pytest.raises(AirflowFailException, match="Command exited with return code 3"):
        fail.poke({})


def test_day_of_week_sensor(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagcore.sensors.weekday import DayOfWeekSensor

    monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: LOGICAL)  # Tuesday
    with DAG("weekday", schedule=None, start_date=START):
        today = DayOfWeekSensor(task_id="today", week_day="tuesday")
        weekend = DayOfWeekSensor(task_id="weekend", week_day={"Saturday", "Sunday"})
        by_date = DayOfWeekSensor(task_id="by_date", week_day=["MONDAY"],
                                  use_task_logical_date=True)
    assert today.poke({}) and not weekend.poke({})
    assert by_date.poke({"logical_date": LOGICAL - timedelta(days=1)})
    with DAG("weekday_bad", schedule=None, start_date=START):
        with pytest.raises(SensorArgumentError, match='Invalid Week Day passed: "Funday"'):
            DayOfWeekSensor(task_id="a", week_day="Funday")
        with pytest.raises(SensorArgumentError, match="Unsupported Type for week_day parameter"):
            DayOfWeekSensor(task_id="b", week_day=3)


# -- ExternalTaskSensor (arguments; the DB side is in integration/test_sensor_runs.py) --------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"external_task_id": "a", "external_task_ids": ["b"]},
     "Only one of `external_task_id` or `external_task_ids` may be provided"),
    ({"external_task_ids": ["a"], "external_task_group_id": "g"},
     "Only one of `external_task_group_id` or `external_task_ids` may be provided"),
    ({"allowed_states": ["success"], "failed_states": ["success"]},
     "Duplicate values provided across allowed_states, skipped_states and failed_states."),
    ({"external_task_id": "a", "allowed_states": ["queued_forever"]},
     "Valid values for `allowed_states`, `skipped_states` and `failed_states` when "
     "`external_task_id` or `external_task_ids` or `external_task_group_id` is not `None`"),
    ({"allowed_states": ["skipped"]},
     "Valid values for `allowed_states`, `skipped_states` and `failed_states` when "
     "`external_task_id` and `external_task_group_id` is `None`"),
    ({"execution_delta": timedelta(days=1), "execution_date_fn": lambda d: d},
     "Only one of `execution_delta` or `execution_date_fn` may be provided"),
])
def test_external_task_sensor_argument_errors(kwargs: dict[str, Any], message: str) -> None:
    from dagcore.sensors.external_task import ExternalTaskSensor

    with DAG("ext_bad", schedule=None, start_date=START), \
            pytest.raises(ValueError) as caught:
        ExternalTaskSensor(task_id="s", external_dag_id="other", **kwargs)
    assert message in str(caught.value)


class FakeTI:
    """The ti of a try, with canned answers for the external counts."""

    def __init__(self, counts: dict[tuple[str, ...], int]) -> None:
        self.counts = counts
        self.calls: list[tuple[Any, ...]] = []

    def get_ti_count(self, dag_id: str, task_ids: list[str], logical_dates: list[datetime],
                     states: list[str]) -> int:
        self.calls.append(("ti", dag_id, tuple(task_ids), tuple(logical_dates)))
        return self.counts.get(("ti", *states), 0)

    def get_dr_count(self, dag_id: str, logical_dates: list[datetime],
                     states: list[str]) -> int:
        self.calls.append(("dr", dag_id, tuple(logical_dates)))
        return self.counts.get(("dr", *states), 0)


def test_external_task_sensor_counts_per_date_and_task() -> None:
    from dagcore.sensors.external_task import ExternalTaskFailedError, ExternalTaskSensor

    with DAG("ext", schedule=None, start_date=START):
        two = ExternalTaskSensor(task_id="two", external_dag_id="other",
                                 external_task_ids=["a", "b"], failed_states=["failed"])
        shifted = ExternalTaskSensor(task_id="shifted", external_dag_id="other",
                                     execution_date_fn=lambda d, **_: [d, d - timedelta(1)])
        skipper = ExternalTaskSensor(task_id="skipper", external_dag_id="other",
                                     external_task_id="a", skipped_states=["skipped"])
    context = {"logical_date": LOGICAL}
    assert two.poke({**context, "ti": FakeTI({("ti", "success"): 2})}) is True
    assert two.poke({**context, "ti": FakeTI({("ti", "success"): 1})}) is False
    with pytest.raises(ExternalTaskFailedError, match=r"Some of the external tasks \['a', "
                                                      r"'b'\] in DAG other failed."):
        two.poke({**context, "ti": FakeTI({("ti", "failed"): 1})})
    ti = FakeTI({("dr", "success"): 2})
    assert shifted.poke({**context, "ti": ti}) is True
    assert ti.calls == [("dr", "other", (LOGICAL, LOGICAL - timedelta(1)))]
    with pytest.raises(TaskSkipped, match="reached a state in our states-to-skip-on list"):
        skipper.poke({**context, "ti": FakeTI({("ti", "skipped"): 1})})


def test_external_task_marker_arguments() -> None:
    from dagcore.sensors.external_task import ExternalTaskMarker

    with DAG("marker", schedule=None, start_date=START):
        marker = ExternalTaskMarker(task_id="m", external_dag_id="child",
                                    external_task_id="wait")
        with pytest.raises(SensorArgumentError, match="recursion_depth should be a positive"):
            ExternalTaskMarker(task_id="m2", external_dag_id="c", external_task_id="w",
                               recursion_depth=0)
        with pytest.raises(TypeError, match="Expected str or datetime.datetime type for "
                                            "logical_date"):
            ExternalTaskMarker(task_id="m3", external_dag_id="c", external_task_id="w",
                               logical_date=5)  # type: ignore[arg-type]
    assert (marker.logical_date, marker.recursion_depth) == ("{{ logical_date.isoformat() }}", 10)


def test_db_reads_outside_a_try_say_what_they_need() -> None:
    from dagcore.templating import build_context

    with DAG("nodb", schedule=None, start_date=START):
        sensor = Scripted("s", answers=[True])
    ti = build_context(sensor, run_id="r", logical_date=LOGICAL)["ti"]
    assert ti.get_first_reschedule_date({}) is None
    with pytest.raises(RuntimeError, match="ti.get_ti_count reads the metadata database"):
        ti.get_ti_count(dag_id="other", task_ids=["a"])


# -- Airflow import paths ------------------------------------------------------------------------


@pytest.mark.parametrize(("module", "names"), [
    ("airflow.sensors.base", ("BaseSensorOperator", "PokeReturnValue")),
    ("airflow.sdk", ("BaseSensorOperator", "PokeReturnValue")),
    ("airflow.sdk.bases.sensor", ("BaseSensorOperator", "PokeReturnValue")),
    ("airflow.sensors.python", ("PythonSensor",)),
    ("airflow.sensors.time_delta", ("TimeDeltaSensor",)),
    ("airflow.sensors.time_sensor", ("TimeSensor",)),
    ("airflow.sensors.date_time", ("DateTimeSensor",)),
    ("airflow.sensors.filesystem", ("FileSensor",)),
    ("airflow.sensors.bash", ("BashSensor",)),
    ("airflow.sensors.weekday", ("DayOfWeekSensor",)),
    ("airflow.sensors.external_task", ("ExternalTaskSensor", "ExternalTaskMarker")),
    ("airflow.providers.standard.sensors.python", ("PythonSensor",)),
    ("airflow.providers.standard.sensors.time_delta", ("TimeDeltaSensor",)),
    ("airflow.providers.standard.sensors.time", ("TimeSensor",)),
    ("airflow.providers.standard.sensors.date_time", ("DateTimeSensor",)),
    ("airflow.providers.standard.sensors.filesystem", ("FileSensor",)),
    ("airflow.providers.standard.sensors.bash", ("BashSensor",)),
    ("airflow.providers.standard.sensors.weekday", ("DayOfWeekSensor",)),
    ("airflow.providers.standard.sensors.external_task", ("ExternalTaskSensor",
                                                          "ExternalTaskMarker")),
])
def test_airflow_import_paths(module: str, names: tuple[str, ...]) -> None:
    import importlib

    import dagcore.sensors.base as base

    with enabled() as active:
        if not active:
            pytest.skip("a real Airflow is importable")
        imported = importlib.import_module(module)
        for name in names:
            value = getattr(imported, name)
            assert value.__module__.startswith("dagcore.sensors.")
        if "BaseSensorOperator" in names:
            assert imported.BaseSensorOperator is base.BaseSensorOperator
