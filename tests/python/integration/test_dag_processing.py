"""write_dag versioning, import errors, stale marking and paused-at-creation (SQLite and PostgreSQL).

The DB logic is exercised through :func:`sync_parsed` / :func:`write_dag`, which need no file
parser; :func:`sync_dags` itself is tested only once :mod:`dagcore.dagbag` exists.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore import DAG
from dagcore.configuration import conf_vars
from dagcore.dag_processing import sync_parsed, write_dag
from dagcore.db import migrate, transaction
from dagcore.models import tables as t
from dagcore.operators.empty import EmptyOperator
from dagcore.serialization import SerializedDAG, dag_hash, serialize_dag

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def db(engine: Engine) -> Engine:
    migrate(engine)
    return engine


def make_dag(dag_id: str = "etl", tasks: tuple[str, ...] = ("a", "b"), *,
             relative_fileloc: str = "etl.py", **kwargs: object) -> DAG:
    with DAG(dag_id, start_date=START, **kwargs) as dag:  # type: ignore[arg-type]
        ops = [EmptyOperator(task_id=task_id) for task_id in tasks]
    for up, down in zip(ops, ops[1:]):
        up >> down
    dag.fileloc = f"/dags/{relative_fileloc}"
    dag.relative_fileloc = relative_fileloc  # type: ignore[attr-defined]
    return dag


def versions(engine: Engine, dag_id: str = "etl") -> list[tuple[int, uuid.UUID]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.dag_version.c.version_number, t.dag_version.c.id)
                            .where(t.dag_version.c.dag_id == dag_id)
                            .order_by(t.dag_version.c.version_number)).all()
    return [(r.version_number, r.id) for r in rows]


def stored(engine: Engine, version_id: uuid.UUID) -> sa.Row:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.serialized_dag).where(
            t.serialized_dag.c.dag_version_id == version_id)).one()


def add_task_instance(engine: Engine, version_id: uuid.UUID, dag_id: str = "etl") -> None:
    with transaction(engine) as conn:
        conn.execute(t.dag_run.insert().values(dag_id=dag_id, run_id="r1", run_after=T0,
                                               state="running", run_type="manual",
                                               created_dag_version_id=version_id))
        conn.execute(t.task_instance.insert().values(id=uuid.uuid4(), dag_id=dag_id, run_id="r1",
                                                     task_id="a", dag_version_id=version_id))


def dag_row(engine: Engine, dag_id: str = "etl") -> sa.Row:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.dag).where(t.dag.c.dag_id == dag_id)).one()


# -- write_dag versioning (docs/airflow-behaviour.md 1.3) ------------------------------------------


def test_new_dag_gets_version_1_with_its_data_and_code(db: Engine, tmp_path: Path) -> None:
    source = tmp_path / "etl.py"
    source.write_text("# the dag file\n")
    dag = make_dag()
    dag.fileloc = str(source)
    assert write_dag(db, dag, now=T0) is True
    [(number, version_id)] = versions(db)
    assert number == 1
    row = stored(db, version_id)
    assert row.dag_hash == dag_hash(serialize_dag(dag))
    assert SerializedDAG(row.data).task_specs() == dag.task_specs()
    with db.connect() as conn:
        code = conn.execute(sa.select(t.dag_code)).one()
    assert code.source_code == "# the dag file\n" and code.dag_version_id == version_id


def test_same_hash_and_bundle_writes_nothing(db: Engine) -> None:
    write_dag(db, make_dag(), now=T0)
    [(_, version_id)] = versions(db)
    assert write_dag(db, make_dag(relative_fileloc="moved.py"), now=T0 + timedelta(hours=1)) \
        is False
    assert stored(db, version_id).last_updated == T0


def test_changed_hash_without_task_instances_updates_in_place(db: Engine) -> None:
    write_dag(db, make_dag(), now=T0)
    [(_, version_id)] = versions(db)
    changed = make_dag(tasks=("a", "b", "c"))
    assert write_dag(db, changed, now=T0 + timedelta(minutes=5)) is True
    assert versions(db) == [(1, version_id)]
    row = stored(db, version_id)
    assert row.dag_hash == dag_hash(serialize_dag(changed))
    assert row.last_updated == T0 + timedelta(minutes=5)
    assert SerializedDAG(row.data).task_ids == ["a", "b", "c"]


def test_changed_hash_with_task_instances_creates_version_2(db: Engine) -> None:
    write_dag(db, make_dag(), now=T0)
    [(_, v1)] = versions(db)
    add_task_instance(db, v1)
    assert write_dag(db, make_dag(tasks=("a", "b", "c")), now=T0 + timedelta(minutes=5)) is True
    [(n1, id1), (n2, id2)] = versions(db)
    assert (n1, id1, n2) == (1, v1, 2) and id2 != v1
    assert SerializedDAG(stored(db, v1).data).task_ids == ["a", "b"]  # v1 untouched
    assert SerializedDAG(stored(db, id2).data).task_ids == ["a", "b", "c"]
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.dag_code)).scalar() == 2


def test_min_update_interval_throttles_writes(db: Engine) -> None:
    write_dag(db, make_dag(), now=T0)
    changed = make_dag(tasks=("a", "b", "c"))
    interval = timedelta(seconds=30)
    assert write_dag(db, changed, now=T0 + timedelta(seconds=10),
                     min_update_interval=interval) is False
    assert write_dag(db, changed, now=T0 + timedelta(seconds=31),
                     min_update_interval=interval) is True


def test_bundle_change_with_same_hash_is_written(db: Engine) -> None:
    write_dag(db, make_dag(), now=T0)
    assert write_dag(db, make_dag(), bundle_name="other", now=T0 + timedelta(minutes=1)) is True


def test_compressed_storage_round_trips(db: Engine) -> None:
    with conf_vars({("core", "compress_serialized_dags"): "True"}):
        write_dag(db, make_dag(), now=T0)
    [(_, version_id)] = versions(db)
    row = stored(db, version_id)
    assert row.data is None and row.data_compressed


# -- sync_parsed: dag rows, paused at creation, import errors, stale -----------------------------


def test_sync_creates_dag_rows_paused_per_config_or_dag_attribute(db: Engine) -> None:
    with conf_vars({("core", "dags_are_paused_at_creation"): "True"}):
        result = sync_parsed(db, [make_dag("p"), make_dag("u", is_paused_upon_creation=False)],
                             {}, now=T0)
    assert sorted(result.created) == ["p", "u"]
    assert dag_row(db, "p").is_paused is True
    assert dag_row(db, "u").is_paused is False
    with conf_vars({("core", "dags_are_paused_at_creation"): "False"}):
        sync_parsed(db, [make_dag("n")], {}, now=T0)
    assert dag_row(db, "n").is_paused is False


def test_sync_keeps_the_pause_flag_of_existing_dags(db: Engine) -> None:
    with conf_vars({("core", "dags_are_paused_at_creation"): "True"}):
        sync_parsed(db, [make_dag()], {}, now=T0)
    with transaction(db) as conn:
        conn.execute(t.dag.update().values(is_paused=False))
    result = sync_parsed(db, [make_dag(description="new")], {}, now=T0 + timedelta(minutes=1))
    assert result.created == ()
    row = dag_row(db)
    assert row.is_paused is False and row.description == "new"
    assert row.relative_fileloc == "etl.py" and row.bundle_name == "dags-folder"
    assert row.last_parsed_time == T0 + timedelta(minutes=1)


def test_sync_reports_written_and_unchanged(db: Engine) -> None:
    assert sync_parsed(db, [make_dag()], {}, now=T0).written == ("etl",)
    assert sync_parsed(db, [make_dag()], {}, now=T0 + timedelta(minutes=1)).unchanged == ("etl",)


def test_import_errors_are_recorded_and_cleared_when_fixed(db: Engine) -> None:
    sync_parsed(db, [make_dag()], {"broken.py": "SyntaxError: invalid syntax"}, now=T0)
    with db.connect() as conn:
        rows = conn.execute(sa.select(t.import_error)).all()
    assert [(r.filename, r.bundle_name, r.stacktrace) for r in rows] == [
        ("broken.py", "dags-folder", "SyntaxError: invalid syntax")]
    # Still broken, new message: one row, replaced.
    sync_parsed(db, [make_dag()], {"broken.py": "NameError: x"}, now=T0 + timedelta(minutes=1))
    with db.connect() as conn:
        assert conn.execute(sa.select(t.import_error.c.stacktrace)).scalars().all() == [
            "NameError: x"]
    sync_parsed(db, [make_dag(), make_dag("fixed", relative_fileloc="broken.py")], {},
                now=T0 + timedelta(minutes=2))
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.import_error)).scalar() == 0


def test_partial_parse_clears_only_the_parsed_files_errors(db: Engine) -> None:
    sync_parsed(db, [], {"a.py": "boom", "b.py": "boom"}, now=T0)
    sync_parsed(db, [], {}, parsed_files=["a.py"], now=T0)
    with db.connect() as conn:
        assert conn.execute(sa.select(t.import_error.c.filename)).scalars().all() == ["b.py"]


def test_dags_no_longer_defined_by_their_file_are_marked_stale(db: Engine) -> None:
    sync_parsed(db, [make_dag("keep"), make_dag("gone"), make_dag("other", relative_fileloc="o.py")],
                {}, now=T0)
    result = sync_parsed(db, [make_dag("keep")], {}, parsed_files=["etl.py"],
                         now=T0 + timedelta(minutes=1))
    assert result.stale == ("gone",)
    assert dag_row(db, "gone").is_stale is True
    assert dag_row(db, "keep").is_stale is False
    assert dag_row(db, "other").is_stale is False  # its file was not parsed
    # Whole-bundle parse without o.py: other is stale too; coming back clears the flag.
    assert sync_parsed(db, [make_dag("keep")], {}, now=T0 + timedelta(minutes=2)).stale == (
        "other",)
    sync_parsed(db, [make_dag("keep"), make_dag("gone")], {}, now=T0 + timedelta(minutes=3))
    assert dag_row(db, "gone").is_stale is False


def test_a_dag_whose_file_fails_to_import_is_not_marked_stale(db: Engine) -> None:
    sync_parsed(db, [make_dag()], {}, now=T0)
    result = sync_parsed(db, [], {"etl.py": "SyntaxError"}, now=T0 + timedelta(minutes=1))
    assert result.stale == ()
    row = dag_row(db)
    assert row.is_stale is False and row.has_import_errors is True
    sync_parsed(db, [make_dag()], {}, now=T0 + timedelta(minutes=2))
    assert dag_row(db).has_import_errors is False


def test_sync_dags_parses_a_folder(db: Engine, tmp_path: Path) -> None:
    pytest.importorskip("dagcore.dagbag")
    from dagcore.dag_processing import sync_dags

    (tmp_path / "one.py").write_text(
        "from datetime import datetime, UTC\n"
        "from dagcore import DAG\n"
        "from dagcore.operators.empty import EmptyOperator\n"
        "with DAG('one', start_date=datetime(2024, 1, 1, tzinfo=UTC)) as dag:\n"
        "    EmptyOperator(task_id='a')\n")
    (tmp_path / "bad.py").write_text("from dagcore import DAG\nraise RuntimeError('nope')\n")
    result = sync_dags(tmp_path, engine=db, now=T0)
    assert result.written == ("one",)
    assert list(result.import_errors) == ["bad.py"]
    assert versions(db, "one")[0][0] == 1


def test_dag_tag_rows_follow_the_dags_tags(db: Engine) -> None:
    """Each write makes dag_tag the DAG's tags (Airflow's DagModel.tags, rewritten at each
    parse by DagModelOperation.update_dags); deleting the dag row takes them along."""
    def tags() -> list[str]:
        with db.connect() as conn:
            return list(conn.execute(sa.select(t.dag_tag.c.name).where(
                t.dag_tag.c.dag_id == "etl").order_by(t.dag_tag.c.name)).scalars())

    dag = make_dag()
    dag.tags = {"prod", "etl"}
    write_dag(db, dag, now=T0)
    assert tags() == ["etl", "prod"]
    dag.tags = {"etl", "nightly"}
    write_dag(db, dag, now=T0 + timedelta(minutes=1))
    assert tags() == ["etl", "nightly"]
    dag.tags = set()
    write_dag(db, dag, now=T0 + timedelta(minutes=2))
    assert tags() == []
    dag.tags = {"etl"}
    write_dag(db, dag, now=T0 + timedelta(minutes=3))
    with transaction(db) as conn:
        conn.execute(t.dag.delete().where(t.dag.c.dag_id == "etl"))
    assert tags() == []
