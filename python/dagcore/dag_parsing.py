"""Parse DAG files in child processes, so that no DAG file can kill or hang the process that stores
them.

Design note. A DAG file is user code run at import: it may call ``os._exit()``, crash the
interpreter (``ctypes.string_at(0)``) or loop in C code, where ``[core] dagbag_import_timeout``
(SIGALRM) cannot interrupt it. Airflow's DAG processor therefore parses each file in a child
process and SIGKILLs one that runs longer than ``dag_file_processor_timeout``, counting it as an
import error (docs/airflow-behaviour.md 1.6). dagcore does the same with a
:class:`DagFileParserPool`:

* ``[dag_processor] parsing_processes`` children (Airflow's option and default, 2) are forked once
  and reused, file after file and pass after pass (Airflow forks one per file; a long-lived child
  saves the fork and the imports). Before its first fork the parent imports what a child would
  import on its first file (the operator classes, Jinja), and forks with its objects frozen
  (``gc.freeze``), so a new child starts warm and its collector never walks (and copies) the
  parent's heap. Each child is sent up to four files ahead, so it keeps parsing while the parent
  stores a batch (docs/performance.md 4). A child never opens a database connection: it ignores
  what it inherited (the parent's connections, sockets) and leaves through ``os._exit``, so no
  inherited object is finalized and nothing is sent on the parent's sockets. It restores the
  default handlers of the signals the parent handles (SIGINT is ignored: a Ctrl-C is the parent's
  to act on; the parent then stops its children), and asks the kernel to SIGKILL it when the
  parent dies (``PR_SET_PDEATHSIG``) so that no child outlives its command, not even one stuck in
  C code.
* Each child imports one file at a time with a :class:`dagcore.dagbag.DagBag` (the SIGALRM
  import timeout still gives its usual message), serializes the file's DAGs there and sends back
  a :class:`ParsedFile`: per DAG the serialized data, its hash and what the ``dag`` row needs
  (:class:`SerializedDagEntry`), and the file's import errors. No DAG object crosses the process
  boundary. A DAG that fails to serialize is an import error of its file, as in Airflow's
  ``_serialize_dags`` (docs/airflow-behaviour.md 8.9).
* A child that dies while parsing a file (its exit status or signal) or has not answered within
  the file processor timeout (SIGKILLed) makes that file's import error; a new child takes its
  place and every other file is parsed as usual. Results come back in file order, whatever
  order the children finish in.
* Duplicate DAG ids across files are found by the parent, in file order, with the DAG bag's
  error (the file listed first keeps the id, as when one bag parses the folder).

``dag_file_processor_timeout`` is read from ``[core]`` (Airflow 2's place, still honoured by
Airflow 3 as a deprecated name) when set there, else from ``[dag_processor]`` (Airflow 3's place;
default 50 s).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, Pipe, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

from dagcore.configuration import ConfigError, conf
from dagcore.timetables import describe_timetable
from dagcore.dag_code_store import code_files_of, read_code
from dagcore.dagbag import DagBag, dag_file_paths, relative_fileloc
from dagcore.exceptions import DagDuplicatedIdError
from dagcore.serialization import dag_hash, serialize_dag

if TYPE_CHECKING:
    from dagcore.dag import DAG

__all__ = [
    "DagFileParserPool",
    "FolderMerge",
    "ParsedFile",
    "ParsedFolder",
    "ParsingInterrupted",
    "SerializedDagEntry",
    "dag_file_processor_timeout",
    "parse_file",
    "parser_pool",
    "parsing_processes",
    "serialize_dags",
    "serialized_entry",
]

log = logging.getLogger(__name__)

_POLL_SECONDS: Final = 0.1
"""How often :meth:`DagFileParserPool.parse` looks at its ``should_stop`` while children work."""

_EXIT_GRACE_SECONDS: Final = 2.0
"""How long an idle child has to exit once its channel is closed, before it is SIGKILLed."""

_FILES_PER_CHILD: Final = 4
"""Files sent to a child at once: it starts the next one while the parent reads or stores the
result of the first."""

_CHILD_FAILURE_STATUS: Final = 70  # EX_SOFTWARE: the child's own code failed (not the DAG file)


class ParsingInterrupted(Exception):  # noqa: N818 - a state, not a failure of the caller's input
    """:meth:`DagFileParserPool.parse` stopped because its ``should_stop`` said so (a SIGTERM of
    the DAG processor): the pass is abandoned."""


# -- configuration ------------------------------------------------------------------------------


def _positive_int(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be a whole number of at least 1, got {value!r}")
    return value


def _positive_seconds(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float(
            "inf"):
        raise ConfigError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


def parsing_processes() -> int:
    """``[dag_processor] parsing_processes``: the number of parsing children (Airflow's option,
    default 2).

    Raises:
        ConfigError: not a whole number of at least 1 (the message names the value).
    """
    return _positive_int(conf.getint("dag_processor", "parsing_processes"),
                         "[dag_processor] parsing_processes")


def dag_file_processor_timeout() -> float:
    """Seconds a child may spend on one file before it is SIGKILLed: ``[core]
    dag_file_processor_timeout`` when set (Airflow 2's name), else ``[dag_processor]
    dag_file_processor_timeout`` (Airflow 3's; default 50).

    Raises:
        ConfigError: not a positive number (the message names the option and the value).
    """
    section = "core" if conf.has_option("core", "dag_file_processor_timeout") else "dag_processor"
    return _positive_seconds(conf.getfloat(section, "dag_file_processor_timeout"),
                             f"[{section}] dag_file_processor_timeout")


# -- what a child sends back --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SerializedDagEntry:
    """One DAG, serialized, with what its ``dag`` row needs: what the DAG processor stores.

    Attributes:
        dag_id: the DAG's id.
        data: :func:`dagcore.serialization.serialize_dag`'s output.
        dag_hash: :func:`dagcore.serialization.dag_hash` of ``data``.
        fileloc: the absolute path of its file (``""`` if unknown).
        relative_fileloc: the path relative to the DAG folder.
        attributes: the ``dag`` row's columns that come from the DAG (owners, description,
            timetable summary, limits...).
        is_paused_upon_creation: the DAG's own choice, ``None`` to follow
            ``[core] dags_are_paused_at_creation``.
        source_code: the file's text for ``dag_code``; ``None``: read ``fileloc`` when writing.
        code_files: the files of the DAG's code (relative path -> content;
            :mod:`dagcore.dag_code_store`), ``None`` when it has none.
        code_path: the DAG file's path among ``code_files``.
    """

    dag_id: str
    data: dict[str, Any]
    dag_hash: str
    fileloc: str
    relative_fileloc: str | None
    attributes: dict[str, Any]
    is_paused_upon_creation: bool | None = None
    source_code: str | None = None
    code_files: dict[str, bytes] | None = None
    code_path: str | None = None


def _dag_attributes(dag: DAG) -> dict[str, Any]:
    """The ``dag`` row's columns that the DAG object determines."""
    owners = sorted({str(getattr(task, "owner", "")) for task in dag.task_dict.values()} - {""})
    return {
        "fileloc": dag.fileloc,
        "relative_fileloc": getattr(dag, "relative_fileloc", None),
        "owners": ", ".join(owners) or None,
        "dag_display_name": getattr(dag, "dag_display_name", dag.dag_id),
        "description": dag.description,
        "timetable_summary": dag.timetable.summary,
        "timetable_description": describe_timetable(dag.timetable),
        "max_active_tasks": dag.max_active_tasks,
        "max_active_runs": dag.max_active_runs,
        "max_consecutive_failed_dag_runs": dag.max_consecutive_failed_dag_runs,
        "has_task_concurrency_limits": any(
            task.max_active_tis_per_dag is not None or task.max_active_tis_per_dagrun is not None
            for task in dag.task_dict.values()),
    }


