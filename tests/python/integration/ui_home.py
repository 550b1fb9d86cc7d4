"""A home for the web UI's endpoint tests: :func:`prepare_home`'s DAGs plus ``ui_dag`` (task
groups nested two deep, a mapped task) in two versions whose code differs, runs of every
interesting kind written straight into the database, a ``bf_dag`` to backfill, and a log
file per try the tests read.

Runs of ``ui_dag`` (oldest first), as the grid tests expect them:

* ``r1`` (version 1, success): every task success, ``m`` mapped to 3 instances;
* ``r2`` (version 1, failed): ``grp.a`` failed, its downstream upstream_failed, ``m`` never
  expanded (one instance, map index -1);
* ``r3`` (version 2, running): ``m`` has 4 instances (success, failed, no state, up_for_retry),
  ``grp.inner.b`` running, ``end`` without a state or version of its own, and a task ``ghost``
  the latest version does not have;
* ``r4`` (version 2, manual, queued): no task instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from api_server_process import database_url_of, prepare_home

from dagcore.db import create_engine, transaction
from dagcore.models import tables as t
from dagcore.models.types import uuid7

UI_DAG_V1 = '''\
from datetime import UTC, datetime

from dagcore import DAG
from dagcore.operators.bash import BashOperator
from dagcore.operators.empty import EmptyOperator
from dagcore.task_group import TaskGroup

with DAG("ui_dag", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule="@daily",
         tags=["ui", "etl"], dag_display_name="UI Dag"):
    start = EmptyOperator(task_id="start")
    with TaskGroup("grp"):
        a = EmptyOperator(task_id="a")
        with TaskGroup("inner"):
            b = EmptyOperator(task_id="b")
        a >> b
    m = BashOperator.partial(task_id="m").expand(bash_command=["true", "false", "true"])
    end = EmptyOperator(task_id="end")
    start >> a
    b >> m >> end

with DAG("bf_dag", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule="@daily",
         is_paused_upon_creation=True):
    EmptyOperator(task_id="only")
'''
# Version 2: one more task at the end (and so different code).
UI_DAG_V2 = UI_DAG_V1.replace(
    "    start >> a\n",
    "    extra = EmptyOperator(task_id=\"extra\")\n    end >> extra\n    start >> a\n")

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class UiHome:
    home: Path
    v1: str  # the ids of ui_dag's versions
    v2: str

    def log_file(self, run_id: str, task_id: str, try_number: int = 1,
                 map_index: int = -1) -> Path:
        path = (self.home / "logs" / "dag_id=ui_dag" / f"run_id={run_id}" / f"task_id={task_id}")
        if map_index >= 0:
            path = path / f"map_index={map_index}"
        path.mkdir(parents=True, exist_ok=True)
        return path / f"attempt={try_number}.log"


def _version_id(conn: sa.engine.Connection, dag_id: str, number: int) -> Any:
    return conn.execute(sa.select(t.dag_version.c.id).where(
        t.dag_version.c.dag_id == dag_id, t.dag_version.c.version_number == number)).scalar_one()


def _run(conn: sa.engine.Connection, dag_id: str, run_id: str, day: int, state: str,
         version: Any, run_type: str = "scheduled", note: str | None = None) -> None:
    at = T0 + timedelta(days=day)
    start = at + timedelta(hours=1) if state != "queued" else None
    end = at + timedelta(hours=1, seconds=90) if state in ("success", "failed") else None
    conn.execute(t.dag_run.insert().values(
        dag_id=dag_id, run_id=run_id, logical_date=at, run_after=at, state=state,
        run_type=run_type, start_date=start, end_date=end, created_dag_version_id=version,
        note=note))


def _tis(conn: sa.engine.Connection, run_id: str, version: Any,
         states: list[tuple[str, int, str | None]]) -> None:
    conn.execute(t.task_instance.insert(), [
        {"id": uuid7(), "dag_id": "ui_dag", "run_id": run_id, "task_id": task_id,
         "map_index": map_index, "state": state, "try_number": 1, "dag_version_id": version,
         "pool": "default_pool"}
        for task_id, map_index, state in states])


def build_ui_home(root: Path, database_url: str | None = None) -> UiHome:
    from dagcore.dag_processing import sync_dags

    home = prepare_home(root, database_url=database_url)
    dag_file = root / "dags" / "ui_dag.py"
    dag_file.write_text(UI_DAG_V1)
    engine = create_engine(database_url_of(home))
    try:
        result = sync_dags(root / "dags", engine=engine, min_update_interval=timedelta(0))
        assert not result.import_errors, result.import_errors
        with transaction(engine) as conn:
            v1 = _version_id(conn, "ui_dag", 1)
            _run(conn, "ui_dag", "r1", 0, "success", v1)
            _tis(conn, "r1", v1, [("start", -1, "success"), ("grp.a", -1, "success"),
                                  ("grp.inner.b", -1, "success"), ("m", 0, "success"),
                                  ("m", 1, "success"), ("m", 2, "success"),
                                  ("end", -1, "success")])
            _run(conn, "ui_dag", "r2", 1, "failed", v1)
            _tis(conn, "r2", v1, [("start", -1, "success"), ("grp.a", -1, "failed"),
                                  ("grp.inner.b", -1, "upstream_failed"),
                                  ("m", -1, "upstream_failed"), ("end", -1, "upstream_failed")])
        dag_file.write_text(UI_DAG_V2)
        result = sync_dags(root / "dags", engine=engine, min_update_interval=timedelta(0))
        assert not result.import_errors, result.import_errors
        with transaction(engine) as conn:
            v2 = _version_id(conn, "ui_dag", 2)
            _run(conn, "ui_dag", "r3", 2, "running", v2, note="look here")
            _tis(conn, "r3", v2, [("start", -1, "success"), ("grp.a", -1, "success"),
                                  ("grp.inner.b", -1, "running"), ("m", 0, "success"),
                                  ("m", 1, "failed"), ("m", 2, None), ("m", 3, "up_for_retry"),
                                  ("ghost", -1, "removed")])
            _tis(conn, "r3", None, [("end", -1, None)])
            _run(conn, "ui_dag", "r4", 3, "queued", v2, run_type="manual")
            etl_v = _version_id(conn, "etl_daily", 1)
            for day, state in ((10, "success"), (11, "failed"), (12, "running")):
                _run(conn, "etl_daily", f"etl{day}", day, state, etl_v)
            _run(conn, "ml_train", "ml1", 5, "success", _version_id(conn, "ml_train", 1))
    finally:
        engine.dispose()
    return UiHome(home=home, v1=str(v1), v2=str(v2))
