"""The ``dagcore`` command line, run for real: ``python -m dagcore ...`` in a subprocess, with
``DAGCORE_HOME`` (and its SQLite database) in tmp_path."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from cli_helpers import CLIHome

import dagcore
from dagcore.db import head_revision
from dagcore.models import tables as t

GOOD_DAG = """\
from datetime import UTC, datetime
from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

with DAG("good", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule="@daily"):
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
"""

BROKEN_DAG = """\
from dagcore import DAG
raise RuntimeError("this DAG file is broken")
"""


@pytest.fixture
def dags_folder(cli_home: CLIHome) -> Path:
    return cli_home.write_dags({"good.py": GOOD_DAG, "broken.py": BROKEN_DAG})


def assert_clean_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("dagcore: error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


# -- basics -------------------------------------------------------------------------------------


def test_version(cli_home: CLIHome) -> None:
    result = cli_home.run("version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == dagcore.__version__


def test_help_lists_the_commands(cli_home: CLIHome) -> None:
    result = cli_home.run("--help")
    assert result.returncode == 0
    for command in ("version", "db", "dag-processor"):
        assert command in result.stdout
    db_help = cli_home.run("db", "--help")
    assert db_help.returncode == 0
    for command in ("migrate", "reset", "check"):
        assert command in db_help.stdout


@pytest.mark.parametrize("args", [(), ("db",), ("no-such-command",)],
                         ids=["no-command", "db-without-subcommand", "unknown-command"])
def test_usage_errors_exit_2(cli_home: CLIHome, args: tuple[str, ...]) -> None:
    result = cli_home.run(*args)
    assert result.returncode == 2
    assert "usage:" in result.stderr and "Traceback" not in result.stderr


# -- db -----------------------------------------------------------------------------------------


def test_db_migrate_is_idempotent_and_check_follows(cli_home: CLIHome,
                                                    cli_db: sa.Engine) -> None:
    head = head_revision()
    before = cli_home.run("db", "check")
    assert before.returncode == 1
    assert "none" in before.stdout and head in before.stdout
    assert "dagcore db migrate" in before.stderr

    for _ in range(2):
        result = cli_home.run("db", "migrate")
        assert result.returncode == 0, result.stderr
        assert head in result.stdout

    after = cli_home.run("db", "check")
    assert after.returncode == 0, after.stderr
    assert "up to date" in after.stdout
    with cli_db.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == head


def _dag_rows(cli_db: sa.Engine) -> int:
    with cli_db.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(t.dag)).scalar_one()


def _add_dag_row(cli_home: CLIHome, dags_folder: Path) -> None:
    assert cli_home.run("db", "migrate").returncode == 0
    result = cli_home.run("dag-processor", "--once", "--subdir", str(dags_folder))
    assert result.returncode == 0, result.stderr


def test_db_reset_with_yes_drops_the_data(cli_home: CLIHome, cli_db: sa.Engine,
                                          dags_folder: Path) -> None:
    _add_dag_row(cli_home, dags_folder)
    assert _dag_rows(cli_db) == 1
    result = cli_home.run("db", "reset", "-y")
    assert result.returncode == 0, result.stderr
    assert head_revision() in result.stdout
    assert _dag_rows(cli_db) == 0
    assert cli_home.run("db", "check").returncode == 0


def test_db_reset_without_yes_and_no_answer_refuses(cli_home: CLIHome, cli_db: sa.Engine,
                                                    dags_folder: Path) -> None:
    _add_dag_row(cli_home, dags_folder)
    result = cli_home.run("db", "reset")  # stdin at end of file
    assert "Proceed? (y/n)" in result.stdout
    assert_clean_error(result, "--yes")
    assert _dag_rows(cli_db) == 1


@pytest.mark.parametrize("answer, code, rows", [("n\n", 1, 1), ("y\n", 0, 0)],
                         ids=["no", "yes"])
def test_db_reset_follows_the_answer(cli_home: CLIHome, cli_db: sa.Engine, dags_folder: Path,
                                     answer: str, code: int, rows: int) -> None:
    _add_dag_row(cli_home, dags_folder)
    result = cli_home.run("db", "reset", stdin=answer)
    assert result.returncode == code, result.stderr
    assert _dag_rows(cli_db) == rows


@pytest.mark.parametrize("url, fragment", [
    ("not a url", "invalid database URL"),
    ("nosuchdialect://x/y", "nosuchdialect"),
], ids=["unparsable", "unknown-dialect"])
def test_bad_database_url_is_a_clean_error(cli_home: CLIHome, url: str, fragment: str) -> None:
    cli_home.env["DAGCORE__DATABASE__SQL_ALCHEMY_CONN"] = url
    for args in (("db", "migrate"), ("db", "check"), ("db", "reset", "-y")):
        assert_clean_error(cli_home.run(*args), fragment)


# -- dag-processor ------------------------------------------------------------------------------


def test_dag_processor_once_writes_dags_versions_and_import_errors(
        cli_home: CLIHome, cli_db: sa.Engine, dags_folder: Path) -> None:
    assert cli_home.run("db", "migrate").returncode == 0
    result = cli_home.run("dag-processor", "--once", "--subdir", str(dags_folder))
    assert result.returncode == 0, result.stderr
    assert "DAGs written: 1, versions created: 1, import errors: 1" in result.stdout
    assert "broken.py" in result.stdout

    with cli_db.connect() as conn:
        dags = conn.execute(sa.select(t.dag.c.dag_id, t.dag.c.relative_fileloc)).all()
        versions = conn.execute(sa.select(t.dag_version.c.dag_id,
                                          t.dag_version.c.version_number)).all()
        errors = conn.execute(sa.select(t.import_error.c.filename,
                                        t.import_error.c.stacktrace)).all()
    assert [(r.dag_id, r.relative_fileloc) for r in dags] == [("good", "good.py")]
    assert [(r.dag_id, r.version_number) for r in versions] == [("good", 1)]
    assert [r.filename for r in errors] == ["broken.py"]
    assert "this DAG file is broken" in errors[0].stacktrace

    again = cli_home.run("dag-processor", "--once", "--subdir", str(dags_folder))
    assert again.returncode == 0, again.stderr
    assert "DAGs written: 0, versions created: 0, import errors: 1" in again.stdout


def test_dag_processor_needs_a_migrated_database(cli_home: CLIHome,
                                                 dags_folder: Path) -> None:
    result = cli_home.run("dag-processor", "--once", "--subdir", str(dags_folder))
    assert_clean_error(result, "dagcore db migrate")


@pytest.mark.parametrize("args, fragment", [
    (("--subdir", "/no/such/folder"), "/no/such/folder"),
    (("--interval", "0"), "--interval"),
], ids=["missing-folder", "zero-interval"])
def test_dag_processor_bad_arguments(cli_home: CLIHome, args: tuple[str, ...],
                                     fragment: str) -> None:
    assert cli_home.run("db", "migrate").returncode == 0
    assert_clean_error(cli_home.run("dag-processor", "--once", *args), fragment)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_dag_processor_loop_stops_cleanly_on_signal(cli_home: CLIHome, cli_db: sa.Engine,
                                                    dags_folder: Path, signum: int) -> None:
    assert cli_home.run("db", "migrate").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "dagcore", "dag-processor", "--interval",
                             "0.2", "--subdir", str(dags_folder)], env=cli_home.env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while _dag_rows(cli_db) == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert _dag_rows(cli_db) == 1
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "DAGs written: 1, versions created: 1" in stdout
    assert stdout.rstrip().endswith("dag-processor: stopped")
