"""The layer rule: a module of ``dagcore`` imports only modules of its own layer and those below.

Layers, bottom up (DESIGN.md "Layers", README "Layout"): base, engines, authoring, storage,
operations, runtime, interfaces. Every ``.py`` file of the package is parsed with :mod:`ast` and
every import in it counts: module level, inside functions (lazy imports), under
``if TYPE_CHECKING:``, relative imports, and ``importlib.import_module("dagcore....")`` with a
literal name. An import that goes up a layer fails the test with ``file:line`` and both layers,
unless its line (or the comment lines right above it) carries a marker::

    # layer-exception: <why this import has to go up>

Markers are few and listed in :data:`EXCEPTIONS`; a marker without a reason, a marker on an
import that does not go up, and an upward import marked but not listed there all fail.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[3] / "python" / "dagcore"

LAYERS = ("base", "engines", "authoring", "storage", "operations", "runtime", "interfaces")
RANK = {name: rank for rank, name in enumerate(LAYERS)}

# Module -> layer. "pkg.*" covers the package and every module below it; an exact name wins over
# a package entry. A new module outside these packages must be added here.
LAYER_OF = {
    # base: no dagcore imports but base (the stdlib and the compiled core)
    "dagcore._core": "base",
    "dagcore._native": "base",
    "dagcore.configuration": "base",
    "dagcore.exceptions": "base",
    "dagcore.state": "base",
    "dagcore.trigger_rule": "base",
    "dagcore.utils.*": "base",
    # engines: the C++ wrappers, pure functions of their inputs (no database, no DAG objects)
    "dagcore.cache": "engines",
    "dagcore.cron": "engines",
    "dagcore.timetables": "engines",
    "dagcore.run_state": "engines",
    "dagcore.backfill": "engines",  # planning; the DB side is dagcore.api.backfills
    "dagcore.asset_conditions": "engines",  # bulk evaluation of asset schedules
    # authoring: what DAG files use
    "dagcore": "authoring",  # the package itself re-exports DAG, dag, task, Param
    "dagcore.dag": "authoring",
    "dagcore.operators.*": "authoring",
    "dagcore.decorators": "authoring",
    "dagcore.mapping": "authoring",
    "dagcore.task_group": "authoring",  # TaskGroup, @task_group
    "dagcore.setup_teardown": "authoring",  # @setup, @teardown, with setup >> teardown:
    "dagcore.params": "authoring",
    "dagcore.templating": "authoring",
    "dagcore.xcom": "authoring",  # the XCom interface; the DB backend is dagcore.models.xcom
    "dagcore.utils.helpers": "authoring",  # chain(): links tasks, at Airflow's path
    "dagcore.utils.edgemodifier": "authoring",  # Label: links tasks, at Airflow's path
    "dagcore.compat.*": "authoring",  # lets Airflow DAG files import dagcore's authoring API
    "dagcore.context": "authoring",  # get_current_context(): the running task's context
    "dagcore.assets": "authoring",  # Asset, AssetAlias, conditions, @asset, outlet_events
    "dagcore.variables": "authoring",  # Variable, read from DAGCORE_VAR_*/AIRFLOW_VAR_*
    "dagcore.connections": "authoring",  # Connection, BaseHook, from DAGCORE_CONN_*/AIRFLOW_CONN_*
    "dagcore.sensors.*": "authoring",  # BaseSensorOperator and the standard sensors
    # storage: files and the metadata database
    "dagcore.db.*": "storage",
    "dagcore.models.*": "storage",
    "dagcore.migrations.*": "storage",
    "dagcore.serialization": "storage",
    "dagcore.serialization_registry": "storage",
    "dagcore.dagbag": "storage",
    "dagcore.dag_loading": "storage",
    "dagcore.dag_code_store": "storage",  # a DAG version's code (docs/airflow-behaviour.md 1.8)
    "dagcore.db_dagbag": "storage",
    "dagcore.dag_processing": "storage",
    "dagcore.asset_store": "storage",  # asset references, events, the queue (docs 12)
    "dagcore.dag_parsing": "storage",  # the DAG processor's parsing child processes
    # operations: the Python API over the database (CLI, REST and operators call it)
    "dagcore.api.*": "operations",
    "dagcore.api.assets": "operations",  # assets for REST and CLI (docs/airflow-rest-api.md B.4)
    "dagcore.api.asset_graph": "operations",  # the asset graph and a DAG's assets (UI)
    # runtime: processes that run DAGs
    "dagcore.jobs.*": "runtime",
    "dagcore.executors.*": "runtime",
    "dagcore.executors.celery": "runtime",  # the CeleryExecutor (imports Celery lazily)
    "dagcore.executors.celery_app": "runtime",  # its Celery app and worker tasks
    "dagcore.task_runner": "runtime",
    "dagcore.testing": "runtime",  # DAG.test: a scheduler and an executor in-process
    # interfaces
    "dagcore.__main__": "interfaces",
    "dagcore.cli": "interfaces",
    "dagcore.cli.*": "interfaces",
    "dagcore.cli.celery": "interfaces",  # dagcore celery worker / stop
    "dagcore.server.*": "interfaces",
}

# The upward imports allowed, each with a marker at its line: (file, imported module).
EXCEPTIONS = {
    # DAG.test() runs the DAG in-process with a scheduler and an executor; Airflow's does too, with
    # lazy imports of the run, executor and scheduler modules (airflow/sdk/definitions/dag.py
    # DAG.test, airflow/models/dag.py in Airflow 2).
    ("dag.py", "dagcore.testing"),
    # dagcore.backfill.create_backfill and the other DB names are public API, served lazily.
    ("backfill.py", "dagcore.api.backfills"),
    # AssetOrTimeSchedule names its inner timetable by its stable class name, as a DAG's is named;
    # Airflow's serialize imports serialized_objects lazily too (airflow/timetables/assets.py).
    ("assets.py", "dagcore.serialization_registry"),
}

MARKER = re.compile(r"#\s*layer-exception\b:?(.*)$")


@dataclass(frozen=True, slots=True)
class Import:
    file: str  # relative to python/dagcore
    line: int
    importer: str
    imported: str
    marker: str | None  # the marker's reason ("" if the marker has none), None if unmarked


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _all_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


MODULES = _all_modules()
KNOWN = set(MODULES) | {"dagcore._core"}  # the compiled core has no .py


def layer_of(module: str) -> str | None:
    """The layer of ``module`` by :data:`LAYER_OF` (exact name first, then the nearest package
    entry), or None if it is not mapped."""
    if module in LAYER_OF:
        return LAYER_OF[module]
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        layer = LAYER_OF.get(".".join(parts[:end]) + ".*")
        if layer is not None:
            return layer
    return None


def _marker(lines: list[str], first: int, last: int) -> str | None:
    """The reason of a marker on lines ``first..last`` (1-based) or in the comment lines right
    above ``first``; None if there is none."""
    candidates = list(range(first, last + 1))
    above = first - 1
    while above >= 1 and lines[above - 1].lstrip().startswith("#"):
        candidates.append(above)
        above -= 1
    for number in candidates:
        match = MARKER.search(lines[number - 1])
        if match:
            return match.group(1).strip()
    return None


def _targets(node: ast.AST, package: list[str]) -> Iterator[str]:
    """The dagcore modules an import node imports (``from m import x`` imports ``m.x`` when
    that is a module, else ``m``)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = package[:len(package) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        for alias in node.names:
            sub = f"{module}.{alias.name}"
            yield sub if sub in KNOWN else module
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
          and node.func.attr == "import_module" and isinstance(node.func.value, ast.Name)
          and node.func.value.id == "importlib" and node.args
          and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        yield node.args[0].value


def _imports(source: str, module: str, file: str) -> Iterator[Import]:
    """The dagcore imports in ``source``, the text of ``file`` (module ``module``)."""
    lines = source.splitlines()
    is_package = file == "__init__.py" or file.endswith("/__init__.py")
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source, filename=file)):
        for target in _targets(node, package):
            if target == "dagcore" or target.startswith("dagcore."):
                first = node.lineno
                last = node.end_lineno or first
                yield Import(file=file, line=first, importer=module, imported=target,
                             marker=_marker(lines, first, last))


