"""Backfills with more runs than SQLite allows bind parameters in one statement (issue 12 §4).

Airflow's backfill limit is ``max_backfill_dates`` (docs/airflow-behaviour.md 2.1): creation
allows far more runs than SQLite's 250,000 variables (32,766 before SQLite 3.32, 999 before
3.32 in some builds). Cancelling and reprocessing must therefore not put one bind parameter per
run in a statement. To prove that no statement grows with the number of runs without a slow
test, the connections' limit is lowered to 999 (``SQLITE_LIMIT_VARIABLE_NUMBER``) and the
backfills have 2,000 runs.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import dagcore.utils.timezone as tz_seam
from dagcore import DAG
from dagcore.api.backfills import cancel_backfill, create_backfill
from dagcore.dag_processing import write_dag
from dagcore.db import create_engine, migrate, transaction
from dagcore.models import tables as t
from dagcore.operators.empty import EmptyOperator

pytestmark = pytest.mark.integration

START = datetime(2020, 1, 1, tzinfo=UTC)
RUNS = 2_000  # twice the lowered limit
LIMIT = 999


def hour(i: int) -> datetime:
    return START + timedelta(hours=i)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A migrated SQLite database whose connections allow at most 999 bind parameters."""
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path))
    monkeypatch.setattr(tz_seam, "utcnow", lambda: datetime(2025, 1, 1, tzinfo=UTC))
    engine = create_engine(f"sqlite:///{tmp_path / 'large.db'}")

    @sa.event.listens_for(engine, "connect")
    def lower_limit(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, LIMIT)

    engine.dispose()  # connections opened before the listener would keep the default limit
    migrate(engine)
    with DAG("hourly", start_date=START, schedule="@hourly") as dag:
        EmptyOperator(task_id="a")
    write_dag(engine, dag)
    try:
        yield engine
    finally:
        engine.dispose()


def test_the_lowered_limit_is_in_force(db: Engine) -> None:
    """The premise of the other tests: a statement with 1,000 parameters fails."""
    with db.connect() as conn, pytest.raises(sa.exc.OperationalError, match="too many SQL"):
        conn.execute(sa.select(t.dag_run.c.id).where(t.dag_run.c.id.in_(range(LIMIT + 1))))


def _state(engine: Engine, table: sa.Table) -> dict[str | None, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(table.c.state, sa.func.count())  # type: ignore[arg-type]
                                 .group_by(table.c.state)).all())


def test_cancelling_a_backfill_of_more_runs_than_parameters_fails_them_all(db: Engine) -> None:
    # Airflow's cancel_backfill (airflow/models/backfill.py... api_fastapi backfills
    # cancel_backfill): the backfill's queued runs fail; dagcore also fails its running ones.
    backfill = create_backfill("hourly", from_date=hour(0), to_date=hour(RUNS - 1),
                               max_active_runs=10, engine=db)
    dr, ti = t.dag_run, t.task_instance
    with transaction(db) as conn:
        runs = conn.execute(sa.select(dr.c.run_id).where(dr.c.backfill_id == backfill.id)
                            .order_by(dr.c.logical_date)).scalars().all()
        assert len(runs) == RUNS
        running = runs[:RUNS // 2 + 100]  # more running runs than the limit too
        conn.execute(dr.update().where(dr.c.run_id == sa.bindparam("_run"))
                     .values(state="running"), [{"_run": r} for r in running])
        conn.execute(ti.insert(), [
            {"id": uuid.uuid4(), "dag_id": "hourly", "run_id": r, "task_id": "a",
             "state": "running", "try_number": 1, "max_tries": 0} for r in running])

    cancelled = cancel_backfill(backfill.id, engine=db)

    assert cancelled.completed_at is not None and cancelled.is_paused
    assert _state(db, dr) == {"failed": RUNS}
    assert _state(db, ti) == {"failed": len(running)}


def test_reprocessing_more_failed_runs_than_parameters_clears_them_all(db: Engine) -> None:
    # Airflow's _handle_clear_run (airflow/models/backfill.py): a failed run at a date of a
    # backfill with reprocess_behavior="failed" is cleared and becomes the backfill's.
    dr, ti, tih = t.dag_run, t.task_instance, t.task_instance_history
    with transaction(db) as conn:
        version_id = conn.execute(sa.select(t.dag_version.c.id)).scalar_one()
        conn.execute(dr.insert(), [
            {"dag_id": "hourly", "run_id": f"scheduled__{hour(i).isoformat()}",
             "logical_date": hour(i), "run_after": hour(i), "data_interval_start": hour(i),
             "data_interval_end": hour(i + 1), "state": "failed", "run_type": "scheduled",
             "triggered_by": "timetable", "conf": {}, "start_date": hour(i),
             "end_date": hour(i + 1), "created_dag_version_id": version_id, "clear_number": 0}
            for i in range(RUNS)])
        conn.execute(ti.insert(), [
            {"id": uuid.uuid4(), "dag_id": "hourly", "run_id": f"scheduled__{hour(i).isoformat()}",
             "task_id": "a", "state": "failed", "try_number": 1, "max_tries": 0,
             "dag_version_id": version_id} for i in range(RUNS)])

    backfill = create_backfill("hourly", from_date=hour(0), to_date=hour(RUNS - 1),
                               reprocess_behavior="failed", engine=db)

    assert (backfill.created, backfill.cleared, backfill.skipped) == (0, RUNS, 0)
    with db.connect() as conn:
        runs = conn.execute(sa.select(dr.c.state, dr.c.clear_number, dr.c.backfill_id)).all()
        assert set(runs) == {("queued", 1, backfill.id)} and len(runs) == RUNS
        assert conn.execute(sa.select(sa.func.count()).select_from(tih)).scalar_one() == RUNS
    assert _state(db, ti) == {None: RUNS}
