"""dagcore.db.bulk.insert_rows stores what SQLAlchemy's executemany of the same dicts stores."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore import DAG
from dagcore.dag_processing import write_dag
from dagcore.db import migrate, transaction
from dagcore.db.bulk import insert_rows
from dagcore.models import tables as t
from dagcore.models.types import uuid7
from dagcore.operators.empty import EmptyOperator

pytestmark = pytest.mark.integration


def _rows(n: int, version_id: uuid.UUID) -> list[dict[str, Any]]:
    now = datetime(2025, 3, 30, 1, 59, 59, 123456, tzinfo=UTC)
    return [{
        "id": uuid7() if i % 2 else str(uuid7()), "task_id": f"t{i}", "dag_id": "d",
        "run_id": f"r{i % 3}", "map_index": -1 if i % 4 else i, "state": None if i % 5 else "queued",
        "try_number": 0, "max_tries": i % 3, "pool": "default_pool", "pool_slots": 1 + i % 2,
        "queue": "default", "priority_weight": i, "operator": "EmptyOperator",
        "task_display_name": f"T \u00e9 {i}\n\ttab", "dag_version_id": version_id,
        "executor_config": {} if i % 2 else {"k": [1, "\u00e9", None], "n": {"x": 1.5}},
        "updated_at": now + timedelta(seconds=i),
    } for i in range(n)]


def _stored(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT * FROM task_instance ORDER BY task_id").all()
        typed = conn.execute(sa.select(t.task_instance).order_by(t.task_instance.c.task_id)).all()
    return [tuple(r) for r in raw] + [tuple(r) for r in typed]


def _database(engine: Engine) -> uuid.UUID:
    migrate(engine)
    with DAG("d", schedule=None, start_date=datetime(2025, 1, 1, tzinfo=UTC)) as dag:
        EmptyOperator(task_id="t")
    write_dag(engine, dag)
    with transaction(engine) as conn:
        version_id = conn.execute(sa.select(t.dag_version.c.id)).scalar_one()
        for k in range(3):
            conn.execute(t.dag_run.insert().values(
                dag_id="d", run_id=f"r{k}", run_type="manual", state="running",
                run_after=datetime(2025, 1, 1, tzinfo=UTC)))
    return version_id


def test_insert_rows_stores_what_sqlalchemy_stores(tmp_path: Any) -> None:
    from dagcore.db import create_engine

    template = _rows(25, uuid7())
    stored = []
    for name, insert in (("sqlalchemy", lambda c, rows: c.execute(t.task_instance.insert(), rows)),
                         ("bulk", lambda c, rows: insert_rows(c, t.task_instance, rows))):
        engine = create_engine(f"sqlite:///{tmp_path / name}.db")
        version_id = _database(engine)
        # the same rows (ids included) in both databases, each with its own DAG version
        rows = [dict(row, dag_version_id=version_id) for row in template]
        with transaction(engine) as conn:
            insert(conn, rows)
        found = _stored(engine)
        stored.append([tuple(v for v in row if v != version_id and v != str(version_id))
                       for row in found])
        engine.dispose()
    assert len(stored[0]) == 50
    assert stored[0] == stored[1]


def test_insert_rows_without_rows_does_nothing(sqlite_engine: Engine) -> None:
    _database(sqlite_engine)
    with transaction(sqlite_engine) as conn:
        insert_rows(conn, t.task_instance, [])
    with sqlite_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.task_instance)).scalar() == 0


def test_insert_rows_on_postgres_goes_through_sqlalchemy(postgres_engine: Engine) -> None:
    version_id = _database(postgres_engine)
    rows = _rows(5, version_id)
    with transaction(postgres_engine) as conn:
        insert_rows(conn, t.task_instance, rows)
    with postgres_engine.connect() as conn:
        got = conn.execute(sa.select(t.task_instance.c.task_id, t.task_instance.c.executor_config)
                           .order_by(t.task_instance.c.task_id)).all()
    assert [(r.task_id, r.executor_config) for r in got] == [
        (r["task_id"], r["executor_config"]) for r in rows]


def test_equal_values_of_other_types_are_processed_apart() -> None:
    from dagcore.db.bulk import _processed

    assert _processed(repr, [1, True, 1.0, 1, {"a": 1}, True]) == [
        "1", "True", "1.0", "1", "{'a': 1}", "True"]
