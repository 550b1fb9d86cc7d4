"""One bad DAG never stops DAG processing: it becomes its file's import error, every other DAG
is stored.

Airflow's expectations:

* a ``Param`` whose default is not JSON-serializable fails the DAG file's import
  (``Param.__init__`` -> ``_check_json``: "All provided parameters must be json-serializable"),
  so the file gets an import error and ``dags reserialize`` still stores the other files and
  exits 0 (``airflow/cli/commands/dag_command.py`` ``dag_reserialize`` -> ``sync_bag_to_db``);
* a DAG that parses but fails to serialize is an import error of its file and the other DAGs
  are stored (``airflow/dag_processing/processor.py`` ``_serialize_dags``: "Failed to serialize
  DAG", the traceback under the file's relative path). Airflow's ``dags reserialize`` serializes
  the whole bag before writing, so there one such DAG stops the command; dagcore's does not.

The facts are written down in docs/airflow-behaviour.md 8.9 (and 8.1 for ``_check_json``).
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dagcore import DAG, Param
from dagcore.cli import main
from dagcore.configuration import conf_vars
from dagcore.dag_processing import sync_parsed
from dagcore.db import create_engine, migrate
from dagcore.models import tables as t
from dagcore.operators.empty import EmptyOperator
from dagcore.timetables import NullTimetable

START = datetime(2024, 1, 1, tzinfo=UTC)

GOOD = """\
from datetime import UTC, datetime
from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

with DAG("{dag_id}", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None):
    EmptyOperator(task_id="t")
"""

# Fails at import, as in Airflow: Param refuses a default json.dumps cannot write.
SET_DEFAULT = """\
from datetime import UTC, datetime
from dagcore import DAG, Param
from dagcore.operators.empty import EmptyOperator

with DAG("middle", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None,
         params={"tags": Param(set())}):
    EmptyOperator(task_id="t")
"""

# Imports (json.dumps writes NaN, and NaN is a "number"), but is not JSON: serializing fails.
NAN_DEFAULT = """\
from datetime import UTC, datetime
from dagcore import DAG, Param
from dagcore.operators.empty import EmptyOperator

with DAG("middle", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None,
         params={"ratio": Param(float("nan"), type="number")}):
    EmptyOperator(task_id="t")
