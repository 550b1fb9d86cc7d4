#!/usr/bin/env python3
"""Time the scheduler loop, the CLI listings and the REST list endpoints on a big metadata DB.

Issue 18's target (docs/performance.md section 5): "5,000 DAGs, 100,000 runs and 2 million task
instances in the metadata DB (SQLite and PostgreSQL): scheduler loop time per iteration, dags
list, list-runs of one DAG, backfill status and the REST list endpoints stay <= 100 ms at that
size".

Workload (``--quick``: a tenth of every count). Seeded fast, never through the ORM per row:

- three template DAGs of 20 tasks each (a chain, a fan-out/fan-in, a 4 x 5 layered grid) are
  written by the DAG processor's ``write_dag``; every one of the 5,000 DAGs is a copy of one of
  them with its own id (its ``dag``, ``dag_tag``, ``dag_version``, ``serialized_dag`` and
  ``dag_code`` rows, the serialized JSON with the id replaced), with 1 to 3 versions each, then
  the templates are deleted: the API and the scheduler load these versions as they would
  parsed ones;
- 100,000 runs (executemany): 10% of them of one "big" DAG, half of which belong to one
  backfill (``backfill`` + ``backfill_dag_run`` rows), the rest spread over the other DAGs;
  daily logical dates, scheduled and manual runs, ~5% failed, each run created by the version
  current at its date; 50 runs (of 50 chain-shaped DAGs) are running, every other run finished;
- 2,000,000 task instances: one ``INSERT ... SELECT`` joining the runs with their DAG's task
  list (states derived from the run's: success with some skipped, failed with the tasks after
  the failure upstream_failed, running with 5 tasks done and one running);
- import errors, assets with DAG references.

Measured per backend (median and p95 of ``--repeats`` calls after one warm-up call):

- **scheduler loop**: ``SchedulerJob.run_once`` with an idle executor (50 running runs among
  100,000, nothing to create), as ``sensors_bench.py`` drives it;
- **CLI** in process (``dagcore.cli.main``, stdout captured; includes opening the engine and
  checking the migration, as each command does): ``dags list``, ``dags list-runs <big DAG>``,
  ``backfill status <id>``; and each once as a real subprocess (interpreter start-up included;
  informational);
- **REST** against a real ``dagcore api-server`` on loopback (one keep-alive connection, a bearer
  token): ``/api/v2/dags``, ``/dags/{id}/dagRuns``, ``/dags/~/dagRuns``,
  ``/dags/{id}/dagRuns/{run}/taskInstances``, ``/dags/~/dagRuns/~/taskInstances``,
  ``/importErrors``, ``/backfills?dag_id=``, ``/assets``, ``/ui/dags``, default page sizes.

Target: each median and p95 <= 100 ms. Anchor: the same server's ``/api/v2/monitor/health``
(no table scan), measured in the same run: the floor of a request on this machine.

PostgreSQL: a throw-away server (``common.Postgres``), skipped, and said so, without server
binaries. Output: a table per backend, PASS/FAIL per target, then one JSON line. Usage:
``python benchmarks/scale_bench.py [--quick] [--backend sqlite|postgresql|both] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import Postgres, fmt, format_table, free_port, gc_paused, missing_dagcore

try:
    import sqlalchemy as sa

    import dagcore
    from dagcore import DAG
    from dagcore.dag_processing import _data_columns, write_dag
    from dagcore.db import create_engine, migrate, transaction
    from dagcore.db_dagbag import DBDagBag
    from idle_executor import IdleExecutor
    from dagcore.jobs.scheduler import SchedulerJob
    from dagcore.models import tables as t
    from dagcore.models.types import uuid7
    from dagcore.operators.python import PythonOperator
except ImportError as exc:  # pragma: no cover - depends on the build
    raise missing_dagcore("scale_bench", exc) from exc

TARGET_MS = 100.0
TASKS = 20
RUNNING_RUNS = 50
BASE = datetime(2020, 1, 1, tzinfo=UTC)
NOW = datetime.now(UTC).replace(microsecond=0)
USER, PASSWORD = "bench", "bench-password"
SHAPES = ("chain", "fan", "grid")
TAGS = ("etl", "reporting", "ml", "finance", "ops", "daily", "hourly", "critical")


@dataclass(frozen=True)
class Size:
    dags: int
    runs: int

    @property
    def big_runs(self) -> int:  # the big DAG's runs
        return self.runs // 10

    @property
    def backfill_runs(self) -> int:
        return self.big_runs // 2


def _noop() -> None:
    return None


def template_dag(shape: str) -> DAG:
    """A 20-task DAG of one shape (the id is replaced in every copy)."""
    with DAG(f"scale_tmpl_{shape}", schedule="@daily", start_date=BASE, catchup=False,
             tags=["template"], is_paused_upon_creation=False) as dag:
        tasks = [PythonOperator(task_id=f"task_{i:02d}", python_callable=_noop)
                 for i in range(TASKS)]
        if shape == "chain":
            for a, b in zip(tasks, tasks[1:]):
                a >> b
        elif shape == "fan":
            tasks[0] >> tasks[1:-1]
            for m in tasks[1:-1]:
                m >> tasks[-1]
        else:
            layers = [tasks[i:i + 5] for i in range(0, TASKS, 5)]
            for upper, lower in zip(layers, layers[1:]):
                for a in upper:
                    a >> lower
    return dag


def dag_id_of(i: int) -> str:
    return f"scale_{i:05d}"


def shape_of(i: int) -> str:
    return SHAPES[i % 3]


def running_dags(size: Size) -> list[int]:
    """The DAGs with a running run: chain-shaped (tasks wait on the running one), not the big."""
    return [i for i in range(3, size.dags, 3)][:RUNNING_RUNS]


def runs_per_dag(size: Size) -> list[int]:
    rest = size.runs - size.big_runs
    others = size.dags - 1
    return [size.big_runs] + [rest // others + (1 if k < rest % others else 0)
                              for k in range(others)]


def _copy_rows(conn: Any, size: Size) -> dict[int, list[Any]]:
    """The DAGs, copies of the templates; returns each DAG's version ids (oldest first)."""
    templates: dict[str, Any] = {}
    for shape in SHAPES:
        tid = f"scale_tmpl_{shape}"
        dag_row = dict(conn.execute(sa.select(t.dag).where(t.dag.c.dag_id == tid)).one()._mapping)
        sd_row = conn.execute(sa.select(t.serialized_dag).where(
            t.serialized_dag.c.dag_id == tid)).one()
        code = conn.execute(sa.select(t.dag_code).where(t.dag_code.c.dag_id == tid)).one()
        data = sd_row.data
        if data is None:
            import zlib
            data = json.loads(zlib.decompress(sd_row.data_compressed))
        templates[shape] = (dag_row, json.dumps(data), code)
    dags, tags, versions, serialized, codes = [], [], [], [], []
    version_ids: dict[int, list[Any]] = {}
    per_dag = runs_per_dag(size)
    for i in range(size.dags):
        shape = shape_of(i)
        dag_row, text, code = templates[shape]
        did = dag_id_of(i)
        row = dict(dag_row, dag_id=did, fileloc=f"/opt/dags/team_{i % 40}/{did}.py",
                   relative_fileloc=f"team_{i % 40}/{did}.py", owners=f"team_{i % 40}",
                   is_paused=i % 17 == 5, last_parsed_time=NOW - timedelta(seconds=i % 600),
                   next_dagrun=BASE + timedelta(days=per_dag[i]),
                   next_dagrun_data_interval_start=BASE + timedelta(days=per_dag[i]),
                   next_dagrun_data_interval_end=BASE + timedelta(days=per_dag[i] + 1),
                   next_dagrun_create_after=NOW + timedelta(days=1 + i % 30))
        dags.append(row)
        names = {TAGS[i % len(TAGS)], TAGS[(i // 3 + 1) % len(TAGS)]} if i % 2 else {
            TAGS[i % len(TAGS)]}
        tags += [{"dag_id": did, "name": name} for name in sorted(names)]
        data = json.loads(text.replace(f"scale_tmpl_{shape}", did))
        columns = _data_columns(data)
        ids = []
        for v in range(1 + i % 3):
            vid = uuid7()
            ids.append(vid)
            made = BASE + timedelta(days=v * 30, seconds=i)
            versions.append({"id": vid, "version_number": v + 1, "dag_id": did,
                             "bundle_name": "dags-folder", "bundle_version": None,
                             "version_data": None, "created_at": made, "last_updated": made,
                             "code_hash": None, "code_path": None})
            serialized.append({"id": uuid7(), "dag_id": did, "dag_version_id": vid,
                               "dag_hash": hashlib.md5(f"{did}/{v}".encode()).hexdigest(),
                               "created_at": made, "last_updated": made, **columns})
            source = code.source_code + f"\n# version {v + 1}\n"
            codes.append({"id": uuid7(), "dag_id": did, "dag_version_id": vid,
                          "fileloc": row["fileloc"], "source_code": source,
                          "source_code_hash": hashlib.md5(source.encode()).hexdigest(),
                          "created_at": made, "last_updated": made})
        version_ids[i] = ids
    for table, rows in ((t.dag, dags), (t.dag_tag, tags), (t.dag_version, versions),
                        (t.serialized_dag, serialized), (t.dag_code, codes)):
        for k in range(0, len(rows), 2000):
            conn.execute(table.insert(), rows[k:k + 2000])
    return version_ids


Rows = list[dict[str, Any]]


def _runs(size: Size, version_ids: dict[int, list[Any]]) -> tuple[Rows, Rows]:
    """The dag_run rows (ids given) and the backfill's backfill_dag_run rows."""
    runs: list[dict[str, Any]] = []
    bdr: list[dict[str, Any]] = []
    running = set(running_dags(size))
    run_pk = 0
    for i, count in enumerate(runs_per_dag(size)):
        did = dag_id_of(i)
        ids = version_ids[i]
        for k in range(count):
            run_pk += 1
            logical = BASE + timedelta(days=k)
            backfill = i == 0 and k < size.backfill_runs
            manual = not backfill and k % 10 == 7
            kind = "backfill" if backfill else "manual" if manual else "scheduled"
            last = k == count - 1
            state = ("running" if last and i in running else
                     "failed" if (run_pk * 7919) % 20 == 0 else "success")
            start = logical + timedelta(days=1, seconds=5 + k % 60)
            end = None if state == "running" else start + timedelta(seconds=30 + (k * 37) % 570)
            if state == "running":
                start = NOW - timedelta(minutes=5)
            runs.append({
                "id": run_pk, "dag_id": did, "run_id": f"{kind}__{logical.isoformat()}",
                "logical_date": logical, "run_after": logical + timedelta(days=1),
                "queued_at": start - timedelta(seconds=2), "start_date": start,
                "end_date": end, "state": state, "run_type": kind,
                "triggered_by": "rest_api" if manual else "backfill" if backfill else "timetable",
                "triggering_user_name": "alice" if manual else None, "conf": {},
                "data_interval_start": logical, "data_interval_end": logical + timedelta(days=1),
                "last_scheduling_decision": end or start, "creating_job_id": None,
                "created_dag_version_id": ids[min(len(ids) - 1, k * len(ids) // count)],
                "bundle_version": None, "backfill_id": 1 if backfill else None,
                "clear_number": 0, "partition_key": None, "note": None,
                "updated_at": end or start})
            if backfill:
                bdr.append({"backfill_id": 1, "dag_run_id": run_pk, "logical_date": logical,
                            "sort_ordinal": k + 1, "exception_reason": None,
                            "partition_key": None})
    return runs, bdr


_TI_STATE = """CASE
  WHEN dr.state = 'success' THEN CASE WHEN (dr.id + st.idx) % 11 = 0 THEN 'skipped'
                                      ELSE 'success' END
  WHEN dr.state = 'failed' THEN CASE WHEN st.idx < dr.id % 20 THEN 'success'
                                     WHEN st.idx = dr.id % 20 THEN 'failed'
                                     ELSE 'upstream_failed' END
  WHEN st.idx < 5 THEN 'success' WHEN st.idx = 5 THEN 'running' ELSE NULL END"""

# Time-ordered ids, as uuid7's (the run's id, the task's index, then random bits): each index
# on the id takes them in order, as it takes the ids of task instances created over time.
_SQLITE_UUID = ("printf('%08x-%04x-7%03x-%04x-%012x', dr.id, st.idx, abs(random()) % 4096, "
                "32768 + abs(random()) % 16384, abs(random()) % 281474976710656)")
_PG_UUID = ("(lpad(to_hex(dr.id), 8, '0') || '-' || lpad(to_hex(st.idx), 4, '0') || '-7' || "
            "lpad(to_hex((random() * 4095)::int), 3, '0') || '-' || "
            "to_hex(32768 + (random() * 16383)::int) || '-' || "
            "lpad(to_hex((random() * 281474976710655)::bigint), 12, '0'))::uuid")


def _insert_task_instances(conn: Any, dialect: str) -> None:
    """Every run's task instances in one INSERT ... SELECT (runs x their shape's tasks)."""
    conn.exec_driver_sql("CREATE TABLE seed_task (shape VARCHAR(10), idx INTEGER, "
                         "task_id VARCHAR(250), weight INTEGER)")
    conn.exec_driver_sql("CREATE TABLE seed_dag (dag_id VARCHAR(250) PRIMARY KEY, "
                         "shape VARCHAR(10))")
    conn.execute(sa.text("INSERT INTO seed_task VALUES (:s, :i, :t, :w)"), [
        {"s": s, "i": i, "t": f"task_{i:02d}", "w": TASKS - i} for s in SHAPES
        for i in range(TASKS)])
    dag_ids = [r[0] for r in conn.execute(sa.select(t.dag.c.dag_id))]
    conn.execute(sa.text("INSERT INTO seed_dag VALUES (:d, :s)"),
                 [{"d": d, "s": shape_of(int(d.split("_")[1]))} for d in dag_ids])
    ran = "st.idx <= 5 OR dr.state <> 'running'"
    done_state = f"({_TI_STATE}) IN ('success', 'failed')"
    if dialect == "postgresql":
        uid = _PG_UUID
        duration = "EXTRACT(EPOCH FROM dr.end_date - dr.start_date)"
    else:
        uid = _SQLITE_UUID
        duration = "(julianday(dr.end_date) - julianday(dr.start_date)) * 86400.0"
    src = "dag_run dr"
    insert = f"""
INSERT INTO task_instance (id, task_id, dag_id, run_id, map_index, state, try_number, max_tries,
  start_date, end_date, duration, hostname, unixname, pool, pool_slots, queue, priority_weight,
  operator, custom_operator_name, queued_dttm, scheduled_dttm, executor, updated_at,
  dag_version_id)
SELECT {uid}, st.task_id, dr.dag_id, dr.run_id, -1, {_TI_STATE},
  CASE WHEN {ran} AND ({_TI_STATE}) IN ('success', 'failed', 'running') THEN 1 ELSE 0 END, 0,
  CASE WHEN {done_state} OR ({_TI_STATE}) = 'running' THEN dr.start_date END,
  CASE WHEN {done_state} THEN dr.end_date END,
  CASE WHEN {done_state} THEN {duration} / 20.0 END,
  CASE WHEN {done_state} THEN 'worker-' || (dr.id % 8) END, 'dagcore', 'default_pool', 1,
  'default', st.weight, 'PythonOperator', 'PythonOperator', dr.queued_at, dr.queued_at,
  'LocalExecutor', COALESCE(dr.end_date, dr.start_date), dr.created_dag_version_id
FROM {src} JOIN seed_dag sd ON sd.dag_id = dr.dag_id JOIN seed_task st ON st.shape = sd.shape
ORDER BY dr.id, st.idx
"""
    # The secondary indexes are built once after the rows are in (a sort each) rather than
    # grown row by row, as a bulk load does; psycopg2 reads % as a parameter marker.
    if dialect == "postgresql":  # the deferred version FK: checked now, no pending events
        conn.exec_driver_sql("SET CONSTRAINTS ALL IMMEDIATE")
    for index in t.task_instance.indexes:
        index.drop(conn)
    conn.exec_driver_sql(insert.replace("%", "%%") if dialect == "postgresql" else insert)
    for index in t.task_instance.indexes:
        index.create(conn)
    conn.exec_driver_sql("DROP TABLE seed_task")
    conn.exec_driver_sql("DROP TABLE seed_dag")


def seed(engine: Any, size: Size) -> dict[str, Any]:
    """Write the workload (see the module docstring); returns what the timings need."""
    for shape in SHAPES:
        write_dag(engine, template_dag(shape), now=BASE, source_code="# a template DAG\n")
    with transaction(engine) as conn:
        version_ids = _copy_rows(conn, size)
        conn.execute(t.dag.delete().where(t.dag.c.dag_id.like("scale_tmpl_%")))
    runs, bdr = _runs(size, version_ids)
    with transaction(engine) as conn:
        conn.execute(t.backfill.insert().values(
            id=1, dag_id=dag_id_of(0), from_date=BASE,
            to_date=BASE + timedelta(days=size.backfill_runs - 1), dag_run_conf={},
            is_paused=False, reprocess_behavior="none", max_active_runs=10,
            created_at=BASE, completed_at=BASE + timedelta(days=size.backfill_runs + 2),
            updated_at=BASE + timedelta(days=size.backfill_runs + 2),
            triggering_user_name="alice"))
        for k in range(0, len(runs), 5000):
            conn.execute(t.dag_run.insert(), runs[k:k + 5000])
        conn.execute(t.backfill_dag_run.insert(), bdr)
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences on
            for table in ("dag_run", "backfill"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))")
        _insert_task_instances(conn, engine.dialect.name)
        # The running task instances heartbeat now (no zombie while the loop is timed).
        ti = t.task_instance
        conn.execute(ti.update().where(ti.c.state == "running").values(
            last_heartbeat_at=NOW + timedelta(hours=1), hostname="worker-0", pid=1,
            start_date=NOW - timedelta(minutes=4)))
        conn.execute(t.import_error.insert(), [
            {"timestamp": NOW - timedelta(minutes=i), "filename": f"/opt/dags/broken_{i}.py",
             "bundle_name": "dags-folder",
             "stacktrace": f"Traceback (most recent call last):\nSyntaxError: line {i}"}
            for i in range(size.dags // 100)])
        n_assets = size.dags // 5
        conn.execute(t.asset.insert(), [
            {"name": f"asset_{a}", "uri": f"s3://bucket/data/{a}", "group": "asset",
             "extra": {}, "created_at": BASE, "updated_at": BASE} for a in range(n_assets)])
        ids = [r[0] for r in conn.execute(sa.select(t.asset.c.id).order_by(t.asset.c.id))]
        conn.execute(t.task_outlet_asset_reference.insert(), [
            {"asset_id": a, "dag_id": dag_id_of(1 + k % (size.dags - 1)), "task_id": "task_19",
             "created_at": BASE, "updated_at": BASE} for k, a in enumerate(ids)])
        conn.execute(t.dag_schedule_asset_reference.insert(), [
            {"asset_id": a, "dag_id": dag_id_of(1 + (k * 7 + 3) % (size.dags - 1)),
             "created_at": BASE, "updated_at": BASE} for k, a in enumerate(ids)])
    # PostgreSQL: what autovacuum would have done by then. SQLite: no ANALYZE, as dagcore never
    # runs one: the planner has no statistics, as on a user's database.
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    big = dag_id_of(0)
    big_run = runs[size.big_runs - 1]["run_id"]
    with engine.connect() as conn:
        counts = {name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                  for name, table in (("dags", t.dag), ("dag_versions", t.dag_version),
                                      ("runs", t.dag_run), ("task_instances", t.task_instance))}
    return {"big_dag": big, "big_run": big_run, "backfill_id": 1, **counts}


def stats(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median_ms": statistics.median(ordered),
            "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
            "min_ms": ordered[0]}


def timed(fn: Callable[[], Any], repeats: int) -> dict[str, float]:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        with gc_paused():
            t0 = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - t0) * 1000)
    return stats(samples)


def time_scheduler(engine: Any, repeats: int) -> dict[str, Any]:
    job = SchedulerJob(engine=engine, executor=IdleExecutor(), dag_bag=DBDagBag.for_scheduler(
        engine=engine), idle_sleep=0.0, single=False)
    job.job.register()
    try:
        for _ in range(5):  # the running runs' DAGs load, statements build
            job.run_once()
        fig = timed(job.run_once, max(repeats, 20))
        with engine.connect() as conn:
            fig["running_runs"] = conn.execute(sa.select(sa.func.count()).select_from(
                t.dag_run).where(t.dag_run.c.state == "running")).scalar_one()
    finally:
        job.job.complete("success")
    return fig


def cli_in_process(argv: list[str]) -> Callable[[], None]:
    from dagcore.cli import main as cli_main

    def call() -> None:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = cli_main(argv)
        if code != 0:
            raise SystemExit(f"scale_bench: dagcore {' '.join(argv)} exited {code}")
        if not out.getvalue():
            raise SystemExit(f"scale_bench: dagcore {' '.join(argv)} printed nothing")

    return call


def cli_subprocess(env: dict[str, str], argv: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dagcore", *argv], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300,
                          check=False)
    ms = (time.perf_counter() - t0) * 1000
    if done.returncode != 0:
        raise SystemExit(f"scale_bench: dagcore {' '.join(argv)} failed: {done.stderr!r}")
    return ms


def server_env(home: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGCORE__")}
    env["DAGCORE_HOME"] = str(home)
    env["DAGCORE__DATABASE__SQL_ALCHEMY_CONN"] = url
    package_root = str(Path(dagcore.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


def time_rest(env: dict[str, str], home: Path, paths: list[tuple[str, str]],
              repeats: int) -> dict[str, dict[str, float]]:
    subprocess.run([sys.executable, "-m", "dagcore", "users", "create", "--username", USER,
                    "--password", PASSWORD, "--role", "admin"], env=env, check=True,
                   capture_output=True, timeout=120)
    port = free_port()
    log = (home / "api-server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "dagcore", "api-server", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    try:
        token = None
        deadline = time.monotonic() + 120
        while token is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("scale_bench: the api-server did not start: "
                                 + (home / "api-server.log").read_text()[-2000:])
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("POST", "/auth/token", body=json.dumps(
                    {"username": USER, "password": PASSWORD}),
                    headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                body = resp.read()
                if resp.status == 201:
                    token = json.loads(body)["access_token"]
                else:
                    conn.close()
            except OSError:
                time.sleep(0.2)
        headers = {"Authorization": f"Bearer {token}"}

        def get(path: str) -> Callable[[], None]:
            def call() -> None:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    raise SystemExit(f"scale_bench: GET {path}: {resp.status} {body[:300]!r}")
            return call

        return {name: timed(get(path), repeats) for name, path in paths}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


def run_backend(name: str, url: str, home: Path, size: Size, repeats: int) -> dict[str, Any]:
    engine = create_engine(url)
    migrate(engine)
    t0 = time.perf_counter()
    info = seed(engine, size)
    fig: dict[str, Any] = {"backend": name, "seed_s": round(time.perf_counter() - t0, 1),
                           **{k: v for k, v in info.items() if isinstance(v, int)}}
    big, big_run, bid = info["big_dag"], info["big_run"], info["backfill_id"]
    timings: dict[str, dict[str, float]] = {}
    try:
        timings["scheduler loop (run_once)"] = time_scheduler(engine, repeats)
    finally:
        engine.dispose()
    env = server_env(home, url)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    cli_cmds = [("dags list", ["dags", "list"]), ("dags list-runs <big DAG>",
                                                  ["dags", "list-runs", big]),
                ("backfill status <backfill>", ["backfill", "status", str(bid)])]
    sub: dict[str, float] = {}
    try:
        for label, argv in cli_cmds:
            timings[f"CLI {label}"] = timed(cli_in_process(argv), repeats)
        for label, argv in cli_cmds:
            sub[f"CLI {label}"] = cli_subprocess(env, argv)
        sub["CLI version (interpreter start-up)"] = cli_subprocess(env, ["version"])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    paths = [
        ("health (anchor)", "/api/v2/monitor/health"),
        ("/api/v2/dags", "/api/v2/dags"),
        ("/dags/{big}/dagRuns", f"/api/v2/dags/{big}/dagRuns"),
        ("/dags/~/dagRuns", "/api/v2/dags/~/dagRuns"),
        ("/dags/{big}/dagRuns/{run}/taskInstances",
         f"/api/v2/dags/{big}/dagRuns/{big_run}/taskInstances"),
        ("/dags/~/dagRuns/~/taskInstances", "/api/v2/dags/~/dagRuns/~/taskInstances"),
        ("/importErrors", "/api/v2/importErrors"),
        ("/backfills?dag_id={big}", f"/api/v2/backfills?dag_id={big}"),
        ("/assets", "/api/v2/assets"),
        ("/ui/dags", "/ui/dags"),
    ]
    for label, stat in time_rest(env, home, paths, repeats).items():
        timings[f"REST {label}"] = stat
    fig["timings"] = timings
    fig["subprocess_ms"] = sub
    return fig


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the size")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per figure")
    args = parser.parse_args(argv)
    size = Size(500, 10_000) if args.quick else Size(5_000, 100_000)
    repeats = args.repeats or (7 if args.quick else 15)
    began = time.perf_counter()
    results: list[dict[str, Any]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="scale_bench_") as tmp:
        os.chmod(tmp, 0o755)  # PostgreSQL runs as nobody under root
        if args.backend in ("sqlite", "both"):
            home = Path(tmp) / "sqlite_home"
            home.mkdir()
            results.append(run_backend("sqlite", f"sqlite:///{home}/scale.db", home, size,
                                       repeats))
        if args.backend in ("postgresql", "both"):
            postgres = Postgres.start(Path(tmp) / "pg")
            if postgres is None:
                notes.append("PostgreSQL: no server binaries (initdb) found, not measured")
            else:
                try:
                    home = Path(tmp) / "pg_home"
                    home.mkdir()
                    results.append(run_backend("postgresql", postgres.new_database(), home,
                                               size, repeats))
                finally:
                    postgres.stop()
    targets: list[tuple[str, str, bool]] = []
    for fig in results:
        b = fig["backend"]
        anchor = fig["timings"]["REST health (anchor)"]["median_ms"]
        rows = []
        for label, s in fig["timings"].items():
            rows.append([label, fmt(s["median_ms"], ".1f"), fmt(s["p95_ms"], ".1f"),
                         fmt(s["median_ms"] / anchor if anchor else None, ".1f", "x")])
            if "anchor" not in label:
                worst = max(s["median_ms"], s["p95_ms"])
                targets.append((f"{b}: {label} median and p95 <= 100 ms",
                                f"{s['median_ms']:.1f} / {s['p95_ms']:.1f} ms",
                                worst <= TARGET_MS))
        title = (f"{b}: {fig['dags']:,} DAGs ({fig['dag_versions']:,} versions), "
                 f"{fig['runs']:,} runs, {fig['task_instances']:,} task instances; seeded in "
                 f"{fig['seed_s']} s (ms, {repeats} calls after a warm-up)")
        print(format_table(title, ["", "median", "p95", "/ health"], rows))
        print(format_table(f"{b}: once as a subprocess (interpreter start-up included)",
                           ["command", "ms"],
                           [[k, fmt(v, ".0f")] for k, v in fig["subprocess_ms"].items()]))
    print(format_table("Targets", ["target", "measured", "result"],
                       [[d, m, "PASS" if ok else "FAIL"] for d, m, ok in targets]))
    for note in notes:
        print(note)
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"total {time.perf_counter() - began:.0f} s")
    out = {
        "benchmark": "scale", "quick": args.quick, "python": platform.python_version(),
        "dagcore_version": getattr(dagcore, "__version__", None), "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in load], "repeats": repeats,
        "size": {"dags": size.dags, "runs": size.runs, "task_instances": size.runs * TASKS},
        "target_ms": TARGET_MS,
        "backends": {f["backend"]: {
            k: ({lk: {sk: round(sv, 2) for sk, sv in lv.items()} for lk, lv in v.items()}
                if k == "timings" else
                {lk: round(lv, 1) for lk, lv in v.items()} if k == "subprocess_ms" else v)
            for k, v in f.items() if k != "backend"} for f in results},
        "notes": notes, "targets_met": bool(targets) and all(ok for _, _, ok in targets),
    }
    print(json.dumps(out, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
