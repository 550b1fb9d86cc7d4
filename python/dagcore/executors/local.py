"""Run workloads in worker processes of a fork server (Airflow's ``LocalExecutor``).

Design note. Workers are forked by the executor's fork server (:mod:`dagcore.executors.forkserver`),
a fresh interpreter started with the executor that imports dagcore once and never opens the
metadata database nor a DAG file: a worker shares no state with the scheduler (SQLite's lock
bookkeeping was the one that lost data) and imports its DAG file itself. A worker runs one try at
a time, sent to it over a pipe, and reports the try's exit code (0, 1 after an exception, or a
``sys.exit`` code) over another (:mod:`dagcore.executors.worker`); it is reused for up to
``[core] worker_max_tasks`` tries (100; 1 forks a fresh process per try), like Celery's
``worker_max_tasks_per_child``, and keeps the DAG file it parsed for the next tries of the same
file. A worker that dies mid-try (``kill -9``, ``os._exit``, a segfault in a DAG file) is
reported by the fork server, which alone can ``waitpid`` it, and its try reported failed with the
status or the signal, exactly as a per-try process would be. Nothing here sleeps except
:meth:`LocalExecutor.end`, :meth:`LocalExecutor.terminate` and :meth:`LocalExecutor.wait`, which
wait on purpose.

Each worker leads its own process group, so :meth:`~LocalExecutor.terminate` can signal a task
together with the subprocesses it started (``BashOperator``). A worker exits when its command
pipe closes: the executor retires it after ``worker_max_tasks`` tries, at ``end``/``terminate``,
or by dying (a worker orphaned by a ``kill -9`` of the scheduler finishes its try, which it
records safely, and exits). The fork server leaves when the executor ends or dies.

The executor only learns that a try ended (exit code 0 is ``"success"``, anything else is
``"failed"`` with the status or the signal in ``info``); the task runner in the worker records the
task's state in the database itself (see :mod:`dagcore.executors.base`). A DAG's run callbacks
(:meth:`~LocalExecutor.queue_callback`) run in a worker of their own, outside ``parallelism``.

Not thread-safe: one thread (the scheduler loop) drives an executor.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import signal
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable

from dagcore.configuration import conf
from dagcore.executors.base import (
    BaseExecutor,
    DagCallbackRequest,
    ExecutorEvent,
    TaskInstanceKey,
    TaskWorkload,
)
from dagcore.executors.forkserver import ForkServer, ForkServerError, WorkerSettings
from dagcore.utils.process import pid_alive

__all__ = ["LocalExecutor"]

log = logging.getLogger(__name__)

# Polling while end() or terminate() waits: start fast (most tasks are short), back off to this.
_MAX_POLL_S = 0.05
# After SIGKILL a process exits as soon as the kernel lets it; this only bounds a hang in
# uninterruptible sleep (a dead NFS mount) so that shutdown still finishes.
_KILL_WAIT_S = 10.0


class LocalExecutor(BaseExecutor):
    """Runs workloads in worker processes of a fork server, at most ``parallelism`` at once.

    Args:
        parallelism: how many workloads may run at once; 0 means no limit. Default
            ``[core] parallelism``.
        engine_url: the database URL the workers connect to; default ``[database]
            sql_alchemy_conn``.
        runner: called in the worker instead of ``task_runner.run_workload`` (tests, custom
            runners); the try's exit code is 0 when it returns, 1 when it raises. It must be
            picklable (a module-level function): the worker is another process.

    Raises:
        TypeError: ``parallelism`` is not an int, or ``runner`` cannot be pickled.
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
        try:
            self._runner = None if runner is None else pickle.dumps(runner)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise TypeError(f"runner must be picklable (a module-level function), got "
                            f"{runner!r}: {exc}") from None
        self._server: ForkServer | None = None
        self._pending: deque[TaskWorkload] = deque()
        self._procs: dict[int, TaskWorkload] = {}  # pid (= its process group id) -> workload
        self._keys: set[TaskInstanceKey] = set()  # pending and live, for O(1) slot arithmetic
        self._events: list[ExecutorEvent] = []
        self._killed: dict[int, str] = {}  # pid -> why kill() killed it
        self._callbacks: dict[int, DagCallbackRequest] = {}  # pid -> the callback it runs
        self._callback_deadlines: dict[int, float] = {}  # pid -> monotonic time to kill it
        # Worker processes are reused for up to max_tasks_per_worker tries (see the note).
        self.max_tasks_per_worker = max(1, conf.getint("core", "worker_max_tasks"))
        self._workers: dict[int, _Worker] = {}  # every live worker, busy or idle
        self._idle: list[int] = []

    # -- the BaseExecutor contract ------------------------------------------------------------

    def start(self) -> None:
        """Start the fork server, in the background (an interpreter importing dagcore: about
        half a second of CPU, while the scheduler gets ready; the first try waits for it). A
        server that cannot start is reported by the first try's event."""
        try:
            self._fork_server().start()
        except ForkServerError as exc:
            log.error("%s (the first worker tries again)", exc)
        log.debug("LocalExecutor started (parallelism %d)", self.parallelism)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until the fork server can fork workers (a benchmark that times tries, not the
        executor's start-up, waits for this first).

        Raises:
            dagcore.executors.forkserver.ForkServerError: it is not ready within ``timeout``
                seconds, or cannot start.
        """
        self._fork_server().wait_ready(timeout)

    def queue_workload(self, workload: TaskWorkload) -> None:
        """Accept ``workload``; a key already queued or running is ignored (and logged)."""
        if workload.key in self._keys:
            log.warning("Ignoring workload %s: already queued or running", workload.key)
            return
        self._keys.add(workload.key)
        self._pending.append(workload)

    def queue_callback(self, request: DagCallbackRequest) -> None:
        """Run a DAG's run callbacks in a worker of their own, now (not counted in
        ``parallelism``); a failure is logged, no event comes back. The worker is killed after
        ``dag_file_processor_timeout`` seconds (``[dag_processor]``, or ``[core]`` when set
        there: Airflow runs these callbacks in its DAG file processor, under that timeout)."""
        pid = self._new_worker(1)
        if pid is None or not self._send(pid, request):
            log.error("Cannot run the %s callback of Dag %s (run %s): no worker",
                      request.state, request.dag_id, request.run_id)
            return
        self._callbacks[pid] = request
        from dagcore.dag_parsing import dag_file_processor_timeout

        self._callback_deadlines[pid] = time.monotonic() + dag_file_processor_timeout()

    def kill(self, key: TaskInstanceKey, reason: str) -> bool:
        """SIGKILL the process group of the worker running ``key``; its event says ``reason``."""
        for pid, workload in self._procs.items():
            if workload.key == key:
                self._killed[pid] = reason
                _signal_groups([pid], signal.SIGKILL)
                log.warning("Killed worker %d running %s: %s", pid, key, reason)
                return True
        return False

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
        """The workers running a try: pid (also its process group id) -> key (a copy)."""
        return {pid: workload.key for pid, workload in self._procs.items()}

    def wait(self, timeout: float) -> None:
        """Sleep until a try ends, at most ``timeout`` seconds (at once if one has ended
        already), so that a scheduler between loops learns of it without polling."""
        if timeout <= 0:
            return
        poller = select.poll()
        for pid in self._procs:
            poller.register(self._workers[pid].results, select.POLLIN)
        if self._server is not None and self._server.alive:
            poller.register(self._server.fileno(), select.POLLIN)  # a worker died
        poller.poll(timeout * 1000)

    def heartbeat(self) -> list[ExecutorEvent]:
        """Start pending workloads that fit, reap ended tries; the events since last call.

        Never sleeps; blocks only while the fork server forks a new worker.
        """
        self._launch_pending()
        if self._workers and self._reap() and self._pending:
            self._launch_pending()  # reuse the slots just freed
        return self._take_events()

    def end(self, timeout: float | None = None) -> list[ExecutorEvent]:
        """Run every accepted workload (and callback) to its end and return the events not yet
        returned; then stop the workers and the fork server.

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
            if not self._keys and not self._callbacks:
                self._retire_idle()
                self._wait_reaped(time.monotonic() + _KILL_WAIT_S)
                self._stop_server()
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
        """Stop everything now: SIGTERM to each worker's process group, SIGKILL after
        ``grace``; then stop the fork server.

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
        if groups:
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
        self._stop_server()

    # -- internals ----------------------------------------------------------------------------

    def _fork_server(self) -> ForkServer:
        if self._server is None:
            url = self.engine_url or conf.get("database", "sql_alchemy_conn")
            self._server = ForkServer(url)
        return self._server

    def _stop_server(self) -> None:
        if self._server is not None and not self._workers:
            self._server.stop()

    def _take_events(self) -> list[ExecutorEvent]:
        events, self._events = self._events, []
        return events

    def _event(self, workload: TaskWorkload, state: str, info: str | None) -> None:
        self._events.append(ExecutorEvent(workload.key, workload.ti_id, state, info))

    def _launch_pending(self) -> None:
        while self._pending and (self.parallelism <= 0 or len(self._procs) < self.parallelism):
            self._launch(self._pending.popleft())

    def _launch(self, workload: TaskWorkload) -> None:
        while self._idle:
            if self._send(self._idle.pop(), workload):
                return
        new = self._new_worker(self.max_tasks_per_worker, workload)
        if new is not None and not self._send(new, workload):
            self._keys.discard(workload.key)
            self._event(workload, "failed", "the new worker process died at once")

    def _new_worker(self, max_tasks: int, workload: TaskWorkload | None = None) -> int | None:
        """A new worker's pid, or None (and a failed event for ``workload``) if none starts."""
        try:
            commands_r, commands_w = os.pipe()
        except OSError as exc:
            self._not_started(workload, f"no pipe: {exc}")
            return None
        try:
            results_r, results_w = os.pipe()
        except OSError as exc:
            os.close(commands_r)
            os.close(commands_w)
            self._not_started(workload, f"no pipe: {exc}")
            return None
        settings = WorkerSettings.here(runner=self._runner, max_tasks=max_tasks,
                                       engine_url=self._fork_server().engine_url)
        try:
            pid = self._fork_server().spawn((commands_r, results_w), settings)
        except ForkServerError as exc:
            for fd in (commands_w, results_r):
                os.close(fd)
            self._not_started(workload, str(exc))
            return None
        finally:
            os.close(commands_r)
            os.close(results_w)
        os.set_blocking(results_r, False)
        self._workers[pid] = _Worker(commands_w, results_r)
        log.debug("Started worker pid %d", pid)
        return pid

    def _not_started(self, workload: TaskWorkload | None, why: str) -> None:
        if workload is not None:
            log.error("Cannot start %s: %s", workload.key, why)
            self._keys.discard(workload.key)
            self._event(workload, "failed", f"cannot start a worker: {why}")

    def _send(self, pid: int, command: TaskWorkload | DagCallbackRequest) -> bool:
        """Hand ``command`` to worker ``pid``; False (and the worker dropped) if it is gone."""
        worker = self._workers[pid]
        data = pickle.dumps(command)
        try:
            os.write(worker.commands, struct.pack("!I", len(data)) + data)
        except OSError:
            self._retire(pid)
            return False
        worker.tasks += 1
        if isinstance(command, TaskWorkload):
            self._procs[pid] = command
            log.debug("Started %s in worker pid %d", command.key, pid)
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
        self._killed.pop(pid, None)
        self._callbacks.pop(pid, None)
        self._callback_deadlines.pop(pid, None)
        with contextlib.suppress(ValueError):
            self._idle.remove(pid)

    def _exits(self) -> dict[int, int | None]:
        """The workers known to have ended: pid -> ``waitpid`` status (None: unknown).

        The fork server reports them. Without one (it died), a worker has ended when its
        result pipe is at EOF and its pid is gone; how it ended is lost.
        """
        server = self._server
        exits: dict[int, int | None] = {}
        if server is not None:
            reported = server.poll()
            for pid, status in reported.items():
                if pid in self._workers:
                    exits[pid] = status
            reported.clear()  # pids of no worker of ours (any more)
        if server is None or not server.alive:
            for pid, worker in self._workers.items():
                if pid not in exits and worker.at_eof() and not pid_alive(pid):
                    exits[pid] = None
        return exits

    def _reap(self) -> int:
        """Collect finished tries (from the workers' result pipes) and dead workers; how many
        tries ended."""
        ended = 0
        if self._callback_deadlines:
            self._kill_late_callbacks()
        for pid in list(self._procs) + list(self._callbacks):
            worker = self._workers[pid]
            try:
                data = os.read(worker.results, 4)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if len(data) != 4:
                worker.eof = True
                continue  # the worker died mid-try: its exit says how
            (code,) = struct.unpack("!i", data)
            request = self._callbacks.pop(pid, None)
            if request is not None:
                if code != 0:
                    log.error("The %s callback of Dag %s (run %s) failed: exit status %d",
                              request.state, request.dag_id, request.run_id, code)
                self._retire(pid)
                continue
            workload = self._procs.pop(pid)
            self._keys.discard(workload.key)
            state, info = ("success", None) if code == 0 else ("failed", f"exit status {code}")
            self._event(workload, state, info)
            ended += 1
            if worker.tasks >= self.max_tasks_per_worker:
                self._retire(pid)  # it exits by itself after this many tries
            else:
                self._idle.append(pid)
        for pid, status in self._exits().items():
            running = self._procs.get(pid)
            request = self._callbacks.pop(pid, None)
            killed = self._killed.get(pid)
            self._forget(pid)
            if request is not None:
                log.error("The %s callback of Dag %s (run %s) died: %s", request.state,
                          request.dag_id, request.run_id, _describe_status(status)[1])
            if running is None:
                continue  # an idle or retired worker ended
            self._keys.discard(running.key)
            state, info = _describe_status(status)
            if state == "success":  # exited 0 without reporting the try: it did not finish
                state, info = "failed", "the worker exited without reporting the try"
            if killed is not None:
                info = f"{info}: {killed}"
            log.debug("pid %d (%s) ended: %s %s", pid, running.key, state, info or "")
            self._event(running, state, info)
            ended += 1
        return ended

    def _kill_late_callbacks(self) -> None:
        now = time.monotonic()
        for pid, deadline in list(self._callback_deadlines.items()):
            if now >= deadline:
                del self._callback_deadlines[pid]
                request = self._callbacks.get(pid)
                if request is not None:
                    log.error("The %s callback of Dag %s (run %s) did not finish within "
                              "dag_file_processor_timeout: killing it", request.state,
                              request.dag_id, request.run_id)
                    _signal_groups([pid], signal.SIGKILL)

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
        return "failed", "exit status unknown (the fork server that started it is gone)"
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


class _Worker:
    """The executor's handles on one worker process."""

    __slots__ = ("commands", "results", "tasks", "retired", "eof")

    def __init__(self, commands: int, results: int) -> None:
        self.commands = commands  # the executor writes commands here
        self.results = results  # the worker writes one exit code per command here
        self.tasks = 0
        self.retired = False
        self.eof = False  # the result pipe reached EOF: the worker is gone or going

    def at_eof(self) -> bool:
        if not self.eof:
            self.eof = _eof(self.results)
        return self.eof


def _eof(fd: int) -> bool:
    """Whether the pipe ``fd`` is at EOF (its writer gone), reading nothing if it is not."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    for _, mask in poller.poll(0):
        if mask & select.POLLHUP and not mask & select.POLLIN:
            return True
    return False
