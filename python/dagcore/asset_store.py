"""Assets in the metadata database: references written by the DAG processor, events recorded by
the task runner, the queue the scheduler reads (docs/airflow-behaviour.md 11, 12).

Design note. Every function here works inside the caller's transaction (a ``Connection``), so
that what it writes commits or rolls back with the caller's change: the DAG processor's write
of a DAG, the task runner's success of a try, the scheduler's creation of a run.

* :func:`sync_dag_assets` (DAG processor): the assets a DAG references (the ``asset`` leaves of
  its schedule's condition, the assets and aliases among its tasks' outlets) are inserted when
  new (unique by ``(name, uri)``; group and extra follow the latest parse), aliases likewise
  (unique by name), and the DAG's reference rows are rewritten:
  ``dag_schedule_asset_reference`` (assets), ``dag_schedule_asset_alias_reference`` (aliases),
  ``dag_schedule_asset_name_reference`` / ``..._uri_reference`` (``Asset.ref(name=|uri=)``),
  ``task_outlet_asset_reference``.
* :func:`record_asset_events` (task runner): one ``asset_event`` per reported event (an event
  through an alias also links the alias to its asset and the event to the alias), and one
  ``asset_dag_run_queue`` row per DAG whose schedule names the asset, the alias the event came
  through, or the asset's name or URI (paused DAGs too; stale ones not; Airflow's
  ``AssetManager.register_asset_change``). An existing queue row is kept, its ``created_at``
  moved to the newest event (Airflow's later ``ON CONFLICT DO UPDATE ... WHERE created_at <
  excluded.created_at``): the scheduler consumes the events up to the newest ``created_at``
  of a DAG's rows, so two events of one asset before the consumer runs both go to its one
  run.
* :func:`record_external_asset_event` (REST ``POST /assets/events``): one event of a stored
  asset with no source task, its consumers queued by the same code.
* :func:`consume_asset_events` (scheduler): links a new asset-triggered run to the events of the
  DAG's scheduled assets with ``previous asset-triggered run_after < timestamp <= run_after``
  (Airflow's ``_create_dag_runs_asset_triggered``) and deletes the DAG's queue rows up to
  ``run_after``. Deviation: Airflow deletes all of them; a row whose newest event came after
  ``run_after`` (recorded meanwhile by a task on another connection) would then be lost
  although its event is not in the run; dagcore keeps it for the next run.
* :func:`triggering_asset_events` and :func:`inlet_asset_events` read events back for the task
  context, as :class:`StoredAssetEvent` records.

Deviation: an ``asset_event`` row cascades with its asset (Airflow keeps events of removed assets
through ``asset_active``; dagcore does not delete assets yet).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from dagcore.assets import Asset, AssetAlias, AssetEventRecord
from dagcore.models import tables as t

__all__ = [
    "TARGETED_LEAVES",
    "StoredAssetEvent",
    "consume_asset_events",
    "inlet_asset_events",
    "leaf_resolver",
    "record_asset_events",
    "record_external_asset_event",
    "sync_dag_assets",
    "triggering_asset_events",
]

_ASSET_TYPES = ("asset", "dataset")
_ALIAS_TYPES = ("asset_alias", "dataset_alias")
_GROUP_TYPES = ("asset_all", "asset_any", "dataset_all", "dataset_any")
_REF_TYPES = ("asset_ref", "asset_name_ref", "asset_uri_ref")


def _insert(conn: Connection, table: sa.Table) -> Any:
    """An INSERT that has ``on_conflict_do_*`` on both supported backends."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _asset_fields(node: Mapping[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    """(name, uri, group, extra) of a serialized asset leaf (Airflow 2's has only uri)."""
    uri = node.get("uri") or node.get("name")
    name = node.get("name") or uri
    if not isinstance(name, str) or not isinstance(uri, str):
        raise ValueError(f"an asset needs a string name or uri, got {dict(node)!r}")
    group = node.get("group") or ("dataset" if node.get("__type") == "dataset" else "asset")
    extra = node.get("extra") or {}
    return name, uri, str(group), dict(extra)


def _condition_leaves(node: Any) -> Iterator[Mapping[str, Any]]:
    """The leaves of a serialized condition, depth first."""
    if isinstance(node, (list, tuple)):
        for child in node:
            yield from _condition_leaves(child)
    elif isinstance(node, Mapping):
        if node.get("__type") in _GROUP_TYPES:
            for child in node.get("objects") or ():
                yield from _condition_leaves(child)
        else:
            yield node


def _upsert_assets(conn: Connection, assets: Iterable[tuple[str, str, str, dict[str, Any]]],
                   now: datetime) -> dict[tuple[str, str], int]:
    """Insert the assets that are new, update group/extra of the others; returns their ids by
    ``(name, uri)``."""
    wanted: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for name, uri, group, extra in assets:
        wanted[(name, uri)] = (group, extra)
    if not wanted:
        return {}
    a = t.asset
    found = {(r.name, r.uri): r for r in conn.execute(
        sa.select(a.c.id, a.c.name, a.c.uri, a.c.group, a.c.extra).where(
            sa.tuple_(a.c.name, a.c.uri).in_(list(wanted)))).all()}
    missing = [key for key in wanted if key not in found]
    if missing:
        conn.execute(
            _insert(conn, a).on_conflict_do_nothing(index_elements=["name", "uri"]),
            [{"name": n, "uri": u, "group": wanted[(n, u)][0], "extra": wanted[(n, u)][1],
              "created_at": now, "updated_at": now} for n, u in missing])
    for key, row in found.items():
        group, extra = wanted[key]
        if row.group != group or (row.extra or {}) != extra:
            conn.execute(a.update().where(a.c.id == row.id).values(
                group=group, extra=extra, updated_at=now))
    ids = {(r.name, r.uri): r.id for r in conn.execute(
        sa.select(a.c.id, a.c.name, a.c.uri).where(
            sa.tuple_(a.c.name, a.c.uri).in_(list(wanted)))).all()}
    return ids


def _upsert_aliases(conn: Connection, aliases: Mapping[str, str]) -> dict[str, int]:
    """Insert the aliases (name -> group) that are new; returns their ids by name."""
    if not aliases:
        return {}
    al = t.asset_alias
    conn.execute(_insert(conn, al).on_conflict_do_nothing(index_elements=["name"]),
                 [{"name": n, "group": g} for n, g in aliases.items()])
    return dict(conn.execute(sa.select(al.c.name, al.c.id).where(
        al.c.name.in_(list(aliases)))).all())


def _rewrite(conn: Connection, table: sa.Table, dag_id: str, keys: set[tuple[Any, ...]],
             key_columns: Sequence[str], now: datetime) -> None:
    """The DAG's rows of a reference table become ``keys`` (deleted, inserted; kept rows keep
    their ``created_at``)."""
    stamps: dict[str, Any] = {"created_at": now}
    if "updated_at" in table.c:
        stamps["updated_at"] = now
    cols = [table.c[name] for name in key_columns]
    have = {tuple(r) for r in conn.execute(sa.select(*cols).where(
        table.c.dag_id == dag_id)).all()}
    for gone in have - keys:
        conn.execute(table.delete().where(table.c.dag_id == dag_id,
                                          *(c == v for c, v in zip(cols, gone))))
    new = keys - have
    if new:
        conn.execute(table.insert(), [
            {"dag_id": dag_id, **dict(zip(key_columns, key)), **stamps}
            for key in sorted(new)])


def sync_dag_assets(conn: Connection, dag_id: str, data: Mapping[str, Any],
                    now: datetime) -> None:
    """Store the assets a serialized DAG references and rewrite its reference rows.

    Args:
        conn: a connection in the DAG's write transaction (its ``dag`` row exists).
        dag_id: the DAG.
        data: its serialized form (:func:`dagcore.serialization.serialize_dag`).
        now: the time written.

    Raises:
        ValueError: an asset leaf without a string name or uri (naming it).
    """
    d = data.get("dag", {})
    timetable = d.get("timetable") or {}
    condition = (timetable.get("__var") or {}).get("asset_condition")
    leaves = list(_condition_leaves(condition))
    schedule = [_asset_fields(leaf) for leaf in leaves if leaf.get("__type") in _ASSET_TYPES]
    aliases: dict[str, str] = {}
    schedule_aliases: set[str] = set()
    ref_names: set[str] = set()
    ref_uris: set[str] = set()
    for leaf in leaves:
        kind = leaf.get("__type")
        if kind in _ALIAS_TYPES and isinstance(leaf.get("name"), str):
            aliases[leaf["name"]] = leaf.get("group") or "asset"
            schedule_aliases.add(leaf["name"])
        elif kind in _REF_TYPES:
            if isinstance(leaf.get("name"), str):
                ref_names.add(leaf["name"])
            elif isinstance(leaf.get("uri"), str):
                ref_uris.add(leaf["uri"])
    outlets: list[tuple[str, tuple[str, str, str, dict[str, Any]]]] = []
    for task in d.get("tasks") or ():
        for value in task.get("outlets") or ():
            if not isinstance(value, Mapping):
                continue
            kind, var = value.get("__type"), value.get("__var") or {}
            if kind in _ASSET_TYPES:
                outlets.append((task["task_id"], _asset_fields({"__type": kind, **var})))
            elif kind in _ALIAS_TYPES and isinstance(var.get("name"), str):
                aliases[var["name"]] = var.get("group") or "asset"
    ids = _upsert_assets(conn, [*schedule, *(fields for _, fields in outlets)], now)
    alias_ids = _upsert_aliases(conn, aliases)
    _rewrite(conn, t.dag_schedule_asset_reference, dag_id,
             {(ids[(n, u)],) for n, u, _, _ in schedule}, ["asset_id"], now)
    _rewrite(conn, t.dag_schedule_asset_alias_reference, dag_id,
             {(alias_ids[name],) for name in schedule_aliases}, ["alias_id"], now)
    _rewrite(conn, t.dag_schedule_asset_name_reference, dag_id,
             {(name,) for name in ref_names}, ["name"], now)
    _rewrite(conn, t.dag_schedule_asset_uri_reference, dag_id,
             {(uri,) for uri in ref_uris}, ["uri"], now)
    _rewrite(conn, t.task_outlet_asset_reference, dag_id,
             {(ids[(f[0], f[1])], task_id) for task_id, f in outlets},
             ["asset_id", "task_id"], now)


def record_asset_events(conn: Connection, events: Sequence[AssetEventRecord], *, dag_id: str,
                        task_id: str, run_id: str, map_index: int, now: datetime) -> list[int]:
    """Record the events of a successful try and queue the DAGs that consume their assets.

    Args:
        conn: a connection in the transaction that records the try's success.
        events: ``context["outlet_events"].events()``.
        dag_id, task_id, run_id, map_index: the producing task instance.
        now: the events' timestamp (and their queue rows' ``created_at``).

    Returns:
        The new events' ids, in order.
    """
    if not events:
        return []
    ids = _upsert_assets(conn, [(e.asset.name, e.asset.uri, e.asset.group, e.asset.extra)
                                for e in events], now)
    alias_ids = _upsert_aliases(conn, {e.alias.name: e.alias.group for e in events
                                       if e.alias is not None})
    ev = t.asset_event
    event_ids: list[int] = []
    for record in events:
        asset_id = ids[(record.asset.name, record.asset.uri)]
        event_id = conn.execute(ev.insert().values(
            asset_id=asset_id, extra=dict(record.extra), source_dag_id=dag_id,
            source_task_id=task_id, source_run_id=run_id, source_map_index=map_index,
            timestamp=now)).inserted_primary_key[0]
        event_ids.append(event_id)
        if record.alias is not None:
            alias_id = alias_ids[record.alias.name]
            conn.execute(_insert(conn, t.asset_alias_asset).on_conflict_do_nothing(),
                         {"alias_id": alias_id, "asset_id": asset_id})
            conn.execute(t.asset_alias_asset_event.insert().values(alias_id=alias_id,
                                                                   event_id=event_id))
    _queue_consumers(conn, [(ids[(e.asset.name, e.asset.uri)], e.asset.name, e.asset.uri,
                             None if e.alias is None else alias_ids[e.alias.name])
                            for e in events], now)
    return event_ids


def record_external_asset_event(conn: Connection, *, asset_id: int, extra: Mapping[str, Any],
                                now: datetime) -> int | None:
    """Record an event of a stored asset that no task produced (``POST /assets/events``,
    Airflow's ``register_asset_change`` without a task instance) and queue its consumers as
    :func:`record_asset_events` does.

    Returns:
        The new event's id, or None when there is no asset with this id (nothing written).
    """
    a = t.asset
    row = conn.execute(sa.select(a.c.id, a.c.name, a.c.uri).where(a.c.id == asset_id)).first()
    if row is None:
        return None
    event_id = conn.execute(t.asset_event.insert().values(
        asset_id=row.id, extra=dict(extra), source_dag_id=None, source_task_id=None,
        source_run_id=None, source_map_index=-1, timestamp=now)).inserted_primary_key[0]
    _queue_consumers(conn, [(row.id, row.name, row.uri, None)], now)
    return int(event_id)


def _queue_consumers(conn: Connection, recorded: Sequence[tuple[int, str, str, int | None]],
                     now: datetime) -> None:
    """Queue ``(asset, DAG)`` for every non-stale DAG (paused too) whose schedule names the
    asset, an alias it came through, or its name or URI (Airflow's ``register_asset_change``).

    Args:
        recorded: per event, ``(asset id, name, uri, alias id or None)``.
    """
    ref, al_ref = t.dag_schedule_asset_reference, t.dag_schedule_asset_alias_reference
    name_ref, uri_ref = t.dag_schedule_asset_name_reference, t.dag_schedule_asset_uri_reference
    by_asset: dict[int, list[int]] = {}
    by_alias: dict[int, list[int]] = {}
    by_name: dict[str, list[int]] = {}
    by_uri: dict[str, list[int]] = {}
    for asset_id, name, uri, alias_id in recorded:
        by_asset.setdefault(asset_id, []).append(asset_id)
        by_name.setdefault(name, []).append(asset_id)
        by_uri.setdefault(uri, []).append(asset_id)
        if alias_id is not None:
            by_alias.setdefault(alias_id, []).append(asset_id)
    targets: set[tuple[int, str]] = set()
    lookups: list[tuple[sa.Table, Any, Mapping[Any, list[int]]]] = [
        (ref, ref.c.asset_id, by_asset), (al_ref, al_ref.c.alias_id, by_alias),
        (name_ref, name_ref.c.name, by_name), (uri_ref, uri_ref.c.uri, by_uri)]
    for table, column, index in lookups:
        if not index:
            continue
        for key, dag_id in conn.execute(sa.select(column, table.c.dag_id).where(
                column.in_(list(index)))).all():
            targets.update((asset_id, dag_id) for asset_id in index[key])
    if not targets:
        return
    d = t.dag
    active = set(conn.execute(sa.select(d.c.dag_id).where(
        d.c.dag_id.in_(sorted({dag for _, dag in targets})),
        d.c.is_stale == sa.false())).scalars())
    rows = [{"asset_id": a, "target_dag_id": dag, "created_at": now}
            for a, dag in sorted(targets) if dag in active]
    if not rows:
        return
    q = t.asset_dag_run_queue
    stmt = _insert(conn, q)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["asset_id", "target_dag_id"],
            set_={"created_at": stmt.excluded.created_at},
            where=q.c.created_at < stmt.excluded.created_at),
        rows)


