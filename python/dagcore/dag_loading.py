"""Loading one DAG from its file, with a per-file cache: what a worker does before a try.

A try runs the code of its run's DAG version (:func:`load_dag_version`, docs/airflow-behaviour.md
1.8): the version's stored files are written once per machine by
:func:`dagcore.dag_code_store.materialize` and imported from there, with a cache per version
(a version's code never changes once a task instance used it). A version stored without code
falls back to the DAG file in the DAG folder (:func:`load_dag`).

The task runner needs the DAG object (with its callables) of the workload it runs. It gets it
from :func:`load_dag`, which parses the file with :class:`~dagcore.dagbag.DagBag` and keeps the
result per file until the file's modification time or size changes. The LocalExecutor parses
files in its parent process before forking (:func:`parse_dag_file`), so every child inherits the
cache and runs its try without parsing again.

This is storage-layer code next to the DagBag (it reads DAG files); the task runner (runtime)
imports it. The cache is process-wide and thread-safe; a slow file does not block others.
"""

from __future__ import annotations

import importlib
import os
import stat as stat_module
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagcore.configuration import conf

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from dagcore.dag import DAG

__all__ = ["ParsedDagFile", "load_dag", "load_dag_version", "parse_dag_file"]


@dataclass(frozen=True, slots=True)
class ParsedDagFile:
    """One parse of a DAG file: its DAGs by id, its import error (None if it imported)."""

    signature: tuple[int, int]  # (st_mtime_ns, st_size) when parsed
    dags: dict[str, DAG]
    import_error: str | None


_parsed: dict[str, ParsedDagFile] = {}
_parsed_lock = threading.Lock()


def _dag_folder_for(path: str) -> str:
    """The folder put on ``sys.path`` while importing ``path``: the DAGs folder if the file is
    in it (so helper modules there import, as in Airflow's workers), else the file's folder."""
    folder = os.path.abspath(os.path.expanduser(conf.get("core", "dags_folder")))
    if path.startswith(folder + os.sep):
        return folder
    return os.path.dirname(path)


def parse_dag_file(fileloc: str) -> ParsedDagFile:
    """The DAGs ``fileloc`` defines now: from the cache if the file's modification time and size
    are those of the cached parse, else parsed again (safe mode off) and cached.

    Raises:
        TypeError: ``fileloc`` is not a path.
        LookupError: the file cannot be read or is not a regular file.
    """
    if not isinstance(fileloc, (str, os.PathLike)):
        raise TypeError(f"fileloc must be a path, got {type(fileloc).__name__}: {fileloc!r}")
    path = os.path.abspath(os.fspath(fileloc))
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise LookupError(f"cannot read DAG file {path}: {exc.strerror or exc}") from None
    if not stat_module.S_ISREG(stat.st_mode):
        raise LookupError(f"DAG file {path} is not a file")
    signature = (stat.st_mtime_ns, stat.st_size)
    with _parsed_lock:
        cached = _parsed.get(path)
    if cached is not None and cached.signature == signature:
        return cached
    from dagcore.dagbag import DagBag

    # Parsed outside the lock (a slow file does not block other files); two threads parsing
    # the same file at once both succeed and the later one is kept.
    bag = DagBag(_dag_folder_for(path), include_examples=False, safe_mode=False,
                 collect_dags=False)
    bag.process_file(path, only_if_updated=False, safe_mode=False)
    errors = "\n".join(bag.import_errors.values()) or None
    parsed = ParsedDagFile(signature=signature, dags=dict(bag.dags), import_error=errors)
    with _parsed_lock:
        _parsed[path] = parsed
    return parsed


def load_dag(fileloc: str, dag_id: str) -> DAG:
    """The DAG ``dag_id`` as the file ``fileloc`` defines it now.

    Files are parsed with :class:`~dagcore.dagbag.DagBag` (safe mode off: the scheduler already
    knows the file defines the DAG) and cached per file; a file whose modification time or size
    changed is parsed again.

    Raises:
        TypeError: ``fileloc`` is not a path.
        LookupError: the file cannot be read, or does not define ``dag_id`` (the message names
            both, with the file's import error if it failed to import).
    """
    return _pick(parse_dag_file(fileloc), dag_id, os.path.abspath(os.fspath(fileloc)), "file")


