"""Hypothesis properties of plan_backfill on random schedules, zones, ranges, clocks and runs:

* the plan equals Airflow's procedure written plainly in Python (next_dagrun_info one run at a
  time between from and to, the "ended before now" filter, reversal, one dict lookup per date);
* a plan has exactly one entry per date, ordinals 1..N;
* forward and backward plans mirror each other;
* a timetable written in Python (delegating to a built-in one) gets the same plan.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from dagcore.backfill import BackfillPlanEntry, ReprocessBehavior, plan_backfill
from dagcore.state import DagRunState
from dagcore.timetables import (
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DagRunInfo,
    DataInterval,
    DeltaDataIntervalTimetable,
    DeltaTriggerTimetable,
    MultipleCronTriggerTimetable,
    TimeRestriction,
    Timetable,
)

UTC = timezone.utc
ZONES = ["UTC", "Europe/Zurich", "America/New_York", "Australia/Lord_Howe"]
CRONS = ["@daily", "0 * * * *", "*/30 * * * *", "0 2 * * *", "0 9-17 * * 1-5", "0 0 L * *",
         "30 1 * * 0"]

zones = st.sampled_from(ZONES)
crons = st.sampled_from(CRONS)
intervals = st.sampled_from([timedelta(0), timedelta(hours=1), relativedelta(months=1)])

timetables = st.one_of(
    st.builds(lambda c, z, i: CronTriggerTimetable(c, timezone=z, interval=i), crons, zones,
              intervals),
    st.builds(CronDataIntervalTimetable, crons, zones),
    st.builds(lambda z: MultipleCronTriggerTimetable("0 6 * * *", "30 18 * * 1-5", timezone=z),
              zones),
    st.builds(lambda m, i: DeltaTriggerTimetable(timedelta(minutes=m), interval=i),
              st.integers(20, 3000), intervals),
    st.builds(DeltaDataIntervalTimetable,
              st.one_of(st.integers(20, 3000).map(lambda m: timedelta(minutes=m)),
                        st.just(relativedelta(months=1)))),
)

from_dates = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 6, 1),
                          timezones=st.just(UTC)).map(lambda d: d.replace(second=0, microsecond=0))
spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20))
# now is after from_date (else the request is refused), anywhere up to well after to_date
lags = st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=30))
behaviors = st.sampled_from(list(ReprocessBehavior))
states = st.sampled_from(list(DagRunState))


def airflow_infos(tt: Timetable, earliest: datetime, latest: datetime) -> list[DagRunInfo]:
    """Airflow's iter_dagrun_infos_between: next_dagrun_info until it returns None."""
    restriction = TimeRestriction(earliest, latest, True)
    out: list[DagRunInfo] = []
    info = tt.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    while info is not None:
        out.append(info)
        info = tt.next_dagrun_info(last_automated_data_interval=info.data_interval,
                                   restriction=restriction)
    return out


def airflow_plan(tt: Timetable, from_date: datetime, to_date: datetime, now: datetime,
                 runs: dict[datetime, DagRunState], reprocess: ReprocessBehavior,
                 backwards: bool) -> list[tuple[int, DagRunInfo, str, str | None]]:
    """Reference 2.4 and 2.5 in plain Python; a run created or cleared is queued afterwards."""
    infos = [i for i in airflow_infos(tt, from_date, to_date) if i.data_interval.end < now]
    if backwards:
        infos.reverse()
    existing = dict(runs)
    out = []
    for ordinal, info in enumerate(infos, start=1):
        state = existing.get(info.logical_date)
        if state is None:
            action, reason = "create", None
        elif state in (DagRunState.QUEUED, DagRunState.RUNNING):
            action, reason = "skip", "in flight"
        elif state is DagRunState.SUCCESS and reprocess is not ReprocessBehavior.COMPLETED:
            action, reason = "skip", "already exists"
        elif state is DagRunState.FAILED and reprocess is ReprocessBehavior.NONE:
            action, reason = "skip", "already exists"
        else:
            action, reason = "clear", None
        if action != "skip":
            existing[info.logical_date] = DagRunState.QUEUED
        out.append((ordinal, info, action, reason))
    return out


def as_tuples(plan: list[BackfillPlanEntry]) -> list[tuple[int, DagRunInfo, str, str | None]]:
    return [(e.sort_ordinal, e.info, e.action.value, None if e.reason is None else e.reason.value)
            for e in plan]


