"""From parsed DAG files to the database: serialized versions, import errors, stale DAGs.

Design note. :func:`sync_dags` parses a folder in child processes
(:class:`dagcore.dag_parsing.DagFileParserPool`: a DAG file that crashes or hangs its process is
that file's import error, the rest of the folder is stored) and stores the DAGs, serialized
there, as the files come in. :func:`sync_parsed` does the same for DAG objects parsed in this
process (tests and other bundles call it directly), :func:`sync_serialized` for entries
serialized already. Import errors and stale marking are one more transaction at the end.

Batches (docs/performance.md 4). The DAGs are written ``[dag_processor] store_batch_size`` at a
time (default 50), each batch in one transaction with a fixed number of statements: one SELECT
per table read (the ``dag`` rows, the tags, the latest versions, the task instances that use
them, the asset reference rows) and one multi-row INSERT (``executemany``; psycopg2 turns it
into multi-row VALUES) per table written (``dag``, ``dag_tag``, ``dag_version``,
``serialized_dag``, ``dag_code``, ``dag_code_blob``, ``dag_version_file``). The per-DAG path
ran about 15 statements and a commit per DAG. The rows are those of the per-DAG path: the same
decisions (throttle, unchanged hash, in-place update, new version) on the same values, the
in-place update and the asset references of a DAG that has any written by the per-DAG functions
themselves (``tests/python/integration/test_dag_store_batch.py`` compares every table on both
backends). A batch that fails for any reason (a DAG whose code cannot be stored, a row another
writer inserted meanwhile) is rolled back and its DAGs are written one transaction each, so a
bad DAG still costs only itself and raises as before; ``store_batch_size = 1`` is the per-DAG
path. :func:`sync_dags` stores the DAGs it holds once it has waited a second for the next file,
so a file that hangs until its timeout does not hold back those parsed before it.

Versioning follows Airflow's ``SerializedDagModel.write_dag`` (docs/airflow-behaviour.md 1.3):
throttled by ``min_update_interval``; no write when the hash and bundle are unchanged; an in-place
update of the latest version while no task instance uses it; otherwise a new version, number + 1.
Unlike Airflow, the hash that decides includes the DAG's code (its file and the helper modules it
imported, stored with the version by :mod:`dagcore.dag_code_store`, 1.8): an edit of a task's
code makes a new version even when the DAG's structure is unchanged.

A DAG that fails to serialize (a param value that is not JSON, a timetable that cannot serialize
itself) is not written; as in Airflow's DAG-file processor (``_serialize_dags``,
docs/airflow-behaviour.md 8.9), it becomes an import error of its file ("Failed to serialize DAG
..." with the traceback) and every other DAG, of that file and of the others, is still stored.
(Airflow's ``dags reserialize`` serializes the whole bag before writing anything, so one such DAG
stops it; dagcore's never does.)

Stale marking: a DAG is marked stale when its file was parsed without error and no longer defines
it. Unlike Airflow, a DAG whose file *failed* to import is not marked stale (the file may still
define it; a syntax error mid-edit must not stop its running backfills, docs/airflow-behaviour.md
1.7); its ``has_import_errors`` is set instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import time
import uuid
import zlib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from dagcore.configuration import ConfigError, conf
from dagcore.dag_parsing import (
    DagFileParserPool,
    FolderMerge,
    SerializedDagEntry,
    parser_pool,
    serialize_dags,
    serialized_entry,
)
from dagcore.asset_store import sync_dag_assets
from dagcore.dag_code_store import code_hash, code_rows, store_code
from dagcore.db import create_engine, transaction
from dagcore.models import tables as t
from dagcore.models.types import uuid7
from dagcore.utils import timezone

if TYPE_CHECKING:
    from dagcore.dag import DAG

__all__ = ["SyncResult", "store_batch_size", "sync_dags", "sync_parsed", "sync_serialized",
           "write_dag"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncResult:
    """What one sync did.

    Attributes:
        written: DAG ids whose serialized version was created or updated.
        versions_created: the DAG ids among ``written`` that got a new version (the others
            had their latest version updated in place).
        unchanged: DAG ids found but not written (same hash, or throttled).
        created: DAG ids that got a new ``dag`` row.
        stale: DAG ids newly marked stale.
        import_errors: the import errors recorded, by file (relative path).
        warnings: files that look like DAG files but define no DAG after catching failed
            imports, by file (relative path): reported, not stored (see
            :attr:`dagcore.dagbag.DagBag.warnings`).
    """

    written: tuple[str, ...] = ()
    versions_created: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    created: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    import_errors: Mapping[str, str] = ()  # type: ignore[assignment]
    warnings: Mapping[str, str] = ()  # type: ignore[assignment]


def _source_code(fileloc: str | None) -> str:
    if not fileloc:
        return ""
    try:
        return Path(fileloc).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _insert(conn: Connection, table: sa.Table) -> Any:
    """An INSERT that can ``on_conflict_do_nothing`` on both supported backends."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _paused_at_creation(entry: SerializedDagEntry, default: bool | None = None) -> bool:
    if entry.is_paused_upon_creation is not None:
        return entry.is_paused_upon_creation
    if default is not None:
        return default
    return conf.getboolean("core", "dags_are_paused_at_creation", fallback=True)


