"""A long-running process's row in the ``job`` table: registration, heartbeat, liveness.

Design note. A scheduler registers a ``job`` row when it starts, stamps it every
``[scheduler] job_heartbeat_sec`` and marks it ``success`` (or ``failed``) when it stops. A job
counts as alive while its state is ``running`` and its heartbeat is younger than
``[scheduler] scheduler_health_check_threshold``; on the same host the process itself is also
asked (a scheduler killed with ``kill -9`` a moment ago is dead although its heartbeat is
fresh). SQLite allows a single scheduler: registration and the check for a live one happen in
one ``BEGIN IMMEDIATE`` transaction, so two schedulers starting at once cannot both pass.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dagcore.configuration import conf
from dagcore.db import transaction
from dagcore.models import tables as t
from dagcore.utils import timezone
from dagcore.utils.process import pid_alive

__all__ = ["Job", "SchedulerAlreadyRunning", "hostname", "is_alive"]

log = logging.getLogger(__name__)

RUNNING = "running"


class SchedulerAlreadyRunning(RuntimeError):
    """Another scheduler is alive on this SQLite database."""


def hostname() -> str:
    return socket.getfqdn()


def is_alive(row: Any, now: datetime, threshold: float | None = None) -> bool:
    """Whether a ``job`` row belongs to a live process (see the module note)."""
    if row.state != RUNNING:
        return False
    if threshold is None:
        threshold = conf.getfloat("scheduler", "scheduler_health_check_threshold")
    if row.latest_heartbeat < now - timedelta(seconds=threshold):
        return False
    if row.hostname == hostname():
        return pid_alive(row.pid)
    return True


class Job:
    """This process's ``job`` row."""

    def __init__(self, engine: Engine, job_type: str, *, executor_class: str | None = None
                 ) -> None:
        self.engine = engine
        self.job_type = job_type
        self.executor_class = executor_class
        self.id: int | None = None
        self.latest_heartbeat: datetime | None = None

    def register(self, *, single: bool = False) -> int:
        """Insert the row; dead jobs of this type are marked failed first.

        Args:
            single: refuse to start while another job of this type is alive (SQLite).

        Raises:
            SchedulerAlreadyRunning: ``single`` and a live job exists (the message names it).
        """
        job = t.job
        now = timezone.utcnow()
        with transaction(self.engine) as conn:
            rows = conn.execute(sa.select(job).where(job.c.job_type == self.job_type,
                                                     job.c.state == RUNNING)).all()
            dead = []
            for row in rows:
                if not is_alive(row, now):
                    dead.append(row.id)
                elif single:
                    url = self.engine.url.render_as_string(hide_password=True)
                    raise SchedulerAlreadyRunning(
                        f"another {self.job_type} (job {row.id}, pid {row.pid} on "
                        f"{row.hostname}, heartbeat {row.latest_heartbeat.isoformat()}) is "
                        f"running against the SQLite database {url}; SQLite allows one "
                        f"scheduler: stop that one, or use PostgreSQL to run several")
            if dead:
                conn.execute(job.update().where(job.c.id.in_(dead))
                             .values(state="failed", end_date=now))
                log.info("Marked %d dead %s job(s) failed: %s", len(dead), self.job_type, dead)
            job_id: int = conn.execute(job.insert().values(
                job_type=self.job_type, state=RUNNING, hostname=hostname(), pid=os.getpid(),
                unixname=_unixname(), executor_class=self.executor_class, start_date=now,
                latest_heartbeat=now)).inserted_primary_key[0]
        self.id = job_id
        self.latest_heartbeat = now
        return job_id

    def heartbeat(self, conn: Connection | None = None) -> None:
        now = timezone.utcnow()
        stmt = t.job.update().where(t.job.c.id == self.id).values(latest_heartbeat=now)
        if conn is not None:
            conn.execute(stmt)
        else:
            with transaction(self.engine) as own:
                own.execute(stmt)
        self.latest_heartbeat = now

    def due(self) -> bool:
        if self.latest_heartbeat is None:
            return True
        every = conf.getfloat("scheduler", "job_heartbeat_sec")
        return timezone.utcnow() - self.latest_heartbeat >= timedelta(seconds=every)

    def complete(self, state: str = "success") -> None:
        if self.id is None:
            return
        with transaction(self.engine) as conn:
            conn.execute(t.job.update().where(t.job.c.id == self.id)
                         .values(state=state, end_date=timezone.utcnow()))

    def live_job_ids(self, conn: Connection) -> set[int]:
        """Ids of the live jobs of this type (this one included)."""
        now = timezone.utcnow()
        rows = conn.execute(sa.select(t.job).where(t.job.c.job_type == self.job_type,
                                                   t.job.c.state == RUNNING)).all()
        alive = {row.id for row in rows if is_alive(row, now)}
        if self.id is not None:
            alive.add(self.id)
        return alive


def _unixname() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
