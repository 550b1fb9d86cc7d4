"""Assets as the REST API and the CLI read and change them (Airflow 3's ``/assets`` routes and
``airflow assets``; docs/airflow-rest-api.md B.4, docs/airflow-behaviour.md 12.6).

Design note. All the SQL of ``/api/v2/assets...``, ``/dags/{dag_id}/assets/queuedEvents``,
``upstreamAssetEvents`` and ``dagcore assets`` lives here; the route and command layers only
parse and render. The tables are :mod:`dagcore.models.tables`' (docs/airflow-behaviour.md
12.5), written by :mod:`dagcore.asset_store`, whose functions this module reuses rather than
copies: an event created here (``POST /assets/events``) is recorded by
:func:`dagcore.asset_store.record_external_asset_event`, which queues the asset's consumers
exactly as a task's event does, so the scheduler then creates their asset-triggered runs.
Materializing an asset triggers its one producing DAG through
:func:`dagcore.api.common.trigger_dag` (a manual run without a logical date).

* An asset is read with its references in a few set-based queries per page (never one query
  per asset): the DAGs scheduled on it (``dag_schedule_asset_reference``), the tasks producing
  it (``task_outlet_asset_reference``), the aliases it resolved through, and its newest event.
* Deviations (docs/airflow-rest-api.md B.4): dagcore keeps no ``asset_active`` table, so an
  asset is *active* when a non-stale DAG references it (schedule, name or URI reference, task
  outlet) or an alias resolved to it; it keeps no task inlet references, so
  ``consuming_tasks`` is always empty; a materialization ignores producers in stale DAGs.
* Errors are typed (:class:`AssetNotFound`, :class:`AssetAliasNotFound`,
  :class:`NoProducingDag`, :class:`SeveralProducingDags`, :class:`QueuedEventNotFound`); the
  callers turn them into HTTP answers or CLI messages, each naming the value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dagcore import asset_store
from dagcore.api.common import DagNotFound, DagRun, DagRunNotFound, trigger_dag
from dagcore.api.dags import DateRange, InvalidOrderBy, order_clauses
from dagcore.db import transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.models import tables as t
from dagcore.utils import timezone

__all__ = [
    "ALIAS_ORDER_BY",
    "ASSET_ORDER_BY",
    "EVENT_ORDER_BY",
    "AliasInfo",
    "AssetInfo",
    "AssetAliasNotFound",
    "AssetNotFound",
    "DagNotFound",
    "DagRunNotFound",
    "EventFilters",
    "EventInfo",
    "InvalidOrderBy",
    "Listing",
    "NoProducingDag",
    "QueuedEvent",
    "QueuedEventNotFound",
    "SeveralProducingDags",
    "asset_by_uri",
    "create_asset_event",
    "delete_queued_events",
    "find_alias",
    "find_assets",
    "get_alias",
    "get_asset",
    "list_aliases",
    "list_asset_events",
    "list_assets",
    "list_queued_events",
    "materialize_asset",
    "producing_dag",
    "upstream_asset_events",
]

# Airflow 3's sortable fields (routes/public/assets.py SortParam); "id" is every listing's key.
ASSET_ORDER_BY: Final = ("id", "name", "uri", "created_at", "updated_at")
ALIAS_ORDER_BY: Final = ("id", "name")
EVENT_ORDER_BY: Final = ("id", "source_task_id", "source_dag_id", "source_run_id",
                         "source_map_index", "timestamp")

# The ids are INTEGER columns: a larger number names nothing (and would overflow PostgreSQL's
# parameter), so it is answered as "not found" without asking the database.
_MAX_ID: Final = 2**31 - 1


def _valid_id(value: int) -> bool:
    return 0 < value <= _MAX_ID


def _int4(value: int) -> bool:
    return -_MAX_ID - 1 <= value <= _MAX_ID


class AssetNotFound(LookupError):
    """No asset with this id (or name/URI)."""


class AssetAliasNotFound(LookupError):
    """No asset alias with this id (or name)."""


class NoProducingDag(LookupError):
    """No (non-stale) DAG has a task producing the asset."""


class SeveralProducingDags(ValueError):
    """More than one DAG produces the asset: a materialization would be ambiguous."""


class QueuedEventNotFound(LookupError):
    """No queued event matches."""


@dataclass(frozen=True, slots=True)
class AliasInfo:
    """An ``asset_alias`` row (Airflow's ``AssetAliasResponse``)."""

    id: int
    name: str
    group: str


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """An asset with its references (Airflow 3's ``AssetResponse``): ``scheduled_dags`` are
    ``{dag_id, created_at, updated_at}``, ``producing_tasks`` add ``task_id``;
    ``last_asset_event`` is ``{id, timestamp}`` or None."""

    id: int
    name: str
    uri: str
    group: str
    extra: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    scheduled_dags: list[dict[str, Any]] = field(default_factory=list)
    producing_tasks: list[dict[str, Any]] = field(default_factory=list)
    consuming_tasks: list[dict[str, Any]] = field(default_factory=list)
    aliases: list[AliasInfo] = field(default_factory=list)
    last_asset_event: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class EventInfo:
    """An asset event (Airflow 3's ``AssetEventResponse``); ``created_dagruns`` are the runs
    that consumed it, as ``{run_id, dag_id, logical_date, start_date, end_date, state,
    data_interval_start, data_interval_end}``."""

    id: int
    asset_id: int
    uri: str
    name: str
    group: str
    extra: dict[str, Any]
    source_task_id: str | None
    source_dag_id: str | None
    source_run_id: str | None
    source_map_index: int
    created_dagruns: list[dict[str, Any]]
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """An ``asset_dag_run_queue`` row (Airflow 3's ``QueuedEventResponse``)."""

    dag_id: str
    asset_id: int
    created_at: datetime
    dag_display_name: str
    uri: str


@dataclass(frozen=True, slots=True)
class Listing:
    """A page of items and how many match in all."""

    items: list[Any]
    total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFilters:
    """The filters of ``GET /assets/events`` (each None: no filter); ``name_pattern`` is a
    case-insensitive substring of the asset's name."""

    asset_id: int | None = None
    source_dag_id: str | None = None
    source_task_id: str | None = None
    source_run_id: str | None = None
    source_map_index: int | None = None
    name_pattern: str | None = None
    timestamp: DateRange = field(default_factory=DateRange)

    def conditions(self) -> list[Any]:
        ev = t.asset_event
        found: list[Any] = []
        if self.asset_id is not None:
            found.append(ev.c.asset_id == self.asset_id if _int4(self.asset_id) else sa.false())
        for column, value in ((ev.c.source_dag_id, self.source_dag_id),
                              (ev.c.source_task_id, self.source_task_id),
                              (ev.c.source_run_id, self.source_run_id)):
            if value is not None:
                found.append(column == value)
        if self.source_map_index is not None:
            found.append(ev.c.source_map_index == self.source_map_index
                         if _int4(self.source_map_index) else sa.false())
        if self.name_pattern:
            a = t.asset
            found.append(ev.c.asset_id.in_(sa.select(a.c.id).where(
                a.c.name.ilike(f"%{self.name_pattern}%"))))
        found.extend(self.timestamp.conditions(ev.c.timestamp))
        return found


# -- assets --------------------------------------------------------------------------------------


def _active_condition() -> Any:
    """An asset referenced by a non-stale DAG, or resolved through an alias (see the module
    note: dagcore's stand-in for Airflow's ``asset_active``)."""
    a, d = t.asset, t.dag
    live = sa.select(d.c.dag_id).where(d.c.is_stale == sa.false())
    ref, out = t.dag_schedule_asset_reference, t.task_outlet_asset_reference
    name_ref, uri_ref = t.dag_schedule_asset_name_reference, t.dag_schedule_asset_uri_reference
    return sa.or_(
        a.c.id.in_(sa.select(ref.c.asset_id).where(ref.c.dag_id.in_(live))),
        a.c.id.in_(sa.select(out.c.asset_id).where(out.c.dag_id.in_(live))),
        a.c.name.in_(sa.select(name_ref.c.name).where(name_ref.c.dag_id.in_(live))),
        a.c.uri.in_(sa.select(uri_ref.c.uri).where(uri_ref.c.dag_id.in_(live))),
        a.c.id.in_(sa.select(t.asset_alias_asset.c.asset_id)))


def _dag_ids_condition(dag_ids: Sequence[str]) -> Any:
    """Assets a DAG of ``dag_ids`` is scheduled on or produces (Airflow's
    ``_DagIdAssetReferenceFilter``)."""
    a, ref, out = t.asset, t.dag_schedule_asset_reference, t.task_outlet_asset_reference
    return sa.or_(a.c.id.in_(sa.select(ref.c.asset_id).where(ref.c.dag_id.in_(list(dag_ids)))),
                  a.c.id.in_(sa.select(out.c.asset_id).where(out.c.dag_id.in_(list(dag_ids)))))


def _with_references(conn: Connection, rows: Sequence[Any]) -> list[AssetInfo]:
    """``asset`` rows as :class:`AssetInfo`, their references read in one query per kind."""
    ids = [r.id for r in rows]
    if not ids:
        return []
    ref, out = t.dag_schedule_asset_reference, t.task_outlet_asset_reference
    scheduled: dict[int, list[dict[str, Any]]] = {}
    for r in conn.execute(sa.select(ref).where(ref.c.asset_id.in_(ids))
                          .order_by(ref.c.dag_id)).all():
        scheduled.setdefault(r.asset_id, []).append(
            {"dag_id": r.dag_id, "created_at": r.created_at, "updated_at": r.updated_at})
    producing: dict[int, list[dict[str, Any]]] = {}
    for r in conn.execute(sa.select(out).where(out.c.asset_id.in_(ids))
                          .order_by(out.c.dag_id, out.c.task_id)).all():
        producing.setdefault(r.asset_id, []).append(
            {"dag_id": r.dag_id, "task_id": r.task_id, "created_at": r.created_at,
             "updated_at": r.updated_at})
    al, link = t.asset_alias, t.asset_alias_asset
    aliases: dict[int, list[AliasInfo]] = {}
    for r in conn.execute(sa.select(link.c.asset_id, al.c.id, al.c.name, al.c.group)
                          .join(al, al.c.id == link.c.alias_id)
                          .where(link.c.asset_id.in_(ids)).order_by(al.c.id)).all():
        aliases.setdefault(r.asset_id, []).append(AliasInfo(r.id, r.name, r.group))
    ev = t.asset_event
    newest = (sa.select(ev.c.asset_id, sa.func.max(ev.c.timestamp).label("ts"))
              .where(ev.c.asset_id.in_(ids)).group_by(ev.c.asset_id).subquery())
    last: dict[int, dict[str, Any]] = {}
    for r in conn.execute(sa.select(ev.c.asset_id, sa.func.max(ev.c.id).label("id"),
                                    newest.c.ts)
                          .join(newest, sa.and_(newest.c.asset_id == ev.c.asset_id,
                                                newest.c.ts == ev.c.timestamp))
                          .group_by(ev.c.asset_id, newest.c.ts)).all():
        last[r.asset_id] = {"id": r.id, "timestamp": r.ts}
    return [AssetInfo(
        id=r.id, name=r.name, uri=r.uri, group=r.group, extra=dict(r.extra or {}),
        created_at=r.created_at, updated_at=r.updated_at,
        scheduled_dags=scheduled.get(r.id, []), producing_tasks=producing.get(r.id, []),
        consuming_tasks=[], aliases=aliases.get(r.id, []),
        last_asset_event=last.get(r.id)) for r in rows]


def list_assets(engine: Engine, *, limit: int | None, offset: int = 0,
                name_pattern: str | None = None, uri_pattern: str | None = None,
                dag_ids: Sequence[str] | None = None, only_active: bool = True,
                order_by: Sequence[str] = ("id",)) -> Listing:
    """A page of assets (:class:`AssetInfo`) and how many match.

    Args:
        name_pattern, uri_pattern: case-insensitive substrings (SQL ``LIKE``).
        dag_ids: only assets one of these DAGs is scheduled on or produces (None: no filter;
            an empty list matches nothing, as Airflow's).
        only_active: only active assets (see the module note).
        order_by: fields of :data:`ASSET_ORDER_BY`, ``-`` for descending.

    Raises:
        InvalidOrderBy: a bad ``order_by``.
    """
    a = t.asset
    ordering = order_clauses(order_by, ASSET_ORDER_BY, lambda name: a.c[name], a.c.id)
    conditions: list[Any] = []
    if name_pattern:
        conditions.append(a.c.name.ilike(f"%{name_pattern}%"))
    if uri_pattern:
        conditions.append(a.c.uri.ilike(f"%{uri_pattern}%"))
    if dag_ids is not None:
        conditions.append(_dag_ids_condition(dag_ids))
    if only_active:
        conditions.append(_active_condition())
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(a)
                             .where(*conditions)).scalar_one()
        rows = conn.execute(sa.select(a).where(*conditions).order_by(*ordering)
                            .limit(limit).offset(offset)).all()
        return Listing(items=_with_references(conn, rows), total=total)


