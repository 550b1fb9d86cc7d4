// Task-instance and run states: Airflow's colours (docs/airflow-rest-api.md D.2)
// and the order in which a summary of several states is shown.

export const STATE_COLORS: Record<string, string> = {
  success: "#008000",
  failed: "#ff0000",
  running: "#32cd32",
  queued: "#808080",
  scheduled: "#d2b48c",
  up_for_retry: "#ffd700",
  up_for_reschedule: "#40e0d0",
  upstream_failed: "#ffa500",
  skipped: "#ff69b4",
  deferred: "#9370db",
  removed: "#d3d3d3",
  restarting: "#ee82ee",
  none: "#add8e6",
};

/** Every state a task instance can show, in the order a legend lists them. */
export const TASK_STATES = Object.keys(STATE_COLORS);

export function stateColor(state: string | null | undefined): string {
  return STATE_COLORS[state ?? "none"] ?? STATE_COLORS.none;
}

/** Airflow's grid priority: the state a collapsed group or mapped task shows for its members. */
export const STATE_PRIORITY = [
  "failed",
  "upstream_failed",
  "up_for_retry",
  "up_for_reschedule",
  "queued",
  "scheduled",
  "deferred",
  "running",
  "restarting",
  "none",
  "success",
  "skipped",
  "removed",
];

export function summaryState(states: Iterable<string | null | undefined>): string | null {
  let best: string | null = null;
  let bestRank = Infinity;
  for (const state of states) {
    if (state === undefined) continue;
    const name = state ?? "none";
    const rank = STATE_PRIORITY.indexOf(name);
    const effective = rank === -1 ? STATE_PRIORITY.length : rank;
    if (effective < bestRank) {
      best = name;
      bestRank = effective;
    }
  }
  return best;
}
