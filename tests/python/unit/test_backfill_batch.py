"""dagcore.backfill.plan_backfill_batch and BackfillPlan: the columnar result behaves as a
sequence of BackfillPlanEntry built on access, and agrees with plan_backfill's list.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dagcore.utils.timezone
from dagcore.backfill import (
    BackfillAction,
    BackfillDagRunExceptionReason,
    BackfillPlan,
    BackfillPlanEntry,
    plan_backfill,
    plan_backfill_batch,
)
from dagcore.state import DagRunState
from dagcore.timetables import CronDataIntervalTimetable, CronTriggerTimetable, RunInfoBatch

UTC = timezone.utc
NOW = datetime(2026, 5, 5, 12, tzinfo=UTC)
START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: NOW)
    return NOW


@pytest.fixture
def hourly_plan() -> BackfillPlan:
    """10,000 hourly dates (more than two iteration chunks); a run at every 7th hour, states
    cycling through DagRunState."""
    tt = CronDataIntervalTimetable("@hourly", "UTC")
    states = list(DagRunState)
    runs = {START + timedelta(hours=h): states[(h // 7) % 4] for h in range(0, 10_000, 7)}
    return plan_backfill_batch(tt, from_date=START, to_date=START + timedelta(hours=9_999),
                               existing_runs=runs, reprocess_behavior="failed")


def test_batch_and_list_agree(hourly_plan: BackfillPlan) -> None:
    tt = CronDataIntervalTimetable("@hourly", "UTC")
    states = list(DagRunState)
    runs = {START + timedelta(hours=h): states[(h // 7) % 4] for h in range(0, 10_000, 7)}
    as_list = plan_backfill(tt, from_date=START, to_date=START + timedelta(hours=9_999),
                            existing_runs=runs, reprocess_behavior="failed")
    assert len(hourly_plan) == len(as_list) == 10_000
    assert hourly_plan.to_list() == as_list
    assert list(hourly_plan) == as_list  # chunked iteration crosses chunk boundaries
    assert list(reversed(hourly_plan)) == as_list[::-1]
    assert hourly_plan == as_list
    assert [e.sort_ordinal for e in as_list] == list(range(1, 10_001))


def test_items_and_slices(hourly_plan: BackfillPlan) -> None:
    first = hourly_plan[0]
    assert isinstance(first, BackfillPlanEntry)
    assert first.sort_ordinal == 1
    assert first.logical_date == START
    assert first.run_after == START + timedelta(hours=1)
    assert hourly_plan[-1].sort_ordinal == 10_000
    assert hourly_plan[-1] == hourly_plan[9_999]
    window = hourly_plan[4095:4099]
    assert [e.sort_ordinal for e in window] == [4096, 4097, 4098, 4099]
    assert [e.sort_ordinal for e in hourly_plan[10:0:-3]] == [11, 8, 5, 2]
    assert hourly_plan[20:10] == []
    with pytest.raises(IndexError):
        hourly_plan[10_000]
    with pytest.raises(IndexError):
        hourly_plan[-10_001]


def test_columns(hourly_plan: BackfillPlan) -> None:
    entries = hourly_plan.to_list()
    assert hourly_plan.logical_dates == [e.logical_date for e in entries]
    assert hourly_plan.run_afters == [e.run_after for e in entries]
    assert hourly_plan.actions == [e.action for e in entries]
    assert hourly_plan.reasons == [e.reason for e in entries]
    infos = hourly_plan.infos
    assert isinstance(infos, RunInfoBatch)
    assert list(infos) == [e.info for e in entries]


def test_counts_follow_the_table(hourly_plan: BackfillPlan) -> None:
    # 1,429 runs (hours 0, 7, ..., 9996), states cycling queued, running, success, failed;
    # reprocess failed: queued/running in flight, success already exists, failed cleared.
    counts = hourly_plan.counts()
    assert counts == {BackfillAction.CREATE: 10_000 - 1_429, BackfillAction.CLEAR: 357,
                      BackfillAction.SKIP: 1_429 - 357}
    assert hourly_plan.count("clear") == 357
    assert hourly_plan.count(BackfillAction.CREATE) == 8_571
    assert hourly_plan.count("nonsense") == 0
    assert hourly_plan.reasons.count(BackfillDagRunExceptionReason.IN_FLIGHT) == 358 + 357
    assert hourly_plan.count(hourly_plan[3]) == 1
    assert repr(hourly_plan) == "BackfillPlan(10000 dates: 8571 create, 357 clear, 1072 skip)"


def test_plans_compare_by_content() -> None:
    tt = CronTriggerTimetable("@daily", timezone="UTC")
    a = plan_backfill_batch(tt, from_date=START, to_date=START + timedelta(days=3),
                            existing_runs={})
    b = plan_backfill_batch(tt, from_date=START, to_date=START + timedelta(days=3),
                            existing_runs=[])
    c = plan_backfill_batch(tt, from_date=START, to_date=START + timedelta(days=3),
                            existing_runs={START: "success"})
    assert a == b
    assert a != c
    assert a != "plan"
    with pytest.raises(TypeError):
        hash(a)


def test_empty_plan() -> None:
    empty = BackfillPlan()
    assert len(empty) == 0
    assert list(empty) == []
    assert empty.to_list() == []
    assert empty.logical_dates == []
    assert empty.counts() == {a: 0 for a in BackfillAction}
    tt = CronTriggerTimetable("@daily", timezone="UTC")
    none_due = plan_backfill_batch(tt, from_date=START + timedelta(hours=1),
                                   to_date=START + timedelta(hours=2), existing_runs={})
    assert none_due == empty


def test_entries_share_equal_datetimes() -> None:
    # Interval 0: run_after, logical date and both interval ends are one instant; consecutive
    # data intervals share their boundary. Equal instants become one (immutable) object.
    trigger = plan_backfill(CronTriggerTimetable("@daily", timezone="UTC"), from_date=START,
                            to_date=START + timedelta(days=2), existing_runs={})
    for e in trigger:
        assert e.run_after is e.logical_date is e.data_interval.start is e.data_interval.end
    intervals = plan_backfill(CronDataIntervalTimetable("@daily", "UTC"), from_date=START,
                              to_date=START + timedelta(days=2), existing_runs={})
    assert intervals[0].data_interval.end is intervals[1].logical_date
    assert intervals[0].run_after is intervals[0].data_interval.end


# -- text columns (the bulk writer's dates and run ids, made in C++) ----------------------------


def _plan_of(run_afters: list[datetime], starts: list[datetime],
             ends: list[datetime], existing: dict[datetime, str]) -> BackfillPlan:
    from dagcore._native import core

    batch = core.RunInfoBatch.from_columns(run_afters, starts, ends)
    return BackfillPlan(core.plan_backfill_infos(
        batch, datetime.max.replace(tzinfo=timezone.utc), existing, "failed", False))


_UTC_DATES = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23),
                          timezones=st.just(timezone.utc))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_UTC_DATES, st.sampled_from([None, "failed", "success"])),
                min_size=1, max_size=20, unique_by=lambda x: x[0]))
def test_text_columns_are_pythons_formatting_of_the_dates(
        entries: list[tuple[datetime, str | None]]) -> None:
    starts = [d for d, _ in entries]
    afters = [d + timedelta(microseconds=7) if d.year < 9999 else d for d in starts]
    ends = [d + timedelta(hours=1) if d.year < 9999 else d for d in starts]
    existing = {d: s for d, s in entries if s is not None}
    plan = _plan_of(afters, starts, ends, existing)
    for name, values in (("logical_date", plan.logical_dates), ("run_after", plan.run_afters),
                         ("data_interval_end", [i.data_interval.end for i in plan.infos])):
        assert plan.text_column(name, "iso") == [v.isoformat() for v in values]
        assert plan.text_column(name, "sqlite") == [
            f"{v:%Y-%m-%d %H:%M:%S}.{v.microsecond:06d}".rjust(26, "0") for v in values]
    for action in BackfillAction:
        chosen = [v for v, a in zip(plan.run_afters, plan.actions) if a is action]
        assert plan.text_column("run_after", "iso", prefix="backfill__", action=action) == [
            f"backfill__{v.isoformat()}" for v in chosen]


def test_text_column_refuses_unknown_columns_and_styles() -> None:
    day = datetime(2025, 1, 1, tzinfo=timezone.utc)
    plan = _plan_of([day], [day], [day], {})
    with pytest.raises(ValueError, match="column must be one of .*got 'start'"):
        plan.text_column("start", "iso")
    with pytest.raises(ValueError, match="style must be 'sqlite' or 'iso', got 'csv'"):
        plan.text_column("logical_date", "csv")
    with pytest.raises(ValueError, match="'explode' is not a valid BackfillAction"):
        plan.text_column("logical_date", "iso", action="explode")  # type: ignore[arg-type]
