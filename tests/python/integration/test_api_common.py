"""trigger_dag, clear_task_instances and clear_dag_runs on SQLite and PostgreSQL
(docs/airflow-behaviour.md 3.8, 4)."""

from __future__ import annotations

import dataclasses
import multiprocessing
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import dagcore.utils.timezone as tz_seam
from dagcore import DAG, Param
from dagcore.api.common import (
    DagHasImportErrors,
    DagNotFound,
    DagRun,
    DagRunAlreadyExists,
    DagRunNotFound,
    TaskInstanceRow,
    clear_dag_runs,
    clear_task_instances,
    trigger_dag,
)
from dagcore.dag_processing import write_dag
from dagcore.db import create_engine, migrate, transaction
from dagcore.exceptions import ParamValidationError
from dagcore.models import tables as t
from dagcore.operators.empty import EmptyOperator

NOW = datetime(2025, 6, 1, 12, 0, 0, 654321, tzinfo=UTC)
START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setattr(tz_seam, "utcnow", lambda: NOW)
    migrate(engine)
    return engine


def make_dag(dag_id: str = "etl", edges: str = "a>b>c", *, retries: int = 0,
             schedule: str | None = "@daily", **kwargs: Any) -> DAG:
    """A DAG from ``"a>b>c,x"``: chains separated by commas."""
    with DAG(dag_id, start_date=START, schedule=schedule, **kwargs) as dag:
        ops: dict[str, EmptyOperator] = {}
        for chain in edges.split(","):
            names = chain.split(">")
            for name in names:
                if name not in ops:
                    ops[name] = EmptyOperator(task_id=name, retries=retries)
            for up, down in zip(names, names[1:]):
                ops[up] >> ops[down]
    dag.fileloc = f"/dags/{dag_id}.py"
    dag.relative_fileloc = f"{dag_id}.py"  # type: ignore[attr-defined]
    return dag


def store(engine: Engine, dag: DAG, *, bundle_version: str | None = None) -> None:
    write_dag(engine, dag, source_code="# dag\n", bundle_version=bundle_version)
    with transaction(engine) as conn:  # what the DAG processor records for a versioned bundle
        conn.execute(t.dag.update().where(t.dag.c.dag_id == dag.dag_id)
                     .values(bundle_version=bundle_version))


def runs(engine: Engine, dag_id: str = "etl") -> list[DagRun]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.dag_run).where(t.dag_run.c.dag_id == dag_id)
                            .order_by(t.dag_run.c.id)).all()
    return [DagRun.from_row(r) for r in rows]


def tis(engine: Engine, run_id: str | None = None) -> dict[tuple[str, str], TaskInstanceRow]:
    query = sa.select(t.task_instance)
    if run_id is not None:
        query = query.where(t.task_instance.c.run_id == run_id)
    with engine.connect() as conn:
        return {(r.run_id, r.task_id): TaskInstanceRow.from_row(r) for r in conn.execute(query)}


def history(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.task_instance_history)
                            .order_by(t.task_instance_history.c.id)).all()


# -- records mirror the tables ------------------------------------------------------------------


def test_records_have_one_field_per_column() -> None:
    assert [f.name for f in dataclasses.fields(DagRun)] == [c.name for c in t.dag_run.columns]
    assert ({f.name for f in dataclasses.fields(TaskInstanceRow)}
            == {c.name for c in t.task_instance.columns})


# -- trigger ------------------------------------------------------------------------------------


def test_trigger_creates_a_queued_manual_run(db: Engine) -> None:
    store(db, make_dag(), bundle_version="v7")
    run = trigger_dag("etl", conf={"k": 1}, note="hello", triggered_by="rest_api",
                      triggering_user_name="ann", engine=db)
    assert run == runs(db)[0]
    assert run.run_id == "manual__2025-06-01T12:00:00+00:00"  # microseconds replaced
    assert run.logical_date == NOW.replace(microsecond=0)
    assert run.run_after == NOW and run.queued_at == NOW
    assert (run.state, run.run_type, run.triggered_by) == ("queued", "manual", "rest_api")
    assert run.triggering_user_name == "ann" and run.note == "hello" and run.conf == {"k": 1}
    assert run.start_date is None and run.end_date is None and run.clear_number == 0
    # @daily is a CronTriggerTimetable: a manual run's interval is its logical date.
    assert run.data_interval_start == run.data_interval_end == run.logical_date
    assert run.bundle_version == "v7"
    with db.connect() as conn:
        latest = conn.execute(sa.select(t.dag_version.c.id)).scalar_one()
    assert run.created_dag_version_id == latest