ALL_IMPORTS = sorted({i for m, p in MODULES.items()
                      for i in _imports(p.read_text(encoding="utf-8"), m,
                                        p.relative_to(PACKAGE_DIR).as_posix())},
                     key=lambda i: (i.file, i.line, i.imported))


def _goes_up(i: Import) -> bool:
    return RANK[layer_of(i.importer) or "base"] < RANK[layer_of(i.imported) or "base"]


def _describe(i: Import) -> str:
    return (f"{i.file}:{i.line}: {i.importer} ({layer_of(i.importer)}) imports {i.imported} "
            f"({layer_of(i.imported)})")


# -- the table -----------------------------------------------------------------------------------


def test_every_module_is_mapped_to_a_layer() -> None:
    unmapped = sorted(m for m in KNOWN if layer_of(m) is None)
    assert not unmapped, (f"modules without a layer: {unmapped}; add each to LAYER_OF in "
                          f"{Path(__file__).name} (and to README 'Layout')")


def test_every_imported_dagcore_module_is_mapped() -> None:
    unmapped = [_describe(i) for i in ALL_IMPORTS if layer_of(i.imported) is None]
    assert not unmapped, "imports of modules without a layer:\n" + "\n".join(unmapped)


def test_the_table_names_only_known_layers() -> None:
    assert set(LAYER_OF.values()) <= set(LAYERS)


