"""``airflow.sdk.timezone`` / ``airflow.utils.timezone``: Airflow's time-zone helpers.

DAG files call these (``timezone.datetime(2021, 1, 1)``, ``timezone.utcnow()``,
``timezone.parse("2021-01-01")``). As Airflow's ``airflow._shared.timezones.timezone`` (Airflow 2:
``airflow/utils/timezone.py``), a naive value is read in ``[core] default_timezone`` and results
are pendulum ``DateTime`` objects. ``utcnow`` is dagcore's one time seam
(:func:`dagcore.utils.timezone.utcnow`), so tests that freeze time freeze it here too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum

from dagcore.utils.timezone import coerce_datetime as _coerce_datetime
from dagcore.utils.timezone import utcnow as _utcnow

__all__ = ["coerce_datetime", "convert_to_utc", "datetime", "is_localized", "is_naive",
           "make_aware", "make_naive", "parse", "utc", "utcnow"]

utc = pendulum.UTC
"""The UTC zone (Airflow's ``timezone.utc``)."""


def _default_tz() -> Any:
    from dagcore.compat.airflow import _default_timezone

    return _default_timezone()


def utcnow() -> pendulum.DateTime:
    """Now, aware, in UTC."""
    return pendulum.instance(_utcnow()).in_timezone(utc)


def is_localized(value: dt.datetime) -> bool:
    """Whether ``value`` is aware."""
    return value.utcoffset() is not None


def is_naive(value: dt.datetime) -> bool:
    """Whether ``value`` is naive."""
    return value.utcoffset() is None


def datetime(*args: Any, **kwargs: Any) -> dt.datetime:
    """``datetime.datetime(...)`` in ``[core] default_timezone`` unless ``tzinfo`` is given."""
    if "tzinfo" not in kwargs and len(args) < 8:
        kwargs["tzinfo"] = _default_tz()
    return dt.datetime(*args, **kwargs)


def parse(string: str, timezone: Any = None, **options: Any) -> dt.datetime:
    """Parse a date string; a value without offset is read in ``timezone`` (default: the
    default time zone)."""
    value = pendulum.parse(string, tz=timezone or _default_tz(), strict=False, **options)
    if not isinstance(value, dt.datetime):
        raise ValueError(f"{string!r} is not a date-time")
    return value


def make_aware(value: dt.datetime | None, timezone: Any = None) -> dt.datetime | None:
    """A naive ``value`` read in ``timezone`` (default: the default time zone).

    Raises:
        ValueError: ``value`` is already aware (Airflow's "make_aware expects a naive datetime,
            got ...").
    """
    if value is None:
        return None
    if is_localized(value):
        raise ValueError(f"make_aware expects a naive datetime, got {value}")
    tz = timezone or _default_tz()
    return pendulum.instance(value.replace(tzinfo=None), tz=tz)


def make_naive(value: dt.datetime, timezone: Any = None) -> dt.datetime:
    """An aware ``value`` as naive wall time in ``timezone`` (default: the default time zone).

    Raises:
        ValueError: ``value`` is naive ("make_naive() cannot be applied to a naive datetime").
    """
    if is_naive(value):
        raise ValueError("make_naive() cannot be applied to a naive datetime")
    local = value.astimezone(timezone or _default_tz())
    return dt.datetime(local.year, local.month, local.day, local.hour, local.minute,
                       local.second, local.microsecond)


def convert_to_utc(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` in UTC; a naive value is first read in the default time zone."""
    if value is None:
        return None
    if is_naive(value):
        value = make_aware(value)
    assert value is not None
    return pendulum.instance(value.astimezone(utc))


def coerce_datetime(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` made aware (a naive value is taken as UTC, as Airflow's ``coerce_datetime``)."""
    if value is None:
        return None
    if is_naive(value):
        return pendulum.instance(value, tz=utc)
    return pendulum.instance(_coerce_datetime(value))
