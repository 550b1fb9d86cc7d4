"""Edge ``Label``: ``a >> Label("x") >> b`` makes ``b`` downstream of ``a`` and labels the edge
(Airflow's ``utils/edgemodifier.py``, ``airflow.sdk.Label``).

A label is not a task: it remembers what was put upstream of it, and when something is put
downstream of it, links each of those to it (with ``>>``, so task groups and lists work as they do
between tasks) and records ``{"label": ...}`` for each pair of node ids in the DAG's
``edge_info`` (``{upstream_id: {downstream_id: info}}``, Airflow's ``DAG.edge_info``), read
with :func:`get_edge_info`.
"""

from __future__ import annotations

from typing import Any

from dagcore.operators.base import BaseOperator, DependencyMixin, _as_list, _checked

__all__ = ["EdgeModifier", "Label", "get_edge_info", "set_edge_info"]


def _dag_of(node: Any) -> Any:
    tasks = node._dependency_tasks() if isinstance(node, DependencyMixin) else []
    for task in tasks:
        if isinstance(task, BaseOperator) and task.dag is not None:
            return task.dag
    return getattr(node, "dag", None)


def _node_id(node: Any) -> str:
    if isinstance(node, DependencyMixin) and not hasattr(node, "node_id"):
        return node._dependency_tasks()[0].node_id  # a TaskFlow reference: its task
    return str(node.node_id)


def set_edge_info(dag: Any, upstream_id: str, downstream_id: str, info: dict[str, Any]) -> None:
    """Record ``info`` for the edge ``upstream_id -> downstream_id`` in ``dag.edge_info``."""
    edge_info: dict[str, dict[str, dict[str, Any]]] = dag.__dict__.setdefault("edge_info", {})
    edge_info.setdefault(upstream_id, {})[downstream_id] = dict(info)


def get_edge_info(dag: Any, upstream_id: str, downstream_id: str) -> dict[str, Any]:
    """The info recorded for the edge (Airflow's ``DAG.get_edge_info``); ``{}`` if none."""
    edge_info = getattr(dag, "edge_info", None) or {}
    return dict(edge_info.get(upstream_id, {}).get(downstream_id, {}))


class EdgeModifier(DependencyMixin):
    """Something between two nodes of ``>>`` that changes the edge (Airflow's
    ``EdgeModifier``); it links what is upstream of it to what is downstream of it."""

    def __init__(self, label: str | None = None) -> None:
        self.label = label
        self._upstream: list[DependencyMixin] = []
        self._downstream: list[DependencyMixin] = []

    def _dependency_tasks(self) -> list[BaseOperator]:
        return []  # not a task: edges go past it (see set_downstream)

    def _update_relative(self, other: Any, upstream: bool) -> None:
        # ``a >> label`` (a task's or a group's set_downstream) calls this on the label.
        if upstream:
            self._add_upstream([other])
        else:
            self._add_downstream([other])

    def set_upstream(self, other: Any) -> None:
        """``[a, b] >> label``: remember them; they are linked once the label gets a
        downstream."""
        self._add_upstream(_as_list(other))

    def set_downstream(self, other: Any) -> None:
        """``label >> b``: each node upstream of the label becomes upstream of ``b``."""
        self._add_downstream(_as_list(other))

    def _add_upstream(self, items: list[Any]) -> None:
        nodes = [_checked(item) for item in items]
        self._upstream.extend(nodes)
        for node in nodes:
            self._link([node], self._downstream)

    def _add_downstream(self, items: list[Any]) -> None:
        nodes = [_checked(item) for item in items]
        self._downstream.extend(nodes)
        self._link(self._upstream, nodes)

    def _link(self, ups: list[DependencyMixin], downs: list[DependencyMixin]) -> None:
        for up in ups:
            for down in downs:
                up.set_downstream(down)
                dag = _dag_of(up) or _dag_of(down)
                if dag is not None:
                    set_edge_info(dag, _node_id(up), _node_id(down), {"label": self.label})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label!r})"


class Label(EdgeModifier):
    """A label on an edge: ``a >> Label("when true") >> b`` (Airflow's ``Label``)."""

    def __init__(self, label: str) -> None:
        if not isinstance(label, str):
            raise TypeError(f"Label needs a string, got {type(label).__name__}: {label!r}")
        super().__init__(label)
