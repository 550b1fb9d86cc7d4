"""Build dagcore's C++ extension with CMake, and package the web UI's build.

Metadata lives in setup.cfg. The one extension, dagcore._core, is built by CMakeLists.txt in a
fixed build directory (build/release, or $DAGCORE_BUILD_DIR) so that repeated and editable
installs are incremental.

The web UI (ui/, React + TypeScript + Vite) is built into python/dagcore/server/static, which is
package data (setup.cfg, MANIFEST.in). A (non-editable) build whose static build is missing
runs `npm run build` in ui/ when ui/node_modules exists (no network: `make ui` or
scripts/build_ui.sh fetch the dependencies); otherwise it warns and installs without the UI
(the server then answers a "UI not built" page at /). Environment knobs:

  DAGCORE_BUILD_DIR    CMake build directory (relative paths are relative to this file)
  DAGCORE_CMAKE_ARGS   extra configure arguments, shell-split (e.g. "-DDAGCORE_WERROR=OFF")
  DAGCORE_BUILD_JOBS   parallel build jobs (default 2)
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

SOURCE_DIR = os.path.dirname(os.path.abspath(__file__))
STAMP_NAME = ".dagcore-configure.json"
UI_DIR = os.path.join(SOURCE_DIR, "ui")
UI_BUILD = os.path.join(SOURCE_DIR, "python", "dagcore", "server", "static")


def _build_dir():
    path = os.environ.get("DAGCORE_BUILD_DIR") or os.path.join("build", "release")
    return os.path.normpath(os.path.join(SOURCE_DIR, path))


def _replace_file(src, dst):
    """Copy src to dst through a temporary file and an atomic rename.

    Overwriting a shared object in place corrupts it for processes that have it mapped;
    a rename gives the new module a new inode instead.
    """
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(dst))
    os.close(fd)
    try:
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class CMakeBuild(build_ext):
    def run(self):
        # setuptools' build_ext.run() clears self.inplace while it builds; remember it.
        self._dagcore_inplace = bool(self.inplace or getattr(self, "editable_mode", False))
        super().run()

    def build_extension(self, ext):
        cmake = shutil.which("cmake")
        if cmake is None:
            raise RuntimeError(
                "dagcore needs CMake (>= 3.20) to build its C++ extension, and `cmake` is not on "
                "PATH. Run `bash scripts/bootstrap.sh` or `apt-get install cmake ninja-build`."
            )

        build_dir = _build_dir()
        os.makedirs(build_dir, exist_ok=True)
        self._configure(cmake, build_dir)

        jobs = os.environ.get("DAGCORE_BUILD_JOBS", "2")
        # No --target: build everything (the module and dagcore_tests).
        self._run([cmake, "--build", build_dir, "--config", "Release", "--parallel", jobs])

        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        built = os.path.join(build_dir, "python", "_core" + suffix)
        if not os.path.isfile(built):
            raise RuntimeError(
                f"CMake finished but {built} does not exist. Is DAGCORE_BUILD_PYTHON off in "
                f"{build_dir}/CMakeCache.txt, or was it configured for another Python than "
                f"{sys.executable}?"
            )

        _replace_file(built, self.get_ext_fullpath(ext.name))
        if self._dagcore_inplace:
            package_dir = os.path.join(SOURCE_DIR, "python", *ext.name.split(".")[:-1])
            _replace_file(built, os.path.join(package_dir, os.path.basename(built)))

    def _configure(self, cmake, build_dir):
        args = [
            f"-DPython_EXECUTABLE={sys.executable}",
            "-DCMAKE_BUILD_TYPE=Release",
        ]
        args += shlex.split(os.environ.get("DAGCORE_CMAKE_ARGS", ""))

        cache = os.path.join(build_dir, "CMakeCache.txt")
        stamp = os.path.join(build_dir, STAMP_NAME)
        wanted = {"source": SOURCE_DIR, "args": args}
        if os.path.isfile(cache) and os.path.isfile(stamp):
            try:
                with open(stamp, encoding="utf-8") as f:
                    if json.load(f) == wanted:
                        # Up to date; `cmake --build` re-runs CMake itself when CMakeLists.txt
                        # or a CONFIGURE_DEPENDS glob changes.
                        return
            except (OSError, ValueError):
                pass

        generator = []
        explicit = any(a.startswith("-G") for a in args)
        if not os.path.isfile(cache) and not explicit and "CMAKE_GENERATOR" not in os.environ:
            if shutil.which("ninja"):
                generator = ["-G", "Ninja"]

        if os.path.exists(stamp):
            os.unlink(stamp)
        self._run([cmake, "-S", SOURCE_DIR, "-B", build_dir, *generator, *args])
        with open(stamp, "w", encoding="utf-8") as f:
            json.dump(wanted, f)

    def _run(self, cmd):
        print("dagcore:", " ".join(shlex.quote(c) for c in cmd), flush=True)
        subprocess.run(cmd, check=True)


class BuildPyWithUI(build_py):
    """build_py that first builds the web UI into the package when its build is missing."""

    def run(self):
        if not getattr(self, "editable_mode", False):
            self._build_ui()
        super().run()

    def _build_ui(self):
        if os.path.isfile(os.path.join(UI_BUILD, "index.html")):
            return
        npm = shutil.which("npm")
        if not os.path.isdir(os.path.join(UI_DIR, "node_modules")) or npm is None:
            why = "npm is not on PATH" if npm is None else "ui/node_modules does not exist"
            print(
                f"dagcore: WARNING: the web UI is not built ({UI_BUILD}/index.html is missing) "
                f"and cannot be built here ({why}); installing without it. The API server "
                f"will answer a 'UI not built' page at /. Run `make ui` (or `npm ci && npm run "
                f"build` in ui/) and reinstall to include it.",
                file=sys.stderr, flush=True,
            )
            return
        print("dagcore: building the web UI (npm run build in ui/)", flush=True)
        env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
        subprocess.run([npm, "run", "build"], cwd=UI_DIR, env=env, check=True,
                       stdin=subprocess.DEVNULL)
        # Package data is globbed lazily; forget any listing made before the build existed.
        self.__dict__.pop("data_files", None)


setup(
    ext_modules=[Extension("dagcore._core", sources=[])],
    cmdclass={"build_ext": CMakeBuild, "build_py": BuildPyWithUI},
)
