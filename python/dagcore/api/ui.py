"""What the web UI reads: DAG versions and their code, tag names, the DAG list with each DAG's
latest runs, the runs x tasks grid, and backfills with their progress.

Design note. Every function answers a whole page in a fixed number of queries, whatever the
page's size (docs/airflow-rest-api.md, "UI endpoints"):

* :func:`latest_runs`: the newest ``n`` runs of every DAG of a page in ONE query, one ``LIMIT
  n`` walk of the ``(dag_id, run_after, id)`` index per DAG (a ``UNION ALL`` on SQLite, a
  ``LATERAL`` join on PostgreSQL; a window function ranked every run of the page's DAGs:
  docs/performance.md section 5);
* :func:`grid`: one query for the page of runs (with their version number), one grouped query
  ``GROUP BY run_id, task_id, state`` for their task instances; a mapped task's cell is the
  instances' aggregate state (:data:`GRID_STATE_PRIORITY`, Airflow's grid order) with counts
  per state;
* :func:`list_backfills_with_progress`: one query for the page, one grouped query for the runs
  of its backfills by state.

The grid's task structure is the DAG's latest serialized version (its task groups nested), read
through the caller's :class:`~dagcore.db_dagbag.DBDagBag`; no DAG file is parsed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore.api.backfills import Backfill, runs_done
from dagcore.api.common import in_chunks
from dagcore.api.dags import dag_display_name
from dagcore.api.dags import InvalidOrderBy, any_equal, order_clauses
from dagcore.db_dagbag import DBDagBag
from dagcore.models import tables as t
from dagcore.serialization import SerializedDAG, SerializedTask, SerializedTaskGroup

__all__ = [
    "DAG_VERSION_ORDER_FIELDS",
    "GRID_STATE_PRIORITY",
    "TAG_ORDER_FIELDS",
    "BackfillProgress",
    "DagSource",
    "DagVersionNotFound",
    "Grid",
    "InvalidOrderBy",
    "aggregate_state",
    "get_dag_source",
    "get_dag_version",
    "grid",
    "grid_structure",
    "import_errors_count",
    "latest_runs",
    "list_backfills_with_progress",
    "list_dag_tags",
    "list_dag_versions",
]

# Airflow 3's sortable fields of GET /dags/{dag_id}/dagVersions and GET /dagTags.
DAG_VERSION_ORDER_FIELDS: Final = ("id", "version_number", "bundle_name", "bundle_version")
TAG_ORDER_FIELDS: Final = ("name",)

# Airflow's grid priority (``State.state_priority``): the state shown for several task
# instances is the one of highest priority among theirs ("none": no state yet).
GRID_STATE_PRIORITY: Final = ("failed", "upstream_failed", "up_for_retry", "up_for_reschedule",
                              "queued", "scheduled", "deferred", "running", "restarting", "none",
                              "success", "skipped", "removed")
_PRIORITY: Final = {state: rank for rank, state in enumerate(GRID_STATE_PRIORITY)}
NO_STATE: Final = "none"


class DagVersionNotFound(LookupError):
    """The DAG has no version with that number."""


_VERSION_COLUMNS: Final = (t.dag_version.c.id, t.dag_version.c.version_number,
                           t.dag_version.c.dag_id, t.dag_version.c.bundle_name,
                           t.dag_version.c.bundle_version, t.dag_version.c.created_at)


def list_dag_versions(engine: Engine, dag_id: str, *, limit: int, offset: int = 0,
                      order_by: Sequence[str] = ("id",)
                      ) -> tuple[list[dict[str, Any]], int, str]:
    """A page of the DAG's versions (``dag_version`` rows), how many it has, and its display
    name.

    Raises:
        DagNotFound: no such DAG.
        InvalidOrderBy: an ``order_by`` field not in :data:`DAG_VERSION_ORDER_FIELDS`.
    """
    dv = t.dag_version
    ordering = order_clauses(order_by, DAG_VERSION_ORDER_FIELDS, lambda name: dv.c[name], dv.c.id)
    with engine.connect() as conn:
        name = dag_display_name(conn, dag_id)
        total = conn.execute(sa.select(sa.func.count()).select_from(dv)
                             .where(dv.c.dag_id == dag_id)).scalar_one()
        rows = conn.execute(sa.select(*_VERSION_COLUMNS).where(dv.c.dag_id == dag_id)
                            .order_by(*ordering).limit(limit).offset(offset)).all()
    return [dict(row._mapping) for row in rows], int(total), name


def get_dag_version(engine: Engine, dag_id: str, version_number: int
                    ) -> tuple[dict[str, Any], str]:
    """One version of the DAG and the DAG's display name.

    Raises:
        DagNotFound: no such DAG.
        DagVersionNotFound: the DAG has no such version.
    """
    dv = t.dag_version
    with engine.connect() as conn:
        name = dag_display_name(conn, dag_id)
        row = conn.execute(sa.select(*_VERSION_COLUMNS).where(
            dv.c.dag_id == dag_id, dv.c.version_number == version_number)).one_or_none()
    if row is None:
        raise DagVersionNotFound(f"The DagVersion with dag_id: `{dag_id}` and version_number: "
                                 f"`{version_number}` was not found")
    return dict(row._mapping), name


@dataclass(frozen=True, slots=True)
class DagSource:
    """A version's DAG file text (None: the version has no stored code)."""

    dag_id: str
    content: str | None
    version_number: int | None
    dag_display_name: str


