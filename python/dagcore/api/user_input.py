"""Parsing of what a user types: run conf JSON, dates, regular expressions, ids, lists, numbers.

Design note. The CLI and the REST server read the same kinds of values from people (a ``--conf``
option or a ``conf`` field, a ``--start-date`` option or a ``start_date`` query parameter), so
the rules and the wording of the errors live here once. Each function takes the raw value and
the ``name`` the user knows it by (``"--conf"`` on the command line, ``"conf"`` in a request
body) and either returns the parsed value or raises a :class:`UserInputError` (a ``ValueError``)
whose message names both, so the caller passes the message on as it is: the CLI prints it after
``dagcore: error:``, the server puts it in its error body.

Nothing here touches the database. Naive dates are read in ``[core] default_timezone``, as
Airflow's CLI and API do (``airflow.utils.timezone.parse``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

__all__ = [
    "InvalidChoice",
    "InvalidConf",
    "InvalidDate",
    "InvalidDateRange",
    "InvalidId",
    "InvalidNumber",
    "InvalidRegex",
    "InvalidTimezone",
    "UserInputError",
    "check_date_range",
    "default_timezone",
    "parse_choice",
    "parse_comma_list",
    "parse_conf",
    "parse_dag_id",
    "parse_date",
    "parse_regex",
    "require_positive",
]

DATE_EXAMPLES = "expected ISO 8601, e.g. 2024-01-31 or 2024-01-31T12:00:00+00:00"


class UserInputError(ValueError):
    """A value a user gave is not acceptable; the message names the value and where it came
    from (``name``)."""

    def __init__(self, message: str, *, name: str, value: Any) -> None:
        super().__init__(message)
        self.name = name
        self.value = value


class InvalidConf(UserInputError):
    """A run conf that is not JSON, or not a JSON object (nor null)."""


class InvalidDate(UserInputError):
    """A date that is not ISO 8601."""


class InvalidTimezone(UserInputError):
    """``[core] default_timezone`` names no known time zone."""


class InvalidDateRange(UserInputError):
    """A start date after the end date."""


class InvalidRegex(UserInputError):
    """A regular expression Python's ``re`` cannot compile."""


class InvalidChoice(UserInputError):
    """A value outside a fixed set (a state, an output format)."""


class InvalidNumber(UserInputError):
    """A number outside its range."""


class InvalidId(UserInputError):
    """A DAG id with characters Airflow does not allow in a key."""


# -- time ----------------------------------------------------------------------------------------


def default_timezone() -> tzinfo:
    """``[core] default_timezone`` as a tzinfo: ``utc``, ``system`` (this machine's) or an IANA
    name.

    Raises:
        InvalidTimezone: the setting names no known zone.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from dagcore.configuration import conf

    name = str(conf.get("core", "default_timezone")).strip()
    if name.lower() == "utc":
        return UTC
    if name.lower() == "system":
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTimezone(f"[core] default_timezone {name!r} is not a known time zone",
                              name="[core] default_timezone", value=name) from None


def parse_date(text: str, name: str) -> datetime:
    """An ISO 8601 date or date-time as an aware datetime; a naive one is in
    ``[core] default_timezone`` (as Airflow's CLI reads it).

    Raises:
        InvalidDate: not ISO 8601.
        InvalidTimezone: a naive value and an unknown ``[core] default_timezone``.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError, TypeError):
        raise InvalidDate(f"{name}: invalid date {text!r} ({DATE_EXAMPLES})", name=name,
                          value=text) from None
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=default_timezone())
    return value


def check_date_range(start: datetime | None, end: datetime | None, *, start_name: str,
                     end_name: str) -> None:
    """Refuse a range whose start is after its end (either may be open: ``None``).

    Raises:
        InvalidDateRange: ``start > end``.
    """
    if start is not None and end is not None and start > end:
        raise InvalidDateRange(f"{start_name} ({start.isoformat()}) is after {end_name} "
                               f"({end.isoformat()})", name=start_name, value=(start, end))


# -- structured values ---------------------------------------------------------------------------


def parse_conf(text: str | None, name: str) -> dict[str, Any] | None:
    """A run conf given as JSON text: an object, or ``None`` for no text or ``null`` (Airflow:
    "DagRun conf must be a JSON object or null").

    Raises:
        InvalidConf: not JSON, or JSON of another type (an array, a string...).
    """
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidConf(f"{name} is not valid JSON ({exc}): {_shorten(text)!r}", name=name,
                          value=text) from None
    except RecursionError:  # Python's json parser recurses once per level
        raise InvalidConf(f"{name} is nested too deeply to parse ({len(text)} characters): "
                          f"{_shorten(text)!r}", name=name, value=text) from None
    if value is not None and not isinstance(value, dict):
        raise InvalidConf(f"{name} must be a JSON object or null, got {type(value).__name__}: "
                          f"{_shorten(text)!r}", name=name, value=text)
    return value


def _shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters with "...": a message names a huge value without
    printing all of it."""
    return text if len(text) <= limit else text[:limit] + "..."


def parse_regex(text: str | None, name: str) -> re.Pattern[str] | None:
    """A regular expression (``None`` stays ``None``), compiled to check it.

    Raises:
        InvalidRegex: ``re`` cannot compile it; the message gives ``re``'s reason.
    """
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as exc:
        raise InvalidRegex(f"{name} {text!r} is not a valid regular expression: {exc}",
                           name=name, value=text) from None


def parse_choice(value: str, choices: Sequence[str], name: str, what: str) -> str:
    """``value`` if it is one of ``choices``; ``what`` says what the choices are ("a DAG run
    state").

    Raises:
        InvalidChoice: another value; the message lists the choices.
    """
    if value not in choices:
        raise InvalidChoice(f"{name} {value!r} is not {what}: use one of {', '.join(choices)}",
                            name=name, value=value)
    return value


def parse_comma_list(text: str | None, name: str) -> list[str] | None:
    """A comma-separated list (``"a, b,c"`` → ``["a", "b", "c"]``; ``None`` stays ``None``),
    each item stripped, as Airflow's list options and query parameters.

    Raises:
        UserInputError: an empty item (``"a,,b"``, a trailing comma, only spaces).
    """
    if text is None:
        return None
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise UserInputError(f"{name} {text!r} has an empty item: give a comma-separated list "
                             f"such as 'a,b'", name=name, value=text)
    return items


def parse_dag_id(text: str, name: str) -> str:
    """A DAG id as Airflow's keys allow: 1 to 250 ASCII letters, digits, ``_``, ``-``, ``.``.

    Raises:
        InvalidId: empty, too long or with another character.
    """
    from dagcore.operators.base import validate_key

    try:
        return validate_key(text, what=name)
    except (TypeError, ValueError) as exc:
        raise InvalidId(str(exc), name=name, value=text) from None


def require_positive(value: float | None, name: str, what: str = "integer") -> None:
    """Refuse a number that is not > 0 (NaN included); ``None`` (not given) passes. ``what``
    says what is expected ("integer", "number of seconds").

    Raises:
        InvalidNumber: zero, negative or NaN.
    """
    if value is not None and not value > 0:
        raise InvalidNumber(f"{name} must be a positive {what}, got {value}", name=name,
                            value=value)
