"""Alembic environment for dagcore.

dagcore runs migrations programmatically (:mod:`dagcore.db.migrate`), handing over an open
connection in ``config.attributes["connection"]``; without one (the ``alembic`` command line with
``-x url=...`` or ``[database] sql_alchemy_conn``) an engine is made from the configuration.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from dagcore.models.tables import metadata

config = context.config


def _configure_and_run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: batch mode recreates the table instead.
        render_as_batch=sqlite,
        compare_type=True,
        # dagcore's SQLite engine emits BEGIN itself, so DDL is transactional there too: a failed
        # migration leaves the schema as it was.
        transactional_ddl=True,
    )
    if not sqlite:
        with context.begin_transaction():
            context.run_migrations()
        return
    # Batch mode drops and recreates tables; with foreign keys on, dropping a parent would fire
    # its ON DELETE CASCADE. The pragma is a no-op inside a transaction, hence the raw connection
    # (autocommit, see dagcore.db.engine) before BEGIN; integrity is checked before committing.
    raw = connection.connection.dbapi_connection
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        with context.begin_transaction():
            context.run_migrations()
            violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if violations:
                raise RuntimeError(f"migration left foreign key violations: {violations[:10]}")
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    from dagcore.db.engine import create_engine

    url = context.get_x_argument(as_dictionary=True).get("url")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _configure_and_run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("dagcore migrations run online only (dagcore db migrate)")
run_migrations_online()
