"""dagcore's Celery application: its configuration, the tasks a ``dagcore celery worker`` runs,
and the broker operations of the CeleryExecutor (:class:`CeleryTransport`).

Design note. This module imports Celery; only :mod:`dagcore.executors.celery` (when the executor
is made) and ``dagcore celery`` import it. Messages are JSON (no pickle crosses the broker): a
workload as :func:`~dagcore.executors.celery.workload_to_json` writes it.

A worker is Celery's, prefork pool, started by ``dagcore celery worker``. Its pool processes run
:data:`~dagcore.executors.celery.EXECUTE_TASK` as the LocalExecutor's workers run a try
(:mod:`dagcore.executors.worker`): fds 1 and 2 point at the try's log, whose path the worker
computes from its own ``[logging] base_log_folder`` (``log_path_for``), while
:func:`dagcore.task_runner.run_workload` claims, runs and records the try with an engine made
once per pool process from the worker's own ``[database] sql_alchemy_conn``; the pool process's
own fds and ``sys`` streams are restored afterwards. The task returns ``{"code": exit code,
"claimed": bool or None}``: ``claimed`` is False when the try was not this message's to run
(``run_workload`` returned None), None when it raised before saying. A pool process asks the
kernel to kill it when its worker's main process dies (``PR_SET_PDEATHSIG``), so a ``kill -9``
of a worker leaves no try running unseen: the try's heartbeat stops, and the scheduler's zombie
check retries it.

The executor publishes with Celery's own message format but not through ``send_task``: that
call subscribes the sender to each result's pub/sub channel (Celery's Redis ``ResultConsumer``),
which the executor never reads, as it fetches results in bulk with ``MGET``. Nothing here
retries: the executor's thread does, with its backoff.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

import redis
from celery import Celery
from celery.signals import worker_process_init

from dagcore.executors.base import TaskWorkload, log_path_for
from dagcore.executors.celery import (
    CALLBACK_TASK,
    EXECUTE_TASK,
    CelerySettings,
    callback_from_json,
    workload_from_json,
)
from dagcore.executors.worker import redirect_stdio, run_as_process

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["CeleryTransport", "create_app", "execute_workload", "run_callback",
           "run_in_this_process"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def create_app(settings: CelerySettings, *, worker: bool = False) -> Celery:
    """A Celery application configured from ``settings``, with dagcore's two tasks.

    Args:
        settings: the ``[celery]`` options.
        worker: for ``dagcore celery worker`` (no socket timeout on the broker connection,
            whose blocking reads wait for messages); else for the executor, whose every Redis
            call gives up after ``operation_timeout`` seconds.
    """
    timeout = settings.operation_timeout
    transport_options: dict[str, Any] = {"visibility_timeout": settings.visibility_timeout,
                                         "socket_connect_timeout": timeout}
    if not worker:
        transport_options["socket_timeout"] = timeout
    app = Celery("dagcore", set_as_current=False)
    app.conf.update(
        broker_url=settings.broker_url,
        result_backend=settings.result_backend,
        broker_transport_options=transport_options,
        broker_connection_timeout=timeout,
        redis_socket_timeout=timeout if not worker else max(timeout, 30.0),
        redis_socket_connect_timeout=timeout,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=settings.task_acks_late,
        task_reject_on_worker_lost=False,  # a pool process that died: the executor decides
        worker_prefetch_multiplier=settings.worker_prefetch_multiplier,
        worker_concurrency=settings.worker_concurrency,
        task_default_queue=settings.default_queue,
        task_create_missing_queues=True,
        task_track_started=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        worker_redirect_stdouts=False,
        worker_hijack_root_logger=True,
        enable_utc=True,
        timezone="UTC",
    )
    app.task(name=EXECUTE_TASK, acks_late=settings.task_acks_late)(execute_workload)
    app.task(name=CALLBACK_TASK, ignore_result=True)(run_callback)
    return app


# -- the worker side ----------------------------------------------------------------------------

_engine: Engine | None = None


def _engine_here() -> Engine:
    """This pool process's engine on the worker's own ``[database] sql_alchemy_conn``."""
    global _engine
    if _engine is None:
        from dagcore.db import create_engine

        _engine = create_engine()
    return _engine


def execute_workload(payload: dict[str, Any]) -> dict[str, Any]:
    """The Celery task: run the try of ``payload`` in this pool process.

    Returns:
        ``{"code": the exit code a process of its own would have had, "claimed": True (this
        message ran the try), False (it was not this message's to run) or None (unknown: an
        error before the runner said)}``.
    """
    workload = workload_from_json(payload)
    workload = dataclasses.replace(workload, log_path=str(log_path_for(workload.key)))
    code, claimed = run_in_this_process(workload, _engine_here())
    return {"code": code, "claimed": claimed}


def run_in_this_process(workload: TaskWorkload, engine: Engine) -> tuple[int, bool | None]:
    """``run_workload`` with stdio on the try's log, this process's own fds and ``sys``
    streams restored afterwards; (exit code, claimed) as :func:`execute_workload` says."""
    from dagcore.task_runner import run_workload

    saved = [os.dup(fd) for fd in (0, 1, 2)]
    streams = (sys.stdin, sys.stdout, sys.stderr)

    def run() -> str | None:
        redirect_stdio(workload.log_path)
        return run_workload(workload, engine=engine)

    try:
        code, state = run_as_process(run)
    finally:
        for fd, copy in zip((0, 1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
        sys.stdin, sys.stdout, sys.stderr = streams
    claimed = None if code else state is not None
    return code, claimed


def run_callback(payload: dict[str, Any]) -> None:
    """The Celery task: call a DAG's run callbacks (failures are logged by the runner)."""
    from dagcore.task_runner import run_dag_callback

    request = callback_from_json(payload)
    if not run_dag_callback(request, engine=_engine_here()):  # the run's version's code
        log.error("The %s callback of Dag %s (run %s) failed", request.state, request.dag_id,
                  request.run_id)


