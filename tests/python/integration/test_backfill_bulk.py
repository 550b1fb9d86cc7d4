"""The bulk backfill writer (``create_backfill``'s default) writes exactly what the portable
one writes, on SQLite and PostgreSQL.

Each case seeds two identical databases (the same DAG versions, the same existing runs and task
instances with fixed ids, a frozen clock), creates the same backfill once with
``dagcore.api.backfills._BULK_WRITES`` off (the SQLAlchemy executemany path) and once with it
on, and compares every row of every table. Values that are random by design are mapped first:
``dag_version`` ids (uuid7, made by ``write_dag``) to ``(dag_id, version_number)``, and the new
ids the clear gives task instances to a placeholder after checking each is a fresh version-7
UUID used once. The cases cover mapped tasks, task groups, cron trigger / cron data interval
(in a DST zone) / timedelta schedules, every reprocess behavior, existing runs in every state
(task instances with tries, mapped indexes, removed tasks, deferral fields), forwards and
backwards, conf given or not, run_on_latest_version on or off with a newer DAG version, and a
Hypothesis sweep on SQLite.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

import dagcore.utils.timezone as tz_seam
from dagcore import DAG
from dagcore.api import backfills as api
from dagcore.dag_processing import write_dag
from dagcore.db import create_engine, migrate, transaction
from dagcore.models import tables as t
from dagcore.operators.empty import EmptyOperator
from dagcore.operators.python import PythonOperator
from dagcore.task_group import TaskGroup
from dagcore.timetables import CronDataIntervalTimetable

pytestmark = pytest.mark.integration

NOW = datetime(2025, 6, 1, 12, 30, tzinfo=UTC)
START = datetime(2025, 1, 1, tzinfo=UTC)
STATES = ("success", "failed", "queued", "running")


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tz_seam, "utcnow", lambda: NOW)
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))


@pytest.fixture(params=["sqlite", "postgres"])
def new_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Engine]]:
    """A factory of empty migrated databases on one backend (ids ``[sqlite]``/``[postgres]``)."""
    engines: list[tuple[Engine, Callable[[], None]]] = []

    def make() -> Engine:
        if request.param == "sqlite":
            engine = create_engine(f"sqlite:///{tmp_path / f'db{len(engines)}.db'}")
            engines.append((engine, lambda: None))
        else:
            server = request.getfixturevalue("postgres_server")
            name = server.create_database()
            engine = create_engine(server.url(name))
            engines.append((engine, lambda: server.drop_database(name)))
        migrate(engine)
        return engine

    yield make
    for engine, drop in engines:
        engine.dispose()
        drop()


# -- DAGs ---------------------------------------------------------------------------------------


def chain_dag(dag_id: str, schedule: Any, *, retries: int = 1, extra: str | None = None,
              depends_on_past: bool = False) -> DAG:
    """a >> b >> c (b in a task group, c mapped over 3 values); ``extra`` adds a task."""
    with DAG(dag_id, start_date=START, schedule=schedule, catchup=False) as dag:
        a = EmptyOperator(task_id="a", retries=retries, depends_on_past=depends_on_past)
        with TaskGroup("grp"):
            b = EmptyOperator(task_id="b", retries=retries + 1)
        c = PythonOperator.partial(task_id="c", python_callable=lambda x: x,
                                   retries=retries).expand(op_args=[[1], [2], [3]])
        a >> b >> c
        if extra is not None:
            b >> EmptyOperator(task_id=extra, retries=3)
    return dag


DAGS: dict[str, Callable[..., DAG]] = {
    "hourly-trigger": lambda **kw: chain_dag("hourly", "@hourly", **kw),
    "daily-cron": lambda **kw: chain_dag("daily", "0 3 * * 1-6", **kw),
    "amsterdam-intervals": lambda **kw: chain_dag(
        "ams", CronDataIntervalTimetable("30 1 * * *", timezone="Europe/Amsterdam"), **kw),
    "six-hours-delta": lambda **kw: chain_dag("delta", timedelta(hours=6), **kw),
}
TASKS = (("a", -1), ("grp.b", -1), ("c", 0), ("c", 1), ("c", 2))


def seed(engine: Engine, dag_factory: Callable[..., DAG], runs: dict[int, str],
         *, depends_on_past: bool, new_version: bool) -> str:
    """The DAG (and optionally a second version: a task more, other retries), and one
    existing scheduled run per entry of ``runs`` (index of the planned date -> state) with
    task instances in states that fit; fixed ids everywhere. Returns the dag_id."""
    dag = dag_factory(depends_on_past=depends_on_past)
    write_dag(engine, dag)
    dates = dag.timetable.iter_dagrun_infos_between(
        datetime(2025, 3, 28, tzinfo=UTC), datetime(2025, 4, 5, tzinfo=UTC))
    with transaction(engine) as conn:
        (version_id,) = conn.execute(sa.select(t.dag_version.c.id).where(
            t.dag_version.c.dag_id == dag.dag_id)).scalars().all()
        for k, state in runs.items():
            if k >= len(dates):
                continue
            info = dates[k]
            run_id = f"scheduled__{info.logical_date.isoformat()}"
            started = info.run_after + timedelta(minutes=1)
            conn.execute(t.dag_run.insert().values(
                dag_id=dag.dag_id, run_id=run_id, logical_date=info.logical_date,
                run_after=info.run_after, data_interval_start=info.data_interval.start,
                data_interval_end=info.data_interval.end, state=state, run_type="scheduled",
                triggered_by="timetable", conf={"k": k}, queued_at=info.run_after,
                start_date=None if state == "queued" else started,
                end_date=started + timedelta(minutes=5) if state in ("success", "failed")
                else None, created_dag_version_id=version_id, clear_number=k % 3,
                bundle_version=None, updated_at=started))
            if state == "queued":
                continue
            for j, (task_id, map_index) in enumerate(TASKS):
                ti_state = {"success": "success", "running": "running" if j == 1 else None,
                            "failed": ("success", "failed", "upstream_failed", "removed",
                                       None)[j]}[state]
                tries = 0 if ti_state in (None, "upstream_failed", "removed") else 1 + (j % 2)
                conn.execute(t.task_instance.insert().values(
                    id=uuid.UUID(int=k * 100 + j + 1), dag_id=dag.dag_id, run_id=run_id,
                    task_id=task_id, map_index=map_index, state=ti_state, try_number=tries,
                    max_tries=1, start_date=started if tries else None,
                    end_date=started + timedelta(seconds=30)
                    if tries and ti_state != "running" else None,
                    duration=30.0 if tries and ti_state != "running" else None,
                    hostname="w1" if tries else None, pool="default_pool", pool_slots=1,
                    queue="default", priority_weight=5 - j, operator="EmptyOperator",
                    external_executor_id="ext" if tries else None,
                    next_method="resume" if j == 4 else None,
                    next_kwargs={"x": 1} if j == 4 else None, dag_version_id=version_id,
                    executor_config={}, updated_at=started))
            if state == "failed":  # a try of task a already archived before
                conn.execute(t.task_instance_history.insert().values(
                    task_instance_id=uuid.UUID(int=k * 100 + 1), dag_id=dag.dag_id,
                    run_id=run_id, task_id="a", map_index=-1, try_number=1, max_tries=1,
                    state="success", pool="default_pool", pool_slots=1,
                    dag_version_id=version_id, updated_at=started))
    if new_version:
        write_dag(engine, dag_factory(retries=4, extra="d", depends_on_past=depends_on_past))
    return dag.dag_id


# -- comparing ----------------------------------------------------------------------------------


def is_uuid(value: Any) -> bool:
    if isinstance(value, uuid.UUID):
        return True
    try:
        return isinstance(value, str) and len(value) == 36 and bool(uuid.UUID(value))
    except ValueError:
        return False


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, random-by-design values mapped (see the module docstring)."""
    with engine.connect() as conn:
        tables = {table.name: conn.execute(sa.select(table)).all()
                  for table in t.metadata.sorted_tables}
    # uuid7 row ids made by write_dag (dag_version, dag_code, serialized_dag ...): named by
    # their table and their row's place among the table's rows sorted without the id.
    versions: dict[str, str] = {}
    for name, rows in tables.items():
        if name == "task_instance" or not rows or "id" not in rows[0]._fields:
            continue
        keyed = [(repr(tuple(v for f, v in zip(row._fields, row)
                             if f != "id" and not is_uuid(v))), row.id)
                 for row in rows if is_uuid(row.id)]
        versions.update((str(i), f"{name}:{k}") for k, (_, i) in enumerate(sorted(keyed)))
    new_ids = [str(r.id) for r in tables["task_instance"] if uuid.UUID(str(r.id)).version == 7]
    assert len(new_ids) == len(set(new_ids))
    fresh = set(new_ids)

    def norm(value: Any) -> Any:
        if isinstance(value, uuid.UUID | str) and str(value) in versions:
            return versions[str(value)]
        if isinstance(value, uuid.UUID | str) and str(value) in fresh:
            return "<new uuid7>"
        if isinstance(value, uuid.UUID):
            return str(value)
        return value

    return {name: sorted((tuple(norm(v) for v in row) for row in rows), key=repr)
            for name, rows in tables.items()}