def _dag_row_values(entry: SerializedDagEntry, *, bundle_name: str, bundle_version: str | None,
                    now: datetime) -> dict[str, Any]:
    return {
        **entry.attributes,
        "is_stale": False,
        "last_parsed_time": now,
        "bundle_name": bundle_name,
        "bundle_version": bundle_version,
        "has_import_errors": False,
    }


def _upsert_dag_row(conn: Connection, entry: SerializedDagEntry, *, bundle_name: str,
                    bundle_version: str | None, now: datetime) -> bool:
    """Insert (paused per the creation rule) or update the ``dag`` row; True if inserted."""
    values = _dag_row_values(entry, bundle_name=bundle_name, bundle_version=bundle_version,
                             now=now)
    inserted = conn.execute(
        _insert(conn, t.dag)
        .values(dag_id=entry.dag_id, is_paused=_paused_at_creation(entry), **values)
        .on_conflict_do_nothing(index_elements=["dag_id"])
    ).rowcount
    if not inserted:
        conn.execute(t.dag.update().where(t.dag.c.dag_id == entry.dag_id).values(**values))
    _sync_tags(conn, entry)
    return bool(inserted)


def _sync_tags(conn: Connection, entry: SerializedDagEntry) -> None:
    """The ``dag_tag`` rows become the DAG's tags (Airflow rewrites them at each parse too)."""
    tags = {str(tag)[:t.TAG_MAX_LEN] for tag in entry.data.get("dag", {}).get("tags") or ()}
    dt = t.dag_tag
    have = set(conn.execute(sa.select(dt.c.name).where(dt.c.dag_id == entry.dag_id)).scalars())
    if have - tags:
        conn.execute(dt.delete().where(dt.c.dag_id == entry.dag_id,
                                       dt.c.name.in_(sorted(have - tags))))
    if tags - have:
        conn.execute(dt.insert(), [{"dag_id": entry.dag_id, "name": name}
                                   for name in sorted(tags - have)])


def _compress() -> bool:
    return conf.getboolean("core", "compress_serialized_dags", fallback=False)


def _data_columns(data: dict[str, Any], compress: bool | None = None) -> dict[str, Any]:
    if _compress() if compress is None else compress:
        text = json.dumps(data, sort_keys=True)
        return {"data": None, "data_compressed": zlib.compress(text.encode("utf-8"))}
    return {"data": data, "data_compressed": None}


def _write_code(conn: Connection, *, dag_id: str, version_id: uuid.UUID, fileloc: str,
                source: str, now: datetime) -> None:
    values = {"fileloc": fileloc, "source_code": source, "source_code_hash": _md5(source),
              "last_updated": now}
    updated = conn.execute(
        t.dag_code.update().where(t.dag_code.c.dag_version_id == version_id).values(**values)
    ).rowcount
    if not updated:
        conn.execute(t.dag_code.insert().values(id=uuid7(), dag_id=dag_id,
                                                dag_version_id=version_id, created_at=now,
                                                **values))


def _store_files(conn: Connection, entry: SerializedDagEntry, version_id: uuid.UUID,
                 now: datetime, *, new_version: bool = False) -> None:
    """The version's code files (docs/airflow-behaviour.md 1.8); a version updated in place
    that now has none loses the ones it had."""
    if entry.code_files is not None and entry.code_path is not None:
        store_code(conn, version_id, entry.code_files, entry.code_path, now,
                   new_version=new_version)
    elif not new_version:
        conn.execute(t.dag_version_file.delete().where(
            t.dag_version_file.c.dag_version_id == version_id))
        conn.execute(t.dag_version.update().where(t.dag_version.c.id == version_id).values(
            code_hash=None, code_path=None))


def _update_in_place(conn: Connection, entry: SerializedDagEntry, latest: Any, *,
                     bundle_name: str, bundle_version: str | None, source: str,
                     now: datetime) -> None:
    """Rewrite the ``latest`` version (no task instance uses it) with ``entry``."""
    dv, sd = t.dag_version, t.serialized_dag
    conn.execute(sd.update().where(sd.c.dag_version_id == latest.id).values(
        dag_hash=entry.dag_hash, last_updated=now, **_data_columns(entry.data)))
    conn.execute(dv.update().where(dv.c.id == latest.id).values(
        bundle_name=bundle_name, bundle_version=bundle_version, last_updated=now))
    _write_code(conn, dag_id=entry.dag_id, version_id=latest.id, fileloc=entry.fileloc,
                source=source, now=now)
    _store_files(conn, entry, latest.id, now)
    log.info("DAG %s: version %d updated in place", entry.dag_id, latest.version_number)