def get_dag_source(engine: Engine, dag_id: str, version_number: int | None = None) -> DagSource:
    """The code of the DAG's version ``version_number`` (None: its latest version).

    Raises:
        DagNotFound: no such DAG.
        DagVersionNotFound: the DAG has no such version (or, without a number, none at all).
    """
    dv, code = t.dag_version, t.dag_code
    query = (sa.select(dv.c.version_number, code.c.source_code)
             .select_from(dv.outerjoin(code, code.c.dag_version_id == dv.c.id))
             .where(dv.c.dag_id == dag_id))
    if version_number is None:
        query = query.order_by(dv.c.version_number.desc()).limit(1)
    else:
        query = query.where(dv.c.version_number == version_number)
    with engine.connect() as conn:
        name = dag_display_name(conn, dag_id)
        row = conn.execute(query).first()
    if row is None:
        which = "any version" if version_number is None else f"version {version_number}"
        raise DagVersionNotFound(f"The source code of the Dag with ID: `{dag_id}` and "
                                 f"{which} was not found")
    return DagSource(dag_id=dag_id, content=row.source_code,
                     version_number=int(row.version_number), dag_display_name=name)


def list_dag_tags(engine: Engine, *, limit: int, offset: int = 0,
                  order_by: Sequence[str] = ("name",),
                  tag_name_pattern: str | None = None) -> tuple[list[str], int]:
    """A page of the distinct tag names (``tag_name_pattern``: a case-insensitive SQL ``LIKE``
    substring, as Airflow's ``_SearchParam``) and how many match.

    Raises:
        InvalidOrderBy: an ``order_by`` field other than ``name``.
    """
    names = sa.select(t.dag_tag.c.name).distinct()
    if tag_name_pattern:
        names = names.where(t.dag_tag.c.name.ilike(f"%{tag_name_pattern}%"))
    sub = names.subquery("tags")
    ordering = order_clauses(order_by, TAG_ORDER_FIELDS, lambda name: sub.c.name, sub.c.name)
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(sub)).scalar_one()
        rows = conn.execute(sa.select(sub.c.name).order_by(*ordering)
                            .limit(limit).offset(offset)).all()
    return [row.name for row in rows], int(total)


# -- the DAG list ---------------------------------------------------------------------------------

_RUN_SUMMARY: Final = (t.dag_run.c.run_id, t.dag_run.c.dag_id, t.dag_run.c.state,
                       t.dag_run.c.run_type, t.dag_run.c.logical_date, t.dag_run.c.run_after,
                       t.dag_run.c.start_date, t.dag_run.c.end_date)


# DAGs per latest-runs statement: each is one member of a UNION ALL (SQLite allows 500).
LATEST_RUNS_CHUNK: Final = 100


def latest_runs(engine: Engine, dag_ids: Sequence[str], n: int) -> dict[str, list[dict[str, Any]]]:
    """The newest ``n`` runs (by ``run_after``, then id) of each of ``dag_ids``, newest first.

    One statement per :data:`LATEST_RUNS_CHUNK` DAGs: one ``ORDER BY run_after DESC, id DESC
    LIMIT n`` per DAG, each a walk of the ``(dag_id, run_after, id)`` index that stops after
    ``n`` rows (SQLite: a ``UNION ALL`` of them; PostgreSQL: a ``LATERAL`` join to a ``VALUES``
    list of the ids, whose plan is one node whatever the number of DAGs); a window over every
    run of the page's DAGs (100,000 runs in scale_bench) ranked them all (docs/performance.md
    section 5)."""
    found: dict[str, list[dict[str, Any]]] = {dag_id: [] for dag_id in dag_ids}
    if n <= 0 or not dag_ids:
        return found
    dr = t.dag_run
    newest_first = (dr.c.run_after.desc(), dr.c.id.desc())
    with engine.connect() as conn:
        for part in in_chunks(list(found), LATEST_RUNS_CHUNK):
            if engine.dialect.name == "postgresql":
                # One LATERAL walk per DAG of a VALUES list: planning a UNION of 50 members
                # took longer than running it.
                wanted = sa.values(sa.column("dag_id", sa.String), name="wanted").data(
                    [(dag_id,) for dag_id in part])
                walk = (sa.select(*_RUN_SUMMARY, dr.c.id.label("pk"))
                        .where(dr.c.dag_id == wanted.c.dag_id).order_by(*newest_first)
                        .limit(n).lateral("newest"))
                query: Any = sa.select(walk).select_from(wanted.join(walk, sa.true()))
            else:
                newest = [sa.select(*_RUN_SUMMARY, dr.c.id.label("pk"))
                          .where(dr.c.dag_id == dag_id).order_by(*newest_first).limit(n)
                          .subquery(f"r{k}") for k, dag_id in enumerate(part)]
                query = (sa.union_all(*(sa.select(sub) for sub in newest)) if len(newest) > 1
                         else sa.select(newest[0]))
            rows = [dict(row._mapping) for row in conn.execute(query)]
            rows.sort(key=lambda run: (run["run_after"], run["pk"]), reverse=True)
            for run in rows:
                del run["pk"]
                found[run["dag_id"]].append(run)
    return found