def get_asset(engine: Engine, asset_id: int) -> AssetInfo:
    """One asset with its references.

    Raises:
        AssetNotFound: no asset with this id.
    """
    a = t.asset
    with engine.connect() as conn:
        row = (conn.execute(sa.select(a).where(a.c.id == asset_id)).first()
               if _valid_id(asset_id) else None)
        if row is None:
            raise AssetNotFound(f"The Asset with ID: `{asset_id}` was not found")
        return _with_references(conn, [row])[0]


def _describe(name: str | None, uri: str | None) -> str:
    """``name N and URI U`` (Airflow's CLI wording)."""
    parts = ([f"name {name}"] if name else []) + ([f"URI {uri}"] if uri else [])
    return " and ".join(parts)


def asset_by_uri(engine: Engine, uri: str) -> AssetInfo:
    """The asset of this URI (Airflow 2's datasets are unique by URI; of several assets
    sharing it, the oldest).

    Raises:
        AssetNotFound: none.
    """
    a = t.asset
    with engine.connect() as conn:
        row = conn.execute(sa.select(a).where(a.c.uri == uri).order_by(a.c.id).limit(1)).first()
        if row is None:
            raise AssetNotFound(f"The Dataset with uri: `{uri}` was not found")
        return _with_references(conn, [row])[0]


