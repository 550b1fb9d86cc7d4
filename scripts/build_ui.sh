#!/usr/bin/env bash
# Build the web UI (ui/, React + TypeScript + Vite) into the package (python/dagcore/server/static),
# which `dagcore api-server` serves at `/`. Called by scripts/bootstrap.sh and `make ui`.
#
#   bash scripts/build_ui.sh          # npm ci and/or build only when stale
#   bash scripts/build_ui.sh --force  # npm ci (if stale) and always build
#   bash scripts/build_ui.sh --check  # exit 0 when the build is up to date, 1 when it is stale
#
# Stale means: `npm ci` when ui/node_modules is missing or older than ui/package-lock.json (npm
# writes node_modules/.package-lock.json on every install: that file is the stamp); a build when
# python/dagcore/server/static/index.html is missing or older than any file of ui/src, ui/public,
# ui/index.html, ui/package.json, ui/package-lock.json, ui/tsconfig.json, ui/vite.config.ts.
# Needs Node >= 20.19 and npm (the npm registry for `npm ci`); never downloads a Playwright
# browser (the e2e tests drive Debian's /usr/bin/chromium). Works without a terminal.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UI="$ROOT/ui"
OUT="$ROOT/python/dagcore/server/static"
STAMP="$UI/node_modules/.package-lock.json"
NODE_MIN_MAJOR=20
NODE_MIN_MINOR=19

log() { echo "build_ui: $*"; }

force=0
check=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --check) check=1 ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build_ui: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# The inputs of the build, newer than the build's index.html (prints the first one found).
newer_input() {
  local inputs=()
  for p in src public index.html package.json package-lock.json tsconfig.json vite.config.ts; do
    [[ -e "$UI/$p" ]] && inputs+=("$UI/$p")
  done
  find "${inputs[@]}" -newer "$OUT/index.html" -print -quit 2>/dev/null
}

deps_stale() { [[ ! -f "$STAMP" || "$UI/package-lock.json" -nt "$STAMP" ]]; }

build_stale() {
  [[ ! -f "$OUT/index.html" ]] && return 0
  [[ -n "$(newer_input)" ]]
}

if ((check)); then
  if deps_stale; then log "stale: ui/node_modules missing or older than package-lock.json"; exit 1; fi
  if build_stale; then log "stale: the build ($OUT) is missing or older than its sources"; exit 1; fi
  log "up to date"
  exit 0
fi

if ! deps_stale && ! build_stale && ((!force)); then
  log "up to date ($OUT)"
  exit 0
fi

# --- Node and npm ----------------------------------------------------------------------------
node_help() {
  cat >&2 <<EOF
build_ui: $1
  The web UI needs Node.js >= $NODE_MIN_MAJOR.$NODE_MIN_MINOR with npm. Install Node 20 (LTS), e.g.
  NodeSource's Debian package (https://github.com/nodesource/distributions: its \`nodejs\`
  includes npm) or a Node 20 tarball from https://nodejs.org on PATH, then run
  \`make ui\` (or this script) again. Debian 12's own \`apt-get install nodejs npm\` gives
  Node 18, which is too old for Vite.
EOF
}
if ! command -v node >/dev/null 2>&1; then
  node_help "\`node\` is not on PATH."
  exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
  node_help "\`npm\` is not on PATH (node is $(command -v node), $(node --version))."
  exit 1
fi
node_version="$(node --version)"
IFS=. read -r major minor _ <<<"${node_version#v}"
if ((major < NODE_MIN_MAJOR || (major == NODE_MIN_MAJOR && minor < NODE_MIN_MINOR))); then
  node_help "Node $node_version is too old."
  exit 1
fi

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
export npm_config_progress=false

cd "$UI"
if deps_stale; then
  log "npm ci (ui/node_modules missing or older than ui/package-lock.json)"
  npm ci --no-fund --no-audit </dev/null
  touch "$STAMP"
fi

if build_stale || ((force)); then
  if [[ ! -f "$OUT/index.html" ]]; then
    log "npm run build (no build in $OUT yet)"
  elif ((force)); then
    log "npm run build (--force)"
  else
    log "npm run build (newer source: $(newer_input))"
  fi
  npm run build </dev/null
  log "built $OUT"
else
  log "build up to date ($OUT)"
fi
