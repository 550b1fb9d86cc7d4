"""The LocalExecutor's fork server: the clean process its workers are forked from.

Design note. A worker forked from the scheduler itself inherits the scheduler's state, and some
of that state is shared with the kernel in ways a child cannot undo. The one that lost data:
SQLite keeps one record per database file and process of the POSIX locks that process holds, and
a forked child inherits the record but not the locks (``fcntl`` locks are not inherited). A
worker's own connection then believed the scheduler's shared lock on ``dagcore.db-shm`` (WAL's
"dead-man switch") was its own and took none; once the scheduler died (``kill -9``), the next
short-lived process to open the database (``dagcore dags list``) saw no other user, checkpointed
and deleted the WAL files, and the worker committed its try's outcome into a deleted file. The
same holds for anything a user's DAG file does at import time (a crash, a hang) when the
scheduler imports it before forking.

So workers are forked from a process that has never opened the metadata database and never
imports a DAG file: this one, a fresh interpreter (``sys.executable``) started when the executor
starts, before it could have inherited anything. It imports dagcore's task runner and its
dependencies once (what made forking fast), compiles the statements of a try into an engine and
closes its pool again (:func:`dagcore.task_runner.warm_up`), imports what a worker's first try
would import besides (the DAG loader, the operator classes, Jinja's extensions:
:func:`_preload`), then forks a worker whenever the executor asks. Each worker opens its own
connections, so SQLite's locks are its own, and imports the DAG file of its first try itself
(kept for the next tries of the same file).

Protocol, over a ``SOCK_SEQPACKET`` socket pair (one pickled tuple per message, no framing):

* executor -> server: ``("init", settings)`` once, then ``("spawn", settings)`` with two file
  descriptors attached (``SCM_RIGHTS``): the worker's command pipe (read end) and its result
  pipe (write end). ``settings`` carries what a worker must share with the executor's process:
  environment, working directory, ``sys.path``, configuration overrides, the runner.
* server -> executor: ``("ready",)`` after start-up, ``("spawned", pid)`` or ``("failed", why)``
  per request, in order, and ``("exited", pid, status)`` (a ``waitpid`` status) whenever a
  worker ends: only the parent can learn how a process ended.

The server leaves when its socket closes: the executor closed it, or died. Its workers do not die
with it: a worker orphaned mid-try finishes the try (its outcome is recorded in the database, now
safely) and exits when its command pipe reaches EOF. The server ignores SIGINT and SIGTERM and
leads its own process group, so a Ctrl-C meant for the scheduler does not kill it under the
executor's feet; the executor stops it by closing the socket.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from dagcore.configuration import conf

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["ForkServer", "ForkServerError", "WorkerSettings"]

log = logging.getLogger(__name__)

_MAX_MESSAGE = 1 << 22  # a spawn request carries the environment: a few kB, rarely more
_ANSWER_TIMEOUT_S = 120.0  # a fork answers in milliseconds; the first waits for start-up
_STOP_TIMEOUT_S = 10.0
_BOOT = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
         "from dagcore.executors.forkserver import serve; serve(int(sys.argv[2]))")


class ForkServerError(RuntimeError):
    """The fork server did not start, died, or did not answer."""


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """What a worker takes over from the executor's process (the rest comes from the server)."""

    environ: dict[str, str]
    cwd: str
    sys_path: list[str]
    overrides: dict[tuple[str, str], str | None]
    runner: bytes | None = None  # a pickled callable, loaded by the worker (never the server)
    max_tasks: int = 1
    engine_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def here(cls, **kwargs: Any) -> WorkerSettings:
        """This process's environment, working directory, ``sys.path`` and overrides."""
        return cls(environ=dict(os.environ), cwd=os.getcwd(), sys_path=list(sys.path),
                   overrides=conf.overrides(), **kwargs)

    def apply(self) -> None:
        """Make this process see what the executor's process saw."""
        os.environ.clear()
        os.environ.update(self.environ)
        with contextlib.suppress(OSError):  # removed meanwhile: the worker keeps the server's
            os.chdir(self.cwd)
        sys.path[:] = self.sys_path
        conf.replace_overrides(self.overrides)


# -- the executor's side -----------------------------------------------------------------------


