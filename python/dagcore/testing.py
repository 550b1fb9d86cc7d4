"""``DAG.test()``: run a whole DAG in this process against a real metadata database.

Design note. Nothing is simulated: the DAG is serialized and stored as the DAG processor would,
a run is triggered with :func:`dagcore.api.common.trigger_dag`, and the real scheduler loop
(:class:`~dagcore.jobs.scheduler.SchedulerJob`) decides it, with an
:class:`~dagcore.executors.inprocess.InProcessExecutor` that runs each task in this process
(breakpoints and ``capsys`` work) with the given DAG object instead of parsing its file. Trigger
rules, retries, XComs through the database and run states are therefore exactly the
scheduler's. The database is a temporary SQLite file unless one is given; it is deleted
afterwards unless ``keep_db``.

Only the requested run is created, as in Airflow's ``DAG.test`` (task-sdk ``definitions/dag.py``,
docs/airflow-behaviour.md 8.8), which creates one run and runs that run's task instances without a
scheduler: the loop here creates no scheduled run of its own (an ``@once`` or every-minute DAG gets
no second run). As Airflow's ``DAG.test`` does when the DAG has no version yet, the DAGs of
``dag_folder`` are stored too, so that a ``TriggerDagRunOperator`` finds its target; the target's
run is created (queued) and, its DAG being paused at creation, not run.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore.jobs.scheduler import SchedulerJob

if TYPE_CHECKING:
    from dagcore.dag import DAG

__all__ = ["DagTestResult", "TaskInstanceResult", "run_dag_test", "store_dags"]

_NOW: Any = object()


@dataclass(frozen=True, slots=True)
class TaskInstanceResult:
    """One task instance of the tested run, as the database holds it at the end."""

    task_id: str
    state: str | None
    try_number: int
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    map_index: int = -1
    rendered_map_index: str | None = None


@dataclass(frozen=True, slots=True)
class DagTestResult:
    """The finished run of :meth:`DAG.test`: its state, task instances and XComs."""

    dag_id: str
    run_id: str
    state: str
    logical_date: datetime | None
    conf: dict[str, Any]
    task_instances: dict[str, TaskInstanceResult]
    xcoms: dict[str, dict[str, Any]] = field(default_factory=dict)
    db_url: str | None = None
    mapped: dict[str, list[TaskInstanceResult]] = field(default_factory=dict)
    """The instances of each expanded mapped task, in map-index order (a mapped task that
    expanded to nothing, or could not expand, stays in ``task_instances``)."""
    mapped_xcoms: dict[str, dict[str, list[Any]]] = field(default_factory=dict)

    @property
    def mapped_states(self) -> dict[str, list[str | None]]:
        """``{task_id: [state of instance 0, 1, ...]}`` for every expanded mapped task."""
        return {task_id: [ti.state for ti in tis] for task_id, tis in self.mapped.items()}

    @property
    def task_states(self) -> dict[str, str | None]:
        """``{task_id: state}`` for every task instance of the run."""
        return {task_id: ti.state for task_id, ti in self.task_instances.items()}

    def xcom_pull(self, task_id: str, key: str = "return_value", default: Any = None) -> Any:
        """The XCom a task pushed (its return value by default); of an expanded mapped task,
        the list of its instances' values in map-index order."""
        if task_id in self.mapped:
            return self.mapped_xcoms.get(task_id, {}).get(key, [])
        return self.xcoms.get(task_id, {}).get(key, default)

    def get_task_instance(self, task_id: str) -> TaskInstanceResult:
        try:
            return self.task_instances[task_id]
        except KeyError:
            raise KeyError(f"the run has no task instance {task_id!r}; it has "
                           f"{sorted(self.task_instances)}") from None


def store_dags(engine: Engine, dag: DAG, dag_folder: str | Path | None) -> None:
    """Store ``dag``; when the database has no version of it yet, first every DAG of
    ``dag_folder`` (a folder or a file), as Airflow's ``DAG.test`` syncs its DAG folder then
    (docs/airflow-behaviour.md 8.8).
    Nothing is marked stale and no import error is recorded: the database may be the user's."""
    from dagcore.dag_processing import write_dag
    from dagcore.dagbag import DagBag
    from dagcore.db_dagbag import latest_version_id

    if dag_folder is not None:
        with engine.connect() as conn:
            known = latest_version_id(conn, dag.dag_id) is not None
        if not known:
            for other in DagBag(Path(dag_folder)).dags.values():
                if other.dag_id != dag.dag_id:
                    write_dag(engine, other)
    write_dag(engine, dag)


