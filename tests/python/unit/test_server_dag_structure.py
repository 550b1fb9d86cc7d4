"""How ``/api/v2`` renders a DAG's durations and time zone (Airflow 3's
``datamodels/dags.py`` ``DAGDetailsResponse`` and ``datamodels/tasks.py`` ``TaskResponse``)."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dagcore.server.v2.datamodels import timezone_name
from dagcore.server.v2.task_models import clean_doc_md, iso_duration, time_delta


@pytest.mark.parametrize(("value", "expected"), [
    (None, None),
    (timedelta(minutes=5), "PT5M"),  # test_dags.py TestDagDetails: retry_delay "PT5M"
    (timedelta(hours=1, minutes=5), "PT1H5M"),
    (timedelta(seconds=90), "PT1M30S"),
    (timedelta(days=1, hours=2), "P1DT2H"),
    (timedelta(days=366), "P1Y1D"),
    (timedelta(seconds=0.5), "PT0.5S"),
    (timedelta(0), "PT0S"),
    (timedelta(minutes=-5), "-PT5M"),
])
def test_iso_duration(value: timedelta | None, expected: str | None) -> None:
    """dag_run_timeout as pydantic 2 writes a timedelta (an ISO 8601 duration)."""
    assert iso_duration(value) == expected


def test_time_delta() -> None:
    """test_tasks.py TestGetTask: retry_delay {"__type": "TimeDelta", "days": 0,
    "seconds": 300, "microseconds": 0}."""
    assert time_delta(timedelta(seconds=300)) == {"__type": "TimeDelta", "days": 0,
                                                  "seconds": 300, "microseconds": 0}
    assert time_delta(None) is None


@pytest.mark.parametrize(("tz", "expected"), [
    (UTC, "UTC"),
    (ZoneInfo("Europe/Amsterdam"), "Europe/Amsterdam"),
    (timezone(timedelta(hours=5, minutes=30)), "+05:30"),
    (timezone(timedelta(hours=-3)), "-03:00"),
])
def test_timezone_name(tz: timezone | ZoneInfo, expected: str) -> None:
    """DAGDetailsResponse.get_timezone: str() of the pendulum zone (a name, or an offset)."""
    assert timezone_name(tz) == expected


def test_doc_md_loses_its_indentation() -> None:
    """DAGDetailsResponse.get_doc_md: inspect.cleandoc."""
    assert clean_doc_md("\n    # Title\n      text\n    ") == "# Title\n  text"
    assert clean_doc_md(None) is None