def _code_of(dag: DAG, cache: dict[int, Any] | None
             ) -> tuple[dict[str, bytes] | None, str | None]:
    """The DAG's code files, read now (``cache``: by the identity of the bag's file list, so
    the DAGs of one file read it once and share the contents)."""
    found = code_files_of(dag)
    if found is None:
        return None, None
    files, code_path = found
    key = id(getattr(dag, "code_files", None) or dag)
    if cache is not None and key in cache:
        return cache[key], code_path
    contents = read_code(files, code_path)
    if cache is not None:
        cache[key] = contents
    return contents, (code_path if contents is not None else None)


def serialized_entry(dag: DAG, *, data: dict[str, Any] | None = None,
                     source_code: str | None = None,
                     _code_cache: dict[int, Any] | None = None) -> SerializedDagEntry:
    """``dag`` as the DAG processor stores it (``data``: already serialized; default: serialize
    here, which may raise), with its code files read now."""
    if data is None:
        data = serialize_dag(dag)
    flag = getattr(dag, "is_paused_upon_creation", None)
    code_files, code_path = _code_of(dag, _code_cache)
    return SerializedDagEntry(
        dag_id=dag.dag_id, data=data, dag_hash=dag_hash(data), fileloc=dag.fileloc or "",
        relative_fileloc=getattr(dag, "relative_fileloc", None),
        attributes=_dag_attributes(dag),
        is_paused_upon_creation=None if flag is None else bool(flag), source_code=source_code,
        code_files=code_files, code_path=code_path)


