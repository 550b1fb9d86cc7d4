"""The batch store (many DAGs per transaction, multi-row INSERTs) writes exactly the rows of the
per-DAG store (one transaction per DAG), on SQLite and PostgreSQL (docs/performance.md 4).

Each case runs the same rounds of syncs against two databases, one with ``batch_size=1`` (the
per-DAG path, the reference) and one with a batch size of 2 to 7, then compares every table of
the schema row by row. Generated ids (UUIDs) are not comparable between two databases: a
version's id is replaced by ``dag_id#version_number`` wherever it appears, any other UUID by a
placeholder. Everything else (timestamps, pause flags, hashes, data, code blobs, tags, asset
ids and references, import errors) must be equal.

Hypothesis draws the rounds: DAGs new, unchanged, changed (updated in place, or a new version
when a task instance uses the latest one), tags added and removed, asset schedules and outlets
added and removed, code edits, a DAG id given twice, a throttle interval, compressed storage.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from dagcore import DAG
from dagcore.assets import Asset
from dagcore.configuration import ConfigError, conf_vars
from dagcore.dag_parsing import DagFileParserPool, ParsingInterrupted, serialize_dags
from dagcore.dag_processing import (
    store_batch_size,
    sync_dags,
    sync_parsed,
    sync_serialized,
)
from dagcore.db import create_engine, migrate, transaction
from dagcore.models import tables as t
from dagcore.models.types import UUIDType
from dagcore.operators.empty import EmptyOperator

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
START = datetime(2024, 1, 1, tzinfo=UTC)
DAG_IDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")
TAGS = ("etl", "daily", "team-a", "x" * 120)  # the last is cut to TAG_MAX_LEN
ASSETS = ("s3://bucket/one", "s3://bucket/two")


@dataclass(frozen=True)
class Spec:
    """One DAG as a round defines it."""

    dag_id: str
    tasks: int
    tags: frozenset[str]
    description: str | None
    outlet: str | None
    schedule_asset: str | None
    paused_upon_creation: bool | None
    code_variant: int
    file: str


specs = st.builds(
    Spec,
    dag_id=st.sampled_from(DAG_IDS),
    tasks=st.integers(1, 3),
    tags=st.frozensets(st.sampled_from(TAGS), max_size=3),
    description=st.sampled_from((None, "first", "second")),
    outlet=st.sampled_from((None, *ASSETS)),
    schedule_asset=st.sampled_from((None, None, *ASSETS)),
    paused_upon_creation=st.sampled_from((None, True, False)),
    code_variant=st.integers(0, 1),
    file=st.sampled_from(("a.py", "b.py", "c.py")),
)


@dataclass(frozen=True)
class Round:
    """One sync: its DAGs (a DAG id may come twice), which latest versions a task instance uses
    before it, and the throttle interval."""

    dags: list[Spec]
    use_latest_of: frozenset[str]
    throttle_minutes: int | None
    minutes_later: int


rounds = st.builds(
    Round,
    dags=st.lists(specs, min_size=1, max_size=8),
    use_latest_of=st.frozensets(st.sampled_from(DAG_IDS), max_size=3),
    throttle_minutes=st.sampled_from((None, None, 5)),
    minutes_later=st.sampled_from((1, 10)),
)


def build_dag(spec: Spec, folder: Path) -> DAG:
    """The DAG of ``spec``, with a real file (so its code is stored with the version)."""
    path = folder / spec.file
    path.write_text(f"# dagcore DAG file {spec.file}, code variant {spec.code_variant}\n")
    schedule: Any = [Asset(spec.schedule_asset)] if spec.schedule_asset else None
    kwargs: dict[str, Any] = {}
    if spec.paused_upon_creation is not None:
        kwargs["is_paused_upon_creation"] = spec.paused_upon_creation
    with DAG(spec.dag_id, start_date=START, schedule=schedule, tags=sorted(spec.tags),
             description=spec.description, **kwargs) as dag:
        ops = [EmptyOperator(task_id=f"t{i}",
                             outlets=[Asset(spec.outlet)] if spec.outlet and i == 0 else [])
               for i in range(spec.tasks)]
    for up, down in zip(ops, ops[1:]):
        up >> down
    dag.fileloc = str(path)
    dag.relative_fileloc = spec.file  # type: ignore[attr-defined]
    return dag


def wipe(engine: Engine) -> None:
    """Empty every table (and restart the id sequences), for the next example."""
    with transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in t.metadata.sorted_tables)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        else:
            for table in reversed(t.metadata.sorted_tables):
                conn.execute(table.delete())
            if conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = "
                                    "'sqlite_sequence'").first():
                conn.exec_driver_sql("DELETE FROM sqlite_sequence")


def version_labels(conn: sa.engine.Connection) -> dict[uuid.UUID, str]:
    dv = t.dag_version
    return {row.id: f"{row.dag_id}#{row.version_number}"
            for row in conn.execute(sa.select(dv.c.id, dv.c.dag_id, dv.c.version_number))}


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, with versions' ids replaced by their labels."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        labels = version_labels(conn)
        for table in t.metadata.sorted_tables:
            rows = []
            for row in conn.execute(sa.select(table)):
                values = []
                for column, value in zip(table.columns, row):
                    if isinstance(column.type, UUIDType) and value is not None:
                        value = labels.get(value, "<uuid>")
                    values.append(value)
                rows.append(tuple(values))
            tables[table.name] = sorted(rows, key=repr)
    return tables


def use_latest(engine: Engine, dag_ids: frozenset[str], run: int) -> None:
    """A task instance on the latest version of each of ``dag_ids`` (that has one)."""
    dv = t.dag_version
    with transaction(engine) as conn:
        for dag_id in sorted(dag_ids):
            latest = conn.execute(sa.select(dv.c.id).where(dv.c.dag_id == dag_id)
                                  .order_by(dv.c.version_number.desc()).limit(1)).scalar()
            if latest is None:
                continue
            run_id = f"r{run}"
            conn.execute(t.dag_run.insert().values(
                dag_id=dag_id, run_id=run_id, run_after=T0, state="running",
                run_type="manual", created_dag_version_id=latest))
            conn.execute(t.task_instance.insert().values(
                id=uuid.uuid5(uuid.NAMESPACE_OID, f"{dag_id}/{run_id}"), dag_id=dag_id,
                run_id=run_id, task_id="t0", dag_version_id=latest))


def apply(engine: Engine, plan: list[Round], folder: Path, batch_size: int) -> list[Any]:
    """Run the rounds; the sync results (compared too)."""
    results = []
    now = T0
    for number, step in enumerate(plan):
        use_latest(engine, step.use_latest_of, number)
        now += timedelta(minutes=step.minutes_later)
        dags = [build_dag(spec, folder) for spec in step.dags]
        interval = (None if step.throttle_minutes is None
                    else timedelta(minutes=step.throttle_minutes))
        results.append(sync_parsed(engine, dags, {"broken.py": "SyntaxError: boom"},
                                   min_update_interval=interval, now=now,
                                   batch_size=batch_size))
    return results


@pytest.fixture(params=["sqlite", "postgres"])
def two_databases(request: pytest.FixtureRequest,
                  tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """Two migrated, empty databases on one backend: the per-DAG store's and the batch's."""
    if request.param == "sqlite":
        engines = [create_engine(f"sqlite:///{tmp_path / name}") for name in ("a.db", "b.db")]
        names: list[str] = []
    else:
        server = request.getfixturevalue("postgres_server")
        names = [server.create_database(), server.create_database()]
        engines = [create_engine(server.url(name)) for name in names]
    try:
        for engine in engines:
            migrate(engine)
        yield engines[0], engines[1]
    finally:
        for engine in engines:
            engine.dispose()
        for name in names:
            server.drop_database(name)


def check_same(reference: Engine, batched: Engine, plan: list[Round], folder: Path,
               batch_size: int, compress: bool) -> None:
    wipe(reference)
    wipe(batched)
    with conf_vars({("core", "compress_serialized_dags"): str(compress)}):
        expected = apply(reference, plan, folder, 1)
        got = apply(batched, plan, folder, batch_size)
    assert [(r.written, r.versions_created, r.unchanged, r.created, r.stale)
            for r in got] == [(r.written, r.versions_created, r.unchanged, r.created, r.stale)
                              for r in expected]
    want, have = dump(reference), dump(batched)
    for name in want:
        assert have[name] == want[name], name
    assert want["dag_version"], "the rounds stored no version"


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=st.lists(rounds, min_size=1, max_size=3), batch_size=st.integers(2, 7),
       compress=st.booleans())
def test_the_batch_store_writes_the_rows_of_the_per_dag_store(
        two_databases: tuple[Engine, Engine], tmp_path: Path, plan: list[Round],
        batch_size: int, compress: bool) -> None:
    check_same(*two_databases, plan, tmp_path, batch_size, compress)


def test_a_fixed_history_is_stored_alike(two_databases: tuple[Engine, Engine],
                                         tmp_path: Path) -> None:
    """A hand-written history touching every path at least once (new, unchanged, in place, new
    version, tags and assets removed, a DAG given twice, the throttle)."""
    first = [Spec(dag_id, 2, frozenset({"etl", TAGS[3]}), "first", ASSETS[0], ASSETS[1], None,
                  0, f"{dag_id}.py") for dag_id in DAG_IDS]
    changed = [Spec("alpha", 3, frozenset({"daily"}), "second", None, None, True, 1, "alpha.py"),
               Spec("beta", 3, frozenset(), None, None, None, None, 1, "beta.py"),
               first[2], first[3],
               Spec("delta", 1, frozenset({"etl"}), "second", ASSETS[1], None, False, 0,
                    "delta.py")]
    plan = [Round(first, frozenset(), None, 1),
            Round(changed, frozenset({"beta"}), None, 1),
            Round(first[:3], frozenset({"alpha"}), 5, 1)]
    for compress in (False, True):
        check_same(*two_databases, plan, tmp_path, 4, compress)


def test_a_batch_that_fails_is_stored_dag_by_dag(sqlite_engine: Engine, tmp_path: Path) -> None:
    """A DAG whose code path is refused fails the batch; the batch is then written DAG by DAG,
    so the DAGs before it are stored and its error surfaces as on the per-DAG path."""
    migrate(sqlite_engine)
    specs_ = [Spec(dag_id, 1, frozenset(), None, None, None, None, 0, f"{dag_id}.py")
              for dag_id in DAG_IDS[:3]]
    entries = serialize_dags([build_dag(spec, tmp_path) for spec in specs_], {})
    bad = dataclasses.replace(entries[1], code_files={"../outside.py": b"x"},
                              code_path="../outside.py")
    with pytest.raises(ValueError, match="'../outside.py'"):
        sync_serialized(sqlite_engine, [entries[0], bad, entries[2]], {}, now=T0,
                        batch_size=3)
    with sqlite_engine.connect() as conn:
        stored = set(conn.execute(sa.select(t.dag_version.c.dag_id)).scalars())
    assert stored == {"alpha"}


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_a_bad_store_batch_size_is_a_config_error_naming_it(value: str) -> None:
    with conf_vars({("dag_processor", "store_batch_size"): value}):
        with pytest.raises((ConfigError, ValueError), match=repr(value).strip("'")):
            store_batch_size()


@pytest.mark.parametrize("value", [0, -1, True, 2.5])
def test_a_bad_batch_size_argument_names_it(sqlite_engine: Engine, value: Any) -> None:
    migrate(sqlite_engine)
    with pytest.raises(ValueError, match=f"batch_size must be .* got {value!r}"):
        sync_parsed(sqlite_engine, [], {}, batch_size=value)


# -- parsing in parallel children + the batch store, against one child + the per-DAG store -------

GOOD_FILE = """\
from datetime import UTC, datetime
from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

