"""Engines for the metadata database, and the one-transaction-per-state-change helper.

Design note. SQLite is the default (a file in ``$DAGCORE_HOME``), used by several processes at
once (scheduler, API server, CLI), so every connection sets:

* ``journal_mode=WAL``: readers do not block the writer nor the writer the readers;
* ``busy_timeout``: a writer waits for the lock instead of failing with ``database is locked``;
* ``foreign_keys=ON``: SQLite ignores FKs (and their cascades) unless told per connection.

pysqlite opens transactions lazily (only before DML) and never before a SELECT, which would let
a read-then-write "transaction" read outside it. The driver's own transaction handling is
therefore switched off and SQLAlchemy's ``begin`` emits ``BEGIN`` itself (the recipe in
SQLAlchemy's SQLite documentation). :func:`transaction` emits ``BEGIN IMMEDIATE``: it takes the
write lock up front, so two writers queue on ``busy_timeout`` instead of one failing later when
it upgrades a read lock (SQLite cannot wait on that upgrade).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url

from dagcore.configuration import conf

__all__ = ["create_engine", "transaction"]

log = logging.getLogger(__name__)

# Execution option read by the SQLite "begin" hook: "DEFERRED" (plain BEGIN) or "IMMEDIATE".
_SQLITE_BEGIN_OPTION = "dagcore_sqlite_begin"


def create_engine(url: str | sa.engine.URL | None = None, **kwargs: Any) -> Engine:
    """A SQLAlchemy 2.0-style engine for the metadata database.

    Args:
        url: the database URL; default ``[database] sql_alchemy_conn`` (SQLite file
            ``$DAGCORE_HOME/dagcore.db`` unless configured). ``postgresql+psycopg2://...`` for
            PostgreSQL.
        **kwargs: passed to :func:`sqlalchemy.create_engine`.

    Returns:
        The engine. For a SQLite file, its directory is created if missing and every connection
        has WAL, ``busy_timeout`` (``[database] sqlite_busy_timeout`` seconds) and foreign keys on.

    Raises:
        ValueError: the URL cannot be parsed (the message names it).
    """
    raw = url if url is not None else conf.get("database", "sql_alchemy_conn")
    try:
        parsed = make_url(raw)
    except sa.exc.ArgumentError as exc:
        raise ValueError(f"invalid database URL {str(raw)!r}: {exc}") from None
    kwargs.setdefault("future", True)
    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite_engine(parsed, **kwargs)
    kwargs.setdefault("pool_pre_ping", conf.getboolean("database", "sql_alchemy_pool_pre_ping"))
    return sa.create_engine(parsed, **kwargs)


def _create_sqlite_engine(url: sa.engine.URL, **kwargs: Any) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    busy_timeout_ms = int(conf.getfloat("database", "sqlite_busy_timeout") * 1000)
    connect_args = dict(kwargs.pop("connect_args", {}))
    # sqlite3's own lock wait (seconds) matches the pragma, which it would otherwise override.
    connect_args.setdefault("timeout", busy_timeout_ms / 1000)
    connect_args.setdefault("check_same_thread", False)
    if not in_memory:
        # SQLAlchemy 1.4 gives SQLite files a NullPool: a new sqlite3 connection (and four
        # pragmas, and a WAL checkpoint on close) for every query. Pooled connections cut a
        # DBDagBag lookup from about 700 to 200 microseconds (benchmarks/dagbag_bench.py).
        kwargs.setdefault("poolclass", sa.pool.QueuePool)
    engine = sa.create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (see module note)
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Safe with WAL (a crash loses no committed transaction's integrity) and much faster.
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_SQLITE_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")

    return engine


@contextlib.contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One state change, one transaction: commits when the block ends, rolls back if it raises.

    ::

        with transaction(engine) as conn:
            conn.execute(dag_run.insert().values(...))
            conn.execute(task_instance.insert(), rows)

    On SQLite the transaction starts with ``BEGIN IMMEDIATE`` (the write lock is taken first,
    waiting up to ``busy_timeout``), so a read inside the block cannot be invalidated by another
    writer before this one writes.

    Args:
        engine: an engine from :func:`create_engine`.

    Yields:
        A connection inside an open transaction. Do not commit or roll back on it.
    """
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.execution_options(**{_SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        with connection.begin():
            yield connection
