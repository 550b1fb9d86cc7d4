"""DagBag.warnings: a file that looks like a DAG file, catches its failed imports and so defines no
DAG is reported (issue 14). Airflow's DagBag stays silent about such a file: it imports without
error and simply contributes no DAG (airflow/models/dagbag.py ``_load_modules_from_file`` /
``_process_modules``: only raised exceptions become import errors). dagcore says what it skipped,
as a warning, never as an import error."""

from __future__ import annotations

import builtins
import os
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagcore.dag_parsing import ParsedFolder, parse_file
from dagcore.dagbag import DagBag

MISSING_PROVIDER = """\
try:
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
except ImportError:
    KubernetesPodOperator = None

if KubernetesPodOperator is not None:
    from airflow import DAG

    with DAG("k8s_example", schedule=None):
        KubernetesPodOperator(task_id="pod")
"""

MISSING_NAME = """\
from airflow import DAG
try:
    from airflow.sdk import NoSuchFeature
except ImportError:
    NoSuchFeature = None
if NoSuchFeature:
    with DAG("never", schedule=None):
        pass
"""

GOOD_WITH_FALLBACK = """\
from datetime import UTC, datetime
try:
    import no_such_fast_json as json
except ImportError:
    import json
from airflow import DAG
from airflow.operators.empty import EmptyOperator

with DAG("fine", start_date=datetime(2024, 1, 1, tzinfo=UTC), schedule=None):
    EmptyOperator(task_id="a")
"""


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "home"))
    for var in [v for v in os.environ if v.startswith("DAGCORE__")]:
        monkeypatch.delenv(var)
    yield


@pytest.fixture()
def dags(tmp_path: Path) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    return folder


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def bag_of(folder: Path) -> DagBag:
    return DagBag(folder, include_examples=False)


def test_caught_missing_module_is_a_warning_naming_file_and_module(dags: Path) -> None:
    write(dags, "k8s.py", MISSING_PROVIDER)
    bag = bag_of(dags)
    # As Airflow: no DAG and no import error for the file.
    assert bag.dag_ids == []
    assert bag.import_errors == {}
    assert list(bag.warnings) == ["k8s.py"]
    message = bag.warnings["k8s.py"]
    assert message.startswith("k8s.py defines no DAG")
    assert "No module named 'airflow.providers.cncf'" in message


def test_caught_missing_name_is_named(dags: Path) -> None:
    write(dags, "sdk.py", MISSING_NAME)
    bag = bag_of(dags)
    assert bag.import_errors == {}
    assert "cannot import name 'NoSuchFeature' from 'airflow.sdk'" in bag.warnings["sdk.py"]


def test_no_warning_when_the_file_defines_a_dag(dags: Path) -> None:
    write(dags, "fine.py", GOOD_WITH_FALLBACK)
    bag = bag_of(dags)
    assert bag.dag_ids == ["fine"]
    assert bag.warnings == {}


def test_no_warning_for_a_file_that_does_not_look_like_a_dag_file(dags: Path) -> None:
    # A helper module (no "dag" in its text) is not a DAG file: safe mode would not even list
    # it; parsed on purpose (safe mode off) it still gets no warning.
    write(dags, "helper.py", "try:\n    import no_such_lib\nexcept ImportError:\n    pass\n")
    bag = DagBag(dags, include_examples=False, safe_mode=False)
    assert bag.warnings == {}


def test_uncaught_import_failure_stays_an_import_error_without_warning(dags: Path) -> None:
    write(dags, "broken.py", "from airflow import DAG\nimport no_such_module_at_all\n")
    bag = bag_of(dags)
    assert "No module named 'no_such_module_at_all'" in bag.import_errors["broken.py"]
    assert bag.warnings == {}


def test_import_error_tracebacks_do_not_show_the_watching_wrapper(dags: Path) -> None:
    # The recorded import error reads as without the watch: the file's line, then the error.
    write(dags, "broken.py", "from airflow import DAG\nfrom airflow.no_such_thing import X\n")
    write(dags, "nested.py", "from airflow import DAG\nimport helper_that_breaks\n")
    write(dags, "helper_that_breaks.py", "import no_such_module_deeper\n")
    bag = bag_of(dags)
    for name in ("broken.py", "nested.py"):
        assert "_watching_import" not in bag.import_errors[name]
        assert "dagbag.py" not in bag.import_errors[name]
    assert 'broken.py", line 2' in bag.import_errors["broken.py"]
    assert "No module named 'no_such_module_deeper'" in bag.import_errors["nested.py"]


def test_imports_of_other_modules_are_not_blamed_on_the_file(dags: Path) -> None:
    # A module the file imports may catch its own ImportErrors (an optional speed-up): that is
    # not the DAG file skipping a feature.
    write(dags, "quiet_helper.py", "try:\n    import no_such_accelerator\nexcept ImportError:\n"
                                   "    pass\nVALUE = 1\n")
    write(dags, "uses_helper.py", "import quiet_helper\n# a dag file that defines no DAG yet\n"
                                  "from airflow import DAG\n")
    bag = bag_of(dags)
    assert bag.warnings == {}


def test_fixing_the_file_clears_its_warning_and_import_is_restored(dags: Path) -> None:
    path = write(dags, "k8s.py", MISSING_PROVIDER)
    before = builtins.__import__
    bag = bag_of(dags)
    assert "k8s.py" in bag.warnings
    assert builtins.__import__ is before
    path.write_text(GOOD_WITH_FALLBACK)
    os.utime(path, ns=(1, 1))
    bag.process_file(path, only_if_updated=False)
    assert bag.dag_ids == ["fine"]
    assert bag.warnings == {}


def test_parsing_in_threads_records_each_file_once(dags: Path) -> None:
    paths = [write(dags, f"k8s_{i}.py", MISSING_PROVIDER) for i in range(4)]
    results: dict[int, dict[str, str]] = {}

    def parse(i: int) -> None:
        bag = DagBag(dags, include_examples=False, collect_dags=False)
        bag.process_file(paths[i], only_if_updated=False)
        results[i] = dict(bag.warnings)

    before = builtins.__import__
    threads = [threading.Thread(target=parse, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builtins.__import__ is before
    for i in range(4):
        assert list(results[i]) == [f"k8s_{i}.py"]
        assert results[i][f"k8s_{i}.py"].count("airflow.providers.cncf") == 1


def test_warnings_travel_through_parse_file_and_folder_merge(dags: Path) -> None:
    path = write(dags, "k8s.py", MISSING_PROVIDER)
    parsed = parse_file(str(path), str(dags), safe_mode=True)
    assert parsed.import_errors == {}
    assert list(parsed.warnings) == ["k8s.py"]
    folder = ParsedFolder.merge([parsed])
    assert list(folder.warnings) == ["k8s.py"]