def run_dag_test(dag: DAG, *, logical_date: datetime | None | Any = _NOW,
                 conf: Mapping[str, Any] | None = None, run_id: str | None = None,
                 engine: Engine | None = None, db_url: str | None = None,
                 keep_db: bool = False, timeout: float | None = None,
                 dag_folder: str | Path | None = None) -> DagTestResult:
    """See :meth:`dagcore.dag.DAG.test`; ``dag_folder``: the folder (or file) the DAG was
    parsed from, whose DAGs are stored too (see :func:`store_dags`)."""
    from dagcore.api.common import trigger_dag
    from dagcore.db import create_engine, migrate, transaction
    from dagcore.db_dagbag import DBDagBag
    from dagcore.executors.inprocess import InProcessExecutor
    from dagcore.models import tables as t

    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout must be positive seconds or None, got {timeout!r}")
    dag.validate()
    tmpdir = None
    own_engine = engine is None
    if engine is None:
        if db_url is None:
            tmpdir = tempfile.mkdtemp(prefix="dagcore-test-")
            db_url = f"sqlite:///{Path(tmpdir) / 'dagcore.db'}"
        engine = create_engine(db_url)
    try:
        migrate(engine)
        store_dags(engine, dag, dag_folder)
        with transaction(engine) as conn:
            conn.execute(t.dag.update().where(t.dag.c.dag_id == dag.dag_id)
                         .values(is_paused=False))
        bag = DBDagBag(engine=engine, revalidation_interval=0)
        kwargs: dict[str, Any] = {}
        if logical_date is not _NOW:
            kwargs["logical_date"] = logical_date
        # As Airflow's DAG.test (docs/airflow-behaviour.md 8.8): triggered_by "test", by the
        # user "dag_test".
        run = trigger_dag(dag.dag_id, run_id=run_id, conf=conf, triggered_by="test",
                          triggering_user_name="dag_test",
                          replace_microseconds=False, engine=engine, dag_bag=bag, **kwargs)
        executor = InProcessExecutor(engine, dags={dag.dag_id: dag})
        # create_runs=False: the tested run is the only run the loop starts (Airflow's DAG.test).
        job = SchedulerJob(engine=engine, executor=executor, dag_bag=bag, idle_sleep=0.05,
                           dags={dag.dag_id: dag}, single=False, create_runs=False)
        deadline = None if timeout is None else time.monotonic() + timeout
        job.job.register()
        executor.start()
        dr = t.dag_run
        try:
            while True:
                did = job.run_once()
                with engine.connect() as conn:
                    state = conn.execute(sa.select(dr.c.state).where(
                        dr.c.dag_id == dag.dag_id, dr.c.run_id == run.run_id)).scalar_one()
                if state in ("success", "failed"):
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"DAG {dag.dag_id!r} run {run.run_id!r} did not finish "
                                       f"within {timeout} s (state {state})")
                if did == 0:
                    time.sleep(0.05)
        finally:
            executor.end()
            job.job.complete()
        return _result(engine, dag.dag_id, run.run_id,
                       db_url if tmpdir is None or keep_db else None)
    finally:
        if own_engine:
            engine.dispose()
        if tmpdir is not None and not keep_db:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _result(engine: Engine, dag_id: str, run_id: str, db_url: str | None) -> DagTestResult:
    from dagcore.models import tables as t

    dr, ti, xc = t.dag_run, t.task_instance, t.xcom
    with engine.connect() as conn:
        run = conn.execute(sa.select(dr).where(dr.c.dag_id == dag_id,
                                               dr.c.run_id == run_id)).one()
        tis: dict[str, TaskInstanceResult] = {}
        mapped: dict[str, list[TaskInstanceResult]] = {}
        for row in conn.execute(sa.select(ti).where(ti.c.dag_id == dag_id, ti.c.run_id == run_id)
                                .order_by(ti.c.task_id, ti.c.map_index)):
            result = TaskInstanceResult(
                task_id=row.task_id, state=row.state, try_number=row.try_number,
                start_date=row.start_date, end_date=row.end_date, duration=row.duration,
                map_index=row.map_index, rendered_map_index=row.rendered_map_index)
            if row.map_index < 0:
                tis[row.task_id] = result
            else:
                mapped.setdefault(row.task_id, []).append(result)
        xcoms: dict[str, dict[str, Any]] = {}
        mapped_xcoms: dict[str, dict[str, list[Any]]] = {}
        for row in conn.execute(sa.select(xc.c.task_id, xc.c.key, xc.c.value, xc.c.map_index)
                                .where(xc.c.dag_run_id == run.id)
                                .order_by(xc.c.task_id, xc.c.map_index)):
            if row.map_index < 0:
                xcoms.setdefault(row.task_id, {})[row.key] = row.value
            else:
                mapped_xcoms.setdefault(row.task_id, {}).setdefault(row.key, []).append(row.value)
    return DagTestResult(dag_id=dag_id, run_id=run_id, state=run.state,
                         logical_date=run.logical_date, conf=dict(run.conf or {}),
                         task_instances=tis, xcoms=xcoms, db_url=db_url, mapped=mapped,
                         mapped_xcoms=mapped_xcoms)