TARGETED_LEAVES = 200
"""Up to this many leaves, :func:`leaf_resolver` reads only their assets; above, every asset."""


def leaf_resolver(conn: Connection, conditions: Iterable[Any] | None = None) -> Any:
    """A resolver for :class:`dagcore.asset_conditions.AssetConditions` over the stored assets:
    an asset leaf is its ``(name, uri)`` row (none: false), a reference every asset of that
    name or URI, an alias the assets it has resolved to.

    With ``conditions`` (the serialized conditions about to be resolved) of at most
    :data:`TARGETED_LEAVES` leaves, only the assets and aliases they name are read (the
    scheduler compiling one changed DAG reads a few rows, not every asset); the resolver then
    answers for those leaves only."""
    a, link, al = t.asset, t.asset_alias_asset, t.asset_alias
    asset_query = sa.select(a.c.id, a.c.name, a.c.uri)
    alias_query: Any = sa.select(al.c.name, link.c.asset_id).join(
        link, link.c.alias_id == al.c.id)
    leaves = None if conditions is None else [
        leaf for condition in conditions for leaf in _condition_leaves(condition)]
    if leaves is not None and len(leaves) <= TARGETED_LEAVES:
        names: set[str] = set()
        uris: set[str] = set()
        aliases: set[str] = set()
        for leaf in leaves:
            kind = leaf.get("__type")
            if kind in _ALIAS_TYPES:
                aliases.add(str(leaf.get("name")))
            elif kind in _ASSET_TYPES:
                try:
                    name, uri, _, _ = _asset_fields(leaf)
                except ValueError:
                    continue  # resolve_condition names the bad leaf before resolving it
                names.add(name)
                uris.add(uri)
            elif "name" in leaf:
                names.add(str(leaf["name"]))
            else:
                uris.add(str(leaf.get("uri")))
        asset_query = asset_query.where(sa.or_(a.c.name.in_(sorted(names)),
                                               a.c.uri.in_(sorted(uris))))
        alias_query = alias_query.where(al.c.name.in_(sorted(aliases))) if aliases else None
    by_key: dict[tuple[str, str], int] = {}
    by_name: dict[str, list[int]] = {}
    by_uri: dict[str, list[int]] = {}
    for asset_id, name, uri in conn.execute(asset_query).all():
        by_key[(name, uri)] = asset_id
        by_name.setdefault(name, []).append(asset_id)
        by_uri.setdefault(uri, []).append(asset_id)
    by_alias: dict[str, list[int]] = {}
    for name, asset_id in conn.execute(alias_query).all() if alias_query is not None else ():
        by_alias.setdefault(name, []).append(asset_id)

    def resolve(leaf: Mapping[str, Any]) -> list[int]:
        kind = leaf.get("__type")
        if kind in _ASSET_TYPES:
            name, uri, _, _ = _asset_fields(leaf)
            found = by_key.get((name, uri))
            return [] if found is None else [found]
        if kind in _ALIAS_TYPES:
            return list(by_alias.get(str(leaf.get("name")), ()))
        if "name" in leaf:
            return list(by_name.get(str(leaf["name"]), ()))
        return list(by_uri.get(str(leaf.get("uri")), ()))

    return resolve


