"""The one clock seam of dagcore, and the edge where foreign datetimes and zones are normalised.

Everything in the package that needs "now" calls :func:`utcnow` through this module's attribute
(``timezone.utcnow()``), never ``datetime.now`` directly, so a test freezes time for the whole
package with ``monkeypatch.setattr(dagcore.utils.timezone, "utcnow", lambda: frozen)``. The C++
engines never read a clock: the Python layer passes the value of this function to them.

Airflow DAG files build their dates with pendulum (``pendulum.datetime(2021, 1, 1, tz="UTC")``,
``pendulum.timezone("Europe/Amsterdam")``; docs/airflow-behaviour.md 8.7). :func:`coerce_datetime`
and :func:`coerce_timezone` turn those (and pytz / dateutil zones) into stdlib values, ``datetime``
with a ``ZoneInfo``, ``datetime.UTC`` or a fixed ``datetime.timezone``, so everything past the edge
(arithmetic, serialization, hashing) sees the same objects whether the file used pendulum or the
stdlib. The module imports no third-party package: pendulum is recognised by its attributes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["coerce_datetime", "coerce_timezone", "utcnow"]


def utcnow() -> datetime:
    """The current time as an aware UTC datetime.

    Returns:
        ``datetime.now(UTC)``: ``tzinfo`` is ``datetime.timezone.utc``, microsecond precision.
    """
    return datetime.now(UTC)


def _fixed(offset: timedelta) -> tzinfo:
    return UTC if offset == timedelta(0) else timezone(offset)


def coerce_timezone(tz: object) -> tzinfo:
    """``tz`` as a stdlib zone: a zone name, ZoneInfo, pendulum, pytz or dateutil zone in.

    Named zones become ``ZoneInfo`` (the name ``"UTC"`` and every zero-offset fixed zone become
    ``datetime.UTC``; a ZoneInfo is returned as is); pendulum's fixed offsets
    (``FixedTimezone``, whose ``name`` is ``"+02:00"``, not a zone-database name) become
    ``datetime.timezone`` with that offset, as Airflow encodes them (an offset in seconds,
    docs/airflow-behaviour.md 8.7).

    Raises:
        TypeError: ``tz`` is neither a str nor a tzinfo.
        ValueError: an unknown zone name (the message names it).
    """
    if isinstance(tz, ZoneInfo):
        return tz
    if isinstance(tz, timezone):
        return _fixed(tz.utcoffset(None))
    if isinstance(tz, str):
        return _zone(tz)
    if not isinstance(tz, tzinfo):
        raise TypeError(f"time zone must be a zone name (str) or a tzinfo, got "
                        f"{type(tz).__name__}: {tz!r}")
    offset = getattr(tz, "offset", None)  # pendulum FixedTimezone: seconds east of UTC
    if isinstance(offset, int) and not isinstance(offset, bool):
        return _fixed(timedelta(seconds=offset))
    for attr in ("key", "name", "zone"):  # ZoneInfo subclasses, pendulum Timezone, pytz
        name = getattr(tz, attr, None)
        if isinstance(name, str) and name:
            return _zone(name)
    fixed = tz.utcoffset(None)
    if fixed is not None:
        return _fixed(fixed)
    raise ValueError(f"time zone {tz!r} has no name in the time-zone database and no fixed "
                     f"offset")


def _zone(name: str) -> tzinfo:
    if name.upper() in ("UTC", "Z", "ETC/UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: pass a name from the time-zone database "
                         f"such as 'Europe/Amsterdam'") from None


def coerce_datetime(value: datetime) -> datetime:
    """``value`` as a plain ``datetime`` with a stdlib zone, the same instant.

    A stdlib datetime whose zone is already ZoneInfo, ``datetime.UTC`` or a fixed
    ``datetime.timezone`` is returned as is. A pendulum ``DateTime`` (a datetime subclass whose
    arithmetic differs from the stdlib's) or a datetime in a pytz / pendulum zone becomes a
    ``datetime`` in :func:`coerce_timezone` of its zone, at the same instant (so the wall time
    and offset are kept, the fold included). Naive values are returned unchanged: callers
    reject them with their own message.
    """
    tz = value.tzinfo
    if tz is None:
        return value
    if type(value) is datetime and (isinstance(tz, ZoneInfo) or tz is UTC):
        return value
    zone = coerce_timezone(tz)
    offset = value.utcoffset()
    if offset is None:  # a tzinfo that does not know its offset: as naive, callers refuse it
        return value
    naive_utc = datetime(value.year, value.month, value.day, value.hour, value.minute,
                         value.second, value.microsecond) - offset
    return naive_utc.replace(tzinfo=UTC).astimezone(zone)