@pytest.mark.parametrize(("logical_date", "replace", "run_id"), [
    pytest.param(datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), False,
                 "manual__2025-01-02T03:04:05.123456+00:00", id="microseconds-kept"),
    pytest.param(datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), True,
                 "manual__2025-01-02T03:04:05+00:00", id="microseconds-replaced"),
    pytest.param(datetime(2025, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))), False,
                 "manual__2025-01-02T03:04:05+00:00", id="offset-converted-to-utc"),
])
def test_run_id_format(db: Engine, logical_date: datetime, replace: bool, run_id: str) -> None:
    store(db, make_dag())
    run = trigger_dag("etl", logical_date=logical_date, replace_microseconds=replace, engine=db)
    assert run.run_id == run_id
    assert run.logical_date.isoformat() == run_id.removeprefix("manual__")


def test_run_without_logical_date_gets_random_suffix_and_no_interval(db: Engine) -> None:
    store(db, make_dag())
    first = trigger_dag("etl", logical_date=None, engine=db)
    second = trigger_dag("etl", logical_date=None, engine=db)
    prefix = "manual__2025-06-01T12:00:00.654321+00:00_"
    for run in (first, second):
        assert run.run_id.startswith(prefix) and len(run.run_id) == len(prefix) + 8
        assert run.run_id[len(prefix):].isalnum()
        assert run.logical_date is run.data_interval_start is run.data_interval_end is None
    assert first.run_id != second.run_id  # NULL logical dates do not collide


def test_paused_dag_is_triggered_and_stays_queued(db: Engine) -> None:
    store(db, make_dag(is_paused_upon_creation=True))
    assert trigger_dag("etl", engine=db).state == "queued"


@pytest.mark.parametrize(("conf", "error", "match"), [
    pytest.param({"n": "x"}, ParamValidationError, "Invalid input for param n", id="bad-type"),
    pytest.param({"n": 99}, ParamValidationError, "Invalid input for param n", id="too-big"),
    pytest.param([1, 2], ValueError, "conf must be a JSON object", id="not-a-dict"),
    pytest.param({"when": datetime(2025, 1, 1)}, ValueError, "JSON-serializable", id="not-json"),
])
def test_conf_is_validated_against_params(db: Engine, conf: Any, error: type[Exception],
                                          match: str) -> None:
    store(db, make_dag(params={"n": Param(1, type="integer", maximum=10)}))
    with pytest.raises(error, match=match):
        trigger_dag("etl", conf=conf, engine=db)
    assert runs(db) == []


def test_valid_conf_is_stored_as_given(db: Engine) -> None:
    store(db, make_dag(params={"n": Param(1, type="integer", maximum=10), "s": "x"}))
    assert trigger_dag("etl", conf={"n": 5, "extra": True}, engine=db).conf == {"n": 5,
                                                                                 "extra": True}


def test_required_param_without_conf_is_rejected(db: Engine) -> None:
    store(db, make_dag(schedule=None, params={"who": Param(type="string")}))
    with pytest.raises(ParamValidationError, match="param who"):
        trigger_dag("etl", engine=db)
    assert trigger_dag("etl", conf={"who": "me"}, engine=db).conf == {"who": "me"}


def test_unknown_dag(db: Engine) -> None:
    with pytest.raises(DagNotFound, match="Dag id nope not found") as info:
        trigger_dag("nope", engine=db)
    assert isinstance(info.value, LookupError)


def test_stale_dag_and_dag_with_import_errors_cannot_be_triggered(db: Engine) -> None:
    store(db, make_dag())
    with transaction(db) as conn:
        conn.execute(t.dag.update().values(is_stale=True))
    with pytest.raises(DagNotFound, match="stale"):
        trigger_dag("etl", engine=db)
    with transaction(db) as conn:
        conn.execute(t.dag.update().values(is_stale=False, has_import_errors=True))
    with pytest.raises(DagHasImportErrors, match="has import errors and cannot be triggered"):
        trigger_dag("etl", engine=db)
    assert runs(db) == []


