"""Run one try of one task instance against the metadata database (Airflow's task runner).

An executor hands :func:`run_workload` a :class:`~dagcore.executors.base.TaskWorkload` (in a
worker process, or in-process for ``dag.test()``); the runner claims the try, runs the task and
records the outcome. :func:`~dagcore.dag_loading.load_dag_version` imports the DAG from the code
stored with the try's DAG version (docs/airflow-behaviour.md 1.8), with a cache per version, so a
LocalExecutor worker imports a version's code once for all its tries.
:func:`run_dag_callback` calls a DAG's run callbacks the same way, for the scheduler, which never
imports a DAG file itself.

Design note. The database is the single source of truth, and others change it while a try runs:
a clear gives the task instance a new id (a running one becomes ``restarting``), the API marks it
success or failed, the scheduler fails a try whose heartbeat stopped. So the runner writes only
guarded updates:

* the claim is ``queued -> running`` ``WHERE id = <workload's id> AND state = 'queued' AND
  try_number = <workload's try>``: a workload whose try was cleared, retried or already started
  finds nothing and runs nothing (returns ``None``); the same transaction deletes the XComs of
  the tries before and reads the run;
* the heartbeat thread stamps ``last_heartbeat_at`` ``WHERE id AND state = 'running'``; when that
  matches no row the try was decided elsewhere, and the thread sends ``SIGTERM`` to its own
  process, whose handler calls ``on_kill`` and raises :class:`~dagcore.exceptions.TaskTerminated`
  in the task (only when this runner installed that handler: main thread, ``handle_signals``);
* the outcome is one transaction ``WHERE id AND state = 'running'``. If it matches nothing and
  the task instance is now ``restarting`` (cleared while running) it goes to no state, to be
  scheduled again; in any other state it is left as someone else set it.

The outcome rules (retry or fail) are shared with the scheduler in
:mod:`dagcore.models.taskinstance`, except for what the task asks for itself: ``TaskSkipped``
skips, ``AirflowFailException`` and ``AirflowSensorTimeout`` fail with no retry (Airflow's
``_run_raw_task``). :func:`dagcore.context.get_current_context` gives the task's context while
``execute`` runs. A try that ends ``up_for_retry`` keeps its id, and the
scheduler archives it and gives the next try a new id when it schedules the retry. Callbacks
run after the outcome is committed, and only when this runner decided it; a callback that
raises is logged and changes nothing.

``execution_timeout`` uses ``SIGALRM`` (``setitimer``), so it is enforced only on the main
thread with ``handle_signals``; it covers ``execute`` and, for ``TriggerDagRunOperator``, the
wait for the triggered run (as a timeout on the operator did in Airflow 2). The previous signal
handlers are restored when the try ends.

The task's log is a :class:`logging.FileHandler` on the root logger, opened in append mode (the
LocalExecutor's child also points its stdout and stderr at the same file), for the duration of
the try. In-process, every thread's log records reach it meanwhile. Records stop, after a
notice, once the file reaches ``[logging] task_log_max_bytes`` (100 MB; 0: no cap).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import getpass
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dagcore.asset_store import (
    inlet_asset_events,
    record_asset_events,
    triggering_asset_events,
)
from dagcore.assets import InletEventsAccessors, OutletEventAccessors, TriggeringAssetEvents
from dagcore.configuration import conf
from dagcore.dag_loading import load_dag, load_dag_version
from dagcore.db import transaction
from dagcore.db.sqlite_file import is_lock_error
from dagcore.context import set_current_context
from dagcore.exceptions import (
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSensorTimeout,
    DagcoreException,
    DagRunTriggerException,
    TaskSkipped,
    TaskTerminated,
    TaskTimeout,
)
from dagcore.executors.base import DagCallbackRequest, TaskInstanceKey, TaskWorkload
from dagcore.models import tables as t
from dagcore.models.taskinstance import NO_STATE, end_try, failure_state
from dagcore.models.taskreschedule import TaskInstanceQueries, record_reschedule
from dagcore.models.xcom import DatabaseXComBackend
from dagcore.operators.base import execute_task
from dagcore.operators.skipmixin import DownstreamTasksSkipped
from dagcore.state import TaskInstanceState
from dagcore.templating import build_context
from dagcore.utils import timezone

if TYPE_CHECKING:
    from dagcore.dag import DAG
    from dagcore.operators.base import BaseOperator

__all__ = ["LOG_FORMAT", "load_dag", "run_dag_callback", "run_workload", "warm_up"]

log = logging.getLogger(__name__)

LOG_FORMAT: Final = "[%(asctime)s] {%(filename)s:%(lineno)d} %(levelname)s - %(message)s"
"""The task log's line format (Airflow's)."""

XCOM_TRIGGER_DAG_ID: Final = "trigger_dag_id"

_QUEUED: Final = TaskInstanceState.QUEUED.value
_RUNNING: Final = TaskInstanceState.RUNNING.value
_RESTARTING: Final = TaskInstanceState.RESTARTING.value
_DB_ATTEMPTS: Final = 3  # the outcome write is retried on OperationalError (see _retrying)
_LOCKED_PAUSE_S: Final = 0.05  # between outcome writes that found the database locked
_HEARTBEAT_JOIN_S: Final = 60.0
_MIN_POKE_S: Final = 0.01

T = TypeVar("T")


# -- parsing DAG files ---------------------------------------------------------------------------


# -- the try's log -------------------------------------------------------------------------------


def _log_level() -> int:
    name = str(conf.get("logging", "logging_level", fallback="INFO")).strip().upper()
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.INFO


def _file_identity(handler: logging.Handler) -> tuple[int, int] | None:
    """``(st_dev, st_ino)`` of the file a stream handler writes to, if it has one."""
    stream = getattr(handler, "stream", None)
    try:
        stat = os.fstat(stream.fileno())  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):  # no stream, no fd, or a closed stream
        return None
    return stat.st_dev, stat.st_ino


def _log_max_bytes() -> int:
    """``[logging] task_log_max_bytes`` (0: no cap); a bad value is logged, and 100 MB used."""
    raw = conf.get("logging", "task_log_max_bytes", fallback=str(100 << 20))
    try:
        value = int(str(raw).strip())
        if value < 0:
            raise ValueError
    except ValueError:
        log.error("[logging] task_log_max_bytes must be a whole number of bytes >= 0, got %r; "
                  "capping task logs at 100 MB", raw)
        return 100 << 20
    return value


class _CappedFileHandler(logging.FileHandler):
    """A FileHandler that stops writing once the file reaches ``max_bytes``, leaving a notice.

    A task printing without end (a Bash command in a loop) must not fill the disk. The file's
    size, not a count of our own writes, is checked: the worker's fds 1 and 2 (``print``, a
    subprocess's output) append to the same file, and count toward the cap too, though only
    log records are stopped.
    """

    def __init__(self, path: Path, max_bytes: int) -> None:
        super().__init__(path, mode="a", encoding="utf-8")
        self.max_bytes = max_bytes
        self.truncated = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.truncated:
            return
        if self.max_bytes and self.stream is not None:
            try:
                message = self.format(record) + self.terminator
                self.stream.flush()
                size = os.fstat(self.stream.fileno()).st_size
            except Exception:  # noqa: BLE001 - logging's own convention: report, do not raise
                self.handleError(record)
                return
            if size + len(message.encode("utf-8", errors="replace")) > self.max_bytes:
                self.truncated = True
                self.stream.write(f"*** The log of this try reached [logging] task_log_max_bytes "
                                  f"({self.max_bytes} bytes): further log records are dropped "
                                  f"***{self.terminator}")
                self.flush()
                return
            # StreamHandler.emit with the line formatted above (formatting is a function of the
            # record: a second format would write the same line).
            try:
                self.stream.write(message)
                self.flush()
            except RecursionError:
                raise
            except Exception:  # noqa: BLE001 - logging's own convention: report, do not raise
                self.handleError(record)
            return
        super().emit(record)


_FORMATTER: Final = logging.Formatter(LOG_FORMAT)  # holds no state of a try: shared by all


@contextlib.contextmanager
def _task_log(log_path: str) -> Iterator[None]:
    """Send log records to ``log_path`` (appended; folders created) for the block.

    Root handlers that already write to that file are detached meanwhile: in the
    LocalExecutor's child, stderr is the log file, and a handler on the parent's stderr (the
    CLI's) would write every record a second time.
    """
    root = logging.getLogger()
    level = _log_level()
    handler: logging.FileHandler | None = None
    try:
        path = Path(log_path)
        max_bytes = _log_max_bytes()
        try:  # the folder exists on every try but a folder's first (the worker made it)
            handler = _CappedFileHandler(path, max_bytes)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = _CappedFileHandler(path, max_bytes)
    except OSError as exc:
        log.error("cannot open the task log %s (%s); the try logs elsewhere only", log_path, exc)
    previous_level = root.level
    detached: list[logging.Handler] = []
    if handler is not None:
        mine = _file_identity(handler)
        detached = [h for h in root.handlers if mine is not None and _file_identity(h) == mine]
        for other in detached:
            root.removeHandler(other)
        handler.setFormatter(_FORMATTER)
        handler.setLevel(level)
        root.addHandler(handler)
    if root.getEffectiveLevel() > level:
        root.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(previous_level)
        if handler is not None:
            root.removeHandler(handler)
            handler.close()
        for other in detached:
            root.addHandler(other)


@functools.lru_cache(maxsize=1)
def _hostname() -> str:
    return socket.getfqdn()


# The variables getpass.getuser() reads, in its order, before the password database.
_USER_VARS: Final = ("LOGNAME", "USER", "LNAME", "USERNAME")
_unixnames: dict[tuple[Any, ...], str] = {}


def _unixname() -> str:
    """``getpass.getuser()`` (the uid when it has no passwd entry), remembered per value of the
    variables it reads and the uid: without those variables it reads ``/etc/passwd``, twice a
    try otherwise."""
    environ = os.environ
    key = (os.getuid(), *(environ.get(name) for name in _USER_VARS))
    name = _unixnames.get(key)
    if name is None:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers)
            name = str(os.getuid())
        if len(_unixnames) > 64:
            _unixnames.clear()
        _unixnames[key] = name
    return name


# -- signals and timeout -------------------------------------------------------------------------


class _Interrupts:
    """SIGTERM and ``execution_timeout`` for the task (handlers installed only on the main
    thread with ``handle_signals``).

    The handlers raise in the task only while it is *armed* (running ``execute`` or waiting for
    a triggered run); a SIGTERM at another moment calls ``on_kill`` and is remembered, so the
    task does not start afterwards.
    """

    def __init__(self, *, enabled: bool, timeout_s: float | None, what: str) -> None:
        self.installed = (enabled and hasattr(signal, "SIGALRM")
                          and threading.current_thread() is threading.main_thread())
        self.timeout_s = timeout_s
        self.what = what
        self.task: BaseOperator | None = None  # the copy being run: whom on_kill stops
        self.stop_requested: str | None = None
        self._armed = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Interrupts:
        if self.installed:
            self._previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._on_term)
            if self.timeout_s is not None:
                self._previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_alarm)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disarm()
        for signum, previous in self._previous.items():
            # None: a handler installed from C, which Python cannot restore.
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        self._previous.clear()

    def request_stop(self, reason: str) -> None:
        """Stop the task from another thread (SIGTERM to this process when the handler is ours;
        otherwise the task cannot be interrupted and only a task not yet started is stopped)."""
        self.stop_requested = reason
        if self.installed:
            os.kill(os.getpid(), signal.SIGTERM)
        else:
            log.warning("cannot interrupt the running task (no SIGTERM handler of ours): it "
                        "runs to its end, and the state set elsewhere stays")

    def arm(self) -> None:
        if self.stop_requested is not None:
            raise TaskTerminated(f"{self.what} was stopped before it started: "
                                 f"{self.stop_requested}")
        self._armed = True
        if self.timeout_s is None:
            return
        if self.installed:
            # setitimer(0) would disable the timer: a zero timeout fires at once instead.
            signal.setitimer(signal.ITIMER_REAL, max(self.timeout_s, 1e-6))
        else:
            log.warning("execution_timeout of %ss is not enforced: it needs SIGALRM on the main "
                        "thread (and handle_signals)", self.timeout_s)

    def disarm(self) -> None:
        self._armed = False
        if self.installed and self.timeout_s is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _kill_task(self) -> None:
        if self.task is None:
            return
        try:
            self.task.on_kill()
        except Exception:  # noqa: BLE001 - user code; the task is stopping anyway
            log.exception("on_kill of %s failed", self.what)

    def _on_term(self, signum: int, frame: Any) -> None:
        log.error("Received SIGTERM. Terminating subprocesses.")
        reason = self.stop_requested
        if reason is None:
            self.stop_requested = "SIGTERM"
        armed, self._armed = self._armed, False
        self._kill_task()
        if armed:
            if self.timeout_s is not None:
                signal.setitimer(signal.ITIMER_REAL, 0)
            raise TaskTerminated("Task received SIGTERM signal" + (f": {reason}" if reason else ""))

    def _on_alarm(self, signum: int, frame: Any) -> None:
        if not self._armed:
            return
        self._armed = False
        log.error("Process timed out, PID: %s (execution_timeout %ss)", os.getpid(),
                  self.timeout_s)
        self._kill_task()
        raise TaskTimeout(f"Timeout, PID: {os.getpid()}")


# -- heartbeat -----------------------------------------------------------------------------------


class _Heartbeat:
    """Stamps ``last_heartbeat_at`` every ``interval_s`` while the try is ``running``.

    The beats come from one daemon thread per process (:class:`_Beater`), reused by the tries a
    process runs one after another (a LocalExecutor worker runs up to ``[core]
    worker_max_tasks``): a thread started and joined per try cost each try two thread switches
    on a busy machine. :meth:`stop` returns once no beat of this try runs or will run.
    """

    def __init__(self, engine: Engine, ti_id: uuid.UUID, interval_s: float,
                 on_lost: Callable[[str], None]) -> None:
        self.engine = engine
        self.ti_id = ti_id
        self.interval_s = interval_s
        self.on_lost = on_lost
        self.next_at = 0.0  # time.monotonic() of the next beat
        self.stopped = False

    def start(self) -> None:
        self.next_at = time.monotonic() + self.interval_s
        _beater().attach(self)

    def stop(self) -> None:
        self.stopped = True
        if not _beater().detach(self, _HEARTBEAT_JOIN_S):
            log.warning("the heartbeat of task instance %s did not stop", self.ti_id)

    def beat(self) -> bool:
        """One beat; False when the try is no longer running (``on_lost`` was called)."""
        ti = t.task_instance
        try:
            with transaction(self.engine) as conn:
                beat = conn.execute(ti.update()
                                    .where(ti.c.id == self.ti_id, ti.c.state == _RUNNING)
                                    .values(last_heartbeat_at=timezone.utcnow())).rowcount
        except Exception:  # noqa: BLE001 - a DB hiccup: try again at the next beat
            log.warning("heartbeat of task instance %s failed; trying again in %ss",
                        self.ti_id, self.interval_s, exc_info=True)
            return True
        if beat == 0 and not self.stopped:
            reason = (f"task instance {self.ti_id} is no longer running in the database "
                      f"(cleared, or its state was set elsewhere)")
            log.error("Heartbeat: %s; stopping the task", reason)
            self.on_lost(reason)
            return False
        return True


class _Beater:
    """The process's heartbeat thread: beats the attached :class:`_Heartbeat` when due.

    Attaching and detaching take a lock and wake nobody: the thread never sleeps longer than
    the last interval it saw, so it looks at a newly attached heartbeat (whose first beat is
    one interval away) in time; it is woken only when it starts, or when a heartbeat asks for
    a beat before the thread would wake. A try's end so costs no thread switch.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._job: _Heartbeat | None = None  # attached
        self._busy: _Heartbeat | None = None  # beating now
        self._thread: threading.Thread | None = None
        self._idle_s = 5.0  # how long the thread sleeps without a heartbeat attached
        self._wakes_at = 0.0  # time.monotonic() when the sleeping thread wakes

    def attach(self, job: _Heartbeat) -> None:
        with self._cond:
            self._job = job
            self._idle_s = job.interval_s
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ti-heartbeat",
                                                daemon=True)
                self._thread.start()
            elif job.next_at < self._wakes_at:
                self._cond.notify_all()

    def detach(self, job: _Heartbeat, timeout: float) -> bool:
        """Detach ``job`` and wait (at most ``timeout`` s) for its beat in flight; False if it
        did not end in time."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._job is job:
                self._job = None
            while self._busy is job:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def _run(self) -> None:
        with self._cond:
            while True:
                job = self._job
                now = time.monotonic()
                if job is None or job.next_at > now:
                    wait = self._idle_s if job is None else job.next_at - now
                    self._wakes_at = now + wait
                    self._cond.wait(wait)
                    continue
                self._busy = job
                self._cond.release()
                keep = True
                try:
                    keep = job.beat()
                finally:
                    self._cond.acquire()
                    self._busy = None
                    job.next_at = time.monotonic() + job.interval_s
                    if not keep and self._job is job:
                        self._job = None
                    self._cond.notify_all()


_the_beater: _Beater | None = None


def _beater() -> _Beater:
    global _the_beater
    if _the_beater is None:
        _the_beater = _Beater()
    return _the_beater


def _forget_beater() -> None:
    """In a forked child: the parent's heartbeat thread (and the lock it may hold) is not ours."""
    global _the_beater
    _the_beater = None


