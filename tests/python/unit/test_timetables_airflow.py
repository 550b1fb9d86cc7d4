"""relativedelta schedules Airflow accepts, with absolute fields (``weekday=MO``, ``day=1``,
``weekday=FR(-1)``), leapdays or parts of both signs: the dates, the checks and the serialized
form each test states are Airflow's.

Airflow sources: airflow-core/src/airflow/timetables/_delta.py (DeltaMixin: next =
``convert_to_utc(current + delta)``, prev = ``current - delta``, align is the identity, validate
``now + delta > now``), interval.py (DeltaDataIntervalTimetable, _DataIntervalTimetable),
trigger.py (_TriggerTimetable, DeltaTriggerTimetable, CronTriggerTimetable: data interval
``[fire - interval, fire]``), airflow/serialization/encoders.py (encode_relativedelta /
encode_interval) and serialized_objects.py (decode_relativedelta); the tests
airflow-core/tests/unit/timetables/test_interval_timetable.py and
tests/serialization/test_dag_serialization.py::test_roundtrip_relativedelta. The facts are
written down in docs/airflow-behaviour.md 8.6.

The clock is frozen through dagcore.utils.timezone.utcnow. Every date is UTC: the scheduler
applies the delta to the UTC datetimes it holds (the serialized start date is UTC).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.relativedelta import FR, MO, SU, relativedelta

import dagcore.utils.timezone
from dagcore import DAG
from dagcore.backfill import plan_backfill
from dagcore.configuration import conf_vars
from dagcore.serialization import SerializedDAG, dag_hash, serialize_dag
from dagcore.timetables import (
    CronTriggerTimetable,
    DagRunInfo,
    DataInterval,
    DeltaDataIntervalTimetable,
    DeltaTriggerTimetable,
    MultipleCronTriggerTimetable,
    TimeRestriction,
    Timetable,
)

WEEKLY_MONDAY = relativedelta(weeks=1, weekday=MO)  # a week on, then the next Monday (or same)
MONTH_START = relativedelta(months=1, day=1)  # the first of the next month
LAST_FRIDAY = relativedelta(months=1, day=31, weekday=FR(-1))  # the last Friday of next month


def u(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
def freeze(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    def set_now(now: datetime) -> None:
        monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: now)

    return set_now


def next_info(tt: Timetable, last: DataInterval | None, earliest: datetime | None,
              catchup: bool, latest: datetime | None = None) -> DagRunInfo | None:
    return tt.next_dagrun_info(last_automated_data_interval=last,
                               restriction=TimeRestriction(earliest, latest, catchup))


# -------------------------------------------------------------------------------------------------
# dates: start + delta, as dateutil applies it (DeltaMixin._get_next)


@pytest.mark.parametrize(
    ("delta", "start", "end", "expected"),
    [
        # 2026-01-07 is a Wednesday: + 7 days is Wed Jan 14, then weekday=MO moves on to Mon 19.
        (WEEKLY_MONDAY, u(2026, 1, 7), u(2026, 2, 10),
         [u(2026, 1, 7), u(2026, 1, 19), u(2026, 1, 26), u(2026, 2, 2), u(2026, 2, 9)]),
        (MONTH_START, u(2026, 1, 15, 6), u(2026, 4, 1, 6),
         [u(2026, 1, 15, 6), u(2026, 2, 1, 6), u(2026, 3, 1, 6), u(2026, 4, 1, 6)]),
        (LAST_FRIDAY, u(2026, 1, 30), u(2026, 5, 31),
         [u(2026, 1, 30), u(2026, 2, 27), u(2026, 3, 27), u(2026, 4, 24), u(2026, 5, 29)]),
        # Airflow's validate accepts parts of both signs: a month on, a day back.
        (relativedelta(months=1, days=-1), u(2026, 1, 31), u(2026, 5, 1),
         [u(2026, 1, 31), u(2026, 2, 27), u(2026, 3, 26), u(2026, 4, 25)]),
        # leapdays count only in leap years after February (dateutil).
        # Each step starts from the previous date, so the day gained in 2024 is kept.
        (relativedelta(years=1, leapdays=1), u(2023, 6, 1), u(2026, 12, 31),
         [u(2023, 6, 1), u(2024, 6, 2), u(2025, 6, 2), u(2026, 6, 2)]),
    ],
    ids=["weekly-monday", "month-start", "last-friday", "mixed-signs", "leapdays"],
)
def test_catchup_steps_are_start_plus_delta(delta: relativedelta, start: datetime, end: datetime,
                                            expected: list[datetime]) -> None:
    trigger = DeltaTriggerTimetable(delta)
    assert trigger.iter_dagrun_infos_between(start, end).logical_dates == expected
    # The data-interval kind runs at each interval's end: [d0, d1], [d1, d2], ...
    data = DeltaDataIntervalTimetable(delta)
    batch = data.iter_dagrun_infos_between(start, end)
    assert batch.logical_dates == expected
    assert batch.data_interval_ends == [*expected[1:], expected[-1] + delta]
    assert batch.run_afters == batch.data_interval_ends
    # The bulk list is repeated next_dagrun_info with catchup, each interval feeding the next.
    last, walked = None, []
    while (info := next_info(data, last, start, True, end)) is not None:
        walked.append(info)
        last = info.data_interval
    assert walked == list(batch)


def test_data_interval_next_run_starts_at_the_previous_end() -> None:
    # interval.py: start = align_to_prev(last.end) (the identity), end = start + delta.
    tt = DeltaDataIntervalTimetable(WEEKLY_MONDAY)
    last = DataInterval(u(2026, 1, 19), u(2026, 1, 26))
    assert next_info(tt, last, u(2026, 1, 7), True) == DagRunInfo.interval(
        u(2026, 1, 26), u(2026, 2, 2))
    # A previous interval off the grid (the schedule changed): the next one starts at its end.
    moved = DataInterval(u(2026, 1, 20, 5), u(2026, 1, 28, 5))
    assert next_info(tt, moved, None, True) == DagRunInfo.interval(
        u(2026, 1, 28, 5), u(2026, 2, 9, 5))


def test_trigger_next_run_is_the_previous_fire_plus_delta(freeze: Callable[[datetime], None]) -> None:
    freeze(u(2026, 6, 24, 12))
    tt = DeltaTriggerTimetable(MONTH_START, interval=relativedelta(days=3, hour=0))
    last = DataInterval(u(2026, 1, 29), u(2026, 2, 1))
    # catchup: fire = last.end + delta; data interval [fire - interval, fire].
    assert next_info(tt, last, u(2026, 1, 15), True) == DagRunInfo(
        u(2026, 3, 1), DataInterval(u(2026, 2, 26), u(2026, 3, 1)))
    # no catchup: fire = max(now, last.end + delta, earliest) = now.
    assert next_info(tt, last, u(2026, 1, 15), False) == DagRunInfo(
        u(2026, 6, 24, 12), DataInterval(u(2026, 6, 21), u(2026, 6, 24, 12)))
    # end_date before the fire: no run.
    assert next_info(tt, last, u(2026, 1, 15), True, latest=u(2026, 2, 28)) is None


def test_no_catchup_data_interval_stays_on_the_start_date_grid(
        freeze: Callable[[datetime], None]) -> None:
    # test_interval_timetable.py::test_no_catchup_calendar_delta_aligns_to_start_date: the run is
    # the last period that has ended by now, stepped one period at a time from start_date.
    tt = DeltaDataIntervalTimetable(WEEKLY_MONDAY)
    freeze(u(2026, 6, 24, 12))  # a Wednesday
    assert next_info(tt, None, u(2026, 1, 5), False) == DagRunInfo.interval(
        u(2026, 6, 15), u(2026, 6, 22))
    # Later calls continue the walk (the scheduler calls again as time passes).
    freeze(u(2026, 7, 7))
    assert next_info(tt, None, u(2026, 1, 5), False) == DagRunInfo.interval(
        u(2026, 6, 29), u(2026, 7, 6))
    # ... and an earlier clock walks again from the start date.
    freeze(u(2026, 2, 1))
    assert next_info(tt, None, u(2026, 1, 5), False) == DagRunInfo.interval(
        u(2026, 1, 19), u(2026, 1, 26))
    # The first period is still running: it is the one that runs, at its end (Wed Jan 28 + 7
    # days is Wed Feb 4, then the next Monday).
    assert next_info(tt, None, u(2026, 1, 28), False) == DagRunInfo.interval(
        u(2026, 1, 28), u(2026, 2, 9))
    # A previous run later than the skip point wins (max of both).
    last = DataInterval(u(2026, 1, 26), u(2026, 2, 2))
    assert next_info(tt, last, u(2026, 1, 5), False) == DagRunInfo.interval(
        u(2026, 2, 2), u(2026, 2, 9))
    # test_no_catchup_calendar_delta_without_start_date_ends_now: [now - delta, ...].
    freeze(u(2026, 6, 29, 12))
    month_start = DeltaDataIntervalTimetable(MONTH_START)
    assert next_info(month_start, None, None, False) == DagRunInfo.interval(
        u(2026, 5, 1, 12), u(2026, 6, 1, 12))


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (relativedelta(months=1), (u(2026, 5, 29, 12), u(2026, 6, 29, 12))),
        (relativedelta(years=1), (u(2025, 6, 29, 12), u(2026, 6, 29, 12))),
        (relativedelta(months=1, hours=1), (u(2026, 5, 29, 11), u(2026, 6, 29, 12))),
    ],
    ids=["month", "year", "month-and-hour"],
)
def test_no_catchup_calendar_delta_without_start_date_ends_now(
        freeze: Callable[[datetime], None], delta: relativedelta,
        expected: tuple[datetime, datetime]) -> None:
    # test_interval_timetable.py::test_no_catchup_calendar_delta_without_start_date_ends_now
    # (purely relative calendar deltas, computed by the C++ core).
    freeze(u(2026, 6, 29, 12))
    assert next_info(DeltaDataIntervalTimetable(delta), None, None, False) == DagRunInfo.interval(
        *expected)
    # 2026-03-30 minus a month clamps to Feb 28; a month on from there is Mar 28.
    freeze(u(2026, 3, 30))
    assert next_info(DeltaDataIntervalTimetable(relativedelta(months=1)), None, None,
                     False) == DagRunInfo.interval(u(2026, 2, 28), u(2026, 3, 28))
    # A later previous run wins, as with a start date.
    last = DataInterval(u(2026, 3, 1), u(2026, 4, 1))
    assert next_info(DeltaDataIntervalTimetable(relativedelta(months=1)), last, None,
                     False) == DagRunInfo.interval(u(2026, 4, 1), u(2026, 5, 1))


def test_zero_length_previous_interval_is_not_repeated() -> None:
    # interval.py (newer main): a zero-length previous interval left by a trigger timetable.
    tt = DeltaDataIntervalTimetable(MONTH_START)
    last = DataInterval.exact(u(2026, 3, 1))
    assert next_info(tt, last, None, True) == DagRunInfo.interval(u(2026, 4, 1), u(2026, 5, 1))


def test_infer_manual_data_interval_is_run_after_minus_delta() -> None:
    # interval.py: DataInterval(start=run_after - delta, end=run_after). Subtracting
    # relativedelta(weeks=1, weekday=MO) is 7 days back, then on to the next-or-same Monday.
    run_after = u(2026, 6, 24, 12)
    assert DeltaDataIntervalTimetable(WEEKLY_MONDAY).infer_manual_data_interval(
        run_after=run_after) == DataInterval(u(2026, 6, 22, 12), run_after)
    assert DeltaDataIntervalTimetable(MONTH_START).infer_manual_data_interval(
        run_after=run_after) == DataInterval(u(2026, 5, 1, 12), run_after)
    # trigger.py: [run_after - interval, run_after]
    tt = DeltaTriggerTimetable(timedelta(days=1), interval=relativedelta(weekday=MO(-1)))
    assert tt.infer_manual_data_interval(run_after=run_after) == DataInterval(
        u(2026, 6, 22, 12), run_after)


# -------------------------------------------------------------------------------------------------
# the cron trigger's data interval as a relativedelta


def test_cron_trigger_interval_with_absolute_fields() -> None:
    # trigger.py: DagRunInfo.interval(fire - interval, fire); the fires are the cron's.
    tt = CronTriggerTimetable("0 6 15 * *", timezone="UTC",
                              interval=relativedelta(months=1, day=1, hour=0))
    batch = tt.iter_dagrun_infos_between(u(2026, 1, 1), u(2026, 3, 31))
    assert batch.run_afters == [u(2026, 1, 15, 6), u(2026, 2, 15, 6), u(2026, 3, 15, 6)]
    assert batch.logical_dates == [u(2025, 12, 1), u(2026, 1, 1), u(2026, 2, 1)]
    assert batch.data_interval_ends == batch.run_afters
    assert list(batch) == [
        next_info(tt, None, u(2026, 1, 1), True),
        next_info(tt, batch[0].data_interval, u(2026, 1, 1), True),
        next_info(tt, batch[1].data_interval, u(2026, 1, 1), True)]
    assert next_info(tt, batch[2].data_interval, u(2026, 1, 1), True, latest=u(2026, 3, 31)) is None
    assert tt.infer_manual_data_interval(run_after=u(2026, 3, 20, 9)) == DataInterval(
        u(2026, 2, 1), u(2026, 3, 20, 9))
    # The same fires as without an interval: only the data interval starts differ.
    plain = CronTriggerTimetable("0 6 15 * *", timezone="UTC")
    assert plain.iter_dagrun_infos_between(u(2026, 1, 1), u(2026, 3, 31)).run_afters == batch.run_afters


def test_multiple_cron_trigger_interval_with_absolute_fields() -> None:
    tt = MultipleCronTriggerTimetable("0 9 * * 1", "0 9 * * 4", timezone="UTC",
                                      interval=relativedelta(weekday=SU(-1), hour=0))
    batch = tt.iter_dagrun_infos_between(u(2026, 6, 1), u(2026, 6, 12))
    assert batch.run_afters == [u(2026, 6, 1, 9), u(2026, 6, 4, 9), u(2026, 6, 8, 9),
                                u(2026, 6, 11, 9)]
    # Each run covers the data since the Sunday (midnight) before its fire.
    assert batch.logical_dates == [u(2026, 5, 31), u(2026, 5, 31), u(2026, 6, 7), u(2026, 6, 7)]


def test_delta_trigger_with_a_plain_delta_and_an_absolute_interval_keeps_the_plain_fires() -> None:
    tt = DeltaTriggerTimetable(timedelta(hours=12), interval=relativedelta(hour=0))
    batch = tt.iter_dagrun_infos_between(u(2026, 1, 1, 6), u(2026, 1, 2, 6))
    assert batch.run_afters == [u(2026, 1, 1, 6), u(2026, 1, 1, 18), u(2026, 1, 2, 6)]
    assert batch.logical_dates == [u(2026, 1, 1), u(2026, 1, 1), u(2026, 1, 2)]


# -------------------------------------------------------------------------------------------------
# schedule= and the DAG


def test_schedule_relativedelta_makes_a_delta_timetable() -> None:
    # task-sdk _create_timetable: timedelta | relativedelta -> DeltaTriggerTimetable, or
    # DeltaDataIntervalTimetable with [scheduler] create_cron_data_intervals.
    dag = DAG("weekly", schedule=WEEKLY_MONDAY, start_date=u(2026, 1, 5))
    assert dag.timetable == DeltaTriggerTimetable(WEEKLY_MONDAY)
    assert dag.timetable.summary == "relativedelta(days=+7, weekday=MO)"
    with conf_vars({("scheduler", "create_cron_data_intervals"): True}):
        dag = DAG("weekly", schedule=LAST_FRIDAY, start_date=u(2026, 1, 30))
    assert dag.timetable == DeltaDataIntervalTimetable(LAST_FRIDAY)


@pytest.mark.parametrize(
    ("delta", "message"),
    [
        # _delta.py validate: "schedule interval must be positive, not <repr>" (Airflow checks
        # only now + delta; weekday=MO alone does not move a Monday).
        (relativedelta(weekday=MO), r"schedule interval must be positive, not relativedelta\(weekday=MO\)"),
        (relativedelta(), r"schedule interval must be positive, not relativedelta\(\)"),
        (relativedelta(days=-1), r"schedule interval must be positive, not relativedelta\(days=-1\)"),
        (relativedelta(month=1, days=1), r"relativedelta\(days=\+1, month=1\) \(it moves"),
        # dateutil sets the absolute fields first, then adds: 12:30:30 -> 12:00:30 -> 12:30:30.
        (relativedelta(minutes=30, minute=0), r"it moves 2023-01-01 12:30:30 to 2023-01-01 12:30:30"),
        (relativedelta(year=2030, months=1), "sets year=2030: a schedule with a fixed year does not repeat"),
    ],
    ids=["weekday-only", "zero", "negative", "fixed-month", "fixed-minute", "fixed-year"],
)
def test_a_delta_that_does_not_move_every_date_forward_is_refused(
        delta: relativedelta, message: str) -> None:
    for make in (DeltaTriggerTimetable, DeltaDataIntervalTimetable):
        with pytest.raises(ValueError, match=message):
            make(delta)
    with pytest.raises(ValueError, match=rf"Invalid schedule .* for DAG 'bad': .*{message}"):
        DAG("bad", schedule=delta)


def test_a_negative_absolute_interval_is_refused() -> None:
    # day=31 as a data-interval length would start some intervals after their fire.
    with pytest.raises(ValueError, match=r"interval must not be negative, got relativedelta\(day=31\)"):
        CronTriggerTimetable("@daily", timezone="UTC", interval=relativedelta(day=31))


# -------------------------------------------------------------------------------------------------
# serialization: Airflow's encode_relativedelta / decode_relativedelta


@pytest.mark.parametrize(
    ("delta", "encoded"),
    [
        (WEEKLY_MONDAY, {"days": 7, "weekday": [0]}),  # weekday as [n]
        (relativedelta(months=1, weekday=FR(2)), {"months": 1, "weekday": [4, 2]}),  # [n, nth]
        (LAST_FRIDAY, {"months": 1, "day": 31, "weekday": [4, -1]}),
        (MONTH_START, {"months": 1, "day": 1}),
        (relativedelta(months=1, days=-1), {"months": 1, "days": -1}),
        (relativedelta(years=1, leapdays=1), {"years": 1, "leapdays": 1}),
        # Airflow keeps only truthy values and would drop hour=0 (its round trip then schedules
        # at the start date's hour); dagcore keeps it so the round trip is exact.
        (relativedelta(months=1, day=1, hour=0), {"months": 1, "day": 1, "hour": 0}),
    ],
    ids=["weekday", "nth-weekday", "last-friday", "month-start", "mixed-signs", "leapdays",
         "zero-hour"],
)
def test_serialize_is_airflows_encode_relativedelta(delta: relativedelta,
                                                    encoded: dict[str, object]) -> None:
    for tt, data in ((DeltaDataIntervalTimetable(delta), {"delta": encoded}),
                     (DeltaTriggerTimetable(delta), {"delta": encoded, "interval": 0.0})):
        assert tt.serialize() == data
        again = type(tt).deserialize(json.loads(json.dumps(data)))
        assert again == tt
        assert again._delta == delta  # type: ignore[attr-defined]
        first, last = u(2026, 1, 7), u(2027, 12, 31)
        assert again.iter_dagrun_infos_between(first, last) == tt.iter_dagrun_infos_between(first, last)
    cron = CronTriggerTimetable("0 0 1 * *", timezone="UTC", interval=delta)
    assert cron.serialize()["interval"] == encoded
    assert CronTriggerTimetable.deserialize(json.loads(json.dumps(cron.serialize()))) == cron


def test_data_serialized_by_airflow_deserializes() -> None:
    # What Airflow stores for schedule=relativedelta(weeks=1, weekday=MO) (encoders.py).
    data = {"delta": {"days": 7, "weekday": [0]}, "interval": 0.0}
    assert DeltaTriggerTimetable.deserialize(data) == DeltaTriggerTimetable(WEEKLY_MONDAY)
    data = {"delta": {"months": 1, "day": 31, "weekday": [4, -1]}}
    assert DeltaDataIntervalTimetable.deserialize(data) == DeltaDataIntervalTimetable(LAST_FRIDAY)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"delta": {"days": 7, "weekday": "MO"}},
         r"delta \{'days': 7, 'weekday': 'MO'\} is not a serialized relativedelta: weekday must be "
         r"\[weekday\] or \[weekday, n\] with weekday 0-6 \(Monday 0\) and n not 0, got 'MO'"),
        ({"delta": {"days": 7, "weekday": [0, 1, 2]}}, r"got \[0, 1, 2\]"),
        ({"delta": {"fortnights": 1}}, r"delta \{'fortnights': 1\} is not a serialized relativedelta"),
        ({"delta": {"months": 1, "weekday": [9]}}, r"delta \{'months': 1, 'weekday': \[9\]\}"),
    ],
    ids=["weekday-name", "weekday-too-long", "unknown-field", "weekday-out-of-range"],
)
def test_bad_serialized_relativedelta_is_named(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DeltaDataIntervalTimetable.deserialize(data)


def test_serialized_dag_round_trip_keeps_the_schedule() -> None:
    dag = DAG("weekly", schedule=WEEKLY_MONDAY, start_date=u(2026, 1, 5))
    data = serialize_dag(dag)
    assert data["dag"]["timetable"]["__var"] == {"delta": {"days": 7, "weekday": [0]},
                                                 "interval": 0.0}
    loaded = SerializedDAG(json.loads(json.dumps(data)))
    assert loaded.timetable == dag.timetable
    assert dag_hash(serialize_dag(DAG("weekly", schedule=WEEKLY_MONDAY,
                                      start_date=u(2026, 1, 5)))) == dag_hash(data)


def test_timedelta_schedules_serialize_as_before() -> None:
    # Stored DAG hashes of timedelta and purely relative schedules must not change.
    assert DeltaTriggerTimetable(timedelta(days=1)).serialize() == {"delta": 86400.0, "interval": 0.0}
    assert DeltaDataIntervalTimetable(relativedelta(months=1)).serialize() == {"delta": {"months": 1}}
    dag = DAG("daily", schedule=timedelta(days=1), start_date=u(2026, 1, 1))
    assert serialize_dag(dag)["dag"]["timetable"]["__var"] == {"delta": 86400.0, "interval": 0.0}


# -------------------------------------------------------------------------------------------------
# backfill


def test_backfill_plans_a_relativedelta_schedule() -> None:
    # Airflow's backfill: iter_dagrun_infos_between(from, to), then keep data_interval.end < now.
    tt = DeltaDataIntervalTimetable(WEEKLY_MONDAY)
    plan = plan_backfill(tt, from_date=u(2026, 1, 5), to_date=u(2026, 2, 2), existing_runs={},
                         now=u(2026, 2, 3))
    assert [entry.logical_date for entry in plan] == [u(2026, 1, 5), u(2026, 1, 12), u(2026, 1, 19),
                                                      u(2026, 1, 26)]