@pytest.mark.parametrize(("kwargs", "match"), [
    pytest.param({"logical_date": datetime(2025, 1, 1)}, "logical_date must be timezone-aware",
                 id="naive-logical-date"),
    pytest.param({"run_after": datetime(2025, 1, 1)}, "run_after must be timezone-aware",
                 id="naive-run-after"),
    pytest.param({"run_id": "scheduled__2025-01-01T00:00:00+00:00"},
                 "A manual DAG run cannot use ID 'scheduled__2025-01-01T00:00:00\\+00:00' since "
                 "it is reserved for scheduled runs", id="reserved-scheduled"),
    pytest.param({"run_id": "backfill__x"}, "reserved for backfill runs", id="reserved-backfill"),
    pytest.param({"run_id": "has space"}, "The run_id provided 'has space' does not match regex "
                 "pattern", id="bad-characters"),
    pytest.param({"run_id": "a..b"}, "disallowed '..'", id="double-dot"),
    pytest.param({"run_id": "x" * 251}, "longer than 250", id="too-long"),
    pytest.param({"triggered_by": "robot"}, "triggered_by must be one of", id="triggered-by"),
    pytest.param({"logical_date": datetime(2023, 1, 1, tzinfo=UTC)}, "should be >= start_date",
                 id="before-default-args-start"),
])
def test_invalid_trigger_arguments(db: Engine, kwargs: dict[str, Any], match: str) -> None:
    store(db, make_dag(default_args={"start_date": START}))
    with pytest.raises(ValueError, match=match):
        trigger_dag("etl", engine=db, **kwargs)
    assert runs(db) == []


def test_explicit_run_id_is_used(db: Engine) -> None:
    store(db, make_dag())
    assert trigger_dag("etl", run_id="my-run_1:x+y~z", engine=db).run_id == "my-run_1:x+y~z"


def test_duplicate_run_id_changes_nothing(db: Engine) -> None:
    store(db, make_dag())
    first = trigger_dag("etl", run_id="r1", logical_date=START, engine=db)
    with pytest.raises(DagRunAlreadyExists, match="with run_id 'r1'") as info:
        trigger_dag("etl", run_id="r1", logical_date=START + timedelta(days=1), engine=db)
    assert isinstance(info.value, ValueError)
    assert info.value.dag_run == first
    assert runs(db) == [first]


def test_duplicate_logical_date_changes_nothing(db: Engine) -> None:
    store(db, make_dag())
    first = trigger_dag("etl", run_id="r1", logical_date=START, engine=db)
    with pytest.raises(DagRunAlreadyExists, match="logical_date 2024-01-01T00:00:00\\+00:00 "
                                                  "\\(run_id 'r1'\\)") as info:
        trigger_dag("etl", run_id="r2", logical_date=START, engine=db)
    assert info.value.dag_run == first
    assert runs(db) == [first]


def _trigger_in_process(url: str, barrier: Any, results: Any) -> None:
    engine = create_engine(url)
    barrier.wait()
    try:
        run = trigger_dag("etl", run_id="race", logical_date=None, engine=engine)
        results.put(("created", run.run_id))
    except DagRunAlreadyExists as exc:
        results.put(("exists", exc.dag_run.run_id))
    except Exception as exc:  # reported to the parent, which fails the test
        results.put(("error", repr(exc)))
    finally:
        engine.dispose()


def test_eight_processes_trigger_the_same_run_id(db: Engine) -> None:
    store(db, make_dag())
    url = db.url.render_as_string(hide_password=False)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_trigger_in_process, args=(url, barrier, results))
             for _ in range(8)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    assert sorted(kind for kind, _ in outcomes) == ["created"] + ["exists"] * 7, outcomes
    assert {run_id for _, run_id in outcomes} == {"race"}
    assert [r.run_id for r in runs(db)] == ["race"]


# -- clear --------------------------------------------------------------------------------------


def add_run(engine: Engine, run_id: str, states: dict[str, str | None], *, run_state: str,
            day: int = 0, try_number: int = 1, dag_id: str = "etl") -> None:
    """A run with task instances in the given states (created from the latest version)."""
    with transaction(engine) as conn:
        version = conn.execute(sa.select(t.dag_version.c.id, t.dag.c.bundle_version)
                               .join(t.dag, t.dag.c.dag_id == t.dag_version.c.dag_id)
                               .where(t.dag_version.c.dag_id == dag_id)
                               .order_by(t.dag_version.c.version_number.desc())).first()
        logical = START + timedelta(days=day)
        conn.execute(t.dag_run.insert().values(
            dag_id=dag_id, run_id=run_id, logical_date=logical, run_after=logical,
            state=run_state, run_type="scheduled", start_date=logical, end_date=logical,
            last_scheduling_decision=logical, created_dag_version_id=version.id,
            bundle_version=version.bundle_version, clear_number=0))
        conn.execute(t.task_instance.insert(), [
            {"id": uuid.uuid4(), "dag_id": dag_id, "run_id": run_id, "task_id": task_id,
             "state": state, "try_number": try_number, "max_tries": 0,
             "external_executor_id": "ext", "dag_version_id": version.id}
            for task_id, state in states.items()])