os.register_at_fork(after_in_child=_forget_beater)


def _heartbeat_interval() -> float:
    """``[scheduler] task_instance_heartbeat_sec``; a bad value is logged, and 5 s used."""
    try:
        return conf.getfloat("scheduler", "task_instance_heartbeat_sec", fallback=5.0)
    except ValueError as exc:
        log.error("%s; heartbeating every 5 seconds", exc)
        return 5.0


# -- one try -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Outcome:
    # SUCCESS, SKIPPED, UP_FOR_RESCHEDULE, or FAILED (forced: no retry); None: failed (retry
    # rules decide)
    state: TaskInstanceState | None
    error: BaseException | None = None
    skip_tasks: tuple[str | tuple[str, int], ...] = ()  # DownstreamTasksSkipped: skip these


def _callbacks_of(value: Any) -> list[Callable[[dict[str, Any]], Any]]:
    if isinstance(value, (list, tuple)):
        return [callback for callback in value if callback is not None]
    return [] if value is None else [value]


def _run_callbacks(task: Any, name: str, context: dict[str, Any]) -> None:
    """Call ``task.<name>`` (a callable or a list) with ``context``; errors are logged."""
    for callback in _callbacks_of(getattr(task, name, None)):
        try:
            callback(context)
        except Exception:  # noqa: BLE001 - a callback never changes the outcome
            log.exception("Error when executing %s callback %r", name, callback)


