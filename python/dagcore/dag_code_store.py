"""A DAG version's code: stored with the version, and put back on disk where a try runs it.

Design note (docs/airflow-behaviour.md 1.8). Airflow stores a DAG version's structure but its
workers run the task code of whatever file the DAG folder holds when the try starts, so a run in
flight whose file was edited runs new code against an old graph, or fails on a task the new file
no longer defines. dagcore stores the code with the version and runs a try from the code of its
run's version, on any machine that can reach the metadata database:

* **What is stored.** The DAG file and the modules of its code root (the DAG folder) that its
  import loaded (:attr:`dagcore.dagbag.DagBag` records them as the DAG's ``code_files``), each
  by its path relative to the root. Files are content-addressed: ``dag_code_blob`` holds each
  distinct content once (sha-256, zlib-compressed), ``dag_version_file`` says which paths make
  up a version. ``dag_version.code_hash`` is a hash over the version's paths and contents, and
  ``code_path`` is the DAG file's path among them.
* **When it changes.** The code is part of a version's identity: a file edit that changes no
  task still makes a new version once a task instance has used the current one (the in-place
  update rule of 1.3 applies to the code as to the structure), so a version's code is never
  rewritten once a task instance used it.
* **Where it runs.** :func:`materialize` writes a version's files under
  ``[core] dag_code_cache_folder``, in a folder named by the code hash (written to a temporary
  folder and renamed, so several workers on one machine never see half a tree), once per machine;
  :func:`dagcore.dag_loading.load_dag_version` imports the DAG from there.

A version stored without code (before this existed, or a DAG object that has no file) has
``code_hash`` NULL: its tries load the DAG file from the DAG folder as before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from dagcore.configuration import conf
from dagcore.models import tables as t

__all__ = [
    "CodeRows",
    "StoredCode",
    "code_cache_folder",
    "code_files_of",
    "code_hash",
    "code_rows",
    "delete_unused_blobs",
    "materialize",
    "read_code",
    "store_code",
    "stored_code",
]

log = logging.getLogger(__name__)

_DONE_MARKER = ".dagcore-complete"


@dataclass(frozen=True, slots=True)
class StoredCode:
    """A version's code as stored: its hash, the DAG file's path, and path -> content."""

    code_hash: str
    code_path: str
    files: dict[str, bytes]

    @property
    def source(self) -> str:
        """The DAG file's text."""
        return self.files[self.code_path].decode("utf-8", errors="replace")


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def code_hash(files: Mapping[str, bytes]) -> str:
    """A hash over the paths and contents of ``files`` (sha-256, hex)."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
        digest.update(_sha256(files[path]).encode("ascii"))
        digest.update(b"\n")
    return digest.hexdigest()


def _check_path(path: str) -> str:
    """``path`` if it is a relative POSIX path that stays inside its root.

    Raises:
        ValueError: absolute, empty, or with a ``..`` part (the message names it).
    """
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or "\\" in path:
        raise ValueError(f"a stored code path must be relative and stay in its folder, "
                         f"got {path!r}")
    return str(pure)


def code_files_of(dag: Any) -> tuple[dict[str, str], str] | None:
    """The files of ``dag``'s code (relative path -> absolute path) and the DAG file's relative
    path: what the DAG bag recorded (``dag.code_files``), else the DAG file alone when it is a
    readable file; ``None`` when there is no file."""
    recorded = getattr(dag, "code_files", None)
    fileloc = getattr(dag, "fileloc", None) or ""
    if recorded:
        for relative, absolute in recorded.items():
            if os.path.abspath(absolute) == os.path.abspath(fileloc):
                return dict(recorded), relative
    if fileloc and os.path.isfile(fileloc):
        name = os.path.basename(fileloc)
        return {name: os.path.abspath(fileloc)}, name
    return None


def read_code(files: Mapping[str, str], code_path: str) -> dict[str, bytes] | None:
    """The contents of ``files`` (relative -> absolute path); ``None`` when the DAG file itself
    cannot be read. A helper module that cannot be read (deleted since the import) is left
    out, with a warning."""
    contents: dict[str, bytes] = {}
    for relative, absolute in files.items():
        try:
            contents[_check_path(relative)] = Path(absolute).read_bytes()
        except (OSError, ValueError) as exc:
            if relative == code_path:
                log.warning("cannot store the code of %s: %s", absolute, exc)
                return None
            log.warning("cannot store %s with its DAG's code: %s", absolute, exc)
    return contents


def _insert(conn: Connection, table: sa.Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


@dataclass(frozen=True, slots=True)
class CodeRows:
    """The rows that store a version's code: ``dag_code_blob`` rows (inserted unless the content
    is stored already), ``dag_version_file`` rows, and the version's code hash."""

    blobs: list[dict[str, Any]]
    version_files: list[dict[str, Any]]
    code_hash: str


