"""dagcore installs as a user installs it: a wheel, a fresh virtual environment, no network.

One wheel is built per module run with ``pip wheel --no-build-isolation --no-deps .`` from the
repository (setup.py reuses the CMake build directory, $DAGCORE_BUILD_DIR or build/release, so
under ``make test`` the C++ is already built and nothing is recompiled). It is installed with
``pip install --no-index --no-deps`` into a new ``--system-site-packages`` venv of Debian's
Python, whose dependencies come from Debian's packages (scripts/bootstrap.sh), and used from a
directory outside the source tree with no PYTHONPATH, so the source checkout cannot stand in for
the installed package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import dagcore

REPO = Path(__file__).resolve().parents[3]
SYSTEM_PYTHON = "/usr/bin/python3"
# The wheel build may have to compile the C++ when run outside `make test`: generous, 2 cores.
BUILD_TIMEOUT_S = 1800
RUN_TIMEOUT_S = 300

# Distributions that setup.cfg's install_requires must name (the libraries python/dagcore
# imports, and pendulum for Airflow DAG files), in canonical lower-case form.
RUNTIME_REQUIREMENTS = {"sqlalchemy", "alembic", "jinja2", "rich", "python-dateutil", "pendulum",
                        "jsonschema"}

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Installed:
    wheel: Path
    python: Path
    bin: Path
    site_packages: Path
    outside: Path  # a working directory outside the source tree


def _clean_env() -> dict[str, str]:
    """The environment without anything that would put the source tree on sys.path."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["PIP_NO_INDEX"] = "1"  # no network: everything comes from the wheel and Debian
    return env


def _run(cmd: list[str | Path], *, cwd: Path, timeout: float = RUN_TIMEOUT_S,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env or _clean_env(),
                            capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}")
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    if not os.path.exists(SYSTEM_PYTHON):
        pytest.fail(f"{SYSTEM_PYTHON} is missing: the package test needs Debian's Python "
                    f"(scripts/bootstrap.sh)")
    root = tmp_path_factory.mktemp("packaging")
    # setuptools stages the wheel's files in build/lib.* and build/bdist.* and never removes a
    # file from there: a module moved or deleted since the last build would be packed again.
    for staging in [*REPO.glob("build/lib.*"), *REPO.glob("build/bdist.*")]:
        shutil.rmtree(staging)
    wheels = root / "wheels"
    # The interpreter running the tests builds the wheel, as `pip install -e .` did for the
    # build directory: setup.py then finds its CMake configuration unchanged.
    env = _clean_env()
    env.setdefault("DAGCORE_BUILD_DIR", str(REPO / "build" / "release"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
          "-w", wheels, "."], cwd=REPO, timeout=BUILD_TIMEOUT_S, env=env)
    built = sorted(wheels.glob("dagcore-*.whl"))
    assert len(built) == 1, f"expected one dagcore wheel in {wheels}, got {built}"

    env_dir = root / "venv"
    # Debian's venv module bundles pip, so this needs no network either.
    _run([SYSTEM_PYTHON, "-m", "venv", "--system-site-packages", env_dir], cwd=root)
    python = env_dir / "bin" / "python"
    _run([python, "-m", "pip", "install", "--no-index", "--no-deps", built[0]], cwd=root)
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                cwd=root).stdout.strip()
    outside = root / "elsewhere"
    outside.mkdir()
    yield Installed(wheel=built[0], python=python, bin=env_dir / "bin",
                    site_packages=Path(site), outside=outside)
    shutil.rmtree(root, ignore_errors=True)


def test_wheel_holds_the_compiled_core_and_typing_files(installed: Installed) -> None:
    import zipfile

    names = zipfile.ZipFile(installed.wheel).namelist()
    assert any(n.startswith("dagcore/_core.") and n.endswith(".so") for n in names), names
    assert "dagcore/py.typed" in names
    assert "dagcore/_core.pyi" in names
    assert "dagcore/migrations/script.py.mako" in names
    assert not any(n.startswith(("tests/", "cpp/")) for n in names)


def test_console_script_prints_the_version(installed: Installed) -> None:
    out = _run([installed.bin / "dagcore", "version"], cwd=installed.outside).stdout
    assert out.strip() == dagcore.__version__


def test_import_uses_the_installed_package_and_its_compiled_core(installed: Installed) -> None:
    code = ("import dagcore, dagcore._core as core\n"
            "print(dagcore.__file__)\n"
            "print(core.__file__)\n"
            "print(dagcore.__version__)\n"
            # The C++ does real work, not just loads: the next */5 fire after 10:02 UTC.
            "from datetime import datetime, timezone\n"
            "after = datetime(2024, 1, 1, 10, 2, tzinfo=timezone.utc)\n"
            "print(core.CronSchedule('*/5 * * * *', 'UTC').next(after).isoformat())\n")
    lines = _run([installed.python, "-c", code], cwd=installed.outside).stdout.split()
    package_file, core_file, version, next_fire = lines
    assert Path(package_file).is_relative_to(installed.site_packages), package_file
    assert Path(core_file).is_relative_to(installed.site_packages), core_file
    assert not Path(package_file).is_relative_to(REPO)
    assert version == dagcore.__version__
    assert next_fire == "2024-01-01T10:05:00+00:00"