def import_errors_count(engine: Engine) -> int:
    """How many files failed to import."""
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count())
                                .select_from(t.import_error)).scalar_one())


# -- the grid -------------------------------------------------------------------------------------


def aggregate_state(states: Sequence[str]) -> str | None:
    """The grid state of several task instances: the highest in :data:`GRID_STATE_PRIORITY`
    (an unknown state ranks after them all); None for no instance."""
    if not states:
        return None
    return min(states, key=lambda s: _PRIORITY.get(s, len(_PRIORITY)))


def _task_node(task: SerializedTask, group: SerializedTaskGroup) -> dict[str, Any]:
    prefix = f"{group.group_id}." if group.group_id and group.prefix_group_id else ""
    label = task.task_id[len(prefix):] if prefix and task.task_id.startswith(prefix) \
        else task.task_id
    return {"id": task.task_id, "label": label, "type": "task", "is_mapped": task.is_mapped,
            "operator": task.task_type, "children": None}


def _members(child: SerializedTask | SerializedTaskGroup) -> list[SerializedTask]:
    return list(child) if isinstance(child, SerializedTaskGroup) else [child]


def topological_children(group: SerializedTaskGroup
                         ) -> list[SerializedTask | SerializedTaskGroup]:
    """``group``'s children upstream first, as Airflow's grid orders them
    (``TaskGroup.topological_sort``: a child comes after every child of the same group that holds
    an upstream task of one of its tasks; ties keep the stored order)."""
    children = list(group.children.values())
    owner: dict[str, int] = {}
    for index, child in enumerate(children):
        for task in _members(child):
            owner[task.task_id] = index
    needs: list[set[int]] = []
    for index, child in enumerate(children):
        ups = {owner[up] for task in _members(child) for up in task.upstream_task_ids
               if up in owner}
        ups.discard(index)
        needs.append(ups)
    ordered: list[int] = []
    placed: set[int] = set()
    while len(ordered) < len(children):
        ready = [i for i in range(len(children)) if i not in placed and needs[i] <= placed]
        if not ready:  # a cycle between groups (not a valid DAG): keep the stored order
            ready = [i for i in range(len(children)) if i not in placed]
        ordered.append(ready[0])
        placed.add(ready[0])
    return [children[i] for i in ordered]


def _group_nodes(group: SerializedTaskGroup, mapped_groups: set[str]) -> list[dict[str, Any]]:
    nodes = []
    for child in topological_children(group):
        if isinstance(child, SerializedTaskGroup):
            nodes.append({"id": child.group_id, "label": child.label, "type": "group",
                          "is_mapped": child.group_id in mapped_groups, "operator": None,
                          "children": _group_nodes(child, mapped_groups)})
        else:
            nodes.append(_task_node(child, group))
    return nodes


def grid_structure(dag: SerializedDAG | None) -> list[dict[str, Any]]:
    """The grid's rows: ``dag``'s tasks upstream first (:func:`topological_children`), task
    groups as nested nodes."""
    if dag is None:
        return []
    return _group_nodes(dag.task_group, set(dag.mapped_groups))