"""


# -- sync_parsed: the DAG processor's write of a parsed bag (both backends) ---------------------


class _BrokenTimetable(NullTimetable):
    """A timetable whose serialize() fails with an arbitrary error (not DagSerializationError)."""

    def serialize(self) -> dict[str, Any]:
        raise RuntimeError("cannot serialize this timetable")


@pytest.fixture
def db(engine: Engine) -> Engine:
    migrate(engine)
    return engine


def make_dag(dag_id: str, relative_fileloc: str, **kwargs: Any) -> DAG:
    kwargs.setdefault("schedule", None)
    with DAG(dag_id, start_date=START, **kwargs) as dag:
        EmptyOperator(task_id="t")
    dag.fileloc = f"/dags/{relative_fileloc}"
    dag.relative_fileloc = relative_fileloc  # type: ignore[attr-defined]
    return dag


def stored_dag_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(t.serialized_dag.c.dag_id)).scalars())


def import_errors(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.import_error.c.filename, t.import_error.c.stacktrace))
        return {row.filename: row.stacktrace for row in rows}


def dag_flags(engine: Engine, dag_id: str) -> tuple[bool, bool]:
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.dag.c.is_stale, t.dag.c.has_import_errors)
                           .where(t.dag.c.dag_id == dag_id)).one()
    return bool(row.is_stale), bool(row.has_import_errors)


def test_a_dag_that_fails_to_serialize_is_its_files_import_error(db: Engine) -> None:
    dags = [make_dag("first", "first.py"),
            make_dag("middle", "middle.py", params={"ratio": Param(float("nan"))}),
            make_dag("last", "last.py")]
    result = sync_parsed(db, dags, {}, min_update_interval=timedelta(0))

    assert sorted(result.written) == ["first", "last"]
    assert stored_dag_ids(db) == ["first", "last"]
    errors = import_errors(db)
    assert list(errors) == ["middle.py"]
    assert errors["middle.py"].startswith("Failed to serialize DAG 'middle'\nTraceback")
    assert ("DagSerializationError: param 'ratio' of DAG 'middle' is not JSON-serializable: nan"
            in errors["middle.py"])
    assert result.import_errors == errors


def test_any_exception_while_serializing_is_caught_and_named(db: Engine) -> None:
    dags = [make_dag("ok", "ok.py"),
            make_dag("odd", "odd.py", schedule=_BrokenTimetable())]
    with conf_vars({("core", "dagbag_import_error_tracebacks"): "False"}):
        result = sync_parsed(db, dags, {})
    assert stored_dag_ids(db) == ["ok"]
    assert result.import_errors == {
        "odd.py": "Failed to serialize DAG 'odd': RuntimeError: cannot serialize this timetable"}


def test_the_other_dags_of_the_same_file_are_stored(db: Engine) -> None:
    # Airflow: the error is the file's, the file's serializable DAGs are written, and every DAG
    # row of a file with errors is flagged has_import_errors.
    good = make_dag("good", "two.py")
    bad = make_dag("bad", "two.py", params={"x": Param(float("inf"))})
    parse_error = {"two.py": "ValueError: an earlier problem of this file"}
    result = sync_parsed(db, [good, bad], parse_error)
    assert stored_dag_ids(db) == ["good"]
    message = import_errors(db)["two.py"]
    assert message.startswith("ValueError: an earlier problem of this file\n\n"
                              "Failed to serialize DAG 'bad'")
    assert result.import_errors["two.py"] == message
    assert parse_error == {"two.py": "ValueError: an earlier problem of this file"}  # unchanged
    assert dag_flags(db, "good") == (False, True)


def test_a_stored_dag_that_stops_serializing_keeps_its_version_until_fixed(db: Engine) -> None:
    sync_parsed(db, [make_dag("etl", "etl.py")], {})
    result = sync_parsed(db, [make_dag("etl", "etl.py", params={"n": Param(float("nan"))})], {})
    assert result.written == () and "etl.py" in result.import_errors
    assert stored_dag_ids(db) == ["etl"]  # the last good version stays
    assert dag_flags(db, "etl") == (False, True)  # not stale: its file still defines it

    sync_parsed(db, [make_dag("etl", "etl.py", params={"n": Param(1.5)})], {})
    assert import_errors(db) == {}
    assert dag_flags(db, "etl") == (False, False)


# -- the CLI: dags reserialize, dag-processor --once, dags list-import-errors (SQLite) -----------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "home"
    path.mkdir()
    for name in [n for n in os.environ if n.startswith("DAGCORE__")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DAGCORE_HOME", str(path))
    assert main(["db", "migrate"]) == 0
    yield path


def dags_folder(tmp_path: Path, middle: str) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "a_first.py").write_text(textwrap.dedent(GOOD.format(dag_id="first")))
    (folder / "b_middle.py").write_text(textwrap.dedent(middle))
    (folder / "c_last.py").write_text(textwrap.dedent(GOOD.format(dag_id="last")))
    return folder


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main([*args, "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, list)
    return data


@pytest.mark.parametrize(("middle", "fragments"), [
    pytest.param(SET_DEFAULT, ("ParamValidationError: All provided parameters must be "
                               "json-serializable. The value 'set()' is not serializable.",),
                 id="import-error"),
    pytest.param(NAN_DEFAULT, ("Failed to serialize DAG 'middle'",
                               "param 'ratio' of DAG 'middle' is not JSON-serializable: nan"),
                 id="serialization-error"),
])
@pytest.mark.parametrize("command", [("dags", "reserialize"), ("dag-processor", "--once")],
                         ids=["reserialize", "dag-processor"])
def test_cli_stores_every_good_dag_and_records_the_bad_file(
        home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...],
        middle: str, fragments: tuple[str, ...]) -> None:
    folder = dags_folder(tmp_path, middle)
    capsys.readouterr()
    assert main([*command, "-S", str(folder)]) == 0  # as Airflow: import errors are not failures
    out = capsys.readouterr().out
    assert "DAGs written: 2, versions created: 2, import errors: 1" in out
    assert "import error: b_middle.py" in out

    engine = create_engine(f"sqlite:///{home / 'dagcore.db'}")
    try:
        assert stored_dag_ids(engine) == ["first", "last"]
    finally:
        engine.dispose()
    listed = {row["dag_id"] for row in cli_json(capsys, "dags", "list")}
    assert listed == {"first", "last"}
    errors = cli_json(capsys, "dags", "list-import-errors")
    assert [row["filename"] for row in errors] == ["b_middle.py"]
    for fragment in fragments:
        assert fragment in errors[0]["error"]

    # Fixed, the next pass stores the DAG and clears the error.
    (folder / "b_middle.py").write_text(GOOD.format(dag_id="middle"))
    assert main([*command, "-S", str(folder)]) == 0
    assert cli_json(capsys, "dags", "list-import-errors") == []
    assert {row["dag_id"] for row in cli_json(capsys, "dags", "list")} == {
        "first", "middle", "last"}
