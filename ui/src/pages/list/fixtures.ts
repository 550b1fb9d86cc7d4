// Test data for the DAG list tests.
import type { UiDag } from "../../api/types";

export function uiDag(id: string, extra: Partial<UiDag> = {}): UiDag {
  return {
    dag_id: id,
    dag_display_name: id,
    is_paused: false,
    is_stale: false,
    description: null,
    timetable_summary: "@daily",
    timetable_description: "At 00:00",
    tags: [{ name: "e2e", dag_id: id }],
    max_active_tasks: 16,
    max_active_runs: 16,
    has_import_errors: false,
    next_dagrun_logical_date: "2026-10-02T00:00:00Z",
    next_dagrun_data_interval_start: null,
    next_dagrun_data_interval_end: null,
    next_dagrun_run_after: "2026-10-03T00:00:00Z",
    owners: ["airflow"],
    fileloc: null,
    relative_fileloc: null,
    last_parsed_time: null,
    latest_dag_runs: [],
    ...extra,
  };
}
