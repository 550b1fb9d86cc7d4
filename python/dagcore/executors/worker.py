"""A LocalExecutor worker: the process, forked by the fork server, that runs tries one by one.

Design note. A worker reads commands from a pipe (a 4-byte length and a pickled
:class:`~dagcore.executors.base.TaskWorkload` or
:class:`~dagcore.executors.base.DagCallbackRequest`)
and answers each with a 4-byte exit code on another pipe: the code the command would have exited
with as a process of its own (0, 1 after an exception, or a ``sys.exit`` code). It runs up to
``max_tasks`` commands and leaves when its command pipe closes (the executor retired it, or
died): a worker orphaned mid-try finishes the try first. It always leaves through ``os._exit``,
so it never runs the ``atexit`` hooks and finalizers it inherited.

Each try gets its own log file on fds 1 and 2 (subprocesses of the task inherit them), line
buffered so that a log being tailed shows each line as it is written. The worker imports the
DAG file of a try itself (:func:`dagcore.task_runner.run_workload` through
:func:`dagcore.dag_loading.load_dag`, which keeps the parse for the next try of the same file):
a DAG file that crashes or hangs takes this worker with it, never the scheduler.

The worker opens its own database connections (the engine it inherits from the fork server has
an empty pool, and :meth:`~sqlalchemy.engine.Engine.dispose` gives it one of its own), and keeps
the Airflow-imports compat layer on between its tries (:func:`_hold_airflow_imports`).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

from dagcore.executors.base import DagCallbackRequest, TaskWorkload

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["exit_status", "flush_std_streams", "redirect_stdio", "run_as_process",
           "worker_main"]

T = TypeVar("T")


def _read_exactly(fd: int, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


def worker_main(
    commands: int,
    results: int,
    runner: bytes | None,
    engine_url: str | None,
    engine: Engine | None,
    max_tasks: int,
) -> NoReturn:
    """Everything a worker does: up to ``max_tasks`` commands, one at a time; leaves only
    through ``os._exit``."""
    status = 1
    try:
        run: Callable[[TaskWorkload], object] | None = (
            None if runner is None else pickle.loads(runner))
        if run is None:
            if engine is None:
                from dagcore.db import create_engine

                engine = create_engine(engine_url)
            else:
                engine.dispose(close=False)  # a pool of our own (the inherited one is empty)
            _hold_airflow_imports()
        for _ in range(max_tasks):
            header = _read_exactly(commands, 4)
            if not header:
                break  # the executor retired us, or died
            (size,) = struct.unpack("!I", header)
            command = pickle.loads(_read_exactly(commands, size))
            code = _run_one(command, run, engine)
            try:
                os.write(results, struct.pack("!i", code))
            except OSError:
                break  # the executor is gone
        status = 0
    except BaseException:  # noqa: BLE001 - reported on stderr, then the status says it
        with contextlib.suppress(BaseException):
            traceback.print_exc()
        status = 1
    finally:
        flush_std_streams()
        os._exit(status)


def _hold_airflow_imports() -> None:
    """Keep the Airflow-imports compat layer on for the worker's life when tries turn it on
    (``[core] dagbag_compat_airflow``, read when the worker starts): each try installs it around
    its DAG import and its task (docs/airflow-behaviour.md 8.13), and the first install of a
    process looks for a real Airflow on ``sys.path`` and the last uninstall walks
    ``sys.modules``, a millisecond per try; held here, a try's install and uninstall only count.
    A try sees the same aliases either way (a real Airflow on ``sys.path`` is never shadowed:
    then nothing is held)."""
    from dagcore.configuration import conf

    if conf.getboolean("core", "dagbag_compat_airflow", fallback=True):
        from dagcore.compat import airflow as compat

        compat.install()


def _run_one(command: TaskWorkload | DagCallbackRequest,
             runner: Callable[[TaskWorkload], object] | None, engine: Engine | None) -> int:
    """One command; the exit code it would have had as a process of its own."""
    if isinstance(command, DagCallbackRequest):
        from dagcore.task_runner import run_dag_callback

        request = command
        code, ok = run_as_process(lambda: run_dag_callback(request, engine=engine))
        return code or (0 if ok else 1)

    workload = command  # a TaskWorkload here (the closure below does not see the narrowing)

    def run() -> object:
        redirect_stdio(workload.log_path)
        if runner is None:
            from dagcore.task_runner import run_workload

            return run_workload(workload, engine=engine)
        return runner(workload)

    return run_as_process(run)[0]


def run_as_process(run: Callable[[], T]) -> tuple[int, T | None]:
    """Call ``run`` as the body of a process of its own would run: the exit code that process
    would have had (0; a ``sys.exit`` status; 1 after any other exception, whose traceback
    goes to stderr, the try's log) and ``run``'s result (None when it raised). The standard
    streams are flushed afterwards. A LocalExecutor worker and a Celery pool process run each
    try through this."""
    try:
        return 0, run()
    except SystemExit as exc:  # sys.exit() in a task: the status the interpreter would give
        return exit_status(exc.code), None
    except BaseException:  # noqa: BLE001 - the try's failure, in its log
        with contextlib.suppress(BaseException):
            traceback.print_exc()
        return 1, None
    finally:
        flush_std_streams()


def flush_std_streams() -> None:
    """Flush ``sys.stdout`` and ``sys.stderr``, ignoring errors (a closed or broken stream)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()


def redirect_stdio(log_path: str) -> None:
    """Point fds 0 (``/dev/null``), 1 and 2 (``log_path``, appended; folders created) and new
    line-buffered ``sys`` streams at them, for one try (the CeleryExecutor's pool process
    restores its own afterwards)."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    try:  # the folder exists on every try but a folder's first: no mkdir then
        fd = os.open(log_path, flags, 0o666)
    except FileNotFoundError:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(log_path, flags, 0o666)
    os.dup2(fd, 1)  # dup2 makes them inheritable: a task's subprocesses log there too
    os.dup2(fd, 2)
    os.close(fd)
    # New streams on the new fds: line-buffered output; buffers of the previous try (in the
    # old objects) are never written here, and buffered input read ahead is not read again.
    sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace",
                      closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace",
                      closefd=False)


def exit_status(code: object) -> int:
    """The exit status the interpreter gives for ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1