def _serialization_error(dag: DAG, exc: Exception) -> str:
    """The import error of a DAG that failed to serialize, as the DAG bag words a file's failure
    (the last ``[core] dagbag_import_error_traceback_depth`` frames, unless
    ``dagbag_import_error_tracebacks`` is off), under Airflow's "Failed to serialize DAG"
    (Airflow logs that line and stores the traceback alone; docs/airflow-behaviour.md 8.9)."""
    if conf.getboolean("core", "dagbag_import_error_tracebacks", fallback=True):
        depth = conf.getint("core", "dagbag_import_error_traceback_depth", fallback=2)
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__,
                                                    limit=-depth))
        return f"Failed to serialize DAG {dag.dag_id!r}\n{detail}"
    return f"Failed to serialize DAG {dag.dag_id!r}: {type(exc).__name__}: {exc}"


def _add_error(import_errors: dict[str, str], filename: str, message: str) -> None:
    """Record ``message`` for ``filename``, after a blank line when the file has one already."""
    existing = import_errors.get(filename)
    import_errors[filename] = f"{existing.rstrip()}\n\n{message}" if existing else message


def serialize_dags(dags: Iterable[DAG], import_errors: dict[str, str], *,
                   source_code: str | None = None) -> list[SerializedDagEntry]:
    """Each DAG serialized; a DAG that fails to serialize is left out and its error added to
    ``import_errors`` under its file, as Airflow's DAG-file processor does (``_serialize_dags``,
    docs/airflow-behaviour.md 8.9). ``source_code``: the text of the DAGs' file, if known."""
    entries = []
    code_cache: dict[int, Any] = {}
    for dag in dags:
        try:
            entries.append(serialized_entry(dag, source_code=source_code,
                                            _code_cache=code_cache))
        except Exception as exc:  # noqa: BLE001 - any failure is this DAG's, not the folder's
            log.exception("Failed to serialize DAG: %s", dag.fileloc)
            filename = getattr(dag, "relative_fileloc", None) or dag.fileloc or dag.dag_id
            _add_error(import_errors, filename, _serialization_error(dag, exc))
    return entries


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedFile:
    """What parsing one file gave.

    Attributes:
        path: the file's absolute path.
        relative_fileloc: the path relative to the DAG folder (the import errors' key).
        dags: its DAGs, serialized, in the order the DAG bag found them.
        import_errors: relative path -> message (at most this file's).
        warnings: relative path -> warning (at most this file's; see :attr:`DagBag.warnings`).
        duration: seconds spent on the file (in the child, or waiting for it).
    """

    path: str
    relative_fileloc: str
    dags: tuple[SerializedDagEntry, ...] = ()
    import_errors: dict[str, str] = field(default_factory=dict)
    duration: float = 0.0
    warnings: dict[str, str] = field(default_factory=dict)