with DAG("{dag_id}", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None,
         tags=["{dag_id}"]):
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
"""
HEADER = "# a dagcore DAG file\n"
HOSTILE_FILES = {
    "c_syntax.py": HEADER + "def broken(:\n",
    "d_hangs.py": HEADER + "import collections, itertools\n"
                           "collections.deque(itertools.count(), maxlen=0)\n",
    "e_exits.py": HEADER + "import os\nos._exit(1)\n",
    "f_segfault.py": HEADER + "import ctypes\nctypes.string_at(0)\n",
    "g_duplicate.py": GOOD_FILE.format(dag_id="good_03"),
}


def test_parallel_parsing_and_batches_store_what_one_child_and_the_per_dag_store_do(
        two_databases: tuple[Engine, Engine], tmp_path: Path) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    for i in range(12):
        prefix = "a" if i < 6 else "h"
        (folder / f"{prefix}_good_{i:02d}.py").write_text(GOOD_FILE.format(dag_id=f"good_{i:02d}"))
    for name, text in HOSTILE_FILES.items():
        (folder / name).write_text(text)
    serial_db, parallel_db = two_databases
    results = []
    for engine, processes, batch_size in ((serial_db, 1, 1), (parallel_db, 3, 4)):
        with DagFileParserPool(processes=processes, timeout=5) as pool:
            results.append(sync_dags(folder, engine=engine, now=T0, pool=pool,
                                     min_update_interval=timedelta(0), batch_size=batch_size))
    serial, parallel = results
    assert parallel == serial
    assert set(serial.import_errors) == {"c_syntax.py", "d_hangs.py", "e_exits.py",
                                         "f_segfault.py", "g_duplicate.py"}
    assert "did not finish within 5 s" in serial.import_errors["d_hangs.py"]
    assert "exited with status 1" in serial.import_errors["e_exits.py"]
    assert "SIGSEGV" in serial.import_errors["f_segfault.py"]
    assert len(serial.written) == 12
    want, have = dump(serial_db), dump(parallel_db)
    for name in want:
        if name == "import_error":  # ids: the rows are compared without them
            want[name] = [row[1:] for row in want[name]]
            have[name] = [row[1:] for row in have[name]]
        assert have[name] == want[name], name


def test_a_batch_is_not_held_back_behind_a_hanging_file(sqlite_engine: Engine,
                                                        tmp_path: Path) -> None:
    """The DAGs parsed before a file that hangs are stored while its child hangs (the sync
    stores what it holds once it has waited a moment for the next file), not only after the
    timeout; stopping the pass keeps them."""
    migrate(sqlite_engine)
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "a_first.py").write_text(GOOD_FILE.format(dag_id="first"))
    (folder / "b_hangs.py").write_text(HOSTILE_FILES["d_hangs.py"])
    stop = threading.Event()
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            with DagFileParserPool(processes=1, timeout=3600) as pool:
                sync_dags(folder, engine=sqlite_engine, now=T0, pool=pool, batch_size=50,
                          should_stop=stop.is_set)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 120  # turns a failure into a failed test, not a hang
        stored: set[str] = set()
        while not stored and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.2)
            with sqlite_engine.connect() as conn:
                stored = set(conn.execute(sa.select(t.dag_version.c.dag_id)).scalars())
        assert stored == {"first"}
    finally:
        stop.set()
        thread.join(timeout=120)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ParsingInterrupted)