def _retrying(what: str, fn: Callable[[], T]) -> T:
    """``fn()``, again after an ``OperationalError``: up to ``_DB_ATTEMPTS`` times, and as long
    as it takes while the error is SQLite's lock timeout (another connection holds the write
    lock; the busy timeout is then the wait between attempts). A finished try's outcome is
    known: giving up on it would leave the try ``running``, for a scheduler to fail (or retry)
    although its task succeeded."""
    attempt = locked = 0
    while True:
        try:
            return fn()
        except sa.exc.OperationalError as exc:
            if is_lock_error(exc):
                locked += 1
                log.warning("%s: the database is locked (%d time(s)); trying again", what,
                            locked)
                time.sleep(_LOCKED_PAUSE_S)
                continue
            attempt += 1
            if attempt >= _DB_ATTEMPTS:
                raise
            log.warning("%s failed (attempt %d of %d); trying again", what, attempt,
                        _DB_ATTEMPTS, exc_info=True)
            time.sleep(0.5 * attempt)


# The statements of a try: built once with bound parameters (building and compiling them was a
# good part of a short try's time), and both done in the LocalExecutor's parent (warm_up).


@functools.cache
def _claim_sql() -> Any:
    ti = t.task_instance
    return ti.update().where(
        ti.c.id == sa.bindparam("b_id"), ti.c.state == _QUEUED,
        ti.c.try_number == sa.bindparam("b_try"), ti.c.dag_id == sa.bindparam("b_dag"),
        ti.c.task_id == sa.bindparam("b_task"), ti.c.run_id == sa.bindparam("b_run"),
        ti.c.map_index == sa.bindparam("b_map"),
    ).values(state=_RUNNING, start_date=sa.bindparam("b_now"), end_date=None, duration=None,
             hostname=sa.bindparam("b_host"), unixname=sa.bindparam("b_user"),
             pid=sa.bindparam("b_pid"), last_heartbeat_at=sa.bindparam("b_now"),
             updated_at=sa.bindparam("b_now"))


