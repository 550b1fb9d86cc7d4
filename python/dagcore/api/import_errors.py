"""Import errors in the database (the ``import_error`` rows the DAG processor records): list
with a filename filter, ordering and paging, and get by id, for the REST API.

Airflow 3 (``core_api/routes/public/import_error.py``) sorts by ``id``, ``timestamp``,
``filename``, ``bundle_name`` or ``stacktrace`` (``import_error_id`` is an alias of ``id``) and
filters ``filename`` with a case-insensitive substring; Airflow 2 (``import_error_endpoint.py``)
sorts by ``import_error_id``, ``timestamp`` or ``filename``. dagcore's roles have no per-DAG
permissions, so every error is listed with its stack trace (Airflow hides or redacts errors of
files with DAGs the caller may not read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore.api.user_input import UserInputError
from dagcore.models import tables as t

__all__ = [
    "ImportError_",
    "ImportErrorListing",
    "ImportErrorNotFound",
    "InvalidImportErrorOrder",
    "ORDER_BY_FIELDS",
    "get_import_error",
    "list_import_errors",
]

# Field name → column; Airflow 3's sortable fields plus the alias both versions accept.
ORDER_BY_FIELDS: Final = ("import_error_id", "id", "timestamp", "filename", "bundle_name",
                          "stacktrace")
_COLUMN: Final = {"import_error_id": "id"}


class ImportErrorNotFound(LookupError):
    """No import error has that id."""


class InvalidImportErrorOrder(UserInputError):
    """An ``order_by`` field import errors cannot be sorted by (Airflow's message)."""


@dataclass(frozen=True, slots=True)
class ImportError_:  # noqa: N801 (not the builtin ImportError)
    """An ``import_error`` row."""

    id: int
    timestamp: datetime
    filename: str
    bundle_name: str | None
    stacktrace: str

    @classmethod
    def from_row(cls, row: Any) -> ImportError_:
        m = row._mapping
        return cls(id=m["id"], timestamp=m["timestamp"], filename=m["filename"],
                   bundle_name=m["bundle_name"], stacktrace=m["stacktrace"])


@dataclass(frozen=True, slots=True)
class ImportErrorListing:
    """One page of import errors and how many match in all."""

    import_errors: list[ImportError_]
    total: int


def _ordering(order_by: Sequence[str], allowed: Sequence[str]) -> list[Any]:
    clauses: list[Any] = []
    for raw in order_by:
        name = raw[1:] if raw.startswith("-") else raw
        if name not in allowed:
            raise InvalidImportErrorOrder(
                f"Ordering with '{name}' is disallowed or the attribute does not exist on the "
                f"model", name="order_by", value=raw)
        column = t.import_error.c[_COLUMN.get(name, name)]
        clauses.append(column.desc() if raw.startswith("-") else column.asc())
    clauses.append(t.import_error.c.id.asc())  # a stable order between pages
    return clauses


def list_import_errors(engine: Engine, *, limit: int, offset: int = 0,
                       order_by: Sequence[str] = ("id",),
                       order_by_allowed: Sequence[str] = ORDER_BY_FIELDS,
                       filename_pattern: str | None = None) -> ImportErrorListing:
    """A page of import errors, ``filename_pattern`` a case-insensitive substring of the file
    name (SQL ``LIKE`` wildcards, as Airflow's search parameters).

    Raises:
        InvalidImportErrorOrder: an ``order_by`` field outside ``order_by_allowed``.
    """
    ordering = _ordering(order_by, order_by_allowed)
    ie = t.import_error
    conditions: list[Any] = []
    if filename_pattern:
        conditions.append(ie.c.filename.ilike(f"%{filename_pattern}%"))
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(ie)
                             .where(*conditions)).scalar_one()
        rows = conn.execute(sa.select(ie).where(*conditions).order_by(*ordering)
                            .limit(limit).offset(offset)).all()
    return ImportErrorListing([ImportError_.from_row(row) for row in rows], total)


def get_import_error(engine: Engine, import_error_id: int) -> ImportError_:
    """The import error with that id.

    Raises:
        ImportErrorNotFound: none has it.
    """
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.import_error)
                           .where(t.import_error.c.id == import_error_id)).one_or_none()
    if row is None:
        raise ImportErrorNotFound(f"Import error {import_error_id} not found")
    return ImportError_.from_row(row)