def _read_source(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def parse_file(path: str, dag_folder: str, *, safe_mode: bool,
               bag: DagBag | None = None) -> ParsedFile:
    """Import one DAG file and serialize its DAGs, in this process (what a parsing child runs
    for each file it is sent).

    Args:
        bag: an empty bag of ``dag_folder`` to parse with (a child reuses one: building a bag
            reads the configuration); default a new one. It is emptied again afterwards.
    """
    started = time.perf_counter()
    if bag is None:
        bag = DagBag(dag_folder, include_examples=False, safe_mode=safe_mode,
                     collect_dags=False)
    try:
        return _parse_with(bag, path, safe_mode, started)
    finally:
        bag.dags.clear()
        bag.import_errors.clear()
        bag.warnings.clear()
        bag.file_last_changed.clear()


def _parse_with(bag: DagBag, path: str, safe_mode: bool, started: float) -> ParsedFile:
    found = bag.process_file(path, only_if_updated=False, safe_mode=safe_mode)
    import_errors = dict(bag.import_errors)
    source = _read_source(path) if found else None
    entries = serialize_dags(found, import_errors, source_code=source)
    return ParsedFile(path=path, relative_fileloc=relative_fileloc(path, bag.dag_folder),
                      dags=tuple(entries), import_errors=import_errors,
                      duration=time.perf_counter() - started, warnings=dict(bag.warnings))


class FolderMerge:
    """Combines the files of a folder, given in file order, into the DAGs kept and the import
    errors: a DAG id already found in an earlier file is refused with the DAG bag's
    :class:`DagDuplicatedIdError` message, as an import error of the later file (whose other
    DAGs are kept), as when one bag parses the folder.

    Attributes:
        import_errors: relative path -> message, for the files added so far.
        warnings: relative path -> warning, likewise (see :attr:`DagBag.warnings`).
    """

    def __init__(self) -> None:
        self.import_errors: dict[str, str] = {}
        self.warnings: dict[str, str] = {}
        self._first_file: dict[str, str] = {}

    def add(self, parsed: ParsedFile) -> list[SerializedDagEntry]:
        """Record ``parsed``'s import errors; its DAGs that are kept."""
        for filename, message in parsed.import_errors.items():
            _add_error(self.import_errors, filename, message)
        self.warnings.update(parsed.warnings)
        kept = []
        for entry in parsed.dags:
            first = self._first_file.setdefault(entry.dag_id, entry.fileloc)
            if first != entry.fileloc:
                exc = DagDuplicatedIdError(entry.dag_id, entry.fileloc, first)
                log.error("failed to bag DAG %r from %s: %s", entry.dag_id, entry.fileloc, exc)
                _add_error(self.import_errors, parsed.relative_fileloc,
                           f"{type(exc).__name__}: {exc}")
                continue
            kept.append(entry)
        return kept


@dataclass(frozen=True, slots=True)
class ParsedFolder:
    """A folder's parse: every DAG kept (file order), the import errors and the warnings by
    relative path."""

    dags: list[SerializedDagEntry]
    import_errors: dict[str, str]
    files: list[ParsedFile]
    warnings: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def merge(files: Sequence[ParsedFile]) -> ParsedFolder:
        """Combine the files' results, given in file order (see :class:`FolderMerge`)."""
        merge = FolderMerge()
        dags = [entry for parsed in files for entry in merge.add(parsed)]
        return ParsedFolder(dags, merge.import_errors, list(files), merge.warnings)


# -- the child ----------------------------------------------------------------------------------


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a child stuck in C code would
    otherwise outlive a parent killed with SIGKILL); elsewhere a no-op (the closed channel still
    ends an idle child)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(0)