class ForkServer:
    """The executor's handle on its fork server.

    Not thread-safe: one thread (the executor's) uses it. :meth:`start` returns at once; the
    first :meth:`spawn` waits for the server to be up. A server whose handle is dropped without
    :meth:`stop` leaves when the handle is garbage-collected (its socket closes).

    Args:
        engine_url: the database the workers use; the server compiles a try's statements for it.
    """

    def __init__(self, engine_url: str) -> None:
        self.engine_url = engine_url
        self._sock: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.exits: dict[int, int] = {}  # pid -> waitpid status, reported and not yet taken
        self.ready = False  # the running server said it is ready

    def __del__(self) -> None:
        # An executor dropped without end(): closing the socket makes the server leave.
        sock = getattr(self, "_sock", None)
        if sock is not None:
            sock.close()

    @property
    def alive(self) -> bool:
        """Whether a server was started and its socket is still open."""
        return self._sock is not None

    def fileno(self) -> int:
        """The socket to poll for reports (``-1`` when no server runs)."""
        return -1 if self._sock is None else self._sock.fileno()

    def start(self) -> None:
        """Start the server process (if none runs); does not wait for it to be ready."""
        if self._sock is not None:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, _json_path(), str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, process_group=0)
        except OSError as exc:
            ours.close()
            raise ForkServerError(f"cannot start the fork server ({sys.executable}): "
                                  f"{exc}") from exc
        finally:
            theirs.close()
        self._sock = ours
        self.ready = False
        settings = WorkerSettings.here(engine_url=self.engine_url)
        self._send(("init", settings))
        log.debug("Fork server started, pid %d", self._process.pid)

    def wait_ready(self, timeout: float = _ANSWER_TIMEOUT_S) -> None:
        """Start the server if needed and wait until it can fork.

        Raises:
            ForkServerError: it did not start, or was not ready within ``timeout`` seconds.
        """
        self.start()
        deadline = time.monotonic() + timeout
        while not self.ready:
            if self._receive(deadline - time.monotonic()) is None and (
                    self._sock is None or time.monotonic() >= deadline):
                raise ForkServerError(f"the fork server was not ready within {timeout:g} s")

    def spawn(self, fds: tuple[int, int], settings: WorkerSettings) -> int:
        """Fork a worker with the command pipe's read end and the result pipe's write end;
        its pid (which is also its process group id).

        Raises:
            ForkServerError: no server could be reached, or the fork failed.
        """
        if self._sock is None:
            self.start()
        try:
            assert self._sock is not None
            socket.send_fds(self._sock, [pickle.dumps(("spawn", settings))], list(fds))
        except OSError as exc:
            self._lost(f"cannot send it a request: {exc}")
            raise ForkServerError(f"the fork server is gone: {exc}") from exc
        deadline = time.monotonic() + _ANSWER_TIMEOUT_S
        while True:
            message = self._receive(deadline - time.monotonic())
            if message is None:
                self._lost("it did not answer")
                raise ForkServerError(
                    f"the fork server did not answer within {_ANSWER_TIMEOUT_S:.0f} s")
            if message[0] == "spawned":
                return int(message[1])
            if message[0] == "failed":
                raise ForkServerError(f"fork failed: {message[1]}")

    def poll(self) -> dict[int, int]:
        """Take in every report waiting now, without blocking; the exits not yet taken."""
        while self._sock is not None and self._receive(0.0) is not None:
            pass
        return self.exits

    def stop(self) -> None:
        """Close the socket (the server leaves) and wait for the server to exit."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("The fork server (pid %d) did not exit: killing it", process.pid)
            process.kill()
            process.wait()

    # -- internals -----------------------------------------------------------------------------

    def _send(self, message: tuple[Any, ...]) -> None:
        assert self._sock is not None
        try:
            self._sock.send(pickle.dumps(message))
        except OSError as exc:
            self._lost(f"cannot send it a request: {exc}")
            raise ForkServerError(f"the fork server is gone: {exc}") from exc

    def _receive(self, timeout: float) -> tuple[Any, ...] | None:
        """One message (``exited`` ones are recorded as well as returned); None when none came
        within ``timeout`` seconds or the server is gone."""
        sock = self._sock
        if sock is None:
            return None
        if timeout > 0:
            ready, _, _ = select.select([sock], [], [], timeout)
            if not ready:
                return None
        try:
            data = sock.recv(_MAX_MESSAGE, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return None
        except OSError as exc:
            self._lost(str(exc))
            return None
        if not data:
            self._lost("it exited")
            return None
        message = pickle.loads(data)
        if message[0] == "ready":
            self.ready = True
        elif message[0] == "exited":
            self.exits[int(message[1])] = int(message[2])
        return message

    def _lost(self, why: str) -> None:
        if self._sock is None:
            return
        code = None if self._process is None else self._process.poll()
        log.error("Lost the fork server (%s%s); a new one is started when a worker is needed",
                  why, "" if code is None else f", exit status {code}")
        self._sock.close()
        self._sock = None
        if self._process is not None:
            with contextlib.suppress(OSError):
                self._process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(_STOP_TIMEOUT_S)
            self._process = None


def _json_path() -> str:
    import json

    return json.dumps(sys.path)


# -- the server's side -------------------------------------------------------------------------


def serve(fd: int) -> NoReturn:
    """The server's main loop (run by the bootstrap command line); leaves through ``os._exit``."""
    status = 0
    try:
        _Server(socket.socket(fileno=fd)).run()
    except BaseException:  # noqa: BLE001 - report, then leave without running atexit hooks
        import traceback

        with contextlib.suppress(BaseException):
            traceback.print_exc()
        status = 1
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


