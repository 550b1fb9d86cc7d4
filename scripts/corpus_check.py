#!/usr/bin/env python3
"""How many real Airflow DAG files dagcore loads and runs (issue 14, "How it is measured").

Given folders of DAG files written for Airflow (e.g. Airflow's own example DAGs, kept outside
this repository), this script, for each ``.py`` file of each folder (not its subfolders, which
hold helpers):

1. loads it as dagcore loads a DAG folder (``DagBag`` with the Airflow compat aliases, safe mode
   as configured), in a child process with a time limit, and classifies it:

   * ``loaded``: it defines at least one DAG;
   * ``external``: it failed to import (or caught the failure and defined no DAG) because a
     module of an external system is missing: ``airflow.providers.*`` other than the standard
     provider, Kubernetes, cloud SDKs, Docker, databases, ...;
   * ``import_error``: it failed to import for another reason (the missing module or name, or
     the exception's last line);
   * ``no_dag``: it imported but defines no DAG (with dagcore's skipped-imports warning if it
     caught failed imports);
   * ``not_a_dag_file``: safe mode skipped it (no ``dag`` and ``airflow``/``dagcore`` in it);
   * ``needs_assets``: it did not load and uses data-aware scheduling (``airflow.datasets``,
     ``airflow.sdk.Asset``...) for a feature dagcore does not have yet (asset watchers'
     triggers): left out of the load rate, and counted on its own line;

2. runs ``dagcore dags test DAG_ID -S FOLDER`` for every DAG loaded, in a child process with a
   time limit, a fresh temporary ``DAGCORE_HOME`` (its own SQLite database), and records pass
   or fail, the failed tasks and the first error line.

It prints a table and a summary with the issue's two figures: the share of the files needing
no external system that load (target >= 85%) and the share of the loaded DAGs that pass
``dags test`` (target >= 95%). ``--json PATH`` writes every detail.

Only the standard library and dagcore (in the child processes, from the same interpreter and
``PYTHONPATH``) are used. Usage::

    PYTHONPATH=python python scripts/corpus_check.py /work/corpus/af2 /work/corpus/af3 \\
        --json /tmp/corpus.json
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LOAD_TIMEOUT = 60.0
TEST_TIMEOUT = 120.0

# Top-level modules (or prefixes) whose absence means the file needs an external system or its
# client library: clusters, clouds, containers, databases, message brokers, remote services.
EXTERNAL_MODULES = (
    "kubernetes", "google", "googleapiclient", "boto3", "botocore", "aiobotocore", "azure",
    "docker", "pyspark", "snowflake", "psycopg2", "psycopg", "pymysql", "MySQLdb",
    "pymssql", "oracledb", "cx_Oracle", "redis", "kafka", "confluent_kafka", "openai",
    "paramiko", "pysftp", "hvac", "elasticsearch", "pymongo", "slack_sdk", "celery",
    "databricks", "dbt", "great_expectations", "sqlalchemy_bigquery", "trino", "presto",
    "hdfs", "pyhive", "airflow.providers.",
)
# Providers dagcore serves itself (Airflow 3's standard provider), so their absence is a gap.
DAGCORE_PROVIDERS = ("airflow.providers.standard", "airflow.providers.common.compat")

NO_MODULE = re.compile(r"No module named '([^']+)'")
NO_NAME = re.compile(r"cannot import name '([^']+)' from '([^']+)'")


# -- classification --------------------------------------------------------------------------


def is_external(module: str) -> bool:
    """True when ``module`` belongs to an external system (see :data:`EXTERNAL_MODULES`)."""
    if module.startswith(DAGCORE_PROVIDERS) or any(
            provider.startswith(module + ".") for provider in DAGCORE_PROVIDERS):
        return False  # a dagcore provider, or a parent package of one
    for prefix in EXTERNAL_MODULES:
        if prefix.endswith("."):
            if module.startswith(prefix):
                return True
        elif module == prefix or module.startswith(prefix + "."):
            return True
    return False


def missing_of(message: str) -> tuple[str | None, str]:
    """The missing module in ``message`` (None if it names none) and a one-line reason:
    ``No module named 'm'`` -> ``m``, ``cannot import name 'n' from 'm'`` -> ``m.n``, else the
    message's last line."""
    found = NO_NAME.search(message)
    if found:
        return found.group(2), f"{found.group(2)}.{found.group(1)}"
    found = NO_MODULE.search(message)
    if found:
        return found.group(1), found.group(1)
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return None, lines[-1] if lines else "(no message)"