def consume_asset_events(conn: Connection, *, dag_id: str, dag_run_id: int,
                         run_after: datetime) -> int:
    """Link a new asset-triggered run to the events it consumes and clear the DAG's queue.

    The events are those of the DAG's scheduled assets (named, referenced by name or URI, or
    recorded through an alias it is scheduled on) with a timestamp after the previous
    asset-triggered run's ``run_after`` and at most this one's (Airflow's
    ``_create_dag_runs_asset_triggered``). The DAG's queue rows up to ``run_after`` are
    deleted. Returns how many were linked.
    """
    dr, ev, ref = t.dag_run, t.asset_event, t.dag_schedule_asset_reference
    previous = conn.execute(sa.select(sa.func.max(dr.c.run_after)).where(
        dr.c.dag_id == dag_id, dr.c.run_type == "asset_triggered",
        dr.c.run_after < run_after)).scalar_one()
    a, name_ref, uri_ref = t.asset, t.dag_schedule_asset_name_reference, \
        t.dag_schedule_asset_uri_reference
    al_ref, via = t.dag_schedule_asset_alias_reference, t.asset_alias_asset_event
    scheduled = sa.or_(
        ev.c.asset_id.in_(sa.select(ref.c.asset_id).where(ref.c.dag_id == dag_id)),
        ev.c.asset_id.in_(sa.select(a.c.id).where(a.c.name.in_(
            sa.select(name_ref.c.name).where(name_ref.c.dag_id == dag_id)))),
        ev.c.asset_id.in_(sa.select(a.c.id).where(a.c.uri.in_(
            sa.select(uri_ref.c.uri).where(uri_ref.c.dag_id == dag_id)))),
        ev.c.id.in_(sa.select(via.c.event_id).where(via.c.alias_id.in_(
            sa.select(al_ref.c.alias_id).where(al_ref.c.dag_id == dag_id)))))
    query = sa.select(ev.c.id).where(scheduled, ev.c.timestamp <= run_after)
    if previous is not None:
        query = query.where(ev.c.timestamp > previous)
    event_ids = list(conn.execute(query.order_by(ev.c.timestamp, ev.c.id)).scalars())
    if event_ids:
        conn.execute(t.dagrun_asset_event.insert(),
                     [{"dag_run_id": dag_run_id, "event_id": e} for e in event_ids])
    # Rows of events after run_after (recorded while the run was being created, on another
    # connection) stay and trigger the next run; Airflow deletes all the DAG's rows.
    q = t.asset_dag_run_queue
    conn.execute(q.delete().where(q.c.target_dag_id == dag_id, q.c.created_at <= run_after))
    return len(event_ids)


