"""dagcore.cron in wall time: syntax, presets, hashed fields, errors and argument types.

Every expectation here was worked out by hand from a calendar (2024-01-01 is a Monday, 2024 is a
leap year) and all rows use timezone="UTC", so wall time and UTC coincide; the DST tables live in
test_cron_dst.py and the randomized comparison with croniter in test_cron_properties.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dagcore.cron import CronError, CronExpression

UTC = timezone.utc
US = timedelta(microseconds=1)


def utc(text: str) -> datetime:
    """'2024-02-29T00:00' -> an aware UTC datetime (the strings in the tables are UTC)."""
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is None, "table strings are UTC wall times without an offset"
    return parsed.replace(tzinfo=UTC)


def walk(cron: CronExpression, start: datetime, count: int) -> list[datetime]:
    """The next `count` fire times strictly after `start`, by repeated next()."""
    out: list[datetime] = []
    t = start
    for _ in range(count):
        nxt = cron.next(t)
        assert nxt is not None
        out.append(nxt)
        t = nxt
    return out


def walk_back(cron: CronExpression, start: datetime, count: int) -> list[datetime]:
    out: list[datetime] = []
    t = start
    for _ in range(count):
        prv = cron.prev(t)
        assert prv is not None
        out.append(prv)
        t = prv
    return out


def assert_utc(value: datetime | None) -> None:
    assert isinstance(value, datetime)
    assert value.tzinfo is UTC, f"{value!r} is not aware UTC (tzinfo=datetime.timezone.utc)"


# --- the object -------------------------------------------------------------------------------------


def test_cron_error_is_a_value_error() -> None:
    assert issubclass(CronError, ValueError)


def test_attributes() -> None:
    cron = CronExpression("*/5 9-17 * * MON-FRI", timezone="Europe/Zurich")
    assert cron.expression == "*/5 9-17 * * MON-FRI"
    assert cron.timezone == "Europe/Zurich"
    assert cron.hash_key is None
    assert len(cron.resolved.split()) == 5


def test_timezone_defaults_to_utc() -> None:
    cron = CronExpression("0 0 * * *")
    assert cron.timezone == "UTC"
    assert cron.next(utc("2024-01-01T00:00")) == utc("2024-01-02T00:00")


def test_timezone_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        CronExpression("0 0 * * *", "UTC")  # type: ignore[misc]


def test_returned_datetimes_are_aware_utc() -> None:
    cron = CronExpression("0 2 * * *", timezone="Europe/Zurich")
    start = utc("2024-01-01T12:00")
    assert_utc(cron.next(start))
    assert_utc(cron.prev(start))
    fires = cron.between(utc("2024-01-01T00:00"), utc("2024-01-05T00:00"))
    assert len(fires) == 4
    for fire in fires:
        assert_utc(fire)


def test_inputs_in_any_time_zone_mean_the_same_instant() -> None:
    cron = CronExpression("0 2 * * *", timezone="Europe/Zurich")
    instant = utc("2024-01-01T12:00")
    zurich = instant.astimezone(ZoneInfo("Europe/Zurich"))   # 13:00+01:00
    tokyo = instant.astimezone(timezone(timedelta(hours=9)))  # 21:00+09:00
    for same in (zurich, tokyo):
        assert cron.next(same) == cron.next(instant) == utc("2024-01-02T01:00")  # 02:00+01:00
        assert cron.prev(same) == cron.prev(instant) == utc("2024-01-01T01:00")
        assert_utc(cron.next(same))
    assert cron.between(zurich, tokyo + timedelta(days=2)) == [utc("2024-01-02T01:00"), utc("2024-01-03T01:00")]
    assert cron.matches(utc("2024-01-02T01:00").astimezone(ZoneInfo("Asia/Tokyo")))


# --- wall-time tables ---------------------------------------------------------------------------------

# id: (expression, start, the next fire times after start, in order). timezone="UTC".
NEXT_TABLE: dict[str, tuple[str, str, list[str]]] = {
    # Feb 29 only exists in leap years: from 2023-03-01 the next one is 2024's, then 2028's.
    "leap-day": ("0 0 29 2 *", "2023-03-01T00:00", ["2024-02-29T00:00", "2028-02-29T00:00"]),
    "leap-day-noon-2096-2104": ("0 12 29 2 *", "2096-03-01T00:00", ["2104-02-29T12:00"]),  # 2100 is not leap
    "last-day-of-month": ("0 0 L * *", "2023-01-31T00:00",
                          ["2023-02-28T00:00", "2023-03-31T00:00", "2023-04-30T00:00"]),
    "last-day-of-month-leap": ("0 0 L * *", "2024-01-31T00:00", ["2024-02-29T00:00", "2024-03-31T00:00"]),
    "last-day-of-february": ("0 12 L 2 *", "2023-01-01T00:00",
                             ["2023-02-28T12:00", "2024-02-29T12:00", "2025-02-28T12:00"]),
    "last-friday": ("0 0 * * 5L", "2024-01-01T00:00",
                    ["2024-01-26T00:00", "2024-02-23T00:00", "2024-03-29T00:00", "2024-04-26T00:00"]),
    "last-sunday": ("0 0 * * 0L", "2024-01-01T00:00",
                    ["2024-01-28T00:00", "2024-02-25T00:00", "2024-03-31T00:00"]),
    "second-monday": ("0 0 * * 1#2", "2024-01-01T00:00",
                      ["2024-01-08T00:00", "2024-02-12T00:00", "2024-03-11T00:00", "2024-04-08T00:00"]),
    # A fifth Friday exists only in some months.
    "fifth-friday": ("0 0 * * 5#5", "2024-01-01T00:00",
                     ["2024-03-29T00:00", "2024-05-31T00:00", "2024-08-30T00:00", "2024-11-29T00:00"]),
    "first-sunday-as-7": ("0 0 * * 7#1", "2024-01-01T00:00",
                          ["2024-01-07T00:00", "2024-02-04T00:00", "2024-03-03T00:00"]),
    "weekdays-by-name": ("0 9 * * MON-FRI", "2024-01-05T09:00",  # a Friday
                         ["2024-01-08T09:00", "2024-01-09T09:00"]),
    "weekdays-lowercase": ("0 9 * * mon-fri", "2024-01-05T09:00", ["2024-01-08T09:00"]),
    "months-by-name-mixed-case": ("0 0 1 JAN,jul *", "2024-01-01T00:00",
                                  ["2024-07-01T00:00", "2025-01-01T00:00", "2025-07-01T00:00"]),
    "month-range-by-name": ("0 0 1 Nov-Dec *", "2024-01-01T00:00",
                            ["2024-11-01T00:00", "2024-12-01T00:00", "2025-11-01T00:00"]),
    "every-5-minutes": ("*/5 * * * *", "2024-01-01T00:00",
                        ["2024-01-01T00:05", "2024-01-01T00:10", "2024-01-01T00:15"]),
    "range-with-step": ("10-50/10 * * * *", "2024-01-01T00:00",
                        ["2024-01-01T00:10", "2024-01-01T00:20", "2024-01-01T00:30", "2024-01-01T00:40",
                         "2024-01-01T00:50", "2024-01-01T01:10"]),
    "start-with-step": ("5/15 * * * *", "2024-01-01T00:00",  # 5-59/15
                        ["2024-01-01T00:05", "2024-01-01T00:20", "2024-01-01T00:35", "2024-01-01T00:50",
                         "2024-01-01T01:05"]),
    "list": ("0,30 8,20 * * *", "2024-01-01T08:00",
             ["2024-01-01T08:30", "2024-01-01T20:00", "2024-01-01T20:30", "2024-01-02T08:00"]),
    "sunday-as-7": ("0 0 * * 7", "2024-01-01T00:00", ["2024-01-07T00:00", "2024-01-14T00:00"]),
    "sunday-as-0": ("0 0 * * 0", "2024-01-01T00:00", ["2024-01-07T00:00", "2024-01-14T00:00"]),
    "sunday-by-name": ("0 0 * * sun", "2024-01-01T00:00", ["2024-01-07T00:00", "2024-01-14T00:00"]),
    "weekend-range-to-7": ("0 0 * * 6-7", "2024-01-01T00:00",
                           ["2024-01-06T00:00", "2024-01-07T00:00", "2024-01-13T00:00"]),
    # Both day fields restricted: the 1st of the month OR any Monday (croniter's rule).
    "day-of-month-or-day-of-week": ("0 0 1 * MON", "2023-12-31T23:59",
                                    ["2024-01-01T00:00", "2024-01-08T00:00", "2024-01-15T00:00",
                                     "2024-01-22T00:00", "2024-01-29T00:00", "2024-02-01T00:00",
                                     "2024-02-05T00:00"]),
    "day-of-month-list-with-L": ("0 0 15,L * *", "2024-01-01T00:00",
                                 ["2024-01-15T00:00", "2024-01-31T00:00", "2024-02-15T00:00",
                                  "2024-02-29T00:00"]),
    # Only one day field restricted: that one decides.
    "day-of-month-only": ("0 0 1 * *", "2024-01-01T00:00", ["2024-02-01T00:00", "2024-03-01T00:00"]),
    "day-of-week-only": ("0 0 * * MON", "2024-01-01T00:00", ["2024-01-08T00:00", "2024-01-15T00:00"]),
    "the-31st-skips-short-months": ("0 0 31 * *", "2024-01-31T00:00",
                                    ["2024-03-31T00:00", "2024-05-31T00:00", "2024-07-31T00:00"]),
    "year-boundary": ("59 23 31 12 *", "2024-06-01T00:00", ["2024-12-31T23:59", "2025-12-31T23:59"]),
    # Seconds and microseconds of the start are not a fire time: the next whole minute is.
    "start-with-seconds": ("* * * * *", "2024-01-01T00:00:30.500000", ["2024-01-01T00:01", "2024-01-01T00:02"]),
    "start-one-microsecond-before": ("0 0 * * *", "2024-01-01T23:59:59.999999",
                                     ["2024-01-02T00:00", "2024-01-03T00:00"]),
    # Before the Unix epoch (negative instants).
    "before-epoch": ("30 12 * * *", "1969-12-30T13:00", ["1969-12-31T12:30", "1970-01-01T12:30"]),
}


@pytest.mark.parametrize(("expr", "start", "expected"), NEXT_TABLE.values(), ids=NEXT_TABLE.keys())
def test_next_table(expr: str, start: str, expected: list[str]) -> None:
    cron = CronExpression(expr, timezone="UTC")
    assert walk(cron, utc(start), len(expected)) == [utc(e) for e in expected]


@pytest.mark.parametrize(("expr", "start", "expected"), NEXT_TABLE.values(), ids=NEXT_TABLE.keys())
def test_prev_walks_the_same_table_backwards(expr: str, start: str, expected: list[str]) -> None:
    # From the last expected fire, prev() visits the others in reverse order.
    cron = CronExpression(expr, timezone="UTC")
    fires = [utc(e) for e in expected]
    assert walk_back(cron, fires[-1], len(fires) - 1) == fires[-2::-1]
    # ... and the fire before the first one is at or before `start`.
    before_first = cron.prev(fires[0])
    assert before_first is not None and before_first <= utc(start)


@pytest.mark.parametrize(("expr", "start", "expected"), NEXT_TABLE.values(), ids=NEXT_TABLE.keys())
def test_between_lists_the_same_table(expr: str, start: str, expected: list[str]) -> None:
    cron = CronExpression(expr, timezone="UTC")
    fires = [utc(e) for e in expected]
    assert cron.between(utc(start) + US, fires[-1]) == fires


# id: (expression, start, the previous fire times before start, newest first). timezone="UTC".
PREV_TABLE: dict[str, tuple[str, str, list[str]]] = {
    "leap-day": ("0 0 29 2 *", "2024-02-29T00:00", ["2020-02-29T00:00", "2016-02-29T00:00"]),
    "leap-day-from-inside-it": ("0 0 29 2 *", "2024-02-29T00:00:00.000001", ["2024-02-29T00:00"]),
    "leap-day-2104-2096": ("0 12 29 2 *", "2104-01-01T00:00", ["2096-02-29T12:00"]),
    "last-day-of-month": ("0 0 L * *", "2024-03-01T00:00", ["2024-02-29T00:00", "2024-01-31T00:00"]),
    "last-friday": ("0 0 * * 5L", "2024-03-29T00:00", ["2024-02-23T00:00", "2024-01-26T00:00"]),
    "second-monday": ("0 0 * * 1#2", "2024-01-08T00:00", ["2023-12-11T00:00", "2023-11-13T00:00"]),
    "weekdays": ("0 9 * * MON-FRI", "2024-01-08T09:00", ["2024-01-05T09:00", "2024-01-04T09:00"]),
    "steps": ("10-50/10 * * * *", "2024-01-01T01:10", ["2024-01-01T00:50", "2024-01-01T00:40"]),
    "day-of-month-or-day-of-week": ("0 0 1 * MON", "2024-02-05T00:00",
                                    ["2024-02-01T00:00", "2024-01-29T00:00"]),
    "before-epoch": ("0 0 1 1 *", "1970-01-01T00:00", ["1969-01-01T00:00", "1968-01-01T00:00"]),
    "one-microsecond-after": ("0 0 * * *", "2024-01-02T00:00:00.000001", ["2024-01-02T00:00", "2024-01-01T00:00"]),
}


@pytest.mark.parametrize(("expr", "start", "expected"), PREV_TABLE.values(), ids=PREV_TABLE.keys())
def test_prev_table(expr: str, start: str, expected: list[str]) -> None:
    cron = CronExpression(expr, timezone="UTC")
    assert walk_back(cron, utc(start), len(expected)) == [utc(e) for e in expected]


# id: (preset, its documented expansion, start, next fire)
PRESETS: dict[str, tuple[str, str, str, str]] = {
    "hourly": ("@hourly", "0 * * * *", "2024-01-01T00:30", "2024-01-01T01:00"),
    "daily": ("@daily", "0 0 * * *", "2024-01-01T00:30", "2024-01-02T00:00"),
    "midnight": ("@midnight", "0 0 * * *", "2024-01-01T00:30", "2024-01-02T00:00"),
    "weekly": ("@weekly", "0 0 * * 0", "2024-01-03T00:00", "2024-01-07T00:00"),  # Wed -> Sun
    "monthly": ("@monthly", "0 0 1 * *", "2024-01-15T00:00", "2024-02-01T00:00"),
    "quarterly": ("@quarterly", "0 0 1 */3 *", "2024-01-15T00:00", "2024-04-01T00:00"),
    "yearly": ("@yearly", "0 0 1 1 *", "2024-01-15T00:00", "2025-01-01T00:00"),
    "annually": ("@annually", "0 0 1 1 *", "2024-01-15T00:00", "2025-01-01T00:00"),
}


@pytest.mark.parametrize(("preset", "expansion", "start", "fire"), PRESETS.values(), ids=PRESETS.keys())
def test_presets(preset: str, expansion: str, start: str, fire: str) -> None:
    cron = CronExpression(preset, timezone="UTC")
    assert cron.expression == preset
    assert cron.resolved == expansion
    assert cron.next(utc(start)) == utc(fire)
    # Over two years the preset and its expansion fire at exactly the same times.
    plain = CronExpression(expansion, timezone="UTC")
    if preset == "@hourly":
        window = (utc("2024-02-28T00:00"), utc("2024-03-02T00:00"))
    else:
        window = (utc("2023-12-31T00:00"), utc("2025-12-31T00:00"))
    assert cron.between(*window) == plain.between(*window)
    assert cron.between(*window)


def test_quarterly_fires_four_times_a_year() -> None:
    cron = CronExpression("@quarterly", timezone="UTC")
    assert cron.between(utc("2024-01-01T00:00"), utc("2024-12-31T23:59")) == [
        utc("2024-01-01T00:00"), utc("2024-04-01T00:00"), utc("2024-07-01T00:00"), utc("2024-10-01T00:00")
    ]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("0 0 * * 7", "0 0 * * 0"),
        ("0 0 * * SUN", "0 0 * * 0"),
        ("0 0 * * Mon-Fri", "0 0 * * 1-5"),
        ("0 0 1 jan,JUL *", "0 0 1 1,7 *"),
        ("5/15 * * * *", "5-59/15 * * * *"),
        ("*/5 * * * *", "0-59/5 * * * *"),
        ("0 0 1 */3 *", "0 0 1 1,4,7,10 *"),
    ],
    ids=["7-is-sunday", "sun", "mon-fri", "jan-jul", "start-step", "star-step", "month-step"],
)
def test_equivalent_spellings_fire_together(a: str, b: str) -> None:
    window = (utc("2024-01-01T00:00"), utc("2024-03-01T00:00"))
    fires_a = CronExpression(a, timezone="UTC").between(*window)
    assert fires_a == CronExpression(b, timezone="UTC").between(*window)
    assert fires_a


# --- between and matches ---------------------------------------------------------------------------


def test_between_includes_both_ends_when_they_fire() -> None:
    cron = CronExpression("0 * * * *", timezone="UTC")
    start, end = utc("2024-01-01T00:00"), utc("2024-01-01T03:00")
    assert cron.between(start, end) == [start + timedelta(hours=h) for h in range(4)]
    assert cron.between(start + US, end - US) == [start + timedelta(hours=h) for h in (1, 2)]
    assert cron.between(start, start) == [start]
    assert cron.between(start + US, start + timedelta(minutes=59)) == []


@pytest.mark.parametrize(
    ("expr", "fire"),
    [
        ("0 0 29 2 *", "2024-02-29T00:00"),
        ("0 0 L * *", "2023-02-28T00:00"),
        ("0 0 * * 5L", "2024-02-23T00:00"),
        ("0 0 * * 1#2", "2024-02-12T00:00"),
        ("0 9 * * MON-FRI", "2024-01-05T09:00"),
        ("0 0 1 * MON", "2024-02-01T00:00"),  # the 1st, a Thursday
        ("0 0 1 * MON", "2024-02-05T00:00"),  # a Monday
        ("10-50/10 * * * *", "2024-01-01T00:50"),
        ("@quarterly", "2024-10-01T00:00"),
    ],
    ids=["leap-day", "L", "5L", "1#2", "mon-fri", "or-dom", "or-dow", "steps", "quarterly"],
)
def test_matches_exactly_at_fire_times(expr: str, fire: str) -> None:
    cron = CronExpression(expr, timezone="UTC")
    t = utc(fire)
    assert cron.matches(t)
    assert not cron.matches(t + US)
    assert not cron.matches(t - US)
    assert not cron.matches(t + timedelta(seconds=1))


@pytest.mark.parametrize(
    ("expr", "not_a_fire"),
    [
        ("0 0 L * *", "2024-02-28T00:00"),       # not the last day in a leap year
        ("0 0 * * 5L", "2024-02-16T00:00"),      # a Friday, but not the last one
        ("0 0 * * 1#2", "2024-02-05T00:00"),     # the first Monday
        ("0 9 * * MON-FRI", "2024-01-06T09:00"),  # Saturday
        ("0 0 1 * MON", "2024-02-06T00:00"),     # neither the 1st nor a Monday
        ("0 0 1 * *", "2024-01-08T00:00"),       # a Monday, but day-of-week is *
    ],
    ids=["L", "5L", "1#2", "mon-fri", "or", "dow-star"],
)
def test_matches_is_false_off_the_schedule(expr: str, not_a_fire: str) -> None:
    assert not CronExpression(expr, timezone="UTC").matches(utc(not_a_fire))


def test_next_and_prev_are_strict() -> None:
    cron = CronExpression("0 0 * * *", timezone="UTC")
    fire = utc("2024-01-02T00:00")
    assert cron.next(fire) == fire + timedelta(days=1)
    assert cron.prev(fire) == fire - timedelta(days=1)
    assert cron.next(fire - US) == fire
    assert cron.prev(fire + US) == fire


# --- H (hashed fields) -------------------------------------------------------------------------------

FIELD_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def field_values(resolved: str, index: int) -> list[int]:
    """The numbers of one resolved field, which must be plain digits and commas."""
    text = resolved.split()[index]
    assert re.fullmatch(r"\d+(,\d+)*", text), f"resolved field {text!r} of {resolved!r} is not digits/commas"
    values = [int(v) for v in text.split(",")]
    low, high = FIELD_RANGES[index]
    assert all(low <= v <= high for v in values), f"{values} out of {low}-{high}"
    return values


@pytest.mark.parametrize(
    ("expr", "hashed"),
    [
        ("H * * * *", [0]),
        ("H H * * *", [0, 1]),
        ("H H H * *", [0, 1, 2]),
        ("H H * H *", [0, 1, 3]),
        ("H H * * H", [0, 1, 4]),
        ("H/15 * * * *", [0]),
        ("H(0-29) * * * *", [0]),
        ("H(0-29)/10 * * * *", [0]),
        ("0 H(9-17) * * *", [1]),
    ],
    ids=["minute", "minute-hour", "day-of-month", "month", "day-of-week", "step", "range", "range-step",
         "hour-range"],
)
def test_hash_resolves_to_numbers_in_range(expr: str, hashed: list[int]) -> None:
    one = CronExpression(expr, timezone="UTC", hash_key="example_dag")
    two = CronExpression(expr, timezone="UTC", hash_key="example_dag")
    assert one.hash_key == "example_dag"
    assert one.expression == expr
    assert one.resolved == two.resolved
    assert "H" not in one.resolved.upper()
    for index in hashed:
        field_values(one.resolved, index)
    for index, (given, resolved) in enumerate(zip(expr.split(), one.resolved.split())):
        if index not in hashed:
            assert resolved == given
    # Same key, same schedule.
    start = utc("2024-01-01T00:00")
    assert walk(one, start, 5) == walk(two, start, 5)
    end = utc("2025-01-01T00:00")
    assert one.between(start, end) == two.between(start, end)


def test_hash_resolved_equals_the_schedule() -> None:
    hashed = CronExpression("H H * * *", timezone="Europe/Zurich", hash_key="dag-42")
    plain = CronExpression(hashed.resolved, timezone="Europe/Zurich")
    window = (utc("2024-03-01T00:00"), utc("2024-04-15T00:00"))
    assert hashed.between(*window) == plain.between(*window)


def test_hash_different_keys_spread() -> None:
    minutes = {field_values(CronExpression("H * * * *", hash_key=f"dag_{i}").resolved, 0)[0] for i in range(200)}
    assert len(minutes) >= 30, f"200 keys hashed to only {len(minutes)} distinct minutes"
    hours = {field_values(CronExpression("0 H * * *", hash_key=f"dag_{i}").resolved, 1)[0] for i in range(200)}
    assert len(hours) >= 12


@pytest.mark.parametrize("key", ["a", "b", "example_dag", "etl.daily", "ünïcødé"])
def test_hash_step_gives_four_minutes_15_apart(key: str) -> None:
    cron = CronExpression("H/15 * * * *", timezone="UTC", hash_key=key)
    minutes = sorted(field_values(cron.resolved, 0))
    assert len(minutes) == 4
    assert 0 <= minutes[0] < 15
    assert [b - a for a, b in zip(minutes, minutes[1:])] == [15, 15, 15]
    start = utc("2024-01-01T00:00")
    fires = cron.between(start, start + timedelta(hours=1) - US)
    assert [f.minute for f in fires] == minutes


def test_hash_range_stays_inside_it() -> None:
    seen = set()
    for i in range(100):
        minutes = field_values(CronExpression("H(0-29) * * * *", hash_key=f"k{i}").resolved, 0)
        assert len(minutes) == 1 and 0 <= minutes[0] <= 29
        seen.add(minutes[0])
        stepped = sorted(field_values(CronExpression("H(0-29)/10 * * * *", hash_key=f"k{i}").resolved, 0))
        assert len(stepped) == 3 and 0 <= stepped[0] < 10 and stepped[-1] <= 29
        assert [b - a for a, b in zip(stepped, stepped[1:])] == [10, 10]
    assert len(seen) >= 10


def test_hash_is_stable_across_processes() -> None:
    # A fresh interpreter with a different str hash seed resolves the same keys the same way, so the
    # hash cannot come from Python's randomized hash() (or anything else per-process).
    exprs = ["H * * * *", "H/15 H * * *", "H(0-29) H(9-17) * * H"]
    keys = ["alpha", "beta", "gamma"]
    here = [CronExpression(e, hash_key=k).resolved for e in exprs for k in keys]
    code = textwrap.dedent(
        f"""
        from dagcore.cron import CronExpression
        for e in {exprs!r}:
            for k in {keys!r}:
                print(CronExpression(e, hash_key=k).resolved)
        """
    )
    for seed in ("1", "12345"):
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                                check=True, env={**os.environ, "PYTHONHASHSEED": seed})
        assert result.stdout.splitlines() == here


def test_hash_without_key_is_an_error() -> None:
    with pytest.raises(CronError, match=re.escape("[H * * * *] is not acceptable")):
        CronExpression("H * * * *")
    with pytest.raises(CronError):
        CronExpression("0 H(0-5) * * *", timezone="UTC")


def test_hash_key_does_not_change_an_unhashed_expression() -> None:
    cron = CronExpression("*/5 * * * *", hash_key="example_dag")
    assert cron.resolved == "*/5 * * * *"
    assert cron.next(utc("2024-01-01T00:00")) == utc("2024-01-01T00:05")


# --- errors -----------------------------------------------------------------------------------------

# id: (expression, words of which the message after the "[expr] is not acceptable" prefix must
# contain at least one, case-insensitively; () when only the prefix is required)
BAD_EXPRESSIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "empty": ("", ()),
    "four-fields": ("0 0 * *", ("field",)),
    "six-fields": ("0 0 * * * *", ("field",)),
    "one-field": ("*", ("field",)),
    "minute-60": ("60 * * * *", ("minute", "60")),
    "hour-24": ("0 24 * * *", ("hour", "24")),
    "day-of-month-0": ("0 0 0 * *", ("day",)),
    "day-of-month-32": ("0 0 32 * *", ("day", "32")),
    "month-13": ("0 0 1 13 0", ("month", "13")),
    "month-0": ("0 0 1 0 *", ("month",)),
    "day-of-week-8": ("0 0 * * 8", ("week", "8")),
    "range-end-out-of-range": ("0-60 * * * *", ("minute", "60")),
    "negative": ("-1 * * * *", ("minute", "-1", "negative")),
    "step-0": ("*/0 * * * *", ("step", "minute", "0")),
    "range-step-0": ("10-20/0 * * * *", ("step", "minute", "0")),
    "unknown-month-name": ("0 0 * FOO *", ("foo", "month")),
    "unknown-day-name": ("0 0 * * FRY", ("fry", "week")),
    "day-name-in-month-field": ("0 0 * MON *", ("mon", "month")),
    "garbage": ("a b c d e", ("a", "minute")),
    "nth-6": ("0 0 * * 1#6", ("6", "week", "#")),
    "nth-0": ("0 0 * * 1#0", ("0", "week", "#")),
    "feb-31": ("0 0 31 2 *", ("31", "day")),
    "feb-30": ("0 0 30 2 *", ("30", "day")),
    "30-day-months-31": ("0 0 31 4,6,9,11 *", ("31", "day")),
    "unknown-preset": ("@fortnightly", ()),
}


@pytest.mark.parametrize(("expr", "words"), BAD_EXPRESSIONS.values(), ids=BAD_EXPRESSIONS.keys())
def test_bad_expressions_raise_cron_error(expr: str, words: tuple[str, ...]) -> None:
    with pytest.raises(CronError) as caught:
        CronExpression(expr, timezone="UTC")
    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    prefix = f"[{expr}] is not acceptable"
    assert message.startswith(prefix), f"{message!r} does not start with {prefix!r}"
    rest = message[len(prefix):].lower()
    if words:
        assert any(w.lower() in rest for w in words), f"{message!r} names none of {words}"


def test_month_13_message() -> None:
    with pytest.raises(CronError) as caught:
        CronExpression("0 0 1 13 0")
    message = str(caught.value)
    assert "[0 0 1 13 0] is not acceptable" in message
    rest = message.split("is not acceptable", 1)[1]
    assert "month" in rest.lower() or "13" in rest


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe/Zürich", "utc+1", "../etc/passwd"],
                         ids=["unknown", "non-ascii", "offset-name", "path"])
def test_unknown_time_zone(zone: str) -> None:
    with pytest.raises(ValueError) as caught:
        CronExpression("0 0 * * *", timezone=zone)
    assert zone in str(caught.value)


NAIVE = datetime(2024, 1, 1, 12, 0)
AWARE = utc("2024-01-01T12:00")

# id: (call on CronExpression("0 0 * * *"), exception)
BAD_ARGUMENTS: dict[str, tuple[Any, type[Exception]]] = {
    "next-naive": (lambda c: c.next(NAIVE), ValueError),
    "prev-naive": (lambda c: c.prev(NAIVE), ValueError),
    "matches-naive": (lambda c: c.matches(NAIVE), ValueError),
    "between-naive-start": (lambda c: c.between(NAIVE, AWARE), ValueError),
    "between-naive-end": (lambda c: c.between(AWARE, NAIVE), ValueError),
    "next-str": (lambda c: c.next("2024-01-01T00:00:00+00:00"), TypeError),
    "prev-int": (lambda c: c.prev(1704067200), TypeError),
    "next-float": (lambda c: c.next(1704067200.0), TypeError),
    "next-none": (lambda c: c.next(None), TypeError),
    "matches-date": (lambda c: c.matches(date(2024, 1, 1)), TypeError),
    "between-str-end": (lambda c: c.between(AWARE, "tomorrow"), TypeError),
    "between-date-start": (lambda c: c.between(date(2024, 1, 1), AWARE), TypeError),
}


@pytest.mark.parametrize(("call", "error"), BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS.keys())
def test_bad_arguments(call: Any, error: type[Exception]) -> None:
    cron = CronExpression("0 0 * * *", timezone="UTC")
    with pytest.raises(error) as caught:
        call(cron)
    if error is ValueError:
        assert "naive" in str(caught.value)
        assert not isinstance(caught.value, TypeError)


def test_expression_must_be_a_string() -> None:
    with pytest.raises(TypeError):
        CronExpression(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        CronExpression(5)  # type: ignore[arg-type]


# --- the ends of the datetime range ------------------------------------------------------------------


def test_fires_near_the_ends_of_the_datetime_range() -> None:
    hourly = CronExpression("0 * * * *", timezone="UTC")
    first, last = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
    assert hourly.between(last - timedelta(hours=2), last) == [utc("9999-12-31T22:00"), utc("9999-12-31T23:00")]
    assert hourly.between(first, first + timedelta(hours=1)) == [utc("0001-01-01T00:00"), utc("0001-01-01T01:00")]
    assert hourly.prev(first + timedelta(minutes=30)) == first
    assert hourly.next(last - timedelta(hours=1)) == utc("9999-12-31T23:00")


def test_no_fire_inside_the_datetime_range_is_none() -> None:
    # next() returns None "if it never fires again". A valid cron always has a later fire in its
    # calendar, so the only time there is none is when it would fall after datetime.max (or, for
    # prev, before datetime.min) and no datetime can hold it. That is not bad input, so it should
    # not raise ValueError (the error for naive datetimes and bad expressions).
    yearly = CronExpression("0 0 1 1 *", timezone="UTC")
    first = datetime.min.replace(tzinfo=UTC)  # 0001-01-01T00:00, itself a fire
    assert yearly.prev(first + timedelta(days=1)) == first
    assert yearly.next(utc("9999-06-01T00:00")) is None
    assert yearly.prev(first) is None
