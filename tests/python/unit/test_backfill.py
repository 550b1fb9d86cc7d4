"""dagcore.backfill.plan_backfill: Airflow's reprocess table, validation order and messages,
the date list (inclusive ends, "ended before now" filter, direction), and argument handling.

Times are UTC unless a row says otherwise; "now" is frozen through the clock seam.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta

import dagcore.utils.timezone
from dagcore.backfill import (
    BackfillAction,
    BackfillDagRunExceptionReason,
    BackfillPlanEntry,
    DagNonPeriodicScheduleError,
    DagNonPeriodicScheduleException,
    InvalidBackfillDate,
    InvalidBackfillDateRange,
    InvalidBackfillDirection,
    InvalidReprocessBehavior,
    ReprocessBehavior,
    plan_backfill,
)
from dagcore.state import DagRunState
from dagcore.timetables import (
    ContinuousTimetable,
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DagRunInfo,
    DataInterval,
    NullTimetable,
    OnceTimetable,
    Timetable,
)

UTC = timezone.utc
NOW = datetime(2026, 5, 5, 12, tzinfo=UTC)

CREATE = ("create", None)
CLEAR = ("clear", None)
IN_FLIGHT = ("skip", "in flight")
EXISTS = ("skip", "already exists")


def u(text: str) -> datetime:
    """'2026-05-05T12:00' -> an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: NOW)
    return NOW


def daily() -> CronTriggerTimetable:
    return CronTriggerTimetable("@daily", timezone="UTC")


def decisions(plan: list[BackfillPlanEntry]) -> list[tuple[str, str | None]]:
    return [(e.action.value, None if e.reason is None else e.reason.value) for e in plan]


def plan(tt: Timetable | None = None, **kwargs: Any) -> list[BackfillPlanEntry]:
    args: dict[str, Any] = {"from_date": u("2026-01-01T00:00"), "to_date": u("2026-01-03T00:00"),
                            "existing_runs": {}}
    args.update(kwargs)
    return plan_backfill(daily() if tt is None else tt, **args)


# -------------------------------------------------------------------------------------------------
# the per-date table (docs/airflow-behaviour.md 2.5): every cell


TABLE = [
    # existing state, reprocess behavior, expected (action, reason)
    (None, "none", CREATE),
    (None, "failed", CREATE),
    (None, "completed", CREATE),
    (DagRunState.QUEUED, "none", IN_FLIGHT),
    (DagRunState.QUEUED, "failed", IN_FLIGHT),
    (DagRunState.QUEUED, "completed", IN_FLIGHT),
    (DagRunState.RUNNING, "none", IN_FLIGHT),
    (DagRunState.RUNNING, "failed", IN_FLIGHT),
    (DagRunState.RUNNING, "completed", IN_FLIGHT),
    (DagRunState.SUCCESS, "none", EXISTS),
    (DagRunState.SUCCESS, "failed", EXISTS),
    (DagRunState.SUCCESS, "completed", CLEAR),
    (DagRunState.FAILED, "none", EXISTS),
    (DagRunState.FAILED, "failed", CLEAR),
    (DagRunState.FAILED, "completed", CLEAR),
]


def test_table_has_a_row_per_state_and_behavior() -> None:
    cells = {(state, reprocess) for state, reprocess, _ in TABLE}
    assert cells == {(s, r.value) for s in [None, *DagRunState] for r in ReprocessBehavior}
    assert len(TABLE) == len(cells)


@pytest.mark.parametrize(
    ("state", "reprocess", "expected"), TABLE,
    ids=[f"{s.value if s else 'no_run'}-{r}" for s, r, _ in TABLE])
@pytest.mark.parametrize("as_string", [False, True], ids=["enum", "str"])
def test_reprocess_table(state: DagRunState | None, reprocess: str, expected: tuple[str, str | None],
                         as_string: bool) -> None:
    day = u("2026-01-02T00:00")
    runs = {} if state is None else {day: state.value if as_string else state}
    behavior: ReprocessBehavior | str = reprocess if as_string else ReprocessBehavior(reprocess)
    (entry,) = plan_backfill(daily(), from_date=day, to_date=day, existing_runs=runs,
                             reprocess_behavior=behavior)
    assert (entry.action, entry.reason) == expected
    assert entry.logical_date == day
    assert entry.sort_ordinal == 1