def _die_with_the_worker(**_: Any) -> None:
    """``worker_process_init``: the kernel SIGKILLs this pool process when the worker's main
    process dies (Linux), so a killed worker is a lost machine, not orphans running on."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed: %s", os.strerror(ctypes.get_errno()))


worker_process_init.connect(_die_with_the_worker, weak=False,
                            dispatch_uid="dagcore.executors.celery_app.pdeathsig")


# -- the executor side ---------------------------------------------------------------------------


class CeleryTransport:
    """The executor's broker operations on a Celery app (see
    :class:`dagcore.executors.celery.Transport`)."""

    def __init__(self, app: Celery, settings: CelerySettings) -> None:
        self.app = app
        self.settings = settings
        self._redis: redis.Redis | None = None

    def send(self, task: str, payload: dict[str, Any], queue: str, message_id: str) -> None:
        amqp = self.app.amqp
        message = amqp.create_task_message(message_id, task, (payload,), {})
        with self.app.producer_or_acquire() as producer:
            amqp.send_task_message(producer, task, message, queue=queue, retry=False)

    def fetch(self, message_ids: list[str]) -> dict[str, tuple[str, Any]]:
        backend = self.app.backend
        values = backend.client.mget([backend.get_key_for_task(i) for i in message_ids])
        results: dict[str, tuple[str, Any]] = {}
        for message_id, value in zip(message_ids, values):
            if value is not None:
                meta = backend.decode_result(value)
                results[message_id] = (meta["status"], meta["result"])
        return results

    def forget(self, message_ids: list[str]) -> None:
        backend = self.app.backend
        backend.client.delete(*[backend.get_key_for_task(i) for i in message_ids])

    def revoke(self, message_ids: list[str]) -> None:
        self.app.control.revoke(message_ids, terminate=True, signal="SIGKILL")

    def server_id(self) -> str | None:
        if self._redis is None:
            timeout = self.settings.operation_timeout
            self._redis = redis.Redis.from_url(self.settings.broker_url, socket_timeout=timeout,
                                               socket_connect_timeout=timeout)
        info = self._redis.info("server")
        run_id = info.get("run_id")
        return None if run_id is None else str(run_id)

    def close(self) -> None:
        if self._redis is not None:
            with contextlib.suppress(Exception):
                self._redis.close()
            self._redis = None
        with contextlib.suppress(Exception):
            self.app.close()