def find_assets(engine: Engine, *, name: str | None = None,
                uri: str | None = None) -> list[AssetInfo]:
    """Every asset of this name and/or URI (an asset is unique by the pair), by id.

    Raises:
        ValueError: neither given.
    """
    if not name and not uri:
        raise ValueError("Either --name or --uri is required")
    a = t.asset
    conditions = ([a.c.name == name] if name else []) + ([a.c.uri == uri] if uri else [])
    with engine.connect() as conn:
        rows = conn.execute(sa.select(a).where(*conditions).order_by(a.c.id)).all()
        return _with_references(conn, rows)


# -- aliases -------------------------------------------------------------------------------------


def list_aliases(engine: Engine, *, limit: int | None, offset: int = 0,
                 name_pattern: str | None = None,
                 order_by: Sequence[str] = ("id",)) -> Listing:
    """A page of aliases (:class:`AliasInfo`) and how many match.

    Raises:
        InvalidOrderBy: a bad ``order_by`` (fields of :data:`ALIAS_ORDER_BY`).
    """
    al = t.asset_alias
    ordering = order_clauses(order_by, ALIAS_ORDER_BY, lambda name: al.c[name], al.c.id)
    conditions = [al.c.name.ilike(f"%{name_pattern}%")] if name_pattern else []
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(al)
                             .where(*conditions)).scalar_one()
        rows = conn.execute(sa.select(al).where(*conditions).order_by(*ordering)
                            .limit(limit).offset(offset)).all()
    return Listing(items=[AliasInfo(r.id, r.name, r.group) for r in rows], total=total)


