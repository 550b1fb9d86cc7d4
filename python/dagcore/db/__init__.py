"""The metadata database: engines, transactions and migrations.

* :func:`create_engine` -- an engine for ``[database] sql_alchemy_conn`` (SQLite by default);
* :func:`transaction` -- one state change, one transaction;
* :func:`migrate` / :func:`reset` / :func:`check` -- the schema (``dagcore db migrate|reset``).
* :mod:`dagcore.db.sqlite_file` -- the SQLite file under a long-running process: deleted or
  replaced (:class:`~dagcore.db.sqlite_file.DatabaseFileWatch`), or its lock held too long.

The tables themselves are in :mod:`dagcore.models`.
"""

from __future__ import annotations

from dagcore.db.engine import create_engine, transaction
from dagcore.db.migrate import MigrationStatus, check, head_revision, migrate, reset

__all__ = ["MigrationStatus", "check", "create_engine", "head_revision", "migrate", "reset",
           "transaction"]