def _write_version(conn: Connection, entry: SerializedDagEntry, *, bundle_name: str,
                   bundle_version: str | None, min_update_interval: timedelta | None,
                   now: datetime) -> Literal["created", "updated"] | None:
    """The version part of :func:`write_dag` (the ``dag`` row exists): ``"created"`` (a new
    version), ``"updated"`` (in place) or ``None`` (nothing written)."""
    data, new_hash, dag_id = entry.data, entry.dag_hash, entry.dag_id
    dv, sd = t.dag_version, t.serialized_dag
    query = (
        sa.select(dv.c.id, dv.c.version_number, dv.c.bundle_name, dv.c.bundle_version,
                  dv.c.code_hash, sd.c.dag_hash, sd.c.last_updated)
        .select_from(dv.outerjoin(sd, sd.c.dag_version_id == dv.c.id))
        .where(dv.c.dag_id == dag_id)
        .order_by(dv.c.version_number.desc())
        .limit(1)
        # Two processors writing the same DAG: the second waits, then sees the first's version.
        .with_for_update(of=dv)
    )
    latest = conn.execute(query).one_or_none()
    if (latest is not None and min_update_interval is not None
            and latest.last_updated is not None
            and latest.last_updated > now - min_update_interval):
        return None
    new_code_hash = None if entry.code_files is None else code_hash(entry.code_files)
    if (latest is not None and latest.dag_hash == new_hash and latest.bundle_name == bundle_name
            and (new_code_hash is None or latest.code_hash == new_code_hash)):
        return None
    source = _source_code(entry.fileloc) if entry.source_code is None else entry.source_code
    fileloc = entry.fileloc
    if latest is not None and latest.dag_hash is not None:
        if not _used_versions(conn, [latest.id]):
            _update_in_place(conn, entry, latest, bundle_name=bundle_name,
                             bundle_version=bundle_version, source=source, now=now)
            return "updated"
    number = 1 if latest is None else latest.version_number + 1
    version_id = uuid7()
    has_code = entry.code_files is not None and entry.code_path is not None
    conn.execute(dv.insert().values(id=version_id, version_number=number, dag_id=dag_id,
                                    bundle_name=bundle_name, bundle_version=bundle_version,
                                    created_at=now, last_updated=now,
                                    code_hash=new_code_hash if has_code else None,
                                    code_path=entry.code_path if has_code else None))
    conn.execute(sd.insert().values(id=uuid7(), dag_id=dag_id, dag_version_id=version_id,
                                    dag_hash=new_hash, created_at=now, last_updated=now,
                                    **_data_columns(data)))
    _write_code(conn, dag_id=dag_id, version_id=version_id, fileloc=fileloc, source=source,
                now=now)
    _store_files(conn, entry, version_id, now, new_version=True)
    log.info("DAG %s: new version %d", dag_id, number)
    return "created"


def write_dag(target: Engine | Connection, dag: DAG | SerializedDagEntry, *,
              bundle_name: str = "dags-folder", bundle_version: str | None = None,
              min_update_interval: timedelta | None = None, now: datetime | None = None,
              source_code: str | None = None) -> bool:
    """Store a DAG's serialized form with Airflow's versioning rules (docs/airflow-behaviour.md
    1.3).

    Args:
        target: an engine (one transaction is opened) or a connection inside the caller's
            transaction.
        dag: the DAG, or its :class:`dagcore.dag_parsing.SerializedDagEntry` (serialized in a
            parsing process); its ``dag`` row is created (paused per the creation rule) if
            missing.
        bundle_name, bundle_version: recorded on the version.
        min_update_interval: skip the write when the latest serialized row was updated less
            than this long before ``now``.
        now: the time to record (default :func:`dagcore.utils.timezone.utcnow`).
        source_code: the file's source for ``dag_code`` (default: the entry's, else read
            ``fileloc``).

    Returns:
        True if a version was created or updated in place, False if nothing was written.
    """
    now = now if now is not None else timezone.utcnow()
    entry = dag if isinstance(dag, SerializedDagEntry) else serialized_entry(dag)
    if source_code is not None:
        entry = dataclasses.replace(entry, source_code=source_code)
    if isinstance(target, Engine):
        with transaction(target) as conn:
            return _write_dag(conn, entry, bundle_name=bundle_name,
                              bundle_version=bundle_version,
                              min_update_interval=min_update_interval, now=now) is not None
    return _write_dag(target, entry, bundle_name=bundle_name, bundle_version=bundle_version,
                      min_update_interval=min_update_interval, now=now) is not None


def _write_dag(conn: Connection, entry: SerializedDagEntry, *, bundle_name: str,
               bundle_version: str | None, min_update_interval: timedelta | None,
               now: datetime) -> Literal["created", "updated"] | None:
    _upsert_dag_row(conn, entry, bundle_name=bundle_name, bundle_version=bundle_version, now=now)
    written = _write_version(conn, entry, bundle_name=bundle_name, bundle_version=bundle_version,
                             min_update_interval=min_update_interval, now=now)
    if written is not None:
        # The assets it references follow the version stored (docs/airflow-behaviour.md 12):
        # an unchanged DAG keeps its reference rows.
        sync_dag_assets(conn, entry.dag_id, entry.data, now)
    return written


# -- the batch store -----------------------------------------------------------------------------


