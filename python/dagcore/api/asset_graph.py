"""The asset dependency graph and a DAG's assets, for the web UI (docs/airflow-rest-api.md,
"UI endpoints" 10-11 and D.7; the tables are docs/airflow-behaviour.md 12.5's).

Design note. :func:`dependency_graph` answers Airflow 3's ``GET /ui/dependencies`` shape
(``{"nodes": [{"id", "label", "type"}], "edges": [{"source_id", "target_id"}]}``) from the
reference tables only, in a fixed number of queries whatever the number of DAGs (no serialized
DAG is loaded). Node ids are Airflow's: ``dag:<dag_id>``, ``asset:<asset id>``,
``asset-alias:<name>``, ``asset-name-ref:<name>``, ``asset-uri-ref:<uri>``. Edges follow the
data, producer to consumer:

* ``dag:P -> asset:A``: a task of P has A among its outlets (``task_outlet_asset_reference``);
* ``asset:A -> dag:C``: C's schedule names A (``dag_schedule_asset_reference``);
* ``asset-alias:N -> dag:C``: C's schedule names the alias (``..._alias_reference``);
* ``asset-alias:N -> asset:A``: the alias has resolved to A (``asset_alias_asset``);
* ``dag:P -> asset-alias:N``: P has recorded an event through the alias (its
  ``asset_alias_asset_event`` rows' source DAG). Deviation: Airflow draws this edge from the
  serialized outlets; dagcore keeps no reference row for an alias outlet, so an alias shows its
  producer once the producer has emitted through it;
* ``asset:A -> asset-name-ref:N -> dag:C`` (and ``asset-uri-ref``): C's schedule names an
  ``Asset.ref``; the assets of that name (URI) feed it.

Stale DAGs are left out. With ``node_id`` the answer is the connected part of the graph around
that node (as Airflow's ``extract_single_connected_component``, edges taken both ways); an
existing DAG, asset or alias without any edge is answered alone rather than as Airflow's 404.

:func:`dag_assets` is one DAG's view: its schedule condition (latest version, from the DAG bag)
as a tree whose leaves carry the asset's id, last event and whether a queue row
(``asset_dag_run_queue``) waits for this DAG, and what its tasks produce.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dagcore.api.dags import dag_display_name
from dagcore.api.user_input import UserInputError
from dagcore.assets import (
    Asset,
    AssetAlias,
    AssetAll,
    AssetAny,
    AssetNameRef,
    AssetRef,
    AssetUriRef,
    asset_outlets,
)
from dagcore.db_dagbag import DBDagBag
from dagcore.models import tables as t

__all__ = [
    "NODE_TYPES",
    "DagAssets",
    "InvalidNodeId",
    "NodeNotFound",
    "dag_assets",
    "dependency_graph",
    "parse_node_id",
]

# Airflow 3's node types of the dependency graph.
NODE_TYPES: Final = ("dag", "asset", "asset-alias", "asset-name-ref", "asset-uri-ref")
_MAX_ID: Final = 2**31 - 1  # the asset id column's range (a larger id names nothing)
_NODE_FORMS: Final = ("dag:<dag_id>, asset:<asset id>, asset-alias:<name>, "
                      "asset-name-ref:<name> or asset-uri-ref:<uri>")


class InvalidNodeId(UserInputError):
    """A ``node_id`` that is not ``<type>:<key>`` of a known type (or an asset id that is not
    an integer)."""


class NodeNotFound(LookupError):
    """A well-formed ``node_id`` naming nothing that exists."""


def parse_node_id(node_id: str) -> tuple[str, str]:
    """``(type, key)`` of a node id such as ``dag:etl`` or ``asset:3`` (an asset id written
    canonically: ``asset:007`` is ``("asset", "7")``).

    Raises:
        InvalidNodeId: naming the value.
    """
    kind, sep, key = node_id.partition(":")
    if not sep or kind not in NODE_TYPES or not key:
        raise InvalidNodeId(f"Invalid node_id: `{node_id}`; expected {_NODE_FORMS}",
                            name="node_id", value=node_id)
    if kind == "asset" and not (key.isascii() and key.isdigit()):
        raise InvalidNodeId(f"Invalid asset node_id: `{node_id}`; the asset id must be an "
                            f"integer", name="node_id", value=node_id)
    return kind, (str(int(key)) if kind == "asset" else key)


# -- the graph ------------------------------------------------------------------------------------


def _active_dag(column: Any) -> Any:
    """``column`` (a DAG id) names a DAG that is not stale."""
    d = t.dag
    return sa.exists().where(d.c.dag_id == column, d.c.is_stale == sa.false())


def _edges(conn: Connection) -> tuple[set[tuple[str, str]], dict[str, str]]:
    """Every edge of the graph and the label of every node on one."""
    a, al = t.asset, t.asset_alias
    edges: set[tuple[str, str]] = set()
    asset_ids: set[int] = set()
    alias_names: set[str] = set()

    out = t.task_outlet_asset_reference
    for dag_id, asset_id in conn.execute(sa.select(out.c.dag_id, out.c.asset_id).distinct()
                                         .where(_active_dag(out.c.dag_id))).all():
        edges.add((f"dag:{dag_id}", f"asset:{asset_id}"))
        asset_ids.add(asset_id)
    ref = t.dag_schedule_asset_reference
    for dag_id, asset_id in conn.execute(sa.select(ref.c.dag_id, ref.c.asset_id)
                                         .where(_active_dag(ref.c.dag_id))).all():
        edges.add((f"asset:{asset_id}", f"dag:{dag_id}"))
        asset_ids.add(asset_id)
    al_ref = t.dag_schedule_asset_alias_reference
    for dag_id, name in conn.execute(sa.select(al_ref.c.dag_id, al.c.name).join(
            al, al.c.id == al_ref.c.alias_id).where(_active_dag(al_ref.c.dag_id))).all():
        edges.add((f"asset-alias:{name}", f"dag:{dag_id}"))
        alias_names.add(name)
    link = t.asset_alias_asset
    for name, asset_id in conn.execute(sa.select(al.c.name, link.c.asset_id).join(
            link, link.c.alias_id == al.c.id)).all():
        edges.add((f"asset-alias:{name}", f"asset:{asset_id}"))
        alias_names.add(name)
        asset_ids.add(asset_id)
    ev, via = t.asset_event, t.asset_alias_asset_event
    for name, dag_id in conn.execute(
            sa.select(al.c.name, ev.c.source_dag_id).distinct()
            .select_from(via.join(ev, ev.c.id == via.c.event_id)
                         .join(al, al.c.id == via.c.alias_id))
            .where(ev.c.source_dag_id.is_not(None), _active_dag(ev.c.source_dag_id))).all():
        edges.add((f"dag:{dag_id}", f"asset-alias:{name}"))
        alias_names.add(name)
    labels: dict[str, str] = {}
    for table, field, kind in ((t.dag_schedule_asset_name_reference, "name", "asset-name-ref"),
                               (t.dag_schedule_asset_uri_reference, "uri", "asset-uri-ref")):
        refs = conn.execute(sa.select(table.c[field], table.c.dag_id)
                            .where(_active_dag(table.c.dag_id))).all()
        for value, dag_id in refs:
            edges.add((f"{kind}:{value}", f"dag:{dag_id}"))
            labels[f"{kind}:{value}"] = value
        values = sorted({value for value, _ in refs})
        if values:
            for asset_id, value in conn.execute(sa.select(a.c.id, a.c[field]).where(
                    a.c[field].in_(values))).all():
                edges.add((f"asset:{asset_id}", f"{kind}:{value}"))
                asset_ids.add(asset_id)
    if asset_ids:
        for asset_id, name in conn.execute(sa.select(a.c.id, a.c.name).where(
                a.c.id.in_(sorted(asset_ids)))).all():
            labels[f"asset:{asset_id}"] = name
    for name in alias_names:
        labels[f"asset-alias:{name}"] = name
    for source, target in edges:
        for node in (source, target):
            if node.startswith("dag:"):
                labels[node] = node[len("dag:"):]
    return edges, labels


def _node_label(conn: Connection, kind: str, key: str, node_id: str) -> str:
    """The label of a node that has no edge, if it exists at all.

    Raises:
        NodeNotFound: nothing of that id exists.
    """
    if kind == "dag":
        dag_display_name(conn, key)  # raises DagNotFound
        return key
    if kind == "asset":
        number = int(key)
        name = None if number > _MAX_ID else conn.execute(sa.select(t.asset.c.name).where(
            t.asset.c.id == number)).scalar_one_or_none()
        if name is None:
            raise NodeNotFound(f"The Asset with ID: `{key}` was not found")
        return str(name)
    if kind == "asset-alias":
        found = conn.execute(sa.select(t.asset_alias.c.id).where(
            t.asset_alias.c.name == key)).scalar_one_or_none()
        if found is None:
            raise NodeNotFound(f"The Asset Alias with name: `{key}` was not found")
        return key
    raise NodeNotFound(f"The node `{node_id}` was not found in the dependency graph")


def _component(node_id: str, edges: Iterable[tuple[str, str]]) -> set[str]:
    """The nodes connected to ``node_id`` (edges taken both ways)."""
    adjacent: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        adjacent[source].append(target)
        adjacent[target].append(source)
    seen = {node_id}
    todo = deque([node_id])
    while todo:
        for other in adjacent[todo.popleft()]:
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def _node(node_id: str, label: str) -> dict[str, str]:
    return {"id": node_id, "label": label, "type": node_id.partition(":")[0]}


def dependency_graph(engine: Engine, node_id: str | None = None) -> dict[str, list[dict[str, str]]]:
    """The asset dependency graph (``{"nodes", "edges"}``, Airflow 3's shape), whole or the
    connected part around ``node_id``; nodes sorted by id, edges by (source, target).

    Raises:
        InvalidNodeId: a malformed ``node_id``.
        DagNotFound: ``dag:<id>`` of no DAG.
        NodeNotFound: another ``node_id`` naming nothing.
    """
    with engine.connect() as conn:
        edges, labels = _edges(conn)
        if node_id is not None:
            kind, key = parse_node_id(node_id)
            node_id = f"{kind}:{key}"
            if node_id not in labels:
                label = _node_label(conn, kind, key, node_id)
                return {"nodes": [_node(node_id, label)], "edges": []}
            keep = _component(node_id, edges)
            edges = {(s, e) for s, e in edges if s in keep and e in keep}
            labels = {n: label for n, label in labels.items() if n in keep}
    return {"nodes": [_node(n, labels[n]) for n in sorted(labels)],
            "edges": [{"source_id": s, "target_id": e} for s, e in sorted(edges)]}


# -- one DAG's assets -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DagAssets:
    """A DAG's schedule condition as a tree (None: not scheduled on assets) and the assets and
    aliases its tasks produce."""

    dag_id: str
    dag_display_name: str
    condition: dict[str, Any] | None
    produces: list[dict[str, Any]]


class _Lookup:
    """The stored facts :func:`dag_assets` needs, for the leaves it shows only, read in a few
    queries: the aliases' resolutions, the asset rows the leaves name (by ``(name, uri)``, by
    name or URI for references, by id for the aliases' assets), the DAG's queue rows, and (by
    :meth:`load_events`) each shown asset's newest event."""

    def __init__(self, conn: Connection, dag_id: str, leaves: Iterable[Any]) -> None:
        a, al, link = t.asset, t.asset_alias, t.asset_alias_asset
        keys: set[tuple[str, str]] = set()
        names: set[str] = set()
        uris: set[str] = set()
        aliases: set[str] = set()
        for leaf in leaves:
            if isinstance(leaf, Asset):
                keys.add((leaf.name, leaf.uri))
            elif isinstance(leaf, AssetAlias):
                aliases.add(leaf.name)
            elif isinstance(leaf, AssetNameRef):
                names.add(leaf.name)
            elif isinstance(leaf, AssetUriRef):
                uris.add(leaf.uri)
        self.by_alias: dict[str, list[int]] = defaultdict(list)
        if aliases:
            for name, asset_id in conn.execute(
                    sa.select(al.c.name, link.c.asset_id).join(link, link.c.alias_id == al.c.id)
                    .where(al.c.name.in_(sorted(aliases))).order_by(link.c.asset_id)).all():
                self.by_alias[name].append(asset_id)
        alias_assets = sorted({i for ids in self.by_alias.values() for i in ids})
        wanted = [clause for clause, used in (
            (sa.tuple_(a.c.name, a.c.uri).in_(sorted(keys)), keys),
            (a.c.name.in_(sorted(names)), names), (a.c.uri.in_(sorted(uris)), uris),
            (a.c.id.in_(alias_assets), alias_assets)) if used]
        self.rows: dict[int, Any] = {}
        self.by_key: dict[tuple[str, str], int] = {}
        self.by_name: dict[str, list[int]] = defaultdict(list)
        self.by_uri: dict[str, list[int]] = defaultdict(list)
        if wanted:
            for row in conn.execute(sa.select(a.c.id, a.c.name, a.c.uri, a.c.group)
                                    .where(sa.or_(*wanted)).order_by(a.c.id)).all():
                self.rows[row.id] = row
                self.by_key[(row.name, row.uri)] = row.id
                self.by_name[row.name].append(row.id)
                self.by_uri[row.uri].append(row.id)
        q = t.asset_dag_run_queue
        self.queued: dict[int, datetime] = dict(conn.execute(
            sa.select(q.c.asset_id, q.c.created_at).where(q.c.target_dag_id == dag_id)).all())
        self.last_events: dict[int, dict[str, Any]] = {}
        self.conn = conn

    def load_events(self, asset_ids: Iterable[int]) -> None:
        """Read the newest event of each of ``asset_ids`` (one windowed query)."""
        wanted = sorted(set(asset_ids) - set(self.last_events))
        if not wanted:
            return
        ev = t.asset_event
        ranked = sa.select(
            ev.c.id, ev.c.asset_id, ev.c.timestamp, ev.c.source_dag_id, ev.c.source_task_id,
            ev.c.source_run_id, ev.c.source_map_index,
            sa.func.row_number().over(partition_by=ev.c.asset_id,
                                      order_by=(ev.c.timestamp.desc(), ev.c.id.desc()))
            .label("rank")).where(ev.c.asset_id.in_(wanted)).subquery("ranked")
        for row in self.conn.execute(sa.select(ranked).where(ranked.c.rank == 1)).all():
            self.last_events[row.asset_id] = {
                "id": row.id, "timestamp": row.timestamp, "source_dag_id": row.source_dag_id,
                "source_task_id": row.source_task_id, "source_run_id": row.source_run_id,
                "source_map_index": row.source_map_index}

    def asset(self, asset_id: int | None, name: str, uri: str, group: str) -> dict[str, Any]:
        """A leaf for one asset (``asset_id`` None: not stored, so never an event)."""
        return {"type": "asset", "id": asset_id, "name": name, "uri": uri, "group": group,
                "last_event": None if asset_id is None else self.last_events.get(asset_id),
                "queued_at": None if asset_id is None else self.queued.get(asset_id)}

    def stored(self, asset_id: int) -> dict[str, Any]:
        row = self.rows[asset_id]
        return self.asset(asset_id, row.name, row.uri, row.group)


def _resolved(lookup: _Lookup, node: Any) -> list[int]:
    """The stored asset ids a leaf stands for."""
    if isinstance(node, Asset):
        found = lookup.by_key.get((node.name, node.uri))
        return [] if found is None else [found]
    if isinstance(node, AssetAlias):
        return list(lookup.by_alias.get(node.name, ()))
    if isinstance(node, AssetNameRef):
        return list(lookup.by_name.get(node.name, ()))
    if isinstance(node, AssetUriRef):
        return list(lookup.by_uri.get(node.uri, ()))
    return []


def _leaves(node: Any) -> Iterable[Any]:
    if isinstance(node, (AssetAll, AssetAny)):
        for child in node.objects:
            yield from _leaves(child)
    elif node is not None:
        yield node


def _tree(lookup: _Lookup, node: Any) -> dict[str, Any]:
    """The condition ``node`` as the UI's tree (docs/airflow-rest-api.md C.11)."""
    if isinstance(node, (AssetAll, AssetAny)):
        return {"type": "all" if isinstance(node, AssetAll) else "any",
                "children": [_tree(lookup, child) for child in node.objects]}
    if isinstance(node, Asset):
        ids = _resolved(lookup, node)
        return lookup.asset(ids[0] if ids else None, node.name, node.uri, node.group)
    assets = [lookup.stored(i) for i in _resolved(lookup, node)]
    queued = any(leaf["queued_at"] is not None for leaf in assets)
    if isinstance(node, AssetAlias):
        return {"type": "alias", "name": node.name, "group": node.group, "assets": assets,
                "queued": queued}
    if isinstance(node, AssetRef):
        field = "name" if isinstance(node, AssetNameRef) else "uri"
        return {"type": "asset_ref", "name": node.value if field == "name" else None,
                "uri": node.value if field == "uri" else None, "assets": assets,
                "queued": queued}
    raise ValueError(f"unexpected node in an asset condition: {node!r}")


def _produced(lookup: _Lookup, tasks: Sequence[Any]) -> list[dict[str, Any]]:
    """The assets and aliases among the tasks' outlets, each once with the tasks producing it:
    assets first (by name, URI), then aliases (by name)."""
    assets: dict[tuple[str, str], tuple[Asset, list[str]]] = {}
    aliases: dict[str, tuple[AssetAlias, list[str]]] = {}
    refs: dict[tuple[str, str], tuple[AssetRef, list[str]]] = {}
    for task in tasks:
        for outlet in asset_outlets(task.outlets):
            if isinstance(outlet, Asset):
                assets.setdefault((outlet.name, outlet.uri), (outlet, []))[1].append(task.task_id)
            elif isinstance(outlet, AssetAlias):
                aliases.setdefault(outlet.name, (outlet, []))[1].append(task.task_id)
            elif isinstance(outlet, AssetRef):
                key = (type(outlet).__name__, outlet.value)
                refs.setdefault(key, (outlet, []))[1].append(task.task_id)
    lookup.load_events(i for obj, _ in [*assets.values(), *aliases.values(), *refs.values()]
                       for i in _resolved(lookup, obj))
    out: list[dict[str, Any]] = []
    for key in sorted(assets):
        obj, task_ids = assets[key]
        out.append({**_tree(lookup, obj), "task_ids": sorted(set(task_ids))})
    for key in sorted(refs):
        ref, task_ids = refs[key]
        out.append({**_tree(lookup, ref), "task_ids": sorted(set(task_ids))})
    for name in sorted(aliases):
        alias, task_ids = aliases[name]
        out.append({**_tree(lookup, alias), "task_ids": sorted(set(task_ids))})
    return out


def dag_assets(engine: Engine, bag: DBDagBag, dag_id: str) -> DagAssets:
    """The DAG's schedule condition with each asset's last event and queue state, and what its
    tasks produce, from its latest version (none stored: no condition, nothing produced).

    Raises:
        DagNotFound: no such DAG.
    """
    with engine.connect() as conn:
        name = dag_display_name(conn, dag_id)
        dag = bag.get_latest_version_of_dag(dag_id)
        condition = None if dag is None else dag.asset_condition
        tasks = [] if dag is None else list(dag.task_dict.values())
        outlets = [o for task in tasks for o in asset_outlets(task.outlets)]
        lookup = _Lookup(conn, dag_id, [*_leaves(condition), *outlets])
        lookup.load_events(i for leaf in _leaves(condition) for i in _resolved(lookup, leaf))
        tree = None if condition is None else _tree(lookup, condition)
        produces = _produced(lookup, tasks)
    return DagAssets(dag_id=dag_id, dag_display_name=name, condition=tree, produces=produces)