def get_alias(engine: Engine, alias_id: int) -> AliasInfo:
    """One alias.

    Raises:
        AssetAliasNotFound: no alias with this id.
    """
    al = t.asset_alias
    row = None
    if _valid_id(alias_id):
        with engine.connect() as conn:
            row = conn.execute(sa.select(al).where(al.c.id == alias_id)).first()
    if row is None:
        raise AssetAliasNotFound(f"The Asset Alias with ID: `{alias_id}` was not found")
    return AliasInfo(row.id, row.name, row.group)


def find_alias(engine: Engine, name: str) -> AliasInfo:
    """The alias of this name.

    Raises:
        AssetAliasNotFound: none (the message names it).
    """
    al = t.asset_alias
    with engine.connect() as conn:
        row = conn.execute(sa.select(al).where(al.c.name == name)).first()
    if row is None:
        raise AssetAliasNotFound(f"Asset alias with name {name} does not exist.")
    return AliasInfo(row.id, row.name, row.group)


# -- events --------------------------------------------------------------------------------------


def _run_reference(row: Any) -> dict[str, Any]:
    return {"run_id": row.run_id, "dag_id": row.dag_id, "logical_date": row.logical_date,
            "start_date": row.start_date, "end_date": row.end_date, "state": row.state,
            "data_interval_start": row.data_interval_start,
            "data_interval_end": row.data_interval_end}