class _BatchConflict(Exception):
    """Another writer changed the rows of a batch under it: the batch is stored DAG by DAG."""


def store_batch_size() -> int:
    """``[dag_processor] store_batch_size``: the DAGs written per transaction by a sync (1: one
    transaction per DAG, the path the batch store is compared with).

    Raises:
        ConfigError: not a whole number of at least 1 (the message names the value).
    """
    value = conf.getint("dag_processor", "store_batch_size")
    if not _is_batch_size(value):
        raise ConfigError(f"[dag_processor] store_batch_size must be a whole number of at "
                          f"least 1, got {value!r}")
    return value


def _is_batch_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _checked_batch_size(value: int | None) -> int:
    if value is None:
        return store_batch_size()
    if not _is_batch_size(value):
        raise ValueError(f"batch_size must be a whole number of at least 1, got {value!r}")
    return value


def _tags_of(entry: SerializedDagEntry) -> set[str]:
    return {str(tag)[:t.TAG_MAX_LEN] for tag in entry.data.get("dag", {}).get("tags") or ()}


def _may_reference_assets(data: Mapping[str, Any]) -> bool:
    """False only when :func:`dagcore.asset_store.sync_dag_assets` would find no asset, alias
    or reference in ``data`` (no schedule condition, no task outlets): then, for a DAG with no
    reference rows, it writes nothing."""
    d = data.get("dag", {})
    timetable = d.get("timetable") or {}
    if (timetable.get("__var") or {}).get("asset_condition") is not None:
        return True
    return any(task.get("outlets") for task in d.get("tasks") or ())


_REFERENCE_TABLES: Final = ("dag_schedule_asset_reference", "dag_schedule_asset_alias_reference",
                            "dag_schedule_asset_name_reference",
                            "dag_schedule_asset_uri_reference", "task_outlet_asset_reference")


def _store_dag_rows(conn: Connection, entries: list[SerializedDagEntry], *, bundle_name: str,
                    bundle_version: str | None, now: datetime) -> set[str]:
    """:func:`_upsert_dag_row` and :func:`_sync_tags` for every entry, in a few statements;
    the DAG ids whose row was inserted."""
    d, dt = t.dag, t.dag_tag
    ids = [entry.dag_id for entry in entries]
    existing = set(conn.execute(sa.select(d.c.dag_id).where(d.c.dag_id.in_(ids))).scalars())
    new_rows: dict[frozenset[str], list[dict[str, Any]]] = {}
    updates: dict[frozenset[str], list[dict[str, Any]]] = {}
    paused = conf.getboolean("core", "dags_are_paused_at_creation", fallback=True)
    for entry in entries:
        values = _dag_row_values(entry, bundle_name=bundle_name, bundle_version=bundle_version,
                                 now=now)
        if entry.dag_id in existing:
            updates.setdefault(frozenset(values), []).append(
                {"b_dag_id": entry.dag_id, **{f"v_{k}": v for k, v in values.items()}})
        else:
            new_rows.setdefault(frozenset(values), []).append(
                {"dag_id": entry.dag_id, "is_paused": _paused_at_creation(entry, paused),
                 **values})
    for rows in new_rows.values():
        # A row another writer inserted since the SELECT is a conflict: the batch is redone DAG
        # by DAG. SQLite sums the row counts of an executemany; psycopg2's are not exact, so
        # PostgreSQL gets one multi-row INSERT (whose count is).
        insert = _insert(conn, d).on_conflict_do_nothing(index_elements=["dag_id"])
        if conn.dialect.name == "sqlite":
            inserted = conn.execute(insert, rows).rowcount
        else:
            inserted = conn.execute(insert.values(rows)).rowcount
        if inserted != len(rows):
            raise _BatchConflict(f"{len(rows) - inserted} dag rows were inserted meanwhile")
    for keys, rows in updates.items():
        conn.execute(d.update().where(d.c.dag_id == sa.bindparam("b_dag_id"))
                     .values({k: sa.bindparam(f"v_{k}") for k in sorted(keys)}), rows)
    have: dict[str, set[str]] = {}
    for dag_id, name in conn.execute(sa.select(dt.c.dag_id, dt.c.name)
                                     .where(dt.c.dag_id.in_(ids))):
        have.setdefault(dag_id, set()).add(name)
    gone, added = [], []
    for entry in entries:
        tags, old = _tags_of(entry), have.get(entry.dag_id, set())
        gone += [{"b_dag_id": entry.dag_id, "b_name": name} for name in sorted(old - tags)]
        added += [{"dag_id": entry.dag_id, "name": name} for name in sorted(tags - old)]
    if gone:
        conn.execute(dt.delete().where(dt.c.dag_id == sa.bindparam("b_dag_id"),
                                       dt.c.name == sa.bindparam("b_name")), gone)
    if added:
        conn.execute(dt.insert(), added)
    return {entry.dag_id for entry in entries if entry.dag_id not in existing}


