"""Run workloads on Celery workers through Redis (Airflow's ``CeleryExecutor``).

Design note. The contract is the LocalExecutor's (:mod:`dagcore.executors.base`): workloads in,
"the process ended" events out, and the database is the source of truth. The try's own process,
a pool process of a ``dagcore celery worker`` (:mod:`dagcore.executors.celery_app`), claims the
try (``queued -> running`` ``WHERE id AND state AND try_number``), heartbeats and records the
outcome; so a try never runs twice, however many messages name it, and the executor's one job
is that no try is lost. docs/deployment.md 1 and 2 describe the processes and their settings.

The scheduler never waits for Redis. :meth:`~CeleryExecutor.queue_workload` and
:meth:`~CeleryExecutor.heartbeat` touch in-memory queues under a lock only; one background
thread does all the I/O, in rounds (:meth:`~CeleryExecutor.sync`):

1. **fetch** the results of every message in flight with one Redis ``MGET``, decoded by the
   Celery result backend (Airflow's ``BulkStateFetcher`` does the same); the keys read are
   deleted at the end of the round. A result says the worker's exit code and whether its
   message claimed the try: a claimed result ends the workload (exit code 0: ``"success"``,
   else ``"failed"``). A result that proves nothing (not claimed: another message of the same
   try, or a dead scheduler's, claimed it; or a Celery failure such as a pool process killed)
   never ends a workload while another message of it may still run it: a Celery failure ends
   it ``"failed"`` only as its last message, and "not claimed" is left to step 2;
2. every ``state_check_interval`` seconds, **read the database state** of the workloads sent at
   least ``state_check_min_age`` seconds ago, in one query: a task instance in a final state
   recorded its outcome (event ``"success"``: the scheduler then does nothing); one that is gone
   (cleared or deleted: the old try stops itself when its heartbeat finds no row) ends once no
   message of it is outstanding, or after ``task_instance_heartbeat_timeout``; one still
   ``queued`` ``task_resend_timeout`` seconds after its last send is **sent again** (its
   message was lost with a Redis restart, or reserved by a worker that died), at most
   ``task_max_resends`` times, then ends ``"failed"`` (the scheduler fails or retries the try,
   as Airflow's ``task_queued_timeout`` does). The step also reads Redis's ``run_id``: when it
   changed, Redis restarted and lost its lists, and every try still queued is sent again at
   once. A ``running`` try is the worker's: if its worker dies, its heartbeat stops and the
   scheduler's zombie check calls :meth:`~CeleryExecutor.kill`;
3. **send** the new workloads and the resends, each as one Celery message (a fresh message id
   per send) to the workload's queue, and the DAG callbacks (fire and forget, to
   ``[operators] default_queue``); then the revokes of :meth:`~CeleryExecutor.kill`.

When Redis is down, a round fails and the thread retries with a backoff (0.1 s doubling up to
2 s); workloads not sent yet stay counted in ``running``, so the scheduler queues no more than
``parallelism``. :meth:`~CeleryExecutor.kill` revokes the workload's messages (a ``SIGKILL`` of
the pool process running it, best effort) and ends it ``"failed"`` with the reason at once.

The tries run on the workers, not here: :meth:`~CeleryExecutor.end` waits for the workloads in
flight (at most ``timeout``) and then leaves the rest to their workers, which record their own
outcomes (a try left ``queued`` by a stopped scheduler is reset by the next one);
:meth:`~CeleryExecutor.terminate` stops the thread and stops no try (Airflow's CeleryExecutor
does not either). docs/deployment.md 5 lists what happens when a worker, Redis or a scheduler
dies.

Celery is imported only when the executor is made (:func:`load_celery_app`): dagcore imports
without it, and choosing the executor without it is an error naming ``python3-celery``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from dagcore.configuration import ConfigError, conf
from dagcore.executors.base import (
    BaseExecutor,
    DagCallbackRequest,
    ExecutorEvent,
    TaskInstanceKey,
    TaskWorkload,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = [
    "CALLBACK_TASK",
    "EXECUTE_TASK",
    "CeleryExecutor",
    "CeleryNotInstalled",
    "CelerySettings",
    "Transport",
    "callback_from_json",
    "callback_to_json",
    "load_celery_app",
    "masked_url",
    "workload_from_json",
    "workload_to_json",
]

log = logging.getLogger(__name__)

EXECUTE_TASK = "dagcore.execute_workload"
"""The Celery task that runs one try (its argument: :func:`workload_to_json`)."""
CALLBACK_TASK = "dagcore.run_dag_callback"
"""The Celery task that calls a DAG's run callbacks (its argument: :func:`callback_to_json`)."""

