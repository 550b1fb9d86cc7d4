"""dagcore.timetables: each kind's next_dagrun_info with a frozen clock (catchup on and off),
infer_manual_data_interval, summary, serialize/deserialize, create_timetable, run ids and errors.

The clock is frozen through the package's one seam, dagcore.utils.timezone.utcnow (the `freeze`
fixture). Times in the tables are UTC; rows in other zones say the local time and offset. The
bulk API (iter_dagrun_infos_between, RunInfoBatch) is tested in test_timetables_bulk.py.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import json
import pickle
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import FR, relativedelta

import dagcore.utils.timezone
from dagcore.cron import CronError
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
    TimeRestriction,
    Timetable,
    create_timetable,
)

UTC = timezone.utc
NOW = "2026-05-05T12:00"


def u(text: str) -> datetime:
    """'2026-05-05T12:00' -> an aware UTC datetime (table strings are UTC)."""
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is None
    return parsed.replace(tzinfo=UTC)


def exact(text: str) -> DagRunInfo:
    return DagRunInfo.exact(u(text))


def interval(start: str, end: str) -> DagRunInfo:
    return DagRunInfo.interval(u(start), u(end))


def last(start: str, end: str | None = None) -> DataInterval:
    return DataInterval(u(start), u(end or start))


def restrict(earliest: str | None, latest: str | None = None, catchup: bool = True) -> TimeRestriction:
    return TimeRestriction(u(earliest) if earliest else None, u(latest) if latest else None, catchup)


@pytest.fixture
def freeze(monkeypatch: pytest.MonkeyPatch) -> Callable[[str | datetime], datetime]:
    """Freezes dagcore.utils.timezone.utcnow at a UTC table time (or an aware datetime)."""

    def set_now(value: str | datetime) -> datetime:
        now = u(value) if isinstance(value, str) else value
        monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: now)
        return now

    set_now(NOW)
    return set_now


def next_info(tt: Timetable, previous: DataInterval | None, restriction: TimeRestriction) -> DagRunInfo | None:
    return tt.next_dagrun_info(last_automated_data_interval=previous, restriction=restriction)


def assert_aware_utc(info: DagRunInfo) -> None:
    for value in (info.run_after, info.data_interval.start, info.data_interval.end):
        assert value.tzinfo is UTC, value


# -------------------------------------------------------------------------------------------------
# values and the clock seam


def test_data_interval_and_dag_run_info_values() -> None:
    t = u("2026-05-05T00:00")
    assert DataInterval.exact(t) == DataInterval(t, t)
    start, end = DataInterval(u("2026-05-04T00:00"), t)
    assert (start, end) == (u("2026-05-04T00:00"), t)
    info = DagRunInfo.interval(u("2026-05-04T00:00"), t)
    assert info.run_after == t
    assert info.logical_date == u("2026-05-04T00:00")
    assert DagRunInfo.exact(t) == DagRunInfo(t, DataInterval(t, t))
    assert DagRunInfo.exact(t).logical_date == t
    # Equal instants in different zones are equal values.
    assert DataInterval.exact(t) == DataInterval.exact(t.astimezone(ZoneInfo("Asia/Kolkata")))
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.run_after = t  # type: ignore[misc]
    assert TimeRestriction(t, None, True).catchup is True


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: DataInterval(datetime(2026, 1, 1), u("2026-01-02T00:00")), "DataInterval.start is a naive"),
        (lambda: DataInterval(u("2026-01-01T00:00"), datetime(2026, 1, 2)), "DataInterval.end is a naive"),
        (lambda: TimeRestriction(datetime(2026, 1, 1), None, True), "TimeRestriction.earliest is a naive"),
        (lambda: TimeRestriction(None, datetime(2026, 1, 1), True), "TimeRestriction.latest is a naive"),
        (lambda: DagRunInfo(datetime(2026, 1, 1), DataInterval.exact(u("2026-01-01T00:00"))),
         "DagRunInfo.run_after is a naive"),
    ],
    ids=["interval-start", "interval-end", "restriction-earliest", "restriction-latest", "run-after"],
)
def test_values_reject_naive_datetimes(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        build()
    assert "2026-01-0" in str(info.value)  # the message shows the value


def test_values_reject_non_datetimes() -> None:
    with pytest.raises(TypeError, match="DataInterval.start must be a datetime, got str"):
        DataInterval("2026-01-01", u("2026-01-01T00:00"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a DataInterval, got tuple"):
        DagRunInfo(u("2026-01-01T00:00"), (1, 2))  # type: ignore[arg-type]


def test_utcnow_is_aware_utc() -> None:
    now = dagcore.utils.timezone.utcnow()
    assert now.tzinfo is UTC
    assert now.utcoffset() == timedelta(0)


def test_timetables_read_the_clock_through_the_seam(freeze: Callable[[str], datetime]) -> None:
    freeze("2031-07-08T09:10")
    assert next_info(OnceTimetable(), None, restrict(None, catchup=False)) == exact("2031-07-08T09:10")
    freeze("2031-07-08T09:11")
    assert next_info(OnceTimetable(), None, restrict(None, catchup=False)) == exact("2031-07-08T09:11")


# -------------------------------------------------------------------------------------------------
# null, once, continuous


def test_null_timetable(freeze: Callable[[str], datetime]) -> None:
    tt = NullTimetable()
    assert (tt.periodic, tt.can_be_scheduled, tt.summary) == (False, False, "None")
    assert next_info(tt, None, restrict("2026-01-01T00:00")) is None
    assert next_info(tt, None, restrict(None, catchup=False)) is None
    assert tt.infer_manual_data_interval(run_after=u("2026-05-05T01:00")) == DataInterval.exact(u("2026-05-05T01:00"))


@pytest.mark.parametrize(
    ("previous", "restriction", "expected"),
    [
        (None, restrict("2026-01-01T05:00"), exact("2026-01-01T05:00")),
        # "@once" runs at the start date whether catchup is on or off.
        (None, restrict("2026-01-01T05:00", catchup=False), exact("2026-01-01T05:00")),
        (None, restrict(None, catchup=False), exact(NOW)),
        (None, restrict("2026-01-01T05:00", "2025-12-31T00:00"), None),
        (last("2026-01-01T05:00"), restrict("2026-01-01T05:00"), None),
    ],
    ids=["start-date", "no-catchup", "no-start-is-now", "after-end-date", "already-ran"],
)
def test_once_timetable(freeze: Callable[[str], datetime], previous: DataInterval | None,
                        restriction: TimeRestriction, expected: DagRunInfo | None) -> None:
    tt = OnceTimetable()
    assert (tt.periodic, tt.can_be_scheduled, tt.summary) == (False, True, "@once")
    assert next_info(tt, previous, restriction) == expected


@pytest.mark.parametrize(
    ("previous", "restriction", "expected"),
    [
        (None, restrict("2026-01-01T00:00"), interval("2026-01-01T00:00", NOW)),
        (None, restrict("2026-06-01T00:00"), interval("2026-06-01T00:00", "2026-06-01T00:00")),
        (last("2026-05-05T00:00", "2026-05-05T11:00"), restrict("2026-01-01T00:00"),
         interval("2026-05-05T11:00", NOW)),
        # The previous run ends in the future (a future start date): same length from the start.
        (last("2026-06-01T00:00", "2026-06-01T02:00"), restrict("2026-06-01T00:00"),
         interval("2026-06-01T00:00", "2026-06-01T02:00")),
        (None, restrict(None), None),
        (None, restrict("2026-01-01T00:00", "2026-05-01T00:00"), None),
    ],
    ids=["first", "future-start", "later", "previous-in-future", "no-start-date", "after-end-date"],
)
def test_continuous_timetable(freeze: Callable[[str], datetime], previous: DataInterval | None,
                              restriction: TimeRestriction, expected: DagRunInfo | None) -> None:
    tt = ContinuousTimetable()
    assert (tt.periodic, tt.active_runs_limit, tt.summary) == (False, 1, "@continuous")
    assert next_info(tt, previous, restriction) == expected


# -------------------------------------------------------------------------------------------------
# cron trigger


@pytest.mark.parametrize(
    ("previous", "restriction", "expected"),
    [
        # catchup on
        (None, restrict("2026-01-01T00:00"), exact("2026-01-01T00:00")),
        (None, restrict("2026-01-01T05:00"), exact("2026-01-02T00:00")),
        (last("2026-01-02T00:00"), restrict("2026-01-01T00:00"), exact("2026-01-03T00:00")),
        (last("2026-01-01T00:00", "2026-01-02T00:00"), restrict("2026-01-01T00:00"), exact("2026-01-03T00:00")),
        (last("2026-01-02T00:00"), restrict("2026-01-01T00:00", "2026-01-02T23:59"), None),
        (last("2026-01-02T00:00"), restrict("2026-01-01T00:00", "2026-01-03T00:00"), exact("2026-01-03T00:00")),
        # catchup off, now = 2026-05-05T12:00
        (None, restrict("2026-01-01T00:00", catchup=False), exact("2026-05-05T00:00")),
        (last("2026-01-10T00:00"), restrict("2026-01-01T00:00", catchup=False), exact("2026-05-05T00:00")),
        (last("2026-05-05T00:00"), restrict("2026-01-01T00:00", catchup=False), exact("2026-05-06T00:00")),
        (None, restrict("2026-06-01T03:00", catchup=False), exact("2026-06-02T00:00")),
    ],
    ids=["start-on-fire", "start-aligned-up", "after-run", "after-data-interval-run",
         "past-end-date", "at-end-date", "nc-old-start", "nc-old-run", "nc-today-ran",
         "nc-future-start"],
)
def test_cron_trigger_next_dagrun_info(freeze: Callable[[str], datetime], previous: DataInterval | None,
                                       restriction: TimeRestriction, expected: DagRunInfo | None) -> None:
    tt = CronTriggerTimetable("@daily", timezone="UTC")
    info = next_info(tt, previous, restriction)
    assert info == expected
    if info is not None:
        assert_aware_utc(info)


@pytest.mark.parametrize(
    ("run_immediately", "now", "expected"),
    [
        # Daily: the default buffer is max(10% of 24 h, 5 min) = 2 h 24 min after the past fire.
        (False, "2026-05-05T02:24", "2026-05-05T00:00"),
        (False, "2026-05-05T02:24:01", "2026-05-06T00:00"),
        (True, "2026-05-05T23:00", "2026-05-05T00:00"),
        (timedelta(hours=13), "2026-05-05T13:00", "2026-05-05T00:00"),
        (timedelta(hours=13), "2026-05-05T13:00:01", "2026-05-06T00:00"),
    ],
    ids=["default-within", "default-outside", "true", "delta-within", "delta-outside"],
)
def test_cron_trigger_first_run_without_start_date(freeze: Callable[[str], datetime],
                                                    run_immediately: bool | timedelta, now: str,
                                                    expected: str) -> None:
    freeze(now)
    tt = CronTriggerTimetable("0 0 * * *", timezone="UTC", run_immediately=run_immediately)
    assert next_info(tt, None, restrict(None)) == exact(expected)
    assert next_info(tt, None, restrict(None, catchup=False)) == exact(expected)


def test_cron_trigger_five_minute_floor_on_frequent_crons(freeze: Callable[[str], datetime]) -> None:
    tt = CronTriggerTimetable("*/10 * * * *", timezone="UTC")  # 10% would be 1 minute
    freeze("2026-05-05T12:05")
    assert next_info(tt, None, restrict(None)) == exact("2026-05-05T12:00")
    freeze("2026-05-05T12:05:01")
    assert next_info(tt, None, restrict(None)) == exact("2026-05-05T12:10")


def test_cron_trigger_interval_moves_the_logical_date(freeze: Callable[[str], datetime]) -> None:
    tt = CronTriggerTimetable("0 0 * * *", timezone="UTC", interval=timedelta(hours=1))
    info = next_info(tt, None, restrict("2026-01-01T05:00"))
    assert info == interval("2026-01-01T23:00", "2026-01-02T00:00")
    assert info is not None and info.logical_date == u("2026-01-01T23:00")
    assert tt.infer_manual_data_interval(run_after=u("2026-05-05T07:30")) == DataInterval(
        u("2026-05-05T06:30"), u("2026-05-05T07:30"))
    monthly = CronTriggerTimetable("0 0 31 * *", timezone="UTC", interval=relativedelta(months=1))
    assert next_info(monthly, None, restrict("2026-03-01T00:00")) == interval("2026-02-28T00:00", "2026-03-31T00:00")


def test_cron_trigger_in_a_zone_follows_dst(freeze: Callable[[str], datetime]) -> None:
    tt = CronTriggerTimetable("0 2 * * *", timezone="Europe/Zurich")
    # 2023-03-26 02:00 does not exist in Zurich: the run is at 03:00+02:00 = 01:00Z.
    assert next_info(tt, last("2023-03-25T01:00"), restrict("2023-03-01T00:00")) == exact("2023-03-26T01:00")
    # Accepts a ZoneInfo as well as a name.
    assert CronTriggerTimetable("0 2 * * *", timezone=ZoneInfo("Europe/Zurich")) == tt


# -------------------------------------------------------------------------------------------------
# multiple cron trigger


@pytest.mark.parametrize(
    ("now", "previous", "restriction", "expected"),
    [
        ("2026-05-05T10:00", None, restrict(None, catchup=False), exact("2026-05-05T09:00")),
        ("2026-05-05T12:00", None, restrict(None, catchup=False), exact("2026-05-05T17:00")),
        ("2026-05-05T18:00", last("2026-05-05T09:00"), restrict(None, catchup=False), exact("2026-05-05T17:00")),
        ("2026-05-06T00:00", last("2026-05-05T09:00"), restrict("2026-01-01T00:00"), exact("2026-05-05T17:00")),
    ],
    ids=["due-beats-future", "earliest-future", "latest-due", "catchup-earliest"],
)
def test_multiple_cron_trigger(freeze: Callable[[str], datetime], now: str, previous: DataInterval | None,
                               restriction: TimeRestriction, expected: DagRunInfo) -> None:
    freeze(now)
    tt = MultipleCronTriggerTimetable("0 9 * * *", "0 17 * * *", timezone="UTC")
    assert next_info(tt, previous, restriction) == expected


def test_multiple_cron_trigger_runs_a_shared_fire_once(freeze: Callable[[str], datetime]) -> None:
    tt = MultipleCronTriggerTimetable("0 */12 * * *", "@daily", "0 6 * * *", timezone="UTC")
    batch = tt.iter_dagrun_infos_between(u("2026-01-01T00:00"), u("2026-01-02T00:00"))
    assert batch.logical_dates == [u("2026-01-01T00:00"), u("2026-01-01T06:00"), u("2026-01-01T12:00"),
                                   u("2026-01-02T00:00")]
    assert tt.infer_manual_data_interval(run_after=u("2026-05-05T01:00")) == DataInterval.exact(u("2026-05-05T01:00"))
    with pytest.raises(ValueError, match="cron expression required"):
        MultipleCronTriggerTimetable(timezone="UTC")


# -------------------------------------------------------------------------------------------------
# cron data interval


@pytest.mark.parametrize(
    ("previous", "restriction", "expected"),
    [
        (None, restrict("2026-01-01T05:00"), interval("2026-01-02T00:00", "2026-01-03T00:00")),
        (None, restrict("2026-01-01T00:00"), interval("2026-01-01T00:00", "2026-01-02T00:00")),
        (last("2026-01-02T00:00", "2026-01-03T00:00"), restrict("2026-01-01T00:00"),
         interval("2026-01-03T00:00", "2026-01-04T00:00")),
        (None, restrict(None), None),
        (None, restrict("2026-01-02T00:00", "2026-01-01T23:00"), None),
        # The schedule changed: a previous interval off the schedule is aligned back.
        (last("2026-01-01T00:00", "2026-01-01T07:30"), restrict("2026-01-01T00:00"),
         interval("2026-01-01T00:00", "2026-01-02T00:00")),
        # Airflow's newest guard: a zero-length interval left by a trigger timetable is not re-run.
        (last("2026-05-05T00:00"), restrict("2026-01-01T00:00"), interval("2026-05-06T00:00", "2026-05-07T00:00")),
        # catchup off, now = 2026-05-05T12:00: the most recent complete period.
        (None, restrict("2026-01-01T00:00", catchup=False), interval("2026-05-04T00:00", "2026-05-05T00:00")),
        (None, restrict(None, catchup=False), interval("2026-05-04T00:00", "2026-05-05T00:00")),
        (last("2026-05-04T00:00", "2026-05-05T00:00"), restrict("2026-01-01T00:00", catchup=False),
         interval("2026-05-05T00:00", "2026-05-06T00:00")),
        (None, restrict("2026-06-01T03:00", catchup=False), interval("2026-06-02T00:00", "2026-06-03T00:00")),
    ],
    ids=["aligned-up", "on-fire", "after-run", "no-start", "after-end-date", "schedule-changed",
         "zero-length-previous", "nc-latest-complete", "nc-no-start", "nc-after-run", "nc-future-start"],
)
def test_cron_data_interval_next_dagrun_info(freeze: Callable[[str], datetime], previous: DataInterval | None,
                                             restriction: TimeRestriction, expected: DagRunInfo | None) -> None:
    tt = CronDataIntervalTimetable("@daily", "UTC")
    assert next_info(tt, previous, restriction) == expected


def test_cron_data_interval_no_catchup_exactly_on_a_boundary(freeze: Callable[[str], datetime]) -> None:
    freeze("2026-05-05T00:00")
    tt = CronDataIntervalTimetable("0 0 * * *", "UTC")
    assert next_info(tt, None, restrict("2026-01-01T00:00", catchup=False)) == interval(
        "2026-05-04T00:00", "2026-05-05T00:00")


@pytest.mark.parametrize(
    ("run_after", "expected"),
    [
        ("2026-05-25T01:00", ("2026-05-24T00:00", "2026-05-25T00:00")),
        ("2026-05-25T00:00", ("2026-05-24T00:00", "2026-05-25T00:00")),
    ],
    ids=["mid-period", "on-boundary"],
)
def test_cron_data_interval_infer_manual(run_after: str, expected: tuple[str, str]) -> None:
    tt = CronDataIntervalTimetable("0 0 * * *", "UTC")
    assert tt.infer_manual_data_interval(run_after=u(run_after)) == DataInterval(u(expected[0]), u(expected[1]))


@pytest.mark.parametrize(
    ("zone", "start", "end", "hours"),
    [
        ("Europe/Amsterdam", "2026-03-28T23:00", "2026-03-29T22:00", 23),    # 00:00+01 -> 00:00+02
        ("Europe/Amsterdam", "2026-10-24T22:00", "2026-10-25T23:00", 25),    # 00:00+02 -> 00:00+01
        ("America/New_York", "2026-03-08T05:00", "2026-03-09T04:00", 23),    # 00:00-05 -> 00:00-04
        ("America/New_York", "2026-11-01T04:00", "2026-11-02T05:00", 25),    # 00:00-04 -> 00:00-05
        ("Australia/Lord_Howe", "2026-04-04T13:00", "2026-04-05T13:30", 24.5),  # +11 -> +10:30
        ("Australia/Lord_Howe", "2026-10-03T13:30", "2026-10-04T13:00", 23.5),  # +10:30 -> +11
        ("Asia/Kolkata", "2026-05-04T18:30", "2026-05-05T18:30", 24),        # +05:30, no DST
    ],
    ids=["ams-spring", "ams-autumn", "nyc-spring", "nyc-autumn", "lhi-autumn", "lhi-spring", "kolkata"],
)
def test_daily_data_intervals_across_dst(zone: str, start: str, end: str, hours: float) -> None:
    tt = CronDataIntervalTimetable("0 0 * * *", zone)
    info = next_info(tt, None, restrict(start))
    assert info == interval(start, end)
    assert info is not None
    assert info.data_interval.end - info.data_interval.start == timedelta(hours=hours)
    # Both ends are local midnights.
    local = ZoneInfo(zone)
    assert info.data_interval.start.astimezone(local).hour == 0
    assert info.data_interval.end.astimezone(local).hour == 0


# -------------------------------------------------------------------------------------------------
# delta trigger and delta data interval


@pytest.mark.parametrize(
    ("previous", "restriction", "expected"),
    [
        (None, restrict("2026-01-01T05:00"), exact("2026-01-01T05:00")),
        (last("2026-01-01T05:00"), restrict("2026-01-01T05:00"), exact("2026-01-01T11:00")),
        (None, restrict(None), exact(NOW)),
        (None, restrict("2026-01-01T00:00", catchup=False), exact(NOW)),
        (last("2026-05-05T09:00"), restrict("2026-01-01T00:00", catchup=False), exact("2026-05-05T15:00")),
        (None, restrict("2026-06-01T00:00", catchup=False), exact("2026-06-01T00:00")),
        (last("2026-01-01T05:00"), restrict("2026-01-01T05:00", "2026-01-01T10:00"), None),
    ],
    ids=["start-unaligned", "after-run", "no-start-is-now", "nc-old-start-is-now", "nc-recent-run",
         "nc-future-start", "after-end-date"],
)
def test_delta_trigger_next_dagrun_info(freeze: Callable[[str], datetime], previous: DataInterval | None,
                                        restriction: TimeRestriction, expected: DagRunInfo | None) -> None:
    tt = DeltaTriggerTimetable(timedelta(hours=6))
    assert next_info(tt, previous, restriction) == expected


def test_delta_trigger_interval_and_manual_runs(freeze: Callable[[str], datetime]) -> None:
    tt = DeltaTriggerTimetable(timedelta(days=1), interval=timedelta(hours=2))
    assert next_info(tt, None, restrict("2026-01-01T00:00")) == interval("2025-12-31T22:00", "2026-01-01T00:00")
    assert tt.infer_manual_data_interval(run_after=u("2026-05-05T01:00")) == DataInterval(
        u("2026-05-04T23:00"), u("2026-05-05T01:00"))


@pytest.mark.parametrize(
    ("delta", "previous", "restriction", "expected"),
    [
        (timedelta(days=1), None, restrict("2026-01-01T05:00"), interval("2026-01-01T05:00", "2026-01-02T05:00")),
        (timedelta(days=1), last("2026-01-01T05:00", "2026-01-02T05:00"), restrict("2026-01-01T05:00"),
         interval("2026-01-02T05:00", "2026-01-03T05:00")),
        # catchup off: now floored to whole deltas since the epoch, then one delta back.
        (timedelta(days=1), None, restrict("2026-01-01T05:00", catchup=False),
         interval("2026-05-04T00:00", "2026-05-05T00:00")),
        (timedelta(hours=7), None, restrict("2026-01-01T00:00", catchup=False),
         interval("2026-05-04T23:00", "2026-05-05T06:00")),
        (timedelta(hours=7), None, restrict("2026-05-05T01:00", catchup=False),
         interval("2026-05-05T01:00", "2026-05-05T08:00")),
        (timedelta(days=1), last("2026-05-01T00:00"), restrict("2026-01-01T00:00"),
         interval("2026-05-02T00:00", "2026-05-03T00:00")),
    ],
    ids=["start-unaligned", "after-run", "nc-day-grid", "nc-7h-grid", "nc-start-after-grid",
         "zero-length-previous"],
)
def test_delta_data_interval_next_dagrun_info(freeze: Callable[[str], datetime], delta: timedelta,
                                              previous: DataInterval | None, restriction: TimeRestriction,
                                              expected: DagRunInfo) -> None:
    assert next_info(DeltaDataIntervalTimetable(delta), previous, restriction) == expected


@pytest.mark.parametrize(
    ("now", "start", "expected"),
    [
        # Boundaries from Jan 31 go one month at a time: Feb 28, Mar 28, Apr 28, May 28, Jun 28.
        ("2026-06-29T00:00", "2026-01-31T00:00", ("2026-05-28T00:00", "2026-06-28T00:00")),
        ("2026-02-27T00:00", "2026-01-31T00:00", ("2026-01-31T00:00", "2026-02-28T00:00")),
        ("2026-04-15T00:00", "2026-01-15T00:00", ("2026-03-15T00:00", "2026-04-15T00:00")),
    ],
    ids=["clamped-walk", "first-period-running", "on-boundary"],
)
def test_monthly_delta_no_catchup_stays_aligned_to_the_start_date(
        freeze: Callable[[str], datetime], now: str, start: str, expected: tuple[str, str]) -> None:
    freeze(now)
    tt = DeltaDataIntervalTimetable(relativedelta(months=1))
    assert next_info(tt, None, restrict(start, catchup=False)) == interval(*expected)


def test_calendar_deltas_step_one_period_at_a_time(freeze: Callable[[str], datetime]) -> None:
    start, end = u("2026-01-31T00:00"), u("2026-05-31T00:00")
    trigger = DeltaTriggerTimetable(relativedelta(months=1))
    assert trigger.iter_dagrun_infos_between(start, end).logical_dates == [
        u("2026-01-31T00:00"), u("2026-02-28T00:00"), u("2026-03-28T00:00"), u("2026-04-28T00:00"),
        u("2026-05-28T00:00")]
    data = DeltaDataIntervalTimetable(relativedelta(months=1))
    assert data.iter_dagrun_infos_between(start, u("2026-03-28T00:00")).data_interval_ends == [
        u("2026-02-28T00:00"), u("2026-03-28T00:00"), u("2026-04-28T00:00")]
    assert data.infer_manual_data_interval(run_after=u("2026-03-31T00:00")) == DataInterval(
        u("2026-02-28T00:00"), u("2026-03-31T00:00"))
    # Years and the fixed part: Feb 29 + 1 year = Feb 28, then + 1 day.
    yearly = DeltaTriggerTimetable(relativedelta(years=1, days=1))
    assert yearly.iter_dagrun_infos_between(u("2024-02-29T00:00"), u("2025-12-31T00:00")).logical_dates == [
        u("2024-02-29T00:00"), u("2025-03-01T00:00")]


# -------------------------------------------------------------------------------------------------
# periodic, summary, serialize


@pytest.mark.parametrize(
    ("tt", "periodic", "can_be_scheduled", "summary"),
    [
        (NullTimetable(), False, False, "None"),
        (OnceTimetable(), False, True, "@once"),
        (ContinuousTimetable(), False, True, "@continuous"),
        (CronTriggerTimetable("@daily", timezone="UTC"), True, True, "0 0 * * *"),
        (CronTriggerTimetable("@midnight", timezone="UTC"), True, True, "@midnight"),
        (CronTriggerTimetable("*/5 * * * *", timezone="UTC"), True, True, "*/5 * * * *"),
        (MultipleCronTriggerTimetable("@hourly", "30 1 * * *", timezone="UTC"), True, True,
         "0 * * * *, 30 1 * * *"),
        (CronDataIntervalTimetable("@weekly", "UTC"), True, True, "0 0 * * 0"),
        (DeltaTriggerTimetable(timedelta(days=1)), True, True, "1 day, 0:00:00"),
        (DeltaDataIntervalTimetable(relativedelta(months=1)), True, True, "relativedelta(months=+1)"),
    ],
    ids=["null", "once", "continuous", "cron-preset", "cron-alias", "cron", "multiple", "cron-data",
         "delta", "relativedelta"],
)
def test_kind_properties(tt: Timetable, periodic: bool, can_be_scheduled: bool, summary: str) -> None:
    assert (tt.periodic, tt.can_be_scheduled, tt.summary) == (periodic, can_be_scheduled, summary)


@pytest.mark.parametrize(
    ("tt", "data"),
    [
        (NullTimetable(), {}),
        (OnceTimetable(), {}),
        (ContinuousTimetable(), {}),
        (CronTriggerTimetable("@daily", timezone="Europe/Amsterdam"),
         {"expression": "0 0 * * *", "timezone": "Europe/Amsterdam", "interval": 0.0,
          "run_immediately": False}),
        (CronTriggerTimetable("0 3 * * *", timezone="UTC", interval=timedelta(hours=1, microseconds=5),
                              run_immediately=timedelta(minutes=10)),
         {"expression": "0 3 * * *", "timezone": "UTC", "interval": 3600.000005, "run_immediately": 600.0}),
        (CronTriggerTimetable("0 0 1 * *", timezone="UTC", interval=relativedelta(months=1), run_immediately=True),
         {"expression": "0 0 1 * *", "timezone": "UTC", "interval": {"months": 1}, "run_immediately": True}),
        (CronTriggerTimetable("H H * * *", timezone="UTC", hash_key="etl_daily"),
         {"expression": "H H * * *", "timezone": "UTC", "hash_key": "etl_daily", "interval": 0.0,
          "run_immediately": False}),
        (MultipleCronTriggerTimetable("0 9 * * *", "0 17 * * *", timezone="Asia/Kolkata"),
         {"expressions": ["0 9 * * *", "0 17 * * *"], "timezone": "Asia/Kolkata", "interval": 0.0,
          "run_immediately": False}),
        (CronDataIntervalTimetable("@hourly", "America/New_York"),
         {"expression": "0 * * * *", "timezone": "America/New_York"}),
        (DeltaTriggerTimetable(timedelta(minutes=90), interval=timedelta(minutes=30)),
         {"delta": 5400.0, "interval": 1800.0}),
        (DeltaDataIntervalTimetable(timedelta(days=1)), {"delta": 86400.0}),
        (DeltaDataIntervalTimetable(relativedelta(years=1, months=2, weeks=1, hours=3)),
         {"delta": {"years": 1, "months": 2, "days": 7, "hours": 3}}),
    ],
    ids=["null", "once", "continuous", "cron", "cron-interval", "cron-relative-interval", "cron-hashed",
         "multiple", "cron-data", "delta-trigger", "delta-data", "relativedelta"],
)
def test_serialize_is_airflows_format_and_round_trips(tt: Timetable, data: dict[str, object]) -> None:
    assert tt.serialize() == data
    again = type(tt).deserialize(json.loads(json.dumps(tt.serialize())))
    assert again == tt
    assert hash(again) == hash(tt)
    assert again.serialize() == data
    assert again.summary == tt.summary
    assert pickle.loads(pickle.dumps(tt)) == tt
    assert copy.deepcopy(tt) == tt


def test_deserialized_timetables_behave_the_same(freeze: Callable[[str], datetime]) -> None:
    original = CronTriggerTimetable("0 */6 * * *", timezone="Europe/Amsterdam", interval=timedelta(hours=6))
    again = CronTriggerTimetable.deserialize(original.serialize())
    restriction = restrict("2026-03-28T00:00", "2026-03-30T00:00")
    assert list(again.iter_dagrun_infos_between(restriction.earliest, restriction.latest)) == list(
        original.iter_dagrun_infos_between(restriction.earliest, restriction.latest))


def test_equality_compares_kind_and_parameters() -> None:
    assert CronTriggerTimetable("@daily", timezone="UTC") == CronTriggerTimetable("0 0 * * *", timezone="UTC")
    assert CronTriggerTimetable("@daily", timezone="UTC") != CronTriggerTimetable("@daily", timezone="Asia/Kolkata")
    assert CronTriggerTimetable("@daily", timezone="UTC") != CronDataIntervalTimetable("@daily", "UTC")
    assert DeltaTriggerTimetable(timedelta(days=1)) != DeltaDataIntervalTimetable(timedelta(days=1))
    assert NullTimetable() == NullTimetable()
    assert repr(CronTriggerTimetable("@daily", timezone="UTC")) == "CronTriggerTimetable('0 0 * * *', timezone='UTC')"
    assert repr(DeltaDataIntervalTimetable(timedelta(hours=1))) == (
        "DeltaDataIntervalTimetable(datetime.timedelta(seconds=3600))")


# -------------------------------------------------------------------------------------------------
# create_timetable


@pytest.mark.parametrize(
    ("schedule", "data_intervals", "expected"),
    [
        (None, False, NullTimetable()),
        ("@once", False, OnceTimetable()),
        ("@once", True, OnceTimetable()),
        ("@continuous", False, ContinuousTimetable()),
        ("@daily", False, CronTriggerTimetable("0 0 * * *", timezone="Europe/Amsterdam")),
        ("@daily", True, CronDataIntervalTimetable("0 0 * * *", "Europe/Amsterdam")),
        ("*/5 * * * *", False, CronTriggerTimetable("*/5 * * * *", timezone="Europe/Amsterdam")),
        ("@midnight", False, CronTriggerTimetable("@midnight", timezone="Europe/Amsterdam")),
        (timedelta(hours=1), False, DeltaTriggerTimetable(timedelta(hours=1))),
        (timedelta(hours=1), True, DeltaDataIntervalTimetable(timedelta(hours=1))),
        (relativedelta(months=1), False, DeltaTriggerTimetable(relativedelta(months=1))),
        (relativedelta(months=1), True, DeltaDataIntervalTimetable(relativedelta(months=1))),
    ],
    ids=["none", "once", "once-data-intervals", "continuous", "preset", "preset-data-intervals", "cron",
         "alias", "timedelta", "timedelta-data-intervals", "relativedelta", "relativedelta-data-intervals"],
)
def test_create_timetable(schedule: object, data_intervals: bool, expected: Timetable) -> None:
    tt = create_timetable(schedule, "Europe/Amsterdam", cron_data_intervals=data_intervals)
    assert type(tt) is type(expected)
    assert tt == expected


def test_create_timetable_passes_timetables_through_and_seeds_hashes() -> None:
    tt = DeltaTriggerTimetable(timedelta(days=2))
    assert create_timetable(tt, "UTC") is tt
    hashed = create_timetable("H H * * *", "UTC", hash_key="dag_a")
    assert hashed == CronTriggerTimetable("H H * * *", timezone="UTC", hash_key="dag_a")
    with pytest.raises(CronError):
        create_timetable("H H * * *", "UTC")  # H needs a hash key


@pytest.mark.parametrize(
    "schedule", [42, 1.5, True, ["@daily"], {"cron": "@daily"}, object()],
    ids=["int", "float", "bool", "list", "dict", "object"],
)
def test_create_timetable_rejects_other_values(schedule: object) -> None:
    with pytest.raises(ValueError) as info:
        create_timetable(schedule, "UTC")
    assert str(info.value) == f"{schedule!r} is not a valid schedule."


# -------------------------------------------------------------------------------------------------
# run ids


class RunType(str, enum.Enum):
    BACKFILL = "backfill"
    SCHEDULED = "scheduled"


@pytest.mark.parametrize(
    ("run_type", "run_after", "expected"),
    [
        ("scheduled", datetime(2026, 5, 5, tzinfo=UTC), "scheduled__2026-05-05T00:00:00+00:00"),
        ("backfill", datetime(2026, 5, 5, 6, 30, tzinfo=UTC), "backfill__2026-05-05T06:30:00+00:00"),
        ("manual", datetime(2026, 5, 5, 0, 0, 0, 123, tzinfo=UTC), "manual__2026-05-05T00:00:00.000123+00:00"),
        ("asset_triggered", datetime(2026, 5, 5, tzinfo=UTC), "asset_triggered__2026-05-05T00:00:00+00:00"),
        (RunType.BACKFILL, datetime(2026, 5, 5, tzinfo=UTC), "backfill__2026-05-05T00:00:00+00:00"),
        # Another zone is written in UTC: 02:00+02:00 is 00:00Z.
        ("scheduled", datetime(2026, 5, 5, 2, tzinfo=ZoneInfo("Europe/Amsterdam")),
         "scheduled__2026-05-05T00:00:00+00:00"),
    ],
    ids=["scheduled", "backfill", "manual-micros", "asset", "enum", "other-zone"],
)
def test_generate_run_id(run_type: str | RunType, run_after: datetime, expected: str) -> None:
    tt = CronDataIntervalTimetable("@daily", "UTC")
    assert tt.generate_run_id(run_type=run_type, run_after=run_after,
                              data_interval=DataInterval(run_after - timedelta(days=1), run_after)) == expected


def test_run_id_of_a_data_interval_run_uses_run_after(freeze: Callable[[str], datetime]) -> None:
    # The daily run for 2026-05-04 is due at 2026-05-05T00:00, its run id names run_after.
    tt = CronDataIntervalTimetable("@daily", "UTC")
    info = next_info(tt, None, restrict("2026-05-04T00:00"))
    assert info is not None
    assert tt.generate_run_id(run_type="scheduled", run_after=info.run_after,
                              data_interval=info.data_interval) == "scheduled__2026-05-05T00:00:00+00:00"


def test_generate_run_id_errors() -> None:
    tt = NullTimetable()
    with pytest.raises(ValueError, match="run_type must be one of .* got 'nightly'"):
        tt.generate_run_id(run_type="nightly", run_after=u(NOW), data_interval=None)
    with pytest.raises(ValueError, match="run_after is a naive datetime"):
        tt.generate_run_id(run_type="manual", run_after=datetime(2026, 5, 5), data_interval=None)


# -------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: CronTriggerTimetable("@daily", timezone="UTC").infer_manual_data_interval(
            run_after=datetime(2026, 5, 5)), ValueError, r"run_after is a naive datetime \(2026-05-05 00:00:00\)"),
        (lambda: CronTriggerTimetable("@daily", timezone="UTC").iter_dagrun_infos_between(
            datetime(2026, 5, 5), u(NOW)), ValueError, r"earliest is a naive datetime \(2026-05-05 00:00:00\)"),
        (lambda: CronTriggerTimetable("@daily", timezone="UTC").iter_dagrun_infos_between(
            u(NOW), datetime(2026, 5, 6)), ValueError, r"latest is a naive datetime \(2026-05-06 00:00:00\)"),
        (lambda: CronTriggerTimetable("@daily", timezone="Mars/Olympus"), ValueError, "Mars/Olympus"),
        (lambda: CronDataIntervalTimetable("@daily", "Not/AZone"), ValueError, "Not/AZone"),
        (lambda: CronTriggerTimetable("@daily", timezone=timezone(timedelta(hours=2))), ValueError,
         r"timedelta\(seconds=7200\)\) has no name in the time-zone database"),
        (lambda: CronTriggerTimetable("0 0 1 13 *", timezone="UTC"), CronError,
         r"\[0 0 1 13 \*\] is not acceptable"),
        (lambda: CronTriggerTimetable(5, timezone="UTC"), TypeError, "cron must be a str, got int"),
        (lambda: CronTriggerTimetable("@daily", timezone=5), TypeError, "timezone must be a zone name"),
        (lambda: CronTriggerTimetable("@daily", timezone="UTC", interval=timedelta(hours=-1)), ValueError,
         r"interval must not be negative, got datetime.timedelta\(days=-1, seconds=82800\)"),
        (lambda: CronTriggerTimetable("@daily", timezone="UTC", interval=3600), TypeError,
         "interval must be a timedelta or a dateutil relativedelta, got int"),
        (lambda: CronTriggerTimetable("@daily", timezone="UTC", run_immediately="yes"), TypeError,
         "run_immediately must be a bool or a timedelta, got str"),
        (lambda: CronTriggerTimetable("@daily", timezone="UTC", run_immediately=timedelta(minutes=-1)),
         ValueError, "run_immediately must not be a negative timedelta"),
        (lambda: DeltaTriggerTimetable(timedelta(0)), ValueError,
         r"schedule interval must be positive, not datetime.timedelta\(0\)"),
        (lambda: DeltaDataIntervalTimetable(timedelta(hours=-3)), ValueError,
         r"schedule interval must be positive, not datetime.timedelta\(days=-1, seconds=75600\)"),
        (lambda: DeltaDataIntervalTimetable(relativedelta(months=-1)), ValueError,
         r"schedule interval must be positive, not relativedelta\(months=-1\)"),
        # Airflow's validate() only checks now + delta > now; a relativedelta the C++ core cannot
        # express must move every date forward (checked on two years of dates), and the message
        # names a date it does not move.
        (lambda: DeltaDataIntervalTimetable(relativedelta(months=1, days=-28)), ValueError,
         r"schedule interval must be positive, not relativedelta\(months=\+1, days=-28\) \(it moves "
         r"2023-01-31 00:00:00 to 2023-01-31 00:00:00\)"),
        (lambda: DeltaTriggerTimetable(relativedelta(day=31)), ValueError,
         r"schedule interval must be positive, not relativedelta\(day=31\)"),
        (lambda: DeltaDataIntervalTimetable(relativedelta(weekday=FR(-1), days=1)), ValueError,
         r"schedule interval must be positive, not relativedelta\(days=\+1, weekday=FR\(-1\)\)"),
        (lambda: DeltaTriggerTimetable(relativedelta(year=2026, hour=3, days=1)), ValueError,
         "sets year=2026: a schedule with a fixed year does not repeat"),
        (lambda: DeltaTriggerTimetable(relativedelta(leapdays=1)), ValueError,
         r"schedule interval must be positive, not relativedelta\(leapdays=\+1\)"),
        (lambda: DeltaTriggerTimetable("1 day"), TypeError, "must be a timedelta or a dateutil relativedelta"),
        (lambda: DeltaTriggerTimetable(relativedelta(years=20_000)), ValueError,
         r"schedule interval relativedelta\(years=\+20000\) is out of range"),
        (lambda: DeltaTriggerTimetable(timedelta(days=999_999_999)), ValueError, "is out of range"),
        (lambda: DeltaTriggerTimetable(timedelta(days=1), interval=timedelta(days=-1)), ValueError,
         "interval must not be negative"),
        (lambda: CronTriggerTimetable("@daily", timezone="UTC").iter_dagrun_infos_between(
            u(NOW), u(NOW), max_runs=-1), ValueError, "max_runs must not be negative, got -1"),
        (lambda: CronTriggerTimetable("@daily", timezone="UTC").iter_dagrun_infos_between(
            u(NOW), u(NOW), max_runs=1.5), TypeError, "max_runs must be an int, got float"),
    ],
    ids=["naive-run-after", "naive-earliest", "naive-latest", "unknown-zone", "unknown-zone-data",
         "fixed-offset", "bad-cron", "cron-type", "zone-type", "negative-interval", "interval-type",
         "run-immediately-type", "negative-run-immediately", "zero-delta", "negative-delta",
         "negative-months", "mixed-signs", "absolute-day", "absolute-weekday", "absolute-year-hour",
         "leapdays", "delta-type", "huge-relativedelta", "huge-timedelta", "negative-trigger-interval",
         "negative-max-runs", "max-runs-type"],
)
def test_bad_input_is_named(call: Callable[[], object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_naive_restriction_and_previous_interval_are_rejected(freeze: Callable[[str], datetime]) -> None:
    tt = CronTriggerTimetable("@daily", timezone="UTC")
    with pytest.raises(ValueError, match="naive"):
        next_info(tt, None, TimeRestriction(datetime(2026, 1, 1), None, True))

    class LegacyInterval:  # an Airflow-style interval object that bypasses DataInterval's checks
        start = datetime(2026, 1, 1)
        end = datetime(2026, 1, 2)

    with pytest.raises(ValueError, match=r"last_automated_data_interval.start is a naive datetime"):
        next_info(tt, LegacyInterval(), restrict("2026-01-01T00:00"))  # type: ignore[arg-type]


def test_a_clock_that_returns_naive_time_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: datetime(2026, 5, 5))
    with pytest.raises(ValueError, match=r"utcnow\(\) is a naive datetime"):
        next_info(OnceTimetable(), None, restrict(None))


def test_cron_error_is_a_value_error() -> None:
    assert issubclass(CronError, ValueError)
    with pytest.raises(ValueError, match=r"\[61 \* \* \* \*\] is not acceptable"):
        create_timetable("61 * * * *", "UTC")