def _reset_signals() -> None:
    """Default handlers in the child for the signals the parent may handle in Python; SIGINT
    ignored (the parent decides what a Ctrl-C stops, and stops its children)."""
    for name in ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD"):
        signum = getattr(signal, name, None)
        if signum is not None:
            signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _answer(request: tuple[str, str, bool, int], bags: dict[tuple[str, int], DagBag]
            ) -> ParsedFile:
    """Parse the requested file with the child's bag of its folder for this pass (kept in
    ``bags``: a bag reads the configuration when built, once per pass as in one process); a
    failure of this code (not of the DAG file, which the bag records) still answers, as the
    file's import error."""
    path, dag_folder, safe_mode, pass_number = request
    try:
        bag = bags.get((dag_folder, pass_number))
        if bag is None:
            bags.clear()
            bag = bags[(dag_folder, pass_number)] = DagBag(
                dag_folder, include_examples=False, safe_mode=safe_mode, collect_dags=False)
        return parse_file(path, dag_folder, safe_mode=safe_mode, bag=bag)
    except BaseException as exc:  # noqa: BLE001 - even a KeyboardInterrupt raised by the file
        rel = relative_fileloc(os.path.abspath(path), os.path.abspath(dag_folder))
        message = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return ParsedFile(path=path, relative_fileloc=rel, import_errors={rel: message})


def _child_main(channel: Connection, parent_pid: int) -> NoReturn:
    """A parsing child: answer file requests until the parent closes the channel, then leave
    through ``os._exit`` (no inherited object is finalized)."""
    status = 0
    try:
        _reset_signals()
        _die_with_parent(parent_pid)
        bags: dict[tuple[str, int], DagBag] = {}
        while True:
            try:
                request = channel.recv()
            except EOFError:
                break
            result = _answer(request, bags)
            _flush_stdio()
            try:
                channel.send(result)
            except (pickle.PicklingError, TypeError, AttributeError, ValueError) as exc:
                # A result pickle refuses (pickling comes before any byte is written).
                channel.send(ParsedFile(
                    path=result.path, relative_fileloc=result.relative_fileloc,
                    import_errors={result.relative_fileloc:
                                   f"the parse result could not be sent back: {exc!r}"}))
    except BaseException:  # noqa: BLE001 - report, then leave without running the parent's code
        status = _CHILD_FAILURE_STATUS
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        _flush_stdio()
        os._exit(status)


# -- the pool -----------------------------------------------------------------------------------


_warm = False


def _warm_up() -> None:
    """Import, once in the parent before it forks, the modules every child imports on its first
    file (the operator classes of the serialization registry, Jinja, the Airflow-imports
    compatibility module; about 0.2 s of imports and byte-compiling), so that each child, and
    each child started in place of one that died, inherits them instead of importing them itself
    within its first file's timeout. Importing them changes nothing else: the compatibility
    layer is installed only around a file's import."""
    global _warm
    if _warm:
        return
    _warm = True
    import ctypes  # noqa: F401 - imported for its side effect: loaded before the fork
    import jinja2  # noqa: F401
    import jinja2.nativetypes  # noqa: F401

    import dagcore.compat.airflow  # noqa: F401
    from dagcore.serialization_registry import registry

    registry()


@dataclass(slots=True, eq=False)
class _Child:
    pid: int
    channel: Connection
    # (index in the request list, path) of the files sent, the one being parsed first
    jobs: deque[tuple[int, str]] = field(default_factory=deque)
    started: float = 0.0  # when the first of ``jobs`` was started (about)


def _describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = str(signum)
        return f"was killed by signal {name}"
    if os.WIFEXITED(status):
        return f"exited with status {os.WEXITSTATUS(status)}"
    return f"ended with wait status {status}"


def _reap(pid: int, grace: float) -> int | None:
    """Wait up to ``grace`` seconds for ``pid`` to end; its wait status, or None if it lives."""
    deadline = time.monotonic() + grace
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return 0
        if done:
            return status
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