REDIS_SCHEMES = ("redis", "rediss")
_BACKOFF_FIRST_S = 0.1
_BACKOFF_MAX_S = 2.0
_MGET_CHUNK = 1000
# Celery's result states (celery.states), without importing Celery.
_SUCCESS, _FAILURE, _REVOKED = "SUCCESS", "FAILURE", "REVOKED"
_READY = frozenset({_SUCCESS, _FAILURE, _REVOKED})
_ACTIVE = ("queued", "running")


class CeleryNotInstalled(ValueError):
    """``[core] executor`` is the CeleryExecutor, or ``dagcore celery`` ran, without Celery."""


# -- settings ------------------------------------------------------------------------------------


def masked_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for error messages and logs)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))
    except ValueError:
        return "<unparsable URL>"


def _redis_url(key: str) -> str:
    url = str(conf.get("celery", key)).strip()
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        scheme = ""
    if scheme not in REDIS_SCHEMES:
        shown = f"scheme {scheme!r}" if scheme else "no scheme"
        raise ConfigError(f"[celery] {key} {masked_url(url)!r} has {shown}: the CeleryExecutor "
                          f"needs Redis (redis://host:port/db or rediss://...)")
    return url


@dataclass(frozen=True, slots=True)
class CelerySettings:
    """The ``[celery]`` options, read and checked once (:meth:`from_conf`)."""

    broker_url: str
    result_backend: str
    default_queue: str
    worker_concurrency: int
    operation_timeout: float
    task_acks_late: bool
    worker_prefetch_multiplier: int
    visibility_timeout: float
    result_poll_interval: float
    state_check_interval: float
    state_check_min_age: float
    task_resend_timeout: float
    task_max_resends: int

    @classmethod
    def from_conf(cls) -> CelerySettings:
        """The configured settings.

        Raises:
            ConfigError: a URL is not a Redis URL, or a number is not one or out of range (the
                message names the option and its value).
        """

        def positive(key: str, value: float) -> None:
            if value <= 0:
                raise ConfigError(f"[celery] {key} must be > 0, got {value!r}")

        def not_negative(key: str, value: float) -> None:
            if value < 0:
                raise ConfigError(f"[celery] {key} must be >= 0, got {value!r}")

        settings = cls(
            broker_url=_redis_url("broker_url"),
            result_backend=_redis_url("result_backend"),
            default_queue=str(conf.get("operators", "default_queue")).strip(),
            worker_concurrency=conf.getint("celery", "worker_concurrency"),
            operation_timeout=conf.getfloat("celery", "operation_timeout"),
            task_acks_late=conf.getboolean("celery", "task_acks_late"),
            worker_prefetch_multiplier=conf.getint("celery", "worker_prefetch_multiplier"),
            visibility_timeout=conf.getfloat("celery", "visibility_timeout"),
            result_poll_interval=conf.getfloat("celery", "result_poll_interval"),
            state_check_interval=conf.getfloat("celery", "state_check_interval"),
            state_check_min_age=conf.getfloat("celery", "state_check_min_age"),
            task_resend_timeout=conf.getfloat("celery", "task_resend_timeout"),
            task_max_resends=conf.getint("celery", "task_max_resends"),
        )
        if not settings.default_queue:
            raise ConfigError("[operators] default_queue must not be empty")
        for key in ("worker_concurrency", "operation_timeout", "worker_prefetch_multiplier",
                    "visibility_timeout", "result_poll_interval", "state_check_interval",
                    "task_resend_timeout"):
            positive(key, getattr(settings, key))
        for key in ("state_check_min_age", "task_max_resends"):
            not_negative(key, getattr(settings, key))
        return settings