@dataclass(frozen=True)
class StoredAssetEvent:
    """An asset event as the task context shows it (Airflow's ``AssetEventResult``)."""

    id: int
    asset: Asset
    extra: dict[str, Any]
    source_dag_id: str | None
    source_task_id: str | None
    source_run_id: str | None
    source_map_index: int | None
    timestamp: datetime
    source_aliases: list[AssetAlias] = field(default_factory=list)

    @property
    def dataset(self) -> Asset:
        """Airflow 2's name of :attr:`asset` (``DatasetEvent.dataset``)."""
        return self.asset


def _events(conn: Connection, where: Any, *, join_run: int | None = None) -> list[
        StoredAssetEvent]:
    ev, a = t.asset_event, t.asset
    query = (sa.select(ev, a.c.name, a.c.uri, a.c.group, a.c.extra.label("asset_extra"))
             .join(a, a.c.id == ev.c.asset_id))
    if join_run is not None:
        link = t.dagrun_asset_event
        query = query.join(link, link.c.event_id == ev.c.id).where(
            link.c.dag_run_id == join_run)
    rows = conn.execute(query.where(where).order_by(ev.c.timestamp, ev.c.id)).all()
    aliases: dict[int, list[AssetAlias]] = {}
    if rows:
        al, link2 = t.asset_alias, t.asset_alias_asset_event
        for event_id, name, group in conn.execute(
                sa.select(link2.c.event_id, al.c.name, al.c.group)
                .join(al, al.c.id == link2.c.alias_id)
                .where(link2.c.event_id.in_([r.id for r in rows]))).all():
            aliases.setdefault(event_id, []).append(AssetAlias(name, group=group))
    return [StoredAssetEvent(
        id=r.id, asset=Asset(name=r.name, uri=r.uri, group=r.group, extra=r.asset_extra),
        extra=dict(r.extra or {}), source_dag_id=r.source_dag_id,
        source_task_id=r.source_task_id, source_run_id=r.source_run_id,
        source_map_index=r.source_map_index, timestamp=r.timestamp,
        source_aliases=aliases.get(r.id, [])) for r in rows]


def triggering_asset_events(conn: Connection, dag_run_id: int) -> list[StoredAssetEvent]:
    """The events a run consumed (none for a run that was not asset-triggered), oldest
    first."""
    return _events(conn, sa.true(), join_run=dag_run_id)


def inlet_asset_events(conn: Connection, *, name: str | None = None, uri: str | None = None,
                       alias: str | None = None) -> list[StoredAssetEvent]:
    """All events of the asset(s) of this name and/or URI, or recorded through this alias,
    oldest first (Airflow's ``inlet_events[...]``)."""
    ev, a = t.asset_event, t.asset
    if alias is not None:
        link, al = t.asset_alias_asset_event, t.asset_alias
        return _events(conn, ev.c.id.in_(
            sa.select(link.c.event_id).join(al, al.c.id == link.c.alias_id)
            .where(al.c.name == alias)))
    conditions = []
    if name is not None:
        conditions.append(a.c.name == name)
    if uri is not None:
        conditions.append(a.c.uri == uri)
    if not conditions:
        raise TypeError("inlet_asset_events needs name, uri or alias")
    return _events(conn, sa.and_(*conditions))
