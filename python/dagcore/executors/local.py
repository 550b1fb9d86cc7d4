"""Run workloads in worker processes forked from the scheduler (Airflow's ``LocalExecutor``).

Design note. A worker is an ``os.fork()`` of this already-imported process, not a new
interpreter: the DAG file is parsed once in the parent (``task_runner.preload``) and the workers
inherit the parsed module. A worker runs one try at a time, sent to it over a pipe, and reports
the try's exit code (0, 1 after an exception, or a ``sys.exit`` code) over another; it is
reused for up to ``[core] worker_max_tasks`` tries (100; 1 forks a fresh process per try), like
Celery's ``worker_max_tasks_per_child``. Forking a 60 MB scheduler costs about 10 ms of CPU in
parent and child together (page tables, copy-on-write faults, exit), which made fork-per-try
CPU-bound below 100 tries/s on two cores; a reused worker pays it once. A worker that dies
mid-try (``kill -9``, ``os._exit``) is seen by ``waitpid`` and its try reported failed with the
status or the signal, exactly as a per-try process would be. Nothing here sleeps except
:meth:`LocalExecutor.end`, :meth:`LocalExecutor.terminate` and :meth:`LocalExecutor.wait`, which
wait on purpose.

Each child leads its own process group, so :meth:`~LocalExecutor.terminate` can signal a task
together with the subprocesses it started (``BashOperator``). Both parent and child call
``setpgid``, the classic way to close the window in which the parent could signal a group that
does not exist yet. The child restores the default SIGTERM/SIGINT/SIGCHLD handlers and drops any
signal wake-up fd (the scheduler installs its own, and a wake-up fd is shared with the parent),
reads stdin from ``/dev/null``, appends fds 1 and 2 to the try's log file, and opens its **own**
database connections: pooled connections inherited from the parent must never be used by two
processes, nor kept open after the parent died (their sockets are pointed at ``/dev/null``
first). The engine itself is made once in the parent, with the statements of a try compiled
(``task_runner.warm_up``), and each child gives it a new pool. It always leaves through
``os._exit``, so it can never return into scheduler code or run the parent's ``atexit`` hooks
and finalizers. Each try gets its own log file on fds 1 and 2. A worker exits when its command
pipe closes: the parent retires it after ``worker_max_tasks`` tries, at ``end``/``terminate``,
or by dying (a worker orphaned by a ``kill -9`` of the scheduler finishes its try and exits).

The parent only learns that a process ended (exit status 0 is ``"success"``, anything else is
``"failed"`` with the status or the signal in ``info``); the task runner in the child records the
task's state in the database itself (see :mod:`dagcore.executors.base`).

Not thread-safe: one thread (the scheduler loop) drives an executor. Children are reaped by pid,
never with ``waitpid(-1)``, so other children of the process (DAG processors) are left alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import signal
import stat
import struct
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from dagcore.configuration import conf
from dagcore.executors.base import BaseExecutor, ExecutorEvent, TaskInstanceKey, TaskWorkload

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["LocalExecutor"]

log = logging.getLogger(__name__)

# Polling while end() or terminate() waits: start fast (most tasks are short), back off to this.
_MAX_POLL_S = 0.05
# After SIGKILL a process exits as soon as the kernel lets it; this only bounds a hang in
# uninterruptible sleep (a dead NFS mount) so that shutdown still finishes.
_KILL_WAIT_S = 10.0


class LocalExecutor(BaseExecutor):
    """Runs workloads in processes forked from this one, at most ``parallelism`` at once.

    Args:
        parallelism: how many workloads may run at once; 0 means no limit. Default
            ``[core] parallelism``.
        engine_url: the database URL each child connects to; default ``[database]
            sql_alchemy_conn``.
        runner: called in the child instead of ``task_runner.run_workload`` (tests, custom
            runners); the child exits 0 when it returns, 1 when it raises.

    Raises:
        TypeError: ``parallelism`` is not an int.
        ValueError: ``parallelism`` is negative.
    """

    def __init__(
        self,
        parallelism: int | None = None,
        *,
        engine_url: str | None = None,
        runner: Callable[[TaskWorkload], object] | None = None,
    ) -> None:
        source = "parallelism"
        if parallelism is None:
            parallelism = conf.getint("core", "parallelism")
            source = "[core] parallelism"
        super().__init__(parallelism)
        if parallelism < 0:
            raise ValueError(f"{source} must be >= 0 (0: no limit), got {parallelism}")
        self.engine_url = engine_url
        self._runner = runner
        self._pending: deque[TaskWorkload] = deque()
        self._procs: dict[int, TaskWorkload] = {}  # pid (= its process group id) -> workload
        self._keys: set[TaskInstanceKey] = set()  # pending and live, for O(1) slot arithmetic
        self._events: list[ExecutorEvent] = []
        self._child_engine: Engine | None = None  # see _engine_for_children
        self._pidfds: dict[int, int] = {}  # pid -> pidfd (Linux), which wait() polls
        self._child_engine_url: str | None = None
        # Worker processes are reused for up to max_tasks_per_worker tries (see the note).
        self.max_tasks_per_worker = max(1, conf.getint("core", "worker_max_tasks"))
        self._workers: dict[int, _Worker] = {}  # every live worker, busy or idle
        self._idle: list[int] = []

    # -- the BaseExecutor contract ------------------------------------------------------------

    def start(self) -> None:
        """Nothing to set up: workers are forked on demand."""
        log.debug("LocalExecutor started (parallelism %d)", self.parallelism)

    def queue_workload(self, workload: TaskWorkload) -> None:
        """Accept ``workload``; a key already queued or running is ignored (and logged)."""
        if workload.key in self._keys:
            log.warning("Ignoring workload %s: already queued or running", workload.key)
            return
        self._keys.add(workload.key)
        self._pending.append(workload)

    @property
    def running(self) -> set[TaskInstanceKey]:
        """Keys queued here and not yet started, plus those of live processes (a copy)."""
        return set(self._keys)

    @property
    def slots_available(self) -> int:
        if self.parallelism <= 0:
            return 1 << 30
        return max(0, self.parallelism - len(self._keys))

    def has_task(self, key: TaskInstanceKey) -> bool:
        return key in self._keys

    @property
    def pids(self) -> dict[int, TaskInstanceKey]:
        """The live worker processes: pid (also its process group id) -> key (a copy)."""
        return {pid: workload.key for pid, workload in self._procs.items()}

    def wait(self, timeout: float) -> None:
        """Sleep until a task process ends, at most ``timeout`` seconds (at once if one has
        ended already), so that a scheduler between loops learns of it without polling.

        Polls a pidfd per process (Linux 5.3+); without them it sleeps ``timeout``.
        """
        if timeout <= 0:
            return
        if not self._procs or len(self._pidfds) < len(self._procs):
            time.sleep(timeout)
            return
        poller = select.poll()
        for fd in self._pidfds.values():
            poller.register(fd, select.POLLIN)
        for pid in self._procs:
            poller.register(self._workers[pid].results, select.POLLIN)
        poller.poll(timeout * 1000)

    def heartbeat(self) -> list[ExecutorEvent]:
        """Start pending workloads that fit, reap ended children; the events since last call.

        Never sleeps or blocks.
        """
        self._launch_pending()
        if self._workers and self._reap() and self._pending:
            self._launch_pending()  # reuse the slots just freed
        return self._take_events()

    def end(self, timeout: float | None = None) -> list[ExecutorEvent]:
        """Run every accepted workload to its end and return the events not yet returned.

        Args:
            timeout: seconds to wait at most; then :meth:`terminate` (whose events are
                included). ``None`` waits as long as it takes.

        Raises:
            ValueError: ``timeout`` is negative.
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 seconds or None, got {timeout}")
        deadline = None if timeout is None else time.monotonic() + timeout
        events: list[ExecutorEvent] = []
        delay = 0.001
        while True:
            events += self.heartbeat()
            if not self._keys:
                self._retire_idle()
                self._wait_reaped(time.monotonic() + _KILL_WAIT_S)
                return events + self._take_events()
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log.warning("%d task(s) still running after %s s: terminating them",
                                len(self._keys), timeout)
                    self.terminate()
                    return events + self._take_events()
                time.sleep(min(delay, remaining))
            else:
                time.sleep(delay)
            delay = min(delay * 2, _MAX_POLL_S)

    def terminate(self, grace: float | None = None) -> None:
        """Stop everything now: SIGTERM to each task's process group, SIGKILL after ``grace``.

        Workloads not started yet get a ``"failed"`` event without being run. SIGKILL goes to
        every group signalled, also one whose leader already exited, so that subprocesses which
        outlived their task are killed too. The events are kept for the next :meth:`heartbeat`
        or :meth:`end`.

        Args:
            grace: seconds the tasks get to clean up after SIGTERM; default
                ``[core] killed_task_cleanup_time``.

        Raises:
            ValueError: ``grace`` is negative.
        """
        if grace is None:
            grace = conf.getfloat("core", "killed_task_cleanup_time")
        if grace < 0:
            raise ValueError(f"grace must be >= 0 seconds, got {grace}")
        while self._pending:
            workload = self._pending.popleft()
            self._keys.discard(workload.key)
            self._event(workload, "failed", "executor terminated before the task started")
        self._reap()
        for pid in list(self._workers):
            self._retire(pid)  # a worker whose try ends on SIGTERM then exits at once
        groups = list(self._workers)
        if not groups:
            return
        log.info("Sending SIGTERM to %d task process group(s)", len(groups))
        _signal_groups(groups, signal.SIGTERM)
        self._wait_reaped(time.monotonic() + grace)
        _signal_groups(groups, signal.SIGKILL)
        if self._procs:
            log.warning("Sent SIGKILL to %d task(s) still running after %s s",
                        len(self._procs), grace)
        self._wait_reaped(time.monotonic() + _KILL_WAIT_S)
        for pid, workload in list(self._procs.items()):
            log.error("Task process %d (%s) did not exit after SIGKILL; giving up on it",
                      pid, workload.key)
            self._forget(pid)
            self._keys.discard(workload.key)
            self._event(workload, "failed", "did not exit after SIGKILL")
        for pid in list(self._workers):
            self._forget(pid)

    # -- internals ----------------------------------------------------------------------------

    def _take_events(self) -> list[ExecutorEvent]:
        events, self._events = self._events, []
        return events

    def _event(self, workload: TaskWorkload, state: str, info: str | None) -> None:
        self._events.append(ExecutorEvent(workload.key, workload.ti_id, state, info))

    def _launch_pending(self) -> None:
        while self._pending and (self.parallelism <= 0 or len(self._procs) < self.parallelism):
            self._launch(self._pending.popleft())

    def _launch(self, workload: TaskWorkload) -> None:
        engine = None
        if self._runner is None:
            from dagcore.task_runner import preload

            preload(workload.fileloc)  # parsed once here, inherited by the workers forked next
            engine = self._engine_for_children()
        while self._idle:
            pid = self._idle.pop()
            if self._send(pid, workload):
                return
        _flush_std_streams()  # or the child would inherit, and write, our buffered output
        try:
            commands_r, commands_w = os.pipe()
            results_r, results_w = os.pipe()
        except OSError as exc:
            log.error("Cannot start %s: no pipe: %s", workload.key, exc)
            self._keys.discard(workload.key)
            self._event(workload, "failed", f"cannot start a worker: {exc}")
            return
        try:
            pid = os.fork()
        except OSError as exc:
            log.error("Cannot start %s: fork failed: %s", workload.key, exc)
            for fd in (commands_r, commands_w, results_r, results_w):
                os.close(fd)
            self._keys.discard(workload.key)
            self._event(workload, "failed", f"fork failed: {exc}")
            return
        if pid == 0:
            os.close(commands_w)
            os.close(results_r)
            _worker_main(commands_r, results_w, self._runner, self.engine_url, engine,
                         self.max_tasks_per_worker)
        os.close(commands_r)
        os.close(results_w)
        os.set_blocking(results_r, False)
        with contextlib.suppress(OSError):  # the child may have done it already, or exited
            os.setpgid(pid, pid)
        self._workers[pid] = _Worker(commands_w, results_r)
        with contextlib.suppress(AttributeError, OSError):  # not Linux, or an old kernel
            self._pidfds[pid] = os.pidfd_open(pid)
        log.debug("Started worker pid %d", pid)
        if not self._send(pid, workload):
            self._keys.discard(workload.key)
            self._event(workload, "failed", "the new worker process died at once")

    def _send(self, pid: int, workload: TaskWorkload) -> bool:
        """Hand ``workload`` to worker ``pid``; False (and the worker dropped) if it is gone."""
        worker = self._workers[pid]
        data = pickle.dumps(workload)
        try:
            os.write(worker.commands, struct.pack("!I", len(data)) + data)
        except OSError:
            self._retire(pid)
            return False
        worker.tasks += 1
        self._procs[pid] = workload
        log.debug("Started %s in worker pid %d", workload.key, pid)
        return True

    def _retire(self, pid: int) -> None:
        """Close the worker's command pipe: it exits at EOF (reaped later, without event)."""
        worker = self._workers.get(pid)
        if worker is not None and not worker.retired:
            worker.retired = True
            with contextlib.suppress(OSError):
                os.close(worker.commands)

    def _retire_idle(self) -> None:
        while self._idle:
            self._retire(self._idle.pop())

    def _forget(self, pid: int) -> None:
        self._retire(pid)
        worker = self._workers.pop(pid, None)
        if worker is not None:
            with contextlib.suppress(OSError):
                os.close(worker.results)
        self._procs.pop(pid, None)
        with contextlib.suppress(ValueError):
            self._idle.remove(pid)
        self._close_pidfd(pid)

    def _close_pidfd(self, pid: int) -> None:
        fd = self._pidfds.pop(pid, None)
        if fd is not None:
            os.close(fd)

    def _engine_for_children(self) -> Engine:
        """The engine the task processes inherit, made here once per database URL.

        A child replaces its pool (``dispose(close=False)``) and so never uses a connection of
        ours; there is none to inherit anyway, as the pool is emptied here. What it inherits is
        the rest: an engine already made, whose dialect knows the database, and the statements
        of a try already compiled (``task_runner.warm_up``). For a short task, making the
        engine and compiling were a good part of the child's time.
        """
        from dagcore.db import create_engine

        url = self.engine_url or conf.get("database", "sql_alchemy_conn")
        if self._child_engine is not None and self._child_engine_url == url:
            return self._child_engine
        engine = create_engine(url)
        try:
            from dagcore.task_runner import warm_up
        except ImportError:  # a stand-in task runner module (tests): nothing to compile
            pass
        else:
            self._warm_up(warm_up, engine)
        finally:
            engine.dispose()
        self._child_engine, self._child_engine_url = engine, url
        return engine

    @staticmethod
    def _warm_up(warm_up: Callable[[Engine], object], engine: Engine) -> None:
        """Compile the task runner's statements once, here; failing only leaves it to each child."""
        try:
            warm_up(engine)
        except Exception:  # noqa: BLE001 - no schema yet, say: each child compiles for itself
            log.debug("Cannot compile the task runner's statements in advance", exc_info=True)

    def _reap(self) -> int:
        """Collect finished tries (from the workers' result pipes) and dead workers; how many
        tries ended."""
        ended = 0
        for pid, workload in list(self._procs.items()):
            worker = self._workers[pid]
            try:
                data = os.read(worker.results, 4)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if len(data) != 4:
                continue  # the worker died mid-try: waitpid below reports how
            (code,) = struct.unpack("!i", data)
            del self._procs[pid]
            self._keys.discard(workload.key)
            state, info = ("success", None) if code == 0 else ("failed", f"exit status {code}")
            self._event(workload, state, info)
            ended += 1
            if worker.tasks >= self.max_tasks_per_worker:
                self._retire(pid)  # it exits by itself after this many tries
            else:
                self._idle.append(pid)
        for pid in list(self._workers):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, None  # reaped by someone else: its status is lost
            if done == 0:
                continue
            running = self._procs.get(pid)
            self._forget(pid)
            if running is None:
                continue  # an idle or retired worker ended
            self._keys.discard(running.key)
            state, info = _describe_status(status)
            if state == "success":  # exited 0 without reporting the try: it did not finish
                state, info = "failed", "the worker exited without reporting the try"
            log.debug("pid %d (%s) ended: %s %s", pid, running.key, state, info or "")
            self._event(running, state, info)
            ended += 1
        return ended

    def _wait_reaped(self, deadline: float) -> None:
        delay = 0.001
        while self._workers:
            self._reap()
            remaining = deadline - time.monotonic()
            if not self._workers or remaining <= 0:
                return
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, _MAX_POLL_S)