def load_celery_app(settings: CelerySettings, *, worker: bool = False) -> Any:
    """dagcore's Celery application (:func:`dagcore.executors.celery_app.create_app`).

    Raises:
        CeleryNotInstalled: Celery (or the Redis client) cannot be imported; the message names
            the Debian packages.
    """
    return _celery_app_module().create_app(settings, worker=worker)


def _celery_app_module() -> Any:
    try:
        from dagcore.executors import celery_app
    except ImportError as exc:
        raise CeleryNotInstalled(
            f"the CeleryExecutor needs Celery and the Redis client, which cannot be imported "
            f"({exc}): install python3-celery and python3-redis (Debian), or celery[redis] "
            f"(pip)") from None
    return celery_app


# -- messages ------------------------------------------------------------------------------------

_CALLBACK_DATES = ("logical_date", "data_interval_start", "data_interval_end", "run_after")


def workload_to_json(workload: TaskWorkload) -> dict[str, Any]:
    """A :class:`TaskWorkload` as the JSON object a Celery message carries."""
    return dataclasses.asdict(workload)


def workload_from_json(data: Mapping[str, Any]) -> TaskWorkload:
    """The :class:`TaskWorkload` of :func:`workload_to_json`.

    Raises:
        ValueError: ``data`` is not such an object (the message names the fields).
    """
    names = {f.name for f in dataclasses.fields(TaskWorkload)}
    unknown = sorted(set(data) - names)
    if unknown or not isinstance(data.get("key"), Mapping):
        raise ValueError(f"not a dagcore workload: fields {sorted(data)!r}")
    try:
        fields: dict[str, Any] = dict(data)
        fields["key"] = TaskInstanceKey(**data["key"])
        return TaskWorkload(**fields)
    except TypeError as exc:
        raise ValueError(f"not a dagcore workload ({exc}): {dict(data)!r}") from None


def callback_to_json(request: DagCallbackRequest) -> dict[str, Any]:
    """A :class:`DagCallbackRequest` as a JSON object (dates in ISO 8601)."""
    data = dataclasses.asdict(request)
    for name in _CALLBACK_DATES:
        if data[name] is not None:
            data[name] = data[name].isoformat()
    return data