def _event_infos(conn: Connection, rows: Sequence[Any]) -> list[EventInfo]:
    """``asset_event`` rows joined with their asset's name, uri and group, as
    :class:`EventInfo` with the runs that consumed each (one query)."""
    ids = [r.id for r in rows]
    consumed: dict[int, list[dict[str, Any]]] = {}
    if ids:
        dr, link = t.dag_run, t.dagrun_asset_event
        for r in conn.execute(sa.select(link.c.event_id, dr).join(dr, dr.c.id == link.c.dag_run_id)
                              .where(link.c.event_id.in_(ids)).order_by(dr.c.id)).all():
            consumed.setdefault(r.event_id, []).append(_run_reference(r))
    return [EventInfo(
        id=r.id, asset_id=r.asset_id, uri=r.uri, name=r.name, group=r.group,
        extra=dict(r.extra or {}), source_task_id=r.source_task_id,
        source_dag_id=r.source_dag_id, source_run_id=r.source_run_id,
        source_map_index=-1 if r.source_map_index is None else r.source_map_index,
        created_dagruns=consumed.get(r.id, []), timestamp=r.timestamp) for r in rows]


def _event_select() -> Any:
    ev, a = t.asset_event, t.asset
    return (sa.select(ev, a.c.name, a.c.uri, a.c.group)
            .join(a, a.c.id == ev.c.asset_id))


def list_asset_events(engine: Engine, *, limit: int | None, offset: int = 0,
                      filters: EventFilters = EventFilters(),
                      order_by: Sequence[str] = ("timestamp",)) -> Listing:
    """A page of events (:class:`EventInfo`) and how many match.

    Raises:
        InvalidOrderBy: a bad ``order_by`` (fields of :data:`EVENT_ORDER_BY`).
    """
    ev = t.asset_event
    ordering = order_clauses(order_by, EVENT_ORDER_BY, lambda name: ev.c[name], ev.c.id)
    conditions = filters.conditions()
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(ev)
                             .where(*conditions)).scalar_one()
        rows = conn.execute(_event_select().where(*conditions).order_by(*ordering)
                            .limit(limit).offset(offset)).all()
        return Listing(items=_event_infos(conn, rows), total=total)


def create_asset_event(engine: Engine, asset_id: int, extra: Mapping[str, Any]) -> EventInfo:
    """Record an event of the asset with no source task (``POST /assets/events``) and queue
    the DAGs that consume the asset, in one transaction
    (:func:`dagcore.asset_store.record_external_asset_event`).

    Raises:
        AssetNotFound: no asset with this id.
    """
    now = timezone.utcnow()
    with transaction(engine) as conn:
        event_id = (asset_store.record_external_asset_event(
            conn, asset_id=asset_id, extra=extra, now=now) if _valid_id(asset_id) else None)
        if event_id is None:
            raise AssetNotFound(f"Asset with ID: `{asset_id}` was not found")
        row = conn.execute(_event_select().where(t.asset_event.c.id == event_id)).one()
        return _event_infos(conn, [row])[0]


def upstream_asset_events(engine: Engine, dag_id: str, run_id: str) -> list[EventInfo]:
    """The events a run consumed (empty unless asset-triggered), oldest first.

    Raises:
        DagRunNotFound: no such run.
    """
    dr, link, ev = t.dag_run, t.dagrun_asset_event, t.asset_event
    with engine.connect() as conn:
        run_pk = conn.execute(sa.select(dr.c.id).where(
            dr.c.dag_id == dag_id, dr.c.run_id == run_id)).scalar_one_or_none()
        if run_pk is None:
            raise DagRunNotFound(f"The DagRun with dag_id: `{dag_id}` and run_id: `{run_id}` "
                                 f"was not found")
        rows = conn.execute(_event_select().join(link, link.c.event_id == ev.c.id)
                            .where(link.c.dag_run_id == run_pk)
                            .order_by(ev.c.timestamp, ev.c.id)).all()
        return _event_infos(conn, rows)


# -- the queue -----------------------------------------------------------------------------------


def _queue_conditions(asset_id: int | None, dag_id: str | None, before: datetime | None,
                      uri: str | None = None) -> list[Any]:
    q = t.asset_dag_run_queue
    found: list[Any] = []
    if asset_id is not None:
        found.append(q.c.asset_id == asset_id if _valid_id(asset_id) else sa.false())
    if uri is not None:
        found.append(q.c.asset_id.in_(sa.select(t.asset.c.id).where(t.asset.c.uri == uri)))
    if dag_id is not None:
        found.append(q.c.target_dag_id == dag_id)
    if before is not None:
        found.append(q.c.created_at < before)
    return found


