#!/usr/bin/env bash
# The main job (`make demo`): the example DAGs in a fresh DAGCORE_HOME (.demo/, ignored by git),
# a week's backfill of the tutorial run backwards three at a time with its progress bar, a run
# triggered with conf, a DAG that triggers another, the REST API driven with curl (a token, a
# run triggered with conf, a backfill, the runs listed), and the runs table at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PY:-.venv/bin/python}"
export DAGCORE_HOME="$PWD/.demo"
export DAGCORE__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME=0.05
export DAGCORE__CORE__PARALLELISM=4
rm -rf "$DAGCORE_HOME"
mkdir -p "$DAGCORE_HOME"
cp -r examples/dags "$DAGCORE_HOME/dags"

dagcore() { "$PY" -m dagcore "$@"; }
step() { printf '\n\033[1m$ dagcore %s\033[0m\n' "$*"; dagcore "$@"; }

# Until nothing is queued or running: short scheduler passes (SIGTERM-free, --num-runs).
run_until_idle() {
  for _ in $(seq 1 60); do
    busy=$(dagcore dags list-runs "$1" -o plain | awk -F'\t' 'NR > 1 && ($3 == "queued" || $3 == "running")' | wc -l)
    [ "$busy" -eq 0 ] && return 0
    dagcore scheduler --num-runs 40 >/dev/null 2>&1
  done
  echo "demo: runs of $1 did not finish" >&2
  return 1
}

# The REST API server, started in the background by start_api_server; stopped on any exit.
api_pid=""
stop_api_server() {
  if [ -n "$api_pid" ] && kill -0 "$api_pid" 2>/dev/null; then
    kill -TERM "$api_pid"
    for _ in $(seq 1 100); do kill -0 "$api_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$api_pid" 2>/dev/null && kill -KILL "$api_pid"
    wait "$api_pid" 2>/dev/null || true
  fi
  api_pid=""
}
trap stop_api_server EXIT

# `dagcore api-server` on a free loopback port, until /api/v2/monitor/health answers.
start_api_server() {
  api_port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  API="http://127.0.0.1:$api_port"
  printf '\n\033[1m$ dagcore api-server --port %s &   # in the background, log in %s\033[0m\n' \
    "$api_port" "$DAGCORE_HOME/api-server.log"
  "$PY" -m dagcore api-server --port "$api_port" >"$DAGCORE_HOME/api-server.log" 2>&1 &
  api_pid=$!
  for _ in $(seq 1 300); do
    curl -fsS "$API/api/v2/monitor/health" >/dev/null 2>&1 && { echo "serving on $API"; return 0; }
    kill -0 "$api_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "demo: the API server did not answer on $API:" >&2
  cat "$DAGCORE_HOME/api-server.log" >&2
  return 1
}

# `curl` to the API, the command echoed (the token as $TOKEN); prints the JSON answer and fails
# on an error status.
api() {
  local method=$1 path=$2 body=${3:-}
  local args=(-sS --fail-with-body -X "$method" "$API$path")
  local shown="curl -X $method $API$path"
  [[ $path == *\?* ]] && shown="curl -X $method '$API$path'"
  if [ -n "${TOKEN:-}" ]; then
    args+=(-H "Authorization: Bearer $TOKEN")
    shown+=' -H "Authorization: Bearer $TOKEN"'
  fi
  if [ -n "$body" ]; then
    args+=(-H 'Content-Type: application/json' -d "$body")
    shown+=" -H 'Content-Type: application/json' -d '$body'"
  fi
  printf '\n\033[1m$ %s\033[0m\n' "$shown" >&2
  curl "${args[@]}"
  echo
}

# Some fields of a JSON answer: "key: value" lines for an object, a table for a collection.
fields() {
  "$PY" -c '
import json, sys
data, keys = json.load(sys.stdin), sys.argv[1:]
rows = next((v for v in data.values() if isinstance(v, list)), None) \
    if "total_entries" in data else None
if rows is None:
    for key in keys:
        print(f"  {key}: {json.dumps(data.get(key))}")
    sys.exit()
table = [keys] + [[json.dumps(r.get(k)) if isinstance(r.get(k), dict) else str(r.get(k))
                   for k in keys] for r in rows]
widths = [max(len(row[i]) for row in table) for i in range(len(keys))]
for row in table:
    print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
total = data.get("total_entries")
print(f"  ({total} in all)")
' "$@"
}

echo "dagcore demo: DAGCORE_HOME=$DAGCORE_HOME"
step version
step db migrate
step dags reserialize
step dags list

# A week of the Airflow tutorial, latest date first, three runs at a time; the DAG stays paused.
week_end=$(date -u -d 'yesterday' +%F)
week_start=$(date -u -d '7 days ago' +%F)
step backfill create --dag-id airflow_tutorial --from-date "$week_start" --to-date "$week_end" \
  --dry-run -o plain
step backfill create --dag-id airflow_tutorial --from-date "$week_start" --to-date "$week_end" \
  --run-backwards --max-active-runs 3 --keep-dag-paused --wait
step backfill list --dag-id airflow_tutorial -o plain

# A run triggered with conf (validated against the DAG's params), and a DAG triggering another.
step dags unpause dagcore_greeting
step dags trigger dagcore_greeting -r demo_greeting -c '{"name": "dagcore", "times": 3}' -o plain
step dags unpause airflow_trigger_target
step dags unpause airflow_trigger_controller

