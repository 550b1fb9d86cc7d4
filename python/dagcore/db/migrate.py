"""Create, upgrade, reset and inspect the metadata database schema (Alembic, run in-process).

These are the functions behind ``dagcore db migrate`` and ``dagcore db reset``; asking for
confirmation before a reset is the CLI's job. Every function takes an engine (default: one made
from the configuration by :func:`dagcore.db.engine.create_engine`).

On PostgreSQL, :func:`migrate` and :func:`reset` hold a session-level advisory lock, so two
processes starting at once (scheduler and API server) migrate one after the other: the second
finds the schema at head and does nothing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dagcore.db.engine import create_engine
from dagcore.models.tables import metadata

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (with Mako and Pygments, about 0.15 s of CPU) is imported by the functions that use
# it, not with this module: every process imports dagcore.db, and most never migrate (a
# LocalExecutor's fork server, docs/performance.md 3).

__all__ = ["MigrationStatus", "check", "head_revision", "migrate", "reset"]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version"
# Arbitrary but fixed: pg_advisory_lock key shared by every dagcore process migrating a database.
_PG_MIGRATION_LOCK_ID = 0x6461_6763  # "dagc"


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationStatus:
    """Where a database's schema stands.

    Attributes:
        current: the revision the database is at, or ``None`` if it was never migrated.
        head: the newest revision this dagcore ships.
    """

    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        """Whether the database is at the head revision."""
        return self.current == self.head


def _alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


# The newest revision in ``dagcore/migrations/versions``, written here so that a command checking
# the database does not read every script (alembic imports each one to find the head: about 10 ms
# of a CLI command's 100 ms budget at scale, docs/performance.md 5). A new migration updates it;
# tests/python/integration/test_db.py checks it against alembic's own answer.
HEAD_REVISION = "0010_listing_indexes"


def head_revision() -> str:
    """The newest revision shipped in ``dagcore/migrations/versions``."""
    return HEAD_REVISION


def scripts_head_revision() -> str:
    """The head as alembic finds it, reading every migration script (what
    :data:`HEAD_REVISION` must equal)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships the initial revision
        raise RuntimeError(f"no migration scripts found in {MIGRATIONS_DIR}")
    return head


@contextlib.contextmanager
def _migration_connection(engine: Engine | None) -> Iterator[Connection]:
    """A connection to migrate on (holding the PostgreSQL advisory lock), then a dispose."""
    own = engine is None
    engine = engine if engine is not None else create_engine()
    try:
        with engine.connect() as connection:
            locked = connection.dialect.name == "postgresql"
            if locked:
                connection.execute(sa.text("SELECT pg_advisory_lock(:id)"),
                                   {"id": _PG_MIGRATION_LOCK_ID})
                connection.commit()
            try:
                yield connection
            finally:
                if locked:
                    connection.rollback()
                    connection.execute(sa.text("SELECT pg_advisory_unlock(:id)"),
                                       {"id": _PG_MIGRATION_LOCK_ID})
                    connection.commit()
    finally:
        if own:
            engine.dispose()


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Connection) -> str:
    before = _current(connection)
    connection.commit()  # alembic's env begins its own transaction
    from alembic import command

    command.upgrade(_alembic_config(connection), "head")
    connection.commit()
    after = _current(connection)
    connection.commit()
    if before != after:
        log.info("metadata database migrated from %s to %s", before or "empty", after)
    return after or head_revision()


def migrate(engine: Engine | None = None) -> str:
    """Creates the schema, or upgrades it to the newest revision. Idempotent.

    Args:
        engine: the database; default: the configured one.

    Returns:
        The revision the database is at afterwards (the head).
    """
    with _migration_connection(engine) as connection:
        return _upgrade(connection)


def reset(engine: Engine | None = None) -> str:
    """Drops every dagcore table (data included) and creates the schema again at head.

    Tables that are not dagcore's are left alone. The caller confirms with the user first.

    Args:
        engine: the database; default: the configured one.

    Returns:
        The revision the database is at afterwards (the head).
    """
    with _migration_connection(engine) as connection:
        with connection.begin():
            metadata.drop_all(connection, checkfirst=True)
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
        log.warning("metadata database reset: every dagcore table dropped")
        return _upgrade(connection)


def check(engine: Engine | None = None) -> MigrationStatus:
    """The database's current revision and the head, without changing anything.

    Args:
        engine: the database; default: the configured one.
    """
    own = engine is None
    engine = engine if engine is not None else create_engine()
    try:
        with engine.connect() as connection:
            return MigrationStatus(current=_current(connection), head=head_revision())
    finally:
        if own:
            engine.dispose()
