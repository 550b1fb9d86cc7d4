"""Many rows into one table with one driver ``executemany`` (SQLite).

SQLAlchemy's executemany of dicts builds and processes a parameter dict per row
(``construct_params``, every column type's processor through it): for the scheduler's new task
instances that was most of the insert's time (docs/performance.md 3). :func:`insert_rows`
compiles the INSERT once and applies each column's bind processor, the same one SQLAlchemy
applies, to the values directly, then hands the driver a list of tuples: the stored values are
the same. Other
backends keep SQLAlchemy's executemany (psycopg2's batches it already).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["insert_rows"]


def insert_rows(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """``INSERT`` ``rows`` (dicts with the same keys, every one a column of ``table``).

    On SQLite one driver executemany of tuples, each value through its column type's bind
    processor; elsewhere, or when the compiled statement needs parameters the rows do not give
    (a column default of a column left out), ``conn.execute(table.insert(), rows)``.
    """
    if not rows:
        return
    dialect = conn.dialect
    names = list(rows[0])
    if dialect.name != "sqlite":
        conn.execute(table.insert(), list(rows))
        return
    compiled = table.insert().compile(dialect=dialect, column_keys=names)
    order = list(compiled.positiontup or ())
    if sorted(order) != sorted(names):
        conn.execute(table.insert(), list(rows))
        return
    columns = []
    for name in order:
        processor = table.c[name].type._cached_bind_processor(dialect)
        values = [row[name] for row in rows]
        columns.append(values if processor is None else _processed(processor, values))
    conn.exec_driver_sql(compiled.string, list(zip(*columns)))


def _processed(processor: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    """``[processor(v) for v in values]``, each distinct hashable value processed once (a
    processor is a function of its value; a column often repeats one: a run's DAG version, the
    loop's time)."""
    done: dict[tuple[type, Any], Any] = {}
    out = []
    for value in values:
        key = (type(value), value)  # 1, 1.0 and True are equal keys but not equal JSON
        try:
            out.append(done[key])
        except KeyError:
            out.append(done.setdefault(key, processor(value)))
        except TypeError:  # unhashable (a dict of JSON)
            out.append(processor(value))
    return out
