"""XCom in the metadata database: :class:`DatabaseXComBackend`, the task runner's XCom backend.

It implements :class:`dagcore.xcom.XComBackend`, the authoring layer's interface, so operators
and TaskFlow push and pull without knowing where values live. It sits here, in the storage layer,
because it writes the ``xcom`` table; the interface and the in-memory backend stay in
:mod:`dagcore.xcom`, which imports nothing from the database (authoring never imports storage).

Design note. Each value is stored as JSON in the ``xcom`` table, whose key is
``(dag_run_id, task_id, map_index, key)``; the run's integer id is looked up once per
``(dag_id, run_id)`` and cached for the backend's life (one try, in the task runner). A value
must be JSON serializable (checked before touching the database: the error names the task and
the key); tuples come back as lists. A push replaces the earlier value in one transaction
(delete, then insert), so a reader sees the old value or the new one, never none.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dagcore.db import transaction
from dagcore.models import tables as t
from dagcore.utils import timezone
from dagcore.xcom import XCOM_RETURN_KEY

__all__ = ["DatabaseXComBackend"]


class DatabaseXComBackend:
    """An :class:`~dagcore.xcom.XComBackend` over the metadata database's ``xcom`` table
    (thread-safe).

    Args:
        engine: the metadata database.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._run_ids: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def _dag_run_id(self, conn: Connection, dag_id: str, run_id: str) -> int | None:
        """The ``dag_run.id`` of ``(dag_id, run_id)`` (cached), or None if no such run."""
        with self._lock:
            cached = self._run_ids.get((dag_id, run_id))
        if cached is not None:
            return cached
        found = conn.execute(sa.select(t.dag_run.c.id).where(
            t.dag_run.c.dag_id == dag_id, t.dag_run.c.run_id == run_id)).scalar_one_or_none()
        if found is not None:
            with self._lock:
                self._run_ids[(dag_id, run_id)] = found
        return found

    def push(self, *, dag_id: str, run_id: str, task_id: str, key: str, value: Any,
             map_index: int = -1) -> None:
        """Store ``value`` as JSON, replacing an earlier value under the same key.

        Raises:
            TypeError: ``value`` is not JSON serializable, or ``key`` is not a string (the
                message names the task and the key).
            ValueError: ``value`` holds NaN or infinity (not JSON), or an empty key.
            LookupError: no run ``(dag_id, run_id)``, or no task instance ``task_id`` in it.
        """
        where = f"task {task_id!r} of Dag {dag_id!r} run {run_id!r}"
        if not isinstance(key, str):
            raise TypeError(f"XCom key must be a str, got {type(key).__name__}: {key!r} ({where})")
        if not key:
            raise ValueError(f"XCom key must not be empty ({where})")
        try:
            # Round-tripped: what is stored is exactly what a pull returns.
            stored = json.loads(json.dumps(value, allow_nan=False))
        except TypeError as exc:
            raise TypeError(f"XCom value of {where} under key {key!r} is not JSON serializable: "
                            f"{exc}") from None
        except ValueError as exc:
            raise ValueError(f"XCom value of {where} under key {key!r} is not valid JSON: "
                             f"{exc}") from None
        xc = t.xcom
        try:
            with transaction(self.engine) as conn:
                dag_run_id = self._dag_run_id(conn, dag_id, run_id)
                if dag_run_id is None:
                    raise LookupError(f"cannot push XCom {key!r} of {where}: no such run")
                conn.execute(xc.delete().where(xc.c.dag_run_id == dag_run_id,
                                               xc.c.task_id == task_id,
                                               xc.c.map_index == map_index, xc.c.key == key))
                conn.execute(xc.insert().values(
                    dag_run_id=dag_run_id, task_id=task_id, map_index=map_index, key=key,
                    dag_id=dag_id, run_id=run_id, value=stored, timestamp=timezone.utcnow()))
        except sa.exc.IntegrityError:
            # The xcom row references its task instance: the run or the TI is gone.
            with self._lock:
                self._run_ids.pop((dag_id, run_id), None)
            raise LookupError(f"cannot push XCom {key!r} of {where} (map_index {map_index}): "
                              f"no such task instance") from None

    def pull(self, *, dag_id: str, run_id: str, task_id: str, key: str = XCOM_RETURN_KEY,
             map_index: int = -1, default: Any = None) -> Any:
        """The stored value, or ``default`` when there is none (or no such run)."""
        xc = t.xcom
        with self.engine.connect() as conn:
            dag_run_id = self._dag_run_id(conn, dag_id, run_id)
            if dag_run_id is None:
                return default
            row = conn.execute(sa.select(xc.c.value).where(
                xc.c.dag_run_id == dag_run_id, xc.c.task_id == task_id,
                xc.c.map_index == map_index, xc.c.key == key)).one_or_none()
        return default if row is None else row.value

    def pull_all(self, *, dag_id: str, run_id: str, task_id: str,
                 key: str = XCOM_RETURN_KEY) -> list[Any]:
        """A mapped task's values, in map-index order (instances without one left out)."""
        xc = t.xcom
        with self.engine.connect() as conn:
            dag_run_id = self._dag_run_id(conn, dag_id, run_id)
            if dag_run_id is None:
                return []
            rows = conn.execute(sa.select(xc.c.value).where(
                xc.c.dag_run_id == dag_run_id, xc.c.task_id == task_id, xc.c.key == key,
                xc.c.map_index >= 0).order_by(xc.c.map_index)).all()
        return [row.value for row in rows]

    def clear(self, *, dag_id: str, run_id: str, task_id: str | None = None,
              map_index: int = -1) -> int:
        """Delete the XComs of one task instance (``task_id``, ``map_index``), or of the whole
        run when ``task_id`` is None; returns how many were deleted.

        The task runner calls this as a try starts, as Airflow does: a try never sees the
        values of the try before it.
        """
        xc = t.xcom
        query = xc.delete().where(xc.c.dag_id == dag_id, xc.c.run_id == run_id)
        if task_id is not None:
            query = query.where(xc.c.task_id == task_id, xc.c.map_index == map_index)
        with transaction(self.engine) as conn:
            return conn.execute(query).rowcount
