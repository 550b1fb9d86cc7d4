"""The pool of DAG-file parsing children (:mod:`dagcore.dag_parsing`).

Airflow's expectations: the DAG processor parses files in child processes, ``[dag_processor]
parsing_processes`` at once (default 2); a child running longer than ``dag_file_processor_timeout``
(default 50 s) is SIGKILLed and counted as an import error of its file
(``airflow/dag_processing/manager.py`` ``_kill_timed_out_processors``; options in
``airflow/config_templates/config.yml``, section ``dag_processor``). The other files are parsed
as usual. Nothing here measures time: the short timeouts only keep the hung cases short.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from dagcore.configuration import ConfigError, conf_vars
from dagcore.dag_parsing import (
    DagFileParserPool,
    ParsingInterrupted,
    dag_file_processor_timeout,
    parsing_processes,
)

GOOD = """\
from datetime import UTC, datetime
from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

with DAG("{dag_id}", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None,
         description="from {dag_id}"):
    EmptyOperator(task_id="t", owner="ops")
"""

# Safe mode parses only files that mention "dag" and "dagcore": every hostile file does.
HEADER = "# a dagcore DAG file\n"
EXITS = HEADER + "import os\nos._exit(1)\n"
SEGFAULTS = HEADER + "import ctypes\nctypes.string_at(0)\n"
LOOPS_IN_C = HEADER + ("import collections, itertools\n"
                       "collections.deque(itertools.count(), maxlen=0)\n")
# Writes the pid of the child that parses it, then defines a DAG.
RECORDS_PID = GOOD + "\nimport os\nopen({out!r}, 'w').write(str(os.getpid()))\n"


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def alive(pid: int) -> bool:
    """Whether ``pid`` still exists (a zombie counts: it was not reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_each_file_gets_its_dags_serialized_and_its_errors(tmp_path: Path) -> None:
    good = write(tmp_path, "a.py", GOOD.format(dag_id="a"))
    broken = write(tmp_path, "b.py", HEADER + "raise ValueError('no such table')\n")
    with DagFileParserPool(processes=2, timeout=30) as pool:
        first, second = pool.parse([good, broken], dag_folder=str(tmp_path))
    assert [entry.dag_id for entry in first.dags] == ["a"]
    entry = first.dags[0]
    assert entry.fileloc == good and entry.relative_fileloc == "a.py"
    assert entry.data["dag"]["dag_id"] == "a" and len(entry.dag_hash) == 32
    assert entry.attributes["owners"] == "ops"
    assert entry.attributes["description"] == "from a"
    assert entry.source_code == Path(good).read_text()
    assert first.import_errors == {}
    assert second.dags == ()
    assert list(second.import_errors) == ["b.py"]
    assert "ValueError: no such table" in second.import_errors["b.py"]


def test_results_come_in_file_order_whatever_order_the_children_finish_in(
        tmp_path: Path) -> None:
    # The first file waits until the second one has been parsed (by the other child), so the
    # children finish in the reverse order of the files.
    marker = tmp_path / "second-done"
    slow = write(tmp_path, "a_slow.py", GOOD.format(dag_id="slow") + textwrap.dedent(f"""
        import os, time
        deadline = time.monotonic() + 60
        while not os.path.exists({str(marker)!r}) and time.monotonic() < deadline:
            time.sleep(0.01)
        """))
    fast = write(tmp_path, "b_fast.py", GOOD.format(dag_id="fast")
                 + f"\nopen({str(marker)!r}, 'w').close()\n")
    with DagFileParserPool(processes=2, timeout=120) as pool:
        results = pool.parse([slow, fast], dag_folder=str(tmp_path))
    assert marker.exists()
    assert [r.relative_fileloc for r in results] == ["a_slow.py", "b_fast.py"]
    assert [[e.dag_id for e in r.dags] for r in results] == [["slow"], ["fast"]]


@pytest.mark.parametrize(("hostile", "how"), [
    (EXITS, "the process parsing it exited with status 1"),
    (SEGFAULTS, "the process parsing it was killed by signal SIGSEGV"),
], ids=["os._exit", "segfault"])
def test_a_dead_child_is_its_files_import_error_and_is_replaced(
        tmp_path: Path, hostile: str, how: str) -> None:
    bad = write(tmp_path, "bad.py", hostile)
    out = tmp_path / "pid"
    good = write(tmp_path, "good.py", RECORDS_PID.format(dag_id="good", out=str(out)))
    with DagFileParserPool(processes=1, timeout=30) as pool:
        results = pool.parse([bad, good], dag_folder=str(tmp_path))
        assert results[0].import_errors == {"bad.py": f"Broken DAG file bad.py: {how}."}
        assert [e.dag_id for e in results[1].dags] == ["good"]
        # The next file went to a new child, which the pool keeps.
        assert pool.pids == [int(out.read_text())]
        again = pool.parse([good], dag_folder=str(tmp_path))
        assert [e.dag_id for e in again[0].dags] == ["good"]
        assert pool.pids == [int(out.read_text())]  # reused, not replaced


def test_a_child_past_the_timeout_is_killed_and_the_next_file_parsed(tmp_path: Path) -> None:
    # SIGALRM (dagbag_import_timeout) cannot interrupt a loop in C; the pool's SIGKILL can.
    hung = write(tmp_path, "hung.py", LOOPS_IN_C)
    good = write(tmp_path, "good.py", GOOD.format(dag_id="good"))
    with DagFileParserPool(processes=1, timeout=1) as pool:
        pool.parse([good], dag_folder=str(tmp_path))
        (hung_pid,) = pool.pids
        results = pool.parse([hung, good], dag_folder=str(tmp_path))
        assert not alive(hung_pid)  # killed and reaped
        assert results[0].import_errors == {"hung.py": (
            "Broken DAG file hung.py: the process parsing it did not finish within 1 s "
            "(dag_file_processor_timeout) and was killed.")}
        assert [e.dag_id for e in results[1].dags] == ["good"]


def test_should_stop_abandons_the_pass_and_kills_the_busy_children(tmp_path: Path) -> None:
    hung = write(tmp_path, "hung.py", LOOPS_IN_C)
    answers = iter([False])  # go on once (the file is handed out), then stop
    with DagFileParserPool(processes=1, timeout=600) as pool:
        with pytest.raises(ParsingInterrupted):
            pool.parse([hung], dag_folder=str(tmp_path), should_stop=lambda: next(answers, True))
        assert pool.pids == []


def test_close_leaves_no_child_behind(tmp_path: Path) -> None:
    files = [write(tmp_path, f"f{i}.py", GOOD.format(dag_id=f"d{i}")) for i in range(4)]
    pool = DagFileParserPool(processes=2, timeout=30)
    results = pool.parse(files, dag_folder=str(tmp_path))
    assert [e.dag_id for r in results for e in r.dags] == ["d0", "d1", "d2", "d3"]
    pids = pool.pids
    assert len(pids) == 2
    pool.close()
    assert not any(alive(pid) for pid in pids)
    with pytest.raises(RuntimeError, match="closed"):
        pool.parse(files, dag_folder=str(tmp_path))


def test_duplicate_dag_ids_across_files_keep_the_first_file_as_a_bag_does(tmp_path: Path) -> None:
    write(tmp_path, "a.py", GOOD.format(dag_id="same"))
    write(tmp_path, "b.py", GOOD.format(dag_id="same") + "\n" + GOOD.format(dag_id="other"))
    with DagFileParserPool(processes=2, timeout=30) as pool:
        parsed = pool.parse_folder(tmp_path)
    assert [(e.dag_id, e.relative_fileloc) for e in parsed.dags] == [
        ("same", "a.py"), ("other", "b.py")]
    assert list(parsed.import_errors) == ["b.py"]
    assert parsed.import_errors["b.py"].startswith("DagDuplicatedIdError: Ignoring DAG same")


def test_the_options_have_airflows_names_and_defaults() -> None:
    with conf_vars({("dag_processor", "parsing_processes"): None,
                    ("dag_processor", "dag_file_processor_timeout"): None,
                    ("core", "dag_file_processor_timeout"): None}):
        assert parsing_processes() == 2
        assert dag_file_processor_timeout() == 50.0
        with conf_vars({("core", "dag_file_processor_timeout"): "7"}):  # Airflow 2's place
            assert dag_file_processor_timeout() == 7.0
        with conf_vars({("dag_processor", "parsing_processes"): "1"}):
            assert DagFileParserPool().processes == 1


@pytest.mark.parametrize(("section", "key", "value", "fragment"), [
    ("dag_processor", "parsing_processes", "0", "parsing_processes must be a whole number of "
                                                "at least 1, got 0"),
    ("dag_processor", "parsing_processes", "two", 'Current value: "two"'),
    ("dag_processor", "dag_file_processor_timeout", "-5", "[dag_processor] "
                                                          "dag_file_processor_timeout must be a "
                                                          "positive number of seconds, got -5.0"),
    ("core", "dag_file_processor_timeout", "0", "[core] dag_file_processor_timeout must be a "
                                                "positive number of seconds, got 0.0"),
])
def test_bad_settings_are_config_errors_naming_the_value(section: str, key: str, value: str,
                                                         fragment: str) -> None:
    with conf_vars({(section, key): value}), pytest.raises(ConfigError) as info:
        DagFileParserPool()
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("kwargs", [{"processes": 0}, {"timeout": 0}, {"timeout": -1.5}])
def test_bad_arguments_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match=str(next(iter(kwargs.values())))):
        DagFileParserPool(**kwargs)  # type: ignore[arg-type]


