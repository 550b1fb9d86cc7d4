"""The SQLite file under a long-running process: is it still the file the process opened, and
who holds its write lock when a writer waited too long.

Design note. A SQLite connection keeps working on a file that was deleted (or replaced, ``mv
other.db dagcore.db``) while it was open: it writes into the unlinked inode, which nobody will
ever read, and reports success. A scheduler would go on "recording" runs and outcomes into a
file that is gone and exit 0. The long-running processes therefore compare the path's device
and inode with the ones they saw first (:class:`DatabaseFileWatch`), once per loop: one
``os.stat``, a few microseconds, and stop with :class:`DatabaseFileGone` when they differ.

A writer that waits longer than ``busy_timeout`` for the write lock gets ``database is locked``,
which names neither the file nor who holds it. :func:`describe_lock_timeout` says both, from
``/proc/locks`` (Linux): in WAL mode, the writer holds a POSIX write lock on byte 120 of the
``-shm`` file (SQLite's ``WAL_WRITE_LOCK``); in rollback-journal mode, on the lock bytes of the
database file from ``0x40000000`` (``PENDING_BYTE``, then ``RESERVED_BYTE`` and the shared range).
"""

from __future__ import annotations

import os
import sqlite3
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

__all__ = [
    "DatabaseFileGone",
    "DatabaseFileWatch",
    "DatabaseLocked",
    "check_database_file",
    "describe_lock_timeout",
    "is_lock_error",
    "lock_holders",
    "sqlite_path",
]

_WAL_WRITE_LOCK_OFFSET = 120  # sqlite3 os_unix.c: WALINDEX_LOCK_OFFSET + WAL_WRITE_LOCK
_PENDING_BYTE = 0x40000000  # sqlite3 os.h: the first of the rollback-journal lock bytes
_LOCK_MESSAGES = ("database is locked", "database table is locked")
_CMDLINE_MAX = 120

_watches: weakref.WeakKeyDictionary[Engine, DatabaseFileWatch | None] = (
    weakref.WeakKeyDictionary())


class DatabaseFileGone(OSError):
    """The SQLite file a running process works on was deleted or replaced by another file: its
    connections would go on writing into the old one, which nobody reads. An ``OSError``, as a
    missing file is: the command line reports it as one line."""


class DatabaseLocked(RuntimeError):
    """Another connection held the SQLite write lock for longer than the busy timeout."""


def sqlite_path(engine: Engine) -> Path | None:
    """The file of a SQLite engine (absolute), or None (in-memory, or not SQLite)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser().absolute()


class DatabaseFileWatch:
    """The identity (device, inode) of a SQLite file when the watch was made, and
    :meth:`check` that the path still names that file.

    Args:
        path: the database file; it must exist.

    Raises:
        DatabaseFileGone: ``path`` does not exist.
    """

    __slots__ = ("path", "_identity", "_path_str")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._path_str = str(path)
        try:
            st = os.stat(self._path_str)
        except FileNotFoundError:
            raise DatabaseFileGone(f"the SQLite database file {path} does not exist") from None
        self._identity = (st.st_dev, st.st_ino)

    @classmethod
    def of(cls, engine: Engine) -> DatabaseFileWatch | None:
        """A watch on ``engine``'s file, or None when it has none (in-memory, PostgreSQL)."""
        path = sqlite_path(engine)
        return None if path is None else cls(path)

    def check(self) -> None:
        """Raise :class:`DatabaseFileGone` (naming the path) unless the path still names the
        file seen when the watch was made."""
        try:
            st = os.stat(self._path_str)
        except FileNotFoundError:
            raise DatabaseFileGone(
                f"the SQLite database file {self.path} was deleted while this process was "
                f"using it; stopping (its writes would go to the deleted file)") from None
        if (st.st_dev, st.st_ino) != self._identity:
            raise DatabaseFileGone(
                f"the SQLite database file {self.path} was replaced by another file while "
                f"this process was using it; stopping (its writes would go to the old file)")


def check_database_file(engine: Engine) -> None:
    """:meth:`DatabaseFileWatch.check` of a watch on ``engine``'s file made at the first call
    (for a loop that calls it once per pass); nothing for an engine without a file.

    Raises:
        DatabaseFileGone: the file was deleted or replaced since the first call.
    """
    try:
        watch = _watches[engine]
    except KeyError:
        watch = _watches[engine] = DatabaseFileWatch.of(engine)
    if watch is not None:
        watch.check()


def is_lock_error(exc: BaseException) -> bool:
    """Whether ``exc`` (a SQLAlchemy or sqlite3 error) is SQLite's ``database is locked``:
    the busy timeout ran out while another connection held the lock."""
    orig: Any = getattr(exc, "orig", exc)
    return isinstance(orig, sqlite3.OperationalError) and str(orig).startswith(_LOCK_MESSAGES)


def _proc_dev(st_dev: int) -> str:
    return f"{os.major(st_dev):02x}:{os.minor(st_dev):02x}"


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            text = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"
    return text if len(text) <= _CMDLINE_MAX else text[:_CMDLINE_MAX - 3] + "..."


def lock_holders(path: Path) -> list[tuple[int, str]]:
    """The processes holding the write lock of the SQLite database ``path`` (WAL or rollback
    journal), as ``(pid, command line)``, this process left out; empty where ``/proc/locks``
    cannot be read."""
    # (device, inode) -> whether a write lock starting at an offset is the write lock
    files: dict[tuple[str, int], Callable[[int], bool]] = {}
    tests: tuple[tuple[Path, Callable[[int], bool]], ...] = (
        (path, lambda start: start >= _PENDING_BYTE),
        (Path(f"{path}-shm"), lambda start: start == _WAL_WRITE_LOCK_OFFSET))
    for file, test in tests:
        try:
            st = os.stat(file)
        except OSError:
            continue
        files[(_proc_dev(st.st_dev), st.st_ino)] = test
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return []
    pids: list[int] = []
    for line in lines:
        # "1: POSIX  ADVISORY  WRITE 6017 fe:00:10978472 120 120" (proc(5)); a waiter's line
        # has "->" after the number and is skipped.
        fields = line.split()
        if len(fields) < 8 or fields[1] != "POSIX" or fields[3] != "WRITE":
            continue
        try:
            pid, start = int(fields[4]), int(fields[6])
            major, minor, inode = fields[5].split(":")
            is_write_lock = files.get((f"{major}:{minor}", int(inode)))
        except ValueError:
            continue
        if (is_write_lock is not None and is_write_lock(start) and pid != os.getpid()
                and pid not in pids):
            pids.append(pid)
    return [(pid, _cmdline(pid)) for pid in pids]


def describe_lock_timeout(engine: Engine, busy_timeout_s: float) -> str:
    """One line for a ``database is locked`` error on ``engine``: the file, the busy timeout
    and, when ``/proc/locks`` shows it, who holds the lock."""
    path = sqlite_path(engine)
    where = "the SQLite database" if path is None else f"the SQLite database {path}"
    line = (f"{where} was locked for longer than {busy_timeout_s:g} s (the busy timeout, "
            f"[database] sqlite_busy_timeout)")
    holders = [] if path is None else lock_holders(path)
    if holders:
        line += "; held by " + ", ".join(f"pid {pid} ({cmd})" for pid, cmd in holders)
    return line
