"""dagcore.cron across real DST transitions (Airflow's rules, docs/airflow-behaviour.md 2.9.2 /
2.9.6).

The rules under test:
- a cron whose hour field is `*` steps in absolute time, so a repeated (fold) hour fires twice and a
  skipped (gap) hour not at all;
- any other cron is computed in wall time, then placed in the zone: an ambiguous wall time takes its
  SECOND occurrence (the later instant), a non-existent one moves forward by the length of the gap.

Every fire time in the tables is written as its UTC instant and its local time with the offset; the
local strings are checked against zoneinfo by test_table_local_times_are_right, so they are
comments that cannot lie. The transitions used (all verified with zoneinfo):

  Europe/Zurich       2023-03-26 01:00Z  02:00+01:00 -> 03:00+02:00  (gap 02:00-03:00)
                      2023-10-29 01:00Z  03:00+02:00 -> 02:00+01:00  (fold 02:00-03:00)
  America/New_York    2024-03-10 07:00Z  02:00-05:00 -> 03:00-04:00
                      2024-11-03 06:00Z  02:00-04:00 -> 01:00-05:00  (fold 01:00-02:00)
  America/Los_Angeles 2024-03-10 10:00Z, 2024-11-03 09:00Z
  Australia/Lord_Howe 2023-04-01 15:00Z  02:00+11:00 -> 01:30+10:30  (30-minute fold 01:30-02:00)
                      2023-09-30 15:30Z  02:00+10:30 -> 02:30+11:00  (30-minute gap 02:00-02:30)
  America/Santiago    2023-04-02 03:00Z  24:00-03:00 -> 23:00-04:00  (fold 23:00-24:00 on Apr 1)
                      2023-09-03 04:00Z  00:00-04:00 -> 01:00-03:00  (midnight does not exist)
  Pacific/Apia        2011-12-30 10:00Z  Dec 30 00:00-10:00 -> Dec 31 00:00+14:00 (a whole day skipped)
  Antarctica/Troll    2023-03-26 01:00Z  01:00+00:00 -> 03:00+02:00  (a two-hour gap)
                      2023-10-29 01:00Z  03:00+02:00 -> 01:00+00:00  (a two-hour fold)
  Europe/Amsterdam    offsets with seconds before 1940: +00:19:32 (1930), and on 1937-07-01
                      00:00+01:19:32 -> 00:00:28+01:20 (a 28-second gap) at 1937-06-30 22:40:28Z
  Asia/Kolkata        +05:30 all year
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from dagcore.cron import CronExpression

UTC = timezone.utc
US = timedelta(microseconds=1)

ZURICH = "Europe/Zurich"
NEW_YORK = "America/New_York"
LOS_ANGELES = "America/Los_Angeles"
LORD_HOWE = "Australia/Lord_Howe"
SANTIAGO = "America/Santiago"
APIA = "Pacific/Apia"
KOLKATA = "Asia/Kolkata"
TROLL = "Antarctica/Troll"
DUBLIN = "Europe/Dublin"
AMSTERDAM = "Europe/Amsterdam"


def utc(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is None, "table strings are UTC without an offset"
    return parsed.replace(tzinfo=UTC)


Fire = tuple[str, str]  # (UTC instant, the same instant as local time with its offset)


def local_of(instant: datetime, zone: str) -> str:
    """ISO local time with offset, to the minute unless the seconds are not zero."""
    local = instant.astimezone(ZoneInfo(zone))
    return local.isoformat(timespec="minutes" if local.second == 0 else "seconds")


# --- next / prev tables ------------------------------------------------------------------------------

# id: (expression, zone, start (UTC), the fires next() visits from start, in order)
DST_TABLE: dict[str, tuple[str, str, str, list[Fire]]] = {
    # Zurich, spring forward: 02:00-03:00 does not exist on 2023-03-26.
    "zurich-gap-0200": ("0 2 * * *", ZURICH, "2023-03-25T01:00", [  # start: 02:00+01:00
        ("2023-03-26T01:00", "2023-03-26T03:00+02:00"),  # 02:00 moves forward by the gap
        ("2023-03-27T00:00", "2023-03-27T02:00+02:00"),
    ]),
    "zurich-gap-0300": ("0 3 * * *", ZURICH, "2023-03-25T02:00", [  # start: 03:00+01:00
        ("2023-03-26T01:00", "2023-03-26T03:00+02:00"),  # 23 h after the day before
        ("2023-03-27T01:00", "2023-03-27T03:00+02:00"),
    ]),
    "zurich-gap-0230": ("30 2 * * *", ZURICH, "2023-03-25T01:30", [  # start: 02:30+01:00
        ("2023-03-26T01:30", "2023-03-26T03:30+02:00"),
        ("2023-03-27T00:30", "2023-03-27T02:30+02:00"),
    ]),
    # Zurich, fall back: 02:00-03:00 happens twice on 2023-10-29; a daily cron fires once, at the
    # second 02:00.
    "zurich-fold-0200": ("0 2 * * *", ZURICH, "2023-10-28T00:00", [  # start: 02:00+02:00
        ("2023-10-29T01:00", "2023-10-29T02:00+01:00"),  # 25 h after the day before
        ("2023-10-30T01:00", "2023-10-30T02:00+01:00"),
    ]),
    "zurich-fold-0200-skips-first-pass": ("0 2 * * *", ZURICH, "2023-10-28T23:59", [  # 01:59+02:00
        ("2023-10-29T01:00", "2023-10-29T02:00+01:00"),  # not 00:00Z = the first 02:00+02:00
    ]),
    "zurich-fold-0230": ("30 2 * * *", ZURICH, "2023-10-28T00:30", [  # start: 02:30+02:00
        ("2023-10-29T01:30", "2023-10-29T02:30+01:00"),
        ("2023-10-30T01:30", "2023-10-30T02:30+01:00"),
    ]),
    "zurich-fold-0300": ("0 3 * * *", ZURICH, "2023-10-28T01:00", [  # start: 03:00+02:00
        ("2023-10-29T02:00", "2023-10-29T03:00+01:00"),  # 25 h
        ("2023-10-30T02:00", "2023-10-30T03:00+01:00"),
    ]),
    # New York 2024.
    "new-york-gap-0200": ("0 2 * * *", NEW_YORK, "2024-03-09T07:00", [  # start: 02:00-05:00
        ("2024-03-10T07:00", "2024-03-10T03:00-04:00"),
        ("2024-03-11T06:00", "2024-03-11T02:00-04:00"),
    ]),
    "new-york-gap-0230": ("30 2 * * *", NEW_YORK, "2024-03-09T07:30", [  # start: 02:30-05:00
        ("2024-03-10T07:30", "2024-03-10T03:30-04:00"),
        ("2024-03-11T06:30", "2024-03-11T02:30-04:00"),
    ]),
    "new-york-fold-0100": ("0 1 * * *", NEW_YORK, "2024-11-02T05:00", [  # start: 01:00-04:00
        ("2024-11-03T06:00", "2024-11-03T01:00-05:00"),  # the second 01:00
        ("2024-11-04T06:00", "2024-11-04T01:00-05:00"),
    ]),
    "new-york-fold-0130": ("30 1 * * *", NEW_YORK, "2024-11-02T05:30", [  # start: 01:30-04:00
        ("2024-11-03T06:30", "2024-11-03T01:30-05:00"),
        ("2024-11-04T06:30", "2024-11-04T01:30-05:00"),
    ]),
    "new-york-fold-0200": ("0 2 * * *", NEW_YORK, "2024-11-02T06:00", [  # start: 02:00-04:00
        ("2024-11-03T07:00", "2024-11-03T02:00-05:00"),
        ("2024-11-04T07:00", "2024-11-04T02:00-05:00"),
    ]),
    # Los Angeles: a cron with a restricted hour stays on the wall clock (no drift to 06:00/09:00).
    "los-angeles-0700-0800-spring": ("0 7-8 * * *", LOS_ANGELES, "2024-03-09T00:00", [  # 16:00-08:00
        ("2024-03-09T15:00", "2024-03-09T07:00-08:00"),
        ("2024-03-09T16:00", "2024-03-09T08:00-08:00"),
        ("2024-03-10T14:00", "2024-03-10T07:00-07:00"),  # 22 h after 08:00 the day before
        ("2024-03-10T15:00", "2024-03-10T08:00-07:00"),
        ("2024-03-11T14:00", "2024-03-11T07:00-07:00"),
    ]),
    "los-angeles-0700-0800-autumn": ("0 7-8 * * *", LOS_ANGELES, "2024-11-02T00:00", [  # 17:00-07:00
        ("2024-11-02T14:00", "2024-11-02T07:00-07:00"),
        ("2024-11-02T15:00", "2024-11-02T08:00-07:00"),
        ("2024-11-03T15:00", "2024-11-03T07:00-08:00"),  # 24 h after 08:00 the day before
        ("2024-11-03T16:00", "2024-11-03T08:00-08:00"),
        ("2024-11-04T15:00", "2024-11-04T07:00-08:00"),
    ]),
    # Lord Howe: the shift is 30 minutes.
    "lord-howe-fold-0145": ("45 1 * * *", LORD_HOWE, "2023-03-31T14:45", [  # 01:45+11:00 Apr 1
        ("2023-04-01T15:15", "2023-04-02T01:45+10:30"),  # second 01:45; 24.5 h later
        ("2023-04-02T15:15", "2023-04-03T01:45+10:30"),
    ]),
    "lord-howe-fold-0130": ("30 1 * * *", LORD_HOWE, "2023-03-31T14:30", [  # 01:30+11:00 Apr 1
        ("2023-04-01T15:00", "2023-04-02T01:30+10:30"),  # not 14:30Z = 01:30+11:00
        ("2023-04-02T15:00", "2023-04-03T01:30+10:30"),
    ]),
    "lord-howe-fold-0200": ("0 2 * * *", LORD_HOWE, "2023-03-31T15:00", [  # 02:00+11:00 Apr 1
        ("2023-04-01T15:30", "2023-04-02T02:00+10:30"),
        ("2023-04-02T15:30", "2023-04-03T02:00+10:30"),
    ]),
    "lord-howe-gap-0200": ("0 2 * * *", LORD_HOWE, "2023-09-29T15:30", [  # 02:00+10:30 Sep 30
        ("2023-09-30T15:30", "2023-10-01T02:30+11:00"),  # moved forward by the 30-minute gap
        ("2023-10-01T15:00", "2023-10-02T02:00+11:00"),
    ]),
    "lord-howe-gap-0215": ("15 2 * * *", LORD_HOWE, "2023-09-29T15:45", [  # 02:15+10:30 Sep 30
        ("2023-09-30T15:45", "2023-10-01T02:45+11:00"),
        ("2023-10-01T15:15", "2023-10-02T02:15+11:00"),
    ]),
    "lord-howe-gap-0230": ("30 2 * * *", LORD_HOWE, "2023-09-29T16:00", [  # 02:30+10:30 Sep 30
        ("2023-09-30T15:30", "2023-10-01T02:30+11:00"),
        ("2023-10-01T15:30", "2023-10-02T02:30+11:00"),
    ]),
    # Santiago changes clocks at midnight.
    "santiago-gap-midnight": ("0 0 * * *", SANTIAGO, "2023-09-02T04:00", [  # 00:00-04:00 Sep 2
        ("2023-09-03T04:00", "2023-09-03T01:00-03:00"),  # midnight does not exist
        ("2023-09-04T03:00", "2023-09-04T00:00-03:00"),
    ]),
    "santiago-gap-sunday-midnight": ("0 0 * * SUN", SANTIAGO, "2023-08-27T04:00", [  # Sun 00:00-04:00
        ("2023-09-03T04:00", "2023-09-03T01:00-03:00"),
        ("2023-09-10T03:00", "2023-09-10T00:00-03:00"),
    ]),
    "santiago-fold-2330": ("30 23 * * *", SANTIAGO, "2023-03-31T02:30", [  # 23:30-03:00 Mar 30
        ("2023-04-01T02:30", "2023-03-31T23:30-03:00"),
        ("2023-04-02T03:30", "2023-04-01T23:30-04:00"),  # the second 23:30
        ("2023-04-03T03:30", "2023-04-02T23:30-04:00"),
    ]),
    "santiago-fold-midnight": ("0 0 * * *", SANTIAGO, "2023-03-31T03:00", [  # 00:00-03:00 Mar 31
        ("2023-04-01T03:00", "2023-04-01T00:00-03:00"),
        ("2023-04-02T04:00", "2023-04-02T00:00-04:00"),  # 25 h
    ]),
    # Apia skipped 2011-12-30 entirely: its noon moves forward 24 h onto Dec 31 noon, which fires once.
    "apia-skipped-day": ("0 12 * * *", APIA, "2011-12-28T22:00", [  # 12:00-10:00 Dec 28
        ("2011-12-29T22:00", "2011-12-29T12:00-10:00"),
        ("2011-12-30T22:00", "2011-12-31T12:00+14:00"),
        ("2011-12-31T22:00", "2012-01-01T12:00+14:00"),
    ]),
    # A restricted hour field other than a single value is still wall time: fires once in a fold.
    "zurich-every-2-hours-fold": ("0 */2 * * *", ZURICH, "2023-10-28T21:00", [  # 23:00+02:00 Oct 28
        ("2023-10-28T22:00", "2023-10-29T00:00+02:00"),
        ("2023-10-29T01:00", "2023-10-29T02:00+01:00"),  # only the second 02:00
        ("2023-10-29T03:00", "2023-10-29T04:00+01:00"),
    ]),
    "zurich-every-2-hours-gap": ("0 */2 * * *", ZURICH, "2023-03-25T22:00", [  # 23:00+01:00 Mar 25
        ("2023-03-25T23:00", "2023-03-26T00:00+01:00"),
        ("2023-03-26T01:00", "2023-03-26T03:00+02:00"),  # 02:00 moved forward
        ("2023-03-26T02:00", "2023-03-26T04:00+02:00"),
    ]),
    # Troll shifts by two hours.
    "troll-gap-0200": ("0 2 * * *", TROLL, "2023-03-25T02:00", [  # 02:00+00:00
        ("2023-03-26T02:00", "2023-03-26T04:00+02:00"),  # moved forward by the 2-hour gap
        ("2023-03-27T00:00", "2023-03-27T02:00+02:00"),
    ]),
    "troll-fold-0200": ("0 2 * * *", TROLL, "2023-10-28T00:00", [  # 02:00+02:00
        ("2023-10-29T02:00", "2023-10-29T02:00+00:00"),  # the second 02:00; 26 h later
        ("2023-10-30T02:00", "2023-10-30T02:00+00:00"),
    ]),
    # Offsets with seconds: fires are not on whole UTC minutes.
    "amsterdam-1930-offset-with-seconds": ("0 0 * * *", AMSTERDAM, "1929-12-30T23:40:28", [
        ("1929-12-31T23:40:28", "1930-01-01T00:00+00:19:32"),
        ("1930-01-01T23:40:28", "1930-01-02T00:00+00:19:32"),
    ]),
    "amsterdam-1937-28-second-gap": ("0 0 * * *", AMSTERDAM, "1937-06-29T22:40:28", [  # 00:00+01:19:32
        ("1937-06-30T22:40:28", "1937-07-01T00:00:28+01:20"),  # midnight moved forward by 28 s
        ("1937-07-01T22:40", "1937-07-02T00:00+01:20"),
    ]),
    # Kolkata: a half-hour offset and no DST.
    "kolkata-hourly": ("0 * * * *", KOLKATA, "2024-01-01T00:00", [  # 05:30+05:30
        ("2024-01-01T00:30", "2024-01-01T06:00+05:30"),
        ("2024-01-01T01:30", "2024-01-01T07:00+05:30"),
        ("2024-01-01T02:30", "2024-01-01T08:00+05:30"),
    ]),
    "kolkata-midnight": ("0 0 * * *", KOLKATA, "2024-01-01T00:00", [
        ("2024-01-01T18:30", "2024-01-02T00:00+05:30"),
        ("2024-01-02T18:30", "2024-01-03T00:00+05:30"),
    ]),
    "kolkata-quarter-hours": ("*/15 9 * * *", KOLKATA, "2024-01-01T03:00", [  # 08:30+05:30
        ("2024-01-01T03:30", "2024-01-01T09:00+05:30"),
        ("2024-01-01T03:45", "2024-01-01T09:15+05:30"),
        ("2024-01-01T04:00", "2024-01-01T09:30+05:30"),
        ("2024-01-01T04:15", "2024-01-01T09:45+05:30"),
        ("2024-01-02T03:30", "2024-01-02T09:00+05:30"),
    ]),
}


@pytest.mark.parametrize(("expr", "zone", "start", "fires"), DST_TABLE.values(), ids=DST_TABLE.keys())
def test_next_across_transitions(expr: str, zone: str, start: str, fires: list[Fire]) -> None:
    cron = CronExpression(expr, timezone=zone)
    t = utc(start)
    for expected, local in fires:
        t = cron.next(t)
        assert t == utc(expected), f"expected {expected}Z = {local}, got {t} = {local_of(t, zone)}"


@pytest.mark.parametrize(("expr", "zone", "start", "fires"), DST_TABLE.values(), ids=DST_TABLE.keys())
def test_prev_across_transitions(expr: str, zone: str, start: str, fires: list[Fire]) -> None:
    # Backwards from one microsecond after the last fire, prev() visits the same fires in reverse and
    # then lands at or before the start.
    cron = CronExpression(expr, timezone=zone)
    t = utc(fires[-1][0]) + US
    for expected, local in reversed(fires):
        t = cron.prev(t)
        assert t == utc(expected), f"expected {expected}Z = {local}, got {t} = {local_of(t, zone)}"
    t = cron.prev(t)
    assert t is not None and t <= utc(start)


@pytest.mark.parametrize(("expr", "zone", "start", "fires"), DST_TABLE.values(), ids=DST_TABLE.keys())
def test_between_across_transitions(expr: str, zone: str, start: str, fires: list[Fire]) -> None:
    cron = CronExpression(expr, timezone=zone)
    expected = [utc(f) for f, _ in fires]
    assert cron.between(utc(start) + US, expected[-1]) == expected
    assert cron.between(expected[0], expected[-1]) == expected


# --- hourly and sub-hourly crons step in absolute time ------------------------------------------------

# id: (expression, zone, start, end, every fire in [start, end])
ABSOLUTE_TABLE: dict[str, tuple[str, str, str, str, list[Fire]]] = {
    "zurich-hourly-fold": ("0 * * * *", ZURICH, "2023-10-28T23:00", "2023-10-29T02:00", [
        ("2023-10-28T23:00", "2023-10-29T01:00+02:00"),
        ("2023-10-29T00:00", "2023-10-29T02:00+02:00"),  # 02:00 ...
        ("2023-10-29T01:00", "2023-10-29T02:00+01:00"),  # ... and 02:00 again
        ("2023-10-29T02:00", "2023-10-29T03:00+01:00"),
    ]),
    "zurich-@hourly-fold": ("@hourly", ZURICH, "2023-10-28T23:00", "2023-10-29T02:00", [
        ("2023-10-28T23:00", "2023-10-29T01:00+02:00"),
        ("2023-10-29T00:00", "2023-10-29T02:00+02:00"),
        ("2023-10-29T01:00", "2023-10-29T02:00+01:00"),
        ("2023-10-29T02:00", "2023-10-29T03:00+01:00"),
    ]),
    "zurich-hourly-gap": ("0 * * * *", ZURICH, "2023-03-25T23:00", "2023-03-26T02:00", [
        ("2023-03-25T23:00", "2023-03-26T00:00+01:00"),
        ("2023-03-26T00:00", "2023-03-26T01:00+01:00"),
        ("2023-03-26T01:00", "2023-03-26T03:00+02:00"),  # no 02:00
        ("2023-03-26T02:00", "2023-03-26T04:00+02:00"),
    ]),
    "zurich-quarter-hours-fold": ("*/15 * * * *", ZURICH, "2023-10-28T23:45", "2023-10-29T01:15", [
        ("2023-10-28T23:45", "2023-10-29T01:45+02:00"),
        ("2023-10-29T00:00", "2023-10-29T02:00+02:00"),
        ("2023-10-29T00:15", "2023-10-29T02:15+02:00"),
        ("2023-10-29T00:30", "2023-10-29T02:30+02:00"),
        ("2023-10-29T00:45", "2023-10-29T02:45+02:00"),
        ("2023-10-29T01:00", "2023-10-29T02:00+01:00"),
        ("2023-10-29T01:15", "2023-10-29T02:15+01:00"),
    ]),
    "zurich-quarter-hours-gap": ("*/15 * * * *", ZURICH, "2023-03-26T00:30", "2023-03-26T01:15", [
        ("2023-03-26T00:30", "2023-03-26T01:30+01:00"),
        ("2023-03-26T00:45", "2023-03-26T01:45+01:00"),
        ("2023-03-26T01:00", "2023-03-26T03:00+02:00"),  # 02:00-02:45 never fire
        ("2023-03-26T01:15", "2023-03-26T03:15+02:00"),
    ]),
    "zurich-5-and-50-fold": ("5,50 * * * *", ZURICH, "2023-10-28T23:00", "2023-10-29T02:00", [
        ("2023-10-28T23:05", "2023-10-29T01:05+02:00"),
        ("2023-10-28T23:50", "2023-10-29T01:50+02:00"),
        ("2023-10-29T00:05", "2023-10-29T02:05+02:00"),
        ("2023-10-29T00:50", "2023-10-29T02:50+02:00"),
        ("2023-10-29T01:05", "2023-10-29T02:05+01:00"),
        ("2023-10-29T01:50", "2023-10-29T02:50+01:00"),
    ]),
    "new-york-hourly-fold": ("0 * * * *", NEW_YORK, "2024-11-03T04:00", "2024-11-03T08:00", [
        ("2024-11-03T04:00", "2024-11-03T00:00-04:00"),
        ("2024-11-03T05:00", "2024-11-03T01:00-04:00"),
        ("2024-11-03T06:00", "2024-11-03T01:00-05:00"),
        ("2024-11-03T07:00", "2024-11-03T02:00-05:00"),
        ("2024-11-03T08:00", "2024-11-03T03:00-05:00"),
    ]),
    "new-york-hourly-gap": ("0 * * * *", NEW_YORK, "2024-03-10T05:00", "2024-03-10T09:00", [
        ("2024-03-10T05:00", "2024-03-10T00:00-05:00"),
        ("2024-03-10T06:00", "2024-03-10T01:00-05:00"),
        ("2024-03-10T07:00", "2024-03-10T03:00-04:00"),
        ("2024-03-10T08:00", "2024-03-10T04:00-04:00"),
        ("2024-03-10T09:00", "2024-03-10T05:00-04:00"),
    ]),
    "new-york-half-past-fold": ("30 * * * *", NEW_YORK, "2024-11-03T05:00", "2024-11-03T07:00", [
        ("2024-11-03T05:30", "2024-11-03T01:30-04:00"),
        ("2024-11-03T06:30", "2024-11-03T01:30-05:00"),
    ]),
    "los-angeles-20-minutes-fold": ("*/20 * * * *", LOS_ANGELES, "2024-11-03T08:00", "2024-11-03T09:40", [
        ("2024-11-03T08:00", "2024-11-03T01:00-07:00"),
        ("2024-11-03T08:20", "2024-11-03T01:20-07:00"),
        ("2024-11-03T08:40", "2024-11-03T01:40-07:00"),
        ("2024-11-03T09:00", "2024-11-03T01:00-08:00"),
        ("2024-11-03T09:20", "2024-11-03T01:20-08:00"),
        ("2024-11-03T09:40", "2024-11-03T01:40-08:00"),
    ]),
    "lord-howe-half-hours-fold": ("*/30 * * * *", LORD_HOWE, "2023-04-01T14:00", "2023-04-01T16:00", [
        ("2023-04-01T14:00", "2023-04-02T01:00+11:00"),
        ("2023-04-01T14:30", "2023-04-02T01:30+11:00"),
        ("2023-04-01T15:00", "2023-04-02T01:30+10:30"),  # 01:30 again
        ("2023-04-01T15:30", "2023-04-02T02:00+10:30"),
        ("2023-04-01T16:00", "2023-04-02T02:30+10:30"),
    ]),
    "lord-howe-half-hours-gap": ("*/30 * * * *", LORD_HOWE, "2023-09-30T15:00", "2023-09-30T16:00", [
        ("2023-09-30T15:00", "2023-10-01T01:30+10:30"),
        ("2023-09-30T15:30", "2023-10-01T02:30+11:00"),  # no 02:00
        ("2023-09-30T16:00", "2023-10-01T03:00+11:00"),
    ]),
    "santiago-hourly-fold": ("0 * * * *", SANTIAGO, "2023-04-02T01:00", "2023-04-02T05:00", [
        ("2023-04-02T01:00", "2023-04-01T22:00-03:00"),
        ("2023-04-02T02:00", "2023-04-01T23:00-03:00"),
        ("2023-04-02T03:00", "2023-04-01T23:00-04:00"),
        ("2023-04-02T04:00", "2023-04-02T00:00-04:00"),
        ("2023-04-02T05:00", "2023-04-02T01:00-04:00"),
    ]),
    "santiago-hourly-gap": ("0 * * * *", SANTIAGO, "2023-09-03T02:00", "2023-09-03T05:00", [
        ("2023-09-03T02:00", "2023-09-02T22:00-04:00"),
        ("2023-09-03T03:00", "2023-09-02T23:00-04:00"),
        ("2023-09-03T04:00", "2023-09-03T01:00-03:00"),  # no midnight
        ("2023-09-03T05:00", "2023-09-03T02:00-03:00"),
    ]),
    "troll-hourly-fold": ("0 * * * *", TROLL, "2023-10-28T22:00", "2023-10-29T03:00", [
        ("2023-10-28T22:00", "2023-10-29T00:00+02:00"),
        ("2023-10-28T23:00", "2023-10-29T01:00+02:00"),
        ("2023-10-29T00:00", "2023-10-29T02:00+02:00"),
        ("2023-10-29T01:00", "2023-10-29T01:00+00:00"),  # 01:00 and 02:00 again
        ("2023-10-29T02:00", "2023-10-29T02:00+00:00"),
        ("2023-10-29T03:00", "2023-10-29T03:00+00:00"),
    ]),
    "troll-hourly-gap": ("0 * * * *", TROLL, "2023-03-25T23:00", "2023-03-26T03:00", [
        ("2023-03-25T23:00", "2023-03-25T23:00+00:00"),
        ("2023-03-26T00:00", "2023-03-26T00:00+00:00"),
        ("2023-03-26T01:00", "2023-03-26T03:00+02:00"),  # no 01:00, no 02:00
        ("2023-03-26T02:00", "2023-03-26T04:00+02:00"),
        ("2023-03-26T03:00", "2023-03-26T05:00+02:00"),
    ]),
    "kolkata-hourly": ("0 * * * *", KOLKATA, "2024-01-01T00:00", "2024-01-01T03:00", [
        ("2024-01-01T00:30", "2024-01-01T06:00+05:30"),
        ("2024-01-01T01:30", "2024-01-01T07:00+05:30"),
        ("2024-01-01T02:30", "2024-01-01T08:00+05:30"),
    ]),
}


@pytest.mark.parametrize(("expr", "zone", "start", "end", "fires"), ABSOLUTE_TABLE.values(),
                         ids=ABSOLUTE_TABLE.keys())
def test_hourly_crons_step_in_absolute_time(expr: str, zone: str, start: str, end: str,
                                            fires: list[Fire]) -> None:
    cron = CronExpression(expr, timezone=zone)
    expected = [utc(f) for f, _ in fires]
    assert cron.between(utc(start), utc(end)) == expected
    # The same fires one at a time, both ways.
    assert [cron.next(t - US) for t in expected] == expected
    assert [cron.prev(t + US) for t in expected] == expected
    for earlier, later in zip(expected, expected[1:]):
        assert cron.next(earlier) == later
        assert cron.prev(later) == earlier
        assert cron.next(earlier + (later - earlier) / 2) == later


def test_hashed_hourly_cron_fires_twice_in_the_fold() -> None:
    cron = CronExpression("H * * * *", timezone=ZURICH, hash_key="example_dag")
    minute = int(cron.resolved.split()[0])
    fires = cron.between(utc("2023-10-29T00:00"), utc("2023-10-29T01:59"))
    # 02:mm+02:00 and 02:mm+01:00
    assert fires == [utc("2023-10-29T00:00") + timedelta(minutes=minute),
                     utc("2023-10-29T01:00") + timedelta(minutes=minute)]


def test_intervals_spanning_a_switch_are_23_and_25_hours() -> None:
    cron = CronExpression("0 0 * * *", timezone=ZURICH)
    spring = cron.between(utc("2023-03-25T00:00"), utc("2023-03-27T00:00"))
    assert [b - a for a, b in zip(spring, spring[1:])] == [timedelta(hours=23)]  # 00:00+01:00 -> 00:00+02:00
    autumn = cron.between(utc("2023-10-28T00:00"), utc("2023-10-30T00:00"))
    assert [b - a for a, b in zip(autumn, autumn[1:])] == [timedelta(hours=25)]


# --- strictness inside a transition -------------------------------------------------------------------

# next() is the first fire strictly after t and prev() the last strictly before, also when t lies
# inside a fold or a gap. (Airflow's own _get_next/_get_prev convert t to a naive wall time first and
# can skip a fire or return one after t here; the contract's "strictly after/before" forbids that.)
# id: (expression, zone, t, next(t), prev(t))
STRICT_TABLE: dict[str, tuple[str, str, str, Fire, Fire]] = {
    "zurich-0200-first-pass-of-fold": ("0 2 * * *", ZURICH, "2023-10-29T00:30",  # 02:30+02:00
                                       ("2023-10-29T01:00", "2023-10-29T02:00+01:00"),
                                       ("2023-10-28T00:00", "2023-10-28T02:00+02:00")),
    "zurich-0200-at-first-0200": ("0 2 * * *", ZURICH, "2023-10-29T00:00",  # 02:00+02:00, not a fire
                                  ("2023-10-29T01:00", "2023-10-29T02:00+01:00"),
                                  ("2023-10-28T00:00", "2023-10-28T02:00+02:00")),
    "zurich-0200-second-pass-of-fold": ("0 2 * * *", ZURICH, "2023-10-29T01:30",  # 02:30+01:00
                                        ("2023-10-30T01:00", "2023-10-30T02:00+01:00"),
                                        ("2023-10-29T01:00", "2023-10-29T02:00+01:00")),
    "zurich-0,30-1-2-first-pass": ("0,30 1-2 * * *", ZURICH, "2023-10-29T00:10",  # 02:10+02:00
                                   ("2023-10-29T01:00", "2023-10-29T02:00+01:00"),
                                   ("2023-10-28T23:30", "2023-10-29T01:30+02:00")),
    "zurich-0230-after-gap": ("30 2 * * *", ZURICH, "2023-03-26T01:10",  # 03:10+02:00
                              ("2023-03-26T01:30", "2023-03-26T03:30+02:00"),
                              ("2023-03-25T01:30", "2023-03-25T02:30+01:00")),
    # 02:00 and 03:00 land on the same instant on the gap day: one fire, and prev() goes past it.
    "zurich-0200-0300-coincide": ("0 2,3 * * *", ZURICH, "2023-03-26T01:00",  # 03:00+02:00
                                  ("2023-03-27T00:00", "2023-03-27T02:00+02:00"),
                                  ("2023-03-25T02:00", "2023-03-25T03:00+01:00")),
    "zurich-0,30-2-3-gap": ("0,30 2-3 * * *", ZURICH, "2023-03-26T01:00",  # 03:00+02:00
                            ("2023-03-26T01:30", "2023-03-26T03:30+02:00"),
                            ("2023-03-25T02:30", "2023-03-25T03:30+01:00")),
    "zurich-0,30-2-3-gap-later": ("0,30 2-3 * * *", ZURICH, "2023-03-26T01:30",  # 03:30+02:00
                                  ("2023-03-27T00:00", "2023-03-27T02:00+02:00"),
                                  ("2023-03-26T01:00", "2023-03-26T03:00+02:00")),
    "new-york-0130-first-pass": ("30 1 * * *", NEW_YORK, "2024-11-03T05:45",  # 01:45-04:00
                                 ("2024-11-03T06:30", "2024-11-03T01:30-05:00"),
                                 ("2024-11-02T05:30", "2024-11-02T01:30-04:00")),
    "lord-howe-0145-first-pass": ("45 1 * * *", LORD_HOWE, "2023-04-01T14:50",  # 01:50+11:00
                                  ("2023-04-01T15:15", "2023-04-02T01:45+10:30"),
                                  ("2023-03-31T14:45", "2023-04-01T01:45+11:00")),
    "apia-noon-on-skipped-day": ("0 12 * * *", APIA, "2011-12-30T22:00",  # Dec 31 12:00+14:00
                                 ("2011-12-31T22:00", "2012-01-01T12:00+14:00"),
                                 ("2011-12-29T22:00", "2011-12-29T12:00-10:00")),
}


@pytest.mark.parametrize(("expr", "zone", "t", "nxt", "prv"), STRICT_TABLE.values(), ids=STRICT_TABLE.keys())
def test_next_and_prev_are_strict_inside_transitions(expr: str, zone: str, t: str, nxt: Fire,
                                                     prv: Fire) -> None:
    cron = CronExpression(expr, timezone=zone)
    got_next, got_prev = cron.next(utc(t)), cron.prev(utc(t))
    assert got_next == utc(nxt[0]), f"next: expected {nxt[1]}, got {got_next} = {local_of(got_next, zone)}"
    assert got_prev == utc(prv[0]), f"prev: expected {prv[1]}, got {got_prev} = {local_of(got_prev, zone)}"
    assert cron.between(utc(prv[0]), utc(nxt[0])) == [utc(prv[0])] + ([utc(t)] if cron.matches(utc(t)) else []) + [
        utc(nxt[0])]


# --- matches -------------------------------------------------------------------------------------------

# id: (expression, zone, instant, fires there?)
MATCHES_TABLE: dict[str, tuple[str, str, str, bool]] = {
    "zurich-0200-gap-day": ("0 2 * * *", ZURICH, "2023-03-26T01:00", True),  # 03:00+02:00
    "zurich-0300-gap-day": ("0 3 * * *", ZURICH, "2023-03-26T01:00", True),  # 03:00+02:00
    "zurich-0230-gap-day": ("30 2 * * *", ZURICH, "2023-03-26T01:30", True),  # 03:30+02:00
    "zurich-0200-gap-day-before": ("0 2 * * *", ZURICH, "2023-03-26T00:00", False),  # 01:00+01:00
    "zurich-0200-second-0200": ("0 2 * * *", ZURICH, "2023-10-29T01:00", True),  # 02:00+01:00
    "zurich-0200-first-0200": ("0 2 * * *", ZURICH, "2023-10-29T00:00", False),  # 02:00+02:00
    "zurich-hourly-first-0200": ("0 * * * *", ZURICH, "2023-10-29T00:00", True),  # 02:00+02:00
    "zurich-hourly-second-0200": ("0 * * * *", ZURICH, "2023-10-29T01:00", True),  # 02:00+01:00
    "zurich-quarter-first-0245": ("*/15 * * * *", ZURICH, "2023-10-29T00:45", True),  # 02:45+02:00
    "new-york-0130-first": ("30 1 * * *", NEW_YORK, "2024-11-03T05:30", False),  # 01:30-04:00
    "new-york-0130-second": ("30 1 * * *", NEW_YORK, "2024-11-03T06:30", True),  # 01:30-05:00
    "new-york-0200-gap-day": ("0 2 * * *", NEW_YORK, "2024-03-10T07:00", True),  # 03:00-04:00
    "los-angeles-0700-pdt": ("0 7-8 * * *", LOS_ANGELES, "2024-03-10T14:00", True),  # 07:00-07:00
    "los-angeles-0600-pdt": ("0 7-8 * * *", LOS_ANGELES, "2024-03-10T13:00", False),  # 06:00-07:00
    "lord-howe-0145-first": ("45 1 * * *", LORD_HOWE, "2023-04-01T14:45", False),  # 01:45+11:00
    "lord-howe-0145-second": ("45 1 * * *", LORD_HOWE, "2023-04-01T15:15", True),  # 01:45+10:30
    "lord-howe-0200-gap-day": ("0 2 * * *", LORD_HOWE, "2023-09-30T15:30", True),  # 02:30+11:00
    "kolkata-hourly": ("0 * * * *", KOLKATA, "2024-01-01T00:30", True),  # 06:00+05:30
    "kolkata-hourly-utc-hour": ("0 * * * *", KOLKATA, "2024-01-01T00:00", False),  # 05:30+05:30
    "santiago-midnight-gap-day": ("0 0 * * *", SANTIAGO, "2023-09-03T04:00", True),  # 01:00-03:00
    "apia-noon-skipped-day": ("0 12 * * *", APIA, "2011-12-30T22:00", True),  # 12:00+14:00 Dec 31
}


@pytest.mark.parametrize(("expr", "zone", "instant", "fires"), MATCHES_TABLE.values(), ids=MATCHES_TABLE.keys())
def test_matches(expr: str, zone: str, instant: str, fires: bool) -> None:
    cron = CronExpression(expr, timezone=zone)
    t = utc(instant)
    assert cron.matches(t) is fires
    assert cron.matches(t.astimezone(ZoneInfo(zone))) is fires
    # One microsecond off is never a fire time.
    assert cron.matches(t + US) is False
    assert cron.matches(t - US) is False
    if fires:
        assert cron.next(t - US) == t
        assert cron.prev(t + US) == t


# --- the tables' local times are right -----------------------------------------------------------------


def _all_fire_rows() -> list[tuple[str, str, str]]:
    rows = []
    for _, zone, _, fires in DST_TABLE.values():
        rows += [(zone, instant, local) for instant, local in fires]
    for _, zone, _, _, fires in ABSOLUTE_TABLE.values():
        rows += [(zone, instant, local) for instant, local in fires]
    for _, zone, _, nxt, prv in STRICT_TABLE.values():
        rows += [(zone, *nxt), (zone, *prv)]
    return rows


def test_table_local_times_are_right() -> None:
    # The tables' "comments" are data: each UTC instant really is the local time written next to it.
    for zone, instant, local in _all_fire_rows():
        assert local_of(utc(instant), zone) == local, (zone, instant)


# --- forward and reverse iteration mirror each other ---------------------------------------------------

WINDOWS = {  # zone: windows around its transitions, (start, end) in UTC
    ZURICH: [("2023-03-24T00:00", "2023-03-28T00:00"), ("2023-10-27T00:00", "2023-10-31T00:00")],
    NEW_YORK: [("2024-03-08T00:00", "2024-03-12T00:00"), ("2024-11-01T00:00", "2024-11-05T00:00")],
    LOS_ANGELES: [("2024-03-09T00:00", "2024-03-11T12:00"), ("2024-11-02T00:00", "2024-11-04T12:00")],
    LORD_HOWE: [("2023-03-31T00:00", "2023-04-03T00:00"), ("2023-09-29T00:00", "2023-10-02T00:00")],
    SANTIAGO: [("2023-03-31T00:00", "2023-04-03T00:00"), ("2023-09-01T12:00", "2023-09-04T12:00")],
    APIA: [("2011-12-28T00:00", "2012-01-02T00:00")],
    TROLL: [("2023-03-24T00:00", "2023-03-28T00:00"), ("2023-10-27T00:00", "2023-10-31T00:00")],
    DUBLIN: [("2023-10-27T00:00", "2023-10-31T00:00")],
    AMSTERDAM: [("1937-06-29T00:00", "1937-07-03T00:00")],
    KOLKATA: [("2024-01-01T00:00", "2024-01-03T00:00")],
    "UTC": [("2024-02-27T00:00", "2024-03-02T00:00")],
}

# Computed in wall time, then placed in the zone (any zone).
WALL_EXPRS = ["0 2 * * *", "0 3 * * *", "30 2 * * *", "45 1 * * *", "0 0 * * *", "30 23 * * *",
              "0 7-8 * * *", "0,30 1-3 * * *", "0 2,3 * * *", "*/20 1,2 * * *", "0 12 * * *",
              "15 2 * * 0", "0 0 L * *", "0 9 * * MON-FRI", "* 2 * * *"]
# Hour field `*`: absolute steps. Only where the offset changes by whole hours (or `*/30` with Lord
# Howe's half hour) do "t + (next wall time - wall time of t)" and "every instant whose wall time
# matches" agree, which is what the oracle below computes; see test_sub_hour_shifts_still_mirror.
HOURLY_EXPRS = ["0 * * * *", "*/15 * * * *", "@hourly", "5,50 * * * *", "*/30 * * * *"]
HOURLY_IN_ZONE = {LORD_HOWE: ["*/30 * * * *"], AMSTERDAM: []}


def _mirror_cases() -> list[pytest.param]:
    cases = []
    for zone, windows in WINDOWS.items():
        for start, end in windows:
            exprs = WALL_EXPRS + HOURLY_IN_ZONE.get(zone, HOURLY_EXPRS)
            for expr in exprs:
                cases.append(pytest.param(expr, zone, start, end, id=f"{zone}-{start[:10]}-{expr}"))
    return cases


@pytest.mark.parametrize(("expr", "zone", "start", "end"), _mirror_cases())
def test_forward_and_reverse_iteration_mirror(expr: str, zone: str, start: str, end: str) -> None:
    cron = CronExpression(expr, timezone=zone)
    a, b = utc(start), utc(end)
    forward: list[datetime] = []
    t = cron.next(a - US)
    while t is not None and t <= b:
        forward.append(t)
        t = cron.next(t)
    backward: list[datetime] = []
    t = cron.prev(b + US)
    while t is not None and t >= a:
        backward.append(t)
        t = cron.prev(t)
    assert forward == backward[::-1]
    assert all(x < y for x, y in zip(forward, forward[1:]))
    assert cron.between(a, b) == forward
    if forward:  # (a monthly or weekly cron may not fire in a few days)
        # Inclusive ends: a window that starts and ends on fires contains them.
        assert cron.between(forward[0], forward[-1]) == forward
        assert cron.between(forward[0] + US, forward[-1] - US) == forward[1:-1]
    assert all(cron.matches(f) for f in forward)
    # And the walk agrees with an independent computation (croniter for the wall times, zoneinfo
    # for placing them).
    assert forward == expected_fires(expr, zone, a, b)


@pytest.mark.parametrize(("zone", "start", "end"), [(LORD_HOWE, *w) for w in WINDOWS[LORD_HOWE]]
                         + [(AMSTERDAM, *w) for w in WINDOWS[AMSTERDAM]],
                         ids=["lord-howe-fold", "lord-howe-gap", "amsterdam-28-seconds"])
@pytest.mark.parametrize("expr", ["0 * * * *", "15 * * * *", "*/20 * * * *", "*/30 * * * *"])
def test_sub_hour_shifts_still_mirror(expr: str, zone: str, start: str, end: str) -> None:
    # With a shift that is not a whole number of hours, stepping "t + (next wall - wall(t))" from
    # different starting points reaches different instants; whatever the schedule is there, walking
    # it forwards and backwards must give the same fires, and between() must agree.
    cron = CronExpression(expr, timezone=zone)
    a, b = utc(start), utc(end)
    forward, t = [], cron.next(a - US)
    while t is not None and t <= b:
        forward.append(t)
        t = cron.next(t)
    backward, t = [], cron.prev(b + US)
    while t is not None and t >= a:
        backward.append(t)
        t = cron.prev(t)
    assert forward and forward == backward[::-1]
    assert cron.between(a, b) == forward
    assert all(cron.matches(f) and not cron.matches(f + US) for f in forward)
    assert all(cron.next(f - US) == f and cron.prev(f + US) == f for f in forward)


# --- an independent oracle: croniter in wall time + zoneinfo ------------------------------------------


def _croniter_form(expr: str) -> str:
    """croniter 1.3.5 spells the last Friday `L5`, the contract `5L`; presets it knows."""
    fields = expr.split()
    if len(fields) == 5 and fields[4].endswith("L") and fields[4][:-1].isdigit():
        fields[4] = "L" + fields[4][:-1]
    return " ".join(fields)


def _hour_is_star(expr: str) -> bool:
    return expr == "@hourly" or (len(expr.split()) == 5 and expr.split()[1] == "*")


def place(wall: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall time as an instant by Airflow's rule: an ambiguous time takes its second occurrence
    and a non-existent one moves forward by the gap. With PEP 495 both are the later of the fold=0 and
    fold=1 readings (fold=0 in a gap uses the offset from before the gap)."""
    return max(wall.replace(tzinfo=zone, fold=0).astimezone(UTC), wall.replace(tzinfo=zone, fold=1).astimezone(UTC))