@pytest.fixture
def cleared_db(db: Engine) -> Engine:
    """etl: a>b>c and x; r1 (day 0) failed, r2 (day 1) running, r3 (day 2) success."""
    store(db, make_dag(edges="a>b>c,x", retries=2), bundle_version="v1")
    add_run(db, "r1", {"a": "success", "b": "failed", "c": "upstream_failed", "x": "success"},
            run_state="failed")
    add_run(db, "r2", {"a": "success", "b": "running", "c": None, "x": "running"},
            run_state="running", day=1)
    add_run(db, "r3", {"a": "success", "b": "success", "c": "success", "x": "success"},
            run_state="success", day=2)
    return db


def keys(rows: list[TaskInstanceRow]) -> list[tuple[str, str]]:
    return [(r.run_id, r.task_id) for r in rows]


def test_only_failed_clears_failed_tis_and_queues_the_run(cleared_db: Engine) -> None:
    before = tis(cleared_db)
    cleared = clear_task_instances("etl", only_failed=True, engine=cleared_db)
    assert keys(cleared) == [("r1", "b"), ("r1", "c")]
    after = tis(cleared_db)
    for key in [("r1", "b"), ("r1", "c")]:
        ti = after[key]
        assert ti.state is None and ti.try_number == 1 and ti.max_tries == 1 + 2
        assert ti.external_executor_id is None and ti.id != before[key].id
        assert cleared[keys(cleared).index(key)] == ti
    assert {k: v for k, v in after.items() if k not in {("r1", "b"), ("r1", "c")}} == {
        k: v for k, v in before.items() if k not in {("r1", "b"), ("r1", "c")}}
    r1 = next(r for r in runs(cleared_db) if r.run_id == "r1")
    assert r1.state == "queued" and r1.clear_number == 1 and r1.queued_at == NOW
    assert r1.start_date is None and r1.end_date is None and r1.last_scheduling_decision is None


def test_history_keeps_a_copy_of_each_cleared_try(cleared_db: Engine) -> None:
    before = tis(cleared_db)
    clear_task_instances("etl", only_failed=True, engine=cleared_db)
    rows = history(cleared_db)
    assert [(r.run_id, r.task_id, r.state, r.try_number) for r in rows] == [
        ("r1", "b", "failed", 1), ("r1", "c", "upstream_failed", 1)]
    assert [r.task_instance_id for r in rows] == [before[("r1", "b")].id, before[("r1", "c")].id]
    # Clearing again before the next try keeps one copy per try.
    clear_task_instances("etl", run_id="r1", task_ids=["b"], engine=cleared_db)
    assert len(history(cleared_db)) == 2


def test_only_running_sets_restarting_and_leaves_running_run_alone(cleared_db: Engine) -> None:
    cleared = clear_task_instances("etl", only_running=True, engine=cleared_db)
    assert keys(cleared) == [("r2", "b"), ("r2", "x")]
    assert {r.state for r in cleared} == {"restarting"}
    assert all(r.max_tries == 0 and r.try_number == 1 for r in cleared)  # untouched
    r2 = next(r for r in runs(cleared_db) if r.run_id == "r2")
    assert r2.state == "running" and r2.clear_number == 0


def test_dry_run_changes_nothing(cleared_db: Engine) -> None:
    before_tis, before_runs = tis(cleared_db), runs(cleared_db)
    would = clear_task_instances("etl", only_failed=True, dry_run=True, engine=cleared_db)
    assert would == [before_tis[("r1", "b")], before_tis[("r1", "c")]]
    assert clear_dag_runs("etl", dry_run=True, engine=cleared_db) == sorted(
        before_tis.values(), key=lambda r: (r.run_id, r.task_id))
    assert tis(cleared_db) == before_tis and runs(cleared_db) == before_runs
    assert history(cleared_db) == []


@pytest.mark.parametrize(("task_ids", "upstream", "downstream", "expected"), [
    pytest.param(["b"], False, False, ["b"], id="task-only"),
    pytest.param(["b"], True, False, ["a", "b"], id="upstream"),
    pytest.param(["b"], False, True, ["b", "c"], id="downstream"),
    pytest.param(["b"], True, True, ["a", "b", "c"], id="both"),
    pytest.param(["a", "x"], False, True, ["a", "b", "c", "x"], id="two-roots"),
])
def test_upstream_and_downstream_closure(cleared_db: Engine, task_ids: list[str], upstream: bool,
                                         downstream: bool, expected: list[str]) -> None:
    cleared = clear_task_instances("etl", run_id="r3", task_ids=task_ids,
                                   include_upstream=upstream, include_downstream=downstream,
                                   engine=cleared_db)
    assert keys(cleared) == [("r3", task_id) for task_id in expected]
    r3 = next(r for r in runs(cleared_db) if r.run_id == "r3")
    assert r3.state == "queued" and r3.clear_number == 1