# Run inside the venv: each requirement of the installed dagcore (runtime, and the extras whose
# Debian packages bootstrap installs), with the version installed, or "-" when it is missing.
_REQUIREMENTS_REPORT = """
import importlib.metadata as m
import sys
from packaging.requirements import Requirement
for line in m.requires("dagcore") or []:
    req = Requirement(line)
    extras = [e for e in sys.argv[1:] if req.marker and req.marker.evaluate({"extra": e})]
    if req.marker and not extras:
        print(req.name.lower(), "extra", "?", req, sep="|")
        continue
    try:
        version = m.version(req.name)
    except m.PackageNotFoundError:
        version = "-"
    fits = version != "-" and req.specifier.contains(version, prereleases=True)
    print(req.name.lower(), extras[0] if extras else "runtime", "ok" if fits else version, req,
          sep="|")
"""


def test_declared_requirements_are_met_by_the_debian_packages(installed: Installed) -> None:
    out = _run([installed.python, "-c", _REQUIREMENTS_REPORT, "postgres", "statsd"],
               cwd=installed.outside).stdout
    rows = [line.split("|") for line in out.splitlines()]
    runtime = {name for name, group, _, _ in rows if group == "runtime"}
    assert RUNTIME_REQUIREMENTS <= runtime, (
        f"install_requires lacks {RUNTIME_REQUIREMENTS - runtime}")
    unmet = [f"{req} ({group}): installed {status}" for _, group, status, req in rows
             if group != "extra" and status != "ok"]
    assert unmet == [], unmet
    extras = {req.split("extra ==")[1].strip().strip("'\"") for _, group, _, req in rows
              if group == "extra"}
    assert {"server", "celery"} <= extras, extras

    # pip's own check agrees. Complaints about other distributions (Debian's own packages) are
    # not dagcore's business.
    check = subprocess.run([str(installed.python), "-m", "pip", "check"], cwd=installed.outside,
                           env=_clean_env(), capture_output=True, text=True,
                           timeout=RUN_TIMEOUT_S, check=False)
    about_dagcore = [line for line in check.stdout.splitlines()
                     if line.lower().startswith("dagcore ")]
    assert about_dagcore == [], check.stdout


# --- The web UI's build as package data (setup.py's build_py, setup.cfg, MANIFEST.in) -------------

UI_BUILD = REPO / "python" / "dagcore" / "server" / "static"


def test_wheel_holds_the_web_ui_build(installed: Installed) -> None:
    import zipfile

    # The wheel build made it when missing (ui/node_modules present); `make test` made it before.
    assert (UI_BUILD / "index.html").is_file(), (
        f"{UI_BUILD}/index.html is missing after the wheel build: run `make ui`")
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    built = {f"dagcore/server/static/{p.relative_to(UI_BUILD).as_posix()}"
             for p in UI_BUILD.rglob("*") if p.is_file()}
    assert "dagcore/server/static/index.html" in built
    assert any(n.startswith("dagcore/server/static/assets/") and n.endswith(".js") for n in built)
    assert built <= names, sorted(built - names)
    code = ("import dagcore.server.static_ui as w\n"
            "print(w.ui_dir())\n"
            "print((w.ui_dir() / 'index.html').exists())\n")
    ui_dir, exists = _run([installed.python, "-c", code], cwd=installed.outside).stdout.split()
    assert Path(ui_dir).is_relative_to(installed.site_packages), ui_dir
    assert exists == "True"


def _source_tree(root: Path, *, node_modules: bool, build_script: str | None) -> Path:
    """setup.py, setup.cfg and the Python package (without a UI build) in ``root``, and a ui/
    folder whose ``npm run build`` runs ``build_script`` (a node one-liner), if given."""
    src = root / "src"
    shutil.copytree(REPO / "python", src / "python",
                    ignore=shutil.ignore_patterns("static", "__pycache__", "*.so"))
    for name in ("setup.py", "setup.cfg"):
        shutil.copy2(REPO / name, src / name)
    ui = src / "ui"
    ui.mkdir()
    if node_modules:
        (ui / "node_modules").mkdir()
    if build_script is not None:
        import json

        (ui / "package.json").write_text(json.dumps(
            {"name": "fake-ui", "private": True, "scripts": {"build": build_script}}))
    return src


def _build_py(src: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "setup.py", "build_py", "-d", out], cwd=src)


def test_build_py_builds_a_missing_ui_when_node_modules_exist(tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        pytest.fail("npm is not on PATH (the web UI needs Node >= 20.19: scripts/build_ui.sh)")
    # A stand-in for `vite build`: writes the package's static/index.html and an asset.
    script = ("node -e \"const fs=require('fs');const d='../python/dagcore/server/static';"
              "fs.mkdirSync(d+'/assets',{recursive:true});"
              "fs.writeFileSync(d+'/index.html','<!doctype html>built');"
              "fs.writeFileSync(d+'/assets/app-1.js','1')\"")
    src = _source_tree(tmp_path, node_modules=True, build_script=script)
    result = _build_py(src, tmp_path / "out")
    assert "building the web UI" in result.stdout
    static = tmp_path / "out" / "dagcore" / "server" / "static"
    assert (static / "index.html").read_text() == "<!doctype html>built"
    assert (static / "assets" / "app-1.js").read_text() == "1"


def test_build_py_without_node_modules_warns_and_installs_without_the_ui(tmp_path: Path) -> None:
    src = _source_tree(tmp_path, node_modules=False, build_script="exit 1")
    result = _build_py(src, tmp_path / "out")
    assert "WARNING: the web UI is not built" in result.stderr
    assert "ui/node_modules does not exist" in result.stderr
    assert (tmp_path / "out" / "dagcore" / "server" / "static_ui.py").is_file()
    assert not (tmp_path / "out" / "dagcore" / "server" / "static").exists()