def _latest_versions(conn: Connection, ids: list[str]) -> dict[str, Any]:
    """The latest version of each DAG (the columns :func:`_write_version` reads), locked as
    there (ordered by DAG id, so two batch writers lock in the same order)."""
    dv, sd = t.dag_version, t.serialized_dag
    top = (sa.select(dv.c.dag_id, sa.func.max(dv.c.version_number))
           .where(dv.c.dag_id.in_(ids)).group_by(dv.c.dag_id))
    query = (
        sa.select(dv.c.id, dv.c.dag_id, dv.c.version_number, dv.c.bundle_name,
                  dv.c.bundle_version, dv.c.code_hash, sd.c.dag_hash, sd.c.last_updated)
        .select_from(dv.outerjoin(sd, sd.c.dag_version_id == dv.c.id))
        .where(sa.tuple_(dv.c.dag_id, dv.c.version_number).in_(top))
        .order_by(dv.c.dag_id)
        .with_for_update(of=dv)
    )
    return {row.dag_id: row for row in conn.execute(query)}


def _used_versions(conn: Connection, version_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """The versions among ``version_ids`` that a task instance (or its history) uses."""
    if not version_ids:
        return set()
    ti, tih = t.task_instance, t.task_instance_history
    return set(conn.execute(sa.union(
        sa.select(ti.c.dag_version_id).where(ti.c.dag_version_id.in_(version_ids)),
        sa.select(tih.c.dag_version_id).where(tih.c.dag_version_id.in_(version_ids)),
    )).scalars())


def _store_batch(conn: Connection, entries: list[SerializedDagEntry], *, bundle_name: str,
                 bundle_version: str | None, min_update_interval: timedelta | None,
                 now: datetime) -> list[tuple[bool, Literal["created", "updated"] | None]]:
    """:func:`_write_dag` for each of ``entries`` (distinct DAG ids), in the caller's
    transaction, with a fixed number of statements for the batch: one SELECT per table read
    and one multi-row INSERT per table written. The rows written are those of the per-DAG path
    (the test compares every table); only a version updated in place (a changed DAG whose
    latest version no task instance used) and the assets of a DAG that references any are
    written by the per-DAG functions themselves.

    Returns:
        Per entry, in order: whether its ``dag`` row was inserted, and what was written
        (``"created"``, ``"updated"`` or ``None``).
    """
    created = _store_dag_rows(conn, entries, bundle_name=bundle_name,
                              bundle_version=bundle_version, now=now)
    latest = _latest_versions(conn, [entry.dag_id for entry in entries])
    decided: dict[str, Literal["created", "updated"] | None] = {}
    new: list[tuple[SerializedDagEntry, int, str | None]] = []
    maybe_in_place: list[tuple[SerializedDagEntry, Any, str | None]] = []
    for entry in entries:
        row = latest.get(entry.dag_id)
        decided[entry.dag_id] = None
        if (row is not None and min_update_interval is not None
                and row.last_updated is not None
                and row.last_updated > now - min_update_interval):
            continue
        new_code_hash = None if entry.code_files is None else code_hash(entry.code_files)
        if (row is not None and row.dag_hash == entry.dag_hash and row.bundle_name == bundle_name
                and (new_code_hash is None or row.code_hash == new_code_hash)):
            continue
        if row is not None and row.dag_hash is not None:
            maybe_in_place.append((entry, row, new_code_hash))
        else:
            new.append((entry, 1 if row is None else row.version_number + 1, new_code_hash))
    used = _used_versions(conn, [row.id for _, row, _ in maybe_in_place])
    for entry, row, new_code_hash in maybe_in_place:
        if row.id in used:
            new.append((entry, row.version_number + 1, new_code_hash))
            continue
        source = (_source_code(entry.fileloc) if entry.source_code is None
                  else entry.source_code)
        _update_in_place(conn, entry, row, bundle_name=bundle_name,
                         bundle_version=bundle_version, source=source, now=now)
        decided[entry.dag_id] = "updated"
    _insert_versions(conn, new, bundle_name=bundle_name, bundle_version=bundle_version, now=now)
    for entry, _, _ in new:
        decided[entry.dag_id] = "created"
    written = [entry for entry in entries if decided[entry.dag_id] is not None]
    _sync_assets(conn, written, now)
    return [(entry.dag_id in created, decided[entry.dag_id]) for entry in entries]


def _insert_versions(conn: Connection, new: list[tuple[SerializedDagEntry, int, str | None]], *,
                     bundle_name: str, bundle_version: str | None, now: datetime) -> None:
    """The new versions' ``dag_version``, ``serialized_dag``, ``dag_code`` and code rows, one
    multi-row INSERT per table (what :func:`_write_version` writes for a new version)."""
    if not new:
        return
    versions, serialized, codes, version_files = [], [], [], []
    blobs: dict[str, dict[str, Any]] = {}
    compress = _compress()
    for entry, number, new_code_hash in new:
        version_id = uuid7()
        has_code = entry.code_files is not None and entry.code_path is not None
        versions.append({"id": version_id, "version_number": number, "dag_id": entry.dag_id,
                         "bundle_name": bundle_name, "bundle_version": bundle_version,
                         "created_at": now, "last_updated": now,
                         "code_hash": new_code_hash if has_code else None,
                         "code_path": entry.code_path if has_code else None})
        serialized.append({"id": uuid7(), "dag_id": entry.dag_id, "dag_version_id": version_id,
                           "dag_hash": entry.dag_hash, "created_at": now, "last_updated": now,
                           **_data_columns(entry.data, compress)})
        source = (_source_code(entry.fileloc) if entry.source_code is None
                  else entry.source_code)
        codes.append({"id": uuid7(), "dag_id": entry.dag_id, "dag_version_id": version_id,
                      "created_at": now, "fileloc": entry.fileloc, "source_code": source,
                      "source_code_hash": _md5(source), "last_updated": now})
        if has_code:
            assert entry.code_files is not None and entry.code_path is not None
            rows = code_rows(version_id, entry.code_files, entry.code_path, now)
            for blob in rows.blobs:
                blobs.setdefault(blob["content_hash"], blob)
            version_files += rows.version_files
        log.info("DAG %s: new version %d", entry.dag_id, number)
    conn.execute(t.dag_version.insert(), versions)
    conn.execute(t.serialized_dag.insert(), serialized)
    conn.execute(t.dag_code.insert(), codes)
    if blobs:
        conn.execute(_insert(conn, t.dag_code_blob)
                     .on_conflict_do_nothing(index_elements=["content_hash"]),
                     [blobs[h] for h in sorted(blobs)])
    if version_files:
        conn.execute(t.dag_version_file.insert(), version_files)


def _sync_assets(conn: Connection, written: list[SerializedDagEntry], now: datetime) -> None:
    """:func:`dagcore.asset_store.sync_dag_assets` for each written DAG that references an
    asset or has reference rows (one SELECT finds those); for the others it would write
    nothing."""
    if not written:
        return
    ids = [entry.dag_id for entry in written]
    tables = [t.metadata.tables[name] for name in _REFERENCE_TABLES]
    with_rows = set(conn.execute(sa.union(*(
        sa.select(table.c.dag_id).where(table.c.dag_id.in_(ids)) for table in tables
    ))).scalars())
    for entry in written:
        if entry.dag_id in with_rows or _may_reference_assets(entry.data):
            sync_dag_assets(conn, entry.dag_id, entry.data, now)


def sync_parsed(engine: Engine, dags: Iterable[DAG], import_errors: Mapping[str, str], *,
                bundle_name: str = "dags-folder", bundle_version: str | None = None,
                parsed_files: Collection[str] | None = None,
                min_update_interval: timedelta | None = None,
                now: datetime | None = None, batch_size: int | None = None) -> SyncResult:
    """Write the result of parsing (DAGs and import errors) to the database.

    Args:
        engine: the metadata database.
        dags: the DAGs found (each with ``fileloc`` and, ideally, ``relative_fileloc``).
        import_errors: relative file path -> error message, for files that failed. A DAG
            that fails to serialize adds its file here (the result's ``import_errors``).
        bundle_name, bundle_version: the bundle the files belong to.
        parsed_files: the relative paths that were parsed; ``None`` means the whole bundle, so
            import errors of other files are cleared and every DAG of the bundle not found (and
            not in a failed file) is marked stale.
        min_update_interval: passed to :func:`write_dag`.
        now: the time to record (default ``utcnow()``).
        batch_size: DAGs written per transaction (default ``[dag_processor]
            store_batch_size``); 1 writes each DAG in a transaction of its own.

    Raises:
        ConfigError: a bad ``[dag_processor] store_batch_size``.
        ValueError: a bad ``batch_size`` (the message names it).
    """
    import_errors = dict(import_errors)
    entries = serialize_dags(dags, import_errors)
    return sync_serialized(engine, entries, import_errors, bundle_name=bundle_name,
                           bundle_version=bundle_version, parsed_files=parsed_files,
                           min_update_interval=min_update_interval, now=now,
                           batch_size=batch_size)


def sync_serialized(engine: Engine, entries: Iterable[SerializedDagEntry],
                    import_errors: Mapping[str, str], *, bundle_name: str = "dags-folder",
                    bundle_version: str | None = None,
                    parsed_files: Collection[str] | None = None,
                    min_update_interval: timedelta | None = None,
                    now: datetime | None = None, batch_size: int | None = None) -> SyncResult:
    """:func:`sync_parsed` for DAGs serialized already (by the parsing processes of
    :mod:`dagcore.dag_parsing`): the same writes, ``batch_size`` DAGs per transaction (default
    ``[dag_processor] store_batch_size``; 1: one transaction per DAG), then the import errors
    and the stale marking in one more."""
    now = now if now is not None else timezone.utcnow()
    writes = _Writes()
    batcher = _Batcher(engine, writes, _checked_batch_size(batch_size), bundle_name=bundle_name,
                       bundle_version=bundle_version, min_update_interval=min_update_interval,
                       now=now)
    for entry in entries:
        batcher.add(entry)
    batcher.flush()
    return _finish_sync(engine, writes, import_errors, bundle_name=bundle_name,
                        parsed_files=parsed_files, now=now)


@dataclass(slots=True)
class _Writes:
    """What the per-DAG transactions of a sync did so far."""

    written: list[str] = dataclasses.field(default_factory=list)
    versions_created: list[str] = dataclasses.field(default_factory=list)
    unchanged: list[str] = dataclasses.field(default_factory=list)
    created: list[str] = dataclasses.field(default_factory=list)
    found: set[str] = dataclasses.field(default_factory=set)

    def store(self, engine: Engine, entry: SerializedDagEntry, *, bundle_name: str,
              bundle_version: str | None, min_update_interval: timedelta | None,
              now: datetime) -> None:
        """One DAG's ``dag`` row and version, in a transaction of its own."""
        with transaction(engine) as conn:
            if _upsert_dag_row(conn, entry, bundle_name=bundle_name,
                               bundle_version=bundle_version, now=now):
                self.created.append(entry.dag_id)
            changed = _write_version(conn, entry, bundle_name=bundle_name,
                                     bundle_version=bundle_version,
                                     min_update_interval=min_update_interval, now=now)
            if changed is not None:  # the references follow the version stored (docs 12)
                sync_dag_assets(conn, entry.dag_id, entry.data, now)
        self._record(entry.dag_id, changed)

    def _record(self, dag_id: str, changed: Literal["created", "updated"] | None) -> None:
        (self.written if changed is not None else self.unchanged).append(dag_id)
        if changed == "created":
            self.versions_created.append(dag_id)
        self.found.add(dag_id)

    def store_batch(self, engine: Engine, entries: list[SerializedDagEntry], *,
                    bundle_name: str, bundle_version: str | None,
                    min_update_interval: timedelta | None, now: datetime) -> None:
        """The ``dag`` rows and versions of ``entries`` (distinct DAG ids) in one transaction
        (:func:`_store_batch`). If it fails, nothing of it is kept and each DAG is stored in a
        transaction of its own (:meth:`store`), so a DAG that cannot be stored costs only
        itself, as on the per-DAG path."""
        if len(entries) == 1:
            self.store(engine, entries[0], bundle_name=bundle_name,
                       bundle_version=bundle_version, min_update_interval=min_update_interval,
                       now=now)
            return
        try:
            with transaction(engine) as conn:
                outcomes = _store_batch(conn, entries, bundle_name=bundle_name,
                                        bundle_version=bundle_version,
                                        min_update_interval=min_update_interval, now=now)
        except Exception as exc:  # noqa: BLE001 - the per-DAG path reports each DAG's own error
            log.warning("storing a batch of %d DAGs failed (%s: %s): storing them one by one",
                        len(entries), type(exc).__name__, exc)
            for entry in entries:
                self.store(engine, entry, bundle_name=bundle_name,
                           bundle_version=bundle_version,
                           min_update_interval=min_update_interval, now=now)
            return
        for entry, (inserted, changed) in zip(entries, outcomes):
            if inserted:
                self.created.append(entry.dag_id)
            self._record(entry.dag_id, changed)


_FLUSH_WHEN_WAITING_S: Final = 1.0
"""A sync that has waited this long for the next file stores the DAGs it holds meanwhile."""


class _Batcher:
    """Collects the entries of a sync and stores them ``size`` at a time (a batch never holds
    one DAG id twice: the second starts a new batch, so the later entry is written after the
    first, as on the per-DAG path)."""

    def __init__(self, engine: Engine, writes: _Writes, size: int, **options: Any) -> None:
        self.engine, self.writes, self.size, self.options = engine, writes, size, options
        self.pending: list[SerializedDagEntry] = []
        self.last_added = 0.0  # time.monotonic() of the latest add
        self._ids: set[str] = set()

    def add(self, entry: SerializedDagEntry) -> None:
        """Queue ``entry``; store the batch once it is full."""
        self.last_added = time.monotonic()
        if self.size == 1:
            self.writes.store(self.engine, entry, **self.options)
            return
        if entry.dag_id in self._ids:
            self.flush()
        self.pending.append(entry)
        self._ids.add(entry.dag_id)
        if len(self.pending) >= self.size:
            self.flush()

    def flush(self) -> None:
        """Store the entries queued."""
        if self.pending:
            batch, self.pending, self._ids = self.pending, [], set()
            self.writes.store_batch(self.engine, batch, **self.options)


def _finish_sync(engine: Engine, writes: _Writes, import_errors: Mapping[str, str], *,
                 bundle_name: str, parsed_files: Collection[str] | None,
                 now: datetime, warnings: Mapping[str, str] | None = None) -> SyncResult:
    """The import errors, the files' warnings and the stale marking of a sync, in one
    transaction."""
    import_errors = dict(import_errors)
    warnings = dict(warnings or {})
    found = writes.found
    failed = set(import_errors)
    stale: list[str] = []
    with transaction(engine) as conn:
        ie, fw = t.import_error, t.dag_file_warning
        scope = ie.c.bundle_name == bundle_name
        warned = fw.c.bundle_name == bundle_name
        if parsed_files is not None:
            scope = scope & ie.c.filename.in_(set(parsed_files) | failed)
            warned = warned & fw.c.filename.in_(set(parsed_files) | set(warnings))
        conn.execute(ie.delete().where(scope))
        conn.execute(fw.delete().where(warned))
        if warnings:
            conn.execute(fw.insert(), [
                {"timestamp": now, "filename": name, "bundle_name": bundle_name,
                 "message": message} for name, message in sorted(warnings.items())])
        if import_errors:
            conn.execute(ie.insert(), [
                {"timestamp": now, "filename": name, "bundle_name": bundle_name,
                 "stacktrace": message} for name, message in sorted(import_errors.items())])
            conn.execute(t.dag.update()
                         .where(t.dag.c.bundle_name == bundle_name,
                                t.dag.c.relative_fileloc.in_(failed))
                         .values(has_import_errors=True))
        candidates = sa.select(t.dag.c.dag_id, t.dag.c.relative_fileloc).where(
            t.dag.c.bundle_name == bundle_name, t.dag.c.is_stale == sa.false(),
            t.dag.c.relative_fileloc.is_not(None))
        for row in conn.execute(candidates):
            if row.dag_id in found or row.relative_fileloc in failed:
                continue
            if parsed_files is not None and row.relative_fileloc not in parsed_files:
                continue
            stale.append(row.dag_id)
        if stale:
            conn.execute(t.dag.update().where(t.dag.c.dag_id.in_(stale))
                         .values(is_stale=True))
    for dag_id in stale:
        log.info("DAG %s is no longer defined by its file: marked stale", dag_id)
    return SyncResult(written=tuple(writes.written),
                      versions_created=tuple(writes.versions_created),
                      unchanged=tuple(writes.unchanged), created=tuple(writes.created),
                      stale=tuple(sorted(stale)), import_errors=import_errors)


def sync_dags(dag_folder: str | Path | None = None, *, engine: Engine | None = None,
              bundle_name: str = "dags-folder", now: datetime | None = None,
              min_update_interval: timedelta | None = None,
              pool: DagFileParserPool | None = None,
              should_stop: Callable[[], bool] | None = None,
              batch_size: int | None = None) -> SyncResult:
    """Parse a DAG folder in child processes and sync it to the database (what
    ``dagcore dag-processor`` does).

    Args:
        dag_folder: the folder (default ``[core] dags_folder``).
        engine: the metadata database (default: from the configuration); it must be migrated.
        bundle_name: the bundle the folder is (default ``"dags-folder"``, unversioned).
        now: the time to record (default ``utcnow()``).
        min_update_interval: the write throttle (default
            ``[core] min_serialized_dag_update_interval`` seconds).
        pool: the parsing children to use (the DAG processor keeps one across passes); default
            a pool of ``[dag_processor] parsing_processes`` started and stopped here.
        should_stop: polled while files are parsed; True abandons the pass
            (:class:`dagcore.dag_parsing.ParsingInterrupted`).
        batch_size: DAGs written per transaction (default ``[dag_processor]
            store_batch_size``); 1 writes each DAG in a transaction of its own.

    Raises:
        ConfigError: a bad ``[dag_processor] parsing_processes``,
            ``dag_file_processor_timeout`` or ``store_batch_size``.
        ValueError: a bad ``batch_size`` (the message names it).
        ParsingInterrupted: ``should_stop`` returned True (the DAGs of the batches stored by
            then are kept; the batch being collected, import errors and stale marking are
            not written).
    """
    folder = dag_folder if dag_folder is not None else conf.get("core", "dags_folder")
    if min_update_interval is None:
        min_update_interval = timedelta(seconds=conf.getfloat(
            "core", "min_serialized_dag_update_interval", fallback=30.0))
    now = now if now is not None else timezone.utcnow()
    size = _checked_batch_size(batch_size)
    own_engine = engine is None
    engine = engine if engine is not None else create_engine()
    try:
        merge = FolderMerge()
        writes = _Writes()
        batcher = _Batcher(engine, writes, size, bundle_name=bundle_name, bundle_version=None,
                           min_update_interval=min_update_interval or None, now=now)

        def poll() -> bool:
            # Polled while the next file is awaited: a batch is not held back behind a slow
            # (or hanging) file for more than _FLUSH_WHEN_WAITING_S.
            if (batcher.pending
                    and time.monotonic() - batcher.last_added >= _FLUSH_WHEN_WAITING_S):
                batcher.flush()
            return should_stop() if should_stop is not None else False

        with parser_pool(pool) as parsers, contextlib.closing(
                parsers.iter_folder(str(folder), should_stop=poll)) as files:
            # The files' DAGs are stored a batch at a time as they come in (in file order),
            # while the children parse the next files.
            for parsed in files:
                for entry in merge.add(parsed):
                    batcher.add(entry)
            batcher.flush()
        result = _finish_sync(engine, writes, merge.import_errors, bundle_name=bundle_name,
                              parsed_files=None, now=now, warnings=merge.warnings)
        return dataclasses.replace(result, warnings=dict(merge.warnings))
    finally:
        if own_engine:
            engine.dispose()