def test_task_regex_and_date_range(cleared_db: Engine) -> None:
    cleared = clear_task_instances("etl", task_regex="^[bc]$", start_date=START,
                                   end_date=START + timedelta(days=1), dry_run=True,
                                   engine=cleared_db)
    assert keys(cleared) == [("r1", "b"), ("r1", "c"), ("r2", "b"), ("r2", "c")]


def test_dag_run_state_none_leaves_runs_alone(cleared_db: Engine) -> None:
    before = runs(cleared_db)
    clear_task_instances("etl", only_failed=True, dag_run_state=None, engine=cleared_db)
    assert runs(cleared_db) == before
    assert tis(cleared_db)[("r1", "b")].state is None


def test_clear_dag_runs_clears_whole_runs(cleared_db: Engine) -> None:
    cleared = clear_dag_runs("etl", run_ids=["r3"], engine=cleared_db)
    assert keys(cleared) == [("r3", "a"), ("r3", "b"), ("r3", "c"), ("r3", "x")]
    assert all(r.state is None and r.max_tries == 3 for r in cleared)
    states = {r.run_id: (r.state, r.clear_number) for r in runs(cleared_db)}
    assert states == {"r1": ("failed", 0), "r2": ("running", 0), "r3": ("queued", 1)}
    # Cleared again while queued: the run is not finished, so it is left as it is.
    clear_dag_runs("etl", run_ids=["r3"], only_failed=False, engine=cleared_db)
    assert next(r for r in runs(cleared_db) if r.run_id == "r3").clear_number == 1


def test_clear_dag_runs_only_failed(cleared_db: Engine) -> None:
    assert keys(clear_dag_runs("etl", only_failed=True, engine=cleared_db)) == [
        ("r1", "b"), ("r1", "c")]


@pytest.mark.parametrize(("call", "error", "match"), [
    pytest.param(lambda e: clear_task_instances("etl", only_failed=True, only_running=True,
                                                engine=e),
                 ValueError, "only_failed and only_running", id="failed-and-running"),
    pytest.param(lambda e: clear_task_instances("etl", start_date=START + timedelta(days=1),
                                                end_date=START, engine=e),
                 ValueError, "must not be after end_date", id="start-after-end"),
    pytest.param(lambda e: clear_task_instances("etl", start_date=datetime(2024, 1, 1),
                                                engine=e),
                 ValueError, "start_date must be timezone-aware", id="naive"),
    pytest.param(lambda e: clear_task_instances("etl", run_id="r1", start_date=START, engine=e),
                 ValueError, "run_id cannot be combined", id="run-id-and-dates"),
    pytest.param(lambda e: clear_task_instances("etl", task_ids=["nope"], engine=e),
                 ValueError, "\\['nope'\\] not found in DAG 'etl'", id="unknown-task"),
    pytest.param(lambda e: clear_task_instances("etl", task_ids=[], engine=e),
                 ValueError, "must not be empty", id="empty-task-ids"),
    pytest.param(lambda e: clear_task_instances("etl", task_regex="(", engine=e),
                 ValueError, "invalid task_regex", id="bad-regex"),
    pytest.param(lambda e: clear_task_instances("etl", dag_run_state="done", engine=e),
                 ValueError, "invalid DagRun state: done", id="bad-run-state"),
    pytest.param(lambda e: clear_task_instances("etl", run_id="zz", engine=e),
                 DagRunNotFound, "Dag Run id zz not found in dag etl", id="unknown-run"),
    pytest.param(lambda e: clear_dag_runs("etl", run_ids=["zz"], engine=e),
                 DagRunNotFound, "`etl` and run_id: `zz` was not found", id="unknown-run-2"),
    pytest.param(lambda e: clear_dag_runs("nope", engine=e),
                 DagNotFound, "Dag id nope not found", id="unknown-dag"),
])
def test_clear_validation(cleared_db: Engine, call: Any, error: type[Exception],
                          match: str) -> None:
    before_tis, before_runs = tis(cleared_db), runs(cleared_db)
    with pytest.raises(error, match=match):
        call(cleared_db)
    assert tis(cleared_db) == before_tis and runs(cleared_db) == before_runs
