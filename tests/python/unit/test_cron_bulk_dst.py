"""The bulk cron walk in zones with DST equals the per-date path (docs/performance.md section 1).

``CronSchedule.between`` (and everything built on it: ``CronExpression.between``, the cron
timetables' ``iter_dagrun_infos_between``) walks a zone one segment of constant offset at a time
and generates the wall times inside a segment without a search per fire; only the instants next
to a transition go through ``next()``. ``CronSchedule.between_per_date`` is the per-date path
(``align_to_next(start)``, then ``next()`` of each fire), and a Python loop over ``next()`` is
the same thing one binding call at a time. Hypothesis draws cron expressions, zones with every
kind of transition (Lord Howe's 30 minutes, midnight changes in Havana, Beirut, Santiago and
historical Sao Paulo, negative DST in Dublin, Apia's skipped day) and ranges that cross them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dagcore._native import core
from dagcore.cron import CronError, CronExpression
from dagcore.timetables import CronDataIntervalTimetable, CronTriggerTimetable

UTC = timezone.utc

ZONES = ["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "Europe/London",
         "America/Sao_Paulo", "America/Havana", "Asia/Beirut", "America/Santiago",
         "Europe/Dublin", "Pacific/Apia", "Asia/Kolkata", "Pacific/Chatham", "UTC"]

# Transitions (UTC) the ranges start near: both directions, midnight ones, 30-minute ones.
ANCHORS = [
    datetime(2026, 3, 29, 1, tzinfo=UTC),    # Amsterdam/London/Dublin spring forward
    datetime(2026, 10, 25, 1, tzinfo=UTC),   # ... fall back
    datetime(2026, 3, 8, 7, tzinfo=UTC),     # New York spring forward
    datetime(2026, 11, 1, 6, tzinfo=UTC),    # New York fall back
    datetime(2026, 4, 4, 15, tzinfo=UTC),    # Lord Howe 30 minutes back
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),  # Lord Howe 30 minutes forward
    datetime(2018, 11, 4, 3, tzinfo=UTC),    # Sao Paulo DST at midnight
    datetime(2019, 2, 17, 2, tzinfo=UTC),
    datetime(2026, 3, 8, 5, tzinfo=UTC),     # Havana at midnight
    datetime(2026, 3, 28, 22, tzinfo=UTC),   # Beirut at midnight
    datetime(2026, 9, 6, 4, tzinfo=UTC),     # Santiago at midnight
    datetime(2026, 4, 5, 3, tzinfo=UTC),
    datetime(2011, 12, 30, 10, tzinfo=UTC),  # Apia skips a day
    datetime(1945, 6, 1, tzinfo=UTC),        # wartime double summer times
]

MINUTES = ["0", "30", "*/15", "*/20", "5,35", "10-50/20", "59"]
HOURS = ["*", "0", "1", "2", "3", "23", "0,2", "1-3", "*/4", "9-17", "2,12"]
DOMS = ["*", "*", "*", "1", "L", "1,15", "10-20"]
MONTHS = ["*", "*", "*", "3,10", "*/2", "4-9"]
DOWS = ["*", "*", "*", "1-5", "0", "sat,sun", "5L", "1#2"]


@st.composite
def crons(draw: st.DrawFn) -> str:
    fields = (MINUTES, HOURS, DOMS, MONTHS, DOWS)
    return " ".join(draw(st.sampled_from(options)) for options in fields)


def loop_of_next(expr: CronExpression, start: datetime, end: datetime) -> list[datetime]:
    """Airflow's iteration through the per-date binding: align_to_next(start), then next()."""
    out: list[datetime] = []
    t = start if expr.matches(start) else expr.next(start)
    while t is not None and t <= end:
        out.append(t)
        t = expr.next(t)
    return out


@settings(max_examples=300, deadline=None)
@given(cron=crons(), zone=st.sampled_from(ZONES), anchor=st.sampled_from(ANCHORS),
       before_minutes=st.integers(0, 4 * 24 * 60), seconds=st.sampled_from([0, 0, 1, 59]),
       length_minutes=st.integers(0, 60 * 24 * 200))
def test_between_equals_the_per_date_path(cron: str, zone: str, anchor: datetime,
                                          before_minutes: int, seconds: int,
                                          length_minutes: int) -> None:
    try:
        schedule = core.CronSchedule(cron, zone, None)
    except CronError:
        return  # a day-of-month no allowed month has: rejected by contract
    start = anchor - timedelta(minutes=before_minutes, seconds=seconds)
    if schedule.fires_at_least_hourly:
        length_minutes //= 10  # keep sub-hourly crons to a few thousand fires
    end = start + timedelta(minutes=length_minutes)
    reference = schedule.between_per_date(start, end)
    assert schedule.between(start, end) == reference
    assert schedule.count_between(start, end) == len(reference)
    assert CronExpression(cron, timezone=zone).between(start, end) == reference
    assert CronTriggerTimetable(cron, timezone=zone).iter_dagrun_infos_between(
        start, end).logical_dates == reference
    if len(reference) <= 400:
        assert loop_of_next(CronExpression(cron, timezone=zone), start, end) == reference


@settings(max_examples=60, deadline=None)
@given(cron=crons(), zone=st.sampled_from(ZONES), year=st.integers(1970, 2060))
def test_data_interval_timetable_over_a_year(cron: str, zone: str, year: int) -> None:
    try:
        schedule = core.CronSchedule(cron, zone, None)
    except CronError:
        return
    start = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    if schedule.fires_at_least_hourly:
        end = start + timedelta(days=40)
    reference = schedule.between_per_date(start, end)
    batch = CronDataIntervalTimetable(cron, timezone=zone).iter_dagrun_infos_between(start, end)
    # Each interval starts on a fire; the last fire has no following one inside the range.
    assert batch.data_interval_starts == reference
    assert batch.data_interval_ends[:-1] == reference[1:]


def test_benchmark_ranges_equal_the_per_date_path() -> None:
    """The two DST workloads of benchmarks/schedule_bench.py, whole."""
    for cron, zone, years in (("0 * * * *", "Europe/Amsterdam", 1),
                              ("0 9 * * 1-5", "America/New_York", 10)):
        schedule = core.CronSchedule(cron, zone, None)
        start = datetime(2025, 1, 1, tzinfo=UTC)
        end = datetime(2025 + years, 1, 1, tzinfo=UTC)
        reference = schedule.between_per_date(start, end)
        assert len(reference) > 2000
        assert schedule.between(start, end) == reference
        # The benchmark's C++-only figures count the same fires both ways.
        assert schedule.count_generated(start, end) == len(reference)
        assert schedule.count_generated(start, end, per_date=True) == len(reference)


def test_per_date_path_checks_max_runs_like_between() -> None:
    schedule = core.CronSchedule("*/30 * * * *", "Europe/Amsterdam", None)
    start = datetime(2026, 3, 28, tzinfo=UTC)
    end = datetime(2026, 3, 30, tzinfo=UTC)
    n = schedule.count_between(start, end)
    # Absolute-time steps (hour `*`): every half hour of the 48 UTC hours, both ends included.
    assert n == len(schedule.between_per_date(start, end)) == 97
    for run in (schedule.between, schedule.between_per_date):
        message = f"^the range holds {n} runs, more than max_runs={n - 1}$"
        with pytest.raises(ValueError, match=message):
            run(start, end, max_runs=n - 1)