def _leaf_ids(nodes: Sequence[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for node in nodes:
        if node["type"] == "group":
            out.extend(_leaf_ids(node["children"]))
        else:
            out.append(node["id"])
    return out


def _mapped_ids(nodes: Sequence[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for node in nodes:
        if node["type"] == "group":
            out |= _mapped_ids(node["children"])
        elif node["is_mapped"]:
            out.add(node["id"])
    return out


@dataclass(frozen=True, slots=True)
class Grid:
    """The runs x tasks grid of a DAG (see :func:`grid`)."""

    dag_id: str
    structure: list[dict[str, Any]]
    task_ids: list[str]
    runs: list[dict[str, Any]]
    cells: list[list[Any]]
    total_runs: int


def grid(engine: Engine, bag: DBDagBag, dag_id: str, *, limit: int, offset: int = 0,
         run_types: Sequence[str | None] = (), states: Sequence[str | None] = ()) -> Grid:
    """A page of the DAG's runs (newest first: ``run_after`` desc, then id desc), filtered by
    run type and state (None: NULL), each with one cell per task of :attr:`Grid.task_ids`:
    None (no task instance), the instance's state ("none" for no state), or for a mapped task
    ``{"state": <aggregate>, "counts": {state: n}}``.

    Raises:
        DagNotFound: no such DAG.
    """
    dr, dv, ti = t.dag_run, t.dag_version, t.task_instance
    conditions: list[Any] = [dr.c.dag_id == dag_id]
    if run_types:
        conditions.append(any_equal(dr.c.run_type, run_types))
    if states:
        conditions.append(any_equal(dr.c.state, states))
    page = (sa.select(dr.c.id, dr.c.run_id, dr.c.state, dr.c.run_type, dr.c.logical_date,
                      dr.c.run_after, dr.c.start_date, dr.c.end_date, dr.c.note,
                      dv.c.version_number.label("dag_version_number"))
            .select_from(dr.outerjoin(dv, dv.c.id == dr.c.created_dag_version_id))
            .where(*conditions).order_by(dr.c.run_after.desc(), dr.c.id.desc())
            .limit(limit).offset(offset))
    with engine.connect() as conn:
        dag_display_name(conn, dag_id)
        total = conn.execute(sa.select(sa.func.count()).select_from(dr)
                             .where(*conditions)).scalar_one()
        runs = [dict(row._mapping) for row in conn.execute(page)]
        page_ids = page.subquery("page")
        counted = conn.execute(
            sa.select(ti.c.run_id, ti.c.task_id, ti.c.state, sa.func.count().label("n"),
                      sa.func.max(ti.c.map_index).label("max_map_index"))
            .where(ti.c.dag_id == dag_id, ti.c.run_id.in_(sa.select(page_ids.c.run_id)))
            .group_by(ti.c.run_id, ti.c.task_id, ti.c.state)).all() if runs else []
    structure = grid_structure(bag.get_latest_version_of_dag(dag_id))
    task_ids = _leaf_ids(structure)
    mapped = _mapped_ids(structure)
    counts: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for run_id, task_id, state, n, max_map_index in counted:
        counts[run_id, task_id][state or NO_STATE] += n
        if max_map_index is not None and max_map_index >= 0:
            mapped.add(task_id)
    known = set(task_ids)
    extra = sorted({task_id for _, task_id in counts} - known)
    task_ids += extra
    cells = []
    for run in runs:
        row_cells: list[Any] = []
        for task_id in task_ids:
            found = counts.get((run["run_id"], task_id))
            if found is None:
                row_cells.append(None)
            elif task_id in mapped:
                row_cells.append({"state": aggregate_state(list(found)),
                                  "counts": dict(sorted(found.items()))})
            else:
                row_cells.append(aggregate_state(list(found)))
        cells.append(row_cells)
        del run["id"]
    return Grid(dag_id=dag_id, structure=structure, task_ids=task_ids, runs=runs, cells=cells,
                total_runs=int(total))


# -- backfills ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    """A backfill and its runs by state (``done``: success or failed)."""

    backfill: Backfill
    by_state: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    @property
    def done(self) -> int:
        return runs_done(self.by_state)


def list_backfills_with_progress(engine: Engine, *, dag_id: str | None = None, limit: int,
                                 offset: int = 0, active: bool | None = None
                                 ) -> tuple[list[BackfillProgress], int]:
    """A page of backfills (of ``dag_id`` if given; ``active``: only those not completed, or
    only the completed), newest first, with their runs by state, and how many match.
    Two queries for the page, whatever its size."""
    bf, dr = t.backfill, t.dag_run
    conditions: list[Any] = []
    if dag_id is not None:
        conditions.append(bf.c.dag_id == dag_id)
    if active is not None:
        conditions.append(bf.c.completed_at.is_(None) if active
                          else bf.c.completed_at.is_not(None))
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(bf)
                             .where(*conditions)).scalar_one()
        rows = conn.execute(sa.select(bf).where(*conditions).order_by(bf.c.id.desc())
                            .limit(limit).offset(offset)).all()
        by_state: dict[int, dict[str, int]] = {row.id: {} for row in rows}
        if rows:
            for run in conn.execute(
                    sa.select(dr.c.backfill_id, dr.c.state, sa.func.count().label("n"))
                    .where(dr.c.backfill_id.in_(list(by_state)))
                    .group_by(dr.c.backfill_id, dr.c.state)):
                by_state[run.backfill_id][run.state] = int(run.n)
    return [BackfillProgress(Backfill.from_row(row), by_state[row.id]) for row in rows], int(total)
