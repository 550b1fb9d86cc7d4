"""Time the web UI's page queries on SQLite: ``/ui/grid`` over 500 runs x 50 tasks (one task
mapped 10 ways) and ``/ui/dags``' latest runs for 100 DAGs of 30 runs each
(:mod:`dagcore.api.ui`; docs/airflow-rest-api.md, "UI endpoints").

Run: ``PYTHONPATH=python python benchmarks/ui_queries_bench.py``. Prints the best of 5 per query
beside its anchor (the same data without the grouped / window query) and a final JSON line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

DAG = '''\
from datetime import UTC, datetime
from dagcore import DAG
from dagcore.operators.bash import BashOperator
from dagcore.operators.empty import EmptyOperator
from dagcore.task_group import TaskGroup

with DAG("wide", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule="@daily"):
    prev = EmptyOperator(task_id="t0")
    for g in range(7):
        with TaskGroup(f"g{g}"):
            for i in range(7):
                cur = EmptyOperator(task_id=f"t{i}")
                prev >> cur
                prev = cur
    BashOperator.partial(task_id="mapped").expand(bash_command=["true"] * 10)
'''


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="ui_bench_"))
    home = root / "home"
    home.mkdir()
    (root / "dags").mkdir()
    (root / "dags" / "wide.py").write_text(DAG)
    env = {**os.environ, "DAGCORE_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "dagcore", "db", "migrate"], env=env, check=True,
                   capture_output=True)
    os.environ["DAGCORE_HOME"] = str(home)

    from dagcore.api import ui as api_ui
    from dagcore.dag_processing import sync_dags
    from dagcore.db import create_engine, transaction
    from dagcore.db_dagbag import DBDagBag
    from dagcore.models import tables as t
    from dagcore.models.types import uuid7

    engine = create_engine(f"sqlite:///{home / 'dagcore.db'}")
    sync_dags(root / "dags", engine=engine, min_update_interval=timedelta(0))
    bag = DBDagBag.for_api_server(engine=engine)
    dag = bag.get_latest_version_of_dag("wide")
    assert dag is not None
    tasks = [tid for tid in dag.task_dict if tid != "mapped"]
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    with transaction(engine) as conn:
        for n in range(500):
            run_id = f"run{n}"
            conn.execute(t.dag_run.insert().values(
                dag_id="wide", run_id=run_id, logical_date=t0 + timedelta(days=n),
                run_after=t0 + timedelta(days=n), state="success", run_type="scheduled"))
            rows = [{"id": uuid7(), "dag_id": "wide", "run_id": run_id, "task_id": tid,
                     "map_index": -1, "state": "success"} for tid in tasks]
            rows += [{"id": uuid7(), "dag_id": "wide", "run_id": run_id, "task_id": "mapped",
                      "map_index": i, "state": "failed" if i == 3 else "success"}
                     for i in range(10)]
            conn.execute(t.task_instance.insert(), rows)
        for d in range(100):
            conn.execute(t.dag.insert().values(dag_id=f"d{d:03}"))
            conn.execute(t.dag_run.insert(), [
                {"dag_id": f"d{d:03}", "run_id": f"r{n}", "run_after": t0 + timedelta(hours=n),
                 "state": "success", "run_type": "manual"} for n in range(30)])

    def best(call: object) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            call()  # type: ignore[operator]
            times.append(time.perf_counter() - start)
        return min(times) * 1000

    def grid_anchor() -> None:
        """Without the grouped query: every task instance row of the 500 runs, counted in
        Python (what a client of /api/v2 taskInstances would have to do, minus the HTTP)."""
        ti, dr = t.task_instance, t.dag_run
        counts: dict[tuple[str, str], dict[str, int]] = {}
        with engine.connect() as conn:
            runs = [r.run_id for r in conn.execute(
                sa.select(dr.c.run_id).where(dr.c.dag_id == "wide")
                .order_by(dr.c.run_after.desc()).limit(500))]
            for row in conn.execute(sa.select(ti.c.run_id, ti.c.task_id, ti.c.state).where(
                    ti.c.dag_id == "wide", ti.c.run_id.in_(runs))):
                cell = counts.setdefault((row.run_id, row.task_id), {})
                cell[row.state or "none"] = cell.get(row.state or "none", 0) + 1

    dag_ids = [f"d{d:03}" for d in range(100)]

    def latest_anchor() -> None:
        """One query per DAG (what the DAG list would do without the window function)."""
        dr = t.dag_run
        with engine.connect() as conn:
            for dag_id in dag_ids:
                list(conn.execute(sa.select(dr).where(dr.c.dag_id == dag_id)
                                  .order_by(dr.c.run_after.desc()).limit(14)))

    rows = [
        ("grid 500 runs x 50 tasks (+ 10 mapped)",
         best(lambda: api_ui.grid(engine, bag, "wide", limit=500)),
         "all TI rows + Python counts", best(grid_anchor)),
        ("grid 25 runs", best(lambda: api_ui.grid(engine, bag, "wide", limit=25)), "", None),
        ("latest 14 runs of 100 DAGs (one window query)",
         best(lambda: api_ui.latest_runs(engine, dag_ids, 14)),
         "one query per DAG", best(latest_anchor)),
    ]
    print(f"{'query':48} {'dagcore ms':>11} {'anchor':>30} {'anchor ms':>10} {'ratio':>7}")
    result: dict[str, object] = {"bench": "ui_queries"}
    for label, ms, anchor, anchor_ms in rows:
        ratio = f"{ms / anchor_ms:.2f}x" if anchor_ms else ""
        anchor_text = f"{anchor_ms:.1f}" if anchor_ms else ""
        print(f"{label:48} {ms:11.1f} {anchor:>30} {anchor_text:>10} {ratio:>7}")
        key = label.split(" (")[0].replace(" ", "_")
        result[key + "_ms"] = round(ms, 2)
        if anchor_ms:
            result[key + "_anchor_ms"] = round(anchor_ms, 2)
    print(json.dumps(result))
    engine.dispose()
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