# Parses of versions' stored code, by version id, most recently used last (bounded: a long-lived
# worker runs many versions; a version's code never changes once a task instance used it).
_by_version: OrderedDict[str, ParsedDagFile] = OrderedDict()
_VERSIONS_KEPT = 32


def _parse_stored(root: Path, code_path: str) -> ParsedDagFile:
    """Import the DAG file ``code_path`` of a materialized version under ``root``, with ``root``
    first on ``sys.path`` (its helper modules, not those of the DAG folder or of another
    version, are the ones imported)."""
    from dagcore.dagbag import DagBag

    importlib.invalidate_caches()
    folder = str(root)
    sys.path.insert(0, folder)
    try:
        bag = DagBag(folder, include_examples=False, safe_mode=False, collect_dags=False)
        bag.process_file(str(root / code_path), only_if_updated=False, safe_mode=False)
    finally:
        try:
            sys.path.remove(folder)
        except ValueError:
            pass
    errors = "\n".join(bag.import_errors.values()) or None
    prefix = folder + os.sep
    modules = {}
    for name, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str) and os.path.abspath(filename).startswith(prefix):
            modules[name] = module
    for dag in bag.dags.values():
        dag.code_root = folder  # type: ignore[attr-defined]
        dag.code_modules = modules  # type: ignore[attr-defined]
    return ParsedDagFile(signature=(0, 0), dags=dict(bag.dags), import_error=errors)


def load_dag_version(engine: Engine, version_id: Any, dag_id: str, fileloc: str | None = None
                     ) -> DAG:
    """The DAG ``dag_id`` as the code stored with DAG version ``version_id`` defines it
    (docs/airflow-behaviour.md 1.8); when the version has no stored code (or ``version_id``
    is None), as the file ``fileloc`` defines it now (:func:`load_dag`).

    The DAG's ``fileloc`` is ``fileloc`` (where the file lives in the DAG folder), so templates
    found next to the DAG file are read from there.

    Raises:
        LookupError: the version's code (or the file) does not define ``dag_id`` (the message
            names the version, with the import error if its code failed to import), or there is
            neither stored code nor a file.
    """
    if version_id is None:
        if fileloc is None:
            raise LookupError(f"Dag {dag_id!r}: no DAG version and no DAG file to load it from")
        return load_dag(fileloc, dag_id)
    key = str(version_id)
    with _parsed_lock:
        parsed = _by_version.get(key)
        if parsed is not None:
            _by_version.move_to_end(key)
    if parsed is None:
        from dagcore.dag_code_store import materialize

        with engine.connect() as conn:
            found = materialize(conn, version_id)
        if found is None:
            if fileloc is None:
                raise LookupError(f"Dag {dag_id!r}: version {key} has no stored code and no DAG "
                                  "file is named")
            return load_dag(fileloc, dag_id)
        root, code_path = found
        parsed = _parse_stored(root, code_path)
        for dag in parsed.dags.values():
            if fileloc is not None:
                dag.fileloc = fileloc
        if parsed.import_error is not None:  # not kept: what failed may pass next time
            return _pick(parsed, dag_id, f"the code of its version {key}", "code")
        with _parsed_lock:
            _by_version[key] = parsed
            while len(_by_version) > _VERSIONS_KEPT:
                _by_version.popitem(last=False)
    return _pick(parsed, dag_id, f"the code of its version {key}", "code")


def _pick(parsed: ParsedDagFile, dag_id: str, where: str, what: str) -> DAG:
    """The DAG ``dag_id`` of ``parsed``, or a LookupError naming ``where`` it was looked for
    and why it is not there (the import error of the ``what``, or the DAGs it defines)."""
    dag = parsed.dags.get(dag_id)
    if dag is not None:
        return dag
    message = f"Dag {dag_id!r} not found in {where}"
    if parsed.import_error:
        message += f"; the {what} failed to import:\n{parsed.import_error}"
    else:
        message += f" (it defines: {', '.join(sorted(parsed.dags)) or 'no DAG'})"
    raise LookupError(message)
