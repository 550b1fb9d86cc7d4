"""Timetable.iter_dagrun_infos_between and RunInfoBatch.

The bulk call must return exactly what Airflow's iter_dagrun_infos_between gets by calling
next_dagrun_info with TimeRestriction(earliest, latest, catchup=True) until it returns None; a
Hypothesis property checks that on random schedules, zones (with DST, including Lord Howe's
30-minute shift) and ranges. The batch behaves as a sequence of DagRunInfo built on access.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

import dagcore.utils.timezone
from dagcore.timetables import (
    ContinuousTimetable,
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DagRunInfo,
    DataInterval,
    DeltaDataIntervalTimetable,
    DeltaTriggerTimetable,
    MultipleCronTriggerTimetable,
    NullTimetable,
    OnceTimetable,
    RunInfoBatch,
    TimeRestriction,
    Timetable,
)

UTC = timezone.utc


def u(text: str) -> datetime:
    """'2026-05-05T12:00' -> an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def repeated(tt: Timetable, earliest: datetime, latest: datetime, limit: int = 100_000) -> list[DagRunInfo]:
    """Airflow's iter_dagrun_infos_between, one next_dagrun_info call per run."""
    restriction = TimeRestriction(earliest, latest, True)
    out: list[DagRunInfo] = []
    info = tt.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    while info is not None:
        out.append(info)
        assert len(out) <= limit, "runaway timetable"
        info = tt.next_dagrun_info(last_automated_data_interval=info.data_interval, restriction=restriction)
    return out


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Bulk results do not depend on now (catchup=True with a start), but freeze it anyway."""
    now = u("2026-05-05T12:00")
    monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: now)
    return now


@pytest.fixture
def daily_batch() -> RunInfoBatch:
    # 2026-01-01 .. 2026-01-05 of a daily data-interval schedule: five runs.
    return CronDataIntervalTimetable("@daily", "UTC").iter_dagrun_infos_between(
        u("2026-01-01T00:00"), u("2026-01-05T00:00"))


# -------------------------------------------------------------------------------------------------
# RunInfoBatch as a sequence


def test_batch_length_items_and_columns(daily_batch: RunInfoBatch) -> None:
    days = [u(f"2026-01-0{d}T00:00") for d in range(1, 7)]
    assert len(daily_batch) == 5
    assert daily_batch.logical_dates == days[:5]
    assert daily_batch.data_interval_starts == days[:5]
    assert daily_batch.data_interval_ends == days[1:]
    assert daily_batch.run_afters == days[1:]
    assert daily_batch[0] == DagRunInfo.interval(days[0], days[1])
    assert daily_batch[-1] == DagRunInfo.interval(days[4], days[5])
    assert daily_batch[2].logical_date == days[2]
    for column in (daily_batch.logical_dates, daily_batch.run_afters, daily_batch.data_interval_ends):
        assert all(d.tzinfo is UTC for d in column)
    with pytest.raises(IndexError):
        daily_batch[5]
    with pytest.raises(IndexError):
        daily_batch[-6]


def test_batch_slices_reversal_and_iteration(daily_batch: RunInfoBatch) -> None:
    as_list = list(daily_batch)
    assert len(as_list) == 5 and all(isinstance(i, DagRunInfo) for i in as_list)
    assert isinstance(daily_batch[1:3], RunInfoBatch)
    assert list(daily_batch[1:3]) == as_list[1:3]
    assert list(daily_batch[::2]) == as_list[::2]
    assert list(daily_batch[::-1]) == as_list[::-1]
    assert list(daily_batch[-2:]) == as_list[-2:]
    assert len(daily_batch[10:]) == 0
    assert list(reversed(daily_batch)) == as_list[::-1]
    assert daily_batch[1:4].logical_dates == daily_batch.logical_dates[1:4]
    assert as_list[3] in daily_batch
    assert daily_batch.index(as_list[3]) == 3
    assert daily_batch == as_list
    assert daily_batch == tuple(as_list)
    assert daily_batch != as_list[:4]
    assert daily_batch[:] == daily_batch
    assert daily_batch != daily_batch[1:]
    assert repr(daily_batch) == (
        "RunInfoBatch(5 runs, logical dates 2026-01-01T00:00:00+00:00 .. 2026-01-05T00:00:00+00:00)")
    with pytest.raises(TypeError):
        hash(daily_batch)


def test_long_batches_iterate_in_order_both_ways() -> None:
    # More runs than one iteration chunk (4,096): every 5 minutes for 20 days = 5,761 runs.
    tt = CronTriggerTimetable("*/5 * * * *", timezone="UTC")
    batch = tt.iter_dagrun_infos_between(u("2026-01-01T00:00"), u("2026-01-21T00:00"))
    assert len(batch) == 20 * 288 + 1
    forward = [info.logical_date for info in batch]
    assert forward == batch.logical_dates
    assert forward[0] == u("2026-01-01T00:00") and forward[-1] == u("2026-01-21T00:00")
    assert all(b - a == timedelta(minutes=5) for a, b in zip(forward, forward[1:]))
    assert [info.logical_date for info in reversed(batch)] == forward[::-1]


def test_empty_and_single_batches() -> None:
    empty = CronTriggerTimetable("@daily", timezone="UTC").iter_dagrun_infos_between(
        u("2026-01-01T01:00"), u("2026-01-01T23:00"))
    assert len(empty) == 0 and list(empty) == [] and empty.logical_dates == []
    assert repr(empty) == "RunInfoBatch(0 runs)"
    assert len(NullTimetable().iter_dagrun_infos_between(u("2026-01-01T00:00"), u("2027-01-01T00:00"))) == 0
    once = OnceTimetable().iter_dagrun_infos_between(u("2026-01-01T05:00"), u("2027-01-01T00:00"))
    assert list(once) == [DagRunInfo.exact(u("2026-01-01T05:00"))]
    # latest before earliest: nothing, not an error.
    assert len(DeltaTriggerTimetable(timedelta(hours=1)).iter_dagrun_infos_between(
        u("2026-01-02T00:00"), u("2026-01-01T00:00"))) == 0


def test_from_infos_builds_a_batch() -> None:
    infos = [DagRunInfo.interval(u("2026-01-01T00:00"), u("2026-01-02T00:00")), DagRunInfo.exact(u("2026-01-03T00:00"))]
    batch = RunInfoBatch.from_infos(infos)
    assert list(batch) == infos
    assert batch.run_afters == [u("2026-01-02T00:00"), u("2026-01-03T00:00")]


# -------------------------------------------------------------------------------------------------
# Airflow's backfill date lists (docs/airflow-behaviour.md 2.4)


def test_both_ends_are_inclusive_on_the_start_value() -> None:
    start, end = u("2026-01-01T00:00"), u("2026-01-03T00:00")
    # Data-interval timetables: logical dates L with start <= L <= end (the last run is due later).
    data = CronDataIntervalTimetable("@daily", "UTC").iter_dagrun_infos_between(start, end)
    assert data.logical_dates == [u("2026-01-01T00:00"), u("2026-01-02T00:00"), u("2026-01-03T00:00")]
    assert data.run_afters[-1] == u("2026-01-04T00:00")
    # Trigger timetables with interval 0: the fire times themselves.
    trigger = CronTriggerTimetable("@daily", timezone="UTC").iter_dagrun_infos_between(start, end)
    assert trigger.logical_dates == data.logical_dates
    assert trigger.run_afters == trigger.logical_dates
    # An unaligned start aligns up.
    assert CronTriggerTimetable("@daily", timezone="UTC").iter_dagrun_infos_between(
        u("2026-01-01T00:01"), end).logical_dates == [u("2026-01-02T00:00"), u("2026-01-03T00:00")]


def test_run_ids_of_a_backfill() -> None:
    tt = CronTriggerTimetable("0 6 * * *", timezone="Europe/Amsterdam")
    batch = tt.iter_dagrun_infos_between(u("2026-03-28T00:00"), u("2026-03-30T00:00"))
    ids = [tt.generate_run_id(run_type="backfill", run_after=i.run_after, data_interval=i.data_interval)
           for i in batch]
    # 06:00+01:00 on the 28th, then 06:00+02:00 after the spring-forward night.
    assert ids == ["backfill__2026-03-28T05:00:00+00:00", "backfill__2026-03-29T04:00:00+00:00"]


# -------------------------------------------------------------------------------------------------
# max_runs


@pytest.mark.parametrize(
    "tt",
    [
        CronTriggerTimetable("* * * * *", timezone="UTC"),
        CronDataIntervalTimetable("* * * * *", "UTC"),
        MultipleCronTriggerTimetable("* * * * *", "*/2 * * * *", timezone="UTC"),
        DeltaTriggerTimetable(timedelta(minutes=1)),
        DeltaDataIntervalTimetable(timedelta(minutes=1)),
    ],
    ids=["cron-trigger", "cron-data", "multiple", "delta-trigger", "delta-data"],
)
def test_max_runs_error_names_the_count(tt: Timetable) -> None:
    start, end = u("2025-01-01T00:00"), u("2026-01-01T00:00")  # 525,600 minutes + 1
    with pytest.raises(ValueError, match=r"^the range holds 525601 runs, more than max_runs=1000$"):
        tt.iter_dagrun_infos_between(start, end, max_runs=1000)
    with pytest.raises(ValueError, match=r"holds 525601 runs, more than max_runs=525600"):
        tt.iter_dagrun_infos_between(start, end, max_runs=525_600)
    assert len(tt.iter_dagrun_infos_between(start, start + timedelta(hours=1), max_runs=61)) == 61


def test_default_max_runs_is_one_million() -> None:
    tt = DeltaTriggerTimetable(timedelta(seconds=1))
    with pytest.raises(ValueError, match=r"holds 1000001 runs, more than max_runs=1000000"):
        tt.iter_dagrun_infos_between(u("2026-01-01T00:00"), u("2026-01-01T00:00") + timedelta(seconds=1_000_000))


def test_continuous_has_no_finite_run_list() -> None:
    with pytest.raises(ValueError, match="continuous timetable has no finite list of runs"):
        ContinuousTimetable().iter_dagrun_infos_between(u("2026-01-01T00:00"), u("2026-02-01T00:00"))


def test_python_timetables_use_the_generic_loop() -> None:
    class EveryOtherDay(Timetable):
        """A timetable written in Python: two-day intervals from the start date."""

        def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                             restriction: TimeRestriction) -> DagRunInfo | None:
            if last_automated_data_interval is None:
                start = restriction.earliest
            else:
                start = last_automated_data_interval.end
            if start is None or (restriction.latest is not None and start > restriction.latest):
                return None
            return DagRunInfo.interval(start, start + timedelta(days=2))

        def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
            return DataInterval(run_after - timedelta(days=2), run_after)

    tt = EveryOtherDay()
    batch = tt.iter_dagrun_infos_between(u("2026-01-01T00:00"), u("2026-01-06T00:00"))
    assert batch.logical_dates == [u("2026-01-01T00:00"), u("2026-01-03T00:00"), u("2026-01-05T00:00")]
    with pytest.raises(ValueError, match="the range holds 3 runs, more than max_runs=2"):
        tt.iter_dagrun_infos_between(u("2026-01-01T00:00"), u("2026-01-06T00:00"), max_runs=2)


# -------------------------------------------------------------------------------------------------
# bulk == repeated next_dagrun_info


ZONES = ["UTC", "Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
         "Europe/Zurich"]
CRONS = ["0 0 * * *", "*/15 * * * *", "0 * * * *", "30 2 * * *", "0 2 * * *", "30 1 * * *",
         "0 0 1 * *", "0 0 * * 0", "0 9-17 * * 1-5", "*/7 * * * *", "0 0 29 2 *", "0 0 31 * *",
         "45 */3 * * *", "0 0 L * *", "0 0 * * 1#2", "@monthly", "20 0-5 * * *"]
# Ranges start around DST transitions of the zones above (and elsewhere).
ANCHORS = [u("2026-03-29T00:00"), u("2026-10-25T00:00"), u("2026-03-08T06:00"), u("2026-11-01T05:00"),
           u("2026-04-04T14:00"), u("2026-10-03T15:00"), u("2024-02-28T12:00"), u("2026-06-15T00:00")]
INTERVALS = [timedelta(0), timedelta(0), timedelta(hours=1), timedelta(days=1, minutes=30),
             relativedelta(months=1)]


@st.composite
def timetables(draw: st.DrawFn) -> Timetable:
    zone = draw(st.sampled_from(ZONES))
    kind = draw(st.sampled_from(["cron-trigger", "cron-data", "multiple", "delta-trigger", "delta-data"]))
    if kind == "cron-trigger":
        return CronTriggerTimetable(draw(st.sampled_from(CRONS)), timezone=zone,
                                    interval=draw(st.sampled_from(INTERVALS)))
    if kind == "cron-data":
        return CronDataIntervalTimetable(draw(st.sampled_from(CRONS)), zone)
    if kind == "multiple":
        crons = draw(st.lists(st.sampled_from(CRONS), min_size=1, max_size=3))
        return MultipleCronTriggerTimetable(*crons, timezone=zone, interval=draw(st.sampled_from(INTERVALS)))
    delta = draw(st.one_of(
        st.integers(1, 3000).map(lambda m: timedelta(minutes=m)),
        st.builds(lambda months, days: relativedelta(months=months, days=days),
                  st.integers(1, 14), st.integers(0, 3)),
    ))
    if kind == "delta-trigger":
        return DeltaTriggerTimetable(delta, interval=draw(st.sampled_from(INTERVALS)))
    return DeltaDataIntervalTimetable(delta)


@settings(max_examples=150)
@given(tt=timetables(), anchor=st.sampled_from(ANCHORS),
       offset_minutes=st.integers(-3 * 1440, 3 * 1440), length_minutes=st.integers(6 * 60, 20 * 1440))
def test_bulk_equals_repeated_next_dagrun_info(tt: Timetable, anchor: datetime, offset_minutes: int,
                                               length_minutes: int) -> None:
    earliest = anchor + timedelta(minutes=offset_minutes, seconds=offset_minutes % 7)
    latest = earliest + timedelta(minutes=length_minutes)
    bulk = tt.iter_dagrun_infos_between(earliest, latest)
    assert list(bulk) == repeated(tt, earliest, latest)


@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])
@pytest.mark.parametrize("cron", ["0 * * * *", "*/30 * * * *", "30 2 * * *", "0 0 * * *"])
def test_bulk_equals_repeated_across_a_whole_year(zone: str, cron: str) -> None:
    # A whole year crosses every transition of the zone once in each direction.
    start, end = u("2026-01-01T00:00"), u("2027-01-01T00:00")
    for tt in (CronTriggerTimetable(cron, timezone=zone), CronDataIntervalTimetable(cron, zone)):
        bulk = tt.iter_dagrun_infos_between(start, end)
        expected = repeated(tt, start, end)
        assert len(bulk) == len(expected) > 300
        assert list(bulk) == expected


def test_bulk_from_many_threads_agrees() -> None:
    from concurrent.futures import ThreadPoolExecutor

    tt = CronTriggerTimetable("*/5 * * * *", timezone="Europe/Amsterdam")
    start, end = u("2026-01-01T00:00"), u("2026-04-01T00:00")
    expected = tt.iter_dagrun_infos_between(start, end)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: tt.iter_dagrun_infos_between(start, end), range(8)))
    assert all(r == expected for r in results)
    # 90 days of 5 minutes, both ends included: an hour-* cron steps in absolute time, so the
    # spring-forward night loses no fire.
    assert len(expected) == 90 * 288 + 1


def test_frozen_now_does_not_change_bulk_results(monkeypatch: pytest.MonkeyPatch) -> None:
    tt = CronDataIntervalTimetable("0 */6 * * *", "America/New_York")
    start, end = u("2026-03-07T00:00"), u("2026-03-10T00:00")
    first = tt.iter_dagrun_infos_between(start, end)
    monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: u("2030-01-01T00:00"))
    assert tt.iter_dagrun_infos_between(start, end) == first
    # 6-hourly in New York from 2026-03-06 19:00 local; the 02:00 gap shifts no 6-hourly fire.
    assert len(first) == 12