def code_rows(version_id: Any, files: Mapping[str, bytes], code_path: str,
              now: datetime) -> CodeRows:
    """The rows :func:`store_code` writes for ``files`` as version ``version_id``'s code (the
    DAG processor's batch store inserts the rows of many versions at once).

    Raises:
        ValueError: a path is not relative, or ``code_path`` is not among ``files``.
    """
    files = {_check_path(path): content for path, content in files.items()}
    code_path = _check_path(code_path)
    if code_path not in files:
        raise ValueError(f"the DAG file {code_path!r} is not among the code files "
                         f"{sorted(files)}")
    hashes = {path: _sha256(content) for path, content in files.items()}
    paths = {h: path for path, h in hashes.items()}
    return CodeRows(
        blobs=[{"content_hash": h, "size": len(files[path]),
                "content": zlib.compress(files[path]), "created_at": now}
               for h, path in sorted(paths.items())],
        version_files=[{"dag_version_id": version_id, "path": path, "content_hash": h}
                       for path, h in sorted(hashes.items())],
        code_hash=code_hash(files))


def store_code(conn: Connection, version_id: Any, files: Mapping[str, bytes], code_path: str,
               now: datetime, *, new_version: bool = False) -> str:
    """Make ``files`` the code of version ``version_id``, storing each content not stored yet;
    returns the code hash. For an existing version (an in-place update) its file list is
    replaced and its ``code_hash``/``code_path`` set; a ``new_version`` has no files yet and
    its row gets the hash from the caller (one statement less each).

    Raises:
        ValueError: a path is not relative, or ``code_path`` is not among ``files``.
    """
    rows = code_rows(version_id, files, code_path, now)
    blob, vf = t.dag_code_blob, t.dag_version_file
    conn.execute(_insert(conn, blob).on_conflict_do_nothing(index_elements=["content_hash"]),
                 rows.blobs)
    if not new_version:
        conn.execute(vf.delete().where(vf.c.dag_version_id == version_id))
    conn.execute(vf.insert(), rows.version_files)
    digest = rows.code_hash
    if not new_version:
        conn.execute(t.dag_version.update().where(t.dag_version.c.id == version_id).values(
            code_hash=digest, code_path=code_path))
    return digest


def stored_code(conn: Connection, version_id: Any) -> StoredCode | None:
    """The code stored with version ``version_id``, or ``None`` (no such version, or none
    stored)."""
    dv, vf, blob = t.dag_version, t.dag_version_file, t.dag_code_blob
    head = conn.execute(sa.select(dv.c.code_hash, dv.c.code_path).where(
        dv.c.id == version_id)).one_or_none()
    if head is None or head.code_hash is None or head.code_path is None:
        return None
    rows = conn.execute(sa.select(vf.c.path, blob.c.content).select_from(
        vf.join(blob, blob.c.content_hash == vf.c.content_hash)).where(
            vf.c.dag_version_id == version_id)).all()
    return StoredCode(code_hash=head.code_hash, code_path=head.code_path,
                      files={row.path: zlib.decompress(row.content) for row in rows})


def delete_unused_blobs(conn: Connection) -> int:
    """Delete the stored contents no version names any more (after versions were deleted);
    how many."""
    blob, vf = t.dag_code_blob, t.dag_version_file
    used = sa.select(vf.c.content_hash).where(vf.c.content_hash == blob.c.content_hash)
    return conn.execute(blob.delete().where(~sa.exists(used))).rowcount or 0


def code_cache_folder() -> Path:
    """``[core] dag_code_cache_folder``: where versions' code is written to run it."""
    return Path(conf.get("core", "dag_code_cache_folder")).expanduser().absolute()


def materialize(conn: Connection, version_id: Any, *, folder: Path | None = None
                ) -> tuple[Path, str] | None:
    """The folder holding version ``version_id``'s code on this machine (written from the
    database the first time) and the DAG file's path in it; ``None`` when the version has no
    stored code.

    Raises:
        OSError: the cache folder cannot be written.
    """
    dv = t.dag_version
    head = conn.execute(sa.select(dv.c.code_hash, dv.c.code_path).where(
        dv.c.id == version_id)).one_or_none()
    if head is None or head.code_hash is None or head.code_path is None:
        return None
    base = folder if folder is not None else code_cache_folder()
    root = base / head.code_hash
    if (root / _DONE_MARKER).is_file():
        return root, head.code_path
    code = stored_code(conn, version_id)
    if code is None or code.code_hash != head.code_hash:
        return None  # rewritten in place meanwhile: the caller reads it again
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{head.code_hash[:16]}-", dir=base))
    try:
        for path, content in code.files.items():
            target = staging / _check_path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        (staging / _DONE_MARKER).write_text(f"{version_id}\n", encoding="utf-8")
        try:
            os.rename(staging, root)
        except OSError:
            if not (root / _DONE_MARKER).is_file():  # not another worker's complete copy
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return root, head.code_path
