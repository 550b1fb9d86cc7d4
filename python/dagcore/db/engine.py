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
it upgrades a read lock (SQLite cannot wait on that upgrade). The first 50 ms of that wait poll
the lock every 50-200 us instead of sleeping in SQLite's busy handler, whose sleeps (1, 2, 5 ms
and longer) are long next to the sub-millisecond transactions of the scheduler and the task
processes (:func:`_poll_write_lock`, docs/performance.md 3).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
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
        if mode != "IMMEDIATE":
            connection.exec_driver_sql("BEGIN")
            return
        dbapi_connection = connection.connection.dbapi_connection
        left_ms = _poll_write_lock(dbapi_connection, busy_timeout_ms)
        if left_ms is None:
            return  # taken while polling
        try:
            _set_busy_timeout(dbapi_connection, left_ms)
            # SQLAlchemy's statement: a failure is raised as before (wrapped; "database is
            # locked" once the busy timeout is over).
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        finally:
            _set_busy_timeout(dbapi_connection, busy_timeout_ms)

    return engine


# Waiting for SQLite's write lock: polls this far apart (seconds), the first ones closer, for at
# most _LOCK_POLL_S before SQLite's own busy handler waits for the rest of the busy timeout.
_LOCK_POLL_S = 0.05
_LOCK_POLL_FIRST_S = 0.005
_LOCK_POLL_PAUSES_S = (0.00005, 0.0002)


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return (isinstance(exc, sqlite3.OperationalError) and code is not None
            and code & 0xFF == sqlite3.SQLITE_BUSY)


def _set_busy_timeout(dbapi_connection: Any, ms: int) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={max(0, ms)}")
    finally:
        cursor.close()


def _poll_write_lock(dbapi_connection: Any, busy_timeout_ms: int) -> int | None:
    """Try ``BEGIN IMMEDIATE`` on a pysqlite connection without SQLite's busy handler while
    another connection holds the write lock: None once it succeeded, else the milliseconds of
    the busy timeout left for SQLite's handler to wait (the busy timeout is set back first).

    SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20 ms... between its tries, while the
    scheduler and the task processes hold the lock for well under a millisecond each: most of
    a writer's wait was sleeping after the lock had been released (about 1.3 s of the 3 s the
    scheduler benchmark's 500 Python tasks took). So the first tries are made here, with the
    busy timeout at 0: every 50 us for the first 5 ms of waiting, then every 200 us, for at
    most 50 ms. Any error but "busy" ends the polling too; the caller's own ``BEGIN
    IMMEDIATE`` then raises it as before.
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=0")
        started = time.monotonic()
        polls_end = started + min(_LOCK_POLL_S, busy_timeout_ms / 1000)
        while True:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return None
            except sqlite3.Error as exc:
                if not _is_busy(exc):
                    break  # raised again, through SQLAlchemy, by the caller's BEGIN IMMEDIATE
            now = time.monotonic()
            if now >= polls_end:
                break
            time.sleep(_LOCK_POLL_PAUSES_S[now - started >= _LOCK_POLL_FIRST_S])
        return busy_timeout_ms - int((time.monotonic() - started) * 1000)
    finally:
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()


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
