#!/usr/bin/env bash
# The main job (`make demo`): the example DAGs in a fresh DAGCORE_HOME (.demo/, ignored by git),
# a week's backfill of the tutorial run backwards three at a time with its progress bar, a run
# triggered with conf, a DAG that triggers another, and the runs table at the end.
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
printf '\n\033[1m$ dagcore scheduler --num-runs 40   # until the runs are done\033[0m\n'
run_until_idle dagcore_greeting
run_until_idle airflow_trigger_controller
run_until_idle airflow_trigger_target
step tasks states-for-dag-run dagcore_greeting demo_greeting

step dags list-runs airflow_tutorial
step dags list-runs dagcore_greeting
step dags list-runs airflow_trigger_controller
step dags list-runs airflow_trigger_target
echo
echo "Logs: $DAGCORE_HOME/logs/dag_id=<dag>/run_id=<run>/task_id=<task>/attempt=<n>.log"
