"""dagcore.api.user_input: what the CLI and the REST server read from people.

Airflow's rules: a run conf is a JSON object or null ("DagRun conf must be a JSON object or
null", airflow/cli/commands/dag_command.py ``dag_trigger`` and api_fastapi's trigger body); a
naive date is in ``[core] default_timezone`` (airflow/utils/timezone.py ``parse``, used by the
CLI's date options); keys (DAG ids) are ASCII letters, digits, ``_``, ``-``, ``.``, at most 250
(task-sdk definitions/_internal/node.py ``validate_key``). Every error is a ``ValueError`` whose
message names the value and where it came from.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dagcore.api.user_input import (
    InvalidChoice,
    InvalidConf,
    InvalidDate,
    InvalidDateRange,
    InvalidId,
    InvalidNumber,
    InvalidRegex,
    InvalidTimezone,
    UserInputError,
    check_date_range,
    default_timezone,
    parse_choice,
    parse_comma_list,
    parse_conf,
    parse_dag_id,
    parse_date,
    parse_regex,
    require_positive,
)


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch):
    """Set ``[core] default_timezone`` through its environment variable."""

    def set_zone(name: str) -> None:
        monkeypatch.setenv("DAGCORE__CORE__DEFAULT_TIMEZONE", name)

    return set_zone


def test_every_error_is_a_value_error_naming_where_the_value_came_from() -> None:
    for error in (InvalidChoice, InvalidConf, InvalidDate, InvalidDateRange, InvalidId,
                  InvalidNumber, InvalidRegex, InvalidTimezone):
        assert issubclass(error, UserInputError) and issubclass(error, ValueError)
    with pytest.raises(InvalidConf) as info:
        parse_conf("[1]", "conf")
    assert (info.value.name, info.value.value) == ("conf", "[1]")


# -- conf -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    (None, None), ("null", None), ("{}", {}), ('{"a": [1, 2], "b": {"c": null}}',
                                               {"a": [1, 2], "b": {"c": None}}),
], ids=["absent", "null", "empty-object", "nested"])
def test_conf_is_a_json_object_or_null(text: str | None, expected: object) -> None:
    assert parse_conf(text, "--conf") == expected


@pytest.mark.parametrize("text, fragment", [
    ("{not json", "is not valid JSON"),
    ("", "is not valid JSON"),
    ("[1, 2]", "must be a JSON object or null, got list"),
    ('"text"', "must be a JSON object or null, got str"),
    ("3", "must be a JSON object or null, got int"),
], ids=["broken", "empty", "array", "string", "number"])
def test_bad_conf_names_the_option_and_the_text(text: str, fragment: str) -> None:
    with pytest.raises(InvalidConf) as info:
        parse_conf(text, "--conf")
    message = str(info.value)
    assert message.startswith("--conf ") and fragment in message and repr(text) in message


# -- dates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, text, expected", [
    ("utc", "2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
    ("UTC", " 2024-03-01T06:30:00.123456 ", datetime(2024, 3, 1, 6, 30, 0, 123456, tzinfo=UTC)),
    # Amsterdam in winter is UTC+1, in summer UTC+2.
    ("Europe/Amsterdam", "2024-03-01T00:00", datetime(2024, 2, 29, 23, tzinfo=UTC)),
    ("Europe/Amsterdam", "2024-07-01T00:00", datetime(2024, 6, 30, 22, tzinfo=UTC)),
    # An explicit offset wins over the default time zone.
    ("Europe/Amsterdam", "2024-03-01T00:00:00-05:00", datetime(2024, 3, 1, 5, tzinfo=UTC)),
    ("Europe/Amsterdam", "2024-03-01T00:00:00Z", datetime(2024, 3, 1, tzinfo=UTC)),
], ids=["date", "microseconds-and-spaces", "winter", "summer", "offset", "zulu"])
def test_naive_dates_are_in_the_default_timezone(zone, name: str, text: str,
                                                 expected: datetime) -> None:
    zone(name)
    value = parse_date(text, "--start-date")
    assert value.tzinfo is not None and value == expected


def test_default_timezone_names(zone) -> None:
    zone("utc")
    assert default_timezone() is UTC
    zone("Asia/Kolkata")
    assert default_timezone() == ZoneInfo("Asia/Kolkata")
    zone("system")
    assert datetime(2024, 1, 1, tzinfo=default_timezone()).utcoffset() is not None


def test_unknown_default_timezone_is_named(zone) -> None:
    zone("Mars/Olympus")
    with pytest.raises(InvalidTimezone, match=re.escape(
            "[core] default_timezone 'Mars/Olympus' is not a known time zone")):
        parse_date("2024-01-01", "--start-date")
    # An aware date does not need the setting.
    assert parse_date("2024-01-01T00:00:00+00:00", "--start-date") == datetime(
        2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2024-13-01", "2024-02-30", "yesterday", "", "01/02/2024"])
def test_bad_dates_name_the_option_and_the_text(text: str) -> None:
    with pytest.raises(InvalidDate) as info:
        parse_date(text, "--logical-date")
    assert str(info.value) == (f"--logical-date: invalid date {text!r} (expected ISO 8601, "
                               f"e.g. 2024-01-31 or 2024-01-31T12:00:00+00:00)")


def test_date_range() -> None:
    start = datetime(2024, 1, 2, tzinfo=UTC)
    for end in (start, start + timedelta(days=1), None):
        check_date_range(start, end, start_name="--start-date", end_name="--end-date")
    check_date_range(None, start, start_name="--start-date", end_name="--end-date")
    with pytest.raises(InvalidDateRange, match=re.escape(
            "--start-date (2024-01-02T00:00:00+00:00) is after --end-date "
            "(2024-01-01T00:00:00+00:00)")):
        check_date_range(start, start - timedelta(days=1), start_name="--start-date",
                         end_name="--end-date")


# -- regular expressions, choices, lists, ids, numbers --------------------------------------------


def test_regex() -> None:
    assert parse_regex(None, "--task-regex") is None
    pattern = parse_regex("^load_", "--task-regex")
    assert pattern is not None and pattern.search("load_x") and not pattern.search("x_load")
    with pytest.raises(InvalidRegex) as info:
        parse_regex("(", "--task-regex")
    assert str(info.value).startswith("--task-regex '(' is not a valid regular expression: ")


def test_choice() -> None:
    states = ("queued", "running", "success", "failed")
    assert parse_choice("running", states, "--state", "a DAG run state") == "running"
    with pytest.raises(InvalidChoice, match=re.escape(
            "--state 'bogus' is not a DAG run state: use one of queued, running, success, "
            "failed")):
        parse_choice("bogus", states, "--state", "a DAG run state")


def test_comma_list() -> None:
    assert parse_comma_list(None, "dag_ids") is None
    assert parse_comma_list("a", "dag_ids") == ["a"]
    assert parse_comma_list(" a, b ,c", "dag_ids") == ["a", "b", "c"]
    for text in ("a,,b", "a,", " ", ""):
        with pytest.raises(UserInputError, match=re.escape(f"dag_ids {text!r} has an empty")):
            parse_comma_list(text, "dag_ids")


def test_dag_id() -> None:
    assert parse_dag_id("etl.daily-v2_x", "dag_id") == "etl.daily-v2_x"
    for bad, fragment in (("", "1 to 250"), ("a" * 251, "1 to 250"),
                          ("bad id", "must contain only"), ("dag/1", "must contain only"),
                          ("caf\u00e9", "must contain only")):
        with pytest.raises(InvalidId) as info:
            parse_dag_id(bad, "dag_id")
        assert str(info.value).startswith(f"dag_id {bad!r} ") and fragment in str(info.value)


def test_positive_numbers() -> None:
    for good in (None, 1, 0.5, 10**9):
        require_positive(good, "--num-runs")
    with pytest.raises(InvalidNumber, match=re.escape(
            "--num-runs must be a positive integer, got 0")):
        require_positive(0, "--num-runs")
    with pytest.raises(InvalidNumber, match=re.escape(
            "--interval must be a positive number of seconds, got -1.5")):
        require_positive(-1.5, "--interval", "number of seconds")
    with pytest.raises(InvalidNumber, match="got nan"):
        require_positive(math.nan, "--interval", "number of seconds")
