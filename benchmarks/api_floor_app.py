#!/usr/bin/env python3
"""The floor of benchmarks/api_bench.py: a bare FastAPI app that runs the SQL dagcore's API
server runs for two requests, and nothing else.

What it serves (the same paths as dagcore, so one client serves both):

* ``POST /auth/token``: answers 201 with a fixed token, no query and no password check (the
  clients call it once, before timing);
* ``GET /api/v2/dags/{dag_id}/dagRuns?limit=N``: dagcore's statements for that request,
  verbatim and in the same transactions (each ``engine.connect()`` of dagcore's is one
  ``BEGIN`` ... rollback here): the caller's user row (``Authorization: Bearer`` is read but not
  verified: the user name is fixed), the DAG's existence, the count and the page of runs, then
  each distinct DAG version of the page not read before (version rows are kept, as dagcore's
  server keeps them); it answers Airflow 3's ``DAGRunCollectionResponse``
  shape (same keys, datetimes written ``...Z``) built from the rows with plain dicts;
* ``POST /api/v2/dags/{dag_id}/dagRuns`` with ``{"logical_date": null, "conf": {...}}``: the
  user row, then in one ``BEGIN IMMEDIATE`` transaction the DAG row, the latest version id, the
  insert of a queued manual run and its read-back, then the version row (once); it answers the
  run as ``DAGRunResponse``.

What it does not do: verify the JWT, check the role, check the DAG is not stale or has no
import errors (it reads the same row, and stops at a missing DAG only), deserialize or cache the
DAG (dagcore's cache hit costs no query, so the steady state runs the same statements), check
the conf against the DAG's params, or render datetimes through pydantic models: those are the
work whose cost the comparison shows. It imports nothing from dagcore; its engine is set up the
way dagcore's SQLite engine is (a QueuePool of sqlite3 connections, WAL, ``busy_timeout``,
foreign keys, ``synchronous=NORMAL``, ``BEGIN`` emitted by SQLAlchemy).

Served by :func:`main` with uvicorn as ``dagcore api-server`` serves dagcore: one worker,
uvicorn's defaults for loop and HTTP (asyncio, h11 here), ``timeout_keep_alive=5``, log level
info with the access log on. Usage: ``python api_floor_app.py --port P --db PATH``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sqlite3
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel
from sqlalchemy import event

BUSY_TIMEOUT_MS = 30_000
USER = "bench"

# Captured from dagcore's server with a before_cursor_execute listener (api_bench.py prints
# them again with --show-sql); parameters are bound in the same order.
SQL_USER = ("SELECT user.username, user.role, user.password_hash FROM user "
            "WHERE user.username = ?")
SQL_DAG_EXISTS = "SELECT dag.dag_id FROM dag WHERE dag.dag_id = ?"
SQL_COUNT_RUNS = "SELECT count(*) AS count_1 FROM dag_run WHERE dag_run.dag_id = ?"
_RUN_COLUMNS = ("id", "dag_id", "run_id", "logical_date", "run_after", "queued_at", "start_date",
                "end_date", "state", "run_type", "triggered_by", "triggering_user_name", "conf",
                "data_interval_start", "data_interval_end", "last_scheduling_decision",
                "creating_job_id", "created_dag_version_id", "bundle_version", "backfill_id",
                "clear_number", "partition_key", "note", "updated_at")
_RUN_SELECT = "SELECT " + ", ".join(f"dag_run.{c}" for c in _RUN_COLUMNS) + " FROM dag_run"
SQL_PAGE_RUNS = _RUN_SELECT + " WHERE dag_run.dag_id = ? ORDER BY dag_run.id ASC LIMIT ? OFFSET ?"
SQL_RUN_BY_ID = _RUN_SELECT + " WHERE dag_run.id = ?"
_VERSION_COLUMNS = ("id", "version_number", "dag_id", "bundle_name", "bundle_version",
                    "version_data", "created_at", "last_updated")
SQL_VERSION = ("SELECT " + ", ".join(f"dag_version.{c}" for c in _VERSION_COLUMNS)
               + " FROM dag_version WHERE dag_version.id = ?")
_DAG_COLUMNS = ("dag_id", "is_paused", "is_stale", "last_parsed_time", "fileloc",
                "relative_fileloc", "bundle_name", "bundle_version", "owners", "dag_display_name",
                "description", "timetable_summary", "timetable_description", "max_active_tasks",
                "max_active_runs", "max_consecutive_failed_dag_runs",
                "has_task_concurrency_limits", "has_import_errors", "next_dagrun",
                "next_dagrun_data_interval_start", "next_dagrun_data_interval_end",
                "next_dagrun_create_after")
SQL_DAG_ROW = ("SELECT " + ", ".join(f"dag.{c}" for c in _DAG_COLUMNS)
               + " FROM dag WHERE dag.dag_id = ?")
SQL_LATEST_VERSION = ("SELECT dag_version.id FROM dag_version WHERE dag_version.dag_id = ? "
                      "ORDER BY dag_version.version_number DESC LIMIT ? OFFSET ?")
SQL_INSERT_RUN = (
    "INSERT INTO dag_run (dag_id, run_id, logical_date, run_after, queued_at, start_date, "
    "end_date, state, run_type, triggered_by, triggering_user_name, conf, data_interval_start, "
    "data_interval_end, created_dag_version_id, bundle_version, clear_number, note, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")

STATEMENTS = {"SQL_USER": SQL_USER, "SQL_DAG_EXISTS": SQL_DAG_EXISTS,
              "SQL_COUNT_RUNS": SQL_COUNT_RUNS, "SQL_PAGE_RUNS": SQL_PAGE_RUNS,
              "SQL_VERSION": SQL_VERSION, "SQL_DAG_ROW": SQL_DAG_ROW,
              "SQL_LATEST_VERSION": SQL_LATEST_VERSION, "SQL_INSERT_RUN": SQL_INSERT_RUN,
              "SQL_RUN_BY_ID": SQL_RUN_BY_ID}


def make_engine(path: str) -> sa.engine.Engine:
    """A SQLite engine set up as dagcore's (see the module note)."""
    engine = sa.create_engine(f"sqlite:///{path}", future=True, poolclass=sa.pool.QueuePool,
                              connect_args={"timeout": BUSY_TIMEOUT_MS / 1000,
                                            "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", f"busy_timeout={BUSY_TIMEOUT_MS}",
                       "foreign_keys=ON", "synchronous=NORMAL"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.engine.Connection) -> None:
        immediate = connection.get_execution_options().get("immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _iso(raw: str | None) -> str | None:
    """A stored UTC datetime as Airflow 3 writes it (``Z``, fractions only when present)."""
    return None if raw is None else datetime.fromisoformat(raw).isoformat() + "Z"


def _version(row: Any, dag_id: str) -> dict[str, Any]:
    return {"id": row.id, "version_number": row.version_number, "dag_id": row.dag_id,
            "bundle_name": row.bundle_name, "bundle_version": row.bundle_version,
            "created_at": _iso(row.created_at), "dag_display_name": dag_id}


def _run(row: Any, versions: list[dict[str, Any]]) -> dict[str, Any]:
    start, end = row.start_date, row.end_date
    duration = (None if start is None or end is None else
                (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())
    return {
        "dag_run_id": row.run_id, "dag_id": row.dag_id, "logical_date": _iso(row.logical_date),
        "queued_at": _iso(row.queued_at), "start_date": _iso(start), "end_date": _iso(end),
        "duration": duration, "data_interval_start": _iso(row.data_interval_start),
        "data_interval_end": _iso(row.data_interval_end), "run_after": _iso(row.run_after),
        "last_scheduling_decision": _iso(row.last_scheduling_decision),
        "run_type": row.run_type, "state": row.state, "triggered_by": row.triggered_by,
        "triggering_user_name": row.triggering_user_name,
        "conf": None if row.conf is None else json.loads(row.conf), "note": row.note,
        "dag_versions": versions, "bundle_version": row.bundle_version,
        "dag_display_name": row.dag_id}


class TriggerBody(BaseModel):
    logical_date: datetime | None
    conf: dict[str, Any] | None = None


def create_app(db_path: str) -> FastAPI:
    """The floor application on the SQLite file ``db_path``."""
    engine = make_engine(db_path)
    app = FastAPI(title="api_bench floor")

    def user(conn: sa.engine.Connection) -> None:
        if conn.exec_driver_sql(SQL_USER, (USER,)).first() is None:
            raise HTTPException(401, "Invalid JWT token")

    version_rows: dict[str, dict[str, Any]] = {}  # as dagcore's server keeps them

    def versions_of(version_id: str | None) -> list[dict[str, Any]]:
        if version_id is None:
            return []
        if version_id not in version_rows:
            with engine.connect() as conn:
                row = conn.exec_driver_sql(SQL_VERSION, (version_id,)).first()
            if row is None:
                return []
            version_rows[version_id] = _version(row, row.dag_id)
        return [version_rows[version_id]]

    @app.post("/auth/token", status_code=201)
    def token() -> dict[str, str]:
        return {"access_token": "floor", "token_type": "bearer"}

    @app.get("/api/v2/dags/{dag_id}/dagRuns")
    def list_runs(dag_id: str, limit: int = 50, offset: int = 0,
                  authorization: str = Header("")) -> dict[str, Any]:
        with engine.connect() as conn:
            user(conn)
        with engine.connect() as conn:
            if conn.exec_driver_sql(SQL_DAG_EXISTS, (dag_id,)).first() is None:
                raise HTTPException(404, f"The Dag with ID: `{dag_id}` was not found")
        with engine.connect() as conn:
            total = conn.exec_driver_sql(SQL_COUNT_RUNS, (dag_id,)).scalar_one()
            rows = conn.exec_driver_sql(SQL_PAGE_RUNS, (dag_id, min(limit, 100), offset)).all()
        versions: dict[str | None, list[dict[str, Any]]] = {}
        runs = []
        for row in rows:
            key = row.created_dag_version_id
            if key not in versions:
                versions[key] = versions_of(key)
            runs.append(_run(row, versions[key]))
        return {"dag_runs": runs, "total_entries": total}

    @app.post("/api/v2/dags/{dag_id}/dagRuns")
    def trigger(dag_id: str, body: TriggerBody,
                authorization: str = Header("")) -> dict[str, Any]:
        with engine.connect() as conn:
            user(conn)
        now = datetime.now(UTC).replace(tzinfo=None)
        stamp = now.isoformat(sep=" ")
        run_id = f"manual__{now.isoformat()}+00:00_{secrets.token_urlsafe(6)[:8]}"
        conf = json.dumps(body.conf or {})
        with engine.connect() as conn:
            conn = conn.execution_options(immediate=True)
            with conn.begin():
                dag = conn.exec_driver_sql(SQL_DAG_ROW, (dag_id,)).first()
                if dag is None:
                    raise HTTPException(404, f"DAG with dag_id: '{dag_id}' not found")
                version_id = conn.exec_driver_sql(SQL_LATEST_VERSION,
                                                  (dag_id, 1, 0)).scalar_one_or_none()
                new_id = conn.exec_driver_sql(SQL_INSERT_RUN, (
                    dag_id, run_id, None, stamp, stamp, None, None, "queued", "manual",
                    "rest_api", USER, conf, None, None, version_id, dag.bundle_version, 0,
                    None, stamp)).lastrowid
                row = conn.exec_driver_sql(SQL_RUN_BY_ID, (new_id,)).one()
        return _run(row, versions_of(row.created_dag_version_id))

    return app


def main() -> None:
    """Serve the floor as ``dagcore api-server`` serves dagcore (see the module note)."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="the SQLite file")
    args = parser.parse_args()
    uvicorn.run(create_app(args.db), host="127.0.0.1", port=args.port, workers=1,
                log_level="info", timeout_keep_alive=5)


if __name__ == "__main__":
    main()