def draw_runs(data: st.DataObject, tt: Timetable, from_date: datetime,
              to_date: datetime) -> dict[datetime, DagRunState]:
    """Existing runs at some of the range's logical dates (and one outside it)."""
    dates = sorted({i.logical_date for i in airflow_infos(tt, from_date, to_date)})
    runs: dict[datetime, DagRunState] = {}
    if dates:
        chosen = data.draw(st.lists(st.sampled_from(dates), max_size=min(len(dates), 40),
                                    unique=True))
        for d in chosen:
            runs[d] = data.draw(states)
    runs[from_date - timedelta(days=3, minutes=7)] = DagRunState.FAILED
    return runs


@given(tt=timetables, from_date=from_dates, span=spans, lag=lags, reprocess=behaviors,
       backwards=st.booleans(), data=st.data())
def test_plan_equals_airflows_procedure(tt: Timetable, from_date: datetime, span: timedelta,
                                        lag: timedelta, reprocess: ReprocessBehavior,
                                        backwards: bool, data: st.DataObject) -> None:
    to_date = from_date + span
    now = from_date + lag
    runs = draw_runs(data, tt, from_date, to_date)
    plan = plan_backfill(tt, from_date=from_date, to_date=to_date, existing_runs=runs,
                         reprocess_behavior=reprocess, run_backwards=backwards, now=now)
    assert as_tuples(plan) == airflow_plan(tt, from_date, to_date, now, runs, reprocess,
                                           backwards)


@given(tt=timetables, from_date=from_dates, span=spans, lag=lags, reprocess=behaviors,
       data=st.data())
def test_one_entry_per_date(tt: Timetable, from_date: datetime, span: timedelta,
                            lag: timedelta, reprocess: ReprocessBehavior,
                            data: st.DataObject) -> None:
    to_date = from_date + span
    now = from_date + lag
    runs = draw_runs(data, tt, from_date, to_date)
    plan = plan_backfill(tt, from_date=from_date, to_date=to_date, existing_runs=runs,
                         reprocess_behavior=reprocess, now=now)
    ended = [i for i in tt.iter_dagrun_infos_between(from_date, to_date)
             if i.data_interval.end < now]
    assert [e.info for e in plan] == ended
    assert [e.sort_ordinal for e in plan] == list(range(1, len(ended) + 1))
    for e in plan:
        assert e.logical_date == e.info.logical_date
        # Inclusive ends on the timetable's start value (a fire or an interval start).
        assert from_date <= e.run_after
        assert e.logical_date <= to_date
        assert e.data_interval.end < now
        assert (e.reason is None) == (e.action != "skip")


@given(tt=timetables, from_date=from_dates, span=spans, lag=lags, reprocess=behaviors,
       data=st.data())
def test_forward_and_backward_plans_mirror(tt: Timetable, from_date: datetime, span: timedelta,
                                           lag: timedelta, reprocess: ReprocessBehavior,
                                           data: st.DataObject) -> None:
    to_date = from_date + span
    now = from_date + lag
    runs = draw_runs(data, tt, from_date, to_date)
    args: dict[str, Any] = {"from_date": from_date, "to_date": to_date, "existing_runs": runs,
                            "reprocess_behavior": reprocess, "now": now}
    forward = plan_backfill(tt, **args)
    backward = plan_backfill(tt, run_backwards=True, **args)
    assert [e.info for e in backward] == [e.info for e in reversed(forward)]
    assert [e.sort_ordinal for e in backward] == [e.sort_ordinal for e in forward]
    logical_dates = [e.logical_date for e in forward]
    if len(set(logical_dates)) == len(logical_dates):
        # Without repeated dates each date's decision does not depend on the direction.
        assert [(e.action, e.reason) for e in backward] == \
            [(e.action, e.reason) for e in reversed(forward)]


class Delegating(Timetable):
    """A timetable written in Python that asks a built-in one for each run."""

    def __init__(self, inner: Timetable) -> None:
        self._inner = inner

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        return self._inner.next_dagrun_info(
            last_automated_data_interval=last_automated_data_interval, restriction=restriction)

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return self._inner.infer_manual_data_interval(run_after=run_after)


@given(tt=timetables, from_date=from_dates, span=spans, lag=lags, reprocess=behaviors,
       backwards=st.booleans(), data=st.data())
def test_python_timetables_get_the_same_plan(tt: Timetable, from_date: datetime,
                                             span: timedelta, lag: timedelta,
                                             reprocess: ReprocessBehavior, backwards: bool,
                                             data: st.DataObject) -> None:
    to_date = from_date + span
    now = from_date + lag
    runs = draw_runs(data, tt, from_date, to_date)
    args: dict[str, Any] = {"from_date": from_date, "to_date": to_date, "existing_runs": runs,
                            "reprocess_behavior": reprocess, "run_backwards": backwards,
                            "now": now}
    assert plan_backfill(Delegating(tt), **args) == plan_backfill(tt, **args)
