"""DAGs as the REST API lists, shows and pauses them (Airflow's ``GET/PATCH /dags``).

Design note. The ``dag`` table answers the columns; what only the DAG itself knows (its tags)
comes from the DAG's latest version through a :class:`~dagcore.db_dagbag.DBDagBag` (the API
server's bounded cache), never from parsing files. Filters and paging follow Airflow 3's
``GET /api/v2/dags`` (docs/airflow-rest-api.md B.2), which Airflow 2's v1 listing is a subset
of (A.2 8): ``dag_id_pattern`` is a case-insensitive SQL ``LIKE`` substring (``%`` and ``_`` are
wildcards, as Airflow's ``ilike``), ``tags`` match any (or, with ``tags_match_any=False``,
all) of the given tags, ``paused`` filters on ``is_paused``, stale DAGs are left out unless
asked for. ``total`` counts the matches before paging.

A tag filter reads the tags of every DAG the other filters let through (cached versions make
this cheap after the first time); a ``dag_tag`` table, as Airflow has, would let SQL do it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore.api.common import DagNotFound
from dagcore.api.user_input import UserInputError
from dagcore.db import transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.models import tables as t

__all__ = [
    "ORDER_BY_FIELDS",
    "DagListing",
    "DagNotFound",
    "InvalidOrderBy",
    "get_dag_info",
    "list_dags",
    "set_dag_paused",
]


class InvalidOrderBy(UserInputError):
    """An ``order_by`` field the listing cannot sort by (Airflow's message)."""


def _last_run_column(column: str) -> Any:
    dr = t.dag_run
    return (sa.select(dr.c[column]).where(dr.c.dag_id == t.dag.c.dag_id)
            .order_by(dr.c.run_after.desc(), dr.c.id.desc()).limit(1)
            .correlate(t.dag).scalar_subquery())


# Airflow 3's sortable fields of GET /dags (routes/public/dags.py, SortParam).
ORDER_BY_FIELDS: Final = ("dag_id", "dag_display_name", "next_dagrun", "last_run_state",
                          "last_run_start_date")


def _order_column(name: str) -> Any:
    if name == "dag_id":
        return t.dag.c.dag_id
    if name == "dag_display_name":
        return sa.func.coalesce(t.dag.c.dag_display_name, t.dag.c.dag_id)
    if name == "next_dagrun":
        return t.dag.c.next_dagrun
    if name == "last_run_state":
        return _last_run_column("state")
    return _last_run_column("start_date")


def _order_by(order_by: Sequence[str], allowed: Sequence[str]) -> list[Any]:
    """SQL ordering for ``order_by`` (``-`` prefix: descending), dag_id last as a tiebreaker.

    Raises:
        InvalidOrderBy: a field not in ``allowed`` (Airflow's text).
    """
    clauses: list[Any] = []
    for raw in order_by:
        name = raw[1:] if raw.startswith("-") else raw
        if name not in allowed:
            raise InvalidOrderBy(f"Ordering with '{name}' is disallowed or the attribute does "
                                 f"not exist on the model", name="order_by", value=raw)
        column = _order_column(name)
        clauses.append(column.desc() if raw.startswith("-") else column.asc())
    clauses.append(t.dag.c.dag_id.asc())
    return clauses


@dataclass(frozen=True, slots=True)
class DagListing:
    """One page of DAGs (each a mapping of the ``dag`` columns plus ``tags``) and how many
    match in all."""

    dags: list[dict[str, Any]]
    total: int


def _with_tags(row: Any, dag_bag: DBDagBag) -> dict[str, Any]:
    info = dict(row._mapping)
    info["tags"] = _tags(dag_bag, info["dag_id"])
    return info


def _tags(dag_bag: DBDagBag, dag_id: str) -> list[str]:
    dag = dag_bag.get_latest_version_of_dag(dag_id)
    return sorted(dag.tags) if dag is not None else []


def list_dags(engine: Engine, dag_bag: DBDagBag, *, limit: int, offset: int = 0,
              tags: Sequence[str] | None = None, tags_match_any: bool = True,
              dag_id_pattern: str | None = None, paused: bool | None = None,
              exclude_stale: bool = True, order_by: Sequence[str] = ("dag_id",),
              order_by_allowed: Sequence[str] = ORDER_BY_FIELDS) -> DagListing:
    """A page of DAGs (see the module note for the filters).

    Raises:
        InvalidOrderBy: an ``order_by`` field outside ``order_by_allowed``.
    """
    ordering = _order_by(order_by, order_by_allowed)
    conditions: list[Any] = []
    if exclude_stale:
        conditions.append(t.dag.c.is_stale.is_(False))
    if paused is not None:
        conditions.append(t.dag.c.is_paused.is_(paused))
    if dag_id_pattern:
        conditions.append(t.dag.c.dag_id.ilike(f"%{dag_id_pattern}%"))
    query = sa.select(t.dag).where(*conditions)
    with engine.connect() as conn:
        if not tags:
            total = conn.execute(sa.select(sa.func.count()).select_from(t.dag)
                                 .where(*conditions)).scalar_one()
            rows = conn.execute(query.order_by(*ordering).limit(limit).offset(offset)).all()
            return DagListing(dags=[_with_tags(row, dag_bag) for row in rows], total=total)
        rows = conn.execute(query.order_by(*ordering)).all()
    wanted = set(tags)
    matching = []
    for row in rows:
        info = _with_tags(row, dag_bag)
        have = set(info["tags"])
        if (have & wanted) if tags_match_any else wanted <= have:
            matching.append(info)
    return DagListing(dags=matching[offset:offset + limit], total=len(matching))


def get_dag_info(engine: Engine, dag_bag: DBDagBag, dag_id: str) -> dict[str, Any]:
    """The DAG's ``dag`` columns plus ``tags``.

    Raises:
        DagNotFound: no such DAG in the database.
    """
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.dag).where(t.dag.c.dag_id == dag_id)).one_or_none()
    if row is None:
        raise DagNotFound(f"DAG {dag_id!r} not found")
    return _with_tags(row, dag_bag)


def set_dag_paused(engine: Engine, dag_id: str, paused: bool) -> None:
    """Pause or unpause the DAG (one transaction).

    Raises:
        DagNotFound: no such DAG in the database.
    """
    with transaction(engine) as conn:
        updated = conn.execute(t.dag.update().where(t.dag.c.dag_id == dag_id)
                               .values(is_paused=paused)).rowcount
    if not updated:
        raise DagNotFound(f"DAG {dag_id!r} not found")