@dataclass
class FileResult:
    """One file's load: its class, the DAG ids and the reason it did not load."""

    path: str
    status: str  # loaded, external, import_error, no_dag, not_a_dag_file, needs_assets
    dag_ids: list[str] = field(default_factory=list)
    reason: str = ""
    missing_module: str | None = None
    warning: str | None = None
    unresolved: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class DagResult:
    """One ``dags test`` run of a loaded DAG."""

    path: str
    dag_id: str
    passed: bool
    run_state: str = ""
    failed_tasks: list[str] = field(default_factory=list)
    first_error: str = ""
    seconds: float = 0.0


def static_imports(path: str) -> list[str]:
    """The modules ``path``'s import statements name (anywhere in the file, also inside
    ``try``), without importing it; [] if it does not parse."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _runtime_nodes(tree: ast.AST) -> Iterable[ast.AST]:
    """Every node of ``tree`` but the bodies of ``if TYPE_CHECKING:`` (never run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(reversed(node.orelse))
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def airflow_imports(path: str) -> list[tuple[str, str | None]]:
    """The ``(module, name)`` pairs of ``path``'s ``airflow`` imports (``name`` None for
    ``import module``), in file order, without duplicates; not those under
    ``if TYPE_CHECKING:``."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return []
    pairs: dict[tuple[str, str | None], None] = {}
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "airflow":
                    pairs[(alias.name, None)] = None
        elif (isinstance(node, ast.ImportFrom) and node.module and not node.level
              and node.module.split(".")[0] == "airflow"):
            for alias in node.names:
                pairs[(node.module, alias.name)] = None
    return list(pairs)


def unresolved_imports(path: str) -> list[str]:
    """Every ``airflow`` import of ``path`` (also the ones after the first failure, and inside
    ``try``) that dagcore's compat aliases do not serve, as ``module`` or ``module.name`` (run
    in the loading child, where dagcore is importable)."""
    import importlib

    from dagcore.compat import airflow as compat

    missing = []
    with compat.enabled():
        for module_name, name in airflow_imports(path):
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                missing.append(module_name)
                continue
            except Exception as exc:  # noqa: BLE001 - an alias module that fails to build
                missing.append(f"{module_name} ({type(exc).__name__}: {exc})")
                continue
            if name is not None and name != "*" and not hasattr(module, name):
                try:
                    importlib.import_module(f"{module_name}.{name}")
                except ImportError:
                    missing.append(f"{module_name}.{name}")
    return list(dict.fromkeys(missing))


def _external_import(path: str) -> str | None:
    return next((m for m in static_imports(path) if is_external(m)), None)


ASSET_MODULES = ("airflow.datasets", "airflow.assets", "airflow.timetables.datasets",
                 "airflow.timetables.assets", "airflow.sdk.definitions.asset")
ASSET_NAMES = ("Asset", "AssetAlias", "AssetAll", "AssetAny", "AssetWatcher", "asset",
               "Dataset", "DatasetAlias", "Metadata")


def _needs_assets(path: str, result: FileResult) -> bool:
    """Whether the file's failure is about assets (datasets): an asset module or name among
    what it misses, or imported anywhere in it."""
    def is_asset(name: str) -> bool:
        module, _, attr = name.rpartition(".")
        return name.startswith(ASSET_MODULES) or (module.startswith("airflow")
                                                  and attr in ASSET_NAMES)

    missing = [result.missing_module or "", *result.unresolved]
    return any(is_asset(m) for m in missing if m) \
        or any(m.startswith(ASSET_MODULES) for m in static_imports(path))


def classify(path: str, loaded: dict[str, Any]) -> FileResult:
    """A :class:`FileResult` from the child's answer (see :func:`load_one`).

    A file that did not load and imports an external system's module anywhere (e.g. after an
    earlier import failed first, or inside ``try``) counts as ``external``; its reason keeps
    the first failure."""
    result = _classify(path, loaded)
    result.unresolved = list(loaded.get("unresolved", []))
    if result.status in ("import_error", "no_dag") and _needs_assets(path, result):
        result.status = "needs_assets"
        return result
    if result.status in ("import_error", "no_dag"):
        module = _external_import(path)
        if module is not None:
            result.status = "external"
            result.reason = f"imports {module}; first failure: {result.reason}"
    return result


def _classify(path: str, loaded: dict[str, Any]) -> FileResult:
    result = FileResult(path=path, status="loaded", dag_ids=list(loaded.get("dag_ids", [])),
                        warning=loaded.get("warning"), seconds=loaded.get("seconds", 0.0))
    if loaded.get("skipped"):
        result.status = "not_a_dag_file"
        result.reason = "skipped by safe mode (no 'dag' and 'airflow'/'dagcore' in the text)"
        return result
    error = loaded.get("import_error")
    if error:
        module, reason = missing_of(error)
        result.missing_module, result.reason = module, reason
        result.status = "external" if module and is_external(module) else "import_error"
        return result
    if result.dag_ids:
        return result
    result.status = "no_dag"
    if result.warning:
        module, reason = missing_of(result.warning.split(": ", 1)[-1])
        result.missing_module, result.reason = module, f"caught: {reason}"
        if module and is_external(module):
            result.status = "external"
    else:
        result.reason = "imports without error but defines no DAG"
    return result


# -- children ----------------------------------------------------------------------------------


def load_one(path: str) -> dict[str, Any]:
    """Load ``path`` as the DAG folder loader does (run in a child: ``--load-one``)."""
    from dagcore.dagbag import DagBag, might_contain_dag

    started = time.perf_counter()
    folder = os.path.dirname(os.path.abspath(path))
    bag = DagBag(folder, include_examples=False, collect_dags=False)
    if not might_contain_dag(path, bag.safe_mode):
        return {"skipped": True}
    found = bag.process_file(path, only_if_updated=False, safe_mode=bag.safe_mode)
    return {"dag_ids": sorted(d.dag_id for d in found),
            "import_error": "\n".join(bag.import_errors.values()) or None,
            "warning": "\n".join(bag.warnings.values()) or None,
            "unresolved": unresolved_imports(path),
            "seconds": round(time.perf_counter() - started, 3)}


def _run(argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None,
         cwd: str | None = None) -> tuple[int | None, str, str]:
    """Run ``argv`` in its own process group; (exit code or None on timeout, stdout,
    stderr). On timeout the whole group is killed (a task may have started processes)."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, text=True, env=env, cwd=cwd,
                          start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            return None, out, err
        return proc.returncode, out, err