def _kill(pid: int) -> int:
    """SIGKILL ``pid`` and reap it; its wait status."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return 0


class DagFileParserPool:
    """Children that parse DAG files one at a time, for the DAG processor (see the module
    docstring). Use it as a context manager, or call :meth:`close`: no child outlives it.

    Args:
        processes: the number of children (default ``[dag_processor] parsing_processes``).
        timeout: seconds a child may spend on one file before it is SIGKILLed (default
            :func:`dag_file_processor_timeout`).

    Raises:
        ConfigError: ``processes`` below 1 or ``timeout`` not positive (from the arguments or
            the configuration; the message names the value).
    """

    def __init__(self, processes: int | None = None, timeout: float | None = None) -> None:
        self.processes = (parsing_processes() if processes is None
                          else _positive_int(processes, "parsing processes"))
        self.timeout = (dag_file_processor_timeout() if timeout is None
                        else _positive_seconds(timeout, "the DAG file processor timeout"))
        self._children: list[_Child] = []
        self._closed = False
        self._owner = os.getpid()  # a copy of the pool in a forked process owns no child
        self._passes = 0  # iter_parse calls: a child builds one DagBag per pass

    def __enter__(self) -> DagFileParserPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        """The process ids of the live children (tests check that they end)."""
        return [child.pid for child in self._children]

    # -- parsing --------------------------------------------------------------------------------

    def iter_folder(self, dag_folder: str | os.PathLike[str], *,
                    include_examples: bool | None = None, safe_mode: bool | None = None,
                    should_stop: Callable[[], bool] | None = None
                    ) -> Generator[ParsedFile, None, None]:
        """Every DAG file of ``dag_folder`` (a folder or one file), as
        :meth:`dagcore.dagbag.DagBag.collect_dags` lists them, parsed by the children: see
        :meth:`iter_parse`.

        Args:
            include_examples: default ``[core] load_examples``.
            safe_mode: default ``[core] dag_discovery_safe_mode``.
            should_stop: see :meth:`iter_parse`.
        """
        folder = os.path.abspath(os.fspath(dag_folder))
        if include_examples is None:
            include_examples = conf.getboolean("core", "load_examples", fallback=False)
        if safe_mode is None:
            safe_mode = conf.getboolean("core", "dag_discovery_safe_mode", fallback=True)
        paths = dag_file_paths(folder, include_examples=include_examples, safe_mode=safe_mode)
        return self.iter_parse([os.path.abspath(p) for p in paths], dag_folder=folder,
                               safe_mode=safe_mode, should_stop=should_stop)

    def parse_folder(self, dag_folder: str | os.PathLike[str], *,
                     include_examples: bool | None = None, safe_mode: bool | None = None,
                     should_stop: Callable[[], bool] | None = None) -> ParsedFolder:
        """:meth:`iter_folder`'s files merged (:meth:`ParsedFolder.merge`)."""
        return ParsedFolder.merge(list(self.iter_folder(
            dag_folder, include_examples=include_examples, safe_mode=safe_mode,
            should_stop=should_stop)))

    def parse(self, paths: Sequence[str], *, dag_folder: str, safe_mode: bool = True,
              should_stop: Callable[[], bool] | None = None) -> list[ParsedFile]:
        """:meth:`iter_parse` to its end, as a list."""
        return list(self.iter_parse(paths, dag_folder=dag_folder, safe_mode=safe_mode,
                                    should_stop=should_stop))

    def iter_parse(self, paths: Sequence[str], *, dag_folder: str, safe_mode: bool = True,
                   should_stop: Callable[[], bool] | None = None
                   ) -> Generator[ParsedFile, None, None]:
        """Parse ``paths`` in the children, in parallel; yield the results in the order of
        ``paths``, each as soon as it and those before it are in. The children go on parsing
        while the caller handles a result (the DAG processor stores it meanwhile).

        A child that dies on a file, or has not answered within :attr:`timeout` (it is then
        SIGKILLed), makes that file's import error, and a new child takes its place. Leaving
        the iteration early SIGKILLs the children still busy.

        Args:
            paths: absolute paths of DAG files.
            dag_folder: the folder their relative paths are taken from.
            safe_mode: skip files that do not mention ``dag`` and ``dagcore``/``airflow``.
            should_stop: polled every 0.1 s while children work; once it returns True the
                children still busy are SIGKILLed and :class:`ParsingInterrupted` is raised.

        Raises:
            ParsingInterrupted: ``should_stop`` returned True.
            RuntimeError: the pool is closed.
        """
        if self._closed:
            raise RuntimeError("the DAG file parser pool is closed")
        results: dict[int, ParsedFile] = {}
        queue = deque(enumerate(paths))
        next_index = 0
        self._passes += 1
        try:
            while next_index < len(paths):
                if should_stop is not None and should_stop():
                    raise ParsingInterrupted("stopped while parsing DAG files")
                self._dispatch(queue, dag_folder, safe_mode, results)
                if next_index in results:
                    yield results.pop(next_index)
                    next_index += 1
                else:
                    self._collect(queue, dag_folder, results, poll=should_stop is not None)
        finally:
            for child in self._busy():  # left early: possibly stuck, they cannot be waited for
                self._discard(child)

    def _busy(self) -> list[_Child]:
        return [child for child in self._children if child.jobs]

    def _dispatch(self, queue: deque[tuple[int, str]], dag_folder: str, safe_mode: bool,
                  results: dict[int, ParsedFile]) -> None:
        """Hand queued files to the children, up to :data:`_FILES_PER_CHILD` each, the least
        loaded first, starting children up to :attr:`processes`."""
        while queue:
            child = min(self._children, key=lambda c: len(c.jobs), default=None)
            if child is None or (child.jobs and len(self._children) < self.processes):
                child = self._start()
            elif len(child.jobs) >= _FILES_PER_CHILD:
                return
            index, path = queue.popleft()
            try:
                child.channel.send((path, dag_folder, safe_mode, self._passes))
            except OSError:  # it died: the file goes back to the queue
                queue.appendleft((index, path))
                self._died(child, queue, dag_folder, results)
                continue
            if not child.jobs:
                child.started = time.monotonic()
            child.jobs.append((index, path))

    def _collect(self, queue: deque[tuple[int, str]], dag_folder: str,
                 results: dict[int, ParsedFile], *, poll: bool) -> None:
        """Wait for an answer, a death or a timeout, and record what happened."""
        busy = self._busy()
        if not busy:
            return
        now = time.monotonic()
        wait_for = max(0.0, min(child.started for child in busy) + self.timeout - now)
        if poll:
            wait_for = min(wait_for, _POLL_SECONDS)
        ready = set(wait([child.channel for child in busy], timeout=wait_for))
        now = time.monotonic()
        for child in busy:
            if child.channel in ready:
                self._receive(child, queue, dag_folder, results)
            elif now - child.started >= self.timeout:
                index, path = child.jobs[0]
                # Airflow's words (dag_processing/manager.py _kill_timed_out_processors).
                log.error("Processor for %s with PID %s has been running for %.2f seconds, "
                          "exceeding the timeout of %.2f seconds. Killing it!", path, child.pid,
                          now - child.started, self.timeout)
                self._died(child, queue, dag_folder, results,
                           how=f"did not finish within {self.timeout:g} s "
                               "(dag_file_processor_timeout) and was killed")

    def _receive(self, child: _Child, queue: deque[tuple[int, str]], dag_folder: str,
                 results: dict[int, ParsedFile]) -> None:
        try:
            result: ParsedFile = child.channel.recv()
        except (EOFError, OSError):
            self._died(child, queue, dag_folder, results)
            return
        index, _ = child.jobs.popleft()
        results[index] = result
        child.started = time.monotonic()  # the next file, if any, is under way

    def _died(self, child: _Child, queue: deque[tuple[int, str]], dag_folder: str,
              results: dict[int, ParsedFile], how: str | None = None) -> None:
        """``child`` is gone (``how`` None: it ended by itself) or is to be killed (``how``
        says why): the file it was parsing gets the import error, the files queued behind it
        go back to the queue, and the child is reaped and forgotten."""
        # Answers the child sent before it died (or was found dead by a send) are still in the
        # pipe: they are its files' results, and the file it died on is the first after them.
        while child.jobs:
            try:
                if not child.channel.poll():
                    break
                result: ParsedFile = child.channel.recv()
            except (EOFError, OSError):
                break
            index, _ = child.jobs.popleft()
            results[index] = result
            child.started = time.monotonic()
        elapsed = time.monotonic() - child.started
        status = self._discard(child, grace=0.0 if how is not None else _EXIT_GRACE_SECONDS)
        if not child.jobs:
            return
        (index, path), *waiting = child.jobs
        queue.extendleft(reversed(waiting))
        if how is None:
            how = _describe_exit(status)
            log.error("the process parsing %s (pid %d) %s", path, child.pid, how)
        results[index] = self._failure(path, dag_folder, elapsed, how)

    @staticmethod
    def _failure(path: str, dag_folder: str, duration: float, how: str) -> ParsedFile:
        rel = relative_fileloc(path, dag_folder)
        return ParsedFile(path=path, relative_fileloc=rel, duration=duration,
                          import_errors={rel: f"Broken DAG file {rel}: the process parsing it "
                                              f"{how}."})

    # -- children -------------------------------------------------------------------------------

    def _start(self) -> _Child:
        _warm_up()
        parent_end, child_end = Pipe(duplex=True)
        parent_pid = os.getpid()
        _flush_stdio()  # else the child would write the parent's buffered output again
        # The objects alive now are the parent's: frozen, the child's garbage collector never
        # walks them (a walk would touch, and so copy, every page of the parent's heap); the
        # parent unfreezes its own at once.
        gc.freeze()
        try:
            pid = os.fork()
        finally:
            if os.getpid() == parent_pid:
                gc.unfreeze()
        if pid == 0:  # the child
            try:
                parent_end.close()
                for other in self._children:  # else a sibling keeps their channels open
                    other.channel.close()
            finally:
                _child_main(child_end, parent_pid)
        child_end.close()
        child = _Child(pid=pid, channel=parent_end)
        self._children.append(child)
        return child

    def _discard(self, child: _Child, grace: float = 0.0) -> int:
        """Close ``child``'s channel, give it ``grace`` seconds to end, SIGKILL it if it has not,
        reap it and forget it; its wait status."""
        with contextlib.suppress(OSError):
            child.channel.close()
        status = _reap(child.pid, grace) if grace > 0 else None
        if status is None:
            status = _kill(child.pid)
        with contextlib.suppress(ValueError):
            self._children.remove(child)
        return status

    def close(self) -> None:
        """Stop every child: idle ones exit when their channel closes, any other (or one still
        alive after 2 s) is SIGKILLed. Idempotent."""
        self._closed = True
        children, self._children = self._children, []
        if os.getpid() != self._owner:
            return  # a copy inherited by fork: the children are another process's to stop
        for child in children:
            with contextlib.suppress(OSError):
                child.channel.close()
        deadline = time.monotonic() + _EXIT_GRACE_SECONDS
        for child in children:
            if child.jobs:
                _kill(child.pid)
            elif _reap(child.pid, max(0.0, deadline - time.monotonic())) is None:
                _kill(child.pid)

    def __del__(self) -> None:
        # A pool dropped without close() (a caller's bug) still leaves no child behind.
        if not getattr(self, "_closed", True) and getattr(self, "_children", None):
            with contextlib.suppress(Exception):
                self.close()


@contextlib.contextmanager
def parser_pool(pool: DagFileParserPool | None) -> Iterator[DagFileParserPool]:
    """``pool`` itself, or a new pool closed when the block ends."""
    if pool is not None:
        yield pool
        return
    with DagFileParserPool() as own:
        yield own