def expected_fires(expr: str, zone_name: str, a: datetime, b: datetime) -> list[datetime]:
    """Every fire in [a, b], computed without dagcore."""
    zone = ZoneInfo(zone_name)
    spec = _croniter_form(expr)
    if _hour_is_star(expr):
        # Absolute time: every whole minute whose wall-clock minute is in the minute field (the day
        # fields of these expressions are all `*`).
        minutes = croniter.expand(spec)[0][0]
        minute_set = set(range(60)) if minutes == ["*"] else set(minutes)
        out = []
        t = a.replace(second=0, microsecond=0)
        if t < a:
            t += timedelta(minutes=1)
        while t <= b:
            if t.astimezone(zone).minute in minute_set:
                out.append(t)
            t += timedelta(minutes=1)
        return out
    first_wall = a.astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
    last_wall = b.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
    walls = croniter(spec, first_wall)
    fires = set()
    while (wall := walls.get_next(datetime)) <= last_wall:
        instant = place(wall, zone)
        if a <= instant <= b:
            fires.add(instant)
    return sorted(fires)


def oracle_next(expr: str, zone_name: str, t: datetime) -> datetime:
    zone = ZoneInfo(zone_name)
    spec = _croniter_form(expr)
    wall = t.astimezone(zone).replace(tzinfo=None)
    if _hour_is_star(expr):  # the contract's formula: t + (next wall time - wall time of t)
        return t + (croniter(spec, wall).get_next(datetime) - wall)
    # Wall times more than 3 h before/after wall(t) are placed before/after t (offsets here change by
    # at most 1 h), so the answer is among the placed fires of a window around wall(t).
    walls = croniter(spec, wall - timedelta(hours=3))
    best = None
    while True:
        w = walls.get_next(datetime)
        instant = place(w, zone)
        if instant > t and (best is None or instant < best):
            best = instant
        if w > wall + timedelta(hours=3) and best is not None:
            return best


