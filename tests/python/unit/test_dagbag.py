"""dagcore.dagbag.DagBag: real DAG files in tmp_path, imported for real (Airflow's
docs/airflow-behaviour.md 1.2)."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagcore.configuration import conf_vars
from dagcore.dag import DAG
from dagcore.dagbag import (
    EXAMPLE_DAGS_FOLDER,
    DagBag,
    FileLoadStat,
    find_path_from_directory,
    list_py_file_paths,
    might_contain_dag,
)

GOOD = """\
from datetime import UTC, datetime
from dagcore import DAG
from dagcore.operators.empty import EmptyOperator

with DAG("{dag_id}", start_date=datetime(2024, 1, 1, tzinfo=UTC)) as dag:
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def good(folder: Path, name: str, dag_id: str) -> Path:
    return write(folder, name, GOOD.format(dag_id=dag_id))


def rel(paths: list[str], base: Path) -> list[str]:
    return sorted(Path(p).relative_to(base).as_posix() for p in paths)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "home"))
    for var in [v for v in os.environ if v.startswith("DAGCORE__")]:
        monkeypatch.delenv(var)
    yield


@pytest.fixture()
def dags(tmp_path: Path) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    return folder


# -- loading ------------------------------------------------------------------------------------


def test_good_file_is_bagged_with_its_location(dags: Path) -> None:
    path = good(dags, "sub/first.py", "first")
    bag = DagBag(dags)
    assert bag.dag_ids == ["first"] and bag.size() == 1 and len(bag) == 1
    dag = bag.get_dag("first")
    assert isinstance(dag, DAG) and dag.task_ids == ["a", "b"]
    assert dag.fileloc == str(path)
    assert dag.relative_fileloc == "sub/first.py"  # type: ignore[attr-defined]
    assert bag.import_errors == {}
    assert set(bag.file_last_changed) == {str(path)}
    assert bag.get_dag("missing") is None


def test_defaults_come_from_configuration(dags: Path) -> None:
    good(dags, "one.py", "one")
    with conf_vars({("core", "dags_folder"): dags}):
        bag = DagBag()
    assert bag.dag_folder == str(dags) and bag.dag_ids == ["one"]
    assert bag.safe_mode is True and bag.include_examples is False and bag.compat_airflow is True
    assert bag.import_timeout == 30.0


def test_collect_dags_false_parses_nothing(dags: Path) -> None:
    good(dags, "one.py", "one")
    bag = DagBag(dags, collect_dags=False)
    assert bag.dags == {} and bag.parse_stats == []
    bag.collect_dags()
    assert bag.dag_ids == ["one"]


def test_auto_registered_dags_are_found_without_module_attributes(dags: Path) -> None:
    write(dags, "registered.py", """\
        from datetime import UTC, datetime
        from dagcore import DAG, dag, task

        with DAG("from_with_block"):
            pass

        @dag(schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC))
        def from_decorator():
            @task
            def hello():
                return "hi"
            hello()

        from_decorator()

        def build():
            return DAG("built_but_not_kept")  # neither top-level nor a with block: not found

        build()
        """)
    bag = DagBag(dags)
    assert sorted(bag.dag_ids) == ["from_decorator", "from_with_block"]
    assert bag.get_dag("from_decorator").fileloc == str(dags / "registered.py")


def test_dags_outside_an_import_are_not_registered(dags: Path) -> None:
    with DAG("defined_in_the_test"):
        pass
    good(dags, "one.py", "one")
    assert DagBag(dags).dag_ids == ["one"]


def test_process_file_ignores_none_folders_and_missing_paths(dags: Path) -> None:
    bag = DagBag(dags, collect_dags=False)
    assert bag.process_file(None) == []
    assert bag.process_file(dags) == []
    assert bag.process_file(dags / "missing.py") == []
    assert bag.import_errors == {} and bag.file_last_changed == {}


def test_single_file_as_dag_folder(dags: Path) -> None:
    path = good(dags, "only.py", "only")
    good(dags, "other.py", "other")
    assert DagBag(path).dag_ids == ["only"]