def test_the_parent_forks_warm_and_keeps_its_objects_collectable(tmp_path: Path) -> None:
    """Before forking, the parent imports what a child imports on its first file (so the
    children inherit it) and freezes its objects for the fork only: afterwards none of its own
    objects stays frozen (its collector still frees them)."""
    import gc
    import sys

    import dagcore.dag_parsing as dag_parsing

    paths = [write(tmp_path, f"d{i}.py", GOOD.format(dag_id=f"d{i}")) for i in range(3)]
    assert gc.get_freeze_count() == 0
    with DagFileParserPool(processes=2, timeout=60) as pool:
        results = pool.parse(paths, dag_folder=str(tmp_path))
        assert len(pool.pids) == 2
    assert [entry.dag_id for r in results for entry in r.dags] == ["d0", "d1", "d2"]
    assert gc.get_freeze_count() == 0
    assert dag_parsing._warm
    assert {"jinja2", "dagcore.compat.airflow", "dagcore.operators.bash"} <= set(sys.modules)


def test_a_child_found_dead_keeps_the_answers_it_sent_before_dying(tmp_path: Path) -> None:
    """The pool may find a child dead while its answer for an earlier file is still unread in
    the pipe (a send of the next file fails first): that file keeps its answer and the import
    error goes to the file the child died on."""
    from collections import deque

    good = write(tmp_path, "good.py", GOOD.format(dag_id="good"))
    bad = write(tmp_path, "bad.py", SEGFAULTS)
    with DagFileParserPool(processes=1, timeout=30) as pool:
        child = pool._start()
        for index, path in enumerate((good, bad)):
            child.channel.send((path, str(tmp_path), True, pool._passes))
            child.jobs.append((index, path))
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # dead, not reaped
        results: dict = {}
        pool._died(child, deque(), str(tmp_path), results)
    assert [e.dag_id for e in results[0].dags] == ["good"] and not results[0].import_errors
    assert results[1].import_errors == {
        "bad.py": "Broken DAG file bad.py: the process parsing it was killed by signal SIGSEGV."}