def oracle_prev(expr: str, zone_name: str, t: datetime) -> datetime:
    zone = ZoneInfo(zone_name)
    spec = _croniter_form(expr)
    wall = t.astimezone(zone).replace(tzinfo=None)
    if _hour_is_star(expr):
        return t + (croniter(spec, wall).get_prev(datetime) - wall)
    # Walk forward from a wall time early enough that a fire lies between it and wall(t) - 3 h (such
    # a fire is placed before t). Only get_next: croniter 1.3.5's get_prev mishandles leap Februaries.
    floor = wall - timedelta(hours=3)
    for days in (1, 8, 32, 366, 8 * 366):
        walls = croniter(spec, floor - timedelta(days=days))
        w = walls.get_next(datetime)
        if w <= floor:
            break
    else:
        raise AssertionError(f"{expr}: no fire in the 8 years before {floor}")
    best = None
    while w <= wall + timedelta(hours=3):
        instant = place(w, zone)
        if instant < t and (best is None or instant > best):
            best = instant
        w = walls.get_next(datetime)
    assert best is not None
    return best


# Transitions to sample around, and the expressions that are safe in each zone (see HOURLY_EXPRS).
TRANSITIONS = [
    (ZURICH, "2023-03-26T01:00"), (ZURICH, "2023-10-29T01:00"),
    (NEW_YORK, "2024-03-10T07:00"), (NEW_YORK, "2024-11-03T06:00"),
    (LOS_ANGELES, "2024-03-10T10:00"), (LOS_ANGELES, "2024-11-03T09:00"),
    (LORD_HOWE, "2023-04-01T15:00"), (LORD_HOWE, "2023-09-30T15:30"),
    (SANTIAGO, "2023-04-02T03:00"), (SANTIAGO, "2023-09-03T04:00"),
    (KOLKATA, "2024-01-01T00:00"),
    (TROLL, "2023-03-26T01:00"), (TROLL, "2023-10-29T01:00"),
    (DUBLIN, "2023-03-26T01:00"), (DUBLIN, "2023-10-29T01:00"),
    (ZURICH, "2150-03-29T01:00"), (ZURICH, "2150-10-25T01:00"),  # beyond the tz database's table
    (NEW_YORK, "1965-04-25T07:00"), (NEW_YORK, "1965-10-31T06:00"),
    (NEW_YORK, "2150-03-08T07:00"), (NEW_YORK, "2150-11-01T06:00"),
]
PROPERTY_EXPRS = WALL_EXPRS + ["30 1 * * *", "0 1,2 * * *", "0-30/10 0-3 * * *", "0 0 29 2 *",
                               "0 2 * * 5L", "0 2 * * 0#1", "0 1 1 * SUN"]


