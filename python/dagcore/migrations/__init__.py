"""Alembic migrations of the metadata database; run them with :mod:`dagcore.db.migrate`."""
