"""DAG files: find them in a folder, import each, keep the DAGs and the import errors (Airflow's
file-based ``DagBag``).

Design note. Parsing follows Airflow's ``DagBag`` (docs/airflow-behaviour.md 1.2) step by step:

* **Listing** walks the folder (following symlinks, refusing loops) and honours
  ``.airflowignore`` and ``.dagcoreignore`` in every directory; their patterns also apply below
  that directory. ``[core] dag_ignore_file_syntax`` picks ``glob`` (gitignore-style: ``*``,
  ``**``, ``?``, ``[...]``, ``!`` negation, a trailing ``/`` for directories only, a pattern
  without an inner ``/`` matches a name at any depth, one with an inner ``/`` is relative to the
  ignore file's directory) or ``regexp`` (a Python regex searched in the path relative to the
  DAG folder). ``.py`` files and zip files are listed.
* **Safe mode** skips a file unless it contains both ``dag`` and ``dagcore`` or ``airflow``
  (case-insensitive), without importing it.
* **Importing** gives each path its own module name (``dagcore_dag_<sha1>_<stem>``, a stale
  entry in ``sys.modules`` is dropped first), under ``[core] dagbag_import_timeout`` seconds.
  The timeout uses ``SIGALRM``, so it applies when parsing on the main thread of a platform
  that has it; elsewhere the file is imported without a time limit and a warning is logged
  (Python cannot interrupt an import running in another thread). Every ``BaseException`` but
  ``KeyboardInterrupt`` (and ``SystemExit`` from a file's ``sys.exit()`` too) becomes an import
  error with the last ``[core] dagbag_import_error_traceback_depth`` frames of its traceback.
  Zip files: their top-level ``.py`` members are imported with the zip on ``sys.path``.
* **DAGs found** are the module's top-level DAG objects plus every DAG whose ``with DAG(...)``
  block (the ``@dag`` decorator uses one) closed during the import. Each is validated and
  checked for cycles; a DAG id already bagged from another file is refused. Those failures are
  import errors ``"<ExcType>: <message>"`` of the file, and the file's other DAGs still count.
* **Skipped imports** (dagcore's addition; Airflow stays silent): a ``.py`` file that imports
  without error, defines no DAG, looks like a DAG file (the safe-mode heuristic) and caught an
  ``ImportError`` of one of its own imports (``try: from airflow.x import Y`` /
  ``except ImportError: ...``) gets a warning in :attr:`DagBag.warnings` naming the missing
  module or name: the file was most likely meant to define DAGs with a feature not there. A
  warning is not an import error: it hides nothing and does not mark the file failed.
* **Code files** (dagcore's addition, docs/airflow-behaviour.md 1.8): each DAG found gets
  ``code_files``, the files its version's code is made of: the DAG file and every module of the
  file's code root (the DAG folder, the examples folder, or the file's own folder) that its
  import loaded. So that a file's list is complete whatever was parsed before it, the modules a
  previous parse loaded from a code root are dropped from ``sys.modules`` before each file (they
  import afresh, so an edited helper module is seen at once); modules imported otherwise are
  never dropped.
* ``dagcore.compat.airflow`` is on while parsing (``compat_airflow``, default
  ``[core] dagbag_compat_airflow``), so Airflow DAG files load unchanged.

One file never stops the others: every failure is recorded and parsing moves on. A ``DagBag``
is not thread-safe; use one per thread.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import importlib
import importlib.util
import logging
import os
import re
import signal
import sys
import threading
import time
import traceback
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from dagcore.dag import DAG, DagContext
from dagcore.exceptions import DagCycleError, DagDuplicatedIdError, DagImportTimeout

__all__ = [  # noqa: F822 - DBDagBag is served lazily by __getattr__ (below)
    "EXAMPLE_DAGS_FOLDER",
    "IGNORE_FILE_NAMES",
    "DBDagBag",
    "DagBag",
    "DagDuplicatedIdError",
    "DagImportTimeout",
    "FileLoadStat",
    "dag_file_paths",
    "find_path_from_directory",
    "list_py_file_paths",
    "might_contain_dag",
    "relative_fileloc",
    "skipped_imports_warning",
]

log = logging.getLogger(__name__)

IGNORE_FILE_NAMES: Final = (".airflowignore", ".dagcoreignore")
"""Ignore files read in every directory (in this order: later patterns win for ``!``)."""

EXAMPLE_DAGS_FOLDER: Final = Path(__file__).resolve().parents[2] / "examples" / "dags"
"""Where ``include_examples`` looks (the source tree's ``examples/dags``)."""

_MODULE_PREFIX: Final = "dagcore_dag_"


@dataclass(frozen=True, slots=True, kw_only=True)
class FileLoadStat:
    """How parsing one file went.

    Attributes:
        file: the path relative to the DAG folder.
        duration: the time spent in :meth:`DagBag.process_file`.
        dag_num: DAGs found.
        task_num: their tasks, summed.
        dags: their ids.
    """

    file: str
    duration: timedelta
    dag_num: int
    task_num: int
    dags: tuple[str, ...]


# -------------------------------------------------------------------------------------------------
# Listing files


def _glob_regex(pattern: str) -> str:
    """The regex of a gitignore-style pattern body (no ``!``, no trailing ``/``)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i) and (i == 0 or pattern[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i) and i + 2 == n and (i == 0 or pattern[i - 1] == "/"):
            out.append(".*")
            i += 2
        elif c == "*":
            while i < n and pattern[i] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(c))
                i += 1
                continue
            body = pattern[i + 1:end]
            if body[0] in "!^":
                body = "^" + body[1:]
            out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
            i = end + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _GlobRule:
    regex: re.Pattern[str]
    include: bool  # True: ignore matches; False: a ``!`` pattern that re-includes them
    relative_to: Path | None  # the ignore file's folder for anchored patterns

    @staticmethod
    def compile(pattern: str, base_dir: Path, definition_file: Path) -> _GlobRule | None:
        del base_dir
        pattern = pattern.strip()
        include = True
        if pattern.startswith("!"):
            include, pattern = False, pattern[1:]
        dir_only = pattern.endswith("/")
        body = pattern.rstrip("/")
        if not body:
            log.warning("ignoring the pattern %r of %s: it would match everything", pattern,
                        definition_file)
            return None
        relative_to = definition_file.parent if "/" in body else None
        regex = _glob_regex(body.lstrip("/"))
        regex = ("" if relative_to else "(?:.*/)?") + regex
        regex += "/.*" if dir_only else "(?:/.*)?"
        return _GlobRule(re.compile(regex, re.DOTALL), include, relative_to)

    @staticmethod
    def match(path: Path, rules: Sequence[_GlobRule]) -> bool:
        ignored = False
        suffix = "/" if path.is_dir() else ""
        for rule in rules:
            if rule.relative_to is not None:
                try:
                    rel = path.relative_to(rule.relative_to).as_posix()
                except ValueError:
                    continue
            else:
                rel = path.name
            if rule.regex.fullmatch(rel + suffix):
                ignored = rule.include
        return ignored


@dataclass(frozen=True, slots=True)
class _RegexpRule:
    regex: re.Pattern[str]
    base_dir: Path

    @staticmethod
    def compile(pattern: str, base_dir: Path, definition_file: Path) -> _RegexpRule | None:
        try:
            return _RegexpRule(re.compile(pattern), base_dir)
        except re.error as exc:
            log.warning("ignoring the invalid regexp %r in %s: %s", pattern, definition_file,
                        exc)
            return None

    @staticmethod
    def match(path: Path, rules: Sequence[_RegexpRule]) -> bool:
        for rule in rules:
            try:
                rel = path.relative_to(rule.base_dir).as_posix()
            except ValueError:
                rel = path.as_posix()
            if rule.regex.search(rel) is not None:
                return True
        return False


def _ignore_syntax(syntax: str | None) -> type[_GlobRule] | type[_RegexpRule]:
    if syntax is None:
        from dagcore.configuration import conf

        syntax = str(conf.get("core", "dag_ignore_file_syntax", fallback="glob"))
    syntax = syntax.strip().lower()
    if syntax == "glob":
        return _GlobRule
    if syntax == "regexp":
        return _RegexpRule
    raise ValueError(f"[core] dag_ignore_file_syntax must be 'glob' or 'regexp', got {syntax!r}")


def find_path_from_directory(base_dir: str | os.PathLike[str], *,
                             ignore_file_names: Sequence[str] = IGNORE_FILE_NAMES,
                             syntax: str | None = None) -> Iterator[str]:
    """Every file under ``base_dir`` that no ignore file excludes (ignore files themselves are
    not listed).

    Args:
        base_dir: the folder to walk (symlinks are followed).
        ignore_file_names: the ignore files read in each directory.
        syntax: ``"glob"`` or ``"regexp"``; default ``[core] dag_ignore_file_syntax``.

    Raises:
        ValueError: an unknown syntax.
        RuntimeError: a symlink loop (the same directory reached twice).
    """
    rule_type: Any = _ignore_syntax(syntax)
    base = Path(base_dir).resolve()
    patterns_by_dir: dict[Path, list[Any]] = {}
    for root, dirs, files in os.walk(base, followlinks=True):
        root_path = Path(root)
        patterns = list(patterns_by_dir.get(root_path.resolve(), []))
        for name in ignore_file_names:
            ignore_file = root_path / name
            if not ignore_file.is_file():
                continue
            lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
            for line in lines:
                line = re.sub(r"\s*#.*", "", line).strip()
                rule = rule_type.compile(line, base, ignore_file) if line else None
                if rule is not None:
                    patterns.append(rule)
        dirs[:] = sorted(d for d in dirs if not rule_type.match(root_path / d, patterns))
        for sub in dirs:
            resolved = (root_path / sub).resolve()
            if resolved in patterns_by_dir:
                raise RuntimeError(f"Detected recursive loop when walking DAG directory {base}: "
                                   f"{resolved} has appeared more than once.")
            patterns_by_dir[resolved] = list(patterns)
        for name in sorted(files):
            if name in ignore_file_names:
                continue
            path = root_path / name
            if not rule_type.match(path, patterns):
                yield str(path)


def might_contain_dag(filepath: str | os.PathLike[str], safe_mode: bool,
                      zip_file: zipfile.ZipFile | None = None) -> bool:
    """The safe-mode heuristic: the text has ``dag`` and ``dagcore`` or ``airflow`` in any case.

    Always ``True`` without ``safe_mode``; a file that cannot be read counts as a candidate (its
    import will report the problem).
    """
    if not safe_mode:
        return True
    try:
        if zip_file is not None:
            content = zip_file.read(os.fspath(filepath))
        else:
            content = Path(filepath).read_bytes()
    except OSError:
        return True
    content = content.lower()
    return b"dag" in content and (b"dagcore" in content or b"airflow" in content)


def list_py_file_paths(directory: str | os.PathLike[str] | None, *, safe_mode: bool = True,
                       syntax: str | None = None) -> list[str]:
    """The DAG file candidates in ``directory`` (a file is returned as itself).

    ``.py`` files and zip files not excluded by ignore files and, in safe mode, passing
    :func:`might_contain_dag` (zip files are checked member by member when imported).
    """
    if directory is None:
        return []
    directory = os.fspath(directory)
    if os.path.isfile(directory):
        return [directory]
    if not os.path.isdir(directory):
        return []
    found = []
    for path in find_path_from_directory(directory, syntax=syntax):
        try:
            if path.endswith(".py"):
                if might_contain_dag(path, safe_mode):
                    found.append(path)
            elif zipfile.is_zipfile(path):
                found.append(path)
        except OSError:
            log.exception("cannot read %s", path)
    return found


def dag_file_paths(dag_folder: str | os.PathLike[str], *, include_examples: bool,
                   safe_mode: bool) -> list[str]:
    """The files :meth:`DagBag.collect_dags` parses, in its order: the folder's candidates
    (:func:`list_py_file_paths`), then the examples' when ``include_examples``. The DAG
    processor lists the same files to hand them to its parsing processes."""
    files = list_py_file_paths(dag_folder, safe_mode=safe_mode)
    if include_examples:
        if EXAMPLE_DAGS_FOLDER.is_dir():
            files.extend(list_py_file_paths(EXAMPLE_DAGS_FOLDER, safe_mode=safe_mode))
        else:
            log.warning("include_examples: %s does not exist", EXAMPLE_DAGS_FOLDER)
    return files


def relative_fileloc(path: str, dag_folder: str) -> str:
    """``path`` relative to ``dag_folder`` or to the examples folder (the key of its import
    errors and its DAGs' ``relative_fileloc``), or ``path`` itself when under neither."""
    for base in (dag_folder, str(EXAMPLE_DAGS_FOLDER)):
        if os.path.isdir(base) and (path == base or path.startswith(base + os.sep)):
            return os.path.relpath(path, base)
    return path


# -------------------------------------------------------------------------------------------------
# Import machinery


@contextlib.contextmanager
def _import_timeout(seconds: float, message: str) -> Iterator[None]:
    """Raise :class:`DagImportTimeout` in the block after ``seconds`` (``<= 0``: no limit)."""
    if seconds <= 0:
        yield
        return
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        log.warning("importing without the %ss timeout: it needs SIGALRM on the main thread",
                    seconds)
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise DagImportTimeout(message)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        # None: a handler installed from C, which cannot be restored from Python.
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)


@contextlib.contextmanager
def _autoregistered(mod_name: str) -> Iterator[list[DAG]]:
    """Set ``DagContext.current_autoregister_module_name`` to ``mod_name`` for the block.

    When the block ends, the DAGs auto-registered under ``mod_name`` move from
    ``DagContext.autoregistered_dags`` to the yielded list (ordered by dag id: the set keeps no
    order), whether the import succeeded or not.
    """
    found: list[DAG] = []
    previous = DagContext.current_autoregister_module_name  # a DAG file that parses DAG files
    DagContext.current_autoregister_module_name = mod_name
    try:
        yield found
    finally:
        DagContext.current_autoregister_module_name = previous
        mine = {entry for entry in DagContext.autoregistered_dags if entry[1] == mod_name}
        DagContext.autoregistered_dags -= mine
        found.extend(sorted((dag for dag, _ in mine), key=lambda d: d.dag_id))


# Modules that a parse imported from a code root: dropped from sys.modules before the next file.
_root_modules: set[str] = set()
_root_modules_lock = threading.Lock()


def code_root(path: str, dag_folder: str) -> str:
    """The folder a DAG file's code is stored relative to: the DAG folder or the examples
    folder when the file is under it, else the file's own folder."""
    for base in (dag_folder, str(EXAMPLE_DAGS_FOLDER)):
        if os.path.isdir(base) and path.startswith(base + os.sep):
            return base
    return os.path.dirname(path)


def _forget_root_modules() -> set[str]:
    """Drop the modules earlier parses imported from code roots; the names now in
    ``sys.modules`` (what the next import starts from)."""
    with _root_modules_lock:
        for name in _root_modules:
            sys.modules.pop(name, None)
        _root_modules.clear()
    return set(sys.modules)


def _imported_code_files(path: str, root: str, before: set[str], own: Iterable[str]
                         ) -> dict[str, str]:
    """The DAG file ``path`` and the files of modules under ``root`` imported since ``before``
    (relative POSIX path -> absolute path); remembers those modules for
    :func:`_forget_root_modules`. ``own``: the DAG file's own module names (not remembered:
    the bag drops them itself)."""
    prefix = root + os.sep
    files = {Path(os.path.relpath(path, root)).as_posix(): path}
    own = set(own)
    new = set(sys.modules) - before
    for name in new:
        module = sys.modules.get(name)
        filename = getattr(module, "__file__", None)
        if not isinstance(filename, str):
            continue
        filename = os.path.abspath(filename)
        if filename.startswith(prefix) and os.path.isfile(filename):
            if name not in own:
                with _root_modules_lock:
                    _root_modules.add(name)
            files.setdefault(Path(os.path.relpath(filename, root)).as_posix(), filename)
    return files


def _module_name(filepath: str) -> str:
    digest = hashlib.sha1(filepath.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    stem = re.sub(r"\W", "_", Path(filepath).stem)
    return f"{_MODULE_PREFIX}{digest}_{stem}"


def _find_cycle(dag: DAG) -> list[str] | None:
    """A cycle of ``dag`` as task ids (first repeated last), or ``None``."""
    color: dict[str, int] = {}  # 1: on the stack, 2: done
    for start in dag.task_dict.values():
        if color.get(start.task_id):
            continue
        stack: list[tuple[Any, Iterator[Any]]] = [(start, iter(start._downstream.values()))]
        path = [start.task_id]
        color[start.task_id] = 1
        while stack:
            task, children = stack[-1]
            child = next(children, None)
            if child is None:
                color[task.task_id] = 2
                stack.pop()
                path.pop()
            elif color.get(child.task_id) == 1:
                return [*path[path.index(child.task_id):], child.task_id]
            elif not color.get(child.task_id):
                color[child.task_id] = 1
                path.append(child.task_id)
                stack.append((child, iter(child._downstream.values())))
    return None


# -------------------------------------------------------------------------------------------------
# Watching the imports a DAG file catches


class _ImportWatch(threading.local):
    """Per thread: the files being imported whose failing imports are recorded (path -> the
    failures, in order)."""

    def __init__(self) -> None:
        self.files: dict[str, list[str]] = {}


_watch = _ImportWatch()
_watch_lock = threading.Lock()
_watch_users = 0
_original_import: Any = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _missing_names(module: ModuleType, fromlist: Sequence[str]) -> list[str]:
    """The names of ``from module import ...`` that will raise ImportError (as the
    ``IMPORT_FROM`` step does: neither an attribute nor an imported submodule)."""
    missing = []
    for name in fromlist:
        if name == "*" or hasattr(module, name):
            continue
        if f"{module.__name__}.{name}" not in sys.modules:
            missing.append(f"cannot import name {name!r} from {module.__name__!r}")
    return missing


def _watching_import(name: str, globals: Any = None, locals: Any = None,  # noqa: A002
                     fromlist: Sequence[str] | None = (), level: int = 0) -> ModuleType:
    """``builtins.__import__`` while a file is watched: records, for an import statement of a
    watched file, the ImportError it raises or the ``from`` names it will not find."""
    failures = None
    if _watch.files and isinstance(globals, dict):
        failures = _watch.files.get(globals.get("__file__"))  # type: ignore[arg-type]
    if failures is None:
        return _original_import(name, globals, locals, fromlist, level)
    try:
        module = _original_import(name, globals, locals, fromlist, level)
    except ImportError as exc:
        failures.append(_first_line(exc))
        raise
    if fromlist:
        failures.extend(_missing_names(module, fromlist))
    return module


@contextlib.contextmanager
def _watch_import_failures(path: str) -> Iterator[list[str]]:
    """The failing import statements of the file ``path`` while the block imports it (the
    yielded list fills up). ``builtins.__import__`` is wrapped while any thread watches a file,
    and only the watched file's own statements are recorded."""
    global _watch_users, _original_import
    with _watch_lock:
        if _watch_users == 0:
            _original_import = builtins.__import__
            builtins.__import__ = _watching_import
        _watch_users += 1
    failures: list[str] = []
    previous = _watch.files.get(path)
    _watch.files[path] = failures
    try:
        yield failures
    finally:
        if previous is None:
            _watch.files.pop(path, None)
        else:
            _watch.files[path] = previous
        with _watch_lock:
            _watch_users -= 1
            if _watch_users == 0:
                # _original_import stays set: another thread may be inside the wrapper now.
                if builtins.__import__ is _watching_import:
                    builtins.__import__ = _original_import


def _strip_watch_frames(exc: BaseException) -> None:
    """Drop :func:`_watching_import`'s frames from the tracebacks of ``exc`` and the exceptions
    chained to it, so an import error reads as if ``__import__`` were not wrapped."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        tb, head, kept = current.__traceback__, None, None
        while tb is not None:
            if tb.tb_frame.f_code is not _watching_import.__code__:
                if kept is None:
                    head = tb
                else:
                    kept.tb_next = tb
                kept = tb
            tb = tb.tb_next
        if kept is not None:
            kept.tb_next = None
        current.__traceback__ = head
        current = current.__cause__ or current.__context__


def skipped_imports_warning(relative_path: str, failures: Sequence[str]) -> str:
    """The warning of a DAG-looking file that defines no DAG after catching ``failures``."""
    unique = list(dict.fromkeys(failures))
    return (f"{relative_path} defines no DAG; it caught these failed imports (a feature "
            f"dagcore does not have?): {'; '.join(unique)}")


# -------------------------------------------------------------------------------------------------
# The bag


class DagBag:
    """The DAGs of a folder of DAG files, and the files that failed to import.

    Args:
        dag_folder: a folder or one file (default ``[core] dags_folder``).
        include_examples: also parse ``examples/dags`` (default ``[core] load_examples``).
        safe_mode: skip files without ``dag`` and ``dagcore``/``airflow`` in their text
            (default ``[core] dag_discovery_safe_mode``, True).
        collect_dags: parse the folder now.
        compat_airflow: serve ``import airflow...`` from dagcore while parsing
            (:mod:`dagcore.compat.airflow`; default ``[core] dagbag_compat_airflow``, True).

    Attributes:
        dags: dag id -> DAG.
        file_last_changed: absolute file path -> its modification time when last parsed.
        import_errors: file path (relative to the DAG folder) -> message with traceback.
        warnings: file path (relative to the DAG folder) -> why a file that looks like a DAG
            file defines no DAG (its caught import failures); not import errors.
        parse_stats: a :class:`FileLoadStat` per file of the last :meth:`collect_dags`, slowest
            first.
    """

    def __init__(self, dag_folder: str | os.PathLike[str] | None = None, *,
                 include_examples: bool | None = None, safe_mode: bool | None = None,
                 collect_dags: bool = True, compat_airflow: bool | None = None) -> None:
        from dagcore.configuration import conf

        if dag_folder is None:
            dag_folder = conf.get("core", "dags_folder")
        self.dag_folder = os.path.abspath(os.fspath(dag_folder))
        self.include_examples = (conf.getboolean("core", "load_examples", fallback=False)
                                 if include_examples is None else include_examples)
        self.safe_mode = (conf.getboolean("core", "dag_discovery_safe_mode", fallback=True)
                          if safe_mode is None else safe_mode)
        self.compat_airflow = (conf.getboolean("core", "dagbag_compat_airflow", fallback=True)
                               if compat_airflow is None else compat_airflow)
        self.import_timeout = conf.getfloat("core", "dagbag_import_timeout", fallback=30.0)
        self.import_error_tracebacks = conf.getboolean(
            "core", "dagbag_import_error_tracebacks", fallback=True)
        self.import_error_traceback_depth = conf.getint(
            "core", "dagbag_import_error_traceback_depth", fallback=2)
        self.dags: dict[str, DAG] = {}
        self.file_last_changed: dict[str, datetime] = {}
        self.import_errors: dict[str, str] = {}
        self.warnings: dict[str, str] = {}
        self.parse_stats: list[FileLoadStat] = []
        self._code_files: dict[str, dict[str, str]] = {}  # file -> its code files, until bagged
        if collect_dags:
            self.collect_dags()

    # -- queries ---------------------------------------------------------------------------------

    @property
    def dag_ids(self) -> list[str]:
        """The ids of the DAGs in the bag."""
        return list(self.dags)

    def size(self) -> int:
        """The number of DAGs in the bag."""
        return len(self.dags)

    def __len__(self) -> int:
        return len(self.dags)

    @property
    def dagbag_stats(self) -> list[FileLoadStat]:
        """Airflow's name for :attr:`parse_stats`."""
        return self.parse_stats

    def get_dag(self, dag_id: str) -> DAG | None:
        """The DAG with that id, or ``None``.

        If the DAG's file changed on disk since it was parsed, the file is parsed again first
        (Airflow's file-based bag does this through the database; this bag needs none), so the
        answer may be ``None`` when the new version no longer defines the DAG.
        """
        dag = self.dags.get(dag_id)
        if dag is not None and dag.fileloc and dag.fileloc in self.file_last_changed:
            mtime = self._mtime(dag.fileloc)
            if mtime is not None and mtime != self.file_last_changed[dag.fileloc]:
                self.process_file(dag.fileloc, only_if_updated=True, safe_mode=self.safe_mode)
                dag = self.dags.get(dag_id)
        return dag

    # -- parsing ---------------------------------------------------------------------------------

    def collect_dags(self, dag_folder: str | os.PathLike[str] | None = None, *,
                     only_if_updated: bool = True, include_examples: bool | None = None,
                     safe_mode: bool | None = None) -> None:
        """Parse every DAG file of the folder (and the examples) and refresh :attr:`parse_stats`.

        Args:
            dag_folder: default the bag's folder.
            only_if_updated: skip files whose modification time did not change.
            include_examples: default the bag's setting.
            safe_mode: default the bag's setting.
        """
        folder = os.path.abspath(os.fspath(dag_folder)) if dag_folder else self.dag_folder
        safe_mode = self.safe_mode if safe_mode is None else safe_mode
        include_examples = self.include_examples if include_examples is None else include_examples
        files = dag_file_paths(folder, include_examples=include_examples, safe_mode=safe_mode)
        stats = []
        with self._parsing():
            for filepath in files:
                started = time.perf_counter()
                try:
                    found = self.process_file(filepath, only_if_updated=only_if_updated,
                                              safe_mode=safe_mode)
                except Exception:  # a bug of ours must not stop the other files either
                    log.exception("failed to process %s", filepath)
                    continue
                stats.append(FileLoadStat(
                    file=self._relative(filepath),
                    duration=timedelta(seconds=time.perf_counter() - started),
                    dag_num=len(found), task_num=sum(len(d.task_dict) for d in found),
                    dags=tuple(d.dag_id for d in found)))
        self.parse_stats = sorted(stats, key=lambda s: s.duration, reverse=True)

    def process_file(self, filepath: str | os.PathLike[str] | None,
                     only_if_updated: bool = True, safe_mode: bool = True) -> list[DAG]:
        """Import one DAG file (``.py`` or zip) and bag its DAGs.

        Args:
            filepath: the file; ``None``, a folder or a missing path gives ``[]``.
            only_if_updated: return ``[]`` without importing when the file's modification time
                equals the one recorded at its last parse.
            safe_mode: skip files that :func:`might_contain_dag` rules out.

        Returns:
            The DAGs found and bagged (a refused DAG, e.g. a duplicate id, is not in it).
        """
        if filepath is None:
            return []
        path = os.path.abspath(os.fspath(filepath))
        if not os.path.isfile(path):
            return []
        mtime = self._mtime(path)
        if mtime is None:
            return []
        if only_if_updated and self.file_last_changed.get(path) == mtime:
            return []
        relative = self._relative(path)
        self.import_errors.pop(relative, None)
        self.warnings.pop(relative, None)
        with self._parsing():
            if zipfile.is_zipfile(path):
                modules, registered = self._load_zip(path, safe_mode)
                failures: list[str] = []
            else:
                with _watch_import_failures(path) as failures:
                    modules, registered = self._load_file(path, safe_mode)
            found = self._bag_modules(path, modules, registered, mtime)
        if modules and not found:
            self._warn_skipped_imports(path, relative, failures)
        self.file_last_changed[path] = mtime
        return found

    def _warn_skipped_imports(self, path: str, relative: str, failures: Sequence[str]) -> None:
        """Record the skipped-imports warning of a file that imported but defines no DAG, when
        it caught failed imports and looks like a DAG file (module docstring)."""
        if failures and relative not in self.import_errors and might_contain_dag(path, True):
            self.warnings[relative] = skipped_imports_warning(relative, failures)
            log.warning("%s", self.warnings[relative])

    # -- internals -------------------------------------------------------------------------------

    @staticmethod
    def _mtime(path: str) -> datetime | None:
        try:
            return datetime.fromtimestamp(os.stat(path).st_mtime_ns / 1e9, tz=UTC)
        except OSError:
            log.exception("cannot stat %s", path)
            return None

    def _relative(self, path: str) -> str:
        return relative_fileloc(path, self.dag_folder)

    @contextlib.contextmanager
    def _parsing(self) -> Iterator[None]:
        """The Airflow aliases and the DAG folder on ``sys.path`` (for helper modules), for the
        duration of the parse."""
        with contextlib.ExitStack() as stack:
            if self.compat_airflow:
                from dagcore.compat import airflow as compat

                stack.enter_context(compat.enabled())
            folder = self.dag_folder if os.path.isdir(self.dag_folder) else None
            if folder is not None and folder not in sys.path:
                sys.path.append(folder)
                stack.callback(_remove_from_path, folder)
            yield

    def _record_error(self, path: str, exc: BaseException) -> None:
        _strip_watch_frames(exc)
        if self.import_error_tracebacks:
            message = "".join(traceback.format_exception(
                type(exc), exc, exc.__traceback__, limit=-self.import_error_traceback_depth))
        else:
            message = str(exc)
        self.import_errors[self._relative(path)] = message

    def _import(self, path: str, mod_name: str, run: Any) -> ModuleType | None:
        """Run ``run()`` (which imports) under the timeout; record any failure for ``path``."""
        message = (f"DagBag import timeout for {path} after {self.import_timeout}s "
                   f"([core] dagbag_import_timeout); move slow work out of the file's top level.")
        try:
            with _import_timeout(self.import_timeout, message):
                return run()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a DAG file may raise anything
            sys.modules.pop(mod_name, None)
            log.error("failed to import %s: %s", path, exc)
            self._record_error(path, exc)
            return None

    def _load_file(self, path: str, safe_mode: bool) -> tuple[list[ModuleType], list[DAG]]:
        if not might_contain_dag(path, safe_mode):
            log.debug("safe mode: skipping %s", path)
            return [], []
        mod_name = _module_name(path)
        sys.modules.pop(mod_name, None)
        before = _forget_root_modules()

        def run() -> ModuleType:
            spec = importlib.util.spec_from_file_location(mod_name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path} as a Python module")
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            spec.loader.exec_module(module)
            return module

        with _autoregistered(mod_name) as registered:
            module = self._import(path, mod_name, run)
        self._code_files[path] = _imported_code_files(
            path, code_root(path, self.dag_folder), before, (mod_name,))
        return ([module] if module is not None else []), registered

    def _load_zip(self, path: str, safe_mode: bool) -> tuple[list[ModuleType], list[DAG]]:
        modules: list[ModuleType] = []
        registered: list[DAG] = []
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist()
                       if "/" not in m and m.endswith(".py")
                       and might_contain_dag(m, safe_mode, zip_file=archive)]
        if not members:
            return [], []
        root = code_root(path, self.dag_folder)  # the zip is its own code, whole
        self._code_files[path] = {Path(os.path.relpath(path, root)).as_posix(): path}
        sys.path.insert(0, path)
        try:
            for member in members:
                mod_name = member[:-3]
                sys.modules.pop(mod_name, None)
                with _autoregistered(mod_name) as found:
                    module = self._import(path, mod_name,
                                          lambda name=mod_name: importlib.import_module(name))
                registered.extend(found)
                if module is not None:
                    modules.append(module)
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(path)
        return modules, registered

    def _bag_modules(self, path: str, modules: Iterable[ModuleType], registered: list[DAG],
                     mtime: datetime) -> list[DAG]:
        code_files = self._code_files.pop(path, None)
        candidates: dict[int, DAG] = {}
        for module in modules:
            for value in list(vars(module).values()):
                if isinstance(value, DAG):
                    candidates.setdefault(id(value), value)
        for dag in registered:
            candidates.setdefault(id(dag), dag)
        if not modules:
            return []  # the import failed: the file's DAGs in the bag stay as they were
        found: list[DAG] = []
        now = datetime.now(tz=UTC)
        for dag in candidates.values():
            dag.fileloc = path
            dag.relative_fileloc = self._relative(path)  # type: ignore[attr-defined]
            dag.code_files = code_files  # type: ignore[attr-defined]
            try:
                self._bag_dag(dag)
            except Exception as exc:  # noqa: BLE001 - recorded per file, as Airflow does
                log.error("failed to bag DAG %r from %s: %s", dag.dag_id, path, exc)
                self.import_errors[self._relative(path)] = f"{type(exc).__name__}: {exc}"
            else:
                dag.last_loaded = now  # type: ignore[attr-defined]
                found.append(dag)
        # DAGs this file defined before and no longer does leave the bag.
        kept = {dag.dag_id for dag in found}
        for dag_id, dag in list(self.dags.items()):
            if dag.fileloc == path and dag_id not in kept and dag not in found:
                del self.dags[dag_id]
        return found

    def _bag_dag(self, dag: DAG) -> None:
        cycle = _find_cycle(dag)
        if cycle is not None:
            raise DagCycleError(f"Cycle detected in DAG {dag.dag_id!r}: {' -> '.join(cycle)}")
        dag.validate()
        existing = self.dags.get(dag.dag_id)
        if existing is not None and existing is not dag and existing.fileloc != dag.fileloc:
            raise DagDuplicatedIdError(dag.dag_id, str(dag.fileloc), str(existing.fileloc))
        self.dags[dag.dag_id] = dag


def _remove_from_path(folder: str) -> None:
    if folder in sys.path:
        sys.path.remove(folder)


def __getattr__(name: str) -> Any:
    """``dagcore.dagbag.DBDagBag`` without importing the database layer for file parsing."""
    if name == "DBDagBag":
        from dagcore.db_dagbag import DBDagBag

        return DBDagBag
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