@st.composite
def instants_near_transitions(draw: st.DrawFn) -> tuple[str, datetime]:
    zone, at = draw(st.sampled_from(TRANSITIONS))
    offset = draw(st.integers(min_value=-36 * 3600, max_value=36 * 3600))
    if draw(st.booleans()):
        offset -= offset % 60  # often on a whole minute, where fires are
    return zone, utc(at) + timedelta(seconds=offset)


@settings(max_examples=300)
@given(case=instants_near_transitions(), expr=st.sampled_from(PROPERTY_EXPRS + HOURLY_EXPRS))
def test_next_and_prev_near_transitions_match_the_oracle(case: tuple[str, datetime], expr: str) -> None:
    zone, t = case
    if _hour_is_star(expr) and zone in HOURLY_IN_ZONE and expr not in HOURLY_IN_ZONE[zone]:
        expr = "*/30 * * * *"  # see HOURLY_EXPRS
    cron = CronExpression(expr, timezone=zone)
    nxt, prv = cron.next(t), cron.prev(t)
    assert nxt == oracle_next(expr, zone, t)
    assert prv == oracle_prev(expr, zone, t)
    assert prv < t < nxt
    assert cron.matches(nxt) and cron.matches(prv)
    assert cron.matches(t) == (t in cron.between(prv, nxt))