# The task_instance columns a try reads (its claim, its outcome, a reschedule, the log lines
# saying why a workload did not run): a whole row is 38 columns, each converted from SQL.
_TRY_COLUMNS: Final = ("id", "dag_id", "task_id", "run_id", "map_index", "state", "try_number",
                       "max_tries", "start_date")


def _try_columns() -> list[Any]:
    ti = t.task_instance
    return [ti.c[name] for name in _TRY_COLUMNS]


@functools.cache
def _xcom_clear_sql() -> Any:
    xc = t.xcom
    return xc.delete().where(xc.c.dag_id == sa.bindparam("b_dag"),
                             xc.c.run_id == sa.bindparam("b_run"),
                             xc.c.task_id == sa.bindparam("b_task"),
                             xc.c.map_index == sa.bindparam("b_map"))


_RUN_PREFIX: Final = "dr__"


@functools.cache
def _run_row_type() -> Any:
    """The type of the run's row :func:`_claim` returns: the ``dag_run`` columns by name."""
    return collections.namedtuple("DagRunRow", [c.name for c in t.dag_run.c])


@functools.cache
def _claimed_sql() -> Any:
    """The claimed task instance (its :data:`_TRY_COLUMNS`, by id) and the run of the
    workload's ``(dag_id, run_id)`` in one statement: the run's columns are named ``dr__`` +
    name, NULL when there is no such run."""
    ti, dr = t.task_instance, t.dag_run
    run = sa.and_(dr.c.dag_id == sa.bindparam("b_dag"), dr.c.run_id == sa.bindparam("b_run"))
    return sa.select(*_try_columns(), *[c.label(_RUN_PREFIX + c.name) for c in dr.c]).select_from(
        ti.outerjoin(dr, run)).where(ti.c.id == sa.bindparam("b_id"))


def _split_claimed(row: Any) -> tuple[Any, Any]:
    """The task instance's part of a :func:`_claimed_sql` row (by its column names) and the
    run's row, or None when there is no run."""
    if row is None:
        return None, None
    values = tuple(row)
    count = len(_TRY_COLUMNS)
    run = values[count:]
    if run[0] is None:  # dag_run.id, never NULL in a row: the outer join found no run
        return row, None
    return row, _run_row_type()._make(run)


@functools.cache
def _locked_ti_sql(by: str, for_update: bool) -> Any:
    """The task instance ``by`` its id while ``running``, or by its key; ``FOR UPDATE`` where the
    database has it (SQLite: ``BEGIN IMMEDIATE`` holds the write lock already)."""
    ti = t.task_instance
    where: tuple[Any, ...]
    if by == "running":
        where = (ti.c.id == sa.bindparam("b_id"), ti.c.state == _RUNNING)
    else:
        where = (ti.c.dag_id == sa.bindparam("b_dag"), ti.c.run_id == sa.bindparam("b_run"),
                 ti.c.task_id == sa.bindparam("b_task"), ti.c.map_index == sa.bindparam("b_map"))
    query = sa.select(*_try_columns()).where(*where)
    return query.with_for_update() if for_update else query


def _key_params(key: TaskInstanceKey) -> dict[str, Any]:
    return {"b_dag": key.dag_id, "b_run": key.run_id, "b_task": key.task_id,
            "b_map": key.map_index}


def _claim_params(ti_id: uuid.UUID, key: TaskInstanceKey, now: datetime) -> dict[str, Any]:
    return {"b_id": ti_id, "b_try": key.try_number, "b_now": now, "b_host": _hostname(),
            "b_user": _unixname(), "b_pid": os.getpid(), **_key_params(key)}


def _select_locked_ti(conn: Connection, by: str, params: dict[str, Any]) -> Any:
    return conn.execute(_locked_ti_sql(by, conn.dialect.name != "sqlite"),
                        params).one_or_none()


