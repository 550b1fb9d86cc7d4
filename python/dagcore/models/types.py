"""Column types shared by the tables and the migrations: aware UTC datetimes and UUIDs.

Both backends store the same values: SQLite has no time zones and no UUID type, so datetimes are
stored as naive UTC text and UUIDs as 36-character strings there, while PostgreSQL gets
``timestamp with time zone`` and ``uuid``. Either way Python sees aware UTC datetimes and
:class:`uuid.UUID` objects. Storing every datetime in UTC also makes the unique constraint on
``(dag_id, logical_date)`` compare instants, not spellings of an instant.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

__all__ = ["UUIDType", "UtcDateTime", "uuid7", "uuid7_many", "uuid7_strings"]


class UtcDateTime(sa.types.TypeDecorator):
    """An aware datetime, stored in UTC; naive datetimes are rejected with ``ValueError``."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime is not allowed (give it a time zone): "
                             f"{value.isoformat()}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class UUIDType(sa.types.TypeDecorator):
    """A UUID: PostgreSQL ``uuid``, elsewhere ``CHAR(36)``; accepts ``UUID`` or its string."""

    impl = sa.CHAR(36)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.UUID(as_uuid=True))
        return dialect.type_descriptor(sa.CHAR(36))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, uuid.UUID):
            value = uuid.UUID(str(value))  # ValueError names the bad string
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> uuid.UUID | None:
        if value is None or isinstance(value, uuid.UUID):
            return value
        return uuid.UUID(value)


def uuid7() -> uuid.UUID:
    """A new time-ordered UUID (RFC 9562 version 7), the id scheme of Airflow's versioned rows.

    48 bits of Unix milliseconds, then random bits: ids created later sort later (to the
    millisecond), which keeps primary-key indexes append-mostly.
    """
    millis = time.time_ns() // 1_000_000
    rand_a = int.from_bytes(os.urandom(2), "big") & 0xFFF  # 12 bits
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)  # 62 bits
    value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)


def _uuid7_ints(n: int) -> list[int]:
    """``n`` new :func:`uuid7` values as ints, from one clock read and one ``os.urandom`` call
    for all of them (instead of two reads per id)."""
    millis = (time.time_ns() // 1_000_000) & ((1 << 48) - 1)
    head = millis << 80 | 0x7 << 76 | 0b10 << 62
    noise = os.urandom(10 * n)
    low = (1 << 62) - 1
    return [head | (int.from_bytes(noise[k:k + 2], "big") & 0xFFF) << 64
            | int.from_bytes(noise[k + 2:k + 10], "big") & low
            for k in range(0, 10 * n, 10)]


def uuid7_many(n: int) -> list[uuid.UUID]:
    """``n`` new :func:`uuid7` ids made in one pass (the task instances of a scheduler loop's
    new runs)."""
    return [uuid.UUID(int=value) for value in _uuid7_ints(n)]


def uuid7_strings(n: int) -> list[str]:
    """``n`` new :func:`uuid7` ids as their canonical strings (``str(uuid7())``), made in one
    pass (a backfill clearing thousands of task instances gives each a new id)."""
    out = []
    for value in _uuid7_ints(n):
        h = f"{value:032x}"
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out
