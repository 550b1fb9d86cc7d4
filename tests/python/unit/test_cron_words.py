"""A schedule in words (dagcore.cron.describe_cron, timetables.describe_timetable): the DAG
list's "Schedule" column, Airflow's cron_descriptor texts with a 24-hour clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dagcore.cron import describe_cron
from dagcore.timetables import (
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DeltaDataIntervalTimetable,
    MultipleCronTriggerTimetable,
    NullTimetable,
    describe_timetable,
)


@pytest.mark.parametrize("expression, words", [
    ("* * * * *", "Every minute"),
    ("*/5 * * * *", "Every 5 minutes"),
    ("15 * * * *", "At 15 minutes past the hour"),
    ("0 */2 * * *", "At 0 minutes past the hour, every 2 hours"),
    ("0 0 * * *", "At 00:00"),
    ("@daily", "At 00:00"),
    ("@weekly", "At 00:00, only on Sunday"),
    ("@monthly", "At 00:00, on day 1 of the month"),
    ("@yearly", "At 00:00, on day 1 of the month, only in January"),
    ("30 6 * * 1-5", "At 06:30, Monday through Friday"),
    ("0 9,17 * * mon,wed", "At 09:00 and 17:00, only on Monday and Wednesday"),
    ("0 3 * * 7", "At 03:00, only on Sunday"),
    ("0 0 * 3,dec *", "At 00:00, only in March and December"),
])
def test_common_shapes_in_words(expression: str, words: str) -> None:
    assert describe_cron(expression) == words


@pytest.mark.parametrize("expression", [
    "H * * * *", "0 0 L * *", "0 0 * * 1#2", "0 0 * * 1/2", "0 25 * * *", "61 1 * * *",
    "0 0 * 13 *", "0 0 * * 9", "bad", "0 0 * *",
])
def test_other_shapes_have_no_words(expression: str) -> None:
    assert describe_cron(expression) is None


def test_describe_timetable() -> None:
    assert describe_timetable(CronDataIntervalTimetable("0 0 * * *", "UTC")) == "At 00:00"
    assert describe_timetable(CronTriggerTimetable("*/5 * * * *", timezone="UTC")) \
        == "Every 5 minutes"
    assert describe_timetable(MultipleCronTriggerTimetable(
        "0 1 * * *", "0 2 * * *", timezone="UTC")) == "At 01:00; At 02:00"
    assert describe_timetable(NullTimetable()) == "Never, external triggers only"
    assert describe_timetable(DeltaDataIntervalTimetable(timedelta(hours=1))) is None
