#!/usr/bin/env python3
"""Benchmark the scheduler loop while sensors wait in ``reschedule`` mode.

Why this benchmark exists: a sensor in reschedule mode gives up its worker slot between pokes and
waits ``up_for_reschedule`` until its reschedule date (docs/airflow-behaviour.md 10.2). The
scheduler looks at every running run's task instances on every loop, so waiting sensors must not
make the loop costly: Airflow checks ``ReadyToRescheduleDep`` per task instance in Python (a
query of ``task_reschedule`` each); dagcore reads "not yet due" as one column of the loop's
task-instance query (a correlated, indexed subquery) and skips those rows. Issue 14's target:
with 200 reschedule-mode sensors waiting, the time per scheduler loop stays within 2x of the
same DAG without the sensors.

Workloads (each on a fresh SQLite file, WAL, made by ``dagcore.db.migrate``; DAGs stored with
``write_dag``; one manual run triggered with ``trigger_dag``; an executor that accepts workloads
and never runs them):

1. ``sensors``: 200 ``PythonSensor`` tasks (``mode="reschedule"``) and 10 ``PythonOperator``
   tasks. After the run started, the sensors are set ``up_for_reschedule`` with a
   ``task_reschedule`` row due in an hour (as after their first poke), the 10 tasks
   ``running`` (a worker holds them).
2. ``no_sensors``: the same DAG without the sensors: the 10 tasks, ``running``.
3. ``running``: for reference, 210 ``PythonOperator`` tasks, all ``running`` (the sensors
   replaced by tasks that hold a worker slot).

Each is timed over ``--loops`` calls of ``SchedulerJob.run_once`` (steady state: nothing changes,
so this is the cost of looking), best of ``--repeats`` batches, garbage collector paused.
Figure: microseconds per loop; the target is ``sensors / no_sensors <= 2``.

Output: plain-text tables, the target marked PASS/MISS, then as the last line of stdout one JSON
object with every figure. A benchmark reports; it never asserts (exit status 0 either way).

Usage: ``python benchmarks/sensors_bench.py [--quick] [--loops N] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import format_table, gc_paused, missing_dagcore, ratio, rounded

try:
    import sqlalchemy as sa

    import dagcore
    from dagcore import DAG
    from dagcore.api.common import trigger_dag
    from dagcore.dag_processing import write_dag
    from dagcore.db import create_engine, migrate, transaction
    from dagcore.db_dagbag import DBDagBag
    from idle_executor import IdleExecutor
    from dagcore.jobs.scheduler import SchedulerJob
    from dagcore.models import tables as t
    from dagcore.operators.python import PythonOperator
    from dagcore.sensors.python import PythonSensor
except ImportError as exc:  # pragma: no cover - run without the package built
    raise missing_dagcore("sensors_bench", exc) from None

SENSORS = 200
TASKS = 10
TARGET_RATIO = 2.0
START = datetime(2024, 1, 1, tzinfo=UTC)


def _noop() -> bool:
    return False


def _dag(dag_id: str, sensors: int, tasks: int) -> DAG:
    with DAG(dag_id, schedule=None, start_date=START) as dag:
        for i in range(sensors):
            PythonSensor(task_id=f"sensor_{i}", python_callable=_noop, mode="reschedule",
                         poke_interval=3600, timeout=86400)
        for i in range(tasks):
            PythonOperator(task_id=f"task_{i}", python_callable=_noop)
    return dag


def _settle(engine: Any, dag_id: str) -> None:
    """Sensors up_for_reschedule (a reschedule row due in an hour), other tasks running."""
    ti, tr = t.task_instance, t.task_reschedule
    now = datetime.now(UTC)
    with transaction(engine) as conn:
        rows = conn.execute(sa.select(ti.c.id, ti.c.task_id).where(ti.c.dag_id == dag_id)).all()
        sensors = [r.id for r in rows if r.task_id.startswith("sensor_")]
        others = [r.id for r in rows if not r.task_id.startswith("sensor_")]
        if sensors:
            conn.execute(ti.update().where(ti.c.id.in_(sensors)).values(
                state="up_for_reschedule", try_number=1, start_date=now, end_date=now))
            conn.execute(tr.insert(), [{"ti_id": i, "try_number": 1, "start_date": now,
                                        "end_date": now, "duration": 0,
                                        "reschedule_date": now + timedelta(hours=1)}
                                       for i in sensors])
        if others:
            conn.execute(ti.update().where(ti.c.id.in_(others)).values(
                state="running", try_number=1, start_date=now, last_heartbeat_at=now,
                hostname="bench", pid=os.getpid()))


def _measure(home: Path, name: str, sensors: int, tasks: int, loops: int,
             repeats: int) -> dict[str, Any]:
    engine = create_engine(f"sqlite:///{home / (name + '.db')}")
    migrate(engine)
    dag = _dag(name, sensors, tasks)
    write_dag(engine, dag)
    with transaction(engine) as conn:
        conn.execute(t.dag.update().values(is_paused=False))
    job = SchedulerJob(engine=engine, executor=IdleExecutor(),
                       dag_bag=DBDagBag.for_scheduler(engine=engine),
                       idle_sleep=0.0, dags={name: dag}, single=False, create_runs=False)
    job.job.register()
    job.executor.start()
    try:
        trigger_dag(name, run_id="manual_1", engine=engine)
        for _ in range(3):  # the run starts and gets its task instances
            job.run_once()
        _settle(engine, name)
        queued_before = len(job.executor.queued)
        for _ in range(20):  # warm caches and statements
            job.run_once()
        best = float("inf")
        for _ in range(repeats):
            with gc_paused():
                started = time.perf_counter()
                for _ in range(loops):
                    job.run_once()
                best = min(best, (time.perf_counter() - started) / loops)
        with engine.connect() as conn:
            states = dict(conn.execute(sa.select(t.task_instance.c.state,
                                                 sa.func.count())
                                       .group_by(t.task_instance.c.state)).all())
    finally:
        job.job.complete("success")
        engine.dispose()
    return {"us_per_loop": best * 1e6, "states": states,
            "queued_by_loop": len(job.executor.queued) - queued_before}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer loops")
    parser.add_argument("--loops", type=int, default=None, help="loops per batch")
    parser.add_argument("--repeats", type=int, default=None, help="batches (best is kept)")
    args = parser.parse_args(argv)
    loops = args.loops or (50 if args.quick else 200)
    repeats = args.repeats or (3 if args.quick else 5)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dagcore_sensors_bench_") as tmp:
        home = Path(tmp)
        os.environ["DAGCORE_HOME"] = str(home)
        results = {
            "sensors": _measure(home, "sensors", SENSORS, TASKS, loops, repeats),
            "no_sensors": _measure(home, "no_sensors", 0, TASKS, loops, repeats),
            "running": _measure(home, "running", 0, SENSORS + TASKS, loops, repeats),
        }
    elapsed = time.perf_counter() - began
    with_s = results["sensors"]["us_per_loop"]
    without = results["no_sensors"]["us_per_loop"]
    running = results["running"]["us_per_loop"]
    fig: dict[str, Any] = {
        "benchmark": "sensors",
        "python": platform.python_version(),
        "dagcore_version": dagcore.__version__,
        "sqlalchemy": sa.__version__,
        "cpus": os.cpu_count(),
        "sensors": SENSORS, "tasks": TASKS, "loops": loops, "repeats": repeats,
        "us_per_loop_sensors": rounded(with_s, 1),
        "us_per_loop_no_sensors": rounded(without, 1),
        "us_per_loop_running": rounded(running, 1),
        "ratio_sensors_vs_no_sensors": rounded(ratio(with_s, without), 2),
        "ratio_sensors_vs_running": rounded(ratio(with_s, running), 2),
        "sensors_queued_early": results["sensors"]["queued_by_loop"],
    }
    r = fig["ratio_sensors_vs_no_sensors"]
    met = r is not None and r <= TARGET_RATIO and fig["sensors_queued_early"] == 0
    fig["targets_met"] = {"ratio_sensors_vs_no_sensors": met}
    fig["all_targets_met"] = met
    fig["elapsed_s"] = round(elapsed, 2)

    out = [f"dagcore sensors benchmark ({'quick' if args.quick else 'full'}): Python "
           f"{fig['python']}, dagcore {fig['dagcore_version']}, SQLAlchemy {fig['sqlalchemy']}, "
           f"{fig['cpus']} CPUs, SQLite (WAL), best of {repeats} x {loops} loops\n"]
    rows = []
    for key, label in (("sensors", f"{SENSORS} sensors up_for_reschedule + {TASKS} running"),
                       ("no_sensors", f"the same DAG without the sensors ({TASKS} running)"),
                       ("running", f"{SENSORS + TASKS} tasks running (reference)")):
        res = results[key]
        states = ", ".join(f"{k}: {v}" for k, v in sorted(res["states"].items(), key=str))
        rows.append([label, f"{res['us_per_loop']:,.0f}", states])
    out.append(format_table("1. SchedulerJob.run_once, one running run, nothing to do",
                            ["workload", "us per loop", "task instance states"], rows))
    out.append(format_table("Targets", ["target", "measured", "result"], [[
        f"{SENSORS} waiting sensors: loop time <= {TARGET_RATIO:.0f}x the DAG without them "
        f"(and none queued before its reschedule date)",
        f"{r}x, {fig['sensors_queued_early']} queued", "PASS" if met else "MISS"]]))
    out.append(f"elapsed {elapsed:.1f} s")
    print("\n".join(out))
    print(json.dumps(fig, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