# -- import errors ------------------------------------------------------------------------------


def test_syntax_error_is_recorded_and_others_still_load(dags: Path) -> None:
    good(dags, "a_good.py", "good_one")
    write(dags, "b_broken.py", "from dagcore import DAG\nthis is not python (\n")
    good(dags, "c_good.py", "good_two")
    bag = DagBag(dags)
    assert sorted(bag.dag_ids) == ["good_one", "good_two"]
    assert list(bag.import_errors) == ["b_broken.py"]
    message = bag.import_errors["b_broken.py"]
    assert "SyntaxError" in message and "b_broken.py" in message and "line 2" in message


def test_exception_at_import_has_a_traceback(dags: Path) -> None:
    write(dags, "boom.py", """\
        from dagcore import DAG

        def helper():
            raise RuntimeError("boom while building the dag")

        helper()
        """)
    good(dags, "fine.py", "fine")
    bag = DagBag(dags)
    message = bag.import_errors["boom.py"]
    assert message.startswith("Traceback (most recent call last):")
    assert "RuntimeError: boom while building the dag" in message
    assert 'in helper' in message
    assert bag.dag_ids == ["fine"]


@pytest.mark.parametrize("statement, expected", [
    ("import sys; sys.exit(3)", "SystemExit: 3"),
    ("raise GeneratorExit('odd')", "GeneratorExit: odd"),
    ("import dagcore.no_such_module", "ModuleNotFoundError: No module named "
                                      "'dagcore.no_such_module'"),
], ids=["system-exit", "base-exception", "missing-module"])
def test_any_base_exception_is_recorded(dags: Path, statement: str, expected: str) -> None:
    write(dags, "odd.py", f"# a dagcore dag\n{statement}\n")
    bag = DagBag(dags)
    assert expected in bag.import_errors["odd.py"]