# Data-aware scheduling: the producer updates two assets; the consumer (schedule=orders &
# customers) then gets an asset-triggered run that carries both events.
step dags unpause airflow_assets_producer
step dags unpause airflow_assets_consumer
step dags trigger airflow_assets_producer -r demo_assets -o plain

# The REST API (Airflow 3's /api/v2) with plain HTTP: a user, a token, a run triggered with conf,
# and a three-day backfill of dagcore_etl (then unpaused: a paused DAG's runs wait, as Airflow's).
step users create --username demo --password demo-password --role op
start_api_server
TOKEN=$(api POST /auth/token '{"username": "demo", "password": "demo-password"}' |
  "$PY" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
echo "TOKEN=${TOKEN:0:24}..."
api POST /api/v2/dags/dagcore_greeting/dagRuns \
  '{"dag_run_id": "api_greeting", "logical_date": null, "conf": {"name": "REST API", "times": 2}}' |
  fields dag_run_id state run_type triggered_by conf
backfill_start=$(date -u -d '4 days ago' +%F)
backfill_end=$(date -u -d '2 days ago' +%F)
backfill=$(api POST /api/v2/backfills \
  "{\"dag_id\": \"dagcore_etl\", \"from_date\": \"${backfill_start}T00:00:00Z\", \"to_date\": \"${backfill_end}T23:59:59Z\", \"max_active_runs\": 2}")
fields id dag_id from_date to_date max_active_runs <<<"$backfill"
backfill_id=$("$PY" -c 'import json, sys; print(json.load(sys.stdin)["id"])' <<<"$backfill")
api PATCH /api/v2/dags/dagcore_etl '{"is_paused": false}' | fields dag_id is_paused

printf '\n\033[1m$ dagcore scheduler --num-runs 40   # until the runs are done\033[0m\n'
run_until_idle dagcore_greeting
run_until_idle dagcore_etl
run_until_idle airflow_trigger_controller
run_until_idle airflow_trigger_target
run_until_idle airflow_assets_producer
dagcore scheduler --num-runs 5 >/dev/null 2>&1  # the consumer's run is created after the producer's
run_until_idle airflow_assets_consumer

# Assets over REST: the two the producer updated, and an event from outside (a script that loaded
# orders): the consumer queues it and waits for customers (schedule=orders & customers).
assets=$(api GET "/api/v2/assets?order_by=name")
fields id name uri group <<<"$assets"
orders_id=$("$PY" -c 'import json, sys
print(next(a["id"] for a in json.load(sys.stdin)["assets"] if a["name"] == "orders"))' <<<"$assets")
api POST /api/v2/assets/events "{\"asset_id\": $orders_id, \"extra\": {\"rows\": 40}}" |
  fields id name source_dag_id extra timestamp
api GET /api/v2/dags/airflow_assets_consumer/assets/queuedEvents | fields dag_id asset_id created_at
step tasks states-for-dag-run dagcore_greeting demo_greeting

api GET "/api/v2/dags/dagcore_etl/dagRuns?order_by=logical_date" |
  fields dag_run_id run_type state logical_date
api GET /api/v2/dags/dagcore_greeting/dagRuns | fields dag_run_id run_type state conf
dagcore scheduler --num-runs 40 >/dev/null 2>&1  # its backfill check (each second) marks it done
api GET "/api/v2/backfills/$backfill_id" | fields id dag_id completed_at

# The web UI: the same server serves it at / (built by `make ui` into the package).
printf '\n\033[1mWeb UI: %s/   (sign in as demo / demo-password)\033[0m\n' "$API"
if [ ! -f python/dagcore/server/static/index.html ]; then
  echo "demo: the UI is not built (make ui): / shows a 'UI not built' page; no screenshots"
elif [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "demo: no Chromium at ${CHROMIUM_PATH:-/usr/bin/chromium} (apt-get install chromium): no screenshots"
elif ! command -v node >/dev/null || [ ! -d ui/node_modules/playwright-core ]; then
  echo "demo: node or ui/node_modules (make ui) missing: no screenshots"
else
  printf '\n\033[1m$ node ui/bench/screenshot.mjs --url %s ...   # headless Chromium\033[0m\n' "$API"
  node ui/bench/screenshot.mjs --url "$API" --user demo --password demo-password \
    --dag airflow_tutorial --assets-dag airflow_assets_consumer --out "$DAGCORE_HOME"
fi
printf '\n\033[1m$ kill -TERM %s   # the API server\033[0m\n' "$api_pid"
stop_api_server

step dags list-runs airflow_tutorial
step dags list-runs dagcore_greeting
step dags list-runs airflow_trigger_controller
step dags list-runs airflow_trigger_target
step dags list-runs airflow_assets_consumer
step assets list
step assets details --name orders
# Each DAG version stores its code; the tries of its runs ran that code, not the file on disk now.
step dags versions airflow_tutorial
step dags show-version airflow_tutorial 1 --list-files
echo
echo "Logs: $DAGCORE_HOME/logs/dag_id=<dag>/run_id=<run>/task_id=<task>/attempt=<n>.log"
echo "Web UI on this home: DAGCORE_HOME=$DAGCORE_HOME $PY -m dagcore api-server, then"
echo "  http://127.0.0.1:8080/ (user demo, password demo-password)"