def callback_from_json(data: Mapping[str, Any]) -> DagCallbackRequest:
    """The :class:`DagCallbackRequest` of :func:`callback_to_json`.

    Raises:
        ValueError: ``data`` is not such an object.
    """
    values = dict(data)
    try:
        for name in _CALLBACK_DATES:
            if values.get(name) is not None:
                values[name] = datetime.fromisoformat(values[name])
        return DagCallbackRequest(**values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not a dagcore DAG callback request ({exc}): {values!r}") from None


# -- the broker, as the executor sees it --------------------------------------------------------


class Transport(Protocol):
    """What the executor's thread does with Redis (Celery's in production; unit tests fake it).
    Every method may raise on a broker error: the thread retries later."""

    def send(self, task: str, payload: dict[str, Any], queue: str, message_id: str) -> None:
        """Publish one message of Celery task ``task`` with ``payload`` as its argument."""

    def fetch(self, message_ids: list[str]) -> dict[str, tuple[str, Any]]:
        """The stored results: message id -> (Celery state, result); ids without one are
        left out."""

    def forget(self, message_ids: list[str]) -> None:
        """Delete stored results."""

    def revoke(self, message_ids: list[str]) -> None:
        """Revoke messages, killing (``SIGKILL``) the pool process that runs one."""

    def server_id(self) -> str | None:
        """The broker server's identity (Redis's ``run_id``: it changes when Redis restarts)."""

    def close(self) -> None:
        """Release connections."""


# -- the executor -------------------------------------------------------------------------------


@dataclass(eq=False)
class _Flight:
    """One workload accepted and not ended."""

    workload: TaskWorkload
    messages: dict[str, float] = dataclasses.field(default_factory=dict)  # id -> time sent
    sends: int = 0  # messages sent so far (the first and the resends)
    last_sent: float | None = None  # clock time of the last send; None: never sent
    epoch: int = 0  # the broker restarts seen when it was last sent
    to_send: bool = True  # a send of it waits in the queue
    gone_since: float | None = None  # clock time its task instance was first found gone
    check_now: bool = False  # every message came back unclaimed: read its state next round


StateReader = Callable[[list[str]], Mapping[str, tuple[str | None, datetime | None]]]


class CeleryExecutor(BaseExecutor):
    """Sends workloads to ``dagcore celery worker`` processes through Redis (see the module's
    design note).

    Args:
        parallelism: workloads in flight at most (sent or waiting to be sent); 0: no limit.
            Default ``[core] parallelism``.
        engine_url: the metadata database the state checks read (default ``[database]
            sql_alchemy_conn``); the workers use their own configuration's.
        transport: the broker (default: Celery's, from ``[celery]``); tests pass a fake.
        read_states: ``ti ids -> {ti id: (state, last heartbeat)}`` (default: one query on
            ``engine_url``); tests pass a fake.
        background: run the I/O in a thread (False: the caller calls :meth:`sync`).
        clock: monotonic seconds (tests pass a fake).

    Raises:
        CeleryNotInstalled: Celery cannot be imported (no ``transport`` given).
        ConfigError: a ``[celery]`` option is invalid (the message names it and its value).
        TypeError, ValueError: ``parallelism`` is not an int, or negative.
    """

    def __init__(
        self,
        parallelism: int | None = None,
        *,
        engine_url: str | None = None,
        transport: Transport | None = None,
        read_states: StateReader | None = None,
        background: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        source = "parallelism"
        if parallelism is None:
            parallelism = conf.getint("core", "parallelism")
            source = "[core] parallelism"
        super().__init__(parallelism)
        if parallelism < 0:
            raise ValueError(f"{source} must be >= 0 (0: no limit), got {parallelism}")
        self.settings = CelerySettings.from_conf()
        if transport is None:
            module = _celery_app_module()
            transport = module.CeleryTransport(module.create_app(self.settings), self.settings)
        self._transport = transport
        self.engine_url = engine_url
        self._engine: Engine | None = None
        self._read_states = read_states
        self._background = background
        self._clock = clock
        self.heartbeat_timeout = conf.getfloat("scheduler", "task_instance_heartbeat_timeout")
        self._lock = threading.Lock()
        self._keys: set[TaskInstanceKey] = set()
        self._flights: dict[TaskInstanceKey, _Flight] = {}
        self._by_message: dict[str, _Flight] = {}
        self._outbox: deque[tuple[str, dict[str, Any], str, str, _Flight | None]] = deque()
        self._revoke: list[str] = []
        self._forget: list[str] = []
        self._events: list[ExecutorEvent] = []
        self._has_events = threading.Event()
        self._work = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._epoch = 0
        self._server_id: str | None = None
        self._last_check: float | None = None
        self._backoff = 0.0
        self._retry_at = 0.0
        self._outage: str | None = None  # the broker error being retried, logged once
        self._ending = False
        self.sent = 0  # messages sent (tests, benchmarks)
        self.resent = 0  # of which resends

    # -- the BaseExecutor contract ------------------------------------------------------------

    def start(self) -> None:
        """Start the background thread (once; no connection is made here)."""
        with self._lock:
            if self._thread is not None or not self._background:
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._loop, name="celery-executor",
                                            daemon=True)
            self._thread.start()
        log.debug("CeleryExecutor started (parallelism %d, broker %s)", self.parallelism,
                  masked_url(self.settings.broker_url))

    def queue_workload(self, workload: TaskWorkload) -> None:
        """Accept ``workload``; the thread sends it now. A key already in flight is ignored."""
        with self._lock:
            if workload.key in self._keys:
                log.warning("Ignoring workload %s: already queued or running", workload.key)
                return
            flight = _Flight(workload)
            self._keys.add(workload.key)
            self._flights[workload.key] = flight
            self._enqueue_send(flight)
        self._work.set()

    def queue_callback(self, request: DagCallbackRequest) -> None:
        """Send a DAG's run callbacks to a worker (``[operators] default_queue``); no event
        comes back, a failure is in that worker's log."""
        with self._lock:
            self._outbox.append((CALLBACK_TASK, callback_to_json(request),
                                 self.settings.default_queue, str(uuid.uuid4()), None))
        self._work.set()

    def kill(self, key: TaskInstanceKey, reason: str) -> bool:
        """Revoke the messages of ``key`` (killing the pool process that runs it, if any and
        reachable) and end it ``"failed"`` with ``reason`` now; False if not in flight."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is None:
                return False
            self._revoke.extend(flight.messages)
            self._end(flight, "failed", f"killed: {reason}")
        self._work.set()
        log.warning("Killed %s (revoking its Celery message(s)): %s", key, reason)
        return True

    @property
    def running(self) -> set[TaskInstanceKey]:
        """Keys accepted and not yet reported as ended (sent or not; a copy)."""
        with self._lock:
            return set(self._keys)

    @property
    def slots_available(self) -> int:
        if self.parallelism <= 0:
            return 1 << 30
        return max(0, self.parallelism - len(self._keys))

    def has_task(self, key: TaskInstanceKey) -> bool:
        return key in self._keys

    def wait(self, timeout: float) -> None:
        """Sleep until an event is ready, at most ``timeout`` seconds (the scheduler's idle)."""
        if timeout > 0:
            self._has_events.wait(timeout)

    def heartbeat(self) -> list[ExecutorEvent]:
        """The events since the last call (never blocks on Redis or the database)."""
        with self._lock:
            events, self._events = self._events, []
            self._has_events.clear()
            for event in events:
                self._keys.discard(event.key)
        return events

    def end(self, timeout: float | None = None) -> list[ExecutorEvent]:
        """Wait for the workloads in flight to end, at most ``timeout`` seconds (None: as
        long as it takes; a try whose heartbeat stopped then ends ``"failed"``), then stop
        the thread. Workloads still in flight are left to their workers (each records its own
        outcome); none is stopped.

        Raises:
            ValueError: ``timeout`` is negative.
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 seconds or None, got {timeout}")
        deadline = None if timeout is None else time.monotonic() + timeout
        self._ending = True
        self._work.set()
        events: list[ExecutorEvent] = []
        while True:
            events += self.heartbeat()
            with self._lock:
                left = len(self._flights)
            if not left or (deadline is not None and time.monotonic() >= deadline):
                break
            if not self._background:
                self.sync()
            remaining = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            self._has_events.wait(max(remaining, 0.0))
        if left:
            log.info("%d try(s) still in flight are left to their Celery workers", left)
        self.terminate()
        return events + self.heartbeat()

    def terminate(self) -> None:
        """Stop the background thread; no try is stopped (they run on the workers)."""
        self._stopping.set()
        self._work.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(5.0, 3 * self.settings.operation_timeout))
        self._thread = None
        try:
            self._transport.close()
        except Exception:  # noqa: BLE001 - closing connections is best effort
            log.debug("closing the Celery transport failed", exc_info=True)
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- the background thread ----------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._work.clear()  # before the round: a workload queued meanwhile wakes the wait
            try:
                self.sync()
            except Exception:  # noqa: BLE001 - a bug must not stop the thread for good
                log.exception("CeleryExecutor: unexpected error; retrying")
                self._failed("unexpected error")
            with self._lock:
                busy = bool(self._outbox or self._revoke)
                polling = bool(self._by_message)
            now = self._clock()
            if busy and now >= self._retry_at:
                continue
            wait = (self.settings.result_poll_interval if polling
                    else self.settings.state_check_interval)
            if self._retry_at > now:
                wait = min(wait, self._retry_at - now)
            if self._ending:
                wait = min(wait, self.settings.result_poll_interval)
            self._work.wait(wait)

    def sync(self) -> None:
        """One round of the background thread: fetch the results, every
        ``state_check_interval`` the database check, then send (new workloads and resends),
        revoke, and delete the results read (see the module's design note). A broker error
        ends the round and delays the next one (backoff)."""
        now = self._clock()
        if now < self._retry_at:
            return
        try:
            self._fetch_results()
            if (self._last_check is None or self._ending
                    or now - self._last_check >= self.settings.state_check_interval):
                self._check_broker()
                self._check_states()
                self._last_check = now
            self._send_outbox()
            self._send_revokes()
        except Exception as exc:  # noqa: BLE001 - Redis or the database is down: retry later
            self._failed(f"{type(exc).__name__}: {exc}")
            return
        if self._outage is not None:
            log.warning("CeleryExecutor: the broker answers again (after: %s)", self._outage)
            self._outage = None
        self._backoff = 0.0

    def _failed(self, why: str) -> None:
        self._backoff = min(max(self._backoff * 2, _BACKOFF_FIRST_S), _BACKOFF_MAX_S)
        self._retry_at = self._clock() + self._backoff
        if self._outage is None:
            log.warning("CeleryExecutor: %s; retrying (the scheduler goes on)", why)
        self._outage = why

    def _send_revokes(self) -> None:
        with self._lock:
            revoke, self._revoke = self._revoke, []
            forget, self._forget = self._forget, []
        if revoke:
            try:
                self._transport.revoke(revoke)
            except Exception as exc:  # noqa: BLE001 - best effort: the try is failed anyway
                log.warning("CeleryExecutor: cannot revoke %d message(s): %s", len(revoke), exc)
        if forget:
            try:
                self._transport.forget(forget)
            except Exception:  # noqa: BLE001 - they expire by themselves
                log.debug("CeleryExecutor: cannot delete %d result(s)", len(forget),
                          exc_info=True)

    def _send_outbox(self) -> None:
        while True:
            with self._lock:
                if not self._outbox:
                    return
                item = self._outbox[0]
            task, payload, queue, message_id, flight = item
            if flight is not None and flight.workload.key not in self._flights:
                with self._lock:
                    self._outbox.popleft()
                continue  # killed before it was sent
            self._transport.send(task, payload, queue, message_id)  # raises: retried later
            now = self._clock()
            with self._lock:
                self._outbox.popleft()
                self.sent += 1
                if flight is None:
                    continue
                flight.to_send = False
                if self._flights.get(flight.workload.key) is not flight:
                    self._revoke.append(message_id)  # killed while it was being sent
                    continue
                flight.messages[message_id] = now
                flight.sends += 1
                flight.last_sent = now
                flight.epoch = self._epoch
                self._by_message[message_id] = flight

    def _fetch_results(self) -> None:
        with self._lock:
            ids = list(self._by_message)
        for start in range(0, len(ids), _MGET_CHUNK):
            results = self._transport.fetch(ids[start:start + _MGET_CHUNK])
            if results:
                self._apply_results(results)

    def _apply_results(self, results: Mapping[str, tuple[str, Any]]) -> None:
        with self._lock:
            for message_id, (status, result) in results.items():
                if status not in _READY:
                    continue  # STARTED, RETRY: not over
                self._forget.append(message_id)
                flight = self._by_message.pop(message_id, None)
                if flight is None:
                    continue
                flight.messages.pop(message_id, None)
                if self._flights.get(flight.workload.key) is not flight:
                    continue
                claimed = result.get("claimed") if isinstance(result, dict) else None
                if status == _SUCCESS and claimed is True:
                    code = result.get("code")
                    if code == 0:
                        self._end(flight, "success", None)
                    else:
                        self._end(flight, "failed", f"exit status {code}")
                elif status == _SUCCESS and claimed is False:
                    if not flight.messages:
                        flight.check_now = True  # the database says who ran it
                elif not flight.messages:
                    what = result if status != _SUCCESS else f"unexpected result {result!r}"
                    self._end(flight, "failed", f"the Celery task ended {status}: {what}")

    def _check_broker(self) -> None:
        server = self._transport.server_id()
        if server is None:
            return
        if self._server_id is not None and server != self._server_id:
            with self._lock:
                self._epoch += 1
            log.warning("CeleryExecutor: Redis restarted (run_id %s, was %s): sending the "
                        "tries still queued again", server, self._server_id)
        self._server_id = server

    def _check_states(self) -> None:
        now = self._clock()
        min_age = self.settings.state_check_min_age
        with self._lock:
            due = [f for f in self._flights.values()
                   if f.last_sent is not None and not f.to_send
                   and (self._ending or f.check_now or f.epoch < self._epoch
                        or f.gone_since is not None or now - f.last_sent >= min_age)]
        if not due:
            return
        states = self._states([f.workload.ti_id for f in due])
        ended = resent = 0
        with self._lock:
            for flight in due:
                if self._flights.get(flight.workload.key) is not flight or flight.to_send:
                    continue
                flight.check_now = False
                state, heartbeat = states.get(flight.workload.ti_id, (None, None))
                if flight.workload.ti_id not in states:
                    if flight.gone_since is None:
                        flight.gone_since = now
                    if not flight.messages or now - flight.gone_since >= self.heartbeat_timeout:
                        self._end(flight, "success", "its task instance is gone (cleared or "
                                  "deleted)")
                        ended += 1
                    continue
                flight.gone_since = None
                if state not in _ACTIVE:
                    self._end(flight, "success", f"its task instance is {state}")
                    ended += 1
                elif state == "queued":
                    assert flight.last_sent is not None
                    waited = now - flight.last_sent
                    if flight.epoch >= self._epoch and waited < self.settings.task_resend_timeout:
                        continue
                    if flight.sends > self.settings.task_max_resends:
                        self._end(flight, "failed", f"no worker claimed it: sent {flight.sends} "
                                  f"time(s), the last {waited:.0f} s ago "
                                  "([celery] task_resend_timeout, task_max_resends)")
                        ended += 1
                    else:
                        self._enqueue_send(flight)
                        self.resent += 1
                        resent += 1
                elif self._ending and (heartbeat is None
                                       or _age(heartbeat) >= self.heartbeat_timeout):
                    self._end(flight, "failed", "no heartbeat while the scheduler stopped")
                    ended += 1
        if resent:
            log.warning("CeleryExecutor: sending %d try(s) again (still queued)", resent)
        if ended:
            log.debug("CeleryExecutor: %d workload(s) ended by their database state", ended)

    def _states(self, ti_ids: list[str]) -> Mapping[str, tuple[str | None, datetime | None]]:
        if self._read_states is not None:
            return self._read_states(ti_ids)
        import sqlalchemy as sa

        from dagcore.db import create_engine
        from dagcore.models import tables as t

        if self._engine is None:
            self._engine = create_engine(self.engine_url)  # used by this thread only
        ti = t.task_instance
        found: dict[str, tuple[str | None, datetime | None]] = {}
        with self._engine.connect() as conn:
            for start in range(0, len(ti_ids), 1000):
                ids = [uuid.UUID(i) for i in ti_ids[start:start + 1000]]
                for row in conn.execute(sa.select(ti.c.id, ti.c.state, ti.c.last_heartbeat_at)
                                        .where(ti.c.id.in_(ids))):
                    found[str(row.id)] = (row.state, row.last_heartbeat_at)
        return found

    # -- bookkeeping (under the lock) -----------------------------------------------------------

    def _enqueue_send(self, flight: _Flight) -> None:
        flight.to_send = True
        workload = flight.workload
        self._outbox.append((EXECUTE_TASK, workload_to_json(workload), workload.queue,
                             str(uuid.uuid4()), flight))

    def _end(self, flight: _Flight, state: str, info: str | None) -> None:
        key = flight.workload.key
        if self._flights.get(key) is flight:
            del self._flights[key]
        for message_id in flight.messages:
            self._by_message.pop(message_id, None)
        self._events.append(ExecutorEvent(key, flight.workload.ti_id, state, info))
        self._has_events.set()

    # -- introspection (tests) ------------------------------------------------------------------

    def in_flight(self) -> dict[TaskInstanceKey, list[str]]:
        """The workloads not ended: key -> their outstanding message ids (a copy)."""
        with self._lock:
            return {key: list(f.messages) for key, f in self._flights.items()}


def _age(moment: datetime) -> float:
    from dagcore.utils import timezone

    return (timezone.utcnow() - moment).total_seconds()