def test_mixed_states_in_one_plan() -> None:
    runs = {u("2026-01-02T00:00"): DagRunState.QUEUED, u("2026-01-03T00:00"): DagRunState.RUNNING,
            u("2026-01-04T00:00"): DagRunState.SUCCESS, u("2026-01-05T00:00"): DagRunState.FAILED,
            u("2025-06-01T00:00"): DagRunState.FAILED}  # outside the range: ignored
    got = {r: decisions(plan(to_date=u("2026-01-05T00:00"), existing_runs=runs,
                             reprocess_behavior=r)) for r in ("none", "failed", "completed")}
    assert got == {
        "none": [CREATE, IN_FLIGHT, IN_FLIGHT, EXISTS, EXISTS],
        "failed": [CREATE, IN_FLIGHT, IN_FLIGHT, EXISTS, CLEAR],
        "completed": [CREATE, IN_FLIGHT, IN_FLIGHT, CLEAR, CLEAR],
    }


def test_reprocess_behavior_none_means_none() -> None:
    runs = {u("2026-01-02T00:00"): "failed"}
    assert decisions(plan(existing_runs=runs, reprocess_behavior=None)) == [CREATE, EXISTS, CREATE]


def test_existing_runs_match_on_the_logical_date_in_any_zone() -> None:
    # 2026-01-02 01:00+01:00 is 2026-01-02 00:00 UTC.
    plus_one = timezone(timedelta(hours=1))
    runs = {datetime(2026, 1, 2, 1, tzinfo=plus_one): "success"}
    assert decisions(plan(existing_runs=runs)) == [CREATE, EXISTS, CREATE]


def test_data_interval_runs_are_matched_on_the_interval_start() -> None:
    # The run for [Jan 1, Jan 2] has logical date Jan 1 (and run_after Jan 2).
    tt = CronDataIntervalTimetable("@daily", "UTC")
    runs = {u("2026-01-02T00:00"): "success"}
    assert decisions(plan(tt, to_date=u("2026-01-02T00:00"), existing_runs=runs)) == [CREATE, EXISTS]


def test_a_logical_date_repeated_in_the_plan_is_in_flight_the_second_time() -> None:
    # A one-month interval maps the fires of Mar 28..31 onto logical date Feb 28 (no leap year).
    tt = CronTriggerTimetable("@daily", timezone="UTC", interval=relativedelta(months=1))
    entries = plan(tt, from_date=u("2026-03-27T00:00"), to_date=u("2026-03-31T00:00"))
    assert [e.logical_date.day for e in entries] == [27, 28, 28, 28, 28]
    assert decisions(entries) == [CREATE, CREATE, IN_FLIGHT, IN_FLIGHT, IN_FLIGHT]


# -------------------------------------------------------------------------------------------------
# validation (docs/airflow-behaviour.md 2.3): messages and order


def test_errors_are_value_errors_exported_under_airflows_names() -> None:
    errors = [DagNonPeriodicScheduleError, InvalidBackfillDateRange, InvalidBackfillDate,
              InvalidBackfillDirection, InvalidReprocessBehavior]
    for error in errors:
        assert issubclass(error, ValueError)
        assert error.__module__ == "dagcore.backfill"
    assert len(set(errors)) == len(errors)
    assert DagNonPeriodicScheduleException is DagNonPeriodicScheduleError


@pytest.mark.parametrize(
    ("tt", "dag_id", "message"),
    [
        (NullTimetable(), "etl", "etl has a non-periodic schedule that does not support backfills"),
        (OnceTimetable(), None,
         "The Dag has a non-periodic schedule that does not support backfills"),
        (ContinuousTimetable(), "stream",
         "stream has a non-periodic schedule that does not support backfills"),
    ],
    ids=["null", "once", "continuous"])
