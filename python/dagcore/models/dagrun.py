"""DAG runs in the database: their run ids and the one writer of new ``dag_run`` rows.

Three callers create runs: the scheduler (a timetable's runs), ``trigger_dag`` (manual runs) and
``create_backfill`` (a backfill's runs, in bulk). They share the run-id rules and the insert
here, so a run looks the same whoever created it, and every insert writes the same columns.

Design note. A bulk insert of a long backfill (~10^5 rows) is dominated by per-row Python work,
so :func:`insert_dag_runs` takes column lists and writes them with one ``executemany`` through
:func:`insert_columns`, which converts each distinct value once (see there). The unique
constraints on ``(dag_id, run_id)`` and ``(dag_id, logical_date)`` are the only duplicate
check: callers catch ``IntegrityError`` and decide what it means for them.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import repeat
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dagcore.configuration import conf as config
from dagcore.models import tables as t
from dagcore.state import TaskInstanceState

__all__ = [
    "DEFAULT_ALLOWED_RUN_ID_PATTERN",
    "RUN_ID_REGEX",
    "RUN_TYPES",
    "generate_run_id",
    "generate_run_ids",
    "insert_columns",
    "insert_dag_run",
    "insert_dag_runs",
    "move_to_version",
    "validate_run_id",
]

RUN_TYPES: Final = ("manual", "scheduled", "backfill", "asset_triggered")
"""Airflow's ``DagRunType`` values, each the prefix of its runs' ids (``"<type>__..."``)."""

RUN_ID_REGEX: Final = (r"^(?:manual|scheduled|asset_triggered)__"
                       r"(?:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00)$")
DEFAULT_ALLOWED_RUN_ID_PATTERN: Final = r"^[A-Za-z0-9_.~:+-]+$"
# Prefixes that make an id look like another run type's (DagRunType.from_run_id).
_RESERVED_RUN_TYPES: Final = ("scheduled", "backfill", "asset_triggered")
_RANDOM_ALPHABET: Final = string.ascii_letters + string.digits
_ID_LEN: Final = t.ID_LEN

# The columns a new run may set (the rest are set later: last_scheduling_decision on a decision,
# partition_key by partitioned timetables, which dagcore does not have).
_COLUMNS: Final = (
    "dag_id", "run_id", "logical_date", "run_after", "queued_at", "start_date", "end_date",
    "state", "run_type", "triggered_by", "triggering_user_name", "conf", "data_interval_start",
    "data_interval_end", "creating_job_id", "created_dag_version_id", "bundle_version",
    "backfill_id", "clear_number", "note", "updated_at",
)
_REQUIRED: Final = ("dag_id", "run_id", "run_after", "run_type", "state", "clear_number",
                    "updated_at")


# -- run ids ------------------------------------------------------------------------------------


def _check_run_type(run_type: object) -> str:
    value = getattr(run_type, "value", run_type)
    if value not in RUN_TYPES:
        raise ValueError(f"run_type must be one of {', '.join(RUN_TYPES)}, got {run_type!r}")
    return str(value)


def generate_run_id(run_type: str, *, stamp: datetime | None, run_after: datetime) -> str:
    """A new run's id, Airflow's ``DagRun.generate_run_id`` (docs/airflow-behaviour.md 2.9.7,
    4.4): ``"<run_type>__<stamp ISO, UTC>"``; without a stamp (a run without a logical date)
    ``"<run_type>__<run_after ISO, UTC>_<8 random [A-Za-z0-9]>"``.

    The stamp is ``run_after`` for scheduled and backfill runs, the logical date for manual
    runs (the operator's and the REST API's form, see :mod:`dagcore.api.common`).

    Raises:
        ValueError: an unknown run type (named) or a naive date.
    """
    prefix = _check_run_type(run_type)
    for name, value in (("stamp", stamp), ("run_after", run_after)):
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    if stamp is not None:
        return f"{prefix}__{stamp.astimezone(UTC).isoformat()}"
    suffix = "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(8))
    return f"{prefix}__{run_after.astimezone(UTC).isoformat()}_{suffix}"


def generate_run_ids(run_type: str, stamps: Iterable[datetime]) -> list[str]:
    """:func:`generate_run_id` of many runs at once (a backfill's): one f-string per stamp.

    Args:
        run_type: as :func:`generate_run_id`.
        stamps: aware datetimes in UTC (the planner's run_after values are).

    Raises:
        ValueError: an unknown run type, or a stamp not in UTC (named).
    """
    prefix = _check_run_type(run_type) + "__"
    ids = [prefix + stamp.isoformat() for stamp in stamps]
    bad = next((i for i in ids if not i.endswith("+00:00")), None)
    if bad is not None:
        raise ValueError(f"run id stamps must be UTC datetimes, got {bad!r}")
    return ids


def validate_run_id(run_id: str, *, run_type: str = "manual") -> None:
    """Airflow's checks on an explicit run id (docs/airflow-behaviour.md 2.9.7).

    Raises:
        ValueError: not a non-empty string, longer than 250 characters, ``..`` while
            ``[core] allow_double_dot_in_ids`` is off, a manual run using another run type's
            prefix, or an id matching neither :data:`RUN_ID_REGEX` nor
            ``[scheduler] allowed_run_id_pattern``; Airflow's messages.
    """
    if not isinstance(run_id, str) or not run_id:
        raise ValueError(f"run_id must be a non-empty string, got {run_id!r}")
    if len(run_id) > _ID_LEN:
        raise ValueError(f"The run_id provided '{run_id}' is longer than {_ID_LEN} characters")
    if run_type == "manual":
        prefix = run_id.split("__", 1)[0] if "__" in run_id else None
        if prefix in _RESERVED_RUN_TYPES:
            raise ValueError(f"A manual DAG run cannot use ID {run_id!r} since it is reserved "
                             f"for {prefix} runs")
    if ".." in run_id and not config.getboolean("core", "allow_double_dot_in_ids", fallback=False):
        raise ValueError(f"The run_id provided '{run_id}' contains the disallowed '..' sequence")
    pattern = config.get("scheduler", "allowed_run_id_pattern",
                         fallback=DEFAULT_ALLOWED_RUN_ID_PATTERN)
    if not (_matches(pattern, run_id) or _matches(RUN_ID_REGEX, run_id)):
        # Airflow's text, with control characters escaped so the id shows on one line.
        shown = run_id.encode("unicode_escape").decode("ascii")
        raise ValueError(f"The run_id provided '{shown}' does not match regex pattern "
                         f"'{pattern}' or '{RUN_ID_REGEX}'")


def _matches(pattern: str, run_id: str) -> bool:
    """``re.match`` as Airflow's check (a pattern without ``$`` only constrains the start),
    except that a match may not stop just before a final newline: ``$`` matches there, which
    would let ``"my_run\n"`` through."""
    match = re.match(pattern, run_id)
    return match is not None and run_id[match.end():] != "\n"


# -- inserting runs -----------------------------------------------------------------------------


def _check_values(values: Mapping[str, Any]) -> None:
    unknown = sorted(set(values) - set(_COLUMNS))
    if unknown:
        raise KeyError(f"not dag_run columns a new run sets: {', '.join(unknown)}")
    missing = [name for name in _REQUIRED if values.get(name) is None]
    if missing:
        raise ValueError(f"a new dag_run row needs {', '.join(missing)}")
    _check_run_type(values["run_type"])


_INSERT_RUN = t.dag_run.insert()


def insert_dag_run(conn: Connection, **values: Any) -> int:
    """Insert one run; returns its ``dag_run.id``.

    Args:
        conn: a connection inside the caller's transaction (a savepoint when the caller goes
            on after a duplicate).
        values: ``dag_run`` columns by name; ``dag_id``, ``run_id``, ``run_after``,
            ``run_type``, ``state``, ``clear_number`` and ``updated_at`` are required. Only the
            columns given are written (the others get the table's defaults: NULL).

    Raises:
        KeyError: a column a new run does not set (named).
        ValueError: a required column missing (named), an unknown run type.
        sqlalchemy.exc.IntegrityError: the run id or the logical date is taken.
    """
    _check_values(values)
    # One prebuilt statement with the values as parameters: SQLAlchemy caches its compiled
    # form, where ``.values(**values)`` built and keyed a new statement per run.
    result = conn.execute(_INSERT_RUN, values)
    return int(result.inserted_primary_key[0])


def insert_dag_runs(conn: Connection, columns: Mapping[str, Sequence[Any]],
                    constants: Mapping[str, Any],
                    memo: dict[Any, dict[Any, Any]] | None = None) -> None:
    """Insert many runs with one ``executemany``: ``columns`` (value lists of equal length,
    one position per run) and ``constants`` (the same in every run) together name the columns
    written, as :func:`insert_dag_run`'s ``values``. Nothing is written for empty lists.

    Args:
        conn: a connection inside the caller's transaction.
        columns: per-run values (``run_id`` at least).
        constants: values shared by every run.
        memo: conversions carried between calls (see :func:`insert_columns`).

    Raises:
        KeyError, ValueError: as :func:`insert_dag_run`, lists of unequal length, or a column
            given both per run and as a constant.
        sqlalchemy.exc.IntegrityError: a run id or a logical date is taken.
    """
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns must have equal lengths, got {lengths}")
    overlap = sorted(set(columns) & set(constants))
    if overlap:
        raise ValueError(f"columns given both per run and as constants: {', '.join(overlap)}")
    if not columns or not next(iter(lengths.values())):
        return
    _check_values({**{name: values[0] for name, values in columns.items()}, **constants})
    insert_columns(conn, t.dag_run, columns, constants, {} if memo is None else memo)


def insert_columns(conn: Connection, table: sa.Table, columns: Mapping[str, Sequence[Any]],
                   constants: Mapping[str, Any], memo: dict[Any, dict[Any, Any]]) -> None:
    """Insert one row per position of ``columns`` (value lists of equal length), with
    ``constants`` in every row.

    An executemany of ~10^5 rows spends most of its time in SQLAlchemy's per-row parameter
    handling (a dict per row, every value through its type's bind processor). On SQLite the
    values are converted here instead, with each column's own bind processor, once per
    distinct value (``memo``, by column type, carries conversions from one call to the next:
    the same dates fill several columns and tables), and go to the driver as tuples. Other
    dialects keep SQLAlchemy's executemany: psycopg2's batched VALUES need the compiled insert.

    Raises:
        ValueError: no column of values (the rows are counted by the columns).
    """
    if not columns:  # the rows are counted by the columns (constants alone repeat forever)
        raise ValueError("insert_columns needs at least one column of values")
    if conn.dialect.name != "sqlite" or not conn.dialect.positional:
        names = list(columns)
        conn.execute(table.insert(), [{**constants, **dict(zip(names, row))}
                                      for row in zip(*columns.values())])
        return
    dialect = conn.dialect
    compiled = table.insert().values(
        {name: sa.bindparam(name) for name in (*columns, *constants)}).compile(dialect=dialect)
    params: list[Iterable[Any]] = []
    for name in compiled.positiontup:
        column_type = table.c[name].type
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        if name in constants:
            value = constants[name]
            params.append(repeat(value if process is None else process(value)))
            continue
        values = columns[name]
        if process is not None:
            seen = memo.setdefault(type(column_type), {})
            seen.update((v, process(v)) for v in set(values).difference(seen))
            values = list(map(seen.__getitem__, values))
        params.append(values)
    conn.exec_driver_sql(compiled.string, list(zip(*params)))


# -- moving runs to another DAG version ---------------------------------------------------------


def move_to_version(conn: Connection, *, dag_id: str, run_ids: Collection[str], version_id: Any,
                    task_ids: Collection[str], bundle_version: str | None,
                    now: datetime) -> None:
    """Run ``run_ids`` again on the DAG version ``version_id`` (whose tasks are ``task_ids``),
    as Airflow's ``clear_task_instances(run_on_latest_version=True)`` does to the finished runs
    it clears (docs/airflow-behaviour.md 3.8, 2.5): the runs' ``created_dag_version_id`` and
    every task instance's ``dag_version_id`` become ``version_id``, the runs'
    ``bundle_version`` becomes ``bundle_version`` unless it is None, and ``verify_integrity``'s
    rule is applied: an instance of a task the version lacks is ``removed``, a ``removed`` one
    of a task it has again gets no state. Instances of tasks new in the version are created
    when the run starts, as for any run.

    Args:
        conn: a connection inside the caller's transaction.
        dag_id: the DAG.
        run_ids: its runs to move.
        version_id: the ``dag_version.id``.
        task_ids: the task ids of that version.
        bundle_version: the DAG's current bundle version (None: the runs keep theirs).
        now: the time to record.
    """
    if not run_ids:
        return
    dr, ti = t.dag_run, t.task_instance
    runs = sorted(run_ids)
    values: dict[str, Any] = {"created_dag_version_id": version_id, "updated_at": now}
    if bundle_version is not None:
        values["bundle_version"] = bundle_version
    conn.execute(dr.update().where(dr.c.dag_id == dag_id, dr.c.run_id.in_(runs)).values(**values))
    of_runs = sa.and_(ti.c.dag_id == dag_id, ti.c.run_id.in_(runs))
    conn.execute(ti.update().where(of_runs).values(dag_version_id=version_id))
    tasks = sorted(task_ids)
    removed = TaskInstanceState.REMOVED.value
    gone = sa.and_(of_runs, ti.c.task_id.not_in(tasks),
                   sa.or_(ti.c.state.is_(None), ti.c.state != removed))
    conn.execute(ti.update().where(gone).values(state=removed, updated_at=now))
    conn.execute(ti.update().where(of_runs, ti.c.task_id.in_(tasks), ti.c.state == removed)
                 .values(state=None, updated_at=now))
