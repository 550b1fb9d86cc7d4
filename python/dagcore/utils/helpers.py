"""Helpers for writing DAGs: :func:`chain`, :func:`chain_linear`, :func:`cross_downstream`
(Airflow's ``airflow.sdk`` names, task-sdk ``bases/operator.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dagcore.operators.base import DependencyMixin

__all__ = ["chain", "chain_linear", "cross_downstream"]


def chain(*elements: DependencyMixin | Sequence[DependencyMixin]) -> None:
    """Set dependencies along ``elements``: ``chain(a, [b, c], [d, e], f)``.

    Consecutive tasks are linked ``a >> b``; a task next to a list is linked to every item; two
    consecutive lists must have the same length and are linked pairwise (``b >> d``,
    ``c >> e``), as Airflow does.

    Raises:
        ValueError: two consecutive lists of different lengths.
        TypeError: an element that is neither a task, a TaskFlow reference nor a list of them.
    """
    for element in elements:
        items = [element] if isinstance(element, DependencyMixin) else element
        if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or not all(
                isinstance(item, DependencyMixin) for item in items):
            raise TypeError(f"chain() supports only tasks, TaskFlow results and lists of them, "
                            f"got {type(element).__name__}: {element!r}")
    for up, down in zip(elements, elements[1:], strict=False):
        if isinstance(up, DependencyMixin):
            up.set_downstream(down if isinstance(down, DependencyMixin) else list(down))
        elif isinstance(down, DependencyMixin):
            down.set_upstream(list(up))
        else:
            if len(up) != len(down):
                raise ValueError(f"Chain not supported for different length Iterable. Got "
                                 f"{len(up)} and {len(down)}.")
            for u, d in zip(up, down, strict=True):
                u.set_downstream(d)


def cross_downstream(from_tasks: Sequence[DependencyMixin],
                     to_tasks: DependencyMixin | Sequence[DependencyMixin]) -> None:
    """Make every task of ``to_tasks`` downstream of every task of ``from_tasks``.

    ``cross_downstream([t1, t2], [t3, t4])`` is ``t1 >> [t3, t4]`` and ``t2 >> [t3, t4]``.

    Raises:
        TypeError: an item that is not a task, a group or a TaskFlow reference (named).
    """
    if isinstance(from_tasks, (str, bytes)) or not isinstance(from_tasks, Sequence):
        raise TypeError(f"cross_downstream() needs a list of tasks as from_tasks, got "
                        f"{type(from_tasks).__name__}: {from_tasks!r}")
    for task in from_tasks:
        if not isinstance(task, DependencyMixin):
            raise TypeError(f"cross_downstream() supports only tasks, TaskFlow results and task "
                            f"groups, got {type(task).__name__}: {task!r}")
        task.set_downstream(to_tasks if isinstance(to_tasks, DependencyMixin)
                            else list(to_tasks))


def chain_linear(*elements: DependencyMixin | Sequence[DependencyMixin]) -> None:
    """Every task of each element upstream of every task of the next (Airflow's
    ``chain_linear``): ``chain_linear(t1, [t2, t3], [t4, t5])`` gives ``t1 >> [t2, t3]``,
    ``t2 >> [t4, t5]``, ``t3 >> [t4, t5]`` (``chain`` would pair ``t2 >> t4``, ``t3 >> t5``).

    Raises:
        ValueError: no elements ("No tasks provided; nothing to do."), an edge label ("Labels
            are not supported by chain_linear"), or nothing linked ("No dependencies were set.
            Did you forget to expand with `*`?"), as Airflow.
        TypeError: an element that is neither a task nor a list of them.
    """
    if not elements:
        raise ValueError("No tasks provided; nothing to do.")
    previous: list[DependencyMixin] | None = None
    linked = False
    for element in elements:
        # Airflow's Label() is an EdgeModifier (named, not imported: it lives in authoring).
        if any(klass.__name__ == "EdgeModifier" for klass in type(element).__mro__):
            raise ValueError("Labels are not supported by chain_linear")
        items = [element] if isinstance(element, DependencyMixin) else element
        if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or not all(
                isinstance(item, DependencyMixin) for item in items):
            raise TypeError(f"chain_linear() supports only tasks, TaskFlow results and lists of "
                            f"them, got {type(element).__name__}: {element!r}")
        if previous is not None:
            for task in previous:
                task.set_downstream(element if isinstance(element, DependencyMixin)
                                    else list(element))
                linked = True
        previous = list(items)
    if not linked:
        raise ValueError("No dependencies were set. Did you forget to expand with `*`?")
