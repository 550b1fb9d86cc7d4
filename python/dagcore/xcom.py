"""XCom storage as an interface: :class:`XComBackend`, and :class:`InMemoryXComBackend`.

Tasks exchange small values through XCom, keyed by ``(dag_id, run_id, task_id, map_index, key)``.
The authoring API only needs push and pull, so the operators and TaskFlow never know where
values live: :class:`InMemoryXComBackend` serves ``dag.run_task`` and tests,
:class:`dagcore.models.xcom.DatabaseXComBackend` (storage layer: it writes the metadata
database) the task runner. This module imports nothing from the database, so parsing DAG files
never loads SQLAlchemy.
"""

from __future__ import annotations

import copy
import threading
from typing import Any, Protocol, runtime_checkable

__all__ = ["XCOM_RETURN_KEY", "InMemoryXComBackend", "XComBackend"]

XCOM_RETURN_KEY = "return_value"
"""The key under which a task's return value is pushed (Airflow's)."""


@runtime_checkable
class XComBackend(Protocol):
    """Where XCom values live."""

    def push(self, *, dag_id: str, run_id: str, task_id: str, key: str, value: Any,
             map_index: int = -1) -> None:
        """Store ``value`` (replacing an earlier value under the same key)."""

    def pull(self, *, dag_id: str, run_id: str, task_id: str, key: str = XCOM_RETURN_KEY,
             map_index: int = -1, default: Any = None) -> Any:
        """The stored value, or ``default`` when there is none."""

    def pull_all(self, *, dag_id: str, run_id: str, task_id: str,
                 key: str = XCOM_RETURN_KEY) -> list[Any]:
        """The values a mapped task's instances stored, in map-index order (instances that
        stored none are left out)."""


class InMemoryXComBackend:
    """An :class:`XComBackend` in a dict (thread-safe; values are deep-copied in and out, so a
    task never sees another task's later mutation, as with serialized storage)."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str, str, int, str], Any] = {}
        self._lock = threading.Lock()

    def push(self, *, dag_id: str, run_id: str, task_id: str, key: str, value: Any,
             map_index: int = -1) -> None:
        stored = copy.deepcopy(value)
        with self._lock:
            self._values[(dag_id, run_id, task_id, map_index, key)] = stored

    def pull(self, *, dag_id: str, run_id: str, task_id: str, key: str = XCOM_RETURN_KEY,
             map_index: int = -1, default: Any = None) -> Any:
        marker = object()
        with self._lock:
            value = self._values.get((dag_id, run_id, task_id, map_index, key), marker)
        return default if value is marker else copy.deepcopy(value)

    def pull_all(self, *, dag_id: str, run_id: str, task_id: str,
                 key: str = XCOM_RETURN_KEY) -> list[Any]:
        with self._lock:
            found = sorted((k[3], v) for k, v in self._values.items()
                           if k[:3] == (dag_id, run_id, task_id) and k[4] == key and k[3] >= 0)
        return [copy.deepcopy(v) for _, v in found]

    def clear(self, *, dag_id: str | None = None, run_id: str | None = None) -> int:
        """Drop the values of one run, one DAG or all; returns how many were dropped."""
        with self._lock:
            doomed = [k for k in self._values
                      if (dag_id is None or k[0] == dag_id) and (run_id is None or k[1] == run_id)]
            for k in doomed:
                del self._values[k]
        return len(doomed)

    def __len__(self) -> int:
        return len(self._values)
