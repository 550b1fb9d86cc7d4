"""DagContext's auto-registration (Airflow's ``autoregistered_dags``), as the DagBag uses it."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dagcore import DAG, dag
from dagcore.dag import DagContext
from dagcore.dagbag import DagBag


@pytest.fixture(autouse=True)
def _clean_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DAGCORE_HOME", str(tmp_path / "home"))
    DagContext.current_autoregister_module_name = None
    DagContext.autoregistered_dags.clear()
    yield
    DagContext.current_autoregister_module_name = None
    DagContext.autoregistered_dags.clear()


def test_nothing_is_registered_without_a_module_name() -> None:
    with DAG("plain"):
        pass
    assert DagContext.autoregistered_dags == set()


def test_with_blocks_and_dag_functions_register_under_the_module_name() -> None:
    DagContext.current_autoregister_module_name = "my_dag_file"
    with DAG("from_with") as from_with:
        pass

    @dag(start_date=datetime(2024, 1, 1, tzinfo=UTC))
    def from_decorator() -> None:
        pass

    built = from_decorator()
    assert DagContext.autoregistered_dags == {(from_with, "my_dag_file"),
                                              (built, "my_dag_file")}


def test_registration_is_per_thread() -> None:
    DagContext.current_autoregister_module_name = "main_thread_module"
    seen: list[object] = []

    def other() -> None:
        seen.append(DagContext.current_autoregister_module_name)
        with DAG("in_other_thread"):
            pass
        seen.append(set(DagContext.autoregistered_dags))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen == [None, set()]
    assert DagContext.autoregistered_dags == set()


def test_dagbag_takes_its_entries_even_when_the_import_fails(tmp_path: Path) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "half.py").write_text(textwrap.dedent("""\
        from dagcore import DAG
        with DAG("made_before_the_failure"):
            pass
        raise RuntimeError("boom")
        """))
    DagContext.current_autoregister_module_name = "outer"
    bag = DagBag(folder)
    assert bag.dag_ids == [] and list(bag.import_errors) == ["half.py"]
    assert DagContext.autoregistered_dags == set()
    assert DagContext.current_autoregister_module_name == "outer"  # restored


def test_exceptions_are_importable_from_both_modules() -> None:
    from dagcore import dagbag, exceptions

    assert dagbag.DagDuplicatedIdError is exceptions.DagDuplicatedIdError
    assert dagbag.DagImportTimeout is exceptions.DagImportTimeout
