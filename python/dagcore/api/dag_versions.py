"""A DAG's versions with their stored code: what ``dagcore dags versions`` and ``dags
show-version`` print (docs/airflow-behaviour.md 1.8).

Design note. A version's code is the set of files stored with it by
:mod:`dagcore.dag_code_store`; its runs are the runs whose task instances ran with it (a run's
task instances name the version they were created with, and a backfill's run never mixes two).
Each function reads in one connection and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore.api.common import DagNotFound
from dagcore.api.ui import DagVersionNotFound
from dagcore.dag_code_store import stored_code
from dagcore.models import tables as t

__all__ = ["VersionCode", "VersionSummary", "get_version_code", "list_version_summaries"]


@dataclass(frozen=True, slots=True)
class VersionSummary:
    """One version: its number, hashes, creation time, files stored, runs and tries on it."""

    version_number: int
    version_id: str
    dag_hash: str | None
    code_hash: str | None
    created_at: datetime
    files: int
    runs: int
    task_instances: int

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version_number, "version_id": self.version_id,
                "dag_hash": self.dag_hash, "code_hash": self.code_hash,
                "created_at": self.created_at, "files": self.files, "runs": self.runs,
                "task_instances": self.task_instances}


@dataclass(frozen=True, slots=True)
class VersionCode:
    """A version's code: the DAG file's path among its files, and path -> text."""

    dag_id: str
    version_number: int
    code_hash: str
    code_path: str
    files: dict[str, str]

    @property
    def source(self) -> str:
        return self.files[self.code_path]


def _require_dag(conn: Any, dag_id: str) -> None:
    if conn.execute(sa.select(t.dag.c.dag_id).where(t.dag.c.dag_id == dag_id)).first() is None:
        raise DagNotFound(f"The Dag with ID: `{dag_id}` was not found")


def list_version_summaries(engine: Engine, dag_id: str) -> list[VersionSummary]:
    """The DAG's versions, oldest first, with what ran on each.

    Raises:
        DagNotFound: no such DAG.
    """
    dv, sd, vf, ti = t.dag_version, t.serialized_dag, t.dag_version_file, t.task_instance
    files = (sa.select(vf.c.dag_version_id, sa.func.count().label("n"))
             .group_by(vf.c.dag_version_id).subquery("files"))
    used = (sa.select(ti.c.dag_version_id,
                      sa.func.count(sa.distinct(ti.c.run_id)).label("runs"),
                      sa.func.count().label("tis"))
            .where(ti.c.dag_id == dag_id).group_by(ti.c.dag_version_id).subquery("used"))
    query = (sa.select(dv.c.id, dv.c.version_number, dv.c.created_at, dv.c.code_hash,
                       sd.c.dag_hash, files.c.n, used.c.runs, used.c.tis)
             .select_from(dv.outerjoin(sd, sd.c.dag_version_id == dv.c.id)
                          .outerjoin(files, files.c.dag_version_id == dv.c.id)
                          .outerjoin(used, used.c.dag_version_id == dv.c.id))
             .where(dv.c.dag_id == dag_id).order_by(dv.c.version_number))
    with engine.connect() as conn:
        _require_dag(conn, dag_id)
        rows = conn.execute(query).all()
    return [VersionSummary(version_number=int(row.version_number), version_id=str(row.id),
                           dag_hash=row.dag_hash, code_hash=row.code_hash,
                           created_at=row.created_at, files=int(row.n or 0),
                           runs=int(row.runs or 0), task_instances=int(row.tis or 0))
            for row in rows]


def get_version_code(engine: Engine, dag_id: str, version_number: int | None = None
                     ) -> VersionCode:
    """The code stored with the DAG's version ``version_number`` (None: the latest).

    Raises:
        DagNotFound: no such DAG.
        DagVersionNotFound: no such version, or it was stored without code (the message says
            which).
    """
    dv = t.dag_version
    query = sa.select(dv.c.id, dv.c.version_number).where(dv.c.dag_id == dag_id)
    if version_number is None:
        query = query.order_by(dv.c.version_number.desc()).limit(1)
    else:
        query = query.where(dv.c.version_number == version_number)
    with engine.connect() as conn:
        _require_dag(conn, dag_id)
        row = conn.execute(query).first()
        if row is None:
            which = "any version" if version_number is None else f"version {version_number}"
            raise DagVersionNotFound(f"Dag {dag_id!r} has no {which}")
        code = stored_code(conn, row.id)
    if code is None:
        raise DagVersionNotFound(f"version {row.version_number} of Dag {dag_id!r} was stored "
                                 "without its code (before code was stored with versions, or "
                                 "from a DAG object without a file)")
    return VersionCode(dag_id=dag_id, version_number=int(row.version_number),
                       code_hash=code.code_hash, code_path=code.code_path,
                       files={path: content.decode("utf-8", errors="replace")
                              for path, content in sorted(code.files.items())})