# -- the rule ------------------------------------------------------------------------------------


def test_no_import_goes_up_a_layer() -> None:
    bad = [_describe(i) for i in ALL_IMPORTS
           if _goes_up(i) and i.marker is None]
    assert not bad, ("imports that go up a layer (import from your layer or below; if it must go "
                     "up, mark the line '# layer-exception: <reason>' and list it in "
                     "EXCEPTIONS):\n" + "\n".join(bad))


def test_layer_exceptions_give_a_reason_and_are_listed() -> None:
    marked = [i for i in ALL_IMPORTS if i.marker is not None]
    no_reason = [_describe(i) for i in marked if len((i.marker or "").split()) < 3]
    assert not no_reason, "layer-exception markers without a reason:\n" + "\n".join(no_reason)
    not_up = [_describe(i) for i in marked if not _goes_up(i)]
    assert not not_up, ("layer-exception markers on imports that do not go up a layer (remove "
                        "them):\n" + "\n".join(not_up))
    assert {(i.file, i.imported) for i in marked} == EXCEPTIONS


def test_compat_aliases_serve_only_the_authoring_api_and_below() -> None:
    """``dagcore.compat.airflow`` imports its alias targets by name at run time, which the
    import scan cannot see; its table must not reach above authoring either."""
    from dagcore.compat.airflow import ALIASES

    sources = {source for entries in ALIASES.values() for source, _ in entries}
    above = sorted(s for s in sources if RANK[layer_of(s) or "interfaces"] > RANK["authoring"])
    assert not above, f"dagcore.compat.airflow aliases modules above authoring: {above}"


# -- the checker itself ---------------------------------------------------------------------------


def _scan(source: str, file: str = "xcom.py") -> list[Import]:
    """The imports of ``source`` as if it were ``file`` of the package."""
    return list(_imports(source, _module_name(PACKAGE_DIR / file), file))


@pytest.mark.parametrize("source, expected", [
    ("import dagcore.db\n", "dagcore.db"),
    ("from dagcore.models import tables\n", "dagcore.models.tables"),
    ("from dagcore.db import transaction\n", "dagcore.db"),
    ("def f():\n    from dagcore.task_runner import load_dag\n", "dagcore.task_runner"),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from dagcore.jobs import job\n",
     "dagcore.jobs.job"),
    ("from . import dag\n", "dagcore.dag"),
    ("from .api import common\n", "dagcore.api.common"),
    ("import importlib\nimportlib.import_module('dagcore.cli')\n", "dagcore.cli"),
])
def test_the_scan_sees_every_kind_of_import(source: str, expected: str) -> None:
    found = _scan(source)
    assert [i.imported for i in found] == [expected]


def test_the_scan_reports_an_upward_import_with_file_line_and_layers() -> None:
    (found,) = _scan('"""doc."""\n\ndef f():\n    import dagcore.db\n')
    assert _goes_up(found)
    assert _describe(found) == ("xcom.py:4: dagcore.xcom (authoring) imports dagcore.db "
                                "(storage)")


@pytest.mark.parametrize("source, reason", [
    ("import dagcore.db  # layer-exception: the reason is given here\n",
     "the reason is given here"),
    ("# layer-exception: the reason is given above\nimport dagcore.db\n",
     "the reason is given above"),
    ("# layer-exception: a reason that takes\n# two lines\nimport dagcore.db\n",
     "a reason that takes"),
    ("# layer-exception: not right above\n\nimport dagcore.db\n", None),
    ("from dagcore.db import (  # layer-exception: on a long import\n    transaction,\n)\n",
     "on a long import"),
    ("import dagcore.db  # layer-exception:\n", ""),
    ("import dagcore.db\n", None),
])
def test_markers_are_read_at_the_import(source: str, reason: str | None) -> None:
    (found,) = _scan(source)
    assert found.marker == reason


def test_a_new_module_without_a_layer_is_unmapped() -> None:
    assert layer_of("dagcore.brand_new") is None
    assert layer_of("dagcore.api.brand_new") == "operations"
    assert layer_of("dagcore.utils.helpers") == "authoring"
