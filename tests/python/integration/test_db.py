"""The metadata database on real SQLite files and a real PostgreSQL server (the ``engine`` fixture)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection, Engine

from dagcore import configuration
from dagcore.db import check, create_engine, head_revision, migrate, reset, transaction
from dagcore.models import tables as t
from dagcore.models.types import uuid7

pytestmark = pytest.mark.integration

TABLES = {
    "dag", "dag_version", "serialized_dag", "dag_code", "import_error", "dag_run", "task_instance",
    "task_instance_history", "xcom", "backfill", "backfill_dag_run", "job", "user",
    "dag_tag", "task_reschedule", "dag_file_warning", "dag_code_blob", "dag_version_file",
    "asset", "asset_alias", "asset_alias_asset", "asset_event", "asset_alias_asset_event",
    "asset_dag_run_queue", "dag_schedule_asset_reference", "task_outlet_asset_reference",
    "dagrun_asset_event", "dag_schedule_asset_alias_reference",
    "dag_schedule_asset_name_reference", "dag_schedule_asset_uri_reference",
}
NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def db(engine: Engine) -> Engine:
    """An engine on a database migrated to head."""
    migrate(engine)
    return engine


def _add_dag(conn: Connection, dag_id: str = "etl") -> None:
    conn.execute(sa.insert(t.dag).values(dag_id=dag_id))


def _add_version(conn: Connection, dag_id: str = "etl", number: int = 1) -> uuid.UUID:
    version_id = uuid7()
    conn.execute(sa.insert(t.dag_version).values(
        id=version_id, dag_id=dag_id, version_number=number, created_at=NOW, last_updated=NOW))
    return version_id


def _run_values(run_id: str, logical_date: datetime | None, dag_id: str = "etl") -> dict[str, object]:
    return {"dag_id": dag_id, "run_id": run_id, "logical_date": logical_date, "run_after": logical_date or NOW,
            "state": "queued", "run_type": "scheduled"}


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


# -- migrations ------------------------------------------------------------------------------


def test_migrate_creates_every_table_at_head(engine: Engine) -> None:
    assert check(engine).current is None
    assert migrate(engine) == head_revision()
    assert TABLES | {"alembic_version"} == set(sa.inspect(engine).get_table_names())
    status = check(engine)
    assert status.current == status.head == head_revision() and status.up_to_date


def test_the_written_head_is_the_newest_migration_script() -> None:
    # head_revision() is a constant so that checking a database reads no script; a migration
    # added without updating it fails here.
    from dagcore.db.migrate import scripts_head_revision

    assert head_revision() == scripts_head_revision()


def test_migrated_schema_matches_the_table_definitions(db: Engine) -> None:
    # The migration is frozen history; tables.py is the current schema. They must not drift.
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), t.metadata)
    assert diff == []


def test_migrate_is_idempotent_and_keeps_data(db: Engine) -> None:
    with transaction(db) as conn:
        _add_dag(conn)
    assert migrate(db) == head_revision()
    assert migrate(db) == head_revision()
    assert _count(db, t.dag) == 1


def test_reset_drops_data_and_recreates_the_schema(db: Engine) -> None:
    with transaction(db) as conn:
        _add_dag(conn)
        conn.execute(sa.insert(t.dag_run).values(_run_values("r1", NOW)))
    assert reset(db) == head_revision()
    assert TABLES <= set(sa.inspect(db).get_table_names())
    assert _count(db, t.dag) == 0 and _count(db, t.dag_run) == 0
    assert check(db).up_to_date


def test_reset_of_an_empty_database_creates_the_schema(engine: Engine) -> None:
    assert reset(engine) == head_revision()
    assert TABLES <= set(sa.inspect(engine).get_table_names())


def test_migrate_without_engine_uses_the_configured_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'configured' / 'dagcore.db'}"
    with configuration.conf_vars({("database", "sql_alchemy_conn"): url}):
        assert migrate() == head_revision()
        assert check().up_to_date
    assert (tmp_path / "configured" / "dagcore.db").is_file()


# -- constraints and transactions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(("r1", NOW), ("r1", NOW + DAY), id="same-run-id"),
        pytest.param(("r1", NOW), ("r2", NOW), id="same-logical-date"),
        # The same instant spelled in another zone is the same logical date.
        pytest.param(("r1", NOW), ("r2", NOW.astimezone(timezone(timedelta(hours=2)))), id="same-instant-other-zone"),
    ],
)
def test_duplicate_runs_are_rejected_and_the_transaction_rolls_back(
    db: Engine, first: tuple[str, datetime], second: tuple[str, datetime]
) -> None:
    with transaction(db) as conn:
        _add_dag(conn)
        conn.execute(sa.insert(t.dag_run).values(_run_values(*first)))
    with pytest.raises(sa.exc.IntegrityError), transaction(db) as conn:
        conn.execute(sa.insert(t.dag_run).values(_run_values("unrelated", NOW + 10 * DAY)))
        conn.execute(sa.insert(t.dag_run).values(_run_values(*second)))
    with db.connect() as conn:
        run_ids = conn.execute(sa.select(t.dag_run.c.run_id)).scalars().all()
    assert run_ids == ["r1"]  # "unrelated" went with the failed transaction


def test_runs_without_logical_date_do_not_collide(db: Engine) -> None:
    with transaction(db) as conn:
        _add_dag(conn)
        conn.execute(sa.insert(t.dag_run), [_run_values("manual_1", None), _run_values("manual_2", None)])
    assert _count(db, t.dag_run) == 2


def test_same_run_id_in_two_dags_is_allowed(db: Engine) -> None:
    with transaction(db) as conn:
        _add_dag(conn, "a")
        _add_dag(conn, "b")
        conn.execute(sa.insert(t.dag_run), [_run_values("r1", NOW, "a"), _run_values("r1", NOW, "b")])
    assert _count(db, t.dag_run) == 2


def test_duplicate_version_number_and_task_instance_are_rejected(db: Engine) -> None:
    with transaction(db) as conn:
        _add_dag(conn)
        _add_version(conn, number=1)
        conn.execute(sa.insert(t.dag_run).values(_run_values("r1", NOW)))
        conn.execute(sa.insert(t.task_instance).values(id=uuid7(), dag_id="etl", run_id="r1", task_id="x"))
    with pytest.raises(sa.exc.IntegrityError), transaction(db) as conn:
        _add_version(conn, number=1)
    with pytest.raises(sa.exc.IntegrityError), transaction(db) as conn:
        conn.execute(sa.insert(t.task_instance).values(id=uuid7(), dag_id="etl", run_id="r1", task_id="x"))
    # Another map index of the same task is another task instance.
    with transaction(db) as conn:
        conn.execute(sa.insert(t.task_instance).values(id=uuid7(), dag_id="etl", run_id="r1", task_id="x", map_index=0))
    assert _count(db, t.dag_version) == 1 and _count(db, t.task_instance) == 2


def test_foreign_keys_are_enforced(db: Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), transaction(db) as conn:
        conn.execute(sa.insert(t.dag_run).values(_run_values("r1", NOW, dag_id="no_such_dag")))
    with pytest.raises(sa.exc.IntegrityError), transaction(db) as conn:
        _add_dag(conn)
        conn.execute(sa.insert(t.task_instance).values(id=uuid7(), dag_id="etl", run_id="no_such_run", task_id="x"))
    assert _count(db, t.dag) == 0


def test_backfill_sort_ordinal_must_be_positive(db: Engine) -> None:
    with transaction(db) as conn:
        _add_dag(conn)
        backfill_id = conn.execute(sa.insert(t.backfill).values(
            dag_id="etl", from_date=NOW, to_date=NOW + DAY, created_at=NOW, updated_at=NOW)).inserted_primary_key[0]
    with pytest.raises(sa.exc.IntegrityError), transaction(db) as conn:
        conn.execute(sa.insert(t.backfill_dag_run).values(backfill_id=backfill_id, sort_ordinal=0))


# -- cascades --------------------------------------------------------------------------------


def test_deleting_a_backfill_cascades_to_its_runs_records_but_not_the_dag_runs(db: Engine) -> None:
    with transaction(db) as conn:
        _add_dag(conn)
        backfill_id = conn.execute(sa.insert(t.backfill).values(
            dag_id="etl", from_date=NOW, to_date=NOW + DAY, created_at=NOW, updated_at=NOW)).inserted_primary_key[0]
        run_id = conn.execute(sa.insert(t.dag_run).values(
            {**_run_values("backfill__1", NOW), "backfill_id": backfill_id})).inserted_primary_key[0]
        conn.execute(sa.insert(t.backfill_dag_run), [
            {"backfill_id": backfill_id, "dag_run_id": run_id, "logical_date": NOW, "sort_ordinal": 1},
            {"backfill_id": backfill_id, "dag_run_id": None, "logical_date": NOW + DAY, "sort_ordinal": 2,
             "exception_reason": "already exists"},
        ])
    with db.connect() as conn:  # defaults applied on insert
        row = conn.execute(sa.select(t.backfill)).one()
    assert (row.dag_run_conf, row.is_paused, row.reprocess_behavior, row.max_active_runs) == ({}, False, "none", 10)
    with transaction(db) as conn:
        conn.execute(sa.delete(t.backfill).where(t.backfill.c.id == backfill_id))
    assert _count(db, t.backfill_dag_run) == 0
    with db.connect() as conn:
        assert conn.execute(sa.select(t.dag_run.c.backfill_id)).scalar_one() is None  # SET NULL


def test_deleting_a_dag_run_keeps_the_backfill_record(db: Engine) -> None:
    with transaction(db) as conn:
        _add_dag(conn)
        backfill_id = conn.execute(sa.insert(t.backfill).values(
            dag_id="etl", from_date=NOW, to_date=NOW, created_at=NOW, updated_at=NOW)).inserted_primary_key[0]
        run_id = conn.execute(sa.insert(t.dag_run).values(_run_values("r1", NOW))).inserted_primary_key[0]
        conn.execute(sa.insert(t.backfill_dag_run).values(backfill_id=backfill_id, dag_run_id=run_id, sort_ordinal=1))
        conn.execute(sa.delete(t.dag_run))
    with db.connect() as conn:
        assert conn.execute(sa.select(t.backfill_dag_run.c.dag_run_id)).scalar_one() is None


def test_deleting_a_dag_version_cascades_to_serialized_dag_and_code(db: Engine) -> None:
    with transaction(db) as conn:
        _add_dag(conn)
        v1, v2 = _add_version(conn, number=1), _add_version(conn, number=2)
        for version_id in (v1, v2):
            conn.execute(sa.insert(t.serialized_dag).values(
                id=uuid7(), dag_id="etl", data={"dag": {"dag_id": "etl"}}, dag_hash="0" * 32,
                created_at=NOW, last_updated=NOW, dag_version_id=version_id))
            conn.execute(sa.insert(t.dag_code).values(
                id=uuid7(), dag_id="etl", fileloc="/dags/etl.py", source_code="...", source_code_hash="1" * 32,
                created_at=NOW, last_updated=NOW, dag_version_id=version_id))
        conn.execute(sa.insert(t.dag_run).values({**_run_values("r1", NOW), "created_dag_version_id": v1}))
    with transaction(db) as conn:
        conn.execute(sa.delete(t.dag_version).where(t.dag_version.c.id == v1))
    with db.connect() as conn:
        assert conn.execute(sa.select(t.serialized_dag.c.dag_version_id)).scalars().all() == [v2]
        assert conn.execute(sa.select(t.dag_code.c.dag_version_id)).scalars().all() == [v2]
        assert conn.execute(sa.select(t.serialized_dag.c.data)).scalar_one() == {"dag": {"dag_id": "etl"}}
        assert conn.execute(sa.select(t.dag_run.c.created_dag_version_id)).scalar_one() is None


def test_a_dag_version_used_by_a_task_instance_cannot_be_deleted(db: Engine) -> None:
    with transaction(db) as conn:
        _add_dag(conn)
        version_id = _add_version(conn)
        conn.execute(sa.insert(t.dag_run).values(_run_values("r1", NOW)))
        conn.execute(sa.insert(t.task_instance).values(
            id=uuid7(), dag_id="etl", run_id="r1", task_id="x", dag_version_id=version_id))
    with pytest.raises(sa.exc.IntegrityError), transaction(db) as conn:
        conn.execute(sa.delete(t.dag_version))
    assert _count(db, t.dag_version) == 1


def test_deleting_a_dag_removes_everything_that_belongs_to_it(db: Engine) -> None:
    with transaction(db) as conn:
        _add_dag(conn)
        _add_dag(conn, "other")
        version_id = _add_version(conn)
        run_pk = conn.execute(sa.insert(t.dag_run).values(
            {**_run_values("r1", NOW), "created_dag_version_id": version_id})).inserted_primary_key[0]
        conn.execute(sa.insert(t.dag_run).values(_run_values("r1", NOW, "other")))
        ti = {"dag_id": "etl", "run_id": "r1", "task_id": "x", "dag_version_id": version_id, "try_number": 1}
        conn.execute(sa.insert(t.task_instance).values(id=uuid7(), **ti))
        conn.execute(sa.insert(t.task_instance_history).values(task_instance_id=uuid7(), **ti))
        conn.execute(sa.insert(t.xcom).values(
            dag_run_id=run_pk, dag_id="etl", run_id="r1", task_id="x", key="return_value", value=[1, 2],
            timestamp=NOW))
    with transaction(db) as conn:
        conn.execute(sa.delete(t.dag).where(t.dag.c.dag_id == "etl"))
    for table in (t.dag_version, t.task_instance, t.task_instance_history, t.xcom):
        assert _count(db, table) == 0, table.name
    with db.connect() as conn:
        assert conn.execute(sa.select(t.dag_run.c.dag_id)).scalars().all() == ["other"]


# -- types -----------------------------------------------------------------------------------


def test_datetimes_come_back_aware_in_utc_and_naive_ones_are_rejected(db: Engine) -> None:
    zurich_summer = timezone(timedelta(hours=2))
    with transaction(db) as conn:
        _add_dag(conn)
        conn.execute(sa.insert(t.dag_run).values(_run_values("r1", datetime(2026, 7, 1, 2, 0, tzinfo=zurich_summer))))
    with db.connect() as conn:
        logical_date = conn.execute(sa.select(t.dag_run.c.logical_date)).scalar_one()
        # Range queries compare instants, on both backends.
        hits = conn.execute(sa.select(sa.func.count()).select_from(t.dag_run).where(
            t.dag_run.c.logical_date >= datetime(2026, 7, 1, 0, 0, tzinfo=UTC))).scalar_one()
    assert logical_date == datetime(2026, 7, 1, 0, 0, tzinfo=UTC) and logical_date.tzinfo == UTC
    assert hits == 1
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), transaction(db) as conn:
        conn.execute(sa.insert(t.dag_run).values(_run_values("r2", datetime(2026, 7, 2))))


# -- engines ---------------------------------------------------------------------------------


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(sqlite_engine: Engine) -> None:
    with configuration.conf_vars({("database", "sqlite_busy_timeout"): "12.5"}):
        engine = create_engine(sqlite_engine.url)
    try:
        with engine.connect() as conn:
            pragmas = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                       for name in ("journal_mode", "busy_timeout", "foreign_keys")}
    finally:
        engine.dispose()
    assert pragmas == {"journal_mode": "wal", "busy_timeout": 12500, "foreign_keys": 1}


def test_default_engine_is_a_sqlite_file_in_dagcore_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("DAGCORE_HOME", str(home))
    monkeypatch.delenv("DAGCORE__DATABASE__SQL_ALCHEMY_CONN", raising=False)
    engine = create_engine()
    try:
        assert engine.url.database == str(home / "dagcore.db")
        migrate(engine)
    finally:
        engine.dispose()
    assert (home / "dagcore.db").is_file()


def test_bad_database_url_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="not a url"):
        create_engine("not a url")


def test_sqlite_writers_in_two_threads_queue_instead_of_failing(tmp_path: Path) -> None:
    # BEGIN IMMEDIATE + busy_timeout: a read-modify-write never fails with "database is locked".
    engine = create_engine(f"sqlite:///{tmp_path / 'dagcore.db'}")
    try:
        migrate(engine)
        with transaction(engine) as conn:
            conn.execute(sa.insert(t.dag).values(dag_id="etl", max_active_tasks=0))
        errors: list[BaseException] = []

        def bump() -> None:
            try:
                for _ in range(25):
                    with transaction(engine) as conn:
                        value = conn.execute(sa.select(t.dag.c.max_active_tasks)).scalar_one()
                        conn.execute(sa.update(t.dag).values(max_active_tasks=value + 1))
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                errors.append(exc)

        threads = [threading.Thread(target=bump) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        with engine.connect() as conn:
            assert conn.execute(sa.select(t.dag.c.max_active_tasks)).scalar_one() == 50  # no lost update
    finally:
        engine.dispose()


def _upgrade_to(engine: Engine, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from dagcore.db.migrate import MIGRATIONS_DIR

    with engine.connect() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        conn.commit()


def test_0005_fills_dag_tag_from_each_dags_latest_version(engine: Engine) -> None:
    """Upgrading from 0004: dag_tag gets the tags of each DAG's highest version (its
    serialized DAG plain or zlib-compressed), so the API's tag filter (Airflow's dag_tag) answers
    before the next parse; task instances get a note column."""
    import json
    import uuid
    import zlib

    _upgrade_to(engine, "0004_users")
    now = NOW

    def version(conn: Connection, dag_id: str, number: int, tags: list[str], *,
                compressed: bool = False) -> None:
        version_id = uuid.uuid4()
        data = {"__version": 1, "dag": {"dag_id": dag_id, "tags": tags}}
        conn.execute(sa.insert(t.dag_version).values(
            id=version_id, version_number=number, dag_id=dag_id, created_at=now,
            last_updated=now))
        conn.execute(sa.insert(t.serialized_dag).values(
            id=uuid.uuid4(), dag_id=dag_id, dag_version_id=version_id, dag_hash="h" * 32,
            created_at=now, last_updated=now, data=None if compressed else data,
            data_compressed=zlib.compress(json.dumps(data).encode()) if compressed else None))

    dag = sa.table("dag", sa.column("dag_id"))  # the 0004 schema, not today's
    with transaction(engine) as conn:
        for dag_id in ("etl", "ml", "bare"):
            conn.execute(dag.insert().values(dag_id=dag_id))
        version(conn, "etl", 1, ["old"])
        version(conn, "etl", 2, ["prod", "etl"])
        version(conn, "ml", 1, ["ml"], compressed=True)
        version(conn, "bare", 1, [])
    assert migrate(engine) == head_revision()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.dag_tag.c.dag_id, t.dag_tag.c.name)
                            .order_by(t.dag_tag.c.dag_id, t.dag_tag.c.name)).all()
    assert [tuple(row) for row in rows] == [("etl", "etl"), ("etl", "prod"), ("ml", "ml")]
    assert "note" in {c["name"] for c in sa.inspect(engine).get_columns("task_instance")}


def test_alembic_is_imported_only_to_migrate() -> None:
    """Importing dagcore.db (as the task runner, and so a LocalExecutor's fork server, does)
    leaves Alembic unimported; migrating imports it."""
    import subprocess
    import sys

    code = ("import sys, dagcore.task_runner, dagcore.db; "
            "print('alembic' in sys.modules, 'mako' in sys.modules); "
            "dagcore.db.migrate(dagcore.db.create_engine('sqlite://')); "
            "print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False", "True"]


# -- waiting for SQLite's write lock (db.engine._begin_immediate) -------------------------------


def _holder(path: Path) -> Any:
    """Another connection to ``path`` (as another process would be) holding the write lock."""
    import sqlite3

    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def _busy_timeout(conn: Connection) -> int:
    return int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one())


def test_a_writer_gets_the_lock_released_while_it_polls_and_keeps_its_busy_timeout(
        tmp_path: Path) -> None:
    path = tmp_path / "dagcore.db"
    with configuration.conf_vars({("database", "sqlite_busy_timeout"): "5"}):
        engine = create_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
        other = _holder(path)
        released = threading.Timer(0.02, other.rollback)  # within the polling's 50 ms
        released.start()
        with transaction(engine) as conn:
            assert _busy_timeout(conn) == 5000  # set back once the lock was taken
            conn.execute(t.job.insert().values(
                job_type="SchedulerJob", state="running", hostname="h", pid=1,
                start_date=NOW, latest_heartbeat=NOW))
        released.join()
        later = threading.Timer(0.2, other.rollback)  # after the polling: SQLite's handler
        other.execute("BEGIN IMMEDIATE")
        later.start()
        with transaction(engine) as conn:
            assert _busy_timeout(conn) == 5000
            conn.execute(t.job.update().values(state="success"))
        later.join()
        other.close()
        with engine.connect() as conn:
            assert conn.execute(sa.select(t.job.c.state)).scalars().all() == ["success"]
    finally:
        engine.dispose()


def test_a_lock_held_past_the_busy_timeout_still_fails_and_the_timeout_is_kept(
        tmp_path: Path) -> None:
    from dagcore.db.sqlite_file import is_lock_error

    path = tmp_path / "dagcore.db"
    with configuration.conf_vars({("database", "sqlite_busy_timeout"): "0.2"}):
        engine = create_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
        other = _holder(path)
        with pytest.raises(sa.exc.OperationalError) as raised:
            with transaction(engine):
                pass
        assert is_lock_error(raised.value)
        other.rollback()
        other.close()
        with engine.connect() as conn:  # the same pooled connection, its timeout set back
            assert _busy_timeout(conn) == 200
    finally:
        engine.dispose()