def _preload() -> None:
    """Import, once here, what a worker's first try imports besides the task runner: the worker's
    loop, the loader of a version's stored code and :class:`~dagcore.dagbag.DagBag`, the
    Airflow-imports compatibility module, mapping, Jinja's extensions and the operator classes
    of the serialization registry; each worker inherits them instead of importing them within its
    first try (tens of milliseconds of each worker's CPU, docs/performance.md 3). Importing
    them changes nothing else: the compatibility layer is still installed by the worker
    (:func:`dagcore.executors.worker.worker_main`), and looking for a real Airflow here only
    fills the import system's directory caches for ``sys.path`` (the worker looks again)."""
    import jinja2.ext  # noqa: F401 - imported for the workers
    import jinja2.nativetypes  # noqa: F401

    import dagcore.dag_code_store  # noqa: F401
    import dagcore.dagbag  # noqa: F401
    import dagcore.executors.worker  # noqa: F401 - the worker's own loop
    import dagcore.mapping  # noqa: F401
    from dagcore.compat import airflow as compat
    from dagcore.serialization_registry import registry

    registry()
    compat.real_airflow_available()


class _Server:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.engine: Engine | None = None
        self.engine_url: str | None = None
        self.children: set[int] = set()

    def run(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.wake = (wake_r, wake_w)
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        poller.register(wake_r, select.POLLIN)
        while True:
            for fd, _ in poller.poll():
                if fd == wake_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 4096)
                    self._reap()
                elif not self._handle():
                    return
            self._reap()

    def _handle(self) -> bool:
        """One request; False at EOF (the executor closed the socket or died)."""
        try:
            data, fds, _, _ = socket.recv_fds(self.sock, _MAX_MESSAGE, 2)
        except OSError:
            return False
        if not data:
            return False
        kind, settings = pickle.loads(data)
        if kind == "init":
            self._init(settings)
            self._send(("ready",))
        elif kind == "spawn":
            try:
                pid = self._fork(fds, settings)
            except OSError as exc:
                self._send(("failed", str(exc)))
            else:
                self._send(("spawned", pid))
            finally:
                for fd in fds:
                    with contextlib.suppress(OSError):
                        os.close(fd)
        return True

    def _send(self, message: tuple[Any, ...]) -> None:
        with contextlib.suppress(OSError):  # the executor is gone: its EOF ends the loop
            self.sock.send(pickle.dumps(message))

    def _init(self, settings: WorkerSettings) -> None:
        """Import what every try needs and compile its statements: once, here."""
        settings.apply()
        self.engine_url = settings.engine_url
        import dagcore.task_runner  # noqa: F401 - imported once, inherited by every worker
        from dagcore.db import create_engine
        from dagcore.task_runner import warm_up

        engine = create_engine(settings.engine_url)
        try:
            warm_up(engine)
        except Exception:  # noqa: BLE001 - no schema yet, say: each worker compiles for itself
            log.debug("Cannot compile the task runner's statements in advance", exc_info=True)
        finally:
            engine.dispose()  # no connection stays open here: see the design note
        self.engine = engine
        _preload()

    def _fork(self, fds: list[int], settings: WorkerSettings) -> int:
        if len(fds) != 2:
            raise OSError(f"a spawn request needs 2 file descriptors, got {len(fds)}")
        pid = os.fork()
        if pid == 0:
            self._become_worker(fds, settings)
        with contextlib.suppress(OSError):  # the child may have done it already, or exited
            os.setpgid(pid, pid)
        self.children.add(pid)
        return pid

    def _become_worker(self, fds: list[int], settings: WorkerSettings) -> NoReturn:
        from dagcore.executors.worker import worker_main

        try:
            os.setpgid(0, 0)
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                signal.signal(signum, signal.SIG_DFL)
            self.sock.close()
            for fd in self.wake:
                os.close(fd)
            settings.apply()
            engine = self.engine if settings.engine_url == self.engine_url else None
        except BaseException:  # noqa: BLE001 - nothing can be reported but the status
            os._exit(70)
        worker_main(fds[0], fds[1], settings.runner, settings.engine_url, engine,
                    settings.max_tasks)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            self.children.discard(pid)
            self._send(("exited", pid, status))
