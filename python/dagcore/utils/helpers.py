"""Helpers for writing DAGs: :func:`chain` (Airflow's ``airflow.sdk.chain``)."""

from __future__ import annotations

from collections.abc import Sequence
from dagcore.operators.base import DependencyMixin

__all__ = ["chain"]


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
