#!/usr/bin/env bash
# Bootstrap a dagcore checkout on Debian 12: system packages, .venv, editable install, web UI.
#
#   bash scripts/bootstrap.sh               # packages + venv + `pip install -e .` + UI build
#   bash scripts/bootstrap.sh --no-install  # only the Debian packages
#
# Idempotent and quick when nothing is missing: the CMake build behind `pip install -e .` is
# incremental (build/release), and scripts/build_ui.sh runs `npm ci` / `npm run build` in ui/
# only when node_modules or the build (python/dagcore/server/static) is stale. The UI needs
# Node >= 20.19 with npm (see build_ui.sh). Works without a terminal (CI=true, no stdin).
set -euo pipefail

# Debian packages the project needs. Add new ones here.
PACKAGES=(
  cmake
  ninja-build
  g++
  python3-dev
  python3-venv
  python3-pip
  python3-setuptools
  python3-wheel
  pybind11-dev
  python3-pybind11
  robin-map-dev
  libgtest-dev
  libgmock-dev
  python3-pytest
  python3-hypothesis
  python3-cachetools
  libcctz-dev
  tzdata
  python3-dateutil
  python3-croniter
  clang
  libclang-rt-14-dev
  python3-jinja2
  python3-jsonschema
  python3-sqlalchemy
  python3-alembic
  python3-psycopg2
  python3-statsd
  python3-rich
  python3-yaml
  python3-dill
  virtualenv
  python3-pendulum
  python3-jsonschema
  postgresql
  # the REST API server (dagcore.server) and its tests
  python3-fastapi
  python3-uvicorn
  python3-pydantic
  python3-httpx
  python3-requests
  python3-jwt
  python3-multipart
  # the CeleryExecutor (dagcore.executors.celery) and its tests: Celery 5, the Redis client,
  # and the Redis server the tests and the benchmark start on a loopback port
  python3-celery
  python3-redis
  redis-server
  # `make lint`
  flake8
  python3-pyflakes
  mypy
  clang-tidy
  # the web UI's end-to-end tests, benchmark and demo screenshots: headless Chromium driven by
  # playwright-core (ui/package.json; no browser download)
  chromium
)

VENV_DIR=.venv
SYSTEM_PYTHON=/usr/bin/python3

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
}

install_python=1
for arg in "$@"; do
  case "$arg" in
    --no-install) install_python=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bootstrap: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { echo "bootstrap: $*"; }

# --- (a) Debian packages ------------------------------------------------------------------
missing=()
for pkg in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != ii* ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  install_cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "bootstrap: missing Debian packages: ${missing[*]}" >&2
    echo "bootstrap: install them as root with:" >&2
    echo "  $install_cmd" >&2
    exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  apt-get update </dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
fi

if ((!install_python)); then
  exit 0
fi

# --- (b) virtual environment --------------------------------------------------------------
# Debian's interpreter with --system-site-packages: pybind11, pytest, hypothesis, ... come from
# Debian packages (there is no PyPI here). A .venv made another way is recreated.
venv_ok=0
if [[ -x "$VENV_DIR/bin/python" && -f "$VENV_DIR/pyvenv.cfg" ]] &&
  grep -Eq '^include-system-site-packages *= *true' "$VENV_DIR/pyvenv.cfg" &&
  grep -Eq '^home *= */usr/bin$' "$VENV_DIR/pyvenv.cfg" &&
  "$VENV_DIR/bin/python" -c '' 2>/dev/null; then
  venv_ok=1
fi
if ((!venv_ok)); then
  if [[ -e "$VENV_DIR" ]]; then
    log "recreating $VENV_DIR (not a --system-site-packages venv of $SYSTEM_PYTHON)"
  else
    log "creating $VENV_DIR"
  fi
  "$SYSTEM_PYTHON" -m venv --clear --system-site-packages "$VENV_DIR"
fi

# --- (c) editable install (runs the incremental CMake build) ------------------------------
log "pip install -e . (CMake build dir: ${DAGCORE_BUILD_DIR:-build/release})"
PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
  "$VENV_DIR/bin/python" -m pip install --no-build-isolation --no-deps --no-index -q -e . </dev/null

# --- (d) the web UI (ui/ -> python/dagcore/server/static) ---------------------------------
# Node is not a Debian 12 package new enough for Vite (Debian ships Node 18): a machine of this
# kind comes with Node 20 (NodeSource's `nodejs`, npm included). Without node, as root, try the
# configured apt sources' `nodejs` (then `npm` if it did not bring one); build_ui.sh checks the
# version and says what to do when it is too old or missing.
if ! command -v node >/dev/null 2>&1 && [[ "$(id -u)" -eq 0 ]]; then
  log "node not found: trying apt-get install nodejs"
  apt-get update </dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs </dev/null || true
  if command -v node >/dev/null 2>&1 && ! command -v npm >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm </dev/null || true
  fi
fi
bash scripts/build_ui.sh