def test_non_periodic_timetables_are_refused(tt: Timetable, dag_id: str | None,
                                             message: str) -> None:
    with pytest.raises(DagNonPeriodicScheduleError) as info:
        plan(tt, dag_id=dag_id)
    assert str(info.value) == message


def test_range_message_shows_the_dates_as_given() -> None:
    plus_two = timezone(timedelta(hours=2))
    with pytest.raises(InvalidBackfillDateRange) as info:
        plan(from_date=datetime(2026, 1, 4, 1, 30, tzinfo=plus_two), to_date=u("2026-01-01T00:00"))
    assert str(info.value) == ("from_date (2026-01-04 01:30:00+02:00) must not be after to_date "
                               "(2026-01-01 00:00:00+00:00)")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"from_date": NOW + timedelta(days=1), "to_date": NOW + timedelta(days=2)},
         InvalidBackfillDate, "Backfill cannot be executed for future dates."),
        ({"depends_on_past": True, "run_backwards": True, "reprocess_behavior": "failed"},
         InvalidBackfillDirection,
         "Backfill cannot be run in reverse when the Dag has tasks where depends_on_past=True or "
         "depends_on_previous_tasks is set."),
        ({"depends_on_past": True},
         InvalidReprocessBehavior,
         "Dag has tasks for which depends_on_past=True or depends_on_previous_tasks is set. You "
         "must set reprocess behavior to reprocess completed or reprocess failed."),
    ],
    ids=["future", "direction", "reprocess"])
def test_validation_messages(kwargs: dict[str, Any], error: type[ValueError], message: str) -> None:
    with pytest.raises(error) as info:
        plan(**kwargs)
    assert str(info.value) == message


FUTURE = NOW + timedelta(days=10)
FURTHER = NOW + timedelta(days=20)


@pytest.mark.parametrize(
    ("tt", "kwargs", "error"),
    [
        # Everything is wrong: the schedule is checked first (step 3 before step 5).
        (NullTimetable(), {"from_date": FURTHER, "to_date": FUTURE, "run_backwards": True,
                           "depends_on_past": True}, DagNonPeriodicScheduleError),
        # Reversed range in the future, depends_on_past backwards: the range first.
        (daily(), {"from_date": FURTHER, "to_date": FUTURE, "run_backwards": True,
                   "depends_on_past": True}, InvalidBackfillDateRange),
        # Future range, depends_on_past backwards: the future check before direction.
        (daily(), {"from_date": FUTURE, "to_date": FURTHER, "run_backwards": True,
                   "depends_on_past": True}, InvalidBackfillDate),
        # depends_on_past backwards with reprocess none: direction before reprocess.
        (daily(), {"run_backwards": True, "depends_on_past": True}, InvalidBackfillDirection),
    ],
    ids=["schedule-first", "range-before-future", "future-before-direction",
         "direction-before-reprocess"])
def test_validation_order(tt: Timetable, kwargs: dict[str, Any], error: type[ValueError]) -> None:
    with pytest.raises(error):
        plan(tt, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"from_date": u("2026-01-02T00:00"), "to_date": u("2026-01-02T00:00")},
        {"from_date": u("2026-05-01T00:00"), "to_date": NOW + timedelta(days=300)},
        {"from_date": u("2026-05-01T00:00"), "to_date": NOW},
        {"depends_on_past": True, "reprocess_behavior": "failed"},
        {"depends_on_past": True, "reprocess_behavior": ReprocessBehavior.COMPLETED},
        {"run_backwards": True},
    ],
    ids=["from-equals-to", "ends-in-the-future", "ends-now", "dop-failed", "dop-completed",
         "backwards-without-dop"])
def test_accepted_requests(kwargs: dict[str, Any]) -> None:
    assert isinstance(plan(**kwargs), list)


def test_whole_range_in_the_future_includes_now() -> None:
    with pytest.raises(InvalidBackfillDate):
        plan(from_date=NOW, to_date=NOW)


# -------------------------------------------------------------------------------------------------
# dates (docs/airflow-behaviour.md 2.4)