def warm_up(engine: Engine) -> None:
    """Compile the statements of a try into ``engine``'s statement cache, changing nothing.

    The LocalExecutor calls this once in its parent process on the engine its forked task
    processes inherit: for a short task, compiling them is a good part of the try's time, and
    every child would compile them again. Each statement names a task instance that cannot
    exist (the nil UUID, empty ids), and the transaction is rolled back.
    """
    from dagcore.dag_code_store import materialize

    nil = uuid.UUID(int=0)
    key = TaskInstanceKey("", "", "", 0)
    now = timezone.utcnow()
    with engine.connect() as conn, conn.begin() as txn:
        conn.execute(_claim_sql(), _claim_params(nil, key, now))
        conn.execute(_claimed_sql(), {"b_id": nil, **_key_params(key)}).one_or_none()
        conn.execute(_xcom_clear_sql(), _key_params(key))
        _select_locked_ti(conn, "running", {"b_id": nil})
        _select_locked_ti(conn, "key", _key_params(key))
        end_try(conn, _NilRow(nil, now), TaskInstanceState.SUCCESS, now=now)
        materialize(conn, nil)  # the stored-code lookup of a worker's first try: no such version
        txn.rollback()


@dataclass(frozen=True, slots=True)
class _NilRow:
    """A running try that does not exist, for :func:`warm_up`."""

    id: uuid.UUID
    start_date: datetime
    state: str = _RUNNING


def _reschedule(conn: Connection, row: Any, request: AirflowRescheduleException,
                now: datetime) -> str:
    """A sensor in reschedule mode asked to be poked again (docs/airflow-behaviour.md 10.2):
    ``up_for_reschedule`` plus a ``task_reschedule`` row, in the outcome's transaction. The
    try number stays: the next poke is the same try."""
    record_reschedule(conn, row, reschedule_date=request.reschedule_date, now=now)
    state = end_try(conn, row, TaskInstanceState.UP_FOR_RESCHEDULE, now=now)
    log.info("Rescheduling task, marking task as UP_FOR_RESCHEDULE until %s",
             request.reschedule_date)
    return state


def _describe(key: TaskInstanceKey) -> str:
    index = f" map_index {key.map_index}" if key.map_index >= 0 else ""
    return f"{key.dag_id}.{key.task_id} run {key.run_id}{index} try {key.try_number}"


def _claim(engine: Engine, ti_id: uuid.UUID, key: TaskInstanceKey) -> tuple[Any, Any] | None:
    """``queued -> running`` for exactly this try; the claimed row and its run's row (None if
    the run is gone), or None when not claimed (logged why).

    The claim also deletes the XComs of the tries before (as Airflow's ``ti_run``): one
    transaction, as every write transaction of a task process waits for SQLite's one writer.
    """
    with transaction(engine) as conn:
        claimed = conn.execute(_claim_sql(), _claim_params(ti_id, key, timezone.utcnow()))
        # The row and the run in one statement (docs/performance.md 3).
        row, run = _split_claimed(conn.execute(
            _claimed_sql(), {"b_id": ti_id, **_key_params(key)}).one_or_none())
        if claimed.rowcount == 1:
            # As Airflow: a try starts without the XComs of the tries before it.
            conn.execute(_xcom_clear_sql(), _key_params(key))
            return row, run
    if row is None:
        why = "no task instance has this id (it was cleared or retried since it was queued)"
    elif (row.dag_id, row.task_id, row.run_id, row.map_index) != (
            key.dag_id, key.task_id, key.run_id, key.map_index):
        why = (f"the task instance with this id is {row.dag_id}.{row.task_id} run "
               f"{row.run_id} map_index {row.map_index}, not the workload's")
    elif row.state != _QUEUED:
        why = f"it is in state {row.state or NO_STATE}, not queued"
    else:
        why = f"it is at try {row.try_number}, the workload is for try {key.try_number}"
    log.warning("Not running %s (ti_id %s): %s", _describe(key), ti_id, why)
    return None


# -- skips a task asked for (SkipMixin; docs/airflow-behaviour.md 9.1) ---------------------------

_SKIPPABLE: Final = (TaskInstanceState.SCHEDULED.value,)  # and no state (NULL)


def _skip_downstream(conn: Connection, key: TaskInstanceKey,
                     tasks: tuple[str | tuple[str, int], ...], now: datetime) -> None:
    """Set ``tasks`` of the try's run to ``skipped``, in the transaction recording its success.

    Airflow 3's ``ti_skip_downstream`` sets them whatever their state; dagcore skips only those
    not yet handed to an executor (no state, or ``scheduled``), so a try already queued or
    running is never overwritten under its runner.
    """
    ti = t.task_instance
    by_index: dict[int, set[str]] = {}
    for task in tasks:
        task_id, map_index = task if isinstance(task, tuple) else (task, -1)
        by_index.setdefault(map_index, set()).add(task_id)
    skipped = 0
    for map_index, task_ids in sorted(by_index.items()):  # one statement per map index
        skipped += conn.execute(ti.update().where(
            ti.c.dag_id == key.dag_id, ti.c.run_id == key.run_id,
            ti.c.task_id.in_(sorted(task_ids)), ti.c.map_index == map_index,
            sa.or_(ti.c.state.is_(None), ti.c.state.in_(_SKIPPABLE)),
        ).values(state=TaskInstanceState.SKIPPED.value, start_date=now, end_date=now,
                 updated_at=now)).rowcount
    log.info("Set %d downstream task instance(s) to skipped (asked: %s)", skipped,
             sorted(str(task) for task in tasks))


@contextlib.contextmanager
def _code_on_path(task: Any) -> Iterator[None]:
    """The modules of the version's stored code in ``sys.modules`` and its folder first on
    ``sys.path`` while the task runs, so that a module imported inside a callable is the
    version's, not one another version's parse left there (docs/airflow-behaviour.md 1.8)."""
    dag = getattr(task, "dag", None)
    root = getattr(dag, "code_root", None)
    if not root:
        yield
        return
    sys.modules.update(getattr(dag, "code_modules", None) or {})
    if root in sys.path:
        yield
        return
    sys.path.insert(0, root)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(root)


