"""Task lookups shared by a DAG and its deserialized form (both keep ``task_dict``)."""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["TaskLookup"]

T = TypeVar("T")


class TaskLookup(Generic[T]):
    """``tasks``, ``task_ids``, ``get_task`` and ``has_task`` over ``self.task_dict``."""

    dag_id: str
    task_dict: dict[str, T]

    @property
    def tasks(self) -> list[T]:
        """The tasks in the order they were added."""
        return list(self.task_dict.values())

    @property
    def task_ids(self) -> list[str]:
        """The task ids in the order they were added."""
        return list(self.task_dict)

    def get_task(self, task_id: str) -> T:
        """The task with that id (``KeyError`` naming it if none)."""
        try:
            return self.task_dict[task_id]
        except KeyError:
            raise KeyError(f"Task {task_id!r} not found in DAG {self.dag_id!r}") from None

    def has_task(self, task_id: str) -> bool:
        return task_id in self.task_dict