def test_todays_data_interval_is_excluded_until_it_ends(frozen_now: datetime) -> None:
    tt = CronDataIntervalTimetable("@daily", "UTC")
    entries = plan(tt, from_date=u("2026-05-01T00:00"), to_date=u("2026-05-05T00:00"))
    # May 5's interval [May 5, May 6] has not ended at 12:00 on May 5.
    assert [e.logical_date for e in entries] == [u(f"2026-05-0{d}T00:00") for d in range(1, 5)]
    assert [e.run_after for e in entries] == [u(f"2026-05-0{d}T00:00") for d in range(2, 6)]
    assert all(e.info.data_interval.end < frozen_now for e in entries)


def test_trigger_fire_at_now_is_excluded_and_before_now_included() -> None:
    at = u("2026-01-05T00:00")
    fires = [u(f"2026-01-0{d}T00:00") for d in range(1, 6)]
    before = plan(from_date=fires[0], to_date=fires[-1], now=at)
    assert [e.logical_date for e in before] == fires[:4]
    after = plan(from_date=fires[0], to_date=fires[-1], now=at + timedelta(microseconds=1))
    assert [e.logical_date for e in after] == fires
    # Interval 0: logical date = run_after = both interval ends.
    assert all(e.run_after == e.data_interval.start == e.data_interval.end for e in after)


def test_both_ends_are_inclusive_and_from_date_aligns_up() -> None:
    entries = plan(from_date=u("2026-01-01T06:00"), to_date=u("2026-01-04T00:00"))
    assert [e.logical_date for e in entries] == [u(f"2026-01-0{d}T00:00") for d in (2, 3, 4)]


def test_now_defaults_to_the_clock_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: u("2026-01-02T12:00"))
    entries = plan(to_date=u("2026-01-10T00:00"))
    assert [e.logical_date for e in entries] == [u("2026-01-01T00:00"), u("2026-01-02T00:00")]


def test_an_empty_plan_is_returned_not_raised() -> None:
    assert plan(from_date=u("2026-01-01T06:00"), to_date=u("2026-01-01T18:00")) == []


def test_run_backwards_puts_the_most_recent_date_first() -> None:
    runs = {u("2026-01-02T00:00"): "failed"}
    forward = plan(to_date=u("2026-01-04T00:00"), existing_runs=runs, reprocess_behavior="failed")
    backward = plan(to_date=u("2026-01-04T00:00"), existing_runs=runs, reprocess_behavior="failed",
                    run_backwards=True)
    assert [e.sort_ordinal for e in backward] == [1, 2, 3, 4]
    assert [e.logical_date.day for e in backward] == [4, 3, 2, 1]
    assert [e.info for e in backward] == [e.info for e in reversed(forward)]
    assert decisions(backward) == [CREATE, CREATE, CLEAR, CREATE]


def test_a_far_future_to_date_costs_nothing() -> None:
    hourly = CronTriggerTimetable("@hourly", timezone="UTC")
    entries = plan(hourly, from_date=NOW - timedelta(hours=10),
                   to_date=NOW + timedelta(days=365 * 100), max_runs=20)
    assert len(entries) == 10


def test_more_dates_than_max_runs_raise_with_the_count() -> None:
    with pytest.raises(ValueError, match=r"holds 31 runs, more than max_runs=30"):
        plan(from_date=u("2026-01-01T00:00"), to_date=u("2026-01-31T00:00"), max_runs=30)


def test_zones_and_dst_follow_the_timetable() -> None:
    # Amsterdam midnight is 23:00Z in winter and 22:00Z after the switch on 2026-03-29.
    tt = CronTriggerTimetable("@daily", timezone="Europe/Amsterdam")
    entries = plan(tt, from_date=u("2026-03-28T00:00"), to_date=u("2026-03-30T23:00"))
    assert [e.logical_date for e in entries] == [
        u("2026-03-28T23:00"), u("2026-03-29T22:00"), u("2026-03-30T22:00")]


# -------------------------------------------------------------------------------------------------
# argument handling


DAY2 = u("2026-01-02T00:00")