def _describe_status(status: int | None) -> tuple[str, str | None]:
    """``waitpid`` status -> (event state, info)."""
    if status is None:
        return "failed", "exit status unknown (the process was reaped elsewhere)"
    code = os.waitstatus_to_exitcode(status)
    if code == 0:
        return "success", None
    if code > 0:
        return "failed", f"exit status {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = str(-code)
    return "failed", f"killed by signal {name}"


def _signal_groups(groups: Iterable[int], signum: signal.Signals) -> None:
    for pgid in groups:
        try:
            os.killpg(pgid, signum)
        except ProcessLookupError:
            pass  # the whole group is gone already
        except OSError as exc:
            log.warning("Cannot send %s to process group %d: %s", signum.name, pgid, exc)


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()


# -- the child ---------------------------------------------------------------------------------


class _Worker:
    """The parent's handles on one worker process."""

    __slots__ = ("commands", "results", "tasks", "retired")

    def __init__(self, commands: int, results: int) -> None:
        self.commands = commands  # the parent writes workloads here
        self.results = results  # the worker writes one exit code per try here
        self.tasks = 0
        self.retired = False


def _read_exactly(fd: int, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


def _worker_main(
    commands: int,
    results: int,
    runner: Callable[[TaskWorkload], object] | None,
    engine_url: str | None,
    engine: Engine | None,
    max_tasks: int,
) -> NoReturn:
    """Everything a forked worker does: up to ``max_tasks`` tries, one at a time, each with
    its own log file; leaves only through ``os._exit``."""
    status = 1
    try:
        os.setpgid(0, 0)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(-1)
        _drop_inherited_sockets()
        if runner is None:
            if engine is None:
                from dagcore.db import create_engine

                engine = create_engine(engine_url)
            else:
                engine.dispose(close=False)  # a pool of our own: never the parent's
        for _ in range(max_tasks):
            header = _read_exactly(commands, 4)
            if not header:
                break  # the parent retired us, or died
            (size,) = struct.unpack("!I", header)
            workload: TaskWorkload = pickle.loads(_read_exactly(commands, size))
            code = _run_one(workload, runner, engine)
            try:
                os.write(results, struct.pack("!i", code))
            except OSError:
                break  # the parent is gone
        status = 0
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
        status = 1
    finally:
        _flush_std_streams()
        os._exit(status)


def _run_one(workload: TaskWorkload, runner: Callable[[TaskWorkload], object] | None,
             engine: Engine | None) -> int:
    """One try in the worker: stdio to its log, the runner; the exit code it would have had
    as a process of its own (0, 1 after an exception, or the ``sys.exit`` code)."""
    code = 1
    try:
        _redirect_stdio(workload.log_path)
        if runner is None:
            from dagcore.task_runner import run_workload

            run_workload(workload, engine=engine)
        else:
            runner(workload)
        code = 0
    except SystemExit as exc:  # sys.exit() in a runner: the status the interpreter would give
        code = _exit_status(exc.code)
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
        code = 1
    finally:
        _flush_std_streams()
    return code


def _drop_inherited_sockets() -> None:
    """Point every inherited socket (the parent's database connections) at ``/dev/null``.

    The child never uses them, but while it holds them open the server does not see them close
    when the parent dies: after a ``kill -9`` of the scheduler, PostgreSQL kept the dead
    scheduler's transaction, and its row locks, open until every task it had forked exited,
    and a task waiting for one of those locks (its XCom insert) never exited. The fd numbers
    stay taken, by ``/dev/null``, so that no object of the parent's can ever write to a
    connection the child opens later.
    """
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc: nothing to find the fds by
        return
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in fds:
            if fd > 2 and fd != devnull:
                with contextlib.suppress(OSError):  # the listing's own fd, closed by now
                    if stat.S_ISSOCK(os.fstat(fd).st_mode):
                        os.dup2(devnull, fd, inheritable=False)
    finally:
        os.close(devnull)


def _redirect_stdio(log_path: str) -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    path = Path(log_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    os.dup2(fd, 1)  # dup2 makes them inheritable: a task's subprocesses log there too
    os.dup2(fd, 2)
    os.close(fd)
    # New streams on the new fds: line-buffered output, so a log being tailed shows each line
    # as it is written; the parent's unflushed buffers (in the old objects) are never written
    # here, and buffered input the parent read ahead is not read again.
    sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace",
                      closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace",
                      closefd=False)


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1
