#!/usr/bin/env python3
"""Time the scheduler's asset step on a real database (issue 17's target: <= 50 ms per loop).

Why: ``benchmarks/assets_bench.py`` times the condition engine alone; the scheduler's step
(``SchedulerJob._ready_for_assets``, docs/airflow-behaviour.md 12.5) also reads the queue, the
latest DAG versions and (when they change) compiles the conditions. This measures that read and
evaluation, without creating runs, on a SQLite file.

Workload (fixed seed): N consumer DAGs (default 1,000) over M assets (default 10,000), each
scheduled on an ``AssetAll`` of 10 random assets, written by the DAG processor's ``write_dag``;
about half of each DAG's ``(asset, DAG)`` pairs queued. Prints the first loop (loads the DAGs and
compiles) and the steady loops.

Usage: ``PYTHONPATH=python python benchmarks/assets_step_bench.py [N_DAGS] [N_ASSETS]``.
Not done yet: the 100,000 events of the issue's workload (they matter to run creation, not to
readiness), PostgreSQL, and the comparison with a Python evaluation in the same run.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from dagcore import DAG
from dagcore.assets import Asset, AssetAll
from dagcore.dag_processing import write_dag
from dagcore.db import create_engine, migrate, transaction
from dagcore.db_dagbag import DBDagBag
from dagcore.executors.base import BaseExecutor, ExecutorEvent, TaskWorkload
from dagcore.jobs.scheduler import SchedulerJob
from dagcore.models import tables as t
from dagcore.operators.empty import EmptyOperator

PER_DAG = 10
LOOPS = 10


class _NoExecutor(BaseExecutor):
    """Runs nothing: the step never queues tasks."""

    def start(self) -> None:
        pass

    def queue_workload(self, workload: TaskWorkload) -> None:
        raise AssertionError("the asset step queues no task")

    @property
    def running(self) -> set[Any]:
        return set()

    def heartbeat(self) -> list[ExecutorEvent]:
        return []

    def end(self, timeout: float | None = None) -> list[ExecutorEvent]:
        return []

    def terminate(self) -> None:
        pass


def main() -> None:
    n_dags = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    n_assets = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    engine = create_engine(f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    migrate(engine)
    rng = random.Random(1)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with transaction(engine) as conn:
        conn.execute(t.asset.insert(), [
            {"name": f"s3://b/{i}", "uri": f"s3://b/{i}", "group": "asset", "extra": {},
             "created_at": now, "updated_at": now} for i in range(n_assets)])
        for k in range(n_dags):
            leaves = (Asset(f"s3://b/{i}") for i in rng.sample(range(n_assets), PER_DAG))
            with DAG(f"c{k}", schedule=AssetAll(*leaves), start_date=now,
                     is_paused_upon_creation=False) as dag:
                EmptyOperator(task_id="x")
            write_dag(conn, dag, now=now)
        ref = t.dag_schedule_asset_reference
        queued = [{"asset_id": a, "target_dag_id": d, "created_at": now}
                  for a, d in conn.execute(sa.select(ref.c.asset_id, ref.c.dag_id))
                  if rng.random() < 0.5]
        conn.execute(t.asset_dag_run_queue.insert(), queued)
    job = SchedulerJob(engine=engine, executor=_NoExecutor(64),
                       dag_bag=DBDagBag(engine=engine))
    job.job.register()
    try:
        times = []
        for _ in range(LOOPS):
            start = time.perf_counter()
            with engine.connect() as conn:
                ready, versions, _ = job._ready_for_assets(conn, lock=False)
            times.append((time.perf_counter() - start) * 1000)
    finally:
        job.job.complete("success")
    steady = sorted(times[1:])
    print(f"{n_dags} DAGs, {n_assets} assets, {len(queued)} queue rows, {len(ready)} ready")
    print(f"first loop (load + compile): {times[0]:.1f} ms; steady median "
          f"{steady[len(steady) // 2]:.1f} ms, min {steady[0]:.1f} ms")


if __name__ == "__main__":
    main()