class _TryRun:
    """One claimed try: load, prepare, execute under heartbeat and signals, record."""

    def __init__(self, workload: TaskWorkload, *, engine: Engine, row: Any, run: Any,
                 dag: DAG | None, heartbeat: bool, handle_signals: bool) -> None:
        self.workload = workload
        self.key = workload.key
        self.engine = engine
        self.row = row
        self.run_row = run  # the dag_run row, read when the try was claimed
        self.ti_id: uuid.UUID = row.id
        self.dag = dag
        self.heartbeat = heartbeat
        self.handle_signals = handle_signals
        self.task: BaseOperator | None = None
        self.runnable: BaseOperator | None = None
        self.context: dict[str, Any] | None = None

    # -- phases ----------------------------------------------------------------------------------

    def run(self) -> str | None:
        log.info("Starting attempt %d of %d", self.row.try_number, self.row.max_tries + 1)
        try:
            self.task = self._load_task()
            timeout = self.task.execution_timeout
            timeout_s = None if timeout is None else timeout.total_seconds()
        except Exception as exc:  # noqa: BLE001 - the try fails, with the error in its log
            return self._finish(_Outcome(None, exc))
        interrupts = _Interrupts(enabled=self.handle_signals, timeout_s=timeout_s,
                                 what=_describe(self.key))
        beat = None
        with interrupts:
            interval = _heartbeat_interval() if self.heartbeat else 0.0
            if interval > 0:
                beat = _Heartbeat(self.engine, self.ti_id, interval, interrupts.request_stop)
                beat.start()
            try:
                with _code_on_path(self.task):
                    outcome = self._prepare_and_execute(interrupts)
            finally:
                if beat is not None:
                    beat.stop()
        return self._finish(outcome)

    def _load_task(self) -> BaseOperator:
        key = self.key
        dag = self.dag
        if dag is None:
            # The code of the run's DAG version (docs/airflow-behaviour.md 1.8); the DAG file
            # in the DAG folder for a version stored without code.
            dag = load_dag_version(self.engine, self.workload.dag_version_id, key.dag_id,
                                   self.workload.fileloc)
        elif dag.dag_id != key.dag_id:
            raise LookupError(f"the DAG given is {dag.dag_id!r}, the workload is for "
                              f"{key.dag_id!r}")
        return dag.get_task(key.task_id)

    def _prepare(self) -> None:
        assert self.task is not None
        key = self.key
        run = self.run_row
        if run is None:
            raise LookupError(f"Dag run {key.run_id!r} of Dag {key.dag_id!r} not found")
        xcom = DatabaseXComBackend(self.engine)  # cleared for this try by _claim
        interval = None
        if run.data_interval_start is not None and run.data_interval_end is not None:
            interval = (run.data_interval_start, run.data_interval_end)
        context = build_context(self.task, run_id=key.run_id, logical_date=run.logical_date,
                                data_interval=interval, run_after=run.run_after, conf=run.conf,
                                run_type=run.run_type, xcom=xcom, try_number=key.try_number)
        context["dag_run"].triggered_by = run.triggered_by
        self._asset_context(context, run)
        ti = context["ti"]
        ti.map_index = key.map_index
        ti.max_tries = self.row.max_tries
        ti.queries = TaskInstanceQueries(self.engine, self.ti_id, key.try_number)
        task = self.task
        if task.is_mapped:  # this instance's real operator (docs/airflow-behaviour.md 3.10)
            from dagcore.mapping import unmap_task

            task = unmap_task(task, context, key.map_index)
            ti.task = task
        runnable = task.prepare_for_execution()
        # execute_task copies its task again (prepare_for_execution); running this very copy
        # lets on_kill reach the state execute left on it (a subprocess, a job id).
        setattr(runnable, "prepare_for_execution", lambda: runnable)
        context["task"] = runnable
        self.runnable, self.context = runnable, context

    def _asset_context(self, context: dict[str, Any], run: Any) -> None:
        """``triggering_asset_events`` (the events the run consumed) and ``inlet_events`` read
        from the database (docs/airflow-behaviour.md 11.5)."""
        assert self.task is not None
        engine = self.engine
        triggering: list[Any] = []
        if run.run_type == "asset_triggered":
            with engine.connect() as conn:
                triggering = triggering_asset_events(conn, run.id)
        context["triggering_asset_events"] = TriggeringAssetEvents(triggering)
        by_uri: dict[str, list[Any]] = {}
        for event in triggering:  # Airflow 2's name and shape: URI -> events
            by_uri.setdefault(event.asset.uri, []).append(event)
        context["triggering_dataset_events"] = by_uri

        def lookup(kind: str, value: str) -> list[Any]:
            with engine.connect() as conn:
                if kind == "asset_key":
                    name, _, uri = value.partition("\0")
                    return list(inlet_asset_events(conn, name=name, uri=uri))
                if kind == "alias":
                    return list(inlet_asset_events(conn, alias=value))
                if kind == "name":
                    return list(inlet_asset_events(conn, name=value))
                return list(inlet_asset_events(conn, uri=value))

        context["inlet_events"] = InletEventsAccessors(
            getattr(self.task, "inlets", None) or (), lookup)

    def _prepare_and_execute(self, interrupts: _Interrupts) -> _Outcome:
        try:
            self._prepare()
        except Exception as exc:  # noqa: BLE001 - the try fails, with the error in its log
            return _Outcome(None, exc)
        assert self.runnable is not None and self.context is not None
        interrupts.task = self.runnable
        _run_callbacks(self.runnable, "on_execute_callback", self.context)
        try:
            try:
                interrupts.arm()
                with set_current_context(self.context):
                    self._work(self.runnable, self.context)
            finally:
                interrupts.disarm()
        except DownstreamTasksSkipped as request:
            log.info("Skipping downstream tasks.")
            return _Outcome(TaskInstanceState.SUCCESS, skip_tasks=tuple(request.tasks))
        except TaskSkipped as exc:
            log.info("Skipping task: %s", exc)
            return _Outcome(TaskInstanceState.SKIPPED, exc)
        except AirflowRescheduleException as exc:
            return _Outcome(TaskInstanceState.UP_FOR_RESCHEDULE, exc)
        except (AirflowFailException, AirflowSensorTimeout) as exc:
            # Airflow's _run_raw_task: handle_failure(force_fail=True), retries left or not.
            log.info("%s: failing the task without retrying", type(exc).__name__)
            return _Outcome(TaskInstanceState.FAILED, exc)
        except BaseException as exc:  # noqa: BLE001 - any failure of the task fails the try
            return _Outcome(None, exc)
        return _Outcome(TaskInstanceState.SUCCESS)

    def _work(self, runnable: BaseOperator, context: dict[str, Any]) -> None:
        try:
            execute_task(runnable, context)
        except DagRunTriggerException as request:
            self._trigger_dag_run(request, runnable, context)

    # -- TriggerDagRunOperator (docs/airflow-behaviour.md 4.3) -------------------------------------

    def _trigger_dag_run(self, request: DagRunTriggerException, runnable: BaseOperator,
                         context: dict[str, Any]) -> None:
        from dagcore.api.common import DagRunAlreadyExists, clear_dag_runs, trigger_dag
        from dagcore.operators.trigger_dagrun import XCOM_RUN_ID

        target = request.trigger_dag_id
        if getattr(runnable, "fail_when_dag_is_paused", False):
            with self.engine.connect() as conn:
                paused = conn.execute(sa.select(t.dag.c.is_paused)
                                      .where(t.dag.c.dag_id == target)).scalar_one_or_none()
            if paused:
                raise DagcoreException(f"Dag {target} is paused")
        run_id = request.dag_run_id
        try:
            trigger_dag(target, run_id=run_id, conf=request.conf,
                        logical_date=request.logical_date, triggered_by="operator",
                        replace_microseconds=False, note=request.note, engine=self.engine)
            log.info("Triggered Dag %s: run %s", target, run_id)
        except DagRunAlreadyExists as exists:
            if request.reset_dag_run:
                run_id = exists.dag_run.run_id  # the run holding the id (or the logical date)
                log.info("Clearing %s run %s (reset_dag_run); its conf is kept", target, run_id)
                clear_dag_runs(target, run_ids=[run_id], engine=self.engine)
            elif request.skip_when_already_exists:
                raise TaskSkipped(f"Dag run {run_id!r} of Dag {target!r} already exists, "
                                  f"skipping (skip_when_already_exists)") from None
            else:
                raise
        ti = context["ti"]
        ti.xcom_push(XCOM_RUN_ID, run_id)
        ti.xcom_push(XCOM_TRIGGER_DAG_ID, target)
        if request.wait_for_completion:
            if request.deferrable:
                log.info("deferrable: there is no triggerer; waiting in this worker instead")
            self._wait_for_run(target, run_id, request)

    def _wait_for_run(self, dag_id: str, run_id: str, request: DagRunTriggerException) -> None:
        dr = t.dag_run
        poke_s = max(float(request.poke_interval), _MIN_POKE_S)
        allowed, failed = set(request.allowed_states), set(request.failed_states)
        while True:
            log.info("Waiting for %s on %s to become allowed state %s ...", dag_id, run_id,
                     sorted(allowed))
            time.sleep(poke_s)
            with self.engine.connect() as conn:
                state = conn.execute(sa.select(dr.c.state).where(
                    dr.c.dag_id == dag_id, dr.c.run_id == run_id)).scalar_one_or_none()
            if state is None:
                raise DagcoreException(f"Dag run {run_id!r} of Dag {dag_id!r} no longer exists")
            if state in failed:
                raise DagcoreException(f"{dag_id} failed with failed state {state}")
            if state in allowed:
                log.info("%s finished with allowed state %s", dag_id, state)
                return

    # -- the outcome -----------------------------------------------------------------------------

    def _finish(self, outcome: _Outcome) -> str | None:
        error = outcome.error
        if outcome.state in (None, TaskInstanceState.FAILED) and error is not None:
            log.error("Task failed with exception", exc_info=error)
        kind, state = _retrying("recording the outcome", lambda: self._record(outcome))
        if kind == "mine":
            self._outcome_callbacks(state, error)
        if isinstance(error, KeyboardInterrupt):
            raise error
        return state

    def _record(self, outcome: _Outcome) -> tuple[str, str | None]:
        """One transaction: the outcome, guarded by ``state = 'running'``; returns who decided
        (``"mine"``, ``"restarted"``, ``"elsewhere"``, ``"gone"``) and the state now."""
        key = self.key
        now = timezone.utcnow()
        with transaction(self.engine) as conn:
            row = _select_locked_ti(conn, "running", {"b_id": self.ti_id})
            if row is not None:
                new_state = outcome.state
                if isinstance(outcome.error, AirflowRescheduleException):
                    return "mine", _reschedule(conn, row, outcome.error, now)
                if new_state is None:
                    new_state = failure_state(try_number=row.try_number,
                                              max_tries=row.max_tries)
                state = end_try(conn, row, new_state, now=now)
                self._record_rendered_map_index(conn, row)
                if state == TaskInstanceState.SUCCESS.value:
                    self._record_asset_events(conn, now)
                if outcome.skip_tasks and state == TaskInstanceState.SUCCESS.value:
                    _skip_downstream(conn, key, outcome.skip_tasks, now)
                log.info("Marking task as %s. dag_id=%s, task_id=%s, run_id=%s, map_index=%d, "
                         "try_number=%d, start_date=%s, end_date=%s", state.upper(), key.dag_id,
                         key.task_id, key.run_id, key.map_index, row.try_number,
                         row.start_date, now)
                return "mine", state
            current = _select_locked_ti(conn, "key", _key_params(key))
            if current is None:
                log.warning("The task instance of %s is gone (its run was deleted?); nothing "
                            "recorded", _describe(key))
                return "gone", None
            if current.state == _RESTARTING and current.try_number == key.try_number:
                state = end_try(conn, current, None, now=now)
                log.info("The task instance was cleared while running: no state, to be "
                         "scheduled again")
                return "restarted", state
        current_state = current.state or NO_STATE
        log.warning("The task instance of %s is %s (id %s), set elsewhere; leaving it",
                    _describe(key), current_state, current.id)
        return "elsewhere", current_state

    def _record_asset_events(self, conn: Connection, now: datetime) -> None:
        """The try's asset events (its outlets, with the extra it set, and its alias events),
        with the success (docs/airflow-behaviour.md 12.2)."""
        outlet_events = None if self.context is None else self.context.get("outlet_events")
        if not isinstance(outlet_events, OutletEventAccessors):
            return
        events = outlet_events.events()
        if events:
            key = self.key
            record_asset_events(conn, events, dag_id=key.dag_id, task_id=key.task_id,
                                run_id=key.run_id, map_index=key.map_index, now=now)

    def _record_rendered_map_index(self, conn: Any, row: Any) -> None:
        """A mapped instance's ``map_index_template``, rendered with the context the task saw
        (it may have set keys of it), as Airflow labels mapped instances."""
        template = getattr(self.runnable, "map_index_template", None)
        if not template or self.context is None or self.key.map_index < 0 \
                or self.runnable is None:
            return
        from dagcore.templating import get_template_env, render_template

        try:
            label = str(render_template(template, self.context,
                                        get_template_env(self.runnable.dag)))
        except Exception as exc:  # noqa: BLE001 - a bad label must not change the outcome
            log.warning("map_index_template of %s could not be rendered: %s", _describe(self.key),
                        exc)
            return
        ti = t.task_instance
        conn.execute(ti.update().where(ti.c.id == row.id).values(rendered_map_index=label[:250]))

    def _outcome_callbacks(self, state: str | None, error: BaseException | None) -> None:
        task = self.runnable or self.task
        if task is None:
            return
        context = self.context
        if context is None:  # the try failed before its context existed
            context = {"dag": task.dag, "task": task, "run_id": self.key.run_id, "ti": None,
                       "task_instance": None}
        context = dict(context)
        if state == TaskInstanceState.SUCCESS.value:
            _run_callbacks(task, "on_success_callback", context)
        elif state == TaskInstanceState.SKIPPED.value:
            _run_callbacks(task, "on_skipped_callback", context)
        elif state == TaskInstanceState.UP_FOR_RETRY.value:
            context["exception"] = error
            _run_callbacks(task, "on_retry_callback", context)
        elif state == TaskInstanceState.FAILED.value:
            context["exception"] = error
            _run_callbacks(task, "on_failure_callback", context)