@pytest.mark.parametrize(
    "runs",
    [
        {DAY2: DagRunState.FAILED},
        {DAY2: "failed"},
        MappingProxyType({DAY2: "failed"}),
        [(DAY2, DagRunState.FAILED)],
        [[DAY2, "failed"]],
        ((DAY2, "failed"),),
        iter([(DAY2, "failed")]),
        {DAY2: "failed"}.items(),
    ],
    ids=["dict-enum", "dict-str", "mapping", "pairs", "lists", "tuple", "iterator", "items"])
def test_existing_runs_as_mapping_or_pairs(runs: object) -> None:
    assert decisions(plan(existing_runs=runs, reprocess_behavior="failed")) == [CREATE, CLEAR, CREATE]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"reprocess_behavior": "sometimes"}, ValueError,
         r"reprocess_behavior must be one of failed, completed, none, got 'sometimes'"),
        ({"reprocess_behavior": 1}, TypeError, r"reprocess_behavior must be a ReprocessBehavior"),
        ({"from_date": "2026-01-01"}, TypeError, r"from_date must be a datetime, got str"),
        ({"to_date": datetime(2026, 1, 3)}, ValueError, r"to_date is a naive datetime"),
        ({"now": datetime(2026, 5, 5)}, ValueError, r"now is a naive datetime"),
        ({"existing_runs": {DAY2: "paused"}}, ValueError,
         r"existing_runs: 'paused' \(the run at 2026-01-02 00:00:00\+00:00\) is not a DagRunState"),
        ({"existing_runs": {DAY2: None}}, TypeError, r"must be a DagRunState or a str, got NoneType"),
        ({"existing_runs": {datetime(2026, 1, 2): "failed"}}, ValueError,
         r"existing_runs logical date is a naive datetime"),
        ({"existing_runs": {"2026-01-02": "failed"}}, TypeError,
         r"existing_runs logical date must be a datetime, got str"),
        ({"existing_runs": [(DAY2, "failed"), (DAY2, "success")]}, ValueError,
         r"more than one run with logical date 2026-01-02 00:00:00\+00:00"),
        ({"existing_runs": [(DAY2, "failed", 1)]}, TypeError,
         r"existing_runs item 0 must be a \(logical_date, state\) pair"),
        ({"existing_runs": 7}, TypeError, r"existing_runs must be a mapping or an iterable"),
        ({"existing_runs": "failed"}, TypeError, r"existing_runs must be a mapping or an iterable"),
        ({"run_backwards": 1}, TypeError, r"run_backwards must be a bool, got int"),
        ({"depends_on_past": None}, TypeError, r"depends_on_past must be a bool"),
        ({"dag_id": 3}, TypeError, r"dag_id must be a str or None"),
        ({"max_runs": -1}, ValueError, r"max_runs must not be negative"),
    ],
    ids=["unknown-reprocess", "reprocess-type", "from-type", "naive-to", "naive-now",
         "unknown-state", "state-type", "naive-run-date", "run-date-type", "duplicate-run",
         "triple", "runs-int", "runs-str", "backwards-int", "dop-none", "dag-id-int",
         "max-runs-negative"])
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        plan(**kwargs)


def test_argument_errors_come_before_validation() -> None:
    # An unknown state is reported even though the range is reversed.
    with pytest.raises(ValueError, match="is not a DagRunState"):
        plan(from_date=u("2026-02-01T00:00"), to_date=u("2026-01-01T00:00"),
             existing_runs={DAY2: "paused"})


def test_timetable_must_be_a_timetable() -> None:
    with pytest.raises(TypeError, match="timetable must be a dagcore.timetables.Timetable"):
        plan_backfill("@daily", from_date=DAY2, to_date=DAY2, existing_runs={})  # type: ignore[arg-type]


def test_existing_runs_is_required() -> None:
    with pytest.raises(TypeError):
        plan_backfill(daily(), from_date=DAY2, to_date=DAY2)  # type: ignore[call-arg]


def test_errors_pickle() -> None:
    with pytest.raises(InvalidBackfillDateRange) as info:
        plan(from_date=u("2026-02-01T00:00"), to_date=u("2026-01-01T00:00"))
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is InvalidBackfillDateRange
    assert str(copy) == str(info.value)


# -------------------------------------------------------------------------------------------------
# timetables written in Python