def _child_env(home: str, folder: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGCORE__")}
    env["DAGCORE_HOME"] = home
    env["DAGCORE__CORE__DAGS_FOLDER"] = folder
    env["DAGCORE__CORE__LOAD_EXAMPLES"] = "False"
    return env


def load_file(path: str, timeout: float) -> FileResult:
    """:func:`load_one` in a child with a time limit and a temporary home."""
    started = time.perf_counter()
    folder = os.path.dirname(os.path.abspath(path))
    with tempfile.TemporaryDirectory(prefix="corpus-home-") as home:
        code, out, err = _run([sys.executable, os.path.abspath(__file__), "--load-one", path],
                              timeout=timeout, env=_child_env(home, folder), cwd=home)
    elapsed = round(time.perf_counter() - started, 3)
    if code is None:
        return FileResult(path=path, status="import_error", seconds=elapsed,
                          reason=f"loading took longer than {timeout:g}s")
    answer = out.strip().splitlines()[-1] if out.strip() else ""
    try:
        loaded = json.loads(answer)
    except json.JSONDecodeError:
        _, reason = missing_of(err)
        return FileResult(path=path, status="import_error", seconds=elapsed,
                          reason=f"loader crashed (exit {code}): {reason}")
    return classify(path, loaded)


ERROR_LINE = re.compile(r"^(?:[\w.]+(?:Error|Exception|Exit|Interrupt)\b.*|dagcore: error: .*)$")


def first_error_line(stderr: str) -> str:
    """The first line of ``stderr`` that states an exception (``XxxError: ...``) or a CLI error;
    else its last non-blank line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if ERROR_LINE.match(line):
            return line[:300]
    return lines[-1][:300] if lines else ""


def test_dag(path: str, dag_id: str, timeout: float) -> DagResult:
    """``dagcore dags test dag_id -S folder`` in a child with a fresh home (and database)."""
    folder = os.path.dirname(os.path.abspath(path))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="corpus-home-") as home:
        code, out, err = _run([sys.executable, "-m", "dagcore", "dags", "test", dag_id, "-S",
                               folder, "-o", "json"], timeout=timeout,
                              env=_child_env(home, folder), cwd=home)
    result = DagResult(path=path, dag_id=dag_id, passed=code == 0,
                       seconds=round(time.perf_counter() - started, 3))
    if code is None:
        result.first_error = f"dags test took longer than {timeout:g}s"
        return result
    try:
        rows = json.loads(out) if out.strip() else []
    except json.JSONDecodeError:
        rows = []
    result.failed_tasks = sorted(r["task_id"] for r in rows
                                 if r.get("state") in ("failed", "upstream_failed"))
    states = re.findall(r"^Dag run \S+: (\w+)$", err, flags=re.MULTILINE)
    result.run_state = states[-1] if states else ""
    if not result.passed:
        result.first_error = first_error_line(err) or f"exit code {code}"
    return result


# -- report ------------------------------------------------------------------------------------


def dag_files(folders: Iterable[str]) -> list[str]:
    """The ``.py`` files directly in each folder (not ``__init__.py``), sorted."""
    files = []
    for folder in folders:
        base = Path(folder)
        if not base.is_dir():
            raise SystemExit(f"corpus_check: not a folder: {folder}")
        files.extend(str(p) for p in sorted(base.glob("*.py")) if p.name != "__init__.py")
    return files


def percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "n/a"


def summary(files: list[FileResult], dags: list[DagResult]) -> dict[str, Any]:
    """The counts and the issue's two figures."""
    counts = Counter(f.status for f in files)
    candidates = [f for f in files
                  if f.status not in ("external", "not_a_dag_file", "needs_assets")]
    loaded = [f for f in candidates if f.status == "loaded"]
    passed = [d for d in dags if d.passed]
    return {
        "files": len(files), "by_status": dict(sorted(counts.items())),
        "files_needing_no_external_system": len(candidates),
        "files_needing_assets": counts.get("needs_assets", 0),
        "of_those_loaded": len(loaded),
        "load_rate": percent(len(loaded), len(candidates)),
        "dags_loaded": len(dags), "dags_passed": len(passed),
        "pass_rate": percent(len(passed), len(dags)),
    }


def print_report(files: list[FileResult], dags: list[DagResult], stats: dict[str, Any]) -> None:
    width = max((len(os.path.basename(f.path)) for f in files), default=10)
    print(f"{'file':<{width}}  {'status':<14}  dags / reason")
    for f in files:
        what = ", ".join(f.dag_ids) if f.status == "loaded" else f.reason
        print(f"{os.path.basename(f.path):<{width}}  {f.status:<14}  {what}")
    if dags:
        print()
        idw = max(len(d.dag_id) for d in dags)
        print(f"{'dag_id':<{idw}}  result  first error")
        for d in dags:
            failed = f" (failed: {', '.join(d.failed_tasks)})" if d.failed_tasks else ""
            print(f"{d.dag_id:<{idw}}  {'pass' if d.passed else 'FAIL':<6}  "
                  f"{d.first_error}{failed}")
    print()
    print(f"files: {stats['files']} {stats['by_status']}")
    print(f"files left out: {stats['files_needing_assets']} need assets (a later issue), "
          f"{stats['by_status'].get('external', 0)} an external system")
    print(f"files needing no external system that load: {stats['of_those_loaded']}/"
          f"{stats['files_needing_no_external_system']} = {stats['load_rate']} (target >= 85%)")
    print(f"loaded DAGs passing dags test: {stats['dags_passed']}/{stats['dags_loaded']} = "
          f"{stats['pass_rate']} (target >= 95%)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", help="folders of DAG files")
    parser.add_argument("--json", metavar="PATH", help="write the details as JSON")
    parser.add_argument("--load-timeout", type=float, default=LOAD_TIMEOUT,
                        help=f"seconds to load one file (default {LOAD_TIMEOUT:g})")
    parser.add_argument("--test-timeout", type=float, default=TEST_TIMEOUT,
                        help=f"seconds for one dags test (default {TEST_TIMEOUT:g})")
    parser.add_argument("--no-test", action="store_true", help="only load the files")
    parser.add_argument("--load-one", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_one:
        print(json.dumps(load_one(args.load_one)))
        return 0
    if not args.folders:
        parser.error("give at least one folder")
    files = [load_file(path, args.load_timeout) for path in dag_files(args.folders)]
    dags = [] if args.no_test else [test_dag(f.path, dag_id, args.test_timeout)
                                    for f in files if f.status == "loaded"
                                    for dag_id in f.dag_ids]
    stats = summary(files, dags)
    print_report(files, dags, stats)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"summary": stats, "files": [asdict(f) for f in files],
             "dags": [asdict(d) for d in dags]}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