def create_both(new_db: Callable[[], Engine], dag_factory: Callable[..., DAG],
                runs: dict[int, str], monkeypatch: pytest.MonkeyPatch, *,
                depends_on_past: bool = False, new_version: bool = False,
                **kwargs: Any) -> tuple[dict[str, list[Any]], dict[str, list[Any]], Any]:
    dumps, results = [], []
    for bulk in (False, True):
        engine = new_db()
        dag_id = seed(engine, dag_factory, runs, depends_on_past=depends_on_past,
                      new_version=new_version)
        monkeypatch.setattr(api, "_BULK_WRITES", bulk)
        results.append(api.create_backfill(dag_id, engine=engine, **kwargs))
        dumps.append(dump(engine))
    assert results[0] == results[1]
    return dumps[0], dumps[1], results[1]


def assert_same(portable: dict[str, list[Any]], bulk: dict[str, list[Any]]) -> None:
    assert portable.keys() == bulk.keys()
    for name in portable:
        assert portable[name] == bulk[name], name


EVERY_STATE = {0: "success", 2: "failed", 3: "queued", 5: "running", 6: "failed",
               7: "success"}


@pytest.mark.parametrize("dag_name", list(DAGS))
@pytest.mark.parametrize("reprocess", ["none", "failed", "completed"])
def test_bulk_writes_what_the_portable_writer_writes(
        new_db: Callable[[], Engine], monkeypatch: pytest.MonkeyPatch, dag_name: str,
        reprocess: str) -> None:
    portable, bulk, backfill = create_both(
        new_db, DAGS[dag_name], EVERY_STATE, monkeypatch, reprocess_behavior=reprocess,
        from_date=datetime(2025, 3, 28, tzinfo=UTC), to_date=datetime(2025, 4, 5, tzinfo=UTC),
        triggering_user_name="ann\tbo\\b\n", max_active_runs=7)
    assert backfill.created > 0 and backfill.skipped > 0
    assert (backfill.cleared > 0) == (reprocess != "none")
    assert_same(portable, bulk)
    assert len(bulk["backfill_dag_run"]) == backfill.created + backfill.cleared + \
        backfill.skipped


