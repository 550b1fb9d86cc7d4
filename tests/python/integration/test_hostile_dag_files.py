"""A DAG file that kills or hangs the process importing it never costs the rest of the folder
(issue 12 §2): `dags reserialize`, `dag-processor` and `standalone` parse in child processes.

Airflow's expectations: DAG files are parsed in child processes, so the DAG processor survives
whatever a file does; a child that runs past ``dag_file_processor_timeout`` is SIGKILLed and
counted as an import error of its file (``airflow/dag_processing/manager.py``
``_kill_timed_out_processors``), and every other file is parsed and stored. A file that fails to
import leaves the DAGs it defined before in place (dagcore: not stale, ``has_import_errors`` set;
docs/airflow-behaviour.md 1.7).

Every command runs for real (``python -m dagcore``). Nothing here measures time: the deadlines
only turn a hang into a failure.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cli_helpers import CLIHome, assert_one_line_error
from scheduler_process import DagcoreProcess, reap_sessions, session_pids, wait_for

from dagcore.models import tables as t

GOOD = """\
from datetime import UTC, datetime
from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

with DAG("{dag_id}", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None):
    EmptyOperator(task_id="t")
"""

# Safe mode parses only files that mention "dag" and "dagcore": every hostile file does.
HEADER = "# a dagcore DAG file\n"
HOSTILE = {
    "os-exit": (HEADER + "import os\nos._exit(1)\n",
                "the process parsing it exited with status 1"),
    "segfault": (HEADER + "import ctypes\nctypes.string_at(0)\n",
                 "the process parsing it was killed by signal SIGSEGV"),
    # SIGALRM ([core] dagbag_import_timeout) cannot interrupt a loop in C code.
    "c-loop": (HEADER + "import collections, itertools\n"
                        "collections.deque(itertools.count(), maxlen=0)\n",
               "the process parsing it did not finish within 2 s "
               "(dag_file_processor_timeout) and was killed"),
    # Python-level failures stay the DAG bag's import errors, with their usual text.
    "sys-exit": (HEADER + "import sys\nsys.exit(3)\n", "SystemExit: 3"),
    "raises": (HEADER + "raise RuntimeError('the database of this DAG is down')\n",
               "RuntimeError: the database of this DAG is down"),
}
SHORT_TIMEOUT = {"DAGCORE__CORE__DAG_FILE_PROCESSOR_TIMEOUT": "2"}
DEADLINE_S = 120


@pytest.fixture
def processes() -> Iterator[list[DagcoreProcess]]:
    started: list[DagcoreProcess] = []
    yield started
    reap_sessions(started, grace=5)


def hostile_folder(cli_home: CLIHome, hostile: str) -> Path:
    """A migrated database and two good DAG files around the hostile one (files are parsed in
    name order)."""
    cli_home.env.update(SHORT_TIMEOUT)
    migrate(cli_home)
    return cli_home.write_dags({"a_first.py": GOOD.format(dag_id="first"),
                                "b_hostile.py": HOSTILE[hostile][0],
                                "c_last.py": GOOD.format(dag_id="last")})


def cli_json(cli_home: CLIHome, *args: str) -> list[dict[str, Any]]:
    result = cli_home.run(*args, "-o", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return data


def stored(cli_home: CLIHome) -> set[str]:
    return {row["dag_id"] for row in cli_json(cli_home, "dags", "list")}


def import_errors(cli_home: CLIHome) -> dict[str, str]:
    return {row["filename"]: row["error"]
            for row in cli_json(cli_home, "dags", "list-import-errors")}


def assert_folder_stored(cli_home: CLIHome, hostile: str) -> None:
    assert stored(cli_home) == {"first", "last"}
    errors = import_errors(cli_home)
    assert list(errors) == ["b_hostile.py"]
    assert HOSTILE[hostile][1] in errors["b_hostile.py"]


def dag_flags(cli_home: CLIHome, dag_id: str) -> tuple[bool, bool]:
    engine = sa.create_engine(cli_home.db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.select(t.dag.c.is_stale, t.dag.c.has_import_errors)
                               .where(t.dag.c.dag_id == dag_id)).one()
    finally:
        engine.dispose()
    return bool(row.is_stale), bool(row.has_import_errors)


def migrate(cli_home: CLIHome) -> None:
    result = cli_home.run("db", "migrate")
    assert result.returncode == 0, result.stderr


# -- dags reserialize --------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", list(HOSTILE))
def test_reserialize_stores_the_good_dags_and_records_the_hostile_file(
        cli_home: CLIHome, hostile: str) -> None:
    folder = hostile_folder(cli_home, hostile)
    result = cli_home.run("dags", "reserialize", "-S", str(folder), timeout=DEADLINE_S)
    # As Airflow's `dags reserialize`: import errors are reported, not a failure.
    assert result.returncode == 0, result.stderr
    assert "DAGs written: 2, versions created: 2, import errors: 1" in result.stdout
    assert "import error: b_hostile.py" in result.stdout
    assert_folder_stored(cli_home, hostile)


def test_reserialize_leaves_no_parsing_process_behind(
        cli_home: CLIHome, processes: list[DagcoreProcess]) -> None:
    folder = hostile_folder(cli_home, "segfault")
    command = DagcoreProcess(cli_home.env, ["dags", "reserialize", "-S", str(folder)],
                             logs=cli_home.home, name="reserialize")
    processes.append(command)
    assert command.proc.wait(timeout=DEADLINE_S) == 0, command.describe()
    assert session_pids(command.pid) == []


@pytest.mark.parametrize(("variable", "value", "fragment"), [
    ("DAGCORE__DAG_PROCESSOR__PARSING_PROCESSES", "0",
     "[dag_processor] parsing_processes must be a whole number of at least 1, got 0"),
    ("DAGCORE__CORE__DAG_FILE_PROCESSOR_TIMEOUT", "-1",
     "[core] dag_file_processor_timeout must be a positive number of seconds, got -1.0"),
])
def test_bad_parsing_settings_are_one_line_errors(cli_home: CLIHome, variable: str, value: str,
                                                  fragment: str) -> None:
    folder = hostile_folder(cli_home, "raises")
    cli_home.env[variable] = value
    assert_one_line_error(cli_home.run("dags", "reserialize", "-S", str(folder)), fragment)
    assert_one_line_error(cli_home.run("dag-processor", "--once", "-S", str(folder)), fragment)


@pytest.mark.parametrize("hostile", ["os-exit", "segfault", "c-loop"])
def test_a_hostile_edit_keeps_the_stored_dag_and_records_the_error(
        cli_home: CLIHome, hostile: str) -> None:
    migrate(cli_home)
    folder = cli_home.write_dags({"a_first.py": GOOD.format(dag_id="first"),
                                  "b_edited.py": GOOD.format(dag_id="edited")})
    assert cli_home.run("dags", "reserialize", "-S", str(folder)).returncode == 0
    assert stored(cli_home) == {"first", "edited"}

    cli_home.env.update(SHORT_TIMEOUT)
    (folder / "b_edited.py").write_text(HOSTILE[hostile][0])
    result = cli_home.run("dags", "reserialize", "-S", str(folder), timeout=DEADLINE_S)
    assert result.returncode == 0, result.stderr
    errors = import_errors(cli_home)
    assert list(errors) == ["b_edited.py"] and HOSTILE[hostile][1] in errors["b_edited.py"]
    # The file may still define the DAG once fixed: not stale, flagged.
    assert dag_flags(cli_home, "edited") == (False, True)
    assert dag_flags(cli_home, "first") == (False, False)
    assert stored(cli_home) == {"first", "edited"}


# -- dag-processor -----------------------------------------------------------------------------


def child_pids(pid: int) -> list[int]:
    """The live children of ``pid`` (its parsing processes)."""
    children = []
    for other in session_pids(pid):
        try:
            with open(f"/proc/{other}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(other)
    return children


def passes(process: DagcoreProcess) -> int:
    return process.stdout.count("DAGs written:")


@pytest.mark.parametrize("hostile", list(HOSTILE))
def test_the_dag_processor_survives_the_hostile_file_and_stops_on_sigterm(
        cli_home: CLIHome, processes: list[DagcoreProcess], hostile: str) -> None:
    folder = hostile_folder(cli_home, hostile)
    processor = DagcoreProcess(cli_home.env,
                               ["dag-processor", "-S", str(folder), "--interval", "0.2"],
                               logs=cli_home.home, name="dag-processor")
    processes.append(processor)
    wait_for("two passes", lambda: passes(processor) >= 2, timeout=DEADLINE_S,
             watch=[processor])
    assert_folder_stored(cli_home, hostile)
    children = child_pids(processor.pid)
    assert children  # the long-lived parsing children, reused from pass to pass

    assert processor.stop(timeout=DEADLINE_S) == 0, processor.describe()
    assert "dag-processor: stopped" in processor.stdout
    assert session_pids(processor.pid) == []  # no parsing child left behind


def test_the_dag_processor_stops_on_sigterm_while_a_child_hangs(
        cli_home: CLIHome, processes: list[DagcoreProcess]) -> None:
    folder = cli_home.write_dags({"a_first.py": GOOD.format(dag_id="first"),
                                  "b_hostile.py": HOSTILE["c-loop"][0]})
    marker = cli_home.home / "first-parsed"
    (folder / "a_first.py").write_text(
        GOOD.format(dag_id="first") + f"\nopen({str(marker)!r}, 'w').close()\n")
    cli_home.env["DAGCORE__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT"] = "3600"
    cli_home.env["DAGCORE__DAG_PROCESSOR__PARSING_PROCESSES"] = "1"
    migrate(cli_home)
    processor = DagcoreProcess(cli_home.env, ["dag-processor", "-S", str(folder)],
                               logs=cli_home.home, name="dag-processor")
    processes.append(processor)
    # One child: it parsed the first file, then took the looping one and hangs there.
    wait_for("the first file parsed", marker.exists, timeout=DEADLINE_S, watch=[processor])
    (child,) = wait_for("the parsing child", lambda: child_pids(processor.pid),
                        timeout=DEADLINE_S, watch=[processor])

    processor.signal(signal.SIGTERM)
    assert processor.proc.wait(timeout=DEADLINE_S) == 0, processor.describe()
    assert "dag-processor: stopped" in processor.stdout
    assert session_pids(processor.pid) == []
    assert child not in session_pids(processor.pid)


# -- standalone ----------------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", ["os-exit", "segfault", "c-loop"])
def test_standalones_initial_sync_stores_the_good_dags(
        cli_home: CLIHome, hostile: str) -> None:
    folder = hostile_folder(cli_home, hostile)
    result = cli_home.run("standalone", "-S", str(folder), "-n", "1", "--no-api-server",
                          timeout=DEADLINE_S)
    assert result.returncode == 0, result.stderr
    assert "standalone: 2 DAG(s) parsed (2 written), 1 import error(s)" in result.stdout
    assert_folder_stored(cli_home, hostile)
