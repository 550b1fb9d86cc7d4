"""Branching, short-circuit, latest-only, WeekDay and edge labels, without a database: the skips
a task asks for (``DownstreamTasksSkipped``, Airflow 3's task-sdk ``bases/skipmixin.py``) and the
errors, with Airflow's texts (providers/standard tests ``operators/test_python.py``,
``test_branch_operator.py``, ``test_datetime.py``, ``test_weekday.py``,
``test_latest_only_operator.py``, ``utils/test_weekday.py``; task-sdk
``tests/task_sdk/bases/test_skipmixin.py``, ``definitions/test_edges.py``)."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import dagcore.utils.timezone as tz_seam
from dagcore import DAG, task
from dagcore.compat import airflow as compat
from dagcore.operators.base import BaseOperator, execute_task
from dagcore.operators.branch import (BaseBranchOperator, BranchPythonOperator,
                                      DecoratedBranchPythonOperator)
from dagcore.operators.datetime import (BranchDateTimeOperator, InvalidTargetError,
                                        target_times_as_dates)
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.latest_only import LatestOnlyOperator
from dagcore.operators.short_circuit import DecoratedShortCircuitOperator, ShortCircuitOperator
from dagcore.operators.skipmixin import (XCOM_SKIPMIXIN_KEY, DownstreamTasksSkipped,
                                         InvalidBranchError)
from dagcore.operators.weekday import BranchDayOfWeekOperator
from dagcore.task_group import TaskGroup
from dagcore.templating import build_context
from dagcore.timetables import CronDataIntervalTimetable
from dagcore.utils.edgemodifier import Label, get_edge_info
from dagcore.utils.weekday import InvalidWeekDay, WeekDay
from dagcore.xcom import InMemoryXComBackend

START = datetime(2024, 1, 1, tzinfo=UTC)
MONDAY = datetime(2024, 3, 4, 12, tzinfo=UTC)


def run(op: BaseOperator, *, logical_date: datetime | None = MONDAY, run_type: str = "manual",
        data_interval: tuple[datetime, datetime] | None = None,
        map_index: int = -1) -> tuple[list[str] | None, Any, dict[str, Any]]:
    """Execute ``op``; the task ids it asked to skip (None: it asked nothing), its result, and
    its context (for XCom)."""
    context = build_context(op, run_id="r", logical_date=logical_date, run_type=run_type,
                            data_interval=data_interval, xcom=InMemoryXComBackend())
    context["ti"].map_index = map_index
    try:
        result = execute_task(op, context)
    except DownstreamTasksSkipped as request:
        return sorted(str(t) for t in request.tasks), None, context
    return None, result, context


def branch_dag(choice: Any) -> tuple[DAG, BaseOperator]:
    with DAG("b", start_date=START) as dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: choice)
        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
        branch >> [a, b]
        [a, b] >> join
    return dag, branch


# -- skip_all_except -----------------------------------------------------------------------------


def test_branch_skips_the_direct_downstream_not_followed() -> None:
    _, branch = branch_dag("a")
    skipped, _, context = run(branch)
    assert skipped == ["b"]
    # Airflow records what was followed, for NotPreviouslySkippedDep.
    assert context["ti"].xcom_pull(task_ids="branch", key=XCOM_SKIPMIXIN_KEY) == {
        "followed": ["a"]}


def test_following_every_branch_skips_nothing_and_returns_the_choice() -> None:
    _, branch = branch_dag(["a", "b"])
    skipped, result, _ = run(branch)
    assert skipped is None and result == ["a", "b"]


def test_none_skips_every_direct_downstream() -> None:
    _, branch = branch_dag(None)
    assert run(branch)[0] == ["a", "b"]


def test_a_direct_downstream_also_below_the_followed_branch_is_kept() -> None:
    # Airflow's skip_all_except: branch >> join and branch >> task1 >> join; following task1
    # keeps join (it is downstream of the followed task).
    with DAG("diamond", start_date=START):
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "task1")
        task1, join, other = (EmptyOperator(task_id=i) for i in ("task1", "join", "other"))
        branch >> [task1, join, other]
        task1 >> join
    assert run(branch)[0] == ["other"]


def test_a_task_group_id_means_its_roots() -> None:
    with DAG("grp", start_date=START):
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "g")
        with TaskGroup("g") as g:
            EmptyOperator(task_id="r1") >> EmptyOperator(task_id="inner")
            EmptyOperator(task_id="r2")
        branch >> [g, EmptyOperator(task_id="x")]
    assert run(branch)[0] == ["x"]


def test_an_unknown_task_id_is_refused_with_airflows_text() -> None:
    _, branch = branch_dag("nope")
    with pytest.raises(InvalidBranchError, match=r"'branch_task_ids' must contain only valid "
                       r"task_ids. Invalid tasks found: \{'nope'\}\."):
        run(branch)


def test_a_non_string_id_is_refused_with_airflows_text() -> None:
    _, branch = branch_dag(["a", 5])
    with pytest.raises(InvalidBranchError, match=r"Unable to branch to the specified tasks. "
                       r"The branching function returned invalid 'branch_task_ids': "
                       r"\{\(5, 'int'\)\}"):
        run(branch)


def test_a_non_iterable_choice_is_refused() -> None:
    # Airflow wraps a non-iterable in a list first, so it is reported as an invalid element.
    _, branch = branch_dag(3.5)
    with pytest.raises(InvalidBranchError, match=r"\(3.5, 'float'\)"):
        run(branch)


def test_a_mapped_branch_instance_skips_nothing() -> None:
    # Airflow's _set_state_to_skipped acts only for map_index -1.
    _, branch = branch_dag("a")
    assert run(branch, map_index=0)[0] is None


def test_base_branch_operator_needs_choose_branch() -> None:
    with DAG("base", start_date=START):
        op = BaseBranchOperator(task_id="op")
    with pytest.raises(NotImplementedError, match="choose_branch"):
        run(op)


def test_task_branch_flavour_makes_a_decorated_branch_operator() -> None:
    @task.branch
    def pick(n: int) -> str:
        return "b" if n else "a"

    with DAG("flavour", start_date=START) as dag:
        ref = pick(1)
        ref >> [EmptyOperator(task_id="a"), EmptyOperator(task_id="b")]
    op = dag.get_task("pick")
    assert isinstance(op, DecoratedBranchPythonOperator)
    assert op.custom_operator_name == "@task.branch"
    assert run(op)[0] == ["a"]


# -- short-circuit -------------------------------------------------------------------------------


def short_circuit_dag(value: Any, *, ignore: bool) -> BaseOperator:
    with DAG("sc", start_date=START):
        check = ShortCircuitOperator(task_id="check", python_callable=lambda: value,
                                     ignore_downstream_trigger_rules=ignore)
        direct, later = EmptyOperator(task_id="direct"), EmptyOperator(task_id="later")
        teardown = EmptyOperator(task_id="cleanup").as_teardown()
        check >> direct >> later
        check >> teardown
    return check


def test_short_circuit_falsy_skips_everything_downstream_but_teardowns() -> None:
    # Airflow: get_flat_relatives(upstream=False), teardowns excepted.
    skipped, _, context = run(short_circuit_dag(0, ignore=True))
    assert skipped == ["direct", "later"]
    assert context["ti"].xcom_pull(task_ids="check", key=XCOM_SKIPMIXIN_KEY) == {
        "skipped": ["direct", "later"]}


def test_short_circuit_respecting_trigger_rules_skips_only_the_direct_downstream() -> None:
    assert run(short_circuit_dag("", ignore=False))[0] == ["direct"]


def test_short_circuit_truthy_returns_the_value() -> None:
    skipped, result, _ = run(short_circuit_dag({"rows": 3}, ignore=True))
    assert skipped is None and result == {"rows": 3}


def test_task_short_circuit_flavour() -> None:
    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def cond() -> bool:
        return False

    with DAG("sc_flavour", start_date=START) as dag:
        cond() >> EmptyOperator(task_id="x") >> EmptyOperator(task_id="y")
    op = dag.get_task("cond")
    assert isinstance(op, DecoratedShortCircuitOperator)
    assert run(op)[0] == ["x"]


# -- latest-only ---------------------------------------------------------------------------------


def latest_only(schedule: Any = "@daily") -> BaseOperator:
    with DAG("lo", start_date=START, schedule=schedule):
        op = LatestOnlyOperator(task_id="latest_only")
        op >> [EmptyOperator(task_id="a"), EmptyOperator(task_id="b")]
    return op


@pytest.mark.parametrize(("logical", "skips"), [
    (datetime(2024, 3, 4, tzinfo=UTC), None),  # the latest: now is within its window
    (datetime(2024, 3, 3, tzinfo=UTC), ["a", "b"]),  # a past interval
])
def test_latest_only_on_scheduled_runs(monkeypatch: pytest.MonkeyPatch, logical: datetime,
                                       skips: list[str] | None) -> None:
    monkeypatch.setattr(tz_seam, "utcnow", lambda: datetime(2024, 3, 4, 10, tzinfo=UTC))
    assert run(latest_only(), logical_date=logical, run_type="scheduled")[0] == skips


def test_latest_only_never_skips_a_manual_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tz_seam, "utcnow", lambda: datetime(2024, 3, 4, 10, tzinfo=UTC))
    assert run(latest_only(), logical_date=datetime(2024, 1, 2, tzinfo=UTC))[0] is None


def test_latest_only_with_data_intervals(monkeypatch: pytest.MonkeyPatch) -> None:
    # [2024-03-03, 2024-03-04) is the latest complete interval at 2024-03-04T10:00; the next
    # one ends 2024-03-05, so the run proceeds; the one before it is skipped.
    monkeypatch.setattr(tz_seam, "utcnow", lambda: datetime(2024, 3, 4, 10, tzinfo=UTC))
    day = timedelta(days=1)
    latest = datetime(2024, 3, 3, tzinfo=UTC)
    daily = CronDataIntervalTimetable("@daily", UTC)
    assert run(latest_only(daily), logical_date=latest, run_type="scheduled",
               data_interval=(latest, latest + day))[0] is None
    assert run(latest_only(daily), logical_date=latest - day, run_type="scheduled",
               data_interval=(latest - day, latest))[0] == ["a", "b"]


# -- calendar branches ---------------------------------------------------------------------------


def test_weekday_convert_and_validate_with_airflows_errors() -> None:
    assert WeekDay.convert("monday") == WeekDay.MONDAY == 1
    assert WeekDay.validate_week_day({"Saturday", WeekDay.SUNDAY}) == {6, 7}
    assert WeekDay.validate_week_day(WeekDay.FRIDAY) == {5}
    assert WeekDay.validate_week_day("tuesday") == {2}
    with pytest.raises(InvalidWeekDay, match='Invalid Week Day passed: "Funday"'):
        WeekDay.validate_week_day(["Funday"])
    assert issubclass(InvalidWeekDay, AttributeError) and issubclass(InvalidWeekDay, ValueError)
    with pytest.raises(TypeError, match="Unsupported Type for week_day parameter: "
                       "<class 'int'>.Input should be iterable type"):
        WeekDay.validate_week_day(3)


def test_day_of_week_branch_on_now_and_on_the_logical_date(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with DAG("dow", start_date=START):
        op = BranchDayOfWeekOperator(task_id="dow", week_day="Monday",
                                     follow_task_ids_if_true="yes",
                                     follow_task_ids_if_false=["no"])
        op >> [EmptyOperator(task_id="yes"), EmptyOperator(task_id="no")]
    monkeypatch.setattr(tz_seam, "utcnow", lambda: MONDAY)
    assert run(op)[0] == ["no"]
    monkeypatch.setattr(tz_seam, "utcnow", lambda: MONDAY + timedelta(days=1))
    assert run(op)[0] == ["yes"]
    op.use_task_logical_date = True
    assert run(op, logical_date=MONDAY)[0] == ["no"]


def test_day_of_week_refuses_a_bad_day_at_definition() -> None:
    with DAG("dow_bad", start_date=START), pytest.raises(InvalidWeekDay, match="Someday"):
        BranchDayOfWeekOperator(task_id="dow", week_day="Someday",
                                follow_task_ids_if_true="a", follow_task_ids_if_false="b")


def test_target_times_as_dates() -> None:
    base = datetime(2024, 3, 4, 12)
    assert target_times_as_dates(base, dt.time(10), dt.time(11)) == (
        datetime(2024, 3, 4, 10), datetime(2024, 3, 4, 11))
    # an upper time before the lower one is the next day (a window across midnight)
    assert target_times_as_dates(base, dt.time(22), dt.time(2)) == (
        datetime(2024, 3, 4, 22), datetime(2024, 3, 5, 2))
    assert target_times_as_dates(base, None, dt.time(2)) == (None, datetime(2024, 3, 4, 2))


def datetime_branch(lower: Any, upper: Any, **kwargs: Any) -> BaseOperator:
    with DAG("dtb", start_date=START):
        op = BranchDateTimeOperator(task_id="dt", target_lower=lower, target_upper=upper,
                                    follow_task_ids_if_true="inside",
                                    follow_task_ids_if_false="outside", **kwargs)
        op >> [EmptyOperator(task_id="inside"), EmptyOperator(task_id="outside")]
    return op


@pytest.mark.parametrize(("lower", "upper", "skips"), [
    (dt.time(11), dt.time(13), ["outside"]),
    (dt.time(13), dt.time(14), ["inside"]),
    (None, dt.time(11), ["inside"]),
    (dt.time(23), dt.time(13), ["inside"]),  # 23:00 to 13:00 the next day: now is before it
    (MONDAY - timedelta(days=1), MONDAY + timedelta(days=1), ["outside"]),
])
def test_datetime_branch_on_now(monkeypatch: pytest.MonkeyPatch, lower: Any, upper: Any,
                                skips: list[str]) -> None:
    monkeypatch.setattr(tz_seam, "utcnow", lambda: MONDAY)
    assert run(datetime_branch(lower, upper))[0] == skips


def test_datetime_branch_on_the_logical_date() -> None:
    op = datetime_branch(dt.time(11), dt.time(13), use_task_logical_date=True)
    assert run(op, logical_date=MONDAY)[0] == ["outside"]
    assert run(op, logical_date=MONDAY + timedelta(hours=2))[0] == ["inside"]


def test_datetime_branch_needs_a_bound() -> None:
    with pytest.raises(InvalidTargetError, match="Both target_upper and target_lower are None. "
                       "At least one must be defined to be compared to the current datetime"):
        datetime_branch(None, None)
    with pytest.raises(InvalidTargetError, match="target_upper of task 'dt'.*'noon'"):
        datetime_branch(dt.time(1), "noon")


# -- labels --------------------------------------------------------------------------------------


def test_label_links_the_tasks_and_records_the_edge() -> None:
    # Airflow (test_edges.py): a >> Label("x") >> b is a >> b with edge_info {"label": "x"}.
    with DAG("labels", start_date=START) as dag:
        a, b, c, d = (EmptyOperator(task_id=i) for i in "abcd")
        a >> Label("one") >> b
        [b, c] >> Label("many") >> d
        d << Label("back") << a
    assert b.upstream_task_ids == {"a"}
    assert d.upstream_task_ids == {"a", "b", "c"}
    assert get_edge_info(dag, "a", "b") == {"label": "one"}
    assert get_edge_info(dag, "c", "d") == {"label": "many"}
    assert get_edge_info(dag, "a", "d") == {"label": "back"}
    assert get_edge_info(dag, "a", "c") == {}


def test_label_between_task_groups_links_leaves_to_roots() -> None:
    with DAG("label_groups", start_date=START) as dag:
        with TaskGroup("g1") as g1:
            EmptyOperator(task_id="x")
        with TaskGroup("g2") as g2:
            EmptyOperator(task_id="y")
        g1 >> Label("then") >> g2
    assert dag.get_task("g2.y").upstream_task_ids == {"g1.x"}


def test_label_needs_a_string() -> None:
    with pytest.raises(TypeError, match="Label needs a string, got int"):
        Label(3)  # type: ignore[arg-type]


# -- Airflow import paths ------------------------------------------------------------------------


@pytest.mark.parametrize(("module", "name", "obj"), [
    ("airflow.operators.python", "BranchPythonOperator", BranchPythonOperator),
    ("airflow.operators.python", "ShortCircuitOperator", ShortCircuitOperator),
    ("airflow.operators.branch", "BaseBranchOperator", BaseBranchOperator),
    ("airflow.operators.latest_only", "LatestOnlyOperator", LatestOnlyOperator),
    ("airflow.operators.datetime", "BranchDateTimeOperator", BranchDateTimeOperator),
    ("airflow.operators.weekday", "BranchDayOfWeekOperator", BranchDayOfWeekOperator),
    ("airflow.utils.weekday", "WeekDay", WeekDay),
    ("airflow.utils.edgemodifier", "Label", Label),
    ("airflow.sdk", "Label", Label),
    ("airflow.providers.standard.operators.python", "BranchPythonOperator",
     BranchPythonOperator),
    ("airflow.providers.standard.operators.python", "ShortCircuitOperator",
     ShortCircuitOperator),
    ("airflow.providers.standard.operators.branch", "BaseBranchOperator", BaseBranchOperator),
    ("airflow.providers.standard.operators.latest_only", "LatestOnlyOperator",
     LatestOnlyOperator),
    ("airflow.providers.standard.operators.datetime", "BranchDateTimeOperator",
     BranchDateTimeOperator),
    ("airflow.providers.standard.operators.weekday", "BranchDayOfWeekOperator",
     BranchDayOfWeekOperator),
    ("airflow.providers.standard.utils.weekday", "WeekDay", WeekDay),
])
def test_airflow_import_paths(module: str, name: str, obj: object) -> None:
    import importlib

    with compat.enabled() as active:
        assert active
        assert getattr(importlib.import_module(module), name) is obj