def list_queued_events(engine: Engine, *, asset_id: int | None = None,
                       dag_id: str | None = None, before: datetime | None = None,
                       uri: str | None = None) -> list[QueuedEvent]:
    """The queue rows of an asset (by id, or every asset of a URI) and/or a DAG, created before
    ``before`` (aware), by DAG then asset."""
    q, d, a = t.asset_dag_run_queue, t.dag, t.asset
    query = (sa.select(q.c.target_dag_id, q.c.asset_id, q.c.created_at, d.c.dag_display_name,
                       a.c.uri)
             .join(d, d.c.dag_id == q.c.target_dag_id).join(a, a.c.id == q.c.asset_id)
             .where(*_queue_conditions(asset_id, dag_id, before, uri))
             .order_by(q.c.target_dag_id, q.c.asset_id))
    with engine.connect() as conn:
        return [QueuedEvent(dag_id=r.target_dag_id, asset_id=r.asset_id,
                            created_at=r.created_at,
                            dag_display_name=r.dag_display_name or r.target_dag_id, uri=r.uri)
                for r in conn.execute(query).all()]


def delete_queued_events(engine: Engine, *, asset_id: int | None = None,
                         dag_id: str | None = None, before: datetime | None = None,
                         uri: str | None = None) -> int:
    """Delete the matching queue rows (the DAGs then no longer count those assets as having an
    event); returns how many.

    Raises:
        QueuedEventNotFound: none matched.
    """
    q = t.asset_dag_run_queue
    with transaction(engine) as conn:
        deleted = conn.execute(q.delete().where(
            *_queue_conditions(asset_id, dag_id, before, uri))).rowcount
    if not deleted:
        raise QueuedEventNotFound("no queued event matched")
    return int(deleted)


# -- materialize ---------------------------------------------------------------------------------


def _producers(conn: Connection, asset_ids: Sequence[int]) -> list[str]:
    out, d = t.task_outlet_asset_reference, t.dag
    return list(conn.execute(
        sa.select(out.c.dag_id).join(d, d.c.dag_id == out.c.dag_id)
        .where(out.c.asset_id.in_(list(asset_ids)), d.c.is_stale == sa.false())
        .group_by(out.c.dag_id).order_by(out.c.dag_id)).scalars())


def producing_dag(engine: Engine, *, asset_id: int | None = None, name: str | None = None,
                  uri: str | None = None) -> str:
    """The one non-stale DAG with a task producing the asset (by id, or by name and/or URI).

    Raises:
        AssetNotFound: no such asset.
        NoProducingDag: no DAG produces it.
        SeveralProducingDags: more than one does (the message lists them).
        ValueError: no id, name or URI given.
    """
    a = t.asset
    if asset_id is not None:
        what = f"ID: {asset_id}"
        condition = a.c.id == asset_id if _valid_id(asset_id) else sa.false()
        missing = f"The Asset with ID: `{asset_id}` was not found"
    elif name or uri:
        what = _describe(name, uri)
        condition = sa.and_(*([a.c.name == name] if name else []),
                            *([a.c.uri == uri] if uri else []))
        missing = f"Asset with {what} does not exist."
    else:
        raise ValueError("Either --name or --uri is required")
    with engine.connect() as conn:
        ids = list(conn.execute(sa.select(a.c.id).where(condition)).scalars())
        if not ids:
            raise AssetNotFound(missing)
        dags = _producers(conn, ids)
    if not dags:
        raise NoProducingDag(f"No DAG materializes asset with {what}")
    if len(dags) > 1:
        raise SeveralProducingDags(f"More than one DAG materializes asset with {what}: "
                                   f"{', '.join(dags)}")
    return dags[0]


def materialize_asset(engine: Engine, *, asset_id: int | None = None, name: str | None = None,
                      uri: str | None = None, triggered_by: str,
                      triggering_user_name: str | None,
                      dag_bag: DBDagBag | None = None) -> DagRun:
    """Trigger the asset's producing DAG (Airflow 3.1's materialize): a queued manual run
    without a logical date, by :func:`dagcore.api.common.trigger_dag`.

    Raises:
        AssetNotFound, NoProducingDag, SeveralProducingDags: see :func:`producing_dag`.
        DagNotFound, DagHasImportErrors, ValueError: from ``trigger_dag``.
    """
    dag_id = producing_dag(engine, asset_id=asset_id, name=name, uri=uri)
    return trigger_dag(dag_id, logical_date=None, replace_microseconds=False,
                       triggered_by=triggered_by, triggering_user_name=triggering_user_name,
                       engine=engine, dag_bag=dag_bag)