def run_workload(workload: TaskWorkload, *, engine: Engine, dag: DAG | None = None,
                 heartbeat: bool = True, handle_signals: bool = True) -> str | None:
    """Run one try of one task instance and record its outcome in the database.

    The try runs only if the row with ``workload.ti_id`` is ``queued`` at the workload's try
    (and task instance); it is then ``running`` (host, pid, start date, heartbeat) until the
    outcome: ``success``, ``skipped``, or a failure, which becomes ``up_for_retry`` or
    ``failed`` by the retry rules (:func:`~dagcore.models.taskinstance.failure_state`). The
    task's log goes to ``workload.log_path``. See the module's design note for the guards.

    Args:
        workload: what to run.
        engine: the metadata database.
        dag: the DAG object to take the task from (``dag.test()``, tests); default the DAG as
            the code stored with ``workload.dag_version_id`` defines it, or, for a version
            stored without code, ``workload.fileloc`` (:func:`load_dag_version`).
        heartbeat: stamp ``last_heartbeat_at`` every ``[scheduler]
            task_instance_heartbeat_sec`` seconds from a thread, and stop the task when its try
            is no longer running in the database.
        handle_signals: on the main thread, turn SIGTERM into
            :class:`~dagcore.exceptions.TaskTerminated` (after ``on_kill``) and enforce
            ``execution_timeout`` with SIGALRM; off, the process's signal handling is untouched
            and ``execution_timeout`` is not enforced.

    Returns:
        The task instance's state when the try ended (``"success"``, ``"skipped"``,
        ``"up_for_retry"``, ``"failed"``; ``"none"`` when it was cleared while running; or the
        state someone else set meanwhile), or ``None`` when nothing ran (not queued, another
        try, unknown id) or the task instance was deleted while running.

    Raises:
        TypeError: ``workload`` is not a :class:`TaskWorkload`.
        ValueError: ``workload.ti_id`` is not a UUID.
        sqlalchemy.exc.SQLAlchemyError: the database failed while claiming the try, or while
            recording its outcome (after retries); a failure of the task itself never raises.
        KeyboardInterrupt: re-raised after the try was recorded as failed.
    """
    if not isinstance(workload, TaskWorkload):
        raise TypeError(f"workload must be a TaskWorkload, got {type(workload).__name__}: "
                        f"{workload!r}")
    try:
        ti_id = uuid.UUID(str(workload.ti_id))
    except ValueError:
        raise ValueError(f"workload.ti_id must be a UUID, got {workload.ti_id!r}") from None
    key = workload.key
    with _task_log(workload.log_path):
        log.info("dagcore task runner: dag_id=%s task_id=%s run_id=%s map_index=%d "
                 "try_number=%d ti_id=%s", key.dag_id, key.task_id, key.run_id, key.map_index,
                 key.try_number, ti_id)
        log.info("host %s, pid %d, user %s", _hostname(), os.getpid(), _unixname())
        claimed = _claim(engine, ti_id, key)
        if claimed is None:
            return None
        row, run = claimed
        return _TryRun(workload, engine=engine, row=row, run=run, dag=dag, heartbeat=heartbeat,
                       handle_signals=handle_signals).run()