class EveryTwoDays(Timetable):
    """A periodic timetable in Python: [start + 2k days, start + 2k+2 days], due at the end."""

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: Any) -> DagRunInfo | None:
        last = last_automated_data_interval
        start = restriction.earliest if last is None else last.end
        if restriction.latest is not None and start > restriction.latest:
            return None
        return DagRunInfo.interval(start, start + timedelta(days=2))

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return DataInterval(run_after - timedelta(days=2), run_after)


class Manual(EveryTwoDays):
    periodic = False


def test_python_timetables_are_planned_with_the_same_rules() -> None:
    runs = {u("2026-01-03T00:00"): "failed", u("2026-01-05T00:00"): "running"}
    entries = plan(EveryTwoDays(), to_date=u("2026-01-07T00:00"), existing_runs=runs,
                   reprocess_behavior="failed", run_backwards=True)
    assert [e.logical_date.day for e in entries] == [7, 5, 3, 1]
    assert decisions(entries) == [CREATE, IN_FLIGHT, CLEAR, CREATE]
    assert [e.sort_ordinal for e in entries] == [1, 2, 3, 4]


def test_python_timetables_are_validated_first() -> None:
    with pytest.raises(DagNonPeriodicScheduleError, match="^py has a non-periodic"):
        plan(Manual(), dag_id="py", from_date=u("2026-02-01T00:00"))
    with pytest.raises(InvalidBackfillDateRange):
        plan(EveryTwoDays(), from_date=u("2026-02-01T00:00"))


# -------------------------------------------------------------------------------------------------
# entries


def test_entries_are_plain_public_values() -> None:
    (entry,) = plan(to_date=DAY2, from_date=DAY2, existing_runs={DAY2: "queued"})
    assert type(entry) is BackfillPlanEntry
    assert type(entry.info) is DagRunInfo
    assert type(entry.info.data_interval) is DataInterval
    assert entry.logical_date == entry.info.logical_date == DAY2
    assert entry.action is BackfillAction.SKIP
    assert entry.reason is BackfillDagRunExceptionReason.IN_FLIGHT
    assert entry.action == "skip" and entry.reason == "in flight"
    assert json.dumps([entry.action, entry.reason]) == '["skip", "in flight"]'
    assert entry.logical_date.tzinfo is UTC
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.action = BackfillAction.CREATE  # type: ignore[misc]
    # A hand-built entry with the same values is equal (strings are coerced to the enums).
    info = DagRunInfo.exact(DAY2)
    assert entry == BackfillPlanEntry(1, info, DAY2, "skip", "in flight")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda i: BackfillPlanEntry(0, i, DAY2, "create"), ValueError, "sort_ordinal must be >= 1"),
        (lambda i: BackfillPlanEntry(True, i, DAY2, "create"), TypeError, "sort_ordinal must be an int"),
        (lambda i: BackfillPlanEntry(1, i, DAY2 + timedelta(1), "create"), ValueError,
         "is not the info's logical date"),
        (lambda i: BackfillPlanEntry(1, (DAY2, DAY2), DAY2, "create"), TypeError,
         "info must be a DagRunInfo"),
        (lambda i: BackfillPlanEntry(1, i, DAY2, "delete"), ValueError,
         "action must be one of create, clear, skip, got 'delete'"),
        (lambda i: BackfillPlanEntry(1, i, DAY2, "skip"), ValueError, "'skip' entry needs a reason"),
        (lambda i: BackfillPlanEntry(1, i, DAY2, "clear", "in flight"), ValueError,
         "'clear' entry has no reason"),
        (lambda i: BackfillPlanEntry(1, i, DAY2, "skip", "tired"), ValueError,
         "reason must be one of"),
    ],
    ids=["ordinal-0", "ordinal-bool", "logical-date", "info", "action", "skip-no-reason",
         "clear-reason", "reason"])
def test_entry_validation(build: Callable[[DagRunInfo], BackfillPlanEntry], error: type[Exception],
                          match: str) -> None:
    with pytest.raises(error, match=match):
        build(DagRunInfo.exact(DAY2))