@pytest.mark.parametrize("backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("latest", [True, False], ids=["latest-version", "pinned"])
@pytest.mark.parametrize("conf", [None, {"p": "tab\there", "q": [1, "\\"]}],
                         ids=["no-conf", "conf"])
def test_versions_conf_and_direction_are_written_alike(
        new_db: Callable[[], Engine], monkeypatch: pytest.MonkeyPatch, backwards: bool,
        latest: bool, conf: dict[str, Any] | None) -> None:
    portable, bulk, backfill = create_both(
        new_db, DAGS["daily-cron"], EVERY_STATE, monkeypatch, new_version=True,
        depends_on_past=not backwards, reprocess_behavior="completed",
        from_date=datetime(2025, 3, 28, tzinfo=UTC), to_date=datetime(2025, 4, 5, tzinfo=UTC),
        run_backwards=backwards, run_on_latest_version=latest, dag_run_conf=conf,
        unpause=True)
    assert backfill.cleared >= 3
    assert_same(portable, bulk)


def test_only_new_runs_and_a_later_range_on_a_used_table(
        new_db: Callable[[], Engine], monkeypatch: pytest.MonkeyPatch) -> None:
    """No existing run in the range, and ids that do not start at 1 (an earlier backfill)."""
    dumps = []
    for bulk in (False, True):
        engine = new_db()
        dag_id = seed(engine, DAGS["hourly-trigger"], {1: "success"}, depends_on_past=False,
                      new_version=False)
        monkeypatch.setattr(api, "_BULK_WRITES", bulk)
        first = api.create_backfill(dag_id, from_date=datetime(2025, 3, 28, tzinfo=UTC),
                                    to_date=datetime(2025, 3, 28, 5, tzinfo=UTC), engine=engine)
        api.cancel_backfill(first.id, engine=engine)
        api.create_backfill(dag_id, from_date=datetime(2025, 3, 29, tzinfo=UTC),
                            to_date=datetime(2025, 3, 30, tzinfo=UTC), engine=engine)
        dumps.append(dump(engine))
    assert_same(*dumps)


def test_bad_input_is_refused_alike(new_db: Callable[[], Engine],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    engine = new_db()
    dag_id = seed(engine, DAGS["daily-cron"], {}, depends_on_past=False, new_version=False)
    for bulk in (False, True):
        monkeypatch.setattr(api, "_BULK_WRITES", bulk)
        with pytest.raises(ValueError, match="No runs to create"):
            api.create_backfill(dag_id, from_date=datetime(2025, 3, 29, 4, tzinfo=UTC),
                                to_date=datetime(2025, 3, 30, 2, tzinfo=UTC), engine=engine)
        with pytest.raises(ValueError, match="must not be after to_date"):
            api.create_backfill(dag_id, from_date=datetime(2025, 3, 30, tzinfo=UTC),
                                to_date=datetime(2025, 3, 29, tzinfo=UTC), engine=engine)
    assert dump(engine)["backfill"] == []


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=st.dictionaries(st.integers(0, 40), st.sampled_from(STATES), max_size=12),
       dag_name=st.sampled_from(list(DAGS)),
       reprocess=st.sampled_from(["none", "failed", "completed"]), backwards=st.booleans(),
       days=st.integers(1, 8))
def test_hypothesis_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           runs: dict[int, str], dag_name: str, reprocess: str,
                           backwards: bool, days: int) -> None:
    """Random existing runs, schedules, modes and ranges (SQLite: one seeded file, copied)."""
    base = tmp_path / f"seed-{uuid.uuid4().hex}.db"
    engine = create_engine(f"sqlite:///{base}")
    migrate(engine)
    dag_id = seed(engine, DAGS[dag_name], runs, depends_on_past=False, new_version=False)
    engine.dispose()
    dumps, outcomes = [], []
    for bulk in (False, True):
        path = base.with_suffix(f".{int(bulk)}.db")
        shutil.copyfile(base, path)
        copy = create_engine(f"sqlite:///{path}")
        monkeypatch.setattr(api, "_BULK_WRITES", bulk)
        try:
            outcomes.append(api.create_backfill(
                dag_id, from_date=datetime(2025, 3, 28, tzinfo=UTC),
                to_date=datetime(2025, 3, 28, tzinfo=UTC) + timedelta(days=days),
                reprocess_behavior=reprocess, run_backwards=backwards, engine=copy))
        except ValueError as exc:
            outcomes.append(repr(exc))
        dumps.append(dump(copy))
        copy.dispose()
    assert outcomes[0] == outcomes[1]
    assert_same(*dumps)