def run_dag_callback(request: DagCallbackRequest, dag: DAG | None = None, *,
                     engine: Engine | None = None) -> bool:
    """Call the run callbacks of ``request.dag_id`` (``on_success_callback`` or
    ``on_failure_callback``, per ``request.state``) with Airflow's DAG-callback context
    (``dag``, ``run_id``, ``reason``, ``dag_run``); False if the DAG could not be loaded or a
    callback raised (logged with its traceback; the others are still called, as Airflow's
    ``DAG.handle_callback`` does). ``dag`` is the DAG object to use (``dag.test()``); default
    the DAG as the code of the run's version defines it when ``engine`` is given
    (docs/airflow-behaviour.md 1.8), else as ``request.fileloc`` defines it."""
    from dagcore.templating import DagRunContext

    if dag is None:
        try:
            if engine is not None:
                dag = load_dag_version(engine, request.dag_version_id, request.dag_id,
                                       request.fileloc or None)
            else:
                dag = load_dag(request.fileloc, request.dag_id)
        except Exception:  # noqa: BLE001 - a DAG file may raise anything
            log.exception("Cannot call the %s callback of Dag %s (run %s): the Dag did not "
                          "load", request.state, request.dag_id, request.run_id)
            return False
    callbacks = dag.on_success_callback if request.state == "success" else dag.on_failure_callback
    context = {
        "dag": dag, "run_id": request.run_id, "reason": request.reason,
        "dag_run": DagRunContext(
            dag_id=request.dag_id, run_id=request.run_id, logical_date=request.logical_date,
            data_interval_start=request.data_interval_start,
            data_interval_end=request.data_interval_end, run_after=request.run_after,
            run_type=request.run_type, conf=dict(request.conf), triggered_by=request.triggered_by),
    }
    ok = True
    for callback in _callbacks_of(callbacks):
        try:
            callback(context)
        except Exception:  # noqa: BLE001 - logged; the next callback is still called
            log.exception("The %s callback of Dag %s (run %s) failed", request.state,
                          request.dag_id, request.run_id)
            ok = False
    return ok