def test_keyboard_interrupt_propagates(dags: Path) -> None:
    write(dags, "interrupt.py", "# a dagcore dag\nraise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):
        DagBag(dags)


def test_traceback_depth_and_switch_come_from_configuration(dags: Path) -> None:
    write(dags, "deep.py", """\
        # a dagcore dag
        def one(): two()
        def two(): three()
        def three(): raise ValueError("deep")
        one()
        """)
    with conf_vars({("core", "dagbag_import_error_traceback_depth"): 1}):
        shallow = DagBag(dags).import_errors["deep.py"]
    assert "in three" in shallow and "in two" not in shallow
    with conf_vars({("core", "dagbag_import_error_traceback_depth"): 4}):
        deeper = DagBag(dags).import_errors["deep.py"]
    assert "in two" in deeper and "in one" in deeper
    with conf_vars({("core", "dagbag_import_error_tracebacks"): False}):
        assert DagBag(dags).import_errors["deep.py"] == "deep"


def test_import_timeout_is_recorded_and_the_alarm_is_cleared(dags: Path) -> None:
    write(dags, "slow.py", """\
        import time
        from dagcore import DAG
        try:
            time.sleep(30)
        except Exception:  # a file's own broad except must not swallow the timeout
            pass
        """)
    good(dags, "quick.py", "quick")
    before = signal.getsignal(signal.SIGALRM)
    with conf_vars({("core", "dagbag_import_timeout"): 1}):
        bag = DagBag(dags)
    message = bag.import_errors["slow.py"]
    assert "DagImportTimeout" in message and "after 1.0s" in message and "slow.py" in message
    assert bag.dag_ids == ["quick"]
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before


def test_non_positive_timeout_means_no_limit(dags: Path) -> None:
    write(dags, "short.py", "import time\nfrom dagcore import DAG\ntime.sleep(0.05)\n"
                            "dag = DAG('short')\n")
    with conf_vars({("core", "dagbag_import_timeout"): 0}):
        assert DagBag(dags).dag_ids == ["short"]


def test_parsing_off_the_main_thread_works_without_a_timeout(dags: Path) -> None:
    good(dags, "threaded.py", "threaded")
    result: list[DagBag] = []
    worker = threading.Thread(target=lambda: result.append(DagBag(dags)))
    worker.start()
    worker.join(30)
    assert result and result[0].dag_ids == ["threaded"]


def test_duplicate_dag_id_across_files_names_both_files(dags: Path) -> None:
    first = good(dags, "a_first.py", "same_id")
    second = good(dags, "b_second.py", "same_id")
    good(dags, "c_other.py", "other")
    bag = DagBag(dags)
    assert sorted(bag.dag_ids) == ["other", "same_id"]
    assert bag.get_dag("same_id").fileloc == str(first)
    message = bag.import_errors["b_second.py"]
    assert message.startswith("DagDuplicatedIdError: Ignoring DAG same_id")
    assert str(first) in message and str(second) in message
    assert list(bag.import_errors) == ["b_second.py"]


def test_same_dag_id_twice_in_one_file_keeps_the_last(dags: Path) -> None:
    write(dags, "twice.py", """\
        from dagcore import DAG
        first = DAG("twice", description="first")
        second = DAG("twice", description="second")
        """)
    bag = DagBag(dags)
    assert bag.import_errors == {} and bag.get_dag("twice").description == "second"


def test_cycle_written_in_the_file_is_an_import_error(dags: Path) -> None:
    write(dags, "cyclic.py", """\
        from dagcore import DAG
        from dagcore.operators.empty import EmptyOperator
        with DAG("cyclic"):
            a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
            a >> b >> a
        """)
    good(dags, "fine.py", "fine")
    bag = DagBag(dags)
    assert "DagCycleError" in bag.import_errors["cyclic.py"]
    assert bag.dag_ids == ["fine"]


def test_cycle_made_behind_the_api_is_refused_when_bagged(dags: Path) -> None:
    write(dags, "sneaky.py", """\
        from dagcore import DAG
        from dagcore.operators.empty import EmptyOperator
        sneaky = DAG("sneaky")
        a = EmptyOperator(task_id="a", dag=sneaky)
        b = EmptyOperator(task_id="b", dag=sneaky)
        a >> b
        b._downstream["a"] = a  # bypasses the check that >> makes
        a._upstream["b"] = b
        """)
    good(dags, "fine.py", "fine")
    bag = DagBag(dags)
    assert bag.import_errors["sneaky.py"] == (
        "DagCycleError: Cycle detected in DAG 'sneaky': a -> b -> a")
    assert bag.dag_ids == ["fine"]


def test_validation_error_is_recorded_as_type_and_message(dags: Path) -> None:
    write(dags, "invalid.py", """\
        from dagcore import DAG
        from dagcore.operators.empty import EmptyOperator
        invalid = DAG("invalid")  # no with block: validated when bagged
        setup = EmptyOperator(task_id="setup", dag=invalid).as_setup()
        setup >> EmptyOperator(task_id="after", dag=invalid, trigger_rule="one_failed")
        valid = DAG("valid_neighbour")
        """)
    bag = DagBag(dags)
    message = bag.import_errors["invalid.py"]
    assert message.startswith("ValueError: Setup tasks must be followed with trigger rule")
    assert bag.dag_ids == ["valid_neighbour"]  # the file's other DAG still counts


# -- re-parsing ---------------------------------------------------------------------------------


def test_only_if_updated_compares_the_modification_time(dags: Path) -> None:
    path = good(dags, "changing.py", "v1")
    bag = DagBag(dags)
    stamp = path.stat().st_mtime_ns
    good(dags, "changing.py", "v2")
    os.utime(path, ns=(stamp, stamp))  # new content, same mtime: not re-imported
    assert bag.process_file(path) == []
    assert bag.dag_ids == ["v1"]
    os.utime(path, ns=(stamp + 2_000_000_000, stamp + 2_000_000_000))
    found = bag.process_file(path)
    assert [d.dag_id for d in found] == ["v2"]
    assert bag.dag_ids == ["v2"]  # the DAG the file no longer defines left the bag
    assert bag.file_last_changed[str(path)].timestamp() == pytest.approx(stamp / 1e9 + 2)
    assert [d.dag_id for d in bag.process_file(path, only_if_updated=False)] == ["v2"]


def test_collect_dags_again_skips_unchanged_files(dags: Path) -> None:
    good(dags, "one.py", "one")
    bag = DagBag(dags)
    bag.collect_dags()
    assert [(s.file, s.dag_num) for s in bag.parse_stats] == [("one.py", 0)]
    bag.collect_dags(only_if_updated=False)
    assert [(s.file, s.dag_num) for s in bag.parse_stats] == [("one.py", 1)]


def test_fixing_a_file_clears_its_import_error(dags: Path) -> None:
    path = write(dags, "fixme.py", "from dagcore import DAG\nraise ValueError('not yet')\n")
    bag = DagBag(dags)
    assert "fixme.py" in bag.import_errors
    good(dags, "fixme.py", "fixed")
    assert [d.dag_id for d in bag.process_file(path, only_if_updated=False)] == ["fixed"]
    assert bag.import_errors == {}


def test_a_failed_reimport_keeps_the_previous_dags(dags: Path) -> None:
    path = good(dags, "flaky.py", "flaky")
    bag = DagBag(dags)
    write(dags, "flaky.py", "from dagcore import DAG\nraise ValueError('broken now')\n")
    assert bag.process_file(path, only_if_updated=False) == []
    assert bag.dag_ids == ["flaky"] and "ValueError: broken now" in bag.import_errors["flaky.py"]


def test_get_dag_reparses_a_changed_file(dags: Path) -> None:
    path = good(dags, "live.py", "live")
    bag = DagBag(dags)
    write(dags, "live.py", GOOD.format(dag_id="live").replace('task_id="b"', 'task_id="c"'))
    stamp = path.stat().st_mtime_ns + 2_000_000_000
    os.utime(path, ns=(stamp, stamp))
    assert bag.get_dag("live").task_ids == ["a", "c"]


def test_module_names_are_unique_per_path_and_stale_entries_replaced(dags: Path) -> None:
    left = good(dags, "left/pipeline.py", "left")
    right = good(dags, "right/pipeline.py", "right")
    bag = DagBag(dags)
    assert sorted(bag.dag_ids) == ["left", "right"]
    modules = {m.__file__: m for m in list(sys.modules.values())
               if getattr(m, "__name__", "").startswith("dagcore_dag_")}
    assert str(left) in modules and str(right) in modules
    assert modules[str(left)].__name__ != modules[str(right)].__name__
    old = modules[str(left)]
    bag.process_file(left, only_if_updated=False)
    assert sys.modules[old.__name__] is not old


def test_helper_modules_next_to_dag_files_import_and_sys_path_is_restored(dags: Path) -> None:
    write(dags, "dag_helpers_xyz.py", "TASKS = ['x', 'y']\n")
    write(dags, "uses_helper.py", """\
        from dagcore import DAG
        from dagcore.operators.empty import EmptyOperator
        from dag_helpers_xyz import TASKS
        with DAG("uses_helper") as dag:
            for name in TASKS:
                EmptyOperator(task_id=name)
        """)
    before = list(sys.path)
    bag = DagBag(dags)
    assert bag.get_dag("uses_helper").task_ids == ["x", "y"]
    assert sys.path == before


# -- parse statistics ---------------------------------------------------------------------------


def test_parse_stats_per_file_slowest_first(dags: Path) -> None:
    good(dags, "fast.py", "fast")
    write(dags, "slow.py", GOOD.format(dag_id="slow") + "import time\ntime.sleep(0.2)\n")
    write(dags, "two.py", """\
        from dagcore import DAG
        from dagcore.operators.empty import EmptyOperator
        with DAG("two_a"):
            EmptyOperator(task_id="t")
        with DAG("two_b"):
            pass
        """)
    write(dags, "broken.py", "from dagcore import DAG\nraise RuntimeError('x')\n")
    bag = DagBag(dags)
    stats = bag.parse_stats
    assert all(isinstance(s, FileLoadStat) for s in stats)
    assert stats[0].file == "slow.py" and stats[0].duration.total_seconds() >= 0.2
    assert [s.duration for s in stats] == sorted((s.duration for s in stats), reverse=True)
    by_file = {s.file: s for s in stats}
    assert set(by_file) == {"fast.py", "slow.py", "two.py", "broken.py"}
    assert (by_file["two.py"].dag_num, by_file["two.py"].task_num) == (2, 1)
    assert by_file["two.py"].dags == ("two_a", "two_b")
    assert (by_file["broken.py"].dag_num, by_file["broken.py"].dags) == (0, ())
    assert bag.dagbag_stats is bag.parse_stats


# -- safe mode ----------------------------------------------------------------------------------

HIDDEN = """\
# builds a DAG without naming the package
package = __import__("d" + "agcore")
hidden_dag = package.DAG("hidden")
"""


@pytest.mark.parametrize("text, expected", [
    ("from dagcore import DAG", True),
    ("FROM AIRFLOW IMPORT DAG", True),
    ("dagcore only mentions itself", True),  # "dagcore" contains "dag"
    ("import airflow", False),  # no "dag"
    ("dag without the package", False),
    ("", False),
], ids=["dagcore", "airflow-upper", "dagcore-alone", "no-dag", "no-package", "empty"])
def test_might_contain_dag(tmp_path: Path, text: str, expected: bool) -> None:
    path = tmp_path / "candidate.py"
    path.write_text(text)
    assert might_contain_dag(path, safe_mode=True) is expected
    assert might_contain_dag(path, safe_mode=False) is True


def test_safe_mode_skips_files_without_the_keywords(dags: Path) -> None:
    write(dags, "hidden.py", HIDDEN)
    good(dags, "visible.py", "visible")
    bag = DagBag(dags)
    assert bag.dag_ids == ["visible"] and bag.import_errors == {}
    assert [s.file for s in bag.parse_stats] == ["visible.py"]
    assert bag.process_file(dags / "hidden.py", safe_mode=True) == []
    unsafe = DagBag(dags, safe_mode=False)
    assert sorted(unsafe.dag_ids) == ["hidden", "visible"]


def test_dag_discovery_safe_mode_option(dags: Path) -> None:
    write(dags, "hidden.py", HIDDEN)
    with conf_vars({("core", "dag_discovery_safe_mode"): False}):
        assert DagBag(dags).dag_ids == ["hidden"]


# -- ignore files -------------------------------------------------------------------------------


@pytest.fixture()
def tree(dags: Path) -> Path:
    for name in ["keep.py", "skip_me.py", "notes.txt", "sub/keep.py", "sub/skip_me.py",
                 "sub/deep/keep.py", "sub/deep/also_skip.py", "vendor/lib.py", "other/vendor.py",
                 "other/data/x.py"]:
        good(dags, name, Path(name).stem + "_" + str(abs(hash(name)) % 10_000))
    return dags


def test_glob_ignore_patterns_and_subdirectories(tree: Path) -> None:
    write(tree, ".airflowignore", """\
        # comments and blank lines are skipped

        skip_*.py      # no slash: matches the name at any depth
        vendor/        # trailing slash: directories only (other/vendor.py stays)
        other/data     # inner slash: relative to this file's folder
        """)
    write(tree, "sub/.dagcoreignore", "deep/also_*\n")
    listed = rel(list(find_path_from_directory(tree, syntax="glob")), tree)
    assert listed == ["keep.py", "notes.txt", "other/vendor.py", "sub/deep/keep.py",
                      "sub/keep.py"]


def test_glob_negation_and_double_star(tree: Path) -> None:
    write(tree, ".dagcoreignore", """\
        **/keep.py
        !sub/keep.py
        **/deep
        """)
    listed = rel(list_py_file_paths(tree, syntax="glob"), tree)
    assert listed == ["other/data/x.py", "other/vendor.py", "skip_me.py", "sub/keep.py",
                      "sub/skip_me.py", "vendor/lib.py"]


def test_both_ignore_files_apply_and_are_not_listed(tree: Path) -> None:
    write(tree, ".airflowignore", "skip_me.py\n")
    write(tree, ".dagcoreignore", "vendor\n")
    listed = rel(list(find_path_from_directory(tree, syntax="glob")), tree)
    assert ".airflowignore" not in listed and ".dagcoreignore" not in listed
    assert not any("skip_me" in p for p in listed)
    assert "vendor/lib.py" not in listed and "other/vendor.py" in listed  # names, not substrings


def test_regexp_ignore_patterns_match_the_path_relative_to_the_dag_folder(tree: Path) -> None:
    write(tree, ".airflowignore", "skip_me\n^other/\n")
    write(tree, "sub/.dagcoreignore", r"deep/also_.*\.py$" + "\n[unclosed\n")
    with conf_vars({("core", "dag_ignore_file_syntax"): "regexp"}):
        bag = DagBag(tree)
        listed = rel(list_py_file_paths(tree), tree)
    assert listed == ["keep.py", "sub/deep/keep.py", "sub/keep.py", "vendor/lib.py"]
    assert sorted(Path(d.fileloc).relative_to(tree).as_posix() for d in bag.dags.values()) == listed


def test_ignored_files_are_not_parsed(tree: Path) -> None:
    write(tree, "broken.py", "from dagcore import DAG\nraise RuntimeError('never imported')\n")
    write(tree, ".dagcoreignore", "broken.py\n")
    bag = DagBag(tree)
    assert bag.import_errors == {} and len(bag.dags) == 9


def test_unknown_ignore_syntax_is_refused(dags: Path) -> None:
    with conf_vars({("core", "dag_ignore_file_syntax"): "fnmatch"}), \
            pytest.raises(ValueError, match="dag_ignore_file_syntax must be 'glob' or "
                                            "'regexp', got 'fnmatch'"):
        DagBag(dags)


def test_symlink_loop_is_refused(dags: Path) -> None:
    good(dags, "sub/one.py", "one")
    (dags / "sub" / "loop").symlink_to(dags / "sub", target_is_directory=True)
    with pytest.raises(RuntimeError, match="recursive loop"):
        list(find_path_from_directory(dags, syntax="glob"))


# -- zip files ----------------------------------------------------------------------------------


def test_zip_file_imports_top_level_members_only(dags: Path) -> None:
    with zipfile.ZipFile(dags / "packaged.zip", "w") as archive:
        archive.writestr("zipped_top_dag.py", GOOD.format(dag_id="zipped_top"))
        archive.writestr("nested/zipped_nested_dag.py", GOOD.format(dag_id="zipped_nested"))
        archive.writestr("zipped_broken_dag.py", "from dagcore import DAG\nraise OSError('z')\n")
    bag = DagBag(dags)
    assert bag.dag_ids == ["zipped_top"]
    assert bag.get_dag("zipped_top").fileloc == str(dags / "packaged.zip")
    assert "OSError: z" in bag.import_errors["packaged.zip"]
    assert str(dags / "packaged.zip") not in sys.path


# -- examples -----------------------------------------------------------------------------------


def test_include_examples_loads_the_example_dags_cleanly(dags: Path) -> None:
    bag = DagBag(dags, include_examples=True)
    assert bag.import_errors == {}
    assert {"dagcore_etl", "dagcore_greeting", "airflow_tutorial", "airflow_taskflow_tutorial",
            "airflow_trigger_controller", "airflow_trigger_target"} <= set(bag.dag_ids)
    assert all(Path(d.fileloc).parent == EXAMPLE_DAGS_FOLDER for d in bag.dags.values())
